//! Matching: the query plan evaluated over one segment's postings, clause by clause.
//!
//! Input: a [`QueryPlan`], the query's [`Roles`] and a searcher. [`Matcher::new`]
//! compiles every term of the plan into per-field BM25 weights once per query (the
//! same weights tantivy would use: the field's weight × the term's penalty × IDF, with
//! an any-of's alternatives sharing the typed word's IDF). [`Matcher::segment`] then
//! walks the postings of each term, merges them up the plan's tree (any-of = union,
//! all-of = intersection, scores adding up) and combines the clauses into one sorted
//! list of [`DocMatch`]: every document that matches at least one clause, with its
//! BM25 text score and its [`MatchFacts`] — which clauses it matched, which of those
//! in a strong field, how many typos it took, and whether the product-type word named
//! what the product is. The ranking criteria (`super::criteria`) read only the facts;
//! relaxation reads the clause mask, so dropping a word never walks postings again.

use std::cell::RefCell;
use std::collections::HashMap;

use rustc_hash::FxHashMap;
use tantivy::index::SegmentId;
use tantivy::postings::Postings;
use tantivy::postings::TermInfo;
use tantivy::query::{Bm25StatisticsProvider, EnableScoring, PhraseQuery, Query, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Searcher, SegmentReader, TERMINATED, Term};

mod dense;

use dense::DenseHits;
pub use dense::set_gathering;

use super::bm25::{LengthNorms, TermWeight};
use crate::error::{Error, Result};
use crate::plan::{MatchKind, Node, PROXIMITY_BOOST, PlanTerm, QueryPlan, Roles};
use crate::schema::IndexFields;

/// What a document's match says about how well it answers the query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MatchFacts {
    /// Clauses matched: bit `i` for clause `i`.
    pub matched: u32,
    /// Clauses matched in a strong field (title, brand, category…).
    pub strong: u32,
    /// Typos (and unfinished words) it took to match, over the matched clauses.
    pub typos: u8,
    /// The query's product-type word matched what the product is.
    pub typed: bool,
    /// The product states no type at all (neither category nor title head noun).
    pub untyped: bool,
    /// What the crowd taught about the product for this query: 1 preferred, 0 neutral,
    /// -1 passed over. Matching leaves it 0; retrieval sets it from the learned signals.
    pub crowd: i8,
    /// The shopper's profile strongly favours the product. Matching leaves it false;
    /// retrieval sets it from the affinity (`super::Ranker::strong_taste`).
    pub taste: bool,
}

/// One matching document of a segment.
#[derive(Debug, Clone, Copy)]
pub struct DocMatch {
    pub doc: DocId,
    /// BM25 over the weighted fields, expansions penalized, plus proximity.
    pub text: f32,
    pub facts: MatchFacts,
}

/// A term in one field, ready to score.
struct FieldTerm {
    term: Term,
    weight: TermWeight,
    strong: bool,
    /// How many documents have it (in the whole index).
    doc_freq: u64,
    /// Where its postings are in each segment.
    found: TermInfos,
}

/// A term's dictionary entry in each segment of the searcher, looked up once per
/// query (counting its documents) and used again to read its postings.
#[derive(Clone, Default)]
struct TermInfos(std::sync::Arc<[(SegmentId, TermInfo)]>);

impl TermInfos {
    fn in_segment(&self, segment: &SegmentReader) -> Option<&TermInfo> {
        let id = segment.segment_id();
        self.0.iter().find(|(s, _)| *s == id).map(|(_, info)| info)
    }
}

/// Matches fewer than one in this many documents of a segment are sparse: phrase
/// scorers skip to them instead of walking their postings.
const SPARSE_SHARE: u32 = 32;

/// Postings longer than this many times the documents still in the running are
/// skipped through (block skip lists) rather than read in full.
const SKIP_RATIO: usize = 8;

/// The plan's tree with its terms compiled.
enum Compiled {
    Term {
        fields: Vec<FieldTerm>,
        /// Typo cost of matching through this term (0 for the word as typed).
        typos: u8,
        /// The term in `_type`, for the type clause.
        type_term: Option<Term>,
    },
    All(Vec<Compiled>),
    Any(Vec<Compiled>),
}

/// A clause's match in one document.
#[derive(Debug, Clone, Copy)]
struct Hit {
    doc: DocId,
    score: f32,
    typos: u8,
    strong: bool,
    typed: bool,
}

/// The compiled query: clauses, proximity phrases.
pub struct Matcher {
    clauses: Vec<Compiled>,
    type_clause: Option<usize>,
    proximity: Vec<Box<dyn Weight>>,
}

/// Looks up and caches per-query statistics.
struct Stats<'a> {
    searcher: &'a Searcher,
    docs: u64,
    terms: RefCell<FxHashMap<Term, (u64, TermInfos)>>,
    length_norms: RefCell<HashMap<Field, LengthNorms>>,
}

impl Stats<'_> {
    fn doc_freq(&self, term: &Term) -> u64 {
        self.lookup(term).0
    }

    /// How many documents hold `term`, and where its postings are, segment by segment.
    fn lookup(&self, term: &Term) -> (u64, TermInfos) {
        if let Some(found) = self.terms.borrow().get(term) {
            return found.clone();
        }
        let infos: Vec<(SegmentId, TermInfo)> = self
            .searcher
            .segment_readers()
            .iter()
            .filter_map(|segment| {
                let inverted = segment.inverted_index(term.field()).ok()?;
                let info = inverted.get_term_info(term).ok()??;
                Some((segment.segment_id(), info))
            })
            .collect();
        let doc_freq = infos.iter().map(|(_, i)| u64::from(i.doc_freq)).sum();
        let found = (doc_freq, TermInfos(infos.into()));
        self.terms.borrow_mut().insert(term.clone(), found.clone());
        found
    }

    /// The field's BM25 length table (its average length over the whole index).
    fn length_norms(&self, field: Field) -> LengthNorms {
        if let Some(norms) = self.length_norms.borrow().get(&field) {
            return norms.clone();
        }
        let tokens = self.searcher.total_num_tokens(field).unwrap_or(0);
        let norms = LengthNorms::new(tokens as f32 / self.docs.max(1) as f32);
        self.length_norms.borrow_mut().insert(field, norms.clone());
        norms
    }
}

impl Matcher {
    /// Compiles `plan` for `searcher`'s index; `None` when the plan has no words.
    pub fn new(
        plan: &QueryPlan,
        roles: &Roles,
        fields: &IndexFields,
        strong: &[bool],
        searcher: &Searcher,
    ) -> Result<Option<Matcher>> {
        if plan.is_empty() {
            return Ok(None);
        }
        let stats = Stats {
            searcher,
            docs: searcher.total_num_docs().unwrap_or(0),
            terms: Default::default(),
            length_norms: Default::default(),
        };
        let compiler = Compiler {
            fields,
            strong,
            stats: &stats,
        };
        let clauses = plan
            .clauses
            .iter()
            .enumerate()
            .map(|(i, c)| compiler.node(&c.node, None, roles.type_clause == Some(i)))
            .collect();
        let proximity = compiler.proximity(plan, searcher)?;
        Ok(Some(Matcher {
            clauses,
            type_clause: roles.type_clause,
            proximity,
        }))
    }

    /// Every document of `segment` matching at least one clause, by document id.
    pub fn segment(&self, segment: &SegmentReader, fields: &IndexFields) -> Result<Vec<DocMatch>> {
        let mut matches: Vec<DocMatch> = Vec::new();
        for (i, clause) in self.clauses.iter().enumerate() {
            let hits = evaluate(clause, segment, fields, None)?;
            let is_type = self.type_clause == Some(i);
            matches = add_clause(matches, &hits, 1u32 << i.min(31), is_type);
        }
        self.finish(segment, fields, matches)
    }

    /// The documents of `segment` matching every clause of `required` (bit `i` for
    /// clause `i`), with exactly the [`DocMatch`] [`Matcher::segment`] gives them.
    ///
    /// Driven by the rarest required clause: its postings are walked in full, every
    /// other clause only at the documents still in the running (postings skip to
    /// them), so a query of several common words costs about its rarest word, not
    /// the union of all. With no required clause this is [`Matcher::segment`].
    pub fn segment_all_of(
        &self,
        segment: &SegmentReader,
        fields: &IndexFields,
        required: u32,
    ) -> Result<Vec<DocMatch>> {
        let bit = |i: usize| 1u32 << i.min(31);
        let mut order: Vec<usize> = (0..self.clauses.len())
            .filter(|&i| required & bit(i) != 0)
            .collect();
        if order.is_empty() {
            return self.segment(segment, fields);
        }
        order.sort_by_key(|&i| cost(&self.clauses[i]));
        let optional = (0..self.clauses.len()).filter(|&i| required & bit(i) == 0);
        let mut matches: Option<Vec<DocMatch>> = None;
        for i in order.iter().copied().chain(optional) {
            let is_type = self.type_clause == Some(i);
            // The rarest required clause, when crowded, is read out of its gathering
            // straight into match records: every one of them has it.
            if matches.is_none()
                && let Some(gathered) = gathered(&self.clauses[i], segment, fields)?
            {
                let first = gathered.read_out(|hit| clause_match(hit, bit(i), is_type));
                if first.is_empty() {
                    return Ok(Vec::new());
                }
                matches = Some(first);
                continue;
            }
            let within: Option<Vec<DocId>> =
                matches.as_ref().map(|m| m.iter().map(|m| m.doc).collect());
            let hits = evaluate(&self.clauses[i], segment, fields, within.as_deref())?;
            let folded = add_clause(matches.take().unwrap_or_default(), &hits, bit(i), is_type);
            matches = Some(match required & bit(i) != 0 {
                true => folded
                    .into_iter()
                    .filter(|m| m.facts.matched & bit(i) != 0)
                    .collect(),
                false => folded,
            });
            if matches.as_ref().is_some_and(Vec::is_empty) {
                return Ok(Vec::new());
            }
        }
        self.finish(segment, fields, matches.unwrap_or_default())
    }

    /// Per clause, how many documents of `segment` match it (deleted ones included):
    /// each clause's documents gathered as a bitset from its postings' ids, nothing
    /// scored and no list built.
    pub fn clause_counts(&self, segment: &SegmentReader) -> Result<Vec<u64>> {
        self.clauses
            .iter()
            .map(|clause| {
                let bits = node_docs(clause, segment)?;
                Ok(bits.iter().map(|w| u64::from(w.count_ones())).sum())
            })
            .collect()
    }

    /// Adds proximity scores and the `untyped` fact to a segment's matches.
    fn finish(
        &self,
        segment: &SegmentReader,
        fields: &IndexFields,
        mut matches: Vec<DocMatch>,
    ) -> Result<Vec<DocMatch>> {
        // Few matches: the phrase scorer skips to each; many: it walks its postings.
        let sparse = matches.len() < (segment.max_doc() / SPARSE_SHARE) as usize;
        for weight in &self.proximity {
            if sparse {
                let mut scorer = weight.scorer(segment, 1.0)?;
                for m in &mut matches {
                    if scorer.doc() < m.doc && scorer.seek(m.doc) == TERMINATED {
                        break;
                    }
                    if scorer.doc() == m.doc {
                        m.text += scorer.score();
                    }
                }
                continue;
            }
            let mut at = 0usize;
            weight.for_each(segment, &mut |doc, score| {
                while at < matches.len() && matches[at].doc < doc {
                    at += 1;
                }
                if let Some(m) = matches.get_mut(at)
                    && m.doc == doc
                {
                    m.text += score;
                }
            })?;
        }
        if self.type_clause.is_some() {
            let norms = segment.get_fieldnorms_reader(fields.product_type)?;
            for m in &mut matches {
                m.facts.untyped = norms.fieldnorm_id(m.doc) == 0;
            }
        }
        Ok(matches)
    }
}

struct Compiler<'a> {
    fields: &'a IndexFields,
    /// Per text field (aligned with `fields.text`): whether it is strong.
    strong: &'a [bool],
    stats: &'a Stats<'a>,
}

impl Compiler<'_> {
    /// `shared`: per text field, the document frequency an any-of's alternatives are
    /// scored with (so a rare synonym or typo never outscores the word itself).
    fn node(&self, node: &Node, shared: Option<&[u64]>, typed: bool) -> Compiled {
        match node {
            Node::Term(term) => self.term(term, shared, typed),
            Node::All(children) => {
                Compiled::All(children.iter().map(|c| self.node(c, None, typed)).collect())
            }
            Node::Any(children) => {
                let shared = self.shared_doc_freqs(children);
                Compiled::Any(
                    children
                        .iter()
                        .map(|c| self.node(c, Some(&shared), typed))
                        .collect(),
                )
            }
        }
    }

    fn term(&self, term: &PlanTerm, shared: Option<&[u64]>, typed: bool) -> Compiled {
        let mut fields = Vec::new();
        if !term.text.is_empty() {
            for (i, tf) in self.fields.text.iter().enumerate() {
                let strong = self.strong.get(i).copied().unwrap_or(false);
                if (term.fuzzy && !tf.typos) || (term.strong_only && !strong) {
                    continue;
                }
                let t = Term::from_field_text(tf.field, &term.text);
                let (own, found) = self.stats.lookup(&t);
                if own == 0 {
                    continue;
                }
                let df = match (term.kind, shared.and_then(|s| s.get(i))) {
                    (MatchKind::Exact, _) | (_, None) => own,
                    (_, Some(&s)) => s.max(own),
                };
                let weight = TermWeight::new(
                    df,
                    self.stats.docs,
                    &self.stats.length_norms(tf.field),
                    tf.weight * term.penalty,
                );
                fields.push(FieldTerm {
                    term: t,
                    weight,
                    strong,
                    doc_freq: own,
                    found,
                });
            }
        }
        Compiled::Term {
            fields,
            typos: term.typo_cost(),
            type_term: (typed && !term.text.is_empty())
                .then(|| Term::from_field_text(self.fields.product_type, &term.text)),
        }
    }

    /// Per field, the document frequency an any-of's single terms are scored with:
    /// the typed word keeps its own; the others are scored as if at least as common as
    /// it — or, when the typed word occurs nowhere, as its first correction, which then
    /// scores exactly as if it had been typed.
    fn shared_doc_freqs(&self, children: &[Node]) -> Vec<u64> {
        self.fields
            .text
            .iter()
            .map(|tf| {
                let df = |t: &PlanTerm| {
                    self.stats
                        .doc_freq(&Term::from_field_text(tf.field, &t.text))
                };
                let singles = || {
                    children.iter().filter_map(|c| match c {
                        Node::Term(t) => Some(t),
                        _ => None,
                    })
                };
                let exact = singles()
                    .filter(|t| t.kind == MatchKind::Exact)
                    .map(df)
                    .max()
                    .unwrap_or(0);
                if exact > 0 {
                    return exact;
                }
                singles().map(df).find(|&d| d > 0).unwrap_or(0)
            })
            .collect()
    }

    /// Adjacent typed words found next to each other score extra: one phrase (slop 1)
    /// per pair and field, weighted like the field times [`PROXIMITY_BOOST`].
    fn proximity(&self, plan: &QueryPlan, searcher: &Searcher) -> Result<Vec<Box<dyn Weight>>> {
        let mut out: Vec<Box<dyn Weight>> = Vec::new();
        for pair in plan.clauses.windows(2) {
            if !(pair[0].required && pair[1].required) {
                continue;
            }
            let (a, b) = (full_words(&pair[0].node), full_words(&pair[1].node));
            for tf in &self.fields.text {
                let known = |words: &[&str]| {
                    words
                        .iter()
                        .map(|w| Term::from_field_text(tf.field, w))
                        .find(|t| self.stats.doc_freq(t) > 0)
                };
                let (Some(ta), Some(tb)) = (known(&a), known(&b)) else {
                    continue;
                };
                let phrase = PhraseQuery::new_with_offset_and_slop(vec![(0, ta), (1, tb)], 1);
                let query =
                    tantivy::query::BoostQuery::new(Box::new(phrase), tf.weight * PROXIMITY_BOOST);
                out.push(query.weight(EnableScoring::enabled_from_searcher(searcher))?);
            }
        }
        Ok(out)
    }
}

/// The words a single-word clause stands for at full weight: the word as typed, or
/// its unambiguous correction (so a typo'd query ranks like its correction).
fn full_words(node: &Node) -> Vec<&str> {
    let full = |t: &PlanTerm| {
        t.kind == MatchKind::Exact || (t.kind == MatchKind::Typo && t.penalty >= 1.0)
    };
    match node {
        Node::Term(t) if full(t) => vec![&t.text],
        Node::Any(children) => children
            .iter()
            .filter_map(|c| match c {
                Node::Term(t) if full(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// About how many documents a compiled node matches (the sum of its terms'
/// document frequencies; an all-of as its rarest part): which clause to walk first.
fn cost(node: &Compiled) -> u64 {
    match node {
        Compiled::Term { fields, .. } => fields.iter().map(|f| f.doc_freq).sum(),
        Compiled::Any(children) => children.iter().map(cost).sum(),
        Compiled::All(children) => children.iter().map(cost).min().unwrap_or(0),
    }
}

/// A crowded node's hits gathered in place ([`DenseHits`]): `None` when the node is
/// an all-of or reads too few postings for gathering to pay (or gathering is off).
fn gathered(
    node: &Compiled,
    segment: &SegmentReader,
    fields: &IndexFields,
) -> Result<Option<DenseHits>> {
    if matches!(node, Compiled::All(_)) || !dense::enabled() {
        return Ok(None);
    }
    let (postings, lists) = dense::segment_postings(node, segment);
    if lists < 2 || postings.saturating_mul(dense::CROWDED_SHARE) < u64::from(segment.max_doc()) {
        return Ok(None);
    }
    let mut gathered = DenseHits::new(0, segment.max_doc() as usize);
    gathered.add_node(node, segment, fields)?;
    Ok(Some(gathered))
}

/// The hits of a compiled node in one segment, by document id; with `within`, only
/// among those documents (sorted by id).
fn evaluate(
    node: &Compiled,
    segment: &SegmentReader,
    fields: &IndexFields,
    within: Option<&[DocId]>,
) -> Result<Vec<Hit>> {
    if within.is_none()
        && let Some(gathered) = gathered(node, segment, fields)?
    {
        return Ok(gathered.into_hits());
    }
    match node {
        Compiled::Term {
            fields: terms,
            typos,
            type_term,
        } => {
            let lists = terms
                .iter()
                .map(|ft| postings_hits(segment, ft, *typos, within))
                .collect::<Result<Vec<_>>>()?;
            let mut hits = union_all(lists);
            if let Some(term) = type_term
                && !hits.is_empty()
            {
                mark_typed(&mut hits, segment, term, fields)?;
            }
            Ok(hits)
        }
        Compiled::Any(children) => {
            let lists = children
                .iter()
                .map(|child| evaluate(child, segment, fields, within))
                .collect::<Result<Vec<_>>>()?;
            Ok(union_all(lists))
        }
        Compiled::All(children) => {
            let mut iter = children.iter();
            let Some(first) = iter.next() else {
                return Ok(Vec::new());
            };
            let mut hits = evaluate(first, segment, fields, within)?;
            for child in iter {
                if hits.is_empty() {
                    break;
                }
                let docs: Vec<DocId> = hits.iter().map(|h| h.doc).collect();
                hits = intersection(&hits, &evaluate(child, segment, fields, Some(&docs))?);
            }
            Ok(hits)
        }
    }
}

/// The documents of `segment` a compiled node matches, as a bitset (bit `d` of word
/// `d / 64` for document `d`): any-of ORs, all-of ANDs, a term is the union of its
/// fields' postings. Read from the postings' document ids only.
fn node_docs(node: &Compiled, segment: &SegmentReader) -> Result<Vec<u64>> {
    let words = (segment.max_doc() as usize).div_ceil(64);
    match node {
        Compiled::Term { fields, .. } => {
            let mut bits = vec![0u64; words];
            for ft in fields {
                if let Some(info) = ft.found.in_segment(segment) {
                    let inverted = segment.inverted_index(ft.term.field())?;
                    dense::set_docs(&mut bits, &inverted, info)?;
                }
            }
            Ok(bits)
        }
        Compiled::Any(children) => {
            let mut bits = vec![0u64; words];
            for child in children {
                for (word, other) in bits.iter_mut().zip(node_docs(child, segment)?) {
                    *word |= other;
                }
            }
            Ok(bits)
        }
        Compiled::All(children) => {
            let mut children = children.iter();
            let Some(first) = children.next() else {
                return Ok(vec![0u64; words]);
            };
            let mut bits = node_docs(first, segment)?;
            for child in children {
                for (word, other) in bits.iter_mut().zip(node_docs(child, segment)?) {
                    *word &= other;
                }
            }
            Ok(bits)
        }
    }
}

/// Every document of a term's postings in one field, scored; with `within`, only
/// those documents.
fn postings_hits(
    segment: &SegmentReader,
    ft: &FieldTerm,
    typos: u8,
    within: Option<&[DocId]>,
) -> Result<Vec<Hit>> {
    let field = ft.term.field();
    let Some(info) = ft.found.in_segment(segment) else {
        return Ok(Vec::new());
    };
    let mut postings = segment
        .inverted_index(field)?
        .read_postings_from_terminfo(info, IndexRecordOption::WithFreqs)
        .map_err(|e| Error::io("reading postings", e))?;
    let norms = segment.get_fieldnorms_reader(field)?;
    let hit = |doc: DocId, postings: &tantivy::postings::SegmentPostings| Hit {
        doc,
        score: ft
            .weight
            .score(norms.fieldnorm_id(doc), postings.term_freq()),
        typos,
        strong: ft.strong,
        typed: false,
    };
    // Few documents to look at in long postings: skip to each of them.
    if let Some(docs) = within
        && docs.len().saturating_mul(SKIP_RATIO) < postings.size_hint() as usize
    {
        let mut hits = Vec::with_capacity(docs.len());
        for &doc in docs {
            if postings.doc() < doc && postings.seek(doc) == TERMINATED {
                break;
            }
            if postings.doc() == doc {
                hits.push(hit(doc, &postings));
            }
        }
        return Ok(hits);
    }
    let mut hits = Vec::with_capacity(postings.size_hint() as usize);
    let mut next = within.map(|d| d.iter().peekable());
    let mut doc = postings.doc();
    while doc != TERMINATED {
        let keep = match next.as_mut() {
            None => true,
            Some(docs) => {
                while docs.next_if(|&&d| d < doc).is_some() {}
                match docs.peek() {
                    None => break,
                    Some(&&d) => d == doc,
                }
            }
        };
        if keep {
            hits.push(hit(doc, &postings));
        }
        doc = postings.advance();
    }
    Ok(hits)
}

/// Marks the hits whose product is of the type `term` names.
fn mark_typed(
    hits: &mut [Hit],
    segment: &SegmentReader,
    term: &Term,
    fields: &IndexFields,
) -> Result<()> {
    let inverted = segment.inverted_index(fields.product_type)?;
    let Some(mut postings) = inverted
        .read_postings(term, IndexRecordOption::Basic)
        .map_err(|e| Error::io("reading postings", e))?
    else {
        return Ok(());
    };
    for hit in hits.iter_mut() {
        if postings.doc() == TERMINATED {
            break;
        }
        if postings.doc() < hit.doc {
            postings.seek(hit.doc);
        }
        if postings.doc() == hit.doc {
            hit.typed = true;
        }
    }
    Ok(())
}

/// The union of many lists. Merged pairwise in a balanced tree (each hit is copied
/// about log2(lists) times, not once per list), or, when the lists are many and
/// crowd their span of document ids (a short prefix or a common word across many
/// fields and corrections), gathered into arrays indexed by document
/// ([`union_dense`]): every hit is written once and the span is read once.
fn union_all(mut lists: Vec<Vec<Hit>>) -> Vec<Hit> {
    lists.retain(|l| !l.is_empty());
    if lists.len() >= 3 {
        let total: usize = lists.iter().map(Vec::len).sum();
        let first = lists.iter().filter_map(|l| l.first()).map(|h| h.doc).min();
        let last = lists.iter().filter_map(|l| l.last()).map(|h| h.doc).max();
        if let (Some(first), Some(last)) = (first, last) {
            let span = (last - first) as usize + 1;
            let levels = lists.len().next_power_of_two().trailing_zeros() as usize;
            if total.saturating_mul(levels) >= span / 2 {
                return union_dense(&lists, first, span);
            }
        }
    }
    while lists.len() > 1 {
        let mut next = Vec::with_capacity(lists.len().div_ceil(2));
        let mut iter = lists.into_iter();
        while let Some(a) = iter.next() {
            match iter.next() {
                Some(b) => next.push(union(a, b)),
                None => next.push(a),
            }
        }
        lists = next;
    }
    lists.pop().unwrap_or_default()
}

/// The union of `lists`, whose documents lie in `first..first + span`: scores add
/// up, the fewest typos and any strong or typed match are kept, as [`union`] does.
fn union_dense(lists: &[Vec<Hit>], first: DocId, span: usize) -> Vec<Hit> {
    let mut gathered = DenseHits::new(first, span);
    for list in lists {
        gathered.add_hits(list);
    }
    gathered.into_hits()
}

/// Hits of either side; a document in both adds its scores and keeps the better facts.
fn union(a: Vec<Hit>, b: Vec<Hit>) -> Vec<Hit> {
    if a.is_empty() {
        return b;
    }
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        match x.doc.cmp(&y.doc) {
            std::cmp::Ordering::Less => {
                out.push(x);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(y);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(Hit {
                    doc: x.doc,
                    score: x.score + y.score,
                    typos: x.typos.min(y.typos),
                    strong: x.strong || y.strong,
                    typed: x.typed || y.typed,
                });
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Hits of both sides: every part must match; typos add up.
fn intersection(a: &[Hit], b: &[Hit]) -> Vec<Hit> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        match x.doc.cmp(&y.doc) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(Hit {
                    doc: x.doc,
                    score: x.score + y.score,
                    typos: x.typos.saturating_add(y.typos),
                    strong: x.strong && y.strong,
                    typed: x.typed || y.typed,
                });
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Clause `bit`'s hit as a match record (`is_type`: the clause names a product type).
#[inline]
fn clause_match(h: Hit, bit: u32, is_type: bool) -> DocMatch {
    DocMatch {
        doc: h.doc,
        text: h.score,
        facts: MatchFacts {
            matched: bit,
            strong: if h.strong { bit } else { 0 },
            typos: h.typos,
            typed: is_type && h.typed,
            untyped: false,
            crowd: 0,
            taste: false,
        },
    }
}

/// Folds one clause's hits into the documents matched so far.
fn add_clause(matches: Vec<DocMatch>, hits: &[Hit], bit: u32, is_type: bool) -> Vec<DocMatch> {
    let as_match = |h: &Hit| clause_match(*h, bit, is_type);
    if matches.is_empty() {
        return hits.iter().map(as_match).collect();
    }
    let mut out = Vec::with_capacity(matches.len().max(hits.len()));
    let (mut i, mut j) = (0, 0);
    while i < matches.len() || j < hits.len() {
        let take_match = j >= hits.len() || (i < matches.len() && matches[i].doc < hits[j].doc);
        if take_match {
            out.push(matches[i]);
            i += 1;
            continue;
        }
        let hit = &hits[j];
        j += 1;
        if i < matches.len() && matches[i].doc == hit.doc {
            let mut m = matches[i];
            i += 1;
            let add = as_match(hit);
            m.text += add.text;
            m.facts.matched |= add.facts.matched;
            m.facts.strong |= add.facts.strong;
            m.facts.typos = m.facts.typos.saturating_add(add.facts.typos);
            m.facts.typed |= add.facts.typed;
            out.push(m);
        } else {
            out.push(as_match(hit));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(doc: DocId, score: f32, typos: u8) -> Hit {
        Hit {
            doc,
            score,
            typos,
            strong: false,
            typed: false,
        }
    }

    #[test]
    fn unions_add_scores_and_keep_the_fewest_typos() {
        let out = union(
            vec![hit(1, 1.0, 0), hit(3, 1.0, 0)],
            vec![hit(2, 2.0, 1), hit(3, 2.0, 1)],
        );
        let docs: Vec<_> = out.iter().map(|h| (h.doc, h.score, h.typos)).collect();
        assert_eq!(docs, [(1, 1.0, 0), (2, 2.0, 1), (3, 3.0, 0)]);
    }

    #[test]
    fn dense_and_pairwise_unions_agree() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for lists in [3usize, 5, 12] {
            // Sparse and crowded lists over the same span, typo costs and flags mixed.
            let made: Vec<Vec<Hit>> = (0..lists)
                .map(|l| {
                    let keep = if l % 2 == 0 { 2 } else { 9 };
                    let mut list = Vec::new();
                    for doc in 40..400u32 {
                        if rng.random_range(0..keep) != 0 {
                            continue;
                        }
                        list.push(Hit {
                            doc,
                            // Scores exact in f32, so any order of adding agrees.
                            score: rng.random_range(1..8) as f32 * 0.25,
                            typos: rng.random_range(0..3),
                            strong: rng.random_range(0..3) == 0,
                            typed: rng.random_range(0..4) == 0,
                        });
                    }
                    list
                })
                .collect();
            let dense = union_dense(&made, 40, 360);
            let mut pairwise = Vec::new();
            for list in made {
                pairwise = union(pairwise, list);
            }
            let key = |h: &Hit| (h.doc, h.score, h.typos, h.strong, h.typed);
            assert_eq!(
                dense.iter().map(key).collect::<Vec<_>>(),
                pairwise.iter().map(key).collect::<Vec<_>>(),
                "{lists} lists"
            );
        }
    }

    #[test]
    fn intersections_keep_common_documents() {
        let out = intersection(
            &[hit(1, 1.0, 0), hit(3, 1.0, 1)],
            &[hit(3, 2.0, 1), hit(4, 1.0, 0)],
        );
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].doc, out[0].score, out[0].typos), (3, 3.0, 2));
    }

    #[test]
    fn clauses_fold_into_masks() {
        let first = add_clause(Vec::new(), &[hit(1, 1.0, 0), hit(2, 1.0, 0)], 1, false);
        let both = add_clause(first, &[hit(2, 1.0, 1), hit(5, 1.0, 0)], 2, false);
        let masks: Vec<_> = both
            .iter()
            .map(|m| (m.doc, m.facts.matched, m.facts.typos))
            .collect();
        assert_eq!(masks, [(1, 1, 0), (2, 3, 1), (5, 2, 0)]);
    }
}
