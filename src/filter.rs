//! Filters: `field:value` strings in, per-document tests out.
//!
//! Syntax (SPEC): `brand:Nordby`, `brand:Nordby|Acme` (any of), `price:10..50`,
//! `price:..50`, `price:10..` (numeric ranges, both ends inclusive),
//! `category:Furniture/Sofas` (a category path; matches the node and everything under
//! it), `in_stock:true`, `created_at:2026-01-01..2026-06-30`. A leading `-` negates
//! (`-brand:Acme`). Attributes are named by their key (`color:grey`) or in full
//! (`attributes.color:grey`).
//!
//! [`parse`] checks syntax and field names against the schema; [`FilterSet::compile`]
//! resolves values against the snapshot's vocabulary into [`Clause`]s whose test is an
//! array read per document. Each clause carries the facet key it restricts, so facet
//! counting can ignore a facet's own filters (disjunctive faceting).

use crate::catalog::parse_date;
use crate::columns::{ColumnKind, SegmentColumns, ValueId, Vocabulary};
use crate::error::{Error, Result};
use crate::schema::{FieldKind, FieldRef, StoreSchema};

/// At most this many filters in one request (a clause is one bit of a `u64` mask).
pub const MAX_FILTERS: usize = 32;
/// Most values in one any-of filter (`brand:a|b|…`).
pub const MAX_ANY_OF_VALUES: usize = 100;

/// A filter as written, checked for syntax and field name.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterSpec {
    /// The key shared with facets: a schema field name or an attribute column.
    pub key: String,
    pub negate: bool,
    pub target: Target,
    pub condition: Condition,
    /// The filter as the caller wrote it, for messages.
    pub text: String,
}

/// What a filter reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// An exact-value column (keyword field, category, attribute).
    Column { name: String, category: bool },
    /// A numeric field (number, bool, date): index into `IndexFields::numeric`.
    Numeric { index: usize, kind: FieldKind },
}

/// What the value must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    AnyOf(Vec<String>),
    Range { lo: f64, hi: f64 },
}

/// Parses the request's filters.
pub fn parse(
    filters: &[String],
    schema: &StoreSchema,
    numeric_fields: &[usize],
) -> Result<Vec<FilterSpec>> {
    if filters.len() > MAX_FILTERS {
        return Err(Error::bad_request(
            "too_many_filters",
            format!(
                "at most {MAX_FILTERS} filters per request, got {}",
                filters.len()
            ),
        ));
    }
    filters
        .iter()
        .map(|f| parse_one(f, schema, numeric_fields))
        .collect()
}

fn bad(text: &str, why: impl std::fmt::Display) -> Error {
    Error::bad_request("bad_filter", format!("filter \"{text}\": {why}"))
}

fn parse_one(text: &str, schema: &StoreSchema, numeric_fields: &[usize]) -> Result<FilterSpec> {
    let trimmed = text.trim();
    let (negate, body) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let Some((field, value)) = body.split_once(':') else {
        return Err(bad(
            text,
            "write it as field:value, e.g. brand:Nordby, price:10..50, category:Furniture/Sofas",
        ));
    };
    let (field, value) = (field.trim(), value.trim());
    if field.is_empty() || value.is_empty() {
        return Err(bad(
            text,
            "both the field and the value are needed, e.g. brand:Nordby",
        ));
    }
    let unknown = || {
        bad(
            text,
            format!(
                "unknown field \"{field}\"; filterable fields: {}",
                schema.filterable_names().join(", ")
            ),
        )
    };
    let resolved = schema.resolve(field).ok_or_else(unknown)?;
    let (key, target) = match resolved {
        FieldRef::Attribute { column } => (
            column.clone(),
            Target::Column {
                name: column,
                category: false,
            },
        ),
        FieldRef::Field(def) => {
            let target = match &def.kind {
                FieldKind::Text => {
                    return Err(bad(
                        text,
                        format!(
                            "\"{field}\" is free text and cannot be filtered; search it with q"
                        ),
                    ));
                }
                FieldKind::Attributes { .. } => {
                    return Err(bad(
                        text,
                        format!("name one attribute, e.g. {field}.color:grey"),
                    ));
                }
                FieldKind::Keyword { .. } => Target::Column {
                    name: def.name.clone(),
                    category: false,
                },
                FieldKind::Category { .. } => Target::Column {
                    name: def.name.clone(),
                    category: true,
                },
                kind => {
                    let def_index = schema
                        .fields
                        .iter()
                        .position(|f| f.name == def.name)
                        .unwrap_or(0);
                    let index = numeric_fields
                        .iter()
                        .position(|&d| d == def_index)
                        .ok_or_else(unknown)?;
                    Target::Numeric {
                        index,
                        kind: kind.clone(),
                    }
                }
            };
            (def.name.clone(), target)
        }
    };
    let condition = parse_condition(text, field, value, &target)?;
    Ok(FilterSpec {
        key,
        negate,
        target,
        condition,
        text: text.to_string(),
    })
}

fn parse_condition(text: &str, field: &str, value: &str, target: &Target) -> Result<Condition> {
    let numeric_kind = match target {
        Target::Numeric { kind, .. } => Some(kind),
        Target::Column { .. } => None,
    };
    if let Some((lo, hi)) = value.split_once("..") {
        let parse_end = |end: &str, open: f64| -> Result<f64> {
            let end = end.trim();
            if end.is_empty() {
                return Ok(open);
            }
            let parsed = match numeric_kind {
                Some(FieldKind::Date) => parse_date(end).map(|s| s as f64),
                _ => end.parse::<f64>().ok().filter(|v| v.is_finite()),
            };
            parsed.ok_or_else(|| {
                let example = match numeric_kind {
                    Some(FieldKind::Date) => format!("{field}:2026-01-01..2026-06-30"),
                    _ => format!("{field}:10..50, {field}:..50 or {field}:10.."),
                };
                bad(
                    text,
                    format!("\"{end}\" is not a valid range end; write {example}"),
                )
            })
        };
        let (lo, hi) = (
            parse_end(lo, f64::NEG_INFINITY)?,
            parse_end(hi, f64::INFINITY)?,
        );
        if lo > hi {
            return Err(bad(text, "the range's lower end is above its upper end"));
        }
        if matches!(numeric_kind, Some(FieldKind::Bool)) {
            return Err(bad(
                text,
                format!("{field} is true or false; write {field}:true"),
            ));
        }
        return Ok(Condition::Range { lo, hi });
    }
    let values: Vec<String> = value
        .split('|')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err(bad(text, "no value given"));
    }
    if values.len() > MAX_ANY_OF_VALUES {
        return Err(bad(
            text,
            format!(
                "{} values; an any-of filter takes at most {MAX_ANY_OF_VALUES}",
                values.len()
            ),
        ));
    }
    if let Some(kind) = numeric_kind {
        // A numeric field's any-of becomes a set of point ranges; checked here.
        for v in &values {
            numeric_point(kind, v).ok_or_else(|| {
                let expected = match kind {
                    FieldKind::Bool => "true or false".to_string(),
                    FieldKind::Date => "a date such as 2026-03-01".to_string(),
                    _ => format!("a number, or a range such as {field}:10..50"),
                };
                bad(text, format!("\"{v}\" is not {expected}"))
            })?;
        }
    }
    Ok(Condition::AnyOf(values))
}

/// A numeric filter value: numbers, `true`/`false`, dates.
fn numeric_point(kind: &FieldKind, value: &str) -> Option<f64> {
    match kind {
        FieldKind::Bool => match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(1.0),
            "false" | "0" | "no" => Some(0.0),
            _ => None,
        },
        FieldKind::Date => parse_date(value).map(|s| s as f64),
        _ => value.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// How one compiled clause tests a document.
#[derive(Debug, Clone)]
pub enum Test {
    /// Some value of the document is accepted; `accept` is indexed by value id.
    Column {
        column: Option<usize>,
        accept: Vec<bool>,
    },
    /// The document's number lies in one of the (inclusive) ranges.
    Numeric {
        index: usize,
        ranges: Vec<(f64, f64)>,
    },
}

/// One filter, ready to test documents.
#[derive(Debug, Clone)]
pub struct Clause {
    /// The filter as written: what its cached passing documents are kept under
    /// ([`SegmentColumns::filter_bits`]).
    pub text: String,
    pub key: String,
    pub negate: bool,
    pub test: Test,
}

impl Test {
    /// Whether document `doc` satisfies the test.
    #[inline]
    pub fn matches(&self, columns: &SegmentColumns, doc: u32) -> bool {
        match self {
            Test::Column { column, accept } => {
                column.and_then(|c| columns.keyword(c)).is_some_and(|col| {
                    col.values(doc)
                        .iter()
                        .any(|&v| accept.get(v as usize).copied().unwrap_or(false))
                })
            }
            Test::Numeric { index, ranges } => {
                let value = columns
                    .numeric(*index)
                    .get(doc as usize)
                    .copied()
                    .unwrap_or(f64::NAN);
                ranges.iter().any(|&(lo, hi)| value >= lo && value <= hi)
            }
        }
    }
}

impl Clause {
    /// Whether the document passes this clause.
    #[inline]
    pub fn passes(&self, columns: &SegmentColumns, doc: u32) -> bool {
        self.test.matches(columns, doc) != self.negate
    }

    /// Clears from `bits` (bit `d % 64` of word `d / 64`) the documents this clause
    /// rejects, reading its column once.
    pub fn retain_passing(&self, columns: &SegmentColumns, bits: &mut [u64]) {
        let negate = self.negate;
        match &self.test {
            Test::Numeric { index, ranges } => {
                let values = columns.numeric(*index);
                retain_bits(bits, |d| {
                    let v = values.get(d).copied().unwrap_or(f64::NAN);
                    ranges.iter().any(|&(lo, hi)| v >= lo && v <= hi) != negate
                });
            }
            Test::Column { column, accept } => {
                let column = column.and_then(|c| columns.keyword(c));
                match column.and_then(|c| c.single()) {
                    Some(single) => retain_bits(bits, |d| {
                        let v = single.get(d).copied().unwrap_or(ValueId::MAX);
                        accept.get(v as usize).copied().unwrap_or(false) != negate
                    }),
                    None => retain_bits(bits, |d| self.passes(columns, d as u32)),
                }
            }
        }
    }
}

impl Clause {
    /// The documents of a segment of `max_doc` documents passing the clause, as a
    /// bitset: scanned over the clause's column once per segment, then kept with the
    /// segment's columns (a segment never changes, and a store filters by the same
    /// few things — `in_stock:true` — over and over).
    pub fn bits(&self, columns: &SegmentColumns, max_doc: u32) -> std::sync::Arc<Vec<u64>> {
        columns.filter_bits(&self.text, || {
            let mut bits = every_document(max_doc);
            self.retain_passing(columns, &mut bits);
            bits
        })
    }

    /// How many documents of the segment the clause lets through, when it can list them
    /// (a positive filter on exact values); `None` when it can only be tested.
    pub fn candidate_count(&self, columns: &SegmentColumns) -> Option<usize> {
        let Test::Column { column, accept } = &self.test else {
            return None;
        };
        if self.negate {
            return None;
        }
        let Some(postings) = column.and_then(|c| columns.postings(c)) else {
            return Some(0);
        };
        Some(
            accept
                .iter()
                .enumerate()
                .filter(|(_, ok)| **ok)
                .map(|(v, _)| postings.docs(v as ValueId).len())
                .sum(),
        )
    }

    /// Sets in `bits` (a segment's document bitset) the documents the clause lists
    /// (see [`Clause::candidate_count`]); nothing when it cannot list them.
    pub fn set_candidates(&self, columns: &SegmentColumns, bits: &mut [u64]) {
        let Test::Column { column, accept } = &self.test else {
            return;
        };
        let Some(postings) = column.and_then(|c| columns.postings(c)) else {
            return;
        };
        if self.negate {
            return;
        }
        let values = accept.iter().enumerate().filter(|(_, ok)| **ok);
        for (value, _) in values {
            for &doc in postings.docs(value as ValueId) {
                if let Some(word) = bits.get_mut(doc as usize / 64) {
                    *word |= 1u64 << (doc % 64);
                }
            }
        }
    }

    /// The documents of the segment the clause lets through, ascending, when it can
    /// list them (see [`Clause::candidate_count`]).
    pub fn candidates(&self, columns: &SegmentColumns) -> Option<Vec<u32>> {
        let Test::Column { column, accept } = &self.test else {
            return None;
        };
        if self.negate {
            return None;
        }
        let Some(postings) = column.and_then(|c| columns.postings(c)) else {
            return Some(Vec::new());
        };
        let lists: Vec<&[u32]> = accept
            .iter()
            .enumerate()
            .filter(|(_, ok)| **ok)
            .map(|(v, _)| postings.docs(v as ValueId))
            .filter(|list| !list.is_empty())
            .collect();
        Some(match lists.as_slice() {
            [] => Vec::new(),
            [one] => one.to_vec(),
            // Several values' documents, each list ascending: marked in a bitset and
            // read back in order, rather than concatenated and sorted.
            _ => {
                let end = lists
                    .iter()
                    .filter_map(|l| l.last())
                    .max()
                    .map_or(0, |&d| d + 1);
                let mut bits = vec![0u64; (end as usize).div_ceil(64)];
                for &doc in lists.iter().copied().flatten() {
                    if let Some(word) = bits.get_mut(doc as usize / 64) {
                        *word |= 1u64 << (doc % 64);
                    }
                }
                bit_docs(&bits)
            }
        })
    }
}

/// The request's filters, compiled; at most [`MAX_FILTERS`].
#[derive(Debug, Clone, Default)]
pub struct FilterSet {
    pub clauses: Vec<Clause>,
}

impl FilterSet {
    /// Resolves parsed filters against the vocabulary.
    ///
    /// An attribute no product has is reported as unknown: it is far more likely a
    /// typo (`colr:grey`) than a real attribute with no values.
    pub fn compile(
        specs: &[FilterSpec],
        vocabulary: &Vocabulary,
        schema: &StoreSchema,
    ) -> Result<FilterSet> {
        let mut clauses = Vec::with_capacity(specs.len());
        for spec in specs {
            if let Target::Column { name, .. } = &spec.target
                && vocabulary.column_id(name).is_none()
                && schema.field(name).is_none()
            {
                return Err(bad(
                    &spec.text,
                    format!(
                        "no product has the attribute \"{}\"; filterable fields: {}; attributes: {}",
                        name.split_once('.').map(|(_, k)| k).unwrap_or(name),
                        schema.filterable_names().join(", "),
                        known_attributes(vocabulary, schema).join(", ")
                    ),
                ));
            }
            clauses.push(Clause {
                text: spec.text.trim().to_string(),
                key: spec.key.clone(),
                negate: spec.negate,
                test: compile_test(spec, vocabulary),
            });
        }
        Ok(FilterSet { clauses })
    }

    /// Bit `i` is set when the document fails clause `i`.
    #[inline]
    pub fn fail_mask(&self, columns: &SegmentColumns, doc: u32) -> u64 {
        let mut mask = 0u64;
        for (i, clause) in self.clauses.iter().enumerate() {
            if !clause.passes(columns, doc) {
                mask |= 1 << i;
            }
        }
        mask
    }

    /// The documents of a segment of `max_doc` documents passing every clause in
    /// `mask`, as a bitset (bit `d % 64` of word `d / 64`), built one clause at a time
    /// rather than by testing every clause of every document through
    /// [`FilterSet::fail_mask`]. The clauses whose bitsets the segment keeps are ANDed
    /// first; without any, it starts from the clause listing the fewest documents (its
    /// value postings, then kept; every document when none lists them). Each clause left then
    /// ANDs its bitset (built and kept when the documents still in are enough to pay
    /// for a scan of its column), or tests just those documents.
    pub fn passing_bits(&self, columns: &SegmentColumns, mask: u64, max_doc: u32) -> Vec<u64> {
        let in_mask = |i: usize| i < 64 && mask & (1 << i) != 0;
        let kept: Vec<Option<std::sync::Arc<Vec<u64>>>> = self
            .clauses
            .iter()
            .enumerate()
            .map(|(i, c)| {
                in_mask(i)
                    .then(|| columns.kept_filter_bits(&c.text))
                    .flatten()
            })
            .collect();
        let listing = self
            .clauses
            .iter()
            .enumerate()
            .filter(|(i, _)| in_mask(*i) && kept.iter().all(Option::is_none))
            .filter_map(|(i, clause)| Some((i, clause.candidate_count(columns)?)))
            .min_by_key(|&(_, count)| count)
            .filter(|&(_, count)| count.saturating_mul(2) < max_doc as usize);
        let mut bits = match listing {
            // Kept too: the next search filtering the same way starts from it.
            Some((i, _)) => {
                let clause = &self.clauses[i];
                let listed = columns.filter_bits(&clause.text, || {
                    let mut bits = vec![0u64; (max_doc as usize).div_ceil(64)];
                    clause.set_candidates(columns, &mut bits);
                    bits
                });
                listed.to_vec()
            }
            None => every_document(max_doc),
        };
        for passing in kept.iter().flatten() {
            and_into(&mut bits, passing);
        }
        let mut left: usize = bits.iter().map(|w| w.count_ones() as usize).sum();
        for (i, clause) in self.clauses.iter().enumerate() {
            let done = kept[i].is_some() || listing.is_some_and(|(l, _)| l == i);
            if !in_mask(i) || done {
                continue;
            }
            match left.saturating_mul(8) >= max_doc as usize {
                true => and_into(&mut bits, &clause.bits(columns, max_doc)),
                false => clause.retain_passing(columns, &mut bits),
            }
            left = bits.iter().map(|w| w.count_ones() as usize).sum();
        }
        bits
    }

    /// The filters ready to test documents of one segment: through each clause's
    /// kept bitset where the segment has one, or builds one when `tested` documents
    /// (of `max_doc`) are enough to pay for the scan; one column read per clause
    /// otherwise. The clauses in `passed` (a clause mask) are known to pass every
    /// document that will be tested — the documents were listed from one of them
    /// ([`Clause::candidates`]) — and are not tested again.
    pub fn on_segment<'a>(
        &'a self,
        columns: &'a SegmentColumns,
        max_doc: u32,
        tested: usize,
        passed: u64,
    ) -> SegmentFilters<'a> {
        let scan_pays = tested.saturating_mul(8) >= max_doc as usize;
        let tests = self
            .clauses
            .iter()
            .enumerate()
            .filter(|(i, _)| passed & (1 << i) == 0)
            .map(|(i, clause)| {
                let bits = match scan_pays {
                    true => Some(clause.bits(columns, max_doc)),
                    false => columns.kept_filter_bits(&clause.text),
                };
                (i, clause, bits)
            })
            .collect();
        SegmentFilters { columns, tests }
    }

    /// The mask of every clause (0 without filters).
    pub fn every_clause(&self) -> u64 {
        match self.clauses.len() {
            0 => 0,
            n => u64::MAX >> (64 - n.min(64)),
        }
    }

    /// The bits of the clauses that restrict facet `key`.
    pub fn mask_for_key(&self, key: &str) -> u64 {
        self.clauses
            .iter()
            .enumerate()
            .filter(|(_, c)| c.key == key)
            .fold(0, |mask, (i, _)| mask | (1 << i))
    }

    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }
}

/// A request's filters on one segment ([`FilterSet::on_segment`]).
pub struct SegmentFilters<'a> {
    columns: &'a SegmentColumns,
    /// The clauses to test: index, clause, and its passing documents when the
    /// segment keeps them.
    tests: Vec<ClauseTest<'a>>,
}

/// One clause of a [`SegmentFilters`]: its index in the set, the clause, and its
/// kept bitset on the segment, if any.
type ClauseTest<'a> = (usize, &'a Clause, Option<std::sync::Arc<Vec<u64>>>);

impl SegmentFilters<'_> {
    /// The clauses document `doc` fails: bit `i` for clause `i` (as
    /// [`FilterSet::fail_mask`], save the clauses known to pass).
    #[inline]
    pub fn fail_mask(&self, doc: u32) -> u64 {
        let mut mask = 0u64;
        for (i, clause, bits) in &self.tests {
            let passes = match bits {
                Some(bits) => bit_is_set(bits, doc),
                None => clause.passes(self.columns, doc),
            };
            if !passes {
                mask |= 1 << i;
            }
        }
        mask
    }
}

/// Keeps in `bits` only what `passing` also has (both document bitsets).
fn and_into(bits: &mut [u64], passing: &[u64]) {
    for (word, pass) in bits.iter_mut().zip(passing) {
        *word &= pass;
    }
}

/// A bitset with the `max_doc` documents of a segment set.
fn every_document(max_doc: u32) -> Vec<u64> {
    let mut bits = vec![!0u64; (max_doc as usize).div_ceil(64)];
    if !max_doc.is_multiple_of(64)
        && let Some(last) = bits.last_mut()
    {
        *last = (1u64 << (max_doc % 64)) - 1;
    }
    bits
}

/// Keeps in `bits` the set bits whose document passes `passes`.
#[inline]
fn retain_bits(bits: &mut [u64], passes: impl Fn(usize) -> bool) {
    for (w, word) in bits.iter_mut().enumerate() {
        if *word == !0 {
            // Every document still in: all 64 tested without a branch per document.
            let first = w * 64;
            *word = (0..64).fold(0u64, |kept, bit| {
                kept | (u64::from(passes(first + bit)) << bit)
            });
            continue;
        }
        let mut rest = *word;
        let mut kept = 0u64;
        while rest != 0 {
            let bit = rest.trailing_zeros();
            if passes(w * 64 + bit as usize) {
                kept |= 1 << bit;
            }
            rest &= rest - 1;
        }
        *word = kept;
    }
}

/// Whether bit `doc` of a document bitset is set (documents past its end are not).
#[inline]
pub fn bit_is_set(bits: &[u64], doc: u32) -> bool {
    bits.get(doc as usize / 64)
        .is_some_and(|word| word >> (doc % 64) & 1 == 1)
}

/// The documents of a bitset made by [`FilterSet::passing_bits`], ascending.
pub fn bit_docs(bits: &[u64]) -> Vec<u32> {
    let mut docs = Vec::new();
    push_bit_docs(bits, &mut docs);
    docs
}

/// Appends to `docs` the documents of a bitset, ascending: a word at a time, one
/// `trailing_zeros` per document.
pub fn push_bit_docs(bits: &[u64], docs: &mut Vec<u32>) {
    for (w, &word) in bits.iter().enumerate() {
        let mut rest = word;
        while rest != 0 {
            docs.push((w * 64) as u32 + rest.trailing_zeros());
            rest &= rest - 1;
        }
    }
}

/// Attribute names some product has, for error messages.
fn known_attributes(vocabulary: &Vocabulary, schema: &StoreSchema) -> Vec<String> {
    let Some(attrs) = schema.attributes_field() else {
        return Vec::new();
    };
    let prefix = format!("{}.", attrs.name);
    let mut names: Vec<String> = vocabulary
        .columns()
        .iter()
        .filter_map(|c| c.name.strip_prefix(&prefix).map(str::to_string))
        .collect();
    names.sort();
    names
}

fn compile_test(spec: &FilterSpec, vocabulary: &Vocabulary) -> Test {
    match (&spec.target, &spec.condition) {
        (Target::Numeric { index, kind }, Condition::AnyOf(values)) => Test::Numeric {
            index: *index,
            ranges: values
                .iter()
                .filter_map(|v| numeric_point(kind, v))
                .map(|p| (p, p))
                .collect(),
        },
        (Target::Numeric { index, .. }, Condition::Range { lo, hi }) => Test::Numeric {
            index: *index,
            ranges: vec![(*lo, *hi)],
        },
        (Target::Column { name, category }, condition) => {
            let Some(column) = vocabulary.column_id(name) else {
                return Test::Column {
                    column: None,
                    accept: Vec::new(),
                };
            };
            let dict = vocabulary.column(column);
            let mut accept = vec![false; dict.len()];
            let ids: Vec<ValueId> = match condition {
                Condition::AnyOf(values) if *category && dict.kind == ColumnKind::Category => {
                    values
                        .iter()
                        .flat_map(|v| category_nodes(dict, v))
                        .collect()
                }
                Condition::AnyOf(values) => values.iter().filter_map(|v| dict.lookup(v)).collect(),
                Condition::Range { lo, hi } => (0..dict.len() as ValueId)
                    .filter(|&id| {
                        let n = dict.number(id);
                        n >= *lo && n <= *hi
                    })
                    .collect(),
            };
            for id in ids {
                if let Some(slot) = accept.get_mut(id as usize) {
                    *slot = true;
                }
            }
            Test::Column {
                column: Some(column),
                accept,
            }
        }
    }
}

/// Category nodes named by a filter path.
///
/// An exact path (`Furniture/Living Room/Sofas`) names one node. A shorter path names
/// every node whose path contains its levels in order and ends with its last level, so
/// `Furniture/Sofas` and `Sofas` also find `Furniture/Living Room/Sofas`.
pub fn category_nodes(dict: &crate::columns::ColumnDict, path: &str) -> Vec<ValueId> {
    if let Some(id) = dict.lookup(path) {
        return vec![id];
    }
    let wanted: Vec<String> = path
        .split('/')
        .map(crate::columns::normalize_value)
        .filter(|l| !l.is_empty())
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    dict.ids_where(|key| {
        let levels: Vec<&str> = key.split('/').collect();
        if levels.last() != wanted.last().map(String::as_str).as_ref() {
            return false;
        }
        let mut it = levels.iter();
        wanted.iter().all(|w| it.any(|l| l == w))
    })
}

#[cfg(test)]
mod tests;
