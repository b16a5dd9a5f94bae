//! Autocomplete: suggestions for what a shopper has typed so far.
//!
//! Built at index time ([`SuggestionBuilder`]) from product titles (phrases of one to
//! three words), brands and category names, each weighted by the popularity of the
//! products it occurs in, and written beside the index as an fst from the lowercased
//! phrase to its score. [`Suggester`] answers from an fst prefix walk: the best
//! suggestions of every one-to-three-character prefix are computed once at load, so
//! broad prefixes cost a table lookup; longer prefixes walk only their own branch.
//! Prefixes of four characters or more are also matched with one typo. Products
//! upserted or deleted since the build reach suggestions through an [`overlay`].

pub mod overlay;

use std::collections::{BinaryHeap, HashMap};
use std::path::Path;

use fst::{Automaton, IntoStreamer, Map, MapBuilder, Streamer};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::analysis::{fold_word, is_stop_word};
use crate::catalog::{FieldValue, Product};
use crate::error::{Error, Result};
use crate::schema::{FieldKind, StoreSchema};
use crate::typo::TypoAutomaton;
pub use overlay::SuggestionOverlay;

/// File name of the suggestions beside an index.
pub const SUGGESTIONS_FILE: &str = "suggestions.fst";
/// Longest title phrase suggested, in words.
pub const MAX_PHRASE_WORDS: usize = 3;
/// Most suggestions kept (the highest scored).
pub const MAX_STORED: usize = 250_000;
/// Prefixes up to this many characters have their best suggestions precomputed.
pub const PRECOMPUTED_PREFIX_CHARS: usize = 3;
/// Suggestions precomputed per prefix (the largest `limit` served from the table).
pub const PRECOMPUTED_PER_PREFIX: usize = 20;
/// Most suggestions a request may ask for.
pub const MAX_LIMIT: usize = 20;
/// Prefixes at least this long also match with one typo.
pub const TYPO_PREFIX_CHARS: usize = 4;
/// Most fst entries a longer-prefix walk reads.
const MAX_SCAN: usize = 20_000;
/// Score factor of a suggestion found only through a typo.
const TYPO_FACTOR: f64 = 0.5;

/// One suggestion.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Suggestion {
    pub text: String,
    pub score: f64,
}

/// Phrase normalization shared by building and querying.
pub fn normalize(text: &str) -> String {
    let mut out = String::new();
    normalize_into(text, &mut out);
    out
}

/// [`normalize`] into `out` (cleared first), a buffer reused between calls.
fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.is_ascii() {
            out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            out.push_str(&fold_word(word));
        }
    }
}

/// Words of a title as suggestion material: folded, alphanumeric runs.
fn title_words(title: &str) -> Vec<String> {
    title
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '"' | '|' | '/'))
        .map(|w| fold_word(w.trim_matches(|c: char| !c.is_alphanumeric())))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Collects suggestion phrases while a catalog is indexed.
#[derive(Default, Clone)]
pub struct SuggestionBuilder {
    scores: PhraseScores,
    title_fields: Vec<usize>,
    name_fields: Vec<usize>,
    popularity: Option<usize>,
}

/// Every phrase's summed weight, each product counted once per phrase.
#[derive(Default, Clone)]
struct PhraseScores {
    /// Fx hashing: a catalog build looks up every title's phrases here.
    by_phrase: FxHashMap<String, PhraseScore>,
    /// Products added so far: the stamp of the one being added.
    products: u64,
}

#[derive(Clone, Copy)]
struct PhraseScore {
    weight: f64,
    /// The last product whose weight is in `weight`.
    product: u64,
}

impl PhraseScores {
    /// Adds `weight` to `phrase` unless the current product already did; allocates
    /// only for a phrase seen for the first time.
    fn credit(&mut self, phrase: &str, weight: f64) {
        let product = self.products;
        match self.by_phrase.get_mut(phrase) {
            Some(score) if score.product == product => {}
            Some(score) => {
                score.weight += weight;
                score.product = product;
            }
            None => {
                self.by_phrase
                    .insert(phrase.to_string(), PhraseScore { weight, product });
            }
        }
    }
}

impl SuggestionBuilder {
    /// Titles come from the highest-weighted text fields; names from faceted keyword
    /// fields (brands) and category fields.
    pub fn new(schema: &StoreSchema) -> SuggestionBuilder {
        let top_weight = schema
            .fields
            .iter()
            .filter(|f| f.kind == FieldKind::Text)
            .filter_map(|f| f.weight)
            .fold(0.0f32, f32::max);
        let title_fields = schema
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.kind == FieldKind::Text && f.weight == Some(top_weight))
            .map(|(i, _)| i)
            .collect();
        let name_fields = schema
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| match f.kind {
                FieldKind::Keyword { .. } => f.facet.is_some() && f.weight.is_some(),
                FieldKind::Category { .. } => true,
                _ => false,
            })
            .map(|(i, _)| i)
            .collect();
        SuggestionBuilder {
            scores: PhraseScores::default(),
            title_fields,
            name_fields,
            popularity: schema.roles.popularity,
        }
    }

    /// Adds a product's phrases, weighted by its popularity.
    pub fn add(&mut self, product: &Product) {
        let weight = self.weight(product);
        let scores = &mut self.scores;
        scores.products += 1;
        visit_phrases(
            &self.title_fields,
            &self.name_fields,
            product,
            &mut |phrase| scores.credit(phrase, weight),
        );
    }

    /// A product's distinct suggestion phrases and the weight each one gets from it
    /// (`1 + ln(1 + popularity)`); scores in the fst are sums of these weights.
    pub fn phrases(&self, product: &Product) -> (Vec<String>, f64) {
        let mut phrases: Vec<String> = Vec::new();
        visit_phrases(
            &self.title_fields,
            &self.name_fields,
            product,
            &mut |phrase| phrases.push(phrase.to_string()),
        );
        phrases.sort();
        phrases.dedup();
        (phrases, self.weight(product))
    }

    /// What each of `product`'s phrases weighs: `1 + ln(1 + popularity)`.
    fn weight(&self, product: &Product) -> f64 {
        let popularity = match self.popularity.and_then(|i| product.values.get(i)) {
            Some(FieldValue::Number(p)) if *p > 0.0 => *p,
            _ => 0.0,
        };
        1.0 + (1.0 + popularity).ln()
    }

    /// Writes the best phrases as an fst to `dir`.
    pub fn write(self, dir: &Path) -> Result<usize> {
        let mut entries: Vec<(String, f64)> = (self.scores.by_phrase.into_iter())
            .map(|(phrase, score)| (phrase, score.weight))
            .collect();
        if entries.len() > MAX_STORED {
            entries.sort_by(|a, b| b.1.total_cmp(&a.1));
            entries.truncate(MAX_STORED);
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let path = dir.join(SUGGESTIONS_FILE);
        let file = std::fs::File::create(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        let mut builder = MapBuilder::new(std::io::BufWriter::new(file))
            .map_err(|e| Error::Internal(format!("writing suggestions: {e}")))?;
        for (phrase, score) in &entries {
            builder
                .insert(phrase, (score * 100.0).round() as u64)
                .map_err(|e| Error::Internal(format!("writing suggestions: {e}")))?;
        }
        builder
            .finish()
            .map_err(|e| Error::Internal(format!("writing suggestions: {e}")))?;
        Ok(entries.len())
    }
}

/// Words that join others in titles ("sofa in grey") but never start or end a suggestion.
const CONNECTORS: &[&str] = &["in", "on", "by", "x", "w", "incl", "inc"];

/// Calls `visit` with every suggestion phrase of `product` (repeats included): the
/// phrases of its titles, and its names normalized. Empty phrases and phrases of 200
/// bytes or more are left out.
fn visit_phrases(
    title_fields: &[usize],
    name_fields: &[usize],
    product: &Product,
    visit: &mut dyn FnMut(&str),
) {
    let mut keep = |phrase: &str| {
        if !phrase.is_empty() && phrase.len() < 200 {
            visit(phrase);
        }
    };
    let mut phrase = String::new();
    for &i in title_fields {
        if let Some(FieldValue::Text(texts)) = product.values.get(i) {
            for text in texts {
                visit_title_phrases(&title_words(text), &mut phrase, &mut keep);
            }
        }
    }
    let mut name = |text: &str| {
        normalize_into(text, &mut phrase);
        keep(&phrase);
    };
    for &i in name_fields {
        match product.values.get(i) {
            Some(FieldValue::Keyword(values)) => values.iter().for_each(|v| name(v)),
            Some(FieldValue::Category(paths)) => paths.iter().flatten().for_each(|l| name(l)),
            _ => {}
        }
    }
}

/// Phrases of one to three words starting and ending on a content word.
#[cfg(test)]
fn title_phrases(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    visit_title_phrases(words, &mut String::new(), &mut |p| out.push(p.to_string()));
    out
}

/// Calls `visit` with each phrase of one to three words of `words` that starts and
/// ends on a content word, built in `phrase` (a buffer reused between calls).
fn visit_title_phrases(words: &[String], phrase: &mut String, visit: &mut impl FnMut(&str)) {
    let content = |w: &String| {
        !is_stop_word(w) && !CONNECTORS.contains(&w.as_str()) && w.chars().any(char::is_alphabetic)
    };
    for start in 0..words.len() {
        if !content(&words[start]) {
            continue;
        }
        phrase.clear();
        for len in 1..=MAX_PHRASE_WORDS.min(words.len() - start) {
            let word = &words[start + len - 1];
            if len > 1 {
                phrase.push(' ');
            }
            phrase.push_str(word);
            if content(word) {
                visit(phrase);
            }
        }
    }
}

/// Answers autocomplete requests from the suggestions of an index.
pub struct Suggester {
    map: Map<Vec<u8>>,
    /// Best suggestions (text, score) of every short prefix.
    top: HashMap<String, Vec<(String, u64)>>,
}

impl std::fmt::Debug for Suggester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Suggester({} phrases)", self.map.len())
    }
}

impl Suggester {
    /// Loads the suggestions written beside an index (none when the file is absent).
    pub fn load(dir: &Path) -> Result<Suggester> {
        let path = dir.join(SUGGESTIONS_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Suggester::empty()),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        let map =
            Map::new(bytes).map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
        let top = precompute(&map);
        Ok(Suggester { map, top })
    }

    /// A suggester that suggests nothing.
    pub fn empty() -> Suggester {
        let map =
            Map::from_iter(std::iter::empty::<(&str, u64)>()).unwrap_or_else(|_| unreachable!());
        Suggester {
            map,
            top: HashMap::new(),
        }
    }

    /// Number of phrases.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A phrase's score in the fst (weight × 100), if the build suggested it.
    pub fn score_of(&self, phrase: &str) -> Option<u64> {
        self.map.get(phrase)
    }

    /// The best `limit` suggestions for what was typed.
    pub fn suggest(&self, typed: &str, limit: usize) -> Vec<Suggestion> {
        self.suggest_with(typed, limit, &SuggestionOverlay::default())
    }

    /// The best `limit` suggestions for what was typed, with the changes product
    /// updates made since the build (`overlay`).
    pub fn suggest_with(
        &self,
        typed: &str,
        limit: usize,
        overlay: &SuggestionOverlay,
    ) -> Vec<Suggestion> {
        let prefix = normalize(typed);
        let limit = limit.min(MAX_LIMIT);
        if prefix.is_empty() || limit == 0 {
            return Vec::new();
        }
        let mut found: Vec<(String, f64)> = match self.top.get(&prefix) {
            Some(best) if limit <= PRECOMPUTED_PER_PREFIX => {
                best.iter().map(|(t, s)| (t.clone(), *s as f64)).collect()
            }
            _ => self.walk_prefix(&prefix),
        };
        let base = |phrase: &str| self.map.get(phrase);
        overlay.adjust(&mut found, &prefix, 1.0, Some(&base));
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        found.truncate(limit);
        // Too few completions of what was typed: completions one typo away follow.
        if prefix.chars().count() >= TYPO_PREFIX_CHARS && found.len() < limit {
            let mut fuzzy: Vec<(String, f64)> = self
                .walk_typo(&prefix)
                .into_iter()
                .filter(|(text, _)| !found.iter().any(|(t, _)| t == text))
                .collect();
            overlay.adjust(&mut fuzzy, &prefix, TYPO_FACTOR, None);
            fuzzy.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            found.extend(fuzzy.into_iter().take(limit - found.len()));
        }
        found
            .into_iter()
            .map(|(text, score)| Suggestion {
                text,
                score: score.round() / 100.0,
            })
            .collect()
    }

    fn walk_prefix(&self, prefix: &str) -> Vec<(String, f64)> {
        let automaton = fst::automaton::Str::new(prefix).starts_with();
        let mut stream = self.map.search(automaton).into_stream();
        let mut out = Vec::new();
        while let Some((key, score)) = stream.next() {
            if let Ok(text) = std::str::from_utf8(key) {
                out.push((text.to_string(), score as f64));
            }
            if out.len() >= MAX_SCAN {
                break;
            }
        }
        out
    }

    fn walk_typo(&self, prefix: &str) -> Vec<(String, f64)> {
        let automaton = TypoAutomaton::new(prefix, 1).starts_with();
        let mut stream = self.map.search(automaton).into_stream();
        let mut out = Vec::new();
        while let Some((key, score)) = stream.next() {
            if let Ok(text) = std::str::from_utf8(key) {
                out.push((text.to_string(), score as f64 * TYPO_FACTOR));
            }
            if out.len() >= MAX_SCAN {
                break;
            }
        }
        out
    }
}

/// The best suggestions of every prefix of up to [`PRECOMPUTED_PREFIX_CHARS`] characters.
fn precompute(map: &Map<Vec<u8>>) -> HashMap<String, Vec<(String, u64)>> {
    type Heap = BinaryHeap<std::cmp::Reverse<(u64, String)>>;
    let mut heaps: HashMap<String, Heap> = HashMap::new();
    let mut stream = map.stream();
    while let Some((key, score)) = stream.next() {
        let Ok(text) = std::str::from_utf8(key) else {
            continue;
        };
        for (n, (end, _)) in text
            .char_indices()
            .skip(1)
            .chain(std::iter::once((text.len(), ' ')))
            .enumerate()
        {
            if n >= PRECOMPUTED_PREFIX_CHARS {
                break;
            }
            let heap = heaps.entry(text[..end].to_string()).or_default();
            heap.push(std::cmp::Reverse((score, text.to_string())));
            if heap.len() > PRECOMPUTED_PER_PREFIX {
                heap.pop();
            }
        }
    }
    heaps
        .into_iter()
        .map(|(prefix, heap)| {
            let mut best: Vec<(String, u64)> = heap
                .into_iter()
                .map(|std::cmp::Reverse((s, t))| (t, s))
                .collect();
            best.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            (prefix, best)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn normalize_folds_every_word_and_joins_them_with_one_space(
            text in "[a-zA-Z0-9 \t\u{e9}\u{c9}\u{df}\u{301}\u{212a}]{0,12}"
        ) {
            let words: Vec<String> = text.split_whitespace().map(fold_word).collect();
            proptest::prop_assert_eq!(normalize(&text), words.join(" "));
        }
    }

    fn suggester(phrases: &[(&str, u64)]) -> (tempfile::TempDir, Suggester) {
        let dir = tempfile::tempdir().unwrap();
        let mut sorted: Vec<_> = phrases.to_vec();
        sorted.sort();
        let mut builder =
            MapBuilder::new(std::fs::File::create(dir.path().join(SUGGESTIONS_FILE)).unwrap())
                .unwrap();
        for (p, s) in sorted {
            builder.insert(p, s).unwrap();
        }
        builder.finish().unwrap();
        let s = Suggester::load(dir.path()).unwrap();
        (dir, s)
    }

    fn texts(s: &Suggester, typed: &str, limit: usize) -> Vec<String> {
        s.suggest(typed, limit)
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn best_scored_completions_first() {
        let (_d, s) = suggester(&[
            ("sofa", 900),
            ("sofa bed", 300),
            ("soft throw", 500),
            ("linen sofa", 200),
            ("table", 50),
        ]);
        assert_eq!(texts(&s, "so", 2), ["sofa", "soft throw"]);
        assert_eq!(texts(&s, "SOF", 8), ["sofa", "soft throw", "sofa bed"]);
        assert_eq!(texts(&s, "Sofa", 2), ["sofa", "sofa bed"]);
        assert_eq!(
            texts(&s, "Sofa", 8),
            ["sofa", "sofa bed", "soft throw"],
            "one-typo completions follow"
        );
        assert_eq!(texts(&s, "linen so", 8), ["linen sofa"]);
        assert!(texts(&s, "xyz", 8).is_empty());
        assert!(texts(&s, "", 8).is_empty());
    }

    #[test]
    fn longer_prefixes_tolerate_one_typo() {
        let (_d, s) = suggester(&[("headphones", 900), ("headset", 300)]);
        assert_eq!(texts(&s, "haedph", 8), ["headphones"]);
        assert!(
            texts(&s, "hae", 8).is_empty(),
            "no typos under four characters"
        );
    }

    #[test]
    fn title_phrases_start_and_end_on_content_words() {
        let words = title_words("Linen 3-Seat Sofa in Grey");
        let phrases = title_phrases(&words);
        assert!(
            phrases.contains(&"linen 3-seat sofa".to_string()),
            "{phrases:?}"
        );
        assert!(phrases.contains(&"sofa in grey".to_string()));
        assert!(
            !phrases
                .iter()
                .any(|p| p.starts_with("in ") || p.ends_with(" in"))
        );
    }
}
