//! Synonyms that merchandisers edit: `synonyms/*.txt` in the Solr format.
//!
//! ```text
//! # a comment
//! couch, sofa, settee          # equivalent: each finds the others
//! tv => television             # one-way: "tv" also finds "television", not the reverse
//! love seat, loveseat          # entries may span several words
//! ```
//!
//! Files are parsed line by line (every problem is reported with file, line and
//! reason, and a file with any problem is refused as a whole), then every entry is
//! run through the index's analyzer so synonyms match exactly the terms the index
//! holds, and compiled into an fst from an entry's terms to what it expands to.
//! Expansion happens at query time, so editing a file needs no reindex; the plan
//! ranks an expanded match below a match of what the shopper typed.

use std::collections::BTreeMap;
use std::path::Path;

use fst::Map;

use crate::analysis::Analyzer;
use crate::error::{Error, Result};

/// Longest entry, in words, that can match a span of the query.
pub const MAX_SYNONYM_WORDS: usize = 5;

/// One parsed line: its entries, and whether it is one-way (`from => to`).
#[derive(Debug, Clone, PartialEq)]
pub struct SynonymLine {
    pub origin: String,
    pub line: usize,
    pub from: Vec<String>,
    /// Empty for an equivalence line.
    pub to: Vec<String>,
}

/// Compiled synonyms: entry terms → expansions (each a term sequence).
#[derive(Clone)]
pub struct Synonyms {
    map: Map<Vec<u8>>,
    expansions: Vec<Vec<Vec<String>>>,
    /// Lines loaded, for reload reports.
    pub lines: usize,
    /// Files loaded.
    pub files: usize,
}

impl std::fmt::Debug for Synonyms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Synonyms({} lines, {} entries)",
            self.lines,
            self.expansions.len()
        )
    }
}

impl Default for Synonyms {
    fn default() -> Self {
        Synonyms::compile(&[], &Analyzer::new(crate::schema::Stemmer::Light))
            .unwrap_or_else(|_| unreachable!())
    }
}

/// Parses every `*.txt` file of `dir` (a missing folder means no synonyms).
pub fn read_dir(dir: &Path) -> Result<(Vec<SynonymLine>, usize)> {
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
    };
    files.sort();
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        let origin = file.display().to_string();
        match std::fs::read(file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => match parse(&text, &origin) {
                    Ok(parsed) => lines.extend(parsed),
                    Err(Error::Config { problems: p }) => problems.extend(p),
                    Err(e) => problems.push(e.to_string()),
                },
                Err(_) => problems.push(format!("{origin}: not valid UTF-8")),
            },
            Err(e) => problems.push(format!("{origin}: cannot read: {e}")),
        }
    }
    if problems.is_empty() {
        Ok((lines, files.len()))
    } else {
        Err(Error::Config { problems })
    }
}

/// Parses one synonym file's text.
pub fn parse(text: &str, origin: &str) -> Result<Vec<SynonymLine>> {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let content = strip_comment(raw).trim();
        if content.is_empty() {
            continue;
        }
        match parse_line(content) {
            Ok((from, to)) => lines.push(SynonymLine {
                origin: origin.to_string(),
                line: number,
                from,
                to,
            }),
            Err(reason) => problems.push(format!("{origin}:{number}: {reason}")),
        }
    }
    if problems.is_empty() {
        Ok(lines)
    } else {
        Err(Error::Config { problems })
    }
}

/// Drops `#` comments (a `#` at the start or after whitespace).
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

fn parse_line(content: &str) -> std::result::Result<(Vec<String>, Vec<String>), String> {
    let sides: Vec<&str> = content.split("=>").collect();
    let entries = |side: &str, which: &str| -> std::result::Result<Vec<String>, String> {
        let items: Vec<String> = side.split(',').map(|e| e.trim().to_string()).collect();
        if items.iter().any(String::is_empty) {
            return Err(format!(
                "empty entry {which}(check for doubled or trailing commas)"
            ));
        }
        Ok(items)
    };
    match sides.as_slice() {
        [group] => {
            let from = entries(group, "")?;
            if from.len() < 2 {
                return Err(
                    "a line needs at least two entries (a, b) or a mapping (a => b)".to_string(),
                );
            }
            Ok((from, Vec::new()))
        }
        [from, to] => {
            if from.trim().is_empty() || to.trim().is_empty() {
                return Err("`=>` needs entries on both sides".to_string());
            }
            Ok((entries(from, "before `=>` ")?, entries(to, "after `=>` ")?))
        }
        _ => Err("more than one `=>` on a line".to_string()),
    }
}

impl Synonyms {
    /// Compiles parsed lines with the index's analyzer.
    pub fn compile(lines: &[SynonymLine], analyzer: &Analyzer) -> Result<Synonyms> {
        let mut table: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        let mut problems = Vec::new();
        for line in lines {
            let terms = |entry: &String| -> std::result::Result<Vec<String>, String> {
                let terms: Vec<String> = analyzer
                    .query_words(entry)
                    .iter()
                    .map(|w| w.primary().to_string())
                    .collect();
                if terms.is_empty() {
                    return Err(format!(
                        "{}:{}: \"{entry}\" has no words",
                        line.origin, line.line
                    ));
                }
                if terms.len() > MAX_SYNONYM_WORDS {
                    return Err(format!(
                        "{}:{}: \"{entry}\" has more than {MAX_SYNONYM_WORDS} words",
                        line.origin, line.line
                    ));
                }
                Ok(terms)
            };
            let from: std::result::Result<Vec<_>, _> = line.from.iter().map(terms).collect();
            let to: std::result::Result<Vec<_>, _> = line.to.iter().map(terms).collect();
            let (from, to) = match (from, to) {
                (Ok(f), Ok(t)) => (f, t),
                (Err(e), _) | (_, Err(e)) => {
                    problems.push(e);
                    continue;
                }
            };
            let targets_of = |source: &Vec<String>| -> Vec<Vec<String>> {
                let pool = if to.is_empty() { &from } else { &to };
                pool.iter().filter(|t| *t != source).cloned().collect()
            };
            for source in &from {
                let entry = table.entry(source.join(" ")).or_default();
                for target in targets_of(source) {
                    if !entry.contains(&target) {
                        entry.push(target);
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        let mut builder = fst::MapBuilder::memory();
        let mut expansions = Vec::with_capacity(table.len());
        for (key, targets) in table {
            builder
                .insert(key.as_bytes(), expansions.len() as u64)
                .map_err(|e| Error::Internal(format!("building synonyms: {e}")))?;
            expansions.push(targets);
        }
        let bytes = builder
            .into_inner()
            .map_err(|e| Error::Internal(format!("building synonyms: {e}")))?;
        let map =
            Map::new(bytes).map_err(|e| Error::Internal(format!("building synonyms: {e}")))?;
        Ok(Synonyms {
            map,
            expansions,
            lines: lines.len(),
            files: 0,
        })
    }

    /// Number of entries that expand to something.
    pub fn len(&self) -> usize {
        self.expansions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.expansions.is_empty()
    }

    /// The longest entry matching `terms[start..]`: its end (exclusive) and expansions.
    pub fn longest_match(&self, terms: &[String], start: usize) -> Option<(usize, &[Vec<String>])> {
        let last = terms.len().min(start + MAX_SYNONYM_WORDS);
        (start + 1..=last).rev().find_map(|end| {
            let key = terms[start..end].join(" ");
            self.map
                .get(key.as_bytes())
                .and_then(|i| self.expansions.get(i as usize))
                .map(|e| (end, e.as_slice()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Stemmer;

    fn compiled(text: &str) -> Synonyms {
        Synonyms::compile(
            &parse(text, "t.txt").unwrap(),
            &Analyzer::new(Stemmer::Light),
        )
        .unwrap()
    }

    fn expand(s: &Synonyms, query: &str) -> Vec<String> {
        let terms: Vec<String> = query.split(' ').map(str::to_string).collect();
        s.longest_match(&terms, 0)
            .map(|(_, e)| e.iter().map(|t| t.join(" ")).collect())
            .unwrap_or_default()
    }

    #[test]
    fn equivalent_entries_find_each_other() {
        let s = compiled("couch, sofa, settee\n");
        assert_eq!(expand(&s, "couch"), ["sofa", "settee"]);
        assert_eq!(expand(&s, "sofa"), ["couch", "settee"]);
    }

    #[test]
    fn one_way_entries_expand_one_way() {
        let s = compiled("tv => television\n");
        assert_eq!(expand(&s, "tv"), ["television"]);
        assert!(expand(&s, "television").is_empty());
    }

    #[test]
    fn entries_are_analyzed_like_queries() {
        let s = compiled("Sofas, Couches\n");
        assert_eq!(expand(&s, "sofa"), ["couch"], "plural folded, lowercased");
    }

    #[test]
    fn multi_word_entries_match_spans_longest_first() {
        let s = compiled(
            "love seat, loveseat\nmid century, midcentury, mid century modern\nseat, chair\n",
        );
        let terms: Vec<String> = ["love", "seat", "sofa"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (end, expansions) = s.longest_match(&terms, 0).unwrap();
        assert_eq!(end, 2);
        assert_eq!(expansions, [vec!["loveseat".to_string()]]);
        let (end, _) = s.longest_match(&terms, 1).unwrap();
        assert_eq!(end, 2, "`seat` alone matches from position 1");
        assert_eq!(
            expand(&s, "mid century"),
            ["midcentury", "mid century modern"]
        );
    }

    #[test]
    fn comments_and_blank_lines_are_ignored() {
        let s = compiled("# heading\n\n  tv => television   # trailing\nc#, csharp\n");
        assert_eq!(expand(&s, "tv"), ["television"]);
        assert_eq!(s.lines, 2);
    }

    #[test]
    fn broken_lines_are_reported_with_line_and_reason() {
        let err = parse(
            "ok, fine\nsofa,, couch\n=> tv\na => b => c\nlonely\n",
            "s.txt",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("s.txt:2: empty entry"), "{err}");
        assert!(
            err.contains("s.txt:3: `=>` needs entries on both sides"),
            "{err}"
        );
        assert!(err.contains("s.txt:4: more than one `=>`"), "{err}");
        assert!(
            err.contains("s.txt:5: a line needs at least two entries"),
            "{err}"
        );
        let lines = parse("!!!, sofa\n", "s.txt").unwrap();
        let err = Synonyms::compile(&lines, &Analyzer::new(Stemmer::Light))
            .unwrap_err()
            .to_string();
        assert!(err.contains("s.txt:1: \"!!!\" has no words"), "{err}");
    }
}
