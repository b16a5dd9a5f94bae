//! Evidence: events folded into per-query engagement, per-shopper attribution and
//! behavioural popularity, bounded in memory; and its turning into [`Signals`].

use std::collections::{HashMap, HashSet};

use super::signals::Signals;
use super::verdict::{PAGE, PositionShape, position_counts, verdicts};
use super::{FULL_LIFT, MIN_SHOPPERS, PRIOR_CLICKS};
use crate::error::Result;
use crate::events::{Event, EventKind};

/// Queries tracked at most; later new queries are not learned until old ones expire.
const MAX_QUERIES: usize = 100_000;
/// Products tracked per query at most.
const MAX_PRODUCTS_PER_QUERY: usize = 500;
/// Products with behavioural popularity tracked at most.
const MAX_POPULAR_PRODUCTS: usize = 1_000_000;
/// A related query (same head word) gets this share of a product's learned signal.
const RELATED_SHARE: f32 = 0.5;
/// Deepest position looked up in a query's unlearned ranking.
const RANK_DEPTH: usize = 100;
/// A product nobody engaged with is demoted once its position alone should have
/// earned this many engagements: shoppers looked at it and passed it by.
const SKIPPED_EXPECTED: f32 = 1.5;
/// Share of the full signal a skip can take away.
const SKIP_SHARE: f32 = 0.5;

/// One query's evidence.
#[derive(Default)]
struct QueryEvidence {
    /// Distinct shoppers who ran it (hashed).
    searchers: HashSet<u64>,
    /// Per product, per shopper: their strongest engagement.
    engaged: HashMap<String, HashMap<u64, f32>>,
}

/// What is known of a shopper's current session.
struct Session {
    query: Option<String>,
    last: i64,
}

/// Everything learned from the events so far.
#[derive(Default)]
pub struct Evidence {
    cursor: Option<u64>,
    queries: HashMap<String, QueryEvidence>,
    sessions: HashMap<u64, Session>,
    /// Per product, per shopper: strongest behaviour and when.
    behaviour: HashMap<String, HashMap<u64, (f32, i64)>>,
    /// Unlearned rankings already looked up.
    rankings: HashMap<String, Vec<String>>,
}

/// A query as learned: words folded, spaces collapsed.
pub fn normalize_query(query: &str) -> String {
    query
        .split_whitespace()
        .map(crate::analysis::fold_word)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The query's head word: its last word that is not a number or a stop word.
pub fn head_word(query: &str) -> Option<&str> {
    query.split(' ').rev().find(|w| {
        !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()) && !crate::analysis::is_stop_word(w)
    })
}

fn shopper_hash(shopper: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in shopper.as_bytes() {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn engagement(kind: EventKind) -> f32 {
    match kind {
        EventKind::Click => 1.0,
        EventKind::AddToCart => 2.0,
        EventKind::Purchase => 3.0,
        EventKind::View | EventKind::Search => 0.0,
    }
}

impl Evidence {
    /// The last sequence number folded in.
    pub fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    pub fn has_any(&self) -> bool {
        !self.queries.is_empty() || !self.behaviour.is_empty()
    }

    /// Folds one event in.
    pub fn add(&mut self, seq: u64, event: &Event, session_gap: i64) {
        self.cursor = Some(seq);
        let shopper = shopper_hash(&event.shopper);
        let session = self.sessions.entry(shopper).or_insert(Session {
            query: None,
            last: event.ts,
        });
        if event.ts - session.last > session_gap {
            session.query = None;
        }
        session.last = session.last.max(event.ts);
        let query = match event.kind {
            EventKind::Search => {
                let q = event
                    .query
                    .as_deref()
                    .map(normalize_query)
                    .filter(|q| !q.is_empty());
                session.query = q.clone();
                if let Some(q) = q {
                    self.query_mut(&q).map(|e| e.searchers.insert(shopper));
                }
                return;
            }
            _ => event
                .query
                .as_deref()
                .map(normalize_query)
                .filter(|q| !q.is_empty())
                .or_else(|| session.query.clone()),
        };
        let Some(product) = event.product.as_deref() else {
            return;
        };
        self.add_behaviour(product, shopper, event);
        let weight = engagement(event.kind);
        if weight <= 0.0 {
            return;
        }
        if let Some(q) = query
            && let Some(evidence) = self.query_mut(&q)
        {
            evidence.searchers.insert(shopper);
            if evidence.engaged.len() < MAX_PRODUCTS_PER_QUERY
                || evidence.engaged.contains_key(product)
            {
                let best = evidence
                    .engaged
                    .entry(product.to_string())
                    .or_default()
                    .entry(shopper)
                    .or_insert(0.0);
                *best = best.max(weight);
            }
        }
    }

    fn query_mut(&mut self, q: &str) -> Option<&mut QueryEvidence> {
        if !self.queries.contains_key(q) && self.queries.len() >= MAX_QUERIES {
            return None;
        }
        Some(self.queries.entry(q.to_string()).or_default())
    }

    fn add_behaviour(&mut self, product: &str, shopper: u64, event: &Event) {
        let weight = match event.kind {
            EventKind::View => 1.0,
            other => engagement(other),
        };
        if !self.behaviour.contains_key(product) && self.behaviour.len() >= MAX_POPULAR_PRODUCTS {
            return;
        }
        let entry = self
            .behaviour
            .entry(product.to_string())
            .or_default()
            .entry(shopper)
            .or_insert((0.0, event.ts));
        entry.0 = entry.0.max(weight);
        entry.1 = entry.1.max(event.ts);
    }

    /// The signals this evidence supports now; `rank` gives a query's unlearned
    /// ranking, `types` a product's type words.
    pub fn signals(
        &mut self,
        rank: &dyn Fn(&str) -> Result<Vec<String>>,
        types: &dyn Fn(&str) -> Vec<String>,
        now: i64,
        half_life: f64,
    ) -> Result<Signals> {
        let mut signals = Signals::default();
        let mut head_types: HashMap<String, HashMap<String, f32>> = HashMap::new();
        let learnable: Vec<&String> = self
            .queries
            .iter()
            .filter(|(_, e)| learnable(e))
            .map(|(q, _)| q)
            .collect();
        for query in &learnable {
            if !self.rankings.contains_key(*query) {
                let ranking: Vec<String> = rank(query)?.into_iter().take(RANK_DEPTH).collect();
                self.rankings.insert((*query).clone(), ranking);
            }
        }
        let counts: Vec<[f32; PAGE]> = learnable
            .iter()
            .map(|q| position_counts(&self.queries[*q].engaged, &self.rankings[*q]))
            .collect();
        let mut total = [0.0f32; PAGE];
        for c in &counts {
            for (t, v) in total.iter_mut().zip(c) {
                *t += v;
            }
        }
        for (query, own) in learnable.into_iter().zip(&counts) {
            let shape = PositionShape::without(&total, own);
            let evidence = &self.queries[query];
            let ranking = &self.rankings[query];
            let learned = query_signals(evidence, ranking, &shape);
            let verdicts = verdicts(
                &evidence.searchers,
                &evidence.engaged,
                ranking,
                &learned,
                &shape,
            );
            if let Some(head) = head_word(query) {
                for (product, s) in learned.iter().filter(|(_, s)| **s > 0.0) {
                    let related = signals.heads.entry(head.to_string()).or_default();
                    let v = related.entry(product.clone()).or_insert(0.0);
                    *v = v.max(s * RELATED_SHARE);
                    for t in types(product) {
                        *head_types
                            .entry(head.to_string())
                            .or_default()
                            .entry(t)
                            .or_insert(0.0) += s;
                    }
                }
            }
            if !learned.is_empty() {
                signals.queries.insert(query.clone(), learned);
            }
            if !verdicts.is_empty() {
                signals.verdicts.insert(query.clone(), verdicts);
            }
        }
        for (head, by_type) in head_types {
            let total: f32 = by_type.values().sum();
            if total > 0.0 {
                let shares = by_type
                    .into_iter()
                    .map(|(t, v)| (t, RELATED_SHARE * v / total))
                    .collect();
                signals.head_types.insert(head, shares);
            }
        }
        signals.popularity = behaviour_popularity(&self.behaviour, now, half_life);
        // Shoppers whose session ended long ago need no attribution state.
        self.sessions.retain(|_, s| now - s.last < 86_400);
        Ok(signals)
    }
}

/// Whether a query has enough evidence to learn from: several distinct shoppers ran it
/// and some engaged.
fn learnable(evidence: &QueryEvidence) -> bool {
    evidence.searchers.len() >= MIN_SHOPPERS && !evidence.engaged.is_empty()
}

/// Per product: the learned signal in [-1, 1] for one query.
fn query_signals(
    evidence: &QueryEvidence,
    ranking: &[String],
    shape: &PositionShape,
) -> HashMap<String, f32> {
    // Expected engagement at a position: the query's total × the share the store's
    // shoppers give that position.
    let total: f32 = evidence.engaged.values().flat_map(|by| by.values()).sum();
    let position = |id: &str| {
        ranking
            .iter()
            .position(|r| r == id)
            .map(|p| p + 1)
            .unwrap_or(RANK_DEPTH + 1)
    };
    let mut out = HashMap::new();
    for (product, by) in &evidence.engaged {
        if by.len() < MIN_SHOPPERS {
            continue;
        }
        let clicks: f32 = by.values().sum();
        let expected = total * shape.share(position(product));
        let coec = (clicks + PRIOR_CLICKS) / (expected + PRIOR_CLICKS);
        let signal = (coec.ln() / FULL_LIFT.ln()).clamp(0.0, 1.0);
        if signal > 0.01 {
            out.insert(product.clone(), signal);
        }
    }
    for (k, product) in ranking.iter().take(PAGE).enumerate() {
        if evidence.engaged.contains_key(product) {
            continue;
        }
        let expected = total * shape.share(k + 1);
        if expected >= SKIPPED_EXPECTED {
            let skip = ((expected + PRIOR_CLICKS) / PRIOR_CLICKS).ln() / FULL_LIFT.ln();
            out.insert(product.clone(), -(SKIP_SHARE * skip).clamp(0.0, 1.0));
        }
    }
    out
}

/// Decayed behaviour per product (each shopper once, strongest behaviour), in [0, 1].
fn behaviour_popularity(
    behaviour: &HashMap<String, HashMap<u64, (f32, i64)>>,
    now: i64,
    half_life: f64,
) -> HashMap<String, f32> {
    let decay = |ts: i64| (0.5f64).powf((now - ts).max(0) as f64 / half_life.max(1.0)) as f32;
    let raw: HashMap<&str, f32> = behaviour
        .iter()
        .map(|(p, by)| {
            (
                p.as_str(),
                by.values().map(|(w, ts)| w * decay(*ts)).sum::<f32>(),
            )
        })
        .collect();
    let max = raw.values().copied().fold(0.0f32, f32::max);
    if max <= 0.0 {
        return HashMap::new();
    }
    raw.into_iter()
        .map(|(p, v)| (p.to_string(), (1.0 + v).ln() / (1.0 + max).ln()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Variant;

    fn event(
        kind: EventKind,
        shopper: &str,
        product: Option<&str>,
        query: Option<&str>,
        ts: i64,
    ) -> Event {
        Event {
            kind,
            shopper: shopper.into(),
            product: product.map(String::from),
            query: query.map(String::from),
            position: None,
            ts,
            variant: Variant::Anonymous,
        }
    }

    fn learn(events: &[Event], ranking: &[&str]) -> Signals {
        let mut evidence = Evidence::default();
        for (i, e) in events.iter().enumerate() {
            evidence.add(i as u64, e, 1_800);
        }
        let ranking: Vec<String> = ranking.iter().map(|s| s.to_string()).collect();
        evidence
            .signals(&|_| Ok(ranking.clone()), &|_| Vec::new(), 10_000, 86_400.0)
            .unwrap()
    }

    /// Shoppers 0..n search `q` and click `product`.
    fn sessions(n: usize, q: &str, product: &str, start: i64) -> Vec<Event> {
        (0..n)
            .flat_map(|i| {
                let s = format!("s{start}-{i}");
                [
                    event(EventKind::Search, &s, None, Some(q), start + i as i64),
                    event(
                        EventKind::Click,
                        &s,
                        Some(product),
                        Some(q),
                        start + i as i64 + 1,
                    ),
                ]
            })
            .collect()
    }

    #[test]
    fn a_product_clicked_only_because_it_was_first_does_not_rise() {
        let ranking: Vec<String> = (1..=20).map(|k| format!("p{k}")).collect();
        let ranked: Vec<&str> = ranking.iter().map(String::as_str).collect();
        // Equally relevant results: each position is clicked as often as shoppers
        // look at it, so the first is clicked most.
        let examination = |k: usize| (k as f32).powf(-0.8);
        let page: f32 = (1..=PAGE).map(examination).sum();
        let mut events = Vec::new();
        for (k, product) in ranked.iter().enumerate() {
            let clicks = (100.0 * examination(k + 1) / page).round() as usize;
            events.extend(sessions(clicks, "pc case", product, 1_000 * k as i64));
        }
        let signals = learn(&events, &ranked);
        let learned = signals.queries.get("pc case").cloned().unwrap_or_default();
        assert!(
            learned.get("p1").copied().unwrap_or(0.0) < 0.05,
            "{learned:?}"
        );
        // A deep result that many more shoppers pick does rise.
        events.extend(sessions(15, "pc case", "p12", 50_000));
        let signals = learn(&events, &ranked);
        assert!(
            signals.queries["pc case"]["p12"] > 0.3,
            "{:?}",
            signals.queries
        );
        assert!(signals.queries["pc case"].get("p1").copied().unwrap_or(0.0) < 0.05);
    }

    #[test]
    fn thin_evidence_and_one_shopper_clicking_a_thousand_times_teach_nothing() {
        let ranking = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let mut events = sessions(2, "lamp", "h", 0);
        for i in 0..1000 {
            events.push(event(
                EventKind::Click,
                "bot",
                Some("g"),
                Some("lamp"),
                10 + i,
            ));
        }
        let signals = learn(&events, &ranking);
        assert!(
            signals.queries.get("lamp").is_none_or(|q| q.is_empty()),
            "{:?}",
            signals.queries
        );
    }

    #[test]
    fn purchases_are_attributed_to_the_sessions_search() {
        let ranking = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let events: Vec<Event> = (0..6)
            .flat_map(|i| {
                let s = format!("buyer-{i}");
                [
                    event(EventKind::Search, &s, None, Some("Oak  Table"), i * 10),
                    event(EventKind::Purchase, &s, Some("h"), None, i * 10 + 5),
                ]
            })
            .collect();
        let signals = learn(&events, &ranking);
        assert!(signals.queries["oak table"]["h"] > 0.5);
        // A purchase long after the session tells nothing about the search.
        let late = vec![
            event(EventKind::Search, "x", None, Some("rug"), 0),
            event(EventKind::Purchase, "x", Some("h"), None, 100_000),
        ];
        assert!(learn(&late, &ranking).queries.is_empty());
    }

    #[test]
    fn related_queries_share_the_head_word() {
        let ranking = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let signals = learn(&sessions(8, "wool rug", "h", 0), &ranking);
        assert!(signals.heads["rug"]["h"] > 0.0);
        assert_eq!(head_word("rugs for 2 "), Some("rugs"));
    }
}
