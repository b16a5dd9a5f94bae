//! `where` predicates of merchandising rules: parsed into a tree, compiled into
//! per-document tests against a snapshot's columns.
//!
//! ```text
//! expr  := term ("or" term)*
//! term  := unary ("and" unary)*
//! unary := "not" unary | "(" expr ")" | field op value | field "in" [value, ...]
//!        | field "within" N ("days" | "hours")
//! op    := = | != | < | <= | > | >=
//! value := 'text' | "text" | number | true | false
//! ```
//! Fields are any schema field (keyword, category, number, bool, date) or attribute.
//! Text values compare case- and accent-insensitively; a category value matches the
//! node and everything under it; numbers compare numerically, also on attributes
//! whose values are numbers (`display_diagonal >= 24`).

use crate::catalog::parse_date;
use crate::columns::{ColumnKind, SegmentColumns, TimeWindow, TimedBits, ValueId, Vocabulary};
use crate::filter::{Test, category_nodes};
use crate::schema::{FieldKind, FieldRef, StoreSchema};

/// A literal in a predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Not(Box<Predicate>),
    Compare {
        field: String,
        op: Op,
        value: Literal,
    },
    In {
        field: String,
        values: Vec<Literal>,
    },
    Within {
        field: String,
        seconds: i64,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(f64),
    Op(Op),
    Open,
    Close,
    ListOpen,
    ListClose,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '[' => {
                tokens.push(Token::ListOpen);
                i += 1;
            }
            ']' => {
                tokens.push(Token::ListClose);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(|| format!("unclosed quote {c} at character {}", i + 1))?;
                tokens.push(Token::Text(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '=' => {
                tokens.push(Token::Op(Op::Eq));
                i += if chars.get(i + 1) == Some(&'=') { 2 } else { 1 };
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Op(Op::Ne));
                i += 2;
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                tokens.push(Token::Op(match (c, eq) {
                    ('<', true) => Op::Le,
                    ('<', false) => Op::Lt,
                    (_, true) => Op::Ge,
                    _ => Op::Gt,
                }));
                i += if eq { 2 } else { 1 };
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                tokens.push(Token::Number(
                    text.parse()
                        .map_err(|_| format!("\"{text}\" is not a number"))?,
                ));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected \"{other}\" at character {}", i + 1)),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expr(&mut self) -> Result<Predicate, String> {
        let mut parts = vec![self.term()?];
        while self.keyword("or") {
            self.at += 1;
            parts.push(self.term()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Predicate::Or(parts)
        })
    }

    fn term(&mut self) -> Result<Predicate, String> {
        let mut parts = vec![self.unary()?];
        while self.keyword("and") {
            self.at += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Predicate::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Predicate, String> {
        if self.keyword("not") {
            self.at += 1;
            return Ok(Predicate::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let inner = self.expr()?;
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                _ => Err("a \"(\" is never closed".into()),
            };
        }
        let field = match self.next() {
            Some(Token::Word(w)) => w,
            Some(other) => {
                return Err(format!("expected a field name, found {}", describe(&other)));
            }
            None => return Err("expected a condition such as brand = 'Nordby'".into()),
        };
        match self.next() {
            Some(Token::Op(op)) => Ok(Predicate::Compare {
                field,
                op,
                value: self.literal()?,
            }),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => Ok(Predicate::In {
                field,
                values: self.list()?,
            }),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("within") => {
                let amount = match self.next() {
                    Some(Token::Number(n)) if n > 0.0 => n,
                    _ => {
                        return Err(format!(
                            "\"{field} within\" needs a positive number, e.g. {field} within 14 days"
                        ));
                    }
                };
                let unit = match self.next() {
                    Some(Token::Word(u)) => u.to_ascii_lowercase(),
                    _ => return Err("\"within\" needs a unit: days or hours".into()),
                };
                let seconds = match unit.as_str() {
                    "day" | "days" => 86_400.0,
                    "hour" | "hours" => 3_600.0,
                    other => return Err(format!("unit \"{other}\" is not days or hours")),
                };
                Ok(Predicate::Within {
                    field,
                    seconds: (amount * seconds) as i64,
                })
            }
            other => Err(format!(
                "after \"{field}\" expected one of = != < <= > >= in within, found {}",
                other
                    .as_ref()
                    .map(describe)
                    .unwrap_or_else(|| "the end".into())
            )),
        }
    }

    fn literal(&mut self) -> Result<Literal, String> {
        match self.next() {
            Some(Token::Text(t)) => Ok(Literal::Text(t)),
            Some(Token::Number(n)) => Ok(Literal::Number(n)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Some(Token::Word(w)) => Err(format!("value {w} needs quotes: '{w}'")),
            other => Err(format!(
                "expected a value, found {}",
                other
                    .as_ref()
                    .map(describe)
                    .unwrap_or_else(|| "the end".into())
            )),
        }
    }

    fn list(&mut self) -> Result<Vec<Literal>, String> {
        if self.next() != Some(Token::ListOpen) {
            return Err("\"in\" needs a list such as ['a', 'b']".into());
        }
        let mut values = Vec::new();
        loop {
            values.push(self.literal()?);
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::ListClose) => return Ok(values),
                _ => return Err("a list needs commas between values and a closing ]".into()),
            }
        }
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("\"{w}\""),
        Token::Text(t) => format!("'{t}'"),
        Token::Number(n) => n.to_string(),
        Token::Op(_) => "an operator".into(),
        Token::Open | Token::Close => "a parenthesis".into(),
        Token::ListOpen | Token::ListClose => "a bracket".into(),
        Token::Comma => "a comma".into(),
    }
}

/// Parses a `where` predicate.
pub fn parse(text: &str) -> Result<Predicate, String> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
    };
    let predicate = parser.expr()?;
    match parser.peek() {
        None => Ok(predicate),
        Some(extra) => Err(format!(
            "unexpected {} after a complete condition (join conditions with and/or)",
            describe(extra)
        )),
    }
}

/// A predicate compiled against a snapshot: array reads per document.
#[derive(Debug, Clone)]
pub enum Compiled {
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Not(Box<Compiled>),
    /// A column test, the same filters use.
    Test(Test),
    /// The date is within `seconds` of now.
    Recent {
        index: usize,
        seconds: i64,
    },
}

impl Compiled {
    /// Whether document `doc` satisfies the predicate at time `now`.
    pub fn matches(&self, columns: &SegmentColumns, doc: u32, now: i64) -> bool {
        match self {
            Compiled::And(parts) => parts.iter().all(|p| p.matches(columns, doc, now)),
            Compiled::Or(parts) => parts.iter().any(|p| p.matches(columns, doc, now)),
            Compiled::Not(inner) => !inner.matches(columns, doc, now),
            Compiled::Test(test) => test.matches(columns, doc),
            Compiled::Recent { index, seconds } => {
                let v = columns
                    .numeric(*index)
                    .get(doc as usize)
                    .copied()
                    .unwrap_or(f64::NAN);
                v >= now.saturating_sub(*seconds) as f64
            }
        }
    }

    /// The documents `0..max_doc` of a segment satisfying the predicate at time `now`,
    /// with the times at which exactly they do (a "within" moves with the clock).
    pub fn segment_bits(&self, columns: &SegmentColumns, max_doc: u32, now: i64) -> TimedBits {
        let mut bits = vec![0u64; (max_doc as usize).div_ceil(64)];
        for doc in 0..max_doc {
            if self.matches(columns, doc, now)
                && let Some(word) = bits.get_mut(doc as usize / 64)
            {
                *word |= 1 << (doc % 64);
            }
        }
        let mut windows = Vec::new();
        self.windows(columns, now, &mut windows);
        TimedBits { bits, windows }
    }

    /// The windows of time around `now` in which each "within" keeps its documents.
    fn windows(&self, columns: &SegmentColumns, now: i64, out: &mut Vec<TimeWindow>) {
        match self {
            Compiled::And(parts) | Compiled::Or(parts) => {
                for part in parts {
                    part.windows(columns, now, out);
                }
            }
            Compiled::Not(inner) => inner.windows(columns, now, out),
            Compiled::Test(_) => {}
            Compiled::Recent { index, seconds } => {
                out.push(TimeWindow::around(columns.numeric(*index), *seconds, now));
            }
        }
    }
}

/// What a compiler needs to know about the index.
pub struct Scope<'a> {
    pub schema: &'a StoreSchema,
    pub vocabulary: &'a Vocabulary,
    /// Schema field index of each numeric column.
    pub numeric_defs: &'a [usize],
}

/// Compiles `predicate`; unknown fields and mismatched values are errors.
pub fn compile(predicate: &Predicate, scope: &Scope) -> Result<Compiled, String> {
    Ok(match predicate {
        Predicate::And(parts) => Compiled::And(
            parts
                .iter()
                .map(|p| compile(p, scope))
                .collect::<Result<_, _>>()?,
        ),
        Predicate::Or(parts) => Compiled::Or(
            parts
                .iter()
                .map(|p| compile(p, scope))
                .collect::<Result<_, _>>()?,
        ),
        Predicate::Not(inner) => Compiled::Not(Box::new(compile(inner, scope)?)),
        Predicate::Compare { field, op, value } => {
            let leaf = leaf(field, scope)?;
            let compiled = leaf.compare(field, *op, std::slice::from_ref(value))?;
            if *op == Op::Ne {
                Compiled::Not(Box::new(compiled))
            } else {
                compiled
            }
        }
        Predicate::In { field, values } => leaf(field, scope)?.compare(field, Op::Eq, values)?,
        Predicate::Within { field, seconds } => match leaf(field, scope)? {
            Leaf::Numeric {
                index,
                kind: FieldKind::Date,
            } => Compiled::Recent {
                index,
                seconds: *seconds,
            },
            _ => return Err(format!("\"{field} within ...\" needs a date field")),
        },
    })
}

/// What a field name refers to.
enum Leaf<'a> {
    Column {
        name: String,
        category: bool,
        vocabulary: &'a Vocabulary,
    },
    Numeric {
        index: usize,
        kind: FieldKind,
    },
}

fn leaf<'a>(field: &str, scope: &Scope<'a>) -> Result<Leaf<'a>, String> {
    let unknown = || {
        format!(
            "unknown field \"{field}\"; rules can test {}",
            scope.schema.filterable_names().join(", ")
        )
    };
    match scope.schema.resolve(field).ok_or_else(unknown)? {
        FieldRef::Attribute { column } => {
            if scope.vocabulary.column_id(&column).is_none() {
                return Err(format!("no product has the attribute \"{field}\""));
            }
            Ok(Leaf::Column {
                name: column,
                category: false,
                vocabulary: scope.vocabulary,
            })
        }
        FieldRef::Field(def) => match &def.kind {
            FieldKind::Text | FieldKind::Attributes { .. } => Err(format!(
                "\"{field}\" is free text; rules test keyword, category, number, bool and date fields or attributes"
            )),
            FieldKind::Keyword { .. } | FieldKind::Category { .. } => Ok(Leaf::Column {
                name: def.name.clone(),
                category: matches!(def.kind, FieldKind::Category { .. }),
                vocabulary: scope.vocabulary,
            }),
            kind => {
                let def_index = scope
                    .schema
                    .fields
                    .iter()
                    .position(|f| f.name == def.name)
                    .unwrap_or(0);
                let index = scope
                    .numeric_defs
                    .iter()
                    .position(|&d| d == def_index)
                    .ok_or_else(unknown)?;
                Ok(Leaf::Numeric {
                    index,
                    kind: kind.clone(),
                })
            }
        },
    }
}

impl Leaf<'_> {
    fn compare(&self, field: &str, op: Op, values: &[Literal]) -> Result<Compiled, String> {
        match self {
            Leaf::Numeric { index, kind } => {
                let mut ranges = Vec::new();
                for value in values {
                    let v = numeric_literal(field, kind, value)?;
                    ranges.push(match op {
                        Op::Eq | Op::Ne => (v, v),
                        Op::Lt => (f64::NEG_INFINITY, v.next_down()),
                        Op::Le => (f64::NEG_INFINITY, v),
                        Op::Gt => (v.next_up(), f64::INFINITY),
                        Op::Ge => (v, f64::INFINITY),
                    });
                }
                Ok(Compiled::Test(Test::Numeric {
                    index: *index,
                    ranges,
                }))
            }
            Leaf::Column {
                name,
                category,
                vocabulary,
            } => {
                let Some(column) = vocabulary.column_id(name) else {
                    return Ok(Compiled::Test(Test::Column {
                        column: None,
                        accept: Vec::new(),
                    }));
                };
                let dict = vocabulary.column(column);
                let mut accept = vec![false; dict.len()];
                for value in values {
                    let ids: Vec<ValueId> = match (op, value) {
                        (Op::Eq | Op::Ne, Literal::Text(t))
                            if *category && dict.kind == ColumnKind::Category =>
                        {
                            category_nodes(dict, t)
                        }
                        (Op::Eq | Op::Ne, Literal::Text(t)) => dict.lookup(t).into_iter().collect(),
                        (Op::Eq | Op::Ne, Literal::Bool(b)) => {
                            dict.lookup(&b.to_string()).into_iter().collect()
                        }
                        (_, Literal::Number(n)) => (0..dict.len() as ValueId)
                            .filter(|&id| {
                                let v = dict.number(id);
                                match op {
                                    Op::Eq | Op::Ne => v == *n,
                                    Op::Lt => v < *n,
                                    Op::Le => v <= *n,
                                    Op::Gt => v > *n,
                                    Op::Ge => v >= *n,
                                }
                            })
                            .collect(),
                        (_, _) => {
                            return Err(format!(
                                "\"{field}\" compares with < <= > >= only against numbers"
                            ));
                        }
                    };
                    for id in ids {
                        accept[id as usize] = true;
                    }
                }
                Ok(Compiled::Test(Test::Column {
                    column: Some(column),
                    accept,
                }))
            }
        }
    }
}

fn numeric_literal(field: &str, kind: &FieldKind, value: &Literal) -> Result<f64, String> {
    match (kind, value) {
        (FieldKind::Bool, Literal::Bool(b)) => Ok(if *b { 1.0 } else { 0.0 }),
        (FieldKind::Bool, _) => Err(format!("\"{field}\" is true or false")),
        (FieldKind::Date, Literal::Text(t)) => parse_date(t).map(|s| s as f64).ok_or_else(|| {
            format!("'{t}' is not a date such as '2026-11-20' or '2026-11-20T00:00:00Z'")
        }),
        (FieldKind::Date, _) => Err(format!(
            "\"{field}\" is a date: compare it with '2026-11-20' or use within N days"
        )),
        (_, Literal::Number(n)) => Ok(*n),
        (_, other) => Err(format!("\"{field}\" is a number, not {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec_examples() {
        assert_eq!(
            parse("brand = 'Nordby' and in_stock = true").unwrap(),
            Predicate::And(vec![
                Predicate::Compare {
                    field: "brand".into(),
                    op: Op::Eq,
                    value: Literal::Text("Nordby".into())
                },
                Predicate::Compare {
                    field: "in_stock".into(),
                    op: Op::Eq,
                    value: Literal::Bool(true)
                },
            ])
        );
        assert_eq!(
            parse("color in ['grey', \"navy\"]").unwrap(),
            Predicate::In {
                field: "color".into(),
                values: vec![Literal::Text("grey".into()), Literal::Text("navy".into())]
            }
        );
        assert_eq!(
            parse("created_at within 14 days").unwrap(),
            Predicate::Within {
                field: "created_at".into(),
                seconds: 14 * 86_400
            }
        );
        assert!(matches!(
            parse("margin > 0.4 or (price <= 100 and not in_stock = false)").unwrap(),
            Predicate::Or(_)
        ));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let p = parse("a = 1 or b = 2 and c = 3").unwrap();
        let Predicate::Or(parts) = p else { panic!() };
        assert!(matches!(parts[1], Predicate::And(_)));
    }

    #[test]
    fn syntax_errors_say_what_is_wrong() {
        assert!(
            parse("brand = Nordby")
                .unwrap_err()
                .contains("needs quotes")
        );
        assert!(
            parse("brand == 'x' brand = 'y'")
                .unwrap_err()
                .contains("and/or")
        );
        assert!(parse("price >").unwrap_err().contains("expected a value"));
        assert!(parse("brand 'x'").unwrap_err().contains("expected one of"));
        assert!(parse("(price > 1").unwrap_err().contains("never closed"));
        assert!(parse("brand = 'x").unwrap_err().contains("unclosed quote"));
        assert!(parse("color in 'grey'").unwrap_err().contains("list"));
        assert!(
            parse("created_at within 2 weeks")
                .unwrap_err()
                .contains("days or hours")
        );
        assert!(parse("").is_err());
    }
}
