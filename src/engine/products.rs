//! The engine's catalog updates: `PUT /v1/products` and `DELETE /v1/products/{id}`.
//!
//! Every update is first appended to the data directory's update log
//! ([`crate::index::updates`]), which numbers it. A lone server then changes its index
//! directly, committing the number with it; an index opened or swapped in later
//! replays the log after the number it holds ([`Engine::catch_up_updates`]). Logging
//! and applying happen under the engine's update lock, which a swap holds too, so an
//! update cannot land in an index that is being replaced. A replica with a shared catalog feed
//! validates here, then appends the change to the feed and waits until its own tailer
//! applied it, so every replica applies the same changes in the same order.

use std::collections::HashSet;
use std::sync::MutexGuard;

use serde_json::Value;

use super::Engine;
use crate::catalog::Product;
use crate::error::{Error, Result};
use crate::index::LiveIndex;
use crate::index::updates::UpdateLog;
use crate::product_feed::FeedMessage;

/// Most products in one update.
pub const MAX_UPSERT: usize = 10_000;

impl Engine {
    /// Validates a JSON array of products (all or nothing) and upserts them; returns
    /// how many. They are searchable when this returns.
    pub fn upsert_products(&self, body: &[u8]) -> Result<usize> {
        let invalid = |problems: Vec<String>| Error::Config { problems };
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| invalid(vec![format!("the body is not valid JSON: {e}")]))?;
        let Value::Array(items) = value else {
            return Err(invalid(vec![
                "the body must be a JSON array of products".into(),
            ]));
        };
        if items.is_empty() || items.len() > MAX_UPSERT {
            return Err(invalid(vec![format!(
                "send between 1 and {MAX_UPSERT} products, not {}",
                items.len()
            )]));
        }
        let _updating = self.lock_if_lone()?;
        let index = self.index();
        let schema = index.schema().clone();
        let mut products = Vec::with_capacity(items.len());
        let mut records = Vec::with_capacity(items.len());
        let mut feed_records = Vec::with_capacity(items.len());
        let mut problems = Vec::new();
        let mut ids = HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let Value::Object(record) = item else {
                problems.push(format!("product {i}: must be a JSON object"));
                continue;
            };
            match Product::from_record(&schema, record) {
                Ok(product) if !ids.insert(product.id.clone()) => {
                    problems.push(format!(
                        "product {i}: id \"{}\" appears twice in the batch",
                        product.id
                    ));
                }
                Ok(product) => {
                    records.push((product.id.clone(), record.clone()));
                    feed_records.push(item.clone());
                    products.push(product);
                }
                Err(reason) => problems.push(format!("product {i}: {reason}")),
            }
        }
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        // Logged first: a rebuild replays it even if we crash before the index commit.
        let seq = self.update_log().upserted(&records)?;
        match &self.feed {
            Some(feed) => {
                feed.publish_and_wait(&FeedMessage::Upsert(feed_records))?;
            }
            None => index.upsert(&products, seq)?,
        }
        Ok(products.len())
    }

    /// Removes a product from the live index (on every replica, with a feed).
    pub fn delete_product(&self, id: &str) -> Result<()> {
        let _updating = self.lock_if_lone()?;
        let index = self.index();
        if index.snapshot().find(id).is_none() {
            return Err(Error::NotFound(format!("no product \"{id}\"")));
        }
        let seq = self.update_log().deleted(id)?;
        match &self.feed {
            Some(feed) => feed
                .publish_and_wait(&FeedMessage::Delete(id.to_string()))
                .map(|_| ()),
            None => index.delete(id, seq),
        }
    }

    /// Replays into the live index the logged updates it does not hold yet (a lone
    /// server's start: updates acknowledged while a build ran, or logged just before a
    /// crash); returns how many.
    pub fn catch_up_updates(&self) -> Result<usize> {
        let _updating = self.lock_updates()?;
        self.replay_log_into(&self.index())
    }

    /// Replays the logged updates `index` does not hold yet; the caller holds the
    /// update lock.
    pub(super) fn replay_log_into(&self, index: &LiveIndex) -> Result<usize> {
        let replayed = index.replay_updates(&self.update_log().read()?)?;
        if replayed > 0 {
            tracing::info!(
                "replayed {replayed} product updates logged after the build of {}",
                index.dir().display()
            );
        }
        Ok(replayed)
    }

    /// The update lock for a lone server. Replicas need none: the catalog feed replays
    /// every change into a new index, so updates there need not wait for each other.
    fn lock_if_lone(&self) -> Result<Option<MutexGuard<'_, ()>>> {
        match self.feed {
            Some(_) => Ok(None),
            None => self.lock_updates().map(Some),
        }
    }

    /// The lock that keeps logging-and-applying apart from swapping indexes.
    pub(super) fn lock_updates(&self) -> Result<MutexGuard<'_, ()>> {
        self.updating
            .lock()
            .map_err(|_| Error::Internal("update lock poisoned".into()))
    }

    /// The log that keeps HTTP updates across rebuilds.
    fn update_log(&self) -> UpdateLog {
        UpdateLog::new(self.data_dir().root())
    }
}
