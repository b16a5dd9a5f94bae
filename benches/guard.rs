//! The latency guard CI runs: the full pipeline against raw tantivy, in one process.
//!
//! On the 100k demo catalog, every query of the mix runs alternately as raw tantivy
//! BM25 top-20 (the floor) and through the full pipeline (query layer, a shopper with
//! a rich profile, 500 rules, six facets). Absolute times drift on shared machines; the
//! ratio of the two medians, measured side by side, does not. The guard fails when the
//! ratio exceeds the bound checked in at `benches/guard-bound.txt`; lower the bound as
//! the pipeline gets faster.
//!
//! `CLERK_GUARD_SLOWDOWN_US=N` adds N microseconds of busy work to every full-pipeline
//! query, to check that the guard does fail on a slowdown.
//!
//! For profiling: `CLERK_GUARD_SIZE=N` (demo catalog size), `CLERK_GUARD_ROUNDS=N`,
//! `CLERK_GUARD_ONLY=i` (one query of the mix), `CLERK_GUARD_STAGE=2..4` (an earlier
//! stage), `CLERK_GUARD_FACETS=brand,price` (only these facets),
//! `CLERK_GUARD_COUNTING=document|word` (how facets count), `CLERK_GUARD_VERBOSE=1`
//! (per-query medians).

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use support::{Bench, Catalog, Stage};

/// Passes over the mix.
const ROUNDS: usize = 30;

fn rounds() -> usize {
    std::env::var("CLERK_GUARD_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ROUNDS)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() as f64 * p).ceil() as usize).clamp(1, values.len()) - 1]
}

/// The stage timed against raw tantivy: the full pipeline, unless `CLERK_GUARD_STAGE`
/// (2 to 5) picks an earlier one for profiling.
fn full_stage() -> Stage {
    match std::env::var("CLERK_GUARD_STAGE").ok().as_deref() {
        Some("2") => Stage::QueryLayer,
        Some("3") => Stage::Affinity,
        Some("4") => Stage::Rules,
        _ => Stage::Facets,
    }
}

/// CPU time the process has used (every thread), in milliseconds: on a loaded machine
/// it counts only the time the query actually ran, not the time it waited for a core.
fn cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

fn spin(micros: u64) {
    let until = Instant::now() + Duration::from_micros(micros);
    while Instant::now() < until {
        black_box(0);
    }
}

fn main() {
    // `cargo bench` passes --bench; this harness takes no options.
    let size: u64 = std::env::var("CLERK_GUARD_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let slowdown: u64 = std::env::var("CLERK_GUARD_SLOWDOWN_US")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let bound_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/guard-bound.txt"
    ))
    .expect("benches/guard-bound.txt");
    let bound: f64 = bound_text
        .lines()
        .find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .and_then(|l| l.trim().parse().ok())
        .expect("a number in benches/guard-bound.txt");

    // `CLERK_GUARD_COUNTING=document|word` fixes how facets count (for profiling).
    match std::env::var("CLERK_GUARD_COUNTING").ok().as_deref() {
        Some("document") => clerk::facets::Counting::ByDocument.set(),
        Some("word") => clerk::facets::Counting::ByWord.set(),
        _ => {}
    }
    let bench = Bench::new(Catalog::Demo(size));
    let mut mix = Catalog::Demo(size).mix();
    // `CLERK_GUARD_ONLY=i` keeps query i of the mix (for profiling one query).
    if let Some(i) = std::env::var("CLERK_GUARD_ONLY")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        mix = vec![mix[i].clone()];
    }
    // Warm up caches and page in the index.
    for q in &mix {
        bench.run(q, Stage::Raw);
        bench.run(q, Stage::Facets);
    }
    let (mut raw, mut full) = (Vec::new(), Vec::new());
    let mut by_query: Vec<Vec<f64>> = vec![Vec::new(); mix.len()];
    let mut cpu_by_query: Vec<Vec<f64>> = vec![Vec::new(); mix.len()];
    for _ in 0..rounds() {
        for (i, q) in mix.iter().enumerate() {
            let started = Instant::now();
            let found = bench.run(black_box(q), Stage::Raw);
            raw.push(started.elapsed().as_secs_f64() * 1e3);
            let started = Instant::now();
            let cpu_started = cpu_ms();
            let hits = bench.run(black_box(q), full_stage());
            cpu_by_query[i].push(cpu_ms() - cpu_started);
            spin(slowdown);
            let ms = started.elapsed().as_secs_f64() * 1e3;
            full.push(ms);
            by_query[i].push(ms);
            assert!(
                hits > 0 || found == 0,
                "the full pipeline found nothing for {:?}",
                q.q
            );
        }
    }
    if std::env::var_os("CLERK_GUARD_VERBOSE").is_some() {
        let mut cpu_medians = Vec::new();
        for ((q, times), cpu) in mix.iter().zip(&mut by_query).zip(&mut cpu_by_query) {
            let cpu = median(cpu);
            cpu_medians.push(cpu);
            println!(
                "  {:>8.3} ms  (cpu {cpu:>8.3} ms)  {:?} {:?}",
                median(times),
                q.q,
                q.filters
            );
        }
        let mean = cpu_medians.iter().sum::<f64>() / cpu_medians.len().max(1) as f64;
        println!("  mean of the per-query cpu medians: {mean:.3} ms");
    }
    let (raw_median, full_median) = (median(&mut raw), median(&mut full));
    let full_p99 = percentile(&mut full, 0.99);
    let ratio = full_median / raw_median;
    println!(
        "guard on demo-{size}: raw tantivy top-20 median {raw_median:.3} ms; full pipeline median {full_median:.3} ms, p99 {full_p99:.3} ms; ratio {ratio:.2} (bound {bound:.2})"
    );
    if ratio > bound {
        eprintln!(
            "FAIL: the full pipeline is {ratio:.2}x raw tantivy, above the bound {bound:.2} in benches/guard-bound.txt"
        );
        std::process::exit(1);
    }
}
