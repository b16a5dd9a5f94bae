//! End to end through the real binary and a real socket: a fresh data directory,
//! `clerk serve` with nothing else, faceted searches over HTTP, a graceful SIGTERM.

mod common;

use serde_json::{Value, json};

use common::server::Server;

#[test]
fn fresh_checkout_serves_the_demo_catalog_and_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start(&data, &["--demo-products", "2000"]);
    let client = reqwest::blocking::Client::new();

    let health: Value = client
        .get(server.url("/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health, json!({"status":"ok","documents":2000}));

    let response = client
        .get(server.url("/v1/search?q=sofa&facets=brand,category,price,color&filter=in_stock:true"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    assert!(body["total"].as_u64().unwrap() > 0, "{body}");
    assert!(
        body["hits"][0]["product"]["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("sofa")
            || body["hits"][0]["product"]["category"]
                .to_string()
                .to_lowercase()
                .contains("sofa")
    );
    assert!(!body["facets"]["brand"].as_array().unwrap().is_empty());
    assert!(body["facets"]["category"][0]["children"].is_array());

    let posted: Value = client
        .post(server.url("/v1/search"))
        .json(&json!({"q":"sofa","facets":"brand,category,price,color","filter":["in_stock:true"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(posted["hits"], body["hits"]);

    let error = client
        .get(server.url("/v1/search?per_page=1000"))
        .send()
        .unwrap();
    assert_eq!(error.status(), 400);
    let error: Value = error.json().unwrap();
    assert_eq!(error["error"]["code"], "per_page_too_large");

    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("clerk_http_requests_total"), "{metrics}");

    assert!(server.stop(), "clerk exits 0 on SIGTERM");

    // The index survives: a second start serves it without regenerating.
    let mut again = Server::start(&data, &[]);
    let health: Value = client
        .get(again.url("/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["documents"], 2000);
    assert!(again.stop());
}

#[test]
fn accepted_events_survive_a_kill_and_feed_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start(&data, &["--demo-products", "500"]);
    let client = reqwest::blocking::Client::new();
    let hits: Value = client
        .get(server.url("/v1/search?q=&per_page=3"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let product = hits["hits"][0]["id"].as_str().unwrap().to_string();
    let batch = json!([
        {"type":"search","shopper":"s-durable","query":"lamp"},
        {"type":"click","shopper":"s-durable","product":product,"query":"lamp","position":1},
        {"type":"purchase","shopper":"s-durable","product":product}
    ]);
    let response = client
        .post(server.url("/v1/events"))
        .json(&batch)
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    // No graceful shutdown: the process dies right after the 202.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let mut again = Server::start(&data, &[]);
    let profile: Value = client
        .get(again.url("/v1/shoppers/s-durable"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(profile["events"]["click"], 1, "{profile}");
    assert_eq!(profile["events"]["purchase"], 1, "{profile}");
    assert_eq!(profile["events"]["search"], 1, "{profile}");
    assert!(again.stop());

    let report = common::server::clerk()
        .args(["report", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let variant = report.as_object().unwrap().values().next().unwrap();
    assert_eq!(variant["searches"], 1);
    assert_eq!(variant["clicks"], 1);
    assert_eq!(variant["click_through"], 1.0);
}

#[test]
fn sighup_reloads_synonyms_and_a_broken_file_keeps_the_old_set() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config");
    std::fs::create_dir_all(config.join("index-schema")).unwrap();
    std::fs::create_dir_all(config.join("synonyms")).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("index-schema/demo.toml"),
        config.join("index-schema/demo.toml"),
    )
    .unwrap();
    std::fs::write(config.join("synonyms/base.txt"), "davenport => sofa\n").unwrap();
    let data = tmp.path().join("data");
    let mut server = Server::start_with_config(&data, &config, &["--demo-products", "300"]);
    let client = reqwest::blocking::Client::new();
    let total = |q: &str| -> u64 {
        let body: Value = client
            .get(server.url(&format!("/v1/search?q={q}+")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        body["total"].as_u64().unwrap()
    };
    assert!(total("davenport") > 0, "the synonyms read at start");
    assert_eq!(total("chesterfield"), 0);

    std::fs::write(
        config.join("synonyms/base.txt"),
        "davenport => sofa\nchesterfield => sofa\n",
    )
    .unwrap();
    common::server::hangup(&server.child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while total("chesterfield") == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(total("chesterfield") > 0, "SIGHUP reloaded the synonyms");

    std::fs::write(config.join("synonyms/base.txt"), "davenport,, sofa\n").unwrap();
    common::server::hangup(&server.child);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        total("chesterfield") > 0,
        "a broken file leaves the old set serving"
    );
    assert!(server.stop());
}
