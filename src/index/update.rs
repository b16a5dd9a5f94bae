//! Incremental catalog updates: upserts and deletes on the live index.
//!
//! One writer per live index, opened on first use and kept. Every call commits and
//! publishes a fresh snapshot before it returns, so a price or stock change is visible
//! to the next search (and to merchandising rules reading it) at once.
//!
//! Replicas sharing a Redis apply changes from the catalog feed instead
//! ([`LiveIndex::apply_feed`]): each batch is committed together with the feed position
//! it reaches, stored in the commit's mark ([`super::commit_mark`]), so an index copied
//! to a new replica says where in the feed it stands. A lone server's updates carry
//! their update-log sequence number in the same mark, and [`LiveIndex::replay_updates`]
//! applies the logged updates an index does not hold yet.

use tantivy::{IndexWriter, Term};

use super::LiveIndex;
use super::commit_mark::CommitMark;
use super::document::to_document;
use super::updates::{Change, LogContents, Logged};
use crate::catalog::Product;
use crate::error::{Error, Result};

/// Memory the update writer may use.
const UPDATE_WRITER_BYTES: usize = 64 << 20;

impl LiveIndex {
    fn with_writer<T>(&self, work: impl FnOnce(&mut IndexWriter) -> Result<T>) -> Result<T> {
        let mut guard = self
            .writer
            .lock()
            .map_err(|_| Error::Internal("index writer poisoned".into()))?;
        if guard.is_none() {
            let writer = self
                .index
                .writer_with_num_threads(1, UPDATE_WRITER_BYTES)
                .map_err(|e| {
                    Error::Internal(format!(
                        "cannot open the index for updates ({e}); is another process writing {}?",
                        self.dir.display()
                    ))
                })?;
            *guard = Some(writer);
        }
        let writer = guard
            .as_mut()
            .ok_or_else(|| Error::Internal("no index writer".into()))?;
        let result = work(writer);
        if result.is_err() {
            // A failed commit leaves the writer unusable: roll back to the last commit.
            let _ = writer.rollback();
        }
        result
    }

    /// Adds or replaces products (by id), commits them as holding the update log up to
    /// `seq` ([`super::updates`]), and publishes the change.
    pub fn upsert(&self, products: &[Product], seq: u64) -> Result<()> {
        let changes = [FeedChange::Upsert(products.to_vec())];
        self.apply_changes(&changes, |mark| mark.updates = mark.updates.max(seq))
    }

    /// Removes a product (update log number `seq`); `NotFound` when there is none.
    pub fn delete(&self, id: &str, seq: u64) -> Result<()> {
        if self.snapshot().find(id).is_none() {
            return Err(Error::NotFound(format!("no product \"{id}\"")));
        }
        let changes = [FeedChange::Delete(id.to_string())];
        self.apply_changes(&changes, |mark| mark.updates = mark.updates.max(seq))
    }

    /// What the last commit says this index holds.
    pub fn commit_mark(&self) -> Result<CommitMark> {
        let payload = self.index.load_metas()?.payload;
        Ok(CommitMark::parse(payload.as_deref()))
    }

    /// The last update-log sequence number this index holds.
    pub fn updates_applied(&self) -> Result<u64> {
        Ok(self.commit_mark()?.updates)
    }

    /// Applies every logged update this index does not hold yet, in order, in one
    /// commit; returns how many. A record the index's schema refuses is skipped (as a
    /// build skips it); deleting an absent product does nothing.
    pub fn replay_updates(&self, log: &LogContents) -> Result<usize> {
        let entries: Vec<&Logged> = log.after(self.updates_applied()?).collect();
        let Some(last) = entries.last().map(|e| e.seq) else {
            return Ok(0);
        };
        let changes: Vec<FeedChange> = entries
            .iter()
            .filter_map(|entry| self.to_change(entry))
            .collect();
        self.apply_changes(&changes, |mark| mark.updates = mark.updates.max(last))?;
        Ok(entries.len())
    }

    /// A logged update as an index change, read with this index's schema.
    fn to_change(&self, entry: &Logged) -> Option<FeedChange> {
        match &entry.change {
            Change::Upsert(record) => match Product::from_record(&self.schema, record) {
                Ok(product) => Some(FeedChange::Upsert(vec![product])),
                Err(reason) => {
                    tracing::warn!("update {} not replayed: {reason}", entry.seq);
                    None
                }
            },
            Change::Delete(id) => Some(FeedChange::Delete(id.clone())),
        }
    }

    /// Applies `changes` in order and commits them with the mark `update_mark` makes
    /// of the last one, then tells autocomplete and publishes a fresh snapshot.
    fn apply_changes(
        &self,
        changes: &[FeedChange],
        update_mark: impl FnOnce(&mut CommitMark),
    ) -> Result<()> {
        let replaced = self.stored_versions(changes.iter().flat_map(FeedChange::ids));
        self.with_writer(|writer| {
            for change in changes {
                self.write_change(writer, change)?;
            }
            let mut mark = self.commit_mark()?;
            update_mark(&mut mark);
            let mut commit = writer.prepare_commit()?;
            commit.set_payload(&mark.payload());
            commit.commit()?;
            Ok(())
        })?;
        self.note_feed(replaced, changes);
        self.refresh()
    }

    fn write_change(&self, writer: &mut IndexWriter, change: &FeedChange) -> Result<()> {
        match change {
            FeedChange::Upsert(products) => {
                for product in products {
                    writer.delete_term(Term::from_field_text(self.fields.id, &product.id));
                    writer.add_document(to_document(
                        product,
                        &self.schema,
                        &self.fields,
                        &self.type_nouns,
                    ))?;
                }
            }
            FeedChange::Delete(id) => {
                writer.delete_term(Term::from_field_text(self.fields.id, id));
            }
        }
        Ok(())
    }
}

/// One catalog change: from the replicas' shared feed, the update log or a request.
#[derive(Debug, Clone)]
pub enum FeedChange {
    Upsert(Vec<Product>),
    Delete(String),
}

impl FeedChange {
    /// The ids of the products this change touches.
    pub fn ids(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match self {
            FeedChange::Upsert(products) => Box::new(products.iter().map(|p| p.id.as_str())),
            FeedChange::Delete(id) => Box::new(std::iter::once(id.as_str())),
        }
    }
}

impl LiveIndex {
    /// The position in the shared catalog feed this index has applied up to, stored
    /// with its last commit (`None`: a fresh build that has applied nothing yet).
    pub fn catalog_version(&self) -> Result<Option<String>> {
        Ok(self.commit_mark()?.feed)
    }

    /// Applies feed changes in order and commits them together with `version`, the
    /// feed position they reach, so the documents and the position cannot disagree
    /// after a crash. Deleting a product that is not there is not an error here: the
    /// feed may replay changes an index already holds.
    pub fn apply_feed(&self, changes: &[FeedChange], version: &str) -> Result<()> {
        self.apply_changes(changes, |mark| mark.feed = Some(version.to_string()))
    }
}
