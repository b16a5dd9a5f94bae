//! What one learning refresh costs: folding a store's events into signals
//! (`clerk::learning::Evidence::signals`), the work the server repeats every second
//! while events arrive.
//!
//! The store: `CLERK_BENCH_QUERIES` queries (default 1000,10000; ten share each head
//! word), each run by 15 shoppers who look down a 20-product page (each position
//! further with probability 0.85), take what they look at with a probability that
//! falls with the position, and stop there; a query's page is its own 20 products,
//! two categories of ten.
//! Rankings are already cached, as in a running server. Two refreshes are timed:
//!
//! * `full`: the store's view made again and every query read again (what happens
//!   once a minute, or after the events grew by a tenth);
//! * `one second`: what a refresh costs in between, after one second of a busy
//!   store's traffic — ten new search sessions with a click, on queries drawn at
//!   random — only the queries they touched are read again.

use std::hint::black_box;
use std::time::{Duration, Instant};

use clerk::events::{Event, parse_batch};
use clerk::learning::{Evidence, ProductKinds, category_key};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

/// A deterministic stream of chances in [0, 1).
struct Chances(u64);

impl Chances {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The events of `queries` queries, 15 sessions each.
fn store(queries: usize) -> Evidence {
    let mut chances = Chances(7);
    let mut evidence = Evidence::default();
    let mut seq = 0u64;
    for q in 0..queries {
        let query = query_name(q);
        let mut batch = Vec::new();
        for s in 0..15 {
            let shopper = format!("q{q}-s{s}");
            let at = |seconds: i64| {
                chrono::DateTime::from_timestamp(1_700_000_000 + (q * 100 + s) as i64 + seconds, 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default()
            };
            batch.push(json!({"type": "search", "shopper": shopper, "query": query, "ts": at(0)}));
            for k in 0..20 {
                if k > 0 && chances.next() > 0.85 {
                    break;
                }
                if chances.next() < 0.6 / (1.0 + k as f64 / 3.0) {
                    let product = format!("q{q}-p{k}");
                    batch.push(json!({"type": "click", "shopper": shopper, "product": product, "query": query, "position": k + 1, "ts": at(1)}));
                    break;
                }
            }
        }
        let body = serde_json::to_vec(&batch).expect("events");
        for event in parse_batch(&body, &|_| true).expect("a valid batch") {
            evidence.add(seq, &event, 1_800);
            seq += 1;
        }
    }
    evidence
}

/// New search sessions a second of a busy store's traffic brings.
const SESSIONS_A_SECOND: usize = 10;

/// `sessions` new search sessions, each a search and a click on its third product, on
/// queries drawn at random from `queries`.
fn new_sessions(queries: usize, sessions: usize, now: i64) -> Vec<Event> {
    let mut chances = Chances(11);
    let ts = chrono::DateTime::from_timestamp(now, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let mut batch = Vec::new();
    for s in 0..sessions {
        let q = (chances.next() * queries as f64) as usize;
        let query = query_name(q);
        let shopper = format!("new-{s}");
        let product = format!("q{q}-p2");
        batch.push(json!({"type": "search", "shopper": shopper, "query": query, "ts": ts}));
        batch.push(json!({"type": "click", "shopper": shopper, "product": product, "query": query, "position": 3, "ts": ts}));
    }
    batch
        .chunks(1_000)
        .flat_map(|chunk| {
            let body = serde_json::to_vec(chunk).expect("events");
            parse_batch(&body, &|_| true).expect("a valid batch")
        })
        .collect()
}

/// Query `q`'s page: its own twenty products.
fn ranking(query: &str) -> Vec<String> {
    let q = query.split(' ').nth(1).unwrap_or_default();
    (0..20).map(|k| format!("q{q}-p{k}")).collect()
}

/// Query `q`'s text: ten queries share each head word, as related queries do.
fn query_name(q: usize) -> String {
    format!("query {q} kind{}", q / 10)
}

/// Products `p0..p9` of a query in one category, the rest in another.
fn kinds(product: &str) -> ProductKinds {
    let k: usize = product
        .rsplit('p')
        .next()
        .and_then(|k| k.parse().ok())
        .unwrap_or(0);
    let leaf = if k < 10 { "c/first" } else { "c/second" };
    ProductKinds {
        types: Vec::new(),
        categories: vec![category_key("category", leaf)],
    }
}

fn refresh(c: &mut Criterion) {
    let sizes = std::env::var("CLERK_BENCH_QUERIES").unwrap_or_else(|_| "1000,10000".into());
    let mut group = c.benchmark_group("learning/refresh");
    group.sample_size(10);
    for queries in sizes
        .split(',')
        .filter_map(|s| s.trim().parse::<usize>().ok())
    {
        let mut evidence = store(queries);
        let now = 1_700_000_000 + (queries * 100) as i64;
        let rank = |q: &str| Ok(ranking(q));
        // The first refresh ranks every query; the server keeps those rankings.
        let signals = evidence
            .signals(&rank, &kinds, now, 86_400.0)
            .expect("signals");
        assert!(
            signals.learned_queries() > queries / 2,
            "learning learned nothing"
        );
        group.bench_function(format!("full, {queries} queries"), |b| {
            b.iter(|| {
                evidence.forget_store_view();
                black_box(
                    evidence
                        .signals(&rank, &kinds, now, 86_400.0)
                        .expect("signals"),
                )
            })
        });
        let traffic = new_sessions(queries, 5_000, now);
        let mut seq = 1u64 << 40;
        let mut next = 0usize;
        group.bench_function(format!("one second, {queries} queries"), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for i in 0..iters {
                    if i % 500 == 0 {
                        // The view a running server would hold: made at most a
                        // minute ago (its cost is the `full` figure).
                        evidence.forget_store_view();
                        let _ = evidence.signals(&rank, &kinds, now, 86_400.0);
                    }
                    for _ in 0..SESSIONS_A_SECOND * 2 {
                        evidence.add(seq, &traffic[next % traffic.len()], 1_800);
                        seq += 1;
                        next += 1;
                    }
                    let start = Instant::now();
                    black_box(
                        evidence
                            .signals(&rank, &kinds, now, 86_400.0)
                            .expect("signals"),
                    );
                    spent += start.elapsed();
                }
                spent
            })
        });
    }
    group.finish();
}

criterion_group!(benches, refresh);
criterion_main!(benches);
