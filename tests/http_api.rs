//! The HTTP API through its router (no socket): response shapes and every 4xx path.
//!
//! Properties checked:
//! * search answers GET and POST with SPEC's response shape, the same for both;
//! * every caller mistake gets a 4xx with `{"error":{"code","message"}}` and a message
//!   that names what to fix;
//! * unknown routes and methods answer in the same JSON shape.

mod common;

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clerk::engine::Engine;
use clerk::http::{AppState, router};
use clerk::index::DataDir;
use serde_json::Value;
use tower::ServiceExt;

use common::{Fixture, demo_fixture};

fn state() -> AppState {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    let fixture = FIXTURE.get_or_init(|| demo_fixture(1500, 5));
    let engine = Engine::open(DataDir::new(fixture.data_dir())).unwrap();
    AppState::new(Arc::new(engine))
}

async fn call(request: Request<Body>) -> (StatusCode, Value) {
    let response = router(state()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body)
}

async fn get(uri: &str) -> (StatusCode, Value) {
    call(Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(uri: &str, body: impl Into<Body>) -> (StatusCode, Value) {
    call(
        Request::post(uri)
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap(),
    )
    .await
}

fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, code: &str, says: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(says),
        "message {message:?} should say {says:?}"
    );
}

#[tokio::test]
async fn health_counts_documents() {
    let (status, body) = get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"status":"ok","documents":1500}));
}

#[tokio::test]
async fn search_get_has_the_spec_shape() {
    let (status, body) =
        get("/v1/search?q=sofa&facets=brand,category,price&per_page=5&explain=true").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for key in [
        "query",
        "total",
        "took_ms",
        "page",
        "per_page",
        "variant",
        "corrections",
        "hits",
        "facets",
        "rules_applied",
    ] {
        assert!(body.get(key).is_some(), "missing {key}: {body}");
    }
    assert_eq!(body["query"], "sofa");
    assert_eq!(body["variant"], "anonymous");
    assert_eq!(body["hits"].as_array().unwrap().len(), 5);
    let hit = &body["hits"][0];
    assert!(
        hit["id"].is_string() && hit["score"].is_number() && hit["product"]["title"].is_string()
    );
    assert!(hit["explain"]["text"].as_f64().unwrap() > 0.0);
    assert!(body["facets"]["category"][0]["children"].is_array());
    assert!(body["facets"]["price"][0]["from"].is_number());
}

#[tokio::test]
async fn search_post_equals_get() {
    let (_, from_get) = get(
        "/v1/search?q=lamp&filter=in_stock:true&filter=price:..200&facets=brand&sort=price_asc",
    )
    .await;
    let (status, from_post) = post(
        "/v1/search",
        r#"{"q":"lamp","filter":["in_stock:true","price:..200"],"facets":["brand"],"sort":"price_asc"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(from_get["hits"], from_post["hits"]);
    assert_eq!(from_get["facets"], from_post["facets"]);
    assert_eq!(from_get["total"], from_post["total"]);
}

#[tokio::test]
async fn explain_is_absent_unless_asked() {
    let (_, body) = get("/v1/search?q=lamp").await;
    assert!(body["hits"][0].get("explain").is_none());
}

#[tokio::test]
async fn bad_paging_is_refused() {
    let (s, b) = get("/v1/search?q=x&per_page=101").await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "per_page_too_large",
        "between 1 and 100",
    );
    let (s, b) = get("/v1/search?per_page=0").await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "per_page_too_large",
        "between 1 and 100",
    );
    let (s, b) = get("/v1/search?page=0").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_page", "starts at 1");
    let (s, b) = get("/v1/search?page=abc").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_page", "whole number");
    let (s, b) = get("/v1/search?page=1000&per_page=100").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "page_too_deep", "10000");
}

#[tokio::test]
async fn bad_filters_are_refused() {
    let (s, b) = get("/v1/search?filter=brand").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_filter", "field:value");
    let (s, b) = get("/v1/search?filter=colr:grey").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_filter", "color");
    let (s, b) = get("/v1/search?filter=price:cheap").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_filter", "not a number");
    let (s, b) = get("/v1/search?filter=title:sofa").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_filter", "free text");
    let (s, b) = get("/v1/search?filter=price:9..1").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_filter", "lower end");
}

#[tokio::test]
async fn bad_facets_sorts_and_parameters_are_refused() {
    let (s, b) = get("/v1/search?facets=brand,nope").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "unknown_facet", "brand");
    let (s, b) = get("/v1/search?facets=title").await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "unknown_facet",
        "cannot be faceted",
    );
    let (s, b) = get("/v1/search?sort=cheapest").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_sort", "price_asc");
    let (s, b) = get("/v1/search?qq=sofa").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "unknown_parameter", "qq");
    let (s, b) = get("/v1/search?explain=perhaps").await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "bad_parameter",
        "true or false",
    );
    let long = "a".repeat(1001);
    let (s, b) = get(&format!("/v1/search?q={long}")).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "query_too_long", "1000");
}

#[tokio::test]
async fn bad_bodies_are_refused() {
    let (s, b) = post("/v1/search", "{\"q\": ").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_json", "not valid JSON");
    let (s, b) = post("/v1/search", "[\"sofa\"]").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_json", "JSON object");
    let (s, b) = post("/v1/search", r#"{"q":{"nested":true}}"#).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "bad_parameter", "\"q\"");
    let huge = format!(r#"{{"q":"{}"}}"#, "x".repeat(100_000));
    let (s, b) = post("/v1/search", huge).await;
    assert_error(
        s,
        &b,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "larger than",
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let (s, b) = get("/v1/nothing").await;
    assert_error(
        s,
        &b,
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint",
    );
    let (s, b) = call(Request::delete("/v1/search").body(Body::empty()).unwrap()).await;
    assert_error(
        s,
        &b,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method",
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let _ = get("/v1/search?q=sofa").await;
    let (status, body) = get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = body.as_str().unwrap();
    assert!(text.contains("clerk_documents 1500"), "{text}");
    assert!(
        text.contains("# TYPE clerk_search_duration_seconds histogram"),
        "{text}"
    );
}
