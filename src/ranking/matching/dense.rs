//! Unions gathered into an array indexed by document, straight from the postings.
//!
//! A clause whose terms crowd a segment (a common word in several fields, its
//! synonyms, the many completions of a short prefix) matches a large share of it.
//! Merging one sorted list per term and field copies every hit once per merge level,
//! and building those lists costs as much again. Here every posting is added once, in
//! place, into one slot per document of the span; the span is then read once, in
//! document order, into the clause's hits. Input: postings (a term in one field, with
//! its BM25 weight and typo cost) or finished hit lists (an all-of's); output: the same
//! hits the pairwise [`super::union`] gives (scores added, the fewest typos, any strong
//! or typed match kept).

use tantivy::InvertedIndexReader;
use tantivy::postings::TermInfo;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, SegmentReader, Term};

use super::{Compiled, FieldTerm, Hit, evaluate};
use crate::error::{Error, Result};
use crate::filter::bit_is_set;
use crate::schema::IndexFields;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Whether crowded clauses are gathered (on unless a test compares both paths).
static GATHERING: AtomicBool = AtomicBool::new(true);

/// Turns gathering crowded clauses on or off, process-wide: for tests that check the
/// gathered hits against the merged ones.
pub fn set_gathering(on: bool) {
    GATHERING.store(on, Ordering::Relaxed);
}

pub(super) fn enabled() -> bool {
    GATHERING.load(Ordering::Relaxed)
}

const PRESENT: u8 = 1;
const STRONG: u8 = 2;
const TYPED: u8 = 4;

/// A span's documents take this share of the postings' total or more: gathering
/// pays (the array is zeroed and read once per span; merging copies every hit once
/// per level).
pub(super) const CROWDED_SHARE: u64 = 16;

/// One document's accumulated match.
#[derive(Clone, Copy, Default)]
struct Slot {
    score: f32,
    /// `u8::MAX - typos`, so that a zeroed slot means "none yet" and the best is the max.
    spared: u8,
    flags: u8,
}

/// A thread's slots and presence bits, all zero between uses, kept from one gathering
/// to the next so that a gathering costs what it touches rather than its whole span
/// (zeroing and scanning 500k slots cost more than the 50k matches of a common word).
#[derive(Default)]
struct Scratch {
    slots: Vec<Slot>,
    /// Bit `i` set when slot `i` holds a match.
    present: Vec<u64>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<Scratch>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Scratches a thread keeps: one per gathering in progress, and a gathering nests in
/// at most one other (an all-of's crowded word inside an any-of: a synonym phrase of
/// a common word), which otherwise allocated and zeroed a whole segment's slots every
/// time (an eighth of "rug"'s matching at 1M).
const KEPT_SCRATCHES: usize = 2;

/// Spans up to this many documents (a segment of a million-product catalog) keep their
/// scratch for the thread's next gathering: at most 2 × 4 MiB of slots per thread that
/// searches (async workers, heavy-search and rayon threads). Larger spans are allocated
/// each time.
const KEPT_SLOTS: usize = 1 << 19;

/// Hits of documents `first..first + span`, gathered in place.
pub(super) struct DenseHits {
    first: DocId,
    span: usize,
    /// Zero beyond what this gathering touched; returned to the thread when read out.
    scratch: Scratch,
}

impl DenseHits {
    pub fn new(first: DocId, span: usize) -> DenseHits {
        // A gathering nested in another (an all-of inside an any-of) takes the
        // thread's second scratch, or makes its own when there is none.
        let mut scratch = SCRATCH
            .with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.pop()))
            .unwrap_or_default();
        if scratch.slots.len() < span {
            scratch.slots.resize(span, Slot::default());
        }
        let words = span.div_ceil(64);
        if scratch.present.len() < words {
            scratch.present.resize(words, 0);
        }
        DenseHits {
            first,
            span,
            scratch,
        }
    }

    #[inline]
    fn add(&mut self, doc: DocId, score: f32, spared: u8, flags: u8) {
        let Some(i) = doc
            .checked_sub(self.first)
            .map(|i| i as usize)
            .filter(|&i| i < self.span)
        else {
            return;
        };
        let (Some(slot), Some(word)) = (
            self.scratch.slots.get_mut(i),
            self.scratch.present.get_mut(i / 64),
        ) else {
            return;
        };
        *word |= 1u64 << (i % 64);
        slot.score += score;
        slot.spared = slot.spared.max(spared);
        slot.flags |= flags;
    }

    /// Adds finished hits.
    pub fn add_hits(&mut self, hits: &[Hit]) {
        for hit in hits {
            let flags =
                PRESENT | if hit.strong { STRONG } else { 0 } | if hit.typed { TYPED } else { 0 };
            self.add(hit.doc, hit.score, u8::MAX - hit.typos, flags);
        }
    }

    /// Adds every hit of a compiled node in `segment`: terms straight from their
    /// postings, any-ofs child by child, all-ofs as their evaluated intersection.
    pub fn add_node(
        &mut self,
        node: &Compiled,
        segment: &SegmentReader,
        fields: &IndexFields,
    ) -> Result<()> {
        match node {
            Compiled::Term {
                fields: terms,
                typos,
                type_term,
            } => {
                let typed = match type_term {
                    Some(term) => Some(type_docs(segment, term, fields)?),
                    None => None,
                };
                for ft in terms {
                    self.add_postings(segment, ft, *typos, typed.as_ref().map(|b| b.as_slice()))?;
                }
            }
            Compiled::Any(children) => {
                for child in children {
                    self.add_node(child, segment, fields)?;
                }
            }
            Compiled::All(_) => self.add_hits(&evaluate(node, segment, fields, None)?),
        }
        Ok(())
    }

    /// Adds one term's postings in one field, a block of documents at a time.
    fn add_postings(
        &mut self,
        segment: &SegmentReader,
        ft: &FieldTerm,
        typos: u8,
        typed: Option<&[u64]>,
    ) -> Result<()> {
        let field = ft.term.field();
        let Some(info) = ft.found.in_segment(segment) else {
            return Ok(());
        };
        let mut block = segment
            .inverted_index(field)?
            .read_block_postings_from_terminfo(info, IndexRecordOption::WithFreqs)
            .map_err(|e| Error::io("reading postings", e))?;
        let norms = segment.get_fieldnorms_reader(field)?;
        let into = ListFacts {
            first: self.first,
            spared: u8::MAX - typos,
            flags: PRESENT | if ft.strong { STRONG } else { 0 },
        };
        let words = self.span.div_ceil(64);
        let (Some(slots), Some(present)) = (
            self.scratch.slots.get_mut(..self.span),
            self.scratch.present.get_mut(..words),
        ) else {
            return Ok(());
        };
        while !block.docs().is_empty() {
            let (docs, freqs) = (block.docs(), block.freqs());
            let score = |i: usize, doc: DocId| {
                let freq = freqs.get(i).copied().unwrap_or(1);
                ft.weight.score(norms.fieldnorm_id(doc), freq)
            };
            // One loop per case, so that the one without a type word tests nothing.
            match typed {
                None => into.add_block(slots, present, docs, score, |_| 0),
                Some(bits) => into.add_block(slots, present, docs, score, |doc| {
                    if bit_is_set(bits, doc) { TYPED } else { 0 }
                }),
            }
            block.advance();
        }
        Ok(())
    }

    /// The gathered hits, by document. The slots they came from are zeroed again and
    /// the scratch goes back to the thread.
    pub fn into_hits(self) -> Vec<Hit> {
        self.read_out(|hit| hit)
    }

    /// The gathered hits, by document, each made into `make(hit)` as it is read (a
    /// first clause's hits become match records without a list of hits between).
    pub fn read_out<T>(self, make: impl Fn(Hit) -> T) -> Vec<T> {
        let DenseHits {
            first,
            span,
            mut scratch,
        } = self;
        let words = span.div_ceil(64);
        let present: usize = scratch.present[..words.min(scratch.present.len())]
            .iter()
            .map(|w| w.count_ones() as usize)
            .sum();
        let mut out = Vec::with_capacity(present);
        for (w, word) in scratch.present.iter_mut().take(words).enumerate() {
            let mut rest = std::mem::take(word);
            while rest != 0 {
                let i = w * 64 + rest.trailing_zeros() as usize;
                rest &= rest - 1;
                let Some(slot) = scratch.slots.get_mut(i).map(std::mem::take) else {
                    continue;
                };
                out.push(make(Hit {
                    doc: first + i as DocId,
                    score: slot.score,
                    typos: u8::MAX - slot.spared,
                    strong: slot.flags & STRONG != 0,
                    typed: slot.flags & TYPED != 0,
                }));
            }
        }
        if scratch.slots.len() <= KEPT_SLOTS {
            SCRATCH.with(|s| {
                if let Ok(mut kept) = s.try_borrow_mut()
                    && kept.len() < KEPT_SCRATCHES
                {
                    kept.push(scratch);
                }
            });
        }
        out
    }
}

/// What one posting list adds to every document it holds: the typo cost spared and
/// the flags, into slots of documents from `first` on.
struct ListFacts {
    first: DocId,
    spared: u8,
    flags: u8,
}

impl ListFacts {
    /// Adds a block of postings: `docs`, the score of the `i`th (`score(i, doc)`) and
    /// the flags its product type adds (`typed(doc)`), into `slots` and their
    /// `present` bits (a document outside the slots is skipped).
    #[inline(always)]
    fn add_block(
        &self,
        slots: &mut [Slot],
        present: &mut [u64],
        docs: &[DocId],
        score: impl Fn(usize, DocId) -> f32,
        typed: impl Fn(DocId) -> u8,
    ) {
        for (i, &doc) in docs.iter().enumerate() {
            let Some(at) = doc.checked_sub(self.first).map(|at| at as usize) else {
                continue;
            };
            let (Some(slot), Some(word)) = (slots.get_mut(at), present.get_mut(at / 64)) else {
                continue;
            };
            *word |= 1u64 << (at % 64);
            slot.score += score(i, doc);
            slot.spared = slot.spared.max(self.spared);
            slot.flags |= self.flags | typed(doc);
        }
    }
}

/// Type bitsets kept across searches, at most this many (a segment of a million
/// products takes 64 KiB each).
const KEPT_TYPE_BITSETS: usize = 64;

/// A type bitset's key: the segment (whose documents never change) and the type term.
type TypeKey = (tantivy::index::SegmentId, Term);

static TYPE_BITSETS: Mutex<Option<HashMap<TypeKey, Arc<Vec<u64>>>>> = Mutex::new(None);

/// The documents of `segment` whose product is of the type `term` names, as a bitset:
/// read from the type field's postings the first time, then kept (a store's shoppers
/// search the same product words over and over, and a segment never changes; deleted
/// documents stay in, as they do in every posting list).
fn type_docs(segment: &SegmentReader, term: &Term, fields: &IndexFields) -> Result<Arc<Vec<u64>>> {
    let key = (segment.segment_id(), term.clone());
    if let Ok(kept) = TYPE_BITSETS.lock()
        && let Some(bits) = kept.as_ref().and_then(|k| k.get(&key))
    {
        return Ok(bits.clone());
    }
    let mut bits = vec![0u64; (segment.max_doc() as usize).div_ceil(64)];
    let inverted = segment.inverted_index(fields.product_type)?;
    if let Some(info) = inverted
        .get_term_info(term)
        .map_err(|e| Error::io("reading the term dictionary", e))?
    {
        set_docs(&mut bits, &inverted, &info)?;
    }
    let bits = Arc::new(bits);
    if let Ok(mut kept) = TYPE_BITSETS.lock() {
        let kept = kept.get_or_insert_with(HashMap::new);
        if kept.len() >= KEPT_TYPE_BITSETS {
            kept.clear();
        }
        kept.insert(key, bits.clone());
    }
    Ok(bits)
}

/// Sets the bit of every document in a term's postings (`info`, read from `inverted`).
pub(super) fn set_docs(
    bits: &mut [u64],
    inverted: &InvertedIndexReader,
    info: &TermInfo,
) -> Result<()> {
    let mut block = inverted
        .read_block_postings_from_terminfo(info, IndexRecordOption::Basic)
        .map_err(|e| Error::io("reading postings", e))?;
    while !block.docs().is_empty() {
        for &doc in block.docs() {
            if let Some(word) = bits.get_mut(doc as usize / 64) {
                *word |= 1u64 << (doc % 64);
            }
        }
        block.advance();
    }
    Ok(())
}

/// About how many postings a node reads in `segment`, and from how many lists.
pub(super) fn segment_postings(node: &Compiled, segment: &SegmentReader) -> (u64, usize) {
    match node {
        Compiled::Term { fields, .. } => fields
            .iter()
            .filter_map(|ft| ft.found.in_segment(segment))
            .fold((0, 0), |(n, lists), info| {
                (n + u64::from(info.doc_freq), lists + 1)
            }),
        Compiled::Any(children) | Compiled::All(children) => children
            .iter()
            .map(|c| segment_postings(c, segment))
            .fold((0, 0), |(n, l), (cn, cl)| (n + cn, l + cl)),
    }
}
