//! Analytics for merchandisers: what shoppers search, what finds nothing, what they
//! do not click, and how each variant converts.
//!
//! In: every event with its [`Attribution`], tallied into UTC-day buckets (the day of
//! the event's `ts`; a conversion counts on the day of the search it converts). Out:
//! [`Analytics::window`] merges the last N days into a [`Window`] (copied out, so the
//! models are not locked while the index is asked), and [`Window::report`] ranks it:
//! top queries by searches, zero-result queries (those the caller's `finds` says find
//! nothing in today's index), low click-through queries (converted searches over
//! searches at most [`LOW_CLICK_THROUGH`], for queries with at least
//! [`MIN_SEARCHES_FOR_CTR`] searches), and
//! click-through and conversion per variant.
//!
//! Bounded: [`MAX_DAYS`] buckets are kept (fewer with retention: days that ended
//! before the event window go), each with at most [`MAX_QUERIES_PER_DAY`] queries
//! (later new queries count only in the variant totals); distinct shoppers are counted
//! exactly up to a few hundred per tally and estimated beyond, in at most 2 KiB
//! ([`super::distinct`]).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::distinct::DistinctShoppers;
use super::{Attribution, normalize_query};
use crate::events::{Event, EventKind};
use crate::report::VariantReport;

/// Days of history kept.
pub const MAX_DAYS: i64 = 400;
/// Distinct queries tallied per day.
pub const MAX_QUERIES_PER_DAY: usize = 20_000;
/// A query needs this many searches to be judged on its click-through.
pub const MIN_SEARCHES_FOR_CTR: u64 = 3;
/// A query is listed as low click-through when at most this share of its searches
/// led to a click, cart or purchase.
pub const LOW_CLICK_THROUGH: f64 = 0.5;
/// The most searched queries checked against the index for zero results.
pub const MAX_ZERO_CHECKED: usize = 500;
const DAY: i64 = 86_400;

/// One query's tally.
#[derive(Debug, Clone, Default)]
struct QueryTally {
    searches: u64,
    converted: u64,
    shoppers: DistinctShoppers,
}

impl QueryTally {
    fn merge(&mut self, other: &QueryTally) {
        self.searches += other.searches;
        self.converted += other.converted;
        self.shoppers.merge(&other.shoppers);
    }
}

/// One variant's tally.
#[derive(Debug, Clone, Default)]
struct VariantTally {
    counts: [u64; 5],
    shoppers: DistinctShoppers,
    buyers: DistinctShoppers,
}

#[derive(Debug, Clone, Default)]
struct Day {
    queries: HashMap<String, QueryTally>,
    variants: BTreeMap<&'static str, VariantTally>,
}

/// Daily tallies.
#[derive(Default)]
pub struct Analytics {
    days: BTreeMap<i64, Day>,
}

impl Analytics {
    pub fn observe(&mut self, event: &Event, attribution: &Attribution) {
        let day = self.day(event.ts);
        let variant = day.variants.entry(event.variant.name()).or_default();
        variant.counts[kind_slot(event.kind)] += 1;
        variant.shoppers.insert(attribution.shopper);
        if event.kind == EventKind::Purchase {
            variant.buyers.insert(attribution.shopper);
        }
        if event.kind == EventKind::Search {
            let query = normalize_query(event.query.as_deref().unwrap_or(""));
            if let Some(tally) = query_tally(day, query) {
                tally.searches += 1;
                tally.shoppers.insert(attribution.shopper);
            }
        }
        for (query, ts) in &attribution.converted {
            if let Some(tally) = query_tally(self.day(*ts), query.clone()) {
                tally.converted += 1;
            }
        }
        while self.days.len() as i64 > MAX_DAYS {
            self.days.pop_first();
        }
    }

    /// Forgets the days that ended before `cutoff` (retention): a restarted server,
    /// rebuilding from the retained events, would not have them either.
    pub fn forget_before(&mut self, cutoff: i64) {
        let first_kept = cutoff.div_euclid(DAY);
        self.days = self.days.split_off(&first_kept);
    }

    fn day(&mut self, ts: i64) -> &mut Day {
        self.days.entry(ts.div_euclid(DAY)).or_default()
    }

    /// The tallies of the `days` UTC days ending with the day of `now`.
    pub fn window(&self, days: u32, now: i64) -> Window {
        let last = now.div_euclid(DAY);
        let first = last - i64::from(days.max(1)) + 1;
        let mut window = Window {
            days,
            from: day_name(first),
            to: day_name(last),
            ..Window::default()
        };
        for (_, day) in self.days.range(first..=last) {
            for (query, tally) in &day.queries {
                window
                    .queries
                    .entry(query.clone())
                    .or_default()
                    .merge(tally);
            }
            for (name, tally) in &day.variants {
                let merged = window.variants.entry(name).or_default();
                for (total, n) in merged.counts.iter_mut().zip(tally.counts) {
                    *total += n;
                }
                merged.shoppers.merge(&tally.shoppers);
                merged.buyers.merge(&tally.buyers);
            }
        }
        window
    }
}

/// The day's tally of `query`, unless the day is full.
fn query_tally(day: &mut Day, query: String) -> Option<&mut QueryTally> {
    if !day.queries.contains_key(&query) && day.queries.len() >= MAX_QUERIES_PER_DAY {
        return None;
    }
    Some(day.queries.entry(query).or_default())
}

fn kind_slot(kind: EventKind) -> usize {
    match kind {
        EventKind::Search => 0,
        EventKind::View => 1,
        EventKind::Click => 2,
        EventKind::AddToCart => 3,
        EventKind::Purchase => 4,
    }
}

fn day_name(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * DAY, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Tallies merged over a window of days.
#[derive(Debug, Clone, Default)]
pub struct Window {
    days: u32,
    from: String,
    to: String,
    queries: HashMap<String, QueryTally>,
    variants: BTreeMap<&'static str, VariantTally>,
}

/// One query in a report.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct QueryRow {
    pub query: String,
    pub searches: u64,
    /// Distinct shoppers who ran it: exact up to 256, estimated beyond (about 2.3 %
    /// standard error; `crate::crowd::distinct`).
    pub shoppers: usize,
    /// Searches followed by a click, cart or purchase within the window.
    pub converted: u64,
    /// `converted / searches`.
    pub click_through: f64,
}

/// What `GET /v1/admin/analytics` and `clerk report` show.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AnalyticsReport {
    pub days: u32,
    /// First and last UTC day covered.
    pub from: String,
    pub to: String,
    pub top_queries: Vec<QueryRow>,
    /// Searched queries that find nothing in today's index, most searched first.
    pub zero_result_queries: Vec<QueryRow>,
    /// Queries searched at least [`MIN_SEARCHES_FOR_CTR`] times whose click-through is
    /// at most [`LOW_CLICK_THROUGH`], lowest first.
    pub low_click_through: Vec<QueryRow>,
    /// By variant: `personalized`, `holdout`, `anonymous`.
    #[schema(value_type = std::collections::HashMap<String, VariantReport>)]
    pub variants: BTreeMap<&'static str, VariantReport>,
}

impl Window {
    /// Ranks the window; `finds` says whether a query finds anything today.
    pub fn report(&self, limit: usize, finds: &mut dyn FnMut(&str) -> bool) -> AnalyticsReport {
        let mut rows: Vec<QueryRow> = self
            .queries
            .iter()
            .filter(|(_, t)| t.searches > 0)
            .map(|(q, t)| QueryRow {
                query: q.clone(),
                searches: t.searches,
                shoppers: t.shoppers.len(),
                converted: t.converted,
                click_through: t.converted as f64 / t.searches as f64,
            })
            .collect();
        rows.sort_by(|a, b| {
            b.searches
                .cmp(&a.searches)
                .then_with(|| a.query.cmp(&b.query))
        });
        let zero_result_queries: Vec<QueryRow> = rows
            .iter()
            .take(MAX_ZERO_CHECKED)
            .filter(|r| !finds(&r.query))
            .take(limit)
            .cloned()
            .collect();
        let mut low: Vec<QueryRow> = rows
            .iter()
            .filter(|r| r.searches >= MIN_SEARCHES_FOR_CTR && r.click_through <= LOW_CLICK_THROUGH)
            .cloned()
            .collect();
        low.sort_by(|a, b| {
            a.click_through
                .total_cmp(&b.click_through)
                .then_with(|| b.searches.cmp(&a.searches))
                .then_with(|| a.query.cmp(&b.query))
        });
        low.truncate(limit);
        rows.truncate(limit);
        AnalyticsReport {
            days: self.days,
            from: self.from.clone(),
            to: self.to.clone(),
            top_queries: rows,
            zero_result_queries,
            low_click_through: low,
            variants: self
                .variants
                .iter()
                .map(|(name, t)| (*name, variant_report(t)))
                .collect(),
        }
    }
}

fn variant_report(t: &VariantTally) -> VariantReport {
    let [searches, views, clicks, add_to_carts, purchases] = t.counts;
    let per_search = |n: u64| match searches {
        0 => 0.0,
        s => n as f64 / s as f64,
    };
    VariantReport {
        shoppers: t.shoppers.len(),
        searches,
        views,
        clicks,
        add_to_carts,
        purchases,
        click_through: per_search(clicks),
        conversion: per_search(purchases),
        buyer_share: match t.shoppers.len() {
            0 => 0.0,
            n => t.buyers.len() as f64 / n as f64,
        },
    }
}

/// The report as text, for `clerk report`.
pub fn render(report: &AnalyticsReport) -> String {
    let mut out = format!(
        "\nqueries {} .. {} ({} days)\n",
        report.from, report.to, report.days
    );
    let sections = [
        ("top queries", &report.top_queries),
        (
            "zero-result queries (today's index)",
            &report.zero_result_queries,
        ),
        ("low click-through queries", &report.low_click_through),
    ];
    for (title, rows) in sections {
        out.push_str(&format!(
            "\n{title}\n  {:<40} {:>8} {:>8} {:>9} {:>6}\n",
            "query", "searches", "shoppers", "converted", "CTR"
        ));
        if rows.is_empty() {
            out.push_str("  (none)\n");
        }
        for r in rows {
            out.push_str(&format!(
                "  {:<40} {:>8} {:>8} {:>9} {:>5.1}%\n",
                r.query,
                r.searches,
                r.shoppers,
                r.converted,
                r.click_through * 100.0
            ));
        }
    }
    out
}
