//! Rule files as written (serde, unknown keys refused) and their validation.

use serde::Deserialize;
use toml::Spanned;

use super::predicate::{self, Scope};
use super::{Boost, Rule, normalize_query};
use crate::catalog::parse_date;
use crate::index::Snapshot;
use crate::schema::FieldKind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// When set, the file applies only to indexes built with this schema (`demo`).
    schema: Option<String>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    query: Option<String>,
    query_contains: Option<String>,
    category: Option<String>,
    from: Option<String>,
    until: Option<String>,
    #[serde(default)]
    pin: Vec<RawPin>,
    #[serde(default)]
    hide: Vec<String>,
    #[serde(default)]
    boost: Vec<RawBoost>,
    #[serde(default)]
    demote: Vec<RawBoost>,
    #[serde(default)]
    bury: Vec<RawBury>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPin {
    id: String,
    position: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoost {
    #[serde(rename = "where")]
    predicate: String,
    factor: f32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBury {
    #[serde(rename = "where")]
    predicate: String,
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses and validates a rule file; every problem is reported with its line.
pub(super) fn parse(
    text: &str,
    origin: &str,
    snapshot: &Snapshot,
) -> Result<Vec<Rule>, Vec<String>> {
    let file: RawFile = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| format!(":{}", line_at(text, s.start)))
            .unwrap_or_default();
        vec![format!("{origin}{line}: {}", e.message().trim())]
    })?;
    if file
        .schema
        .as_ref()
        .is_some_and(|s| *s != snapshot.schema.name)
    {
        return Ok(Vec::new());
    }
    let numeric_defs: Vec<usize> = snapshot.fields.numeric.iter().map(|n| n.def).collect();
    let scope = Scope {
        schema: &snapshot.schema,
        vocabulary: &snapshot.vocabulary,
        numeric_defs: &numeric_defs,
    };
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for spanned in file.rule {
        // The span of an array-of-tables entry starts at its `[[rule]]` header.
        let at = format!("{origin}:{}", line_at(text, spanned.span().start));
        match validate(spanned.into_inner(), &at, snapshot, &scope) {
            Ok(rule) => rules.push(rule),
            Err(reasons) => problems.extend(reasons.into_iter().map(|r| format!("{at}: {r}"))),
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(problems)
    }
}

fn validate(
    raw: RawRule,
    origin: &str,
    snapshot: &Snapshot,
    scope: &Scope,
) -> Result<Rule, Vec<String>> {
    let mut problems = Vec::new();
    if raw.pin.is_empty()
        && raw.hide.is_empty()
        && raw.boost.is_empty()
        && raw.demote.is_empty()
        && raw.bury.is_empty()
    {
        problems.push("a rule needs at least one of pin, hide, boost, demote, bury".to_string());
    }
    if raw.query.is_some() && raw.query_contains.is_some() {
        problems.push(
            "use query (the whole query) or query_contains (a word in it), not both".to_string(),
        );
    }
    let date = |name: &str, value: &Option<String>, problems: &mut Vec<String>| -> Option<i64> {
        let text = value.as_ref()?;
        let parsed = parse_date(text);
        if parsed.is_none() {
            problems.push(format!(
                "{name} \"{text}\" is not a date such as 2026-11-20T00:00:00Z"
            ));
        }
        parsed
    };
    let from = date("from", &raw.from, &mut problems);
    let until = date("until", &raw.until, &mut problems);
    if let (Some(f), Some(u)) = (from, until)
        && f >= u
    {
        problems.push(format!(
            "from ({}) must be before until ({})",
            raw.from.as_deref().unwrap_or(""),
            raw.until.as_deref().unwrap_or("")
        ));
    }
    let query_contains = raw.query_contains.as_ref().and_then(|word| {
        let words = snapshot.analyzer.query_words(word);
        match words.as_slice() {
            [one] => Some(one.primary().to_string()),
            _ => {
                problems.push(format!("query_contains \"{word}\" must be a single word"));
                None
            }
        }
    });
    if let Some(category) = &raw.category {
        check_category(category, snapshot, &mut problems);
    }
    let mut pins = Vec::new();
    for pin in &raw.pin {
        if pin.position == 0 {
            problems.push(format!("pin \"{}\": positions start at 1", pin.id));
        } else if snapshot.find(&pin.id).is_none() {
            problems.push(format!("pin: unknown product id \"{}\"", pin.id));
        } else {
            pins.push((pin.id.clone(), pin.position));
        }
    }
    for id in &raw.hide {
        if snapshot.find(id).is_none() {
            problems.push(format!("hide: unknown product id \"{id}\""));
        }
    }
    let compile =
        |text: &str, what: &str, problems: &mut Vec<String>| -> Option<predicate::Predicate> {
            let parsed =
                predicate::parse(text).and_then(|p| predicate::compile(&p, scope).map(|_| p));
            match parsed {
                Ok(p) => Some(p),
                Err(reason) => {
                    problems.push(format!("{what} where \"{text}\": {reason}"));
                    None
                }
            }
        };
    let mut boosts = Vec::new();
    for (list, what) in [(&raw.boost, "boost"), (&raw.demote, "demote")] {
        for b in list {
            let valid = b.factor.is_finite()
                && b.factor > 0.0
                && match what {
                    "demote" => b.factor < 1.0,
                    _ => true,
                };
            if !valid {
                let range = if what == "demote" {
                    "between 0 and 1"
                } else {
                    "a positive number"
                };
                problems.push(format!("{what} factor {} must be {range}", b.factor));
                continue;
            }
            if let Some(predicate) = compile(&b.predicate, what, &mut problems) {
                boosts.push(Boost {
                    predicate,
                    text: b.predicate.clone(),
                    factor: b.factor,
                });
            }
        }
    }
    let mut buries = Vec::new();
    for b in &raw.bury {
        if let Some(predicate) = compile(&b.predicate, "bury", &mut problems) {
            buries.push((predicate, b.predicate.clone()));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let query = raw.query.as_deref().map(normalize_query);
    let name = raw.name.clone().unwrap_or_else(|| describe(&raw, origin));
    Ok(Rule {
        name,
        origin: origin.to_string(),
        query,
        query_contains,
        category: raw.category,
        from,
        until,
        pins,
        hides: raw.hide,
        boosts,
        buries,
    })
}

/// A category condition needs a category field; a path no product has yet is fine
/// (the rule waits for the catalog to grow into it).
fn check_category(_category: &str, snapshot: &Snapshot, problems: &mut Vec<String>) {
    let has_field = snapshot
        .schema
        .fields
        .iter()
        .any(|f| matches!(f.kind, FieldKind::Category { .. }));
    if !has_field {
        problems.push("category: this catalog has no category field".to_string());
    }
}

/// A name for a rule without one: its main action and condition.
fn describe(raw: &RawRule, origin: &str) -> String {
    let condition = match (&raw.query, &raw.query_contains, &raw.category) {
        (Some(q), _, _) => format!(" for query {q}"),
        (_, Some(w), _) => format!(" for queries with {w}"),
        (_, _, Some(c)) => format!(" in {c}"),
        _ => String::new(),
    };
    let action = match (
        raw.pin.first(),
        raw.hide.first(),
        raw.boost.first(),
        raw.bury.first(),
    ) {
        (Some(pin), _, _, _) => format!("pin {}", pin.id),
        (_, Some(id), _, _) => format!("hide {id}"),
        (_, _, Some(b), _) => format!("boost {} x{}", b.predicate, b.factor),
        (_, _, _, Some(b)) => format!("bury {}", b.predicate),
        _ => format!("rule in {}", public_origin(origin)),
    };
    format!("{action}{condition}")
}

/// The file name of a rule's origin, without its folders: rule names are public
/// (`rules_applied`), and the server's paths are not.
fn public_origin(origin: &str) -> &str {
    origin.rsplit(['/', '\\']).next().unwrap_or(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_hold_no_folders() {
        let raw: RawRule = toml::from_str("query = \"sofa\"").unwrap();
        let name = describe(&raw, "/srv/store/config/boosts/launch.toml");
        assert_eq!(name, "rule in launch.toml for query sofa");
        assert!(!name.contains("/srv"));
    }
}
