//! The catalog: products as the store sends them, validated against the schema.
//!
//! Input comes as JSON Lines or as CSV/TSV (plain or gzip-compressed, see [`reader`]);
//! each record is a JSON object (CSV rows become objects of strings). [`Product::from_record`]
//! maps a record through the schema — source keys, separators, type coercions — into a
//! [`Product`]: an id plus one [`FieldValue`] per schema field. A record that does not
//! fit is rejected with a reason naming the field and what was wrong, and the caller
//! reports it with its line number; nothing else is lost.

pub mod reader;
mod stored;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::schema::{FieldDef, FieldKind, StoreSchema};

/// Longest product id accepted.
pub const MAX_ID_LEN: usize = 512;

/// A product, validated: its id and one value per schema field (same order).
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: String,
    pub values: Vec<FieldValue>,
}

/// The value of one schema field for one product.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Missing,
    Text(Vec<String>),
    Keyword(Vec<String>),
    /// One or more category paths, each from the top level down.
    Category(Vec<Vec<String>>),
    Number(f64),
    Bool(bool),
    /// Unix seconds, UTC.
    Date(i64),
    /// Attribute name (as given) → values.
    Attributes(Vec<(String, Vec<String>)>),
}

impl Product {
    /// Validates one input record against the schema.
    ///
    /// The error is a sentence for a store engineer: which field, what was found.
    pub fn from_record(
        schema: &StoreSchema,
        record: &Map<String, Value>,
    ) -> Result<Product, String> {
        let id = read_id(lookup(record, &schema.id_source), &schema.id_source)?;
        let mut values = Vec::with_capacity(schema.fields.len());
        for def in &schema.fields {
            let raw = lookup(record, &def.source);
            let value = coerce(def, raw).map_err(|why| format!("field \"{}\": {why}", def.name))?;
            if def.required && value == FieldValue::Missing {
                return Err(format!("missing required field \"{}\"", def.source));
            }
            values.push(value);
        }
        Ok(Product { id, values })
    }

    /// Reads back a product stored by [`Product::to_json`] (keys are the schema's
    /// field names, not its sources), as when an update replaces a stored product.
    pub fn from_stored(
        schema: &StoreSchema,
        stored: &Map<String, Value>,
    ) -> Result<Product, String> {
        let id = read_id(stored.get("id"), "id")?;
        let mut values = Vec::with_capacity(schema.fields.len());
        for def in &schema.fields {
            let value = coerce(def, stored.get(&def.name))
                .map_err(|why| format!("stored field \"{}\": {why}", def.name))?;
            values.push(value);
        }
        Ok(Product { id, values })
    }

    /// The product as JSON, with normalized types: what `_source` stores and hits return.
    pub fn to_json(&self, schema: &StoreSchema) -> Value {
        let mut out = Map::new();
        out.insert("id".to_string(), Value::String(self.id.clone()));
        for (def, value) in schema.fields.iter().zip(&self.values) {
            if let Some(json) = value_to_json(value) {
                out.insert(def.name.clone(), json);
            }
        }
        Value::Object(out)
    }
}

/// Finds `path` in a record: an exact key first, then dots walking into objects.
fn lookup<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = record.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    match record.get(head)? {
        Value::Object(inner) => lookup(inner, rest),
        _ => None,
    }
}

fn read_id(raw: Option<&Value>, source: &str) -> Result<String, String> {
    let id = match raw {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(format!(
                "\"{source}\" (the id) must be a string, got {}",
                describe(other)
            ));
        }
        None => return Err(format!("missing required field \"{source}\" (the id)")),
    };
    if id.is_empty() {
        return Err(format!("\"{source}\" (the id) is empty"));
    }
    if id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return Err(format!(
            "\"{source}\" (the id) must be at most {MAX_ID_LEN} bytes without control characters"
        ));
    }
    Ok(id)
}

/// A short description of a JSON value for error messages.
fn describe(value: &Value) -> String {
    let text = value.to_string();
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    if text.len() > 40 {
        kind.to_string()
    } else {
        format!("{kind} {text}")
    }
}

fn is_blank(raw: &Value) -> bool {
    match raw {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn coerce(def: &FieldDef, raw: Option<&Value>) -> Result<FieldValue, String> {
    let Some(raw) = raw.filter(|r| !is_blank(r)) else {
        return Ok(FieldValue::Missing);
    };
    Ok(match &def.kind {
        FieldKind::Text => FieldValue::Text(strings(raw, None)?),
        FieldKind::Keyword { separator } => {
            FieldValue::Keyword(strings(raw, separator.as_deref())?)
        }
        FieldKind::Category { separator } => FieldValue::Category(category_paths(raw, separator)?),
        FieldKind::Number => FieldValue::Number(number(raw)?),
        FieldKind::Bool => FieldValue::Bool(boolean(raw)?),
        FieldKind::Date => FieldValue::Date(date(raw)?),
        FieldKind::Attributes {
            item_separator,
            key_separator,
        } => FieldValue::Attributes(attributes(raw, item_separator, key_separator)?),
    })
}

/// A scalar as text; arrays are not scalars.
fn scalar_text(raw: &Value) -> Option<String> {
    match raw {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(raw: &Value, separator: Option<&str>) -> Result<Vec<String>, String> {
    let split = |s: String| -> Vec<String> {
        match separator {
            Some(sep) => s.split(sep).map(|p| p.trim().to_string()).collect(),
            None => vec![s],
        }
    };
    let values: Vec<String> = match raw {
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                let text = scalar_text(item)
                    .ok_or_else(|| format!("expected strings, got {}", describe(item)))?;
                out.extend(split(text));
            }
            out
        }
        other => split(
            scalar_text(other)
                .ok_or_else(|| format!("expected a string, got {}", describe(other)))?,
        ),
    };
    Ok(values.into_iter().filter(|v| !v.is_empty()).collect())
}

fn category_paths(raw: &Value, separator: &str) -> Result<Vec<Vec<String>>, String> {
    let path_of = |v: &Value| -> Result<Vec<String>, String> {
        match v {
            Value::String(s) => Ok(s
                .split(separator)
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()),
            Value::Array(levels) => levels
                .iter()
                .map(|l| {
                    scalar_text(l).ok_or_else(|| {
                        format!("category levels must be strings, got {}", describe(l))
                    })
                })
                .filter(|l| !matches!(l, Ok(s) if s.is_empty()))
                .collect(),
            other => Err(format!("expected a category path, got {}", describe(other))),
        }
    };
    let paths = match raw {
        Value::Array(items) if items.iter().all(Value::is_array) => {
            items.iter().map(path_of).collect::<Result<Vec<_>, _>>()?
        }
        other => vec![path_of(other)?],
    };
    Ok(paths.into_iter().filter(|p| !p.is_empty()).collect())
}

fn number(raw: &Value) -> Result<f64, String> {
    let value = match raw {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match value {
        Some(v) if v.is_finite() => Ok(v),
        _ => Err(format!("expected a number, got {}", describe(raw))),
    }
}

fn boolean(raw: &Value) -> Result<bool, String> {
    match raw {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "y" => Ok(true),
            "false" | "0" | "no" | "n" => Ok(false),
            _ => Err(format!("expected true or false, got {}", describe(raw))),
        },
        _ => Err(format!("expected true or false, got {}", describe(raw))),
    }
}

/// Parses RFC 3339, `YYYY-MM-DD` or Unix seconds into Unix seconds.
pub fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp());
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc().timestamp());
    }
    text.parse::<i64>().ok()
}

fn date(raw: &Value) -> Result<i64, String> {
    let parsed = match raw {
        Value::String(s) => parse_date(s),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        format!(
            "expected a date (RFC 3339 such as 2026-03-01T00:00:00Z, or 2026-03-01), got {}",
            describe(raw)
        )
    })
}

/// RFC 3339 text for Unix seconds.
pub fn format_date(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .map(|dt| dt.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn attributes(
    raw: &Value,
    item_sep: &str,
    key_sep: &str,
) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    match raw {
        Value::Object(map) => {
            for (key, value) in map {
                if is_blank(value) {
                    continue;
                }
                let values =
                    strings(value, None).map_err(|e| format!("attribute \"{key}\": {e}"))?;
                out.push((key.trim().to_string(), values));
            }
        }
        Value::String(s) => {
            for item in s.split(item_sep).map(str::trim).filter(|i| !i.is_empty()) {
                let Some((key, value)) = item.split_once(key_sep) else {
                    return Err(format!(
                        "attribute \"{item}\" has no \"{key_sep}\" between name and value"
                    ));
                };
                let (key, value) = (key.trim(), value.trim());
                if key.is_empty() || value.is_empty() {
                    continue;
                }
                match out.iter_mut().find(|(k, _)| k == key) {
                    Some((_, values)) => values.push(value.to_string()),
                    None => out.push((key.to_string(), vec![value.to_string()])),
                }
            }
        }
        other => {
            return Err(format!(
                "expected an object of attributes, got {}",
                describe(other)
            ));
        }
    }
    Ok(out)
}

fn value_to_json(value: &FieldValue) -> Option<Value> {
    let list = |items: &[String]| -> Value {
        if items.len() == 1 {
            Value::String(items[0].clone())
        } else {
            Value::Array(items.iter().cloned().map(Value::String).collect())
        }
    };
    Some(match value {
        FieldValue::Missing => return None,
        FieldValue::Text(v) | FieldValue::Keyword(v) => list(v),
        FieldValue::Category(paths) if paths.len() == 1 => {
            Value::Array(paths[0].iter().cloned().map(Value::String).collect())
        }
        FieldValue::Category(paths) => Value::Array(
            paths
                .iter()
                .map(|p| Value::Array(p.iter().cloned().map(Value::String).collect()))
                .collect(),
        ),
        FieldValue::Number(n) => serde_json::Number::from_f64(*n).map(Value::Number)?,
        FieldValue::Bool(b) => Value::Bool(*b),
        FieldValue::Date(s) => Value::String(format_date(*s)),
        FieldValue::Attributes(attrs) => {
            Value::Object(attrs.iter().map(|(k, v)| (k.clone(), list(v))).collect())
        }
    })
}

#[cfg(test)]
mod tests;
