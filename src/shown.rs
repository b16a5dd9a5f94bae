//! The products a response shows: a hit's returned fields, cut from the stored source
//! as JSON text and sent as is.
//!
//! Input: a snapshot and a document address. The stored source (`_source`, the whole
//! normalized product) is scanned once: the id is read, each returned field's value
//! is copied as raw JSON text, everything else is skipped without being built. Output:
//! the id and a [`ShownProduct`], which serializes by copying that text. Building a
//! `serde_json::Value` of every product on every page cost more than the rest of
//! serving a small catalog's query (one allocation per key and string, twice: the whole
//! source, then the returned part); the text is parsed only when something reads a
//! field (`product["brand"]`: the command line, tests, the evaluation).

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use tantivy::schema::Value as _;
use tantivy::{DocAddress, TantivyDocument};

use crate::error::{Error, Result};
use crate::index::Snapshot;

/// A product's returned fields: each value's JSON text, parsed on first read.
#[derive(Clone, Default)]
pub struct ShownProduct {
    fields: Vec<(String, Box<RawValue>)>,
    parsed: OnceLock<Value>,
}

impl ShownProduct {
    /// The product from a JSON object; `None` for anything else.
    pub fn from_value(value: &Value) -> Option<ShownProduct> {
        let fields = value
            .as_object()?
            .iter()
            .map(|(k, v)| Some((k.clone(), serde_json::value::to_raw_value(v).ok()?)))
            .collect::<Option<_>>()?;
        Some(ShownProduct {
            fields,
            parsed: OnceLock::new(),
        })
    }

    /// The fields as a JSON object (parsed once).
    pub fn value(&self) -> &Value {
        self.parsed.get_or_init(|| {
            let object = self.fields.iter().map(|(k, v)| {
                let value = serde_json::from_str(v.get()).unwrap_or(Value::Null);
                (k.clone(), value)
            });
            Value::Object(object.collect())
        })
    }

    /// A field's value, if the product has it.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.value().get(field)
    }
}

impl std::ops::Index<&str> for ShownProduct {
    type Output = Value;

    /// A field's value, `Null` when absent (as `Value` indexes).
    fn index(&self, field: &str) -> &Value {
        &self.value()[field]
    }
}

impl PartialEq for ShownProduct {
    fn eq(&self, other: &Self) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(&other.fields)
                .all(|((k, v), (l, w))| k == l && v.get() == w.get())
    }
}

impl fmt::Debug for ShownProduct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

impl Serialize for ShownProduct {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A product's id and its returned fields, from the stored source.
pub fn load(snapshot: &Snapshot, address: DocAddress) -> Result<(String, ShownProduct)> {
    let doc: TantivyDocument = snapshot.searcher.doc(address)?;
    let source = doc
        .get_first(snapshot.fields.source)
        .and_then(|v| v.as_bytes())
        .ok_or_else(|| Error::Internal(format!("document {address:?} has no source")))?;
    let returned: Vec<&str> = snapshot
        .schema
        .fields
        .iter()
        .filter(|f| f.returned)
        .map(|f| f.name.as_str())
        .collect();
    let cut = cut_returned(source, &returned)?;
    let id = cut
        .id
        .ok_or_else(|| Error::Internal(format!("document {address:?} has no id")))?;
    Ok((id, cut.product))
}

/// What one scan of a source gives.
struct Cut {
    id: Option<String>,
    /// The returned fields, in source order.
    product: ShownProduct,
}

/// Scans a stored source: its id and the JSON text of the `returned` fields.
fn cut_returned(source: &[u8], returned: &[&str]) -> Result<Cut> {
    let mut deserializer = serde_json::Deserializer::from_slice(source);
    let cut = ReturnedFields { returned }
        .deserialize(&mut deserializer)
        .map_err(|e| Error::Internal(format!("stored source unreadable: {e}")))?;
    deserializer
        .end()
        .map_err(|e| Error::Internal(format!("stored source unreadable: {e}")))?;
    Ok(cut)
}

/// The visitor behind [`cut_returned`].
struct ReturnedFields<'a> {
    returned: &'a [&'a str],
}

impl<'de> DeserializeSeed<'de> for ReturnedFields<'_> {
    type Value = Cut;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<Cut, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ReturnedFields<'_> {
    type Value = Cut;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a stored product (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Cut, A::Error> {
        let mut fields = Vec::with_capacity(self.returned.len());
        let mut id = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == "id" {
                id = Some(map.next_value::<String>()?);
            } else if self.returned.contains(&key.as_ref()) {
                let value: &'de RawValue = map.next_value()?;
                fields.push((key.into_owned(), value.to_owned()));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        let product = ShownProduct {
            fields,
            parsed: OnceLock::new(),
        };
        Ok(Cut { id, product })
    }
}

/// An object key, borrowed from the source unless it holds escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cut(source: Value, returned: &[&str]) -> (Option<String>, Value) {
        let cut = cut_returned(source.to_string().as_bytes(), returned).unwrap();
        let text = serde_json::to_string(&cut.product).unwrap();
        assert_eq!(cut.product.value().to_string(), text, "serialized as read");
        (cut.id, serde_json::from_str(&text).unwrap())
    }

    #[test]
    fn keeps_the_returned_fields_and_the_id_only() {
        let source = json!({
            "id": "p-1",
            "title": "Oak \"table\" \u{e9}",
            "description": {"long": ["nested", {"deep": true}]},
            "attributes": {"color": "Oak", "legs": 4},
            "price": 12.5,
            "in_stock": false,
            "tags": null
        });
        let (id, shown) = cut(
            source.clone(),
            &["title", "attributes", "price", "in_stock", "tags"],
        );
        assert_eq!(id.as_deref(), Some("p-1"));
        let mut expected = source;
        let object = expected.as_object_mut().unwrap();
        object.remove("id");
        object.remove("description");
        assert_eq!(shown, expected);
    }

    #[test]
    fn agrees_with_building_the_whole_value() {
        // The old way: parse everything, keep the returned fields.
        let source = json!({"id": "x", "b": [1, 2], "a": "A", "c": {"k": "v\n"}, "d": 1e300});
        let returned = ["a", "c", "d", "missing"];
        let (_, shown) = cut(source.clone(), &returned);
        let whole: serde_json::Map<String, Value> = source
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| returned.contains(&String::as_str(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(shown, Value::Object(whole));
    }

    #[test]
    fn escaped_keys_and_bad_sources() {
        let (_, shown) = cut(json!({"id": "x", "t\"q": 1}), &["t\"q"]);
        assert_eq!(shown, json!({"t\"q": 1}));
        assert!(cut_returned(b"[1,2]", &["a"]).is_err());
        assert!(
            cut_returned(b"{\"id\": 3}", &["a"]).is_err(),
            "an id must be a string"
        );
        assert!(cut_returned(b"{\"a\": 1} trailing", &["a"]).is_err());
        assert!(cut_returned(b"{\"a\": ", &["a"]).is_err());
    }

    #[test]
    fn reads_fields_and_serializes_as_the_text() {
        let product = ShownProduct::from_value(&json!({"brand": "Nordby", "price": 3})).unwrap();
        assert_eq!(product["brand"], "Nordby");
        assert_eq!(product.get("price"), Some(&json!(3)));
        assert_eq!(product["missing"], Value::Null);
        assert_eq!(serde_json::to_value(&product).unwrap(), *product.value());
        let wrapped = serde_json::to_string(&vec![product]).unwrap();
        assert_eq!(wrapped, r#"[{"brand":"Nordby","price":3}]"#);
        assert!(ShownProduct::from_value(&json!([1])).is_none());
    }
}
