//! Merchandising rules: `boosts/*.toml`, files a merchandiser edits.
//!
//! A rule has conditions (the query exactly, a word in the query, the category
//! browsed, a date window) and actions (pin a product at a slot, hide products, boost
//! or demote products matching a `where` predicate by a factor, bury products matching
//! one). Files go through three steps, like synonyms: parse (TOML, unknown keys are
//! errors), validate against the live index (fields, predicates, product ids, pin
//! overlaps, date windows — every problem reported with file, line and reason, and
//! nothing of a broken set applied), then compile against each snapshot's columns
//! ([`CompiledRules`]). Per request, the rules whose conditions hold become
//! [`ActiveRules`], which retrieval consults per document.
//!
//! The order of scoring is fixed: text relevance → personalization → boosts and
//! demotes (score × factor) → bury (below every unburied product) → pins and hides
//! last, so a pin lands where the merchandiser put it and a hidden product never
//! shows, whatever the shopper's profile.

pub mod predicate;
mod raw;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use tantivy::DocAddress;

use crate::analysis::Analyzer;
use crate::columns::{ColumnKind, NO_PARENT, SegmentColumns, TimedBits};
use crate::error::{Error, Result};
use crate::filter::{Condition, FilterSpec, Target, bit_is_set, category_nodes};
use crate::index::Snapshot;
use predicate::{Compiled, Predicate, Scope};

/// A boost or demote: products matching `predicate` have their score multiplied.
#[derive(Debug, Clone)]
pub struct Boost {
    pub predicate: Predicate,
    pub text: String,
    pub factor: f32,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Shown in `rules_applied` and explanations.
    pub name: String,
    /// `file:line` of the rule.
    pub origin: String,
    /// The whole query, normalized.
    pub query: Option<String>,
    /// A word the query must hold, as the analyzer indexes it.
    pub query_contains: Option<String>,
    /// A category path being browsed or filtered on.
    pub category: Option<String>,
    /// Active from (inclusive) and until (exclusive), Unix seconds.
    pub from: Option<i64>,
    pub until: Option<i64>,
    /// Product id and 1-based slot.
    pub pins: Vec<(String, usize)>,
    pub hides: Vec<String>,
    pub boosts: Vec<Boost>,
    /// Products matching these go below every unburied product.
    pub buries: Vec<(Predicate, String)>,
}

/// Every rule of `boosts/`, in file and line order.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub files: usize,
}

/// Normalizes a query for exact comparison: case, accents and spacing folded.
pub fn normalize_query(query: &str) -> String {
    crate::columns::normalize_value(query)
}

impl RuleSet {
    /// Reads and validates every `*.toml` of `dir` against `snapshot` (a missing
    /// folder means no rules).
    pub fn load_dir(dir: &Path, snapshot: &Snapshot) -> Result<RuleSet> {
        let mut files: Vec<_> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RuleSet::default()),
            Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
        };
        files.sort();
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        for file in &files {
            let origin = file.display().to_string();
            match std::fs::read_to_string(file) {
                Ok(text) => match raw::parse(&text, &origin, snapshot) {
                    Ok(parsed) => rules.extend(parsed),
                    Err(p) => problems.extend(p),
                },
                Err(e) => problems.push(format!("{origin}: cannot read: {e}")),
            }
        }
        problems.extend(overlapping_pins(&rules));
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        Ok(RuleSet {
            rules,
            files: files.len(),
        })
    }

    /// Parses and validates one file's text (for tests and `clerk rules check`).
    pub fn parse(text: &str, origin: &str, snapshot: &Snapshot) -> Result<RuleSet> {
        let rules =
            raw::parse(text, origin, snapshot).map_err(|problems| Error::Config { problems })?;
        let problems = overlapping_pins(&rules);
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        Ok(RuleSet { rules, files: 1 })
    }

    /// Compiles the rules against a snapshot's columns.
    pub fn compile(&self, snapshot: &Snapshot) -> CompiledRules {
        let numeric_defs: Vec<usize> = snapshot.fields.numeric.iter().map(|n| n.def).collect();
        let scope = Scope {
            schema: &snapshot.schema,
            vocabulary: &snapshot.vocabulary,
            numeric_defs: &numeric_defs,
        };
        let compile =
            |p: &Predicate| predicate::compile(p, &scope).unwrap_or(Compiled::Or(Vec::new()));
        let rules = self
            .rules
            .iter()
            .map(|rule| CompiledRule {
                pins: rule
                    .pins
                    .iter()
                    .filter_map(|(id, slot)| snapshot.find(id).map(|a| (a, *slot, id.clone())))
                    .collect(),
                hides: rule
                    .hides
                    .iter()
                    .filter_map(|id| snapshot.find(id))
                    .collect(),
                boosts: rule
                    .boosts
                    .iter()
                    .map(|b| (compile(&b.predicate), b.factor, b.text.clone()))
                    .collect(),
                buries: rule
                    .buries
                    .iter()
                    .map(|(p, text)| (compile(p), text.clone()))
                    .collect(),
            })
            .collect();
        CompiledRules { rules }
    }
}

/// Two rules that can fire for the same query pinning different products to one slot,
/// or one rule pinning one slot twice.
fn overlapping_pins(rules: &[Rule]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let mut slots = HashSet::new();
        for (id, slot) in &rule.pins {
            if !slots.insert(*slot) {
                problems.push(format!(
                    "{}: two pins at position {slot} (\"{id}\" among them)",
                    rule.origin
                ));
            }
        }
        for other in &rules[..i] {
            let same_trigger = rule.query.is_some()
                && rule.query == other.query
                && rule.category == other.category
                && windows_overlap(rule, other);
            if !same_trigger {
                continue;
            }
            for (id, slot) in &rule.pins {
                if let Some((other_id, _)) = other.pins.iter().find(|(o, s)| s == slot && o != id) {
                    problems.push(format!(
                        "{}: pins \"{id}\" at position {slot}, where {} already pins \"{other_id}\" for the same query",
                        rule.origin, other.origin
                    ));
                }
            }
        }
    }
    problems
}

fn windows_overlap(a: &Rule, b: &Rule) -> bool {
    let start = a.from.unwrap_or(i64::MIN).max(b.from.unwrap_or(i64::MIN));
    let end = a.until.unwrap_or(i64::MAX).min(b.until.unwrap_or(i64::MAX));
    start < end
}

/// One rule compiled against a snapshot.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub pins: Vec<(DocAddress, usize, String)>,
    pub hides: Vec<DocAddress>,
    pub boosts: Vec<(Compiled, f32, String)>,
    pub buries: Vec<(Compiled, String)>,
}

/// Every rule compiled against one snapshot (same order as the [`RuleSet`]).
#[derive(Debug, Clone, Default)]
pub struct CompiledRules {
    pub rules: Vec<CompiledRule>,
}

/// What a request looks like to rule conditions.
pub struct RequestFacts<'a> {
    pub query: &'a str,
    pub filters: &'a [FilterSpec],
    pub now: i64,
}

/// A pin in force for a request.
#[derive(Debug, Clone)]
pub struct Pin {
    pub address: DocAddress,
    pub slot: usize,
    pub label: String,
}

/// The rules in force for one request.
#[derive(Debug, Clone, Default)]
pub struct ActiveRules<'a> {
    /// Names of the rules whose conditions hold.
    pub names: Vec<String>,
    hidden: HashSet<DocAddress>,
    /// Predicate, factor, label and the predicate's text.
    boosts: Vec<(&'a Compiled, f32, String, &'a str)>,
    /// Predicate, label and the predicate's text.
    buries: Vec<(&'a Compiled, String, &'a str)>,
    /// Pins by slot, first rule first; a slot taken by an earlier rule is not retaken.
    pub pins: Vec<Pin>,
    now: i64,
}

/// The active rules' boosts, demotes and buries over one segment's documents, as
/// [`ActiveRules::in_segment`] finds them: the same effect as
/// [`ActiveRules::effect`], a bit test per predicate.
pub struct SegmentEffects {
    boosts: Vec<(Arc<TimedBits>, f32)>,
    buries: Vec<Arc<TimedBits>>,
}

impl SegmentEffects {
    /// The product of the boosts and demotes matching document `doc`, multiplied in
    /// the rules' order as [`ActiveRules::factor`] does.
    #[inline]
    pub fn factor(&self, doc: u32) -> f32 {
        let mut factor = 1.0;
        for (predicate, f) in &self.boosts {
            if bit_is_set(&predicate.bits, doc) {
                factor *= f;
            }
        }
        factor
    }

    /// Whether a bury matches document `doc`.
    #[inline]
    pub fn is_buried(&self, doc: u32) -> bool {
        self.buries.iter().any(|p| bit_is_set(&p.bits, doc))
    }
}

/// The effect of the active rules on one document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effect {
    /// Product of the matching boosts and demotes.
    pub factor: f32,
    /// Whether a bury matched.
    pub buried: bool,
}

impl<'a> ActiveRules<'a> {
    /// No rules at all (preview with `rules=off`).
    pub fn none() -> ActiveRules<'a> {
        ActiveRules::default()
    }

    /// The rules whose conditions hold for this request.
    pub fn select(
        set: &RuleSet,
        compiled: &'a CompiledRules,
        facts: &RequestFacts,
        snapshot: &Snapshot,
        analyzer: &Analyzer,
    ) -> ActiveRules<'a> {
        let query = normalize_query(facts.query);
        let words: Vec<String> = analyzer
            .query_words(facts.query)
            .iter()
            .map(|w| w.primary().to_string())
            .collect();
        let mut active = ActiveRules {
            now: facts.now,
            ..ActiveRules::default()
        };
        let mut taken: HashSet<usize> = HashSet::new();
        for (rule, compiled) in set.rules.iter().zip(&compiled.rules) {
            if !rule_applies(rule, &query, &words, facts, snapshot) {
                continue;
            }
            active.names.push(rule.name.clone());
            active.hidden.extend(compiled.hides.iter().copied());
            for (predicate, factor, text) in &compiled.boosts {
                let verb = if *factor >= 1.0 { "boost" } else { "demote" };
                active.boosts.push((
                    predicate,
                    *factor,
                    format!("{verb}: {text} x{factor} ({})", rule.name),
                    text,
                ));
            }
            for (predicate, text) in &compiled.buries {
                active
                    .buries
                    .push((predicate, format!("bury: {text} ({})", rule.name), text));
            }
            for (address, slot, id) in &compiled.pins {
                if taken.insert(*slot) && !active.pins.iter().any(|p| p.address == *address) {
                    active.pins.push(Pin {
                        address: *address,
                        slot: *slot,
                        label: format!("pin: {id} at position {slot} ({})", rule.name),
                    });
                }
            }
        }
        active.pins.sort_by_key(|p| p.slot);
        // A hidden product is never pinned either.
        let hidden = active.hidden.clone();
        active.pins.retain(|p| !hidden.contains(&p.address));
        active
    }

    /// The largest factor the boosts can multiply a score by (demotes never raise it).
    pub fn max_factor(&self) -> f32 {
        self.boosts.iter().map(|(_, f, _, _)| f.max(1.0)).product()
    }

    /// True when no rule is in force.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every hidden product.
    pub fn hidden(&self) -> impl Iterator<Item = DocAddress> + '_ {
        self.hidden.iter().copied()
    }

    /// Whether the product at `address` is hidden.
    #[inline]
    pub fn is_hidden(&self, address: DocAddress) -> bool {
        !self.hidden.is_empty() && self.hidden.contains(&address)
    }

    /// The hidden documents of segment `ord` (of `max_doc` documents) as a bitset,
    /// `None` when none is hidden there: a bit test per document rather than a hash
    /// lookup, for passes over many documents.
    pub fn hidden_bits(&self, ord: u32, max_doc: u32) -> Option<Vec<u64>> {
        let mut bits: Option<Vec<u64>> = None;
        for address in self.hidden.iter().filter(|a| a.segment_ord == ord) {
            let bits = bits.get_or_insert_with(|| vec![0u64; (max_doc as usize).div_ceil(64)]);
            let doc = address.doc_id as usize;
            if let Some(word) = bits.get_mut(doc / 64) {
                *word |= 1u64 << (doc % 64);
            }
        }
        bits
    }

    /// Whether the product at `address` is pinned.
    #[inline]
    pub fn is_pinned(&self, address: DocAddress) -> bool {
        !self.pins.is_empty() && self.pins.iter().any(|p| p.address == address)
    }

    /// Boosts, demotes and buries on one document.
    #[inline]
    pub fn effect(&self, columns: &SegmentColumns, doc: u32) -> Effect {
        Effect {
            factor: self.factor(columns, doc),
            buried: self.is_buried(columns, doc),
        }
    }

    /// The product of the boosts and demotes matching one document.
    #[inline]
    pub fn factor(&self, columns: &SegmentColumns, doc: u32) -> f32 {
        let mut factor = 1.0;
        for (predicate, f, _, _) in &self.boosts {
            if predicate.matches(columns, doc, self.now) {
                factor *= f;
            }
        }
        factor
    }

    /// Whether a bury matches one document.
    #[inline]
    pub fn is_buried(&self, columns: &SegmentColumns, doc: u32) -> bool {
        self.buries
            .iter()
            .any(|(p, _, _)| p.matches(columns, doc, self.now))
    }

    /// The boosts, demotes and buries in force, for the documents `0..max_doc` of one
    /// segment: each predicate's documents as a bitset, kept by the segment across
    /// searches while the clock leaves them unchanged ([`SegmentColumns::timed_bits`]),
    /// so that ranking tests a bit where it read columns for every document.
    pub fn in_segment(&self, columns: &SegmentColumns, max_doc: u32) -> SegmentEffects {
        let bits = |predicate: &Compiled, text: &str| {
            columns.timed_bits(text, self.now, || {
                predicate.segment_bits(columns, max_doc, self.now)
            })
        };
        SegmentEffects {
            boosts: self
                .boosts
                .iter()
                .map(|(p, f, _, text)| (bits(p, text), *f))
                .collect(),
            buries: self
                .buries
                .iter()
                .map(|(p, _, text)| bits(p, text))
                .collect(),
        }
    }

    /// What the rules did to one document, for `explain`.
    pub fn labels(&self, columns: &SegmentColumns, address: DocAddress) -> Vec<String> {
        let doc = address.doc_id;
        let mut labels: Vec<String> = self
            .pins
            .iter()
            .filter(|p| p.address == address)
            .map(|p| p.label.clone())
            .collect();
        labels.extend(
            self.boosts
                .iter()
                .filter(|(p, _, _, _)| p.matches(columns, doc, self.now))
                .map(|(_, _, label, _)| label.clone()),
        );
        labels.extend(
            self.buries
                .iter()
                .filter(|(p, _, _)| p.matches(columns, doc, self.now))
                .map(|(_, label, _)| label.clone()),
        );
        labels
    }
}

/// Whether a rule's conditions hold for a request.
fn rule_applies(
    rule: &Rule,
    query: &str,
    words: &[String],
    facts: &RequestFacts,
    snapshot: &Snapshot,
) -> bool {
    if rule.from.is_some_and(|from| facts.now < from)
        || rule.until.is_some_and(|until| facts.now >= until)
    {
        return false;
    }
    if rule.query.as_deref().is_some_and(|q| q != query) {
        return false;
    }
    if rule
        .query_contains
        .as_deref()
        .is_some_and(|w| !words.iter().any(|x| x == w))
    {
        return false;
    }
    match &rule.category {
        Some(category) => browses_category(category, facts.filters, snapshot),
        None => true,
    }
}

/// Whether the request filters on `category` or a category under it.
fn browses_category(category: &str, filters: &[FilterSpec], snapshot: &Snapshot) -> bool {
    filters.iter().any(|spec| {
        let (
            Target::Column {
                name,
                category: true,
            },
            Condition::AnyOf(values),
            false,
        ) = (&spec.target, &spec.condition, spec.negate)
        else {
            return false;
        };
        let Some(column) = snapshot.vocabulary.column_id(name) else {
            return false;
        };
        let dict = snapshot.vocabulary.column(column);
        if dict.kind != ColumnKind::Category {
            return false;
        }
        let wanted = category_nodes(dict, category);
        values
            .iter()
            .flat_map(|v| category_nodes(dict, v))
            .any(|mut node| {
                while node != NO_PARENT {
                    if wanted.contains(&node) {
                        return true;
                    }
                    node = dict.parent(node);
                }
                false
            })
    })
}
