//! The one place library errors become HTTP responses.
//!
//! Caller mistakes get a 4xx with their message verbatim; our failures get a 5xx
//! with a generic message while the details go to the log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::Error;

/// An error on its way to the caller, in SPEC's shape
/// `{"error":{"code":"...","message":"..."}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Every problem, when there are several (configuration files, event batches).
    pub problems: Vec<String>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            problems: Vec::new(),
        }
    }
}

/// Status and code for each kind of library error.
fn classify(error: &Error) -> (StatusCode, &str) {
    match error {
        Error::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        Error::Config { .. } => (StatusCode::BAD_REQUEST, "invalid_config"),
        Error::Catalog(_) => (StatusCode::BAD_REQUEST, "invalid_catalog"),
        Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
        Error::DeadlineExceeded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "deadline_exceeded"),
        Error::NoIndex(_) => (StatusCode::SERVICE_UNAVAILABLE, "no_index"),
        Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        Error::Io { .. } | Error::Index(_) | Error::Internal(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        let (status, code) = classify(&error);
        let problems = match &error {
            Error::Config { problems } => problems.clone(),
            _ => Vec::new(),
        };
        let message = if error.is_caller_mistake() || status == StatusCode::SERVICE_UNAVAILABLE {
            error.to_string()
        } else {
            tracing::error!("request failed: {error}");
            "internal error; the details are in the server log".to_string()
        };
        ApiError {
            problems,
            ..ApiError::new(status, code, message)
        }
    }
}

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong and how to fix it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `bad_filter`, `unauthorized`, `not_found`, `timeout`...
    pub code: String,
    /// A sentence saying what to fix.
    pub message: String,
    /// Every problem, when there are several (file, line, reason; batch item).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<String>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                problems: (!self.problems.is_empty()).then_some(self.problems),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        // Saturation, deadlines and rate limits pass: a client may retry shortly.
        if matches!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}
