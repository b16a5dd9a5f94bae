//! Shopper events: what `POST /v1/events` accepts, validated whole.
//!
//! A batch is a JSON array of events (SPEC): `view`, `click`, `add_to_cart` and
//! `purchase` name a product; `search` names a query; `ts` defaults to now. Every item
//! is checked and every problem reported ("event 3: ..."); one bad item rejects the
//! whole batch, so a store never half-records a page of behaviour. Accepted events go
//! to the shopper store (durably) and move the shopper's profile.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::parse_date;
use crate::error::{Error, Result};
use crate::tokens::MAX_TOKEN_BYTES;

/// Most events in one batch.
pub const MAX_BATCH: usize = 1_000;
/// Longest shopper id, product id or query accepted.
pub const MAX_FIELD_BYTES: usize = 512;
/// Events may be stamped at most this far in the future (clock skew).
pub const MAX_FUTURE_SECONDS: i64 = 24 * 3600;

/// What a shopper did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    View,
    Click,
    AddToCart,
    Purchase,
    Search,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::View,
        EventKind::Click,
        EventKind::AddToCart,
        EventKind::Purchase,
        EventKind::Search,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::View => "view",
            EventKind::Click => "click",
            EventKind::AddToCart => "add_to_cart",
            EventKind::Purchase => "purchase",
            EventKind::Search => "search",
        }
    }

    fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the event is about a product (and must name one).
    pub fn has_product(self) -> bool {
        !matches!(self, EventKind::Search)
    }
}

/// How a shopper was served (SPEC `variant`), recorded with every event so lift can be
/// measured per variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Personalized,
    Holdout,
    Anonymous,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Personalized => "personalized",
            Variant::Holdout => "holdout",
            Variant::Anonymous => "anonymous",
        }
    }
}

/// A validated event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub shopper: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub position: Option<u32>,
    /// Unix seconds.
    pub ts: i64,
    /// Filled in by the server when the event is recorded.
    pub variant: Variant,
    /// For a search: the first page the crowd's learned signals gave the query when it
    /// was recorded, when that differs from the unlearned ranking (filled in by the
    /// server, never by a client; absent for holdout shoppers, who are served
    /// unlearned). Learning reads what shoppers skipped from the page they saw.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub served: Option<Vec<String>>,
}

#[cfg(test)]
impl Event {
    /// An anonymous event for unit tests.
    pub fn test(
        kind: EventKind,
        shopper: &str,
        product: Option<&str>,
        query: Option<&str>,
        ts: i64,
    ) -> Event {
        Event {
            kind,
            shopper: shopper.into(),
            product: product.map(String::from),
            query: query.map(String::from),
            position: None,
            ts,
            variant: Variant::Anonymous,
            served: None,
        }
    }
}

/// Keys an event may have.
const KEYS: &[&str] = &[
    "type", "shopper", "product", "query", "position", "ts", "variant",
];

/// Says who a presented shopper value is: the verified id, or why it is refused.
pub type ShopperResolver<'a> = &'a dyn Fn(&str) -> std::result::Result<String, String>;

/// Parses and validates a batch. `is_product` says whether a product id is in the
/// catalog. Every problem is reported; any problem rejects the batch.
pub fn parse_batch(body: &[u8], is_product: &dyn Fn(&str) -> bool) -> Result<Vec<Event>> {
    parse_batch_as(body, is_product, &|s: &str| Ok(s.to_string()))
}

/// [`parse_batch`] with each `shopper` value passed through `shoppers` (signed
/// tokens): any refused value rejects the batch with [`Error::Unauthorized`].
pub fn parse_batch_as(
    body: &[u8],
    is_product: &dyn Fn(&str) -> bool,
    shoppers: ShopperResolver,
) -> Result<Vec<Event>> {
    let invalid = |problems: Vec<String>| Error::Config { problems };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(vec![format!("the body is not valid JSON: {e}")]))?;
    let Value::Array(items) = value else {
        return Err(invalid(vec![
            "the body must be a JSON array of events".to_string(),
        ]));
    };
    if items.is_empty() {
        return Err(invalid(vec!["the batch is empty".to_string()]));
    }
    if items.len() > MAX_BATCH {
        return Err(invalid(vec![format!(
            "a batch holds at most {MAX_BATCH} events, this one {}",
            items.len()
        )]));
    }
    let now = Utc::now().timestamp();
    let mut events = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    let mut refused = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match parse_event(item, now, is_product) {
            Ok(mut event) => match shoppers(&event.shopper) {
                Ok(id) if id.len() <= MAX_FIELD_BYTES => {
                    event.shopper = id;
                    events.push(event);
                }
                Ok(_) => problems.push(format!(
                    "event {i}: \"shopper\" is longer than {MAX_FIELD_BYTES} bytes"
                )),
                Err(why) => refused.push(format!("event {i}: {why}")),
            },
            Err(reasons) => problems.extend(reasons.into_iter().map(|r| format!("event {i}: {r}"))),
        }
    }
    if !refused.is_empty() {
        return Err(Error::Unauthorized(format!(
            "the batch was rejected whole: {}",
            refused.join("; ")
        )));
    }
    if problems.is_empty() {
        Ok(events)
    } else {
        Err(invalid(problems))
    }
}

fn text_field(
    map: &serde_json::Map<String, Value>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    text_field_up_to(map, key, MAX_FIELD_BYTES, problems)
}

fn text_field_up_to(
    map: &serde_json::Map<String, Value>,
    key: &str,
    max_bytes: usize,
    problems: &mut Vec<String>,
) -> Option<String> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => {
            problems.push(format!("\"{key}\" is empty"));
            None
        }
        Some(Value::String(s)) if s.len() > max_bytes => {
            problems.push(format!("\"{key}\" is longer than {max_bytes} bytes"));
            None
        }
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(other) => {
            problems.push(format!("\"{key}\" must be a string, got {other}"));
            None
        }
    }
}

fn parse_event(
    item: &Value,
    now: i64,
    is_product: &dyn Fn(&str) -> bool,
) -> std::result::Result<Event, Vec<String>> {
    let Value::Object(map) = item else {
        return Err(vec![
            "must be an object such as {\"type\":\"view\",\"shopper\":\"s-1\",\"product\":\"p-1\"}"
                .into(),
        ]);
    };
    let mut problems = Vec::new();
    for key in map.keys().filter(|k| !KEYS.contains(&k.as_str())) {
        problems.push(format!(
            "unknown key \"{key}\"; events have {}",
            KEYS.join(", ")
        ));
    }
    let kind = match map.get("type").and_then(Value::as_str) {
        Some(name) => EventKind::parse(name).or_else(|| {
            problems.push(format!(
                "\"type\" \"{name}\" is not one of view, click, add_to_cart, purchase, search"
            ));
            None
        }),
        None => {
            problems
                .push("\"type\" is missing (view, click, add_to_cart, purchase or search)".into());
            None
        }
    };
    let shopper = text_field_up_to(map, "shopper", MAX_TOKEN_BYTES, &mut problems);
    if shopper.is_none() && !problems.iter().any(|p| p.contains("\"shopper\"")) {
        problems.push("\"shopper\" is missing".into());
    }
    let product = text_field(map, "product", &mut problems);
    let query = text_field(map, "query", &mut problems);
    if let Some(kind) = kind {
        match (&product, kind.has_product()) {
            (None, true) => problems.push(format!("a {} event needs \"product\"", kind.name())),
            (Some(id), true) if !is_product(id) => {
                problems.push(format!("product \"{id}\" is not in the catalog"))
            }
            _ => {}
        }
        if kind == EventKind::Search && query.is_none() {
            problems.push("a search event needs \"query\"".into());
        }
    }
    let position = match map.get("position") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().filter(|p| (1..=100_000).contains(p)) {
            Some(p) => Some(p as u32),
            None => {
                problems.push(format!(
                    "\"position\" must be a whole number from 1, got {v}"
                ));
                None
            }
        },
    };
    let ts = match map.get("ts") {
        None | Some(Value::Null) => now,
        Some(Value::String(s)) => match parse_date(s) {
            Some(t) if t <= now + MAX_FUTURE_SECONDS => t,
            Some(_) => {
                problems.push(format!("\"ts\" {s} is in the future"));
                now
            }
            None => {
                problems.push(format!(
                    "\"ts\" \"{s}\" is not an RFC 3339 time such as 2026-11-20T10:00:00Z"
                ));
                now
            }
        },
        Some(other) => {
            problems.push(format!("\"ts\" must be an RFC 3339 string, got {other}"));
            now
        }
    };
    match (kind, shopper, problems.is_empty()) {
        (Some(kind), Some(shopper), true) => Ok(Event {
            kind,
            shopper,
            product,
            query,
            position,
            ts,
            variant: Variant::Personalized,
            served: None,
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(id: &str) -> bool {
        id.starts_with("p-")
    }

    fn problems(body: &str) -> Vec<String> {
        match parse_batch(body.as_bytes(), &known) {
            Err(Error::Config { problems }) => problems,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn spec_batch_is_accepted() {
        let events = parse_batch(
            br#"[{"type":"view","shopper":"s-42","product":"p-1001","ts":"2026-11-20T10:00:00Z"},
                {"type":"search","shopper":"s-42","query":"linen sofa"},
                {"type":"click","shopper":"s-42","product":"p-1001","query":"linen sofa","position":3}]"#,
            &known,
        )
        .unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].ts, 1_795_168_800);
        assert_eq!(events[2].position, Some(3));
        assert!(events[1].ts > 1_795_168_800, "ts defaults to now");
    }

    #[test]
    fn every_bad_item_is_named() {
        let found = problems(
            r#"[{"type":"view","shopper":"s","product":"p-1"},
                {"type":"look","shopper":"s","product":"p-1"},
                {"type":"view","product":"p-1"},
                {"type":"purchase","shopper":"s"},
                {"type":"click","shopper":"s","product":"x-9","position":0},
                {"type":"search","shopper":"s"},
                {"type":"view","shopper":"s","product":"p-1","ts":"yesterday","colour":"red"}]"#,
        );
        let joined = found.join("\n");
        assert!(joined.contains("event 1: \"type\" \"look\""), "{joined}");
        assert!(
            joined.contains("event 2: \"shopper\" is missing"),
            "{joined}"
        );
        assert!(
            joined.contains("event 3: a purchase event needs \"product\""),
            "{joined}"
        );
        assert!(
            joined.contains("event 4: product \"x-9\" is not in the catalog"),
            "{joined}"
        );
        assert!(joined.contains("event 4: \"position\""), "{joined}");
        assert!(
            joined.contains("event 5: a search event needs \"query\""),
            "{joined}"
        );
        assert!(
            joined.contains("event 6: unknown key \"colour\""),
            "{joined}"
        );
        assert!(joined.contains("event 6: \"ts\" \"yesterday\""), "{joined}");
        assert!(!joined.contains("event 0"), "{joined}");
    }

    #[test]
    fn batch_shape_errors() {
        assert!(problems("{}")[0].contains("JSON array"));
        assert!(problems("[]")[0].contains("empty"));
        assert!(problems("[1,")[0].contains("not valid JSON"));
        assert!(problems("[1]")[0].contains("event 0: must be an object"));
        let future = format!(
            r#"[{{"type":"view","shopper":"s","product":"p-1","ts":"{}"}}]"#,
            "2999-01-01T00:00:00Z"
        );
        assert!(problems(&future)[0].contains("future"));
    }
}
