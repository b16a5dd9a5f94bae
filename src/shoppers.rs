//! The shopper store: events and profiles, durable, behind a trait.
//!
//! [`ShopperStore`] is what the engine needs: record a batch of events (and move the
//! profiles) atomically and durably, read a profile, forget a shopper, opt one out,
//! and walk the events for reports. [`RedbStore`] is the default: an embedded,
//! crash-safe redb file in the data directory. A batch is one write transaction,
//! committed with immediate durability before the caller answers `202`, so a crash
//! after the answer loses none of it. A shared store (Redis, PostgreSQL) for several
//! replicas implements the same trait.
//!
//! [`RedisStore`] (module `redis_store`) keeps the same data in a shared Redis so several
//! replicas serve one store.
//!
//! Holdout assignment lives here too: a stable hash of the shopper id decides, the
//! same way on every replica and every restart, who is served without personalization.

mod group;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

mod redis_store;

pub use redis_store::RedisStore;

use redb::{
    Database, ReadOnlyDatabase, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};

use crate::error::{Error, Result};
use crate::events::{Event, Variant};
use crate::profiles::Profile;
use crate::schema::AffinitySettings;

const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("events");
const PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("profiles");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Recording order: sequence number → shopper, so events can be read back in the
/// order they were recorded ([`ShopperStore::events_after`]).
const LOG: TableDefinition<u64, &str> = TableDefinition::new("log");
/// Events dropped by one retention transaction at most.
pub const RETENTION_CHUNK: usize = 10_000;
const NEXT_SEQ: &str = "next_seq";

/// Page cache of the embedded store unless configured (`[store] cache_mb`).
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

/// File name of the default store in a data directory.
pub const STORE_FILE: &str = "shoppers.redb";

/// An event with the product features it carries into the profile.
pub type Recorded = (Event, Vec<String>);

/// Where events and profiles live.
pub trait ShopperStore: Send + Sync {
    /// Records a batch and updates the profiles, all or nothing, durably.
    fn record(&self, batch: &[Recorded], settings: &AffinitySettings) -> Result<()>;
    /// The shopper's profile, if the shopper has one.
    /// Whether reading a profile goes over the network (so it must not run on an
    /// async worker). The embedded store reads from its memory-mapped file.
    fn is_remote(&self) -> bool {
        false
    }
    fn profile(&self, shopper: &str) -> Result<Option<Profile>>;
    /// Forgets the shopper: profile and every event. Returns whether anything existed.
    fn forget(&self, shopper: &str) -> Result<bool>;
    /// Opts the shopper out of personalization (affinities are erased) or back in.
    fn set_opted_out(&self, shopper: &str, opted_out: bool) -> Result<()>;
    /// Calls `visit` with every stored event.
    fn for_each_event(&self, visit: &mut dyn FnMut(&Event)) -> Result<()>;
    /// Up to `limit` events recorded after sequence number `after`, oldest first, each
    /// with its sequence number (increasing across the whole store, on every replica).
    /// Forgotten or expired events are simply absent. Consumers that keep derived
    /// state (the crowd's learned signals) poll this with the last number they saw.
    fn events_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, Event)>>;
    /// Drops the events whose time is before `cutoff` (Unix seconds); profiles keep
    /// their decayed weights. Returns how many were dropped. Stores without
    /// retention keep everything.
    fn expire_events(&self, cutoff: i64) -> Result<usize> {
        let _ = cutoff;
        Ok(0)
    }
    /// Drops the profiles of shoppers idle since before `idle_before` (Unix seconds),
    /// opt-outs excepted ([`Profile::expires`]), looking at up to `limit` profiles
    /// after `cursor` (where the previous call stopped; `None` starts from the
    /// beginning). Returns how many were dropped and where to go on (`None`: the end
    /// was reached). Stores without retention keep every profile.
    fn expire_profiles(
        &self,
        idle_before: i64,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<(usize, Option<String>)> {
        let _ = (idle_before, cursor, limit);
        Ok((0, None))
    }
}

/// Whether `shopper` is in the holdout group: a stable hash of the id, compared with
/// the share.
pub fn in_holdout(shopper: &str, share: f64) -> bool {
    // FNV-1a then a final mix: stable across builds, machines and restarts.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in shopper.as_bytes() {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    (h as f64 / u64::MAX as f64) < share
}

/// The variant a shopper is served: holdout by hash, anonymous when opted out.
pub fn variant_of(shopper: &str, opted_out: bool, settings: &AffinitySettings) -> Variant {
    if opted_out {
        Variant::Anonymous
    } else if in_holdout(shopper, settings.holdout_share) {
        Variant::Holdout
    } else {
        Variant::Personalized
    }
}

fn storage<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> Error + '_ {
    move |e| Error::Internal(format!("shopper store: {what}: {e}"))
}

/// The embedded default store.
pub enum RedbStore {
    /// Event batches go through the group-commit writer; other writes directly.
    Writable(Arc<Database>, group::GroupWriter),
    /// Opened beside no writer (e.g. `clerk report` on a stopped server's data).
    ReadOnly(ReadOnlyDatabase),
}

impl RedbStore {
    /// Opens (or creates) the store for reading and writing; one process at a time.
    pub fn open(path: &Path) -> Result<RedbStore> {
        RedbStore::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// The same with a page cache of `cache_bytes` (redb's default is 1 GiB, which
    /// a busy store fills: memory then follows the store's size).
    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> Result<RedbStore> {
        let db = Database::builder()
            .set_cache_size(usize::try_from(cache_bytes).unwrap_or(usize::MAX))
            .create(path)
            .map_err(|e| {
                Error::Internal(format!(
                    "opening {}: {e} (is another clerk serving this data directory?)",
                    path.display()
                ))
            })?;
        let txn = db.begin_write().map_err(storage("begin"))?;
        txn.open_table(EVENTS).map_err(storage("events table"))?;
        txn.open_table(PROFILES)
            .map_err(storage("profiles table"))?;
        txn.open_table(META).map_err(storage("meta table"))?;
        txn.open_table(LOG).map_err(storage("log table"))?;
        txn.commit().map_err(storage("commit"))?;
        backfill_log(&db)?;
        let mut db = db;
        // Space freed by retention and forgetting goes back to the file system.
        if let Err(e) = db.compact() {
            tracing::warn!("could not compact {}: {e}", path.display());
        }
        let db = Arc::new(db);
        let writer = group::GroupWriter::start(db.clone())?;
        Ok(RedbStore::Writable(db, writer))
    }

    /// Opens an existing store read-only.
    pub fn open_read_only(path: &Path) -> Result<RedbStore> {
        ReadOnlyDatabase::open(path)
            .map(RedbStore::ReadOnly)
            .map_err(|e| Error::Internal(format!("opening {} read-only: {e}", path.display())))
    }

    fn writable(&self) -> Result<&Database> {
        match self {
            RedbStore::Writable(db, _) => Ok(db),
            RedbStore::ReadOnly(_) => Err(Error::Internal(
                "the shopper store is open read-only".into(),
            )),
        }
    }

    fn read(&self) -> Result<redb::ReadTransaction> {
        match self {
            RedbStore::Writable(db, _) => db.begin_read(),
            RedbStore::ReadOnly(db) => db.begin_read(),
        }
        .map_err(storage("begin read"))
    }
}

/// Stores written before the log existed get one entry per stored event.
fn backfill_log(db: &Database) -> Result<()> {
    let txn = db.begin_write().map_err(storage("begin"))?;
    {
        let mut log = txn.open_table(LOG).map_err(storage("log"))?;
        if !log.is_empty().map_err(storage("log"))? {
            return Ok(());
        }
        let events = txn.open_table(EVENTS).map_err(storage("events"))?;
        for entry in events.iter().map_err(storage("events"))? {
            let (key, _) = entry.map_err(storage("events"))?;
            let (shopper, seq) = key.value();
            log.insert(seq, shopper).map_err(storage("log"))?;
        }
    }
    txn.commit().map_err(storage("commit"))
}

fn decode_event(bytes: &[u8]) -> Result<Event> {
    serde_json::from_slice(bytes).map_err(storage("decoding an event"))
}

fn decode_profile(bytes: &[u8]) -> Result<Profile> {
    serde_json::from_slice(bytes).map_err(storage("decoding a profile"))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(storage("encoding"))
}

/// Records `batch` inside `txn`: events, recording order, and the moved profiles.
fn apply_batch(
    txn: &WriteTransaction,
    batch: &[Recorded],
    settings: &AffinitySettings,
) -> Result<()> {
    let mut meta = txn.open_table(META).map_err(storage("meta"))?;
    let mut events = txn.open_table(EVENTS).map_err(storage("events"))?;
    let mut log = txn.open_table(LOG).map_err(storage("log"))?;
    let mut profiles = txn.open_table(PROFILES).map_err(storage("profiles"))?;
    let mut seq = meta
        .get(NEXT_SEQ)
        .map_err(storage("seq"))?
        .map(|v| v.value())
        .unwrap_or(0);
    let mut touched: HashMap<&str, Profile> = HashMap::new();
    for (event, features) in batch {
        let shopper = event.shopper.as_str();
        events
            .insert((shopper, seq), encode(event)?.as_slice())
            .map_err(storage("insert event"))?;
        log.insert(seq, shopper).map_err(storage("insert log"))?;
        seq += 1;
        if !touched.contains_key(shopper) {
            let existing = profiles.get(shopper).map_err(storage("read profile"))?;
            let profile = match existing {
                Some(bytes) => decode_profile(bytes.value())?,
                None => Profile::default(),
            };
            touched.insert(shopper, profile);
        }
        if let Some(profile) = touched.get_mut(shopper) {
            profile.apply(event, features, settings);
        }
    }
    for (shopper, profile) in &touched {
        profiles
            .insert(*shopper, encode(profile)?.as_slice())
            .map_err(storage("write profile"))?;
    }
    meta.insert(NEXT_SEQ, seq).map_err(storage("seq"))?;
    Ok(())
}

impl ShopperStore for RedbStore {
    fn record(&self, batch: &[Recorded], settings: &AffinitySettings) -> Result<()> {
        match self {
            RedbStore::Writable(_, writer) => writer.record(batch, settings),
            RedbStore::ReadOnly(_) => Err(Error::Internal(
                "the shopper store is open read-only".into(),
            )),
        }
    }
    fn profile(&self, shopper: &str) -> Result<Option<Profile>> {
        let txn = self.read()?;
        let table = txn.open_table(PROFILES).map_err(storage("profiles"))?;
        let found = table.get(shopper).map_err(storage("read profile"))?;
        found.map(|bytes| decode_profile(bytes.value())).transpose()
    }

    fn forget(&self, shopper: &str) -> Result<bool> {
        let txn = self.writable()?.begin_write().map_err(storage("begin"))?;
        let existed;
        {
            let mut profiles = txn.open_table(PROFILES).map_err(storage("profiles"))?;
            let mut events = txn.open_table(EVENTS).map_err(storage("events"))?;
            let mut log = txn.open_table(LOG).map_err(storage("log"))?;
            let had_profile = profiles
                .remove(shopper)
                .map_err(storage("remove profile"))?
                .is_some();
            let keys: Vec<u64> = events
                .range((shopper, 0u64)..=(shopper, u64::MAX))
                .map_err(storage("events"))?
                .filter_map(|entry| entry.ok().map(|(k, _)| k.value().1))
                .collect();
            for seq in &keys {
                events
                    .remove((shopper, *seq))
                    .map_err(storage("remove event"))?;
                log.remove(*seq).map_err(storage("remove log"))?;
            }
            existed = had_profile || !keys.is_empty();
        }
        txn.commit().map_err(storage("commit"))?;
        Ok(existed)
    }

    fn set_opted_out(&self, shopper: &str, opted_out: bool) -> Result<()> {
        let txn = self.writable()?.begin_write().map_err(storage("begin"))?;
        {
            let mut profiles = txn.open_table(PROFILES).map_err(storage("profiles"))?;
            let existing = profiles
                .get(shopper)
                .map_err(storage("read profile"))?
                .map(|b| b.value().to_vec());
            let mut profile = match existing {
                Some(bytes) => decode_profile(&bytes)?,
                None => Profile::default(),
            };
            profile.opted_out = opted_out;
            if opted_out {
                profile.clear_affinities();
            }
            profiles
                .insert(shopper, encode(&profile)?.as_slice())
                .map_err(storage("write profile"))?;
        }
        txn.commit().map_err(storage("commit"))
    }

    fn expire_events(&self, cutoff: i64) -> Result<usize> {
        let mut dropped = 0;
        loop {
            let txn = self.writable()?.begin_write().map_err(storage("begin"))?;
            let chunk = {
                let mut log = txn.open_table(LOG).map_err(storage("log"))?;
                let mut events = txn.open_table(EVENTS).map_err(storage("events"))?;
                let mut expired: Vec<(u64, String)> = Vec::new();
                for entry in log.iter().map_err(storage("log"))? {
                    let (seq, shopper) = entry.map_err(storage("log"))?;
                    let (seq, shopper) = (seq.value(), shopper.value());
                    let ts = match events.get((shopper, seq)).map_err(storage("events"))? {
                        Some(bytes) => decode_event(bytes.value()).map_or(i64::MIN, |e| e.ts),
                        None => i64::MIN,
                    };
                    // Recording order is nearly time order: stop at the first event
                    // still inside the window.
                    if ts >= cutoff || expired.len() >= RETENTION_CHUNK {
                        break;
                    }
                    expired.push((seq, shopper.to_string()));
                }
                for (seq, shopper) in &expired {
                    log.remove(*seq).map_err(storage("expire log"))?;
                    events
                        .remove((shopper.as_str(), *seq))
                        .map_err(storage("expire event"))?;
                }
                expired.len()
            };
            txn.commit().map_err(storage("commit"))?;
            dropped += chunk;
            if chunk < RETENTION_CHUNK {
                return Ok(dropped);
            }
        }
    }

    /// Finds the idle profiles in a read transaction, then drops them in a write
    /// transaction that checks each again (an event may have arrived in between), so
    /// the writer holds no more pages than the profiles it removes.
    fn expire_profiles(
        &self,
        idle_before: i64,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<(usize, Option<String>)> {
        use std::ops::Bound;
        let expires = |bytes: &[u8]| Profile::stored_expires(bytes, idle_before) == Some(true);
        let (idle, next) = {
            let txn = self.read()?;
            let profiles = txn.open_table(PROFILES).map_err(storage("profiles"))?;
            let from = match cursor.as_deref() {
                Some(after) => Bound::Excluded(after),
                None => Bound::Unbounded,
            };
            let mut idle: Vec<String> = Vec::new();
            let mut looked = 0;
            let mut last: Option<String> = None;
            for entry in profiles
                .range::<&str>((from, Bound::Unbounded))
                .map_err(storage("profiles"))?
            {
                let (shopper, bytes) = entry.map_err(storage("profiles"))?;
                if expires(bytes.value()) {
                    idle.push(shopper.value().to_string());
                }
                looked += 1;
                if looked >= limit {
                    last = Some(shopper.value().to_string());
                    break;
                }
            }
            (idle, last)
        };
        if idle.is_empty() {
            return Ok((0, next));
        }
        let txn = self.writable()?.begin_write().map_err(storage("begin"))?;
        let mut dropped = 0;
        {
            let mut profiles = txn.open_table(PROFILES).map_err(storage("profiles"))?;
            for shopper in &idle {
                let still_idle = profiles
                    .get(shopper.as_str())
                    .map_err(storage("read profile"))?
                    .is_some_and(|bytes| expires(bytes.value()));
                if still_idle {
                    profiles
                        .remove(shopper.as_str())
                        .map_err(storage("expire profile"))?;
                    dropped += 1;
                }
            }
        }
        txn.commit().map_err(storage("commit"))?;
        Ok((dropped, next))
    }

    fn for_each_event(&self, visit: &mut dyn FnMut(&Event)) -> Result<()> {
        let txn = self.read()?;
        let table = txn.open_table(EVENTS).map_err(storage("events"))?;
        for entry in table.iter().map_err(storage("events"))? {
            let (_, bytes) = entry.map_err(storage("events"))?;
            visit(&decode_event(bytes.value())?);
        }
        Ok(())
    }

    fn events_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, Event)>> {
        let txn = self.read()?;
        let log = txn.open_table(LOG).map_err(storage("log"))?;
        let events = txn.open_table(EVENTS).map_err(storage("events"))?;
        let from = after.map_or(0, |a| a.saturating_add(1));
        if after == Some(u64::MAX) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for entry in log.range(from..).map_err(storage("log"))?.take(limit) {
            let (seq, shopper) = entry.map_err(storage("log"))?;
            let (seq, shopper) = (seq.value(), shopper.value());
            if let Some(bytes) = events.get((shopper, seq)).map_err(storage("events"))? {
                out.push((seq, decode_event(bytes.value())?));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    fn event(shopper: &str, kind: EventKind, ts: i64) -> Event {
        Event {
            kind,
            shopper: shopper.into(),
            product: Some("p-1".into()),
            query: None,
            position: None,
            ts,
            variant: Variant::Personalized,
            served: None,
        }
    }

    #[test]
    fn batches_survive_reopening_and_forgetting_removes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        let settings = AffinitySettings::default();
        {
            let store = RedbStore::open(&path).unwrap();
            let batch = vec![
                (event("a", EventKind::View, 10), vec!["brand=X".to_string()]),
                (
                    event("a", EventKind::Purchase, 20),
                    vec!["brand=X".to_string()],
                ),
                (event("b", EventKind::View, 30), vec!["brand=Y".to_string()]),
            ];
            store.record(&batch, &settings).unwrap();
        }
        let store = RedbStore::open(&path).unwrap();
        let a = store.profile("a").unwrap().unwrap();
        assert_eq!(a.counts.view, 1);
        assert_eq!(a.counts.purchase, 1);
        assert!(a.long_term["brand=X"].total() > 10.0);
        let mut seen = 0;
        store.for_each_event(&mut |_| seen += 1).unwrap();
        assert_eq!(seen, 3);
        let ordered = store.events_after(None, 10).unwrap();
        let seqs: Vec<u64> = ordered.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [0, 1, 2]);
        assert_eq!(ordered[2].1.shopper, "b");
        assert_eq!(store.events_after(Some(0), 1).unwrap()[0].0, 1);
        assert!(store.events_after(Some(2), 10).unwrap().is_empty());
        assert!(store.forget("a").unwrap());
        assert!(store.profile("a").unwrap().is_none());
        let mut left = Vec::new();
        store
            .for_each_event(&mut |e| left.push(e.shopper.clone()))
            .unwrap();
        assert_eq!(left, ["b"]);
        let after_forget: Vec<u64> = store
            .events_after(None, 10)
            .unwrap()
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(after_forget, [2]);
        assert!(!store.forget("nobody").unwrap());
    }

    #[test]
    fn idle_profiles_expire_in_steps_and_opt_outs_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join(STORE_FILE)).unwrap();
        let settings = AffinitySettings::default();
        let features = || vec!["brand=X".to_string()];
        let batch: Vec<Recorded> = [("a", 100), ("b", 900), ("c", 150), ("d", 120), ("e", 50)]
            .into_iter()
            .map(|(s, ts)| (event(s, EventKind::View, ts), features()))
            .collect();
        store.record(&batch, &settings).unwrap();
        // A search-only shopper is idle from their search too.
        let search = Event {
            kind: EventKind::Search,
            product: None,
            query: Some("lamp".into()),
            ..event("c", EventKind::Search, 1_000)
        };
        store.record(&[(search, Vec::new())], &settings).unwrap();
        store.set_opted_out("e", true).unwrap();

        // Two profiles per step: the cursor carries the walk to the end.
        let (mut dropped, mut cursor, mut steps) = (0, None, 0);
        loop {
            let (n, next) = store.expire_profiles(500, cursor, 2).unwrap();
            dropped += n;
            steps += 1;
            cursor = next;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(dropped, 2, "a and d were idle");
        assert_eq!(steps, 3);
        for (shopper, kept) in [
            ("a", false),
            ("b", true),
            ("c", true),
            ("d", false),
            ("e", true),
        ] {
            assert_eq!(store.profile(shopper).unwrap().is_some(), kept, "{shopper}");
        }
        assert!(store.profile("e").unwrap().unwrap().opted_out);
    }

    #[test]
    fn opting_out_erases_affinities_and_keeps_them_away() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join(STORE_FILE)).unwrap();
        let settings = AffinitySettings::default();
        store
            .record(
                &[(event("a", EventKind::View, 1), vec!["brand=X".into()])],
                &settings,
            )
            .unwrap();
        store.set_opted_out("a", true).unwrap();
        store
            .record(
                &[(event("a", EventKind::Purchase, 2), vec!["brand=X".into()])],
                &settings,
            )
            .unwrap();
        let profile = store.profile("a").unwrap().unwrap();
        assert!(profile.opted_out && profile.long_term.is_empty());
        assert_eq!(profile.counts.purchase, 1);
    }

    #[test]
    fn concurrent_batches_are_all_committed_by_the_group_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_FILE);
        let settings = AffinitySettings::default();
        {
            let store = Arc::new(RedbStore::open(&path).unwrap());
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let store = store.clone();
                    let settings = settings.clone();
                    std::thread::spawn(move || {
                        for i in 0..25 {
                            let batch: Vec<Recorded> = (0..10)
                                .map(|j| {
                                    (event(&format!("s{t}"), EventKind::View, i * 10 + j), vec![])
                                })
                                .collect();
                            store.record(&batch, &settings).unwrap();
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
        }
        let store = RedbStore::open(&path).unwrap();
        let mut seen = 0;
        store.for_each_event(&mut |_| seen += 1).unwrap();
        assert_eq!(seen, 8 * 25 * 10);
        assert_eq!(store.profile("s3").unwrap().unwrap().counts.view, 250);
    }

    #[test]
    fn expired_events_are_dropped_and_profiles_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join(STORE_FILE)).unwrap();
        let settings = AffinitySettings::default();
        let now = chrono::Utc::now().timestamp();
        let old = now - 7_200;
        let batch: Vec<Recorded> = (0..(RETENTION_CHUNK as i64 + 5))
            .map(|i| {
                (
                    event("old", EventKind::View, old + i / 1000),
                    vec!["brand=X".into()],
                )
            })
            .collect();
        store.record(&batch, &settings).unwrap();
        store
            .record(&[(event("new", EventKind::View, now), vec![])], &settings)
            .unwrap();
        assert_eq!(
            store.expire_events(old - 1).unwrap(),
            0,
            "nothing is that old"
        );
        let dropped = store.expire_events(now - 3_600).unwrap();
        assert_eq!(
            dropped,
            RETENTION_CHUNK + 5,
            "two transactions, every old event"
        );
        let left = store.events_after(None, 100).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].1.shopper, "new");
        assert_eq!(
            left[0].0,
            RETENTION_CHUNK as u64 + 5,
            "sequence numbers stay"
        );
        let profile = store.profile("old").unwrap().unwrap();
        assert_eq!(profile.counts.view as usize, RETENTION_CHUNK + 5);
        assert!(!profile.long_term.is_empty());
    }

    #[test]
    fn holdout_is_stable_and_near_its_share() {
        let share = 0.1;
        let ids: Vec<String> = (0..20_000).map(|i| format!("shopper-{i}")).collect();
        let held = ids.iter().filter(|id| in_holdout(id, share)).count() as f64 / ids.len() as f64;
        assert!((0.08..0.12).contains(&held), "{held}");
        assert_eq!(
            in_holdout("shopper-7", share),
            in_holdout("shopper-7", share)
        );
        assert!(!in_holdout("anyone", 0.0));
        assert!(in_holdout("anyone", 1.0));
    }
}
