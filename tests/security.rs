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
        ("/v1/admin/learned?q=%ff", "q"),
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

/// Sends `raw` on a fresh connection and reads until the server closes it.
fn raw_exchange(server: &Server, raw: &[u8]) -> String {
    use std::io::{Read, Write};
    let host = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before all of a huge request is sent.
    let _ = stream.write_all(raw);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Status, lower-cased head and JSON body of the last response in `answer`.
fn last_response(answer: &str) -> (u16, String, Value) {
    let start = answer.rfind("HTTP/1.1 ").expect("a response");
    let (head, body) = answer[start..]
        .split_once("\r\n\r\n")
        .expect("a whole head");
    let status = head[9..12].parse().unwrap();
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, head.to_ascii_lowercase(), body)
}

#[test]
fn requests_hyper_refuses_get_json_errors_and_a_closed_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let many_headers: String = (0..100).map(|i| format!("x-h{i}: v\r\n")).collect();
    let cases: Vec<(Vec<u8>, u16, &str, &str)> = vec![
        (
            format!("GET /v1/search?q={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(66_000)).into_bytes(),
            414,
            "uri_too_long",
            "request URI longer than 8192 bytes",
        ),
        (
            format!("GET /v1/search?q=a HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n").into_bytes(),
            431,
            "headers_too_large",
            "more than 64 headers",
        ),
        (
            b"GET /v1/search?q=\xff HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
            "bad_request_target",
            "0xFF",
        ),
        (
            // hyper lets these bytes through; the API refuses them the same way (the
            // client asks to close, as the API keeps good connections open).
            b"GET /v1/shoppers/\xc3\xa9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            400,
            "bad_request_target",
            "percent-encode",
        ),
        (
            b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}".to_vec(),
            400,
            "bad_content_length",
            "two Content-Length headers",
        ),
        (
            b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n{}".to_vec(),
            400,
            "bad_content_length",
            "99999999999999999999999",
        ),
        (
            b"HELLO THERE\r\n\r\n".to_vec(),
            400,
            "bad_request_line",
            "METHOD /path HTTP/1.1",
        ),
        // After a good request on the same keep-alive connection.
        (
            b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /\xff HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
            "bad_request_target",
            "0xFF",
        ),
    ];
    for (raw, status, code, says) in cases {
        let answer = raw_exchange(&server, &raw);
        let label = String::from_utf8_lossy(&raw[..raw.len().min(60)]).into_owned();
        let (got, head, body) = last_response(&answer);
        assert_eq!(got, status, "{label}: {answer}");
        assert!(
            head.contains("content-type: application/json"),
            "{label}: {head}"
        );
        assert!(head.contains("connection: close"), "{label}: {head}");
        assert_eq!(body["error"]["code"], code, "{label}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(says), "{label}: {message}");
    }
    // The good request before the bad one was answered as usual.
    let answer = raw_exchange(
        &server,
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""), "{answer}");
}
