//! How deep the store's shoppers look down a page, and so how far a shopper who took
//! nothing probably looked.
//!
//! Clicks show where shoppers engaged, not where they looked: the share of clicks at
//! each position falls much faster than attention, since a good page's top satisfies
//! most shoppers before they scroll. A shopper who took nothing is the case that
//! matters most (a page shoppers abandon), and for them the click share says they
//! barely looked past the top.
//!
//! The model: each shopper looks at positions `1..=L` of the page they were served,
//! `L` drawn from the store's [`Depth`] distribution, and takes a product at position
//! `k` they looked at with the query's take rate there (`γ_k`). A shopper whose
//! deepest engagement is at `d` looked at least that far (past it, nothing is known:
//! shoppers often stop at what satisfied them); one who took nothing looked at `L`
//! positions and took none of them. [`Depth::learn`] fits both by expectation
//! maximization over the store's queries ([`QueryDepths`]: per query, its shoppers by
//! deepest engagement and its engagements by position): good pages where few shoppers
//! leave empty-handed say shoppers look deep; a store where many leave good pages say
//! they do not. [`Depth::idle_examination`] is then, per position, how likely a
//! shopper who took nothing from a page looked there — on a page nobody takes
//! anything from, as deep as the store's shoppers look; on a good one, not far (or
//! they would have taken something).
//!
//! Input: [`QueryDepths`] per query. Output: the depth distribution, and per query
//! the examination of its idle shoppers, which `super::verdict::PageLooks` counts as
//! looks.

use super::verdict::PAGE;

/// Expectation-maximization rounds.
const ROUNDS: usize = 40;
/// Queries the depth is learned from at most (those with the most shoppers).
const MAX_QUERIES: usize = 1_000;
/// Pseudo-examinations at the store's take rate added to each position's own.
const TAKE_PRIOR: f64 = 2.0;
/// Take rates are kept inside this margin of 0 and 1.
const TAKE_MARGIN: f64 = 0.005;

/// One query's shoppers, as the depth model reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryDepths {
    /// Shoppers by their deepest engagement's 1-based position on their page; index
    /// 0 counts those who took nothing.
    pub deepest: [f64; PAGE + 1],
    /// Distinct shoppers who engaged at each position of their page.
    pub engaged: [f64; PAGE],
}

impl QueryDepths {
    /// One query's shoppers: each searcher's deepest engagement on the page they were
    /// served (`deepest`, as `super::verdict::deepest_engagements` finds it; searchers
    /// absent from it took nothing), and its engagements per position (`engaged`).
    pub fn of(
        searchers: &super::verdict::Served,
        deepest: &super::verdict::Deepest,
        engaged: &[f32; PAGE],
    ) -> QueryDepths {
        let mut q = QueryDepths {
            deepest: [0.0; PAGE + 1],
            engaged: engaged.map(f64::from),
        };
        for shopper in searchers.keys() {
            match deepest.get(shopper) {
                None => q.deepest[0] += 1.0,
                // Engaged only where their page showed something else: unknown.
                Some(0) => {}
                Some(&d) => q.deepest[d.min(PAGE)] += 1.0,
            }
        }
        q
    }

    fn shoppers(&self) -> f64 {
        self.deepest.iter().sum()
    }
}

/// The store's depth distribution: `P(L = k)` for `k` in `1..=PAGE` (the last holds
/// every deeper look).
#[derive(Debug, Clone, PartialEq)]
pub struct Depth {
    at: [f64; PAGE],
}

impl Default for Depth {
    /// Before any data: looked at position `k` with probability `k^-0.8`.
    fn default() -> Self {
        let survival = |k: usize| (k as f64).powf(-0.8);
        let mut at = [0.0; PAGE];
        for (i, a) in at.iter_mut().enumerate() {
            let next = if i + 1 < PAGE { survival(i + 2) } else { 0.0 };
            *a = survival(i + 1) - next;
        }
        Depth { at }
    }
}

impl Depth {
    /// Fits the depth distribution to the store's queries.
    pub fn learn(queries: &[QueryDepths]) -> Depth {
        let mut used: Vec<&QueryDepths> = queries.iter().filter(|q| q.shoppers() > 0.0).collect();
        if used.is_empty() {
            return Depth::default();
        }
        used.sort_by(|a, b| b.shoppers().total_cmp(&a.shoppers()));
        used.truncate(MAX_QUERIES);
        let mut depth = Depth::default();
        // Start every query's take rates from looks everyone above the deepest
        // engagement made.
        let mut takes: Vec<[f64; PAGE]> = used.iter().map(|q| depth.takes(q)).collect();
        for _ in 0..ROUNDS {
            let mut at = [0.0; PAGE];
            for (q, take) in used.iter().zip(takes.iter_mut()) {
                let looks = depth.expected(q, take, &mut at);
                *take = takes_from(q, &looks);
            }
            let total: f64 = at.iter().sum();
            if total <= 0.0 {
                break;
            }
            for (d, a) in depth.at.iter_mut().zip(at) {
                *d = a / total;
            }
        }
        depth
    }

    /// `P(L ≥ k)` for 1-based `k`.
    #[cfg(test)]
    pub fn survival(&self, k: usize) -> f64 {
        self.at.iter().skip(k.saturating_sub(1)).sum()
    }

    /// Per 1-based position (index `k - 1`), how likely a shopper of `query` who took
    /// nothing looked there.
    pub fn idle_examination(&self, query: &QueryDepths) -> [f32; PAGE] {
        if query.deepest[0] <= 0.0 {
            // Nobody took nothing: no idle looks to weigh.
            return [0.0; PAGE];
        }
        // The query's take rates, a few rounds for it alone, the store's depth held.
        let mut take = self.takes(query);
        let mut at = [0.0; PAGE];
        for _ in 0..4 {
            let looks = self.expected(query, &take, &mut at);
            take = takes_from(query, &looks);
        }
        let weights = self.posterior(0, &take);
        let mut out = [0.0f32; PAGE];
        let mut tail = 0.0;
        for k in (0..PAGE).rev() {
            tail += weights[k];
            out[k] = tail as f32;
        }
        out
    }

    /// Take rates from the looks the deepest engagements prove (everything above
    /// them), before any depth is known.
    fn takes(&self, query: &QueryDepths) -> [f64; PAGE] {
        let mut looks = [0.0; PAGE];
        for (d, n) in query.deepest.iter().enumerate().skip(1) {
            for l in looks.iter_mut().take(d) {
                *l += n;
            }
        }
        takes_from(query, &looks)
    }

    /// The E-step for one query: adds its shoppers' expected depths to `at` and
    /// returns its expected looks per position.
    fn expected(
        &self,
        query: &QueryDepths,
        take: &[f64; PAGE],
        at: &mut [f64; PAGE],
    ) -> [f64; PAGE] {
        let mut looks = [0.0; PAGE];
        for (d, &n) in query.deepest.iter().enumerate() {
            if n <= 0.0 {
                continue;
            }
            let weights = self.posterior(d, take);
            let mut tail = 0.0;
            for k in (0..PAGE).rev() {
                tail += weights[k];
                at[k] += n * weights[k];
                // An engaged shopper looked down to their deepest engagement (what
                // they would have done past it is not known); one who took nothing
                // looked as deep as their depth.
                looks[k] += match d {
                    0 => n * tail,
                    d if k < d => n,
                    _ => 0.0,
                };
            }
        }
        looks
    }

    /// `P(L = k | a shopper's deepest engagement is at d)` (index `k - 1`): for one
    /// who took nothing (`d` 0), they took none of the `L` products they looked at;
    /// for one who engaged, `L ≥ d` and nothing more is known (shoppers often stop
    /// at what satisfied them).
    fn posterior(&self, d: usize, take: &[f64; PAGE]) -> [f64; PAGE] {
        let mut weights = [0.0; PAGE];
        let mut untaken = 1.0;
        for k in 1..=PAGE {
            if d == 0 {
                untaken *= 1.0 - take[k - 1];
            }
            if k >= d.max(1) {
                weights[k - 1] = self.at[k - 1] * untaken;
            }
        }
        let total: f64 = weights.iter().sum();
        if total > 0.0 {
            for w in &mut weights {
                *w /= total;
            }
        }
        weights
    }
}

/// The M-step's take rates: engagements over expected looks per position, each with
/// [`TAKE_PRIOR`] looks at the query's overall rate.
fn takes_from(query: &QueryDepths, looks: &[f64; PAGE]) -> [f64; PAGE] {
    let (engaged, looked): (f64, f64) = (query.engaged.iter().sum(), looks.iter().sum());
    let overall = if looked > 0.0 { engaged / looked } else { 0.0 };
    let mut take = [0.0; PAGE];
    for (k, t) in take.iter_mut().enumerate() {
        let rate = (query.engaged[k] + TAKE_PRIOR * overall) / (looks[k] + TAKE_PRIOR);
        *t = rate.clamp(TAKE_MARGIN, 1.0 - TAKE_MARGIN);
    }
    take
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shoppers who look at positions with `attention^(k-1)` and take each product
    /// they look at with the page's take rates, stopping after their first take:
    /// the expected counts of `shoppers` of them.
    fn cascade(shoppers: f64, attention: f64, take: &[f64]) -> QueryDepths {
        let mut q = QueryDepths {
            deepest: [0.0; PAGE + 1],
            engaged: [0.0; PAGE],
        };
        let mut reaching = shoppers;
        for k in 0..PAGE {
            if k > 0 {
                reaching *= attention;
            }
            let t = take.get(k).copied().unwrap_or(0.0);
            q.engaged[k] += reaching * t;
            q.deepest[k + 1] += reaching * t;
            let left = reaching * (1.0 - t);
            // Those who took nothing here and stop looking are idle.
            q.deepest[0] += left * (1.0 - attention);
            reaching = left;
        }
        q.deepest[0] += reaching * attention;
        q
    }

    #[test]
    fn idle_shoppers_on_an_abandoned_page_looked_as_deep_as_the_store_looks() {
        // Forty good pages (the top taken often) and one nobody takes anything from.
        let mut queries: Vec<QueryDepths> = (0..40)
            .map(|_| cascade(100.0, 0.85, &[0.6, 0.6, 0.5, 0.5, 0.3, 0.3, 0.2, 0.2]))
            .collect();
        let abandoned = cascade(15.0, 0.85, &[0.0; PAGE]);
        queries.push(abandoned.clone());
        let depth = Depth::learn(&queries);
        let idle = depth.idle_examination(&abandoned);
        for k in [3usize, 5, 8] {
            let truth = 0.85f64.powi(k as i32 - 1);
            let found = f64::from(idle[k - 1]);
            assert!(
                (found - truth).abs() < 0.12,
                "position {k}: {found:.2}, shoppers looked there with {truth:.2}"
            );
        }
        // On a good page, a shopper who took nothing stopped early.
        let good = depth.idle_examination(&queries[0]);
        assert!(good[4] < idle[4] * 0.8, "{good:?} vs {idle:?}");
    }

    #[test]
    fn shallow_shoppers_are_learned_shallow() {
        let queries: Vec<QueryDepths> = (0..40)
            .map(|_| cascade(100.0, 0.5, &[0.6, 0.6, 0.5, 0.5, 0.3, 0.3, 0.2, 0.2]))
            .collect();
        let depth = Depth::learn(&queries);
        let deep = Depth::learn(
            &(0..40)
                .map(|_| cascade(100.0, 0.9, &[0.6, 0.6, 0.5, 0.5, 0.3, 0.3, 0.2, 0.2]))
                .collect::<Vec<_>>(),
        );
        // Near the top, where shoppers' takes say most, both are close to the truth;
        // the tail, where few shoppers reach, stays nearer the prior.
        assert!(
            (depth.survival(3) - 0.25).abs() < 0.1,
            "{:.3}",
            depth.survival(3)
        );
        assert!(
            (deep.survival(5) - 0.9f64.powi(4)).abs() < 0.12,
            "{:.3}",
            deep.survival(5)
        );
        assert!(depth.survival(5) < deep.survival(5) / 2.0);
    }

    #[test]
    fn without_shoppers_the_prior_holds() {
        assert_eq!(Depth::learn(&[]), Depth::default());
        let d = Depth::default();
        assert!((d.survival(1) - 1.0).abs() < 1e-9);
        assert!((d.survival(5) - 5f64.powf(-0.8)).abs() < 1e-9);
    }
}
