//! The search pipeline against oracles computed by brute force over the catalog.
//!
//! Properties checked:
//! * facet counts (terms, ranges, category tree) equal a brute-force count over the
//!   same products, with and without filters, and filtered facets are disjunctive;
//! * `total` equals the brute-force number of products passing the filters;
//! * sorts order hits by the sort field; pages tile the result list without gaps or
//!   repeats, and the last page is partial;
//! * a query whose words do not all match is relaxed and says so;
//! * the same query gives the same order every time;
//! * the build writes products in category clusters.

mod common;

use std::collections::{BTreeMap, HashSet};

use clerk::retrieve::Sort;
use clerk::search::SearchRequest;
use serde_json::Value;

use common::{Fixture, demo_fixture};

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| demo_fixture(3000, 11))
}

fn browse(filters: &[&str], facets: &[&str]) -> SearchRequest {
    SearchRequest {
        filters: filters.iter().map(|s| s.to_string()).collect(),
        facets: facets.iter().map(|s| s.to_string()).collect(),
        ..SearchRequest::default()
    }
}

/// The oracle's filter semantics, written independently of the engine.
fn passes(product: &Value, filter: &str) -> bool {
    if let Some(positive) = filter.strip_prefix('-') {
        return !passes(product, positive);
    }
    let (field, value) = filter.split_once(':').unwrap();
    match field {
        "brand" => value
            .split('|')
            .any(|v| product["brand"].as_str().unwrap().eq_ignore_ascii_case(v)),
        "color" => value.split('|').any(|v| {
            product["attributes"]["color"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(v)
        }),
        "in_stock" => product["in_stock"].as_bool().unwrap() == (value == "true"),
        "price" => {
            let (lo, hi) = value.split_once("..").unwrap();
            let price = product["price"].as_f64().unwrap();
            let lo = if lo.is_empty() {
                f64::MIN
            } else {
                lo.parse().unwrap()
            };
            let hi = if hi.is_empty() {
                f64::MAX
            } else {
                hi.parse().unwrap()
            };
            price >= lo && price <= hi
        }
        "category" => {
            let path: Vec<&str> = product["category"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap())
                .collect();
            let wanted: Vec<&str> = value.split('/').collect();
            path.len() >= wanted.len() && path[..wanted.len()] == wanted[..]
        }
        other => panic!("oracle has no rule for {other}"),
    }
}

fn brute_terms(products: &[&Value], read: impl Fn(&Value) -> String) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for p in products {
        *counts.entry(read(p)).or_insert(0) += 1;
    }
    counts
}

fn response_terms(facet: &Value) -> BTreeMap<String, u32> {
    facet
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["value"].as_str().unwrap().to_string(),
                v["count"].as_u64().unwrap() as u32,
            )
        })
        .collect()
}

fn matching<'a>(
    products: &'a [Value],
    filters: &[&str],
    except_field: Option<&str>,
) -> Vec<&'a Value> {
    products
        .iter()
        .filter(|p| {
            filters
                .iter()
                .filter(|f| {
                    let field = f.split_once(':').unwrap().0.trim_start_matches('-');
                    Some(field) != except_field
                })
                .all(|f| passes(p, f))
        })
        .collect()
}

#[test]
fn browse_facets_match_brute_force() {
    let f = fixture();
    let response = f
        .engine
        .search(&browse(
            &[],
            &["brand", "color", "price", "category", "in_stock"],
        ))
        .unwrap();
    let all: Vec<&Value> = f.products.iter().collect();
    assert_eq!(response.total, f.products.len() as u64);
    // Brand facet is limited to its top 15: compare those entries exactly.
    let brands = brute_terms(&all, |p| p["brand"].as_str().unwrap().to_string());
    for (value, count) in response_terms(&response.facets["brand"]) {
        assert_eq!(brands[&value], count, "brand {value}");
    }
    assert_eq!(response.facets["brand"].as_array().unwrap().len(), 15);
    let top_brand = brands.values().max().unwrap();
    assert_eq!(
        response.facets["brand"][0]["count"].as_u64().unwrap() as u32,
        *top_brand
    );

    let stock = brute_terms(&all, |p| p["in_stock"].as_bool().unwrap().to_string());
    assert_eq!(response_terms(&response.facets["in_stock"]), stock);

    // Price ranges: edges from the schema.
    let edges = [0.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0];
    for bucket in response.facets["price"].as_array().unwrap() {
        let from = bucket["from"].as_f64().unwrap();
        let to = bucket
            .get("to")
            .and_then(Value::as_f64)
            .unwrap_or(f64::INFINITY);
        assert!(edges.contains(&from));
        let expected = all
            .iter()
            .filter(|p| {
                let price = p["price"].as_f64().unwrap();
                price >= from && price < to
            })
            .count() as u64;
        assert_eq!(
            bucket["count"].as_u64().unwrap(),
            expected,
            "price {from}..{to}"
        );
    }
    let bucketed: u64 = response.facets["price"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(bucketed, f.products.len() as u64);

    // Category tree: every department with its counts, children summing to the parent.
    let departments = brute_terms(&all, |p| p["category"][0].as_str().unwrap().to_string());
    let tree = response.facets["category"].as_array().unwrap();
    assert_eq!(tree.len(), departments.len());
    for node in tree {
        let name = node["value"].as_str().unwrap();
        assert_eq!(
            node["count"].as_u64().unwrap() as u32,
            departments[name],
            "{name}"
        );
        let children: u64 = node["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["count"].as_u64().unwrap())
            .sum();
        assert_eq!(
            children,
            node["count"].as_u64().unwrap(),
            "children of {name}"
        );
        for child in node["children"].as_array().unwrap() {
            let child_name = child["value"].as_str().unwrap();
            let expected = all
                .iter()
                .filter(|p| p["category"][0] == name && p["category"][1] == child_name)
                .count();
            assert_eq!(child["count"].as_u64().unwrap() as usize, expected);
        }
    }
}

#[test]
fn filtered_facets_are_disjunctive_and_totals_match() {
    let f = fixture();
    let cases: &[&[&str]] = &[
        &["brand:Nordby"],
        &["brand:Nordby|Brookline", "price:100..800"],
        &["color:Grey|Navy", "in_stock:true", "category:Furniture"],
        &["category:Lighting/Lamps", "price:..120"],
        // The listing filter's own facet counts over the documents passing the
        // others, which list nothing: a scan of the whole segment.
        &[
            "brand:Nordby|Brookline",
            "-color:Grey|Navy",
            "in_stock:true",
        ],
        &["color:Grey|Navy", "-category:Furniture", "price:50.."],
        // The others keep most of the catalog: the listing filter's facet is the
        // whole catalog's counts minus those of the products they leave out.
        &["brand:Nordby|Brookline", "price:1.."],
        // Nothing lists its documents: every document is tested.
        &["-brand:Nordby", "in_stock:false", "price:..300"],
    ];
    for filters in cases {
        let response = f
            .engine
            .search(&browse(filters, &["brand", "color", "in_stock"]))
            .unwrap();
        let hits = matching(&f.products, filters, None);
        assert_eq!(response.total, hits.len() as u64, "{filters:?}");
        for (facet, read) in [
            (
                "brand",
                (|p: &Value| p["brand"].as_str().unwrap().to_string()) as fn(&Value) -> String,
            ),
            ("color", |p: &Value| {
                p["attributes"]["color"].as_str().unwrap().to_string()
            }),
            ("in_stock", |p: &Value| {
                p["in_stock"].as_bool().unwrap().to_string()
            }),
        ] {
            // A facet counts as if its own filter were absent.
            let pool = matching(&f.products, filters, Some(facet));
            let expected = brute_terms(&pool, read);
            for (value, count) in response_terms(&response.facets[facet]) {
                assert_eq!(
                    expected.get(&value),
                    Some(&count),
                    "{filters:?} facet {facet}={value}"
                );
            }
        }
    }
}

#[test]
fn text_query_facets_count_every_hit_not_just_the_page() {
    let f = fixture();
    let mut request = SearchRequest::query("sofa");
    request.facets = vec!["brand".into()];
    request.per_page = 100;
    let first = f.engine.search(&request).unwrap();
    assert!(
        first.total > 100,
        "enough sofas to need several pages: {}",
        first.total
    );
    let mut ids = Vec::new();
    let mut brands: BTreeMap<String, u32> = BTreeMap::new();
    for page in 1..=first.total.div_ceil(100) as usize {
        request.page = page;
        let response = f.engine.search(&request).unwrap();
        for hit in &response.hits {
            ids.push(hit.id.clone());
            *brands
                .entry(hit.product["brand"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(ids.len() as u64, first.total);
    for (value, count) in response_terms(&first.facets["brand"]) {
        assert_eq!(brands[&value], count, "{value}");
    }
}

#[test]
fn sorts_order_by_their_field() {
    let f = fixture();
    let read = |sort: Sort, field: &str| -> Vec<f64> {
        let mut request = browse(&["category:Furniture"], &[]);
        request.sort = sort;
        request.per_page = 50;
        f.engine
            .search(&request)
            .unwrap()
            .hits
            .iter()
            .map(|h| match field {
                "created_at" => {
                    clerk::catalog::parse_date(h.product[field].as_str().unwrap()).unwrap() as f64
                }
                _ => h.product[field].as_f64().unwrap(),
            })
            .collect()
    };
    let asc = read(Sort::PriceAsc, "price");
    assert!(asc.windows(2).all(|w| w[0] <= w[1]), "{asc:?}");
    let cheapest = matching(&f.products, &["category:Furniture"], None)
        .iter()
        .map(|p| p["price"].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    assert_eq!(asc[0], cheapest);
    let desc = read(Sort::PriceDesc, "price");
    assert!(desc.windows(2).all(|w| w[0] >= w[1]));
    let rating = read(Sort::Rating, "rating");
    assert!(rating.windows(2).all(|w| w[0] >= w[1]));
    let newest = read(Sort::Newest, "created_at");
    assert!(newest.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn pages_tile_the_results() {
    let f = fixture();
    let mut request = SearchRequest::query("lamp");
    request.per_page = 7;
    let total = f.engine.search(&request).unwrap().total as usize;
    assert!(total > 14);
    let mut seen = Vec::new();
    let pages = total.div_ceil(7);
    for page in 1..=pages + 1 {
        request.page = page;
        let response = f.engine.search(&request).unwrap();
        if page < pages {
            assert_eq!(response.hits.len(), 7);
        } else if page == pages {
            assert_eq!(
                response.hits.len(),
                total - 7 * (pages - 1),
                "last page is partial"
            );
        } else {
            assert!(response.hits.is_empty(), "past the end");
        }
        seen.extend(response.hits.into_iter().map(|h| h.id));
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no repeats across pages");
    assert_eq!(seen.len(), total);
    // Scores never increase down the list.
    request.page = 1;
    request.per_page = 100;
    let scores: Vec<f32> = f
        .engine
        .search(&request)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.score)
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));
}

#[test]
fn relaxes_when_no_product_has_every_word() {
    let f = fixture();
    let response = f
        .engine
        .search(&SearchRequest::query("lamp zzqxj "))
        .unwrap();
    assert!(response.total > 0);
    let relaxed = response.relaxed.expect("relaxation reported");
    assert_eq!(relaxed.dropped, ["zzqxj"]);
    assert_eq!(relaxed.matched_all, 0);
    assert!(relaxed.message.contains("zzqxj"));
    let strict = f.engine.search(&SearchRequest::query("lamp ")).unwrap();
    assert!(strict.relaxed.is_none(), "one word: nothing to relax");
    assert_eq!(strict.total, response.total);
    // Two real words that never meet: one is dropped.
    let response = f
        .engine
        .search(&SearchRequest::query("toaster sectional "))
        .unwrap();
    assert!(response.total > 0);
    assert_eq!(response.relaxed.unwrap().dropped.len(), 1);
}

#[test]
fn few_full_matches_come_first_then_partial_ones() {
    let f = fixture();
    // Find a two-word query with a handful of products matching both words.
    let request = |q: &str| SearchRequest {
        per_page: 100,
        ..SearchRequest::query(q)
    };
    let strict_ids = |q: &str| -> Vec<String> {
        let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
        f.products
            .iter()
            .filter(|p| {
                let text =
                    format!("{} {} {}", p["title"], p["description"], p["category"]).to_lowercase();
                words.iter().all(|w| text.contains(w.as_str()))
            })
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let query = [
        "brass dutch ",
        "velvet toaster ",
        "teak mug ",
        "jute stool ",
        "glass dresser ",
    ]
    .into_iter()
    .find(|q| (1..10).contains(&strict_ids(q).len()))
    .expect("a query with a few full matches");
    let expected = strict_ids(query);
    let response = f.engine.search(&request(query)).unwrap();
    let relaxed = response.relaxed.expect("partial matches follow");
    assert_eq!(relaxed.matched_all as usize, expected.len(), "{query}");
    assert!(response.hits.len() > expected.len());
    let first: std::collections::HashSet<&str> = response.hits[..expected.len()]
        .iter()
        .map(|h| h.id.as_str())
        .collect();
    assert_eq!(
        first,
        expected.iter().map(String::as_str).collect(),
        "full matches first"
    );
}

#[test]
fn all_words_are_required_by_default() {
    let f = fixture();
    let response = f
        .engine
        .search(&SearchRequest {
            per_page: 100,
            ..SearchRequest::query("grey rug ")
        })
        .unwrap();
    assert!(
        response.total >= 10 && response.relaxed.is_none(),
        "{}",
        response.total
    );
    for hit in &response.hits {
        let id = &hit.id;
        let product = f.products.iter().find(|p| p["id"] == *id).unwrap();
        let text = product.to_string().to_lowercase();
        assert!(text.contains("grey"), "{id}");
        assert!(text.contains("rug"), "{id}");
    }
}

#[test]
fn same_query_same_order() {
    let f = fixture();
    let ids = |q: &str| -> Vec<String> {
        f.engine
            .search(&SearchRequest::query(q))
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect()
    };
    assert_eq!(ids("grey rug"), ids("grey rug"));
    assert_eq!(ids(""), ids(""));
}

#[test]
fn browsing_ranks_by_popularity() {
    let f = fixture();
    let response = f.engine.search(&browse(&[], &[])).unwrap();
    let most_popular = f
        .products
        .iter()
        .map(|p| p["popularity"].as_u64().unwrap())
        .max()
        .unwrap();
    let first = f
        .products
        .iter()
        .find(|p| p["id"] == response.hits[0].id.as_str())
        .unwrap();
    assert_eq!(first["popularity"].as_u64().unwrap(), most_popular);
}

/// The build writes products in category clusters (`clerk::index` cluster order), so a
/// query's matches sit together; a catalog in random category order, written as it
/// comes, would change category at nearly every document.
#[test]
fn the_build_writes_each_category_in_few_runs() {
    let f = fixture();
    let snapshot = f.engine.snapshot();
    let (mut runs, mut documents) = (0usize, 0usize);
    let mut categories = HashSet::new();
    for (ord, segment) in snapshot.searcher.segment_readers().iter().enumerate() {
        let mut previous: Option<String> = None;
        for doc in 0..segment.max_doc() {
            let address = tantivy::DocAddress::new(ord as u32, doc);
            let (_, product) = clerk::search::load_product(&snapshot, address).expect("product");
            let top = product["category"][0].as_str().unwrap_or("").to_string();
            if previous.as_ref() != Some(&top) {
                runs += 1;
            }
            categories.insert(top.clone());
            previous = Some(top);
            documents += 1;
        }
    }
    assert_eq!(documents, f.products.len());
    // Each indexing thread (at most 8) writes every category in one run per chunk.
    assert!(
        runs <= 8 * categories.len(),
        "{runs} runs of {} top-level categories over {documents} products",
        categories.len()
    );
}

#[test]
fn products_ranked_exactly_equal_keep_one_order_whatever_the_catalog_order() {
    // Forty products alike in everything but their id tie on every criterion and
    // score; two builds from the catalog in opposite orders number them oppositely.
    let products: Vec<Value> = (0..40)
        .map(|i| {
            serde_json::json!({
                "id": format!("twin-{i:02}"),
                "title": "Brass floor lamp",
                "brand": "Nordby",
                "category": ["Lighting", "Floor Lamps"],
                "price": 120.0,
            })
        })
        .collect();
    let reversed: Vec<Value> = products.iter().rev().cloned().collect();
    let (forward, backward) = (
        common::fixture_from_lines(&products),
        common::fixture_from_lines(&reversed),
    );
    for query in ["lamp ", ""] {
        let ids = |f: &Fixture, page: usize| -> Vec<String> {
            let request = SearchRequest {
                per_page: 15,
                page,
                ..SearchRequest::query(query)
            };
            let response = f.engine.search(&request).expect("search");
            response.hits.into_iter().map(|h| h.id).collect()
        };
        let pages = |f: &Fixture| -> Vec<String> { (1..=3).flat_map(|p| ids(f, p)).collect() };
        let (a, b) = (pages(&forward), pages(&backward));
        assert_eq!(a.len(), 40, "{query:?}: every twin once over the pages");
        assert_eq!(
            a, b,
            "{query:?}: the order follows the ids, not the catalog"
        );
        assert_ne!(
            a,
            products
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
            "{query:?}: ties are not simply in catalog order"
        );
    }
}

/// Each segment keeps the passing documents of the filters it was asked for, as
/// bitsets, and later requests test those filters through them. Totals and facets
/// must stay what brute force counts, on a cache hit as on the first request, and
/// after upserts (new segments) and deletes (documents dead in old segments); a text
/// query filtered through a kept bitset must find what the same filter written
/// differently (tested one document at a time) finds.
#[test]
fn kept_filter_bitsets_follow_catalog_changes() {
    let f = demo_fixture(1500, 13);
    let mut products = f.products.clone();
    let cases: &[&[&str]] = &[
        &["in_stock:true"],
        &["color:Grey|Navy", "in_stock:true"],
        &["brand:Nordby|Brookline", "price:1.."],
        &["-color:Grey|Navy", "in_stock:false", "price:..300"],
    ];
    let check = |products: &[Value], round: &str| {
        for filters in cases {
            for _ in 0..2 {
                let response = f
                    .engine
                    .search(&browse(filters, &["brand", "color", "in_stock"]))
                    .unwrap();
                let hits = matching(products, filters, None);
                assert_eq!(response.total, hits.len() as u64, "{round} {filters:?}");
                let pool = matching(products, filters, Some("color"));
                let expected = brute_terms(&pool, |p| {
                    p["attributes"]["color"].as_str().unwrap().to_string()
                });
                // The facet lists its top values.
                for (value, count) in response_terms(&response.facets["color"]) {
                    assert_eq!(
                        expected.get(&value),
                        Some(&count),
                        "{round} {filters:?} color={value}"
                    );
                }
            }
        }
        for q in ["lamp ", "sofa ", "s"] {
            let ids = |filter: &str| {
                let response = f
                    .engine
                    .search(&SearchRequest {
                        filters: vec![filter.to_string()],
                        per_page: 100,
                        ..SearchRequest::query(q)
                    })
                    .unwrap();
                let ids: Vec<String> = response.hits.iter().map(|h| h.id.clone()).collect();
                (response.total, ids)
            };
            assert_eq!(ids("in_stock:true"), ids("in_stock:yes"), "{round} {q:?}");
        }
    };
    check(&products, "before");
    // Flip the stock and colour of a hundred products, delete fifty.
    let mut changed = Vec::new();
    for p in products.iter_mut().skip(100).take(100) {
        let in_stock = p["in_stock"].as_bool().unwrap();
        p["in_stock"] = Value::Bool(!in_stock);
        p["attributes"]["color"] = Value::String("Navy".into());
        changed.push(p.clone());
    }
    f.engine
        .upsert_products(&serde_json::to_vec(&changed).unwrap())
        .unwrap();
    for p in products.drain(300..350) {
        f.engine.delete_product(p["id"].as_str().unwrap()).unwrap();
    }
    check(&products, "after");
}
