//! The command line: indexing reports rejected lines by number, a failed build leaves
//! the old index serving, `clerk search --json` is the HTTP response.

mod common;

use std::process::Output;

use serde_json::Value;

use common::server::clerk;

fn run(args: &[&str], data: &std::path::Path) -> Output {
    clerk()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run clerk")
}

fn search_total(data: &std::path::Path, query: &str) -> u64 {
    let out = run(&["search", query, "--json"], data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    body["total"].as_u64().unwrap()
}

#[test]
fn malformed_lines_are_reported_and_the_rest_indexed() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("catalog.jsonl");
    std::fs::write(
        &catalog,
        concat!(
            "{\"id\":\"a\",\"title\":\"Oak coffee table\",\"price\":199}\n",
            "{\"id\":\"b\",\"title\":\"Broken\n",
            "{\"id\":\"c\",\"title\":\"Walnut desk\",\"price\":\"expensive\"}\n",
            "{\"title\":\"No id\"}\n",
            "{\"id\":\"a\",\"title\":\"Duplicate\"}\n",
            "{\"id\":\"d\",\"title\":\"Linen sofa\",\"category\":\"Furniture/Sofas\"}\n",
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let out = run(&["index", "--catalog", catalog.to_str().unwrap()], &data);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("line 2: invalid JSON"), "{stderr}");
    assert!(
        stderr.contains("line 3: field \"price\": expected a number"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4: missing required field \"id\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 5: duplicate id \"a\" (first on line 1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("indexed 2 products, rejected 4 lines"),
        "{stderr}"
    );
    assert_eq!(search_total(&data, ""), 2);
    assert_eq!(search_total(&data, "sofa"), 1);
}

#[test]
fn a_failed_build_leaves_the_old_index_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.jsonl");
    clerk::demo::write_catalog(&good, 300, 3).unwrap();
    let data = tmp.path().join("data");
    assert!(
        run(&["index", "--catalog", good.to_str().unwrap()], &data)
            .status
            .success()
    );
    assert_eq!(search_total(&data, ""), 300);

    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "not json\n{\"id\":\"x\"}\n").unwrap();
    let out = run(&["index", "--catalog", bad.to_str().unwrap()], &data);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no product could be indexed"), "{stderr}");
    assert_eq!(search_total(&data, ""), 300, "old index still live");

    let missing = run(&["index", "--catalog", "/nonexistent/catalog.jsonl"], &data);
    assert!(!missing.status.success());
    assert_eq!(search_total(&data, ""), 300);
    let leftovers: Vec<_> = std::fs::read_dir(data.join("indexes"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".building"))
        .collect();
    assert!(leftovers.is_empty(), "failed builds are cleaned up");
}

#[test]
fn gzip_catalogs_and_other_schemas_index() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = tmp.path().join("demo.jsonl.gz");
    let out = clerk()
        .args(["demo-catalog", "--products", "500", "--seed", "9", "--out"])
        .arg(&catalog)
        .output()
        .unwrap();
    assert!(out.status.success());
    let data = tmp.path().join("data");
    assert!(
        run(&["index", "--catalog", catalog.to_str().unwrap()], &data)
            .status
            .success()
    );
    assert_eq!(search_total(&data, ""), 500);

    let tsv = tmp.path().join("products.tsv");
    std::fs::write(
        &tsv,
        "product_id\tproduct_name\tproduct_class\tcategory hierarchy\tproduct_description\tproduct_features\trating_count\taverage_rating\treview_count\n\
         1\tsolid wood platform bed\tBeds\tFurniture / Bedroom Furniture / Beds\ta sturdy bed\tcolor:brown|material:oak\t10\t4.5\t10\n\
         2\tvelvet accent chair\tAccent Chairs\tFurniture / Living Room Furniture / Chairs\tsoft\tcolor:green\t3\t4.0\t3\n",
    )
    .unwrap();
    let wands_data = tmp.path().join("wands");
    let out = run(
        &[
            "index",
            "--catalog",
            tsv.to_str().unwrap(),
            "--schema",
            "wands",
        ],
        &wands_data,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(search_total(&wands_data, "bed"), 1);
    let out = run(
        &["search", "", "--filter", "color:green", "--json"],
        &wands_data,
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["hits"][0]["id"], "2");
}
