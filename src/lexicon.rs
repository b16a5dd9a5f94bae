//! The lexicon: every word the index holds, with its document frequency, as an fst.
//!
//! Built from the term dictionaries of the typo-tolerant text fields whenever the
//! snapshot changes (each segment's terms are read once and cached, then merged).
//! The query layer asks it three things: how common a word is ([`Lexicon::doc_freq`]),
//! which words are within a few typos of a word ([`Lexicon::fuzzy`], through
//! [`crate::typo::TypoAutomaton`]), and which words start with a prefix
//! ([`Lexicon::prefixed`]). All three are fst walks: no per-term scans.

use std::collections::BTreeMap;
use std::sync::Arc;

use fst::{IntoStreamer, Map, MapBuilder, Streamer};
use tantivy::SegmentReader;

use crate::error::{Error, Result};
use crate::schema::IndexFields;
use crate::typo::TypoAutomaton;

/// Most words a prefix may expand to (the most frequent ones are kept).
pub const MAX_PREFIX_EXPANSIONS: usize = 30;

/// How many completions a prefix of `chars` characters gets: a one-letter prefix
/// matches half the catalog, so it may only bring its few commonest words.
pub fn prefix_budget(chars: usize) -> usize {
    match chars {
        0 => 0,
        1 => 3,
        2 => 8,
        3 => 16,
        _ => MAX_PREFIX_EXPANSIONS,
    }
}
/// Most lexicon entries a prefix walk reads before it stops looking.
pub const MAX_PREFIX_SCAN: usize = 20_000;
/// Most candidates a fuzzy walk collects before ranking them.
pub const MAX_FUZZY_SCAN: usize = 2_000;

/// Words of one segment with their document frequencies, sorted.
pub type SegmentTerms = Arc<Vec<(Vec<u8>, u64)>>;

/// A word near another: the word, its edit distance and its document frequency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub term: String,
    pub distance: u8,
    pub doc_freq: u64,
}

/// The store's words.
#[derive(Clone)]
pub struct Lexicon {
    map: Map<Vec<u8>>,
}

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lexicon({} words)", self.map.len())
    }
}

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon::from_sorted(std::iter::empty()).unwrap_or_else(|_| unreachable!("empty fst"))
    }
}

impl Lexicon {
    /// Reads the terms of a segment's typo-tolerant text fields.
    pub fn segment_terms(segment: &SegmentReader, fields: &IndexFields) -> Result<SegmentTerms> {
        let mut terms: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for text in fields.text.iter().filter(|t| t.typos) {
            let inverted = segment.inverted_index(text.field)?;
            let mut stream = inverted
                .terms()
                .stream()
                .map_err(|e| Error::io("reading a term dictionary", e))?;
            while stream.advance() {
                *terms.entry(stream.key().to_vec()).or_insert(0) += stream.value().doc_freq as u64;
            }
        }
        Ok(Arc::new(terms.into_iter().collect()))
    }

    /// Merges the terms of every segment into one lexicon.
    pub fn merge(segments: &[SegmentTerms]) -> Result<Lexicon> {
        let mut merged: BTreeMap<&[u8], u64> = BTreeMap::new();
        for segment in segments {
            for (term, df) in segment.iter() {
                *merged.entry(term.as_slice()).or_insert(0) += df;
            }
        }
        Lexicon::from_sorted(merged.into_iter())
    }

    /// Builds a lexicon from words in byte order.
    pub fn from_sorted<'a>(terms: impl Iterator<Item = (&'a [u8], u64)>) -> Result<Lexicon> {
        let mut builder = MapBuilder::memory();
        for (term, df) in terms {
            builder
                .insert(term, df)
                .map_err(|e| Error::Internal(format!("building the lexicon: {e}")))?;
        }
        let bytes = builder
            .into_inner()
            .map_err(|e| Error::Internal(format!("building the lexicon: {e}")))?;
        let map =
            Map::new(bytes).map_err(|e| Error::Internal(format!("building the lexicon: {e}")))?;
        Ok(Lexicon { map })
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// In how many documents `term` occurs (summed over fields); 0 when unknown.
    pub fn doc_freq(&self, term: &str) -> u64 {
        self.map.get(term).unwrap_or(0)
    }

    /// Words of letters within `max_distance` edits of `word` (transpositions count
    /// as one), closest first, then most frequent; at most `limit`. Words with digits
    /// or punctuation are never offered as corrections.
    pub fn fuzzy(&self, word: &str, max_distance: u8, limit: usize) -> Vec<Candidate> {
        let automaton = TypoAutomaton::new(word, max_distance).letters_only();
        let mut stream = self.map.search(&automaton).into_stream();
        let mut found = Vec::new();
        while let Some((term, df)) = stream.next() {
            if term == word.as_bytes() {
                continue;
            }
            let Ok(text) = std::str::from_utf8(term) else {
                continue;
            };
            found.push(Candidate {
                term: text.to_string(),
                distance: automaton.distance(term),
                doc_freq: df,
            });
            if found.len() >= MAX_FUZZY_SCAN {
                break;
            }
        }
        found.sort_by(|a, b| {
            a.distance
                .cmp(&b.distance)
                .then(b.doc_freq.cmp(&a.doc_freq))
                .then_with(|| a.term.cmp(&b.term))
        });
        found.truncate(limit);
        found
    }

    /// The most frequent words starting with `prefix` (the prefix itself excluded),
    /// at most `limit`.
    pub fn prefixed(&self, prefix: &str, limit: usize) -> Vec<(String, u64)> {
        if prefix.is_empty() {
            return Vec::new();
        }
        let mut upper = prefix.as_bytes().to_vec();
        upper.push(0xff);
        let mut stream = self.map.range().gt(prefix).lt(&upper).into_stream();
        let mut found: Vec<(String, u64)> = Vec::new();
        let mut scanned = 0;
        while let Some((term, df)) = stream.next() {
            scanned += 1;
            if scanned > MAX_PREFIX_SCAN {
                break;
            }
            if let Ok(text) = std::str::from_utf8(term) {
                found.push((text.to_string(), df));
            }
        }
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        found.truncate(limit);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon(words: &[(&str, u64)]) -> Lexicon {
        let mut sorted: Vec<(&[u8], u64)> = words.iter().map(|(w, d)| (w.as_bytes(), *d)).collect();
        sorted.sort();
        Lexicon::from_sorted(sorted.into_iter()).unwrap()
    }

    #[test]
    fn fuzzy_finds_close_words_closest_and_commonest_first() {
        let lex = lexicon(&[
            ("wireless", 500),
            ("wireline", 3),
            ("wires", 40),
            ("mouse", 900),
            ("house", 2),
        ]);
        let found = lex.fuzzy("wireles", 1, 10);
        assert_eq!(found[0].term, "wireless");
        assert_eq!(found[0].distance, 1);
        let found = lex.fuzzy("mosue", 1, 10);
        assert_eq!(
            found.iter().map(|c| c.term.as_str()).collect::<Vec<_>>(),
            ["mouse"],
            "transposition is one edit"
        );
        let found = lex.fuzzy("wirelss", 2, 10);
        assert_eq!(found[0].term, "wireless");
        assert!(lex.fuzzy("zzzzzz", 2, 10).is_empty());
    }

    #[test]
    fn prefixed_keeps_the_most_frequent() {
        let lex = lexicon(&[
            ("sofa", 300),
            ("soft", 20),
            ("solar", 5),
            ("so", 9),
            ("table", 40),
        ]);
        let found = lex.prefixed("so", 2);
        assert_eq!(found, [("sofa".to_string(), 300), ("soft".to_string(), 20)]);
        assert!(lex.prefixed("", 5).is_empty());
        assert_eq!(lex.doc_freq("table"), 40);
        assert_eq!(lex.doc_freq("tables"), 0);
    }
}
