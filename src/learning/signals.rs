//! Signals: what the evidence supports, ready for the search pipeline.
//!
//! [`Signals`] holds, per normalized query, each product's learned signal in [-1, 1]
//! (a tie factor) and the crowd's coarse verdicts (the `learned` ranking criterion:
//! preferred or passed over); per head word, the positive signals for related queries
//! (at a reduced share) and the product types its queries lead to — used only by
//! queries without evidence of their own; and each product's behavioural popularity. For one
//! search, [`Signals::for_query`] resolves the query's products to documents of the
//! snapshot ([`LearnedBoosts`]), so ranking reads a document's signal with one lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tantivy::DocAddress;

use super::evidence::{head_word, normalize_query};
use crate::columns::SegmentColumns;
use crate::index::Snapshot;
use crate::schema::fields::TYPE_COLUMN;

/// Signals closer than this share a fingerprint ([`Signals::fingerprints`]).
const FINGERPRINT_STEP: f32 = 0.05;

/// Per-segment popularity arrays and the snapshot they were computed for.
type DenseFor = (Weak<Snapshot>, Arc<Vec<Vec<f32>>>);

/// Learned signals of one moment. Each query's and head word's share what an
/// unchanged query taught with the signals before (`Arc`), so a refresh that read a
/// few queries again costs what it read.
#[derive(Default, Clone)]
pub struct Signals {
    pub(super) queries: HashMap<Arc<str>, Arc<HashMap<String, f32>>>,
    pub(super) verdicts: HashMap<Arc<str>, Arc<HashMap<String, i8>>>,
    pub(super) heads: HashMap<String, Arc<HashMap<String, f32>>>,
    pub(super) head_types: HashMap<String, Arc<HashMap<String, f32>>>,
    /// Per query, the categories its shoppers chose ([`super::category_key`]s).
    pub(super) categories: HashMap<Arc<str>, Arc<Vec<String>>>,
    /// Per query with signals, verdicts or categories of its own, their
    /// [`fingerprint`].
    pub(super) fingerprints: HashMap<Arc<str>, u64>,
    pub(super) popularity: Arc<Popularity>,
}

/// Behavioural popularity per product id, and as per-segment arrays of the last
/// snapshot asked for (shared by the signals made until it is made again).
#[derive(Default)]
pub struct Popularity {
    pub(super) by_product: HashMap<String, f32>,
    dense: Mutex<Option<DenseFor>>,
}

impl Popularity {
    pub(super) fn of(by_product: HashMap<String, f32>) -> Popularity {
        Popularity {
            by_product,
            dense: Mutex::new(None),
        }
    }
}

/// A fingerprint of what a query taught (signals to the nearest
/// [`FINGERPRINT_STEP`]); `None` when it taught nothing. Equal fingerprints rank the
/// query's products alike, or nearly, so a page need not be worked out again for the
/// small drift every new event brings.
pub(super) fn fingerprint(
    signals: &HashMap<String, f32>,
    verdicts: &HashMap<String, i8>,
    categories: &[String],
) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    if signals.is_empty() && verdicts.is_empty() && categories.is_empty() {
        return None;
    }
    let mut entries: Vec<(&str, i32, i8)> = signals
        .iter()
        .map(|(p, s)| (p.as_str(), (s / FINGERPRINT_STEP).round() as i32, 0))
        .collect();
    entries.extend(verdicts.iter().map(|(p, v)| (p.as_str(), 0, *v)));
    entries.extend(categories.iter().map(|c| (c.as_str(), 0, 2)));
    entries.sort_unstable();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    entries.hash(&mut hasher);
    Some(hasher.finish())
}

impl Signals {
    /// Per query with signals, verdicts or categories of its own, their
    /// [`fingerprint`].
    pub fn fingerprints(&self) -> &HashMap<Arc<str>, u64> {
        &self.fingerprints
    }
}

/// What the crowd taught about one query, for merchandisers
/// (`GET /v1/admin/learned`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct QueryLesson {
    /// The query as learning normalizes it.
    pub query: String,
    /// Categories its shoppers chose (paths, levels joined by `/`): their products
    /// without a verdict of their own are preferred.
    pub categories: Vec<String>,
    /// Products its shoppers chose far beyond what their position earns.
    pub preferred: Vec<String>,
    /// Products its shoppers looked at and left.
    pub passed_over: Vec<String>,
}

/// One query's learned signals, by document.
#[derive(Debug, Default, Clone)]
pub struct LearnedBoosts {
    by_doc: HashMap<DocAddress, f32>,
    /// The crowd's verdicts: 1 preferred, -1 passed over.
    verdicts: HashMap<DocAddress, i8>,
    /// The categories the query's shoppers chose: per category column, whether each
    /// of its values lies in one (the value or an ancestor chosen).
    chosen: Vec<(usize, Vec<bool>)>,
    /// The type column and the signal of each of its values for this query.
    by_type: Option<(usize, Vec<f32>)>,
    popularity: Option<Arc<Vec<Vec<f32>>>>,
}

impl LearnedBoosts {
    /// The learned signal of a document for this query, in [-1, 1] (negative: shoppers
    /// passed it by where they should have seen it).
    #[inline]
    pub fn signal(&self, columns: &SegmentColumns, address: DocAddress) -> f32 {
        let exact = self.by_doc.get(&address).copied().unwrap_or(0.0);
        let typed = match &self.by_type {
            Some((column, lifts)) => columns
                .keyword(*column)
                .map(|c| {
                    c.values(address.doc_id)
                        .iter()
                        .map(|&v| lifts.get(v as usize).copied().unwrap_or(0.0))
                        .fold(0.0, f32::max)
                })
                .unwrap_or(0.0),
            None => 0.0,
        };
        if exact != 0.0 { exact } else { typed }
    }

    /// Whether the crowd has a verdict on some document for this query.
    pub fn has_verdicts(&self) -> bool {
        !self.verdicts.is_empty() || !self.chosen.is_empty()
    }

    /// The crowd's verdict on a document for this query: 1 preferred, -1 passed over,
    /// 0 without strong evidence. A document's own verdict comes first; one without
    /// is preferred when it lies in a category the query's shoppers chose.
    #[inline]
    pub fn verdict(&self, columns: &SegmentColumns, address: DocAddress) -> i8 {
        if let Some(&own) = self.verdicts.get(&address) {
            return own;
        }
        let in_chosen = self.chosen.iter().any(|(column, chosen)| {
            columns.keyword(*column).is_some_and(|c| {
                c.values(address.doc_id)
                    .iter()
                    .any(|&v| chosen.get(v as usize).copied().unwrap_or(false))
            })
        });
        i8::from(in_chosen)
    }

    /// Why the crowd's verdict on a document is what it is, in shopper words, for
    /// `explain` (`query` as the shopper typed it); `None` without a verdict.
    pub fn reason(
        &self,
        columns: &SegmentColumns,
        vocabulary: &crate::columns::Vocabulary,
        address: DocAddress,
        query: &str,
    ) -> Option<String> {
        let searched = format!("shoppers who searched \u{201c}{}\u{201d}", query.trim());
        match self.verdicts.get(&address) {
            Some(1) => return Some(format!("{searched} chose it")),
            Some(-1) => return Some(format!("{searched} passed it over")),
            _ => {}
        }
        self.chosen.iter().find_map(|(column, chosen)| {
            let values = columns.keyword(*column)?.values(address.doc_id);
            let value = values
                .iter()
                .find(|&&v| chosen.get(v as usize).copied().unwrap_or(false))?;
            let label = vocabulary.column(*column).label(*value);
            Some(format!("{searched} chose {label}"))
        })
    }

    /// The largest signal any document has (for pruning).
    pub fn max_signal(&self) -> f32 {
        let exact = self.by_doc.values().copied().fold(0.0, f32::max);
        let typed = self
            .by_type
            .as_ref()
            .map(|(_, l)| l.iter().copied().fold(0.0, f32::max))
            .unwrap_or(0.0);
        exact.max(typed)
    }

    /// Behavioural popularity of segment `ord`'s documents, by document id (empty when
    /// none is known; a document past the end has none).
    pub fn segment_popularity(&self, ord: u32) -> &[f32] {
        self.popularity
            .as_ref()
            .and_then(|p| p.get(ord as usize))
            .map_or(&[], |s| s.as_slice())
    }

    /// Behavioural popularity of a document in [0, 1] (0 when none is known).
    #[inline]
    pub fn popularity(&self, address: DocAddress) -> f32 {
        self.popularity
            .as_ref()
            .and_then(|p| p.get(address.segment_ord as usize))
            .and_then(|s| s.get(address.doc_id as usize))
            .copied()
            .unwrap_or(0.0)
    }

    pub fn is_empty(&self) -> bool {
        self.by_doc.is_empty()
            && self.verdicts.is_empty()
            && self.chosen.is_empty()
            && self.by_type.is_none()
            && self.popularity.is_none()
    }
}

impl Signals {
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty() && self.popularity.by_product.is_empty()
    }

    /// How many queries have learned signals.
    pub fn learned_queries(&self) -> usize {
        self.queries.len()
    }

    /// The signals of `query` (empty when browsing) as documents of `snapshot`.
    pub fn for_query(&self, query: &str, snapshot: &Arc<Snapshot>) -> LearnedBoosts {
        let mut boosts = LearnedBoosts {
            popularity: self.dense_popularity(snapshot),
            ..LearnedBoosts::default()
        };
        let normalized = normalize_query(query);
        if normalized.is_empty() {
            return boosts;
        }
        let exact = self.queries.get(normalized.as_str());
        let verdicts = self.verdicts.get(normalized.as_str());
        if let Some(categories) = self.categories.get(normalized.as_str()) {
            boosts.chosen = chosen_values(categories, snapshot);
        }
        // A query with evidence of its own learns from it alone; related queries'
        // evidence and the head word's product types serve the others.
        let head = match exact.is_some() || verdicts.is_some() {
            true => None,
            false => head_word(&normalized),
        };
        let related = head.and_then(|h| self.heads.get(h));
        for products in related.into_iter().chain(exact) {
            for (id, &signal) in products.iter() {
                if let Some(address) = snapshot.find(id) {
                    boosts.by_doc.insert(address, signal);
                }
            }
        }
        for (id, &verdict) in verdicts.iter().flat_map(|v| v.iter()) {
            if let Some(address) = snapshot.find(id) {
                boosts.verdicts.insert(address, verdict);
            }
        }
        if let Some(types) = head.and_then(|h| self.head_types.get(h))
            && let Some(column) = snapshot.vocabulary.column_id(TYPE_COLUMN)
        {
            let dict = snapshot.vocabulary.column(column);
            let mut lifts = vec![0.0f32; dict.len()];
            for (t, &share) in types.iter() {
                if let Some(slot) = dict.lookup(t).and_then(|id| lifts.get_mut(id as usize)) {
                    *slot = share;
                }
            }
            boosts.by_type = Some((column, lifts));
        }
        boosts
    }

    /// What the crowd taught about one query ([`QueryLesson`]), its products best
    /// signal first; `None` when it taught nothing.
    pub fn lesson(&self, query: &str) -> Option<QueryLesson> {
        let normalized = normalize_query(query);
        let verdicts = self.verdicts.get(normalized.as_str());
        let signals = self.queries.get(normalized.as_str());
        let categories = self.categories.get(normalized.as_str());
        if verdicts.is_none() && signals.is_none() && categories.is_none() {
            return None;
        }
        let signal = |id: &str| signals.and_then(|s| s.get(id)).copied().unwrap_or(0.0);
        let with = |wanted: i8| {
            let mut ids: Vec<String> = verdicts
                .iter()
                .flat_map(|v| v.iter())
                .filter(|(_, v)| **v == wanted)
                .map(|(id, _)| id.clone())
                .collect();
            ids.sort_by(|a, b| signal(b).total_cmp(&signal(a)).then_with(|| a.cmp(b)));
            ids
        };
        Some(QueryLesson {
            query: normalized.clone(),
            categories: categories
                .iter()
                .flat_map(|c| c.iter())
                .map(|key| {
                    key.split_once('\u{1f}')
                        .map_or(key.as_str(), |(_, p)| p)
                        .to_string()
                })
                .collect(),
            preferred: with(1),
            passed_over: with(-1),
        })
    }

    /// The queries the crowd taught most (the most verdicts and chosen categories
    /// first, then by name), at most `limit`.
    pub fn lessons(&self, limit: usize) -> Vec<QueryLesson> {
        let mut queries: Vec<&str> = self
            .verdicts
            .keys()
            .chain(self.categories.keys())
            .map(|q| &**q)
            .collect();
        queries.sort_unstable();
        queries.dedup();
        let weight = |q: &str| {
            self.verdicts.get(q).map_or(0, |v| v.len())
                + self.categories.get(q).map_or(0, |c| c.len())
        };
        queries.sort_by(|a, b| weight(b).cmp(&weight(a)).then_with(|| a.cmp(b)));
        queries
            .into_iter()
            .take(limit)
            .filter_map(|q| self.lesson(q))
            .collect()
    }

    /// The categories `query`'s shoppers chose, as [`super::category_key`]s.
    pub fn chosen_categories(&self, query: &str) -> &[String] {
        self.categories
            .get(normalize_query(query).as_str())
            .map_or(&[], |c| c.as_slice())
    }

    /// Behavioural popularity as per-segment arrays, computed once per snapshot.
    fn dense_popularity(&self, snapshot: &Arc<Snapshot>) -> Option<Arc<Vec<Vec<f32>>>> {
        self.popularity.dense(snapshot)
    }
}

impl Popularity {
    /// As per-segment arrays of `snapshot`, computed once per snapshot.
    fn dense(&self, snapshot: &Arc<Snapshot>) -> Option<Arc<Vec<Vec<f32>>>> {
        if self.by_product.is_empty() {
            return None;
        }
        if let Ok(cache) = self.dense.lock()
            && let Some((cached, dense)) = cache.as_ref()
            && cached.upgrade().is_some_and(|s| Arc::ptr_eq(&s, snapshot))
        {
            return Some(dense.clone());
        }
        let mut dense: Vec<Vec<f32>> = snapshot
            .searcher
            .segment_readers()
            .iter()
            .map(|s| vec![0.0; s.max_doc() as usize])
            .collect();
        for (id, &p) in &self.by_product {
            if let Some(address) = snapshot.find(id)
                && let Some(slot) = dense
                    .get_mut(address.segment_ord as usize)
                    .and_then(|s| s.get_mut(address.doc_id as usize))
            {
                *slot = p;
            }
        }
        let dense = Arc::new(dense);
        if let Ok(mut cache) = self.dense.lock() {
            *cache = Some((Arc::downgrade(snapshot), dense.clone()));
        }
        Some(dense)
    }
}

/// Per category column of `snapshot`, which of its values lie in one of `categories`
/// ([`super::category_key`]s): the chosen node itself or any node below it. Columns
/// with none are left out; unknown categories are ignored.
fn chosen_values(categories: &[String], snapshot: &Snapshot) -> Vec<(usize, Vec<bool>)> {
    let vocabulary = &snapshot.vocabulary;
    let mut by_column: HashMap<usize, Vec<u32>> = HashMap::new();
    for key in categories {
        let Some((field, path)) = key.split_once('\u{1f}') else {
            continue;
        };
        if let Some(column) = vocabulary.column_id(field)
            && let Some(node) = vocabulary.column(column).lookup(path)
        {
            by_column.entry(column).or_default().push(node);
        }
    }
    by_column
        .into_iter()
        .map(|(column, nodes)| {
            let dict = vocabulary.column(column);
            let within = (0..dict.len() as u32)
                .map(|value| {
                    let mut node = value;
                    for _ in 0..64 {
                        if nodes.contains(&node) {
                            return true;
                        }
                        node = dict.parent(node);
                        if node == crate::columns::NO_PARENT {
                            break;
                        }
                    }
                    false
                })
                .collect();
            (column, within)
        })
        .collect()
}
