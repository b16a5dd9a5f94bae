//! A query's text side, prepared once per search: its roles, its criteria and its
//! matches in every segment.
//!
//! Input: a snapshot and a [`QueryPlan`]. The snapshot answers what the roles need
//! (does a term name a product type — it occurs in `_type`; does a word name a value of
//! an exact column such as a brand or a colour), the schema gives the criteria and the
//! strong fields, and the [`Matcher`] walks the postings. Output: [`TextQuery`], which
//! retrieval reads as often as relaxation needs without touching postings again.

use tantivy::Term;

use super::criteria::Criteria;
use super::matching::{DocMatch, Matcher};
use crate::columns::ColumnKind;
use crate::error::Result;
use crate::index::Snapshot;
use crate::plan::{QueryPlan, RoleContext, Roles, assign_roles};

/// The text side of one search.
pub struct TextQuery {
    pub roles: Roles,
    pub criteria: Criteria,
    /// The clauses a document must match (bit `i` for clause `i`).
    pub required: u32,
    /// Per segment (aligned with the searcher's segments), the documents matching
    /// every required clause; `None` when the query has no words (browsing).
    pub strict: Option<Vec<Vec<DocMatch>>>,
    matcher: Option<Matcher>,
}

impl TextQuery {
    /// Understands and matches `plan` against `snapshot`.
    pub fn prepare(snapshot: &Snapshot, plan: &QueryPlan) -> Result<TextQuery> {
        let roles = query_roles(snapshot, plan);
        let criteria = match plan.is_empty() {
            true => Criteria::none(),
            false => Criteria::new(&snapshot.schema.ranking, plan, &roles),
        };
        let strong: Vec<bool> = snapshot
            .fields
            .text
            .iter()
            .map(|tf| snapshot.schema.ranking.strong_fields.contains(&tf.def))
            .collect();
        let matcher = Matcher::new(plan, &roles, &snapshot.fields, &strong, &snapshot.searcher)?;
        let required = required_mask(plan);
        let strict = match &matcher {
            None => None,
            Some(matcher) => Some(per_segment(snapshot, |segment| {
                matcher.segment_all_of(segment, &snapshot.fields, required)
            })?),
        };
        Ok(TextQuery {
            roles,
            criteria,
            required,
            strict,
            matcher,
        })
    }

    /// Per segment, the documents matching every clause of `accept` (bit `i` for
    /// clause `i`), with their facts over every clause: what relaxation retrieves once
    /// a word is made optional. Driven by the rarest accepted clause, as the strict
    /// matches are. `None` when browsing.
    pub fn matches_all_of(
        &self,
        snapshot: &Snapshot,
        accept: u32,
    ) -> Result<Option<Vec<Vec<DocMatch>>>> {
        match &self.matcher {
            None => Ok(None),
            Some(matcher) => Ok(Some(per_segment(snapshot, |segment| {
                matcher.segment_all_of(segment, &snapshot.fields, accept)
            })?)),
        }
    }

    /// How many documents (deleted ones included) match each clause, over every
    /// segment: which word relaxation makes optional first. Counted from the postings'
    /// document ids alone, nothing scored. Empty when browsing.
    pub fn clause_counts(&self, snapshot: &Snapshot) -> Result<Vec<u64>> {
        let Some(matcher) = &self.matcher else {
            return Ok(Vec::new());
        };
        let segments = snapshot.searcher.segment_readers();
        let per_segment: Vec<Result<Vec<u64>>> =
            crate::parallel::per_segment(segments.len(), snapshot.searcher.num_docs(), |ord| {
                matcher.clause_counts(&segments[ord])
            });
        let mut totals = Vec::new();
        for counts in per_segment {
            let counts = counts?;
            totals.resize(totals.len().max(counts.len()), 0);
            for (total, count) in totals.iter_mut().zip(counts) {
                *total += count;
            }
        }
        Ok(totals)
    }

    /// Per segment, every document matching at least one clause (the plain path the
    /// driven ones are checked against). `None` when browsing.
    pub fn any_matches(&self, snapshot: &Snapshot) -> Result<Option<Vec<Vec<DocMatch>>>> {
        match &self.matcher {
            None => Ok(None),
            Some(matcher) => Ok(Some(per_segment(snapshot, |segment| {
                matcher.segment(segment, &snapshot.fields)
            })?)),
        }
    }
}

/// The clauses a document must match, as a mask (clause `i` = bit `i`).
pub fn required_mask(plan: &QueryPlan) -> u32 {
    plan.clauses
        .iter()
        .enumerate()
        .filter(|(i, c)| c.required && *i < 32)
        .fold(0, |mask, (i, _)| mask | (1u32 << i))
}

/// `matches` run over every segment of the snapshot, in segment order.
fn per_segment(
    snapshot: &Snapshot,
    matches: impl Fn(&tantivy::SegmentReader) -> Result<Vec<DocMatch>> + Sync,
) -> Result<Vec<Vec<DocMatch>>> {
    let segments = snapshot.searcher.segment_readers();
    crate::parallel::per_segment(segments.len(), snapshot.searcher.num_docs(), |ord| {
        matches(&segments[ord])
    })
    .into_iter()
    .collect()
}

/// Which clause names the product type and which name exact values.
pub fn query_roles(snapshot: &Snapshot, plan: &QueryPlan) -> Roles {
    let type_field = snapshot.fields.product_type;
    let names_type = |term: &str| {
        snapshot
            .searcher
            .doc_freq(&Term::from_field_text(type_field, term))
            .unwrap_or(0)
            > 0
    };
    let names_value = |word: &str| {
        snapshot.vocabulary.columns().iter().any(|c| {
            c.kind == ColumnKind::Keyword && !c.name.starts_with('_') && c.lookup(word).is_some()
        })
    };
    assign_roles(
        plan,
        &RoleContext {
            names_type: &names_type,
            names_value: &names_value,
        },
    )
}
