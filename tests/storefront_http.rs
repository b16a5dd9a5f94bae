//! The storefront page, the OpenAPI document, metrics and request logs.
//!
//! Properties checked:
//! * `GET /` serves the page and its assets from the binary, with a content security
//!   policy; `/v1/storefront/config` describes the schema's facets, sorts and fields;
//! * `/openapi.json` lists every route the router serves, and a real search response
//!   carries every property its schema marks required;
//! * a search adds one observation to each stage histogram, request counters carry
//!   the route template (not the raw path) and a bounded method label;
//! * each response carries an `x-request-id` (the caller's when it is a safe token);
//! * through the real binary with `CLERK_LOG_FORMAT=json`, each request is logged as
//!   one JSON object with method, route, status, latency and request id.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clerk::engine::Engine;
use clerk::http::{AppState, router};
use clerk::index::DataDir;
use serde_json::Value;
use tower::ServiceExt;

use common::server::Server;
use common::{Fixture, demo_fixture};

fn state() -> AppState {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    let fixture = FIXTURE.get_or_init(|| demo_fixture(800, 3));
    let engine = Engine::open(DataDir::new(fixture.data_dir())).unwrap();
    AppState::new(Arc::new(engine))
}

/// Status, headers and body text of one request through `state`'s router.
async fn send(
    state: &AppState,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    send(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_from_the_binary() {
    let state = state();
    let (status, headers, html) = get(&state, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert!(html.contains("<script src=\"/assets/app.js\""));
    assert!(html.contains("id=\"facets\""));
    let (status, headers, js) = get(&state, "/assets/app.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.contains("/v1/storefront/config"));
    assert!(
        !js.contains("innerHTML"),
        "product text must never reach innerHTML"
    );
    let (status, _, css) = get(&state, "/assets/style.css").await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains(".card"));
}

#[tokio::test]
async fn the_config_describes_the_schema() {
    let state = state();
    let (status, _, body) = get(&state, "/v1/storefront/config").await;
    assert_eq!(status, StatusCode::OK);
    let config: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(config["schema"], "demo");
    let names: Vec<&str> = config["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"brand") && names.contains(&"category") && names.contains(&"color"));
    // Every facet the config names can really be requested.
    let uri = format!("/v1/search?q=&per_page=1&facets={}", names.join(","));
    let (status, _, body) = get(&state, &uri).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let search: Value = serde_json::from_str(&body).unwrap();
    for name in &names {
        assert!(search["facets"].get(name).is_some(), "facet {name} missing");
    }
    for sort in config["sorts"].as_array().unwrap() {
        let (status, _, body) = get(
            &state,
            &format!("/v1/search?q=lamp&sort={}", sort.as_str().unwrap()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn the_openapi_document_covers_the_router_and_the_responses() {
    let state = state();
    let (status, _, body) = get(&state, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/", "get"),
        ("/openapi.json", "get"),
        ("/v1/search", "post"),
        ("/v1/events", "post"),
        ("/v1/products/{id}", "delete"),
        ("/v1/admin/reload", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    // Every documented operation exists: none answers the router's 404 fallback.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let uri = path.replace("{id}", "p-1000");
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&uri)
                .header("content-type", "application/json")
                .body(Body::from(if method == "get" || method == "delete" {
                    ""
                } else {
                    "[]"
                }))
                .unwrap();
            let (status, _, body) = send(&state, request).await;
            assert!(
                !body.contains("no such endpoint"),
                "{method} {path}: {status} {body}"
            );
        }
    }
    // The search response has every property its schema requires.
    let schema = &doc["components"]["schemas"]["SearchResponse"];
    let (_, _, body) = get(&state, "/v1/search?q=sofa&facets=brand&explain=true").await;
    let search: Value = serde_json::from_str(&body).unwrap();
    for required in schema["required"].as_array().unwrap() {
        let name = required.as_str().unwrap();
        assert!(search.get(name).is_some(), "{name} missing from {body}");
    }
    let error = &doc["components"]["schemas"]["ErrorDetail"]["required"];
    assert_eq!(error, &serde_json::json!(["code", "message"]));
}

#[tokio::test]
async fn metrics_have_stage_histograms_and_bounded_labels() {
    let state = state();
    get(&state, "/v1/search?q=sofa&facets=brand").await;
    get(&state, "/v1/shoppers/someone-unknown-123").await;
    send(
        &state,
        Request::builder()
            .method("BREW")
            .uri("/nowhere/at/all")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let (_, _, text) = get(&state, "/metrics").await;
    for stage in ["analysis", "retrieval", "ranking", "facets", "page"] {
        assert!(
            text.contains(&format!(
                "clerk_search_stage_duration_seconds_count{{stage=\"{stage}\"}} 1"
            )),
            "{stage}:\n{text}"
        );
    }
    assert!(text.contains("route=\"/v1/shoppers/{id}\""), "{text}");
    assert!(!text.contains("someone-unknown-123"));
    assert!(
        text.contains("method=\"other\",route=\"unmatched\",status=\"404\""),
        "{text}"
    );
    assert!(!text.contains("/nowhere"));
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let state = state();
    let request = Request::get("/health")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&state, request).await;
    assert_eq!(headers["x-request-id"], "abc-123");
    let request = Request::get("/health")
        .header("x-request-id", "no spaces allowed")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&state, request).await;
    let made = headers["x-request-id"].to_str().unwrap();
    assert!(!made.is_empty() && made != "no spaces allowed");
}

#[test]
fn json_logs_have_one_line_per_request() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        &tmp.path().join("data"),
        &["--demo-products", "500"],
        &[("CLERK_LOG_FORMAT", "json")],
    );
    let client = reqwest::blocking::Client::new();
    let response = client
        .get(server.url("/v1/search?q=lamp"))
        .header("x-request-id", "log-test-1")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let line = loop {
        let line = server
            .log
            .recv_timeout(Duration::from_secs(10))
            .expect("a request log line");
        if line.contains("log-test-1") {
            break line;
        }
        assert!(std::time::Instant::now() < deadline, "no request log line");
    };
    let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(event["message"], "request");
    assert_eq!(event["method"], "GET");
    assert_eq!(event["route"], "/v1/search");
    assert_eq!(event["status"], 200);
    assert_eq!(event["request_id"], "log-test-1");
    assert!(event["latency_ms"].as_f64().unwrap() > 0.0);
}
