//! The tie score: how documents that the relevance criteria left tied are ordered.
//!
//! ```text
//! query:    score = text × (1 + POPULARITY_BOOST × popularity) × (1 + TASTE × impact × affinity)
//!                        × (1 + LEARNED × learned)
//! browsing: score = popularity + BROWSE_AFFINITY × impact × affinity
//! ```
//! `popularity` is the larger of the catalog's own popularity and the crowd's decayed
//! behaviour; `learned` is what the crowd's clicks and purchases taught about this
//! query (`crate::learning`), 0 for holdout shoppers.
//! (merchandising boosts multiply either.) The relevance criteria (`super::criteria`)
//! are compared first — among them `taste`, whether the affinity is clear
//! ([`STRONG_TASTE`]) — so these factors only reorder equally good matches: there a
//! clear taste (affinity near 1) wins outright — `TASTE` makes a perfect affinity worth
//! five times the text score — while a weak or scattered profile (affinity near 0, see
//! `crate::affinity`) barely moves anything. With `impact` 0 the order is exactly the
//! unpersonalized one. [`ScoreBreakdown`] keeps each part for `explain`.

use serde::Serialize;
use tantivy::DocAddress;

use crate::learning::LearnedBoosts;

use crate::affinity::Personalization;
use crate::columns::SegmentColumns;
use crate::index::Snapshot;

/// The largest share of the text score popularity can add.
pub const POPULARITY_BOOST: f32 = 0.1;
/// How much a perfect affinity adds to a browsing score, per unit of impact.
pub const BROWSE_AFFINITY: f32 = 2.0;
/// How much a perfect affinity multiplies a tie score by, per unit of impact, beyond 1.
pub const TASTE: f32 = 6.0;
/// How much a full learned signal multiplies a tie score by, beyond 1.
pub const LEARNED: f32 = 3.0;
/// Affinity × impact from which a taste is *clear* and the `taste` criterion lifts the
/// product over equal matches in later criteria (`attribute`): a shopper's brand after
/// a dozen views and a purchase or two reaches it, scattered browsing does not.
pub const STRONG_TASTE: f32 = 0.5;

/// The tie-score factor of a learned signal in [-1, 1]: up to `1 + LEARNED` for a
/// product the crowd picks beyond its position, down to `1 / (1 + LEARNED)` for one
/// it passes by.
#[inline]
fn learned_factor(signal: f32) -> f32 {
    if signal >= 0.0 {
        1.0 + LEARNED * signal
    } else {
        1.0 / (1.0 + LEARNED * -signal)
    }
}

/// How a document's score was made, for `explain`.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct ScoreBreakdown {
    /// BM25 text relevance (0 when browsing).
    pub text: f32,
    /// Popularity prior in [0, 1].
    pub popularity: f32,
    /// The shopper's affinity for the product in [0, 1] (0 when not personalized).
    pub affinity: f32,
    /// What the crowd's behaviour taught about the product for this query, in [-1, 1].
    pub learned: f32,
}

/// [`Ranker::upper_bound`] over one segment, its per-query factors worked out once
/// ([`Ranker::segment_bound`]): the first ranking pass bounds every match with it.
pub struct SegmentBound<'a> {
    prior: &'a [f32],
    scale: f32,
    /// Behavioural popularity by document, when learning (shorter: 0 beyond).
    learned: Option<&'a [f32]>,
    browsing: bool,
    /// The taste term with the profile's highest affinity, and with none.
    reached: f32,
    unreached: f32,
    learned_factor: f32,
    ceiling: f32,
}

impl SegmentBound<'_> {
    /// `Ranker::popularity` of a document of the segment.
    #[inline]
    fn popularity(&self, doc: u32) -> f32 {
        let catalog = match self.prior.get(doc as usize) {
            Some(prior) => (prior * self.scale).min(1.0),
            None => 0.0,
        };
        match self.learned {
            Some(learned) => catalog.max(learned.get(doc as usize).copied().unwrap_or(0.0)),
            None => catalog,
        }
    }

    /// The highest score `doc` could get before the rules (`Ranker::upper_bound`: the
    /// same operations in the same order, so the same value), and with the rules'
    /// ceiling.
    #[inline]
    pub fn of(&self, doc: u32, text: f32, reached: bool) -> (f32, f32) {
        let popularity = self.popularity(doc);
        let taste = if reached {
            self.reached
        } else {
            self.unreached
        };
        let bound = if self.browsing {
            popularity + taste
        } else {
            text * (1.0 + POPULARITY_BOOST * popularity) * taste * self.learned_factor
        };
        (bound, bound * self.ceiling)
    }
}

/// Computes final scores for one query.
#[derive(Debug, Clone)]
pub struct Ranker {
    /// 1 / ln(1 + max popularity), so the prior spans [0, 1].
    popularity_scale: f32,
    /// The shopper's profile, when personalizing.
    personalization: Option<Personalization>,
    /// `personalization_impact` of the schema.
    impact: f32,
    /// The highest affinity the profile gives any document (0 without a profile).
    max_affinity: f32,
    /// The crowd's learned signals for this query.
    learned: Option<LearnedBoosts>,
    max_learned: f32,
}

impl Ranker {
    /// A ranker for `snapshot`'s catalog.
    pub fn new(snapshot: &Snapshot) -> Ranker {
        let max_prior = snapshot
            .columns
            .iter()
            .map(|c| c.prior_max())
            .fold(0.0f32, f32::max);
        let popularity_scale = if max_prior > 0.0 {
            1.0 / max_prior
        } else {
            0.0
        };
        Ranker {
            popularity_scale,
            personalization: None,
            impact: snapshot.schema.affinity.personalization_impact,
            max_affinity: 0.0,
            learned: None,
            max_learned: 0.0,
        }
    }

    /// The same ranker, reordering ties by the crowd's learned signals.
    pub fn learned(mut self, learned: Option<LearnedBoosts>) -> Ranker {
        self.learned = learned.filter(|l| !l.is_empty());
        self.max_learned = self.learned.as_ref().map(|l| l.max_signal()).unwrap_or(0.0);
        self
    }

    /// The same ranker, re-scoring by a shopper's profile.
    pub fn personalized(mut self, personalization: Option<Personalization>) -> Ranker {
        self.personalization = personalization.filter(|p| !p.is_empty() && self.impact > 0.0);
        self.max_affinity = self
            .personalization
            .as_ref()
            .map(|p| p.max_affinity())
            .unwrap_or(0.0);
        self
    }

    /// The profile in use, if any.
    pub fn personalization(&self) -> Option<&Personalization> {
        self.personalization.as_ref()
    }

    /// Whether the crowd has a verdict on any document for this query: without one,
    /// [`Ranker::crowd`] is 0 for every document.
    #[inline]
    pub fn knows_crowd(&self) -> bool {
        self.learned.as_ref().is_some_and(|l| l.has_verdicts())
    }

    /// The crowd's coarse verdict on a text match for this query (the `learned`
    /// criterion): 1 preferred, -1 passed over, 0 otherwise and when not learning.
    #[inline]
    pub fn crowd(&self, columns: &SegmentColumns, address: DocAddress) -> i8 {
        match &self.learned {
            Some(learned) => learned.verdict(columns, address),
            None => 0,
        }
    }

    /// Why the crowd's verdict on a document is what it is, in shopper words
    /// ([`LearnedBoosts::reason`]); `None` without one or when not learning.
    pub fn crowd_reason(
        &self,
        columns: &SegmentColumns,
        vocabulary: &crate::columns::Vocabulary,
        address: DocAddress,
        query: &str,
    ) -> Option<String> {
        self.learned
            .as_ref()?
            .reason(columns, vocabulary, address, query)
    }

    /// Whether some document could have a clear taste under this profile (the
    /// `taste` criterion's best case, for pruning).
    #[inline]
    pub fn may_taste(&self) -> bool {
        self.personalization.is_some() && self.impact * self.max_affinity >= STRONG_TASTE
    }

    /// Whether an affinity is a clear taste (the `taste` criterion).
    #[inline]
    pub fn strong_taste(&self, affinity: f32) -> bool {
        self.personalization.is_some() && self.impact * affinity >= STRONG_TASTE
    }

    /// The popularity prior of a document, in [0, 1].
    #[inline]
    pub fn popularity(&self, columns: &SegmentColumns, address: DocAddress) -> f32 {
        let catalog = match columns.prior().get(address.doc_id as usize) {
            Some(prior) => (prior * self.popularity_scale).min(1.0),
            None => 0.0,
        };
        match &self.learned {
            Some(learned) => catalog.max(learned.popularity(address)),
            None => catalog,
        }
    }

    /// A document's score parts; `text` is 0 when browsing.
    #[inline]
    pub fn parts(
        &self,
        columns: &SegmentColumns,
        address: DocAddress,
        text: f32,
    ) -> ScoreBreakdown {
        let affinity = match &self.personalization {
            Some(p) => p.affinity(columns, address.doc_id),
            None => 0.0,
        };
        self.parts_with(columns, address, text, affinity)
    }

    /// A document's score parts when its affinity is already known
    /// ([`Ranker::affinities`]).
    #[inline]
    pub fn parts_with(
        &self,
        columns: &SegmentColumns,
        address: DocAddress,
        text: f32,
        affinity: f32,
    ) -> ScoreBreakdown {
        ScoreBreakdown {
            text,
            popularity: self.popularity(columns, address),
            affinity,
            learned: match &self.learned {
                Some(l) if text > 0.0 => l.signal(columns, address),
                _ => 0.0,
            },
        }
    }

    /// The documents of a segment whose affinity may be above 0 ([`Personalization::reach`]),
    /// when listing them reads at most `limit` value postings; `None` without a
    /// profile or past the limit.
    pub fn taste_reach(
        &self,
        columns: &SegmentColumns,
        max_doc: u32,
        limit: usize,
    ) -> Option<Vec<u64>> {
        self.personalization
            .as_ref()
            .and_then(|p| p.reach(columns, max_doc, limit))
    }

    /// The affinities of a segment's `docs` into `out`, in order (all 0 without a
    /// profile): what [`Ranker::parts`] would find, for many documents at once.
    pub fn affinities(&self, columns: &SegmentColumns, docs: &[u32], out: &mut Vec<f32>) {
        match &self.personalization {
            Some(p) => p.affinities(columns, docs, out),
            None => {
                out.clear();
                out.resize(docs.len(), 0.0);
            }
        }
    }

    /// The highest score the document could get with affinity `affinity` (its own,
    /// as [`Ranker::affinities`] found it, or [`Ranker::max_affinity`]), whatever the
    /// crowd learned: cheap (no signal lookups), never below the real score.
    #[inline]
    pub fn upper_bound(
        &self,
        columns: &SegmentColumns,
        address: DocAddress,
        text: f32,
        browsing: bool,
        affinity: f32,
    ) -> f32 {
        let popularity = self.popularity(columns, address);
        if browsing {
            popularity + BROWSE_AFFINITY * self.impact * affinity
        } else {
            text * (1.0 + POPULARITY_BOOST * popularity)
                * (1.0 + TASTE * self.impact * affinity)
                * (1.0 + LEARNED * self.max_learned)
        }
    }

    /// [`Ranker::upper_bound`] for the documents of segment `ord`, with everything
    /// that does not depend on the document worked out once: the affinity is the
    /// profile's highest where its tastes reach and 0 elsewhere, and every bound is
    /// multiplied by `ceiling` (the largest factor the rules may apply).
    pub fn segment_bound<'a>(
        &'a self,
        columns: &'a SegmentColumns,
        ord: u32,
        browsing: bool,
        ceiling: f32,
    ) -> SegmentBound<'a> {
        let taste = |affinity: f32| match browsing {
            true => BROWSE_AFFINITY * self.impact * affinity,
            false => 1.0 + TASTE * self.impact * affinity,
        };
        SegmentBound {
            prior: columns.prior(),
            scale: self.popularity_scale,
            learned: self.learned.as_ref().map(|l| l.segment_popularity(ord)),
            browsing,
            reached: taste(self.max_affinity),
            unreached: taste(0.0),
            learned_factor: 1.0 + LEARNED * self.max_learned,
            ceiling,
        }
    }

    /// The highest affinity the profile gives any document (0 without one): the
    /// affinity to bound a document with before its own is known.
    pub fn max_affinity(&self) -> f32 {
        self.max_affinity
    }

    /// The browsing score (no query text).
    #[inline]
    pub fn browse_score(&self, parts: &ScoreBreakdown) -> f32 {
        parts.popularity + BROWSE_AFFINITY * self.impact * parts.affinity
    }

    /// The score of a text match.
    #[inline]
    pub fn text_score(&self, parts: &ScoreBreakdown) -> f32 {
        parts.text
            * (1.0 + POPULARITY_BOOST * parts.popularity)
            * (1.0 + TASTE * self.impact * parts.affinity)
            * learned_factor(parts.learned)
    }

    /// The final score of a document's parts.
    #[inline]
    pub fn score(&self, parts: &ScoreBreakdown, browsing: bool) -> f32 {
        if browsing {
            self.browse_score(parts)
        } else {
            self.text_score(parts)
        }
    }
}
