//! The update log: product upserts and deletes made over HTTP, kept so that a full
//! rebuild does not lose them.
//!
//! `PUT /v1/products` and `DELETE /v1/products/{id}` append one JSON line per product
//! to `DATA/updates.jsonl` and sync it before they touch the index. Every line has a
//! sequence number (`seq`), handed out in order under an exclusive lock on
//! `DATA/updates.lock` ([`super::file_lock`]), so two processes never hand out the
//! same one. Every build (`clerk index`, `clerk serve --catalog`) folds the log into
//! the catalog: an upserted product replaces the catalog's record of the same id (or
//! is added), a deleted one is left out. The build records the last sequence number
//! it folded in with its commit ([`super::commit_mark`]); whoever opens or switches to
//! an index replays every logged update after the sequence that index holds
//! ([`crate::engine::Engine::catch_up_updates`]), so an update acknowledged while a
//! build was running reaches the new index too.
//!
//! `clerk index --discard-updates` empties the log, for when the new catalog already
//! holds the changes; it keeps one line with the last sequence number, so numbers are
//! never reused. Lines written before sequence numbers existed count as number 0:
//! every index already holds them.
//!
//! ```text
//! {"seq":1,"upsert":{"id":"p-1","title":"...",...}}
//! {"seq":2,"delete":"p-2"}
//! {"seq":2,"discarded":true}
//! ```

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::file_lock::FileLock;
use crate::error::{Error, Result};

/// File name of the log in a data directory.
pub const UPDATES_FILE: &str = "updates.jsonl";
/// The lock that orders appends to the log.
const LOCK_FILE: &str = "updates.lock";
/// How every line starts: the sequence number comes first, so the last one can be
/// found by reading the end of the file.
const LINE_START: &[u8] = b"{\"seq\":";
/// Bytes read at a time when looking for the last sequence number.
const TAIL_CHUNK: u64 = 64 << 10;

/// One logged product change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The product record as received.
    Upsert(Map<String, Value>),
    /// The id of the product removed.
    Delete(String),
}

/// A change with its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub seq: u64,
    pub change: Change,
}

/// Everything the log holds, as read at one moment.
#[derive(Debug, Default)]
pub struct LogContents {
    /// The changes since the last discard, in order.
    pub entries: Vec<Logged>,
    /// The highest sequence number handed out (0: none).
    pub through: u64,
}

impl LogContents {
    /// The changes after sequence number `seq`, in order.
    pub fn after(&self, seq: u64) -> impl Iterator<Item = &Logged> {
        self.entries.iter().filter(move |e| e.seq > seq)
    }
}

/// The latest change per product id: `Some(record)` upserted, `None` deleted.
#[derive(Debug, Default)]
pub struct Updates {
    pub latest: HashMap<String, Option<Map<String, Value>>>,
    /// Ids in the order they were first changed (upserts are added in this order).
    pub order: Vec<String>,
    /// The last sequence number folded in: a build holding these updates holds the
    /// log up to here.
    pub through: u64,
}

impl Updates {
    /// The latest change per id in `contents`; `id_of` finds a record's id.
    pub fn fold(
        contents: &LogContents,
        id_of: &dyn Fn(&Map<String, Value>) -> Option<String>,
    ) -> Updates {
        let mut updates = Updates {
            through: contents.through,
            ..Updates::default()
        };
        for entry in &contents.entries {
            match &entry.change {
                Change::Upsert(record) => {
                    if let Some(id) = id_of(record) {
                        updates.set(id, Some(record.clone()));
                    }
                }
                Change::Delete(id) => updates.set(id.clone(), None),
            }
        }
        updates
    }

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
    lock: PathBuf,
}

impl UpdateLog {
    pub fn new(data_root: &Path) -> UpdateLog {
        UpdateLog {
            path: data_root.join(UPDATES_FILE),
            lock: data_root.join(LOCK_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends upserts (`(id, record)`) and syncs; returns the last sequence number.
    pub fn upserted(&self, products: &[(String, Map<String, Value>)]) -> Result<u64> {
        let changes: Vec<Change> = products
            .iter()
            .map(|(_, record)| Change::Upsert(record.clone()))
            .collect();
        self.append(&changes)
    }

    /// Appends a delete and syncs; returns its sequence number.
    pub fn deleted(&self, id: &str) -> Result<u64> {
        self.append(&[Change::Delete(id.to_string())])
    }

    /// Appends `changes` with the next sequence numbers; returns the last one.
    fn append(&self, changes: &[Change]) -> Result<u64> {
        let context = || format!("writing {}", self.path.display());
        let _lock = FileLock::exclusive(&self.lock)?;
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(context(), e))?;
        let (mut seq, torn) = last_seq(&mut file).map_err(|e| Error::io(context(), e))?;
        // A line cut short by a crash stays a line of its own (skipped when read).
        let mut text = if torn {
            "\n".to_string()
        } else {
            String::new()
        };
        for change in changes {
            seq += 1;
            text.push_str(&line(seq, change));
        }
        file.write_all(text.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| Error::io(context(), e))?;
        Ok(seq)
    }

    /// Reads the log (whole lines only: appends wait meanwhile).
    pub fn read(&self) -> Result<LogContents> {
        // Nothing logged yet (maybe no data directory either): an update logged from
        // now on is numbered after 0, which every index holds.
        if !self.path.exists() {
            return Ok(LogContents::default());
        }
        let _lock = FileLock::shared(&self.lock)?;
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LogContents::default()),
            Err(e) => return Err(Error::io(format!("reading {}", self.path.display()), e)),
        };
        Ok(self.parse(&text))
    }

    /// Reads the log and keeps the latest change per id; `id_of` finds a record's id
    /// (the schema names the field). A line cut short by a crash is ignored.
    pub fn load(&self, id_of: &dyn Fn(&Map<String, Value>) -> Option<String>) -> Result<Updates> {
        Ok(Updates::fold(&self.read()?, id_of))
    }

    fn parse(&self, text: &str) -> LogContents {
        let mut contents = LogContents::default();
        for (i, line) in text.lines().enumerate() {
            let Ok(Value::Object(mut entry)) = serde_json::from_str::<Value>(line) else {
                self.skipped(i, "is unreadable");
                continue;
            };
            let seq = entry.get("seq").and_then(Value::as_u64).unwrap_or(0);
            contents.through = contents.through.max(seq);
            let change = match (entry.remove("upsert"), entry.remove("delete")) {
                (Some(Value::Object(record)), _) => Change::Upsert(record),
                (_, Some(Value::String(id))) => Change::Delete(id),
                _ if entry.contains_key("discarded") => {
                    contents.entries.clear();
                    continue;
                }
                _ => {
                    self.skipped(i, "is not an update");
                    continue;
                }
            };
            contents.entries.push(Logged { seq, change });
        }
        contents
    }

    fn skipped(&self, index: usize, why: &str) {
        tracing::warn!("{}: line {} {why}; skipped", self.path.display(), index + 1);
    }

    /// Starts over: the catalog about to be built holds the changes. One line keeps
    /// the last sequence number, so later updates are numbered after it.
    pub fn discard(&self) -> Result<()> {
        let _lock = FileLock::exclusive(&self.lock)?;
        let through = match File::open(&self.path) {
            Ok(mut file) => {
                last_seq(&mut file)
                    .map_err(|e| Error::io(format!("reading {}", self.path.display()), e))?
                    .0
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("reading {}", self.path.display()), e)),
        };
        let tmp = self.path.with_extension("jsonl.tmp");
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            file.write_all(format!("{{\"seq\":{through},\"discarded\":true}}\n").as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| Error::io(format!("discarding {}", self.path.display()), e))
    }
}

/// One log line: the sequence number first, then the change.
fn line(seq: u64, change: &Change) -> String {
    let body = match change {
        Change::Upsert(record) => format!("\"upsert\":{}", Value::Object(record.clone())),
        Change::Delete(id) => format!("\"delete\":{}", Value::String(id.clone())),
    };
    format!("{{\"seq\":{seq},{body}}}\n")
}

/// The last sequence number in the log `file`, and whether its last line was cut
/// short (no final newline). Reads backwards from the end until a line start is
/// found: a newline never occurs inside a JSON line, so `\n{"seq":` is one.
fn last_seq(file: &mut File) -> std::io::Result<(u64, bool)> {
    let len = file.seek(SeekFrom::End(0))?;
    let mut tail: Vec<u8> = Vec::new();
    let mut start = len;
    while start > 0 {
        let from = start.saturating_sub(TAIL_CHUNK);
        let mut chunk = vec![0; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = from;
        let torn = tail.last().is_some_and(|&b| b != b'\n');
        if let Some(seq) = last_line_seq(&tail, start == 0) {
            return Ok((seq, torn));
        }
    }
    Ok((0, tail.last().is_some_and(|&b| b != b'\n')))
}

/// The sequence number of the last line start in `tail` (`at_file_start`: `tail`
/// begins the file, so its first byte starts a line).
fn last_line_seq(tail: &[u8], at_file_start: bool) -> Option<u64> {
    let starts = |i: usize| {
        tail[i..].starts_with(LINE_START)
            && (i == 0 && at_file_start || i > 0 && tail[i - 1] == b'\n')
    };
    let at = (0..tail.len()).rev().find(|&i| starts(i))?;
    let digits: String = tail[at + LINE_START.len()..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(id: &str, title: &str) -> (String, Map<String, Value>) {
        let Value::Object(m) = json!({"id": id, "title": title}) else {
            unreachable!()
        };
        (id.to_string(), m)
    }

    fn id_of(m: &Map<String, Value>) -> Option<String> {
        m.get("id").and_then(Value::as_str).map(String::from)
    }

    #[test]
    fn the_latest_change_per_id_wins_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let log = UpdateLog::new(dir.path());
        assert_eq!(
            log.upserted(&[record("a", "one"), record("b", "two")])
                .unwrap(),
            2
        );
        assert_eq!(log.deleted("a").unwrap(), 3);
        assert_eq!(log.upserted(&[record("b", "three")]).unwrap(), 4);
        fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{\"seq\":5,\"upsert\":{\"id\":\"c\"")
            .unwrap();
        let updates = log.load(&id_of).unwrap();
        assert_eq!(updates.counts(), (1, 1));
        assert!(updates.latest["a"].is_none());
        assert_eq!(updates.latest["b"].as_ref().unwrap()["title"], "three");
        // The torn line's number is not reused, and the next line stands alone.
        assert_eq!(log.deleted("b").unwrap(), 6);
        let contents = log.read().unwrap();
        let after: Vec<u64> = contents.after(3).map(|e| e.seq).collect();
        assert_eq!(after, [4, 6]);
        assert_eq!(contents.through, 6);
    }

    #[test]
    fn discarding_keeps_the_numbering_and_old_lines_count_as_zero() {
        let dir = tempfile::tempdir().unwrap();
        let log = UpdateLog::new(dir.path());
        fs::write(
            log.path(),
            "{\"upsert\":{\"id\":\"old\",\"title\":\"x\"}}\n",
        )
        .unwrap();
        assert_eq!(log.read().unwrap().entries[0].seq, 0);
        assert_eq!(log.upserted(&[record("a", "one")]).unwrap(), 1);
        log.discard().unwrap();
        let contents = log.read().unwrap();
        assert!(contents.entries.is_empty());
        assert_eq!(contents.through, 1);
        assert_eq!(log.deleted("a").unwrap(), 2);
        assert_eq!(log.load(&id_of).unwrap().counts(), (0, 1));
    }

    #[test]
    fn the_last_number_is_found_past_a_long_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = UpdateLog::new(dir.path());
        let (id, mut big) = record("big", "long");
        big.insert("description".into(), Value::String("x".repeat(200_000)));
        log.upserted(&[record("a", "one"), (id, big)]).unwrap();
        assert_eq!(log.deleted("a").unwrap(), 3);
    }
}
