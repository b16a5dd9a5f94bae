//! The crowd teaches ranking: what every shopper's searches, clicks, carts and
//! purchases say about which products satisfy a query.
//!
//! Data flow: the shopper store's events, in recording order
//! ([`crate::shoppers::ShopperStore::events_after`]), are folded into [`Evidence`]
//! by [`Learning::refresh`] (the server calls it every second; it also runs before
//! `clerk eval`'s learning suite measures). Every refresh publishes fresh [`Signals`]
//! (an `ArcSwap`); a refresh reads again only the queries whose events changed,
//! against the store's view (where its shoppers engage, how deep they look, how often
//! they take what satisfies them), which is made again from every query once a
//! minute, once the events grew by a tenth, or after a forget — so a refresh costs
//! what the new events touched, not what the store has learned. The search pipeline
//! reads the signals ([`Signals::for_query`]): the
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
//!   deep as the store's shoppers look (`depth`: how deep shoppers look, fitted by
//!   expectation maximization to every query's searchers — a good page few leave
//!   empty-handed says they look deep) — and took it at less than half the rate at which
//!   shoppers take what satisfies them (the query's chosen products, shrunk toward the
//!   store's: a page nobody took anything from is passed over at the store's rate, and
//!   corrected for its position as the other queries' clicks read positions), so
//!   rarely that chance explains it less than 1 % of the time at that rate; a
//!   product's own looks are pooled with ten at the rate the rest of its page earns,
//!   so on a page shoppers abandon as a whole, a product few looked at is presumed to
//!   fail like the rest;
//! * **query categories** (`verdict::chosen_categories`): a category (a leaf of the
//!   schema's category fields) whose products on the page several distinct shoppers
//!   took at twice the rest of the page's rate or more, beyond what chance explains
//!   5 % of the time, is chosen for the query: its products without a verdict of their
//!   own are preferred, also those nobody clicked yet — shoppers who scroll past an
//!   abandoned top to take network cards lift every network card above it;
//! * **the page each shopper saw**: once learning reorders a query, its next searches
//!   are served that page, and each search event records it (`Event::served`, filled
//!   in at ingest, absent for holdout shoppers); skips, idle looks and expected clicks
//!   are read on it, so a good product learning moved down is not blamed for the looks
//!   it no longer gets, and a restart rebuilds the same evidence from the events.
//!
//! Beyond the exact query, the query's product-type word (its head) learns which
//! categories satisfy it, and related queries sharing that word benefit (a query with
//! evidence of its own uses only that). Views, carts
//! and purchases also make a decayed behavioural popularity that serves cold-start
//! shoppers and browsing.

mod depth;
mod evidence;
mod signals;
mod verdict;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

pub use evidence::{Evidence, normalize_query};
pub use signals::{LearnedBoosts, QueryLesson, Signals};
pub use verdict::PAGE;

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
/// How many queries' learned first pages one refresh works out at most (the rest wait
/// for the next).
const PAGES_PER_REFRESH: usize = 200;

/// What the catalog says a product is, for learning what a query leads to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductKinds {
    /// Its type words (`_type`).
    pub types: Vec<String>,
    /// Its categories: the leaf paths of the schema's category fields, each
    /// [`category_key`]`(field, path)`.
    pub categories: Vec<String>,
}

/// How a category leaf is named in learned signals: the field, a unit separator, the
/// path with levels joined by `/`.
pub fn category_key(field: &str, path: &str) -> String {
    format!("{field}\u{1f}{path}")
}

/// Per normalized query, the learned first page in force where it differs from the
/// unlearned ranking.
type ServedPages = HashMap<String, Arc<Vec<String>>>;

/// Learned state of one engine.
pub struct Learning {
    evidence: Mutex<Evidence>,
    signals: ArcSwap<Signals>,
    /// The first page each learned query is served now: recorded with every search
    /// event (`Event::served`), so that learning reads what a shopper skipped from the
    /// page they saw, and a restart rebuilds the same evidence from the events.
    served: ArcSwap<ServedPages>,
    /// Per query, the fingerprint of the signals its served page was worked out for.
    served_for: Mutex<HashMap<Arc<str>, u64>>,
    /// Whether some queries' pages wait for the next refresh.
    served_pending: AtomicBool,
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
            served: ArcSwap::from_pointee(ServedPages::new()),
            served_for: Mutex::new(HashMap::new()),
            served_pending: AtomicBool::new(false),
        }
    }

    /// The learned first page a search for `query` is served now, when learning has
    /// reordered it (what a search event records).
    pub fn served_page(&self, query: &str) -> Option<Vec<String>> {
        let pages = self.served.load();
        if pages.is_empty() {
            return None;
        }
        pages
            .get(&evidence::normalize_query(query))
            .map(|p| p.as_ref().clone())
    }

    /// The signals in force.
    pub fn signals(&self) -> Arc<Signals> {
        self.signals.load_full()
    }

    /// Reads the events recorded since the last refresh, folds them in, and publishes
    /// new signals; `rank` gives a query's unlearned ranking (product ids, best
    /// first), the positions shoppers saw, `kinds` what the catalog says a product is, and
    /// `rank_learned` a query's ranking under the signals just published (the page
    /// its next searches are served). Returns how many events were read.
    pub fn refresh(
        &self,
        store: &dyn ShopperStore,
        settings: &crate::schema::AffinitySettings,
        rank: &dyn Fn(&str) -> Result<Vec<String>>,
        kinds: &dyn Fn(&str) -> ProductKinds,
        rank_learned: &dyn Fn(&str) -> Result<Vec<String>>,
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
            let signals = evidence.signals(rank, kinds, now, settings.half_life_seconds)?;
            self.signals.store(Arc::new(signals));
            self.refresh_served(&evidence, rank_learned)?;
        } else if self.served_pending.load(Ordering::Relaxed) {
            self.refresh_served(&evidence, rank_learned)?;
        }
        Ok(read)
    }

    /// Works out the first page of every query whose signals changed since its page
    /// was last worked out (at most [`PAGES_PER_REFRESH`] a refresh), keeping those
    /// that differ from the unlearned ranking; queries without signals are served
    /// unlearned.
    fn refresh_served(
        &self,
        evidence: &Evidence,
        rank_learned: &dyn Fn(&str) -> Result<Vec<String>>,
    ) -> Result<()> {
        let signals = self.signals.load();
        let mut served_for = self
            .served_for
            .lock()
            .map_err(|_| Error::Internal("learning state poisoned".into()))?;
        let fingerprints = signals.fingerprints();
        let mut stale: Vec<(&Arc<str>, u64)> = fingerprints
            .iter()
            .filter(|(q, f)| served_for.get(*q) != Some(f))
            .map(|(q, f)| (q, *f))
            .collect();
        self.served_pending
            .store(stale.len() > PAGES_PER_REFRESH, Ordering::Relaxed);
        stale.truncate(PAGES_PER_REFRESH);
        let gone = served_for.keys().any(|q| !fingerprints.contains_key(q));
        if stale.is_empty() && !gone {
            return Ok(());
        }
        let mut pages = ServedPages::clone(&self.served.load());
        pages.retain(|q, _| fingerprints.contains_key(q.as_str()));
        served_for.retain(|q, _| fingerprints.contains_key(q));
        for (query, fingerprint) in stale {
            let mut page = rank_learned(query)?;
            page.truncate(verdict::PAGE);
            if evidence.unlearned_page(query) == Some(page.as_slice()) {
                pages.remove(&**query);
            } else {
                pages.insert(query.to_string(), Arc::new(page));
            }
            served_for.insert(query.clone(), fingerprint);
        }
        self.served.store(Arc::new(pages));
        Ok(())
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
