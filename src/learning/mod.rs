//! The crowd teaches ranking: what every shopper's searches, clicks, carts and
//! purchases say about which products satisfy a query.
//!
//! Data flow: the shopper store's events, in recording order
//! ([`crate::shoppers::ShopperStore::events_after`]), are folded into [`Evidence`]
//! by [`Learning::refresh`] (the server calls it every second; it also runs before
//! `clerk eval`'s learning suite measures). Every refresh publishes fresh [`Signals`]
//! (an `ArcSwap`), which the search pipeline reads ([`Signals::for_query`]): the
//! crowd's coarse verdict (preferred / passed over) is the `learned` relevance
//! criterion, compared after `type`, `words` and `typo` (`crate::ranking::criteria`), and the
//! finer signal reorders what the criteria leave tied — so the crowd never lifts a
//! product that does not match the query, nor one matching fewer words over one
//! matching more. The holdout variant is served without them, so `clerk report`
//! measures their lift. Everything is derived from stored events: a restart rebuilds it.
//!
//! How evidence becomes a signal, per normalized query:
//! * **attribution**: a click names its query; a cart or a purchase belongs to the
//!   same shopper's latest search in the session (events less than the schema's
//!   session gap apart); engagement weighs click 1, cart 2, purchase 3;
//! * **abuse**: each shopper counts once per (query, product), with their strongest
//!   engagement, however often they click; nothing is learned from fewer than
//!   [`MIN_SHOPPERS`] distinct shoppers;
//! * **position bias**: a product shown first is clicked more whatever its relevance,
//!   so engagement is compared with what its position alone would earn — clicks over
//!   expected clicks (COEC): expected = the query's engagement × the share of
//!   engagement the store's other queries get at the position where its shoppers saw
//!   it (the `position` their clicks report — a product learning or taste already
//!   lifted is measured where it is shown now — else its place in the unlearned
//!   ranking; `verdict::PositionShape`, a `k^-0.8` prior until data says otherwise);
//! * **shrinkage**: [`PRIOR_CLICKS`] pseudo-clicks at exactly the expected rate pull
//!   thin evidence toward no effect; the signal is `ln(COEC) / ln(FULL_LIFT)` in [0, 1];
//! * **verdicts** (`verdict`): preferred when the signal is strong and several
//!   shoppers engaged; passed over when several shoppers looked at it — skipped it for
//!   something below on the page they saw, or left without engaging after looking as
//!   deep as the position shape says — and so few took it that chance explains it less
//!   than 1 % of the time at the rate shoppers take what satisfies them (the query's
//!   chosen products, shrunk toward the store's: a page nobody took anything from is
//!   passed over at the store's rate).
//!
//! Beyond the exact query, the query's product-type word (its head) learns which
//! categories satisfy it, and related queries sharing that word benefit (a query with
//! evidence of its own uses only that). Views, carts
//! and purchases also make a decayed behavioural popularity that serves cold-start
//! shoppers and browsing.

mod evidence;
mod signals;
mod verdict;

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

pub use evidence::Evidence;
pub use signals::{LearnedBoosts, Signals};

use crate::error::{Error, Result};
use crate::shoppers::ShopperStore;

/// Fewest distinct shoppers whose engagement can teach anything about a product.
pub const MIN_SHOPPERS: usize = 3;
/// Pseudo-engagement at the expected rate added to every product's evidence.
pub const PRIOR_CLICKS: f32 = 2.0;
/// Engagement this many times what the position earns gives the full signal.
pub const FULL_LIFT: f32 = 4.0;
/// How many events one refresh reads at most (the rest wait for the next).
const EVENTS_PER_REFRESH: usize = 200_000;

/// Learned state of one engine.
pub struct Learning {
    evidence: Mutex<Evidence>,
    signals: ArcSwap<Signals>,
}

impl Default for Learning {
    fn default() -> Self {
        Learning::new()
    }
}

impl Learning {
    pub fn new() -> Learning {
        Learning {
            evidence: Mutex::new(Evidence::default()),
            signals: ArcSwap::from_pointee(Signals::default()),
        }
    }

    /// The signals in force.
    pub fn signals(&self) -> Arc<Signals> {
        self.signals.load_full()
    }

    /// Reads the events recorded since the last refresh, folds them in, and publishes
    /// new signals; `rank` gives a query's unlearned ranking (product ids, best
    /// first), the positions shoppers saw, and `types` a product's type words.
    /// Returns how many events were read.
    pub fn refresh(
        &self,
        store: &dyn ShopperStore,
        settings: &crate::schema::AffinitySettings,
        rank: &dyn Fn(&str) -> Result<Vec<String>>,
        types: &dyn Fn(&str) -> Vec<String>,
    ) -> Result<usize> {
        let mut evidence = self
            .evidence
            .lock()
            .map_err(|_| Error::Internal("learning state poisoned".into()))?;
        let mut read = 0;
        loop {
            let batch = store.events_after(evidence.cursor(), EVENTS_PER_REFRESH)?;
            if batch.is_empty() {
                break;
            }
            read += batch.len();
            for (seq, event) in &batch {
                evidence.add(*seq, event, settings.session_gap_seconds);
            }
            if read >= EVENTS_PER_REFRESH {
                break;
            }
        }
        let stale = evidence.forgot_since_signals();
        if read > 0 || stale || self.signals.load().is_empty() && evidence.has_any() {
            let now = chrono::Utc::now().timestamp();
            let signals = evidence.signals(rank, types, now, settings.half_life_seconds)?;
            self.signals.store(Arc::new(signals));
        }
        Ok(read)
    }

    /// Forgets evidence from events stamped before `cutoff` (retention; see
    /// [`Evidence::forget_before`]); the next refresh publishes signals without it.
    /// Returns how many shoppers were forgotten.
    pub fn forget_before(&self, cutoff: i64) -> Result<usize> {
        let mut evidence = self
            .evidence
            .lock()
            .map_err(|_| Error::Internal("learning state poisoned".into()))?;
        Ok(evidence.forget_before(cutoff))
    }

    /// Forgets everything `shopper` taught (a forget request); the next refresh
    /// publishes signals without it.
    pub fn forget_shopper(&self, shopper: &str) -> Result<()> {
        let mut evidence = self
            .evidence
            .lock()
            .map_err(|_| Error::Internal("learning state poisoned".into()))?;
        evidence.forget_shopper(shopper);
        Ok(())
    }
}
