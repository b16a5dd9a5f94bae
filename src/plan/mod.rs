//! The query plan: what a query became, as plain data, and its compilation to tantivy.
//!
//! [`build`] turns analyzed words into a [`QueryPlan`]: one [`Clause`] per word (or per
//! span of words a synonym or a joined form covers), each holding a tree of [`Node`]s —
//! terms tagged with how they relate to what the shopper typed ([`MatchKind`]), all-of
//! and any-of. Every expansion (split, joined, synonym, typo, prefix) is a term with a
//! penalty below 1, so an expanded match ranks below a match of what was typed. The
//! plan is data: expansion is testable without an index and `explain` can show it.
//!
//! [`QueryPlan::compile`] is the only place that builds tantivy queries:
//!
//! ```text
//! query  = AND over required clauses (+ optional clauses as SHOULD)
//! any-of = OR, its single terms sharing one IDF (the commonest alternative's), so a
//!          rare synonym or typo candidate cannot outscore the word itself
//! all-of = AND
//! term   = OR over searchable fields: TermQuery(field, term) × field weight × penalty
//!          (typo-derived terms skip fields marked `typos = false`)
//! ```

pub mod build;
mod roles;

use serde::Serialize;
use tantivy::query::{BooleanQuery, BoostQuery, EmptyQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{Searcher, Term as TantivyTerm};

use crate::schema::IndexFields;
pub use build::{MAX_QUERY_WORDS, MAX_RELAXATION_STEPS, PlanContext, Planned, build};
pub use roles::{RoleContext, Roles, assign_roles};

/// How a term relates to what the shopper typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The word itself.
    Exact,
    /// The word split in parts (`1500va` → `1500 va`, `wirelessmouse` → `wireless mouse`).
    Split,
    /// Words joined (`wi-fi` → `wifi`, `head phones` → `headphones`).
    Joined,
    /// A merchandiser's synonym.
    Synonym,
    /// A word of the lexicon a typo or two away.
    Typo,
    /// A completion of the last word being typed.
    Prefix,
}

/// Score multipliers: an expanded match always ranks below the word itself.
pub mod penalty {
    pub const SPLIT: f32 = 0.9;
    pub const JOINED: f32 = 0.9;
    pub const SYNONYM: f32 = 0.8;
    /// The likeliest correction of a word the index does not know at all.
    pub const CORRECTED: f32 = 0.9;
    pub const ONE_TYPO: f32 = 0.6;
    pub const TWO_TYPOS: f32 = 0.4;
    pub const PREFIX: f32 = 0.6;
}

/// Weight of a typed word pair found together, relative to the field's weight.
pub const PROXIMITY_BOOST: f32 = 0.5;

/// A term to look for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanTerm {
    pub text: String,
    pub kind: MatchKind,
    /// Score multiplier (1 for exact words).
    pub penalty: f32,
    /// Derived from a typo: not searched in fields marked `typos = false`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fuzzy: bool,
    /// Edits between the typed word and this one (typo-derived terms).
    #[serde(skip_serializing_if = "is_zero")]
    pub distance: u8,
    /// A completion of a very short prefix: searched only in strong fields (title,
    /// brand, category…), where a word the shopper has started typing names the
    /// product — not in descriptions, where one or two letters complete to words in
    /// nearly every product.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub strong_only: bool,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl PlanTerm {
    pub fn exact(text: impl Into<String>) -> PlanTerm {
        PlanTerm::new(text, MatchKind::Exact, 1.0)
    }

    pub fn new(text: impl Into<String>, kind: MatchKind, penalty: f32) -> PlanTerm {
        PlanTerm {
            text: text.into(),
            kind,
            penalty,
            fuzzy: kind == MatchKind::Typo,
            distance: 0,
            strong_only: false,
        }
    }

    /// The same term, `distance` edits from what was typed.
    pub fn at_distance(mut self, distance: u8) -> PlanTerm {
        self.distance = distance;
        self
    }

    /// What matching through this term costs the `typo` ranking criterion: its edits,
    /// or one for a completion of an unfinished word; for a synonym, the edits of the
    /// correction it was reached through (usually none); nothing for the word as
    /// typed and its split or joined forms.
    pub fn typo_cost(&self) -> u8 {
        match self.kind {
            MatchKind::Typo => self.distance.max(1),
            MatchKind::Prefix => 1,
            MatchKind::Synonym => self.distance,
            _ => 0,
        }
    }
}

/// A node of a clause's match tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    Term(PlanTerm),
    /// Every child must match.
    All(Vec<Node>),
    /// Any child may match; matches of several add up.
    Any(Vec<Node>),
}

impl Node {
    /// Every term in the tree.
    pub fn terms(&self) -> Vec<&PlanTerm> {
        match self {
            Node::Term(t) => vec![t],
            Node::All(children) | Node::Any(children) => {
                children.iter().flat_map(Node::terms).collect()
            }
        }
    }
}

/// A word, or a span of words, of the query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clause {
    /// What the shopper typed for this clause.
    pub surface: String,
    /// Required clauses must match; others only add to the score.
    pub required: bool,
    pub node: Node,
}

/// The query after analysis and expansion.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct QueryPlan {
    pub clauses: Vec<Clause>,
}

impl QueryPlan {
    /// True when the query has no words (browsing).
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// Number of clauses that must match.
    pub fn required_count(&self) -> usize {
        self.clauses.iter().filter(|c| c.required).count()
    }

    /// The same plan without clause `index`.
    pub fn without(&self, index: usize) -> QueryPlan {
        let mut clauses = self.clauses.clone();
        if index < clauses.len() {
            clauses.remove(index);
        }
        QueryPlan { clauses }
    }

    /// The tantivy query for this plan, or `None` when it has no words.
    pub fn compile(&self, fields: &IndexFields, searcher: &Searcher) -> Option<Box<dyn Query>> {
        let compiler = Compiler {
            fields,
            searcher,
            doc_freqs: Default::default(),
        };
        let clauses: Vec<(Occur, Box<dyn Query>)> = self
            .clauses
            .iter()
            .filter_map(
                |clause| match (compiler.node(&clause.node, &[]), clause.required) {
                    (Some(q), true) => Some((Occur::Must, q)),
                    (Some(q), false) => Some((Occur::Should, q)),
                    // A required word found nowhere: nothing can match all words.
                    (None, true) => Some((Occur::Must, Box::new(EmptyQuery) as Box<dyn Query>)),
                    (None, false) => None,
                },
            )
            .collect();
        if clauses.is_empty() {
            return None;
        }
        let mut clauses = clauses;
        clauses.extend(
            compiler
                .proximity(self)
                .into_iter()
                .map(|q| (Occur::Should, q)),
        );
        Some(Box::new(BooleanQuery::new(clauses)))
    }
}

/// The exact word a clause holds, when it is a single typed word.
fn exact_word(node: &Node) -> Option<&str> {
    match node {
        Node::Term(t) if t.kind == MatchKind::Exact => Some(&t.text),
        Node::Any(children) => children.first().and_then(exact_word),
        _ => None,
    }
}

struct Compiler<'a> {
    fields: &'a IndexFields,
    searcher: &'a Searcher,
    doc_freqs: std::cell::RefCell<std::collections::HashMap<(tantivy::schema::Field, String), u64>>,
}

impl Compiler<'_> {
    /// Adjacent typed words found next to each other score extra: one phrase query
    /// (slop 1) per pair and field, weighted like the field times [`PROXIMITY_BOOST`].
    fn proximity(&self, plan: &QueryPlan) -> Vec<Box<dyn Query>> {
        let mut out: Vec<Box<dyn Query>> = Vec::new();
        for pair in plan.clauses.windows(2) {
            let (Some(a), Some(b)) = (exact_word(&pair[0].node), exact_word(&pair[1].node)) else {
                continue;
            };
            if !(pair[0].required && pair[1].required) {
                continue;
            }
            for tf in &self.fields.text {
                if self.doc_freq(tf.field, a) == 0 || self.doc_freq(tf.field, b) == 0 {
                    continue;
                }
                let phrase = PhraseQuery::new_with_offset_and_slop(
                    vec![
                        (0, TantivyTerm::from_field_text(tf.field, a)),
                        (1, TantivyTerm::from_field_text(tf.field, b)),
                    ],
                    1,
                );
                out.push(Box::new(BoostQuery::new(
                    Box::new(phrase),
                    tf.weight * PROXIMITY_BOOST,
                )));
            }
        }
        out
    }

    /// `blend`: per text field, the document frequency the term's IDF is set to.
    fn node(&self, node: &Node, blend: &[u64]) -> Option<Box<dyn Query>> {
        match node {
            Node::Term(term) => union(self.term(term, blend)),
            Node::All(children) => {
                let parts: Option<Vec<Box<dyn Query>>> =
                    children.iter().map(|c| self.node(c, &[])).collect();
                let parts = parts?;
                match parts.len() {
                    0 => None,
                    1 => parts.into_iter().next(),
                    _ => Some(Box::new(BooleanQuery::intersection(parts))),
                }
            }
            Node::Any(children) => {
                // One flat union of every alternative's per-field term queries: nested
                // unions cost tantivy a buffer refill per level.
                let blend = self.blended_doc_freqs(children);
                let mut parts: Vec<Box<dyn Query>> = Vec::new();
                for child in children {
                    match child {
                        Node::Term(term) => parts.extend(self.term(term, &blend)),
                        other => parts.extend(self.node(other, &blend)),
                    }
                }
                union(parts)
            }
        }
    }

    /// Per field, the document frequency an any-of's terms are scored with.
    ///
    /// The word as typed keeps its own IDF. Every other single term (synonym, typo,
    /// completion) is scored as if it were at least as common as the typed word, so a
    /// rare alternative never outscores it; when the typed word occurs nowhere, the
    /// alternatives share the IDF of the commonest of them.
    fn blended_doc_freqs(&self, children: &[Node]) -> Vec<u64> {
        self.fields
            .text
            .iter()
            .map(|tf| {
                let exact = children
                    .iter()
                    .filter_map(|c| match c {
                        Node::Term(t) if t.kind == MatchKind::Exact => {
                            Some(self.doc_freq(tf.field, &t.text))
                        }
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0);
                if exact > 0 {
                    return exact;
                }
                children
                    .iter()
                    .filter_map(|c| match c {
                        Node::Term(t) => Some(self.doc_freq(tf.field, &t.text)),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Document frequency of `text` in `field`, looked up once per query.
    fn doc_freq(&self, field: tantivy::schema::Field, text: &str) -> u64 {
        let key = (field, text.to_string());
        if let Some(&df) = self.doc_freqs.borrow().get(&key) {
            return df;
        }
        let df = self
            .searcher
            .doc_freq(&TantivyTerm::from_field_text(field, text))
            .unwrap_or(0);
        self.doc_freqs.borrow_mut().insert(key, df);
        df
    }

    /// The per-field term queries of one term (none where it does not occur).
    fn term(&self, term: &PlanTerm, blend: &[u64]) -> Vec<Box<dyn Query>> {
        if term.text.is_empty() {
            return Vec::new();
        }
        let docs = self.searcher.num_docs();
        let per_field: Vec<Box<dyn Query>> = self
            .fields
            .text
            .iter()
            .enumerate()
            .filter(|(_, tf)| tf.typos || !term.fuzzy)
            .filter_map(|(i, tf)| {
                let own = self.doc_freq(tf.field, &term.text);
                if own == 0 {
                    return None;
                }
                let shared = match term.kind {
                    MatchKind::Exact => own,
                    _ => blend.get(i).copied().unwrap_or(own).max(own),
                };
                let boost = tf.weight * term.penalty * (idf(docs, shared) / idf(docs, own));
                let query = TermQuery::new(
                    TantivyTerm::from_field_text(tf.field, &term.text),
                    IndexRecordOption::WithFreqs,
                );
                Some(Box::new(BoostQuery::new(Box::new(query), boost)) as Box<dyn Query>)
            })
            .collect();
        per_field
    }
}

/// A union of `parts`, or the part itself when there is one.
fn union(mut parts: Vec<Box<dyn Query>>) -> Option<Box<dyn Query>> {
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Box::new(BooleanQuery::union(parts))),
    }
}

/// BM25's inverse document frequency, as tantivy computes it.
fn idf(docs: u64, doc_freq: u64) -> f32 {
    let (n, df) = (docs as f32, doc_freq as f32);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln().max(f32::EPSILON)
}
