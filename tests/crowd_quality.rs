//! Recommendation quality on simulated sessions: the hit rate of the next viewed
//! product in held-out sessions.
//!
//! The simulation: 2,000 products in 100 groups of 20 (think "sofas of one style");
//! a session picks a group (popular groups more often) and views 3 to 8 products,
//! each from its group with probability 0.8 (popular products of the group more
//! often) or anywhere in the catalog otherwise. 4,000 sessions train the crowd's
//! co-occurrence model through the same `Models::feed` the tailer uses; in 500
//! held-out sessions every consecutive pair (a → b) asks for `also_viewed` of `a`
//! (top 10) and counts a hit when `b` is among them. The baseline recommends the 10
//! most viewed products. Run with `--nocapture` to see the figures.

use clerk::crowd::{Crowd, CrowdSettings, RecommendationKind};
use clerk::events::{Event, EventKind, Variant};

const PRODUCTS: u64 = 2_000;
const GROUP: u64 = 20;
const TRAIN: usize = 4_000;
const HELD_OUT: usize = 500;
const TOP: usize = 10;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Zipf-like: index `i` of `n` with weight 1 / (i + 1).
    fn zipf(&mut self, n: u64) -> u64 {
        let total: f64 = (1..=n).map(|i| 1.0 / i as f64).sum();
        let mut target = self.unit() * total;
        for i in 0..n {
            target -= 1.0 / (i + 1) as f64;
            if target <= 0.0 {
                return i;
            }
        }
        n - 1
    }
}

fn session(rng: &mut Rng) -> Vec<String> {
    let group = rng.zipf(PRODUCTS / GROUP);
    let length = 3 + rng.next() % 6;
    let mut viewed: Vec<String> = Vec::new();
    while (viewed.len() as u64) < length {
        let product = if rng.unit() < 0.8 {
            group * GROUP + rng.zipf(GROUP)
        } else {
            rng.next() % PRODUCTS
        };
        let id = format!("p-{product}");
        if viewed.last() != Some(&id) {
            viewed.push(id);
        }
    }
    viewed
}

fn view(shopper: &str, product: &str, ts: i64) -> Event {
    Event {
        kind: EventKind::View,
        shopper: shopper.to_string(),
        product: Some(product.to_string()),
        query: None,
        position: None,
        ts,
        variant: Variant::Anonymous,
        served: None,
    }
}

#[test]
fn next_viewed_product_hit_rate_beats_popularity() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let crowd = Crowd::new(CrowdSettings::default());
    let now = 1_800_000_000;
    let mut views: std::collections::HashMap<String, u64> = Default::default();
    {
        let mut models = crowd.models().unwrap();
        for s in 0..TRAIN {
            let shopper = format!("s-{}", s % 1_000); // returning shoppers, new sessions
            let start = now - 30 * 86_400 + (s as i64) * 600;
            for (i, product) in session(&mut rng).iter().enumerate() {
                *views.entry(product.clone()).or_default() += 1;
                models.feed(&view(&shopper, product, start + i as i64 * 30));
            }
        }
    }
    let mut popular: Vec<(u64, String)> = views.into_iter().map(|(p, n)| (n, p)).collect();
    popular.sort_by(|a, b| b.cmp(a));
    let popular: Vec<String> = popular.into_iter().take(TOP + 1).map(|(_, p)| p).collect();

    let models = crowd.models().unwrap();
    let (mut pairs, mut hits, mut baseline_hits) = (0u32, 0u32, 0u32);
    for _ in 0..HELD_OUT {
        let viewed = session(&mut rng);
        for pair in viewed.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            pairs += 1;
            let recommended: Vec<String> = models
                .cooccurrence
                .neighbours(a, RecommendationKind::AlsoViewed, now)
                .into_iter()
                .map(|n| n.product)
                .filter(|p| p != a)
                .take(TOP)
                .collect();
            hits += u32::from(recommended.contains(b));
            let baseline: Vec<&String> = popular.iter().filter(|p| *p != a).take(TOP).collect();
            baseline_hits += u32::from(baseline.contains(&b));
        }
    }
    let rate = f64::from(hits) / f64::from(pairs);
    let baseline = f64::from(baseline_hits) / f64::from(pairs);
    println!(
        "also_viewed hit@{TOP} of the next viewed product: {rate:.3} over {pairs} held-out pairs \
         (most-viewed baseline {baseline:.3})"
    );
    assert!(rate > 0.3, "hit rate {rate:.3}");
    assert!(
        rate > 2.0 * baseline,
        "hit rate {rate:.3} vs baseline {baseline:.3}"
    );
}
