//! Text analysis: the one analyzer used at index time and at query time.
//!
//! Text enters as a string and leaves as [`Token`]s (index time) or [`QueryWord`]s
//! (query time). Both come from the same steps, so a word typed in the search box
//! becomes exactly the terms the index holds:
//!
//! 1. word boundaries from Unicode's word segmentation (UAX #29, [`segment`]);
//! 2. lowercasing and diacritic folding (`Café` → `cafe`, `Æ` → `ae`);
//! 3. possessives and in-word apostrophes dropped (`men's` → `men`, `don't` → `dont`);
//! 4. sizes and model codes split at letter/digit boundaries while keeping the whole:
//!    `18x18` → `18x18` + `18 x 18`, `1500VA` → `1500va` + `1500 va`, `ddr4` → `ddr4` + `ddr 4`;
//! 5. hyphenated runs also indexed joined: `Wi-Fi` → `wi fi` + `wifi`, `3-seat` → `3 seat` + `3seat`;
//! 6. an inch mark after a number becomes the word `inch` (`27"` → `27 inch`);
//! 7. stemming of alphabetic words (plural folding by default, see [`stem`]).
//!
//! [`ClerkTokenizer`] registers these steps with tantivy under [`TOKENIZER_NAME`].

mod fold;
mod segment;
pub mod stem;
mod tokenizer;

use std::borrow::Cow;

use crate::schema::Stemmer;
pub use fold::fold_word;
pub use tokenizer::ClerkTokenizer;

/// The name under which the clerk analyzer is registered with tantivy.
pub const TOKENIZER_NAME: &str = "clerk";

/// Hyphenated runs longer than this are not joined into one token.
const MAX_JOINED_WORDS: usize = 4;

/// Query words that do not have to match (they still score when they do).
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "at", "by", "for", "from", "of", "or", "the", "to", "with",
];

/// Whether `word` (lowercased) is a stop word: matched when present, never required.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// An indexed token: its text and its position in the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub position: usize,
    pub offset_from: usize,
    pub offset_to: usize,
}

/// One word of a query, with the ways it can match.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryWord {
    /// What the shopper typed for this word (lowercased), for corrections and explain.
    pub surface: String,
    /// Alternatives; each is a list of terms that must all match. The first is the
    /// word itself; others come from splitting (`1500va` → `1500 va`) or joining
    /// (`wi-fi` → `wifi`).
    pub alternatives: Vec<Vec<String>>,
    /// True for words made only of digits (no typo tolerance, exact matching).
    pub is_number: bool,
    /// True for words such as "the", "for": matched when present, never required.
    pub is_stop_word: bool,
}

impl QueryWord {
    /// The word's own term (the first alternative's first term).
    pub fn primary(&self) -> &str {
        self.alternatives
            .first()
            .and_then(|a| a.first())
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// The analyzer: stateless apart from its stemmer choice, cheap to clone.
#[derive(Debug, Clone)]
pub struct Analyzer {
    stemmer: Stemmer,
}

/// A word after normalization, before it becomes tokens.
#[derive(Debug)]
struct Word {
    /// Normalized text (folded, lowercased, apostrophes removed).
    text: String,
    offset_from: usize,
    offset_to: usize,
    /// The word is followed directly by an inch mark.
    inch: bool,
}

impl Analyzer {
    pub fn new(stemmer: Stemmer) -> Analyzer {
        Analyzer { stemmer }
    }

    /// The stemmer this analyzer applies.
    pub fn stemmer(&self) -> Stemmer {
        self.stemmer
    }

    /// Index-time analysis: every token of `text` with its position.
    pub fn tokens(&self, text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        let mut position = 0;
        let WordGroups { mut words, ends } = word_groups(text);
        let mut start = 0;
        for end in ends {
            let group = &mut words[start..end];
            start = end;
            let joined = self.joined(group).map(|joined| Token {
                text: joined,
                position,
                offset_from: group[0].offset_from,
                offset_to: group[group.len() - 1].offset_to,
            });
            for word in group {
                position = self.push_word_tokens(word, position, &mut out);
            }
            out.extend(joined);
        }
        // tantivy delta-encodes positions: they must never go backwards. Only joined
        // hyphen runs ("wi-fi" → "wifi" at the first word's position) disorder them.
        if !out.is_sorted_by_key(|t| t.position) {
            out.sort_by_key(|t| t.position);
        }
        out
    }

    /// Query-time analysis: the words of a query with their alternatives.
    pub fn query_words(&self, query: &str) -> Vec<QueryWord> {
        let mut out = Vec::new();
        for group in word_groups(query).iter() {
            if group.len() > 1 {
                out.push(self.hyphen_group_word(group));
                continue;
            }
            for word in group {
                out.push(self.single_query_word(word));
                if word.inch {
                    out.push(self.single_query_word(&inch_word(word)));
                }
            }
        }
        out
    }

    /// Analyzes a single value into one normalized term sequence (used for keyword
    /// lookups and vocabulary keys).
    pub fn terms(&self, text: &str) -> Vec<String> {
        self.tokens(text).into_iter().map(|t| t.text).collect()
    }

    /// Emits the tokens of one word starting at `position`; returns the next position.
    /// The word's text moves into its token.
    fn push_word_tokens(&self, word: &mut Word, position: usize, out: &mut Vec<Token>) -> usize {
        let token = |text: String, position: usize| Token {
            text,
            position,
            offset_from: word.offset_from,
            offset_to: word.offset_to,
        };
        let mut next = position;
        if word.text.bytes().any(|b| b.is_ascii_digit()) {
            let parts = split_alnum(&word.text);
            if parts.len() > 1 {
                out.push(token(word.text.clone(), position));
            }
            for part in &parts {
                out.push(token(self.stem(part), next));
                next += 1;
            }
        } else {
            // No digit, so no letter/digit boundary: the word is its one part.
            out.push(token(self.stem_owned(std::mem::take(&mut word.text)), next));
            next += 1;
        }
        if word.inch {
            out.push(token("inch".to_string(), next));
            next += 1;
        }
        next
    }

    fn single_query_word(&self, word: &Word) -> QueryWord {
        let parts = split_alnum(&word.text);
        let mut alternatives = Vec::new();
        if parts.len() > 1 {
            alternatives.push(vec![word.text.clone()]);
            alternatives.push(parts.iter().map(|p| self.stem(p)).collect());
        } else {
            alternatives.push(vec![self.stem(&word.text)]);
        }
        QueryWord {
            surface: word.text.clone(),
            is_number: is_number(&word.text),
            is_stop_word: is_stop_word(&word.text),
            alternatives,
        }
    }

    /// `wi-fi` in a query: all of its words, or the joined form.
    fn hyphen_group_word(&self, group: &[Word]) -> QueryWord {
        let mut all_parts = Vec::new();
        for word in group {
            for part in split_alnum(&word.text) {
                all_parts.push(self.stem(part));
            }
        }
        let surface = group
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join("-");
        let mut alternatives = vec![all_parts];
        if let Some(joined) = self.joined(group) {
            alternatives.push(vec![joined]);
        }
        QueryWord {
            surface,
            alternatives,
            is_number: false,
            is_stop_word: false,
        }
    }

    /// The joined form of a hyphenated run, when it is short enough to be one word.
    fn joined(&self, group: &[Word]) -> Option<String> {
        if group.len() < 2 || group.len() > MAX_JOINED_WORDS {
            return None;
        }
        let joined: String = group.iter().map(|w| w.text.as_str()).collect();
        let parts = split_alnum(&joined);
        Some(if parts.len() == 1 {
            self.stem(&joined)
        } else {
            joined
        })
    }

    /// Stems alphabetic words; numbers and mixed codes are left alone.
    fn stem(&self, word: &str) -> String {
        self.stem_owned(word.to_string())
    }

    /// [`Analyzer::stem`] of a word already owned: reused when stemming leaves it as
    /// it is or shortens it (most words), so indexing does not copy every word twice.
    fn stem_owned(&self, mut word: String) -> String {
        if !word.chars().all(char::is_alphabetic) {
            return word;
        }
        match self.stemmer {
            Stemmer::Light => match stem::light(&word) {
                Cow::Borrowed(stem) if stem.as_ptr() == word.as_ptr() => {
                    let len = stem.len();
                    word.truncate(len);
                    word
                }
                other => other.into_owned(),
            },
            Stemmer::Snowball => stem::snowball(&word),
            Stemmer::None => word,
        }
    }
}

/// The word `inch` standing for an inch mark after `word`.
fn inch_word(word: &Word) -> Word {
    Word {
        text: "inch".to_string(),
        offset_from: word.offset_to,
        offset_to: word.offset_to,
        inch: false,
    }
}

/// True when the word is a number ("27", "15.6", "1500").
fn is_number(word: &str) -> bool {
    !word.is_empty()
        && word.chars().next().is_some_and(|c| c.is_ascii_digit())
        && word.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// The words of a text in runs joined directly by hyphens (`wi-fi`, `dv7-1211ea`); a
/// word on its own is a run of one. One flat list, so a text costs two allocations
/// rather than one per word.
struct WordGroups {
    words: Vec<Word>,
    /// Where each run ends in `words` (the next one starts there).
    ends: Vec<usize>,
}

impl WordGroups {
    fn iter(&self) -> impl Iterator<Item = &[Word]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.words[start..end])
    }
}

/// Splits text into runs of words joined directly by hyphens.
fn word_groups(text: &str) -> WordGroups {
    let mut words: Vec<Word> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    // Where the current run starts in `words` (it is empty while equal to the length).
    let mut current = 0;
    // Whether the segment just before the current position was a joining hyphen
    // that followed a word directly.
    let mut hyphen_pending = false;
    let mut segments = segment::word_bounds(text).peekable();
    while let Some((offset, segment)) = segments.next() {
        if segment.chars().any(char::is_alphanumeric) {
            let inch = segment.ends_with(|c: char| c.is_ascii_digit())
                && segments.peek().is_some_and(|(_, next)| is_inch_mark(next));
            let before = words.len();
            normalize_segment(segment, offset, inch, &mut words);
            // Dotted words (`startech.com`) split into parts that join like hyphens.
            if words.len() > before && !hyphen_pending && before > current {
                ends.push(before);
                current = before;
            }
            hyphen_pending = false;
        } else {
            hyphen_pending = is_hyphen(segment) && words.len() > current;
        }
    }
    if words.len() > current {
        ends.push(words.len());
    }
    WordGroups { words, ends }
}

fn is_hyphen(segment: &str) -> bool {
    matches!(segment, "-" | "‐" | "‑")
}

fn is_inch_mark(segment: &str) -> bool {
    matches!(segment, "\"" | "”" | "″" | "''")
}

/// Normalizes one UAX #29 word segment into one or more words, appended to `out`.
///
/// Lowercases and folds, drops possessives and apostrophes, removes thousands
/// separators from numbers, and splits letter runs joined by dots (`startech.com`,
/// `u.s.`) into their parts.
fn normalize_segment(segment: &str, offset: usize, inch: bool, out: &mut Vec<Word>) {
    let end = offset + segment.len();
    if segment.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // The common case: nothing to fold, strip or split.
        out.push(Word {
            text: segment.to_ascii_lowercase(),
            offset_from: offset,
            offset_to: end,
            inch,
        });
        return;
    }
    let folded = fold_word(segment);
    let without_possessive = folded
        .strip_suffix("'s")
        .or_else(|| folded.strip_suffix("’s"))
        .unwrap_or(&folded);
    let cleaned: String = without_possessive
        .chars()
        .filter(|c| !matches!(c, '\'' | '’'))
        .collect();
    let cleaned = strip_thousands_separators(&cleaned);
    let pieces: Vec<&str> = split_dotted_letters(&cleaned);
    let last = pieces.len().saturating_sub(1);
    out.extend(
        pieces
            .into_iter()
            .enumerate()
            .filter(|(_, p)| !p.is_empty())
            .map(|(i, piece)| Word {
                text: piece.to_string(),
                offset_from: offset,
                offset_to: end,
                inch: inch && i == last,
            }),
    );
}

/// `1,500` → `1500`; commas elsewhere are kept (they never survive segmentation).
fn strip_thousands_separators(word: &str) -> String {
    if word.contains(',')
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    {
        word.replace(',', "")
    } else {
        word.to_string()
    }
}

/// Splits at dots and colons that sit between letters; dots between digits are decimals.
fn split_dotted_letters(word: &str) -> Vec<&str> {
    let bytes = word.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in word.char_indices() {
        if (c == '.' || c == ':' || c == '_') && i > 0 {
            let prev_digit = bytes[i - 1].is_ascii_digit();
            let next_digit = bytes.get(i + 1).is_some_and(|b| b.is_ascii_digit());
            if !(prev_digit && next_digit) {
                pieces.push(&word[start..i]);
                start = i + 1;
            }
        }
    }
    pieces.push(word[start..].trim_end_matches('.'));
    pieces
}

/// Splits a word at letter/digit boundaries: `1500va` → `1500`, `va`; `15.6in` → `15.6`, `in`.
fn split_alnum(word: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut prev: Option<bool> = None; // Some(true) = digit run
    for (i, c) in word.char_indices() {
        let digit = c.is_ascii_digit() || (c == '.' && prev == Some(true));
        if let Some(p) = prev
            && p != digit
        {
            parts.push(&word[start..i]);
            start = i;
        }
        prev = Some(digit);
    }
    if start < word.len() {
        parts.push(&word[start..]);
    }
    parts
}

#[cfg(test)]
mod tests;
