//! Facets: which to count, counting them over every match, and shaping the response.
//!
//! [`resolve`] checks the requested names against the schema. During retrieval
//! [`FacetCounts::add`] is called for each document that should count toward a facet:
//! every match, plus documents that fail only the facet's own filters (disjunctive
//! faceting: filtering on `brand:A` still shows how many products `brand:B` has).
//! [`FacetCounts::into_response`] turns the counts into SPEC's JSON shapes: term lists,
//! numeric ranges, and category trees with children.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::Serialize;

use crate::columns::{
    ColumnBits, ColumnDict, NO_PARENT, SegmentColumns, ValueId, Vocabulary, bits_of, count_both,
};
use crate::error::{Error, Result};
use crate::schema::{DEFAULT_FACET_SIZE, FieldKind, FieldRef, StoreSchema};

/// A facet to count.
#[derive(Debug, Clone)]
pub struct FacetSpec {
    /// The name as requested (the response key).
    pub name: String,
    /// The key shared with filters on the same field.
    pub key: String,
    pub kind: FacetKind,
    /// Most values (or children per node) returned.
    pub size: usize,
}

/// How a facet is counted.
#[derive(Debug, Clone)]
pub enum FacetKind {
    /// Values of an exact-value column; `None` when no product has the column.
    Terms { column: Option<usize> },
    /// A category column as a tree.
    Tree { column: Option<usize> },
    /// A numeric field bucketed at `edges`; the last bucket is open-ended.
    Ranges { numeric: usize, edges: Vec<f64> },
    /// A bool field: counts of true and false.
    Bool { numeric: usize },
}

/// Resolves the requested facet names; unknown or non-facetable names are errors.
pub fn resolve(
    names: &[String],
    schema: &StoreSchema,
    vocabulary: &Vocabulary,
    numeric_fields: &[usize],
) -> Result<Vec<FacetSpec>> {
    let mut specs: Vec<FacetSpec> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if specs.iter().any(|s| s.name == name) {
            continue;
        }
        let unknown = || {
            Error::bad_request(
                "unknown_facet",
                format!(
                    "\"{name}\" cannot be faceted; facet fields: {}",
                    schema.facetable_names().join(", ")
                ),
            )
        };
        let spec = match schema.resolve(name).ok_or_else(unknown)? {
            FieldRef::Attribute { column } => {
                let key = column.rsplit_once('.').map(|(_, k)| k).unwrap_or(&column);
                if !schema.attribute_facets.iter().any(|f| f == key) {
                    return Err(unknown());
                }
                FacetSpec {
                    name: name.to_string(),
                    kind: FacetKind::Terms {
                        column: vocabulary.column_id(&column),
                    },
                    key: column,
                    size: DEFAULT_FACET_SIZE,
                }
            }
            FieldRef::Field(def) => {
                let facet = def.facet.as_ref().ok_or_else(unknown)?;
                let def_index = schema
                    .fields
                    .iter()
                    .position(|f| f.name == def.name)
                    .unwrap_or(0);
                let numeric = numeric_fields.iter().position(|&d| d == def_index);
                let kind = match (&def.kind, numeric) {
                    (FieldKind::Keyword { .. }, _) => FacetKind::Terms {
                        column: vocabulary.column_id(&def.name),
                    },
                    (FieldKind::Category { .. }, _) => FacetKind::Tree {
                        column: vocabulary.column_id(&def.name),
                    },
                    (FieldKind::Number, Some(numeric)) => FacetKind::Ranges {
                        numeric,
                        edges: facet.ranges.clone(),
                    },
                    (FieldKind::Bool, Some(numeric)) => FacetKind::Bool { numeric },
                    _ => return Err(unknown()),
                };
                FacetSpec {
                    name: name.to_string(),
                    key: def.name.clone(),
                    kind,
                    size: facet.size,
                }
            }
        };
        specs.push(spec);
    }
    Ok(specs)
}

/// Counters for every requested facet.
#[derive(Debug, Clone)]
pub struct FacetCounts {
    counts: Vec<Vec<u32>>,
}

impl FacetCounts {
    /// Zeroed counters sized for the vocabulary.
    pub fn new(specs: &[FacetSpec], vocabulary: &Vocabulary) -> FacetCounts {
        let counts = specs
            .iter()
            .map(|spec| match &spec.kind {
                FacetKind::Terms { column } | FacetKind::Tree { column } => {
                    vec![0; column.map(|c| vocabulary.column(c).len()).unwrap_or(0)]
                }
                FacetKind::Ranges { edges, .. } => vec![0; edges.len()],
                FacetKind::Bool { .. } => vec![0; 2],
            })
            .collect();
        FacetCounts { counts }
    }

    /// Adds `other`'s counts (another segment's) to these.
    pub fn merge(&mut self, other: &FacetCounts) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }

    /// Replaces facet `index`'s counts.
    pub fn set(&mut self, index: usize, counts: &[u32]) {
        self.counts[index].clear();
        self.counts[index].extend_from_slice(counts);
    }

    /// Zeroes facet `index`.
    pub fn clear(&mut self, index: usize) {
        self.counts[index].iter_mut().for_each(|c| *c = 0);
    }

    /// Facet `index`'s counts.
    pub fn get(&self, index: usize) -> &[u32] {
        &self.counts[index]
    }

    /// Takes document `doc` back out of facet `index` (a hidden product).
    pub fn subtract(&mut self, index: usize, spec: &FacetSpec, columns: &SegmentColumns, doc: u32) {
        let mut one = FacetCounts {
            counts: vec![vec![0; self.counts[index].len()]],
        };
        one.add(0, spec, columns, doc);
        for (total, taken) in self.counts[index].iter_mut().zip(&one.counts[0]) {
            *total = total.saturating_sub(*taken);
        }
    }

    /// Counts every document of `counted` toward facet `index`: document by document,
    /// or a word at a time against the column's value bitsets when the documents are
    /// many for the segment's size ([`Counted::by_words`]).
    pub fn add_all(
        &mut self,
        index: usize,
        spec: &FacetSpec,
        columns: &SegmentColumns,
        counted: &Counted,
    ) {
        let counts = &mut self.counts[index];
        match &spec.kind {
            FacetKind::Terms { column: Some(c) } | FacetKind::Tree { column: Some(c) } => {
                let Some(col) = columns.keyword(*c) else {
                    return;
                };
                // Codes pay when their rows are no more than the documents (each row's
                // count is spread over its values once).
                let coded = col.coded().filter(|c| c.rows() <= counted.len);
                let per_doc = match (coded, col.single()) {
                    (Some(_), _) => DOC_CODED,
                    (None, Some(_)) => DOC_SINGLE,
                    (None, None) => DOC_ROWS,
                };
                if let Some(postings) = columns.postings(*c)
                    && counted.by_words(postings.values_held(), per_doc)
                    && let Some(bits) = columns.column_bits(*c, counted.max_doc)
                {
                    return count_values_by_words(counts, &bits, counted.bits());
                }
                let docs = counted.docs();
                if let Some(coded) = coded {
                    return coded.count(docs, counts);
                }
                match col.single() {
                    Some(single) => count_single(counts, single, docs),
                    None => {
                        for &doc in docs {
                            for &v in col.values(doc) {
                                if let Some(slot) = counts.get_mut(v as usize) {
                                    *slot += 1;
                                }
                            }
                        }
                    }
                }
            }
            FacetKind::Ranges { numeric, edges } => {
                if counted.by_words(edges.len(), DOC_CODED)
                    && let Some(bits) = columns.range_bits(*numeric, edges, counted.max_doc)
                {
                    let matched = counted.bits();
                    for (slot, bucket) in counts.iter_mut().zip(&bits.buckets) {
                        *slot += count_both(matched, bucket);
                    }
                    return;
                }
                if let Some(codes) = columns.range_codes(*numeric, edges) {
                    return codes.count(counted.docs(), counts);
                }
                let values = columns.numeric(*numeric);
                for &doc in counted.docs() {
                    let value = values.get(doc as usize).copied().unwrap_or(f64::NAN);
                    if let Some(bucket) = bucket_of(edges, value) {
                        counts[bucket] += 1;
                    }
                }
            }
            FacetKind::Bool { numeric } => {
                let values = columns.numeric(*numeric);
                for &doc in counted.docs() {
                    match values.get(doc as usize) {
                        Some(v) if *v == 1.0 => counts[0] += 1,
                        Some(v) if *v == 0.0 => counts[1] += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// Counts document `doc` toward facet `index`.
    #[inline]
    pub fn add(&mut self, index: usize, spec: &FacetSpec, columns: &SegmentColumns, doc: u32) {
        let counts = &mut self.counts[index];
        match &spec.kind {
            FacetKind::Terms { column: Some(c) } | FacetKind::Tree { column: Some(c) } => {
                if let Some(col) = columns.keyword(*c) {
                    for &v in col.values(doc) {
                        if let Some(slot) = counts.get_mut(v as usize) {
                            *slot += 1;
                        }
                    }
                }
            }
            FacetKind::Ranges { numeric, edges } => {
                let value = columns
                    .numeric(*numeric)
                    .get(doc as usize)
                    .copied()
                    .unwrap_or(f64::NAN);
                if let Some(bucket) = bucket_of(edges, value) {
                    counts[bucket] += 1;
                }
            }
            FacetKind::Bool { numeric } => {
                let value = columns
                    .numeric(*numeric)
                    .get(doc as usize)
                    .copied()
                    .unwrap_or(f64::NAN);
                if value == 1.0 {
                    counts[0] += 1;
                } else if value == 0.0 {
                    counts[1] += 1;
                }
            }
            _ => {}
        }
    }

    /// The counts as the response's `facets` object.
    pub fn into_response(
        self,
        specs: &[FacetSpec],
        vocabulary: &Vocabulary,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::new();
        for (spec, counts) in specs.iter().zip(self.counts) {
            let values: Vec<FacetValue> = match &spec.kind {
                FacetKind::Terms { column: Some(c) } => {
                    terms(vocabulary.column(*c), &counts, spec.size)
                }
                FacetKind::Tree { column: Some(c) } => {
                    tree(vocabulary.column(*c), &counts, spec.size)
                }
                FacetKind::Ranges { edges, .. } => ranges(edges, &counts),
                FacetKind::Bool { .. } => ["true", "false"]
                    .iter()
                    .zip(&counts)
                    .filter(|(_, n)| **n > 0)
                    .map(|(v, n)| FacetValue::Term {
                        value: v.to_string(),
                        count: *n,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            out.insert(
                spec.name.clone(),
                serde_json::to_value(values).unwrap_or_default(),
            );
        }
        out
    }
}

/// The bucket of `value`: `[edges[i], edges[i+1])`, the last one open-ended.
pub(crate) fn bucket_of(edges: &[f64], value: f64) -> Option<usize> {
    // Counting the edges at or below the value, rather than a binary search: a
    // facet has a handful of edges, prices come in no order, and the count has no
    // branch to mispredict. NaN is below no edge.
    edges
        .iter()
        .map(|&e| usize::from(e <= value))
        .sum::<usize>()
        .checked_sub(1)
}

/// Counts a single-valued column's values over `docs` into `counts`.
///
/// Documents are written in category and brand order (`crate::index`), so such
/// columns come in runs of one value; a run is added at once rather than one
/// increment per document, each waiting on the last. Columns whose values do not
/// run (colours, sizes) are counted document by document.
fn count_single(counts: &mut [u32], single: &[u32], docs: &[u32]) {
    let value = |doc: u32| single.get(doc as usize).copied().unwrap_or(u32::MAX);
    let sample = docs.len().min(64);
    let repeats = docs[..sample]
        .windows(2)
        .filter(|w| value(w[0]) == value(w[1]))
        .count();
    let add = |counts: &mut [u32], v: u32, n: u32| {
        if let Some(slot) = counts.get_mut(v as usize) {
            *slot += n;
        }
    };
    if repeats * 4 < sample * 3 {
        for &doc in docs {
            add(counts, value(doc), 1);
        }
        return;
    }
    let mut run: Option<(u32, u32)> = None;
    for &doc in docs {
        let v = value(doc);
        run = match run {
            Some((last, n)) if last == v => Some((last, n + 1)),
            Some((last, n)) => {
                add(counts, last, n);
                Some((v, 1))
            }
            None => Some((v, 1)),
        };
    }
    if let Some((last, n)) = run {
        add(counts, last, n);
    }
}

/// Adds each value's documents among `matched` (a bitset) to its count.
fn count_values_by_words(counts: &mut [u32], bits: &ColumnBits, matched: &[u64]) {
    for (value, docs) in &bits.values {
        if let Some(slot) = counts.get_mut(*value as usize) {
            *slot += count_both(matched, docs);
        }
    }
}

/// Instructions to count one document by its code (a row's or a range bucket's: one
/// narrow read and an increment), of a single-valued column (one read, runs added
/// at once), of a multi-valued one (a row's bounds and its values); and to count one
/// bitset word for one value (an `and` and a vector popcount, about two with AVX2).
/// Measured with callgrind on the 1M demo catalog; only their ratios matter.
const DOC_CODED: usize = 5;
const DOC_SINGLE: usize = 8;
const DOC_ROWS: usize = 20;
const WORD: usize = 2;

/// The documents of one segment counted toward facets: as a list, a bitset, or both
/// (each made from the other when a facet asks for it).
pub struct Counted<'a> {
    listed: Option<&'a [u32]>,
    docs: OnceCell<Vec<u32>>,
    bits: OnceCell<Vec<u64>>,
    len: usize,
    max_doc: u32,
}

impl<'a> Counted<'a> {
    /// `docs`, each below `max_doc` (the segment's), in any order, none twice.
    pub fn new(docs: &'a [u32], max_doc: u32) -> Counted<'a> {
        Counted {
            listed: Some(docs),
            docs: OnceCell::new(),
            bits: OnceCell::new(),
            len: docs.len(),
            max_doc,
        }
    }

    /// The documents set in `bits`, a bitset over the segment's `max_doc` documents.
    pub fn from_bits(bits: Vec<u64>, max_doc: u32) -> Counted<'static> {
        let len = bits.iter().map(|w| w.count_ones() as usize).sum();
        Counted {
            listed: None,
            docs: OnceCell::new(),
            bits: OnceCell::from(bits),
            len,
            max_doc,
        }
    }

    fn words(&self) -> usize {
        (self.max_doc as usize).div_ceil(64)
    }

    fn docs(&self) -> &[u32] {
        match self.listed {
            Some(docs) => docs,
            None => self.docs.get_or_init(|| {
                let mut docs = Vec::with_capacity(self.len);
                crate::filter::push_bit_docs(self.bits(), &mut docs);
                docs
            }),
        }
    }

    fn bits(&self) -> &[u64] {
        self.bits
            .get_or_init(|| bits_of(self.listed.unwrap_or(&[]), self.words()))
    }

    /// Whether counting `bitsets` value bitsets a word at a time costs less than
    /// counting every document at `per_doc` instructions (making the documents' own
    /// bitset included, or their list when only the bitset is known).
    fn by_words(&self, bitsets: usize, per_doc: usize) -> bool {
        match Counting::current() {
            Counting::ByDocument => false,
            Counting::ByWord => true,
            Counting::Cheaper => {
                let words = self.words();
                let (own, listing) = match (
                    self.bits.get(),
                    self.listed.is_some() || self.docs.get().is_some(),
                ) {
                    (Some(_), true) => (0, 0),
                    (Some(_), false) => (0, words + 2 * self.len),
                    (None, _) => (words + 2 * self.len, 0),
                };
                bitsets.saturating_mul(words).saturating_mul(WORD) + own
                    < self.len.saturating_mul(per_doc) + listing
            }
        }
    }
}

/// How facets count a result set (process-wide; [`Counting::Cheaper`] unless a test
/// compares the two ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Whichever costs less for the facet and the result set's size.
    Cheaper,
    /// Every document's values read one at a time.
    ByDocument,
    /// Value bitsets a word at a time wherever the segment keeps them.
    ByWord,
}

static COUNTING: AtomicU8 = AtomicU8::new(0);

impl Counting {
    /// Sets how facets count, process-wide: for tests that compare the two ways.
    pub fn set(self) {
        let code = match self {
            Counting::Cheaper => 0,
            Counting::ByDocument => 1,
            Counting::ByWord => 2,
        };
        COUNTING.store(code, Ordering::Relaxed);
    }

    fn current() -> Counting {
        match COUNTING.load(Ordering::Relaxed) {
            1 => Counting::ByDocument,
            2 => Counting::ByWord,
            _ => Counting::Cheaper,
        }
    }
}

/// One entry of a facet in the response.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum FacetValue {
    Node {
        value: String,
        count: u32,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        children: Vec<FacetValue>,
    },
    Term {
        value: String,
        count: u32,
    },
    Range {
        from: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<f64>,
        count: u32,
    },
}

/// The OpenAPI schema of a facet entry: one object with optional parts, since the
/// untagged variants overlap (a category node without children reads as a term).
impl utoipa::PartialSchema for FacetValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Ref, Type};
        let number = || ObjectBuilder::new().schema_type(Type::Number);
        ObjectBuilder::new()
            .description(Some(
                "A term or category node (`value`, `count`, category `children`) or a numeric range (`from`, `to` (absent for the open last range), `count`)",
            ))
            .property("value", ObjectBuilder::new().schema_type(Type::String))
            .property("count", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
            .required("count")
            .property("from", number())
            .property("to", number())
            .property(
                "children",
                ArrayBuilder::new().items(Ref::from_schema_name("FacetValue")),
            )
            .into()
    }
}

impl utoipa::ToSchema for FacetValue {}

/// Ids with a count, most frequent first, ties alphabetical.
fn top_ids(
    dict: &ColumnDict,
    counts: &[u32],
    ids: impl Iterator<Item = ValueId>,
    size: usize,
) -> Vec<ValueId> {
    let mut ids: Vec<ValueId> = ids
        .filter(|&id| counts.get(id as usize).is_some_and(|&n| n > 0))
        .collect();
    ids.sort_by(|&a, &b| {
        counts[b as usize]
            .cmp(&counts[a as usize])
            .then_with(|| dict.label(a).cmp(dict.label(b)))
    });
    ids.truncate(size);
    ids
}

fn terms(dict: &ColumnDict, counts: &[u32], size: usize) -> Vec<FacetValue> {
    top_ids(dict, counts, 0..counts.len() as ValueId, size)
        .into_iter()
        .map(|id| FacetValue::Term {
            value: dict.label(id).to_string(),
            count: counts[id as usize],
        })
        .collect()
}

fn tree(dict: &ColumnDict, counts: &[u32], size: usize) -> Vec<FacetValue> {
    let mut children: HashMap<ValueId, Vec<ValueId>> = HashMap::new();
    for id in 0..counts.len() as ValueId {
        if counts[id as usize] > 0 {
            children.entry(dict.parent(id)).or_default().push(id);
        }
    }
    fn build(
        node_children: &[ValueId],
        dict: &ColumnDict,
        counts: &[u32],
        all: &HashMap<ValueId, Vec<ValueId>>,
        size: usize,
        depth: usize,
    ) -> Vec<FacetValue> {
        top_ids(dict, counts, node_children.iter().copied(), size)
            .into_iter()
            .map(|id| FacetValue::Node {
                value: dict.label(id).to_string(),
                count: counts[id as usize],
                children: match all.get(&id) {
                    Some(kids) if depth < 16 => build(kids, dict, counts, all, size, depth + 1),
                    _ => Vec::new(),
                },
            })
            .collect()
    }
    let roots = children.get(&NO_PARENT).cloned().unwrap_or_default();
    build(&roots, dict, counts, &children, size, 0)
}

fn ranges(edges: &[f64], counts: &[u32]) -> Vec<FacetValue> {
    counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, &count)| FacetValue::Range {
            from: edges[i],
            to: edges.get(i + 1).copied(),
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_half_open_and_the_last_is_open_ended() {
        let edges = [0.0, 50.0, 100.0];
        assert_eq!(bucket_of(&edges, -1.0), None);
        assert_eq!(bucket_of(&edges, 0.0), Some(0));
        assert_eq!(bucket_of(&edges, 49.99), Some(0));
        assert_eq!(bucket_of(&edges, 50.0), Some(1));
        assert_eq!(bucket_of(&edges, 100.0), Some(2));
        assert_eq!(bucket_of(&edges, 1e9), Some(2));
        assert_eq!(bucket_of(&edges, f64::NAN), None);
    }

    #[test]
    fn single_columns_count_the_same_in_runs_or_one_by_one() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for clustered in [true, false] {
            // Values 0..12 (12 has no slot: values outside the counts are ignored),
            // in runs of up to 40 or at random; every third document missing.
            let mut single = Vec::new();
            while single.len() < 5_000 {
                let v = rng.random_range(0..13u32);
                let n = if clustered {
                    rng.random_range(1..40)
                } else {
                    1
                };
                single.extend(std::iter::repeat_n(v, n));
            }
            let docs: Vec<u32> = (0..single.len() as u32 + 10)
                .filter(|d| d % 3 != 0)
                .collect();
            let mut counts = vec![0u32; 12];
            count_single(&mut counts, &single, &docs);
            let mut naive = vec![0u32; 12];
            for &d in &docs {
                if let Some(&v) = single.get(d as usize).filter(|&&v| v < 12) {
                    naive[v as usize] += 1;
                }
            }
            assert_eq!(counts, naive, "clustered: {clustered}");
        }
        let mut counts = vec![0u32; 2];
        count_single(&mut counts, &[], &[]);
        assert_eq!(counts, [0, 0]);
    }

    #[test]
    fn trees_nest_children_under_parents() {
        let mut vocab = Vocabulary::new(vec!["category".into()]);
        let (c, sofas) = vocab.intern("category", "Furniture\u{1f}Sofas");
        let (_, chairs) = vocab.intern("category", "Furniture\u{1f}Chairs");
        let (_, lamps) = vocab.intern("category", "Lighting\u{1f}Lamps");
        let dict = vocab.column(c);
        let furniture = dict.parent(sofas);
        let lighting = dict.parent(lamps);
        let mut counts = vec![0; dict.len()];
        counts[furniture as usize] = 5;
        counts[sofas as usize] = 3;
        counts[chairs as usize] = 2;
        counts[lighting as usize] = 1;
        counts[lamps as usize] = 1;
        let out = serde_json::to_value(tree(dict, &counts, 10)).unwrap();
        assert_eq!(
            out,
            serde_json::json!([
                {"value":"Furniture","count":5,"children":[{"value":"Sofas","count":3},{"value":"Chairs","count":2}]},
                {"value":"Lighting","count":1,"children":[{"value":"Lamps","count":1}]}
            ])
        );
    }
}
