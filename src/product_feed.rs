//! The catalog feed: product changes and reloads reaching every replica through Redis.
//!
//! Replicas sharing a Redis do not change their index when a product update arrives.
//! The replica that accepts `PUT /v1/products` or `DELETE /v1/products/{id}` validates
//! it, appends it to the Redis stream `clerk:catalog` ([`ProductFeed::publish`]) and
//! waits until its own tailer has applied it; every replica runs the same tailer
//! ([`ProductFeed::tail`]), which reads the stream in order and applies each batch to
//! its live index, committed with the stream id reached (the catalog version, see
//! [`LiveIndex::apply_feed`]). So all replicas apply the same changes in the same
//! order, within one blocking read (milliseconds) of the append, and a replica that
//! was down, or starts from a copied index, resumes from the version its index holds.
//! A fresh build holds none and replays the whole stream; replaying is harmless
//! because an upsert replaces by id and deleting an absent product does nothing.
//!
//! `POST /v1/admin/reload` goes through the stream too (an entry `reload`): every
//! other replica re-reads its own `synonyms/` and `boosts/` when it reaches it.
//!
//! Entries: fields `op` (`upsert`, `delete`, `reload`), `body` (the JSON array of
//! product records as received, or the product id) and `origin` (the replica).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use redis::Connection;
use serde_json::Value;

use crate::catalog::Product;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::index::{FeedChange, LiveIndex};
use crate::redis_link::{IO_TIMEOUT, RedisLink, is_unreachable};

/// The stream every replica reads.
pub const STREAM: &str = "clerk:catalog";
/// How long one blocking read waits for new entries.
const BLOCK: Duration = Duration::from_millis(500);
/// Entries applied per commit.
const BATCH: usize = 256;
/// How long an accepting replica waits for its own tailer to apply a change.
pub const APPLY_WAIT: Duration = Duration::from_secs(5);
/// Pause before reconnecting after the feed failed.
const RECONNECT_PAUSE: Duration = Duration::from_millis(300);

/// A stream entry as read: its id and its fields.
type Entry = (String, Vec<(String, String)>);
/// An `XREAD` reply: per stream, its name and entries.
type ReadReply = Option<Vec<(String, Vec<Entry>)>>;

/// A change as it travels in the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedMessage {
    /// Product records (JSON objects), already validated by the accepting replica.
    Upsert(Vec<Value>),
    Delete(String),
    Reload,
}

/// A stream entry id, `MS-SEQ`, compared numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct StreamId(u64, u64);

impl StreamId {
    pub fn parse(text: &str) -> Option<StreamId> {
        let (ms, seq) = text.split_once('-')?;
        Some(StreamId(ms.parse().ok()?, seq.parse().ok()?))
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// One replica's end of the shared catalog feed.
pub struct ProductFeed {
    link: RedisLink,
    /// This replica, so it does not reload twice for its own reload.
    origin: String,
    /// The last entry this replica applied, and a signal when it moves.
    applied: Mutex<StreamId>,
    moved: Condvar,
    /// The index directory the tailer last applied to: a new one (after `clerk index`)
    /// starts from its own position, which may be behind.
    index_dir: Mutex<Option<std::path::PathBuf>>,
    stop: AtomicBool,
}

impl ProductFeed {
    /// The feed in the Redis at `url`; checks that it answers.
    pub fn open(url: &str) -> Result<ProductFeed> {
        let link = RedisLink::open(url)?;
        link.run("reaching the catalog feed", |c| {
            redis::cmd("PING").query::<String>(c)
        })?;
        let origin = format!(
            "{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_micros()
        );
        Ok(ProductFeed {
            link,
            origin,
            applied: Mutex::new(StreamId::default()),
            moved: Condvar::new(),
            index_dir: Mutex::new(None),
            stop: AtomicBool::new(false),
        })
    }

    /// Appends a change; returns its id once Redis has stored it.
    pub fn publish(&self, message: &FeedMessage) -> Result<StreamId> {
        let (op, body) = match message {
            FeedMessage::Upsert(records) => ("upsert", Value::Array(records.clone()).to_string()),
            FeedMessage::Delete(id) => ("delete", id.clone()),
            FeedMessage::Reload => ("reload", String::new()),
        };
        let id: String = self.link.run("appending to the catalog feed", |c| {
            redis::cmd("XADD")
                .arg(STREAM)
                .arg("*")
                .arg("op")
                .arg(op)
                .arg("body")
                .arg(body)
                .arg("origin")
                .arg(&self.origin)
                .query(c)
        })?;
        StreamId::parse(&id).ok_or_else(|| Error::Internal(format!("redis: odd stream id {id:?}")))
    }

    /// Appends a change and waits until this replica has applied it.
    pub fn publish_and_wait(&self, message: &FeedMessage) -> Result<StreamId> {
        let id = self.publish(message)?;
        if self.wait_applied(id, APPLY_WAIT) {
            Ok(id)
        } else {
            Err(Error::Unavailable(format!(
                "the change is stored in the catalog feed as {id} but this replica has not \
                 applied it within {}s (is Redis reachable?); every replica applies it when \
                 it reads the feed",
                APPLY_WAIT.as_secs()
            )))
        }
    }

    /// Whether this replica applied entry `id` within `timeout`.
    pub fn wait_applied(&self, id: StreamId, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let Ok(mut applied) = self.applied.lock() else {
            return false;
        };
        while *applied < id {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.moved.wait_timeout(applied, left) {
                Ok((guard, _)) => applied = guard,
                Err(_) => return false,
            }
        }
        true
    }

    /// The last entry this replica applied.
    pub fn applied(&self) -> StreamId {
        self.applied.lock().map(|a| *a).unwrap_or_default()
    }

    /// Asks [`ProductFeed::tail`] to return.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Applies every entry already in the feed (start-up catch-up); returns how many.
    pub fn catch_up(&self, engine: &Engine) -> Result<usize> {
        let mut connection = self.link.dedicated(IO_TIMEOUT)?;
        let mut total = 0;
        loop {
            let applied = self.step(&mut connection, engine, None)?;
            if applied == 0 {
                return Ok(total);
            }
            total += applied;
        }
    }

    /// Follows the feed until [`ProductFeed::stop`], reconnecting after failures.
    pub fn tail(self: Arc<Self>, engine: Arc<Engine>) {
        let mut connection: Option<Connection> = None;
        while !self.stop.load(Ordering::Relaxed) {
            let result = match connection.as_mut() {
                Some(c) => self.step(c, &engine, Some(BLOCK)).map(|_| ()),
                None => self
                    .link
                    .dedicated(IO_TIMEOUT + BLOCK)
                    .map(|c| connection = Some(c)),
            };
            if let Err(e) = result {
                tracing::warn!("catalog feed: {e}; reconnecting");
                connection = None;
                std::thread::sleep(RECONNECT_PAUSE);
            }
        }
    }

    /// Reads the next entries after the live index's version and applies them.
    fn step(&self, c: &mut Connection, engine: &Engine, block: Option<Duration>) -> Result<usize> {
        let index = engine.index();
        // An index without a version (a fresh build) replays the feed from the start.
        let from = index
            .catalog_version()?
            .and_then(|v| StreamId::parse(&v))
            .unwrap_or_default();
        self.follow_index(&index, from);
        let from = from.to_string();
        let entries = self.read(c, &from, block)?;
        let Some((last, _)) = entries.last() else {
            self.mark_applied(&from);
            return Ok(0);
        };
        let last = last.clone();
        let (changes, reload) = self.decode(&index, &entries);
        index.apply_feed(&changes, &last)?;
        if reload {
            match engine.reload_config() {
                Ok(report) => tracing::info!("catalog feed: configuration reloaded: {report:?}"),
                Err(e) => tracing::warn!("catalog feed: reload refused, the old one serves: {e}"),
            }
        }
        self.mark_applied(&last);
        Ok(entries.len())
    }

    fn read(&self, c: &mut Connection, from: &str, block: Option<Duration>) -> Result<Vec<Entry>> {
        let mut command = redis::cmd("XREAD");
        command.arg("COUNT").arg(BATCH);
        if let Some(block) = block {
            command.arg("BLOCK").arg(block.as_millis() as u64);
        }
        command.arg("STREAMS").arg(STREAM).arg(from);
        let reply: ReadReply = command.query(c).map_err(|e| {
            if is_unreachable(&e) {
                Error::Unavailable(format!("reading the catalog feed: {e}"))
            } else {
                Error::Internal(format!("reading the catalog feed: {e}"))
            }
        })?;
        Ok(reply
            .into_iter()
            .flatten()
            .flat_map(|(_, entries)| entries)
            .collect())
    }

    /// The index changes in `entries`, and whether another replica asked for a reload.
    fn decode(&self, index: &LiveIndex, entries: &[Entry]) -> (Vec<FeedChange>, bool) {
        let mut changes = Vec::new();
        let mut reload = false;
        for (id, fields) in entries {
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("")
            };
            match (field("op"), field("body")) {
                ("upsert", body) => match parse_products(index, body) {
                    Ok(products) => changes.push(FeedChange::Upsert(products)),
                    Err(e) => tracing::warn!("catalog feed: entry {id} skipped: {e}"),
                },
                ("delete", product) => changes.push(FeedChange::Delete(product.to_string())),
                ("reload", _) => reload |= field("origin") != self.origin,
                (op, _) => tracing::warn!("catalog feed: entry {id} has unknown op {op:?}"),
            }
        }
        (changes, reload)
    }

    /// On a newly opened index, `applied` becomes that index's position, so a change
    /// published now waits until this index has it too.
    fn follow_index(&self, index: &LiveIndex, position: StreamId) {
        let Ok(mut dir) = self.index_dir.lock() else {
            return;
        };
        if dir.as_deref() != Some(index.dir()) {
            *dir = Some(index.dir().to_path_buf());
            if let Ok(mut applied) = self.applied.lock() {
                *applied = position;
            }
        }
    }

    fn mark_applied(&self, id: &str) {
        let Some(id) = StreamId::parse(id) else {
            return;
        };
        if let Ok(mut applied) = self.applied.lock()
            && *applied < id
        {
            *applied = id;
            self.moved.notify_all();
        }
    }
}

/// Products of an upsert entry, read with this replica's schema.
fn parse_products(index: &LiveIndex, body: &str) -> std::result::Result<Vec<Product>, String> {
    let records: Vec<serde_json::Map<String, Value>> =
        serde_json::from_str(body).map_err(|e| format!("not a JSON array of objects: {e}"))?;
    records
        .iter()
        .map(|record| Product::from_record(index.schema(), record))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_compare_numerically() {
        let a = StreamId::parse("1700000000000-9").unwrap();
        let b = StreamId::parse("1700000000000-10").unwrap();
        assert!(a < b);
        assert!(StreamId::parse("0-0").unwrap() < a);
        assert_eq!(b.to_string(), "1700000000000-10");
        assert_eq!(StreamId::parse("nope"), None);
        assert_eq!(StreamId::parse("1-x"), None);
    }
}
