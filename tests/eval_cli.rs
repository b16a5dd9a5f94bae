//! `clerk eval` end to end on a tiny judged set whose numbers are known by hand.
//!
//! Catalog: "a" = "red red shoe", "b" = "red hat", "c" = "blue scarf", "d" = "green coat".
//! Query q1 "red": BM25 ranks a (two reds, short) above b; c and d do not match.
//! Judgments q1: a = 1, b = 2, c = 2.
//!   DCG  = 1/log2(2) + 2/log2(3)              = 1 + 1.261860 = 2.261860
//!   IDCG = 2/log2(2) + 2/log2(3) + 1/log2(4) = 2 + 1.261860 + 0.5 = 3.761860
//!   NDCG = 0.601260; MRR (first grade 2) = 1/2; P@10 = 2/10; R@100 (grade 2) = 1/2.
//! Query q2 "coat": d only, judged d = 2 → NDCG 1, MRR 1, P@10 0.1, R@100 1.
//! Means: NDCG 0.800630, MRR 0.75, P@10 0.15, R@100 0.75, zero results 0.

mod common;

use serde_json::Value;

use common::server::clerk;

fn tiny_set() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog.jsonl"),
        concat!(
            "{\"id\":\"a\",\"title\":\"red red shoe\"}\n",
            "{\"id\":\"b\",\"title\":\"red hat\"}\n",
            "{\"id\":\"c\",\"title\":\"blue scarf\"}\n",
            "{\"id\":\"d\",\"title\":\"green coat\"}\n",
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("queries.tsv"), "q1\tred \nq2\tcoat \n").unwrap();
    std::fs::write(
        dir.path().join("qrels.tsv"),
        "q1 0 a 1\nq1 0 b 2\nq1 0 c 2\nq2 0 d 2\n",
    )
    .unwrap();
    dir
}

fn eval(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    clerk()
        .args(["eval", "--suites", "clean", "--json", "--set"])
        .arg(dir)
        .arg("--catalog")
        .arg(dir.join("catalog.jsonl"))
        .arg("--config-dir")
        .arg(dir)
        .arg("--schema")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("index-schema/demo.toml"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn metrics_match_the_hand_computed_numbers() {
    let dir = tiny_set();
    let out = eval(dir.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let clean = &report["suites"][0];
    let close = |v: &Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-5;
    let q1 = &clean["queries"][0];
    assert!(close(&q1["ndcg"], 0.601260), "{q1}");
    assert!(close(&q1["reciprocal_rank"], 0.5), "{q1}");
    assert!(close(&q1["precision"], 0.2), "{q1}");
    assert!(close(&q1["recall"], 0.5), "{q1}");
    let summary = &clean["summary"];
    assert!(close(&summary["ndcg_at_10"], 0.800630), "{summary}");
    assert!(close(&summary["mrr"], 0.75), "{summary}");
    assert!(close(&summary["precision_at_10"], 0.15), "{summary}");
    assert!(close(&summary["recall_at_100"], 0.75), "{summary}");
    assert!(close(&summary["zero_result_rate"], 0.0), "{summary}");
    assert_eq!(summary["queries"], 2);
}

#[test]
fn compare_fails_on_a_drop_beyond_the_allowance() {
    let dir = tiny_set();
    let out = eval(dir.path(), &[]);
    let mut baseline: Value = serde_json::from_slice(&out.stdout).unwrap();
    // A baseline 0.1 better than today: the guard must fail.
    let better = baseline["suites"][0]["summary"]["ndcg_at_10"]
        .as_f64()
        .unwrap()
        + 0.1;
    baseline["suites"][0]["summary"]["ndcg_at_10"] = better.into();
    let path = dir.path().join("baseline.json");
    std::fs::write(&path, baseline.to_string()).unwrap();
    let guarded = eval(
        dir.path(),
        &["--compare", path.to_str().unwrap(), "--max-drop", "0.005"],
    );
    assert!(!guarded.status.success());
    let stderr = String::from_utf8_lossy(&guarded.stderr);
    assert!(stderr.contains("fell 0.1000 below"), "{stderr}");
    assert!(stderr.contains("NDCG@10"), "{stderr}");
    // Within the allowance it passes.
    let same = dir.path().join("same.json");
    std::fs::write(&same, &out.stdout).unwrap();
    let ok = eval(
        dir.path(),
        &["--compare", same.to_str().unwrap(), "--max-drop", "0.005"],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// Four queries: on two, the first page starts with products the judgments call
/// irrelevant (the short titles BM25 favours); on the other two, every result is good.
fn learnable_set() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = String::new();
    let mut qrels = String::new();
    for (q, word) in [
        ("q1", "lamp"),
        ("q2", "desk"),
        ("q3", "chair"),
        ("q4", "sofa"),
    ] {
        let bad_top = matches!(word, "lamp" | "desk");
        for i in 0..4 {
            let id = format!("{word}-short-{i}");
            catalog.push_str(&format!("{{\"id\":\"{id}\",\"title\":\"{word}\"}}\n"));
            qrels.push_str(&format!("{q} 0 {id} {}\n", if bad_top { 0 } else { 2 }));
        }
        for i in 0..12 {
            let id = format!("{word}-long-{i}");
            catalog.push_str(&format!(
                "{{\"id\":\"{id}\",\"title\":\"{word} in oak with brass fittings and a linen finish {i}\"}}\n"
            ));
            qrels.push_str(&format!("{q} 0 {id} 2\n"));
        }
    }
    std::fs::write(dir.path().join("catalog.jsonl"), catalog).unwrap();
    std::fs::write(
        dir.path().join("queries.tsv"),
        "q1\tlamp\nq2\tdesk\nq3\tchair\nq4\tsofa\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("qrels.tsv"), qrels).unwrap();
    dir
}

#[test]
fn the_learning_suite_measures_a_crowd_that_passes_bad_results_over() {
    let dir = learnable_set();
    let out = clerk()
        .args(["eval", "--suites", "learning", "--json", "--set"])
        .arg(dir.path())
        .arg("--catalog")
        .arg(dir.path().join("catalog.jsonl"))
        .arg("--config-dir")
        .arg(dir.path())
        .arg("--schema")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("index-schema/demo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let l = &report["learning"];
    let f = |k: &str| l[k].as_f64().unwrap();
    let lifts = |k: &str| l[k].as_array().map(|a| a.len()).unwrap_or(0);
    // Six trials (three seeds, traffic on either half), three random-click stores.
    assert_eq!(
        (lifts("traffic_lifts"), lifts("live_traffic_lifts")),
        (6, 6),
        "{l}"
    );
    assert_eq!(lifts("random_lifts"), 3, "{l}");
    assert_eq!(f("queries_with_traffic"), 2.0, "{l}");
    // Fifteen shoppers look at the short irrelevant products on top, take none, and
    // take the good ones below: learning lifts the queries with traffic, at once and
    // live, and every trial gains.
    assert!(f("traffic_before") < 0.8, "{l}");
    assert!(f("traffic_after") > f("traffic_before") + 0.1, "{l}");
    assert!(f("live_traffic_after") > f("traffic_before") + 0.1, "{l}");
    for lift in l["traffic_lifts"].as_array().unwrap() {
        assert!(lift.as_f64().unwrap() > 0.0, "{l}");
    }
}
