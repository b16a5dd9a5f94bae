//! One error type for the whole library.
//!
//! Every fallible function in clerk returns [`Error`]. Its variants fall into two
//! groups, and [`Error::is_caller_mistake`] tells them apart:
//!
//! * the caller's mistakes (bad filter syntax, an unknown facet field, a malformed
//!   catalog, an invalid configuration file): their message says what to fix and is
//!   shown to the caller verbatim;
//! * our own failures (I/O, the index): logged in full, reported to HTTP callers
//!   without internals.
//!
//! The mapping to HTTP status codes lives in exactly one place, `http::error`.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in clerk.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request parameter is malformed or out of range (`code` is machine readable,
    /// e.g. `bad_filter`, `unknown_facet`, `per_page_too_large`).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },

    /// A requested resource does not exist (shopper, product).
    #[error("{0}")]
    NotFound(String),

    /// A configuration file (schema, synonyms, rules) has problems; each entry names
    /// the file, the line and the reason.
    #[error("invalid configuration:\n{}", .problems.join("\n"))]
    Config { problems: Vec<String> },

    /// A catalog could not be indexed at all (every line rejected, unreadable file).
    #[error("catalog: {0}")]
    Catalog(String),

    /// The data directory holds no index yet.
    #[error("no index in {}: run `clerk index --catalog FILE` first", .0.display())]
    NoIndex(PathBuf),

    /// A filesystem operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// tantivy failed; this is never the caller's fault.
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),

    /// The caller is not allowed: a missing or wrong key, an unsigned or forged
    /// shopper token.
    #[error("{0}")]
    Unauthorized(String),

    /// The request ran past its work budget and was stopped.
    #[error(
        "the search ran past its {budget_ms} ms work budget and was stopped; try a shorter query or fewer filters"
    )]
    DeadlineExceeded { budget_ms: u64 },

    /// A shared service (the Redis shopper store, the catalog feed) cannot be reached
    /// right now; the message says what was not done. Retrying later may succeed.
    #[error("{0}")]
    Unavailable(String),

    /// Anything else that is our fault.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// A `BadRequest` with a machine-readable code and a message saying what to fix.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// Wraps an I/O error with what we were doing when it happened.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// True when the caller can fix the problem by changing its input.
    pub fn is_caller_mistake(&self) -> bool {
        matches!(
            self,
            Error::BadRequest { .. }
                | Error::NotFound(_)
                | Error::Config { .. }
                | Error::Catalog(_)
                | Error::Unauthorized(_)
        )
    }
}

impl From<tantivy::directory::error::OpenDirectoryError> for Error {
    fn from(e: tantivy::directory::error::OpenDirectoryError) -> Self {
        Error::Index(e.into())
    }
}

impl From<tantivy::query::QueryParserError> for Error {
    fn from(e: tantivy::query::QueryParserError) -> Self {
        Error::Internal(e.to_string())
    }
}
