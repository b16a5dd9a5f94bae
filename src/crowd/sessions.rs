//! Sessions and attribution: which session an event belongs to, and which of the
//! shopper's searches it converts.
//!
//! Events come in recording order. A shopper's session ends when two of their events
//! are at least the session gap apart. A search is *converted* by a later click,
//! add-to-cart or purchase of the same shopper stamped at most
//! [`CONVERSION_WINDOW_SECONDS`] after it when that event names the same query
//! (normalized), or names no query and the search is the shopper's latest. Each
//! search converts at most once. Out comes an [`Attribution`] per event that every
//! model reads.

use std::collections::HashMap;

use super::{CrowdSettings, normalize_query, shopper_hash};
use crate::events::{Event, EventKind};

/// A click, cart or purchase counts for a search stamped at most this long before it.
pub const CONVERSION_WINDOW_SECONDS: i64 = 30 * 60;
/// Searches per shopper still waiting for a conversion (the latest are kept).
pub const MAX_PENDING_SEARCHES: usize = 16;
/// Idle shoppers are dropped from memory every this many events.
const PRUNE_EVERY: u64 = 20_000;

/// What an event means to the models.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attribution {
    /// The shopper, hashed.
    pub shopper: u64,
    /// The shopper's session number (increases with every new session).
    pub session: u64,
    /// For clicks, carts and purchases: the search it follows (its own `query`, else
    /// the shopper's latest search in the window), normalized.
    pub search: Option<String>,
    /// Searches this event converted: (normalized query, the search's `ts`).
    pub converted: Vec<(String, i64)>,
}

#[derive(Debug, Clone)]
struct Pending {
    query: String,
    ts: i64,
    converted: bool,
}

#[derive(Debug, Clone, Default)]
struct ShopperState {
    last_ts: i64,
    session: u64,
    pending: Vec<Pending>,
}

/// Every active shopper's session state.
pub struct Sessions {
    settings: CrowdSettings,
    shoppers: HashMap<u64, ShopperState>,
    seen: u64,
    newest_ts: i64,
}

impl Sessions {
    pub fn new(settings: CrowdSettings) -> Sessions {
        Sessions {
            settings,
            shoppers: HashMap::new(),
            seen: 0,
            newest_ts: i64::MIN,
        }
    }

    /// Places one event in its session and attributes it.
    pub fn observe(&mut self, event: &Event) -> Attribution {
        self.seen += 1;
        self.newest_ts = self.newest_ts.max(event.ts);
        if self.seen.is_multiple_of(PRUNE_EVERY) {
            self.prune();
        }
        let hash = shopper_hash(&event.shopper);
        let gap = self.settings.session_gap_seconds;
        let state = self.shoppers.entry(hash).or_insert_with(|| ShopperState {
            last_ts: event.ts,
            session: 0,
            pending: Vec::new(),
        });
        if (event.ts - state.last_ts).abs() >= gap {
            state.session += 1;
        }
        state.last_ts = event.ts;
        let mut attribution = Attribution {
            shopper: hash,
            session: state.session,
            ..Attribution::default()
        };
        match event.kind {
            EventKind::Search => {
                let query = normalize_query(event.query.as_deref().unwrap_or(""));
                state.pending.push(Pending {
                    query,
                    ts: event.ts,
                    converted: false,
                });
                if state.pending.len() > MAX_PENDING_SEARCHES {
                    state.pending.remove(0);
                }
            }
            EventKind::Click | EventKind::AddToCart | EventKind::Purchase => {
                convert(state, event, &mut attribution);
            }
            EventKind::View => {}
        }
        attribution
    }

    /// Forgets shoppers whose latest event is stamped before `cutoff` (retention).
    pub fn forget_before(&mut self, cutoff: i64) {
        self.shoppers.retain(|_, s| s.last_ts >= cutoff);
    }

    /// Forgets shoppers idle for longer than both the session gap and the window.
    fn prune(&mut self) {
        let idle = self
            .settings
            .session_gap_seconds
            .max(CONVERSION_WINDOW_SECONDS);
        let newest = self.newest_ts;
        self.shoppers
            .retain(|_, s| newest.saturating_sub(s.last_ts) < idle);
    }
}

/// Marks the searches `event` converts and names the search it follows.
fn convert(state: &mut ShopperState, event: &Event, attribution: &mut Attribution) {
    let in_window = |p: &Pending| p.ts <= event.ts && event.ts - p.ts <= CONVERSION_WINDOW_SECONDS;
    match event.query.as_deref().map(normalize_query) {
        Some(query) => {
            for pending in state.pending.iter_mut() {
                if pending.query == query && in_window(pending) && !pending.converted {
                    pending.converted = true;
                    attribution.converted.push((query.clone(), pending.ts));
                }
            }
            attribution.search = Some(query);
        }
        None => {
            let Some(latest) = state.pending.last_mut() else {
                return;
            };
            if !in_window(latest) {
                return;
            }
            attribution.search = Some(latest.query.clone());
            if !latest.converted {
                latest.converted = true;
                attribution
                    .converted
                    .push((latest.query.clone(), latest.ts));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Variant;

    fn event(kind: EventKind, query: Option<&str>, ts: i64) -> Event {
        Event {
            kind,
            shopper: "s".into(),
            product: (kind != EventKind::Search).then(|| "p".into()),
            query: query.map(String::from),
            position: None,
            ts,
            variant: Variant::Personalized,
            served: None,
        }
    }

    #[test]
    fn a_click_converts_its_search_once_and_sessions_split_on_the_gap() {
        let mut sessions = Sessions::new(CrowdSettings::default());
        let a = sessions.observe(&event(EventKind::Search, Some("Linen  Sofa"), 100));
        assert!(a.converted.is_empty());
        let b = sessions.observe(&event(EventKind::Click, None, 160));
        assert_eq!(b.converted, vec![("linen sofa".to_string(), 100)]);
        assert_eq!(b.search.as_deref(), Some("linen sofa"));
        let c = sessions.observe(&event(EventKind::Purchase, None, 200));
        assert!(c.converted.is_empty(), "a search converts once");
        assert_eq!(c.session, a.session);
        let late = sessions.observe(&event(EventKind::Click, None, 100 + 3 * 3600));
        assert_eq!(late.search, None, "outside the window");
        assert!(late.session > a.session, "a new session after the gap");
    }

    #[test]
    fn a_click_naming_a_query_converts_only_that_query() {
        let mut sessions = Sessions::new(CrowdSettings::default());
        sessions.observe(&event(EventKind::Search, Some("desk"), 10));
        sessions.observe(&event(EventKind::Search, Some("lamp"), 20));
        let click = sessions.observe(&event(EventKind::Click, Some("DESK"), 30));
        assert_eq!(click.converted, vec![("desk".to_string(), 10)]);
    }
}
