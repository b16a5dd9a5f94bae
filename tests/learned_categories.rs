//! The categories a query's shoppers choose, and pages they abandon, through the
//! engine's public API with events posted the way `POST /v1/events` posts them.
//!
//! A store whose "network card" search leads with adapters that state no category,
//! while the catalog's network cards sit below them. Most shoppers leave the page; a
//! few scroll down and take a network card. Properties checked:
//! * the category they took from is chosen for the query: its products — also those
//!   nobody clicked — rise above the abandoned top (`learned` criterion 2), and
//!   `explain` says why in shopper words;
//! * a product of that category matching fewer of the query's words stays below
//!   every product matching them all;
//! * two shoppers prefer no category; holdout shoppers see the unlearned ranking.

mod common;

use std::sync::Arc;

use clerk::engine::Engine;
use clerk::index::DataDir;
use clerk::schema::Criterion;
use clerk::search::{SearchRequest, SearchResponse};
use clerk::shoppers::{RedbStore, STORE_FILE, in_holdout};
use serde_json::{Value, json};

use common::{Fixture, fixture_from_lines};

const QUERY: &str = "network card";

/// Five adapters of no category lead (more popular); eight network cards follow; an
/// "ethernet card" of the same category matches one word of the query.
fn catalog() -> Vec<Value> {
    let mut lines: Vec<Value> = (1..=5)
        .map(|i| json!({"id": format!("adapter-{i}"), "title": format!("Network card model A{i}"), "popularity": 100 - i}))
        .collect();
    for i in 1..=8 {
        lines.push(json!({
            "id": format!("card-{i}"),
            "title": format!("Network card model C{i}"),
            "popularity": 50 - i,
            "category": ["Components", "Interface Boards"],
        }));
    }
    lines.push(json!({
        "id": "ethernet",
        "title": "Ethernet card",
        "popularity": 90,
        "category": ["Components", "Interface Boards"],
    }));
    lines
}

struct Shop {
    _fixture: Fixture,
    engine: Arc<Engine>,
}

fn shop() -> Shop {
    let fixture = fixture_from_lines(&catalog());
    let store = Arc::new(RedbStore::open(&fixture.dir.path().join(STORE_FILE)).unwrap());
    let engine = Engine::open(DataDir::new(fixture.data_dir()))
        .unwrap()
        .with_shoppers(store);
    Shop {
        _fixture: fixture,
        engine: Arc::new(engine),
    }
}

fn ids(r: &SearchResponse) -> Vec<&str> {
    r.hits.iter().map(|h| h.id.as_str()).collect()
}

fn value(r: &SearchResponse, id: &str, criterion: Criterion) -> u32 {
    let hit = r.hits.iter().find(|h| h.id == id).unwrap();
    let explain = hit.explain.as_ref().unwrap();
    explain
        .criteria
        .iter()
        .find(|c| c.criterion == criterion)
        .unwrap()
        .value
}

impl Shop {
    fn search(&self, shopper: Option<&str>) -> SearchResponse {
        self.engine
            .search(&SearchRequest {
                shopper: shopper.map(str::to_string),
                per_page: 20,
                explain: true,
                ..SearchRequest::query(QUERY)
            })
            .unwrap()
    }

    /// Twelve shoppers search; the first `takers` each click and buy one of the first
    /// three network cards where the page shows it, the others leave.
    fn sessions(&self, takers: usize) {
        let page = self.search(None);
        let position = |id: &str| ids(&page).iter().position(|h| *h == id).unwrap() + 1;
        let mut events = Vec::new();
        for i in 0..12 {
            let s = format!("shopper-{i}");
            events.push(json!({"type": "search", "shopper": s, "query": QUERY}));
            if i < takers {
                let card = format!("card-{}", 1 + i % 3);
                events.push(json!({"type": "click", "shopper": s, "product": card, "query": QUERY, "position": position(&card)}));
                events.push(json!({"type": "purchase", "shopper": s, "product": card}));
            }
        }
        self.engine
            .record_events(&serde_json::to_vec(&events).unwrap())
            .unwrap();
        self.engine.learn().unwrap();
    }
}

#[test]
fn shoppers_who_take_a_category_from_below_an_abandoned_top_lift_the_whole_category() {
    let shop = shop();
    let before = shop.search(None);
    let first_card = ids(&before).iter().position(|id| id.starts_with("card-"));
    assert_eq!(first_card, Some(5), "{:?}", ids(&before));

    shop.sessions(5);
    let after = shop.search(None);
    let top: Vec<&str> = ids(&after)[..8].to_vec();
    // Every network card matching both words leads, the five nobody clicked too.
    assert!(
        top.iter().all(|id| id.starts_with("card-")),
        "{:?}",
        ids(&after)
    );
    assert_eq!(value(&after, "card-8", Criterion::Learned), 2);
    // `explain` says why, in shopper words.
    let because = |id: &str| {
        let hit = after.hits.iter().find(|h| h.id == id).unwrap();
        hit.explain.as_ref().unwrap().learned_because.clone()
    };
    assert_eq!(
        because("card-8").as_deref(),
        Some("shoppers who searched \u{201c}network card\u{201d} chose Interface Boards")
    );
    if value(&after, "adapter-1", Criterion::Learned) == 0 {
        assert!(because("adapter-1").unwrap().ends_with("passed it over"));
    }
    // The one-word ethernet card stays below every two-word match.
    let ethernet = ids(&after).iter().position(|id| *id == "ethernet");
    if let Some(ethernet) = ethernet {
        assert!(
            ids(&after)[ethernet..]
                .iter()
                .all(|id| !id.starts_with("adapter-") && !id.starts_with("card-")),
            "{:?}",
            ids(&after)
        );
    }
    // Holdout shoppers see the unlearned ranking.
    let holdout = (0..)
        .map(|i| format!("holdout-{i}"))
        .find(|id| in_holdout(id, 0.1))
        .unwrap();
    assert_eq!(ids(&shop.search(Some(&holdout))), ids(&before));
}

#[test]
fn two_shoppers_choose_no_category() {
    let shop = shop();
    shop.sessions(2);
    let after = shop.search(None);
    // Each card they took, and the cards nobody took, stay without a preference.
    for card in ["card-1", "card-2", "card-8"] {
        assert_eq!(value(&after, card, Criterion::Learned), 1, "{card}");
    }
}
