//! Position bias learned from the store's own clicks, and the crowd's coarse verdict on
//! a product for one query (the `learned` ranking criterion).
//!
//! Input: per query, the distinct shoppers who ran it, each product's engaged shoppers
//! and the query's unlearned ranking (what shoppers saw). Output: [`PositionShape`],
//! the share of all engagement that lands at each position of the first page, learned
//! from the other queries' clicks (so random clicks give a flat shape and a real,
//! attention-fading crowd a steep one), and [`verdicts`], per product: preferred (+1) or passed
//! over (-1). Products without strong evidence get no verdict (neutral).
//!
//! * **passed over**: shoppers who engaged with a product ranked below it looked at it
//!   and skipped it ("skip above"); shoppers who engaged with nothing looked at the top
//!   of the page, each position as likely as the position shape says. Its engagement
//!   over those examinations is compared with the rate of the query's chosen products
//!   (those several distinct shoppers engaged with):
//!   passed over when at least [`MIN_SHOPPERS`] distinct shoppers skipped it and so few
//!   engagements would happen by chance less than [`PASSED_OVER_CHANCE`] of the time.
//! * **preferred**: at least [`MIN_SHOPPERS`] distinct shoppers engaged and its
//!   position-corrected signal (clicks over expected clicks, see `super::evidence`) is
//!   at least [`PREFERRED_SIGNAL`].

use std::collections::{HashMap, HashSet};

use super::MIN_SHOPPERS;

/// Positions of the first page, where shoppers look.
pub const PAGE: usize = 20;
/// Examination probability of position `k` before any click is seen: `k^-DECAY`.
const PRIOR_DECAY: f32 = 0.8;
/// Pseudo-engagements spread by the prior shape: how much data it takes to learn one.
const PRIOR_WEIGHT: f32 = 20.0;
/// A product whose engagement is this unlikely at the query's rate is passed over.
pub const PASSED_OVER_CHANCE: f64 = 0.01;
/// Position-corrected signal (in [0, 1]) from which a product is preferred.
pub const PREFERRED_SIGNAL: f32 = 0.5;

/// Share of a query's engagement that lands at each 1-based position of the first page.
#[derive(Debug, Clone)]
pub struct PositionShape {
    share: [f32; PAGE],
}

fn prior(k: usize) -> f32 {
    (k.max(1) as f32).powf(-PRIOR_DECAY)
}

impl Default for PositionShape {
    fn default() -> Self {
        PositionShape::learn(std::iter::empty())
    }
}

impl PositionShape {
    /// The shape of `counts`: per query, distinct engaged shoppers per position.
    pub fn learn<'a>(counts: impl Iterator<Item = &'a [f32; PAGE]>) -> PositionShape {
        let mut total = [0.0f32; PAGE];
        for c in counts {
            for (t, v) in total.iter_mut().zip(c) {
                *t += v;
            }
        }
        PositionShape::of(&total)
    }

    /// The shape of every query's `total` counts but one query's `own`: a query's
    /// position bias is learned from the others, so its own choices are not taken for
    /// the bias they should be measured against.
    pub fn without(total: &[f32; PAGE], own: &[f32; PAGE]) -> PositionShape {
        let mut rest = [0.0f32; PAGE];
        for (k, r) in rest.iter_mut().enumerate() {
            *r = (total[k] - own[k]).max(0.0);
        }
        PositionShape::of(&rest)
    }

    fn of(total: &[f32; PAGE]) -> PositionShape {
        let prior_sum: f32 = (1..=PAGE).map(prior).sum();
        let seen: f32 = total.iter().sum();
        let mut share = [0.0f32; PAGE];
        for (k, s) in share.iter_mut().enumerate() {
            *s = (total[k] + PRIOR_WEIGHT * prior(k + 1) / prior_sum) / (seen + PRIOR_WEIGHT);
        }
        PositionShape { share }
    }

    /// Share of engagement at 1-based position `k` (beyond the page: the prior's tail).
    pub fn share(&self, k: usize) -> f32 {
        match k {
            0 => self.share[0],
            k if k <= PAGE => self.share[k - 1],
            k => self.share[PAGE - 1] * prior(k) / prior(PAGE),
        }
    }

    /// How likely a shopper who engages with nothing looked at position `k`, relative to
    /// the first.
    pub fn examination(&self, k: usize) -> f32 {
        (self.share(k) / self.share(1).max(f32::EPSILON)).min(1.0)
    }
}

/// Per position of `ranking`'s first page, how many distinct shoppers engaged there.
pub fn position_counts(
    engaged: &HashMap<String, HashMap<u64, f32>>,
    ranking: &[String],
) -> [f32; PAGE] {
    let mut counts = [0.0f32; PAGE];
    for (k, product) in ranking.iter().take(PAGE).enumerate() {
        counts[k] = engaged.get(product).map(|by| by.len()).unwrap_or(0) as f32;
    }
    counts
}

/// P(X ≤ `successes`) for X ~ Binomial(`trials`, `rate`); `trials` may be fractional.
fn binomial_at_most(successes: usize, trials: f64, rate: f64) -> f64 {
    let rate = rate.clamp(1e-9, 1.0 - 1e-9);
    let mut pmf = (1.0 - rate).powf(trials);
    let mut cdf = pmf;
    for i in 0..successes {
        let i = i as f64;
        if i + 1.0 > trials {
            return 1.0;
        }
        pmf *= (trials - i) / (i + 1.0) * rate / (1.0 - rate);
        cdf += pmf;
    }
    cdf.min(1.0)
}

/// The crowd's verdict per product of one query: +1 preferred, -1 passed over.
/// `signals` are the products' position-corrected signals.
pub fn verdicts(
    searchers: &HashSet<u64>,
    engaged: &HashMap<String, HashMap<u64, f32>>,
    ranking: &[String],
    signals: &HashMap<String, f32>,
    shape: &PositionShape,
) -> HashMap<String, i8> {
    let mut out: HashMap<String, i8> = signals
        .iter()
        .filter(|(p, s)| {
            **s >= PREFERRED_SIGNAL && engaged.get(*p).is_some_and(|by| by.len() >= MIN_SHOPPERS)
        })
        .map(|(p, _)| (p.clone(), 1))
        .collect();
    let position: HashMap<&str, usize> = ranking
        .iter()
        .enumerate()
        .map(|(k, p)| (p.as_str(), k + 1))
        .collect();
    // Each engaging shopper's deepest engagement: everything above it was looked at.
    let mut deepest: HashMap<u64, usize> = HashMap::new();
    for (product, by) in engaged {
        let Some(&k) = position.get(product.as_str()) else {
            continue;
        };
        for shopper in by.keys() {
            let d = deepest.entry(*shopper).or_insert(0);
            *d = (*d).max(k);
        }
    }
    let idle = searchers
        .iter()
        .filter(|s| !deepest.contains_key(*s))
        .count() as f32;
    // (engaged, skipped, examinations) per product of the first page.
    let page: Vec<(usize, usize, f32)> = ranking
        .iter()
        .take(PAGE)
        .enumerate()
        .map(|(k, product)| {
            let by = engaged.get(product);
            let chose = by.map(|b| b.len()).unwrap_or(0);
            let skipped = deepest
                .iter()
                .filter(|(s, d)| **d > k + 1 && by.is_none_or(|b| !b.contains_key(*s)))
                .count();
            let examined = (chose + skipped) as f32 + idle * shape.examination(k + 1);
            (chose, skipped, examined)
        })
        .collect();
    // The reference: how often shoppers who looked at them took the products the crowd
    // chose (each by several distinct shoppers).
    let (chosen, looked) = page
        .iter()
        .filter(|(chose, _, _)| *chose >= MIN_SHOPPERS)
        .fold((0.0f32, 0.0f32), |(c, l), p| (c + p.0 as f32, l + p.2));
    if looked <= 0.0 {
        return out;
    }
    let rate = (chosen / looked) as f64;
    for (product, (chose, skipped, examined)) in ranking.iter().zip(&page) {
        if *skipped >= MIN_SHOPPERS
            && binomial_at_most(*chose, *examined as f64, rate) < PASSED_OVER_CHANCE
        {
            out.insert(product.clone(), -1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engaged(clicks: &[(&str, &[u64])]) -> HashMap<String, HashMap<u64, f32>> {
        clicks
            .iter()
            .map(|(p, by)| (p.to_string(), by.iter().map(|s| (*s, 1.0)).collect()))
            .collect()
    }

    fn ranking(n: usize) -> Vec<String> {
        (1..=n).map(|k| format!("p{k}")).collect()
    }

    #[test]
    fn the_shape_follows_where_the_store_clicks() {
        let flat = [10.0f32; PAGE];
        let shape = PositionShape::learn(std::iter::repeat_n(&flat, 20));
        assert!((shape.share(1) - shape.share(10)).abs() < 0.01);
        let mut steep = [0.0f32; PAGE];
        steep[0] = 100.0;
        steep[1] = 20.0;
        let shape = PositionShape::learn(std::iter::once(&steep));
        assert!(shape.share(1) > 5.0 * shape.share(2) / 2.0);
        assert!(shape.examination(10) < 0.05 && shape.examination(1) == 1.0);
        // Without data, the prior.
        let none = PositionShape::default();
        assert!(none.share(1) > none.share(2) && none.share(30) < none.share(20));
        // A query's own clicks are left out of the shape it is measured against.
        let own = PositionShape::without(&steep, &steep);
        assert!((own.share(2) - none.share(2)).abs() < 1e-6);
    }

    #[test]
    fn products_skipped_above_the_chosen_ones_are_passed_over() {
        let searchers: HashSet<u64> = (0..15).collect();
        // Shoppers 0..5 skip p1..p4 and choose p5 (four of them) or p6; the rest leave.
        let clicks = engaged(&[("p1", &[9]), ("p5", &[0, 1, 2, 3]), ("p6", &[4, 0])]);
        let shape = PositionShape::default();
        let v = verdicts(&searchers, &clicks, &ranking(20), &HashMap::new(), &shape);
        for p in ["p2", "p3", "p4"] {
            assert_eq!(v.get(p), Some(&-1), "{p}: {v:?}");
        }
        assert!(!v.contains_key("p5") && !v.contains_key("p6"));
        // Two skipping shoppers are too few to pass anything over.
        let clicks = engaged(&[("p5", &[0, 1])]);
        let v = verdicts(&searchers, &clicks, &ranking(20), &HashMap::new(), &shape);
        assert!(v.values().all(|&x| x != -1), "{v:?}");
    }

    #[test]
    fn clicks_spread_at_random_pass_nothing_over() {
        // Every product chosen about as often as it is looked at.
        let searchers: HashSet<u64> = (0..15).collect();
        let mut clicks = Vec::new();
        let shoppers: Vec<Vec<u64>> = (0..10)
            .map(|k| (0..15).filter(|s| (s + k) % 5 == 0).collect())
            .collect();
        for (k, by) in shoppers.iter().enumerate() {
            clicks.push((format!("p{}", k + 1), by.as_slice()));
        }
        let clicks: Vec<(&str, &[u64])> = clicks.iter().map(|(p, b)| (p.as_str(), *b)).collect();
        let shape = PositionShape::learn(std::iter::once(&[3.0; PAGE]));
        let v = verdicts(
            &searchers,
            &engaged(&clicks),
            &ranking(10),
            &HashMap::new(),
            &shape,
        );
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn preferred_needs_several_shoppers_and_a_strong_signal() {
        let searchers: HashSet<u64> = (0..15).collect();
        let clicks = engaged(&[("p8", &[0, 1, 2]), ("p9", &[3, 4])]);
        let signals: HashMap<String, f32> =
            [("p8".to_string(), 0.8), ("p9".to_string(), 0.9)].into();
        let v = verdicts(
            &searchers,
            &clicks,
            &ranking(20),
            &signals,
            &PositionShape::default(),
        );
        assert_eq!(v.get("p8"), Some(&1));
        assert!(!v.contains_key("p9"));
    }

    #[test]
    fn binomial_tail() {
        assert!((binomial_at_most(0, 5.0, 0.5) - 0.03125).abs() < 1e-9);
        assert!((binomial_at_most(1, 2.0, 0.5) - 0.75).abs() < 1e-9);
        assert_eq!(binomial_at_most(3, 2.0, 0.5), 1.0);
    }
}
