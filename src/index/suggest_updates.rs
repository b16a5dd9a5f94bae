//! Keeps autocomplete in step with product updates on the live index.
//!
//! Before an update commits, [`LiveIndex::stored_versions`] reads the current stored
//! version of every product it touches (a product not yet in the index has none).
//! Once the commit succeeded, the `note_*` methods hand each (old, new) pair to the
//! index's [`SuggestionOverlay`], so the next autocomplete request already offers an
//! upserted product's words and no longer offers a deleted one's. Updates are applied
//! in order under the index writer's lock, so the overlay sees them in commit order.
//! [`LiveIndex::suggest`] answers autocomplete from the fst plus the overlay, holding
//! the overlay's read lock only for the length of one suggestion lookup.

use std::collections::HashMap;

use serde_json::{Map, Value};
use tantivy::TantivyDocument;
use tantivy::schema::Value as _;

use super::{FeedChange, LiveIndex};
use crate::autocomplete::Suggestion;
use crate::catalog::Product;

/// Stored versions by product id, read before an update (`None`: not in the index).
pub(super) type Replaced = HashMap<String, Option<Product>>;

impl LiveIndex {
    /// Autocomplete suggestions: the build's fst with the changes made since.
    pub fn suggest(&self, typed: &str, limit: usize) -> Vec<Suggestion> {
        match self.overlay.read() {
            Ok(overlay) => self.suggester.suggest_with(typed, limit, &overlay),
            // A writer panicked mid-change: the fst alone is still a fair answer.
            Err(_) => self.suggester.suggest(typed, limit),
        }
    }

    /// The current stored version of each product in `ids`.
    pub(super) fn stored_versions<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Replaced {
        let snapshot = self.snapshot();
        ids.map(|id| {
            let stored = snapshot.find(id).and_then(|address| {
                let doc: TantivyDocument = snapshot.searcher.doc(address).ok()?;
                let bytes = doc.get_first(self.fields.source)?.as_bytes()?;
                let record: Map<String, Value> = serde_json::from_slice(bytes).ok()?;
                Product::from_stored(&self.schema, &record).ok()
            });
            (id.to_string(), stored)
        })
        .collect()
    }

    /// Records committed upserts: each product replaced its stored version.
    pub(super) fn note_upserts(&self, mut replaced: Replaced, products: &[Product]) {
        let base = |phrase: &str| self.suggester.score_of(phrase);
        let Ok(mut overlay) = self.overlay.write() else {
            return;
        };
        for product in products {
            let old = replaced.insert(product.id.clone(), Some(product.clone()));
            overlay.replace(old.flatten().as_ref(), Some(product), &base);
        }
        log_overflow(&overlay);
    }

    /// Records committed deletes.
    pub(super) fn note_deletes(&self, replaced: Replaced) {
        let base = |phrase: &str| self.suggester.score_of(phrase);
        let Ok(mut overlay) = self.overlay.write() else {
            return;
        };
        for old in replaced.into_values().flatten() {
            overlay.replace(Some(&old), None, &base);
        }
    }

    /// Records a committed feed batch, change by change (one product may change twice).
    pub(super) fn note_feed(&self, mut replaced: Replaced, changes: &[FeedChange]) {
        let base = |phrase: &str| self.suggester.score_of(phrase);
        let Ok(mut overlay) = self.overlay.write() else {
            return;
        };
        for change in changes {
            match change {
                FeedChange::Upsert(products) => {
                    for product in products {
                        let old = replaced.insert(product.id.clone(), Some(product.clone()));
                        overlay.replace(old.flatten().as_ref(), Some(product), &base);
                    }
                }
                FeedChange::Delete(id) => {
                    if let Some(Some(old)) = replaced.insert(id.clone(), None) {
                        overlay.replace(Some(&old), None, &base);
                    }
                }
            }
        }
        log_overflow(&overlay);
    }
}

/// Warns when updates' phrases no longer fit the overlay.
fn log_overflow(overlay: &crate::autocomplete::SuggestionOverlay) {
    let (tracked, overflowed) = overlay.stats();
    if overflowed > 0 {
        tracing::warn!(
            "autocomplete overlay full ({tracked} phrases): {overflowed} phrase changes \
             wait for the next `clerk index`, which replays every update"
        );
    }
}
