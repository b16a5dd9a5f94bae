//! Stemmers: a light English plural folder (the default) and Snowball English.
//!
//! Product search wants plural folding ("cables" finds "cable") far more than
//! aggressive stemming, which conflates "printer", "printing" and "prints".
//! The light stemmer folds regular plurals and a short list of irregular ones and
//! leaves every other word as it is.

use std::borrow::Cow;
use std::sync::OnceLock;

/// Irregular plurals common in catalogs, folded to their singular.
const IRREGULAR: &[(&str, &str)] = &[
    ("mice", "mouse"),
    ("men", "man"),
    ("women", "woman"),
    ("children", "child"),
    ("feet", "foot"),
    ("teeth", "tooth"),
    ("geese", "goose"),
    ("knives", "knife"),
    ("shelves", "shelf"),
    ("leaves", "leaf"),
    ("halves", "half"),
    ("wolves", "wolf"),
    ("scarves", "scarf"),
    ("lives", "life"),
    ("wives", "wife"),
    ("loaves", "loaf"),
    ("indices", "index"),
    ("matrices", "matrix"),
    ("vertices", "vertex"),
];

/// Words that end in `s` but are not plurals; folding them would only add noise.
const NOT_PLURAL: &[&str] = &[
    "always",
    "bus",
    "canvas",
    "chaos",
    "chassis",
    "class",
    "gas",
    "glasses",
    "news",
    "plus",
    "series",
    "species",
    "status",
    "this",
    "was",
    "yes",
    "lens",
    "bonus",
    "campus",
    "cactus",
    "virus",
    "atlas",
    "iris",
    "axis",
    "analysis",
    "basis",
    "thesis",
    "tennis",
    "physics",
    "electronics",
    "mathematics",
    "jeans",
    "pants",
    "trousers",
    "shorts",
    "tights",
    "leggings",
    "scissors",
    "pliers",
    "tongs",
    "binoculars",
    "headphones",
    "earphones",
    "earbuds",
];

/// Folds regular and common irregular English plurals; other words are unchanged.
pub fn light(word: &str) -> Cow<'_, str> {
    if let Some((_, singular)) = IRREGULAR.iter().find(|(p, _)| *p == word) {
        return Cow::Borrowed(singular);
    }
    if word.len() <= 3 || !word.ends_with('s') {
        return Cow::Borrowed(word);
    }
    if NOT_PLURAL.contains(&word)
        || word.ends_with("ss")
        || word.ends_with("us")
        || word.ends_with("is")
    {
        return Cow::Borrowed(word);
    }
    if let Some(stem) = word.strip_suffix("ies")
        && stem.len() >= 2
    {
        return Cow::Owned(format!("{stem}y"));
    }
    if let Some(stem) = word.strip_suffix("es")
        && (stem.ends_with("sh")
            || stem.ends_with("ch")
            || stem.ends_with('x')
            || stem.ends_with("ss")
            || stem.ends_with('z'))
    {
        return Cow::Borrowed(stem);
    }
    Cow::Borrowed(&word[..word.len() - 1])
}

/// Snowball (Porter 2) English stemming.
pub fn snowball(word: &str) -> String {
    static STEMMER: OnceLock<frostem::Stemmer> = OnceLock::new();
    STEMMER
        .get_or_init(|| frostem::Stemmer::new(frostem::Algorithm::English))
        .stem(word)
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_regular_plurals() {
        for (plural, singular) in [
            ("cables", "cable"),
            ("batteries", "battery"),
            ("boxes", "box"),
            ("switches", "switch"),
            ("speakers", "speaker"),
            ("drives", "drive"),
            ("sofas", "sofa"),
            ("lamps", "lamp"),
            ("dishes", "dish"),
        ] {
            assert_eq!(light(plural), singular, "{plural}");
        }
    }

    #[test]
    fn folds_irregular_plurals() {
        assert_eq!(light("mice"), "mouse");
        assert_eq!(light("shelves"), "shelf");
        assert_eq!(light("knives"), "knife");
    }

    #[test]
    fn leaves_non_plurals_alone() {
        for word in [
            "glass",
            "ups",
            "bus",
            "series",
            "status",
            "chassis",
            "lens",
            "headphones",
            "sofa",
            "gas",
        ] {
            assert_eq!(light(word), word, "{word}");
        }
    }

    #[test]
    fn snowball_is_more_aggressive() {
        assert_eq!(snowball("printing"), "print");
        assert_eq!(snowball("cartridges"), "cartridg");
    }
}
