//! Narrow per-document codes, for counting facets over many documents.
//!
//! Counting a facet reads every matching document's value: for a common word's tens
//! of thousands of matches, that read (four bytes a document for a brand, a row's
//! bounds and values for a category path, eight for a price) is what the count costs,
//! and it misses the cache. Here a document's values are one byte (two past 256
//! distinct rows): [`RowCodes`] codes a keyword column's rows (built with the
//! segment's columns), [`RangeCodes`] a range facet's buckets (built on the first
//! count that asks, then kept for the segment's life). Counts go into a small table
//! per code, then to the values each code stands for.
//!
//! Enters: a segment's [`super::MultiColumn`] rows or numeric column. Leaves: counts
//! per value or bucket, equal to reading every document's values.

use std::collections::HashMap;

use super::{MultiColumn, ValueId};

/// A column's documents as codes into the distinct rows (value lists) the segment
/// holds: a document's brand, colour or category path is one byte (two past 256
/// rows) rather than four, or a row's bounds and values. Counting a facet over many
/// documents then reads a quarter of the memory or less, counts per row in a table
/// that stays in the first-level cache, and adds each row's count to its values once.
#[derive(Debug, Clone)]
pub struct RowCodes {
    codes: Codes,
    /// `starts[c]..starts[c + 1]` indexes `values` for the row of code `c`.
    starts: Vec<u32>,
    values: Vec<ValueId>,
}

#[derive(Debug, Clone)]
enum Codes {
    Bytes(Vec<u8>),
    Shorts(Vec<u16>),
}

impl RowCodes {
    /// The most distinct rows a column is coded with (two bytes a document).
    pub const MOST_ROWS: usize = 1 << 16;

    /// Codes for `column`'s rows of documents `0..num_docs`; `None` past
    /// [`RowCodes::MOST_ROWS`] distinct rows.
    pub(super) fn build(column: &MultiColumn, num_docs: u32) -> Option<RowCodes> {
        let mut index: HashMap<&[ValueId], u16> = HashMap::new();
        let mut codes: Vec<u16> = Vec::with_capacity(num_docs as usize);
        let (mut starts, mut values) = (vec![0u32], Vec::new());
        // Documents come in runs of one brand and category (`crate::index`): the last
        // row is compared before the index is looked up.
        let mut last: Option<(&[ValueId], u16)> = None;
        for doc in 0..num_docs {
            let row = column.values(doc);
            let code = match last {
                Some((r, code)) if r == row => code,
                _ => match index.get(row) {
                    Some(&code) => code,
                    None => {
                        let code = u16::try_from(index.len()).ok()?;
                        index.insert(row, code);
                        values.extend_from_slice(row);
                        starts.push(u32::try_from(values.len()).ok()?);
                        code
                    }
                },
            };
            last = Some((row, code));
            codes.push(code);
        }
        let codes = match index.len() <= 256 {
            true => Codes::Bytes(codes.iter().map(|&c| c as u8).collect()),
            false => Codes::Shorts(codes),
        };
        Some(RowCodes {
            codes,
            starts,
            values,
        })
    }

    /// How many distinct rows there are.
    pub fn rows(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// The values of the row of code `code`.
    #[inline]
    pub fn row(&self, code: usize) -> &[ValueId] {
        match (self.starts.get(code), self.starts.get(code + 1)) {
            (Some(&from), Some(&to)) => self.values.get(from as usize..to as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The code of document `doc`'s row (past the documents: an empty row's code or
    /// any, as [`RowCodes::row`] of a code past the rows is empty).
    #[inline]
    pub fn code(&self, doc: u32) -> usize {
        match &self.codes {
            Codes::Bytes(codes) => codes.get(doc as usize).map_or(usize::MAX, |&c| c.into()),
            Codes::Shorts(codes) => codes.get(doc as usize).map_or(usize::MAX, |&c| c.into()),
        }
    }

    /// `of(row)` for the row of every code, indexed by code: a per-document function
    /// of the values worked out once per distinct row.
    pub fn per_row<T>(&self, mut of: impl FnMut(&[ValueId]) -> T) -> Vec<T> {
        (0..self.rows()).map(|code| of(self.row(code))).collect()
    }

    /// Adds one to `counts[v]` for every document of `docs` and every value `v` of its
    /// row (what reading each document's values adds), with one narrow read a
    /// document.
    pub fn count(&self, docs: &[u32], counts: &mut [u32]) {
        let per_row = match &self.codes {
            Codes::Bytes(codes) => count_codes(codes, docs, self.rows()),
            Codes::Shorts(codes) => count_codes(codes, docs, self.rows()),
        };
        for (code, &n) in per_row.iter().enumerate().filter(|(_, n)| **n > 0) {
            for &v in self.row(code) {
                if let Some(slot) = counts.get_mut(v as usize) {
                    *slot += n;
                }
            }
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        let codes = match &self.codes {
            Codes::Bytes(c) => c.capacity(),
            Codes::Shorts(c) => c.capacity() * 2,
        };
        codes + (self.starts.capacity() + self.values.capacity()) * 4
    }
}

/// Documents per code over `docs` (codes below `rows`). Four tables, a document to
/// each in turn, so that neighbours of one code (a run of one brand) do not each wait
/// on the last one's increment.
fn count_codes<C: Copy + Into<usize>>(codes: &[C], docs: &[u32], rows: usize) -> Vec<u32> {
    if rows == 0 {
        return Vec::new();
    }
    let mut tables = vec![0u32; 4 * rows];
    let (lanes, rest) = docs.as_chunks::<4>();
    let code = |doc: u32| codes.get(doc as usize).map(|&c| c.into());
    for lane in lanes {
        for (t, &doc) in lane.iter().enumerate() {
            if let Some(slot) = code(doc).and_then(|c| tables.get_mut(t * rows + c)) {
                *slot += 1;
            }
        }
    }
    for &doc in rest {
        if let Some(slot) = code(doc).and_then(|c| tables.get_mut(c)) {
            *slot += 1;
        }
    }
    let (first, others) = tables.split_at_mut(rows);
    for table in others.chunks(rows) {
        for (a, b) in first.iter_mut().zip(table) {
            *a += b;
        }
    }
    tables.truncate(rows);
    tables
}

/// A range facet's bucket of every document of a segment, one byte each: what
/// [`crate::facets::bucket_of`] places a value in, or none (below the first edge,
/// missing).
#[derive(Debug)]
pub struct RangeCodes {
    /// Per document its bucket, or `buckets` for none.
    codes: Vec<u8>,
    buckets: usize,
}

impl RangeCodes {
    /// The most edges a range facet is coded for (a byte per document, one code for
    /// none).
    pub const MOST_EDGES: usize = u8::MAX as usize;

    /// The buckets of `values` between `edges`; `None` past [`RangeCodes::MOST_EDGES`].
    pub fn build(values: &[f64], edges: &[f64]) -> Option<RangeCodes> {
        let none = u8::try_from(edges.len())
            .ok()
            .filter(|_| edges.len() <= Self::MOST_EDGES)?;
        let codes = values
            .iter()
            .map(|&v| {
                crate::facets::bucket_of(edges, v)
                    .and_then(|b| u8::try_from(b).ok())
                    .unwrap_or(none)
            })
            .collect();
        Some(RangeCodes {
            codes,
            buckets: edges.len(),
        })
    }

    /// Adds every document of `docs` to the count of its bucket in `counts`.
    pub fn count(&self, docs: &[u32], counts: &mut [u32]) {
        let per_code = count_codes(&self.codes, docs, self.buckets + 1);
        for (slot, n) in counts.iter_mut().zip(&per_code[..self.buckets]) {
            *slot += n;
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.codes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A column of `num_docs` documents with the given rows (document, value).
    fn column(num_docs: u32, values: &[(u32, ValueId)]) -> MultiColumn {
        let mut sorted = values.to_vec();
        sorted.sort_by_key(|&(doc, _)| doc);
        let mut column = MultiColumn::default();
        for (doc, value) in sorted {
            column.push(doc, value);
        }
        column.finish(num_docs);
        column
    }

    /// The oracle: every document's values read one at a time.
    fn counted_by_document(column: &MultiColumn, docs: &[u32], values: usize) -> Vec<u32> {
        let mut counts = vec![0u32; values];
        for &doc in docs {
            for &v in column.values(doc) {
                counts[v as usize] += 1;
            }
        }
        counts
    }

    proptest! {
        #[test]
        fn row_codes_count_what_each_documents_values_add(
            num_docs in 1u32..600,
            // Few values (one byte of codes) or many (two), repeats within a row
            // included.
            spread in prop_oneof![Just(6u32), Just(900u32)],
            pairs in prop::collection::vec((0u32..600, 0u32..1000), 0..1500),
            picked in prop::collection::vec(any::<bool>(), 600),
        ) {
            let pairs: Vec<(u32, ValueId)> = pairs
                .into_iter()
                .filter(|&(doc, _)| doc < num_docs)
                .map(|(doc, v)| (doc, v % spread))
                .collect();
            let column = column(num_docs, &pairs);
            let coded = column.coded().expect("few rows are coded");
            let docs: Vec<u32> = (0..num_docs).filter(|&d| picked[d as usize]).collect();
            let mut counts = vec![0u32; spread as usize];
            coded.count(&docs, &mut counts);
            prop_assert_eq!(counts, counted_by_document(&column, &docs, spread as usize));
            for doc in 0..num_docs {
                let code = match &coded.codes {
                    Codes::Bytes(c) => usize::from(c[doc as usize]),
                    Codes::Shorts(c) => usize::from(c[doc as usize]),
                };
                prop_assert_eq!(coded.row(code), column.values(doc));
            }
        }

        #[test]
        fn range_codes_count_each_value_in_its_bucket(
            values in prop::collection::vec(
                prop_oneof![Just(f64::NAN), -10.0f64..3000.0, Just(25.0), Just(1000.0)],
                1..400,
            ),
            picked in prop::collection::vec(any::<bool>(), 400),
        ) {
            let edges = [0.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0];
            let codes = RangeCodes::build(&values, &edges).unwrap();
            let docs: Vec<u32> = (0..values.len() as u32).filter(|&d| picked[d as usize]).collect();
            let mut counts = vec![0u32; edges.len()];
            codes.count(&docs, &mut counts);
            let mut expected = vec![0u32; edges.len()];
            for &doc in &docs {
                if let Some(b) = crate::facets::bucket_of(&edges, values[doc as usize]) {
                    expected[b] += 1;
                }
            }
            prop_assert_eq!(counts, expected);
        }
    }

    #[test]
    fn too_many_distinct_rows_are_not_coded() {
        let pairs: Vec<(u32, ValueId)> = (0..70_000u32).map(|d| (d, d)).collect();
        assert!(column(70_000, &pairs).coded().is_none());
        let pairs: Vec<(u32, ValueId)> = (0..70_000u32).map(|d| (d, d % 300)).collect();
        assert!(matches!(
            column(70_000, &pairs).coded().map(|c| &c.codes),
            Some(Codes::Shorts(_))
        ));
    }
}
