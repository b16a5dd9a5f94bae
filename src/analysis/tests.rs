//! Analyzer cases: the properties checked here are
//! * index-time and query-time analysis agree on plain words;
//! * letters/digits split while keeping the whole (`18x18`, `1500VA`, `ddr4`);
//! * hyphenated words are indexed apart and joined (`wi-fi`, `3-seat`, `cd-r`);
//! * folding (case, accents), possessives, thousands separators, inch marks;
//! * positions never go backwards (tantivy requires it).

use super::*;

fn analyzer() -> Analyzer {
    Analyzer::new(Stemmer::Light)
}

fn texts(text: &str) -> Vec<String> {
    analyzer().terms(text)
}

#[test]
fn lowercases_folds_and_stems() {
    assert_eq!(texts("Linen SOFAS"), ["linen", "sofa"]);
    assert_eq!(texts("Café crème"), ["cafe", "creme"]);
    assert_eq!(texts("Batteries & Chargers"), ["battery", "charger"]);
}

#[test]
fn possessives_and_apostrophes() {
    assert_eq!(texts("Men's boots"), ["man", "boot"]);
    assert_eq!(texts("don't"), ["dont"]);
}

#[test]
fn sizes_keep_whole_and_parts() {
    assert_eq!(texts("18x18 pillow"), ["18x18", "18", "x", "18", "pillow"]);
    assert_eq!(texts("1500VA"), ["1500va", "1500", "va"]);
    assert_eq!(texts("DDR4"), ["ddr4", "ddr", "4"]);
    assert_eq!(texts("15.6in"), ["15.6in", "15.6", "in"]);
    assert_eq!(texts("4 light"), ["4", "light"]);
}

#[test]
fn hyphens_split_and_join() {
    let tokens = texts("3-seat sofa");
    assert!(tokens.contains(&"3".to_string()), "{tokens:?}");
    assert!(tokens.contains(&"seat".to_string()), "{tokens:?}");
    assert!(tokens.contains(&"3seat".to_string()), "{tokens:?}");
    let wifi = texts("Wi-Fi router");
    assert!(wifi.contains(&"wifi".to_string()), "{wifi:?}");
    assert!(wifi.contains(&"wi".to_string()) && wifi.contains(&"fi".to_string()));
    assert!(texts("CD-R").contains(&"cdr".to_string()));
}

#[test]
fn dotted_brand_names_split() {
    let tokens = texts("StarTech.com cable");
    assert!(tokens.contains(&"startech".to_string()), "{tokens:?}");
    assert!(tokens.contains(&"com".to_string()), "{tokens:?}");
    assert!(tokens.contains(&"startechcom".to_string()), "{tokens:?}");
}

#[test]
fn decimals_and_thousands() {
    assert_eq!(texts("15.6 laptop"), ["15.6", "laptop"]);
    assert_eq!(texts("1,500 watts"), ["1500", "watt"]);
}

#[test]
fn inch_marks_become_inch() {
    assert_eq!(texts("68.6 cm (27\")"), ["68.6", "cm", "27", "inch"]);
    assert_eq!(texts("17” screen"), ["17", "inch", "screen"]);
}

#[test]
fn symbols_are_dropped() {
    assert_eq!(texts("Intel® Core™2 Duo"), ["intel", "core", "2", "duo"]);
    assert!(texts("  --- !!! ").is_empty());
}

#[test]
fn positions_never_decrease() {
    for text in [
        "HP dv7-1211ea Wi-Fi 18x18 3-seat 1500VA \"x\" a-b-c-d-e-f",
        "wi-fi wifi wi-fi",
        "startech.com u.s.a 27\" 1,000",
    ] {
        let tokens = analyzer().tokens(text);
        assert!(
            tokens.windows(2).all(|w| w[0].position <= w[1].position),
            "{tokens:?}"
        );
    }
}

#[test]
fn query_words_match_index_terms() {
    let words = analyzer().query_words("Linen Sofas");
    assert_eq!(words.len(), 2);
    assert_eq!(words[1].primary(), "sofa");
    assert_eq!(words[1].surface, "sofas");
}

#[test]
fn query_compounds_have_split_alternative() {
    let words = analyzer().query_words("1500va ups");
    assert_eq!(
        words[0].alternatives,
        vec![
            vec!["1500va".to_string()],
            vec!["1500".to_string(), "va".to_string()]
        ]
    );
    assert!(!words[0].is_number);
    assert!(analyzer().query_words("27")[0].is_number);
}

#[test]
fn query_hyphen_groups_are_one_word() {
    let words = analyzer().query_words("smart-ups 1500");
    assert_eq!(words.len(), 2);
    assert_eq!(words[0].surface, "smart-ups");
    assert_eq!(words[0].alternatives[0], ["smart", "ups"]);
    assert_eq!(
        words[0].alternatives[1],
        ["smartup"],
        "joined, then stemmed like any word"
    );
}

#[test]
fn query_stop_words_are_marked() {
    let words = analyzer().query_words("usb to serial adapter");
    assert!(words[1].is_stop_word);
    assert!(!words[0].is_stop_word);
}

#[test]
fn query_inch_mark() {
    let words = analyzer().query_words("27\" monitor");
    let primaries: Vec<&str> = words.iter().map(|w| w.primary()).collect();
    assert_eq!(primaries, ["27", "inch", "monitor"]);
}

#[test]
fn real_shopper_queries_never_panic_and_yield_words() {
    let Some(path) = crate::testing::shared_or_skip("data/wands/query.csv") else {
        return;
    };
    let queries = std::fs::read_to_string(&path).expect("WANDS queries in ../shared");
    for line in queries.lines().skip(1) {
        let query = line.split('\t').nth(1).unwrap_or("");
        let words = analyzer().query_words(query);
        if query.chars().any(char::is_alphanumeric) {
            assert!(!words.is_empty(), "{query}");
        }
    }
}
