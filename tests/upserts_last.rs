//! Products changed over HTTP survive a full rebuild, through the real binary: an
//! upserted product is still searchable (and offered by autocomplete) after
//! `clerk index` and after `clerk serve --catalog`, a deleted one stays deleted, and
//! `--discard-updates` starts over from the catalog alone.

mod common;

use common::server::{Server, clerk};
use reqwest::blocking::Client;
use serde_json::{Value, json};

fn search(server: &Server, q: &str) -> Value {
    Client::new()
        .get(server.url(&format!("/v1/search?q={q}")))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn ids(response: &Value) -> Vec<String> {
    response["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn upserts_and_deletes_survive_rebuilds_and_reach_autocomplete() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let catalog = data.join("demo-catalog.jsonl");
    let mut server = Server::start(&data, &["--demo-products", "500"]);
    let client = Client::new();
    let victim = ids(&search(&server, "sofa"))[0].clone();
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
    assert_eq!(ids(&search(&server, "quokkabright")), ["zz-new-1"]);
    assert!(server.stop());

    let rebuilt = clerk()
        .args(["index", "--catalog"])
        .arg(&catalog)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(rebuilt.status.success());
    let said = String::from_utf8_lossy(&rebuilt.stderr);
    assert!(
        said.contains("replayed 1 product upserts and 1 deletes"),
        "{said}"
    );

    let catalog_arg = catalog.to_str().unwrap().to_string();
    for args in [vec![], vec!["--catalog", catalog_arg.as_str()]] {
        let mut server = Server::start(&data, &args);
        assert_eq!(
            ids(&search(&server, "quokkabright")),
            ["zz-new-1"],
            "{args:?}"
        );
        // Events name only catalog products: the deleted one is refused.
        let view = |id: &str| {
            client
                .post(server.url("/v1/events"))
                .json(&json!([{"type":"view","shopper":"s","product":id}]))
                .send()
                .unwrap()
                .status()
        };
        assert_eq!(view(&victim), 400, "{victim} stays deleted");
        assert_eq!(view("zz-new-1"), 202);
        let suggested: Value = client
            .get(server.url("/v1/autocomplete?q=quokk"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(
            suggested
                .to_string()
                .to_lowercase()
                .contains("quokkabright"),
            "{suggested}"
        );
        assert!(server.stop());
    }

    let fresh = clerk()
        .args(["index", "--discard-updates", "--catalog"])
        .arg(&catalog)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(fresh.status.success());
    let mut server = Server::start(&data, &[]);
    assert!(ids(&search(&server, "quokkabright")).is_empty());
    assert!(server.stop());
}
