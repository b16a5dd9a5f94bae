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
    /// Matches per segment (aligned with the searcher's segments); `None` when the
    /// query has no words (browsing).
    pub segments: Option<Vec<Vec<DocMatch>>>,
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
        let segments = match matcher {
            None => None,
            Some(matcher) => Some(
                snapshot
                    .searcher
                    .segment_readers()
                    .iter()
                    .map(|segment| matcher.segment(segment, &snapshot.fields))
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        Ok(TextQuery {
            roles,
            criteria,
            segments,
        })
    }
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
