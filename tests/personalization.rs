//! Shopper events, profiles and personalized re-ranking through the engine and the API.
//!
//! Properties checked:
//! * a batch with any invalid event is rejected whole and records nothing;
//! * a profile learns from purchases and lifts matching products, and each lifted hit
//!   explains itself in shopper words;
//! * `personalization_impact = 0` gives exactly the unpersonalized order and scores;
//! * relevance stays first: a product never ranks above one whose text score exceeds
//!   its own by more than the bounded personalization and popularity factors;
//! * products in sensitive categories never feed a profile;
//! * holdout shoppers are served unpersonalized, with `variant: "holdout"`;
//! * forgetting removes profile and events; opting out erases affinities and serves the
//!   shopper anonymously.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clerk::engine::Engine;
use clerk::http::AppState;
use clerk::index::DataDir;
use clerk::schema::StoreSchema;
use clerk::search::{SearchRequest, SearchResponse};
use clerk::shoppers::{RedbStore, STORE_FILE, in_holdout};
use serde_json::{Value, json};

use common::{Fixture, call, demo_fixture_with_schema, demo_schema, demo_schema_with};

struct Setup {
    fixture: Fixture,
    engine: Arc<Engine>,
}

fn setup(schema: &StoreSchema) -> Setup {
    let fixture = demo_fixture_with_schema(3000, 21, schema);
    let store = RedbStore::open(&fixture.dir.path().join(STORE_FILE)).unwrap();
    let engine = Engine::open(DataDir::new(fixture.data_dir()))
        .unwrap()
        .with_shoppers(Arc::new(store));
    Setup {
        fixture,
        engine: Arc::new(engine),
    }
}

/// A shopper id outside the holdout group.
fn personalized_shopper(name: &str) -> String {
    (0..)
        .map(|i| format!("{name}-{i}"))
        .find(|id| !in_holdout(id, 0.1))
        .unwrap()
}

/// Products of the catalog matching a predicate.
fn products_where(f: &Fixture, pred: impl Fn(&Value) -> bool) -> Vec<&Value> {
    f.products.iter().filter(|p| pred(p)).collect()
}

/// Purchases of every product in `products` (at most `n`) by `shopper`.
fn purchases(shopper: &str, products: &[&Value], n: usize) -> Vec<u8> {
    let events: Vec<Value> = products
        .iter()
        .take(n)
        .map(|p| json!({"type":"purchase","shopper":shopper,"product":p["id"]}))
        .collect();
    serde_json::to_vec(&events).unwrap()
}

fn search(engine: &Engine, q: &str, shopper: Option<&str>) -> SearchResponse {
    engine
        .search(&SearchRequest {
            shopper: shopper.map(str::to_string),
            per_page: 100,
            explain: true,
            ..SearchRequest::query(q)
        })
        .unwrap()
}

fn ids(response: &SearchResponse) -> Vec<&str> {
    response.hits.iter().map(|h| h.id.as_str()).collect()
}

#[test]
fn invalid_batches_are_rejected_whole() {
    let s = setup(&demo_schema());
    let good = s.fixture.products[0]["id"].as_str().unwrap();
    let body = json!([
        {"type":"view","shopper":"s-1","product":good},
        {"type":"view","shopper":"s-1","product":"no-such-product"}
    ]);
    let err = s
        .engine
        .record_events(body.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("event 1") && err.contains("no-such-product"),
        "{err}"
    );
    assert!(
        s.engine.profile_view("s-1").is_err(),
        "nothing of the batch was recorded"
    );
}

#[test]
fn purchases_lift_matching_products_and_explain_why() {
    let s = setup(&demo_schema());
    let shopper = personalized_shopper("fan");
    // A shopper who keeps buying one brand's rugs.
    let brand = "Loom House";
    let bought = products_where(&s.fixture, |p| {
        p["brand"] == brand && p["category"][0] == "Rugs"
    });
    assert!(bought.len() >= 5, "{}", bought.len());
    let accepted = s
        .engine
        .record_events(&purchases(&shopper, &bought, 5))
        .unwrap();
    assert_eq!(accepted, 5);

    let profile = s.engine.profile_view(&shopper).unwrap();
    assert_eq!(profile.events.purchase, 5);
    assert!(
        profile
            .affinities
            .iter()
            .any(|a| a.feature == "brand" && a.value == brand),
        "{:?}",
        profile.affinities
    );

    let anonymous = search(&s.engine, "rug ", None);
    let personal = search(&s.engine, "rug ", Some(&shopper));
    assert_eq!(anonymous.variant, "anonymous");
    assert_eq!(personal.variant, "personalized");
    assert_eq!(
        anonymous.total, personal.total,
        "personalization re-ranks, never filters"
    );
    // The brand's products move up: the first one and the mean rank of those shown.
    let ranks = |r: &SearchResponse| -> Vec<usize> {
        r.hits
            .iter()
            .enumerate()
            .filter(|(_, h)| h.product["brand"] == brand)
            .map(|(i, _)| i)
            .collect()
    };
    let (before, after) = (ranks(&anonymous), ranks(&personal));
    assert!(!before.is_empty() && !after.is_empty());
    assert!(
        after[0] < before[0],
        "first at {} personalized, {} anonymous",
        after[0],
        before[0]
    );
    // The same products followed onto the personalized page (more of the brand may
    // join a page of 100, so the brand's own mean rank proves nothing).
    let followed: Vec<usize> = before
        .iter()
        .map(|&i| {
            let id = &anonymous.hits[i].id;
            let at = personal.hits.iter().position(|h| &h.id == id);
            at.unwrap_or(personal.hits.len())
        })
        .collect();
    let mean = |r: &[usize]| r.iter().sum::<usize>() as f64 / r.len() as f64;
    assert!(
        mean(&followed) < mean(&before),
        "{followed:?} vs {before:?}"
    );
    let lifted = personal
        .hits
        .iter()
        .find(|h| h.product["brand"] == brand)
        .unwrap();
    let explain = lifted.explain.as_ref().unwrap();
    assert!(explain.affinity > 0.0);
    let because = explain.because.as_deref().unwrap();
    assert!(because.starts_with("you bought"), "{because}");
    // Anonymous hits never claim a reason.
    assert!(
        anonymous
            .hits
            .iter()
            .all(|h| h.explain.as_ref().unwrap().because.is_none())
    );
}

#[test]
fn impact_zero_is_the_unpersonalized_order() {
    let s = setup(&demo_schema_with(
        "personalization_impact = 1.0",
        "personalization_impact = 0.0",
    ));
    let shopper = personalized_shopper("zero");
    let bought = products_where(&s.fixture, |p| p["category"][0] == "Lighting");
    s.engine
        .record_events(&purchases(&shopper, &bought, 8))
        .unwrap();
    for q in ["lamp ", "grey ", ""] {
        let anonymous = search(&s.engine, q, None);
        let personal = search(&s.engine, q, Some(&shopper));
        assert_eq!(ids(&anonymous), ids(&personal), "{q:?}");
        let scores = |r: &SearchResponse| r.hits.iter().map(|h| h.score).collect::<Vec<_>>();
        assert_eq!(scores(&anonymous), scores(&personal));
    }
}

#[test]
fn better_matches_are_never_displaced_by_taste() {
    let s = setup(&demo_schema());
    let shopper = personalized_shopper("strong");
    let bought = products_where(&s.fixture, |p| p["brand"] == "Nordby");
    s.engine
        .record_events(&purchases(&shopper, &bought, 10))
        .unwrap();
    for q in ["oak table ", "velvet sofa ", "brass lamp ", "wool rug "] {
        let response = search(&s.engine, q, Some(&shopper));
        let tiers: Vec<Vec<i64>> = response
            .hits
            .iter()
            .map(|h| common::match_key(h.explain.as_ref().unwrap()))
            .collect();
        for pair in tiers.windows(2) {
            assert!(
                pair[0] >= pair[1],
                "{q}: {:?} ranks above {:?}",
                pair[1],
                pair[0]
            );
        }
        // Where the shopper's brand is among the hits, the taste is at work.
        if response.hits.iter().any(|h| h.product["brand"] == "Nordby") {
            assert!(
                response
                    .hits
                    .iter()
                    .any(|h| h.explain.as_ref().unwrap().affinity > 0.0),
                "{q}"
            );
        }
    }
}

#[test]
fn sensitive_categories_never_feed_a_profile() {
    let s = setup(&demo_schema_with(
        "sensitive_categories = []",
        "sensitive_categories = [\"Bed & Bath\"]",
    ));
    let shopper = personalized_shopper("private");
    let bought = products_where(&s.fixture, |p| p["category"][0] == "Bed & Bath");
    s.engine
        .record_events(&purchases(&shopper, &bought, 4))
        .unwrap();
    let profile = s.engine.profile_view(&shopper).unwrap();
    assert_eq!(profile.events.purchase, 4, "the events are counted");
    assert!(profile.affinities.is_empty(), "{:?}", profile.affinities);
}

#[test]
fn holdout_shoppers_are_served_unpersonalized() {
    let s = setup(&demo_schema());
    let shopper = (0..)
        .map(|i| format!("control-{i}"))
        .find(|id| in_holdout(id, 0.1))
        .unwrap();
    let bought = products_where(&s.fixture, |p| p["brand"] == "Nordby");
    s.engine
        .record_events(&purchases(&shopper, &bought, 6))
        .unwrap();
    let anonymous = search(&s.engine, "chair ", None);
    let held = search(&s.engine, "chair ", Some(&shopper));
    assert_eq!(held.variant, "holdout");
    assert_eq!(ids(&anonymous), ids(&held));
    assert_eq!(
        s.engine.profile_view(&shopper).unwrap().variant,
        clerk::events::Variant::Holdout
    );
}

#[tokio::test]
async fn events_profiles_forgetting_and_opt_out_over_http() {
    let s = setup(&demo_schema());
    let state = AppState::new(s.engine.clone()).with_admin_key(Some("k".into()));
    let shopper = personalized_shopper("http");
    let product = s.fixture.products[3]["id"].as_str().unwrap().to_string();
    let batch = json!([
        {"type":"view","shopper":shopper,"product":product,"ts":"2026-11-20T10:00:00Z"},
        {"type":"search","shopper":shopper,"query":"linen sofa"},
        {"type":"click","shopper":shopper,"product":product,"query":"linen sofa","position":3}
    ]);
    let post = |body: String| {
        Request::post("/v1/events")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let (status, body) = call(&state, post(batch.to_string())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, json!({"accepted": 3}));

    let (status, body) = call(
        &state,
        post(json!([{"type":"view","shopper":shopper}]).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_events");
    assert!(
        body["error"]["problems"][0]
            .as_str()
            .unwrap()
            .contains("event 0: a view event needs \"product\""),
        "{body}"
    );

    let get = |id: &str| {
        Request::get(format!("/v1/shoppers/{id}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, profile) = call(&state, get(&shopper)).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["events"]["view"], 1);
    assert_eq!(profile["events"]["search"], 1);
    assert_eq!(profile["opted_out"], false);
    assert!(!profile["affinities"].as_array().unwrap().is_empty());

    // Opt out: affinities erased, searches anonymous.
    let (status, _) = call(
        &state,
        Request::post(format!("/v1/shoppers/{shopper}/opt-out"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, profile) = call(&state, get(&shopper)).await;
    assert_eq!(profile["opted_out"], true);
    assert!(profile["affinities"].as_array().unwrap().is_empty());
    assert_eq!(
        search(&s.engine, "sofa ", Some(&shopper)).variant,
        "anonymous"
    );
    let (_, body) = call(&state, post(batch.to_string())).await;
    assert_eq!(body["accepted"], 3);
    let (_, profile) = call(&state, get(&shopper)).await;
    assert!(
        profile["affinities"].as_array().unwrap().is_empty(),
        "opted out shoppers learn nothing"
    );

    // Forget: admin only, then gone.
    let delete = |key: Option<&str>| {
        let mut r = Request::delete(format!("/v1/shoppers/{shopper}"));
        if let Some(k) = key {
            r = r.header("authorization", format!("Bearer {k}"));
        }
        r.body(Body::empty()).unwrap()
    };
    let (status, _) = call(&state, delete(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&state, delete(Some("k"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(&state, get(&shopper)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[test]
fn the_top_of_a_short_page_equals_the_top_of_a_long_one() {
    // Oracle for the pruned top-k: scoring fewer documents must never change the order.
    let s = setup(&demo_schema());
    let shopper = personalized_shopper("oracle");
    let bought = products_where(&s.fixture, |p| p["category"][0] == "Lighting");
    s.engine
        .record_events(&purchases(&shopper, &bought, 10))
        .unwrap();
    for q in ["lamp ", "s", "grey ", "", "velvet sofa "] {
        for who in [None, Some(shopper.as_str())] {
            let short = s
                .engine
                .search(&SearchRequest {
                    shopper: who.map(str::to_string),
                    per_page: 7,
                    ..SearchRequest::query(q)
                })
                .unwrap();
            let long = search(&s.engine, q, who);
            let long_ids: Vec<&str> = ids(&long).into_iter().take(7).collect();
            assert_eq!(ids(&short), long_ids, "{q:?} {who:?}");
            assert_eq!(short.total, long.total);
        }
    }
}

#[test]
fn a_personalized_ranking_pages_through_every_product_once() {
    // The retrieval skips products whose best possible score (the profile's highest
    // affinity, every boost) cannot reach the page. Were that bound ever below a real
    // score, a product of the top would be skipped on one page and never shown:
    // paging through everything would miss it and show another twice.
    let s = setup(&demo_schema());
    let shopper = personalized_shopper("pager");
    let bought = products_where(&s.fixture, |p| p["brand"] == "Loom House");
    let viewed = products_where(&s.fixture, |p| p["category"][0] == "Lighting");
    s.engine
        .record_events(&purchases(&shopper, &bought, 5))
        .unwrap();
    let views: Vec<Value> = viewed
        .iter()
        .take(12)
        .map(|p| json!({"type": "view", "shopper": shopper, "product": p["id"]}))
        .collect();
    s.engine
        .record_events(json!(views).to_string().as_bytes())
        .unwrap();
    for (query, filters) in [("", vec![]), ("rug ", vec![]), ("", vec!["in_stock:true"])] {
        let page = |page: usize| {
            s.engine
                .search(&SearchRequest {
                    shopper: Some(shopper.clone()),
                    per_page: 50,
                    page,
                    filters: filters.iter().map(|f| f.to_string()).collect(),
                    ..SearchRequest::query(query)
                })
                .unwrap()
        };
        let first = page(1);
        assert_eq!(first.variant, "personalized");
        let total = first.total as usize;
        assert!(
            total > 100,
            "{query:?}: {total} results are too few to page"
        );
        let mut seen = std::collections::HashSet::new();
        for p in 1..=total.div_ceil(50) {
            for hit in page(p).hits {
                assert!(
                    seen.insert(hit.id.clone()),
                    "{query:?}: {} shown twice",
                    hit.id
                );
            }
        }
        assert_eq!(seen.len(), total, "{query:?}: every product once");
    }
}

/// Ranking takes the affinity of a document outside the profile's reach (no value the
/// profile weighs) as 0 without reading its columns, and bounds it by that in the
/// first pass. The pages must be exactly those computing every affinity gives, for
/// shoppers with narrow and with broad tastes, text queries, browses and filters.
#[test]
fn the_taste_reach_changes_no_page() {
    let s = setup(&demo_schema());
    let narrow = personalized_shopper("narrow");
    let lighting = products_where(&s.fixture, |p| p["category"][0] == "Lighting");
    s.engine
        .record_events(&purchases(&narrow, &lighting, 10))
        .unwrap();
    let broad = personalized_shopper("broad");
    let every_tenth: Vec<&Value> = s.fixture.products.iter().step_by(10).collect();
    s.engine
        .record_events(&purchases(&broad, &every_tenth, 60))
        .unwrap();
    let brand = personalized_shopper("brand");
    let loom = products_where(&s.fixture, |p| p["brand"] == "Loom House");
    s.engine
        .record_events(&purchases(&brand, &loom, 6))
        .unwrap();
    let run = |request: &SearchRequest| {
        let response = s.engine.search(request).unwrap();
        let hits: Vec<(String, String)> = response
            .hits
            .iter()
            .map(|h| (h.id.clone(), serde_json::to_string(&h.explain).unwrap()))
            .collect();
        (
            response.total,
            hits,
            serde_json::to_string(&response.facets).unwrap(),
        )
    };
    let mut compared = 0;
    for shopper in [&narrow, &broad, &brand] {
        for (q, filters) in [
            ("lamp ", vec![]),
            ("s", vec![]),
            ("grey ", vec![]),
            ("rug ", vec![]),
            ("", vec![]),
            ("", vec!["in_stock:true"]),
            ("chair ", vec!["price:50..500"]),
        ] {
            for page in 1..=2 {
                let request = SearchRequest {
                    shopper: Some(shopper.clone()),
                    per_page: 24,
                    page,
                    explain: true,
                    filters: filters.iter().map(|f| f.to_string()).collect(),
                    ..SearchRequest::query(q)
                };
                clerk::retrieve::set_taste_reach(false);
                let every = run(&request);
                clerk::retrieve::set_taste_reach(true);
                let reached = run(&request);
                assert_eq!(reached, every, "{shopper} {q:?} {filters:?} page {page}");
                compared += every.1.len();
            }
        }
    }
    assert!(compared > 500, "only {compared} hits compared");
}

/// A catalog change used to make the first personalized search recount the whole
/// catalog's feature values; now each segment is counted once and a new snapshot
/// counts only its new segment and the documents deleted since. The result must be
/// what counting every live document gives.
#[test]
fn base_rates_after_catalog_changes_equal_counting_every_live_product() {
    use clerk::affinity::BaseRates;
    let fixture = common::demo_fixture(600, 11);
    let engine = &fixture.engine;
    let before = engine.snapshot();
    let first = BaseRates::compute(&before);
    assert_eq!(first, BaseRates::count_live_documents(&before));
    assert!(before.feature_counts.iter().all(|c| c.is_counted()));

    let victims: Vec<&str> = (fixture.products.iter().take(40))
        .filter_map(|p| p["id"].as_str())
        .collect();
    for id in &victims[..20] {
        engine.delete_product(id).unwrap();
    }
    let upserts: Vec<Value> = victims[20..]
        .iter()
        .map(|id| {
            json!({"id": id, "title": "Quokka lamp", "brand": "Zebrine",
            "category": ["Lighting", "Lamps"], "price": 75.0, "in_stock": true})
        })
        .collect();
    engine
        .upsert_products(serde_json::to_vec(&upserts).unwrap().as_slice())
        .unwrap();
    let after = engine.snapshot();
    // The segments both snapshots hold were not counted again.
    let kept = after
        .feature_counts
        .iter()
        .filter(|c| before.feature_counts.iter().any(|b| Arc::ptr_eq(b, c)))
        .count();
    assert!(kept > 0, "no segment's counts were kept across the change");
    let incremental = BaseRates::compute(&after);
    assert_eq!(incremental, BaseRates::count_live_documents(&after));
    assert_ne!(incremental, first, "the change moved no base rate");
}

/// Retrieval computes the affinities of a block of documents together, one feature
/// group at a time ([`Personalization::affinities`]); the ranking is only exact if
/// they are the very numbers [`Personalization::affinity`] gives one document at a
/// time. Random profiles (views to purchases of random products, some scoped to a
/// product type), random blocks of documents in any order, compared bit for bit.
mod batch_affinities {
    use clerk::affinity::{Personalization, product_features};
    use clerk::events::{Event, EventKind, Variant};
    use clerk::profiles::Profile;
    use proptest::prelude::*;
    use tantivy::DocAddress;

    fn fixture() -> &'static super::common::Fixture {
        static FIXTURE: std::sync::OnceLock<super::common::Fixture> = std::sync::OnceLock::new();
        FIXTURE.get_or_init(|| super::common::demo_fixture(1500, 5))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn equal_the_one_at_a_time_affinities(
            events in prop::collection::vec((0usize..1500, 0usize..4, 0i64..86_400), 1..40),
            picks in prop::collection::vec(0u32..2000, 0..300),
        ) {
            let snapshot = fixture().engine.snapshot();
            let segments = snapshot.searcher.segment_readers();
            let personalization = profile_of(&snapshot, &events);
            let mut batch = Vec::new();
            for (ord, columns) in snapshot.columns.iter().enumerate() {
                let max_doc = segments[ord].max_doc();
                // Documents past the segment's end have no values: affinity 0 both ways.
                let docs: Vec<u32> = picks.iter().map(|&p| p % (max_doc + 5)).collect();
                personalization.affinities(columns, &docs, &mut batch);
                prop_assert_eq!(batch.len(), docs.len());
                for (&doc, got) in docs.iter().zip(&batch) {
                    let one = personalization.affinity(columns, doc);
                    prop_assert_eq!(got.to_bits(), one.to_bits(), "doc {} of segment {}", doc, ord);
                }
            }
        }

        /// Retrieval computes affinities only inside the profile's reach
        /// ([`Personalization::reach`]) and takes every other document's as exactly 0:
        /// the reach must hold every document whose affinity is above 0, and leave
        /// out those that hold no value the profile weighs.
        #[test]
        fn taste_reach_holds_every_document_with_an_affinity(
            events in prop::collection::vec((0usize..1500, 0usize..4, 0i64..86_400), 1..40),
        ) {
            let snapshot = fixture().engine.snapshot();
            let personalization = profile_of(&snapshot, &events);
            let segments = snapshot.searcher.segment_readers();
            let mut outside = 0;
            for (ord, columns) in snapshot.columns.iter().enumerate() {
                let max_doc = segments[ord].max_doc();
                let Some(reach) = personalization.reach(columns, max_doc, usize::MAX) else {
                    continue;
                };
                for doc in 0..max_doc {
                    let inside = reach[doc as usize / 64] >> (doc % 64) & 1 == 1;
                    let affinity = personalization.affinity(columns, doc);
                    prop_assert!(inside || affinity.to_bits() == 0, "doc {} of segment {}: {}", doc, ord, affinity);
                    outside += usize::from(!inside);
                }
                // A limit below what listing needs gives no reach at all.
                if reach.iter().any(|&w| w != 0) {
                    prop_assert!(personalization.reach(columns, max_doc, 0).is_none());
                }
            }
            // A few products' tastes never reach the whole catalog of many categories.
            prop_assert!(personalization.is_empty() || outside > 0, "the reach held every document");
        }
    }

    /// The profile `events` (product, kind, age) build, at a fixed time.
    fn profile_of(
        snapshot: &clerk::index::Snapshot,
        events: &[(usize, usize, i64)],
    ) -> Personalization {
        let settings = &snapshot.schema.affinity;
        let segments = snapshot.searcher.segment_readers();
        let mut profile = Profile::default();
        let kinds = [
            EventKind::View,
            EventKind::Click,
            EventKind::AddToCart,
            EventKind::Purchase,
        ];
        let now = 1_800_000_000;
        for &(product, kind, age) in events {
            let ord = product % segments.len();
            let max_doc = segments[ord].max_doc();
            let address = DocAddress::new(ord as u32, product as u32 % max_doc);
            let (features, _) = product_features(snapshot, address);
            let event = Event {
                kind: kinds[kind],
                shopper: "s".into(),
                product: None,
                query: None,
                position: None,
                ts: now - age,
                variant: Variant::Personalized,
                served: None,
            };
            profile.apply(&event, &features, settings);
        }
        Personalization::new(&profile, snapshot, now)
    }
}
