//! The learning suite: simulated shoppers click through the judged queries, and the
//! crowd's learned signals must make ranking better where there was traffic, no worse
//! where there was none, and barely worse under random clicks.
//!
//! A click model with position bias (a cascade): a shopper scans the first page top
//! down, looks at position `k` with probability `ATTENTION^(k-1)`, clicks what they
//! look at with a probability by its grade, sometimes buys after a click, and may
//! stop there. Half of the queries (every other one) get [`SESSIONS`] shoppers each;
//! their events go through [`Engine::record_events`], the same ingest path as HTTP,
//! and [`Engine::learn`] folds them in. NDCG@10 of anonymous searches is compared
//! before and after on the queries with and without traffic. A second store gets only
//! random clicks (uniform over the first page) on every query. Latency is the mean
//! time of the judged queries with learned signals on and off.
//!
//! The report also gives the queries with traffic a ceiling: their NDCG@10 if the
//! unlearned top [`CEILING_DEPTH`] were re-sorted perfectly by grade. Shoppers only
//! click what the first page shows, so no reranking learned from them does better;
//! the lift is read against that headroom.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{JudgedSet, K, metrics};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::index::DataDir;
use crate::search::SearchRequest;
use crate::shoppers::{RedbStore, STORE_FILE};

/// Sessions per query with traffic.
pub const SESSIONS: usize = 15;
/// Chance of looking one position further down.
const ATTENTION: f64 = 0.85;
/// Chance of clicking a looked-at product, by grade 0, 1, 2.
const CLICK: [f64; 3] = [0.03, 0.25, 0.6];
/// Chance of buying after a click, by grade.
const BUY: [f64; 3] = [0.0, 0.1, 0.3];
/// Chance of stopping after a click.
const STOP_AFTER_CLICK: f64 = 0.5;
const SEED: u64 = 31_337;
/// Unlearned results a perfect re-sort may draw from for the ceiling.
pub const CEILING_DEPTH: usize = 20;
/// Seeds of the simulation; each runs with traffic on either half of the queries.
pub const SEEDS: u64 = 3;
/// Waves of the live variant: [`SESSIONS`] split into this many, learning between.
pub const LIVE_WAVES: usize = 5;

/// Results of the learning suite.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LearningReport {
    pub queries_with_traffic: usize,
    pub queries_without: usize,
    pub events: usize,
    pub traffic_before: f64,
    pub traffic_after: f64,
    /// The queries with traffic with their unlearned top [`CEILING_DEPTH`] re-sorted
    /// perfectly by grade: the most a reranking of what shoppers could reach gives.
    #[serde(default)]
    pub traffic_ceiling: f64,
    pub without_before: f64,
    pub without_after: f64,
    /// Every query, before and after random clicks only.
    pub random_before: f64,
    pub random_after: f64,
    /// Mean milliseconds per query with learned signals on and off.
    pub latency_on_ms: f64,
    pub latency_off_ms: f64,
    /// Each trial's lift on the queries with traffic (seed by seed, even queries
    /// with traffic then odd); the figures above are the trials' means.
    #[serde(default)]
    pub traffic_lifts: Vec<f64>,
    /// Each seed's lift under random clicks.
    #[serde(default)]
    pub random_lifts: Vec<f64>,
    /// The queries with traffic after the same sessions arrived in [`LIVE_WAVES`]
    /// waves, the engine learning between them (mean of the trials, and each trial's
    /// lift).
    #[serde(default)]
    pub live_traffic_after: f64,
    #[serde(default)]
    pub live_traffic_lifts: Vec<f64>,
    /// Per judged query, over the trials in which it had traffic: where learning
    /// gains, loses, and what headroom it leaves.
    #[serde(default)]
    pub per_query: Vec<QueryLearning>,
}

/// One judged query's NDCG@10 in the learning suite, means over the trials in which
/// it had traffic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueryLearning {
    pub query: String,
    pub trials: usize,
    pub before: f64,
    /// After one wave of sessions.
    pub after: f64,
    /// After the same sessions in [`LIVE_WAVES`] waves.
    pub live_after: f64,
    /// Its unlearned top [`CEILING_DEPTH`] re-sorted perfectly by grade.
    pub ceiling: f64,
}

/// An engine over `data` with a fresh shopper store in `scratch`.
fn engine(data: &Path, config_dir: &Path, scratch: &Path) -> Result<Arc<Engine>> {
    std::fs::create_dir_all(scratch).map_err(|e| Error::io("creating a scratch store", e))?;
    let store = RedbStore::open(&scratch.join(STORE_FILE))?;
    Ok(Arc::new(
        Engine::open_with_config(DataDir::new(data), Some(config_dir.to_path_buf()))?
            .with_shoppers(Arc::new(store)),
    ))
}

fn ranked(engine: &Engine, query: &str, learn: bool) -> Result<Vec<String>> {
    let request = SearchRequest {
        per_page: K,
        learn,
        ..SearchRequest::query(query)
    };
    Ok(engine
        .search(&request)?
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect())
}

/// Per picked query (its index in the set): NDCG@10 with its top [`CEILING_DEPTH`]
/// results (as ranked now) re-sorted by grade.
fn ceilings(engine: &Engine, set: &JudgedSet, pick: &dyn Fn(usize) -> bool) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for (_, query) in set.queries.iter().enumerate().filter(|(i, _)| pick(*i)) {
        let request = SearchRequest {
            per_page: CEILING_DEPTH,
            ..SearchRequest::query(&query.text)
        };
        let mut top: Vec<String> = engine
            .search(&request)?
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect();
        top.sort_by_key(|id| std::cmp::Reverse(query.grade(id)));
        out.push(metrics::ndcg(&top, query, K));
    }
    Ok(out)
}

/// Per picked query, in set order: NDCG@10 of its anonymous, learned ranking.
fn ndcgs(engine: &Engine, set: &JudgedSet, pick: &dyn Fn(usize) -> bool) -> Result<Vec<f64>> {
    set.queries
        .iter()
        .enumerate()
        .filter(|(i, _)| pick(*i))
        .map(|(_, query)| Ok(metrics::ndcg(&ranked(engine, &query.text, true)?, query, K)))
        .collect()
}

/// One simulated session's events for `query`, as shown `shown`.
fn session(
    shopper: &str,
    query: &super::JudgedQuery,
    shown: &[String],
    rng: &mut ChaCha8Rng,
    random: bool,
) -> Vec<serde_json::Value> {
    let mut events = vec![json!({"type": "search", "shopper": shopper, "query": query.text})];
    if random {
        for _ in 0..2 {
            if shown.is_empty() {
                break;
            }
            let k = rng.random_range(0..shown.len());
            events.push(json!({"type": "click", "shopper": shopper, "product": shown[k], "query": query.text, "position": k + 1}));
        }
        return events;
    }
    for (k, id) in shown.iter().enumerate() {
        // Having looked at position k (1-based), a shopper looks one further with
        // probability ATTENTION: position k is looked at with ATTENTION^(k-1).
        if k > 0 && !rng.random_bool(ATTENTION) {
            break;
        }
        let grade = query.grade(id).min(2) as usize;
        if !rng.random_bool(CLICK[grade]) {
            continue;
        }
        events.push(json!({"type": "click", "shopper": shopper, "product": id, "query": query.text, "position": k + 1}));
        if rng.random_bool(BUY[grade]) {
            events.push(json!({"type": "purchase", "shopper": shopper, "product": id}));
        }
        if rng.random_bool(STOP_AFTER_CLICK) {
            break;
        }
    }
    events
}

/// Simulates sessions on the queries `pick` selects; returns the events recorded.
fn simulate(
    engine: &Engine,
    set: &JudgedSet,
    pick: &dyn Fn(usize) -> bool,
    random: bool,
    rng: &mut ChaCha8Rng,
) -> Result<usize> {
    simulate_in_waves(engine, set, pick, random, 1, rng)
}

/// As [`simulate`], the sessions of every query arriving in `waves` waves with the
/// engine learning after each: later shoppers see what the earlier ones taught, as in
/// a live store whose signals refresh within seconds.
fn simulate_in_waves(
    engine: &Engine,
    set: &JudgedSet,
    pick: &dyn Fn(usize) -> bool,
    random: bool,
    waves: usize,
    rng: &mut ChaCha8Rng,
) -> Result<usize> {
    let mut recorded = 0;
    let waves = waves.clamp(1, SESSIONS);
    for wave in 0..waves {
        for (i, query) in set.queries.iter().enumerate().filter(|(i, _)| pick(*i)) {
            let shown = ranked(engine, &query.text, true)?;
            let mut batch = Vec::new();
            for s in (wave * SESSIONS / waves)..((wave + 1) * SESSIONS / waves) {
                let shopper = format!("sim-{}-{i}-{s}", if random { "random" } else { "cascade" });
                batch.extend(session(&shopper, query, &shown, rng, random));
            }
            recorded += batch.len();
            engine.record_events(&serde_json::to_vec(&batch).unwrap_or_default())?;
        }
        if wave + 1 < waves {
            engine.learn()?;
        }
    }
    Ok(recorded)
}

/// One trial: traffic on the queries `traffic` picks, the others without. Per-query
/// figures are in set order of the queries with traffic (`traffic_queries`).
struct Trial {
    traffic_queries: Vec<usize>,
    without: usize,
    events: usize,
    traffic_before: Vec<f64>,
    traffic_after: Vec<f64>,
    traffic_ceiling: Vec<f64>,
    without_before: f64,
    without_after: f64,
}

impl Trial {
    fn lift(&self) -> f64 {
        mean(self.traffic_after.iter().copied()) - mean(self.traffic_before.iter().copied())
    }
}

fn trial(
    crowd: &Engine,
    set: &JudgedSet,
    traffic: &dyn Fn(usize) -> bool,
    waves: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Trial> {
    let without = |i: usize| !traffic(i);
    let traffic_before = ndcgs(crowd, set, traffic)?;
    let traffic_ceiling = ceilings(crowd, set, traffic)?;
    let without_before = mean(ndcgs(crowd, set, &without)?.into_iter());
    let events = simulate_in_waves(crowd, set, traffic, false, waves, rng)?;
    crowd.learn()?;
    Ok(Trial {
        traffic_queries: (0..set.queries.len()).filter(|i| traffic(*i)).collect(),
        without: (0..set.queries.len()).filter(|i| without(*i)).count(),
        events,
        traffic_before,
        traffic_after: ndcgs(crowd, set, traffic)?,
        traffic_ceiling,
        without_before,
        without_after: mean(ndcgs(crowd, set, &without)?.into_iter()),
    })
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// Per query, its means over the trials in which it had traffic.
fn per_query(set: &JudgedSet, trials: &[Trial], live: &[Trial]) -> Vec<QueryLearning> {
    let of = |trials: &[Trial], i: usize, f: fn(&Trial) -> &Vec<f64>| -> Vec<f64> {
        trials
            .iter()
            .filter_map(|t| {
                let k = t.traffic_queries.iter().position(|q| *q == i)?;
                f(t).get(k).copied()
            })
            .collect()
    };
    (0..set.queries.len())
        .filter_map(|i| {
            let after = of(trials, i, |t| &t.traffic_after);
            (!after.is_empty()).then(|| QueryLearning {
                query: set.queries[i].text.clone(),
                trials: after.len(),
                before: mean(of(trials, i, |t| &t.traffic_before).into_iter()),
                after: mean(after.into_iter()),
                live_after: mean(of(live, i, |t| &t.traffic_after).into_iter()),
                ceiling: mean(of(trials, i, |t| &t.traffic_ceiling).into_iter()),
            })
        })
        .collect()
}

/// Runs the suite over the index in `data` (its shopper stores live in `scratch`).
pub fn evaluate(
    data: &Path,
    config_dir: &Path,
    scratch: &Path,
    set: &JudgedSet,
) -> Result<LearningReport> {
    let mut trials = Vec::new();
    let mut live = Vec::new();
    let mut random = Vec::new();
    let mut latency = (0.0, 0.0);
    for seed in 0..SEEDS {
        for half in [0, 1] {
            let traffic = move |i: usize| i % 2 == half;
            for (waves, out) in [(1, &mut trials), (LIVE_WAVES, &mut live)] {
                let mut rng = ChaCha8Rng::seed_from_u64(SEED + seed * 2 + half as u64);
                let store = scratch.join(format!("learning-cascade-{seed}-{half}-{waves}"));
                let crowd = engine(data, config_dir, &store)?;
                out.push(trial(&crowd, set, &traffic, waves, &mut rng)?);
                if seed == 0 && half == 0 && waves == 1 {
                    latency = latencies(&crowd, set)?;
                }
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1_000 + seed);
        let every = |_: usize| true;
        let noise = engine(
            data,
            config_dir,
            &scratch.join(format!("learning-random-{seed}")),
        )?;
        let before = mean(ndcgs(&noise, set, &every)?.into_iter());
        simulate(&noise, set, &every, true, &mut rng)?;
        noise.learn()?;
        random.push((before, mean(ndcgs(&noise, set, &every)?.into_iter())));
    }
    let of = |f: fn(&Trial) -> &Vec<f64>| mean(trials.iter().map(|t| mean(f(t).iter().copied())));
    Ok(LearningReport {
        per_query: per_query(set, &trials, &live),
        queries_with_traffic: trials.first().map_or(0, |t| t.traffic_queries.len()),
        queries_without: trials.first().map_or(0, |t| t.without),
        events: trials.iter().map(|t| t.events).sum::<usize>() / trials.len().max(1),
        traffic_before: of(|t| &t.traffic_before),
        traffic_after: of(|t| &t.traffic_after),
        traffic_ceiling: of(|t| &t.traffic_ceiling),
        without_before: mean(trials.iter().map(|t| t.without_before)),
        without_after: mean(trials.iter().map(|t| t.without_after)),
        random_before: mean(random.iter().map(|r| r.0)),
        random_after: mean(random.iter().map(|r| r.1)),
        latency_on_ms: latency.0,
        latency_off_ms: latency.1,
        traffic_lifts: trials.iter().map(Trial::lift).collect(),
        random_lifts: random.iter().map(|r| r.1 - r.0).collect(),
        live_traffic_after: mean(live.iter().map(|t| mean(t.traffic_after.iter().copied()))),
        live_traffic_lifts: live.iter().map(Trial::lift).collect(),
    })
}

/// Rounds of the judged queries timed with learned signals on and off.
const LATENCY_ROUNDS: usize = 15;

/// Milliseconds per judged query with learned signals on and off: the median of
/// [`LATENCY_ROUNDS`] rounds each, on and off interleaved so that a busy moment of a
/// shared machine falls on both.
fn latencies(engine: &Engine, set: &JudgedSet) -> Result<(f64, f64)> {
    let round = |learn: bool| -> Result<f64> {
        let started = Instant::now();
        for query in &set.queries {
            ranked(engine, &query.text, learn)?;
        }
        Ok(started.elapsed().as_secs_f64() * 1000.0 / set.queries.len().max(1) as f64)
    };
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..LATENCY_ROUNDS {
        on.push(round(true)?);
        off.push(round(false)?);
    }
    Ok((median(&mut on), median(&mut off)))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The smallest and largest of `values` as "a…b" with signs.
fn spread(values: &[f64]) -> String {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() {
        String::new()
    } else {
        format!("{lo:+.4}…{hi:+.4}")
    }
}

/// The report as lines for a terminal.
pub fn render(r: &LearningReport) -> String {
    let mut out = format!(
        "learning ({} sessions per query with traffic, {} events a trial; means of {} trials: {} seeds × traffic on either half of the queries)\n  queries with traffic ({}): NDCG@10 {:.4} → {:.4} ({:+.4}; trials {}); ceiling (perfect re-sort of the top {}) {:.4} ({:+.4})\n  live, the same sessions in {} waves with learning between: {:.4} → {:.4} ({:+.4}; trials {})\n  queries without traffic ({}): NDCG@10 {:.4} → {:.4} ({:+.4})\n  random clicks on every query: NDCG@10 {:.4} → {:.4} ({:+.4}; seeds {})\n  latency per query: {:.3} ms learned, {:.3} ms unlearned\n",
        SESSIONS,
        r.events,
        r.traffic_lifts.len(),
        SEEDS,
        r.queries_with_traffic,
        r.traffic_before,
        r.traffic_after,
        r.traffic_after - r.traffic_before,
        spread(&r.traffic_lifts),
        CEILING_DEPTH,
        r.traffic_ceiling,
        r.traffic_ceiling - r.traffic_before,
        LIVE_WAVES,
        r.traffic_before,
        r.live_traffic_after,
        r.live_traffic_after - r.traffic_before,
        spread(&r.live_traffic_lifts),
        r.queries_without,
        r.without_before,
        r.without_after,
        r.without_after - r.without_before,
        r.random_before,
        r.random_after,
        r.random_after - r.random_before,
        spread(&r.random_lifts),
        r.latency_on_ms,
        r.latency_off_ms,
    );
    let moved = most_moved(&r.per_query, MOST_MOVED);
    if !moved.is_empty() {
        out.push_str("  most moved (one wave; live):");
        for q in moved {
            out.push_str(&format!(
                " {} {:+.3} ({:+.3});",
                q.query,
                q.after - q.before,
                q.live_after - q.before
            ));
        }
        out.pop();
        out.push('\n');
    }
    out
}

/// How many queries `render` names as the most moved.
const MOST_MOVED: usize = 6;

/// The `n` queries learning moved most, either way, one wave or live, largest first.
fn most_moved(per_query: &[QueryLearning], n: usize) -> Vec<&QueryLearning> {
    let moved = |q: &QueryLearning| {
        (q.after - q.before)
            .abs()
            .max((q.live_after - q.before).abs())
    };
    let mut queries: Vec<&QueryLearning> = per_query.iter().filter(|q| moved(q) >= 0.001).collect();
    queries.sort_by(|a, b| moved(b).total_cmp(&moved(a)));
    queries.truncate(n);
    queries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, before: f64, after: f64, live_after: f64) -> QueryLearning {
        QueryLearning {
            query: name.into(),
            trials: 3,
            before,
            after,
            live_after,
            ceiling: 1.0,
        }
    }

    #[test]
    fn the_most_moved_queries_come_either_way_largest_first() {
        let per_query = [
            query("still", 0.9, 0.9, 0.9),
            query("gain", 0.5, 0.8, 0.7),
            query("loss live", 1.0, 1.0, 0.6),
            query("small", 0.5, 0.52, 0.5),
        ];
        let names: Vec<&str> = most_moved(&per_query, 2)
            .iter()
            .map(|q| q.query.as_str())
            .collect();
        assert_eq!(names, ["loss live", "gain"]);
        assert_eq!(most_moved(&per_query, 10).len(), 3);
    }
}
