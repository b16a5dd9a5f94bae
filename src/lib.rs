//! clerk: on-site product search for online stores.
//!
//! A tantivy index over the catalog, a query layer that understands what shoppers
//! type, BM25 retrieval re-scored by ranking priors, and faceted results, served over
//! HTTP and the command line from one pipeline. The data flow, module by module:
//!
//! ```text
//! catalog.jsonl ─▶ catalog ─▶ index (tantivy) ─▶ columns (dense per-segment arrays)
//! query ─▶ analysis ─▶ plan ─▶ retrieve (BM25 + filter + facets + rank) ─▶ search ─▶ http / cli
//! ```
//!
//! * [`schema`] — the store's declarative schema (`index-schema/*.toml`);
//! * [`catalog`] — reading and validating products;
//! * [`analysis`] — the one analyzer used at index and query time;
//! * [`index`] — building, swapping and snapshotting the index;
//! * [`columns`] — exact values and numbers as arrays for the query path;
//! * [`plan`] — the query plan and its compilation to tantivy;
//! * [`filter`], [`facets`], [`rank`], [`retrieve`] — the stages of retrieval;
//! * [`search`] — the pipeline, one call per stage;
//! * [`demo`] — the synthetic demo catalog;
//! * [`http`] — the axum API; [`cli`] — the command line.

pub mod affinity;
pub mod analysis;
pub mod autocomplete;
pub mod catalog;
pub mod cli;
pub mod columns;
pub mod config;
pub mod crowd;
pub mod deadline;
pub mod demo;
pub mod engine;
pub mod error;
pub mod eval;
pub mod events;
pub mod facets;
pub mod filter;
pub mod http;
pub mod index;
pub mod learning;
pub mod lexicon;
pub mod memory;
pub mod metrics;
pub mod parallel;
pub mod plan;
pub mod product_feed;
pub mod profiles;
pub mod ranking;
pub mod redis_link;
pub mod report;
pub mod retention;
pub mod retrieve;
pub mod rules;
pub mod schema;
pub mod search;
pub mod settings;
pub mod shoppers;
pub mod shown;
pub mod stages;
pub mod synonyms;
pub mod testing;
pub mod tokens;
pub mod typo;

pub use error::{Error, Result};

/// The folder holding the shared third-party data and judged sets (`../shared` from the
/// repository root, or `CLERK_SHARED` when set).
pub fn shared_data_dir() -> std::path::PathBuf {
    match std::env::var_os("CLERK_SHARED") {
        Some(dir) => dir.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}
