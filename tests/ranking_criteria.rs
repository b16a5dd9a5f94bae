//! Ranking by ordered relevance criteria, with taste inside the ties.
//!
//! Properties checked, on the demo catalog through the public pipeline:
//! * a better match (by the criteria) never ranks below a worse one, whatever the
//!   shopper's history (property test over random histories and queries);
//! * a concentrated taste (two purchases and eight views of one brand) puts that
//!   brand's products first among the best matches, and explains them by the brand;
//! * a scattered history (fifteen random views) barely moves anything;
//! * a typo'd query ranks like its unambiguous correction;
//! * when too few products have every word, relaxation keeps the product-type word;
//! * the product-type word beats products that merely mention it.

mod common;

use std::sync::{Arc, OnceLock};

use clerk::engine::Engine;
use clerk::index::DataDir;
use clerk::search::{SearchRequest, SearchResponse};
use clerk::shoppers::{RedbStore, STORE_FILE, in_holdout};
use proptest::prelude::*;
use serde_json::{Value, json};

use common::{Fixture, criteria_key, demo_fixture, match_key};

struct Shop {
    fixture: Fixture,
    engine: Arc<Engine>,
}

fn shop() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        let fixture = demo_fixture(4000, 5);
        let store = RedbStore::open(&fixture.dir.path().join(STORE_FILE)).unwrap();
        let engine = Engine::open(DataDir::new(fixture.data_dir()))
            .unwrap()
            .with_shoppers(Arc::new(store));
        Shop {
            fixture,
            engine: Arc::new(engine),
        }
    })
}

fn shopper(name: &str) -> String {
    (0..)
        .map(|i| format!("{name}-{i}"))
        .find(|id| !in_holdout(id, 0.1))
        .unwrap()
}

fn search(q: &str, shopper: Option<&str>, per_page: usize) -> SearchResponse {
    shop()
        .engine
        .search(&SearchRequest {
            shopper: shopper.map(str::to_string),
            per_page,
            explain: true,
            ..SearchRequest::query(q)
        })
        .unwrap()
}

fn ids(r: &SearchResponse) -> Vec<&str> {
    r.hits.iter().map(|h| h.id.as_str()).collect()
}

fn product(id: &str) -> &'static Value {
    shop()
        .fixture
        .products
        .iter()
        .find(|p| p["id"] == id)
        .unwrap()
}

fn record(events: Vec<Value>) {
    shop()
        .engine
        .record_events(&serde_json::to_vec(&events).unwrap())
        .unwrap();
}

const QUERIES: &[&str] = &[
    "sofa ",
    "oak table ",
    "velvet sofa ",
    "brass lamp ",
    "wool rug ",
    "desk lamp ",
    "chair ",
    "grey linen sofa ",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn taste_never_lifts_a_worse_match_above_a_better_one(
        picks in proptest::collection::vec(0usize..4000, 1..20),
        purchases in 0usize..4,
        query in 0usize..QUERIES.len(),
        name in 0u32..1_000_000,
    ) {
        let who = shopper(&format!("prop-{name}"));
        let products = &shop().fixture.products;
        let events: Vec<Value> = picks
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let kind = if i < purchases { "purchase" } else { "view" };
                json!({"type": kind, "shopper": who, "product": products[p % products.len()]["id"]})
            })
            .collect();
        record(events);
        let response = search(QUERIES[query], Some(&who), 100);
        // The ranking follows the criteria, taste included; and no product passes one
        // matching more words, with fewer typos, of the asked-for type or preferred by
        // the crowd because of the shopper's taste.
        for key in [criteria_key, match_key] {
            let keys: Vec<Vec<i64>> = response
                .hits
                .iter()
                .map(|h| key(h.explain.as_ref().unwrap()))
                .collect();
            for pair in keys.windows(2) {
                prop_assert!(pair[0] >= pair[1], "{:?} above {:?}", pair[1], pair[0]);
            }
        }
    }
}

#[test]
fn a_concentrated_taste_wins_among_equal_matches_and_says_why() {
    let anonymous = search("sofa ", None, 20);
    let best = criteria_key(anonymous.hits[0].explain.as_ref().unwrap());
    // A brand with products among the best matches, but not leading them.
    let all = search("sofa ", None, 100);
    let ties: Vec<&str> = all
        .hits
        .iter()
        .filter(|h| criteria_key(h.explain.as_ref().unwrap()) == best)
        .map(|h| h.id.as_str())
        .collect();
    let brand = ties[ties.len() / 2..]
        .iter()
        .map(|id| product(id)["brand"].as_str().unwrap())
        .find(|b| ties.iter().filter(|id| product(id)["brand"] == *b).count() >= 3)
        .expect("a brand with several equal matches");
    let range: Vec<&Value> = shop()
        .fixture
        .products
        .iter()
        .filter(|p| p["brand"] == brand && !ties.contains(&p["id"].as_str().unwrap()))
        .take(10)
        .collect();
    let who = shopper("loyal");
    record(
        range
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let kind = if i < 2 { "purchase" } else { "view" };
                json!({"type": kind, "shopper": who, "product": p["id"]})
            })
            .collect(),
    );
    let personal = search("sofa ", Some(&who), 20);
    let top: Vec<&str> = ids(&personal).into_iter().take(3).collect();
    for id in &top {
        assert_eq!(product(id)["brand"], brand, "{top:?}");
    }
    let explain = personal.hits[0].explain.as_ref().unwrap();
    assert_eq!(
        explain.because_feature.as_deref(),
        Some("brand"),
        "{explain:?}"
    );
    assert!(explain.because.as_ref().unwrap().contains(brand));
    let taste = explain
        .criteria
        .iter()
        .find(|c| c.criterion == clerk::schema::Criterion::Taste)
        .expect("the taste criterion is explained");
    assert_eq!((taste.value, taste.best), (1, 1), "a clear taste");
    assert_ne!(ids(&anonymous)[..3], top[..], "the taste changed the top");
}

#[test]
fn a_scattered_history_barely_moves_anything() {
    let who = shopper("scattered");
    let products = &shop().fixture.products;
    record(
        (0..15)
            .map(|i| json!({"type": "view", "shopper": who, "product": products[(i * 263) % products.len()]["id"]}))
            .collect(),
    );
    for q in ["sofa ", "desk lamp ", "wool rug "] {
        let anonymous = search(q, None, 10);
        let personal = search(q, Some(&who), 10);
        for hit in &personal.hits {
            let explain = hit.explain.as_ref().unwrap();
            assert!(
                explain
                    .criteria
                    .iter()
                    .all(|c| c.criterion != clerk::schema::Criterion::Taste || c.value == 0),
                "{q}: a scattered history is no clear taste: {explain:?}"
            );
        }
        let kept = ids(&personal)
            .iter()
            .filter(|id| ids(&anonymous).contains(id))
            .count();
        assert!(kept >= 8, "{q}: only {kept} of the top 10 kept");
    }
}

#[test]
fn a_typo_ranks_like_its_correction() {
    let mut checked = 0;
    for (typo, clean) in [
        ("velvet sfoa ", "velvet sofa "),
        ("oak tabel ", "oak table "),
        ("brasss lamp ", "brass lamp "),
        ("wool ruug ", "wool rug "),
        ("linnen sofa ", "linen sofa "),
        ("leather armcahir ", "leather armchair "),
    ] {
        let corrected = search(typo, None, 10);
        let plan = serde_json::to_string(corrected.plan.as_ref().unwrap()).unwrap();
        // Only an unambiguous correction (one candidate, full weight) must rank alike.
        if !plan.contains(r#""kind":"typo","penalty":1.0"#) {
            continue;
        }
        checked += 1;
        assert_eq!(
            ids(&corrected),
            ids(&search(clean, None, 10)),
            "{typo} vs {clean}"
        );
    }
    assert!(checked >= 3, "only {checked} unambiguous corrections");
}

#[test]
fn relaxation_keeps_the_product_type_word() {
    // A brand of another department: no product is both.
    let response = search("brightwell sofa ", None, 20);
    let relaxed = response.relaxed.as_ref().expect("relaxed");
    assert_eq!(relaxed.dropped, ["brightwell"], "{relaxed:?}");
    assert!(response.total > 0);
    for hit in &response.hits {
        let title = hit.product["title"].as_str().unwrap().to_lowercase();
        let category = product(&hit.id)["category"].to_string().to_lowercase();
        assert!(
            title.contains("sofa") || category.contains("sofa"),
            "{title}"
        );
    }
}

#[test]
fn the_type_word_beats_products_that_mention_it() {
    // Sofas rank above products that only mention "sofa" in their description.
    let response = search("sofa ", None, 100);
    let roles = response.roles.as_ref().unwrap();
    assert_eq!(roles.type_clause, Some(0));
    let leaf = |id: &str| {
        product(id)["category"]
            .as_array()
            .and_then(|c| c.last())
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_lowercase()
    };
    let title = |id: &str| product(id)["title"].as_str().unwrap_or("").to_lowercase();
    let sofa = |id: &str| leaf(id) == "sofas";
    let mention = |id: &str| !leaf(id).contains("sofa") && !title(id).contains("sofa");
    let last_sofa = response.hits.iter().rposition(|h| sofa(&h.id));
    let first_mention = response.hits.iter().position(|h| mention(&h.id));
    if let (Some(s), Some(m)) = (last_sofa, first_mention) {
        assert!(s < m, "a mere mention at {m} ranks above a sofa at {s}");
    }
    assert!(last_sofa.is_some());
}
