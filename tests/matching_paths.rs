//! The fast paths of matching and retrieval give exactly what the plain paths give.
//!
//! * Matching every required word, driven by the rarest one (postings skipped to the
//!   documents still in the running), finds the same documents with the same facts
//!   and scores as matching any word and keeping those that have them all — checked
//!   on random queries over the demo catalog's own words.
//! * Searching segments in parallel gives the same response (totals, facets, hits,
//!   explanations) as searching them one after the other.
//! * Facets counted a word at a time (value and range bitsets against the matches'
//!   bitset) equal facets counted document by document, on random queries, filters
//!   and browses.

mod common;

use std::sync::OnceLock;

use clerk::engine::Engine;
use clerk::index::DataDir;
use clerk::ranking::{DocMatch, TextQuery};
use clerk::search::{SearchRequest, plan_query};
use proptest::prelude::*;

use common::{Fixture, demo_fixture};

fn shop() -> &'static (Fixture, Engine) {
    static SHOP: OnceLock<(Fixture, Engine)> = OnceLock::new();
    SHOP.get_or_init(|| {
        let fixture = demo_fixture(3000, 11);
        let engine = Engine::open(DataDir::new(fixture.data_dir())).unwrap();
        (fixture, engine)
    })
}

/// Words the demo catalog uses, common and rare, plus a typo and an unknown word.
const WORDS: &[&str] = &[
    "grey", "linen", "sofa", "modern", "oak", "dining", "table", "lamp", "brass", "floor",
    "velvet", "chair", "rug", "wool", "mirror", "round", "walnut", "desk", "sofq", "zzzqx",
];

fn same(a: &[DocMatch], b: &[DocMatch]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} documents against {}", a.len(), b.len()));
    }
    for (x, y) in a.iter().zip(b) {
        let close = (x.text - y.text).abs() <= 1e-4 * x.text.abs().max(1.0);
        if x.doc != y.doc || x.facts != y.facts || !close {
            return Err(format!("{x:?} against {y:?}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn all_of_driven_by_the_rarest_word_equals_any_of_then_filtered(
        picks in proptest::collection::vec(0..WORDS.len(), 1..5),
        last_is_prefix in any::<bool>(),
    ) {
        let (_, engine) = shop();
        let snapshot = engine.snapshot();
        let config = engine.config();
        let mut q = picks.iter().map(|&i| WORDS[i]).collect::<Vec<_>>().join(" ");
        if !last_is_prefix {
            q.push(' ');
        }
        let request = SearchRequest::query(&q);
        let words = snapshot.analyzer.query_words(&q);
        let planned = plan_query(&snapshot, &config, &words, &request);
        let text = TextQuery::prepare(&snapshot, &planned.plan).unwrap();
        let (Some(strict), Some(any)) = (text.strict.as_ref(), text.any_matches(&snapshot).unwrap())
        else {
            prop_assert!(planned.plan.is_empty());
            return Ok(());
        };
        prop_assert_eq!(strict.len(), any.len());
        for (strict, any) in strict.iter().zip(&any) {
            let filtered: Vec<DocMatch> = any
                .iter()
                .filter(|m| m.facts.matched & text.required == text.required)
                .copied()
                .collect();
            if let Err(e) = same(strict, &filtered) {
                prop_assert!(false, "{q:?}: {e}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// What relaxation reads: the documents matching any subset of the clauses, and
    /// how many documents match each clause, against the plain any-of path.
    #[test]
    fn relaxed_matches_and_clause_counts_equal_any_of_then_filtered(
        picks in proptest::collection::vec(0..WORDS.len(), 2..5),
        accept_bits in any::<u32>(),
    ) {
        let (_, engine) = shop();
        let snapshot = engine.snapshot();
        let config = engine.config();
        let q = picks.iter().map(|&i| WORDS[i]).collect::<Vec<_>>().join(" ") + " ";
        let request = SearchRequest::query(&q);
        let words = snapshot.analyzer.query_words(&q);
        let planned = plan_query(&snapshot, &config, &words, &request);
        let text = TextQuery::prepare(&snapshot, &planned.plan).unwrap();
        let Some(any) = text.any_matches(&snapshot).unwrap() else {
            prop_assert!(planned.plan.is_empty());
            return Ok(());
        };
        let accept = text.required & accept_bits;
        let relaxed = text.matches_all_of(&snapshot, accept).unwrap().unwrap();
        for (relaxed, any) in relaxed.iter().zip(&any) {
            let filtered: Vec<DocMatch> = any
                .iter()
                .filter(|m| m.facts.matched & accept == accept)
                .copied()
                .collect();
            if let Err(e) = same(relaxed, &filtered) {
                prop_assert!(false, "{q:?} accepting {accept:b}: {e}");
            }
        }
        let counts = text.clause_counts(&snapshot).unwrap();
        prop_assert_eq!(counts.len(), planned.plan.clauses.len());
        for (i, &count) in counts.iter().enumerate() {
            let expected = any
                .iter()
                .flatten()
                .filter(|m| m.facts.matched & (1 << i) != 0)
                .count() as u64;
            prop_assert_eq!(count, expected, "{:?} clause {}", q, i);
        }
    }
}

/// Filters for the facet comparison: none, one a facet counts disjunctively, several.
const FILTERS: &[&[&str]] = &[
    &[],
    &["color:Grey|Navy"],
    &["brand:Nordby"],
    &["price:100..500", "in_stock:true"],
    &["category:Furniture", "-color:Black"],
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn facets_counted_by_words_equal_facets_counted_by_documents(
        picks in proptest::collection::vec(0..WORDS.len(), 0..3),
        last_is_prefix in any::<bool>(),
        filters in 0..FILTERS.len(),
    ) {
        use clerk::facets::Counting;
        let (_, engine) = shop();
        let mut q = picks.iter().map(|&i| WORDS[i]).collect::<Vec<_>>().join(" ");
        if !last_is_prefix && !q.is_empty() {
            q.push(' ');
        }
        let request = SearchRequest {
            facets: ["brand", "category", "price", "color", "material", "in_stock"]
                .map(String::from)
                .to_vec(),
            filters: FILTERS[filters].iter().map(|f| f.to_string()).collect(),
            ..SearchRequest::query(&q)
        };
        let facets = |counting: Counting| {
            counting.set();
            let response = engine.search(&request).map(|r| (r.total, r.facets));
            Counting::Cheaper.set();
            response.unwrap()
        };
        let by_documents = facets(Counting::ByDocument);
        let by_words = facets(Counting::ByWord);
        prop_assert_eq!(by_words, by_documents, "{:?} {:?}", q, FILTERS[filters]);
    }
}

/// The comparison above compares something: the fixture's segments keep the facet
/// columns as bitsets once counted a word at a time.
#[test]
fn facet_columns_are_kept_as_bitsets() {
    let (_, engine) = shop();
    let snapshot = engine.snapshot();
    let color = snapshot.vocabulary.column_id("attributes.color").unwrap();
    for (ord, columns) in snapshot.columns.iter().enumerate() {
        let max_doc = snapshot.searcher.segment_reader(ord as u32).max_doc();
        let bits = columns.column_bits(color, max_doc).unwrap();
        assert!(bits.values.len() > 1);
        let held: u32 = bits
            .values
            .iter()
            .map(|(_, b)| b.iter().map(|w| w.count_ones()).sum::<u32>())
            .sum();
        assert!(held > 0 && held <= max_doc);
    }
}

#[test]
fn parallel_segments_answer_exactly_as_sequential_ones() {
    let (_, engine) = shop();
    assert!(
        engine.snapshot().searcher.segment_readers().len() > 1,
        "the fixture should have several segments"
    );
    let requests: Vec<SearchRequest> =
        ["lamp ", "grey linen sofa modern ", "s", "velvit chair ", ""]
            .iter()
            .map(|q| SearchRequest {
                facets: vec![
                    "brand".into(),
                    "category".into(),
                    "price".into(),
                    "color".into(),
                ],
                filters: match q.is_empty() {
                    true => vec!["color:Grey|Navy".into(), "in_stock:true".into()],
                    false => Vec::new(),
                },
                explain: true,
                per_page: 30,
                ..SearchRequest::query(*q)
            })
            .collect();
    let answer = |r: &SearchRequest| {
        let mut value = serde_json::to_value(engine.search(r).unwrap()).unwrap();
        if let Some(object) = value.as_object_mut() {
            object.remove("took_ms");
            object.remove("timings");
        }
        value
    };
    clerk::parallel::set_min_docs(u64::MAX);
    let sequential: Vec<_> = requests.iter().map(answer).collect();
    clerk::parallel::set_min_docs(0);
    let parallel: Vec<_> = requests.iter().map(answer).collect();
    clerk::parallel::set_min_docs(clerk::parallel::MIN_DOCS);
    for ((request, s), p) in requests.iter().zip(&sequential).zip(&parallel) {
        assert_eq!(s, p, "{:?}", request.q);
    }
}
