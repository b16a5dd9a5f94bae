//! The engine's shopper operations: recording events, reading and forgetting
//! profiles, opting out, and the context a search is personalized with.

use chrono::Utc;
use serde::Serialize;

use super::Engine;
use crate::affinity::product_features;
use crate::error::{Error, Result};
use crate::events::{self, Event, EventKind, ShopperResolver, Variant};
use crate::index::Snapshot;
use crate::profiles::{ALL_EVENTS, EventCounts, Profile};
use crate::search::ShopperContext;
use crate::shoppers::{Recorded, ShopperStore, variant_of};

/// Affinities listed in a profile view.
pub const LISTED_AFFINITIES: usize = 25;

/// One affinity in a profile view.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AffinityView {
    /// The feature group: `brand`, `category`, `attributes.color`, `price_band`.
    pub feature: String,
    pub value: String,
    /// Decayed weight now (session included while it lasts).
    pub weight: f32,
    /// The event type that contributed most.
    pub from: EventKind,
}

/// What `GET /v1/shoppers/{id}` shows.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ProfileView {
    pub shopper: String,
    pub variant: Variant,
    pub opted_out: bool,
    pub events: EventCounts,
    pub affinities: Vec<AffinityView>,
}

impl Engine {
    fn store(&self) -> Result<&dyn ShopperStore> {
        self.shoppers.as_deref().ok_or_else(|| {
            Error::Internal(
                "no shopper store is attached (events and profiles need `clerk serve`)".into(),
            )
        })
    }

    /// Who is searching: their variant and, when personalized, their profile. Without
    /// a store, everyone is anonymous.
    pub fn shopper_context(
        &self,
        shopper: Option<&str>,
        snapshot: &Snapshot,
    ) -> Result<ShopperContext> {
        let mut context = ShopperContext::anonymous();
        let (Some(id), Some(store)) = (shopper, self.shoppers.as_deref()) else {
            return Ok(context);
        };
        let profile = store.profile(id)?;
        let opted_out = profile.as_ref().is_some_and(|p| p.opted_out);
        context.variant = variant_of(id, opted_out, &snapshot.schema.affinity);
        if context.variant == Variant::Personalized {
            context.profile = profile;
        }
        Ok(context)
    }

    /// Validates a batch of events and records it durably; returns how many.
    pub fn record_events(&self, body: &[u8]) -> Result<usize> {
        self.record_events_as(body, &|s: &str| Ok(s.to_string()))
    }

    /// The same, with each event's shopper value resolved by `shoppers` (tokens).
    pub fn record_events_as(&self, body: &[u8], shoppers: ShopperResolver) -> Result<usize> {
        let store = self.store()?;
        let snapshot = self.snapshot();
        let is_product = |id: &str| snapshot.find(id).is_some();
        let events = events::parse_batch_as(body, &is_product, shoppers)?;
        let settings = &snapshot.schema.affinity;
        let mut batch: Vec<Recorded> = Vec::with_capacity(events.len());
        let mut opted_out: std::collections::HashMap<String, bool> =
            std::collections::HashMap::new();
        for mut event in events {
            if !opted_out.contains_key(&event.shopper) {
                let out = store.profile(&event.shopper)?.is_some_and(|p| p.opted_out);
                opted_out.insert(event.shopper.clone(), out);
            }
            event.variant = variant_of(&event.shopper, opted_out[&event.shopper], settings);
            event.served = self.served_page(&event);
            let features = features_of(&snapshot, &event);
            batch.push((event, features));
        }
        store.record(&batch, settings)?;
        Ok(batch.len())
    }

    /// For a search event, the learned first page its query is served now (what the
    /// shopper saw; holdout shoppers are served unlearned).
    fn served_page(&self, event: &Event) -> Option<Vec<String>> {
        let learning = self.learning.as_ref()?;
        let query = event.query.as_deref()?;
        (event.kind == EventKind::Search && event.variant != Variant::Holdout)
            .then(|| learning.served_page(query))
            .flatten()
    }

    /// The shopper's profile as shown to them and to the store.
    pub fn profile_view(&self, shopper: &str) -> Result<ProfileView> {
        let store = self.store()?;
        let profile = store.profile(shopper)?.ok_or_else(|| {
            Error::NotFound(format!(
                "no shopper \"{shopper}\": no events were recorded for it"
            ))
        })?;
        let snapshot = self.snapshot();
        Ok(view(shopper, &profile, &snapshot))
    }

    /// Forgets the shopper: profile and events.
    pub fn forget_shopper(&self, shopper: &str) -> Result<bool> {
        let forgotten = self.store()?.forget(shopper)?;
        if forgotten && let Some(crowd) = &self.crowd {
            crowd.request_rebuild();
        }
        if forgotten && let Some(learning) = &self.learning {
            learning.forget_shopper(shopper)?;
        }
        Ok(forgotten)
    }

    /// Drops events whose time is before `cutoff` (retention), then forgets what only
    /// they had taught the learned signals and the crowd's models, so that memory
    /// follows the window and a long-running server keeps what a restart would
    /// rebuild from the events left. Returns how many events went; 0 without a store.
    pub fn expire_events(&self, cutoff: i64) -> Result<usize> {
        let Some(store) = self.shoppers.as_deref() else {
            return Ok(0);
        };
        let dropped = store.expire_events(cutoff)?;
        if let Some(learning) = &self.learning {
            learning.forget_before(cutoff)?;
        }
        if let Some(crowd) = &self.crowd {
            crowd.models()?.forget_before(cutoff);
        }
        Ok(dropped)
    }

    /// Drops the profiles of shoppers idle since before `idle_before`, opt-outs
    /// excepted, looking at up to `limit` profiles after `cursor`; see
    /// [`crate::shoppers::ShopperStore::expire_profiles`].
    pub fn expire_profiles(
        &self,
        idle_before: i64,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<(usize, Option<String>)> {
        match self.shoppers.as_deref() {
            Some(store) => store.expire_profiles(idle_before, cursor, limit),
            None => Ok((0, None)),
        }
    }

    /// Opts a shopper out of personalization (or back in).
    pub fn set_opted_out(&self, shopper: &str, opted_out: bool) -> Result<()> {
        self.store()?.set_opted_out(shopper, opted_out)
    }
}

/// The features an event moves: none for searches and sensitive products.
fn features_of(snapshot: &Snapshot, event: &Event) -> Vec<String> {
    if !event.kind.has_product() {
        return Vec::new();
    }
    let Some(address) = event.product.as_deref().and_then(|id| snapshot.find(id)) else {
        return Vec::new();
    };
    match product_features(snapshot, address) {
        (_, true) => Vec::new(),
        (features, false) => features,
    }
}

fn view(shopper: &str, profile: &Profile, snapshot: &Snapshot) -> ProfileView {
    let settings = &snapshot.schema.affinity;
    let now = Utc::now().timestamp();
    let mut affinities: Vec<AffinityView> = profile
        .weights_at(now, settings)
        .into_iter()
        .filter(|(feature, w)| w.total() > 0.0 && *feature != ALL_EVENTS)
        .map(|(feature, w)| {
            let (group, value) = feature.split_once('=').unwrap_or((feature, ""));
            AffinityView {
                feature: group.to_string(),
                value: value.to_string(),
                weight: (w.total() * 1000.0).round() / 1000.0,
                from: w.dominant(),
            }
        })
        .collect();
    affinities.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then_with(|| a.feature.cmp(&b.feature))
    });
    affinities.truncate(LISTED_AFFINITIES);
    ProfileView {
        shopper: shopper.to_string(),
        variant: variant_of(shopper, profile.opted_out, settings),
        opted_out: profile.opted_out,
        events: profile.counts.clone(),
        affinities,
    }
}
