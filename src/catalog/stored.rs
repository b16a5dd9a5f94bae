//! The stored form of a product: the JSON the index keeps in `_source` and hits return.
//!
//! [`Product::to_json`] builds it as a `serde_json::Value` (a map of maps), which is what
//! callers that edit or merge products want. Indexing only needs its bytes, once per
//! product: [`Product::stored_json`] writes the same bytes straight from the product,
//! without building and dropping the tree (a sixth of the feeding thread's work on a
//! 1M build). The two agree byte for byte — keys in sorted order, a one-value list as
//! a bare string, the last of repeated attribute names winning, fields whose number is
//! not finite left out — and a property test holds them to it.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::{FieldValue, Product, format_date};
use crate::schema::StoreSchema;

impl Product {
    /// `serde_json::to_vec(&self.to_json(schema))`, written without the `Value` tree.
    pub fn stored_json(&self, schema: &StoreSchema) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        let stored = Stored {
            product: self,
            schema,
        };
        // Writing to a Vec cannot fail, and every value serializes (no map keys that
        // are not strings, no non-finite numbers: those fields are left out).
        if serde_json::to_writer(&mut out, &stored).is_err() {
            return serde_json::to_vec(&self.to_json(schema)).unwrap_or_default();
        }
        out
    }
}

/// A product with the schema naming its fields.
struct Stored<'a> {
    product: &'a Product,
    schema: &'a StoreSchema,
}

impl Serialize for Stored<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Keys as a JSON object map orders them: byte order; `id` is one of them. A
        // field named `id` would replace the id, as the map does when it is inserted.
        let mut entries: Vec<(&str, Option<&FieldValue>)> = vec![("id", None)];
        for (def, value) in self.schema.fields.iter().zip(&self.product.values) {
            if is_stored(value) {
                entries.retain(|(name, _)| *name != def.name);
                entries.push((def.name.as_str(), Some(value)));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (name, value) in entries {
            match value {
                None => map.serialize_entry(name, &self.product.id)?,
                Some(value) => map.serialize_entry(name, &StoredValue(value))?,
            }
        }
        map.end()
    }
}

/// Whether a value appears in the stored JSON at all.
fn is_stored(value: &FieldValue) -> bool {
    match value {
        FieldValue::Missing => false,
        FieldValue::Number(n) => n.is_finite(),
        _ => true,
    }
}

/// One field's value in its stored JSON shape.
struct StoredValue<'a>(&'a FieldValue);

impl Serialize for StoredValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            FieldValue::Missing => serializer.serialize_unit(),
            FieldValue::Text(values) | FieldValue::Keyword(values) => {
                List(values).serialize(serializer)
            }
            FieldValue::Category(paths) if paths.len() == 1 => paths[0].serialize(serializer),
            FieldValue::Category(paths) => paths.serialize(serializer),
            FieldValue::Number(n) => serializer.serialize_f64(*n),
            FieldValue::Bool(b) => serializer.serialize_bool(*b),
            FieldValue::Date(seconds) => serializer.serialize_str(&format_date(*seconds)),
            FieldValue::Attributes(attributes) => {
                // Sorted by name; of repeated names the last one stays (a map insert).
                let mut order: Vec<usize> = (0..attributes.len()).collect();
                order.sort_by(|&a, &b| attributes[a].0.cmp(&attributes[b].0));
                order.dedup_by(|later, earlier| {
                    let same = attributes[*later].0 == attributes[*earlier].0;
                    if same {
                        *earlier = *later;
                    }
                    same
                });
                let mut map = serializer.serialize_map(Some(order.len()))?;
                for i in order {
                    let (name, values) = &attributes[i];
                    map.serialize_entry(name, &List(values))?;
                }
                map.end()
            }
        }
    }
}

/// Values of a list field: a bare string when there is one, else an array.
struct List<'a>(&'a [String]);

impl Serialize for List<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let [one] = self.0 {
            return serializer.serialize_str(one);
        }
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for value in self.0 {
            seq.serialize_element(value)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::schema::StoreSchema;

    fn schema() -> StoreSchema {
        StoreSchema::parse(include_str!("../../index-schema/demo.toml"), "demo.toml").unwrap()
    }

    fn words() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec("[a-c\"\\\\é\\n ]{0,4}", 0..3)
    }

    /// Any value of any kind, whatever the schema says the field holds.
    fn value() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            Just(FieldValue::Missing),
            words().prop_map(FieldValue::Text),
            words().prop_map(FieldValue::Keyword),
            prop::collection::vec(words(), 0..3).prop_map(FieldValue::Category),
            prop_oneof![
                any::<f64>(),
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(3.0),
                Just(-0.0)
            ]
            .prop_map(FieldValue::Number),
            any::<bool>().prop_map(FieldValue::Bool),
            (-5_000_000_000i64..5_000_000_000).prop_map(FieldValue::Date),
            prop::collection::vec(("[a-c]{0,2}", words()), 0..5).prop_map(FieldValue::Attributes),
        ]
    }

    proptest! {
        #[test]
        fn stored_json_is_the_json_value_byte_for_byte(
            id in "[a-z0-9\"]{1,6}",
            values in prop::collection::vec(value(), 0..40),
        ) {
            let schema = schema();
            let values = (0..schema.fields.len())
                .map(|i| values.get(i).cloned().unwrap_or(FieldValue::Missing))
                .collect();
            let product = Product { id, values };
            let expected = serde_json::to_vec(&product.to_json(&schema)).unwrap();
            prop_assert_eq!(
                String::from_utf8(product.stored_json(&schema)).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
