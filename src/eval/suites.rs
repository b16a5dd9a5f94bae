//! Robustness suites: the judged queries rewritten the way shoppers mistype them.
//!
//! Each suite derives one variant of every query with a fixed seed (the same
//! variants on every run and machine): one typo (insertion, deletion, substitution
//! or transposition inside a word of 5+ letters, never the first letter), a dropped
//! or added space, or one word's plural swapped with its singular. A query the
//! rewrite cannot apply to stays as it was.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seed of every suite's rewrites.
pub const SUITE_SEED: u64 = 20_261_121;

/// A way of rewriting queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    Clean,
    Typo,
    Spaces,
    Plural,
}

impl Suite {
    pub const ALL: [Suite; 4] = [Suite::Clean, Suite::Typo, Suite::Spaces, Suite::Plural];

    pub fn name(self) -> &'static str {
        match self {
            Suite::Clean => "clean",
            Suite::Typo => "typo",
            Suite::Spaces => "spaces",
            Suite::Plural => "plural",
        }
    }

    pub fn parse(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The suite's variant of `query` (identified by `query_id` for the seed).
    pub fn rewrite(self, query_id: &str, query: &str) -> String {
        let mut rng = ChaCha8Rng::seed_from_u64(SUITE_SEED ^ fnv(query_id) ^ (self as u64) << 56);
        match self {
            Suite::Clean => query.to_string(),
            Suite::Typo => typo(&mut rng, query),
            Suite::Spaces => spaces(&mut rng, query),
            Suite::Plural => plural(&mut rng, query),
        }
    }
}

/// FNV-1a, a stable hash for seeding (std's hasher may change between releases).
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn words(query: &str) -> Vec<String> {
    query.split_whitespace().map(str::to_string).collect()
}

/// One typo inside a word of 5+ letters.
fn typo(rng: &mut ChaCha8Rng, query: &str) -> String {
    let mut words = words(query);
    let candidates: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].chars().filter(|c| c.is_alphabetic()).count() >= 5)
        .collect();
    if candidates.is_empty() {
        return query.to_string();
    }
    let i = candidates[rng.random_range(0..candidates.len())];
    let mut chars: Vec<char> = words[i].chars().collect();
    let at = rng.random_range(1..chars.len());
    let letter = (b'a' + rng.random_range(0..26u8)) as char;
    match rng.random_range(0..4) {
        0 => chars.insert(at, letter),
        1 => {
            chars.remove(at);
        }
        2 => {
            let replacement = if chars[at] == letter {
                ((letter as u8 - b'a' + 1) % 26 + b'a') as char
            } else {
                letter
            };
            chars[at] = replacement;
        }
        _ => {
            let j = if at + 1 < chars.len() { at + 1 } else { at - 1 };
            if chars[at] == chars[j] {
                chars.remove(at);
            } else {
                chars.swap(at, j);
            }
        }
    }
    words[i] = chars.into_iter().collect();
    words.join(" ")
}

/// Drops a space between two words, or splits a word of 6+ letters in two.
fn spaces(rng: &mut ChaCha8Rng, query: &str) -> String {
    let words = words(query);
    let splittable: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].chars().count() >= 6)
        .collect();
    let join = words.len() > 1 && (splittable.is_empty() || rng.random_bool(0.5));
    if join {
        let at = rng.random_range(0..words.len() - 1);
        let mut out = words.clone();
        let next = out.remove(at + 1);
        out[at].push_str(&next);
        return out.join(" ");
    }
    if splittable.is_empty() {
        return query.to_string();
    }
    let i = splittable[rng.random_range(0..splittable.len())];
    let chars: Vec<char> = words[i].chars().collect();
    let at = rng.random_range(2..chars.len() - 1);
    let mut out = words.clone();
    out[i] = format!(
        "{} {}",
        chars[..at].iter().collect::<String>(),
        chars[at..].iter().collect::<String>()
    );
    out.join(" ")
}

/// Swaps one alphabetic word between singular and plural.
fn plural(rng: &mut ChaCha8Rng, query: &str) -> String {
    let mut words = words(query);
    let candidates: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].len() >= 3 && words[i].chars().all(char::is_alphabetic))
        .collect();
    if candidates.is_empty() {
        return query.to_string();
    }
    let i = candidates[rng.random_range(0..candidates.len())];
    let w = &words[i];
    words[i] = if let Some(stem) = w.strip_suffix("ies") {
        format!("{stem}y")
    } else if w.ends_with("ches") || w.ends_with("shes") || w.ends_with("xes") {
        w[..w.len() - 2].to_string()
    } else if w.ends_with('s') && !w.ends_with("ss") {
        w[..w.len() - 1].to_string()
    } else if w.ends_with('y') && !w.ends_with("ey") && !w.ends_with("ay") {
        format!("{}ies", &w[..w.len() - 1])
    } else if w.ends_with("ch") || w.ends_with("sh") || w.ends_with('x') || w.ends_with("ss") {
        format!("{w}es")
    } else {
        format!("{w}s")
    };
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_are_deterministic_and_change_one_thing() {
        for suite in Suite::ALL {
            assert_eq!(
                suite.rewrite("q1", "wireless mouse"),
                suite.rewrite("q1", "wireless mouse")
            );
        }
        assert_eq!(
            Suite::Clean.rewrite("q1", "wireless mouse"),
            "wireless mouse"
        );
        let typo = Suite::Typo.rewrite("q1", "wireless mouse");
        assert_ne!(typo, "wireless mouse");
        assert!(
            typo.ends_with(" mouse") || typo.starts_with("wireless "),
            "{typo}"
        );
        // Short words get no typo.
        assert_eq!(Suite::Typo.rewrite("q2", "pc case"), "pc case");
        let plural = Suite::Plural.rewrite("q3", "laptop bag");
        assert!(
            plural == "laptops bag" || plural == "laptop bags",
            "{plural}"
        );
        let spaces = Suite::Spaces.rewrite("q4", "wireless mouse");
        assert_ne!(spaces, "wireless mouse");
        assert_eq!(spaces.replace(' ', ""), "wirelessmouse");
    }

    #[test]
    fn typo_edits_are_one_edit_away() {
        for (i, q) in [
            "printer cartridge",
            "headphones",
            "keyboard",
            "monitor stand",
        ]
        .iter()
        .enumerate()
        {
            let t = Suite::Typo.rewrite(&format!("t{i}"), q);
            let (a, b): (Vec<char>, Vec<char>) = (q.chars().collect(), t.chars().collect());
            assert!(a.len().abs_diff(b.len()) <= 1, "{q} → {t}");
            assert_eq!(a[0], b[0], "first letter kept: {t}");
        }
    }
}
