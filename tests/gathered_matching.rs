//! Crowded clauses gathered straight from the postings into an array indexed by
//! document give exactly the matches that merging one sorted list per term and field
//! gives: same documents, facts (typos, strong fields, the product-type word) and
//! scores up to the order floats are added in. Checked on random queries mixing
//! common words, synonyms, typos and short prefixes (which expand to many terms).
//!
//! Its own test binary: the switch between the two paths is process-wide.

mod common;

use std::sync::OnceLock;

use clerk::engine::Engine;
use clerk::index::DataDir;
use clerk::ranking::{DocMatch, TextQuery, set_gathering};
use clerk::search::{SearchRequest, plan_query};
use proptest::prelude::*;

use common::{Fixture, demo_fixture};

fn shop() -> &'static (Fixture, Engine) {
    static SHOP: OnceLock<(Fixture, Engine)> = OnceLock::new();
    SHOP.get_or_init(|| {
        let fixture = demo_fixture(4000, 5);
        let engine = Engine::open(DataDir::new(fixture.data_dir())).unwrap();
        (fixture, engine)
    })
}

const WORDS: &[&str] = &[
    "sofa", "rug", "lamp", "grey", "modern", "oak", "table", "chair", "velvit", "couch", "s", "b",
    "la", "wo", "brass", "floor",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gathered_clauses_equal_merged_lists(
        picks in proptest::collection::vec(0..WORDS.len(), 1..4),
        last_is_prefix in any::<bool>(),
    ) {
        let (_, engine) = shop();
        let snapshot = engine.snapshot();
        let config = engine.config();
        let mut q = picks.iter().map(|&i| WORDS[i]).collect::<Vec<_>>().join(" ");
        if !last_is_prefix {
            q.push(' ');
        }
        let words = snapshot.analyzer.query_words(&q);
        let planned = plan_query(&snapshot, &config, &words, &SearchRequest::query(&q));
        let text = TextQuery::prepare(&snapshot, &planned.plan).unwrap();
        let matches = |gather: bool| -> Option<Vec<Vec<DocMatch>>> {
            set_gathering(gather);
            let found = text.any_matches(&snapshot).unwrap();
            set_gathering(true);
            found
        };
        let (Some(gathered), Some(merged)) = (matches(true), matches(false)) else {
            prop_assert!(planned.plan.is_empty());
            return Ok(());
        };
        for (a, b) in gathered.iter().flatten().zip(merged.iter().flatten()) {
            let close = (a.text - b.text).abs() <= 1e-4 * a.text.abs().max(1.0);
            prop_assert!(
                a.doc == b.doc && a.facts == b.facts && close,
                "{:?}: {:?} against {:?}", q, a, b
            );
        }
        prop_assert_eq!(
            gathered.iter().map(Vec::len).collect::<Vec<_>>(),
            merged.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
}
