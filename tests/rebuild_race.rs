//! Product updates that overlap a rebuild are not lost, through the real binary.
//!
//! `clerk index` runs while `clerk serve` serves the same data directory; the build is
//! held before it activates (the `CLERK_TEST_HOLD_BUILD` test hook) until an upsert
//! and a delete have been acknowledged. After the server switches to the new index,
//! and again after a restart, the upserted product is searchable and suggested by
//! autocomplete, and the deleted one stays deleted. The same holds when the server
//! stops before the build activates: the next `clerk serve` replays the update.
//!
//! And a build killed with `kill -9` leaves an `indexes/*.building` directory that the
//! next build removes, even while the killed process is an unreaped zombie (its pid
//! still answers `kill(pid, 0)`).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::server::{Server, clerk};
use reqwest::blocking::Client;
use serde_json::{Value, json};

fn search_ids(server: &Server, q: &str) -> Vec<String> {
    let response: Value = Client::new()
        .get(server.url(&format!("/v1/search?q={q}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    response["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

/// Whether the server knows product `id` (events may only name catalog products).
fn knows(server: &Server, id: &str) -> bool {
    let status = Client::new()
        .post(server.url("/v1/events"))
        .json(&json!([{"type":"view","shopper":"s","product":id}]))
        .send()
        .unwrap()
        .status();
    status == 202
}

fn suggests(server: &Server, typed: &str, word: &str) -> bool {
    let suggested: Value = Client::new()
        .get(server.url(&format!("/v1/autocomplete?q={typed}")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    suggested.to_string().to_lowercase().contains(word)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn building(data: &Path) -> bool {
    std::fs::read_dir(data.join("indexes"))
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".building"))
        })
        .unwrap_or(false)
}

/// The demo catalog plus one product whose arrival shows the new index is live.
fn catalog_with_marker(data: &Path) -> PathBuf {
    let mut text = std::fs::read_to_string(data.join("demo-catalog.jsonl")).unwrap();
    text.push_str(
        &json!({"id":"zz-marker","title":"Wombatine marker stool","price":10.0}).to_string(),
    );
    text.push('\n');
    let path = data.join("rebuild-catalog.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn updates_acknowledged_during_a_rebuild_survive_the_swap_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data, &["--demo-products", "300"]);
    let client = Client::new();
    let victim = search_ids(&server, "sofa")[0].clone();
    let catalog = catalog_with_marker(&data);
    let gate = dir.path().join("hold-build");
    std::fs::write(&gate, b"").unwrap();
    let mut build = clerk()
        .args(["index", "--catalog"])
        .arg(&catalog)
        .arg("--data-dir")
        .arg(&data)
        .env("CLERK_TEST_HOLD_BUILD", &gate)
        .spawn()
        .unwrap();
    // The build has read the update log once its directory exists.
    wait_for("the build to start", || building(&data));

    let product = json!([{"id":"zz-new-1","title":"Quokkabright reading lamp","brand":"Nordby",
        "category":["Lighting","Lamps"],"price":42.0,"in_stock":true}]);
    let put = client
        .put(server.url("/v1/products"))
        .json(&product)
        .send()
        .unwrap();
    assert_eq!(put.status(), 200);
    let deleted = client
        .delete(server.url(&format!("/v1/products/{victim}")))
        .send()
        .unwrap();
    assert_eq!(deleted.status(), 204);

    std::fs::remove_file(&gate).unwrap();
    assert!(build.wait().unwrap().success());
    wait_for("the server to switch to the new index", || {
        search_ids(&server, "wombatine") == ["zz-marker"]
    });
    let check = |server: &Server, when: &str| {
        assert_eq!(
            search_ids(server, "quokkabright"),
            ["zz-new-1"],
            "the upsert is searchable {when}"
        );
        assert!(
            suggests(server, "quokk", "quokkabright"),
            "autocomplete offers the upsert {when}"
        );
        assert!(!knows(server, &victim), "{victim} stays deleted {when}");
    };
    check(&server, "after the swap");
    assert!(server.stop());

    let mut server = Server::start(&data, &[]);
    check(&server, "after a restart");
    assert!(server.stop());
}

#[test]
fn an_update_made_during_a_build_nobody_followed_is_replayed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data, &["--demo-products", "300"]);
    let catalog = catalog_with_marker(&data);
    let gate = dir.path().join("hold-build");
    std::fs::write(&gate, b"").unwrap();
    let mut build = clerk()
        .args(["index", "--catalog"])
        .arg(&catalog)
        .arg("--data-dir")
        .arg(&data)
        .env("CLERK_TEST_HOLD_BUILD", &gate)
        .spawn()
        .unwrap();
    wait_for("the build to start", || building(&data));
    let product = json!([{"id":"zz-new-2","title":"Numbatwise pepper mill","price":12.0}]);
    let put = Client::new()
        .put(server.url("/v1/products"))
        .json(&product)
        .send()
        .unwrap();
    assert_eq!(put.status(), 200);
    assert!(server.stop());
    std::fs::remove_file(&gate).unwrap();
    assert!(build.wait().unwrap().success());

    let mut server = Server::start(&data, &[]);
    assert_eq!(search_ids(&server, "wombatine"), ["zz-marker"]);
    assert_eq!(search_ids(&server, "numbatwise"), ["zz-new-2"]);
    assert!(suggests(&server, "numbatw", "numbatwise"));
    assert!(server.stop());
}

#[test]
fn a_killed_build_is_cleaned_up_while_still_a_zombie() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = dir.path().join("catalog.jsonl");
    let made = clerk()
        .args(["demo-catalog", "--products", "200", "--out"])
        .arg(&catalog)
        .output()
        .unwrap();
    assert!(made.status.success());
    let index = || {
        let mut command = clerk();
        command
            .args(["index", "--catalog"])
            .arg(&catalog)
            .arg("--data-dir")
            .arg(&data);
        command
    };
    let gate = dir.path().join("hold-build");
    std::fs::write(&gate, b"").unwrap();
    let mut killed = index().env("CLERK_TEST_HOLD_BUILD", &gate).spawn().unwrap();
    wait_for("the build to start", || building(&data));
    killed.kill().unwrap(); // SIGKILL, and not reaped: a zombie from here on
    std::thread::sleep(Duration::from_millis(200));

    assert!(index().status().unwrap().success());
    assert!(
        !building(&data),
        "the killed build's directory is removed by the next build"
    );
    killed.wait().unwrap();
}
