//! Plan building as plain data, without an index. Properties checked:
//! * a known word stays exact; an unknown word gets typo alternatives within its
//!   budget, ranked below the word, and a correction;
//! * numbers and short words get no typos;
//! * an unknown run-together word splits into known words, a stop word split off
//!   included, or into a known word and a misspelt one it corrects; a rare known one
//!   splits into its far more common parts, which keep it as their joined form;
//! * short fragments of a misspelt word join again through one typo;
//! * synonyms expand single words and multi-word spans, longest first;
//! * adjacent words join when the index knows the joined word: as the word when one
//!   was unknown or the joined word is far more common, else as an alternative;
//! * the last word gets completions only while being typed.

use super::*;
use crate::schema::Stemmer;
use crate::synonyms::{self, Synonyms};

struct Fixture {
    analyzer: Analyzer,
    lexicon: Lexicon,
    synonyms: Synonyms,
}

fn fixture(synonym_text: &str) -> Fixture {
    let analyzer = Analyzer::new(Stemmer::Light);
    let mut words = vec![
        ("wireless", 400u64),
        ("mouse", 900),
        ("house", 30),
        ("sofa", 300),
        ("sofabed", 4),
        ("soft", 50),
        ("linen", 120),
        ("loveseat", 15),
        ("love", 40),
        ("seat", 80),
        ("headphones", 60),
        ("head", 20),
        ("phone", 90),
        ("couch", 2),
        ("laptop", 10),
        ("notebook", 500),
        ("27", 70),
        ("inch", 200),
        ("power", 800),
        ("cord", 300),
        ("powercord", 3),
        ("vga", 200),
        ("note", 20),
        ("book", 60),
        ("booklet", 5),
        ("boo", 3),
        ("sof", 2),
        ("1", 50),
        ("monitor", 300),
    ];
    words.sort();
    let lexicon = Lexicon::from_sorted(words.iter().map(|(w, d)| (w.as_bytes(), *d))).unwrap();
    let lines = synonyms::parse(synonym_text, "test.txt").unwrap();
    let synonyms = Synonyms::compile(&lines, &analyzer).unwrap();
    Fixture {
        analyzer,
        lexicon,
        synonyms,
    }
}

fn plan(f: &Fixture, query: &str) -> Planned {
    let nowhere = |_: &str| false;
    let ctx = PlanContext {
        analyzer: &f.analyzer,
        lexicon: &f.lexicon,
        synonyms: &f.synonyms,
        typos: TypoSettings::default(),
        prefix_last: !query.ends_with(' '),
        known_elsewhere: &nowhere,
        expand: true,
    };
    build(&f.analyzer.query_words(query), &ctx)
}

fn kinds(clause: &Clause) -> Vec<(String, MatchKind)> {
    clause
        .node
        .terms()
        .into_iter()
        .map(|t| (t.text.clone(), t.kind))
        .collect()
}

#[test]
fn known_words_stay_exact() {
    let f = fixture("");
    let p = plan(&f, "wireless mouse ");
    assert_eq!(p.plan.clauses.len(), 2);
    assert_eq!(
        kinds(&p.plan.clauses[0]),
        [("wireless".to_string(), MatchKind::Exact)]
    );
    assert!(p.corrections.is_empty());
}

#[test]
fn unknown_words_get_typo_alternatives_and_a_correction() {
    let f = fixture("");
    let p = plan(&f, "wireles mosue ");
    let first = kinds(&p.plan.clauses[0]);
    assert!(
        first.contains(&("wireless".to_string(), MatchKind::Typo)),
        "{first:?}"
    );
    assert_eq!(
        p.corrections,
        [
            Correction {
                from: "wireles".into(),
                to: "wireless".into()
            },
            Correction {
                from: "mosue".into(),
                to: "mouse".into()
            }
        ]
    );
    let typo = p.plan.clauses[1]
        .node
        .terms()
        .into_iter()
        .find(|t| t.kind == MatchKind::Typo)
        .unwrap();
    // The only candidate within budget: it ranks exactly as if typed, but stays a typo
    // (never searched in exact fields, counted by the `typo` criterion).
    assert!(typo.fuzzy && typo.distance == 1 && typo.penalty == 1.0);
    assert_eq!(typo.typo_cost(), 1);
}

#[test]
fn a_long_query_of_misspelt_words_spends_a_bounded_number_of_typo_lookups() {
    let f = fixture("");
    // Ten misspelt words, each with one form (no plural, stem unchanged): the first
    // MAX_TYPO_LOOKUPS are looked up and corrected, the rest are taken as typed.
    let typed = ["wireles", "mosue", "linnen", "notebok", "loveset"];
    let query: Vec<&str> = typed
        .iter()
        .cycle()
        .take(MAX_QUERY_WORDS)
        .copied()
        .collect();
    let p = plan(&f, &(query.join(" ") + " "));
    let corrected: Vec<bool> = p
        .plan
        .clauses
        .iter()
        .map(|c| kinds(c).iter().any(|(_, kind)| *kind == MatchKind::Typo))
        .collect();
    assert_eq!(corrected.len(), MAX_QUERY_WORDS);
    let lookups = corrected.iter().filter(|&&c| c).count();
    assert!(
        lookups > 0 && lookups <= MAX_TYPO_LOOKUPS && lookups < MAX_QUERY_WORDS,
        "{corrected:?}"
    );
    assert!(
        corrected.iter().skip(lookups).all(|&c| !c),
        "only the first words are corrected: {corrected:?}"
    );
    // A shopper's ordinary query stays well inside the budget.
    let p = plan(&f, "wireles mosue linnen ");
    assert!(
        p.plan
            .clauses
            .iter()
            .all(|c| kinds(c).iter().any(|(_, k)| *k == MatchKind::Typo))
    );
}

#[test]
fn past_the_deadline_words_are_taken_as_typed() {
    let f = fixture("");
    let p = crate::deadline::within(std::time::Duration::ZERO, || plan(&f, "wireles mosue "));
    assert!(
        p.plan
            .clauses
            .iter()
            .all(|c| kinds(c).iter().all(|(_, k)| *k != MatchKind::Typo)),
        "no typo lookups once the deadline has passed"
    );
    assert!(
        crate::deadline::check().is_ok(),
        "the deadline is cleared after"
    );
}

#[test]
fn typo_budget_depends_on_length_and_digits() {
    let f = fixture("");
    // "sofe" has 4 letters: no typo allowed.
    assert!(plan(&f, "sofe ").corrections.is_empty());
    // "2x" has digits.
    assert!(plan(&f, "28 ").corrections.is_empty());
    // Two typos only from 9 letters: "wirelesss" (9) → wireless at distance 1 anyway;
    // "headphnes" (9 letters, 1 typo), "heedphnes" (2 typos).
    assert_eq!(plan(&f, "heedphnes ").corrections[0].to, "headphones");
    assert!(
        plan(&f, "mpuze ").corrections.is_empty(),
        "5 letters allow one typo, not two"
    );
}

#[test]
fn run_together_words_split_into_typed_words() {
    let f = fixture("");
    let p = plan(&f, "wirelessmouse ");
    assert_eq!(p.corrections[0].to, "wireless mouse");
    assert_eq!(p.plan.clauses.len(), 2, "the parts act as typed words");
    assert_eq!(
        kinds(&p.plan.clauses[0]),
        [("wireless".to_string(), MatchKind::Exact)]
    );
    assert_eq!(
        kinds(&p.plan.clauses[1]),
        [("mouse".to_string(), MatchKind::Exact)]
    );
}

#[test]
fn a_rare_run_together_word_splits_into_its_common_parts() {
    let f = fixture("");
    // "powercord" (3 documents) runs "power" (800) and "cord" (300) together: the
    // parts act as typed words, and the word comes back as their joined form.
    let p = plan(&f, "powercord ");
    assert_eq!(p.corrections[0].to, "power cord");
    assert_eq!(p.plan.clauses.len(), 1);
    assert_eq!(
        kinds(&p.plan.clauses[0]),
        [
            ("power".to_string(), MatchKind::Exact),
            ("cord".to_string(), MatchKind::Exact),
            ("powercord".to_string(), MatchKind::Joined),
        ]
    );
    // "sofabed" (4): "bed" is unknown; "loveseat" (15) is not rare.
    for word in ["sofabed ", "loveseat "] {
        let p = plan(&f, word);
        assert!(p.corrections.is_empty(), "{word}");
        assert_eq!(p.plan.clauses.len(), 1, "{word}");
    }
}

#[test]
fn a_span_synonyms_made_one_clause_keeps_its_joined_form() {
    let f = fixture("power cord, mains lead\n");
    let p = plan(&f, "power cord ");
    assert_eq!(p.plan.clauses.len(), 1);
    let terms = kinds(&p.plan.clauses[0]);
    assert!(
        terms.contains(&("powercord".to_string(), MatchKind::Joined)),
        "{terms:?}"
    );
}

#[test]
fn a_run_together_word_with_a_misspelt_half_splits_and_corrects_it() {
    let f = fixture("");
    let p = plan(&f, "wirelesmouse ");
    let to: Vec<&str> = p.corrections.iter().map(|c| c.to.as_str()).collect();
    assert_eq!(to, ["wireles mouse", "wireless"]);
    assert_eq!(p.plan.clauses.len(), 2);
    assert!(kinds(&p.plan.clauses[0]).contains(&("wireless".to_string(), MatchKind::Typo)));
    // A half too short to hold a typo is not guessed at.
    assert!(plan(&f, "xyzmouse ").corrections.is_empty());
}

#[test]
fn a_number_run_into_a_word_splits_into_words_of_their_own() {
    let f = fixture("laptop => notebook\n");
    // "1laptop": the analyzer's split ("1", "laptop") becomes two words, so the
    // synonym of "laptop" applies as it does for "1 laptop".
    let p = plan(&f, "1laptop ");
    assert_eq!(p.corrections[0].to, "1 laptop");
    assert_eq!(p.plan.clauses.len(), 2);
    assert!(kinds(&p.plan.clauses[1]).contains(&("notebook".to_string(), MatchKind::Synonym)));
}

#[test]
fn a_stop_word_run_into_a_word_splits_off() {
    let f = fixture("");
    let p = plan(&f, "hdmi tovga ");
    assert_eq!(p.corrections[0].to, "to vga");
    let clauses: Vec<(&str, bool)> = p
        .plan
        .clauses
        .iter()
        .map(|c| (c.surface.as_str(), c.required))
        .collect();
    assert_eq!(clauses, [("hdmi", true), ("to", false), ("vga", true)]);
}

#[test]
fn short_fragments_of_a_misspelt_word_join_through_one_typo() {
    let f = fixture("");
    // "wir" and "less" are too short to correct alone; "wirless" is one typo from
    // "wireless".
    let p = plan(&f, "wir less mouse ");
    assert_eq!(
        p.corrections,
        [
            Correction {
                from: "wir less".into(),
                to: "wirless".into()
            },
            Correction {
                from: "wirless".into(),
                to: "wireless".into()
            }
        ]
    );
    assert_eq!(p.plan.clauses.len(), 2);
    // "powec" can be corrected alone (to "power"): it is not joined to "cord" into
    // something one typo from the rare "powercord".
    let p = plan(&f, "powec cord ");
    assert_eq!(p.plan.clauses.len(), 2);
    assert_eq!(p.corrections[0].to, "power");
}

#[test]
fn known_words_join_when_together_they_are_a_far_more_common_word() {
    let f = fixture("");
    // "notebook" (500) is 25 times the rarer of "note" (20) and "book" (60).
    let p = plan(&f, "note book ");
    assert_eq!(p.corrections[0].to, "notebook");
    assert_eq!(p.plan.clauses.len(), 1);
    // "head phones": "headphones" (60) is not 20 times "head" (20); the words stay,
    // with the joined word as an alternative.
    let p = plan(&f, "head phones ");
    assert!(p.corrections.is_empty());
    assert!(kinds(&p.plan.clauses[0]).contains(&("headphones".to_string(), MatchKind::Joined)));
    // Or a typo of one: "noteboo" is one typo from "notebook".
    let p = plan(&f, "note boo ");
    let to: Vec<&str> = p.corrections.iter().map(|c| c.to.as_str()).collect();
    assert_eq!(to, ["noteboo", "notebook"]);
    // A stop word can be the broken-off end of a word: of an unknown one, or of a
    // known one far rarer than the word they make.
    let p = plan(&f, "sof a ");
    assert_eq!(p.corrections[0].to, "sofa");
    let p = plan(&f, "monit or ");
    assert_eq!(p.corrections[0].to, "monitor");
    assert_eq!(p.plan.clauses.len(), 1);
}

#[test]
fn a_joined_last_word_gets_no_completions_of_its_typed_end() {
    let f = fixture("");
    // While typing "note book", "book" would complete to "booklet"; the word the
    // shopper meant is "notebook".
    let p = plan(&f, "note book");
    assert_eq!(
        kinds(&p.plan.clauses[0]),
        [("notebook".to_string(), MatchKind::Exact)]
    );
    assert!(
        kinds(&plan(&f, "book").plan.clauses[0])
            .contains(&("booklet".to_string(), MatchKind::Prefix)),
        "a word as typed still completes"
    );
}

#[test]
fn words_broken_by_a_space_join_again() {
    let f = fixture("");
    let p = plan(&f, "wire less mouse ");
    assert_eq!(
        p.corrections[0],
        Correction {
            from: "wire less".into(),
            to: "wireless".into()
        }
    );
    assert_eq!(p.plan.clauses.len(), 2);
}

#[test]
fn rare_known_words_keep_ranking_first_but_gain_corrections() {
    let f = fixture("");
    // "house" (30) is known and not rare enough to be corrected.
    assert!(plan(&f, "house ").corrections.is_empty());
}

#[test]
fn synonyms_expand_words_and_spans() {
    let f = fixture("couch, sofa\nlove seat, loveseat\nlaptop => notebook\n");
    let p = plan(&f, "linen couch ");
    let terms = kinds(&p.plan.clauses[1]);
    assert_eq!(
        terms,
        [
            ("couch".to_string(), MatchKind::Exact),
            ("sofa".to_string(), MatchKind::Synonym)
        ]
    );
    let p = plan(&f, "linen love seat ");
    assert_eq!(p.plan.clauses.len(), 2, "the span is one clause");
    assert_eq!(p.plan.clauses[1].surface, "love seat");
    assert!(kinds(&p.plan.clauses[1]).contains(&("loveseat".to_string(), MatchKind::Synonym)));
    let p = plan(&f, "notebook ");
    assert_eq!(
        kinds(&p.plan.clauses[0]).len(),
        1,
        "one-way synonyms do not expand backwards"
    );
}

#[test]
fn synonyms_apply_to_corrected_words_with_both_penalties() {
    let f = fixture("laptop => notebook\n");
    let p = plan(&f, "laptpo ");
    let synonym = p.plan.clauses[0]
        .node
        .terms()
        .into_iter()
        .find(|t| t.kind == MatchKind::Synonym)
        .unwrap();
    assert_eq!(synonym.text, "notebook");
    // The correction is unambiguous, so the synonym carries only its own penalty.
    assert_eq!(synonym.penalty, super::penalty::SYNONYM);
    // ... but the correction's edit: reached through a typo, it is no better a match
    // for the `typo` criterion than the corrected word itself.
    assert_eq!(synonym.typo_cost(), 1);
    let typed = plan(&f, "laptop ");
    let synonym = typed.plan.clauses[0]
        .node
        .terms()
        .into_iter()
        .find(|t| t.kind == MatchKind::Synonym)
        .unwrap();
    assert_eq!(
        synonym.typo_cost(),
        0,
        "a synonym of what was typed costs nothing"
    );
}

#[test]
fn a_multi_word_synonym_reached_through_a_typo_costs_its_edits_once() {
    let f = fixture("wireless mouse, cordless mouse\n");
    let p = plan(&f, "wireles mouse ");
    let cost: u8 = p.plan.clauses[0]
        .node
        .terms()
        .into_iter()
        .filter(|t| t.kind == MatchKind::Synonym)
        .map(|t| t.typo_cost())
        .sum();
    assert_eq!(cost, 1, "{:?}", p.plan);
}

#[test]
fn adjacent_words_join_when_known() {
    let f = fixture("");
    let p = plan(&f, "head phones ");
    assert_eq!(p.plan.clauses.len(), 1);
    assert!(kinds(&p.plan.clauses[0]).contains(&("headphones".to_string(), MatchKind::Joined)));
}

#[test]
fn the_last_word_completes_while_typing() {
    let f = fixture("");
    let typing = plan(&f, "linen so");
    let terms = kinds(&typing.plan.clauses[1]);
    assert!(
        terms.contains(&("sofa".to_string(), MatchKind::Prefix)),
        "{terms:?}"
    );
    assert!(terms.contains(&("soft".to_string(), MatchKind::Prefix)));
    let done = plan(&f, "linen so ");
    assert!(
        !kinds(&done.plan.clauses[1])
            .iter()
            .any(|(_, k)| *k == MatchKind::Prefix)
    );
    assert!(
        !kinds(&plan(&f, "27").plan.clauses[0])
            .iter()
            .any(|(_, k)| *k == MatchKind::Prefix),
        "no completion of numbers"
    );
}
