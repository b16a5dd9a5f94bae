//! The update log: product upserts and deletes made over HTTP, kept so that a full
//! rebuild does not lose them.
//!
//! `PUT /v1/products` and `DELETE /v1/products/{id}` append one JSON line per product
//! to `DATA/updates.jsonl` and sync it before they touch the index. Every build
//! (`clerk index`, `clerk serve --catalog`) replays the log over the catalog: an
//! upserted product replaces the catalog's record of the same id (or is added), a
//! deleted one is left out. `clerk index --discard-updates` starts a fresh log, for
//! when the new catalog already holds the changes.
//!
//! ```text
//! {"upsert":{"id":"p-1","title":"...",...}}
//! {"delete":"p-2"}
//! ```

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// File name of the log in a data directory.
pub const UPDATES_FILE: &str = "updates.jsonl";

/// The latest change per product id: `Some(record)` upserted, `None` deleted.
#[derive(Debug, Default)]
pub struct Updates {
    pub latest: HashMap<String, Option<Map<String, Value>>>,
    /// Ids in the order they were first changed (upserts are added in this order).
    pub order: Vec<String>,
}

impl Updates {
    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// How many upserts and deletes the log holds (latest per id).
    pub fn counts(&self) -> (usize, usize) {
        let upserts = self.latest.values().filter(|v| v.is_some()).count();
        (upserts, self.latest.len() - upserts)
    }

    fn set(&mut self, id: String, change: Option<Map<String, Value>>) {
        if !self.latest.contains_key(&id) {
            self.order.push(id.clone());
        }
        self.latest.insert(id, change);
    }
}

/// The log of one data directory.
pub struct UpdateLog {
    path: PathBuf,
}

impl UpdateLog {
    pub fn new(data_root: &Path) -> UpdateLog {
        UpdateLog {
            path: data_root.join(UPDATES_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends upserts (`(id, record)`) and syncs.
    pub fn upserted(&self, products: &[(String, Map<String, Value>)]) -> Result<()> {
        let lines: Vec<Value> = products
            .iter()
            .map(|(_, record)| json!({ "upsert": record }))
            .collect();
        self.append(&lines)
    }

    /// Appends a delete and syncs.
    pub fn deleted(&self, id: &str) -> Result<()> {
        self.append(&[json!({ "delete": id })])
    }

    fn append(&self, lines: &[Value]) -> Result<()> {
        let context = || format!("writing {}", self.path.display());
        let mut text = String::new();
        for line in lines {
            text.push_str(&line.to_string());
            text.push('\n');
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(context(), e))?;
        file.write_all(text.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| Error::io(context(), e))
    }

    /// Reads the log; `id_of` finds a record's id (the schema names the field). A
    /// line cut short by a crash (the last one) is ignored.
    pub fn load(&self, id_of: &dyn Fn(&Map<String, Value>) -> Option<String>) -> Result<Updates> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Updates::default()),
            Err(e) => return Err(Error::io(format!("reading {}", self.path.display()), e)),
        };
        let mut updates = Updates::default();
        for (i, line) in text.lines().enumerate() {
            let Ok(Value::Object(mut entry)) = serde_json::from_str::<Value>(line) else {
                tracing::warn!(
                    "{}: line {} is unreadable; skipped",
                    self.path.display(),
                    i + 1
                );
                continue;
            };
            match (entry.remove("upsert"), entry.remove("delete")) {
                (Some(Value::Object(record)), _) => {
                    if let Some(id) = id_of(&record) {
                        updates.set(id, Some(record));
                    }
                }
                (_, Some(Value::String(id))) => updates.set(id, None),
                _ => tracing::warn!(
                    "{}: line {} is not an update; skipped",
                    self.path.display(),
                    i + 1
                ),
            }
        }
        Ok(updates)
    }

    /// Starts over: the catalog about to be built holds the changes.
    pub fn discard(&self) -> Result<()> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", self.path.display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_change_per_id_wins_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let log = UpdateLog::new(dir.path());
        let record = |id: &str, title: &str| {
            let Value::Object(m) = json!({"id": id, "title": title}) else {
                unreachable!()
            };
            (id.to_string(), m)
        };
        log.upserted(&[record("a", "one"), record("b", "two")])
            .unwrap();
        log.deleted("a").unwrap();
        log.upserted(&[record("b", "three")]).unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{\"upsert\":{\"id\":\"c\"")
            .unwrap();
        let id_of = |m: &Map<String, Value>| m.get("id").and_then(Value::as_str).map(String::from);
        let updates = log.load(&id_of).unwrap();
        assert_eq!(updates.counts(), (1, 1));
        assert!(updates.latest["a"].is_none());
        assert_eq!(updates.latest["b"].as_ref().unwrap()["title"], "three");
        log.discard().unwrap();
        assert!(log.load(&id_of).unwrap().is_empty());
    }
}
