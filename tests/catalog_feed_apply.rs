//! Applying catalog feed changes to a live index: the position travels with the commit.
//!
//! Properties checked, without Redis: changes apply in order within one commit; the
//! feed position is stored with it and read back by a freshly opened index (a copied
//! data directory knows where it stands); replaying a delete of an absent product is
//! harmless; autocomplete follows the batch change by change (a product changed twice
//! in one batch is suggested by its last title only).

mod common;

use clerk::catalog::Product;
use clerk::index::{FeedChange, LiveIndex};
use serde_json::json;

fn product(index: &LiveIndex, id: &str, title: &str) -> Product {
    let record = json!({"id": id, "title": title});
    Product::from_record(index.schema(), record.as_object().expect("object")).expect("product")
}

#[test]
fn feed_changes_commit_with_their_position_and_replay_harmlessly() {
    let fixture = common::demo_fixture(300, 3);
    let index = fixture.engine.index();
    assert_eq!(index.catalog_version().expect("metas"), None);
    let changes = vec![
        FeedChange::Upsert(vec![product(&index, "p-feed", "Okapi oak sideboard")]),
        FeedChange::Delete("p-1001".into()),
        FeedChange::Delete("p-never-existed".into()),
        FeedChange::Upsert(vec![product(&index, "p-feed", "Okapi walnut sideboard")]),
    ];
    index
        .apply_feed(&changes, "1700000000000-4")
        .expect("apply");
    let snapshot = index.snapshot();
    assert!(snapshot.find("p-1001").is_none());
    assert!(snapshot.find("p-feed").is_some());
    assert_eq!(snapshot.num_docs(), 300, "one added, one removed");
    let reopened = LiveIndex::open(index.dir()).expect("reopen");
    assert_eq!(
        reopened.catalog_version().expect("metas").as_deref(),
        Some("1700000000000-4")
    );
    let titles = fixture
        .engine
        .search(&clerk::search::SearchRequest {
            q: "okapi".into(),
            ..Default::default()
        })
        .expect("search");
    assert_eq!(titles.total, 1, "the later upsert replaced the earlier one");
    let suggested = |typed: &str| -> Vec<String> {
        index
            .suggest(typed, 20)
            .into_iter()
            .map(|s| s.text)
            .collect()
    };
    assert!(suggested("okapi w").contains(&"okapi walnut sideboard".to_string()));
    assert!(
        !suggested("okapi").contains(&"okapi oak sideboard".to_string()),
        "{:?}",
        suggested("okapi")
    );
}
