//! Merchandising rules and catalog updates through the engine and the API.
//!
//! Properties checked:
//! * every condition (query, query_contains, category, date window at its edges) and
//!   every action (pin, hide, boost, demote, bury);
//! * the scoring order: a pin lands at its slot on every page and beats a strong
//!   personal affinity; a hidden product never appears in hits, facet counts, totals or
//!   pages; buried products follow every unburied one;
//! * pins that fail the request's filters stay out;
//! * a broken rule file is refused with file, line and reason while the old rules serve;
//! * `rules=off` and `personalization=off` previews (admin only);
//! * a stock change through `PUT /v1/products` flips a bury rule at once; deletes work.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clerk::engine::Engine;
use clerk::http::AppState;
use clerk::index::DataDir;
use clerk::rules::{ActiveRules, RequestFacts, RuleSet};
use clerk::search::{SearchRequest, SearchResponse};
use clerk::shoppers::{RedbStore, STORE_FILE, in_holdout};
use serde_json::{Value, json};

use common::{Fixture, call, demo_fixture};

struct Setup {
    fixture: Fixture,
    config: tempfile::TempDir,
    engine: Arc<Engine>,
}

fn setup(rules: &str) -> Setup {
    let fixture = demo_fixture(2000, 31);
    let config = tempfile::tempdir().unwrap();
    write_rules(config.path(), rules);
    let store = RedbStore::open(&fixture.dir.path().join(STORE_FILE)).unwrap();
    let engine = Engine::open_with_config(
        DataDir::new(fixture.data_dir()),
        Some(config.path().to_path_buf()),
    )
    .unwrap()
    .with_shoppers(Arc::new(store));
    Setup {
        fixture,
        config,
        engine: Arc::new(engine),
    }
}

fn write_rules(dir: &Path, rules: &str) {
    std::fs::create_dir_all(dir.join("boosts")).unwrap();
    std::fs::write(dir.join("boosts/rules.toml"), rules).unwrap();
}

fn search(engine: &Engine, request: SearchRequest) -> SearchResponse {
    engine.search(&request).unwrap()
}

fn query(q: &str) -> SearchRequest {
    SearchRequest {
        per_page: 100,
        explain: true,
        ..SearchRequest::query(q)
    }
}

fn ids(response: &SearchResponse) -> Vec<&str> {
    response.hits.iter().map(|h| h.id.as_str()).collect()
}

/// A product with no lamp in its title or category (pinned against the query).
fn unrelated(f: &Fixture) -> &str {
    f.products
        .iter()
        .find(|p| p["category"][0] == "Rugs" && p["in_stock"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
}

#[test]
fn pins_land_at_their_slot_on_every_page() {
    let probe = demo_fixture(2000, 31);
    let pinned = unrelated(&probe).to_string();
    drop(probe);
    let s = setup(&format!(
        "[[rule]]\nname = \"Rug of the week\"\nquery = \"Lamp\"\npin = [{{ id = \"{pinned}\", position = 7 }}]\n"
    ));
    let all = search(&s.engine, query("lamp"));
    assert_eq!(all.hits[6].id, pinned, "slot 7 of one long page");
    assert_eq!(all.rules_applied, ["Rug of the week"]);
    let rules = &all.hits[6].explain.as_ref().unwrap().rules;
    assert!(rules[0].starts_with("pin:"), "{rules:?}");
    let page2 = search(
        &s.engine,
        SearchRequest {
            per_page: 5,
            page: 2,
            ..query("lamp")
        },
    );
    assert_eq!(page2.hits[1].id, pinned, "slot 7 = page 2, second hit");
    let page1 = search(
        &s.engine,
        SearchRequest {
            per_page: 5,
            ..query("lamp")
        },
    );
    assert!(!ids(&page1).contains(&pinned.as_str()));
    // The pin is one more product in the total (it did not match the text).
    let without = search(
        &s.engine,
        SearchRequest {
            apply_rules: false,
            ..query("lamp")
        },
    );
    assert_eq!(all.total, without.total + 1);
    // Other queries are untouched.
    assert!(search(&s.engine, query("sofa")).rules_applied.is_empty());
}

#[test]
fn a_pin_beats_a_strong_personal_affinity() {
    let probe = demo_fixture(2000, 31);
    let pinned = unrelated(&probe).to_string();
    drop(probe);
    let s = setup(&format!(
        "[[rule]]\nquery = \"lamp\"\npin = [{{ id = \"{pinned}\", position = 1 }}]\n"
    ));
    let shopper = (0..)
        .map(|i| format!("fan-{i}"))
        .find(|id| !in_holdout(id, 0.1))
        .unwrap();
    let lamps: Vec<&Value> = s
        .fixture
        .products
        .iter()
        .filter(|p| p["category"][1] == "Lamps")
        .take(8)
        .collect();
    let favourite_brand = lamps[0]["brand"].clone();
    let events: Vec<Value> = s
        .fixture
        .products
        .iter()
        .filter(|p| p["brand"] == favourite_brand)
        .take(10)
        .map(|p| json!({"type":"purchase","shopper":shopper,"product":p["id"]}))
        .collect();
    s.engine
        .record_events(&serde_json::to_vec(&events).unwrap())
        .unwrap();
    let response = search(
        &s.engine,
        SearchRequest {
            shopper: Some(shopper),
            ..query("lamp")
        },
    );
    assert_eq!(response.variant, "personalized");
    assert_eq!(response.hits[0].id, pinned);
    assert!(
        response.hits[1].explain.as_ref().unwrap().affinity > 0.0,
        "the profile still ranks the rest"
    );
}

#[test]
fn pinned_products_failing_the_filters_stay_out() {
    let probe = demo_fixture(2000, 31);
    let pinned = unrelated(&probe).to_string();
    drop(probe);
    let s = setup(&format!(
        "[[rule]]\nquery = \"lamp\"\npin = [{{ id = \"{pinned}\", position = 1 }}]\n"
    ));
    let filtered = search(
        &s.engine,
        SearchRequest {
            filters: vec!["category:Lighting".into()],
            ..query("lamp")
        },
    );
    assert!(!ids(&filtered).contains(&pinned.as_str()));
}

#[test]
fn hidden_products_never_show_anywhere() {
    let probe = demo_fixture(2000, 31);
    let top = search(
        &Engine::open(DataDir::new(probe.data_dir())).unwrap(),
        query("sofa"),
    );
    let hidden = top.hits[0].id.clone();
    let brand = top.hits[0].product["brand"].as_str().unwrap().to_string();
    drop(probe);
    let s = setup(&format!("[[rule]]\nhide = [\"{hidden}\"]\n"));
    let with = search(
        &s.engine,
        SearchRequest {
            facets: vec!["brand".into()],
            ..query("sofa")
        },
    );
    let without = search(
        &s.engine,
        SearchRequest {
            facets: vec!["brand".into()],
            apply_rules: false,
            ..query("sofa")
        },
    );
    assert!(!ids(&with).contains(&hidden.as_str()));
    assert_eq!(with.total + 1, without.total);
    let count = |r: &SearchResponse| {
        r.facets["brand"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["value"] == brand.as_str())
            .map(|v| v["count"].as_u64().unwrap())
    };
    assert_eq!(count(&with).unwrap_or(0) + 1, count(&without).unwrap());
    // Not on any page, not when browsing.
    for page in 1..=3 {
        let r = search(
            &s.engine,
            SearchRequest {
                page,
                per_page: 10,
                ..query("sofa")
            },
        );
        assert!(!ids(&r).contains(&hidden.as_str()));
    }
    let browse = search(
        &s.engine,
        SearchRequest {
            per_page: 100,
            ..SearchRequest::query("")
        },
    );
    assert_eq!(browse.total, 1999);
    // Browsing takes whole-catalog facet counts from a cache: the hidden product is
    // still taken out, with or without filters.
    let filter_sets = [
        vec![],
        vec![format!("brand:{brand}")],
        vec![format!("brand:{brand}"), "in_stock:true|false".to_string()],
    ];
    for filters in filter_sets {
        let request = SearchRequest {
            facets: vec!["in_stock".into()],
            filters: filters.clone(),
            ..SearchRequest::query("")
        };
        let with = search(&s.engine, request.clone());
        let without = search(
            &s.engine,
            SearchRequest {
                apply_rules: false,
                ..request
            },
        );
        let stock = |r: &SearchResponse| -> u64 {
            r.facets["in_stock"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["count"].as_u64().unwrap())
                .sum()
        };
        assert_eq!(stock(&with) + 1, stock(&without), "{filters:?}");
        assert_eq!(with.total + 1, without.total, "{filters:?}");
    }
}

/// A facet whose own filter drives a browse counts over what the other filters keep;
/// when they keep most of the catalog, it is the whole catalog's counts minus those of
/// the products left out. A hidden product is left out too.
#[test]
fn hidden_products_leave_facets_counted_from_the_whole_catalog() {
    let probe = demo_fixture(2000, 31);
    let engine = Engine::open(DataDir::new(probe.data_dir())).unwrap();
    let brand_facet = |r: &SearchResponse| r.facets["brand"].as_array().unwrap().clone();
    let all = search(
        &engine,
        SearchRequest {
            facets: vec!["brand".into()],
            ..SearchRequest::query("")
        },
    );
    let brand = brand_facet(&all)[0]["value"].as_str().unwrap().to_string();
    let of_brand = search(
        &engine,
        SearchRequest {
            filters: vec![format!("brand:{brand}")],
            ..SearchRequest::query("")
        },
    );
    let hidden = of_brand.hits[0].id.clone();
    drop(engine);
    drop(probe);
    let s = setup(&format!("[[rule]]\nhide = [\"{hidden}\"]\n"));
    let request = SearchRequest {
        facets: vec!["brand".into()],
        filters: vec![format!("brand:{brand}"), "price:0..".into()],
        ..SearchRequest::query("")
    };
    let with = search(&s.engine, request.clone());
    let without = search(
        &s.engine,
        SearchRequest {
            apply_rules: false,
            ..request
        },
    );
    let count = |r: &SearchResponse| {
        brand_facet(r)
            .iter()
            .find(|v| v["value"] == brand.as_str())
            .and_then(|v| v["count"].as_u64())
    };
    assert_eq!(with.total + 1, without.total);
    assert_eq!(count(&with).map(|c| c + 1), count(&without));
    assert_eq!(count(&without), Some(without.total));
    // The other brands are counted over every product with a price: all of them.
    let others: u64 = brand_facet(&without)
        .iter()
        .map(|v| v["count"].as_u64().unwrap())
        .sum();
    let whole: u64 = brand_facet(&all)
        .iter()
        .map(|v| v["count"].as_u64().unwrap())
        .sum();
    assert_eq!(others, whole);
    // A narrow price band keeps far less than half of the catalog: the facet is
    // counted over the products passing it, the hidden one left out.
    let price = s
        .fixture
        .products
        .iter()
        .find(|p| p["id"] == hidden.as_str())
        .and_then(|p| p["price"].as_f64())
        .unwrap();
    let narrow = SearchRequest {
        facets: vec!["brand".into()],
        filters: vec![
            format!("brand:{brand}"),
            format!("price:{}..{}", price - 1.0, price + 1.0),
        ],
        ..SearchRequest::query("")
    };
    let with = search(&s.engine, narrow.clone());
    let without = search(
        &s.engine,
        SearchRequest {
            apply_rules: false,
            ..narrow
        },
    );
    assert!(without.total < 100, "the band keeps {}", without.total);
    // A brand counted 0 is not listed.
    assert_eq!(count(&with).unwrap_or(0) + 1, count(&without).unwrap());
}

#[test]
fn boosts_demotes_and_buries_reorder() {
    let s = setup(
        "[[rule]]\nname = \"Nordby week\"\nquery_contains = \"chair\"\nboost = [{ where = \"brand = 'Nordby'\", factor = 3.0 }]\n\
         [[rule]]\nname = \"Cheap last\"\nquery_contains = \"chair\"\ndemote = [{ where = \"price < 100\", factor = 0.5 }]\n\
         [[rule]]\nname = \"Stock\"\nbury = [{ where = \"in_stock = false\" }]\n",
    );
    let plain = search(
        &s.engine,
        SearchRequest {
            apply_rules: false,
            ..query("office chairs")
        },
    );
    let ruled = search(&s.engine, query("office chairs"));
    assert_eq!(ruled.rules_applied, ["Nordby week", "Cheap last", "Stock"]);
    let mean_rank = |r: &SearchResponse, brand: &str| {
        let ranks: Vec<usize> = r
            .hits
            .iter()
            .enumerate()
            .filter(|(_, h)| h.product["brand"] == brand)
            .map(|(i, _)| i)
            .collect();
        ranks.iter().sum::<usize>() as f64 / ranks.len().max(1) as f64
    };
    assert!(mean_rank(&ruled, "Nordby") < mean_rank(&plain, "Nordby"));
    let boosted = ruled
        .hits
        .iter()
        .find(|h| h.product["brand"] == "Nordby")
        .unwrap();
    let labels = &boosted.explain.as_ref().unwrap().rules;
    assert!(
        labels
            .iter()
            .any(|l| l.starts_with("boost: brand = 'Nordby' x3")),
        "{labels:?}"
    );
    // Every in-stock product comes before every out-of-stock one.
    let stock: Vec<bool> = ruled
        .hits
        .iter()
        .map(|h| h.product["in_stock"].as_bool().unwrap())
        .collect();
    let first_out = stock.iter().position(|s| !s).unwrap_or(stock.len());
    assert!(stock[first_out..].iter().all(|s| !s), "{stock:?}");
    assert!(stock[..first_out].iter().all(|s| *s));
    // Bury applies under any sort.
    let by_price = search(
        &s.engine,
        SearchRequest {
            sort: clerk::retrieve::Sort::PriceAsc,
            ..query("office chairs")
        },
    );
    let stock: Vec<bool> = by_price
        .hits
        .iter()
        .map(|h| h.product["in_stock"].as_bool().unwrap())
        .collect();
    let first_out = stock.iter().position(|s| !s).unwrap_or(stock.len());
    assert!(stock[first_out..].iter().all(|s| !s));
}

#[test]
fn category_conditions_apply_while_browsing_the_category() {
    let s = setup(
        "[[rule]]\nname = \"Rug boost\"\ncategory = \"Rugs\"\nboost = [{ where = \"rating >= 4\", factor = 2.0 }]\n",
    );
    let browsing = search(
        &s.engine,
        SearchRequest {
            filters: vec!["category:Rugs/Area Rugs".into()],
            ..SearchRequest::query("")
        },
    );
    assert_eq!(browsing.rules_applied, ["Rug boost"]);
    let elsewhere = search(
        &s.engine,
        SearchRequest {
            filters: vec!["category:Lighting".into()],
            ..SearchRequest::query("")
        },
    );
    assert!(elsewhere.rules_applied.is_empty());
    assert!(
        search(&s.engine, query("rug")).rules_applied.is_empty(),
        "a query alone is not browsing the category"
    );
}

#[test]
fn date_windows_hold_from_their_start_until_just_before_their_end() {
    let s = setup("");
    let snapshot = s.engine.snapshot();
    let text = "[[rule]]\nname = \"Launch\"\nfrom = \"2026-11-20T00:00:00Z\"\nuntil = \"2026-11-27T00:00:00Z\"\nbury = [{ where = \"in_stock = false\" }]\n";
    let set = RuleSet::parse(text, "w.toml", &snapshot).unwrap();
    let compiled = set.compile(&snapshot);
    let from = clerk::catalog::parse_date("2026-11-20T00:00:00Z").unwrap();
    let until = clerk::catalog::parse_date("2026-11-27T00:00:00Z").unwrap();
    let active_at = |now: i64| {
        let facts = RequestFacts {
            query: "",
            filters: &[],
            now,
        };
        !ActiveRules::select(&set, &compiled, &facts, &snapshot, &snapshot.analyzer).is_empty()
    };
    assert!(!active_at(from - 1));
    assert!(active_at(from));
    assert!(active_at(until - 1));
    assert!(!active_at(until));
}

#[test]
fn invalid_rules_are_refused_with_their_line() {
    let s = setup("");
    let snapshot = s.engine.snapshot();
    let known = s.fixture.products[0]["id"].as_str().unwrap();
    let err = |text: &str| {
        RuleSet::parse(text, "b.toml", &snapshot)
            .unwrap_err()
            .to_string()
    };
    assert!(err("[[rule]]\nquery = \"x\"\n").contains("b.toml:1: a rule needs at least one of"));
    assert!(
        err("\n[[rule]]\nbury = [{ where = \"colr = 'grey'\" }]\n")
            .contains("b.toml:2: bury where \"colr = 'grey'\"")
    );
    assert!(err("[[rule]]\nbury = [{ where = \"price >\" }]\n").contains("expected a value"));
    assert!(err("[[rule]]\nhide = [\"no-such\"]\n").contains("unknown product id \"no-such\""));
    assert!(err("[[rule]]\nfrom = \"2026-12-01\"\nuntil = \"2026-11-01\"\nbury = [{ where = \"in_stock = false\" }]\n").contains("must be before until"));
    assert!(
        err("[[rule]]\nfrom = \"soon\"\nbury = [{ where = \"in_stock = false\" }]\n")
            .contains("not a date")
    );
    assert!(err(&format!("[[rule]]\npin = [{{ id = \"{known}\", position = 1 }}, {{ id = \"{known}\", position = 1 }}]\n")).contains("two pins at position 1"));
    let other = s.fixture.products[1]["id"].as_str().unwrap();
    let overlap = format!(
        "[[rule]]\nquery = \"sofa\"\npin = [{{ id = \"{known}\", position = 1 }}]\n[[rule]]\nquery = \"Sofa\"\npin = [{{ id = \"{other}\", position = 1 }}]\n"
    );
    assert!(err(&overlap).contains("already pins"), "{}", err(&overlap));
    assert!(err("[[rule]]\nqeury = \"x\"\n").contains("unknown field `qeury`"));
    assert!(
        err("[[rule]]\ndemote = [{ where = \"in_stock = false\", factor = 2 }]\n")
            .contains("between 0 and 1")
    );
    // A category no product has yet is not an error: the rule waits for it.
    let waiting =
        "[[rule]]\ncategory = \"Spaceships\"\nbury = [{ where = \"in_stock = false\" }]\n";
    assert!(RuleSet::parse(waiting, "b.toml", &snapshot).is_ok());
}

fn admin(request: axum::http::request::Builder) -> axum::http::request::Builder {
    request.header("authorization", "Bearer key")
}

#[tokio::test]
async fn reload_refuses_a_broken_file_and_previews_need_the_key() {
    let s = setup("[[rule]]\nname = \"Stock\"\nbury = [{ where = \"in_stock = false\" }]\n");
    let state = AppState::new(s.engine.clone()).with_admin_key(Some("key".into()));
    write_rules(
        s.config.path(),
        "[[rule]]\nname = \"Broken\"\nboost = [{ where = \"brand = \", factor = 2 }]\n",
    );
    let (status, body) = call(
        &state,
        admin(Request::post("/v1/admin/reload"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let problem = body["error"]["problems"][0].as_str().unwrap();
    assert!(
        problem.contains("rules.toml:1") && problem.contains("expected a value"),
        "{problem}"
    );
    let (_, served) = call(
        &state,
        Request::get("/v1/search?q=sofa")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        served["rules_applied"],
        json!(["Stock"]),
        "the old rules keep serving"
    );

    let (status, _) = call(
        &state,
        Request::get("/v1/search?q=sofa&rules=off")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, preview) = call(
        &state,
        admin(Request::get(
            "/v1/search?q=sofa&rules=off&personalization=off",
        ))
        .body(Body::empty())
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(preview["rules_applied"], json!([]));
}

#[tokio::test]
async fn a_stock_change_flips_a_bury_rule_at_once() {
    let s = setup("[[rule]]\nname = \"Stock\"\nbury = [{ where = \"in_stock = false\" }]\n");
    let state = AppState::new(s.engine.clone()).with_admin_key(Some("key".into()));
    let first = search(&s.engine, query("lamp"));
    let top = first.hits[0].id.clone();
    // Narrow to the product's brand so the whole result list fits one page.
    let narrow = || SearchRequest {
        filters: vec![format!(
            "brand:{}",
            first.hits[0].product["brand"].as_str().unwrap()
        )],
        ..query("lamp")
    };
    let before = search(&s.engine, narrow());
    assert!(before.total < 100 && before.hits[0].id == top);
    let mut product = s
        .fixture
        .products
        .iter()
        .find(|p| p["id"] == top.as_str())
        .unwrap()
        .clone();
    product["in_stock"] = json!(false);
    let started = Instant::now();
    let (status, body) = call(
        &state,
        admin(Request::put("/v1/products"))
            .header("content-type", "application/json")
            .body(Body::from(json!([product]).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["upserted"], 1);
    let after = search(&s.engine, narrow());
    let elapsed = started.elapsed();
    let position = after.hits.iter().position(|h| h.id == top).unwrap();
    assert!(
        after.hits[position..]
            .iter()
            .all(|h| h.product["in_stock"] == false),
        "buried below every in-stock lamp"
    );
    assert!(position > 0);
    assert_eq!(
        after.total, before.total,
        "an upsert replaces, never duplicates"
    );
    assert!(
        elapsed.as_millis() < 1_000,
        "visible within a second: {elapsed:?}"
    );

    let (status, body) = call(
        &state,
        Request::put("/v1/products").body(Body::from("[]")).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = call(
        &state,
        admin(Request::put("/v1/products"))
            .body(Body::from(r#"[{"title":"no id"}]"#))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_products");

    let (status, _) = call(
        &state,
        admin(Request::delete(format!("/v1/products/{top}")))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!ids(&search(&s.engine, query("lamp"))).contains(&top.as_str()));
    let (status, _) = call(
        &state,
        admin(Request::delete(format!("/v1/products/{top}")))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Retrieval drops a product as soon as its sort key, tier and best possible score
/// (its own affinity, every boost) cannot beat the worst of the page so far; a short
/// page drops far more than a long one. Under store-wide boosts, demotes and buries
/// and a shopper with a clear taste, every page of 7 must be the same 7 products, in
/// the same order, as the same stretch of one long page.
#[test]
fn pruning_under_rules_and_taste_keeps_every_page_exact() {
    let s = setup(
        "[[rule]]\nname = \"Nordby week\"\nboost = [{ where = \"brand = 'Nordby'\", factor = 1.8 }]\n\
         [[rule]]\nname = \"Cheap last\"\ndemote = [{ where = \"price < 100\", factor = 0.5 }]\n\
         [[rule]]\nname = \"Stock\"\nbury = [{ where = \"in_stock = false\" }]\n",
    );
    let shopper = (0..)
        .map(|i| format!("pager-{i}"))
        .find(|id| !in_holdout(id, 0.1))
        .unwrap();
    let lighting: Vec<Value> = s
        .fixture
        .products
        .iter()
        .filter(|p| p["category"][0] == "Lighting")
        .take(8)
        .map(|p| json!({"type": "purchase", "shopper": shopper, "product": p["id"]}))
        .collect();
    s.engine
        .record_events(&serde_json::to_vec(&lighting).unwrap())
        .unwrap();
    let requests = [
        query("lamp "),
        query("s"),
        query("grey "),
        query(""),
        SearchRequest {
            sort: clerk::retrieve::Sort::PriceDesc,
            ..query("chair ")
        },
        SearchRequest {
            filters: vec!["in_stock:true".into()],
            ..query("")
        },
    ];
    for request in requests {
        for who in [None, Some(shopper.clone())] {
            let long = search(
                &s.engine,
                SearchRequest {
                    shopper: who.clone(),
                    ..request.clone()
                },
            );
            assert!(
                long.hits.len() > 21,
                "{:?}: too few hits to page",
                request.q
            );
            for page in 1..=3 {
                let short = search(
                    &s.engine,
                    SearchRequest {
                        shopper: who.clone(),
                        per_page: 7,
                        page,
                        ..request.clone()
                    },
                );
                let from = (page - 1) * 7;
                assert_eq!(
                    ids(&short),
                    ids(&long)[from..from + 7],
                    "{:?} {:?} page {page}",
                    request.q,
                    who
                );
                assert_eq!(short.total, long.total);
            }
        }
    }
}

#[test]
fn segment_effects_equal_each_documents_rules_as_the_clock_moves() {
    // Boosts and buries tested as kept bitsets ([`ActiveRules::in_segment`]) give
    // every document exactly the effect its own columns give, at every time: also
    // after "within" windows let products age out, and when the clock goes back.
    let s = setup("");
    let snapshot = s.engine.snapshot();
    let text = "[[rule]]\nname = \"Fresh\"\nboost = [{ where = \"created_at within 30 days\", factor = 1.5 }, { where = \"rating >= 4 and not created_at within 200 days\", factor = 0.8 }]\nbury = [{ where = \"in_stock = false or created_at within 2 days\" }]\n";
    let set = RuleSet::parse(text, "t.toml", &snapshot).unwrap();
    let compiled = set.compile(&snapshot);
    // The demo's newest product is from 2026-11-01.
    let newest = clerk::catalog::parse_date("2026-11-01T00:00:00Z").unwrap();
    let mut moments: Vec<i64> = (0..40)
        .map(|i| newest - 500 * 86_400 + i * 13 * 86_400)
        .collect();
    moments.extend([
        newest,
        newest + 86_400,
        newest - 86_400,
        newest - 300 * 86_400,
    ]);
    for now in moments {
        let facts = RequestFacts {
            query: "",
            filters: &[],
            now,
        };
        let active = ActiveRules::select(&set, &compiled, &facts, &snapshot, &snapshot.analyzer);
        for (ord, segment) in snapshot.searcher.segment_readers().iter().enumerate() {
            let columns = &snapshot.columns[ord];
            let effects = active.in_segment(columns, segment.max_doc());
            for doc in 0..segment.max_doc() {
                let own = active.effect(columns, doc);
                assert_eq!(effects.factor(doc), own.factor, "doc {doc} at {now}");
                assert_eq!(effects.is_buried(doc), own.buried, "doc {doc} at {now}");
            }
        }
    }
}
