//! Safe in front of the internet, through the real binary: keys and shopper tokens
//! (the 401 matrix), admin acting on any shopper, shopper id length, and JSON errors
//! for over-long URIs, headers and undecodable paths.

mod common;

use common::server::{Server, clerk};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{Value, json};

const ADMIN: &str = "admin-key-1";
const SEARCH: &str = "search-key-1";
const SECRET: &str = "shopper-secret-1";

fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    Server::start_with_env(&dir.join("data"), &["--demo-products", "300"], env)
}

fn with_key(request: RequestBuilder, key: Option<&str>) -> RequestBuilder {
    match key {
        Some(key) => request.bearer_auth(key),
        None => request,
    }
}

fn token(id: &str) -> String {
    let out = clerk()
        .args(["shopper-token", id])
        .env("CLERK_SHOPPER_SECRET", SECRET)
        .output()
        .expect("clerk shopper-token");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn error_code(response: reqwest::blocking::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().expect("a JSON error body");
    let code = body["error"]["code"].as_str().unwrap_or("").to_string();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.len() > 10),
        "{body}"
    );
    (status, code)
}

#[test]
fn keys_guard_every_endpoint_group() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[("CLERK_ADMIN_KEY", ADMIN), ("CLERK_SEARCH_KEY", SEARCH)],
    );
    let client = Client::new();
    let product = client
        .get(server.url("/v1/search?q=&per_page=1"))
        .bearer_auth(SEARCH)
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["hits"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let events = json!([{"type":"view","shopper":"s-1","product":product}]).to_string();
    // (method, path, body, the weakest key that is enough)
    let matrix: Vec<(&str, String, Option<String>, &str)> = vec![
        ("GET", "/v1/search?q=lamp".into(), None, "search"),
        (
            "POST",
            "/v1/search".into(),
            Some(r#"{"q":"lamp"}"#.into()),
            "search",
        ),
        ("GET", "/v1/autocomplete?q=la".into(), None, "search"),
        ("POST", "/v1/events".into(), Some(events), "search"),
        ("GET", "/v1/shoppers/s-1".into(), None, "search"),
        ("POST", "/v1/shoppers/s-2/opt-out".into(), None, "search"),
        ("POST", "/v1/shoppers/s-2/opt-in".into(), None, "search"),
        ("POST", "/v1/admin/reload".into(), None, "admin"),
        ("DELETE", "/v1/shoppers/s-2".into(), None, "admin"),
        ("GET", "/health".into(), None, "none"),
    ];
    for (method, path, body, needs) in &matrix {
        for (key, label) in [
            (None, "none"),
            (Some("wrong"), "wrong"),
            (Some(SEARCH), "search"),
            (Some(ADMIN), "admin"),
        ] {
            let mut request = client.request(method.parse().unwrap(), server.url(path));
            if let Some(body) = body {
                request = request.body(body.clone());
            }
            let response = with_key(request, key).send().unwrap();
            let allowed = match *needs {
                "none" => true,
                "search" => label == "search" || label == "admin",
                _ => label == "admin",
            };
            if allowed {
                assert!(
                    response.status().is_success(),
                    "{method} {path} with {label} key: {}",
                    response.status()
                );
            } else {
                let (status, code) = error_code(response);
                assert_eq!(
                    (status, code.as_str()),
                    (StatusCode::UNAUTHORIZED, "unauthorized"),
                    "{method} {path} with {label} key"
                );
            }
        }
    }
}

#[test]
fn shopper_tokens_are_required_and_admins_may_name_anyone() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[("CLERK_ADMIN_KEY", ADMIN), ("CLERK_SHOPPER_SECRET", SECRET)],
    );
    let client = Client::new();
    let product = client
        .get(server.url("/v1/search?q=&per_page=1"))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["hits"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let alice = token("alice");
    let forged = alice.replacen("alice", "bob", 1);
    let post_event = |shopper: &str, key: Option<&str>| {
        let body = json!([{"type":"view","shopper":shopper,"product":product}]);
        with_key(client.post(server.url("/v1/events")).json(&body), key)
            .send()
            .unwrap()
    };
    assert_eq!(post_event(&alice, None).status(), StatusCode::ACCEPTED);
    for refused in ["alice", forged.as_str(), "alice.0.00"] {
        assert_eq!(
            error_code(post_event(refused, None)),
            (StatusCode::UNAUTHORIZED, "unauthorized".into()),
            "{refused}"
        );
        for path in [
            format!("/v1/search?q=lamp&shopper={refused}"),
            format!("/v1/shoppers/{refused}"),
        ] {
            let response = client.get(server.url(&path)).send().unwrap();
            assert_eq!(error_code(response).0, StatusCode::UNAUTHORIZED, "{path}");
        }
        for action in ["opt-out", "opt-in"] {
            let path = format!("/v1/shoppers/{refused}/{action}");
            let response = client.post(server.url(&path)).send().unwrap();
            assert_eq!(error_code(response).0, StatusCode::UNAUTHORIZED, "{path}");
        }
    }
    // The owner of the token reads their profile; the search is personalized.
    let own: Value = client
        .get(server.url(&format!("/v1/shoppers/{alice}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(own["shopper"], "alice");
    assert_eq!(own["events"]["view"], 1);
    let searched: Value = client
        .get(server.url(&format!("/v1/search?q=&shopper={alice}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_ne!(searched["variant"], "anonymous", "{searched}");
    // An admin names the shopper bare, and mints tokens over HTTP that verify.
    let by_admin = client
        .get(server.url("/v1/shoppers/alice"))
        .bearer_auth(ADMIN)
        .send()
        .unwrap();
    assert_eq!(by_admin.status(), StatusCode::OK);
    assert_eq!(
        post_event("carol", Some(ADMIN)).status(),
        StatusCode::ACCEPTED
    );
    let minted: Value = client
        .post(server.url("/v1/admin/shopper-tokens"))
        .bearer_auth(ADMIN)
        .json(&json!({"shopper":"alice"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        minted["token"],
        alice.as_str(),
        "the same formula as the CLI"
    );
    let bad = client
        .post(server.url("/v1/admin/shopper-tokens"))
        .bearer_auth(ADMIN)
        .json(&json!({"shopper":"", "colour": 1}))
        .send()
        .unwrap();
    assert_eq!(error_code(bad).0, StatusCode::BAD_REQUEST);
}

#[test]
fn shopper_ids_are_bounded_and_odd_requests_get_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let client = Client::new();
    let long = "x".repeat(600);
    for (method, path) in [
        ("POST", format!("/v1/shoppers/{long}/opt-out")),
        ("POST", format!("/v1/shoppers/{long}/opt-in")),
        ("GET", format!("/v1/shoppers/{long}")),
        ("GET", format!("/v1/search?q=lamp&shopper={long}")),
    ] {
        let response = client
            .request(method.parse().unwrap(), server.url(&path))
            .send()
            .unwrap();
        assert_eq!(
            error_code(response),
            (StatusCode::BAD_REQUEST, "bad_shopper".into()),
            "{path}"
        );
    }
    let checks = [
        (
            client.get(server.url(&format!("/v1/search?q={}", "a".repeat(9_000)))),
            StatusCode::URI_TOO_LONG,
        ),
        (
            client
                .get(server.url("/v1/search?q=a"))
                .header("x-padding", "p".repeat(20_000)),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
        (
            client.get(server.url("/v1/shoppers/%ff%fe")),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (request, expected) in checks {
        assert_eq!(error_code(request.send().unwrap()).0, expected);
    }
}

#[test]
fn query_parameters_that_are_not_utf8_are_named_on_every_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let client = Client::new();
    for (path, name) in [
        ("/v1/search?q=%ff%fe", "q"),
        ("/v1/search?q=lamp&filter=brand:%c3", "filter"),
        ("/v1/autocomplete?q=so%e9", "q"),
        ("/v1/recommendations?product=%ff", "product"),
        ("/v1/admin/analytics?days=%80", "days"),
        ("/?q=%ff", "q"),
    ] {
        let response = client.get(server.url(path)).send().unwrap();
        let status = response.status();
        let body: Value = response.json().expect("a JSON error body");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], "bad_encoding", "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.contains(&format!("`{name}` is not valid UTF-8")),
            "{path}: {message}"
        );
    }
    let fine = client
        .get(server.url("/v1/search?q=caf%C3%A9"))
        .send()
        .unwrap();
    assert_eq!(fine.status(), StatusCode::OK, "UTF-8 text is fine");
}
