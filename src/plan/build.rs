//! Building the plan: analyzed words → clauses with typo, split, joined, synonym and
//! prefix alternatives.
//!
//! In order:
//! 1. each word becomes a clause with its own forms (the word, its split parts, its
//!    joined form);
//! 2. a word the index does not know gets the lexicon's words within its typo budget,
//!    or, failing that, a split into two known words (`wirelessmouse`, `tovga` with a
//!    stop word); the best one becomes the word's canonical form and is reported as a
//!    correction; so is a rare known word that runs two far more common words
//!    together (`powercord`), which step 4 gives back as the parts' joined form;
//! 3. synonyms match spans of canonical forms, longest first, and add their
//!    expansions (a multi-word span becomes one clause);
//! 4. two adjacent words whose concatenation the index knows (`head phones`) get it as
//!    an alternative, and so does a two-word span synonyms made one clause;
//! 5. the last word, while the shopper is still typing, gets its most frequent
//!    completions.

use super::{Clause, MatchKind, Node, PlanTerm, QueryPlan, penalty};
use crate::analysis::{Analyzer, QueryWord, fold_word, is_stop_word};
use crate::lexicon::{Lexicon, prefix_budget};
use crate::search::Correction;
use crate::synonyms::Synonyms;
use crate::typo::{MAX_TYPO_EXPANSIONS, MAX_TYPO_WORD_BYTES, TypoSettings};

/// Words of a query that are planned; later words are ignored (a shopper's query is
/// rarely longer, and every word costs typo, synonym and relaxation work).
pub const MAX_QUERY_WORDS: usize = 10;
/// Relaxation steps (words dropped, one at a time) tried when nothing matches.
pub const MAX_RELAXATION_STEPS: usize = 3;

/// Longest run-together word tried for a split (each split point costs two
/// analyses and two lookups, so this bounds the work a single word can cause).
pub const MAX_SPLIT_WORD_CHARS: usize = 40;
/// Most typo lookups (one lexicon walk within the word's typo budget, per form of a
/// word) one query makes; the words after that budget is spent are taken as typed.
/// Four two-form words fit, so ordinary queries never reach it; a query of ten
/// misspelt long words costs a bounded walk instead of thirty.
pub const MAX_TYPO_LOOKUPS: usize = 8;

/// Most typo lookups spent on rejoining words broken by a space (`labt op`).
const MAX_REJOIN_LOOKUPS: usize = 2;

/// Most typo lookups spent looking for a misspelt half of a run-together word.
const MAX_MISSPELT_SPLIT_LOOKUPS: usize = 4;

/// Shortest part a word may be split into.
const MIN_SPLIT_PART: usize = 2;

/// What the plan builder consults.
pub struct PlanContext<'a> {
    pub analyzer: &'a Analyzer,
    pub lexicon: &'a Lexicon,
    pub synonyms: &'a Synonyms,
    pub typos: TypoSettings,
    /// Whether the last word may still be incomplete (no trailing space).
    pub prefix_last: bool,
    /// Whether a term occurs in a field the lexicon leaves out (`typos = false`).
    pub known_elsewhere: &'a dyn Fn(&str) -> bool,
    /// False plans the words as analyzed: no typos, splits, joins, synonyms or
    /// completions (to measure what the query layer is worth).
    pub expand: bool,
}

/// A plan and the corrections made while building it.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub plan: QueryPlan,
    pub corrections: Vec<Correction>,
}

/// A clause under construction, with the canonical term of the word it came from.
struct Draft {
    clause: Clause,
    /// The word's term after correction (for synonym lookup); `None` for spans.
    canonical: Option<String>,
    /// Penalty carried by anything derived from the canonical form.
    carried: f32,
    /// Edits carried likewise: a synonym reached through a corrected word costs the
    /// `typo` criterion what the correction did, so a typo'd query's synonyms do not
    /// outrank its corrected words (and it ranks like its correction).
    carried_typos: u8,
    stop_word: bool,
}

/// Builds the plan of `words` (from [`Analyzer::query_words`]).
pub fn build(words: &[QueryWord], ctx: &PlanContext) -> Planned {
    let words = &words[..words.len().min(MAX_QUERY_WORDS)];
    let only_stop_words = words.iter().all(|w| w.is_stop_word);
    let mut corrections = Vec::new();
    if !ctx.expand {
        return plain(words, only_stop_words);
    }
    let inputs = correct_words(words, ctx, &mut corrections);
    let mut drafts: Vec<Draft> = inputs
        .into_iter()
        .map(|input| {
            let required = !input.word.is_stop_word || only_stop_words;
            word_draft(input, required, &mut corrections)
        })
        .collect();
    apply_synonyms(&mut drafts, ctx);
    join_adjacent(&mut drafts, ctx);
    join_spans(&mut drafts, ctx);
    // Completions of the last word as typed, unless planning changed it (a joined or
    // split word completes nothing).
    if ctx.prefix_last
        && let Some(last) = drafts.last_mut()
        && let Some(word) = words.last()
        && last.clause.surface == word.surface
    {
        add_completions(last, word, ctx);
    }
    Planned {
        plan: QueryPlan {
            clauses: drafts.into_iter().map(|d| d.clause).collect(),
        },
        corrections,
    }
}

/// The plan of the words as analyzed, without any expansion.
fn plain(words: &[QueryWord], only_stop_words: bool) -> Planned {
    let clauses = words
        .iter()
        .map(|word| {
            let required = !word.is_stop_word || only_stop_words;
            let input = WordInput {
                word: word.clone(),
                typos: Vec::new(),
            };
            word_draft(input, required, &mut Vec::new()).clause
        })
        .collect();
    Planned {
        plan: QueryPlan { clauses },
        corrections: Vec::new(),
    }
}

/// A word with the typo corrections found for it.
struct WordInput {
    word: QueryWord,
    typos: Vec<PlanTerm>,
}

/// Repairs words the index does not know: a word broken by a stray space is joined
/// again (`mon itor`), a word within its typo budget of known words gets them as
/// corrections, and a run-together word is split into two known words
/// (`hdmicord`), which then act as typed words. One typo beats a split, a split beats
/// two typos. A rare known word that runs two far more common words together
/// (`powercord`) is split too; [`join_adjacent`] gives the parts the word back as
/// their joined alternative.
fn correct_words(
    words: &[QueryWord],
    ctx: &PlanContext,
    corrections: &mut Vec<Correction>,
) -> Vec<WordInput> {
    let words = rejoin_broken_words(words, ctx, corrections);
    let mut inputs = Vec::with_capacity(words.len());
    let mut lookups_left = MAX_TYPO_LOOKUPS;
    for word in words {
        // Past the request's deadline, the remaining words are taken as typed; the
        // search stops at its next deadline check.
        if !is_plain_word(&word) || crate::deadline::check().is_err() {
            inputs.push(WordInput {
                word,
                typos: Vec::new(),
            });
            continue;
        }
        let doc_freq = ctx.lexicon.doc_freq(word.primary());
        let known = doc_freq > 0 || (ctx.known_elsewhere)(word.primary());
        let (typos, closest) =
            typo_alternatives(&word, ctx, known.then_some(doc_freq), &mut lookups_left);
        let split = match known {
            true => common_split(&word, doc_freq, ctx),
            false if closest.is_none_or(|d| d >= 2) => split_known(&word.surface, ctx)
                .map(|(_, parts)| parts)
                .or_else(|| known_parts(&word, ctx))
                .or_else(|| split_misspelt(&word.surface, ctx, &mut lookups_left)),
            false => None,
        };
        if let Some(parts) = split {
            corrections.push(Correction {
                from: word.surface.clone(),
                to: parts
                    .iter()
                    .map(|p| p.surface.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            });
            for part in parts {
                // A misspelt half (`wireles` of `wirelesmouse`) is corrected as a word.
                let typos = match ctx.lexicon.doc_freq(part.primary()) == 0 && is_plain_word(&part)
                {
                    true => typo_alternatives(&part, ctx, None, &mut lookups_left).0,
                    false => Vec::new(),
                };
                inputs.push(WordInput { word: part, typos });
            }
            continue;
        }
        inputs.push(WordInput { word, typos });
    }
    inputs
}

/// A single-term word that is not a number or a stop word.
fn is_plain_word(word: &QueryWord) -> bool {
    word.alternatives.first().is_some_and(|a| a.len() == 1) && !word.is_number && !word.is_stop_word
}

/// Joins two adjacent words broken by a stray space: when one is unknown and together
/// they make a known word (`monit or` → `monitor`, a stop word included); when each
/// unknown one is too short to be corrected alone, and together they are one typo
/// away from a single common word (`labt op` → `labtop`, which the typo layer then
/// corrects to `laptop`); or when both are known but together make a word, or a typo
/// of one, far more common than the rarer of them ([`RARE_WORD_RATIO`] times: `lap top`
/// → `laptop`, so the joined word's synonyms apply; `lab top` → `labtop`).
fn rejoin_broken_words(
    words: &[QueryWord],
    ctx: &PlanContext,
    corrections: &mut Vec<Correction>,
) -> Vec<QueryWord> {
    let mut lookups_left = MAX_REJOIN_LOOKUPS;
    let mut out: Vec<QueryWord> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        if i + 1 < words.len()
            && let Some(word) = rejoined(&words[i], &words[i + 1], ctx, &mut lookups_left)
        {
            corrections.push(Correction {
                from: format!("{} {}", words[i].surface, words[i + 1].surface),
                to: word.surface.clone(),
            });
            out.push(word);
            i += 2;
            continue;
        }
        out.push(words[i].clone());
        i += 1;
    }
    out
}

/// `a` and `b` joined into one word, when [`rejoin_broken_words`] says they were one.
fn rejoined(
    a: &QueryWord,
    b: &QueryWord,
    ctx: &PlanContext,
    lookups_left: &mut usize,
) -> Option<QueryWord> {
    let single =
        |w: &QueryWord| w.alternatives.first().is_some_and(|a| a.len() == 1) && !w.is_number;
    if !single(a) || !single(b) || a.is_stop_word && b.is_stop_word {
        return None;
    }
    let doc_freq = |w: &QueryWord| ctx.lexicon.doc_freq(w.primary());
    let unknown = |w: &QueryWord| doc_freq(w) == 0 && !(ctx.known_elsewhere)(w.primary());
    let term = analyzed(&format!("{}{}", a.surface, b.surface), ctx.analyzer)?;
    let joined_freq = ctx.lexicon.doc_freq(&term);
    let join = if unknown(a) || unknown(b) {
        // A fragment too short to correct alone may be a misspelt word's part.
        let fragment = |w: &QueryWord| {
            !unknown(w) || ctx.typos.allowed_for_len(w.surface.chars().count()) == 0
        };
        joined_freq > 0
            || fragment(a) && fragment(b) && one_typo_from_a_word(&term, ctx, lookups_left)
    } else {
        // The word they make, or the common word one typo from it (`lab top` →
        // `labtop`, a typo of `laptop`), far more common than the rarer of them (a
        // stop word does not count: `in ear` stays two words).
        let rarer = match (a.is_stop_word, b.is_stop_word) {
            (true, _) => doc_freq(b),
            (_, true) => doc_freq(a),
            _ => doc_freq(a).min(doc_freq(b)),
        };
        let made = match joined_freq {
            0 => one_typo_word_freq(&term, ctx, lookups_left).unwrap_or(0),
            known => known,
        };
        made >= RARE_WORD_RATIO * rarer.max(1)
    };
    if !join {
        return None;
    }
    ctx.analyzer
        .query_words(&format!("{}{}", a.surface, b.surface))
        .into_iter()
        .next()
}

/// Whether `term` is one typo from a known word that is not rare, and from one only
/// (or one far more common than the others: [`is_unambiguous`]), within the typo
/// budget of its length.
fn one_typo_from_a_word(term: &str, ctx: &PlanContext, lookups_left: &mut usize) -> bool {
    one_typo_word_freq(term, ctx, lookups_left).is_some()
}

/// The document frequency of the word [`one_typo_from_a_word`] finds.
fn one_typo_word_freq(term: &str, ctx: &PlanContext, lookups_left: &mut usize) -> Option<u64> {
    let len = term.chars().count();
    if *lookups_left == 0 || len > MAX_TYPO_WORD_BYTES || ctx.typos.allowed_for_len(len) == 0 {
        return None;
    }
    *lookups_left -= 1;
    let mut candidates = ctx.lexicon.fuzzy(term, 1, MAX_TYPO_EXPANSIONS * 4);
    candidates.retain(|c| {
        c.distance == 1
            && c.doc_freq > RARE_WORD_DOC_FREQ
            && c.term.chars().all(char::is_alphabetic)
    });
    candidates.sort_by_key(|c| std::cmp::Reverse(c.doc_freq));
    is_unambiguous(&candidates).then(|| candidates[0].doc_freq)
}

/// Adds `extra` alternatives to a node.
fn with_alternatives(node: Node, extra: Vec<Node>) -> Node {
    if extra.is_empty() {
        return node;
    }
    match node {
        Node::Any(mut children) => {
            children.extend(extra);
            Node::Any(children)
        }
        other => {
            let mut children = vec![other];
            children.extend(extra);
            Node::Any(children)
        }
    }
}

fn terms_node(terms: &[String], kind: MatchKind, penalty: f32) -> Node {
    match terms {
        [single] => Node::Term(PlanTerm::new(single.clone(), kind, penalty)),
        many => Node::All(
            many.iter()
                .map(|t| Node::Term(PlanTerm::new(t.clone(), kind, penalty)))
                .collect(),
        ),
    }
}

fn word_draft(input: WordInput, required: bool, corrections: &mut Vec<Correction>) -> Draft {
    let WordInput { word, typos } = input;
    let mut alternatives: Vec<Node> = Vec::new();
    for (i, terms) in word.alternatives.iter().enumerate() {
        let node = match (i, terms.len()) {
            (0, _) => terms_node(terms, MatchKind::Exact, 1.0),
            (_, 1) => terms_node(terms, MatchKind::Joined, penalty::JOINED),
            _ => terms_node(terms, MatchKind::Split, penalty::SPLIT),
        };
        alternatives.push(node);
    }
    let mut canonical = word.primary().to_string();
    let mut carried = 1.0;
    let mut carried_typos = 0;
    if let Some(best) = typos.first() {
        canonical = best.text.clone();
        carried = best.penalty;
        carried_typos = best.typo_cost();
        corrections.push(Correction {
            from: word.surface.clone(),
            to: best.text.clone(),
        });
    }
    alternatives.extend(typos.into_iter().map(Node::Term));
    let node = match alternatives.len() {
        1 => alternatives.remove(0),
        _ => Node::Any(alternatives),
    };
    Draft {
        clause: Clause {
            surface: word.surface.clone(),
            required,
            node,
        },
        canonical: Some(canonical),
        carried,
        carried_typos,
        stop_word: word.is_stop_word,
    }
}

/// Words the index knows in at most this many documents may still be typos.
const RARE_WORD_DOC_FREQ: u64 = 10;
/// A rare known word is corrected only to words this many times more common.
const RARE_WORD_RATIO: u64 = 20;

/// Lexicon words within the word's typo budget, best first.
///
/// The budget follows the longer of the typed word and the candidate, so a letter
/// dropped from a five-letter word ("tner") still finds it ("toner") while short
/// words stay exact. `known` carries the document frequency of a word the index
/// knows: such a word is only corrected when it is rare and the correction far more
/// common, and never "corrected away" — the exact word keeps ranking first.
fn typo_alternatives(
    word: &QueryWord,
    ctx: &PlanContext,
    known: Option<u64>,
    lookups_left: &mut usize,
) -> (Vec<PlanTerm>, Option<u8>) {
    let none = (Vec::new(), None);
    if known.is_some_and(|df| df > RARE_WORD_DOC_FREQ) {
        return none;
    }
    let surface = fold_word(&word.surface);
    if surface.len() > MAX_TYPO_WORD_BYTES || surface.chars().any(|c| !c.is_alphabetic()) {
        return none;
    }
    let typed_len = surface.chars().count();
    let radius = ctx.typos.allowed_for_len(typed_len + 1);
    if radius == 0 {
        return none;
    }
    // The lexicon holds stemmed words: look from the typed form, the stemmed form and
    // the form without a plural `s` (a typo can hide a plural from the stemmer).
    let mut forms = vec![surface.clone(), word.primary().to_string()];
    if let Some(singular) = surface.strip_suffix('s').filter(|s| s.len() >= 3) {
        forms.push(singular.to_string());
    }
    forms.dedup();
    forms.truncate(*lookups_left);
    *lookups_left -= forms.len();
    let mut candidates: Vec<crate::lexicon::Candidate> = Vec::new();
    for form in &forms {
        for c in ctx.lexicon.fuzzy(form, radius, MAX_TYPO_EXPANSIONS * 4) {
            match candidates.iter_mut().find(|e| e.term == c.term) {
                Some(existing) => existing.distance = existing.distance.min(c.distance),
                None => candidates.push(c),
            }
        }
    }
    candidates.retain(|c| {
        let budget = ctx
            .typos
            .allowed_for_len(typed_len.max(c.term.chars().count()));
        c.term.chars().all(char::is_alphabetic)
            && c.distance <= budget
            && known.is_none_or(|df| c.doc_freq >= RARE_WORD_RATIO * df.max(1))
    });
    candidates.sort_by(|a, b| {
        a.distance
            .cmp(&b.distance)
            .then(b.doc_freq.cmp(&a.doc_freq))
    });
    candidates.truncate(MAX_TYPO_EXPANSIONS);
    let closest = candidates.first().map(|c| c.distance);
    let unambiguous = known.is_none() && is_unambiguous(&candidates);
    let terms = candidates
        .into_iter()
        .enumerate()
        .map(|(rank, c)| {
            let p = match (rank, known, c.distance) {
                // The one plausible correction of a word found nowhere: it ranks
                // exactly as if it had been typed.
                (0, None, _) if unambiguous => 1.0,
                // The likeliest correction of a word found nowhere: nothing exact competes.
                (0, None, _) => penalty::CORRECTED,
                (_, _, 0 | 1) => penalty::ONE_TYPO,
                _ => penalty::TWO_TYPOS,
            };
            PlanTerm::new(c.term, MatchKind::Typo, p).at_distance(c.distance.max(1))
        })
        .collect();
    (terms, closest)
}

/// A correction is unambiguous when it is closer than every other candidate, or as
/// close and far more common (ten times).
fn is_unambiguous(candidates: &[crate::lexicon::Candidate]) -> bool {
    match candidates {
        [] => false,
        [_] => true,
        [first, second, ..] => {
            second.distance > first.distance || second.doc_freq * 10 <= first.doc_freq
        }
    }
}

/// The split of `surface` into two known words whose rarer half is most common, as
/// analyzed words, with that half's document frequency. One half may be a stop word
/// (`tovga` → `to vga`); it then does not count as the rarer half.
fn split_known(surface: &str, ctx: &PlanContext) -> Option<(u64, Vec<QueryWord>)> {
    let chars: Vec<char> = surface.chars().collect();
    if chars.len() < 2 * MIN_SPLIT_PART
        || chars.len() > MAX_SPLIT_WORD_CHARS
        || !chars.iter().all(|c| c.is_alphanumeric())
    {
        return None;
    }
    let (weakest, left, right) = (MIN_SPLIT_PART..=chars.len() - MIN_SPLIT_PART)
        .filter_map(|k| {
            let left: String = chars[..k].iter().collect();
            let right: String = chars[k..].iter().collect();
            let l = analyzed(&left, ctx.analyzer)?;
            let r = analyzed(&right, ctx.analyzer)?;
            let weakest = match (is_stop_word(&l), is_stop_word(&r)) {
                (true, true) => return None,
                (true, false) => ctx.lexicon.doc_freq(&r),
                (false, true) => ctx.lexicon.doc_freq(&l),
                (false, false) => ctx.lexicon.doc_freq(&l).min(ctx.lexicon.doc_freq(&r)),
            };
            (weakest > 0).then_some((weakest, left, right))
        })
        .max_by_key(|(weakest, _, _)| *weakest)?;
    let mut words = ctx.analyzer.query_words(&left);
    words.extend(ctx.analyzer.query_words(&right));
    Some((weakest, words))
}

/// The parts the analyzer split an unknown word into (`1laptop` → `1 laptop`,
/// `15.6laptop`), as words of their own when the index knows every one: then each
/// part's synonyms apply, as they would had the shopper typed the space.
fn known_parts(word: &QueryWord, ctx: &PlanContext) -> Option<Vec<QueryWord>> {
    let parts = word.alternatives.iter().skip(1).find(|terms| {
        terms.len() >= 2
            && terms
                .iter()
                .all(|t| ctx.lexicon.doc_freq(t) > 0 || (ctx.known_elsewhere)(t))
    })?;
    let words: Vec<QueryWord> = parts
        .iter()
        .flat_map(|t| ctx.analyzer.query_words(t))
        .collect();
    (words.len() == parts.len()).then_some(words)
}

/// The split of `surface` into a known word and one a typo from a common word
/// (`wirelesmouse` → `wireles mouse`), trying the splits whose known half is most
/// common first, with at most [`MAX_MISSPELT_SPLIT_LOOKUPS`] typo lookups (halves too
/// short to hold a typo cost none).
fn split_misspelt(
    surface: &str,
    ctx: &PlanContext,
    lookups_left: &mut usize,
) -> Option<Vec<QueryWord>> {
    let chars: Vec<char> = surface.chars().collect();
    if chars.len() < 2 * MIN_SPLIT_PART
        || chars.len() > MAX_SPLIT_WORD_CHARS
        || !chars.iter().all(|c| c.is_alphabetic())
    {
        return None;
    }
    // (known half's frequency, left, right, whether the left half is the misspelt one)
    let mut splits: Vec<(u64, String, String, bool)> = (MIN_SPLIT_PART
        ..=chars.len() - MIN_SPLIT_PART)
        .filter_map(|k| {
            let left: String = chars[..k].iter().collect();
            let right: String = chars[k..].iter().collect();
            let l = analyzed(&left, ctx.analyzer)?;
            let r = analyzed(&right, ctx.analyzer)?;
            if is_stop_word(&l) || is_stop_word(&r) {
                return None;
            }
            match (ctx.lexicon.doc_freq(&l), ctx.lexicon.doc_freq(&r)) {
                (0, 0) => None,
                (0, known) => Some((known, left, right, true)),
                (known, 0) => Some((known, left, right, false)),
                _ => None,
            }
        })
        .collect();
    splits.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut budget = MAX_MISSPELT_SPLIT_LOOKUPS.min(*lookups_left);
    for (_, left, right, left_misspelt) in splits {
        if budget == 0 {
            break;
        }
        let misspelt = fold_word(if left_misspelt { &left } else { &right });
        if ctx.typos.allowed_for_len(misspelt.chars().count()) == 0 {
            continue;
        }
        budget -= 1;
        *lookups_left = lookups_left.saturating_sub(1);
        let mut unused = 1;
        if one_typo_from_a_word(&misspelt, ctx, &mut unused) {
            let mut words = ctx.analyzer.query_words(&left);
            words.extend(ctx.analyzer.query_words(&right));
            return Some(words);
        }
    }
    None
}

/// The two far more common words a rare known word runs together (`powercord` →
/// `power cord`, each in [`RARE_WORD_RATIO`] times more documents): shoppers run
/// words together more often than catalogs do. The parts then act as typed words, so
/// their synonyms apply, and the word itself comes back as their joined alternative.
fn common_split(word: &QueryWord, doc_freq: u64, ctx: &PlanContext) -> Option<Vec<QueryWord>> {
    if doc_freq == 0 || doc_freq > RARE_WORD_DOC_FREQ {
        return None;
    }
    let (weakest, parts) = split_known(&word.surface, ctx)?;
    let plain = parts.len() == 2 && parts.iter().all(|p| !p.is_stop_word && !p.is_number);
    (plain && weakest >= RARE_WORD_RATIO * doc_freq).then_some(parts)
}

/// The single term `text` analyzes to, if it is one.
fn analyzed(text: &str, analyzer: &Analyzer) -> Option<String> {
    let words = analyzer.query_words(text);
    match words.as_slice() {
        [w] if w.alternatives.first().is_some_and(|a| a.len() == 1) => {
            Some(w.primary().to_string())
        }
        _ => None,
    }
}

/// Merges drafts `from..to` into one span clause with `extra` alternatives.
fn merge_span(drafts: &mut Vec<Draft>, from: usize, to: usize, extra: Vec<Node>) {
    let span: Vec<Draft> = drafts.drain(from..to).collect();
    let required = span.iter().any(|d| d.clause.required);
    let surface = span
        .iter()
        .map(|d| d.clause.surface.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let words: Vec<Node> = span
        .into_iter()
        .filter(|d| d.clause.required || !required)
        .map(|d| d.clause.node)
        .collect();
    let original = if words.len() == 1 {
        words.into_iter().next().unwrap_or(Node::All(Vec::new()))
    } else {
        Node::All(words)
    };
    let mut children = vec![original];
    children.extend(extra);
    drafts.insert(
        from,
        Draft {
            clause: Clause {
                surface,
                required,
                node: Node::Any(children),
            },
            canonical: None,
            carried: 1.0,
            carried_typos: 0,
            stop_word: false,
        },
    );
}

fn apply_synonyms(drafts: &mut Vec<Draft>, ctx: &PlanContext) {
    if ctx.synonyms.is_empty() {
        return;
    }
    let mut i = 0;
    while i < drafts.len() {
        // Canonical terms of the single-word drafts from i on (spans stop the run).
        let run: Vec<String> = drafts[i..]
            .iter()
            .map_while(|d| d.canonical.clone())
            .collect();
        let Some((end, expansions)) = ctx.synonyms.longest_match(&run, 0) else {
            i += 1;
            continue;
        };
        let carried = drafts[i..i + end]
            .iter()
            .map(|d| d.carried)
            .fold(1.0, f32::min);
        let typos = drafts[i..i + end]
            .iter()
            .map(|d| d.carried_typos)
            .fold(0u8, u8::saturating_add);
        let extra: Vec<Node> = expansions
            .iter()
            .map(|terms| {
                let node = terms_node(terms, MatchKind::Synonym, penalty::SYNONYM * carried);
                with_carried_typos(node, typos)
            })
            .collect();
        if end == 1 {
            let draft = &mut drafts[i];
            let node = std::mem::replace(&mut draft.clause.node, Node::All(Vec::new()));
            draft.clause.node = with_alternatives(node, extra);
        } else {
            merge_span(drafts, i, i + end, extra);
        }
        i += 1;
    }
}

/// A synonym expansion that costs `typos` edits: carried by its first term (the
/// criterion adds up the terms of an all-of).
fn with_carried_typos(mut node: Node, typos: u8) -> Node {
    if typos > 0 {
        let first = match &mut node {
            Node::Term(term) => Some(term),
            Node::All(children) => children.iter_mut().find_map(|c| match c {
                Node::Term(term) => Some(term),
                _ => None,
            }),
            _ => None,
        };
        if let Some(term) = first {
            term.distance = typos;
        }
    }
    node
}

fn join_adjacent(drafts: &mut Vec<Draft>, ctx: &PlanContext) {
    let mut i = 0;
    while i + 1 < drafts.len() {
        let (a, b) = (&drafts[i], &drafts[i + 1]);
        let joinable =
            a.canonical.is_some() && b.canonical.is_some() && !a.stop_word && !b.stop_word;
        let joined = joinable
            .then(|| {
                analyzed(
                    &format!("{}{}", a.clause.surface, b.clause.surface),
                    ctx.analyzer,
                )
            })
            .flatten()
            .filter(|j| ctx.lexicon.doc_freq(j) > 0);
        match joined {
            Some(term) => {
                let extra = vec![Node::Term(PlanTerm::new(
                    term,
                    MatchKind::Joined,
                    penalty::JOINED,
                ))];
                merge_span(drafts, i, i + 2, extra);
            }
            None => i += 1,
        }
    }
}

/// Gives a two-word span a synonym made one clause (`power cord`) its joined form as
/// an alternative when the index knows it (`powercord`), as [`join_adjacent`] does
/// for two word clauses.
fn join_spans(drafts: &mut [Draft], ctx: &PlanContext) {
    for draft in drafts.iter_mut().filter(|d| d.canonical.is_none()) {
        let words: Vec<&str> = draft.clause.surface.split(' ').collect();
        if words.len() != 2 || words.iter().any(|w| is_stop_word(w)) {
            continue;
        }
        let Some(term) = analyzed(&words.concat(), ctx.analyzer)
            .filter(|j| ctx.lexicon.doc_freq(j) > 0)
            .filter(|j| !draft.clause.node.terms().iter().any(|t| t.text == *j))
        else {
            continue;
        };
        let node = std::mem::replace(&mut draft.clause.node, Node::Any(Vec::new()));
        let joined = Node::Term(PlanTerm::new(term, MatchKind::Joined, penalty::JOINED));
        draft.clause.node = with_alternatives(node, vec![joined]);
    }
}

/// Prefixes this short complete only to words in strong fields (see
/// [`PlanTerm::strong_only`]).
const STRONG_ONLY_PREFIX: usize = 2;

fn add_completions(draft: &mut Draft, word: &QueryWord, ctx: &PlanContext) {
    let surface = fold_word(&word.surface);
    if draft.canonical.is_none()
        || word.is_number
        || word.is_stop_word
        || !surface.chars().all(char::is_alphabetic)
    {
        return;
    }
    let primary = word.primary();
    let typed = surface.chars().count();
    let extra: Vec<Node> = ctx
        .lexicon
        .prefixed(&surface, prefix_budget(typed))
        .into_iter()
        .filter(|(term, _)| term != primary)
        .map(|(term, _)| {
            let mut completion = PlanTerm::new(term, MatchKind::Prefix, penalty::PREFIX);
            completion.strong_only = typed <= STRONG_ONLY_PREFIX;
            Node::Term(completion)
        })
        .collect();
    let node = std::mem::replace(&mut draft.clause.node, Node::All(Vec::new()));
    draft.clause.node = with_alternatives(node, extra);
}

#[cfg(test)]
mod tests;
