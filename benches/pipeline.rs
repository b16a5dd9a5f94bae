//! Query latency by pipeline stage, on demo catalogs of 10k, 100k and 1M products and
//! on the real Icecat catalog (19k).
//!
//! What is measured: one iteration runs the whole query mix (head, tail, typo'd,
//! one-letter prefix and filtered-browse queries, see `support::Catalog::mix`) through
//! one stage; criterion reports the time per mix, so divide by the mix size for a
//! per-query figure. Stages add up: raw tantivy BM25 top-20 (the floor) → clerk's
//! query layer and retrieval → affinity re-ranking for a rich profile → 500 rules →
//! facets. Every iteration checks the stage returned hits, so a broken stage cannot
//! pass as a fast one.
//!
//! Sizes: `CLERK_BENCH_SIZES=10000,100000,1000000` (the default); indexes are cached in
//! target/bench-data.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use support::{Bench, Catalog, Stage};

fn catalogs() -> Vec<Catalog> {
    let sizes =
        std::env::var("CLERK_BENCH_SIZES").unwrap_or_else(|_| "10000,100000,1000000".into());
    let mut out: Vec<Catalog> = sizes
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .map(Catalog::Demo)
        .collect();
    out.push(Catalog::Icecat);
    out
}

fn stages(c: &mut Criterion) {
    for catalog in catalogs() {
        let bench = Bench::new(catalog);
        let mix = catalog.mix();
        let mut group = c.benchmark_group(format!("pipeline/{}", catalog.name()));
        group.sample_size(20);
        for stage in Stage::ALL {
            // Correctness inside the measured loop: every query of the mix finds something.
            group.bench_function(stage.name(), |b| {
                b.iter(|| {
                    let found: usize = mix.iter().map(|q| bench.run(black_box(q), stage)).sum();
                    assert!(found > 0, "{} returned nothing", stage.name());
                    found
                })
            });
        }
        group.finish();
    }
}

/// Autocomplete on the 100k demo catalog: short, long and typo'd prefixes.
fn autocomplete(c: &mut Criterion) {
    let bench = Bench::new(Catalog::Demo(100_000));
    let prefixes = [
        "s", "so", "sof", "linen so", "brass fl", "chandel", "velvte",
    ];
    c.bench_function("autocomplete/demo-100000/7_prefixes", |b| {
        b.iter(|| {
            let found: usize = prefixes
                .iter()
                .map(|p| bench.engine.autocomplete(black_box(p), 8).len())
                .sum();
            assert!(found > 0);
            found
        })
    });
}

criterion_group!(benches, stages, autocomplete);
criterion_main!(benches);
