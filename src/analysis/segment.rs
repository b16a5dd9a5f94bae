//! Word boundaries (Unicode's UAX #29), with a fast path for ASCII text.
//!
//! Text enters as a string and leaves as its segments with their byte offsets. Catalog
//! text is nearly all ASCII, and for ASCII the rules reduce to a handful of character
//! classes, so [`word_bounds`] applies them directly instead of looking every
//! character up in Unicode's tables (which was a third of index-time analysis).
//!
//! The text is cut at runs of ASCII spaces first, where UAX #29 always breaks; each
//! piece in between is segmented by the ASCII rules when it is ASCII and by
//! `unicode-segmentation` otherwise, so one accented word does not send a whole
//! description down the slow path. For ASCII text the segments are exactly
//! `split_word_bound_indices`'s; for other text the segments holding letters or digits
//! are (the cut only differs on a space followed by a combining mark or another kind of
//! space, which hold neither). Property tests hold both to `unicode-segmentation`.

use unicode_segmentation::UnicodeSegmentation;

/// The segments of `text` with their byte offsets, as UAX #29 word bounds.
pub fn word_bounds(text: &str) -> WordBounds<'_> {
    WordBounds {
        text,
        at: 0,
        piece: Piece::None,
    }
}

/// The iterator [`word_bounds`] returns.
pub struct WordBounds<'a> {
    text: &'a str,
    /// Where the next piece starts.
    at: usize,
    piece: Piece<'a>,
}

/// The piece between space runs being segmented, and its offset in the text.
enum Piece<'a> {
    None,
    Ascii(AsciiWordBounds<'a>, usize),
    Unicode(unicode_segmentation::UWordBoundIndices<'a>, usize),
}

impl<'a> Iterator for WordBounds<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        loop {
            let next = match &mut self.piece {
                Piece::None => None,
                Piece::Ascii(bounds, base) => bounds.next().map(|(at, s)| (at + *base, s)),
                Piece::Unicode(bounds, base) => bounds.next().map(|(at, s)| (at + *base, s)),
            };
            if next.is_some() {
                return next;
            }
            let bytes = self.text.as_bytes();
            let start = self.at;
            if start >= bytes.len() {
                return None;
            }
            if bytes[start] == b' ' {
                // WB3d: a run of spaces is one segment, with breaks on both sides.
                let run = bytes[start..].iter().take_while(|&&b| b == b' ').count();
                self.at = start + run;
                self.piece = Piece::None;
                return Some((start, &self.text[start..start + run]));
            }
            let len = bytes[start..]
                .iter()
                .position(|&b| b == b' ')
                .unwrap_or(bytes.len() - start);
            self.at = start + len;
            // Spaces are ASCII, so both ends are character boundaries.
            let piece = &self.text[start..start + len];
            self.piece = if piece.is_ascii() {
                Piece::Ascii(AsciiWordBounds { text: piece, at: 0 }, start)
            } else {
                Piece::Unicode(piece.split_word_bound_indices(), start)
            };
        }
    }
}

/// The UAX #29 word-break classes that ASCII characters belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Cr,
    Lf,
    Newline,
    Letter,
    Numeric,
    ExtendNumLet,
    MidLetter,
    MidNumLet,
    MidNum,
    SingleQuote,
    Space,
    Other,
}

/// The class of every ASCII byte, looked up rather than matched: segmentation asks
/// for four classes per byte.
const CLASSES: [Class; 128] = {
    let mut table = [Class::Other; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = match b as u8 {
            b'\r' => Class::Cr,
            b'\n' => Class::Lf,
            0x0B | 0x0C => Class::Newline,
            b'a'..=b'z' | b'A'..=b'Z' => Class::Letter,
            b'0'..=b'9' => Class::Numeric,
            b'_' => Class::ExtendNumLet,
            b':' => Class::MidLetter,
            b'.' => Class::MidNumLet,
            b',' | b';' => Class::MidNum,
            b'\'' => Class::SingleQuote,
            b' ' => Class::Space,
            _ => Class::Other,
        };
        b += 1;
    }
    table
};

#[inline]
fn class(byte: u8) -> Class {
    CLASSES[(byte & 0x7f) as usize]
}

/// MidNumLetQ in the rules: a full stop or an apostrophe.
fn mid_num_let_q(class: Class) -> bool {
    matches!(class, Class::MidNumLet | Class::SingleQuote)
}

/// Whether the rules keep the characters on both sides of position `i` (`0 < i <
/// bytes.len()`) together.
#[inline]
fn joined_at(bytes: &[u8], i: usize) -> bool {
    use Class::*;
    let prev = class(bytes[i - 1]);
    let next = class(bytes[i]);
    if matches!(prev, Letter | Numeric) && matches!(next, Letter | Numeric) {
        return true; // WB5, WB8–10: the common case, decided without context
    }
    let before_prev = i.checked_sub(2).map(|j| class(bytes[j]));
    let after_next = bytes.get(i + 1).map(|&b| class(b));
    match (prev, next) {
        (Cr, Lf) => true,                                                   // WB3
        (Cr | Lf | Newline, _) | (_, Cr | Lf | Newline) => false,           // WB3a, WB3b
        (Space, Space) => true,                                             // WB3d
        (Letter, Letter) => true,                                           // WB5
        (Letter, Numeric) | (Numeric, Letter) | (Numeric, Numeric) => true, // WB8–10
        (Letter | Numeric | ExtendNumLet, ExtendNumLet) => true,            // WB13a
        (ExtendNumLet, Letter | Numeric) => true,                           // WB13b
        // WB6: letter × (MidLetter | MidNumLetQ) letter
        (Letter, MidLetter) | (Letter, MidNumLet | SingleQuote) => after_next == Some(Letter),
        // WB7: letter (MidLetter | MidNumLetQ) × letter
        (MidLetter, Letter) | (MidNumLet | SingleQuote, Letter) => before_prev == Some(Letter),
        // WB12: numeric × (MidNum | MidNumLetQ) numeric
        (Numeric, MidNum) | (Numeric, MidNumLet | SingleQuote) => after_next == Some(Numeric),
        // WB11: numeric (MidNum | MidNumLetQ) × numeric
        (MidNum, Numeric) => before_prev == Some(Numeric),
        (p, Numeric) if mid_num_let_q(p) => before_prev == Some(Numeric),
        _ => false, // WB999
    }
}

/// UAX #29 word bounds of ASCII text.
struct AsciiWordBounds<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Iterator for AsciiWordBounds<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        if start >= bytes.len() {
            return None;
        }
        let mut end = start + 1;
        while end < bytes.len() && joined_at(bytes, end) {
            end += 1;
        }
        self.at = end;
        // ASCII text: every byte offset is a character boundary.
        Some((start, &self.text[start..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn general(text: &str) -> Vec<(usize, &str)> {
        text.split_word_bound_indices().collect()
    }

    fn fast(text: &str) -> Vec<(usize, &str)> {
        word_bounds(text).collect()
    }

    /// The segments analysis looks at: those with letters or digits, hyphens and
    /// inch marks.
    fn words(bounds: Vec<(usize, &str)>) -> Vec<(usize, &str)> {
        bounds
            .into_iter()
            .filter(|(_, s)| {
                s.chars().any(char::is_alphanumeric)
                    || matches!(*s, "-" | "‐" | "‑" | "\"" | "”" | "″" | "''")
            })
            .collect()
    }

    #[test]
    fn catalog_shapes_match_the_general_rules() {
        for text in [
            "Dell 27\" 4K monitor, 1,500 units; 15.6in ddr4-3200 Wi-Fi",
            "startech.com men's don't a.b.c. 1.2.3 x_y _a a_ 3:4 a:b a:4",
            "  two  spaces\r\nline\n\rx\x0by\x0cz  'quoted' \"dq\" a'' ''a 1'' ''1",
            "ends with dot. 1. .5 a. .a 1,a a,1 1;2 a;b 1.a a.1 1'2 a'b",
            "",
            "x",
        ] {
            assert_eq!(fast(text), general(text), "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The fast path yields exactly the segments of the general one.
        #[test]
        fn ascii_bounds_equal_unicode_segmentation(text in "[a-cA-C0-2 _:.,;'\"\\-\r\n\x0b\x0c!/()]{0,24}") {
            prop_assert_eq!(fast(&text), general(&text));
        }

        #[test]
        fn any_ascii_bounds_equal_unicode_segmentation(text in "[\x00-\x7f]{0,40}") {
            prop_assert_eq!(fast(&text), general(&text));
        }

        /// Mixed text: the same words, hyphens and inch marks at the same offsets.
        #[test]
        fn mixed_text_words_equal_unicode_segmentation(
            text in "[a-b0-1 .,'\"\\-éÆß™°”‐\u{301}\u{200d}\u{3000}\u{a0}\u{ad}日本]{0,24}"
        ) {
            prop_assert_eq!(words(fast(&text)), words(general(&text)));
        }
    }
}
