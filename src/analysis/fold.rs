//! Lowercasing and diacritic folding of one word.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lowercases `word` and folds accented letters to their base letters
/// (`Café` → `cafe`, `Straße` → `strasse`, `Øresund` → `oresund`).
pub fn fold_word(word: &str) -> String {
    if word.is_ascii() {
        return word.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        match c {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' | 'ð' => out.push('d'),
            'þ' => out.push_str("th"),
            'ı' => out.push('i'),
            _ => out.extend(std::iter::once(c).nfkd().filter(|d| !is_combining_mark(*d))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold_word;

    #[test]
    fn folds_accents_and_special_letters() {
        assert_eq!(fold_word("Café"), "cafe");
        assert_eq!(fold_word("Straße"), "strasse");
        assert_eq!(fold_word("ØRESUND"), "oresund");
        assert_eq!(fold_word("Crème"), "creme");
        assert_eq!(fold_word("naïve"), "naive");
        assert_eq!(fold_word("Łódź"), "lodz");
        assert_eq!(fold_word("plain"), "plain");
    }
}
