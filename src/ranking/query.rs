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

    /// Per segment, every document matching at least one clause: what relaxation
    /// chooses from when too few match them all. `None` when browsing.
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
