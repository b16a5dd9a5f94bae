//! Synonyms, typos, splits, prefixes, autocomplete and hot reload through the engine
//! and the API. Properties checked:
//! * each synonym form (equivalent, one-way, multi-word span) finds its products, and
//!   a product matching what was typed ranks above one matching only a synonym;
//! * typo thresholds: short words stay exact, longer ones tolerate one or two typos;
//!   words with digits and fields marked `typos = false` never match through a typo;
//! * a word the index knows is not corrected away: its exact matches rank first;
//! * the last word completes while typing; autocomplete suggests by prefix and with
//!   one typo from four characters;
//! * a broken synonym file is refused with file, line and reason while the old set
//!   keeps serving; a fixed file reloads;
//! * a query that matches nothing says so and suggests a spelling.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clerk::engine::Engine;
use clerk::http::AppState;
use clerk::index::DataDir;
use clerk::search::SearchRequest;
use serde_json::{Value, json};

use common::{Fixture, call, fixture_from_lines};

fn product(id: &str, title: &str, popularity: u64) -> Value {
    json!({"id": id, "title": title, "popularity": popularity, "category": ["Furniture", "Living Room"]})
}

fn catalog() -> Vec<Value> {
    let mut lines = vec![
        product("couch-1", "Velvet couch with deep seats", 5),
        product("sofa-1", "Linen sofa, three seats", 50),
        product("sofa-2", "Leather sofa in brown", 40),
        product("loveseat-1", "Compact loveseat in grey", 10),
        product("tv-1", "Television stand in oak", 10),
        product("tv-2", "Wall mount for a TV", 3),
        product("lamp-1", "Brass desk lamp", 30),
        product("wirless-1", "Wirless phone charger", 1),
        product("hp-1500", "APC Smart-UPS 1500VA", 8),
        product("sofabed-1", "Sofabed with storage", 2),
    ];
    for i in 0..30 {
        lines.push(product(
            &format!("wireless-{i}"),
            &format!("Wireless speaker model {i}"),
            10 + i,
        ));
    }
    lines
}

const SYNONYMS: &str = "couch, sofa\nlove seat, loveseat\ntv => television\n";

struct Setup {
    fixture: Fixture,
    config: tempfile::TempDir,
    engine: Arc<Engine>,
}

fn setup() -> Setup {
    let fixture = fixture_from_lines(&catalog());
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir(config.path().join("synonyms")).unwrap();
    std::fs::write(config.path().join("synonyms/base.txt"), SYNONYMS).unwrap();
    let engine = Engine::open_with_config(
        DataDir::new(fixture.data_dir()),
        Some(config.path().to_path_buf()),
    )
    .unwrap();
    Setup {
        fixture,
        config,
        engine: Arc::new(engine),
    }
}

fn ids(engine: &Engine, q: &str) -> Vec<String> {
    engine
        .search(&SearchRequest::query(q))
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect()
}

#[test]
fn equivalent_synonyms_find_each_other_and_typed_words_rank_first() {
    let s = setup();
    let hits = ids(&s.engine, "couch ");
    assert_eq!(
        hits[0], "couch-1",
        "the word typed ranks above its synonym: {hits:?}"
    );
    assert!(hits.contains(&"sofa-1".to_string()) && hits.contains(&"sofa-2".to_string()));
    let hits = ids(&s.engine, "sofa ");
    assert!(hits.contains(&"couch-1".to_string()));
    assert_ne!(hits[0], "couch-1");
}

#[test]
fn one_way_synonyms_expand_one_way() {
    let s = setup();
    let hits = ids(&s.engine, "tv ");
    assert!(
        hits.contains(&"tv-1".to_string()) && hits.contains(&"tv-2".to_string()),
        "{hits:?}"
    );
    assert_eq!(ids(&s.engine, "television "), ["tv-1"]);
}

#[test]
fn multi_word_synonyms_match_spans() {
    let s = setup();
    assert_eq!(ids(&s.engine, "love seat "), ["loveseat-1"]);
    assert!(ids(&s.engine, "grey love seat ").contains(&"loveseat-1".to_string()));
}

#[test]
fn typo_thresholds_follow_word_length() {
    let s = setup();
    // Demo schema: one typo from 4 letters.
    let response = s.engine.search(&SearchRequest::query("lmap ")).unwrap();
    assert_eq!(response.hits[0].id, "lamp-1");
    assert_eq!(response.corrections[0].from, "lmap");
    assert_eq!(response.corrections[0].to, "lamp");
    // A dropped letter is measured on the word meant: "lmp" is one typo from "lamp".
    assert_eq!(ids(&s.engine, "lmp "), ["lamp-1"]);
    // Two letters: no typo tolerated.
    assert!(
        s.engine
            .search(&SearchRequest::query("lm "))
            .unwrap()
            .corrections
            .is_empty()
    );
    // Two typos only from 9 letters.
    assert!(
        ids(&s.engine, "televsoin ").contains(&"tv-1".to_string()),
        "9 letters, 2 typos"
    );
    assert!(
        s.engine
            .search(&SearchRequest::query("lveseat "))
            .unwrap()
            .total
            >= 1,
        "one typo"
    );
    // Numbers never match through a typo.
    let response = s.engine.search(&SearchRequest::query("1600va ")).unwrap();
    assert!(
        !response.hits.iter().any(|h| h.id == "hp-1500"),
        "{:?}",
        response.hits
    );
}

#[test]
fn known_words_are_not_corrected_away() {
    let s = setup();
    let hits = ids(&s.engine, "wirless ");
    assert_eq!(
        hits[0], "wirless-1",
        "the exact (rare) word ranks first: {hits:?}"
    );
    assert!(hits.len() > 1, "and its far more common neighbour follows");
    let first = s.engine.search(&SearchRequest::query("wirless ")).unwrap();
    assert!(first.hits[0].score > first.hits[1].score);
}

#[test]
fn fields_marked_exact_ignore_typos() {
    let dir = tempfile::tempdir().unwrap();
    let schema = "[[field]]\nname = \"title\"\nkind = \"text\"\nweight = 2.0\nreturned = true\n\
                  [[field]]\nname = \"sku\"\nkind = \"text\"\nweight = 3.0\ntypos = false\n";
    std::fs::create_dir(dir.path().join("index-schema")).unwrap();
    std::fs::write(dir.path().join("index-schema/schema.toml"), schema).unwrap();
    let catalog = dir.path().join("c.jsonl");
    std::fs::write(
        &catalog,
        "{\"id\":\"a\",\"title\":\"Garden hose\",\"sku\":\"gardenhosex\"}\n{\"id\":\"b\",\"title\":\"Watering can\",\"sku\":\"wateringcan\"}\n",
    )
    .unwrap();
    let data = DataDir::new(dir.path().join("data"));
    let store =
        clerk::schema::StoreSchema::load(&dir.path().join("index-schema/schema.toml")).unwrap();
    clerk::index::build_index(&catalog, &store, &data, &mut clerk::index::Quiet).unwrap();
    let engine = Engine::open(data).unwrap();
    assert_eq!(ids(&engine, "wateringcan "), ["b"], "exact SKU matches");
    assert!(
        ids(&engine, "wateringcam ").is_empty(),
        "a typo never matches the SKU field"
    );
    assert_eq!(
        ids(&engine, "watring "),
        ["b"],
        "typos still match the title"
    );
}

#[test]
fn the_last_word_completes_while_typing() {
    let s = setup();
    let hits = ids(&s.engine, "linen so");
    assert_eq!(hits.first().map(String::as_str), Some("sofa-1"), "{hits:?}");
    // Once the word is finished (a trailing space), "so" is just "so": found nowhere,
    // it is dropped rather than completed.
    let finished = s.engine.search(&SearchRequest::query("linen so ")).unwrap();
    assert_eq!(finished.relaxed.unwrap().dropped, ["so"]);
    let typing = s.engine.search(&SearchRequest::query("brass de")).unwrap();
    assert_eq!(typing.hits[0].id, "lamp-1");
}

#[test]
fn nothing_found_says_so_and_suggests() {
    let s = setup();
    let response = s
        .engine
        .search(&SearchRequest::query("lampshadexx "))
        .unwrap();
    assert_eq!(response.total, 0);
    assert!(response.message.unwrap().contains("No products match"));
    let response = s
        .engine
        .search(&SearchRequest::query("velvit cuoch qqqq "))
        .unwrap();
    assert!(response.total > 0, "relaxation and typos find the couch");
    // Two typos in a five-letter word are beyond the budget: nothing, but a suggestion.
    let nothing = s.engine.search(&SearchRequest::query("dseck ")).unwrap();
    assert_eq!(nothing.total, 0);
    assert_eq!(nothing.did_you_mean, ["desk"]);
}

#[tokio::test]
async fn autocomplete_suggests_by_prefix_with_typos_and_checks_limits() {
    let s = setup();
    let state = AppState::new(s.engine.clone());
    let (status, body) = call(
        &state,
        Request::get("/v1/autocomplete?q=wire&limit=3")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let suggestions = body["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 3);
    assert!(
        suggestions[0]["text"].as_str().unwrap().starts_with("wire"),
        "{body}"
    );
    assert!(suggestions[0]["score"].as_f64().unwrap() >= suggestions[2]["score"].as_f64().unwrap());
    let (_, body) = call(
        &state,
        Request::get("/v1/autocomplete?q=wierless")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        body["suggestions"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("wireless"),
        "typo tolerated: {body}"
    );
    let (_, body) = call(
        &state,
        Request::get("/v1/autocomplete?q=living")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        body["suggestions"][0]["text"], "living room",
        "categories are suggested: {body}"
    );
    let (status, body) = call(
        &state,
        Request::get("/v1/autocomplete?q=so&limit=99")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "bad_limit");
}

#[tokio::test]
async fn a_broken_synonym_file_is_refused_and_the_old_set_keeps_serving() {
    let s = setup();
    let state = AppState::new(s.engine.clone()).with_admin_key(Some("secret".into()));
    let reload = || {
        Request::post("/v1/admin/reload")
            .header("authorization", "Bearer secret")
            .body(Body::empty())
            .unwrap()
    };
    let (status, _) = call(
        &state,
        Request::post("/v1/admin/reload")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "admin key required");

    std::fs::write(
        s.config.path().join("synonyms/extra.txt"),
        "lamp, light\nbrass,, gold\n=> nothing\n",
    )
    .unwrap();
    let (status, body) = call(&state, reload()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let problems: Vec<&str> = body["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("extra.txt:2") && problems[0].contains("empty entry"),
        "{problems:?}"
    );
    assert!(problems[1].contains("extra.txt:3"), "{problems:?}");
    // The old set still serves: couch still finds sofas, lamp is not yet a light.
    assert!(ids(&s.engine, "couch ").contains(&"sofa-1".to_string()));

    std::fs::write(
        s.config.path().join("synonyms/extra.txt"),
        "settee => couch\n",
    )
    .unwrap();
    let (status, body) = call(&state, reload()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["reloaded"]["synonym_files"], 2);
    assert!(ids(&s.engine, "settee ").contains(&"couch-1".to_string()));
    drop(s.fixture);
}
