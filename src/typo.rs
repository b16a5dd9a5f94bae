//! Typo tolerance: how many typos a word may have, and an automaton that finds the
//! lexicon's words within that many edits.
//!
//! Distance is optimal string alignment (Levenshtein plus adjacent transpositions, each
//! one edit): "mosue" is one typo from "mouse", as a shopper would count it. fst's
//! built-in Levenshtein automaton counts a transposition as two edits, so clerk walks
//! the lexicon with its own [`TypoAutomaton`], whose state is the last two rows of the
//! edit-distance table in fixed-size arrays (no allocation per step). The fst only
//! descends into branches whose best cell is still within the budget.
//!
//! The budget is one small function of word length, [`TypoSettings::allowed`]: no typo
//! in short words, one from 5 characters, two from 9 (schema settings); never in
//! words with digits (sizes, model numbers).

use fst::Automaton;

/// Words longer than this (in bytes) get no typo tolerance.
pub const MAX_TYPO_WORD_BYTES: usize = 31;
/// Most typo corrections considered per word.
pub const MAX_TYPO_EXPANSIONS: usize = 8;

/// How many typos words of each length may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypoSettings {
    pub enabled: bool,
    /// Words of at least this many characters may have one typo.
    pub one_typo_from: usize,
    /// Words of at least this many characters may have two typos.
    pub two_typos_from: usize,
}

impl Default for TypoSettings {
    fn default() -> Self {
        TypoSettings {
            enabled: true,
            one_typo_from: 5,
            two_typos_from: 9,
        }
    }
}

impl TypoSettings {
    /// Typos allowed in `word`.
    pub fn allowed(&self, word: &str) -> u8 {
        if word.len() > MAX_TYPO_WORD_BYTES || word.chars().any(|c| !c.is_alphabetic()) {
            return 0;
        }
        self.allowed_for_len(word.chars().count())
    }

    /// Typos allowed in an alphabetic word of `len` characters.
    pub fn allowed_for_len(&self, len: usize) -> u8 {
        if !self.enabled {
            0
        } else if len >= self.two_typos_from {
            2
        } else if len >= self.one_typo_from {
            1
        } else {
            0
        }
    }
}

const ROW: usize = MAX_TYPO_WORD_BYTES + 1;

/// Automaton state: the current and previous rows of the distance table.
#[derive(Clone, Copy, Debug)]
pub struct TypoState {
    row: [u8; ROW],
    prev: [u8; ROW],
    last: u8,
    /// False once no continuation can match.
    live: bool,
}

/// Matches keys within `max` edits (optimal string alignment) of a word.
#[derive(Debug, Clone)]
pub struct TypoAutomaton {
    query: Vec<u8>,
    max: u8,
}

impl TypoAutomaton {
    pub fn new(word: &str, max: u8) -> TypoAutomaton {
        let query = if word.len() > MAX_TYPO_WORD_BYTES {
            Vec::new()
        } else {
            word.as_bytes().to_vec()
        };
        TypoAutomaton { query, max }
    }

    /// The distance between the automaton's word and `key` (capped at max + 1).
    pub fn distance(&self, key: &[u8]) -> u8 {
        let mut state = self.start();
        for &b in key {
            state = self.accept(&state, b);
        }
        state.row[self.query.len()]
    }
}

impl Automaton for TypoAutomaton {
    type State = TypoState;

    fn start(&self) -> TypoState {
        let mut row = [0u8; ROW];
        for (i, cell) in row.iter_mut().enumerate().take(self.query.len() + 1) {
            *cell = (i as u8).min(self.max + 1);
        }
        TypoState {
            row,
            prev: [self.max + 1; ROW],
            last: 0,
            live: !self.query.is_empty(),
        }
    }

    fn is_match(&self, state: &TypoState) -> bool {
        state.live && state.row[self.query.len()] <= self.max
    }

    fn can_match(&self, state: &TypoState) -> bool {
        state.live
    }

    fn accept(&self, state: &TypoState, byte: u8) -> TypoState {
        if !state.live {
            return *state;
        }
        let n = self.query.len();
        let cap = self.max + 1;
        let mut next = [cap; ROW];
        next[0] = (state.row[0] + 1).min(cap);
        let mut best = next[0];
        for i in 1..=n {
            let q = self.query[i - 1];
            let substitution = state.row[i - 1] + u8::from(q != byte);
            let mut cell = substitution.min(state.row[i] + 1).min(next[i - 1] + 1);
            if i > 1 && q == state.last && self.query[i - 2] == byte {
                cell = cell.min(state.prev[i - 2] + 1);
            }
            next[i] = cell.min(cap);
            best = best.min(next[i]);
        }
        TypoState {
            row: next,
            prev: state.row,
            last: byte,
            live: best <= self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> u8 {
        TypoAutomaton::new(a, 2).distance(b.as_bytes())
    }

    #[test]
    fn distances_count_shopper_typos() {
        assert_eq!(distance("mouse", "mouse"), 0);
        assert_eq!(distance("mouse", "mose"), 1, "deletion");
        assert_eq!(distance("mouse", "mousse"), 1, "insertion");
        assert_eq!(distance("mouse", "mpuse"), 1, "substitution");
        assert_eq!(distance("mouse", "muose"), 1, "transposition");
        assert_eq!(distance("wireless", "wirless"), 1);
        assert_eq!(distance("wireless", "wirelsse"), 2);
        assert_eq!(distance("mouse", "table"), 3, "capped at max + 1");
    }

    #[test]
    fn budget_grows_with_length() {
        let s = TypoSettings::default();
        assert_eq!(s.allowed("sofa"), 0);
        assert_eq!(s.allowed("sofas"), 1);
        assert_eq!(s.allowed("headphone"), 2);
        assert_eq!(s.allowed("1500va"), 0, "no typos in words with digits");
        assert_eq!(s.allowed("12345"), 0);
        let off = TypoSettings {
            enabled: false,
            ..s
        };
        assert_eq!(off.allowed("headphones"), 0);
    }

    #[test]
    fn automaton_agrees_with_a_naive_distance() {
        fn naive(a: &[u8], b: &[u8]) -> usize {
            let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
            for (i, row) in d.iter_mut().enumerate() {
                row[0] = i;
            }
            for (j, cell) in d[0].iter_mut().enumerate() {
                *cell = j;
            }
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    let cost = usize::from(a[i - 1] != b[j - 1]);
                    d[i][j] = (d[i - 1][j] + 1)
                        .min(d[i][j - 1] + 1)
                        .min(d[i - 1][j - 1] + cost);
                    if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                        d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
                    }
                }
            }
            d[a.len()][b.len()]
        }
        let words = [
            "sofa", "sofas", "soft", "ofsa", "safo", "linen", "lniens", "cable", "cabel", "table",
            "abc", "",
        ];
        for a in words {
            for b in words {
                if a.is_empty() {
                    continue;
                }
                let expected = naive(a.as_bytes(), b.as_bytes()).min(3) as u8;
                assert_eq!(distance(a, b), expected, "{a} vs {b}");
            }
        }
    }
}
