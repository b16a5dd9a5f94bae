//! The crowd: models learned from every shopper's stored events, for
//! recommendations, suggestions from popular searches and merchandiser analytics.
//!
//! Data enters from the shopper store only: one background tailer ([`Crowd::start`])
//! polls [`ShopperStore::events_after`] about every second with the last sequence
//! number it saw and feeds each event, in recording order, to every model:
//!
//! * [`cooccurrence`] — products seen (`also_viewed`) or carted/bought
//!   (`bought_together`) in one session, decayed, one shopper counted once per pair;
//! * [`searches`] — which searches led to a click, cart or purchase, by how many
//!   distinct shoppers (popular searches for autocomplete);
//! * [`analytics`] — daily query and variant tallies for `GET /v1/admin/analytics`
//!   and `clerk report`, counting distinct shoppers in bounded memory ([`distinct`]).
//!
//! Nothing is persisted here: the stored events are the source of truth, so after a
//! restart the tailer starts from the beginning and rebuilds the same state, and
//! after a shopper is forgotten it rebuilds from the events left. Every
//! model is bounded (neighbours per product, products per session, queries per day,
//! shoppers counted per entry); the limits are the named constants of each module.
//! Data leaves through read methods that take the lock briefly and copy out what the
//! caller needs.

pub mod analytics;
pub mod cooccurrence;
pub mod distinct;
pub mod recommend;
pub mod searches;
mod sessions;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::events::Event;
use crate::schema::AffinitySettings;
use crate::shoppers::ShopperStore;

pub use analytics::{Analytics, AnalyticsReport};
pub use cooccurrence::{CoOccurrence, Neighbour, RecommendationKind};
pub use searches::PopularSearches;
pub use sessions::{Attribution, Sessions};

/// How often the tailer asks the store for new events.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Events read from the store per call.
pub const READ_BATCH: usize = 5_000;

/// How the crowd cuts and decays behaviour (from the schema's affinity settings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrowdSettings {
    /// Events of one shopper closer together than this belong to one session.
    pub session_gap_seconds: i64,
    /// Co-occurrence weights halve over this many seconds.
    pub half_life_seconds: f64,
}

impl CrowdSettings {
    pub fn from_affinity(settings: &AffinitySettings) -> CrowdSettings {
        CrowdSettings {
            session_gap_seconds: settings.session_gap_seconds.max(1),
            half_life_seconds: settings.half_life_seconds.max(1.0),
        }
    }
}

impl Default for CrowdSettings {
    fn default() -> Self {
        CrowdSettings::from_affinity(&AffinitySettings::default())
    }
}

/// Every model, fed together.
pub struct Models {
    pub sessions: Sessions,
    pub cooccurrence: CoOccurrence,
    pub searches: PopularSearches,
    pub analytics: Analytics,
    /// Sequence number of the last event fed.
    pub last_seq: Option<u64>,
    /// Events fed since the start.
    pub events: u64,
}

impl Models {
    fn new(settings: CrowdSettings) -> Models {
        Models {
            sessions: Sessions::new(settings),
            cooccurrence: CoOccurrence::new(settings),
            searches: PopularSearches::default(),
            analytics: Analytics::default(),
            last_seq: None,
            events: 0,
        }
    }

    /// Feeds one event to every model.
    pub fn feed(&mut self, event: &Event) {
        let attribution = self.sessions.observe(event);
        self.cooccurrence.observe(event, &attribution);
        self.searches.observe(event, &attribution);
        self.analytics.observe(event, &attribution);
        self.events += 1;
    }

    /// Forgets, in every model, what only events stamped before `cutoff` made (the
    /// retention sweep calls it once the store dropped them), so memory follows the
    /// window and a long-running server agrees with a restarted one.
    pub fn forget_before(&mut self, cutoff: i64) {
        self.sessions.forget_before(cutoff);
        self.cooccurrence.forget_before(cutoff);
        self.searches.forget_before(cutoff);
        self.analytics.forget_before(cutoff);
    }
}

/// The crowd's models behind one lock.
pub struct Crowd {
    models: Mutex<Models>,
    settings: CrowdSettings,
    /// Set when a shopper was forgotten: the models are rebuilt from the events left.
    rebuild: AtomicBool,
}

impl Crowd {
    /// Empty models.
    pub fn new(settings: CrowdSettings) -> Crowd {
        Crowd {
            models: Mutex::new(Models::new(settings)),
            settings,
            rebuild: AtomicBool::new(false),
        }
    }

    /// Asks for the models to be rebuilt from the stored events (after a shopper was
    /// forgotten, so nothing of theirs stays); the tailer does it off to the side.
    pub fn request_rebuild(&self) {
        self.rebuild.store(true, Ordering::SeqCst);
    }

    /// When a rebuild was asked for: reads every stored event into fresh models, then
    /// swaps them in (the old ones serve meanwhile). Returns whether it rebuilt.
    pub fn rebuild_if_requested(&self, store: &dyn ShopperStore) -> Result<bool> {
        if !self.rebuild.swap(false, Ordering::SeqCst) {
            return Ok(false);
        }
        let fresh = Crowd::new(self.settings);
        if let Err(e) = fresh.catch_up(store) {
            self.rebuild.store(true, Ordering::SeqCst);
            return Err(e);
        }
        let models = fresh
            .models
            .into_inner()
            .map_err(|_| Error::Internal("crowd lock poisoned".into()))?;
        *self.models()? = models;
        Ok(true)
    }

    pub fn settings(&self) -> CrowdSettings {
        self.settings
    }

    /// The models, locked.
    pub fn models(&self) -> Result<MutexGuard<'_, Models>> {
        self.models
            .lock()
            .map_err(|_| Error::Internal("crowd lock poisoned".into()))
    }

    /// Reads every event recorded since the last call and feeds it; returns how many.
    pub fn catch_up(&self, store: &dyn ShopperStore) -> Result<u64> {
        let mut fed = 0;
        loop {
            let after = self.models()?.last_seq;
            let batch = store.events_after(after, READ_BATCH)?;
            if batch.is_empty() {
                return Ok(fed);
            }
            let mut models = self.models()?;
            for (seq, event) in &batch {
                if models.last_seq.is_some_and(|last| *seq <= last) {
                    continue;
                }
                models.feed(event);
                models.last_seq = Some(*seq);
                fed += 1;
            }
            if batch.len() < READ_BATCH {
                return Ok(fed);
            }
        }
    }

    /// Starts the tailer: a thread that catches up every [`POLL_INTERVAL`] and stops
    /// once the crowd is dropped.
    pub fn start(settings: CrowdSettings, store: Arc<dyn ShopperStore>) -> Arc<Crowd> {
        let crowd = Arc::new(Crowd::new(settings));
        let weak: Weak<Crowd> = Arc::downgrade(&crowd);
        let spawned = std::thread::Builder::new()
            .name("crowd-tailer".into())
            .spawn(move || tail(weak, store));
        if let Err(e) = spawned {
            tracing::warn!("could not start the crowd tailer: {e}");
        }
        crowd
    }
}

/// The tailer's loop.
fn tail(crowd: Weak<Crowd>, store: Arc<dyn ShopperStore>) {
    loop {
        let Some(crowd) = crowd.upgrade() else {
            return;
        };
        if let Err(e) = crowd.rebuild_if_requested(store.as_ref()) {
            tracing::warn!("crowd: rebuilding failed, retrying: {e}");
        }
        if let Err(e) = crowd.catch_up(store.as_ref()) {
            tracing::warn!("crowd: reading events failed, retrying: {e}");
        }
        drop(crowd);
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// A stable 64-bit hash of a shopper id (FNV-1a), so models count distinct shoppers
/// without keeping their ids.
pub fn shopper_hash(shopper: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in shopper.as_bytes() {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// A query as the crowd counts it: words folded, spacing collapsed.
pub fn normalize_query(query: &str) -> String {
    crate::autocomplete::normalize(query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    /// Shoppers `who` each search "desk lamp", click `a`, view `b` and buy both.
    fn feed_shoppers(models: &mut Models, who: std::ops::Range<usize>, ts: i64) {
        for i in who {
            let s = format!("s{i}");
            models.feed(&Event::test(
                EventKind::Search,
                &s,
                None,
                Some("desk lamp"),
                ts,
            ));
            models.feed(&Event::test(EventKind::Click, &s, Some("a"), None, ts + 1));
            models.feed(&Event::test(EventKind::View, &s, Some("b"), None, ts + 2));
            models.feed(&Event::test(
                EventKind::Purchase,
                &s,
                Some("a"),
                None,
                ts + 3,
            ));
            models.feed(&Event::test(
                EventKind::Purchase,
                &s,
                Some("b"),
                None,
                ts + 4,
            ));
        }
    }

    #[test]
    fn forgetting_before_a_cutoff_keeps_only_what_later_events_made() {
        let day = 86_400;
        let mut models = Models::new(CrowdSettings::default());
        feed_shoppers(&mut models, 0..5, 10 * day);
        feed_shoppers(&mut models, 5..8, 20 * day);
        let now = 20 * day + 10;
        let also = |m: &Models| {
            m.cooccurrence
                .neighbours("a", RecommendationKind::AlsoViewed, now)
        };
        assert_eq!(also(&models)[0].shoppers, 8);
        assert_eq!(models.searches.matching("desk")[0].shoppers, 8);
        let searches = |m: &Models| -> Vec<u64> {
            let report = m.analytics.window(30, now).report(10, &mut |_| true);
            report.top_queries.iter().map(|q| q.searches).collect()
        };
        assert_eq!(searches(&models), vec![8]);

        // Pairs made again inside the window keep their shoppers; purchases, sessions
        // and conversions of the shoppers who left are gone, and so are old days.
        models.forget_before(15 * day);
        assert_eq!(also(&models)[0].shoppers, 8);
        assert_eq!(models.searches.matching("desk")[0].shoppers, 3);
        assert!(models.cooccurrence.bought_by(shopper_hash("s0")).is_empty());
        assert_eq!(
            models.cooccurrence.bought_by(shopper_hash("s7")),
            vec!["a", "b"]
        );
        assert_eq!(searches(&models), vec![3]);

        // Past every event: nothing is left.
        models.forget_before(21 * day);
        assert!(also(&models).is_empty());
        assert_eq!(models.cooccurrence.pairs(), 0);
        assert!(models.searches.matching("desk").is_empty());
        assert!(models.cooccurrence.bought_by(shopper_hash("s7")).is_empty());
        assert!(searches(&models).is_empty());
    }

    #[test]
    fn a_pair_made_again_by_the_same_shopper_inside_the_window_is_kept() {
        let day = 86_400;
        let mut models = Models::new(CrowdSettings::default());
        for ts in [day, 5 * day] {
            models.feed(&Event::test(EventKind::View, "s", Some("a"), None, ts));
            models.feed(&Event::test(EventKind::View, "s", Some("b"), None, ts + 1));
        }
        models.forget_before(3 * day);
        let also = models
            .cooccurrence
            .neighbours("a", RecommendationKind::AlsoViewed, 5 * day);
        assert_eq!(
            also.len(),
            1,
            "a restart would rebuild it from the later session"
        );
        assert_eq!(also[0].shoppers, 1);
    }
}
