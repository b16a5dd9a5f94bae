//! The crowd through the API: recommendations, popular-search suggestions and
//! analytics, from events posted to `POST /v1/events`.
//!
//! Properties checked:
//! * `also_viewed` and `bought_together` rank neighbours by how many shoppers made
//!   the pair (one shopper counts once however often they repeat it) and say why;
//! * hide rules never show a product, buried products come last, filters apply;
//! * "for you" follows the profile and never offers what the shopper bought;
//! * bad requests get 400 naming what to fix, unknown products 404;
//! * autocomplete offers a query once three shoppers converted with it, never with
//!   fewer, and never a query that finds nothing today;
//! * analytics counts equal a brute-force count over a generated event set;
//! * a forgotten shopper leaves the models (they are rebuilt from the events left).

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clerk::crowd::{Crowd, CrowdSettings};
use clerk::engine::Engine;
use clerk::http::AppState;
use clerk::index::DataDir;
use clerk::shoppers::{RedbStore, STORE_FILE, in_holdout, variant_of};
use serde_json::{Value, json};

use common::{Fixture, call, demo_fixture};

struct Setup {
    fixture: Fixture,
    store: Arc<RedbStore>,
    crowd: Arc<Crowd>,
    state: AppState,
}

/// A demo catalog with `rules` in boosts/, a store, and a crowd fed by hand.
fn setup(rules: &str) -> Setup {
    let fixture = demo_fixture(1500, 5);
    let config = fixture.dir.path().join("config");
    std::fs::create_dir_all(config.join("boosts")).unwrap();
    std::fs::write(config.join("boosts/test.toml"), rules).unwrap();
    let store = Arc::new(RedbStore::open(&fixture.dir.path().join(STORE_FILE)).unwrap());
    let crowd = Arc::new(Crowd::new(CrowdSettings::default()));
    let engine = Engine::open_with_config(DataDir::new(fixture.data_dir()), Some(config))
        .unwrap()
        .with_shoppers(store.clone())
        .with_crowd(crowd.clone());
    let state = AppState::new(Arc::new(engine));
    Setup {
        fixture,
        store,
        crowd,
        state,
    }
}

impl Setup {
    async fn post_events(&self, events: &[Value]) {
        for chunk in events.chunks(500) {
            let request = Request::post("/v1/events")
                .body(Body::from(serde_json::to_vec(chunk).unwrap()))
                .unwrap();
            let (status, body) = call(&self.state, request).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        }
        self.crowd.catch_up(self.store.as_ref()).unwrap();
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        call(&self.state, Request::get(uri).body(Body::empty()).unwrap()).await
    }

    fn ids(&self, pred: impl Fn(&Value) -> bool) -> Vec<String> {
        self.fixture
            .products
            .iter()
            .filter(|p| pred(p))
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    }
}

fn ev(kind: &str, shopper: &str, product: &str) -> Value {
    json!({"type": kind, "shopper": shopper, "product": product})
}

fn rec_ids(body: &Value) -> Vec<String> {
    body["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn product_recommendations_rank_by_shoppers_and_obey_rules_and_filters() {
    let s = setup("");
    let probe = &s.fixture;
    let pick = |pred: &dyn Fn(&Value) -> bool, n: usize| -> Vec<String> {
        probe
            .products
            .iter()
            .filter(|p| pred(p))
            .take(n)
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let in_stock = pick(&|p| p["in_stock"] == json!(true), 6);
    let out_of_stock = pick(&|p| p["in_stock"] == json!(false), 1);
    let (a, b, c, d, e, hidden) = (
        &in_stock[0],
        &in_stock[1],
        &in_stock[2],
        &in_stock[3],
        &in_stock[4],
        &in_stock[5],
    );
    let buried = &out_of_stock[0];
    let rules = format!(
        "[[rule]]\nname = \"hide\"\nhide = [\"{hidden}\"]\n\n[[rule]]\nname = \"stock\"\nbury = [{{ where = \"in_stock = false\" }}]\n"
    );
    std::fs::write(s.fixture.dir.path().join("config/boosts/test.toml"), rules).unwrap();
    s.state.engine.reload_config().unwrap();
    let mut events = Vec::new();
    // b with a: 5 shoppers; buried with a: 4; c with a: 3 (one of them 20 times); d: 1.
    for (other, shoppers) in [(b, 5), (buried, 4), (c, 3), (d, 1), (hidden, 6)] {
        for i in 0..shoppers {
            let shopper = format!("v-{other}-{i}");
            events.push(ev("view", &shopper, a));
            let repeats = if other == c && i == 0 { 20 } else { 1 };
            for _ in 0..repeats {
                events.push(ev("click", &shopper, other));
                events.push(ev("view", &shopper, a));
            }
        }
    }
    for i in 0..3 {
        let shopper = format!("buyer-{i}");
        events.push(ev("add_to_cart", &shopper, a));
        events.push(ev("purchase", &shopper, e));
    }
    s.post_events(&events).await;

    let (status, body) = s
        .get(&format!(
            "/v1/recommendations?product={a}&kind=also_viewed&limit=10"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["product"], json!(a));
    assert_eq!(body["shopper"], Value::Null);
    assert_eq!(body["kind"], "also_viewed");
    assert_eq!(
        rec_ids(&body),
        vec![b.clone(), c.clone(), d.clone(), buried.clone()],
        "by shoppers, the hidden one absent, the buried one last: {body}"
    );
    let first = &body["recommendations"][0];
    assert!(
        first["because"].as_str().unwrap().contains("(5 shoppers)"),
        "{first}"
    );
    assert!(first["product"]["title"].is_string());
    assert!(
        body["recommendations"][1]["because"]
            .as_str()
            .unwrap()
            .contains("(3 shoppers)"),
        "a shopper repeating the pair counts once: {body}"
    );

    let (_, together) = s
        .get(&format!(
            "/v1/recommendations?product={a}&kind=bought_together"
        ))
        .await;
    assert_eq!(rec_ids(&together), vec![e.clone()]);
    assert!(
        together["recommendations"][0]["because"]
            .as_str()
            .unwrap()
            .starts_with("bought together with"),
        "{together}"
    );

    let brand = probe.products.iter().find(|p| p["id"] == json!(c)).unwrap()["brand"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, filtered) = s
        .get(&format!(
            "/v1/recommendations?product={a}&kind=also_viewed&filter=brand:{}",
            urlencode(&brand)
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{filtered}");
    assert!(rec_ids(&filtered).contains(c));
    for r in filtered["recommendations"].as_array().unwrap() {
        assert_eq!(r["product"]["brand"], json!(brand), "{filtered}");
    }
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn bad_recommendation_requests_say_what_to_fix() {
    let s = setup("");
    let id = s.ids(|_| true)[0].clone();
    for (uri, status, code) in [
        (
            "/v1/recommendations?product=nope".to_string(),
            404,
            "not_found",
        ),
        ("/v1/recommendations".to_string(), 400, "missing_target"),
        (
            format!("/v1/recommendations?product={id}&shopper=s"),
            400,
            "ambiguous_target",
        ),
        (
            format!("/v1/recommendations?product={id}&kind=similar"),
            400,
            "bad_kind",
        ),
        (
            format!("/v1/recommendations?product={id}&limit=0"),
            400,
            "bad_limit",
        ),
        (
            format!("/v1/recommendations?product={id}&limit=51"),
            400,
            "bad_limit",
        ),
        (
            format!("/v1/recommendations?product={id}&limit=ten"),
            400,
            "bad_limit",
        ),
        (
            format!("/v1/recommendations?product={id}&colour=red"),
            400,
            "unknown_parameter",
        ),
        (
            format!("/v1/recommendations?product={id}&filter=colr:red"),
            400,
            "bad_filter",
        ),
    ] {
        let (got, body) = s.get(&uri).await;
        assert_eq!(got.as_u16(), status, "{uri}: {body}");
        assert_eq!(body["error"]["code"], code, "{uri}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let (status, body) = s.get(&format!("/v1/recommendations?product={id}")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "no events yet is an empty list: {body}"
    );
    assert_eq!(body["recommendations"], json!([]));
}

#[tokio::test]
async fn for_you_follows_the_profile_and_skips_what_was_bought() {
    let s = setup("");
    let shopper = (0..)
        .map(|i| format!("fy-{i}"))
        .find(|id| !in_holdout(id, 0.1))
        .unwrap();
    let brand = s.fixture.products[0]["brand"].as_str().unwrap().to_string();
    let of_brand = s.ids(|p| p["brand"] == json!(brand));
    assert!(of_brand.len() > 8, "the brand needs products");
    let bought: Vec<String> = of_brand.iter().take(4).cloned().collect();
    let events: Vec<Value> = bought.iter().map(|p| ev("purchase", &shopper, p)).collect();
    s.post_events(&events).await;

    let (status, body) = s
        .get(&format!("/v1/recommendations?shopper={shopper}&limit=5"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kind"], "for_you");
    assert_eq!(body["shopper"], json!(shopper));
    assert_eq!(body["product"], Value::Null);
    let recs = body["recommendations"].as_array().unwrap();
    assert_eq!(recs.len(), 5, "{body}");
    for r in recs {
        assert!(
            !bought.contains(&r["id"].as_str().unwrap().to_string()),
            "{body}"
        );
        assert!(!r["because"].as_str().unwrap().is_empty());
    }
    assert!(
        recs.iter().any(|r| r["product"]["brand"] == json!(brand)),
        "the bought brand leads: {body}"
    );
    assert!(
        recs[0]["because"].as_str().unwrap().starts_with("you "),
        "{body}"
    );
}

/// A query the catalog's own suggestions do not offer for its full text.
fn query_not_suggested(s: &Setup) -> String {
    for p in &s.fixture.products {
        let words: Vec<String> = p["title"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .map(|w| w.to_lowercase())
            .filter(|w| w.chars().all(char::is_alphabetic))
            .collect();
        if words.len() < 3 {
            continue;
        }
        let query = format!("{} {}", words[2], words[0]);
        let offered = s.state.engine.autocomplete(&query, 20);
        if !offered.iter().any(|o| o.text == query) && s.state.engine.finds_something(&query) {
            return query;
        }
    }
    panic!("every candidate query is already suggested");
}

#[tokio::test]
async fn popular_searches_need_three_shoppers_and_results_today() {
    let s = setup("");
    let query = query_not_suggested(&s);
    let product = s.ids(|_| true)[0].clone();
    let dead = "zzqxv blorfing";
    assert!(!s.state.engine.finds_something(dead));
    let converted = |shopper: &str, q: &str| {
        vec![
            json!({"type":"search","shopper":shopper,"query":q}),
            json!({"type":"click","shopper":shopper,"product":product,"position":1}),
        ]
    };
    let suggested = |body: &Value, q: &str| {
        body["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["text"] == json!(q))
    };
    let prefix: String = query.chars().take(3).collect();
    let uri = format!("/v1/autocomplete?q={}&limit=8", urlencode(&prefix));

    // Two shoppers, and one of them many times: not yet.
    let mut events = Vec::new();
    for shopper in ["a", "b", "b", "b"] {
        events.extend(converted(shopper, &query));
    }
    for shopper in ["a", "b", "c", "d"] {
        events.extend(converted(shopper, dead));
        // A search nobody followed does not count either.
        events.push(json!({"type":"search","shopper":format!("x-{shopper}"),"query":query}));
    }
    s.post_events(&events).await;
    let (_, body) = s.get(&uri).await;
    assert!(
        !suggested(&body, &query),
        "two shoppers are not enough: {body}"
    );

    s.post_events(&converted("c", &query)).await;
    let (status, body) = s.get(&uri).await;
    assert_eq!(status, StatusCode::OK);
    assert!(suggested(&body, &query), "three shoppers: {body}");
    assert_eq!(body["suggestions"][0]["text"], json!(query), "{body}");
    assert!(
        body["suggestions"].as_array().unwrap().len() > 1,
        "catalog ones follow"
    );
    let (_, dead_body) = s.get("/v1/autocomplete?q=zzq").await;
    assert!(
        !suggested(&dead_body, dead),
        "never a zero-result query: {dead_body}"
    );
}

/// A small seeded generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Per shopper: a timeline of searches and follow-ups, interleaved across shoppers.
fn generated_events(products: &[String], queries: &[&str], now: i64) -> Vec<Value> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut timelines: Vec<Vec<Value>> = Vec::new();
    for s in 0..40 {
        let shopper = format!("gen-{s}");
        let mut ts = now - 3 * 86_400 + rng.below(2 * 86_400) as i64;
        let mut timeline = Vec::new();
        for _ in 0..(3 + rng.below(10)) {
            ts += rng.below(40 * 60) as i64; // sometimes past the 30-minute window
            let product = &products[rng.below(products.len() as u64) as usize];
            let at = chrono::DateTime::from_timestamp(ts.min(now), 0)
                .unwrap()
                .to_rfc3339();
            let event = match rng.below(6) {
                0 | 1 => {
                    let q = queries[rng.below(queries.len() as u64) as usize];
                    json!({"type":"search","shopper":shopper,"query":q,"ts":at})
                }
                2 => json!({"type":"view","shopper":shopper,"product":product,"ts":at}),
                3 if rng.below(2) == 0 => {
                    let q = queries[rng.below(queries.len() as u64) as usize];
                    json!({"type":"click","shopper":shopper,"product":product,"query":q,"ts":at})
                }
                3 => json!({"type":"click","shopper":shopper,"product":product,"ts":at}),
                4 => json!({"type":"add_to_cart","shopper":shopper,"product":product,"ts":at}),
                _ => json!({"type":"purchase","shopper":shopper,"product":product,"ts":at}),
            };
            timeline.push(event);
        }
        timelines.push(timeline);
    }
    let mut out = Vec::new();
    while timelines.iter().any(|t| !t.is_empty()) {
        let i = rng.below(timelines.len() as u64) as usize;
        if !timelines[i].is_empty() {
            out.push(timelines[i].remove(0));
        }
    }
    out
}

fn norm(q: &str) -> String {
    q.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

fn ts_of(e: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(e["ts"].as_str().unwrap())
        .unwrap()
        .timestamp()
}

/// Whether search `i` is converted, by definition: a later click, cart or purchase of
/// the shopper within 30 minutes naming its query, or naming none while it is the
/// shopper's latest search.
fn brute_converted(events: &[Value], i: usize) -> bool {
    let search = &events[i];
    let (shopper, ts, q) = (
        &search["shopper"],
        ts_of(search),
        norm(search["query"].as_str().unwrap()),
    );
    events.iter().enumerate().skip(i + 1).any(|(j, e)| {
        let kind = e["type"].as_str().unwrap();
        if &e["shopper"] != shopper || !["click", "add_to_cart", "purchase"].contains(&kind) {
            return false;
        }
        let t = ts_of(e);
        if t < ts || t - ts > 30 * 60 {
            return false;
        }
        match e["query"].as_str() {
            Some(named) => norm(named) == q,
            None => !events[i + 1..j]
                .iter()
                .any(|x| &x["shopper"] == shopper && x["type"] == "search"),
        }
    })
}

#[tokio::test]
async fn analytics_equal_a_brute_force_count() {
    let s = setup("");
    let products: Vec<String> = s.ids(|_| true).into_iter().take(30).collect();
    let queries = [
        "sofa",
        "Patio  Sofa",
        "desk lamp",
        "zzqxv blorfing",
        "qqq wwwx",
        "rug",
    ];
    let now = chrono::Utc::now().timestamp();
    let events = generated_events(&products, &queries, now);
    s.post_events(&events).await;
    let days = 3u32;
    let first_day = now.div_euclid(86_400) - i64::from(days) + 1;
    let in_window = |e: &Value| ts_of(e).div_euclid(86_400) >= first_day;

    // Brute force: per query, searches, distinct shoppers, converted searches.
    let mut want: BTreeMap<String, (u64, HashSet<String>, u64)> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if e["type"] != "search" || !in_window(e) {
            continue;
        }
        let row = want.entry(norm(e["query"].as_str().unwrap())).or_default();
        row.0 += 1;
        row.1.insert(e["shopper"].as_str().unwrap().to_string());
        row.2 += u64::from(brute_converted(&events, i));
    }
    let (status, body) = s
        .get(&format!("/v1/admin/analytics?days={days}&limit=100"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got: BTreeMap<String, (u64, usize, u64)> = body["top_queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["query"].as_str().unwrap().to_string(),
                (
                    r["searches"].as_u64().unwrap(),
                    r["shoppers"].as_u64().unwrap() as usize,
                    r["converted"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    let want_rows: BTreeMap<String, (u64, usize, u64)> = want
        .iter()
        .map(|(q, (n, shoppers, c))| (q.clone(), (*n, shoppers.len(), *c)))
        .collect();
    assert_eq!(got, want_rows);
    assert!(want_rows.values().any(|r| r.2 > 0) && want_rows.values().any(|r| r.2 < r.0));

    let zero: HashSet<&str> = body["zero_result_queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["query"].as_str().unwrap())
        .collect();
    let want_zero: HashSet<&str> = want
        .keys()
        .filter(|q| !s.state.engine.finds_something(q))
        .map(String::as_str)
        .collect();
    assert_eq!(zero, want_zero);
    assert!(zero.contains("zzqxv blorfing") && !zero.contains("sofa"));
    for r in body["low_click_through"].as_array().unwrap() {
        assert!(r["searches"].as_u64().unwrap() >= 3);
        assert!(r["click_through"].as_f64().unwrap() <= 0.5);
    }

    // Per variant, over the same days.
    let settings = s.state.engine.snapshot().schema.affinity.clone();
    let mut variants: HashMap<&str, [u64; 5]> = HashMap::new();
    for e in events.iter().filter(|e| in_window(e)) {
        let variant = variant_of(e["shopper"].as_str().unwrap(), false, &settings).name();
        let slot = ["search", "view", "click", "add_to_cart", "purchase"]
            .iter()
            .position(|k| e["type"] == *k)
            .unwrap();
        variants.entry(variant).or_default()[slot] += 1;
    }
    for (variant, [searches, views, clicks, carts, purchases]) in variants {
        let v = &body["variants"][variant];
        assert_eq!(v["searches"], searches, "{variant}: {v}");
        assert_eq!(v["views"], views);
        assert_eq!(v["clicks"], clicks);
        assert_eq!(v["add_to_carts"], carts);
        assert_eq!(v["purchases"], purchases);
        let ctr = if searches > 0 {
            clicks as f64 / searches as f64
        } else {
            0.0
        };
        assert!((v["click_through"].as_f64().unwrap() - ctr).abs() < 1e-9);
    }

    let (status, body) = s.get("/v1/admin/analytics?days=0").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("bad_days"))
    );
    let (status, body) = s.get("/v1/admin/analytics?limit=500").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("bad_limit"))
    );
    let guarded = AppState::new(s.state.engine.clone()).with_admin_key(Some("k".into()));
    for path in ["/v1/admin/analytics", "/v1/admin/learned"] {
        let (status, _) = call(&guarded, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn a_forgotten_shopper_leaves_the_models() {
    let s = setup("");
    let ids = s.ids(|_| true);
    let (a, b) = (&ids[0], &ids[1]);
    let events: Vec<Value> = (0..3)
        .flat_map(|i| {
            let shopper = format!("f-{i}");
            [ev("view", &shopper, a), ev("view", &shopper, b)]
        })
        .collect();
    s.post_events(&events).await;
    let uri = format!("/v1/recommendations?product={a}");
    let (_, before) = s.get(&uri).await;
    assert!(
        before["recommendations"][0]["because"]
            .as_str()
            .unwrap()
            .contains("(3 shoppers)")
    );
    let request = Request::delete("/v1/shoppers/f-0")
        .body(Body::empty())
        .unwrap();
    let (status, _) = call(&s.state, request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(s.crowd.rebuild_if_requested(s.store.as_ref()).unwrap());
    let (_, after) = s.get(&uri).await;
    assert!(
        after["recommendations"][0]["because"]
            .as_str()
            .unwrap()
            .contains("(2 shoppers)"),
        "{after}"
    );
    assert!(
        !s.crowd.rebuild_if_requested(s.store.as_ref()).unwrap(),
        "once"
    );
}
