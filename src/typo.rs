//! Typo tolerance: how many typos a word may have, and an automaton that finds the
//! lexicon's words within that many edits.
//!
//! Distance is optimal string alignment (Levenshtein plus adjacent transpositions, each
//! one edit): "mosue" is one typo from "mouse", as a shopper would count it. fst's
//! built-in Levenshtein automaton counts a transposition as two edits, so clerk walks
//! the lexicon with its own [`TypoAutomaton`], whose state is the band around the
//! diagonal of the last two rows of the edit-distance table (14 bytes, no allocation
//! per step, O(typos) work per byte). The fst only
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

/// Most edits the automaton counts; a larger budget is treated as this.
pub const MAX_TYPOS: u8 = 2;
/// Cells of a row within [`MAX_TYPOS`] of the diagonal: the only ones that can be
/// within budget.
const BAND: usize = 2 * MAX_TYPOS as usize + 1;

/// Automaton state: the band of the current and previous rows of the distance table
/// around the diagonal. Cell `o` of a row at depth `d` (key bytes read) holds the
/// distance from the key prefix to the word's first `d + o - max` bytes; a key prefix
/// of `d` bytes is at least `|i - d|` edits from any word prefix of `i` bytes, so the
/// cells outside the band are always over budget and are not kept. A step costs
/// O(max), not O(word length), and a state is 14 bytes.
#[derive(Clone, Copy, Debug)]
pub struct TypoState {
    row: [u8; BAND],
    prev: [u8; BAND],
    last: u8,
    /// Bytes read so far (saturating).
    depth: u8,
    /// False once no continuation can match.
    live: bool,
}

/// Matches keys within `max` edits (optimal string alignment) of a word.
#[derive(Debug, Clone)]
pub struct TypoAutomaton {
    query: Vec<u8>,
    max: u8,
    /// Reject keys with ASCII digits or punctuation (see [`TypoAutomaton::letters_only`]).
    letters_only: bool,
}

impl TypoAutomaton {
    /// An automaton for keys within `max` (at most [`MAX_TYPOS`]) edits of `word`.
    pub fn new(word: &str, max: u8) -> TypoAutomaton {
        let query = if word.len() > MAX_TYPO_WORD_BYTES {
            Vec::new()
        } else {
            word.as_bytes().to_vec()
        };
        TypoAutomaton {
            query,
            max: max.min(MAX_TYPOS),
            letters_only: false,
        }
    }

    /// The same automaton, matching only keys made of letters: an ASCII byte that is
    /// not a letter ends the branch. A typo correction is always a word of letters
    /// (model numbers and sizes are never corrected), and skipping those branches
    /// halves the walk on catalogs full of product codes.
    pub fn letters_only(mut self) -> TypoAutomaton {
        self.letters_only = true;
        self
    }

    /// The distance between the automaton's word and `key` (capped at max + 1).
    pub fn distance(&self, key: &[u8]) -> u8 {
        let mut state = self.start();
        for &b in key {
            state = self.accept(&state, b);
        }
        self.final_distance(&state)
    }

    /// The band offset of the word prefix of `i` bytes in a row at `depth`, if kept.
    #[inline]
    fn offset(&self, i: usize, depth: usize) -> Option<usize> {
        let o = (i + usize::from(self.max)).checked_sub(depth)?;
        (o <= 2 * usize::from(self.max)).then_some(o)
    }

    /// The distance from the key read so far to the whole word (capped at max + 1).
    fn final_distance(&self, state: &TypoState) -> u8 {
        self.offset(self.query.len(), usize::from(state.depth))
            .map(|o| state.row[o])
            .unwrap_or(self.max + 1)
    }
}

impl Automaton for TypoAutomaton {
    type State = TypoState;

    fn start(&self) -> TypoState {
        let cap = self.max + 1;
        let mut row = [cap; BAND];
        for i in 0..=self.query.len().min(usize::from(self.max)) {
            if let Some(o) = self.offset(i, 0) {
                row[o] = i as u8;
            }
        }
        TypoState {
            row,
            prev: [cap; BAND],
            last: 0,
            depth: 0,
            live: !self.query.is_empty(),
        }
    }

    fn is_match(&self, state: &TypoState) -> bool {
        state.live && self.final_distance(state) <= self.max
    }

    fn can_match(&self, state: &TypoState) -> bool {
        state.live
    }

    fn accept(&self, state: &TypoState, byte: u8) -> TypoState {
        if !state.live {
            return *state;
        }
        if self.letters_only && byte.is_ascii() && !byte.is_ascii_alphabetic() {
            return TypoState {
                live: false,
                ..*state
            };
        }
        let n = self.query.len();
        let max = usize::from(self.max);
        let cap = self.max + 1;
        let depth = usize::from(state.depth) + 1;
        let mut next = [cap; BAND];
        let mut best = cap;
        // Offset `o` is the word prefix of i = depth + o - max bytes in the new row;
        // the same offset holds i - 1 in the previous row and i - 2 in the one before.
        for o in 0..=2 * max {
            let Some(i) = (depth + o).checked_sub(max).filter(|&i| i <= n) else {
                continue;
            };
            let cell = if i == 0 {
                depth.min(usize::from(cap)) as u8
            } else {
                let q = self.query[i - 1];
                let substitution = state.row[o] + u8::from(q != byte);
                let deletion = state.row.get(o + 1).map_or(cap, |c| c + 1);
                let insertion = o.checked_sub(1).map_or(cap, |p| next[p] + 1);
                let mut cell = substitution.min(deletion).min(insertion);
                if i > 1 && depth > 1 && q == state.last && self.query[i - 2] == byte {
                    cell = cell.min(state.prev[o] + 1);
                }
                cell.min(cap)
            };
            next[o] = cell;
            best = best.min(cell);
        }
        TypoState {
            row: next,
            prev: state.row,
            last: byte,
            depth: state.depth.saturating_add(1),
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
    fn letters_only_skips_keys_with_digits_or_punctuation() {
        use fst::IntoStreamer;
        let set = fst::Set::from_iter(["mous-e", "mouse", "mouse2", "mousse", "mousé"]).unwrap();
        let found = |a: TypoAutomaton| -> Vec<String> {
            let mut stream = set.search(a).into_stream();
            let mut out = Vec::new();
            while let Some(k) = fst::Streamer::next(&mut stream) {
                out.push(String::from_utf8_lossy(k).into_owned());
            }
            out
        };
        assert_eq!(found(TypoAutomaton::new("mouse", 2)).len(), 5);
        assert_eq!(
            found(TypoAutomaton::new("mouse", 2).letters_only()),
            ["mouse", "mousse", "mousé"]
        );
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
        // Random words over a small alphabet, so close pairs are common, up to the
        // longest word that gets typo tolerance; every budget 0, 1, 2.
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % bound
        };
        let word = |next: &mut dyn FnMut(u64) -> u64, len: u64| -> Vec<u8> {
            (0..len).map(|_| b"abcs"[next(4) as usize]).collect()
        };
        for _ in 0..20_000 {
            let len = 1 + next(MAX_TYPO_WORD_BYTES as u64);
            let a = word(&mut next, len);
            let b = if next(2) == 0 {
                let mut b = a.clone();
                b.truncate(next(a.len() as u64 + 1) as usize);
                let extra = next(4);
                b.extend(word(&mut next, extra));
                b
            } else {
                let len = next(MAX_TYPO_WORD_BYTES as u64 + 4);
                word(&mut next, len)
            };
            let max = next(3) as u8;
            let automaton = TypoAutomaton::new(std::str::from_utf8(&a).unwrap_or(""), max);
            let expected = naive(&a, &b).min(usize::from(max) + 1) as u8;
            assert_eq!(
                automaton.distance(&b),
                expected,
                "{a:?} vs {b:?} within {max}"
            );
        }
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
