//! Brand-loyal shoppers, the ceiling of what re-ranking could give them, and taste
//! leaking across product types.
//!
//! For every judged query, a loyal shopper picks a brand among the query's
//! top-graded products and has viewed a dozen and bought two of that brand's other
//! products across its range (never the query's judged products). The query runs for
//! them unpersonalized and personalized, scored with persona-weighted NDCG@10 (a
//! relevant product of the brand gains twice its grade). The *ceiling* is the same
//! measure for a perfect re-sort of the unpersonalized top 100 by those gains: what
//! re-ranking alone could reach.
//!
//! Leaks: a shopper who only bought products of one type (one query's best products)
//! searches every *other* query; no hit there may be explained by a taste scoped to
//! product types (a price range or an attribute such as colour) — a notebook's price
//! band says nothing about toner.

use std::collections::HashMap;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::personas::shopper_id;
use super::{JudgedQuery, JudgedSet, K};
use crate::engine::Engine;
use crate::error::Result;
use crate::search::SearchRequest;

/// Seed of the loyal shoppers' histories.
const LOYALTY_SEED: u64 = 4_242;
/// Views and purchases in a loyal shopper's history.
const LOYAL_VIEWS: usize = 12;
const LOYAL_PURCHASES: usize = 2;
/// Depth of the unpersonalized list the ceiling re-sorts.
const CEILING_DEPTH: usize = 100;

/// Results of the loyalty suite.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoyaltyReport {
    pub shoppers: usize,
    pub ndcg_unpersonalized: f64,
    pub ndcg_personalized: f64,
    pub gain: f64,
    /// Persona NDCG of a perfect re-sort of the unpersonalized top 100.
    pub ndcg_ceiling: f64,
    pub ceiling_gain: f64,
    /// Hits of unrelated queries explained by a type-scoped taste (should be 0), and
    /// the personalized hits looked at.
    pub leaked_hits: usize,
    pub unrelated_hits: usize,
}

/// Brand and id of every product, from the snapshot's stored products.
fn brands(engine: &Engine) -> Result<Vec<(String, String)>> {
    let snapshot = engine.snapshot();
    let mut out = Vec::new();
    for (ord, segment) in snapshot.searcher.segment_readers().iter().enumerate() {
        for doc in 0..segment.max_doc() {
            if segment.alive_bitset().is_some_and(|a| !a.is_alive(doc)) {
                continue;
            }
            let address = tantivy::DocAddress::new(ord as u32, doc);
            let (id, product) = crate::search::load_product(&snapshot, address)?;
            if let Some(brand) = product.get("brand").and_then(|b| b.as_str()) {
                out.push((id, brand.to_string()));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn ranked(
    engine: &Engine,
    query: &str,
    shopper: &str,
    personalize: bool,
    depth: usize,
) -> Result<Vec<String>> {
    let request = SearchRequest {
        shopper: Some(shopper.to_string()),
        per_page: depth,
        personalize,
        ..SearchRequest::query(query)
    };
    Ok(engine
        .search(&request)?
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect())
}

/// Persona-weighted NDCG@10 of `ranked` for a shopper loyal to `brand`.
fn loyal_ndcg(
    ranked: &[String],
    query: &JudgedQuery,
    brand: &str,
    brand_of: &HashMap<&str, &str>,
) -> f64 {
    let gain = |id: &str| {
        let grade = query.grade(id) as f64;
        let loyal = brand_of.get(id).is_some_and(|b| *b == brand);
        grade * if loyal { 2.0 } else { 1.0 }
    };
    let dcg = |gains: &[f64]| -> f64 {
        gains
            .iter()
            .take(K)
            .enumerate()
            .map(|(i, g)| g / ((i + 2) as f64).log2())
            .sum()
    };
    let mut ideal: Vec<f64> = query.grades.keys().map(|id| gain(id)).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let best = dcg(&ideal);
    if best == 0.0 {
        return 0.0;
    }
    let gains: Vec<f64> = ranked.iter().map(|id| gain(id)).collect();
    dcg(&gains) / best
}

/// Runs the suite; `engine` must have a shopper store it may write to.
pub fn evaluate(engine: &Arc<Engine>, set: &JudgedSet) -> Result<LoyaltyReport> {
    let share = engine.snapshot().schema.affinity.holdout_share;
    let all = brands(engine)?;
    let brand_of: HashMap<&str, &str> = all
        .iter()
        .map(|(id, b)| (id.as_str(), b.as_str()))
        .collect();
    let mut by_brand: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, brand) in &all {
        by_brand
            .entry(brand.as_str())
            .or_default()
            .push(id.as_str());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(LOYALTY_SEED);
    let now = chrono::Utc::now();
    let mut report = LoyaltyReport {
        shoppers: 0,
        ndcg_unpersonalized: 0.0,
        ndcg_personalized: 0.0,
        gain: 0.0,
        ndcg_ceiling: 0.0,
        ceiling_gain: 0.0,
        leaked_hits: 0,
        unrelated_hits: 0,
    };
    for (n, query) in set.queries.iter().enumerate() {
        let mut best: Vec<&str> = query
            .grades
            .iter()
            .filter(|(_, g)| **g == query.top_grade())
            .filter_map(|(id, _)| brand_of.get(id.as_str()).copied())
            .collect();
        best.sort();
        best.dedup();
        if best.is_empty() {
            continue;
        }
        let brand = best[rng.random_range(0..best.len())];
        let range: Vec<&str> = by_brand
            .get(brand)
            .map(|ids| {
                ids.iter()
                    .copied()
                    .filter(|id| !query.grades.contains_key(*id))
                    .collect()
            })
            .unwrap_or_default();
        if range.len() < 3 {
            continue;
        }
        let shopper = shopper_id("loyal", n, share);
        let events: Vec<serde_json::Value> = (0..LOYAL_VIEWS + LOYAL_PURCHASES)
            .map(|i| {
                let kind = if i < LOYAL_VIEWS { "view" } else { "purchase" };
                let product = range[rng.random_range(0..range.len())];
                let ts =
                    now - chrono::Duration::hours((LOYAL_VIEWS + LOYAL_PURCHASES - i) as i64 * 20);
                json!({"type": kind, "shopper": shopper, "product": product, "ts": ts.to_rfc3339()})
            })
            .collect();
        engine.record_events(&serde_json::to_vec(&events).unwrap_or_default())?;
        let before = ranked(engine, &query.text, &shopper, false, CEILING_DEPTH)?;
        let after = ranked(engine, &query.text, &shopper, true, K)?;
        let mut ceiling = before.clone();
        ceiling.sort_by(|a, b| {
            let g = |id: &str| {
                query.grade(id) as f64
                    * if brand_of.get(id) == Some(&brand) {
                        2.0
                    } else {
                        1.0
                    }
            };
            g(b).total_cmp(&g(a))
        });
        report.ndcg_unpersonalized += loyal_ndcg(&before, query, brand, &brand_of);
        report.ndcg_personalized += loyal_ndcg(&after, query, brand, &brand_of);
        report.ndcg_ceiling += loyal_ndcg(&ceiling, query, brand, &brand_of);
        report.shoppers += 1;
    }
    if report.shoppers > 0 {
        let n = report.shoppers as f64;
        report.ndcg_unpersonalized /= n;
        report.ndcg_personalized /= n;
        report.ndcg_ceiling /= n;
        if report.ndcg_unpersonalized > 0.0 {
            report.gain = report.ndcg_personalized / report.ndcg_unpersonalized - 1.0;
            report.ceiling_gain = report.ndcg_ceiling / report.ndcg_unpersonalized - 1.0;
        }
    }
    count_leaks(engine, set, share, &mut report)?;
    Ok(report)
}

/// A shopper who bought only one query's best products searches the other queries;
/// counts hits explained by a price range or an attribute taste.
fn count_leaks(
    engine: &Arc<Engine>,
    set: &JudgedSet,
    share: f64,
    report: &mut LoyaltyReport,
) -> Result<()> {
    let Some(source) = set.queries.first() else {
        return Ok(());
    };
    let mut picks: Vec<&String> = source
        .grades
        .iter()
        .filter(|(_, g)| **g == source.top_grade())
        .map(|(id, _)| id)
        .collect();
    picks.sort();
    picks.truncate(8);
    let shopper = shopper_id("one-type", 0, share);
    let events: Vec<serde_json::Value> = picks
        .iter()
        .map(|id| json!({"type": "purchase", "shopper": shopper, "product": id}))
        .collect();
    engine.record_events(&serde_json::to_vec(&events).unwrap_or_default())?;
    let snapshot = engine.snapshot();
    let bought: Vec<u32> = picks
        .iter()
        .flat_map(|id| types_of(&snapshot, id))
        .collect();
    for query in set.queries.iter().skip(1) {
        let request = SearchRequest {
            shopper: Some(shopper.clone()),
            per_page: K,
            explain: true,
            ..SearchRequest::query(query.text.clone())
        };
        for hit in engine.search(&request)?.hits {
            report.unrelated_hits += 1;
            let feature = hit
                .explain
                .and_then(|e| e.because_feature)
                .unwrap_or_default();
            let scoped = feature == crate::affinity::PRICE_BAND || feature.contains('.');
            let unrelated = !types_of(&snapshot, &hit.id)
                .iter()
                .any(|t| bought.contains(t));
            if scoped && unrelated {
                report.leaked_hits += 1;
            }
        }
    }
    Ok(())
}

/// The product type ids of product `id`.
fn types_of(snapshot: &crate::index::Snapshot, id: &str) -> Vec<u32> {
    let column = snapshot
        .vocabulary
        .column_id(crate::schema::fields::TYPE_COLUMN);
    match (snapshot.find(id), column) {
        (Some(address), Some(column)) => snapshot
            .columns
            .get(address.segment_ord as usize)
            .and_then(|c| c.keyword(column))
            .map(|c| c.values(address.doc_id).to_vec())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// The report as lines for a terminal.
pub fn render(r: &LoyaltyReport) -> String {
    format!(
        "brand-loyal shoppers ({} shoppers)\n  persona NDCG@10: {:.4} unpersonalized → {:.4} personalized ({:+.1}%); ceiling (perfect re-sort of the top {CEILING_DEPTH}) {:.4} ({:+.1}%)\n  taste leaking across types: {} of {} hits of other queries are of another product type and explained by a price or attribute taste\n",
        r.shoppers,
        r.ndcg_unpersonalized,
        r.ndcg_personalized,
        r.gain * 100.0,
        r.ndcg_ceiling,
        r.ceiling_gain * 100.0,
        r.leaked_hits,
        r.unrelated_hits,
    )
}
