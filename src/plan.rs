//! The query plan: what a query became, as plain data, and its compilation to tantivy.
//!
//! Analysis produces words; later stages (synonyms, typos, prefixes) add alternatives
//! to them, each with a [`MatchKind`] whose penalty ranks it below what the shopper
//! actually typed. Because the plan is data, every expansion is testable without an
//! index and `explain` can show it. [`QueryPlan::compile`] is the only place that
//! builds tantivy queries:
//!
//! ```text
//! query   = AND over required words (+ optional words as SHOULD)
//! word    = OR over alternatives
//! alt     = AND over its terms, times the alternative's penalty
//! term    = OR over searchable fields: TermQuery(field, term) × field weight
//! ```

use serde::Serialize;
use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;

use crate::analysis::QueryWord;
use crate::schema::IndexFields;

/// How an alternative relates to what the shopper typed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The word itself.
    Exact,
    /// The word split at letter/digit boundaries (`1500va` → `1500 va`).
    Split,
    /// A hyphenated word joined (`wi-fi` → `wifi`).
    Joined,
}

impl MatchKind {
    /// Score multiplier for matches of this kind.
    pub fn penalty(self) -> f32 {
        match self {
            MatchKind::Exact => 1.0,
            MatchKind::Split => 0.9,
            MatchKind::Joined => 0.9,
        }
    }
}

/// One way a word can match: all of `terms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    pub terms: Vec<String>,
    pub kind: MatchKind,
}

/// A word of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedWord {
    /// What the shopper typed.
    pub surface: String,
    /// Required words must match; others only add to the score.
    pub required: bool,
    pub alternatives: Vec<Alternative>,
}

/// The query after analysis and expansion.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct QueryPlan {
    pub words: Vec<PlannedWord>,
}

impl QueryPlan {
    /// The plan of analyzed words: every word required except stop words (unless
    /// the query has nothing else).
    pub fn from_words(words: &[QueryWord]) -> QueryPlan {
        let only_stop_words = words.iter().all(|w| w.is_stop_word);
        let words = words
            .iter()
            .map(|w| PlannedWord {
                surface: w.surface.clone(),
                required: !w.is_stop_word || only_stop_words,
                alternatives: w
                    .alternatives
                    .iter()
                    .enumerate()
                    .map(|(i, terms)| Alternative {
                        terms: terms.clone(),
                        kind: match (i, w.surface.contains('-') || w.surface.contains('.')) {
                            (0, _) => MatchKind::Exact,
                            (_, true) => MatchKind::Joined,
                            (_, false) => MatchKind::Split,
                        },
                    })
                    .collect(),
            })
            .filter(|w| !w.alternatives.is_empty())
            .collect();
        QueryPlan { words }
    }

    /// True when the query has no words (browsing).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Number of words that must match.
    pub fn required_count(&self) -> usize {
        self.words.iter().filter(|w| w.required).count()
    }

    /// The same plan without word `index`.
    pub fn without(&self, index: usize) -> QueryPlan {
        let mut words = self.words.clone();
        if index < words.len() {
            words.remove(index);
        }
        QueryPlan { words }
    }

    /// The tantivy query for this plan, or `None` when it has no words.
    pub fn compile(&self, fields: &IndexFields) -> Option<Box<dyn Query>> {
        let clauses: Vec<(Occur, Box<dyn Query>)> = self
            .words
            .iter()
            .filter_map(|word| {
                let occur = if word.required {
                    Occur::Must
                } else {
                    Occur::Should
                };
                word_query(word, fields).map(|q| (occur, q))
            })
            .collect();
        if clauses.is_empty() {
            return None;
        }
        Some(Box::new(BooleanQuery::new(clauses)))
    }
}

fn word_query(word: &PlannedWord, fields: &IndexFields) -> Option<Box<dyn Query>> {
    let alternatives: Vec<Box<dyn Query>> = word
        .alternatives
        .iter()
        .filter_map(|alt| alternative_query(alt, fields))
        .collect();
    match alternatives.len() {
        0 => None,
        1 => alternatives.into_iter().next(),
        _ => Some(Box::new(BooleanQuery::union(alternatives))),
    }
}

fn alternative_query(alt: &Alternative, fields: &IndexFields) -> Option<Box<dyn Query>> {
    let terms: Vec<Box<dyn Query>> = alt
        .terms
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| term_query(t, fields))
        .collect();
    let query: Box<dyn Query> = match terms.len() {
        0 => return None,
        1 => terms.into_iter().next()?,
        _ => Box::new(BooleanQuery::intersection(terms)),
    };
    let penalty = alt.kind.penalty();
    Some(if penalty == 1.0 {
        query
    } else {
        Box::new(BoostQuery::new(query, penalty))
    })
}

/// One term searched in every text field with the field's weight.
fn term_query(term: &str, fields: &IndexFields) -> Box<dyn Query> {
    let per_field: Vec<Box<dyn Query>> = fields
        .text
        .iter()
        .map(|tf| {
            let q = TermQuery::new(
                Term::from_field_text(tf.field, term),
                IndexRecordOption::WithFreqs,
            );
            Box::new(BoostQuery::new(Box::new(q), tf.weight)) as Box<dyn Query>
        })
        .collect();
    Box::new(BooleanQuery::union(per_field))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analyzer;
    use crate::schema::Stemmer;

    fn plan(q: &str) -> QueryPlan {
        QueryPlan::from_words(&Analyzer::new(Stemmer::Light).query_words(q))
    }

    #[test]
    fn words_are_required_except_stop_words() {
        let p = plan("usb to serial adapter");
        let required: Vec<bool> = p.words.iter().map(|w| w.required).collect();
        assert_eq!(required, [true, false, true, true]);
        assert_eq!(p.required_count(), 3);
        assert!(plan("the")[0].required);
    }

    #[test]
    fn compounds_get_a_split_alternative() {
        let p = plan("1500va");
        assert_eq!(p.words[0].alternatives[0].kind, MatchKind::Exact);
        assert_eq!(p.words[0].alternatives[1].kind, MatchKind::Split);
        assert_eq!(p.words[0].alternatives[1].terms, ["1500", "va"]);
        let joined = plan("wi-fi");
        assert_eq!(joined.words[0].alternatives[1].kind, MatchKind::Joined);
    }

    #[test]
    fn empty_query_has_no_plan() {
        assert!(plan("").is_empty());
        assert!(plan("  ?! ").is_empty());
    }

    impl std::ops::Index<usize> for QueryPlan {
        type Output = PlannedWord;
        fn index(&self, i: usize) -> &PlannedWord {
            &self.words[i]
        }
    }
}
