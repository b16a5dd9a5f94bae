//! Suggestions changed by product updates since the index was built.
//!
//! The suggestion fst is written once per build, but `PUT /v1/products` and
//! `DELETE /v1/products/{id}` change the catalog while it serves. Each update tells the
//! overlay the product's old version (read back from the index) and its new one; the
//! overlay keeps, per phrase, the change to its fst score: `+weight` for every phrase of
//! the new version, `-weight` for every phrase of the old (scores in the fst are sums
//! of per-product weights, so the difference is exact up to rounding). At query time
//! [`Suggester::suggest_with`](super::Suggester::suggest_with) adds those changes to
//! what the fst found, drops phrases whose score fell to nothing (a deleted product's
//! own words) and adds upserted phrases the fst does not have.
//!
//! Memory is bounded: at most [`MAX_OVERLAY_PHRASES`] phrases are tracked; changes to
//! further phrases are counted in `overflowed` and wait for the next `clerk index`,
//! which replays the updates into a fresh fst (and starts a fresh, empty overlay).

use std::collections::{BTreeMap, HashSet};

use super::SuggestionBuilder;
use crate::catalog::Product;
use crate::schema::StoreSchema;

/// Most phrases whose score the overlay changes.
pub const MAX_OVERLAY_PHRASES: usize = 200_000;
/// Most overlay phrases read for one prefix.
const MAX_OVERLAY_SCAN: usize = 5_000;
/// A phrase scoring under this (fst units: weight × 100) is gone. One product gives a
/// phrase at least 100, and rounding leaves at most a unit or two per product.
const GONE_BELOW: f64 = 50.0;

/// Looks a phrase's score up in the fst (`None`: not there).
pub type BaseScore<'a> = &'a dyn Fn(&str) -> Option<u64>;

/// Score changes per phrase since the fst was written.
#[derive(Default)]
pub struct SuggestionOverlay {
    phrases: SuggestionBuilder,
    /// Phrase → change to its fst score, in fst units; zero changes are removed.
    deltas: BTreeMap<String, i64>,
    /// Phrase changes not recorded because the overlay was full.
    overflowed: u64,
}

impl SuggestionOverlay {
    /// An empty overlay reading phrases the way an index of `schema` was built.
    pub fn new(schema: &StoreSchema) -> SuggestionOverlay {
        SuggestionOverlay {
            phrases: SuggestionBuilder::new(schema),
            deltas: BTreeMap::new(),
            overflowed: 0,
        }
    }

    /// Whether no update changed any suggestion.
    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty()
    }

    /// Phrases tracked, and phrase changes dropped because the overlay was full.
    pub fn stats(&self) -> (usize, u64) {
        (self.deltas.len(), self.overflowed)
    }

    /// Records that `old` (none: a new product) became `new` (none: deleted); `base`
    /// looks phrases up in the fst. A phrase never drops below zero: an old version
    /// the fst never held (upserted before a restart) takes away nothing.
    pub fn replace(&mut self, old: Option<&Product>, new: Option<&Product>, base: BaseScore<'_>) {
        if let Some(old) = old {
            let (phrases, weight) = self.phrases.phrases(old);
            self.shift(phrases, -units(weight), base);
        }
        if let Some(new) = new {
            let (phrases, weight) = self.phrases.phrases(new);
            self.shift(phrases, units(weight), base);
        }
    }

    fn shift(&mut self, phrases: Vec<String>, by: i64, base: BaseScore<'_>) {
        for phrase in phrases {
            let floor = -(base(&phrase).unwrap_or(0) as i64);
            let full = self.deltas.len() >= MAX_OVERLAY_PHRASES;
            match self.deltas.get_mut(&phrase) {
                Some(delta) => {
                    *delta = (*delta + by).max(floor);
                    if *delta == 0 {
                        self.deltas.remove(&phrase);
                    }
                }
                None if full => self.overflowed += 1,
                None if by.max(floor) == 0 => {}
                None => {
                    self.deltas.insert(phrase, by.max(floor));
                }
            }
        }
    }

    /// Applies the changes to `found` (phrases completing `prefix` with fst scores,
    /// each multiplied by `factor`): changed scores, gone phrases dropped, and with
    /// `base` (an fst lookup) the upserted phrases completing `prefix` added.
    pub fn adjust(
        &self,
        found: &mut Vec<(String, f64)>,
        prefix: &str,
        factor: f64,
        base: Option<BaseScore<'_>>,
    ) {
        if self.deltas.is_empty() {
            return;
        }
        for (text, score) in found.iter_mut() {
            if let Some(delta) = self.deltas.get(text.as_str()) {
                *score += *delta as f64 * factor;
            }
        }
        found.retain(|(_, score)| *score >= GONE_BELOW * factor);
        let Some(base) = base else {
            return;
        };
        let seen: HashSet<String> = found.iter().map(|(t, _)| t.clone()).collect();
        let added = self
            .deltas
            .range(prefix.to_string()..)
            .take_while(|(phrase, _)| phrase.starts_with(prefix))
            .take(MAX_OVERLAY_SCAN)
            .filter(|(phrase, delta)| **delta > 0 && !seen.contains(phrase.as_str()))
            .map(|(phrase, delta)| {
                let score = base(phrase).unwrap_or(0) as f64 + *delta as f64;
                (phrase.clone(), score * factor)
            })
            .filter(|(_, score)| *score >= GONE_BELOW * factor);
        found.extend(added.collect::<Vec<_>>());
    }
}

/// A weight in fst units (the fst stores `round(score × 100)`).
fn units(weight: f64) -> i64 {
    (weight * 100.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> StoreSchema {
        StoreSchema::parse(include_str!("../../index-schema/demo.toml"), "demo.toml").unwrap()
    }

    fn product(schema: &StoreSchema, id: &str, title: &str) -> Product {
        let mut record = serde_json::Map::new();
        record.insert("id".into(), id.into());
        record.insert("title".into(), title.into());
        Product::from_record(schema, &record).unwrap()
    }

    fn lookup(found: &[(String, f64)], text: &str) -> Option<f64> {
        found.iter().find(|(t, _)| t == text).map(|(_, s)| *s)
    }

    #[test]
    fn upserted_phrases_appear_and_deleted_ones_go() {
        let schema = schema();
        let mut overlay = SuggestionOverlay::new(&schema);
        let new = product(&schema, "n-1", "Zorbly kettle");
        let none = |_: &str| None;
        overlay.replace(None, Some(&new), &none);
        let mut found = Vec::new();
        overlay.adjust(&mut found, "zorb", 1.0, Some(&none));
        assert_eq!(lookup(&found, "zorbly"), Some(100.0));
        assert_eq!(lookup(&found, "zorbly kettle"), Some(100.0));

        overlay.replace(Some(&new), None, &none);
        assert!(
            overlay.is_empty(),
            "a product added then deleted leaves nothing"
        );

        // A built product (its phrases in the fst at 100) is deleted: its phrases go,
        // a phrase another product shares keeps that product's share.
        let old = product(&schema, "b-1", "Grey kettle");
        let built = |p: &str| match p {
            "grey" | "grey kettle" => Some(100),
            "kettle" => Some(300),
            _ => None,
        };
        overlay.replace(Some(&old), None, &built);
        let mut found = vec![("grey kettle".to_string(), 100.0), ("kettle".into(), 300.0)];
        overlay.adjust(&mut found, "", 1.0, None);
        assert_eq!(found, vec![("kettle".to_string(), 200.0)]);
    }

    #[test]
    fn a_replaced_title_moves_its_phrases() {
        let schema = schema();
        let mut overlay = SuggestionOverlay::new(&schema);
        let before = product(&schema, "p-1", "Oak desk");
        let after = product(&schema, "p-1", "Walnut desk");
        let base = |p: &str| (p == "oak desk" || p == "oak").then_some(100);
        overlay.replace(Some(&before), Some(&after), &base);
        let mut found = vec![("oak".to_string(), 100.0), ("oak desk".into(), 100.0)];
        overlay.adjust(&mut found, "oak", 1.0, Some(&base));
        assert!(found.is_empty(), "{found:?}");
        overlay.adjust(&mut found, "wal", 1.0, Some(&base));
        assert_eq!(lookup(&found, "walnut desk"), Some(100.0));
    }

    #[test]
    fn an_old_version_the_fst_never_held_takes_nothing_away() {
        // Found by the soak: a product upserted before a restart is replaced; its old
        // words were never in the fst, so they must not go negative and later hide
        // the same words when another upsert brings them back.
        let schema = schema();
        let mut overlay = SuggestionOverlay::new(&schema);
        let none = |_: &str| None;
        let earlier = product(&schema, "u-1", "Soakword153 lamp");
        overlay.replace(
            Some(&earlier),
            Some(&product(&schema, "u-1", "Other lamp")),
            &none,
        );
        let again = product(&schema, "u-2", "Soakword153 lamp");
        overlay.replace(None, Some(&again), &none);
        let mut found = Vec::new();
        overlay.adjust(&mut found, "soakword153", 1.0, Some(&none));
        assert_eq!(lookup(&found, "soakword153"), Some(100.0), "{found:?}");
    }

    #[test]
    fn the_overlay_stops_growing_when_full() {
        let schema = schema();
        let mut overlay = SuggestionOverlay::new(&schema);
        let phrases = (0..MAX_OVERLAY_PHRASES + 10).map(|i| format!("w{i}"));
        overlay.shift(phrases.collect(), 100, &|_| None);
        let (tracked, overflowed) = overlay.stats();
        assert_eq!(tracked, MAX_OVERLAY_PHRASES);
        assert!(overflowed > 0);
    }
}
