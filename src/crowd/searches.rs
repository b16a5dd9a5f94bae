//! Popular searches: queries that led shoppers somewhere, for autocomplete.
//!
//! In: converted searches ([`Attribution::converted`]: a search followed by a click,
//! cart or purchase). A query becomes a suggestion once at least
//! [`MIN_DISTINCT_SHOPPERS`] different shoppers converted with it, so one shopper
//! (or one bot) cannot plant a suggestion. Out: the queries starting with what was
//! typed, most shoppers first. Whether a query still finds anything today is checked
//! by the caller against the live index.
//!
//! Bounded: at most [`MAX_QUERIES`] queries are tracked and each remembers at most
//! [`MAX_QUERY_SHOPPERS`] shoppers, with when each last converted, so retention
//! forgets conversions older than its window ([`PopularSearches::forget_before`]).

use std::collections::{BTreeMap, HashMap};

use super::{Attribution, normalize_query};
use crate::events::Event;

/// Distinct shoppers whose search converted before a query is suggested.
pub const MIN_DISTINCT_SHOPPERS: usize = 3;
/// Queries tracked (new queries past this are ignored).
pub const MAX_QUERIES: usize = 100_000;
/// Shoppers remembered per query (the count saturates there).
pub const MAX_QUERY_SHOPPERS: usize = 10_000;
/// Entries a prefix lookup reads at most.
const MAX_SCANNED: usize = 5_000;

/// A popular query.
#[derive(Debug, Clone, PartialEq)]
pub struct PopularQuery {
    pub query: String,
    /// Distinct shoppers whose search of it converted.
    pub shoppers: usize,
}

/// Converted searches by normalized query: per shopper, the time of their latest.
#[derive(Default)]
pub struct PopularSearches {
    queries: BTreeMap<String, HashMap<u64, i64>>,
}

impl PopularSearches {
    pub fn observe(&mut self, _event: &Event, attribution: &Attribution) {
        for (query, ts) in &attribution.converted {
            if query.is_empty() {
                continue;
            }
            if !self.queries.contains_key(query) && self.queries.len() >= MAX_QUERIES {
                continue;
            }
            let shoppers = self.queries.entry(query.clone()).or_default();
            if let Some(last) = shoppers.get_mut(&attribution.shopper) {
                *last = (*last).max(*ts);
            } else if shoppers.len() < MAX_QUERY_SHOPPERS {
                shoppers.insert(attribution.shopper, *ts);
            }
        }
    }

    /// Forgets conversions of searches stamped before `cutoff` (retention), and the
    /// queries left with none.
    pub fn forget_before(&mut self, cutoff: i64) {
        self.queries.retain(|_, shoppers| {
            shoppers.retain(|_, ts| *ts >= cutoff);
            !shoppers.is_empty()
        });
    }

    /// Queries starting with `typed` that enough shoppers converted with, most
    /// shoppers first (then alphabetically).
    pub fn matching(&self, typed: &str) -> Vec<PopularQuery> {
        let prefix = normalize_query(typed);
        if prefix.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<PopularQuery> = self
            .queries
            .range(prefix.clone()..)
            .take(MAX_SCANNED)
            .take_while(|(q, _)| q.starts_with(&prefix))
            .filter(|(_, s)| s.len() >= MIN_DISTINCT_SHOPPERS)
            .map(|(q, s)| PopularQuery {
                query: q.clone(),
                shoppers: s.len(),
            })
            .collect();
        out.sort_by(|a, b| {
            b.shoppers
                .cmp(&a.shoppers)
                .then_with(|| a.query.cmp(&b.query))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventKind, Variant};

    fn converted(model: &mut PopularSearches, shopper: u64, query: &str) {
        let event = Event {
            kind: EventKind::Click,
            shopper: String::new(),
            product: None,
            query: None,
            position: None,
            ts: 0,
            variant: Variant::Anonymous,
            served: None,
        };
        let attribution = Attribution {
            shopper,
            converted: vec![(query.to_string(), 0)],
            ..Attribution::default()
        };
        model.observe(&event, &attribution);
    }

    #[test]
    fn needs_distinct_shoppers_and_ranks_by_them() {
        let mut model = PopularSearches::default();
        for _ in 0..10 {
            converted(&mut model, 1, "sofa bed");
        }
        converted(&mut model, 2, "sofa bed");
        assert!(
            model.matching("sof").is_empty(),
            "two shoppers are not enough"
        );
        converted(&mut model, 3, "sofa bed");
        for s in 1..=5 {
            converted(&mut model, s, "sofa");
        }
        let found = model.matching("SOF");
        let names: Vec<_> = found.iter().map(|p| p.query.as_str()).collect();
        assert_eq!(names, vec!["sofa", "sofa bed"]);
        assert_eq!(found[1].shoppers, 3);
        assert!(model.matching("bed").is_empty(), "prefix of the query only");
    }
}
