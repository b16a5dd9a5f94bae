//! Browsing (an empty query): the facets counted outside the main pass.
//!
//! A browse's main pass ([`super::Pass::browse`]) works on bitsets: the documents
//! passing every filter, built from the clause listing the fewest documents
//! ([`crate::filter::FilterSet::passing_bits`]). A positive filter on exact values
//! (`category:Sofas`, `brand:A|B`) lists the documents it lets through from the
//! columns' value postings; the most selective such filter is the driver, and its own
//! facet is counted here, over all segments at once, over the documents passing all
//! *other* filters (visiting the documents the most selective of those lists, or from
//! their passing bitset, counting the smaller side), or taken from the cached
//! whole-catalog counts when there are no other filters. Browsing with no filter at
//! all takes every facet from the cache.

use std::sync::Arc;

use tantivy::DocId;

use super::Retrieval;
use crate::facets::{Counted, FacetCounts, FacetSpec};
use crate::index::Snapshot;

/// A filter drives only when it lets through less than this share of the catalog.
const DRIVER_SHARE: f64 = 0.5;

/// Which facets a browse counts outside its main pass.
pub(super) struct BrowsePlan {
    /// Facets counted outside the main pass.
    pub separate: Vec<bool>,
}

/// The clause among `allowed` (a bit mask) listing the fewest documents, if that is
/// selective enough to be worth it.
fn most_selective(r: &Retrieval, allowed: u64) -> Option<usize> {
    let docs = r.snapshot.searcher.num_docs().max(1) as f64;
    r.filters
        .clauses
        .iter()
        .enumerate()
        .filter(|(i, _)| allowed & (1 << i) != 0)
        .filter_map(|(i, clause)| {
            let total: Option<usize> = r
                .snapshot
                .columns
                .iter()
                .map(|c| clause.candidate_count(c))
                .sum();
            total.map(|t| (i, t))
        })
        .filter(|(_, total)| (*total as f64) < DRIVER_SHARE * docs)
        .min_by_key(|(_, total)| *total)
        .map(|(i, _)| i)
}

impl BrowsePlan {
    /// Visit everything, count every facet in the main pass (text queries).
    pub fn scan(facets: usize) -> BrowsePlan {
        BrowsePlan {
            separate: vec![false; facets],
        }
    }

    /// The plan for browsing with `r`'s filters and facets.
    pub fn new(r: &Retrieval, own_masks: &[u64]) -> BrowsePlan {
        let all = (1u64 << r.filters.clauses.len()) - 1;
        let driver = most_selective(r, all);
        let separate = own_masks
            .iter()
            .map(|own| r.filters.is_empty() || driver.is_some_and(|d| own & (1 << d) != 0))
            .collect();
        BrowsePlan { separate }
    }

    /// Counts the facets left out of the main pass.
    pub fn count_separately(&self, r: &Retrieval, own_masks: &[u64], counts: &mut FacetCounts) {
        let all = if r.filters.is_empty() {
            0
        } else {
            (1u64 << r.filters.clauses.len()) - 1
        };
        for (i, spec) in r.facets.iter().enumerate() {
            if !self.separate[i] {
                continue;
            }
            let others = all & !own_masks[i];
            if others == 0 {
                counts.set(i, &catalog_counts(r.snapshot, spec));
                remove_hidden(r, i, spec, counts);
                continue;
            }
            let counted = match most_selective(r, others) {
                Some(driver) => count_listed(r, spec, driver, others),
                None => count_by_bits(r, spec, others),
            };
            counts.set(i, &counted);
        }
    }
}

/// One facet's counts over the products passing every filter in `others` (a clause
/// mask), visiting only the documents `driver`'s clause lists.
fn count_listed(r: &Retrieval, spec: &FacetSpec, driver: usize, others: u64) -> Vec<u32> {
    let segments = r.snapshot.searcher.segment_readers();
    let per_segment =
        crate::parallel::per_segment(segments.len(), r.snapshot.searcher.num_docs(), |ord| {
            let Some(columns) = r.snapshot.columns.get(ord) else {
                return counter(r, spec);
            };
            let (listed, passed) = match r.filters.clauses[driver].candidates(columns) {
                Some(listed) => (listed, 1 << driver),
                None => ((0..segments[ord].max_doc()).collect(), 0),
            };
            let filters =
                r.filters
                    .on_segment(columns, segments[ord].max_doc(), listed.len(), passed);
            let passing = listed
                .into_iter()
                .filter(|&doc| filters.fail_mask(doc) & others == 0);
            count_kept(r, spec, ord, passing)
        });
    merged(r, spec, &per_segment)
}

/// One facet's counts over the products passing every filter in `others`, from the
/// passing set built one filter column at a time as a bitset. When the filters keep
/// most of the catalog (`in_stock:true`), the products they leave out are counted
/// instead and taken from the cached whole-catalog counts: the work follows the
/// smaller side.
fn count_by_bits(r: &Retrieval, spec: &FacetSpec, others: u64) -> Vec<u32> {
    let searcher = &r.snapshot.searcher;
    let segments = searcher.segment_readers();
    let bits = crate::parallel::per_segment(segments.len(), searcher.num_docs(), |ord| {
        r.snapshot.columns.get(ord).map(|columns| {
            r.filters
                .passing_bits(columns, others, segments[ord].max_doc())
        })
    });
    let ones = |b: &Option<Vec<u64>>| -> u64 {
        b.iter().flatten().map(|w| u64::from(w.count_ones())).sum()
    };
    let passing: u64 = bits.iter().map(ones).sum();
    let max_docs: u64 = segments.iter().map(|s| u64::from(s.max_doc())).sum();
    let complement = passing.saturating_mul(2) > max_docs;
    let per_segment = crate::parallel::per_segment(segments.len(), searcher.num_docs(), |ord| {
        let Some(bits) = &bits[ord] else {
            return counter(r, spec);
        };
        match complement {
            false => {
                let hidden = r.rules.hidden_bits(ord as u32, segments[ord].max_doc());
                count_set(r, spec, ord, bits, hidden.as_deref())
            }
            true => count_left_out(r, spec, ord, bits),
        }
    });
    let counted = merged(r, spec, &per_segment);
    if !complement {
        return counted;
    }
    let totals = catalog_counts(r.snapshot, spec);
    totals
        .iter()
        .zip(counted.iter().chain(std::iter::repeat(&0)))
        .map(|(total, out)| total.saturating_sub(*out))
        .collect()
}

/// An empty count of one facet.
fn counter(r: &Retrieval, spec: &FacetSpec) -> FacetCounts {
    FacetCounts::new(std::slice::from_ref(spec), &r.snapshot.vocabulary)
}

/// Per-segment counts of one facet added up.
fn merged(r: &Retrieval, spec: &FacetSpec, per_segment: &[FacetCounts]) -> Vec<u32> {
    let mut merged = counter(r, spec);
    for part in per_segment {
        merged.merge(part);
    }
    merged.get(0).to_vec()
}

/// One facet's counts over `docs` of segment `ord` that are live and not hidden.
fn count_kept(
    r: &Retrieval,
    spec: &FacetSpec,
    ord: usize,
    docs: impl Iterator<Item = DocId>,
) -> FacetCounts {
    let segment = r.snapshot.searcher.segment_reader(ord as u32);
    let alive = segment.alive_bitset();
    let live = docs.filter(|&doc| alive.is_none_or(|a| a.is_alive(doc)));
    match r.rules.hidden_bits(ord as u32, segment.max_doc()) {
        None => count_docs(r, spec, ord, live),
        Some(hidden) => count_docs(
            r,
            spec,
            ord,
            live.filter(|&doc| !crate::filter::bit_is_set(&hidden, doc)),
        ),
    }
}

/// One facet's counts over the live documents of segment `ord` that the whole-catalog
/// counts hold and a filtered count must not: those outside `passing` (a bitset), and
/// hidden ones inside it.
fn count_left_out(r: &Retrieval, spec: &FacetSpec, ord: usize, passing: &[u64]) -> FacetCounts {
    let segment = r.snapshot.searcher.segment_reader(ord as u32);
    let max_doc = segment.max_doc();
    let mut failing: Vec<u64> = passing.iter().map(|w| !w).collect();
    if !max_doc.is_multiple_of(64)
        && let Some(last) = failing.last_mut()
    {
        *last &= (1u64 << (max_doc % 64)) - 1;
    }
    for address in r.rules.hidden() {
        let doc = address.doc_id as usize;
        if address.segment_ord as usize == ord
            && let Some(word) = failing.get_mut(doc / 64)
        {
            *word |= 1u64 << (doc % 64);
        }
    }
    count_set(r, spec, ord, &failing, None)
}

/// One facet's counts over the live documents of segment `ord` set in `bits` and not
/// in `skip`.
fn count_set(
    r: &Retrieval,
    spec: &FacetSpec,
    ord: usize,
    bits: &[u64],
    skip: Option<&[u64]>,
) -> FacetCounts {
    let mut counts = counter(r, spec);
    let Some(columns) = r.snapshot.columns.get(ord) else {
        return counts;
    };
    let segment = r.snapshot.searcher.segment_reader(ord as u32);
    let mut set: Vec<u64> = match skip {
        Some(skip) => bits
            .iter()
            .enumerate()
            .map(|(w, &word)| word & !skip.get(w).copied().unwrap_or(0))
            .collect(),
        None => bits.to_vec(),
    };
    if let Some(alive) = segment.alive_bitset() {
        for (w, word) in set.iter_mut().enumerate() {
            let mut rest = *word;
            while rest != 0 {
                let bit = rest.trailing_zeros();
                rest &= rest - 1;
                if !alive.is_alive((w * 64) as DocId + bit) {
                    *word &= !(1u64 << bit);
                }
            }
        }
    }
    counts.add_all(
        0,
        spec,
        columns,
        &Counted::from_bits(set, segment.max_doc()),
    );
    counts
}

/// One facet's counts over `docs` of segment `ord`: gathered into one list, which
/// facets count document by document or, when they are many, a word at a time.
fn count_docs(
    r: &Retrieval,
    spec: &FacetSpec,
    ord: usize,
    docs: impl Iterator<Item = DocId>,
) -> FacetCounts {
    let mut counts = counter(r, spec);
    let Some(columns) = r.snapshot.columns.get(ord) else {
        return counts;
    };
    let max_doc = r.snapshot.searcher.segment_reader(ord as u32).max_doc();
    let docs: Vec<DocId> = docs.collect();
    counts.add_all(0, spec, columns, &Counted::new(&docs, max_doc));
    counts
}

/// Takes hidden products back out of whole-catalog counts.
fn remove_hidden(r: &Retrieval, index: usize, spec: &FacetSpec, counts: &mut FacetCounts) {
    for address in r.rules.hidden() {
        let Some(columns) = r.snapshot.columns.get(address.segment_ord as usize) else {
            continue;
        };
        let segment = r.snapshot.searcher.segment_reader(address.segment_ord);
        if segment
            .alive_bitset()
            .is_none_or(|a| a.is_alive(address.doc_id))
        {
            counts.subtract(index, spec, columns, address.doc_id);
        }
    }
}

/// The facet's counts over every live product, computed once per snapshot.
fn catalog_counts(snapshot: &Snapshot, spec: &FacetSpec) -> Arc<Vec<u32>> {
    if let Ok(cache) = snapshot.facet_totals.lock()
        && let Some(counts) = cache.get(&spec.key)
    {
        return counts.clone();
    }
    let mut counts = FacetCounts::new(std::slice::from_ref(spec), &snapshot.vocabulary);
    for (ord, segment) in snapshot.searcher.segment_readers().iter().enumerate() {
        let Some(columns) = snapshot.columns.get(ord) else {
            continue;
        };
        let alive = segment.alive_bitset();
        let docs: Vec<DocId> = (0..segment.max_doc())
            .filter(|&d| alive.is_none_or(|a| a.is_alive(d)))
            .collect();
        counts.add_all(0, spec, columns, &Counted::new(&docs, segment.max_doc()));
    }
    let counts = Arc::new(counts.get(0).to_vec());
    if let Ok(mut cache) = snapshot.facet_totals.lock() {
        cache.insert(spec.key.clone(), counts.clone());
    }
    counts
}
