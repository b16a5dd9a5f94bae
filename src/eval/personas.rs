//! The personalization suite: simulated shoppers with known tastes.
//!
//! For every judged query, a persona takes its taste from one of the query's
//! top-graded products — its brand, colour and price band (never its category: the
//! query already names what the shopper wants) — and gets a history of views, clicks,
//! carts and purchases on other catalog products sharing that taste, spread over the
//! last weeks with the last few in the current session. Then the query runs twice for
//! that shopper, personalized and not, and is scored with *persona-weighted* NDCG@10:
//! a relevant product gains `grade × (1 + share of the taste it matches)`, so the
//! ideal list puts relevant products of the shopper's taste first.
//!
//! A second pass gives every query a shopper with a random history and checks that
//! plain NDCG@10 does not fall: personalization must not cost relevance.

use std::collections::HashMap;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{JudgedQuery, JudgedSet, K, metrics};
use crate::affinity::{PRICE_BAND, product_features};
use crate::engine::Engine;
use crate::error::Result;
use crate::index::Snapshot;
use crate::search::SearchRequest;
use crate::shoppers::in_holdout;

/// Seed of the simulated histories.
pub const PERSONA_SEED: u64 = 7_771;
/// Events in a simulated history.
pub const HISTORY_EVENTS: usize = 12;
/// Of those, the last this many fall in the current session.
const SESSION_EVENTS: usize = 3;

/// Results of the personalization suite.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PersonaReport {
    pub personas: usize,
    /// Persona-weighted NDCG@10 without and with personalization.
    pub persona_ndcg_unpersonalized: f64,
    pub persona_ndcg_personalized: f64,
    /// Relative gain, personalized over unpersonalized.
    pub persona_gain: f64,
    /// Plain NDCG@10 for shoppers with random histories, without and with.
    pub random_ndcg_unpersonalized: f64,
    pub random_ndcg_personalized: f64,
}

/// A product's features, and who has which, for the catalog of the snapshot.
struct Catalog {
    ids: Vec<String>,
    features: Vec<Vec<String>>,
    by_feature: HashMap<String, Vec<usize>>,
}

impl Catalog {
    fn read(snapshot: &Snapshot) -> Catalog {
        let mut catalog = Catalog {
            ids: Vec::new(),
            features: Vec::new(),
            by_feature: HashMap::new(),
        };
        for (ord, segment) in snapshot.searcher.segment_readers().iter().enumerate() {
            for doc in 0..segment.max_doc() {
                if segment.alive_bitset().is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                let address = tantivy::DocAddress::new(ord as u32, doc);
                let Ok((id, _)) = crate::search::load_product(snapshot, address) else {
                    continue;
                };
                let (features, _) = product_features(snapshot, address);
                catalog.ids.push(id);
                catalog.features.push(features);
            }
        }
        // Product order, not index order (which differs between builds), so the
        // simulated histories are the same on every run.
        let mut order: Vec<usize> = (0..catalog.ids.len()).collect();
        order.sort_by(|&a, &b| catalog.ids[a].cmp(&catalog.ids[b]));
        catalog.ids = order.iter().map(|&i| catalog.ids[i].clone()).collect();
        catalog.features = order.iter().map(|&i| catalog.features[i].clone()).collect();
        for (index, features) in catalog.features.iter().enumerate() {
            for f in features {
                catalog.by_feature.entry(f.clone()).or_default().push(index);
            }
        }
        catalog
    }

    fn index_of(&self) -> HashMap<&str, usize> {
        self.ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect()
    }
}

/// A taste: features outside the category (brand, colour, price band ...).
fn taste_of(features: &[String]) -> Vec<String> {
    features
        .iter()
        .filter(|f| !f.starts_with("category=") && !f.starts_with("_type="))
        .cloned()
        .collect()
}

/// Share of `taste` a product's features match.
fn taste_match(taste: &[String], features: &[String]) -> f64 {
    if taste.is_empty() {
        return 0.0;
    }
    taste.iter().filter(|t| features.contains(t)).count() as f64 / taste.len() as f64
}

/// Persona-weighted NDCG@10.
fn persona_ndcg(
    ranked: &[String],
    query: &JudgedQuery,
    taste: &[String],
    catalog: &Catalog,
    index: &HashMap<&str, usize>,
) -> f64 {
    let gain = |id: &str| -> f64 {
        let grade = query.grade(id) as f64;
        if grade == 0.0 {
            return 0.0;
        }
        let m = index
            .get(id)
            .map(|&i| taste_match(taste, &catalog.features[i]))
            .unwrap_or(0.0);
        grade * (1.0 + m)
    };
    let mut ideal: Vec<f64> = query.grades.keys().map(|id| gain(id)).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let dcg = |gains: &mut dyn Iterator<Item = f64>| -> f64 {
        gains
            .take(K)
            .enumerate()
            .map(|(i, g)| g / ((i + 2) as f64).log2())
            .sum()
    };
    let best = dcg(&mut ideal.into_iter());
    if best == 0.0 {
        return 0.0;
    }
    dcg(&mut ranked.iter().map(|id| gain(id))) / best
}

/// A shopper id outside the holdout group.
pub(super) fn shopper_id(prefix: &str, n: usize, share: f64) -> String {
    (0..)
        .map(|i| format!("{prefix}-{n}-{i}"))
        .find(|id| !in_holdout(id, share))
        .unwrap_or_else(|| format!("{prefix}-{n}"))
}

/// A history of events on `products`, oldest first, as a batch body.
fn history(shopper: &str, products: &[&str], rng: &mut ChaCha8Rng, now: i64) -> Vec<u8> {
    let kinds = [
        "view",
        "view",
        "view",
        "click",
        "click",
        "add_to_cart",
        "purchase",
    ];
    let events: Vec<serde_json::Value> = products
        .iter()
        .enumerate()
        .map(|(i, product)| {
            let age = if i + SESSION_EVENTS >= products.len() {
                rng.random_range(60..1_200)
            } else {
                rng.random_range(2 * 86_400..30 * 86_400)
            };
            let ts = crate::catalog::format_date(now - age);
            json!({"type": kinds[rng.random_range(0..kinds.len())], "shopper": shopper, "product": product, "ts": ts})
        })
        .collect();
    serde_json::to_vec(&events).unwrap_or_default()
}

fn ranked(engine: &Engine, query: &str, shopper: &str, personalize: bool) -> Result<Vec<String>> {
    let request = SearchRequest {
        shopper: Some(shopper.to_string()),
        per_page: K,
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

/// Runs the suite; `engine` must have a shopper store it may write to.
pub fn evaluate(engine: &Arc<Engine>, set: &JudgedSet) -> Result<PersonaReport> {
    let snapshot = engine.snapshot();
    let share = snapshot.schema.affinity.holdout_share;
    let catalog = Catalog::read(&snapshot);
    let index = catalog.index_of();
    let mut rng = ChaCha8Rng::seed_from_u64(PERSONA_SEED);
    let now = chrono::Utc::now().timestamp();
    let (mut before, mut after, mut personas) = (0.0, 0.0, 0usize);
    let (mut random_before, mut random_after) = (0.0, 0.0);
    for (n, query) in set.queries.iter().enumerate() {
        // The persona's taste comes from one of the query's best products.
        let mut best: Vec<&String> = query
            .grades
            .iter()
            .filter(|(_, g)| **g == query.top_grade())
            .map(|(id, _)| id)
            .collect();
        best.sort();
        let seed = best
            .iter()
            .filter_map(|id| index.get(id.as_str()))
            .copied()
            .collect::<Vec<_>>();
        if seed.is_empty() {
            continue;
        }
        let taste = taste_of(&catalog.features[seed[rng.random_range(0..seed.len())]]);
        let sharing = products_sharing(&catalog, &taste, &query.grades);
        if taste.is_empty() || sharing.is_empty() {
            continue;
        }
        let picks: Vec<&str> = (0..HISTORY_EVENTS)
            .map(|_| catalog.ids[sharing[rng.random_range(0..sharing.len())]].as_str())
            .collect();
        let shopper = shopper_id("persona", n, share);
        engine.record_events(&history(&shopper, &picks, &mut rng, now))?;
        let b = persona_ndcg(
            &ranked(engine, &query.text, &shopper, false)?,
            query,
            &taste,
            &catalog,
            &index,
        );
        let a = persona_ndcg(
            &ranked(engine, &query.text, &shopper, true)?,
            query,
            &taste,
            &catalog,
            &index,
        );
        before += b;
        after += a;
        personas += 1;

        // A shopper with a random history: plain NDCG must hold.
        let random: Vec<&str> = (0..HISTORY_EVENTS)
            .map(|_| catalog.ids[rng.random_range(0..catalog.ids.len())].as_str())
            .collect();
        let shopper = shopper_id("random", n, share);
        engine.record_events(&history(&shopper, &random, &mut rng, now))?;
        random_before += metrics::ndcg(&ranked(engine, &query.text, &shopper, false)?, query, K);
        random_after += metrics::ndcg(&ranked(engine, &query.text, &shopper, true)?, query, K);
    }
    let mean = |x: f64| {
        if personas > 0 {
            x / personas as f64
        } else {
            0.0
        }
    };
    let (before, after) = (mean(before), mean(after));
    Ok(PersonaReport {
        personas,
        persona_ndcg_unpersonalized: before,
        persona_ndcg_personalized: after,
        persona_gain: if before > 0.0 {
            after / before - 1.0
        } else {
            0.0
        },
        random_ndcg_unpersonalized: mean(random_before),
        random_ndcg_personalized: mean(random_after),
    })
}

/// Catalog products sharing the taste's brand (or, without a brand, any of it), and
/// not judged for the query: the history never shows the shopper the answers.
fn products_sharing(
    catalog: &Catalog,
    taste: &[String],
    judged: &HashMap<String, u8>,
) -> Vec<usize> {
    let anchor = taste
        .iter()
        .find(|t| t.starts_with("brand="))
        .or_else(|| taste.iter().find(|t| !t.starts_with(PRICE_BAND)))
        .or_else(|| taste.first());
    let Some(anchor) = anchor else {
        return Vec::new();
    };
    let mut found: Vec<usize> = catalog
        .by_feature
        .get(anchor)
        .map(|v| {
            v.iter()
                .copied()
                .filter(|&i| !judged.contains_key(&catalog.ids[i]))
                .collect()
        })
        .unwrap_or_default();
    // Prefer products matching more of the taste.
    found.sort_by(|&a, &b| {
        taste_match(taste, &catalog.features[b])
            .total_cmp(&taste_match(taste, &catalog.features[a]))
            .then(a.cmp(&b))
    });
    found.truncate(50);
    found
}

/// The report as lines for a terminal.
pub fn render(report: &PersonaReport) -> String {
    format!(
        "personalization ({} personas)\n  persona NDCG@10: {:.4} unpersonalized → {:.4} personalized ({:+.1}%)\n  random-history NDCG@10: {:.4} unpersonalized → {:.4} personalized\n",
        report.personas,
        report.persona_ndcg_unpersonalized,
        report.persona_ndcg_personalized,
        report.persona_gain * 100.0,
        report.random_ndcg_unpersonalized,
        report.random_ndcg_personalized
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taste_matches_count_shared_features() {
        let taste = vec!["brand=A".to_string(), "attributes.color=Red".to_string()];
        let features = vec!["brand=A".to_string(), "category=X".to_string()];
        assert_eq!(taste_match(&taste, &features), 0.5);
        assert_eq!(
            taste_of(&["category=X".into(), "brand=A".into()]),
            ["brand=A"]
        );
    }
}
