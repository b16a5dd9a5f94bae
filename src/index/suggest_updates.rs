//! Keeps autocomplete in step with product updates on the live index.
//!
//! Before an update commits, [`LiveIndex::stored_versions`] reads the current stored
//! version of every product it touches (a product not yet in the index has none).
//! Once the commit succeeded, [`LiveIndex::note_feed`] hands each (old, new) pair to the
//! index's [`SuggestionOverlay`], so the next autocomplete request already offers an
//! upserted product's words and no longer offers a deleted one's. Updates are applied
//! in order under the index writer's lock, so the overlay sees them in commit order.
//! [`LiveIndex::suggest`] answers autocomplete from the fst plus the overlay, holding
//! the overlay's read lock only for the length of one suggestion lookup.
//!
//! Every change the overlay is told about is also appended to [`OVERLAY_LOG`] in the
//! index directory (the stored version replaced and the new one), and
//! [`replay_overlay_log`] rebuilds the overlay from it when the index is opened again:
//! products upserted before a restart stay in autocomplete. A build writes a new index
//! directory, whose fst holds every update folded into the build, so its log starts
//! empty; updates logged after the build began are replayed into the new index like
//! any other update ([`LiveIndex::replay_updates`]), and so reach its overlay.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value, json};
use tantivy::TantivyDocument;
use tantivy::schema::Value as _;

use super::{FeedChange, LiveIndex};
use crate::autocomplete::{Suggester, Suggestion, SuggestionOverlay};
use crate::catalog::Product;
use crate::schema::StoreSchema;

/// The overlay's changes since the build, one JSON line each:
/// `{"old": stored product or null, "new": product or null}`.
pub const OVERLAY_LOG: &str = "suggestion-updates.jsonl";

/// One change handed to the overlay: the version replaced (none: a new product) and
/// the new one (none: deleted).
type Change = (Option<Product>, Option<Product>);

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

    /// Records a committed batch (feed, replayed log or request), change by change
    /// (one product may change twice).
    pub(super) fn note_feed(&self, mut replaced: Replaced, changes: &[FeedChange]) {
        let mut noted = Vec::new();
        for change in changes {
            match change {
                FeedChange::Upsert(products) => {
                    for product in products {
                        let old = replaced.insert(product.id.clone(), Some(product.clone()));
                        noted.push((old.flatten(), Some(product.clone())));
                    }
                }
                FeedChange::Delete(id) => {
                    if let Some(Some(old)) = replaced.insert(id.clone(), None) {
                        noted.push((Some(old), None));
                    }
                }
            }
        }
        self.note(noted);
    }

    /// Hands changes to the overlay, in order, and appends them to its log.
    fn note(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let base = |phrase: &str| self.suggester.score_of(phrase);
        let Ok(mut overlay) = self.overlay.write() else {
            return;
        };
        for (old, new) in &changes {
            overlay.replace(old.as_ref(), new.as_ref(), &base);
        }
        log_overflow(&overlay);
        // Still under the overlay's lock, so the log keeps the overlay's order.
        append_overlay_log(self.dir(), &self.schema, &changes);
    }
}

/// Appends `changes` to the index directory's overlay log. A failure costs only
/// autocomplete after a restart (until the next build), so it is logged, not raised.
fn append_overlay_log(dir: &Path, schema: &StoreSchema, changes: &[Change]) {
    let mut text = String::new();
    for (old, new) in changes {
        let line = json!({
            "old": old.as_ref().map(|p| p.to_json(schema)),
            "new": new.as_ref().map(|p| p.to_json(schema)),
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    let path = dir.join(OVERLAY_LOG);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(
            "could not write {}: {e}; these product changes reach autocomplete after a \
             restart only with the next `clerk index`",
            path.display()
        );
    }
}

/// Rebuilds the overlay of a freshly opened index from its log; returns how many
/// changes were replayed. Unreadable lines (a write cut short) are skipped.
pub(super) fn replay_overlay_log(
    dir: &Path,
    schema: &StoreSchema,
    suggester: &Suggester,
    overlay: &mut SuggestionOverlay,
) -> usize {
    let path = dir.join(OVERLAY_LOG);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return 0; // none yet (or unreadable: the fst alone is still a fair answer)
    };
    let base = |phrase: &str| suggester.score_of(phrase);
    let product = |value: Option<&Value>| match value {
        Some(Value::Object(stored)) => Product::from_stored(schema, stored).ok(),
        _ => None,
    };
    let mut replayed = 0;
    for (i, line) in text.lines().enumerate() {
        let Ok(Value::Object(change)) = serde_json::from_str::<Value>(line) else {
            tracing::warn!("{}: line {} is unreadable; skipped", path.display(), i + 1);
            continue;
        };
        let (old, new) = (product(change.get("old")), product(change.get("new")));
        overlay.replace(old.as_ref(), new.as_ref(), &base);
        replayed += 1;
    }
    log_overflow(overlay);
    replayed
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
