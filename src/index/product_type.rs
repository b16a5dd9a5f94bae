//! What a product *is*, learned from the catalog at index time.
//!
//! A shopper who types `lenovo laptop` wants notebooks, not the "Battery for select
//! Lenovo laptops" that mentions the same words. To tell the two apart, every product
//! gets type words in the hidden `_type` field:
//!
//! * the head nouns of what the product *states* it is — the leaf of its category
//!   ("Notebook Bags & Cases" → `bag`, `case`), or the schema's other `type_fields`
//!   (`attributes.product_type`). The head of an English noun phrase is its last word,
//!   so a "notebook bag" is a bag;
//! * the head noun its title states: in the title's lead (the part before "for",
//!   "with", "compatible", a dash, a comma or a parenthesis), the first run of words
//!   between model codes and sizes that holds a known type noun, and the last type
//!   noun of that run ("Targus notebook bag" → `bag`, "HP KS524AA notebook spare
//!   part Battery" → `battery`, "HP Pavilion dv7 Notebook Silver 43.2 cm" →
//!   `notebook`). Nouns after "for" never count: that is what the product is *for*.
//!
//! The known type nouns ([`TypeNouns`]) are the stated heads seen in the first
//! [`LEARN_FROM`] products of the catalog: no word lists, nothing per query. They are
//! saved beside the index ([`TYPES_FILE`]) so upserts type new products the same way.
//! Query words are matched against `_type` at search time (`crate::ranking`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::path::Path;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::analysis::Analyzer;
use crate::catalog::{FieldValue, Product};
use crate::error::{Error, Result};
use crate::schema::{Stemmer, StoreSchema, TypeSource, normalize_attribute_key};

/// File beside an index holding its type nouns, one analyzed term a line.
pub const TYPES_FILE: &str = "types.txt";
/// How many products (from the start of the catalog) type nouns are learned from.
pub const LEARN_FROM: usize = 50_000;
/// Head nouns too general to say what a product is on their own ("power supply
/// *unit*", "maintenance *kit*"): the word before them is a head as well.
const LIGHT_HEADS: &[&str] = &[
    "unit",
    "kit",
    "set",
    "part",
    "module",
    "device",
    "component",
    "system",
    "accessory",
    "product",
    "item",
    "pack",
    "piece",
];

/// Words that end a title's lead: what follows says what the product is for or has.
const LEAD_ENDS: &[&str] = &[
    "for",
    "with",
    "w",
    "compatible",
    "incl",
    "including",
    "fits",
    "fit",
];

/// The type nouns of a catalog, as analyzed terms.
#[derive(Debug, Clone)]
pub struct TypeNouns {
    /// Looked up for every word of every title lead while indexing: Fx hashing.
    nouns: FxHashSet<String>,
    analyzer: Analyzer,
}

impl TypeNouns {
    /// The heads of what `products` state they are.
    pub fn learn<'a>(
        products: impl IntoIterator<Item = &'a Product>,
        schema: &StoreSchema,
    ) -> TypeNouns {
        let analyzer = Analyzer::new(schema.stemmer);
        let mut nouns = FxHashSet::default();
        for product in products {
            for phrase in stated_types(product, schema) {
                nouns.extend(phrase_heads(phrase, &analyzer));
            }
        }
        TypeNouns { nouns, analyzer }
    }

    /// The nouns saved beside an index (none when the index predates them).
    pub fn load(dir: &Path, schema: &StoreSchema) -> Result<TypeNouns> {
        let analyzer = Analyzer::new(schema.stemmer);
        let nouns = match std::fs::read_to_string(dir.join(TYPES_FILE)) {
            Ok(text) => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FxHashSet::default(),
            Err(e) => {
                return Err(Error::io(
                    format!("reading {}", dir.join(TYPES_FILE).display()),
                    e,
                ));
            }
        };
        Ok(TypeNouns { nouns, analyzer })
    }

    /// Writes the nouns beside an index.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut nouns: Vec<&String> = self.nouns.iter().collect();
        nouns.sort();
        let text: String = nouns.into_iter().map(|n| format!("{n}\n")).collect();
        std::fs::write(dir.join(TYPES_FILE), text)
            .map_err(|e| Error::io(format!("writing {}", dir.join(TYPES_FILE).display()), e))
    }

    /// Whether `term` (analyzed) is a known type noun.
    pub fn contains(&self, term: &str) -> bool {
        self.nouns.contains(term)
    }

    pub fn len(&self) -> usize {
        self.nouns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nouns.is_empty()
    }

    /// The text to index in `_type` for `product`: its stated heads and its title's.
    pub fn product_types(&self, product: &Product, schema: &StoreSchema) -> Vec<String> {
        let mut types: Vec<String> = stated_types(product, schema)
            .iter()
            .flat_map(|phrase| phrase_heads(phrase, &self.analyzer))
            .collect();
        if let Some(title) = title_of(product, schema) {
            types.extend(self.title_head(title));
        }
        types.sort();
        types.dedup();
        types
    }

    /// The head nouns a title states, if its lead holds a known type noun: the last
    /// type noun of the first run of words (model codes and sizes, which hold digits,
    /// end a run) that holds one, and the word before it when the head is a light one
    /// ("memory *module*").
    pub fn title_head(&self, title: &str) -> Vec<String> {
        let mut run: Vec<String> = Vec::new();
        let mut head: Option<usize> = None;
        let lead = title_lead(title);
        for word in lead_words(&lead) {
            if word.chars().any(|c| c.is_ascii_digit()) {
                if head.is_some() {
                    break;
                }
                run.clear();
                continue;
            }
            // The last known type noun among the word's terms, else its last term.
            let (noun, last) = with_word_terms(&self.analyzer, word, |terms| {
                let noun = terms
                    .iter()
                    .rev()
                    .find(|t| t.chars().all(char::is_alphabetic) && self.contains(t));
                match noun {
                    Some(noun) => (Some(noun.clone()), None),
                    None => (None, terms.last().cloned()),
                }
            });
            match noun {
                Some(noun) => {
                    run.push(noun);
                    head = Some(run.len() - 1);
                }
                None => run.extend(last),
            }
        }
        let Some(at) = head else {
            return Vec::new();
        };
        let mut heads = vec![run[at].clone()];
        if LIGHT_HEADS.contains(&run[at].as_str())
            && let Some(modifier) = at.checked_sub(1).and_then(|i| run.get(i))
            && modifier.chars().all(char::is_alphabetic)
        {
            heads.push(modifier.clone());
        }
        heads
    }
}

/// A title up to its first ending mark, with parenthesized notes ("(3 m)", "(17\")")
/// blanked out: they are skipped, not an end. [`lead_words`] then ends the lead at
/// a word.
fn title_lead(title: &str) -> Cow<'_, str> {
    let end = title
        .find([',', ';', ':', '|', '–', '—'])
        .unwrap_or(title.len());
    without_notes(&title[..end])
}

/// `text` with bracketed notes blanked out (borrowed when it has none).
fn without_notes(text: &str) -> Cow<'_, str> {
    if !text.contains(['(', '[', ')', ']']) {
        return Cow::Borrowed(text);
    }
    let mut depth = 0usize;
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '(' | '[' => {
                    depth += 1;
                    ' '
                }
                ')' | ']' => {
                    depth = depth.saturating_sub(1);
                    ' '
                }
                _ if depth > 0 => ' ',
                c => c,
            })
            .collect(),
    )
}

/// The words of a [`title_lead`] before the first word that ends the lead.
fn lead_words(plain: &str) -> Vec<&str> {
    plain
        .split_whitespace()
        .take_while(|w| *w != "-" && *w != "/" && *w != "+" && *w != "&")
        .take_while(|w| {
            let word = w.trim_end_matches(['.', '/']);
            // The ends are ASCII without a `k`, so ASCII case folding decides as
            // Unicode lowercasing would (only the Kelvin sign lowercases to ASCII).
            !LEAD_ENDS.iter().any(|end| end.eq_ignore_ascii_case(word))
        })
        .collect()
}

/// The phrases a product states as its type, from the schema's `type_fields`.
fn stated_types<'a>(product: &'a Product, schema: &StoreSchema) -> Vec<&'a str> {
    let mut out = Vec::new();
    for source in &schema.ranking.type_sources {
        match source {
            TypeSource::Field(i) => match product.values.get(*i) {
                Some(FieldValue::Category(paths)) => {
                    out.extend(paths.iter().filter_map(|p| p.last()).map(String::as_str))
                }
                Some(FieldValue::Keyword(values) | FieldValue::Text(values)) => {
                    out.extend(values.iter().map(String::as_str))
                }
                _ => {}
            },
            TypeSource::Attribute { field, key } => {
                if let Some(FieldValue::Attributes(attrs)) = product.values.get(*field) {
                    out.extend(
                        attrs
                            .iter()
                            .filter(|(k, _)| normalize_attribute_key(k) == *key)
                            .flat_map(|(_, v)| v.iter().map(String::as_str)),
                    );
                }
            }
        }
    }
    out
}

/// The head noun of each part of a type phrase ("Notebook Bags & Cases" → bag, case;
/// "Memory (RAM)" → memory).
fn phrase_heads(phrase: &str, analyzer: &Analyzer) -> Vec<String> {
    let without_notes: String = {
        let mut depth = 0usize;
        phrase
            .chars()
            .filter(|c| match c {
                '(' | '[' => {
                    depth += 1;
                    false
                }
                ')' | ']' => {
                    depth = depth.saturating_sub(1);
                    false
                }
                _ => depth == 0,
            })
            .collect()
    };
    without_notes
        .split(['&', ',', '/', '+', ';'])
        .flat_map(|part| part.split(" and "))
        .flat_map(|part| {
            let words: Vec<String> = part
                .split_whitespace()
                .filter_map(|word| {
                    with_word_terms(analyzer, word, |terms| match terms {
                        [term] if term.chars().all(char::is_alphabetic) => Some(term.clone()),
                        _ => None,
                    })
                })
                .collect();
            let mut heads: Vec<String> = words.last().cloned().into_iter().collect();
            if heads
                .first()
                .is_some_and(|h| LIGHT_HEADS.contains(&h.as_str()))
                && let Some(modifier) = words.iter().rev().nth(1)
            {
                heads.push(modifier.clone());
            }
            heads
        })
        .collect()
}

/// Most words a thread remembers the terms of (about 3 MB); past it the memo starts over.
const MEMO_WORDS: usize = 1 << 15;

/// Terms of single words already analyzed, and the stemmer that analyzed them.
type WordTermsMemo = (Option<Stemmer>, FxHashMap<String, Vec<String>>);

thread_local! {
    static WORD_TERMS: RefCell<WordTermsMemo> = RefCell::new((None, FxHashMap::default()));
}

/// Calls `f` with `analyzer.terms(word)`, remembered per thread: typing analyzes the
/// words of every category leaf and title lead one at a time, and a catalog repeats
/// the same few thousand words across millions of products.
fn with_word_terms<R>(analyzer: &Analyzer, word: &str, f: impl FnOnce(&[String]) -> R) -> R {
    WORD_TERMS.with(|memo| {
        let mut memo = memo.borrow_mut();
        let (stemmer, words) = &mut *memo;
        if *stemmer != Some(analyzer.stemmer()) || words.len() >= MEMO_WORDS {
            *stemmer = Some(analyzer.stemmer());
            words.clear();
        }
        if let Some(terms) = words.get(word) {
            return f(terms);
        }
        let terms = analyzer.terms(word);
        let out = f(&terms);
        words.insert(word.to_string(), terms);
        out
    })
}

/// The product's title: the field named `title`, else the heaviest text field.
fn title_of<'a>(product: &'a Product, schema: &StoreSchema) -> Option<&'a str> {
    let index = schema
        .fields
        .iter()
        .position(|f| f.name == "title")
        .or_else(|| {
            schema
                .fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.weight.is_some())
                .max_by(|a, b| {
                    a.1.weight
                        .partial_cmp(&b.1.weight)
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
                .map(|(i, _)| i)
        })?;
    match product.values.get(index) {
        Some(FieldValue::Text(values) | FieldValue::Keyword(values)) => {
            values.first().map(String::as_str)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Stemmer;

    fn nouns(words: &[&str]) -> TypeNouns {
        TypeNouns {
            nouns: words.iter().map(|w| w.to_string()).collect(),
            analyzer: Analyzer::new(Stemmer::Light),
        }
    }

    /// The lead's words as first written: every character mapped into a new string,
    /// every word lowercased to compare it with the ends.
    fn lead_words_oracle(title: &str) -> Vec<String> {
        let end = title
            .find([',', ';', ':', '|', '–', '—'])
            .unwrap_or(title.len());
        let mut depth = 0usize;
        let plain: String = title[..end]
            .chars()
            .map(|c| match c {
                '(' | '[' => {
                    depth += 1;
                    ' '
                }
                ')' | ']' => {
                    depth = depth.saturating_sub(1);
                    ' '
                }
                _ if depth > 0 => ' ',
                c => c,
            })
            .collect();
        plain
            .split_whitespace()
            .take_while(|w| *w != "-" && *w != "/" && *w != "+" && *w != "&")
            .take_while(|w| {
                let lower = w.trim_end_matches(['.', '/']).to_lowercase();
                !LEAD_ENDS.contains(&lower.as_str())
            })
            .map(String::from)
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn lead_words_are_the_oracles(
            title in "(Sofa|FOR|w/|Incl\\.|fits|\\u{212a}it|\\(3 m\\)|\\[|\\]|-|&|,|é| ){0,10}"
        ) {
            let lead = title_lead(&title);
            proptest::prop_assert_eq!(lead_words(&lead), lead_words_oracle(&title));
        }
    }

    #[test]
    fn lead_ends_are_compared_as_unicode_lowercasing_would() {
        // `lead_words` folds ASCII case only: exact while no end holds a `k` (the
        // Kelvin sign lowercases to one) or anything not ASCII.
        assert!(
            LEAD_ENDS
                .iter()
                .all(|end| end.is_ascii() && !end.contains('k'))
        );
        assert_eq!(lead_words("Sofa FOR living"), ["Sofa"]);
        assert_eq!(lead_words("Cable W/ plug"), ["Cable"]);
        assert_eq!(
            lead_words(&title_lead("Lamp (incl. bulb) brass, 60 W")),
            ["Lamp", "brass"]
        );
    }

    #[test]
    fn phrase_heads_are_the_last_noun_of_each_part() {
        let analyzer = Analyzer::new(Stemmer::Light);
        assert_eq!(
            phrase_heads("Notebook Bags & Cases", &analyzer),
            ["bag", "case"]
        );
        assert_eq!(phrase_heads("Memory (RAM)", &analyzer), ["memory"]);
        assert_eq!(phrase_heads("Toner Cartridges", &analyzer), ["cartridge"]);
        assert_eq!(phrase_heads("Mice", &analyzer), ["mouse"]);
        assert_eq!(
            phrase_heads("Power Supply Units", &analyzer),
            ["unit", "supply"]
        );
    }

    #[test]
    fn a_title_states_its_head_noun_before_what_it_is_for() {
        let n = nouns(&[
            "notebook",
            "bag",
            "battery",
            "cartridge",
            "adapter",
            "modem",
            "part",
            "ups",
        ]);
        assert_eq!(
            n.title_head("HP KS524AA notebook spare part Battery")
                .first()
                .map(String::as_str),
            Some("battery")
        );
        assert_eq!(
            n.title_head("Dell D630 Notebook Core 2 Duo 4-cell battery")
                .first()
                .map(String::as_str),
            Some("notebook")
        );
        assert_eq!(
            n.title_head("APC Smart-UPS 1500VA")
                .first()
                .map(String::as_str),
            Some("ups")
        );
        assert_eq!(
            n.title_head("Targus notebook bag")
                .first()
                .map(String::as_str),
            Some("bag")
        );
        assert_eq!(
            n.title_head("Battery for select IBM/LENOVO notebooks")
                .first()
                .map(String::as_str),
            Some("battery")
        );
        assert_eq!(
            n.title_head("HP Pavilion dv7 Notebook Silver 43.2 cm (17\") Card adapter")
                .first()
                .map(String::as_str),
            Some("notebook")
        );
        assert_eq!(
            n.title_head("Xerox 006R90321 toner cartridge Original Black")
                .first()
                .map(String::as_str),
            Some("cartridge")
        );
        assert_eq!(
            n.title_head("StarTech.com DB9 RS232 Serial Null Modem Adapter - M/F")
                .first()
                .map(String::as_str),
            Some("adapter")
        );
        assert_eq!(
            n.title_head("AC adapter for notebooks")
                .first()
                .map(String::as_str),
            Some("adapter")
        );
        assert!(n.title_head("Compatible with every notebook").is_empty());
        let light = nouns(&["memory", "module"]);
        assert_eq!(
            light.title_head("HyperX FURY HX436/32 memory module 32 GB"),
            ["module", "memory"]
        );
    }
}
