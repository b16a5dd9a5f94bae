//! Shopper profiles: behaviour folded into decayed affinity weights.
//!
//! Each product event adds its type's weight (a purchase far more than a view) to the
//! product's features — `brand=Nordby`, every level of `category=...`,
//! `attributes.color=Grey`, `price_band=100..250` — in two ledgers: the long-term one,
//! which halves every `half_life` so old tastes fade, and the current session's, which
//! counts `session_boost` times more while the session lasts (events closer together
//! than the session gap). A profile is a small map, updated in place by every event
//! and read by the ranker at query time ([`crate::affinity`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::events::{Event, EventKind};
use crate::schema::AffinitySettings;

/// Most features a profile keeps (the weakest are dropped beyond it).
pub const MAX_FEATURES: usize = 400;
/// The pseudo-feature every product event feeds: the profile's total behaviour, against
/// which each feature's share is measured.
pub const ALL_EVENTS: &str = "*";

/// The weight of one feature, split by event type (view, click, add_to_cart, purchase).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureWeight {
    pub by_kind: [f32; 4],
}

impl FeatureWeight {
    pub fn total(&self) -> f32 {
        self.by_kind.iter().sum()
    }

    /// The event type that contributed most.
    pub fn dominant(&self) -> EventKind {
        let kinds = [
            EventKind::View,
            EventKind::Click,
            EventKind::AddToCart,
            EventKind::Purchase,
        ];
        let mut best = 0;
        for i in 1..4 {
            if self.by_kind[i] >= self.by_kind[best] {
                best = i;
            }
        }
        kinds[best]
    }

    fn scale(&mut self, factor: f32) {
        for w in &mut self.by_kind {
            *w *= factor;
        }
    }
}

/// Counts of recorded events by type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventCounts {
    pub view: u64,
    pub click: u64,
    pub add_to_cart: u64,
    pub purchase: u64,
    pub search: u64,
}

impl EventCounts {
    fn add(&mut self, kind: EventKind) {
        match kind {
            EventKind::View => self.view += 1,
            EventKind::Click => self.click += 1,
            EventKind::AddToCart => self.add_to_cart += 1,
            EventKind::Purchase => self.purchase += 1,
            EventKind::Search => self.search += 1,
        }
    }
}

/// A shopper's profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Long-term weights, as of `updated`.
    pub long_term: HashMap<String, FeatureWeight>,
    /// Weights of the current session (not decayed within a session).
    pub session: HashMap<String, FeatureWeight>,
    /// Unix seconds the long-term weights are expressed at.
    pub updated: i64,
    /// Time of the latest event (the session's end so far).
    pub last_event: i64,
    pub counts: EventCounts,
    pub opted_out: bool,
    /// Time of the latest event of any kind (profiles idle for longer than the
    /// configured retention are dropped; see [`Profile::idle_since`]).
    #[serde(default)]
    pub seen: i64,
}

/// Index of an event type in [`FeatureWeight::by_kind`].
fn kind_index(kind: EventKind) -> Option<usize> {
    match kind {
        EventKind::View => Some(0),
        EventKind::Click => Some(1),
        EventKind::AddToCart => Some(2),
        EventKind::Purchase => Some(3),
        EventKind::Search => None,
    }
}

/// The factor that decays a weight over `seconds`.
pub fn decay(seconds: f64, settings: &AffinitySettings) -> f32 {
    (0.5f64).powf(seconds.max(0.0) / settings.half_life_seconds) as f32
}

impl Profile {
    /// Folds one event (with its product's features) into the profile.
    /// `features` is empty for searches and for products in sensitive categories.
    pub fn apply(&mut self, event: &Event, features: &[String], settings: &AffinitySettings) {
        self.counts.add(event.kind);
        self.seen = self.seen.max(event.ts);
        if self.opted_out {
            return;
        }
        let Some(k) = kind_index(event.kind) else {
            self.last_event = self.last_event.max(event.ts);
            return;
        };
        if features.is_empty() {
            // Sensitive products (and unknown ones) teach nothing, not even volume.
            return;
        }
        let weight = settings.event_weights[k];
        // Bring the long-term ledger to the later of its time and the event's.
        if event.ts > self.updated {
            let factor = decay((event.ts - self.updated) as f64, settings);
            for w in self.long_term.values_mut() {
                w.scale(factor);
            }
            self.updated = event.ts;
        }
        let aged = weight * decay((self.updated - event.ts) as f64, settings);
        // A gap longer than the session gap starts a new session.
        if event.ts - self.last_event > settings.session_gap_seconds {
            self.session.clear();
        }
        let in_session = self.last_event - event.ts <= settings.session_gap_seconds;
        let all = std::iter::once(ALL_EVENTS.to_string());
        for feature in features.iter().cloned().chain(all) {
            if in_session {
                self.session.entry(feature.clone()).or_default().by_kind[k] += weight;
            }
            self.long_term.entry(feature).or_default().by_kind[k] += aged;
        }
        self.last_event = self.last_event.max(event.ts);
        self.prune();
    }

    /// Keeps the strongest [`MAX_FEATURES`] long-term features.
    fn prune(&mut self) {
        if self.long_term.len() <= MAX_FEATURES {
            return;
        }
        let mut ranked: Vec<(String, f32)> = self
            .long_term
            .iter()
            .filter(|(k, _)| *k != ALL_EVENTS)
            .map(|(k, w)| (k.clone(), w.total()))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (key, _) in ranked.into_iter().skip(MAX_FEATURES) {
            self.long_term.remove(&key);
        }
    }

    /// The time of the shopper's latest event (profiles stored before `seen` existed
    /// fall back to the times their weights carry).
    pub fn idle_since(&self) -> i64 {
        self.seen.max(self.updated).max(self.last_event)
    }

    /// Whether retention drops this profile: idle since before `idle_before`, and not
    /// an opt-out (that choice is kept however long the shopper stays away).
    pub fn expires(&self, idle_before: i64) -> bool {
        !self.opted_out && self.idle_since() < idle_before
    }

    /// Whether the stored profile `json` expires ([`Profile::expires`]), read without
    /// building its maps: retention looks at many profiles per sweep. `None` when the
    /// bytes are not a profile.
    pub fn stored_expires(json: &[u8], idle_before: i64) -> Option<bool> {
        #[derive(Deserialize)]
        struct Activity {
            #[serde(default)]
            seen: i64,
            #[serde(default)]
            updated: i64,
            #[serde(default)]
            last_event: i64,
            #[serde(default)]
            opted_out: bool,
        }
        let a: Activity = serde_json::from_slice(json).ok()?;
        let idle_since = a.seen.max(a.updated).max(a.last_event);
        Some(!a.opted_out && idle_since < idle_before)
    }

    /// Forgets every affinity (opt-out keeps nothing to personalize with).
    pub fn clear_affinities(&mut self) {
        self.long_term.clear();
        self.session.clear();
    }

    /// Effective weights at `now`: long-term decayed, plus the session's (boosted)
    /// while the session is still open.
    pub fn weights_at(
        &self,
        now: i64,
        settings: &AffinitySettings,
    ) -> HashMap<&str, FeatureWeight> {
        let factor = decay((now - self.updated) as f64, settings);
        let mut out: HashMap<&str, FeatureWeight> = self
            .long_term
            .iter()
            .map(|(k, w)| {
                let mut w = w.clone();
                w.scale(factor);
                (k.as_str(), w)
            })
            .collect();
        if now - self.last_event <= settings.session_gap_seconds {
            for (k, w) in &self.session {
                let entry = out.entry(k.as_str()).or_default();
                for i in 0..4 {
                    entry.by_kind[i] += w.by_kind[i] * settings.session_boost;
                }
            }
        }
        out
    }

    /// How much behaviour the profile rests on, decayed to `now`: the weight of every
    /// product event, whatever its features.
    pub fn evidence_at(&self, now: i64, settings: &AffinitySettings) -> f32 {
        self.weights_at(now, settings)
            .get(ALL_EVENTS)
            .map(FeatureWeight::total)
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Variant;

    const DAY: i64 = 86_400;

    fn event(kind: EventKind, ts: i64) -> Event {
        Event {
            kind,
            shopper: "s".into(),
            product: Some("p".into()),
            query: None,
            position: None,
            ts,
            variant: Variant::Personalized,
            served: None,
        }
    }

    fn features(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn purchases_weigh_more_than_views() {
        let settings = AffinitySettings::default();
        let mut p = Profile::default();
        p.apply(
            &event(EventKind::View, 1000),
            &features(&["brand=A"]),
            &settings,
        );
        p.apply(
            &event(EventKind::Purchase, 1000),
            &features(&["brand=B"]),
            &settings,
        );
        let w = p.weights_at(1000 + 2 * settings.session_gap_seconds, &settings);
        // An hour of decay on a 30-day half-life.
        assert!(
            (w["brand=A"].total() - 1.0).abs() < 1e-2,
            "{:?}",
            w["brand=A"]
        );
        assert!(
            (w["brand=B"].total() - 10.0).abs() < 1e-1,
            "{:?}",
            w["brand=B"]
        );
        assert_eq!(w["brand=B"].dominant(), EventKind::Purchase);
        assert_eq!(p.counts.view, 1);
        assert_eq!(p.counts.purchase, 1);
    }

    #[test]
    fn weights_halve_every_half_life() {
        let settings = AffinitySettings::default();
        let half = settings.half_life_seconds as i64;
        let mut p = Profile::default();
        p.apply(
            &event(EventKind::Purchase, 0),
            &features(&["brand=A"]),
            &settings,
        );
        let later = p.weights_at(half, &settings);
        assert!(
            (later["brand=A"].total() - 5.0).abs() < 1e-3,
            "{:?}",
            later["brand=A"]
        );
        let much_later = p.weights_at(3 * half, &settings);
        assert!((much_later["brand=A"].total() - 1.25).abs() < 1e-3);
        // An old event arriving late is decayed by its own age.
        p.apply(
            &event(EventKind::Purchase, -half),
            &features(&["brand=B"]),
            &settings,
        );
        let now = p.weights_at(2 * settings.session_gap_seconds, &settings);
        assert!(now["brand=B"].total() < now["brand=A"].total());
    }

    #[test]
    fn the_current_session_counts_more() {
        let settings = AffinitySettings::default();
        let mut p = Profile::default();
        p.apply(
            &event(EventKind::View, 0),
            &features(&["brand=Old"]),
            &settings,
        );
        p.apply(
            &event(EventKind::View, 0),
            &features(&["brand=Old"]),
            &settings,
        );
        // A new session two days later: one view of a new brand.
        p.apply(
            &event(EventKind::View, 2 * DAY),
            &features(&["brand=New"]),
            &settings,
        );
        let during = p.weights_at(2 * DAY + 60, &settings);
        assert!(
            during["brand=New"].total() > during["brand=Old"].total(),
            "{during:?}"
        );
        // Once the session is over, history wins again.
        let after = p.weights_at(3 * DAY, &settings);
        assert!(
            after["brand=New"].total() < after["brand=Old"].total(),
            "{after:?}"
        );
    }

    #[test]
    fn searches_count_but_carry_no_affinity() {
        let settings = AffinitySettings::default();
        let mut p = Profile::default();
        p.apply(&event(EventKind::Search, 5), &[], &settings);
        assert_eq!(p.counts.search, 1);
        assert!(p.long_term.is_empty());
    }

    #[test]
    fn opted_out_profiles_learn_nothing() {
        let settings = AffinitySettings::default();
        let mut p = Profile {
            opted_out: true,
            ..Profile::default()
        };
        p.apply(
            &event(EventKind::Purchase, 5),
            &features(&["brand=A"]),
            &settings,
        );
        assert!(p.long_term.is_empty() && p.session.is_empty());
        assert_eq!(p.counts.purchase, 1);
    }

    #[test]
    fn profiles_keep_their_strongest_features() {
        let settings = AffinitySettings::default();
        let mut p = Profile::default();
        for i in 0..(MAX_FEATURES + 50) {
            p.apply(
                &event(EventKind::View, 0),
                &features(&[&format!("brand=b{i}")]),
                &settings,
            );
        }
        p.apply(
            &event(EventKind::Purchase, 0),
            &features(&["brand=favourite"]),
            &settings,
        );
        assert!(p.long_term.len() <= MAX_FEATURES + 1);
        assert!(p.long_term.contains_key("brand=favourite"));
    }
}
