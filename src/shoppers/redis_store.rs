//! The shared shopper store: events and profiles in one Redis for every replica.
//!
//! `clerk serve --shopper-store redis://HOST:PORT` puts a [`RedisStore`] behind the
//! engine instead of the embedded redb file. Nothing is cached per replica: every
//! search reads the shopper's profile from Redis, so an event, a forget or an opt-out
//! accepted by one replica shapes the next search on all of them.
//!
//! Keys (all under `clerk:`):
//! * `clerk:profile:{shopper}` — the profile as JSON;
//! * `clerk:events` — a stream of every event in recording order, entry id
//!   `{seq + 1}-0` (Redis refuses the id `0-0`) with fields `s` (shopper) and `e` (the
//!   event as JSON); [`ShopperStore::events_after`] numbers events from 0, like redb;
//! * `clerk:seq` — how many sequence numbers were handed out;
//! * `clerk:shopper-events:{shopper}` — the shopper's stream ids, for forgetting.
//!
//! A batch is one `MULTI`/`EXEC` guarded by `WATCH` on the profiles it moves: the
//! profiles are read, moved in Rust ([`Profile::apply`]), and written together with
//! the events (a small Lua script numbers them) or not at all; a concurrent change to
//! one of those profiles makes the batch start over. Durability is Redis's: with
//! `appendonly yes` and `appendfsync always`, Redis writes and fsyncs the transaction
//! to its append-only file before it replies, so a `202` survives a Redis restart.
//! [`RedisStore::open`] checks those settings and refuses anything weaker.

use std::collections::HashMap;

use redis::{Connection, RedisResult, Script, Value};

use super::{Recorded, ShopperStore};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::profiles::Profile;
use crate::redis_link::RedisLink;
use crate::schema::AffinitySettings;

const PREFIX: &str = "clerk:";
/// Optimistic retries of a batch whose profiles another replica changed meanwhile.
const MAX_ATTEMPTS: usize = 32;
/// Stream entries read per round trip when walking events.
const PAGE: usize = 1_000;

/// Numbers and appends a batch's events. KEYS: seq, stream. ARGV: the per-shopper
/// list key prefix, then shopper and event JSON pairs. Returns the first number.
const RECORD_SCRIPT: &str = r#"
local n = (#ARGV - 1) / 2
local first = redis.call('INCRBY', KEYS[1], n) - n + 1
for i = 0, n - 1 do
  local id = string.format('%d-0', first + i)
  local shopper = ARGV[2 + 2 * i]
  redis.call('XADD', KEYS[2], id, 's', shopper, 'e', ARGV[3 + 2 * i])
  redis.call('RPUSH', ARGV[1] .. shopper, id)
end
return first
"#;

/// Drops expired events. KEYS: stream. ARGV: the per-shopper list key prefix, then
/// stream id and shopper pairs. Returns how many pairs it was given.
const EXPIRE_SCRIPT: &str = r#"
for i = 2, #ARGV, 2 do
  redis.call('XDEL', KEYS[1], ARGV[i])
  redis.call('LREM', ARGV[1] .. ARGV[i + 1], 1, ARGV[i])
end
return (#ARGV - 1) / 2
"#;

/// Drops idle profiles. KEYS: profiles; ARGV[1]: the time before which a profile's
/// latest event makes it idle. Opt-outs and undecodable profiles stay (the same rule
/// as `Profile::expires`). Returns how many went.
const EXPIRE_PROFILES_SCRIPT: &str = r#"
local dropped = 0
local idle_before = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local raw = redis.call('GET', key)
  if raw then
    local ok, p = pcall(cjson.decode, raw)
    if ok and type(p) == 'table' and p.opted_out ~= true then
      local seen = math.max(tonumber(p.seen) or 0, tonumber(p.updated) or 0,
                            tonumber(p.last_event) or 0)
      if seen < idle_before then
        redis.call('DEL', key)
        dropped = dropped + 1
      end
    end
  end
end
return dropped
"#;

/// Forgets a shopper. KEYS: profile, the shopper's id list, stream. Returns how many
/// things were removed (0: nothing was stored).
const FORGET_SCRIPT: &str = r#"
local removed = redis.call('DEL', KEYS[1])
local ids = redis.call('LRANGE', KEYS[2], 0, -1)
for i = 1, #ids, 1000 do
  redis.call('XDEL', KEYS[3], unpack(ids, i, math.min(i + 999, #ids)))
end
redis.call('DEL', KEYS[2])
return removed + #ids
"#;

fn profile_key(shopper: &str) -> String {
    format!("{PREFIX}profile:{shopper}")
}

fn shopper_events_key(shopper: &str) -> String {
    format!("{PREFIX}shopper-events:{shopper}")
}

fn stream_key() -> String {
    format!("{PREFIX}events")
}

fn seq_key() -> String {
    format!("{PREFIX}seq")
}

/// Events and profiles in a shared Redis.
pub struct RedisStore {
    link: RedisLink,
}

impl RedisStore {
    /// Connects to `url` and checks that Redis keeps what it acknowledges: it refuses
    /// to start on a Redis without `appendonly yes` and `appendfsync always`.
    pub fn open(url: &str) -> Result<RedisStore> {
        let link = RedisLink::open(url)?;
        check_durability(&link)?;
        Ok(RedisStore { link })
    }

    /// The Redis address, for messages.
    pub fn address(&self) -> &str {
        self.link.address()
    }

    /// Reads, moves and writes the profiles of a batch, with its events, atomically.
    /// `None` when a watched profile changed meanwhile (the caller tries again).
    fn try_record(
        c: &mut Connection,
        batch: &[Recorded],
        settings: &AffinitySettings,
    ) -> RedisResult<Option<()>> {
        let mut shoppers: Vec<&str> = batch.iter().map(|(e, _)| e.shopper.as_str()).collect();
        shoppers.sort_unstable();
        shoppers.dedup();
        let keys: Vec<String> = shoppers.iter().map(|s| profile_key(s)).collect();
        redis::cmd("WATCH").arg(&keys).exec(c)?;
        let stored: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(&keys).query(c)?;
        let mut profiles: HashMap<&str, Profile> = HashMap::new();
        for (shopper, bytes) in shoppers.iter().zip(stored) {
            let profile = match bytes {
                Some(bytes) => serde_json::from_slice(&bytes).map_err(decoding)?,
                None => Profile::default(),
            };
            profiles.insert(*shopper, profile);
        }
        let mut script_args: Vec<Vec<u8>> = vec![shopper_events_key("").into_bytes()];
        for (event, features) in batch {
            if let Some(profile) = profiles.get_mut(event.shopper.as_str()) {
                profile.apply(event, features, settings);
            }
            script_args.push(event.shopper.clone().into_bytes());
            script_args.push(serde_json::to_vec(event).map_err(decoding)?);
        }
        let mut transaction = redis::pipe();
        transaction.atomic();
        for (shopper, profile) in &profiles {
            let json = serde_json::to_vec(profile).map_err(decoding)?;
            transaction.cmd("SET").arg(profile_key(shopper)).arg(json);
        }
        transaction
            .cmd("EVAL")
            .arg(RECORD_SCRIPT)
            .arg(2)
            .arg(seq_key())
            .arg(stream_key())
            .arg(script_args);
        let done: Option<Vec<Value>> = transaction.query(c)?;
        Ok(done.map(|_| ()))
    }

    /// One page of the event stream from entry `{from}-0` on, with the entries' first
    /// id part (the sequence number plus one).
    fn page(&self, from: u64, count: usize) -> Result<Vec<(u64, Event)>> {
        let entries: Vec<(String, HashMap<String, Vec<u8>>)> =
            self.link.run("reading events", |c| {
                redis::cmd("XRANGE")
                    .arg(stream_key())
                    .arg(format!("{from}-0"))
                    .arg("+")
                    .arg("COUNT")
                    .arg(count)
                    .query(c)
            })?;
        let mut events = Vec::with_capacity(entries.len());
        for (id, fields) in entries {
            let seq = id
                .split('-')
                .next()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| Error::Internal(format!("redis: odd event id {id:?}")))?;
            let bytes = fields
                .get("e")
                .ok_or_else(|| Error::Internal(format!("redis: event {id} has no body")))?;
            let event: Event = serde_json::from_slice(bytes)
                .map_err(|e| Error::Internal(format!("redis: decoding event {id}: {e}")))?;
            events.push((seq, event));
        }
        Ok(events)
    }
}

fn decoding(e: serde_json::Error) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Client,
        "encoding or decoding",
        e.to_string(),
    ))
}

/// Refuses a Redis that could lose acknowledged events; warns when it cannot tell.
fn check_durability(link: &RedisLink) -> Result<()> {
    let settings = match link.config_get(&["appendonly", "appendfsync"]) {
        Ok(settings) => settings,
        Err(Error::Unavailable(message)) => {
            return Err(Error::Unavailable(format!(
                "{message} (is redis-server running?)"
            )));
        }
        Err(e) => {
            tracing::warn!(
                "cannot read the Redis configuration ({e}): make sure it runs with \
                 `appendonly yes` and `appendfsync always`, or acknowledged events may be lost"
            );
            eprintln!(
                "WARNING: cannot check {}'s persistence settings ({e}); it must run with \
                 `appendonly yes` and `appendfsync always`",
                link.address()
            );
            return Ok(());
        }
    };
    durability_problems(&settings).map_or(Ok(()), |problem| {
        Err(Error::Config {
            problems: vec![format!(
                "{}: {problem}; acknowledged events would not survive a Redis restart. \
                 Run redis-server with `--appendonly yes --appendfsync always` \
                 (or `redis-cli CONFIG SET appendonly yes` and `CONFIG SET appendfsync always`)",
                link.address()
            )],
        })
    })
}

/// What is missing for events to survive a restart, if anything.
fn durability_problems(settings: &HashMap<String, String>) -> Option<String> {
    let get = |name: &str| settings.get(name).map(String::as_str).unwrap_or("");
    if get("appendonly") != "yes" {
        return Some(format!(
            "appendonly is {:?}, not \"yes\"",
            get("appendonly")
        ));
    }
    if get("appendfsync") != "always" {
        return Some(format!(
            "appendfsync is {:?}, not \"always\"",
            get("appendfsync")
        ));
    }
    None
}

impl ShopperStore for RedisStore {
    fn is_remote(&self) -> bool {
        true
    }

    fn record(&self, batch: &[Recorded], settings: &AffinitySettings) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        for _ in 0..MAX_ATTEMPTS {
            // A failed attempt drops its connection, and its WATCH with it.
            let done = self.link.run("recording events", |c| {
                RedisStore::try_record(c, batch, settings)
            })?;
            if done.is_some() {
                return Ok(());
            }
        }
        Err(Error::Unavailable(format!(
            "the events were not recorded: their shoppers' profiles kept changing on other \
             replicas ({MAX_ATTEMPTS} attempts); retry the batch"
        )))
    }

    fn profile(&self, shopper: &str) -> Result<Option<Profile>> {
        let bytes: Option<Vec<u8>> = self.link.run("reading a profile", |c| {
            redis::cmd("GET").arg(profile_key(shopper)).query(c)
        })?;
        bytes
            .map(|b| {
                serde_json::from_slice(&b)
                    .map_err(|e| Error::Internal(format!("redis: decoding a profile: {e}")))
            })
            .transpose()
    }

    fn forget(&self, shopper: &str) -> Result<bool> {
        let removed: i64 = self.link.run("forgetting a shopper", |c| {
            Script::new(FORGET_SCRIPT)
                .key(profile_key(shopper))
                .key(shopper_events_key(shopper))
                .key(stream_key())
                .invoke(c)
        })?;
        Ok(removed > 0)
    }

    fn set_opted_out(&self, shopper: &str, opted_out: bool) -> Result<()> {
        let key = profile_key(shopper);
        for _ in 0..MAX_ATTEMPTS {
            let done: Option<Vec<Value>> = self.link.run("opting out", |c| {
                redis::cmd("WATCH").arg(&key).exec(c)?;
                let stored: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query(c)?;
                let mut profile = match stored {
                    Some(bytes) => serde_json::from_slice(&bytes).map_err(decoding)?,
                    None => Profile::default(),
                };
                profile.opted_out = opted_out;
                if opted_out {
                    profile.clear_affinities();
                }
                let json = serde_json::to_vec(&profile).map_err(decoding)?;
                redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(&key)
                    .arg(json)
                    .query(c)
            })?;
            if done.is_some() {
                return Ok(());
            }
        }
        Err(Error::Unavailable(format!(
            "the opt-out was not stored: the profile kept changing ({MAX_ATTEMPTS} attempts); retry"
        )))
    }

    /// Drops events older than `cutoff` from the stream and the shoppers' id lists,
    /// oldest first, in chunks; profiles keep their decayed weights. Recording order
    /// is nearly time order, so the walk stops at the first event inside the window.
    fn expire_events(&self, cutoff: i64) -> Result<usize> {
        let mut dropped = 0;
        loop {
            let page = self.page(1, super::RETENTION_CHUNK)?;
            let expired: Vec<&(u64, Event)> =
                page.iter().take_while(|(_, e)| e.ts < cutoff).collect();
            if expired.is_empty() {
                return Ok(dropped);
            }
            let mut args: Vec<String> = vec![shopper_events_key("")];
            for (id, event) in &expired {
                args.push(format!("{id}-0"));
                args.push(event.shopper.clone());
            }
            let _: i64 = self.link.run("expiring events", |c| {
                Script::new(EXPIRE_SCRIPT)
                    .key(stream_key())
                    .arg(&args)
                    .invoke(c)
            })?;
            dropped += expired.len();
            if expired.len() < page.len() || page.len() < super::RETENTION_CHUNK {
                return Ok(dropped);
            }
        }
    }

    /// Walks the profile keys with `SCAN` (the cursor is Redis's) and drops the idle
    /// ones in one script per step, so an event arriving meanwhile either lands
    /// before the check (and keeps the profile) or after the drop (and starts anew).
    fn expire_profiles(
        &self,
        idle_before: i64,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<(usize, Option<String>)> {
        let (next, keys): (String, Vec<String>) = self.link.run("scanning profiles", |c| {
            redis::cmd("SCAN")
                .arg(cursor.as_deref().unwrap_or("0"))
                .arg("MATCH")
                .arg(format!("{PREFIX}profile:*"))
                .arg("COUNT")
                .arg(limit.max(1))
                .query(c)
        })?;
        let dropped: i64 = if keys.is_empty() {
            0
        } else {
            self.link.run("expiring profiles", |c| {
                Script::new(EXPIRE_PROFILES_SCRIPT)
                    .key(&keys)
                    .arg(idle_before)
                    .invoke(c)
            })?
        };
        let next = (next != "0").then_some(next);
        Ok((usize::try_from(dropped).unwrap_or(0), next))
    }

    fn for_each_event(&self, visit: &mut dyn FnMut(&Event)) -> Result<()> {
        let mut from = 1;
        loop {
            let page = self.page(from, PAGE)?;
            for (_, event) in &page {
                visit(event);
            }
            match page.last() {
                Some((seq, _)) if page.len() == PAGE => from = seq + 1,
                _ => return Ok(()),
            }
        }
    }

    fn events_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<(u64, Event)>> {
        // Sequence number n sits at stream entry n + 1.
        let from = match after {
            None => 1,
            Some(after) if after >= u64::MAX - 1 => return Ok(Vec::new()),
            Some(after) => after + 2,
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let page = self.page(from, limit)?;
        Ok(page
            .into_iter()
            .map(|(id, e)| (id.saturating_sub(1), e))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_an_fsynced_append_only_file_is_durable_enough() {
        let good = settings(&[("appendonly", "yes"), ("appendfsync", "always")]);
        assert_eq!(durability_problems(&good), None);
        let no_aof = settings(&[("appendonly", "no"), ("appendfsync", "always")]);
        assert!(durability_problems(&no_aof).unwrap().contains("appendonly"));
        let lazy = settings(&[("appendonly", "yes"), ("appendfsync", "everysec")]);
        assert!(durability_problems(&lazy).unwrap().contains("everysec"));
        assert!(durability_problems(&HashMap::new()).is_some());
    }

    #[test]
    fn keys_live_under_one_prefix() {
        assert_eq!(profile_key("s-1"), "clerk:profile:s-1");
        assert_eq!(shopper_events_key("s-1"), "clerk:shopper-events:s-1");
        assert!(stream_key().starts_with(PREFIX) && seq_key().starts_with(PREFIX));
    }
}
