//! The `learned` ranking criterion: what the crowd's searches, clicks and purchases
//! say about a query, acting after `type`, `words` and `typo` and before `attribute`.
//!
//! Properties checked, through the engine's public API with events posted the way
//! `POST /v1/events` posts them:
//! * a product many shoppers choose from deep on the page rises above products of a
//!   better `attribute` tier, but never above a product of the asked-for type or one
//!   that matches more query words;
//! * products that several shoppers looked at and skipped (above the one they chose)
//!   fall below the rest of their type/words/typo tier, never below a worse-matching one;
//! * thin evidence (two shoppers) changes nothing, criteria and order alike;
//! * holdout shoppers and `learn=false` see the unlearned ranking;
//! * `explain` shows the criterion's value per hit;
//! * a search event records the learned page its shopper was served (none for holdout
//!   shoppers), and an engine restarted over the same events learns the same ranking.

mod common;

use std::sync::Arc;

use clerk::engine::Engine;
use clerk::events::EventKind;
use clerk::index::DataDir;
use clerk::schema::Criterion;
use clerk::search::{SearchRequest, SearchResponse};
use clerk::shoppers::{RedbStore, STORE_FILE, ShopperStore, in_holdout};
use serde_json::{Value, json};

use common::{Fixture, fixture_from_lines};

const QUERY: &str = "oak table";

fn product(id: &str, title: &str, category: &str, popularity: u64) -> Value {
    json!({"id": id, "title": title, "popularity": popularity, "category": ["Home", category]})
}

/// Six oak tables (the best tier), a table that says "oak" only in its description (a
/// worse `attribute` tier), an oak table runner (a textile: not a table), and plain
/// tables that match one word only.
fn catalog() -> Vec<Value> {
    let mut lines: Vec<Value> = (1..=6)
        .map(|i| product(&format!("table-{i}"), "Oak table", "Tables", 100 - i))
        .collect();
    let mut described = product("described", "Dining table", "Tables", 60);
    described["description"] = json!("Solid oak, seats six");
    lines.push(described);
    lines.push(product(
        "runner",
        "Textile runner for an oak table",
        "Textiles",
        1,
    ));
    for i in 1..=4 {
        lines.push(product(
            &format!("plain-{i}"),
            "Dining table in pine",
            "Tables",
            50 - i,
        ));
    }
    lines
}

struct Shop {
    fixture: Fixture,
    store: Arc<RedbStore>,
    engine: Arc<Engine>,
}

fn shop() -> Shop {
    let fixture = fixture_from_lines(&catalog());
    let store = Arc::new(RedbStore::open(&fixture.dir.path().join(STORE_FILE)).unwrap());
    let engine = Engine::open(DataDir::new(fixture.data_dir()))
        .unwrap()
        .with_shoppers(store.clone());
    Shop {
        fixture,
        store,
        engine: Arc::new(engine),
    }
}

fn shopper(name: &str, holdout: bool) -> String {
    (0..)
        .map(|i| format!("{name}-{i}"))
        .find(|id| in_holdout(id, 0.1) == holdout)
        .unwrap()
}

impl Shop {
    fn search(&self, shopper: Option<&str>, learn: bool) -> SearchResponse {
        self.engine
            .search(&SearchRequest {
                shopper: shopper.map(str::to_string),
                per_page: 20,
                explain: true,
                learn,
                ..SearchRequest::query(QUERY)
            })
            .unwrap()
    }

    /// `n` shoppers each search, skip what is above `chosen`, click and buy it.
    fn sessions(&self, name: &str, n: usize, chosen: &str) {
        let position = self
            .search(None, false)
            .hits
            .iter()
            .position(|h| h.id == chosen)
            .unwrap()
            + 1;
        let events: Vec<Value> = (0..n)
            .flat_map(|i| {
                let s = format!("{name}-{i}");
                [
                    json!({"type": "search", "shopper": s, "query": QUERY}),
                    json!({"type": "click", "shopper": s, "product": chosen, "query": QUERY, "position": position}),
                    json!({"type": "purchase", "shopper": s, "product": chosen}),
                ]
            })
            .collect();
        self.engine
            .record_events(&serde_json::to_vec(&events).unwrap())
            .unwrap();
        self.engine.learn().unwrap();
    }
}

fn ids(r: &SearchResponse) -> Vec<&str> {
    r.hits.iter().map(|h| h.id.as_str()).collect()
}

/// A hit's value of one criterion.
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

fn rank(r: &SearchResponse, id: &str) -> usize {
    ids(r).iter().position(|h| *h == id).unwrap()
}

#[test]
fn the_crowd_lifts_across_attribute_tiers_but_never_over_the_type_or_more_words() {
    let shop = shop();
    let before = shop.search(None, true);
    // Unlearned: the oak tables, the table with "oak" in its description, the plain
    // tables (tables, one word), then the runner (two words, but not a table).
    assert_eq!(rank(&before, "described"), 6, "{:?}", ids(&before));
    let last = before.hits.len() - 1;
    assert_eq!(rank(&before, "runner"), last, "{:?}", ids(&before));
    assert!(value(&before, "runner", Criterion::Type) < value(&before, "table-1", Criterion::Type));
    assert!(
        value(&before, "described", Criterion::Attribute)
            < value(&before, "table-1", Criterion::Attribute)
    );
    assert!(
        before
            .hits
            .iter()
            .all(|h| value(&before, &h.id, Criterion::Learned) == 1)
    );

    shop.sessions("described-buyer", 6, "described");
    shop.sessions("runner-buyer", 6, "runner");
    shop.sessions("plain-buyer", 6, "plain-4");
    let after = shop.search(None, true);
    assert_eq!(ids(&after)[0], "described", "{:?}", ids(&after));
    assert_eq!(value(&after, "described", Criterion::Learned), 2);
    // The runner the crowd bought stays below every table...
    assert_eq!(value(&after, "runner", Criterion::Learned), 2);
    assert_eq!(rank(&after, "runner"), last, "{:?}", ids(&after));
    // ...and the one-word match it bought below every two-word table.
    let two_words = value(&after, "table-1", Criterion::Words);
    let plain = rank(&after, "plain-4");
    assert_eq!(value(&after, "plain-4", Criterion::Learned), 2);
    for (i, hit) in after.hits.iter().enumerate() {
        if value(&after, &hit.id, Criterion::Words) == two_words
            && value(&after, &hit.id, Criterion::Type) == value(&after, "table-1", Criterion::Type)
        {
            assert!(i < plain, "{} below plain-4: {:?}", hit.id, ids(&after));
        }
    }
    // The tables every buyer looked at and skipped fall below the other tables, and
    // stay above the one-word matches.
    let skipped: Vec<&str> = ids(&before)[..6].to_vec();
    let passed_over: Vec<&str> = skipped
        .iter()
        .copied()
        .filter(|id| value(&after, id, Criterion::Learned) == 0)
        .collect();
    assert!(!passed_over.is_empty(), "{:?}", after.hits);
    for id in &passed_over {
        assert!(rank(&after, id) < plain);
        for other in skipped.iter().filter(|o| !passed_over.contains(o)) {
            assert!(rank(&after, id) > rank(&after, other));
        }
    }

    // Holdout shoppers and learn=false see the unlearned ranking.
    let holdout = shopper("holdout", true);
    assert_eq!(ids(&shop.search(Some(&holdout), true)), ids(&before));
    assert_eq!(ids(&shop.search(None, false)), ids(&before));
}

#[test]
fn thin_evidence_changes_nothing() {
    let shop = shop();
    let before = shop.search(None, true);
    shop.sessions("few", 2, "runner");
    let after = shop.search(None, true);
    assert_eq!(ids(&after), ids(&before));
    for hit in &after.hits {
        assert_eq!(value(&after, &hit.id, Criterion::Learned), 1, "{}", hit.id);
    }
    // One shopper clicking a thousand times is one shopper.
    let events: Vec<Value> = (0..1000)
        .map(|_| json!({"type": "click", "shopper": "bot", "product": "plain-2", "query": QUERY, "position": 9}))
        .collect();
    shop.engine
        .record_events(&serde_json::to_vec(&events).unwrap())
        .unwrap();
    shop.engine.learn().unwrap();
    assert_eq!(ids(&shop.search(None, true)), ids(&before));
}

#[test]
fn searches_record_the_learned_page_they_were_served() {
    let shop = shop();
    shop.sessions("described-buyer", 6, "described");
    let learned = shop.search(None, true);
    let unlearned = shop.search(None, false);
    assert_ne!(ids(&learned), ids(&unlearned));

    let visitor = shopper("visitor", false);
    let control = shopper("control", true);
    let events: Vec<Value> = [&visitor, &control]
        .iter()
        .map(|s| json!({"type": "search", "shopper": s, "query": QUERY}))
        .collect();
    shop.engine
        .record_events(&serde_json::to_vec(&events).unwrap())
        .unwrap();
    let stored = shop.store.events_after(None, 10_000).unwrap();
    let served = |who: &str| {
        stored
            .iter()
            .rev()
            .find(|(_, e)| e.shopper == who && e.kind == EventKind::Search)
            .map(|(_, e)| e.served.clone())
            .unwrap()
    };
    let page: Vec<String> = ids(&learned).iter().map(|s| s.to_string()).collect();
    assert_eq!(served(&visitor), Some(page));
    // Holdout shoppers are served the unlearned ranking; so were the first searchers.
    assert_eq!(served(&control), None);
    assert_eq!(served("described-buyer-0"), None);

    // An engine started afresh over the same events learns the same ranking.
    let restarted = Engine::open(DataDir::new(shop.fixture.data_dir()))
        .unwrap()
        .with_shoppers(shop.store.clone());
    restarted.learn().unwrap();
    let again = restarted
        .search(&SearchRequest {
            per_page: 20,
            ..SearchRequest::query(QUERY)
        })
        .unwrap();
    assert_eq!(ids(&again), ids(&shop.search(None, true)));
}
