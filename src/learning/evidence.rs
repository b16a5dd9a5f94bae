//! Evidence: events folded into per-query engagement, per-shopper attribution and
//! behavioural popularity, bounded in memory; and its turning into [`Signals`].

use std::collections::{HashMap, HashSet};

use super::depth::{Depth, QueryDepths};
use super::signals::Signals;
use super::verdict::{
    Deepest, Engaged, Engagement, PAGE, PageLooks, PositionRates, PositionShape, SeenPages, Served,
    chosen_categories, deepest_engagements, position_counts, verdicts,
};
use super::{FULL_LIFT, MIN_SHOPPERS, PRIOR_CLICKS, ProductKinds};
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
pub(super) const RANK_DEPTH: usize = 100;
/// A product nobody engaged with is demoted once its position alone should have
/// earned this many engagements: shoppers looked at it and passed it by.
const SKIPPED_EXPECTED: f32 = 1.5;
/// Share of the full signal a skip can take away.
const SKIP_SHARE: f32 = 0.5;
/// Distinct learned pages remembered per query; later searches are read against the
/// last one.
const MAX_PAGES: usize = 8;

/// One query's evidence.
#[derive(Default)]
struct QueryEvidence {
    /// Distinct shoppers who ran it (hashed), with the learned page their latest search
    /// was served (an index into `pages`; `None`: the unlearned ranking).
    searchers: Served,
    /// The learned first pages its searches were served, as recorded with them (product
    /// ids interned in [`Evidence::page_products`]).
    pages: Vec<Vec<u32>>,
    /// Per product, per shopper: their strongest engagement and where they saw it.
    engaged: Engaged,
}

/// Product ids as small numbers, so that a query's remembered pages cost 4 bytes a
/// product; holds at most the products some learned page showed.
#[derive(Default)]
struct Interned {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interned {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

/// The index of `served` among a query's learned `pages` (added when new; past
/// [`MAX_PAGES`], the last one).
fn page_index(pages: &mut Vec<Vec<u32>>, names: &mut Interned, served: &[String]) -> Option<u32> {
    let served: Vec<u32> = served.iter().map(|p| names.id(p)).collect();
    let index = match pages.iter().rposition(|p| *p == served) {
        Some(i) => i,
        None if pages.len() < MAX_PAGES => {
            pages.push(served);
            pages.len() - 1
        }
        None => pages.len().checked_sub(1)?,
    };
    Some(index as u32)
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
    /// Per shopper: the time of their latest event, so that retention can forget
    /// shoppers with nothing left in the window ([`Evidence::forget_before`]).
    active: HashMap<u64, i64>,
    /// Whether something was forgotten since signals were last made.
    forgot: bool,
    /// The products of the learned pages searches recorded.
    page_products: Interned,
}

/// A query's evidence, made when new unless [`MAX_QUERIES`] are tracked already.
fn query_mut<'a>(
    queries: &'a mut HashMap<String, QueryEvidence>,
    q: &str,
) -> Option<&'a mut QueryEvidence> {
    if !queries.contains_key(q) && queries.len() >= MAX_QUERIES {
        return None;
    }
    Some(queries.entry(q.to_string()).or_default())
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

    /// The first page of `query`'s unlearned ranking, when it was looked up.
    pub fn unlearned_page(&self, query: &str) -> Option<&[String]> {
        self.rankings.get(query).map(|r| &r[..r.len().min(PAGE)])
    }

    pub fn has_any(&self) -> bool {
        !self.queries.is_empty() || !self.behaviour.is_empty()
    }

    /// Whether evidence was forgotten since the signals were last made (they then
    /// need making again even without new events).
    pub fn forgot_since_signals(&self) -> bool {
        self.forgot
    }

    /// Forgets what came from events stamped before `cutoff` (the retention window's
    /// start), so a long-running server keeps what a restarted one would rebuild from
    /// the retained events, and memory follows the window rather than every shopper
    /// ever seen: shoppers with no event since the cutoff are dropped from every
    /// query, behaviour older than the cutoff goes, and queries, sessions and cached
    /// rankings with nothing left go with them. Returns how many shoppers went.
    pub fn forget_before(&mut self, cutoff: i64) -> usize {
        let mut gone: HashSet<u64> = HashSet::new();
        self.active.retain(|shopper, last| {
            let keep = *last >= cutoff;
            if !keep {
                gone.insert(*shopper);
            }
            keep
        });
        let mut aged = false;
        self.behaviour.retain(|_, by| {
            let before = by.len();
            by.retain(|_, (_, ts)| *ts >= cutoff);
            aged |= by.len() < before;
            !by.is_empty()
        });
        self.forgot |= aged;
        self.sessions.retain(|_, s| s.last >= cutoff);
        self.forget_shoppers(&gone);
        gone.len()
    }

    /// Forgets everything `shopper` taught (they asked to be forgotten).
    pub fn forget_shopper(&mut self, shopper: &str) {
        let hash = shopper_hash(shopper);
        self.active.remove(&hash);
        self.sessions.remove(&hash);
        self.behaviour.retain(|_, by| {
            by.remove(&hash);
            !by.is_empty()
        });
        self.forget_shoppers(&HashSet::from([hash]));
    }

    /// Drops `gone` from every query's evidence, and what is left empty.
    fn forget_shoppers(&mut self, gone: &HashSet<u64>) {
        if gone.is_empty() {
            return;
        }
        for evidence in self.queries.values_mut() {
            evidence.searchers.retain(|s, _| !gone.contains(s));
            evidence.engaged.retain(|_, by| {
                by.retain(|s, _| !gone.contains(s));
                !by.is_empty()
            });
        }
        self.queries
            .retain(|_, e| !e.searchers.is_empty() || !e.engaged.is_empty());
        let queries = &self.queries;
        self.rankings.retain(|q, _| queries.contains_key(q));
        self.forgot = true;
    }

    /// Folds one event in.
    pub fn add(&mut self, seq: u64, event: &Event, session_gap: i64) {
        self.cursor = Some(seq);
        let shopper = shopper_hash(&event.shopper);
        let last = self.active.entry(shopper).or_insert(event.ts);
        *last = (*last).max(event.ts);
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
                let names = &mut self.page_products;
                if let Some(q) = q
                    && let Some(evidence) = query_mut(&mut self.queries, &q)
                {
                    let page = event
                        .served
                        .as_deref()
                        .and_then(|served| page_index(&mut evidence.pages, names, served));
                    evidence.searchers.insert(shopper, page);
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
            evidence.searchers.entry(shopper).or_insert(None);
            if evidence.engaged.len() < MAX_PRODUCTS_PER_QUERY
                || evidence.engaged.contains_key(product)
            {
                let best = evidence
                    .engaged
                    .entry(product.to_string())
                    .or_default()
                    .entry(shopper)
                    .or_insert(Engagement {
                        weight,
                        shown_at: None,
                    });
                best.weight = best.weight.max(weight);
                if let Some(p) = event.position.filter(|p| *p >= 1) {
                    best.shown_at = Some(best.shown_at.map_or(p, |q| q.min(p)));
                }
            }
        }
    }

    fn query_mut(&mut self, q: &str) -> Option<&mut QueryEvidence> {
        query_mut(&mut self.queries, q)
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
    /// ranking, `kinds` what the catalog says a product is.
    pub fn signals(
        &mut self,
        rank: &dyn Fn(&str) -> Result<Vec<String>>,
        kinds: &dyn Fn(&str) -> ProductKinds,
        now: i64,
        half_life: f64,
    ) -> Result<Signals> {
        self.forgot = false;
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
        let pages: Vec<SeenPages> = learnable
            .iter()
            .map(|q| {
                let evidence = &self.queries[*q];
                let learned = evidence
                    .pages
                    .iter()
                    .map(|page| page.iter().map(|p| self.page_products.name(*p)).collect())
                    .collect();
                SeenPages::new(&self.rankings[*q], learned, &evidence.searchers)
            })
            .collect();
        let counts: Vec<[f32; PAGE]> = learnable
            .iter()
            .zip(&pages)
            .map(|(q, seen)| position_counts(&self.queries[*q].engaged, seen))
            .collect();
        let mut total = [0.0f32; PAGE];
        for c in &counts {
            for (t, v) in total.iter_mut().zip(c) {
                *t += v;
            }
        }
        // How deep the store's shoppers look, from every query's searchers: how far
        // those who took nothing probably looked.
        let deepest: Vec<Deepest> = learnable
            .iter()
            .zip(&pages)
            .map(|(query, seen)| deepest_engagements(seen, &self.queries[*query].engaged))
            .collect();
        let depths: Vec<QueryDepths> = learnable
            .iter()
            .zip(&counts)
            .zip(&deepest)
            .map(|((query, own), deepest)| {
                QueryDepths::of(&self.queries[*query].searchers, deepest, own)
            })
            .collect();
        let depth = Depth::learn(&depths);
        // Each query is measured against the others: where their shoppers engage, and
        // how often they take what satisfies them.
        let looks: Vec<(PositionShape, PageLooks)> = learnable
            .iter()
            .zip(&counts)
            .zip(&pages)
            .zip(depths.iter().zip(&deepest))
            .map(|(((query, own), seen), (depths, deepest))| {
                let shape = PositionShape::without(&total, own);
                let evidence = &self.queries[*query];
                let looks = PageLooks::of(
                    &evidence.searchers,
                    seen,
                    &evidence.engaged,
                    deepest,
                    &self.rankings[*query],
                    &depth.idle_examination(depths),
                );
                (shape, looks)
            })
            .collect();
        let store = looks.iter().fold((0.0f32, 0.0f32), |(c, e), (_, l)| {
            let (lc, le) = l.chosen();
            (c + lc, e + le)
        });
        let mut positions_total = [(0.0f32, 0.0f32); PAGE];
        for (_, l) in &looks {
            for (t, (c, e)) in positions_total.iter_mut().zip(l.by_position()) {
                *t = (t.0 + c, t.1 + e);
            }
        }
        for ((query, (shape, looks)), seen) in learnable.into_iter().zip(&looks).zip(&pages) {
            let evidence = &self.queries[query];
            let ranking = &self.rankings[query];
            let learned = query_signals(evidence, ranking, seen, shape);
            let own = looks.chosen();
            let others = ((store.0 - own.0).max(0.0), (store.1 - own.1).max(0.0));
            let mut rest = positions_total;
            for (r, (c, e)) in rest.iter_mut().zip(looks.by_position()) {
                *r = ((r.0 - c).max(0.0), (r.1 - e).max(0.0));
            }
            let position_rates = PositionRates::of(&rest);
            let verdicts = verdicts(
                looks,
                &evidence.engaged,
                ranking,
                &learned,
                others,
                &position_rates,
            );
            let categories = chosen_categories(
                looks,
                &evidence.engaged,
                ranking,
                &|p| kinds(p).categories,
                &position_rates,
            );
            if let Some(head) = head_word(query) {
                for (product, s) in learned.iter().filter(|(_, s)| **s > 0.0) {
                    let related = signals.heads.entry(head.to_string()).or_default();
                    let v = related.entry(product.clone()).or_insert(0.0);
                    *v = v.max(s * RELATED_SHARE);
                    for t in kinds(product).types {
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
            if !categories.is_empty() {
                signals.categories.insert(query.clone(), categories);
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
/// (if none of them took anything, that too says something of its first page).
fn learnable(evidence: &QueryEvidence) -> bool {
    evidence.searchers.len() >= MIN_SHOPPERS
}

/// Per product: the learned signal in [-1, 1] for one query.
fn query_signals(
    evidence: &QueryEvidence,
    ranking: &[String],
    pages: &SeenPages,
    shape: &PositionShape,
) -> HashMap<String, f32> {
    // Expected engagement at a position: the query's total × the share the store's
    // shoppers give that position.
    let total: f32 = evidence
        .engaged
        .values()
        .flat_map(|by| by.values())
        .map(|e| e.weight)
        .sum();
    let mut out = HashMap::new();
    for (product, by) in &evidence.engaged {
        if by.len() < MIN_SHOPPERS {
            continue;
        }
        let clicks: f32 = by.values().map(|e| e.weight).sum();
        // What the positions its shoppers saw it at earn: a product the learned
        // ranking already lifts is measured against where it is shown now.
        let share = by
            .iter()
            .map(|(s, e)| {
                let seen = pages.seen_at(*s, product, e);
                shape.share(seen.unwrap_or(RANK_DEPTH + 1))
            })
            .sum::<f32>()
            / by.len() as f32;
        let expected = total * share;
        let coec = (clicks + PRIOR_CLICKS) / (expected + PRIOR_CLICKS);
        let signal = (coec.ln() / FULL_LIFT.ln()).clamp(0.0, 1.0);
        if signal > 0.01 {
            out.insert(product.clone(), signal);
        }
    }
    for product in ranking.iter().take(PAGE) {
        if evidence.engaged.contains_key(product) {
            continue;
        }
        let expected = total * pages.mean_share(product, shape);
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

    fn learn(events: &[Event], ranking: &[&str]) -> Signals {
        learn_with(events, ranking, &|_| ProductKinds::default())
    }

    /// As [`learn`], the catalog saying what each product is.
    fn learn_with(
        events: &[Event],
        ranking: &[&str],
        kinds: &dyn Fn(&str) -> ProductKinds,
    ) -> Signals {
        let mut evidence = Evidence::default();
        for (i, e) in events.iter().enumerate() {
            evidence.add(i as u64, e, 1_800);
        }
        let ranking: Vec<String> = ranking.iter().map(|s| s.to_string()).collect();
        evidence
            .signals(&|_| Ok(ranking.clone()), kinds, 10_000, 86_400.0)
            .unwrap()
    }

    /// Products `p1..=p5` in no category, `p6..=p12` in `c/cards`, the rest in `c/other`.
    fn in_blocks(product: &str) -> ProductKinds {
        let k: usize = product.trim_start_matches('p').parse().unwrap_or(0);
        let categories = match k {
            1..=5 => vec![],
            6..=12 => vec![super::super::category_key("category", "c/cards")],
            _ => vec![super::super::category_key("category", "c/other")],
        };
        ProductKinds {
            types: vec![],
            categories,
        }
    }

    /// Shoppers 0..n search `q` and click `product`.
    fn sessions(n: usize, q: &str, product: &str, start: i64) -> Vec<Event> {
        (0..n)
            .flat_map(|i| {
                let s = format!("s{start}-{i}");
                [
                    Event::test(EventKind::Search, &s, None, Some(q), start + i as i64),
                    Event::test(
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
    fn a_product_is_measured_where_its_shoppers_saw_it() {
        let ranking: Vec<String> = (1..=20).map(|k| format!("p{k}")).collect();
        let ranked: Vec<&str> = ranking.iter().map(String::as_str).collect();
        // Background traffic teaches the store's position curve: the top is clicked most.
        let mut background = Vec::new();
        for (k, product) in ranked.iter().take(5).enumerate() {
            background.extend(sessions(20 >> k, "pc case", product, 1_000 * k as i64));
        }
        let signal_of_p12 = |shown_at: u32| {
            let mut events = background.clone();
            for mut e in sessions(8, "pc case", "p12", 50_000) {
                if e.kind == EventKind::Click {
                    e.position = Some(shown_at);
                }
                events.push(e);
            }
            learn(&events, &ranked).queries["pc case"]
                .get("p12")
                .copied()
                .unwrap_or(0.0)
        };
        // Eight shoppers who reached position 12 to click it say much; the same clicks
        // at the top of a page that learning or taste had already lifted it to say
        // little more than the position itself.
        let deep = signal_of_p12(12);
        let lifted = signal_of_p12(1);
        assert!(deep > 0.5, "{deep}");
        assert!(lifted < deep / 2.0, "{lifted} vs {deep}");
    }

    /// `queries` queries ranked `p1..=p20`; each of fifteen shoppers clicks two
    /// products of the first ten at random.
    fn clicks_at_random(queries: usize) -> (Vec<String>, Vec<Event>) {
        let ranking: Vec<String> = (1..=20).map(|k| format!("p{k}")).collect();
        let mut events = Vec::new();
        let mut state: u64 = 7;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % n
        };
        for q in 0..queries {
            let query = format!("query {q}");
            for s in 0..15 {
                let shopper = format!("q{q}-s{s}");
                let ts = (q * 100 + s) as i64 * 10;
                events.push(Event::test(
                    EventKind::Search,
                    &shopper,
                    None,
                    Some(&query),
                    ts,
                ));
                for _ in 0..2 {
                    let k = next(10) as usize;
                    let mut click = Event::test(
                        EventKind::Click,
                        &shopper,
                        Some(&ranking[k]),
                        Some(&query),
                        ts + 1,
                    );
                    click.position = Some(k as u32 + 1);
                    events.push(click);
                }
            }
        }
        (ranking, events)
    }

    #[test]
    fn clicks_at_random_over_many_queries_pass_the_top_over_no_more_than_the_rest() {
        const QUERIES: usize = 80;
        // Eighty queries of random clicks. Read from clicks, the top looks examined by
        // nearly everyone (someone clicked below it) and the deep products only by
        // their clickers.
        let (ranking, events) = clicks_at_random(QUERIES);
        let ranked: Vec<&str> = ranking.iter().map(String::as_str).collect();
        let signals = learn(&events, &ranked);
        let passed_over = |k: usize| {
            signals
                .verdicts
                .values()
                .filter(|v| v.get(&ranking[k]) == Some(&-1))
                .count()
        };
        let top: usize = (0..3).map(passed_over).sum();
        let rest: usize = (3..10).map(passed_over).sum();
        // Per product, the top three are passed over at most twice as often as the
        // next seven (without the position correction: 22 of 240 against 10 of 560),
        // and rarely (at most 5 %).
        assert!(
            top * 7 <= (rest + 2) * 3 * 2,
            "top three {top} times, next seven {rest} times"
        );
        assert!(top * 20 <= 3 * QUERIES, "top three passed over {top} times");
    }

    #[test]
    fn clicks_at_random_choose_no_category() {
        const QUERIES: usize = 80;
        let (ranking, events) = clicks_at_random(QUERIES);
        let ranked: Vec<&str> = ranking.iter().map(String::as_str).collect();
        let signals = learn_with(&events, &ranked, &in_blocks);
        // Two categories share the first ten; clicks at random favour neither.
        assert!(
            signals.categories.len() * 20 <= QUERIES,
            "{} of {QUERIES} queries chose a category: {:?}",
            signals.categories.len(),
            signals.categories
        );
    }

    /// Twelve shoppers search "network card" over `p1..=p20`: `deep` of them each click
    /// one of `p6..=p8`, one clicks `p2`, the rest leave without clicking.
    fn network_card_sessions(deep: usize) -> Vec<Event> {
        let mut events = Vec::new();
        for i in 0..12 {
            let s = format!("nc-{i}");
            let ts = 100_000 + i as i64 * 10;
            events.push(Event::test(
                EventKind::Search,
                &s,
                None,
                Some("network card"),
                ts,
            ));
            let clicked = match i {
                i if i < deep => Some(6 + i % 3),
                11 => Some(2),
                _ => None,
            };
            if let Some(k) = clicked {
                let product = format!("p{k}");
                let mut click = Event::test(
                    EventKind::Click,
                    &s,
                    Some(&product),
                    Some("network card"),
                    ts + 1,
                );
                click.position = Some(k as u32);
                events.push(click);
            }
        }
        events
    }

    #[test]
    fn a_category_shoppers_take_from_below_an_abandoned_top_is_chosen() {
        let ranking: Vec<String> = (1..=20).map(|k| format!("p{k}")).collect();
        let ranked: Vec<&str> = ranking.iter().map(String::as_str).collect();
        // Background queries teach the store's rates: shoppers take the top.
        let mut background = Vec::new();
        for (k, product) in ranked.iter().take(4).enumerate() {
            background.extend(sessions(12 >> k, "tables", product, 1_000 * k as i64));
        }
        let chosen = |deep: usize| {
            let mut events = background.clone();
            events.extend(network_card_sessions(deep));
            learn_with(&events, &ranked, &in_blocks)
                .chosen_categories("network card")
                .to_vec()
        };
        // The products of no category on top: one click in twelve searches. Five
        // shoppers take the category's products further down: it is chosen.
        let cards = super::super::category_key("category", "c/cards");
        assert_eq!(chosen(5), [cards]);
        // Two shoppers are too few.
        assert!(chosen(2).is_empty());
    }

    /// Thirty queries whose shoppers look down the page, each position further with
    /// probability `attention`, take what they look at with probability one half and
    /// stop there; then fifteen shoppers search "abandoned" and take nothing.
    fn store_looking(attention: f64) -> Vec<Event> {
        let ranking: Vec<String> = (1..=20).map(|k| format!("p{k}")).collect();
        let mut state: u64 = 11;
        let mut chance = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut events = Vec::new();
        for q in 0..30 {
            let query = format!("query {q}");
            for s in 0..20 {
                let shopper = format!("q{q}-s{s}");
                let ts = (q * 100 + s) as i64 * 10;
                events.push(Event::test(
                    EventKind::Search,
                    &shopper,
                    None,
                    Some(&query),
                    ts,
                ));
                for (k, product) in ranking.iter().enumerate() {
                    if k > 0 && chance() > attention {
                        break;
                    }
                    if chance() < 0.5 {
                        let mut click = Event::test(
                            EventKind::Click,
                            &shopper,
                            Some(product),
                            Some(&query),
                            ts + 1,
                        );
                        click.position = Some(k as u32 + 1);
                        events.push(click);
                        break;
                    }
                }
            }
        }
        for s in 0..15 {
            let ts = 1_000_000 + s as i64 * 10;
            events.push(Event::test(
                EventKind::Search,
                &format!("a-{s}"),
                None,
                Some("abandoned"),
                ts,
            ));
        }
        events
    }

    #[test]
    fn a_page_nobody_takes_anything_from_is_passed_over_as_deep_as_shoppers_look() {
        let ranking: Vec<String> = (1..=20).map(|k| format!("p{k}")).collect();
        let ranked: Vec<&str> = ranking.iter().map(String::as_str).collect();
        let passed_over = |attention: f64| {
            let signals = learn(&store_looking(attention), &ranked);
            let verdicts = signals
                .verdicts
                .get("abandoned")
                .cloned()
                .unwrap_or_default();
            ranking
                .iter()
                .take_while(|p| verdicts.get(*p) == Some(&-1))
                .count()
        };
        // Where shoppers look deep, fifteen who took nothing looked well down the
        // page: its first six are passed over, not only the top (what the share of
        // clicks at each position, which falls much faster, would say).
        let deep = passed_over(0.85);
        assert!(deep >= 6, "{deep}");
        // Where they give up early, the same fifteen say less about the deep ones.
        let shallow = passed_over(0.4);
        assert!(shallow < deep, "{shallow} vs {deep}");
    }

    #[test]
    fn searches_remember_a_few_distinct_served_pages() {
        let mut evidence = Evidence::default();
        for i in 0..20 {
            let mut e = Event::test(EventKind::Search, &format!("s{i}"), None, Some("lamp"), i);
            e.served = Some(vec![format!("p{}", i % 10), "x".into()]);
            evidence.add(i as u64, &e, 1_800);
        }
        let lamp = &evidence.queries["lamp"];
        let page_of = |s: &str| lamp.searchers[&shopper_hash(s)];
        assert_eq!(lamp.pages.len(), MAX_PAGES);
        // A page served before is remembered once.
        assert_eq!(page_of("s10"), page_of("s0"));
        assert_eq!(page_of("s0"), Some(0));
        // Past the cap, searches are read against the last page remembered.
        assert_eq!(page_of("s9"), Some(MAX_PAGES as u32 - 1));
        // Product ids are kept once, whatever the number of pages.
        assert_eq!(evidence.page_products.names.len(), 11);
        // A search recorded without a page was served the unlearned ranking.
        let plain = Event::test(EventKind::Search, "t", None, Some("lamp"), 30);
        evidence.add(30, &plain, 1_800);
        assert_eq!(evidence.queries["lamp"].searchers[&shopper_hash("t")], None);
    }

    #[test]
    fn thin_evidence_and_one_shopper_clicking_a_thousand_times_teach_nothing() {
        let ranking = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let mut events = sessions(2, "lamp", "h", 0);
        for i in 0..1000 {
            events.push(Event::test(
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
                    Event::test(EventKind::Search, &s, None, Some("Oak  Table"), i * 10),
                    Event::test(EventKind::Purchase, &s, Some("h"), None, i * 10 + 5),
                ]
            })
            .collect();
        let signals = learn(&events, &ranking);
        assert!(signals.queries["oak table"]["h"] > 0.5);
        // A purchase long after the session tells nothing about the search.
        let late = vec![
            Event::test(EventKind::Search, "x", None, Some("rug"), 0),
            Event::test(EventKind::Purchase, "x", Some("h"), None, 100_000),
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

    #[test]
    fn forgetting_before_a_cutoff_drops_what_only_older_events_taught() {
        let ranking = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let ranked: Vec<String> = ranking.iter().map(|s| s.to_string()).collect();
        let mut evidence = Evidence::default();
        let old = sessions(6, "oak table", "h", 0);
        let recent = sessions(4, "wool rug", "g", 100_000);
        for (i, e) in old.iter().chain(&recent).enumerate() {
            evidence.add(i as u64, e, 1_800);
        }
        let make = |evidence: &mut Evidence| {
            evidence
                .signals(
                    &|_| Ok(ranked.clone()),
                    &|_| ProductKinds::default(),
                    100_100,
                    86_400.0,
                )
                .unwrap()
        };
        let before = make(&mut evidence);
        assert!(before.queries.contains_key("oak table"));
        assert!(before.popularity.contains_key("h"));
        assert!(!evidence.forgot_since_signals());

        assert_eq!(evidence.forget_before(50_000), 6);
        assert!(
            evidence.forgot_since_signals(),
            "signals must be made again"
        );
        let after = make(&mut evidence);
        assert!(
            !after.queries.contains_key("oak table"),
            "{:?}",
            after.queries
        );
        assert!(!after.popularity.contains_key("h"));
        assert!(after.queries["wool rug"]["g"] > 0.0);
        assert_eq!(evidence.queries.len(), 1);
        assert_eq!(evidence.rankings.len(), 1);

        // A forgotten shopper goes at once, and with them what they alone taught.
        for i in 0..4 {
            evidence.forget_shopper(&format!("s100000-{i}"));
        }
        assert!(!evidence.has_any());
        assert!(make(&mut evidence).queries.is_empty());
    }
}
