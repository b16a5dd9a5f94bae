//! Product updates over HTTP reach autocomplete without a rebuild, through the real
//! binary: an upserted product's new word is offered within a bounded wait, a title
//! changed by a second upsert moves its suggestions, a deleted product's words stop
//! being offered (whether it came from the catalog build or from an upsert), and words
//! another product still has keep being offered. After a restart (no rebuild) all of
//! that still holds: the overlay is replayed from its log in the index directory.

mod common;

use std::time::{Duration, Instant};

use common::server::Server;
use reqwest::blocking::Client;
use serde_json::{Value, json};

/// How long an update may take to reach autocomplete.
const WAIT: Duration = Duration::from_secs(2);

fn suggestions(client: &Client, server: &Server, prefix: &str) -> Vec<String> {
    let response: Value = client
        .get(server.url(&format!("/v1/autocomplete?q={prefix}&limit=20")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    response["suggestions"]
        .as_array()
        .unwrap_or_else(|| panic!("no suggestions in {response}"))
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_string())
        .collect()
}

/// Polls until `prefix` offers `text` (`offered`) or stops offering it.
fn wait_for(client: &Client, server: &Server, prefix: &str, text: &str, offered: bool) {
    let start = Instant::now();
    loop {
        let now = suggestions(client, server, prefix);
        if now.iter().any(|s| s == text) == offered {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "after {WAIT:?}, \"{prefix}\" should {}offer \"{text}\": {now:?}",
            if offered { "" } else { "no longer " }
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn product(id: &str, title: &str) -> Value {
    json!({"id": id, "title": title, "brand": "Nordby", "category": ["Lighting", "Lamps"],
           "price": 42.0, "in_stock": true})
}

#[test]
fn upserts_and_deletes_reach_autocomplete_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.jsonl");
    let lines = [
        product("b-1", "Quillonsk velvet armchair"),
        product("b-2", "Oak writing desk"),
        product("b-3", "Oak dining table"),
    ];
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&catalog, text.join("\n")).unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data, &["--catalog", catalog.to_str().unwrap()]);
    let client = Client::new();
    assert!(suggestions(&client, &server, "zephyrq").is_empty());
    assert!(suggestions(&client, &server, "quillonsk").contains(&"quillonsk".to_string()));

    let put = |body: Value| {
        let response = client
            .put(server.url("/v1/products"))
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.text());
    };
    let delete = |id: &str| {
        let response = client
            .delete(server.url(&format!("/v1/products/{id}")))
            .send()
            .unwrap();
        assert_eq!(response.status(), 204);
    };

    put(json!([product("n-1", "Zephyrquill desk lamp")]));
    wait_for(&client, &server, "zephyrq", "zephyrquill", true);
    wait_for(&client, &server, "zephyrquill d", "zephyrquill desk", true);

    // A second upsert renames it: the old word goes, the new one comes.
    put(json!([product("n-1", "Marrowglint desk lamp")]));
    wait_for(&client, &server, "zephyrq", "zephyrquill", false);
    wait_for(&client, &server, "marrowg", "marrowglint", true);

    delete("n-1");
    wait_for(&client, &server, "marrowg", "marrowglint", false);
    assert!(suggestions(&client, &server, "marrowg").is_empty());

    // A product from the catalog build: its own words go, shared ones stay.
    delete("b-1");
    wait_for(&client, &server, "quillonsk", "quillonsk", false);
    delete("b-2");
    wait_for(&client, &server, "oak w", "oak writing desk", false);
    wait_for(&client, &server, "oak", "oak dining table", true);
    assert!(suggestions(&client, &server, "oak").contains(&"oak".to_string()));
    put(json!([product("n-2", "Glimmerhawk floor lamp")]));
    wait_for(&client, &server, "glimmerh", "glimmerhawk", true);
    assert!(server.stop());

    // Restarted on the same index, without a rebuild: the changes are still there.
    let mut server = Server::start(&data, &[]);
    let offered = |prefix: &str| suggestions(&client, &server, prefix);
    assert!(offered("glimmerh").contains(&"glimmerhawk".to_string()));
    assert!(offered("glimmerhawk f").contains(&"glimmerhawk floor lamp".to_string()));
    assert!(
        offered("quillonsk").is_empty(),
        "{:?}",
        offered("quillonsk")
    );
    assert!(offered("marrowg").is_empty(), "{:?}", offered("marrowg"));
    assert!(offered("zephyrq").is_empty(), "{:?}", offered("zephyrq"));
    assert!(!offered("oak w").contains(&"oak writing desk".to_string()));
    assert!(offered("oak").contains(&"oak dining table".to_string()));
    assert!(server.stop());
}
