//! Every request bounded, through the real binary: engine slots (503 + Retry-After),
//! rate limits per client address (429, counting refused keys), slow-loris headers and cut-off bodies, idle keep-alive connections closed after
//! `idle_timeout_ms`, connections capped per client address, settings from
//! `clerk.toml` and the environment, event retention with profiles kept, interrupted
//! builds cleaned at start; and the search deadline stopping retrieval.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::server::{Server, clerk};
use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    Server::start_with_env(&dir.join("data"), &["--demo-products", "2000"], env)
}

fn host(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

#[test]
fn saturated_engine_answers_503_with_retry_after_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            ("CLERK_LIMITS_MAX_CONCURRENT", "1"),
            ("CLERK_LIMITS_QUEUE_WAIT_MS", "1"),
        ],
    );
    let url =
        server.url("/v1/search?q=&facets=brand,category,price,color,material,style&per_page=100");
    let outcomes: Vec<(StatusCode, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|_| {
                scope.spawn(|| {
                    let client = Client::new();
                    (0..4)
                        .map(|_| {
                            let r = client.get(&url).send().unwrap();
                            let retry = r
                                .headers()
                                .get("retry-after")
                                .map(|v| v.to_str().unwrap().to_string());
                            (r.status(), retry)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let busy: Vec<_> = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        !busy.is_empty(),
        "one slot and 12 clients: some must be turned away"
    );
    assert!(busy.iter().all(|(_, retry)| retry.as_deref() == Some("1")));
    assert!(
        outcomes
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{outcomes:?}"
    );
    let after = Client::new().get(&url).send().unwrap();
    assert_eq!(after.status(), StatusCode::OK, "the slot is free again");
}

#[test]
fn rate_limit_buckets_by_address_and_counts_refused_keys() {
    const ADMIN: &str = "admin-key-1";
    const SEARCH: &str = "search-key-1";
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            ("CLERK_RATE_LIMIT_PER_SECOND", "0.2"),
            ("CLERK_RATE_LIMIT_BURST", "3"),
            ("CLERK_ADMIN_KEY", ADMIN),
            ("CLERK_SEARCH_KEY", SEARCH),
        ],
    );
    let from = |ip: [u8; 4]| {
        Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let (a, b) = (from([127, 0, 0, 1]), from([127, 0, 0, 2]));
    let send = |client: &Client, bearer: &str| {
        client
            .get(server.url("/v1/autocomplete?q=so"))
            .bearer_auth(bearer)
            .send()
            .unwrap()
            .status()
    };
    // A fresh random bearer on each request buys no fresh bucket, and the 401s for
    // wrong keys spend the address's tokens (key guessing is slowed).
    let guesses: Vec<StatusCode> = (0..4).map(|i| send(&a, &format!("guess-{i}"))).collect();
    assert_eq!(
        guesses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(
        send(&a, SEARCH),
        StatusCode::TOO_MANY_REQUESTS,
        "same address"
    );
    // Another browser with the same public search key has its own bucket.
    assert_eq!(send(&b, SEARCH), StatusCode::OK);
    // The admin key has a bucket of its own.
    let admin: Vec<StatusCode> = (0..4).map(|_| send(&a, ADMIN)).collect();
    assert_eq!(&admin[..3], &[StatusCode::OK; 3]);
    assert_eq!(admin[3], StatusCode::TOO_MANY_REQUESTS);
    let health = a.get(server.url("/health")).send().unwrap();
    assert_eq!(health.status(), StatusCode::OK, "health is never limited");
}

#[test]
fn slow_headers_are_cut_and_cut_off_bodies_get_408() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[("CLERK_LIMITS_HEADER_READ_TIMEOUT_MS", "400")],
    );
    // Slow loris: half a request line, then silence.
    let mut slow = TcpStream::connect(host(&server)).unwrap();
    slow.write_all(b"GET /v1/search?q=so HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the connection was held {:?}",
        started.elapsed()
    );
    // A body shorter than its Content-Length, the client still connected.
    let mut cut = TcpStream::connect(host(&server)).unwrap();
    cut.write_all(
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{\"type\"",
    )
    .unwrap();
    cut.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    let _ = cut.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"body_timeout\""), "{answer}");
}

/// Sends a health request on `stream` and reads its whole response.
fn health_on(stream: &mut TcpStream) -> std::io::Result<String> {
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"documents\"") {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Sends a health request on a new connection and reads until the answer's body or
/// the connection's end: the connection (kept open) when it was served, else the
/// answer it got before being closed.
fn open_health(server: &Server) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(host(server)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if String::from_utf8_lossy(&answer).contains("\"documents\"") {
            return Ok(stream);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(String::from_utf8_lossy(&answer).into_owned()),
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
}

#[test]
fn one_client_address_cannot_hold_every_connection() {
    const CAP: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[("CLERK_LIMITS_MAX_CONNECTIONS_PER_CLIENT", &CAP.to_string())],
    );
    // Open connections from 127.0.0.1 until one is refused (the test harness may hold
    // one of its own, so at most CAP are served).
    let mut held = Vec::new();
    let refused = loop {
        match open_health(&server) {
            Ok(stream) => held.push(stream),
            Err(answer) => break answer,
        }
        assert!(held.len() <= CAP, "more than {CAP} connections served");
    };
    assert!(held.len() >= CAP - 1, "refused after {}", held.len());
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("application/json"), "{refused}");
    assert!(refused.contains("\"too_many_connections\""), "{refused}");
    assert!(refused.contains("max_connections_per_client"), "{refused}");
    // Another address is served meanwhile.
    let other = Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let status = other.get(server.url("/health")).send().unwrap().status();
    assert_eq!(status, StatusCode::OK);
    // Closing connections frees their places.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_health(&server).is_err() {
        assert!(
            Instant::now() < deadline,
            "closed connections were not uncounted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_keep_alive_connections_close_after_the_idle_timeout_not_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            ("CLERK_LIMITS_IDLE_TIMEOUT_MS", "1500"),
            ("CLERK_LIMITS_HEADER_READ_TIMEOUT_MS", "400"),
        ],
    );
    // Idle shorter than the idle timeout (longer than the header timeout): still usable.
    let mut kept = TcpStream::connect(host(&server)).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(health_on(&mut kept).unwrap().starts_with("HTTP/1.1 200"));
    std::thread::sleep(Duration::from_millis(900));
    let again = health_on(&mut kept).expect("the connection is still open after 0.9 s");
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
    // Idle longer than the idle timeout: the server closes it.
    let mut idle = TcpStream::connect(host(&server)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(health_on(&mut idle).unwrap().starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = idle.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(closed.is_ok() && rest.is_empty(), "{closed:?} {rest:?}");
    assert!(
        waited >= Duration::from_millis(1_300) && waited < Duration::from_millis(3_500),
        "closed after {waited:?}"
    );
    // A fresh connection that never sends a byte is idle too, not a slow head.
    let mut silent = TcpStream::connect(host(&server)).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(health_on(&mut silent).unwrap().starts_with("HTTP/1.1 200"));
}

#[test]
fn settings_file_is_read_and_bad_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("bad.toml");
    std::fs::write(&settings, "[limits]\nmax_concurent = 4\n").unwrap();
    let out = clerk()
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&settings)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("max_concurent"), "{said}");
    let out = clerk()
        .args(["serve", "--config", "/nonexistent/clerk.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a named file must exist");
    // A good file: the address comes from it (the flag is not given).
    std::fs::write(
        &settings,
        "[server]\naddr = \"127.0.0.1:0\"\n[limits]\nmax_concurrent = 2\n",
    )
    .unwrap();
    let mut child = clerk()
        .args(["serve", "--demo-products", "200", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&settings)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut listening = false;
    while std::io::BufRead::read_line(&mut stderr, &mut line).unwrap_or(0) > 0 {
        if line.contains("http://127.0.0.1:") {
            listening = true;
            break;
        }
        line.clear();
    }
    common::server::terminate(&child);
    let _ = child.wait();
    assert!(listening, "served on the file's address");
}

#[test]
fn retention_drops_old_events_and_keeps_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A window of about 0.9 s, swept every second.
    let mut server = start(
        dir.path(),
        &[
            ("CLERK_RETENTION_EVENTS_DAYS", "0.00001"),
            ("CLERK_RETENTION_SWEEP_INTERVAL_SECONDS", "1"),
        ],
    );
    let client = Client::new();
    let product = client
        .get(server.url("/v1/search?q=&per_page=1"))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["hits"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let batch = json!([
        {"type":"view","shopper":"r-1","product":product},
        {"type":"purchase","shopper":"r-1","product":product}
    ]);
    for _ in 0..50 {
        let r = client
            .post(server.url("/v1/events"))
            .json(&batch)
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
    }
    std::thread::sleep(Duration::from_millis(3_500));
    let profile: Value = client
        .get(server.url("/v1/shoppers/r-1"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(profile["events"]["purchase"], 50);
    assert!(!profile["affinities"].as_array().unwrap().is_empty());
    assert!(server.stop());
    let out = clerk()
        .args(["report", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        sum_of(&report, "purchases"),
        0,
        "the raw events are gone: {report}"
    );
}

#[test]
fn retention_forgets_what_expired_events_taught_and_idle_profiles() {
    let dir = tempfile::tempdir().unwrap();
    // Events live about 2.6 s, profiles of idle shoppers about 5.2 s; swept every second.
    let server = start(
        dir.path(),
        &[
            ("CLERK_RETENTION_EVENTS_DAYS", "0.00003"),
            ("CLERK_RETENTION_PROFILES_DAYS", "0.00006"),
            ("CLERK_RETENTION_SWEEP_INTERVAL_SECONDS", "1"),
        ],
    );
    let client = Client::new();
    let hits: Value = client
        .get(server.url("/v1/search?q=&per_page=2"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let (a, b) = (
        hits["hits"][0]["id"].as_str().unwrap().to_string(),
        hits["hits"][1]["id"].as_str().unwrap().to_string(),
    );
    let opted = client
        .post(server.url("/v1/shoppers/t-keeper/opt-out"))
        .send()
        .unwrap();
    assert!(opted.status().is_success(), "{}", opted.status());
    let events: Vec<Value> = (0..4)
        .flat_map(|i| {
            let shopper = format!("t-{i}");
            [
                json!({"type":"view","shopper":shopper,"product":a}),
                json!({"type":"view","shopper":shopper,"product":b}),
            ]
        })
        .collect();
    let posted = client
        .post(server.url("/v1/events"))
        .json(&events)
        .send()
        .unwrap();
    assert_eq!(posted.status(), StatusCode::ACCEPTED);
    let recommended = || -> Vec<String> {
        let body: Value = client
            .get(server.url(&format!("/v1/recommendations?product={a}&kind=also_viewed")))
            .send()
            .unwrap()
            .json()
            .unwrap();
        body["recommendations"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let profile_status = |shopper: &str| {
        client
            .get(server.url(&format!("/v1/shoppers/{shopper}")))
            .send()
            .unwrap()
            .status()
    };
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    until("the crowd pairs a with b", &|| recommended().contains(&b));
    assert_eq!(profile_status("t-0"), StatusCode::OK);
    until("the pair is forgotten with its events", &|| {
        recommended().is_empty()
    });
    until("idle profiles are dropped", &|| {
        profile_status("t-0") == StatusCode::NOT_FOUND
    });
    let keeper: Value = client
        .get(server.url("/v1/shoppers/t-keeper"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(keeper["opted_out"], true, "an opt-out is kept: {keeper}");
}

/// The sum of every number under `key`, anywhere in `value`.
fn sum_of(value: &Value, key: &str) -> u64 {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match (k == key, v.as_u64()) {
                (true, Some(n)) => n,
                _ => sum_of(v, key),
            })
            .sum(),
        Value::Array(items) => items.iter().map(|v| sum_of(v, key)).sum(),
        _ => 0,
    }
}

#[test]
fn builds_left_by_killed_indexers_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut first = start(dir.path(), &[]);
    assert!(first.stop());
    let leftover = data.join("indexes/index-1-4000000000.building");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("half-written"), b"x").unwrap();
    let mut second = start(dir.path(), &[]);
    assert!(!leftover.exists());
    assert!(second.stop());
}

#[test]
fn a_spent_deadline_stops_the_search_and_long_queries_are_capped() {
    let fixture = common::demo_fixture(3_000, 7);
    let request = clerk::search::SearchRequest {
        facets: vec!["brand".into(), "category".into(), "price".into()],
        ..clerk::search::SearchRequest::query("grey linen sofa")
    };
    let stopped = clerk::deadline::within(Duration::ZERO, || fixture.engine.search(&request));
    assert!(
        matches!(stopped, Err(clerk::Error::DeadlineExceeded { .. })),
        "{stopped:?}"
    );
    let fine = clerk::deadline::within(Duration::from_secs(60), || fixture.engine.search(&request));
    assert!(fine.unwrap().total > 0);
    // 150 distinct words plan as at most MAX_QUERY_WORDS clauses.
    let long = (0..150)
        .map(|i| format!("s{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let response = fixture
        .engine
        .search(&clerk::search::SearchRequest {
            explain: true,
            ..clerk::search::SearchRequest::query(long)
        })
        .unwrap();
    let plan = serde_json::to_value(&response.plan).unwrap();
    let clauses = plan["clauses"].as_array().map_or(0, Vec::len);
    assert!(
        (1..=clerk::plan::MAX_QUERY_WORDS).contains(&clauses),
        "{clauses} clauses"
    );
}
