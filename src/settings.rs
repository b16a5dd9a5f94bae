//! Server settings: `clerk.toml`, environment overrides, and command-line flags.
//!
//! `clerk serve` reads `clerk.toml` from the config folder (or the file `--config`
//! names), lays the `CLERK_*` environment variables over it, and lets its own flags
//! win over both. A missing file means defaults; an unknown key or a bad value is an
//! error that names the key and where it came from. Secrets (the admin and search keys,
//! the shopper secret) are read only from the environment, never from the file, so
//! the file can be committed. What leaves: one [`Settings`] the server runs with.
//!
//! The environment variable of a key is `CLERK_` + the key in capitals for the
//! `[server]` table (`CLERK_ADDR`, `CLERK_DATA_DIR`) and `CLERK_<TABLE>_<KEY>`
//! otherwise (`CLERK_LIMITS_MAX_CONCURRENT`, `CLERK_RETENTION_EVENTS_DAYS`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// File name of the settings file in the config folder.
pub const SETTINGS_FILE: &str = "clerk.toml";

/// Everything `clerk serve` runs with.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub limits: Limits,
    pub rate_limit: RateLimit,
    pub retention: Retention,
    pub store: StoreSettings,
}

/// Where to listen and where the data lives.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
}

/// Bounds on every request and connection.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// A request still running after this is answered 503 and its work is stopped.
    pub request_timeout_ms: u64,
    /// Work budget of one search (retrieval stops at this deadline and answers with
    /// what it found, marked `partial`).
    pub search_deadline_ms: u64,
    /// A client must send a request's headers within this of the request's first byte
    /// (and its body within this too).
    pub header_read_timeout_ms: u64,
    /// A connection with no request for this long is closed.
    pub idle_timeout_ms: u64,
    /// Open connections at most; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Open connections one client address (an IPv6 /64) may hold; more are answered
    /// `503` and closed. 0 means no cap (behind a proxy, every client has its address).
    pub max_connections_per_client: usize,
    /// Requests doing engine work at once; 0 means twice the CPU cores.
    pub max_concurrent: usize,
    /// Of those, heavy searches (many words, filters or facets, deep pages) at once;
    /// 0 means a quarter of `max_concurrent`, at least 1. Keeps cores free for the
    /// ordinary queries while someone sends costly ones.
    pub heavy_concurrent: usize,
    /// How long a request waits for a free slot before it gets 503 + Retry-After.
    pub queue_wait_ms: u64,
}

/// An optional token bucket per client address, and one for the admin key
/// (`http::limits::rate_limit`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    /// Sustained requests per second per bucket; 0 turns rate limiting off.
    pub per_second: f64,
    /// Requests a bucket may take in a burst above the sustained rate.
    pub burst: u32,
}

/// How long raw events are kept.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Events older than this (by their `ts`) are dropped; profiles keep their decayed
    /// weights. 0 keeps events forever.
    pub events_days: f64,
    /// Profiles of shoppers with no event for this long are dropped (opt-outs are
    /// kept). At least `events_days`; 0 keeps profiles forever, and so do events
    /// kept forever (`events_days = 0`).
    pub profiles_days: f64,
    /// How often the retention sweep runs.
    pub sweep_interval_seconds: u64,
}

/// The embedded shopper store.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// redb's page cache, in MiB.
    pub cache_mb: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            addr: SocketAddr::from(([127, 0, 0, 1], 7878)),
            data_dir: PathBuf::from("./clerk-data"),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout_ms: 10_000,
            search_deadline_ms: 250,
            header_read_timeout_ms: 5_000,
            idle_timeout_ms: 30_000,
            max_connections: 1_024,
            max_connections_per_client: 64,
            max_concurrent: 0,
            heavy_concurrent: 0,
            queue_wait_ms: 250,
        }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 0.0,
            burst: 50,
        }
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            events_days: 90.0,
            profiles_days: 365.0,
            sweep_interval_seconds: 60,
        }
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings { cache_mb: 64 }
    }
}

/// Every settable key, as (table, key): the environment overrides are derived from it.
const KEYS: &[(&str, &str)] = &[
    ("server", "addr"),
    ("server", "data_dir"),
    ("limits", "request_timeout_ms"),
    ("limits", "search_deadline_ms"),
    ("limits", "header_read_timeout_ms"),
    ("limits", "idle_timeout_ms"),
    ("limits", "max_connections"),
    ("limits", "max_connections_per_client"),
    ("limits", "max_concurrent"),
    ("limits", "heavy_concurrent"),
    ("limits", "queue_wait_ms"),
    ("rate_limit", "per_second"),
    ("rate_limit", "burst"),
    ("retention", "events_days"),
    ("retention", "profiles_days"),
    ("retention", "sweep_interval_seconds"),
    ("store", "cache_mb"),
];

/// The environment variable that overrides `table.key`.
pub fn env_name(table: &str, key: &str) -> String {
    if table == "server" {
        format!("CLERK_{}", key.to_uppercase())
    } else {
        format!("CLERK_{}_{}", table.to_uppercase(), key.to_uppercase())
    }
}

impl Settings {
    /// Reads `file` (absent = defaults) and the process environment.
    pub fn load(file: &Path, required: bool) -> Result<Settings> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => None,
            Err(e) => return Err(Error::io(format!("reading {}", file.display()), e)),
        };
        let env: Vec<(String, String)> = std::env::vars().collect();
        Settings::from_sources(text.as_deref(), &file.display().to_string(), &env)
    }

    /// Parses the file's text (if any) with `env` laid over it.
    pub fn from_sources(
        text: Option<&str>,
        origin: &str,
        env: &[(String, String)],
    ) -> Result<Settings> {
        let bad = |message: String| Error::Config {
            problems: vec![message],
        };
        let mut table: toml::Table = match text {
            Some(text) => toml::from_str(text).map_err(|e| bad(format!("{origin}: {e}")))?,
            None => toml::Table::new(),
        };
        for (section, key) in KEYS {
            let name = env_name(section, key);
            let Some((_, raw)) = env.iter().find(|(k, _)| *k == name) else {
                continue;
            };
            let entry = table
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(inner) = entry else {
                return Err(bad(format!("{origin}: [{section}] must be a table")));
            };
            inner.insert(key.to_string(), env_value(raw));
        }
        check_each_key(&table, origin)?;
        let settings: Settings =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    bad(format!(
                        "{origin} (or a CLERK_* environment variable): {}",
                        e.message()
                    ))
                })?;
        // A problem names where its value came from: the variable when one was set.
        let from = |key: &str| -> String {
            let (section, key) = key.split_once('.').unwrap_or(("", key));
            let name = env_name(section, key);
            if env.iter().any(|(k, _)| *k == name) {
                name
            } else {
                origin.to_string()
            }
        };
        settings.validate(&from)?;
        Ok(settings)
    }

    /// Checks values that parse but cannot work; `from` names a key's source.
    fn validate(&self, from: &dyn Fn(&str) -> String) -> Result<()> {
        let mut problems = Vec::new();
        let l = &self.limits;
        for (key, value) in [
            ("limits.request_timeout_ms", l.request_timeout_ms),
            ("limits.search_deadline_ms", l.search_deadline_ms),
            ("limits.header_read_timeout_ms", l.header_read_timeout_ms),
            ("limits.idle_timeout_ms", l.idle_timeout_ms),
            ("limits.max_connections", l.max_connections as u64),
            ("store.cache_mb", self.store.cache_mb),
            (
                "retention.sweep_interval_seconds",
                self.retention.sweep_interval_seconds,
            ),
        ] {
            if value == 0 {
                problems.push(format!("{}: {key} must be above 0", from(key)));
            }
        }
        if !(self.rate_limit.per_second >= 0.0 && self.rate_limit.per_second.is_finite()) {
            problems.push(format!(
                "{}: rate_limit.per_second must be 0 (off) or a positive number",
                from("rate_limit.per_second")
            ));
        }
        if self.rate_limit.per_second > 0.0 && self.rate_limit.burst == 0 {
            problems.push(format!(
                "{}: rate_limit.burst must be at least 1",
                from("rate_limit.burst")
            ));
        }
        if !(self.retention.events_days >= 0.0 && self.retention.events_days.is_finite()) {
            problems.push(format!(
                "{}: retention.events_days must be 0 (keep forever) or a positive number of days",
                from("retention.events_days")
            ));
        }
        let r = &self.retention;
        if !(r.profiles_days >= 0.0 && r.profiles_days.is_finite()) {
            problems.push(format!(
                "{}: retention.profiles_days must be 0 (keep forever) or a positive number of days",
                from("retention.profiles_days")
            ));
        } else if r.profiles_days > 0.0 && r.events_days > 0.0 && r.profiles_days < r.events_days {
            problems.push(format!(
                "{}: retention.profiles_days ({}) must be 0 or at least retention.events_days ({}): \
                 a profile cannot go while its shopper's events are kept",
                from("retention.profiles_days"),
                r.profiles_days,
                r.events_days
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config { problems })
        }
    }
}

/// Deserializes each known key alone, so a bad value's error names its key.
fn check_each_key(table: &toml::Table, origin: &str) -> Result<()> {
    let mut problems = Vec::new();
    for (section, key) in KEYS {
        let Some(value) = table
            .get(*section)
            .and_then(|t| t.as_table())
            .and_then(|t| t.get(*key))
        else {
            continue;
        };
        let mut inner = toml::Table::new();
        inner.insert(key.to_string(), value.clone());
        let mut outer = toml::Table::new();
        outer.insert(section.to_string(), toml::Value::Table(inner));
        if let Err(e) = toml::Value::Table(outer).try_into::<Settings>() {
            problems.push(format!(
                "{origin}: {section}.{key} (or {}): {}",
                env_name(section, key),
                e.message()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Config { problems })
    }
}

/// An environment value as TOML: a number or boolean when it reads as one, else text.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        toml::Value::Integer(i)
    } else if let Ok(f) = raw.parse::<f64>() {
        toml::Value::Float(f)
    } else if let Ok(b) = raw.parse::<bool>() {
        toml::Value::Boolean(b)
    } else {
        toml::Value::String(raw.to_string())
    }
}

impl Limits {
    /// Engine slots: the configured number, or twice the CPU cores.
    pub fn concurrency(&self) -> usize {
        if self.max_concurrent > 0 {
            return self.max_concurrent;
        }
        std::thread::available_parallelism().map_or(4, |n| n.get() * 2)
    }

    /// Slots for heavy searches: the configured number, or a quarter of all slots.
    pub fn heavy_concurrency(&self) -> usize {
        if self.heavy_concurrent > 0 {
            return self.heavy_concurrent.min(self.concurrency());
        }
        (self.concurrency() / 4).max(1)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn search_deadline(&self) -> Duration {
        Duration::from_millis(self.search_deadline_ms)
    }
}

impl Retention {
    /// The window, when events expire at all.
    pub fn window(&self) -> Option<Duration> {
        days(self.events_days)
    }

    /// How long a shopper may stay away before their profile goes, when it does
    /// (never while events are kept forever).
    pub fn profiles_window(&self) -> Option<Duration> {
        self.window().and(days(self.profiles_days))
    }
}

fn days(days: f64) -> Option<Duration> {
    (days > 0.0).then(|| Duration::from_secs_f64(days * 86_400.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn problems(result: Result<Settings>) -> String {
        match result {
            Err(Error::Config { problems }) => problems.join("\n"),
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn missing_file_is_defaults_and_the_example_parses() {
        let defaults = Settings::from_sources(None, "clerk.toml", &[]).unwrap();
        assert_eq!(defaults, Settings::default());
        let example =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SETTINGS_FILE))
                .unwrap();
        let parsed = Settings::from_sources(Some(&example), "clerk.toml", &[]).unwrap();
        assert_eq!(
            parsed,
            Settings::default(),
            "the example documents the defaults"
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let text = "[server]\naddr = \"127.0.0.1:9000\"\n[limits]\nmax_concurrent = 3\n";
        let s = Settings::from_sources(
            Some(text),
            "clerk.toml",
            &env(&[
                ("CLERK_ADDR", "0.0.0.0:80"),
                ("CLERK_RETENTION_EVENTS_DAYS", "0.5"),
                ("CLERK_RATE_LIMIT_PER_SECOND", "20"),
                ("CLERK_ADMIN_KEY", "ignored here"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.addr, "0.0.0.0:80".parse().unwrap());
        assert_eq!(s.limits.max_concurrent, 3);
        assert_eq!(s.retention.events_days, 0.5);
        assert_eq!(s.rate_limit.per_second, 20.0);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let p = problems(Settings::from_sources(
            Some("[limits]\nmax_concurent = 3\n"),
            "clerk.toml",
            &[],
        ));
        assert!(p.contains("max_concurent"), "{p}");
        let p = problems(Settings::from_sources(
            Some("[server]\naddr = \"nowhere\"\n"),
            "clerk.toml",
            &[],
        ));
        assert!(p.contains("addr") || p.contains("socket address"), "{p}");
        let p = problems(Settings::from_sources(
            Some("admin_key = \"x\"\n"),
            "clerk.toml",
            &[],
        ));
        assert!(p.contains("admin_key"), "{p}");
        let p = problems(Settings::from_sources(
            None,
            "clerk.toml",
            &env(&[("CLERK_LIMITS_REQUEST_TIMEOUT_MS", "soon")]),
        ));
        assert!(p.contains("request_timeout_ms"), "{p}");
        let p = problems(Settings::from_sources(
            Some("[limits]\nidle_timeout_ms = 0\n"),
            "clerk.toml",
            &[],
        ));
        assert!(p.contains("limits.idle_timeout_ms must be above 0"), "{p}");
        let p = problems(Settings::from_sources(
            Some("[retention]\nevents_days = 30\nprofiles_days = 7\n"),
            "clerk.toml",
            &[],
        ));
        assert!(
            p.contains("retention.profiles_days (7) must be 0 or at least"),
            "{p}"
        );
        assert!(p.starts_with("clerk.toml: "), "{p}");
        let p = problems(Settings::from_sources(
            Some("[retention]\nevents_days = 30\n"),
            "clerk.toml",
            &env(&[("CLERK_RETENTION_PROFILES_DAYS", "7")]),
        ));
        assert!(
            p.contains("CLERK_RETENTION_PROFILES_DAYS: retention.profiles_days (7)"),
            "a value from the environment names its variable: {p}"
        );
        let kept = Settings::from_sources(
            Some("[retention]\nevents_days = 0\n"),
            "clerk.toml",
            &env(&[("CLERK_RETENTION_PROFILES_DAYS", "2")]),
        )
        .unwrap();
        assert_eq!(kept.retention.profiles_days, 2.0);
        assert_eq!(
            kept.retention.profiles_window(),
            None,
            "events kept forever"
        );
    }
}
