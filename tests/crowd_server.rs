//! The crowd through the real binary: events posted over HTTP count for
//! recommendations, suggestions and analytics within seconds (the background
//! tailer), the state comes back from the stored events after a restart, and
//! `clerk report` shows the same query figures.

mod common;

use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

use common::server::Server;

/// Polls `url` until `ready` holds for its JSON body (at most 15 s).
fn wait_for(client: &Client, url: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let body: Value = client.get(url).send().unwrap().json().unwrap();
        if ready(&body) || started.elapsed() > Duration::from_secs(15) {
            return body;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn events_count_within_seconds_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start(&data, &["--demo-products", "400"]);
    let client = Client::new();
    let search: Value = client
        .get(server.url("/v1/search?q=sofa&per_page=3&filter=in_stock:true"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ids: Vec<&str> = search["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{search}");
    let mut events = Vec::new();
    for s in 0..4 {
        let shopper = format!("e2e-{s}");
        events.push(json!({"type":"search","shopper":shopper,"query":"sofa"}));
        events.push(json!({"type":"view","shopper":shopper,"product":ids[0]}));
        events.push(
            json!({"type":"click","shopper":shopper,"product":ids[1],"query":"sofa","position":2}),
        );
        events.push(json!({"type":"purchase","shopper":shopper,"product":ids[2]}));
    }
    let posted = client
        .post(server.url("/v1/events"))
        .json(&events)
        .send()
        .unwrap();
    assert_eq!(posted.status(), 202);

    let url = server.url(&format!(
        "/v1/recommendations?product={}&kind=also_viewed",
        ids[0]
    ));
    let has_neighbour = |body: &Value| body["recommendations"][0]["id"] == json!(ids[1]);
    let body = wait_for(&client, &url, has_neighbour);
    assert!(
        has_neighbour(&body),
        "the tailer did not pick the events up: {body}"
    );
    assert!(
        body["recommendations"][0]["because"]
            .as_str()
            .unwrap()
            .contains("4 shoppers")
    );
    let analytics: Value = client
        .get(server.url("/v1/admin/analytics?days=1"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(analytics["top_queries"][0]["query"], "sofa", "{analytics}");
    assert_eq!(analytics["top_queries"][0]["searches"], 4);
    assert_eq!(analytics["top_queries"][0]["converted"], 4);
    assert!(server.stop());

    let again = Server::start(&data, &[]);
    let url = again.url(&format!(
        "/v1/recommendations?product={}&kind=also_viewed",
        ids[1]
    ));
    let body = wait_for(&client, &url, |b| {
        b["recommendations"][0]["id"] == json!(ids[0])
    });
    assert_eq!(
        body["recommendations"][0]["id"],
        json!(ids[0]),
        "rebuilt after restart: {body}"
    );
    drop(again);

    let report = common::server::clerk()
        .args(["report", "--json", "--days", "1", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(
        report["queries"]["top_queries"][0]["query"], "sofa",
        "{report}"
    );
    assert_eq!(report["queries"]["top_queries"][0]["shoppers"], 4);
}

#[test]
fn merchandisers_read_what_the_crowd_taught_a_query() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--demo-products", "400"]);
    let client = Client::new();
    let page: Value = client
        .get(server.url("/v1/search?q=sofa&per_page=10"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ids: Vec<String> = page["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 5, "{page}");
    // Six shoppers skip the first three sofas and buy the fourth.
    let chosen = ids[3].clone();
    let mut events = Vec::new();
    for s in 0..6 {
        let shopper = format!("taught-{s}");
        events.push(json!({"type":"search","shopper":shopper,"query":"sofa"}));
        events.push(
            json!({"type":"click","shopper":shopper,"product":chosen,"query":"sofa","position":4}),
        );
        events.push(json!({"type":"purchase","shopper":shopper,"product":chosen}));
    }
    let posted = client
        .post(server.url("/v1/events"))
        .json(&events)
        .send()
        .unwrap();
    assert_eq!(posted.status(), 202);

    let url = server.url("/v1/admin/learned?q=Sofa");
    let taught = |body: &Value| body["queries"][0]["preferred"] == json!([chosen]);
    let body = wait_for(&client, &url, taught);
    assert!(taught(&body), "nothing learned within 15 s: {body}");
    let lesson = &body["queries"][0];
    assert_eq!(body["learning"], true);
    assert_eq!(lesson["query"], "sofa");
    assert_eq!(lesson["unlearned_page"], json!(ids));
    assert_eq!(lesson["learned_page"][0], json!(chosen), "{body}");
    for skipped in lesson["passed_over"].as_array().unwrap() {
        assert!(ids[..3].contains(&skipped.as_str().unwrap().to_string()));
    }
    // Without q: the queries the crowd taught most, sofa among them.
    let listed: Value = client
        .get(server.url("/v1/admin/learned?limit=5"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed["queries"][0]["query"], "sofa", "{listed}");
    // A query nobody taught comes back unchanged; bad parameters say what to fix.
    let untaught: Value = client
        .get(server.url("/v1/admin/learned?q=lamp"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(untaught["queries"][0]["preferred"], json!([]));
    assert_eq!(
        untaught["queries"][0]["unlearned_page"],
        untaught["queries"][0]["learned_page"]
    );
    for (bad, code) in [
        ("limit=0", "bad_limit"),
        ("limit=many", "bad_limit"),
        ("q=", "bad_query"),
        ("query=sofa", "unknown_parameter"),
    ] {
        let response = client
            .get(server.url(&format!("/v1/admin/learned?{bad}")))
            .send()
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().unwrap();
        assert_eq!(body["error"]["code"], code, "{bad}: {body}");
    }
}
