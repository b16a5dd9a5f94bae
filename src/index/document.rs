//! A validated [`Product`] as a tantivy document (see `schema::fields` for the layout).

use tantivy::TantivyDocument;

use super::product_type::TypeNouns;
use crate::catalog::{FieldValue, Product};
use crate::schema::fields::{KW_SEPARATOR, TYPE_COLUMN, keyword_term};
use crate::schema::{FieldKind, IndexFields, StoreSchema, attribute_column};

/// Exact values longer than this are cut (tantivy terms have a size limit).
const MAX_KEYWORD_BYTES: usize = 512;

/// Builds the tantivy document for `product`; `types` says what it is.
pub fn to_document(
    product: &Product,
    store: &StoreSchema,
    fields: &IndexFields,
    types: &TypeNouns,
) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.id, &product.id);
    for noun in types.product_types(product, store) {
        doc.add_text(fields.product_type, &noun);
        doc.add_text(fields.keywords, keyword_term(TYPE_COLUMN, &noun));
    }
    doc.add_bytes(fields.source, &product.stored_json(store));
    for (def_index, (def, value)) in store.fields.iter().zip(&product.values).enumerate() {
        for term in keyword_terms(&def.name, &def.kind, value) {
            doc.add_text(fields.keywords, &term);
        }
        if let Some(text_field) = fields.text.iter().find(|t| t.def == def_index) {
            for text in searchable_text(value) {
                doc.add_text(text_field.field, text);
            }
        }
        if let (Some(numeric), Some(number)) = (fields.numeric_for(def_index), numeric_value(value))
        {
            doc.add_f64(numeric.field, number);
        }
    }
    doc
}

/// The `_kw` terms of one field value: keywords, every category path prefix, attributes.
fn keyword_terms(name: &str, kind: &FieldKind, value: &FieldValue) -> Vec<String> {
    let mut terms = Vec::new();
    match (kind, value) {
        (FieldKind::Keyword { .. }, FieldValue::Keyword(values)) => {
            terms.extend(values.iter().map(|v| keyword_term(name, truncate(v))));
        }
        (FieldKind::Category { .. }, FieldValue::Category(paths)) => {
            let mut path = String::new();
            for levels in paths {
                path.clear();
                for level in levels {
                    if !path.is_empty() {
                        path.push(KW_SEPARATOR);
                    }
                    path.push_str(truncate(level));
                    terms.push(keyword_term(name, &path));
                }
            }
            terms.sort();
            terms.dedup();
        }
        (FieldKind::Attributes { .. }, FieldValue::Attributes(attrs)) => {
            for (key, values) in attrs {
                let column = attribute_column(name, key);
                terms.extend(values.iter().map(|v| keyword_term(&column, truncate(v))));
            }
        }
        _ => {}
    }
    terms
}

/// The text BM25 sees for a field value.
fn searchable_text(value: &FieldValue) -> Vec<&str> {
    match value {
        FieldValue::Text(values) | FieldValue::Keyword(values) => {
            values.iter().map(String::as_str).collect()
        }
        FieldValue::Category(paths) => {
            let mut levels: Vec<&str> = paths.iter().flatten().map(String::as_str).collect();
            levels.sort_unstable();
            levels.dedup();
            levels
        }
        FieldValue::Attributes(attrs) => attrs
            .iter()
            .flat_map(|(_, v)| v.iter().map(String::as_str))
            .collect(),
        _ => Vec::new(),
    }
}

fn numeric_value(value: &FieldValue) -> Option<f64> {
    match value {
        FieldValue::Number(n) => Some(*n),
        FieldValue::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        FieldValue::Date(s) => Some(*s as f64),
        _ => None,
    }
}

fn truncate(value: &str) -> &str {
    if value.len() <= MAX_KEYWORD_BYTES {
        return value;
    }
    let mut end = MAX_KEYWORD_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}
