//! Session co-occurrence: which products shoppers look at, or buy, together.
//!
//! In: events with their session ([`Attribution`]). Views and clicks of one session
//! pair up for `also_viewed`; add-to-carts and purchases of one session pair up for
//! `bought_together`. Each pair is symmetric and counts each shopper once (their first
//! time); its weight decays by half every half-life, so old habits fade. Out: a
//! product's neighbours, strongest now first, with how many shoppers made each pair.
//!
//! Bounded: a session pairs at most [`MAX_SESSION_PRODUCTS`] distinct products per
//! kind, a product keeps its [`MAX_NEIGHBOURS`] strongest neighbours (pruned from
//! twice that, so newcomers get a chance to grow), a pair remembers at most
//! [`MAX_PAIR_SHOPPERS`] shoppers (its count stops there, 4 bytes each), and the whole
//! model holds at most [`MAX_PAIRS`] pairs: past that, the weakest half now are
//! forgotten at once. Memory is then bounded whatever the catalog's size and however
//! many shoppers come: about 64 bytes per pair plus its shoppers.

use std::collections::HashMap;

use serde::Serialize;

use super::{Attribution, CrowdSettings};
use crate::events::{Event, EventKind};

/// Distinct products per session and kind that pair up.
pub const MAX_SESSION_PRODUCTS: usize = 20;
/// Neighbours kept per product and kind.
pub const MAX_NEIGHBOURS: usize = 50;
/// Shoppers remembered per pair (the count saturates there).
pub const MAX_PAIR_SHOPPERS: usize = 256;
/// Pairs (one direction each) the model holds at most.
pub const MAX_PAIRS: usize = 400_000;

/// Which co-occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationKind {
    AlsoViewed,
    BoughtTogether,
}

impl RecommendationKind {
    pub fn parse(text: &str) -> Option<RecommendationKind> {
        match text {
            "also_viewed" => Some(RecommendationKind::AlsoViewed),
            "bought_together" => Some(RecommendationKind::BoughtTogether),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RecommendationKind::AlsoViewed => "also_viewed",
            RecommendationKind::BoughtTogether => "bought_together",
        }
    }

    fn of(kind: EventKind) -> Option<RecommendationKind> {
        match kind {
            EventKind::View | EventKind::Click => Some(RecommendationKind::AlsoViewed),
            EventKind::AddToCart | EventKind::Purchase => Some(RecommendationKind::BoughtTogether),
            EventKind::Search => None,
        }
    }
}

/// A neighbour of a product.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    pub product: String,
    /// Decayed weight now.
    pub weight: f64,
    /// Distinct shoppers who made the pair (at most [`MAX_PAIR_SHOPPERS`]).
    pub shoppers: usize,
}

/// One pair's evidence: a decayed weight as of `at`, and who made it (32 bits of
/// each shopper's hash: among at most [`MAX_PAIR_SHOPPERS`], two alike are a
/// one-in-a-hundred-thousand chance, and cost one count).
#[derive(Debug, Clone, Default)]
struct Pair {
    weight: f64,
    at: i64,
    /// The latest time any shopper made the pair, counted or not (retention keeps the
    /// pair while this is inside the window: a restart would rebuild it from there).
    last: i64,
    shoppers: Vec<u32>,
}

impl Pair {
    fn weight_at(&self, now: i64, half_life: f64) -> f64 {
        self.weight * decay(now - self.at, half_life)
    }

    fn add(&mut self, shopper: u64, ts: i64, half_life: f64) {
        self.last = self.last.max(ts);
        let short = shopper as u32;
        if self.shoppers.len() >= MAX_PAIR_SHOPPERS || self.shoppers.contains(&short) {
            return;
        }
        self.shoppers.push(short);
        if ts >= self.at {
            self.weight = self.weight * decay(ts - self.at, half_life) + 1.0;
            self.at = ts;
        } else {
            self.weight += decay(self.at - ts, half_life);
        }
    }
}

/// Keeps the `keep` shoppers who bought most recently (ties at the cut all stay).
fn forget_least_recent_buyers(bought: &mut HashMap<u64, Purchases>, keep: usize) {
    let mut times: Vec<i64> = bought.values().map(|p| p.last_ts).collect();
    if times.len() <= keep {
        return;
    }
    let cut = times.len() - keep;
    let (_, &mut oldest_kept, _) = times.select_nth_unstable(cut);
    bought.retain(|_, p| p.last_ts >= oldest_kept);
}

/// 2^(-age / half_life); ages in the future count as now.
fn decay(age: i64, half_life: f64) -> f64 {
    (-(age.max(0) as f64) / half_life).exp2()
}

/// The products of a shopper's current session.
#[derive(Debug, Default)]
struct Basket {
    session: u64,
    last_ts: i64,
    viewed: Vec<String>,
    bought: Vec<String>,
}

/// Co-occurrence of both kinds.
pub struct CoOccurrence {
    settings: CrowdSettings,
    baskets: HashMap<u64, Basket>,
    pairs: HashMap<(RecommendationKind, String), HashMap<String, Pair>>,
    /// Pairs held now, and the most allowed ([`MAX_PAIRS`]).
    pair_count: usize,
    pair_budget: usize,
    /// What each shopper bought (latest [`MAX_SESSION_PRODUCTS`] × 5), for "for you",
    /// with the time of their last purchase; at most about [`MAX_BUYERS`] shoppers.
    bought: HashMap<u64, Purchases>,
    /// Product events seen, to drop finished sessions now and then.
    seen: u64,
}

/// Finished sessions are dropped from memory every this many product events.
const PRUNE_EVERY: u64 = 20_000;

/// Shoppers whose purchases are remembered for "for you". Past twice this many, the
/// half who bought least recently are forgotten (their "for you" may then offer what
/// they bought long ago, as after a restart once retention dropped those events).
pub const MAX_BUYERS: usize = 100_000;

/// One shopper's purchases, latest last, and when they last bought.
#[derive(Debug, Default)]
struct Purchases {
    last_ts: i64,
    products: Vec<String>,
}

impl CoOccurrence {
    pub fn new(settings: CrowdSettings) -> CoOccurrence {
        CoOccurrence {
            settings,
            baskets: HashMap::new(),
            pairs: HashMap::new(),
            pair_count: 0,
            pair_budget: MAX_PAIRS,
            bought: HashMap::new(),
            seen: 0,
        }
    }

    /// The same model holding at most `pairs` pairs (tests use small budgets).
    pub fn with_pair_budget(mut self, pairs: usize) -> CoOccurrence {
        self.pair_budget = pairs.max(2);
        self
    }

    /// Pairs a product event with the session's other products of its kind.
    pub fn observe(&mut self, event: &Event, attribution: &Attribution) {
        let (Some(kind), Some(product)) = (RecommendationKind::of(event.kind), &event.product)
        else {
            return;
        };
        if event.kind == EventKind::Purchase {
            let purchases = self.bought.entry(attribution.shopper).or_default();
            purchases.last_ts = purchases.last_ts.max(event.ts);
            let bought = &mut purchases.products;
            if !bought.contains(product) {
                bought.push(product.clone());
                if bought.len() > MAX_SESSION_PRODUCTS * 5 {
                    bought.remove(0);
                }
            }
            if self.bought.len() > 2 * MAX_BUYERS {
                forget_least_recent_buyers(&mut self.bought, MAX_BUYERS);
            }
        }
        self.seen += 1;
        if self.seen.is_multiple_of(PRUNE_EVERY) {
            let gap = self.settings.session_gap_seconds;
            self.baskets
                .retain(|_, b| event.ts.saturating_sub(b.last_ts) < gap);
        }
        let basket = self.baskets.entry(attribution.shopper).or_default();
        if basket.session != attribution.session {
            *basket = Basket {
                session: attribution.session,
                ..Basket::default()
            };
        }
        basket.last_ts = basket.last_ts.max(event.ts);
        let list = match kind {
            RecommendationKind::AlsoViewed => &mut basket.viewed,
            RecommendationKind::BoughtTogether => &mut basket.bought,
        };
        if list.contains(product) || list.len() >= MAX_SESSION_PRODUCTS {
            return;
        }
        let others = list.clone();
        list.push(product.clone());
        let half_life = self.settings.half_life_seconds;
        for other in others {
            for (a, b) in [(product, &other), (&other, product)] {
                let neighbours = self.pairs.entry((kind, a.clone())).or_default();
                let before = neighbours.len();
                neighbours.entry(b.clone()).or_default().add(
                    attribution.shopper,
                    event.ts,
                    half_life,
                );
                if neighbours.len() > 2 * MAX_NEIGHBOURS {
                    prune(neighbours, event.ts, half_life);
                }
                self.pair_count = self.pair_count + neighbours.len() - before;
            }
        }
        if self.pair_count > self.pair_budget {
            self.forget_weakest_pairs(event.ts);
        }
    }

    /// Keeps the strongest half of the pair budget (weights at `now`), so the model
    /// stays within [`MAX_PAIRS`] at the cost of one pass every half budget.
    fn forget_weakest_pairs(&mut self, now: i64) {
        let half_life = self.settings.half_life_seconds;
        let keep = self.pair_budget / 2;
        let mut weights: Vec<f64> = self
            .pairs
            .values()
            .flat_map(|n| n.values().map(|p| p.weight_at(now, half_life)))
            .collect();
        if weights.len() <= keep {
            return;
        }
        let cut = weights.len() - keep;
        let (_, &mut threshold, _) = weights.select_nth_unstable_by(cut, f64::total_cmp);
        // Strictly above the threshold, so ties at the cut cannot keep more than half.
        for neighbours in self.pairs.values_mut() {
            neighbours.retain(|_, p| p.weight_at(now, half_life) > threshold);
        }
        self.pairs.retain(|_, n| !n.is_empty());
        self.pair_count = self.pairs.values().map(HashMap::len).sum();
        crate::memory::release_free_pages();
    }

    /// Forgets what only events stamped before `cutoff` made (retention): pairs last
    /// made before it, purchases of shoppers who bought nothing since, and sessions
    /// idle since. Pairs made again inside the window keep their whole (decayed)
    /// weight and shopper count.
    pub fn forget_before(&mut self, cutoff: i64) {
        for neighbours in self.pairs.values_mut() {
            neighbours.retain(|_, p| p.last >= cutoff);
        }
        self.pairs.retain(|_, n| !n.is_empty());
        self.pair_count = self.pairs.values().map(HashMap::len).sum();
        self.bought.retain(|_, p| p.last_ts >= cutoff);
        self.baskets.retain(|_, b| b.last_ts >= cutoff);
    }

    /// The product's neighbours of `kind`, strongest at `now` first.
    pub fn neighbours(&self, product: &str, kind: RecommendationKind, now: i64) -> Vec<Neighbour> {
        let half_life = self.settings.half_life_seconds;
        let Some(pairs) = self.pairs.get(&(kind, product.to_string())) else {
            return Vec::new();
        };
        let mut out: Vec<Neighbour> = pairs
            .iter()
            .map(|(id, pair)| Neighbour {
                product: id.clone(),
                weight: pair.weight_at(now, half_life),
                shoppers: pair.shoppers.len(),
            })
            .collect();
        out.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then_with(|| a.product.cmp(&b.product))
        });
        out.truncate(MAX_NEIGHBOURS);
        out
    }

    /// What the shopper bought (latest last).
    pub fn bought_by(&self, shopper: u64) -> Vec<String> {
        self.bought
            .get(&shopper)
            .map(|p| p.products.clone())
            .unwrap_or_default()
    }

    /// Products with neighbours of either kind (for memory checks).
    pub fn products(&self) -> usize {
        self.pairs.len()
    }

    /// Pairs held (one direction each).
    pub fn pairs(&self) -> usize {
        self.pair_count
    }
}

/// Keeps the [`MAX_NEIGHBOURS`] strongest neighbours.
fn prune(neighbours: &mut HashMap<String, Pair>, now: i64, half_life: f64) {
    let mut weights: Vec<f64> = neighbours
        .values()
        .map(|p| p.weight_at(now, half_life))
        .collect();
    weights.sort_by(|a, b| b.total_cmp(a));
    let Some(&threshold) = weights.get(MAX_NEIGHBOURS - 1) else {
        return;
    };
    neighbours.retain(|_, p| p.weight_at(now, half_life) >= threshold);
    if neighbours.len() > MAX_NEIGHBOURS {
        let mut ids: Vec<(f64, String)> = neighbours
            .iter()
            .map(|(id, p)| (p.weight_at(now, half_life), id.clone()))
            .collect();
        ids.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (_, id) in ids.into_iter().skip(MAX_NEIGHBOURS) {
            neighbours.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crowd::Sessions;
    use crate::events::Variant;

    fn feed(
        model: &mut CoOccurrence,
        sessions: &mut Sessions,
        events: &[(&str, EventKind, &str, i64)],
    ) {
        for (shopper, kind, product, ts) in events {
            let event = Event {
                kind: *kind,
                shopper: shopper.to_string(),
                product: Some(product.to_string()),
                query: None,
                position: None,
                ts: *ts,
                variant: Variant::Personalized,
                served: None,
            };
            let attribution = sessions.observe(&event);
            model.observe(&event, &attribution);
        }
    }

    #[test]
    fn the_model_never_holds_more_pairs_than_its_budget_and_keeps_the_strongest() {
        let settings = CrowdSettings::default();
        let mut model = CoOccurrence::new(settings).with_pair_budget(400);
        let mut sessions = Sessions::new(settings);
        // A pair many shoppers make, then many one-off pairs from new shoppers.
        for i in 0..20 {
            let shopper = format!("fan{i}");
            feed(
                &mut model,
                &mut sessions,
                &[
                    (shopper.as_str(), EventKind::View, "lamp", 0),
                    (shopper.as_str(), EventKind::View, "shade", 1),
                ],
            );
        }
        let mut most = 0;
        for i in 0..2_000 {
            let shopper = format!("s{i}");
            let (a, b) = (format!("p{}", i % 97), format!("q{}", i % 89));
            feed(
                &mut model,
                &mut sessions,
                &[
                    (shopper.as_str(), EventKind::View, a.as_str(), 2),
                    (shopper.as_str(), EventKind::View, b.as_str(), 3),
                ],
            );
            most = most.max(model.pairs());
        }
        assert!(most <= 400 + 2, "held {most} pairs");
        let counted: usize = model.pairs.values().map(HashMap::len).sum();
        assert_eq!(model.pairs(), counted, "the count follows the pairs");
        let lamp = model.neighbours("lamp", RecommendationKind::AlsoViewed, 3);
        assert_eq!(lamp[0].product, "shade", "the strong pair survives");
        assert_eq!(lamp[0].shoppers, 20);
    }

    #[test]
    fn the_least_recent_buyers_are_forgotten_first() {
        let mut bought: HashMap<u64, Purchases> = (0..10u64)
            .map(|shopper| {
                let purchases = Purchases {
                    last_ts: 100 + (shopper as i64 * 7) % 10,
                    products: vec![format!("p{shopper}")],
                };
                (shopper, purchases)
            })
            .collect();
        forget_least_recent_buyers(&mut bought, 4);
        let mut kept: Vec<i64> = bought.values().map(|p| p.last_ts).collect();
        kept.sort();
        assert_eq!(kept, vec![106, 107, 108, 109]);
        forget_least_recent_buyers(&mut bought, 10);
        assert_eq!(bought.len(), 4, "under the bound nothing goes");
    }

    #[test]
    fn pairs_count_each_shopper_once_and_stay_within_a_session() {
        let settings = CrowdSettings::default();
        let (mut model, mut sessions) = (CoOccurrence::new(settings), Sessions::new(settings));
        use EventKind::*;
        feed(
            &mut model,
            &mut sessions,
            &[
                ("a", View, "x", 0),
                ("a", View, "y", 10),
                ("a", View, "x", 20),
                ("a", View, "y", 30),
                ("b", View, "x", 0),
                ("b", Click, "y", 5),
                ("c", View, "x", 0),
                ("c", View, "z", 100_000), // another session: no pair
                ("d", Purchase, "x", 0),
                ("d", AddToCart, "w", 1),
            ],
        );
        let viewed = model.neighbours("x", RecommendationKind::AlsoViewed, 30);
        assert_eq!(viewed.len(), 1);
        assert_eq!(viewed[0].product, "y");
        assert_eq!(viewed[0].shoppers, 2);
        assert!(
            (viewed[0].weight - 2.0).abs() < 0.01,
            "{}",
            viewed[0].weight
        );
        let bought = model.neighbours("w", RecommendationKind::BoughtTogether, 1);
        assert_eq!(bought[0].product, "x");
        assert_eq!(model.bought_by(crate::crowd::shopper_hash("d")), vec!["x"]);
    }

    #[test]
    fn weights_halve_with_the_half_life_and_neighbours_are_capped() {
        let settings = CrowdSettings {
            session_gap_seconds: 1_000_000,
            half_life_seconds: 100.0,
        };
        let (mut model, mut sessions) = (CoOccurrence::new(settings), Sessions::new(settings));
        feed(
            &mut model,
            &mut sessions,
            &[
                ("a", EventKind::View, "x", 0),
                ("a", EventKind::View, "y", 0),
            ],
        );
        let later = model.neighbours("x", RecommendationKind::AlsoViewed, 100);
        assert!((later[0].weight - 0.5).abs() < 1e-9);
        for i in 0..300 {
            let shopper = format!("s{i}");
            let other = format!("p{i}");
            feed(
                &mut model,
                &mut sessions,
                &[
                    (shopper.as_str(), EventKind::View, "x", 0),
                    (shopper.as_str(), EventKind::View, other.as_str(), 0),
                ],
            );
        }
        assert!(
            model.pairs[&(RecommendationKind::AlsoViewed, "x".to_string())].len()
                <= 2 * MAX_NEIGHBOURS
        );
        assert!(
            model
                .neighbours("x", RecommendationKind::AlsoViewed, 0)
                .len()
                <= MAX_NEIGHBOURS
        );
    }
}
