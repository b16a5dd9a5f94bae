//! Shared fixtures: demo catalogs indexed into temporary data directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use clerk::engine::Engine;
use clerk::index::{DataDir, Quiet, build_index};
use clerk::schema::StoreSchema;
use serde_json::Value;
use tempfile::TempDir;

pub mod server;

/// Sends `request` through the router built on `state`; returns the status and the JSON
/// body (`Null` when the body is not JSON).
pub async fn call(
    state: &clerk::http::AppState,
    request: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, Value) {
    use tower::ServiceExt;
    let response = clerk::http::router(state.clone())
        .oneshot(request)
        .await
        .expect("router");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A demo catalog, its products as JSON, and an engine over its index.
pub struct Fixture {
    pub dir: TempDir,
    pub engine: Engine,
    pub products: Vec<Value>,
}

impl Fixture {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn demo_schema() -> StoreSchema {
    StoreSchema::load(&repo_root().join("index-schema/demo.toml")).expect("demo schema")
}

/// Indexes `n` demo products (seed `seed`) into a fresh temporary data directory.
pub fn demo_fixture(n: u64, seed: u64) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = dir.path().join("catalog.jsonl");
    clerk::demo::write_catalog(&catalog, n, seed).expect("demo catalog");
    fixture_from_catalog(dir, &catalog, &demo_schema())
}

/// Indexes JSON Lines `lines` into a fresh temporary data directory.
pub fn fixture_from_lines(lines: &[Value]) -> Fixture {
    fixture_with_schema(lines, &demo_schema())
}

/// Indexes JSON Lines `lines` with `schema`.
pub fn fixture_with_schema(lines: &[Value], schema: &StoreSchema) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = dir.path().join("catalog.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&catalog, text).expect("write catalog");
    fixture_from_catalog(dir, &catalog, schema)
}

/// The demo schema with some of its text replaced (e.g. another impact).
pub fn demo_schema_with(from: &str, to: &str) -> StoreSchema {
    let text = std::fs::read_to_string(repo_root().join("index-schema/demo.toml")).expect("schema");
    assert!(text.contains(from), "{from} not in the demo schema");
    StoreSchema::parse(&text.replace(from, to), "demo.toml").expect("schema")
}

/// Indexes `n` demo products with `schema`.
pub fn demo_fixture_with_schema(n: u64, seed: u64, schema: &StoreSchema) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = dir.path().join("catalog.jsonl");
    clerk::demo::write_catalog(&catalog, n, seed).expect("demo catalog");
    fixture_from_catalog(dir, &catalog, schema)
}

fn fixture_from_catalog(dir: TempDir, catalog: &Path, schema: &StoreSchema) -> Fixture {
    let data = DataDir::new(dir.path().join("data"));
    build_index(catalog, schema, &data, &mut Quiet).expect("build index");
    let products = std::fs::read_to_string(catalog)
        .expect("read catalog")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let engine = Engine::open(data).expect("open engine");
    Fixture {
        dir,
        engine,
        products,
    }
}

/// A hit's relevance criteria as a key that sorts like the ranking does (larger is
/// better; typos count against).
pub fn criteria_key(explain: &clerk::search::Explain) -> Vec<i64> {
    key_of(&explain.criteria)
}

/// The criteria that taste may never override: those before `taste` in the order
/// (all of them when `taste` is left out).
pub fn match_key(explain: &clerk::search::Explain) -> Vec<i64> {
    let before_taste: Vec<_> = explain
        .criteria
        .iter()
        .take_while(|c| c.criterion != clerk::schema::Criterion::Taste)
        .cloned()
        .collect();
    key_of(&before_taste)
}

fn key_of(criteria: &[clerk::ranking::CriterionScore]) -> Vec<i64> {
    criteria
        .iter()
        .map(|c| match c.criterion {
            clerk::schema::Criterion::Typo => -(c.value as i64),
            _ => c.value as i64,
        })
        .collect()
}
