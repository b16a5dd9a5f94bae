//! Affinity: products as feature vectors, shoppers' profiles as dense weight arrays.
//!
//! Two directions meet here:
//! * event → profile: [`product_features`] reads a product's affinity features
//!   (brand, every category level, attributes, price band) from the snapshot's columns
//!   as stable strings (`brand=Nordby`), which the profile accumulates;
//! * profile → ranking: [`Personalization::new`] turns a profile into one dense array
//!   per feature group, indexed by the columns' value ids: each value's share of the
//!   shopper's behaviour beyond its share of the catalog (always buying one brand is a
//!   taste; buying the catalog's commonest brand now and then is not). Scoring a
//!   document is then a few array reads ([`Personalization::affinity`]): the mean
//!   over features of the preference for the document's value, times the profile's
//!   confidence (a profile starts helping after a few events). [`Personalization::because`] says which feature lifted a hit, in a
//!   shopper's words.

use std::collections::HashMap;

use tantivy::DocAddress;

use crate::columns::{
    ColumnKind, MultiColumn, NO_PARENT, RowCodes, SegmentColumns, ValueId, Vocabulary,
};
use crate::events::EventKind;
use crate::index::Snapshot;
use crate::profiles::{FeatureWeight, Profile};
use crate::schema::fields::TYPE_COLUMN;
use crate::schema::{AffinityFeature, AffinitySettings};

/// The feature group name of price bands.
pub const PRICE_BAND: &str = "price_band";

/// Where a group reads its values.
#[derive(Debug, Clone)]
enum Source {
    Column { column: usize, category: bool },
    PriceBand { numeric: usize, edges: Vec<f64> },
}

/// One feature group of a profile, as a dense array.
#[derive(Debug, Clone)]
struct Group {
    name: String,
    source: Source,
    /// Preference per value id (or per price band) in [0, 1]: the value's share of the
    /// shopper's behaviour beyond its share of the catalog.
    weights: Vec<f32>,
    /// Learned per product type: applies only to types the shopper engaged with.
    scoped: bool,
}

/// A shopper's profile, ready for scoring documents of one snapshot.
#[derive(Debug, Clone)]
pub struct Personalization {
    groups: Vec<Group>,
    /// Confidence in the profile, in [0, 1).
    confidence: f32,
    /// The type column and, per type value, whether the shopper engaged with it.
    engaged_types: Option<(usize, Vec<bool>)>,
    /// The profile's weights by feature, for explanations.
    weights: HashMap<String, FeatureWeight>,
}

/// The price band of `price`: `lo..hi` (or `lo..` for the last band).
fn price_band(edges: &[f64], price: f64) -> Option<usize> {
    if price.is_nan() || edges.first().is_none_or(|&lo| price < lo) {
        return None;
    }
    Some(edges.partition_point(|&e| e <= price) - 1)
}

fn band_label(edges: &[f64], band: usize) -> String {
    match edges.get(band + 1) {
        Some(hi) => format!("{}..{}", edges[band], hi),
        None => format!("{}..", edges[band]),
    }
}

/// The share of products having each value of each affinity feature: what a shopper
/// with no taste at all would show. Indexed by feature group name, then value id (or
/// price band).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaseRates {
    shares: HashMap<String, Vec<f32>>,
}

impl BaseRates {
    /// Counts every live product's feature values: each segment's counts over all its
    /// documents come from [`SegmentFeatureCounts`] (computed once per segment), less
    /// the documents deleted since.
    pub fn compute(snapshot: &Snapshot) -> BaseRates {
        let settings = &snapshot.schema.affinity;
        let features = counted_features(snapshot);
        let price = price_numeric(snapshot);
        let mut totals: Vec<Vec<i64>> = features.iter().map(|f| vec![0; f.slots]).collect();
        let mut live = 0i64;
        for (ord, segment) in snapshot.searcher.segment_readers().iter().enumerate() {
            let Some(columns) = snapshot.columns.get(ord) else {
                continue;
            };
            let count = || count_segment(&features, columns, price, settings, segment.max_doc());
            let local;
            let all = match snapshot.feature_counts.get(ord) {
                Some(cached) => cached.0.get_or_init(count),
                None => {
                    local = count();
                    &local
                }
            };
            for (total, counted) in totals.iter_mut().zip(all) {
                for (t, &c) in total.iter_mut().zip(counted) {
                    *t += i64::from(c);
                }
            }
            live += i64::from(segment.max_doc());
            let Some(alive) = segment.alive_bitset() else {
                continue;
            };
            for doc in (0..segment.max_doc()).filter(|&d| !alive.is_alive(d)) {
                live -= 1;
                for_each_feature_value(&features, columns, price, settings, doc, |f, slot| {
                    if let Some(t) = totals[f].get_mut(slot) {
                        *t -= 1;
                    }
                });
            }
        }
        let live = live.max(1) as f32;
        let shares = features
            .into_iter()
            .zip(totals)
            .map(|(feature, total)| {
                let shares = total.iter().map(|&c| c.max(0) as f32 / live).collect();
                (feature.name, shares)
            })
            .collect();
        BaseRates { shares }
    }

    /// The oracle for [`BaseRates::compute`]: every live document counted one by one,
    /// nothing cached (tests hold the incremental count to it).
    #[doc(hidden)]
    pub fn count_live_documents(snapshot: &Snapshot) -> BaseRates {
        let settings = &snapshot.schema.affinity;
        let features = counted_features(snapshot);
        let price = price_numeric(snapshot);
        let mut totals: Vec<Vec<u32>> = features.iter().map(|f| vec![0; f.slots]).collect();
        let mut live = 0u32;
        for (ord, segment) in snapshot.searcher.segment_readers().iter().enumerate() {
            let Some(columns) = snapshot.columns.get(ord) else {
                continue;
            };
            for doc in 0..segment.max_doc() {
                if segment.alive_bitset().is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                live += 1;
                for_each_feature_value(&features, columns, price, settings, doc, |f, slot| {
                    if let Some(t) = totals[f].get_mut(slot) {
                        *t += 1;
                    }
                });
            }
        }
        let live = live.max(1) as f32;
        let shares = (features.into_iter().zip(totals))
            .map(|(f, total)| (f.name, total.iter().map(|&c| c as f32 / live).collect()))
            .collect();
        BaseRates { shares }
    }

    fn share(&self, group: &str, value: usize) -> f32 {
        self.shares
            .get(group)
            .and_then(|s| s.get(value))
            .copied()
            .unwrap_or(0.0)
    }
}

/// How many of one segment's documents, deleted ones included, hold each value of
/// each counted feature ([`counted_features`]'s order). Kept with the segment's
/// columns, so the snapshot after a catalog change counts only its new segment and the
/// documents deleted since, not the whole catalog (80 ms at 1M products, paid by the
/// first personalized search after every change).
#[derive(Debug, Default)]
pub struct SegmentFeatureCounts(std::sync::OnceLock<Vec<Vec<u32>>>);

impl SegmentFeatureCounts {
    /// Whether the segment's values have been counted.
    pub fn is_counted(&self) -> bool {
        self.0.get().is_some()
    }
}

/// A feature whose values are counted for base rates.
struct CountedFeature {
    name: String,
    /// The keyword column, or `None` for the price band.
    column: Option<usize>,
    /// Value ids (or price bands) known when counting.
    slots: usize,
}

/// The taste features that exist in this snapshot's columns, with their value counts.
fn counted_features(snapshot: &Snapshot) -> Vec<CountedFeature> {
    let settings = &snapshot.schema.affinity;
    let vocab = &snapshot.vocabulary;
    taste_features(settings)
        .iter()
        .filter_map(|f| match f {
            AffinityFeature::Column(name) => {
                let column = vocab.column_id(name)?;
                Some(CountedFeature {
                    name: name.clone(),
                    column: Some(column),
                    slots: vocab.column(column).len(),
                })
            }
            AffinityFeature::PriceBand => Some(CountedFeature {
                name: PRICE_BAND.to_string(),
                column: None,
                slots: settings.price_bands.len(),
            }),
        })
        .collect()
}

/// Counts the feature values of documents `0..max_doc` of one segment.
fn count_segment(
    features: &[CountedFeature],
    columns: &SegmentColumns,
    price: Option<usize>,
    settings: &AffinitySettings,
    max_doc: u32,
) -> Vec<Vec<u32>> {
    let mut counts: Vec<Vec<u32>> = features.iter().map(|f| vec![0; f.slots]).collect();
    for doc in 0..max_doc {
        for_each_feature_value(features, columns, price, settings, doc, |f, slot| {
            if let Some(c) = counts[f].get_mut(slot) {
                *c += 1;
            }
        });
    }
    counts
}

/// Calls `each(feature, slot)` for every counted value of one document.
#[inline]
fn for_each_feature_value(
    features: &[CountedFeature],
    columns: &SegmentColumns,
    price: Option<usize>,
    settings: &AffinitySettings,
    doc: u32,
    mut each: impl FnMut(usize, usize),
) {
    for (f, feature) in features.iter().enumerate() {
        match feature.column {
            Some(c) => {
                let values = columns.keyword(c).map(|col| col.values(doc)).unwrap_or(&[]);
                for &v in values {
                    each(f, v as usize);
                }
            }
            None => {
                let value = price.and_then(|p| columns.numeric(p).get(doc as usize).copied());
                if let Some(band) = value.and_then(|v| price_band(&settings.price_bands, v)) {
                    each(f, band);
                }
            }
        }
    }
}

/// The schema's affinity features and the product type, which every profile learns
/// (it scopes price and attribute tastes, and is a taste of its own).
fn taste_features(settings: &AffinitySettings) -> Vec<AffinityFeature> {
    let mut features = settings.features.clone();
    let type_feature = AffinityFeature::Column(TYPE_COLUMN.to_string());
    if !features.contains(&type_feature) {
        features.push(type_feature);
    }
    features
}

/// The numeric column holding the price, if the schema has one.
fn price_numeric(snapshot: &Snapshot) -> Option<usize> {
    let def = snapshot.schema.roles.price?;
    snapshot.fields.numeric.iter().position(|n| n.def == def)
}

/// A product's affinity features, and whether it sits in a sensitive category.
pub fn product_features(snapshot: &Snapshot, address: DocAddress) -> (Vec<String>, bool) {
    let settings = &snapshot.schema.affinity;
    let Some(columns) = snapshot.columns.get(address.segment_ord as usize) else {
        return (Vec::new(), false);
    };
    let doc = address.doc_id;
    let vocab = &snapshot.vocabulary;
    let mut features = Vec::new();
    let mut sensitive = false;
    for feature in &taste_features(settings) {
        match feature {
            AffinityFeature::Column(name) => {
                let Some(column) = vocab.column_id(name) else {
                    continue;
                };
                let dict = vocab.column(column);
                for &value in columns
                    .keyword(column)
                    .map(|c| c.values(doc))
                    .unwrap_or(&[])
                {
                    let label = match dict.kind {
                        ColumnKind::Category => dict.path(value),
                        ColumnKind::Keyword => dict.label(value).to_string(),
                    };
                    if dict.kind == ColumnKind::Category && is_sensitive(&label, settings) {
                        sensitive = true;
                    }
                    features.push(format!("{name}={label}"));
                }
            }
            AffinityFeature::PriceBand => {
                let Some(numeric) = price_numeric(snapshot) else {
                    continue;
                };
                let price = columns
                    .numeric(numeric)
                    .get(doc as usize)
                    .copied()
                    .unwrap_or(f64::NAN);
                if let Some(band) = price_band(&settings.price_bands, price) {
                    features.push(format!(
                        "{PRICE_BAND}={}",
                        band_label(&settings.price_bands, band)
                    ));
                }
            }
        }
    }
    (features, sensitive)
}

/// Whether a category path is, or is under, a sensitive category.
fn is_sensitive(path: &str, settings: &AffinitySettings) -> bool {
    let path = crate::columns::normalize_value(path);
    settings.sensitive_categories.iter().any(|s| {
        let s = crate::columns::normalize_value(s);
        path == s || path.starts_with(&format!("{s}/"))
    })
}

/// Pseudo-evidence every preference is shrunk with: a value seen once in a short
/// history is not yet a taste.
const PRIOR_EVIDENCE: f32 = 3.0;
/// Lift over the catalog's base rate below which a preference is noise (a shopper
/// who browsed at random has small lifts everywhere).
const NOISE_FLOOR: f32 = 0.15;
/// Share of the shopper's behaviour a product type needs before type-scoped tastes
/// (price band, colour…) learned on it apply to products of that type.
const ENGAGED_TYPE_SHARE: f32 = 0.15;
/// Preferences within this of the strongest are equally good reasons; the more
/// specific feature explains the hit.
const EXPLAIN_MARGIN: f32 = 0.1;

impl Personalization {
    /// The dense form of `profile` at time `now` for `snapshot`'s columns.
    pub fn new(profile: &Profile, snapshot: &Snapshot, now: i64) -> Personalization {
        let settings = &snapshot.schema.affinity;
        let weights = profile.weights_at(now, settings);
        let evidence = profile.evidence_at(now, settings);
        let confidence = evidence / (evidence + settings.confidence_events);
        let base = snapshot
            .base_rates
            .get_or_init(|| BaseRates::compute(snapshot));
        let groups: Vec<Group> = taste_features(settings)
            .iter()
            .filter_map(|feature| group_for(feature, &weights, evidence, base, snapshot))
            .collect();
        let engaged_types = engaged_types(&weights, evidence, snapshot);
        Personalization {
            groups,
            confidence,
            engaged_types,
            weights: weights
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
    }

    /// The highest affinity any document can have under this profile.
    pub fn max_affinity(&self) -> f32 {
        let miss: f32 = self
            .groups
            .iter()
            .map(|g| 1.0 - g.weights.iter().copied().fold(0.0, f32::max))
            .product();
        self.confidence * (1.0 - miss)
    }

    /// The documents of one segment (of `max_doc`) whose affinity may be above 0, as
    /// a bitset: those holding a value the profile weighs in some group, and for a
    /// price-band taste those of a product type the shopper engaged with. Every other
    /// document's affinity is exactly 0, so a ranking pass can bound it without
    /// reading its columns: a shopper's tastes cover a few brands, categories and
    /// types, a small part of a large catalog. Built from the segment's kept value
    /// bitsets ([`SegmentColumns::value_bits`]) and, for rare values, their postings;
    /// `None` when that would combine more than `limit` bitset words, or when a
    /// price-band taste applies to every product type (prices have no postings).
    pub fn reach(&self, columns: &SegmentColumns, max_doc: u32, limit: usize) -> Option<Vec<u64>> {
        let mut values: Vec<(usize, ValueId)> = Vec::new();
        for group in &self.groups {
            let weighed = flagged(group.weights.iter().map(|&w| w > 0.0));
            match (&group.source, &self.engaged_types) {
                (Source::Column { column, .. }, _) => values.extend(weighed.map(|v| (*column, v))),
                (Source::PriceBand { .. }, _) if weighed.count() == 0 => {}
                (Source::PriceBand { .. }, Some((column, engaged))) if group.scoped => {
                    values.extend(flagged(engaged.iter().copied()).map(|t| (*column, t)));
                }
                (Source::PriceBand { .. }, _) => return None,
            }
        }
        values.sort_unstable();
        values.dedup();
        let words = (max_doc as usize).div_ceil(64);
        if values.len().saturating_mul(words) > limit {
            return None;
        }
        let mut reach = vec![0u64; words];
        for (column, value) in values {
            let docs = columns.postings(column).map_or(&[][..], |p| p.docs(value));
            if docs.len() < words {
                // Fewer documents than words: setting their bits is the cheaper way.
                for &doc in docs {
                    if let Some(word) = reach.get_mut(doc as usize / 64) {
                        *word |= 1 << (doc % 64);
                    }
                }
                continue;
            }
            let bits = columns.value_bits(column, value, max_doc);
            for (word, &more) in reach.iter_mut().zip(bits.iter()) {
                *word |= more;
            }
        }
        Some(reach)
    }

    /// True when the profile has nothing to say about any document.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() || self.confidence <= 0.0
    }

    /// The document's affinity in [0, 1]: the chance that at least one of its
    /// features is to the shopper's taste (preferences combine like independent
    /// probabilities, so a feature the shopper shows no preference on never dilutes
    /// a clear one), times the profile's confidence.
    #[inline]
    pub fn affinity(&self, columns: &SegmentColumns, doc: u32) -> f32 {
        let mut miss = 1.0;
        for group in &self.groups {
            miss *= 1.0 - self.preference(group, columns, doc).0;
        }
        self.confidence * (1.0 - miss)
    }

    /// The affinities of `docs` into `out`, in order: for each the same number as
    /// [`Personalization::affinity`], bit for bit (the groups multiply in the same
    /// order), computed one group at a time over all of them: one tight loop per
    /// column instead of every column per document, and the product type looked up
    /// once per document rather than once per type-scoped group.
    pub fn affinities(&self, columns: &SegmentColumns, docs: &[u32], out: &mut Vec<f32>) {
        out.clear();
        // `out` holds each document's miss (the chance no feature is to the taste)
        // until the last step turns it into the affinity.
        out.resize(docs.len(), 1.0);
        let engaged: Option<Vec<bool>> = match &self.engaged_types {
            Some((column, engaged)) if self.groups.iter().any(|g| g.scoped) => {
                Some(match coded(columns, *column, docs.len()) {
                    Some(codes) => {
                        let of_row = codes.per_row(|row| any_flagged(row, engaged));
                        let at = |doc: u32| of_row.get(codes.code(doc)).copied();
                        docs.iter().map(|&d| at(d).unwrap_or(false)).collect()
                    }
                    None => {
                        let types = ValueReader::of(columns.keyword(*column));
                        docs.iter().map(|&d| types.any(d, engaged)).collect()
                    }
                })
            }
            _ => None,
        };
        for group in &self.groups {
            let scope = engaged.as_deref().filter(|_| group.scoped);
            let weights = group.weights.as_slice();
            match &group.source {
                // Few distinct rows for the documents: each row's best weight once.
                Source::Column { column, .. } => match coded(columns, *column, docs.len()) {
                    Some(codes) => {
                        let of_row = codes.per_row(|row| best_weight(row, weights));
                        multiply_misses(docs, out, scope, |doc| {
                            of_row.get(codes.code(doc)).copied().unwrap_or(0.0)
                        });
                    }
                    None => {
                        let values = ValueReader::of(columns.keyword(*column));
                        multiply_misses(docs, out, scope, |doc| values.best(doc, weights));
                    }
                },
                Source::PriceBand { numeric, edges } => {
                    let prices = columns.numeric(*numeric);
                    multiply_misses(docs, out, scope, |doc| {
                        let price = prices.get(doc as usize).copied().unwrap_or(f64::NAN);
                        price_band(edges, price)
                            .and_then(|band| weights.get(band))
                            .copied()
                            .unwrap_or(0.0)
                    });
                }
            }
        }
        for miss in out.iter_mut() {
            *miss = self.confidence * (1.0 - *miss);
        }
    }

    /// A group's preference for a document, and the value it comes from. Type-scoped
    /// groups (price band, attributes) count only for products of a type the shopper
    /// engaged with: a notebook's price band says nothing about toner.
    #[inline]
    fn preference(&self, group: &Group, columns: &SegmentColumns, doc: u32) -> (f32, Option<u32>) {
        if group.scoped && !self.engaged_with(columns, doc) {
            return (0.0, None);
        }
        best_in_group(group, columns, doc)
    }

    fn engaged_with(&self, columns: &SegmentColumns, doc: u32) -> bool {
        let Some((column, engaged)) = &self.engaged_types else {
            return true;
        };
        columns.keyword(*column).is_some_and(|c| {
            c.values(doc)
                .iter()
                .any(|&v| engaged.get(v as usize).copied().unwrap_or(false))
        })
    }

    /// Why a document was lifted: "because you viewed other Nordby products". The
    /// strongest preference explains it; among near-equal ones, the most specific
    /// feature (a brand before a product type, a type before a category).
    pub fn because(
        &self,
        columns: &SegmentColumns,
        doc: u32,
        vocab: &Vocabulary,
    ) -> Option<Because> {
        let scored: Vec<(&Group, u32, f32)> = self
            .groups
            .iter()
            .filter_map(|g| {
                let (w, v) = self.preference(g, columns, doc);
                Some((g, v?, w)).filter(|_| w > 0.0)
            })
            .collect();
        let strongest = scored.iter().map(|s| s.2).fold(0.0f32, f32::max);
        let (group, value, _) = scored
            .into_iter()
            .filter(|s| s.2 >= strongest - EXPLAIN_MARGIN)
            .max_by_key(|s| specificity(s.0))?;
        let (feature, phrase) = match &group.source {
            Source::Column { column, category } => {
                let dict = vocab.column(*column);
                if *category {
                    (
                        format!("{}={}", group.name, dict.path(value)),
                        format!("other products in {}", dict.label(value)),
                    )
                } else if group.name == TYPE_COLUMN {
                    let label = dict.label(value);
                    (
                        format!("{}={label}", group.name),
                        format!("other {label} products"),
                    )
                } else {
                    let label = dict.label(value);
                    let phrase = if group.name.contains('.') {
                        format!("other {} products", label.to_lowercase())
                    } else {
                        format!("other {label} products")
                    };
                    (format!("{}={label}", group.name), phrase)
                }
            }
            Source::PriceBand { edges, .. } => {
                let feature = format!("{PRICE_BAND}={}", band_label(edges, value as usize));
                let verb = self
                    .weights
                    .get(&feature)
                    .map(|w| verb(w.dominant()))
                    .unwrap_or("viewed");
                return Some(Because {
                    feature: group.name.clone(),
                    sentence: format!("it is in the price range of products you {verb}"),
                });
            }
        };
        let verb = self
            .weights
            .get(&feature)
            .map(|w| verb(w.dominant()))
            .unwrap_or("viewed");
        Some(Because {
            feature: group.name.clone(),
            sentence: format!("you {verb} {phrase}"),
        })
    }
}

/// Why the profile lifted a product: the feature group and a sentence for the shopper.
#[derive(Debug, Clone, PartialEq)]
pub struct Because {
    /// The taste that explains it: `brand`, `category`, `_type`, `price_band`, or an
    /// attribute (`attributes.product_colour`).
    pub feature: String,
    pub sentence: String,
}

/// How specific a feature is as a reason: brands and other exact values first, then
/// attributes, the product type, categories, price bands.
fn specificity(group: &Group) -> u8 {
    match &group.source {
        Source::PriceBand { .. } => 0,
        Source::Column { category: true, .. } => 1,
        Source::Column { .. } if group.name == TYPE_COLUMN => 2,
        Source::Column { .. } if group.name.contains('.') => 3,
        Source::Column { .. } => 4,
    }
}

/// Per value of the type column: whether the shopper engaged with that type.
fn engaged_types(
    weights: &HashMap<&str, FeatureWeight>,
    evidence: f32,
    snapshot: &Snapshot,
) -> Option<(usize, Vec<bool>)> {
    let column = snapshot.vocabulary.column_id(TYPE_COLUMN)?;
    let dict = snapshot.vocabulary.column(column);
    let mut engaged = vec![false; dict.len()];
    let prefix = format!("{TYPE_COLUMN}=");
    for (feature, w) in weights {
        if let Some(value) = feature.strip_prefix(&prefix)
            && let Some(id) = dict.lookup(value)
            && w.total() >= ENGAGED_TYPE_SHARE * evidence
            && let Some(slot) = engaged.get_mut(id as usize)
        {
            *slot = true;
        }
    }
    Some((column, engaged))
}

fn verb(kind: EventKind) -> &'static str {
    match kind {
        EventKind::View => "viewed",
        EventKind::Click => "clicked on",
        EventKind::AddToCart => "added to your cart",
        EventKind::Purchase => "bought",
        EventKind::Search => "searched for",
    }
}

/// The value ids whose flag is set.
fn flagged(flags: impl Iterator<Item = bool>) -> impl Iterator<Item = ValueId> {
    (0..).zip(flags).filter(|(_, f)| *f).map(|(v, _)| v)
}

/// Multiplies each document's miss by the chance that `preference` misses it, for the
/// documents `scope` lets the group apply to (all without one).
#[inline]
fn multiply_misses(
    docs: &[u32],
    misses: &mut [f32],
    scope: Option<&[bool]>,
    preference: impl Fn(u32) -> f32,
) {
    match scope {
        None => {
            for (&doc, miss) in docs.iter().zip(misses.iter_mut()) {
                *miss *= 1.0 - preference(doc);
            }
        }
        Some(scope) => {
            for ((&doc, miss), &applies) in docs.iter().zip(misses.iter_mut()).zip(scope) {
                if applies {
                    *miss *= 1.0 - preference(doc);
                }
            }
        }
    }
}

/// A keyword column's values read without going through the column for every
/// document: one value per document, or rows.
enum ValueReader<'a> {
    Single(&'a [ValueId]),
    Rows(&'a [u32], &'a [ValueId]),
    Missing,
}

impl<'a> ValueReader<'a> {
    fn of(column: Option<&'a MultiColumn>) -> ValueReader<'a> {
        match column {
            Some(c) => match (c.single(), c.rows()) {
                (Some(single), _) => ValueReader::Single(single),
                (None, Some((starts, values))) => ValueReader::Rows(starts, values),
                (None, None) => ValueReader::Missing,
            },
            None => ValueReader::Missing,
        }
    }

    /// The values of document `doc`.
    #[inline]
    fn values(&self, doc: u32) -> &'a [ValueId] {
        let d = doc as usize;
        match *self {
            ValueReader::Single(single) => single.get(d).map_or(&[], std::slice::from_ref),
            ValueReader::Rows(starts, values) => match (starts.get(d), starts.get(d + 1)) {
                (Some(&from), Some(&to)) => values.get(from as usize..to as usize).unwrap_or(&[]),
                _ => &[],
            },
            ValueReader::Missing => &[],
        }
    }

    /// The largest weight among the document's values (0 for none): the group's
    /// preference, as [`best_in_group`] finds it.
    #[inline]
    fn best(&self, doc: u32, weights: &[f32]) -> f32 {
        best_weight(self.values(doc), weights)
    }

    /// Whether one of the document's values is flagged in `flags`.
    #[inline]
    fn any(&self, doc: u32, flags: &[bool]) -> bool {
        any_flagged(self.values(doc), flags)
    }
}

/// Column `column`'s row codes in a segment, when its distinct rows are no more than
/// the `docs` documents to read (working out a value per row then costs less than
/// reading every document's values).
fn coded(columns: &SegmentColumns, column: usize, docs: usize) -> Option<&RowCodes> {
    columns
        .keyword(column)
        .and_then(MultiColumn::coded)
        .filter(|codes| codes.rows() <= docs)
}

/// The largest weight among `values` (0 for none).
#[inline]
fn best_weight(values: &[ValueId], weights: &[f32]) -> f32 {
    values.iter().fold(0.0f32, |best, &v| {
        let w = weights.get(v as usize).copied().unwrap_or(0.0);
        if w > best { w } else { best }
    })
}

/// Whether one of `values` is flagged in `flags`.
#[inline]
fn any_flagged(values: &[ValueId], flags: &[bool]) -> bool {
    values
        .iter()
        .any(|&v| flags.get(v as usize).copied().unwrap_or(false))
}

/// The strongest preference among a document's values in a group, and that value.
#[inline]
fn best_in_group(group: &Group, columns: &SegmentColumns, doc: u32) -> (f32, Option<u32>) {
    match &group.source {
        Source::Column { column, .. } => {
            let mut best = (0.0f32, None);
            if let Some(col) = columns.keyword(*column) {
                for &v in col.values(doc) {
                    let w = group.weights.get(v as usize).copied().unwrap_or(0.0);
                    if w > best.0 {
                        best = (w, Some(v));
                    }
                }
            }
            best
        }
        Source::PriceBand { numeric, edges } => {
            let price = columns
                .numeric(*numeric)
                .get(doc as usize)
                .copied()
                .unwrap_or(f64::NAN);
            match price_band(edges, price) {
                Some(band) => (
                    group.weights.get(band).copied().unwrap_or(0.0),
                    Some(band as u32),
                ),
                None => (0.0, None),
            }
        }
    }
}

/// A value's preference from its share of the shopper's behaviour: the lift over the
/// catalog's base rate, shrunk toward nothing while evidence is thin, with small lifts
/// (what a random history shows) counted as none.
fn preference(weight: f32, evidence: f32, base_rate: f32) -> f32 {
    let share = (weight / (evidence + PRIOR_EVIDENCE)).min(1.0);
    let expected = base_rate.min(0.99);
    let lift = ((share - expected) / (1.0 - expected)).clamp(0.0, 1.0);
    ((lift - NOISE_FLOOR) / (1.0 - NOISE_FLOOR)).clamp(0.0, 1.0)
}

/// The dense weights of one feature group, or `None` when the profile has none.
fn group_for(
    feature: &AffinityFeature,
    weights: &HashMap<&str, FeatureWeight>,
    evidence: f32,
    base: &BaseRates,
    snapshot: &Snapshot,
) -> Option<Group> {
    if evidence <= 0.0 {
        return None;
    }
    let (name, source, size) = match feature {
        AffinityFeature::Column(name) => {
            let column = snapshot.vocabulary.column_id(name)?;
            let dict = snapshot.vocabulary.column(column);
            let category = dict.kind == ColumnKind::Category;
            (
                name.clone(),
                Source::Column { column, category },
                dict.len(),
            )
        }
        AffinityFeature::PriceBand => {
            let numeric = price_numeric(snapshot)?;
            let edges = snapshot.schema.affinity.price_bands.clone();
            let size = edges.len();
            (
                PRICE_BAND.to_string(),
                Source::PriceBand { numeric, edges },
                size,
            )
        }
    };
    let prefix = format!("{name}=");
    let mut dense = vec![0.0f32; size];
    for (feature, w) in weights {
        let Some(value) = feature.strip_prefix(&prefix) else {
            continue;
        };
        let index = match &source {
            Source::Column { column, .. } => snapshot
                .vocabulary
                .column(*column)
                .lookup(value)
                .map(|v| v as usize),
            Source::PriceBand { edges, .. } => {
                (0..edges.len()).find(|&b| band_label(edges, b) == value)
            }
        };
        if let Some(slot) = index.and_then(|i| dense.get_mut(i)) {
            *slot += w.total();
        }
    }
    // Buying HP in a catalog that is 15% HP says little, buying DELL every time says a
    // lot. Products without the feature count against the share.
    for (value, w) in dense.iter_mut().enumerate() {
        *w = preference(*w, evidence, base.share(&name, value));
    }
    if dense.iter().all(|w| *w <= 0.0) {
        return None;
    }
    if let Source::Column {
        column,
        category: true,
    } = &source
    {
        // Roots are shared by whole departments: they count half.
        let dict = snapshot.vocabulary.column(*column);
        for (id, w) in dense.iter_mut().enumerate() {
            if dict.parent(id as u32) == NO_PARENT {
                *w *= 0.5;
            }
        }
    }
    let scoped = matches!(source, Source::PriceBand { .. }) || name.contains('.');
    Some(Group {
        name,
        source,
        scoped,
        weights: dense,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_bands_are_half_open() {
        let edges = [0.0, 50.0, 100.0];
        assert_eq!(price_band(&edges, 0.0), Some(0));
        assert_eq!(price_band(&edges, 50.0), Some(1));
        assert_eq!(price_band(&edges, 1e6), Some(2));
        assert_eq!(price_band(&edges, -1.0), None);
        assert_eq!(band_label(&edges, 1), "50..100");
        assert_eq!(band_label(&edges, 2), "100..");
    }

    #[test]
    fn sensitive_categories_cover_their_subtree() {
        let settings = AffinitySettings {
            sensitive_categories: vec!["Health/Adult".into()],
            ..AffinitySettings::default()
        };
        assert!(is_sensitive("Health/Adult", &settings));
        assert!(is_sensitive("health/adult/Toys", &settings));
        assert!(!is_sensitive("Health/Adulthood", &settings));
        assert!(!is_sensitive("Furniture", &settings));
    }
}
