//! Dense per-document columns for filters, facets, sorting and re-ranking.
//!
//! tantivy keeps exact values in the `_kw` fast field with per-segment ordinals. The
//! query path wants global ids it can index arrays with, so on every reader refresh
//! each new segment's `_kw` dictionary is mapped once into the store-wide
//! [`Vocabulary`] (append-only: ids never change), and its documents become
//! [`SegmentColumns`]: for every exact-value column the list of value ids of each
//! document, and for every numeric field a plain `f64` array (NaN = missing).
//!
//! A column with few distinct rows in a segment (a brand, a colour, a category path)
//! also codes each document's row in a byte or two ([`RowCodes`], `codes.rs`): what
//! counting facets over many documents reads.
//!
//! Segments are immutable, so their columns are built once and shared; deleted
//! documents are skipped by the retrieval loop through tantivy's alive bitset.
//! Reading a document's brand, category nodes or price is then a few array reads.

mod bitsets;
mod codes;
mod vocabulary;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::SegmentReader;

use crate::error::{Error, Result};
use crate::schema::IndexFields;
use crate::schema::fields::{KEYWORDS_FIELD, KW_SEPARATOR};
pub use bitsets::{ColumnBits, KEPT_BITSETS, MOST_VALUES_KEPT, RangeBits, bits_of, count_both};
pub use codes::{RangeCodes, RowCodes};
pub use vocabulary::{ColumnDict, ColumnKind, NO_PARENT, ValueId, Vocabulary, normalize_value};

/// Marks a document without a value in a single-valued column.
const NONE: ValueId = ValueId::MAX;

/// Value lists per document: one id per document when no document has two (brand,
/// colour — one array read), compressed rows otherwise (category nodes).
#[derive(Debug, Default, Clone)]
pub struct MultiColumn {
    /// `starts[d]..starts[d + 1]` indexes `values` for document `d` (empty when single).
    starts: Vec<u32>,
    values: Vec<ValueId>,
    /// One value (or [`NONE`]) per document, when the column is single-valued.
    single: Vec<ValueId>,
    /// Every document's row as a one- or two-byte code ([`RowCodes`]), when the
    /// segment holds few enough distinct rows.
    coded: Option<RowCodes>,
}

impl MultiColumn {
    /// The value ids of document `doc` (empty when it has none).
    #[inline]
    pub fn values(&self, doc: u32) -> &[ValueId] {
        let d = doc as usize;
        if !self.single.is_empty() {
            return match self.single.get(d) {
                Some(v) if *v != NONE => std::slice::from_ref(v),
                _ => &[],
            };
        }
        match (self.starts.get(d), self.starts.get(d + 1)) {
            (Some(&from), Some(&to)) => &self.values[from as usize..to as usize],
            _ => &[],
        }
    }

    /// One value per document (or [`ValueId::MAX`]) when the column is single-valued.
    #[inline]
    pub fn single(&self) -> Option<&[ValueId]> {
        (!self.single.is_empty()).then_some(self.single.as_slice())
    }

    /// The row starts and the values they index (`starts[d]..starts[d + 1]` for
    /// document `d`) when the column is multi-valued.
    #[inline]
    pub fn rows(&self) -> Option<(&[u32], &[ValueId])> {
        self.single
            .is_empty()
            .then_some((self.starts.as_slice(), self.values.as_slice()))
    }

    /// The documents' rows as codes, when the segment holds at most
    /// [`RowCodes::MOST_ROWS`] distinct ones (a brand, a colour, a category path).
    #[inline]
    pub fn coded(&self) -> Option<&RowCodes> {
        self.coded.as_ref()
    }

    fn push(&mut self, doc: u32, value: ValueId) {
        while self.starts.len() <= doc as usize {
            self.starts.push(self.values.len() as u32);
        }
        self.values.push(value);
    }

    fn finish(&mut self, num_docs: u32) {
        while self.starts.len() <= num_docs as usize {
            self.starts.push(self.values.len() as u32);
        }
        if num_docs > 0 && self.starts.windows(2).all(|w| w[1] - w[0] <= 1) {
            self.single = self
                .starts
                .windows(2)
                .map(|w| {
                    if w[1] > w[0] {
                        self.values[w[0] as usize]
                    } else {
                        NONE
                    }
                })
                .collect();
            self.starts = Vec::new();
            self.values = Vec::new();
        }
        self.coded = RowCodes::build(self, num_docs);
    }

    fn heap_bytes(&self) -> usize {
        (self.starts.capacity() + self.values.capacity() + self.single.capacity()) * 4
            + self.coded.as_ref().map_or(0, RowCodes::heap_bytes)
    }
}

/// The documents having each value of a column: the column turned inside out, so a
/// filter on a value visits only its documents.
#[derive(Debug, Default, Clone)]
pub struct ValuePostings {
    /// `starts[v]..starts[v + 1]` indexes `docs` for value `v`.
    starts: Vec<u32>,
    docs: Vec<u32>,
}

impl ValuePostings {
    fn build(column: &MultiColumn, num_docs: u32) -> ValuePostings {
        let mut counts: Vec<u32> = Vec::new();
        for doc in 0..num_docs {
            for &v in column.values(doc) {
                let v = v as usize;
                if counts.len() <= v {
                    counts.resize(v + 1, 0);
                }
                counts[v] += 1;
            }
        }
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut at = 0u32;
        starts.push(0);
        for c in &counts {
            at += c;
            starts.push(at);
        }
        let mut fill: Vec<u32> = starts[..counts.len()].to_vec();
        let mut docs = vec![0u32; at as usize];
        for doc in 0..num_docs {
            for &v in column.values(doc) {
                let slot = &mut fill[v as usize];
                docs[*slot as usize] = doc;
                *slot += 1;
            }
        }
        ValuePostings { starts, docs }
    }

    /// The documents (ascending) having value `value`.
    #[inline]
    pub fn docs(&self, value: ValueId) -> &[u32] {
        let v = value as usize;
        match (self.starts.get(v), self.starts.get(v + 1)) {
            (Some(&from), Some(&to)) => &self.docs[from as usize..to as usize],
            _ => &[],
        }
    }

    /// Every value id with its documents (ascending), empty ones included.
    pub fn values(&self) -> impl Iterator<Item = (ValueId, &[u32])> {
        (0..self.starts.len().saturating_sub(1)).map(|v| (v as ValueId, self.docs(v as ValueId)))
    }

    /// How many values have documents.
    pub fn values_held(&self) -> usize {
        self.starts.windows(2).filter(|w| w[1] > w[0]).count()
    }

    fn heap_bytes(&self) -> usize {
        (self.starts.capacity() + self.docs.capacity()) * 4
    }
}

/// The columns of one segment.
#[derive(Debug, Default)]
pub struct SegmentColumns {
    /// Indexed by vocabulary column id; `None` when the segment has no such values.
    keyword: Vec<Option<MultiColumn>>,
    /// The same columns inside out (value → documents), same indexing.
    postings: Vec<Option<ValuePostings>>,
    /// Indexed like `IndexFields::numeric`.
    numeric: Vec<Vec<f64>>,
    /// `ln(1 + popularity)` per document, when the schema has a popularity field.
    prior: Vec<f32>,
    /// The largest of `prior`.
    prior_max: f32,
    /// A number per document fixed by its product id alone ([`tie_order`]).
    tie: Vec<u32>,
    /// Filters' passing documents, by filter text ([`SegmentColumns::filter_bits`]).
    filter_bits: KeptBits<String>,
    /// The documents holding a value, by column and value ([`SegmentColumns::value_bits`]).
    value_bits: KeptBits<(usize, ValueId)>,
    /// Columns and ranges as bitsets for counting facets ([`SegmentColumns::column_bits`]).
    counting: bitsets::KeptCounting,
    /// Documents chosen by a test that may depend on the time, by the test's text
    /// ([`SegmentColumns::timed_bits`]).
    timed_bits: Mutex<HashMap<String, Arc<TimedBits>>>,
    /// Range facets' buckets per document, by numeric column and edges
    /// ([`SegmentColumns::range_codes`]).
    range_codes: Mutex<HashMap<RangeKey, Arc<RangeCodes>>>,
}

/// A range facet: its numeric column and its edges' bits.
type RangeKey = (usize, Vec<u64>);

/// Document bitsets a segment keeps, by what they are the documents of.
type KeptBits<K> = Mutex<HashMap<K, Arc<Vec<u64>>>>;

/// Filters whose passing documents a segment keeps; past that they are dropped and
/// kept afresh (at most 4 MiB for a segment of a million documents).
const FILTER_BITS_KEPT: usize = 32;

/// Timed tests whose documents a segment keeps; past that they are dropped and kept
/// afresh (at most 8 MiB for a segment of a million documents).
const TIMED_BITS_KEPT: usize = 64;

/// Range facets whose buckets a segment keeps as codes; past that they are dropped
/// and kept afresh (at most 16 MiB for a segment of a million documents).
const RANGE_CODES_KEPT: usize = 16;

/// Values whose documents a segment keeps as bitsets; past that they are dropped and
/// kept afresh (at most 16 MiB for a segment of a million documents).
const VALUE_BITS_KEPT: usize = 128;

impl SegmentColumns {
    /// Reads a segment's fast fields into columns, adding new values to `vocab`.
    pub fn build(
        reader: &SegmentReader,
        fields: &IndexFields,
        popularity: Option<usize>,
        vocab: &mut Vocabulary,
    ) -> Result<SegmentColumns> {
        let num_docs = reader.max_doc();
        let mut columns = SegmentColumns::default();
        if let Some(kw) = reader.fast_fields().str(KEYWORDS_FIELD)? {
            // Map this segment's ordinals to (column, value) once.
            let mut ord_map: Vec<(usize, ValueId)> = Vec::with_capacity(kw.num_terms());
            let mut stream = kw
                .dictionary()
                .stream()
                .map_err(|e| Error::io("reading the keyword dictionary", e))?;
            while stream.advance() {
                let term = String::from_utf8_lossy(stream.key());
                let (column, value) = term.split_once(KW_SEPARATOR).unwrap_or((&term, ""));
                ord_map.push(vocab.intern(column, value));
            }
            let ords = kw.ords();
            for doc in 0..num_docs {
                for ord in ords.values_for_doc(doc) {
                    let Some(&(column, value)) = ord_map.get(ord as usize) else {
                        continue;
                    };
                    if columns.keyword.len() <= column {
                        columns.keyword.resize_with(column + 1, || None);
                    }
                    columns.keyword[column]
                        .get_or_insert_with(MultiColumn::default)
                        .push(doc, value);
                }
            }
            for column in columns.keyword.iter_mut().flatten() {
                column.finish(num_docs);
            }
            columns.postings = columns
                .keyword
                .iter()
                .map(|c| c.as_ref().map(|c| ValuePostings::build(c, num_docs)))
                .collect();
        }
        for numeric in &fields.numeric {
            let column = reader.fast_fields().column_opt::<f64>(&numeric.column)?;
            let values = match column {
                Some(col) => (0..num_docs)
                    .map(|doc| col.first(doc).unwrap_or(f64::NAN))
                    .collect(),
                None => vec![f64::NAN; num_docs as usize],
            };
            columns.numeric.push(values);
        }
        if let Some(values) = popularity.and_then(|p| columns.numeric.get(p)) {
            columns.prior = values
                .iter()
                .map(|&v| {
                    if v.is_finite() && v > 0.0 {
                        (1.0 + v).ln() as f32
                    } else {
                        0.0
                    }
                })
                .collect();
            columns.prior_max = columns.prior.iter().copied().fold(0.0, f32::max);
        }
        columns.tie = tie_order(reader, fields.id)?;
        Ok(columns)
    }

    /// The documents passing the filter written `text`, as a bitset: computed by
    /// `compute` the first time, then shared. A segment's documents never change and
    /// a filter's text always means the same test on them (the vocabulary only grows,
    /// and a value new to it is on no document of an older segment).
    pub fn filter_bits(&self, text: &str, compute: impl FnOnce() -> Vec<u64>) -> Arc<Vec<u64>> {
        if let Ok(kept) = self.filter_bits.lock()
            && let Some(bits) = kept.get(text)
        {
            return bits.clone();
        }
        let bits = Arc::new(compute());
        if let Ok(mut kept) = self.filter_bits.lock() {
            if kept.len() >= FILTER_BITS_KEPT {
                kept.clear();
            }
            kept.insert(text.to_string(), bits.clone());
        }
        bits
    }

    /// The documents holding `value` in `column`, as a bitset over the segment's
    /// `max_doc` documents: built from the value's postings the first time, then
    /// shared (the values a profile weighs recur from search to search and from
    /// shopper to shopper). A segment's documents never change, so neither does it.
    pub fn value_bits(&self, column: usize, value: ValueId, max_doc: u32) -> Arc<Vec<u64>> {
        let key = (column, value);
        if let Ok(kept) = self.value_bits.lock()
            && let Some(bits) = kept.get(&key)
        {
            return bits.clone();
        }
        let mut bits = vec![0u64; (max_doc as usize).div_ceil(64)];
        if let Some(postings) = self.postings(column) {
            for &doc in postings.docs(value) {
                if let Some(word) = bits.get_mut(doc as usize / 64) {
                    *word |= 1 << (doc % 64);
                }
            }
        }
        let bits = Arc::new(bits);
        if let Ok(mut kept) = self.value_bits.lock() {
            if kept.len() >= VALUE_BITS_KEPT {
                kept.clear();
            }
            kept.insert(key, bits.clone());
        }
        bits
    }

    /// Column `column`'s values as bitsets over the segment's `max_doc` documents, for
    /// counting a facet a word at a time: built the first time, then shared; `None`
    /// when the segment has no such column or keeps too many bitsets already.
    pub fn column_bits(&self, column: usize, max_doc: u32) -> Option<Arc<ColumnBits>> {
        let postings = self.postings(column)?;
        self.counting.lock().ok()?.column(column, postings, max_doc)
    }

    /// Per edge of `edges`, the documents whose `numeric` value is at or above it, as
    /// bitsets: built the first time, then shared; `None` past the bitsets kept.
    pub fn range_bits(
        &self,
        numeric: usize,
        edges: &[f64],
        max_doc: u32,
    ) -> Option<Arc<RangeBits>> {
        let values = self.numeric.get(numeric)?;
        self.counting
            .lock()
            .ok()?
            .range(numeric, values, edges, max_doc)
    }

    /// The bucket of every document of the segment for a range facet over `numeric`
    /// with `edges`: built the first time, then shared; `None` past
    /// [`RangeCodes::MOST_EDGES`] edges.
    pub fn range_codes(&self, numeric: usize, edges: &[f64]) -> Option<Arc<RangeCodes>> {
        let key = (
            numeric,
            edges.iter().map(|e| e.to_bits()).collect::<Vec<_>>(),
        );
        if let Ok(kept) = self.range_codes.lock()
            && let Some(codes) = kept.get(&key)
        {
            return Some(codes.clone());
        }
        let codes = Arc::new(RangeCodes::build(self.numeric(numeric), edges)?);
        if let Ok(mut kept) = self.range_codes.lock() {
            if kept.len() >= RANGE_CODES_KEPT {
                kept.clear();
            }
            kept.insert(key, codes.clone());
        }
        Some(codes)
    }

    /// The documents passing the test written `text` at time `now` (a rule's `where`,
    /// which may read the clock: "created_at within 30 days"): computed by `compute`
    /// the first time and whenever the kept ones no longer hold at `now`, shared
    /// otherwise. Like a filter's, a test's text always means the same test on a
    /// segment's documents.
    pub fn timed_bits(
        &self,
        text: &str,
        now: i64,
        compute: impl FnOnce() -> TimedBits,
    ) -> Arc<TimedBits> {
        if let Ok(kept) = self.timed_bits.lock()
            && let Some(bits) = kept.get(text).filter(|b| b.holds_at(now))
        {
            return bits.clone();
        }
        let bits = Arc::new(compute());
        if let Ok(mut kept) = self.timed_bits.lock() {
            if kept.len() >= TIMED_BITS_KEPT && !kept.contains_key(text) {
                kept.clear();
            }
            kept.insert(text.to_string(), bits.clone());
        }
        bits
    }

    /// The documents passing the filter written `text`, when kept already.
    pub fn kept_filter_bits(&self, text: &str) -> Option<Arc<Vec<u64>>> {
        self.filter_bits.lock().ok()?.get(text).cloned()
    }

    /// Where the document goes among products ranked exactly equal: a number that
    /// depends only on its product id (0 for a document without one).
    #[inline]
    pub fn tie(&self, doc: u32) -> u32 {
        self.tie.get(doc as usize).copied().unwrap_or(0)
    }

    /// The largest `ln(1 + popularity)` of the segment.
    pub fn prior_max(&self) -> f32 {
        self.prior_max
    }

    /// `ln(1 + popularity)` of each document (empty without a popularity field).
    #[inline]
    pub fn prior(&self) -> &[f32] {
        &self.prior
    }

    /// The exact-value column with vocabulary id `column`, if this segment has values in it.
    #[inline]
    pub fn keyword(&self, column: usize) -> Option<&MultiColumn> {
        self.keyword.get(column).and_then(Option::as_ref)
    }

    /// The documents having each value of column `column`, if this segment has any.
    #[inline]
    pub fn postings(&self, column: usize) -> Option<&ValuePostings> {
        self.postings.get(column).and_then(Option::as_ref)
    }

    /// The numeric values of `IndexFields::numeric[index]`.
    #[inline]
    pub fn numeric(&self, index: usize) -> &[f64] {
        self.numeric.get(index).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Approximate heap memory held, for metrics.
    pub fn heap_bytes(&self) -> usize {
        self.keyword
            .iter()
            .flatten()
            .map(MultiColumn::heap_bytes)
            .sum::<usize>()
            + self
                .postings
                .iter()
                .flatten()
                .map(ValuePostings::heap_bytes)
                .sum::<usize>()
            + self.numeric.iter().map(|n| n.capacity() * 8).sum::<usize>()
            + self.prior.capacity() * 4
            + self.tie.capacity() * 4
            + self.filter_bits.lock().map_or(0, |kept| {
                kept.values().map(|bits| bits.capacity() * 8).sum::<usize>()
            })
            + self.value_bits.lock().map_or(0, |kept| {
                kept.values().map(|bits| bits.capacity() * 8).sum::<usize>()
            })
            + self.counting.lock().map_or(0, |kept| kept.heap_bytes())
            + self.timed_bits.lock().map_or(0, |kept| {
                kept.values().map(|b| b.bits.capacity() * 8).sum::<usize>()
            })
            + self.range_codes.lock().map_or(0, |kept| {
                kept.values().map(|codes| codes.heap_bytes()).sum::<usize>()
            })
    }
}

/// A segment's documents passing a test that may read the clock, and the times
/// `now` at which exactly these documents pass it.
#[derive(Debug, Default)]
pub struct TimedBits {
    /// Bit `d % 64` of word `d / 64` for document `d`.
    pub bits: Vec<u64>,
    /// The test holds for these documents while every window does.
    pub windows: Vec<TimeWindow>,
}

impl TimedBits {
    /// Whether these are the documents passing the test at time `now`.
    pub fn holds_at(&self, now: i64) -> bool {
        self.windows.iter().all(|w| w.holds_at(now))
    }
}

/// When "`value >= now - seconds`" picks the same documents of a numeric column as
/// at the time it was computed: while the threshold `now - seconds` stays above the
/// largest value below it (`above`) and at or below the smallest value at or above
/// it (`upto`), no document crosses it.
#[derive(Debug, Clone, Copy)]
pub struct TimeWindow {
    pub seconds: i64,
    pub above: f64,
    pub upto: f64,
}

impl TimeWindow {
    /// The window of `values >= now - seconds` around `now`.
    pub fn around(values: &[f64], seconds: i64, now: i64) -> TimeWindow {
        let threshold = now.saturating_sub(seconds) as f64;
        let (mut above, mut upto) = (f64::NEG_INFINITY, f64::INFINITY);
        for &v in values {
            if v >= threshold {
                upto = upto.min(v);
            } else if v < threshold {
                above = above.max(v);
            }
        }
        TimeWindow {
            seconds,
            above,
            upto,
        }
    }

    /// Whether the threshold at `now` picks the same documents.
    pub fn holds_at(&self, now: i64) -> bool {
        let threshold = now.saturating_sub(self.seconds) as f64;
        self.above < threshold && threshold <= self.upto
    }
}

/// Per document, a hash of its product id (FNV-1a, 32 bits), read from the `_id`
/// dictionary: products that rank exactly equal are ordered by it, so the same
/// catalog gives the same order however its documents were laid out (tantivy's
/// writer threads number documents differently from build to build, and two replicas
/// that each built the catalog must page through the same list).
fn tie_order(reader: &SegmentReader, id_field: tantivy::schema::Field) -> Result<Vec<u32>> {
    use tantivy::DocSet;
    let mut tie = vec![0u32; reader.max_doc() as usize];
    let inverted = reader.inverted_index(id_field)?;
    let mut stream = inverted
        .terms()
        .stream()
        .map_err(|e| Error::io("reading the product ids", e))?;
    while stream.advance() {
        let hash = fnv1a(stream.key());
        let mut postings = inverted
            .read_postings_from_terminfo(stream.value(), tantivy::schema::IndexRecordOption::Basic)
            .map_err(|e| Error::io("reading the product ids", e))?;
        let mut doc = postings.doc();
        while doc != tantivy::TERMINATED {
            if let Some(slot) = tie.get_mut(doc as usize) {
                *slot = hash;
            }
            doc = postings.advance();
        }
    }
    Ok(tie)
}

/// FNV-1a, 32 bits: fixed across builds, machines and versions (unlike `std`'s hasher).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Columns for every segment of a searcher, aligned with `searcher.segment_readers()`.
pub type Columns = Vec<Arc<SegmentColumns>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tie_hash_is_fnv1a() {
        // Reference values of 32-bit FNV-1a.
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn multi_column_pads_documents_without_values() {
        let mut column = MultiColumn::default();
        column.push(1, 7);
        column.push(1, 8);
        column.push(3, 9);
        column.finish(5);
        assert!(column.single().is_none(), "document 1 has two values");
        assert_eq!(column.values(0), &[] as &[u32]);
        assert_eq!(column.values(1), &[7, 8]);
        assert_eq!(column.values(2), &[] as &[u32]);
        assert_eq!(column.values(3), &[9]);
        assert_eq!(column.values(4), &[] as &[u32]);
        assert_eq!(column.values(99), &[] as &[u32]);
    }

    proptest::proptest! {
        #[test]
        fn a_time_window_holds_exactly_while_the_same_documents_pass(
            values in proptest::collection::vec(
                proptest::prop_oneof![proptest::strategy::Just(f64::NAN), 0.0f64..1000.0],
                0..60,
            ),
            seconds in 1i64..300,
            now in 0i64..1400,
            later in 0i64..1400,
        ) {
            let passing = |now: i64| -> Vec<bool> {
                values.iter().map(|&v| v >= (now - seconds) as f64).collect()
            };
            let window = TimeWindow::around(&values, seconds, now);
            proptest::prop_assert!(window.holds_at(now));
            if window.holds_at(later) {
                proptest::prop_assert_eq!(passing(later), passing(now));
            }
        }
    }

    #[test]
    fn single_valued_columns_are_one_array() {
        let mut column = MultiColumn::default();
        column.push(0, 4);
        column.push(2, 6);
        column.finish(3);
        assert_eq!(column.single(), Some(&[4, ValueId::MAX, 6][..]));
        assert_eq!(column.values(0), &[4]);
        assert_eq!(column.values(1), &[] as &[u32]);
        assert_eq!(column.values(2), &[6]);
    }
}
