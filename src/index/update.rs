//! Incremental catalog updates: upserts and deletes on the live index.
//!
//! One writer per live index, opened on first use and kept. Every call commits and
//! publishes a fresh snapshot before it returns, so a price or stock change is visible
//! to the next search (and to merchandising rules reading it) at once.
//!
//! Replicas sharing a Redis apply changes from the catalog feed instead
//! ([`LiveIndex::apply_feed`]): each batch is committed together with the feed position
//! it reaches, stored as the commit's payload, so an index copied to a new replica
//! says where in the feed it stands.

use tantivy::{IndexWriter, Term};

use super::LiveIndex;
use super::document::to_document;
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

    /// Adds or replaces products (by id), commits, and publishes the change.
    pub fn upsert(&self, products: &[Product]) -> Result<()> {
        let replaced = self.stored_versions(products.iter().map(|p| p.id.as_str()));
        self.with_writer(|writer| {
            for product in products {
                writer.delete_term(Term::from_field_text(self.fields.id, &product.id));
                writer.add_document(to_document(
                    product,
                    &self.schema,
                    &self.fields,
                    &self.type_nouns,
                ))?;
            }
            writer.commit()?;
            Ok(())
        })?;
        self.note_upserts(replaced, products);
        self.refresh()
    }

    /// Removes a product; `NotFound` when there is none with that id.
    pub fn delete(&self, id: &str) -> Result<()> {
        if self.snapshot().find(id).is_none() {
            return Err(Error::NotFound(format!("no product \"{id}\"")));
        }
        let replaced = self.stored_versions(std::iter::once(id));
        self.with_writer(|writer| {
            writer.delete_term(Term::from_field_text(self.fields.id, id));
            writer.commit()?;
            Ok(())
        })?;
        self.note_deletes(replaced);
        self.refresh()
    }
}

/// One catalog change from the replicas' shared feed.
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
        Ok(self.index.load_metas()?.payload)
    }

    /// Applies feed changes in order and commits them together with `version`, the
    /// feed position they reach, so the documents and the position cannot disagree
    /// after a crash. Deleting a product that is not there is not an error here: the
    /// feed may replay changes an index already holds.
    pub fn apply_feed(&self, changes: &[FeedChange], version: &str) -> Result<()> {
        let replaced = self.stored_versions(changes.iter().flat_map(FeedChange::ids));
        self.with_writer(|writer| {
            for change in changes {
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
            }
            let mut commit = writer.prepare_commit()?;
            commit.set_payload(version);
            commit.commit()?;
            Ok(())
        })?;
        self.note_feed(replaced, changes);
        self.refresh()
    }
}
