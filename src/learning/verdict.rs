//! Position bias learned from the store's own clicks, and the crowd's coarse verdict on
//! a product for one query (the `learned` ranking criterion).
//!
//! Input: per query, the distinct shoppers who ran it with the page each was served,
//! each product's engaged shoppers with the position their clicks report, and the
//! query's unlearned ranking. Output:
//! [`PositionShape`], the share of all engagement that lands at each position of the
//! first page, learned from the other queries' clicks (so random clicks give a flat
//! shape and a real, attention-fading crowd a steep one); [`PageLooks`], who looked at
//! each product of the query's first page; and [`verdicts`], per product: preferred
//! (+1) or passed over (-1). Products without strong evidence get no verdict (neutral).
//!
//! * **passed over**: each shopper is read on the page they were served ([`SeenPages`]:
//!   the learned page their search recorded, else the unlearned ranking). Shoppers who
//!   engaged with a product placed below it there looked at it and skipped it ("skip
//!   above") — read only from engagements at the position that page gives (a shopper
//!   whose page was reordered by taste saw other products above); shoppers who
//!   engaged with nothing looked at the top of their page, each position as likely as
//!   the store's depth model says for a shopper who took nothing from that page
//!   (`super::depth`). Its engagement over those examinations is compared with
//!   the rate at which shoppers take the query's chosen products (those several
//!   distinct shoppers engaged with), shrunk toward the store's rate over all other
//!   queries ([`STORE_RATE_WEIGHT`] examinations of it), and multiplied by how the
//!   product's position's rate compares with the page's across the other queries
//!   ([`PositionRates`]: looks read from clicks favour the top, and under clicks at
//!   random the top would look least taken): passed over when at least
//!   [`MIN_SHOPPERS`] shoppers looked at it without taking it, they took it at less
//!   than [`PASSED_OVER_SHARE`] of that rate, and so few engagements would happen by
//!   chance less than [`PASSED_OVER_CHANCE`] of the time at the full rate (with plenty
//!   of evidence, significance alone would pass over a good product taken a little
//!   less often than the best). A page every shopper left is judged at the store's
//!   rate alone.
//!   A product's own looks are pooled with [`PAGE_RATE_WEIGHT`] examinations at the
//!   rate the rest of its page earns at its position (empirical Bayes: a page's
//!   products share its fate until their own looks say otherwise), so a product few
//!   shoppers reached on a page they abandoned as a whole is passed over with it.
//! * **chosen categories** ([`chosen_categories`]): a category whose products on the
//!   page several shoppers took far more often than the rest of the page; its
//!   products without a verdict of their own are preferred.
//! * **preferred**: at least [`MIN_SHOPPERS`] distinct shoppers engaged and its
//!   position-corrected signal (clicks over expected clicks, see `super::evidence`) is
//!   at least [`PREFERRED_SIGNAL`].

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use super::MIN_SHOPPERS;

/// Positions of the first page, where shoppers look.
pub const PAGE: usize = 20;
/// Examination probability of position `k` before any click is seen: `k^-DECAY`.
const PRIOR_DECAY: f32 = 0.8;
/// Pseudo-engagements spread by the prior shape: how much data it takes to learn one.
const PRIOR_WEIGHT: f32 = 20.0;
/// A product whose engagement is this unlikely at the query's rate is passed over.
pub const PASSED_OVER_CHANCE: f64 = 0.01;
/// A product is passed over only when shoppers take it at less than this share of the
/// rate at which they take what satisfies the query: with plenty of evidence, a
/// product taken a little less often than the best is still a good answer.
pub const PASSED_OVER_SHARE: f64 = 0.5;
/// Examinations at the rate of the rest of its page added to a product's own when
/// judging whether it was passed over.
const PAGE_RATE_WEIGHT: f64 = 10.0;
/// Examinations at the store's chosen-product rate added to a query's own.
pub const STORE_RATE_WEIGHT: f32 = 10.0;
/// A category is chosen for a query when its products are taken at least this many
/// times as often as the rest of the page ([`chosen_categories`]).
pub const CATEGORY_LIFT: f64 = 2.0;
/// A category is chosen when chance explains its products' engagement less often.
pub const CATEGORY_CHANCE: f64 = 0.05;
/// Position-corrected signal (in [0, 1]) from which a product is preferred.
pub const PREFERRED_SIGNAL: f32 = 0.5;

/// One shopper's engagement with a product for one query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Engagement {
    /// Their strongest engagement (click 1, cart 2, purchase 3).
    pub weight: f32,
    /// The highest 1-based position at which their clicks say they saw the product
    /// (what the page showed them, learned or personalized; `None` when no click
    /// reported one).
    pub shown_at: Option<u32>,
}

/// Per product, per shopper (hashed): their engagement.
pub type Engaged = HashMap<String, HashMap<u64, Engagement>>;

/// Where a shopper saw a product: the position their click reported, else its place
/// on the page they were served (`served`, 1-based).
fn seen_at(engagement: &Engagement, served: Option<usize>) -> Option<usize> {
    engagement.shown_at.map(|p| p as usize).or(served)
}

/// Whether a shopper's engagement happened where their page placed the product (at
/// 1-based `shown`): only then do the products above it on that page say what they
/// looked at.
fn as_shown(engagement: &Engagement, shown: usize) -> bool {
    engagement.shown_at.is_none_or(|p| p as usize == shown)
}

/// 1-based positions of the unlearned ranking's products.
pub fn positions(ranking: &[String]) -> FxHashMap<&str, usize> {
    ranking
        .iter()
        .enumerate()
        .map(|(k, p)| (p.as_str(), k + 1))
        .collect()
}

/// Per searcher of one query (hashed): which page they were served — an index into
/// the query's learned pages, or `None` for the unlearned ranking.
pub type Served = HashMap<u64, Option<u32>>;

/// The pages one query's shoppers saw: each searcher's learned first page, recorded
/// with their search when the crowd's signals had reordered it, else the unlearned
/// ranking (also for shoppers with no search on record).
pub struct SeenPages<'a> {
    unlearned: FxHashMap<&'a str, usize>,
    learned: Vec<FxHashMap<&'a str, usize>>,
    served: &'a Served,
    /// How many searchers saw each page.
    tally: HashMap<Option<u32>, f32>,
}

impl<'a> SeenPages<'a> {
    /// The pages of a query whose unlearned ranking is `ranking`, whose searches were
    /// served the `learned` pages, each searcher the one `served` names.
    pub fn new(ranking: &'a [String], learned: Vec<Vec<&'a str>>, served: &'a Served) -> Self {
        let mut tally = HashMap::new();
        for page in served.values() {
            *tally.entry(*page).or_insert(0.0) += 1.0;
        }
        SeenPages {
            unlearned: positions(ranking),
            learned: learned
                .into_iter()
                .map(|page| page.into_iter().zip(1..).collect())
                .collect(),
            served,
            tally,
        }
    }

    /// The share of engagement the positions at which the query's searchers were
    /// shown `product` earn, on average (beyond their page: the prior's tail); its
    /// unlearned position's without searchers.
    pub fn mean_share(&self, product: &str, shape: &PositionShape) -> f32 {
        let beyond = super::evidence::RANK_DEPTH + 1;
        let share = |page: Option<u32>| {
            shape.share(self.page(page).get(product).copied().unwrap_or(beyond))
        };
        let searchers: f32 = self.tally.values().sum();
        if searchers == 0.0 {
            return share(None);
        }
        self.tally.iter().map(|(p, n)| n * share(*p)).sum::<f32>() / searchers
    }

    /// The positions of a page: learned page `page`, or the unlearned ranking.
    fn page(&self, page: Option<u32>) -> &FxHashMap<&'a str, usize> {
        page.and_then(|i| self.learned.get(i as usize))
            .unwrap_or(&self.unlearned)
    }

    /// Where `shopper`'s page placed `product` (1-based), if it did.
    pub fn position(&self, shopper: u64, product: &str) -> Option<usize> {
        let page = self.served.get(&shopper).copied().flatten();
        self.page(page).get(product).copied()
    }

    /// Where a shopper saw a product they engaged with: the position their click
    /// reported, else its place on the page they were served.
    pub fn seen_at(&self, shopper: u64, product: &str, engagement: &Engagement) -> Option<usize> {
        seen_at(engagement, self.position(shopper, product))
    }
}

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
    /// the first, were the engagement share their attention (what the tests' pages
    /// assume; the store's own is `super::depth`).
    #[cfg(test)]
    pub fn examination(&self, k: usize) -> f32 {
        (self.share(k) / self.share(1).max(f32::EPSILON)).min(1.0)
    }
}

/// Per position of the first page, how many distinct shoppers engaged there: where
/// their clicks say they saw the product, else where the page they were served placed it.
pub fn position_counts(engaged: &Engaged, pages: &SeenPages) -> [f32; PAGE] {
    let mut counts = [0.0f32; PAGE];
    for (product, by) in engaged {
        for (shopper, e) in by {
            if let Some(k) = pages
                .seen_at(*shopper, product, e)
                .filter(|k| (1..=PAGE).contains(k))
            {
                counts[k - 1] += 1.0;
            }
        }
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

/// What shoppers did with one product of a query's first page.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Look {
    /// Distinct shoppers who engaged with it.
    chose: usize,
    /// Distinct shoppers who engaged with something below it and not with it.
    skipped: usize,
    /// Shoppers who engaged with nothing, weighed by how likely they looked this deep.
    idle: f32,
}

impl Look {
    /// Shoppers who looked at it (some only probably).
    fn examined(&self) -> f32 {
        (self.chose + self.skipped) as f32 + self.idle
    }
}

/// Per searcher (hashed), their deepest engagement ([`deepest_engagements`]).
pub type Deepest = FxHashMap<u64, usize>;

/// Each engaging shopper's deepest engagement where their page placed it (1-based):
/// everything above it there was looked at. A shopper who engaged only where the page
/// showed something else (personalized, or deeper than the page kept) looked at
/// something else above it, so they skip nothing, nor are idle: they map to 0.
pub fn deepest_engagements(pages: &SeenPages, engaged: &Engaged) -> Deepest {
    let mut deepest = Deepest::default();
    for (product, by) in engaged {
        for (shopper, e) in by {
            let d = deepest.entry(*shopper).or_insert(0);
            if let Some(k) = pages
                .position(*shopper, product)
                .filter(|k| as_shown(e, *k))
            {
                *d = (*d).max(k);
            }
        }
    }
    deepest
}

/// How one query's shoppers looked at its first page: per position of the unlearned
/// ranking, who engaged, who skipped, who probably looked and left — each shopper on
/// the page they were served.
#[derive(Debug, Clone)]
pub struct PageLooks {
    looks: Vec<Look>,
}

impl PageLooks {
    /// The looks of `ranking`'s first page (unlearned), given the query's distinct
    /// searchers and the pages they saw (`pages`), their engagement and each one's
    /// deepest ([`deepest_engagements`]), and how likely a searcher who took nothing
    /// looked at each position (`idle_examination`, index `k - 1`).
    pub fn of(
        searchers: &Served,
        pages: &SeenPages,
        engaged: &Engaged,
        deepest: &Deepest,
        ranking: &[String],
        idle_examination: &[f32; PAGE],
    ) -> PageLooks {
        // Shoppers who engaged with nothing, by the page they were served.
        let mut idle: HashMap<Option<u32>, f32> = HashMap::new();
        for (shopper, page) in searchers {
            if !deepest.contains_key(shopper) {
                *idle.entry(*page).or_insert(0.0) += 1.0;
            }
        }
        let looks = ranking
            .iter()
            .take(PAGE)
            .map(|product| {
                let by = engaged.get(product);
                Look {
                    chose: by.map(|b| b.len()).unwrap_or(0),
                    skipped: deepest
                        .iter()
                        .filter(|(s, d)| {
                            by.is_none_or(|b| !b.contains_key(*s))
                                && pages.position(**s, product).is_some_and(|k| k < **d)
                        })
                        .count(),
                    idle: idle
                        .iter()
                        .map(|(page, n)| {
                            pages
                                .page(*page)
                                .get(product.as_str())
                                .and_then(|k| idle_examination.get(k.checked_sub(1)?))
                                .map_or(0.0, |e| n * e)
                        })
                        .sum(),
                }
            })
            .collect();
        PageLooks { looks }
    }

    /// Per position of the page, how often shoppers who looked took its product:
    /// (engagements, examinations).
    pub fn by_position(&self) -> [(f32, f32); PAGE] {
        let mut out = [(0.0, 0.0); PAGE];
        for (o, l) in out.iter_mut().zip(&self.looks) {
            *o = (l.chose as f32, l.examined());
        }
        out
    }

    /// How often shoppers who looked at them took the products this query's crowd
    /// chose (each by several distinct shoppers): (engagements, examinations).
    pub fn chosen(&self) -> (f32, f32) {
        self.looks
            .iter()
            .filter(|l| l.chose >= MIN_SHOPPERS)
            .fold((0.0, 0.0), |(c, e), l| {
                (c + l.chose as f32, e + l.examined())
            })
    }
}

/// How a position's take rate compares with the page's, as the store's other queries
/// measured it: looks are read from clicks, and a shopper's looks at deep positions
/// show only when they engaged there or further down, so the top of a page is always
/// read as looked at more and taken less than the rest. Under clicks spread at random
/// every position has the same true rate, and the top would be passed over without
/// this correction; under shoppers who read down the page it is close to 1.
#[derive(Debug, Clone)]
pub struct PositionRates {
    factor: [f64; PAGE],
}

/// Examinations at the page's overall rate added to each position's own.
const POSITION_RATE_WEIGHT: f32 = 20.0;

impl PositionRates {
    /// From per-position (engagements, examinations) summed over the store's queries.
    pub fn of(by_position: &[(f32, f32); PAGE]) -> PositionRates {
        let (chose, looked) = by_position
            .iter()
            .fold((0.0f32, 0.0f32), |(c, e), (pc, pe)| (c + pc, e + pe));
        let mut factor = [1.0f64; PAGE];
        if chose > 0.0 && looked > 0.0 {
            let overall = chose / looked;
            for (f, (c, e)) in factor.iter_mut().zip(by_position) {
                let rate = (c + POSITION_RATE_WEIGHT * overall) / (e + POSITION_RATE_WEIGHT);
                *f = f64::from(rate / overall).clamp(0.25, 4.0);
            }
        }
        PositionRates { factor }
    }

    /// The factor of 1-based position `k` (1 beyond the page).
    fn factor(&self, k: usize) -> f64 {
        k.checked_sub(1)
            .and_then(|i| self.factor.get(i))
            .copied()
            .unwrap_or(1.0)
    }
}

/// The crowd's verdict per product of one query: +1 preferred, -1 passed over.
/// `signals` are the products' position-corrected signals; `store` is what the store's
/// other queries say of chosen products, (engagements, examinations) — the rate a
/// query's own chosen products are shrunk toward, and the only one a query whose
/// shoppers chose nothing has.
pub fn verdicts(
    looks: &PageLooks,
    engaged: &Engaged,
    ranking: &[String],
    signals: &HashMap<String, f32>,
    store: (f32, f32),
    position_rates: &PositionRates,
) -> HashMap<String, i8> {
    let mut out: HashMap<String, i8> = signals
        .iter()
        .filter(|(p, s)| {
            **s >= PREFERRED_SIGNAL && engaged.get(*p).is_some_and(|by| by.len() >= MIN_SHOPPERS)
        })
        .map(|(p, _)| (p.clone(), 1))
        .collect();
    let Some(page_rate) = reference_rate(looks.chosen(), store) else {
        return out;
    };
    // The page's take rate, each product's examinations weighed by its position's
    // factor: what a product of this page is presumed to earn before its own looks.
    let weighed: Vec<(f64, f64)> = looks
        .looks
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let factor = position_rates.factor(k + 1);
            (l.chose as f64, f64::from(l.examined()) * factor)
        })
        .collect();
    let (page_chose, page_weighed) = weighed
        .iter()
        .fold((0.0, 0.0), |(c, w), (lc, lw)| (c + lc, w + lw));
    for (k, (product, look)) in ranking.iter().zip(&looks.looks).enumerate() {
        let factor = position_rates.factor(k + 1);
        let rate = (page_rate * factor).min(1.0);
        let looked_away = look.skipped as f32 + look.idle;
        // Taken at under half the rate by its own looks; unlikely by chance with its
        // looks pooled with PAGE_RATE_WEIGHT examinations at the rate the rest of its
        // page earns at its position: on a page shoppers abandon as a whole, a
        // product few looked at is presumed to fail like the rest. A product the crowd
        // prefers is never passed over.
        let (own_chose, own_weighed) = weighed[k];
        let (rest_chose, rest_weighed) = (page_chose - own_chose, page_weighed - own_weighed);
        let pseudo = match rest_weighed > 0.0 {
            true => PAGE_RATE_WEIGHT * (rest_chose / rest_weighed * factor).min(1.0),
            false => PAGE_RATE_WEIGHT * rate,
        };
        let chose = look.chose as f64 + pseudo;
        let examined = f64::from(look.examined()) + PAGE_RATE_WEIGHT;
        if looked_away >= MIN_SHOPPERS as f32
            && (look.chose as f64) < PASSED_OVER_SHARE * rate * f64::from(look.examined())
            && binomial_at_most_real(chose, examined, rate) < PASSED_OVER_CHANCE
            && out.get(product) != Some(&1)
        {
            out.insert(product.clone(), -1);
        }
    }
    out
}

/// [`binomial_at_most`] for a fractional count of successes: interpolated between the
/// whole counts around it.
fn binomial_at_most_real(successes: f64, trials: f64, rate: f64) -> f64 {
    let below = successes.floor().max(0.0);
    let low = binomial_at_most(below as usize, trials, rate);
    let high = binomial_at_most(below as usize + 1, trials, rate);
    low + (high - low) * (successes - below)
}

/// The categories a query's shoppers chose (`crate::learning`'s query categories):
/// per category (a leaf path `categories` gives a product), the engagement of the
/// page's products in it is set against what the rest of the page's rate would give
/// them, each product's examinations weighed by its position's factor
/// ([`PositionRates`]). Chosen when at least [`MIN_SHOPPERS`] distinct shoppers took
/// its products, at [`CATEGORY_LIFT`] times the rest's rate or more, so often that
/// chance explains it less than [`CATEGORY_CHANCE`] of the time (a laxer bar than a
/// single product's: once a category's products are lifted, the rest of the page gets
/// fewer looks, and evidence against it grows slowly). The rest's rate
/// is shrunk toward the page's ([`STORE_RATE_WEIGHT`] examinations), so a page whose
/// other products nobody took still asks for several engagements. A page of one
/// category has nothing to set it against, and chooses none.
pub fn chosen_categories(
    looks: &PageLooks,
    engaged: &Engaged,
    ranking: &[String],
    categories: &dyn Fn(&str) -> Vec<String>,
    position_rates: &PositionRates,
) -> Vec<String> {
    // Per product of the page: its categories, engagements and weighed examinations.
    let page: Vec<(Vec<String>, f64, f64, &str)> = ranking
        .iter()
        .zip(&looks.looks)
        .enumerate()
        .map(|(k, (product, look))| {
            let weighed = f64::from(look.examined()) * position_rates.factor(k + 1);
            (
                categories(product),
                look.chose as f64,
                weighed,
                product.as_str(),
            )
        })
        .collect();
    let (all_chose, all_weighed) = page.iter().fold((0.0, 0.0), |(c, w), p| (c + p.1, w + p.2));
    if all_chose <= 0.0 || all_weighed <= 0.0 {
        return Vec::new();
    }
    let page_rate = all_chose / all_weighed;
    let mut candidates: Vec<&String> = page.iter().flat_map(|p| &p.0).collect();
    candidates.sort_unstable();
    candidates.dedup();
    let weight = f64::from(STORE_RATE_WEIGHT);
    candidates
        .into_iter()
        .filter(|category| {
            let (inside, rest): (Vec<_>, Vec<_>) =
                page.iter().partition(|p| p.0.contains(*category));
            if rest.is_empty() {
                return false;
            }
            let sum = |ps: &[&(Vec<String>, f64, f64, &str)]| {
                ps.iter().fold((0.0, 0.0), |(c, w), p| (c + p.1, w + p.2))
            };
            let (chose, weighed) = sum(&inside);
            let (rest_chose, rest_weighed) = sum(&rest);
            let rest_rate = (rest_chose + weight * page_rate) / (rest_weighed + weight);
            let expected = rest_rate * weighed;
            let shoppers: std::collections::HashSet<u64> = inside
                .iter()
                .filter_map(|p| engaged.get(p.3))
                .flat_map(|by| by.keys().copied())
                .collect();
            shoppers.len() >= MIN_SHOPPERS
                && chose >= CATEGORY_LIFT * expected
                && poisson_at_least(chose, expected) < CATEGORY_CHANCE
        })
        .cloned()
        .collect()
}

/// P(X ≥ `k`) for X ~ Poisson(`mean`); `k` is a count (fractional parts round up).
fn poisson_at_least(k: f64, mean: f64) -> f64 {
    let k = k.ceil().max(0.0) as usize;
    if k == 0 {
        return 1.0;
    }
    let mean = mean.max(1e-12);
    // P(X ≤ k - 1), summed term by term.
    let mut term = (-mean).exp();
    let mut below = term;
    for i in 1..k {
        term *= mean / i as f64;
        below += term;
    }
    (1.0 - below).max(0.0)
}

/// The rate at which shoppers take a product that satisfies the query: the query's own
/// chosen products', with [`STORE_RATE_WEIGHT`] examinations at the store's rate.
fn reference_rate(own: (f32, f32), store: (f32, f32)) -> Option<f64> {
    let prior = (store.1 > 0.0).then(|| store.0 / store.1);
    let (chosen, looked) = match prior {
        Some(p) => (own.0 + STORE_RATE_WEIGHT * p, own.1 + STORE_RATE_WEIGHT),
        None => own,
    };
    (looked > 0.0).then(|| (chosen / looked).clamp(0.0, 1.0) as f64)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn engaged(clicks: &[(&str, &[u64])]) -> Engaged {
        let click = Engagement {
            weight: 1.0,
            shown_at: None,
        };
        clicks
            .iter()
            .map(|(p, by)| (p.to_string(), by.iter().map(|s| (*s, click)).collect()))
            .collect()
    }

    fn ranking(n: usize) -> Vec<String> {
        (1..=n).map(|k| format!("p{k}")).collect()
    }

    /// A store whose other queries taught nothing.
    const NO_STORE: (f32, f32) = (0.0, 0.0);
    /// Nor anything about positions.
    const NO_POSITION_RATES: PositionRates = PositionRates {
        factor: [1.0; PAGE],
    };

    /// The verdicts on `p1..=pN` ranked in that order, every searcher served that
    /// unlearned ranking.
    fn judge(
        searchers: &HashSet<u64>,
        engaged: &Engaged,
        n: usize,
        signals: &HashMap<String, f32>,
        shape: &PositionShape,
        store: (f32, f32),
    ) -> HashMap<String, i8> {
        let served: Served = searchers.iter().map(|s| (*s, None)).collect();
        judge_served(&served, &[], engaged, n, signals, shape, store)
    }

    /// The same, each searcher served the learned page `served` names.
    fn judge_served(
        served: &Served,
        learned: &[Vec<String>],
        engaged: &Engaged,
        n: usize,
        signals: &HashMap<String, f32>,
        shape: &PositionShape,
        store: (f32, f32),
    ) -> HashMap<String, i8> {
        let ranking = ranking(n);
        let learned = learned
            .iter()
            .map(|page| page.iter().map(String::as_str).collect())
            .collect();
        let pages = SeenPages::new(&ranking, learned, served);
        let idle: [f32; PAGE] = std::array::from_fn(|k| shape.examination(k + 1));
        let deepest = deepest_engagements(&pages, engaged);
        let looks = PageLooks::of(served, &pages, engaged, &deepest, &ranking, &idle);
        verdicts(
            &looks,
            engaged,
            &ranking,
            signals,
            store,
            &NO_POSITION_RATES,
        )
    }

    #[test]
    fn shoppers_are_read_on_the_page_they_were_served() {
        // p1 leads the unlearned ranking; the crowd's learned page had moved it to
        // the bottom. Fifteen shoppers were served that page and took nothing.
        let mut learned: Vec<String> = ranking(20);
        learned.rotate_left(1);
        let mut steep = [0.0f32; PAGE];
        steep[..5].copy_from_slice(&[100.0, 60.0, 30.0, 10.0, 5.0]);
        let shape = PositionShape::learn(std::iter::once(&steep));
        let store = (500.0, 1_000.0);
        let none = engaged(&[]);
        let served: Served = (0..15).map(|s| (s, Some(0))).collect();
        let v = judge_served(
            &served,
            &[learned.clone()],
            &none,
            20,
            &HashMap::new(),
            &shape,
            store,
        );
        // Nobody looked as deep as where they were shown p1: it keeps no verdict.
        assert!(!v.contains_key("p1"), "{v:?}");
        // p2, shown first to all of them, was passed over.
        assert_eq!(v.get("p2"), Some(&-1), "{v:?}");
        // Read against the unlearned ranking, p1 would have been passed over.
        let unlearned: Served = (0..15).map(|s| (s, None)).collect();
        let v = judge_served(
            &unlearned,
            &[learned],
            &none,
            20,
            &HashMap::new(),
            &shape,
            store,
        );
        assert_eq!(v.get("p1"), Some(&-1), "{v:?}");

        // Six shoppers chose p3 where their learned page showed it, third: they
        // skipped what that page put above it (p2 and p4), not the unlearned p1, p2.
        let moved = ["p2", "p4", "p3", "p1"]
            .into_iter()
            .map(String::from)
            .chain((5..=20).map(|k| format!("p{k}")))
            .collect::<Vec<_>>();
        let at_3 = Engagement {
            weight: 1.0,
            shown_at: Some(3),
        };
        let chose: Engaged = [("p3".to_string(), (0..6).map(|s| (s, at_3)).collect())].into();
        let served: Served = (0..6).map(|s| (s, Some(0))).collect();
        let v = judge_served(
            &served,
            &[moved],
            &chose,
            20,
            &HashMap::new(),
            &shape,
            NO_STORE,
        );
        assert_eq!(v.get("p4"), Some(&-1), "{v:?}");
        assert!(!v.contains_key("p1"), "{v:?}");
    }

    #[test]
    fn a_page_everyone_looked_at_and_left_is_passed_over_at_the_stores_rate() {
        // Fifteen shoppers ran the query and took nothing; elsewhere in the store,
        // shoppers take what satisfies them about half the times they look at it.
        let searchers: HashSet<u64> = (0..15).collect();
        let none = engaged(&[]);
        let mut steep = [0.0f32; PAGE];
        steep[..5].copy_from_slice(&[100.0, 60.0, 30.0, 10.0, 5.0]);
        let shape = PositionShape::learn(std::iter::once(&steep));
        let store = (500.0, 1_000.0);
        let v = judge(&searchers, &none, 20, &HashMap::new(), &shape, store);
        assert_eq!(v.get("p1"), Some(&-1), "{v:?}");
        // Deep positions nobody reaches keep no verdict.
        assert!(!v.contains_key("p10"), "{v:?}");
        // Without the store's rate there is nothing to compare with.
        assert!(judge(&searchers, &none, 20, &HashMap::new(), &shape, NO_STORE).is_empty());
        // Two shoppers are too few to pass anything over.
        let two: HashSet<u64> = (0..2).collect();
        assert!(judge(&two, &none, 20, &HashMap::new(), &shape, store).is_empty());
    }

    #[test]
    fn a_product_few_looked_at_is_judged_with_its_page() {
        // Ten products; the last was looked at by four shoppers who left it. Four
        // looks are too few to pass a product over on its own (at a rate of one half,
        // no take in four looks happens one time in sixteen).
        let page = |rest_chose: usize| PageLooks {
            looks: (0..10)
                .map(|k| match k {
                    9 => Look {
                        chose: 0,
                        skipped: 0,
                        idle: 4.0,
                    },
                    _ => Look {
                        chose: rest_chose,
                        skipped: 10 - rest_chose,
                        idle: 0.0,
                    },
                })
                .collect(),
        };
        let store = (500.0, 1_000.0);
        let judged = |rest_chose: usize| {
            verdicts(
                &page(rest_chose),
                &engaged(&[]),
                &ranking(10),
                &HashMap::new(),
                store,
                &NO_POSITION_RATES,
            )
        };
        // Its page's other products are taken half the times they are looked at:
        // nothing says it fails.
        assert_eq!(judged(5).get("p10"), None);
        // Shoppers left the whole page: it is presumed to fail like the rest.
        assert_eq!(judged(0).get("p10"), Some(&-1));
    }

    #[test]
    fn skips_are_read_only_from_the_page_the_shopper_saw() {
        // Every shopper who ran the query clicked; none left without.
        let searchers: HashSet<u64> = (0..6).collect();
        let shape = PositionShape::default();
        let clicked_at = |shown_at: Option<u32>| -> Engaged {
            let e = Engagement {
                weight: 1.0,
                shown_at,
            };
            [("p5".to_string(), (0..6).map(|s| (s, e)).collect())].into()
        };
        // Six shoppers chose p5 where the unlearned ranking has it: p1..p4 were skipped.
        let v = judge(
            &searchers,
            &clicked_at(Some(5)),
            20,
            &HashMap::new(),
            &shape,
            NO_STORE,
        );
        assert_eq!(v.get("p2"), Some(&-1), "{v:?}");
        // The same clicks on a page that showed p5 first (learned or personalized)
        // say nothing of p1..p4.
        let v = judge(
            &searchers,
            &clicked_at(Some(1)),
            20,
            &HashMap::new(),
            &shape,
            NO_STORE,
        );
        assert!(v.values().all(|&x| x != -1), "{v:?}");
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
        let v = judge(&searchers, &clicks, 20, &HashMap::new(), &shape, NO_STORE);
        for p in ["p2", "p3", "p4"] {
            assert_eq!(v.get(p), Some(&-1), "{p}: {v:?}");
        }
        assert!(!v.contains_key("p5") && !v.contains_key("p6"));
        // Two skipping shoppers are too few to pass anything over.
        let clicks = engaged(&[("p5", &[0, 1])]);
        let v = judge(&searchers, &clicks, 20, &HashMap::new(), &shape, NO_STORE);
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
        let store = (60.0, 100.0);
        let v = judge(
            &searchers,
            &engaged(&clicks),
            10,
            &HashMap::new(),
            &shape,
            store,
        );
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn preferred_needs_several_shoppers_and_a_strong_signal() {
        let searchers: HashSet<u64> = (0..15).collect();
        let clicks = engaged(&[("p8", &[0, 1, 2]), ("p9", &[3, 4])]);
        let signals: HashMap<String, f32> =
            [("p8".to_string(), 0.8), ("p9".to_string(), 0.9)].into();
        let shape = PositionShape::default();
        let v = judge(&searchers, &clicks, 20, &signals, &shape, NO_STORE);
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
