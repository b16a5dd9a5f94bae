//! Property tests: arbitrary input never panics, never gets a 5xx, and every refusal
//! is a JSON error that says what is wrong.
//!
//! Properties, each over thousands of generated inputs (proptest; failures shrink):
//! 1. the synonym, filter and rule parsers return `Ok` or a caller-mistake error with
//!    a message for any text;
//! 2. the event batch parser does the same for any bytes;
//! 3. the search pipeline answers any combination of query, filters, facets, sort and
//!    paging with a response or a caller-mistake error;
//! 4. the HTTP API (router, no socket) answers any method, path, query and body with a
//!    status below 500 and, for 4xx, SPEC's `{"error":{"code","message"}}` shape;
//! 5. the live server (the real binary, a real socket) does the same for a stream of
//!    generated requests, and is still healthy afterwards.

mod common;

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use clerk::search::SearchRequest;
use proptest::prelude::*;
use serde_json::Value;

/// One small index shared by the properties.
fn fixture() -> &'static common::Fixture {
    static FIXTURE: OnceLock<common::Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| common::demo_fixture(400, 11))
}

/// Text shaped like what the parsers see, with hostile bytes mixed in.
fn texty() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        "[a-z:|.=<>!'\\[\\] ,_0-9-]{0,60}",
        proptest::collection::vec(
            prop_oneof![
                Just("brand".to_string()),
                Just("price".to_string()),
                Just("category".to_string()),
                Just(":".to_string()),
                Just("..".to_string()),
                Just("|".to_string()),
                Just("/".to_string()),
                Just("=".to_string()),
                Just("and".to_string()),
                Just("'".to_string()),
                Just("\u{0}".to_string()),
                Just("é".to_string()),
                Just("9e999".to_string()),
                Just("-".to_string()),
                "[a-z]{1,6}",
            ],
            0..12
        )
        .prop_map(|parts| parts.concat()),
    ]
}

fn caller_mistake(result: &clerk::Result<impl std::fmt::Debug>) -> bool {
    match result {
        Ok(_) => true,
        Err(e) => e.is_caller_mistake() && !e.to_string().trim().is_empty(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_and_name_the_problem(text in texty(), lines in proptest::collection::vec(texty(), 0..6)) {
        let snapshot = fixture().engine.snapshot();
        let synonyms = clerk::synonyms::parse(&lines.join("\n"), "fuzz.txt")
            .and_then(|l| clerk::synonyms::Synonyms::compile(&l, &snapshot.analyzer));
        prop_assert!(caller_mistake(&synonyms), "{synonyms:?}");
        let numeric: Vec<usize> = snapshot.fields.numeric.iter().map(|n| n.def).collect();
        let filters = clerk::filter::parse(std::slice::from_ref(&text), &snapshot.schema, &numeric);
        prop_assert!(caller_mistake(&filters), "{filters:?}");
        let rule = format!("[[rule]]\nquery = \"sofa\"\nboost = [{{ where = {:?}, factor = 1.5 }}]\n", text);
        let rules = clerk::rules::RuleSet::parse(&rule, "fuzz.toml", &snapshot);
        prop_assert!(caller_mistake(&rules), "{rules:?}");
        let raw_rules = clerk::rules::RuleSet::parse(&lines.join("\n"), "fuzz.toml", &snapshot);
        prop_assert!(caller_mistake(&raw_rules), "{raw_rules:?}");
    }

    #[test]
    fn event_batches_never_panic(body in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        texty().prop_map(|t| format!("[{{\"type\":\"view\",\"shopper\":{t:?},\"product\":{t:?},\"ts\":{t:?}}}]").into_bytes()),
    ]) {
        let parsed = clerk::events::parse_batch(&body, &|id| id.starts_with("p-"));
        prop_assert!(caller_mistake(&parsed), "{parsed:?}");
    }

    #[test]
    fn any_search_is_answered_or_refused_with_a_reason(
        q in texty(),
        filters in proptest::collection::vec(texty(), 0..4),
        facets in proptest::collection::vec(prop_oneof![Just("brand".to_string()), Just("price".to_string()), Just("category".to_string()), "[a-z]{0,8}"], 0..4),
        page in 0usize..600,
        per_page in 0usize..130,
    ) {
        let request = SearchRequest { q, filters, facets, page, per_page, ..SearchRequest::default() };
        let result = fixture().engine.search(&request);
        prop_assert!(caller_mistake(&result), "{result:?}");
    }
}

/// The API over the fixture's index, with a shopper store of its own.
fn api_state() -> &'static clerk::http::AppState {
    static STATE: OnceLock<(tempfile::TempDir, clerk::http::AppState)> = OnceLock::new();
    &STATE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let store =
                clerk::shoppers::RedbStore::open(&dir.path().join("shoppers.redb")).unwrap();
            let engine =
                clerk::engine::Engine::open(clerk::index::DataDir::new(fixture().data_dir()))
                    .unwrap()
                    .with_shoppers(std::sync::Arc::new(store));
            (dir, clerk::http::AppState::new(std::sync::Arc::new(engine)))
        })
        .1
}

fn api_request() -> impl Strategy<Value = (String, String, Vec<u8>)> {
    let method = prop_oneof![
        Just("GET"),
        Just("POST"),
        Just("PUT"),
        Just("DELETE"),
        Just("PATCH"),
        Just("OPTIONS")
    ]
    .prop_map(String::from);
    let path = prop_oneof![
        Just("/v1/search".to_string()),
        Just("/v1/autocomplete".to_string()),
        Just("/v1/events".to_string()),
        Just("/v1/products".to_string()),
        Just("/v1/admin/reload".to_string()),
        Just("/v1/admin/shopper-tokens".to_string()),
        Just("/health".to_string()),
        "/v1/shoppers/[a-zA-Z0-9%._-]{0,20}(/opt-out|/opt-in)?",
        "/v1/products/[a-zA-Z0-9%._-]{0,20}",
        "/[a-z0-9/%]{0,30}",
    ];
    let query = proptest::collection::vec(
        (
            prop_oneof![
                Just("q"),
                Just("filter"),
                Just("facets"),
                Just("sort"),
                Just("page"),
                Just("per_page"),
                Just("limit"),
                Just("shopper"),
                Just("explain"),
                Just("rules")
            ],
            "[a-zA-Z0-9%:|. _-]{0,20}",
        ),
        0..5,
    )
    .prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
            .collect::<Vec<_>>()
            .join("&")
    });
    let body = prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..80),
        texty().prop_map(|t| format!("{{\"q\":{t:?},\"shopper\":{t:?}}}").into_bytes()),
        texty().prop_map(|t| format!("[{{\"id\":{t:?},\"title\":{t:?}}}]").into_bytes()),
    ];
    (method, (path, query), body).prop_map(|(m, (p, q), b)| {
        let uri = if q.is_empty() { p } else { format!("{p}?{q}") };
        (m, uri, b)
    })
}

/// A 4xx must carry SPEC's error shape; nothing may be a 5xx other than 503.
fn check_answer(status: u16, body: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(status < 500 || status == 503, "status {status}");
    if status >= 400 {
        let json: Value = serde_json::from_slice(body)
            .map_err(|e| TestCaseError::fail(format!("{status} without JSON: {e}")))?;
        prop_assert!(json["error"]["code"].is_string(), "{json}");
        prop_assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{json}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_api_never_fails_on_odd_requests((method, uri, body) in api_request()) {
        let state = api_state().clone();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let Ok(request) = Request::builder().method(method.as_str()).uri(&uri).body(Body::from(body)) else {
            return Ok(());
        };
        let (status, bytes) = runtime.block_on(async {
            use tower::ServiceExt;
            let response = clerk::http::router(state).oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            (status, axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap())
        });
        check_answer(status, &bytes)?;
    }
}

#[test]
fn the_live_server_survives_a_stream_of_generated_requests() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let dir = tempfile::tempdir().unwrap();
    let server =
        common::server::Server::start(&dir.path().join("data"), &["--demo-products", "300"]);
    let client = reqwest::blocking::Client::new();
    let mut runner = TestRunner::deterministic();
    let strategy = api_request();
    for _ in 0..400 {
        let (method, uri, body) = strategy.new_tree(&mut runner).unwrap().current();
        let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
            continue;
        };
        let response = client
            .request(method.clone(), server.url(&uri))
            .body(body)
            .send()
            .unwrap_or_else(|e| panic!("{method} {uri}: the connection failed: {e}"));
        let status = response.status().as_u16();
        let bytes = response.bytes().unwrap();
        if let Err(e) = check_answer(status, &bytes) {
            panic!("{method} {uri}: {e}");
        }
    }
    let health = client.get(server.url("/health")).send().unwrap();
    assert_eq!(health.status(), 200);
}
