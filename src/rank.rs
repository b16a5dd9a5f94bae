//! Ranking: a document's final score from its text relevance and its priors.
//!
//! Text relevance (BM25 over the schema's weighted fields) comes first. A popularity
//! prior, normalized over the catalog, nudges equally relevant products: at most
//! [`POPULARITY_BOOST`] of the text score, so it reorders near-ties but never lifts a
//! weak match over a strong one. Browsing (an empty query) ranks by the prior alone.
//! [`ScoreBreakdown`] keeps each part for `explain`.

use serde::Serialize;

use crate::columns::SegmentColumns;
use crate::index::Snapshot;

/// The largest share of the text score popularity can add.
pub const POPULARITY_BOOST: f32 = 0.1;

/// How a document's score was made, for `explain`.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct ScoreBreakdown {
    /// BM25 text relevance (0 when browsing).
    pub text: f32,
    /// Popularity prior in [0, 1].
    pub popularity: f32,
}

/// Computes final scores for one query.
#[derive(Debug, Clone)]
pub struct Ranker {
    /// Index into the numeric columns of the popularity field.
    popularity: Option<usize>,
    /// 1 / ln(1 + max popularity), so the prior spans [0, 1].
    popularity_scale: f32,
}

impl Ranker {
    /// A ranker for `snapshot`'s catalog.
    pub fn new(snapshot: &Snapshot) -> Ranker {
        let popularity = snapshot
            .schema
            .roles
            .popularity
            .and_then(|def| snapshot.fields.numeric.iter().position(|n| n.def == def));
        let max = popularity
            .map(|p| {
                snapshot
                    .columns
                    .iter()
                    .flat_map(|c| c.numeric(p).iter().copied())
                    .filter(|v| v.is_finite())
                    .fold(0.0f64, f64::max)
            })
            .unwrap_or(0.0);
        let popularity_scale = if max > 0.0 {
            (1.0 / (1.0 + max).ln()) as f32
        } else {
            0.0
        };
        Ranker {
            popularity,
            popularity_scale,
        }
    }

    /// The popularity prior of a document, in [0, 1].
    #[inline]
    pub fn popularity(&self, columns: &SegmentColumns, doc: u32) -> f32 {
        let Some(p) = self.popularity else { return 0.0 };
        let raw = columns.numeric(p).get(doc as usize).copied().unwrap_or(0.0);
        if raw.is_finite() && raw > 0.0 {
            ((1.0 + raw).ln() as f32 * self.popularity_scale).min(1.0)
        } else {
            0.0
        }
    }

    /// The final score and its parts; `text` is `None` when browsing.
    #[inline]
    pub fn score(
        &self,
        columns: &SegmentColumns,
        doc: u32,
        text: Option<f32>,
    ) -> (f32, ScoreBreakdown) {
        let popularity = self.popularity(columns, doc);
        let breakdown = ScoreBreakdown {
            text: text.unwrap_or(0.0),
            popularity,
        };
        let score = match text {
            Some(t) => t * (1.0 + POPULARITY_BOOST * popularity),
            None => popularity,
        };
        (score, breakdown)
    }
}
