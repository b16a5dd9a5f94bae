//! Search parameters from a query string or a JSON body, into a [`SearchRequest`].
//!
//! GET and POST accept the same names (SPEC): both are flattened into name/value
//! pairs and validated by one function, so they cannot drift apart. Query strings are
//! decoded strictly ([`pairs_from_query`]): a name or value whose percent-decoded bytes
//! are not UTF-8 is a `400` naming the parameter, never text with replacement characters.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::retrieve::Sort;
use crate::search::SearchRequest;

/// Parameter names `/v1/search` understands.
const KNOWN: &[&str] = &[
    "q",
    "shopper",
    "filter",
    "facets",
    "sort",
    "page",
    "per_page",
    "explain",
    "rules",
    "personalization",
];

/// Pairs from a URL query string (`filter` may repeat), decoded as
/// `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte); a name or value
/// that is not UTF-8 once decoded is an error naming the parameter.
pub fn pairs_from_query(query: &str) -> Result<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(query_pair)
        .collect()
}

/// Whether every name and value of a query string is UTF-8 once decoded (the check
/// [`pairs_from_query`] makes, for the middleware that runs before every endpoint;
/// pieces without a `%` are ASCII already and skipped).
pub fn check_query_encoding(query: &str) -> Result<()> {
    query
        .split('&')
        .filter(|piece| piece.contains('%'))
        .try_for_each(|piece| query_pair(piece).map(drop))
}

/// One `name=value` piece of a query string, decoded.
fn query_pair(piece: &str) -> Result<(String, String)> {
    let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
    let name = form_decode(raw_name).map_err(|_| {
        bad(
            "bad_encoding",
            format!(
                "the query parameter name \"{}\" is not valid UTF-8 once percent-decoded; percent-encode UTF-8 text",
                clip(raw_name)
            ),
        )
    })?;
    let value = form_decode(raw_value).map_err(|_| {
        bad(
            "bad_encoding",
            format!(
                "`{name}` is not valid UTF-8 once percent-decoded (\"{}\"); percent-encode the UTF-8 bytes of the text",
                clip(raw_value)
            ),
        )
    })?;
    Ok((name, value))
}

/// Longest raw text an encoding error quotes.
const QUOTED_BYTES: usize = 40;

/// The start of raw (ASCII, since it came from a URI) text, for a message.
fn clip(raw: &str) -> String {
    match raw.char_indices().nth(QUOTED_BYTES) {
        Some((end, _)) => format!("{}...", &raw[..end]),
        None => raw.to_string(),
    }
}

/// Form decoding: `+` to a space, `%XX` to its byte; the result must be UTF-8.
fn form_decode(raw: &str) -> std::result::Result<String, std::string::FromUtf8Error> {
    let spaced: Vec<u8> = raw
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    String::from_utf8(percent_decode(&spaced))
}

/// `%XX` sequences decoded to bytes; anything else (a `%` without two hex digits
/// too) kept as is.
pub fn percent_decode(input: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%'
            && let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// The JSON type each body key takes (as `/openapi.json` documents it).
#[derive(Clone, Copy, PartialEq)]
enum JsonKind {
    /// A string.
    Text,
    /// A string or an array of strings.
    Texts,
    /// A whole number.
    Whole,
    /// true or false.
    Flag,
}

fn json_kind(key: &str) -> Option<JsonKind> {
    Some(match key {
        "q" | "shopper" | "sort" => JsonKind::Text,
        "filter" | "facets" => JsonKind::Texts,
        "page" | "per_page" => JsonKind::Whole,
        "explain" | "rules" | "personalization" => JsonKind::Flag,
        _ => return None,
    })
}

/// One JSON value as parameter text, when it has the key's type.
fn json_text(kind: JsonKind, value: Value) -> Option<String> {
    match (kind, value) {
        (JsonKind::Text | JsonKind::Texts, Value::String(s)) => Some(s),
        (JsonKind::Whole, Value::Number(n)) if n.is_u64() => Some(n.to_string()),
        (JsonKind::Flag, Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// Pairs from a JSON body: each known key with its type (strings; `filter` and
/// `facets` also arrays of strings; whole numbers for pages; bools for switches).
pub fn pairs_from_json(body: &[u8]) -> Result<Vec<(String, String)>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Error::bad_request("bad_json", format!("the body is not valid JSON: {e}")))?;
    let map = match value {
        Value::Object(map) => map,
        Value::Null => return Ok(Vec::new()),
        _ => {
            return Err(Error::bad_request(
                "bad_json",
                "the body must be a JSON object such as {\"q\":\"sofa\"}",
            ));
        }
    };
    let mut pairs = Vec::new();
    for (key, value) in map {
        let Some(kind) = json_kind(&key) else {
            return Err(bad(
                "unknown_parameter",
                format!(
                    "unknown parameter \"{key}\"; search takes {}",
                    KNOWN.join(", ")
                ),
            ));
        };
        let items = match (kind, value) {
            (_, Value::Null) => continue,
            (JsonKind::Texts, Value::Array(items)) => items,
            (_, other) => vec![other],
        };
        for item in items {
            let expected = match kind {
                JsonKind::Text => "a string",
                JsonKind::Texts => "a string or an array of strings",
                JsonKind::Whole => "a whole number",
                JsonKind::Flag => "true or false",
            };
            let text = json_text(kind, item)
                .ok_or_else(|| bad("bad_parameter", format!("\"{key}\" must be {expected}")))?;
            pairs.push((key.clone(), text));
        }
    }
    Ok(pairs)
}

fn bad(code: &'static str, message: String) -> Error {
    Error::bad_request(code, message)
}

/// Validates name/value pairs into a request.
pub fn search_request(pairs: Vec<(String, String)>) -> Result<SearchRequest> {
    let mut request = SearchRequest::default();
    for (key, value) in pairs {
        match key.as_str() {
            "q" => request.q = value,
            "shopper" => request.shopper = Some(value).filter(|s| !s.trim().is_empty()),
            "filter" | "filter[]" => request.filters.push(value),
            "facets" | "facets[]" => request
                .facets
                .extend(value.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty())),
            "sort" => {
                request.sort = Some(value.as_str()).filter(|v| !v.is_empty()).and_then(Sort::parse).ok_or_else(|| {
                    bad(
                        "bad_sort",
                        format!("sort \"{value}\" is not one of relevance, price_asc, price_desc, newest, rating"),
                    )
                })?
            }
            "page" => request.page = whole_number("page", &value)?,
            "per_page" => request.per_page = whole_number("per_page", &value)?,
            "explain" => request.explain = boolean("explain", &value)?,
            "rules" => request.apply_rules = boolean("rules", &value)?,
            "personalization" => request.personalize = boolean("personalization", &value)?,
            other => {
                return Err(bad(
                    "unknown_parameter",
                    format!("unknown parameter \"{other}\"; search takes {}", KNOWN.join(", ")),
                ));
            }
        }
    }
    request.validate()?;
    Ok(request)
}

fn whole_number(name: &str, value: &str) -> Result<usize> {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let number = if digits {
        value.parse::<usize>().ok()
    } else {
        None
    };
    number.ok_or_else(|| {
        let code = if name == "page" {
            "bad_page"
        } else {
            "per_page_too_large"
        };
        bad(
            code,
            format!("{name} must be a whole number, got \"{value}\""),
        )
    })
}

/// Words a switch (`explain`, `rules`, `personalization`) takes, as `/openapi.json`
/// lists them.
pub const SWITCH_WORDS: [&str; 8] = ["true", "false", "1", "0", "yes", "no", "on", "off"];

fn boolean(name: &str, value: &str) -> Result<bool> {
    match value {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(
            "bad_parameter",
            format!(
                "{name} must be true or false (one of {}), got \"{value}\"",
                SWITCH_WORDS.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_string_and_json_give_the_same_request() {
        let from_query = search_request(pairs_from_query(
            "q=linen+sofa&filter=brand:Nordby&filter=price:100..500&facets=brand,price&sort=price_asc&page=2&per_page=5&explain=true",
        ).unwrap())
        .unwrap();
        let from_json = search_request(
            pairs_from_json(
                br#"{"q":"linen sofa","filter":["brand:Nordby","price:100..500"],"facets":"brand,price","sort":"price_asc","page":2,"per_page":5,"explain":true}"#,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(from_query, from_json);
        assert_eq!(from_query.filters.len(), 2);
        assert_eq!(from_query.facets, ["brand", "price"]);
        assert_eq!(from_query.sort, Sort::PriceAsc);
    }

    #[test]
    fn query_strings_decode_strictly() {
        let pairs = pairs_from_query("q=caf%C3%A9+table&&filter=a%2Bb&flag").unwrap();
        let expect = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            pairs,
            [
                expect("q", "café table"),
                expect("filter", "a+b"),
                expect("flag", "")
            ]
        );
        let err = pairs_from_query("per_page=5&q=%ff%fe")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`q` is not valid UTF-8"), "{err}");
        let err = pairs_from_query("%c3=1").unwrap_err().to_string();
        assert!(err.contains("parameter name"), "{err}");
        assert_eq!(pairs_from_query("q=100%").unwrap(), [expect("q", "100%")]);
    }

    #[test]
    fn bad_parameters_say_what_to_fix() {
        let err = |q: &str| {
            search_request(pairs_from_query(q).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(err("per_page=500").contains("between 1 and 100"));
        assert!(err("page=0").contains("page starts at 1"));
        assert!(err("page=two").contains("whole number"));
        assert!(err("sort=cheapest").contains("price_asc"));
        assert!(err("filters=brand:x").contains("unknown parameter \"filters\""));
        assert!(err("explain=maybe").contains("true or false"));
        assert!(err("explain=").contains("true or false"));
        assert!(err("sort=").contains("price_asc"));
        assert!(err("sort=%20price_asc").contains("price_asc"));
        assert!(err("page=+2").contains("whole number"));
        assert!(err("per_page=%202").contains("whole number"));
        assert!(
            search_request(pairs_from_query("rules=off&personalization=no&explain=1").unwrap())
                .is_ok()
        );
        assert!(
            pairs_from_json(b"[1]")
                .unwrap_err()
                .to_string()
                .contains("JSON object")
        );
        let json_err = |body: &[u8]| pairs_from_json(body).unwrap_err().to_string();
        assert!(json_err(br#"{"q":5}"#).contains("\"q\" must be a string"));
        assert!(json_err(br#"{"page":"2"}"#).contains("whole number"));
        assert!(json_err(br#"{"page":-1}"#).contains("whole number"));
        assert!(json_err(br#"{"explain":"yes"}"#).contains("true or false"));
        assert!(json_err(br#"{"filter":[1]}"#).contains("array of strings"));
        assert!(json_err(br#"{"sort":["price_asc"]}"#).contains("a string"));
        assert!(json_err(br#"{"qq":"x"}"#).contains("unknown parameter"));
        assert!(
            pairs_from_json(b"{oops")
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
    }
}
