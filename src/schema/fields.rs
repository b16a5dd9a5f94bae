//! The tantivy schema derived from a [`StoreSchema`], with typed handles to its fields.
//!
//! Layout of a clerk index:
//! * `_id` — the product id, indexed untokenized (upserts, deletes and pins find products by it);
//! * `_source` — the normalized product as JSON bytes, stored (hits return from it);
//! * `_kw` — every exact value of the product as `column\u{1f}value`, a multi-valued fast
//!   field: keyword fields, category path nodes and attributes. `columns` reads it back
//!   into dense per-segment arrays for filters, facets and re-ranking;
//! * `t_<field>` — one analyzed text field per searchable schema field (BM25);
//! * `n_<field>` — one f64 fast field per number, bool (0/1) and date (Unix seconds) field;
//! * `_type` — the head nouns of what the product is (`index::product_type`), analyzed,
//!   matched against the query's product-type word by the `type` ranking criterion.

use tantivy::schema::{
    BytesOptions, FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing,
    TextOptions,
};

use super::{FieldKind, StoreSchema};
use crate::analysis::TOKENIZER_NAME;

/// The exact-value column holding each product's type nouns (as in `_type`), for
/// filters (`_type:notebook`), type-scoped taste and learned query types.
pub const TYPE_COLUMN: &str = "_type";

/// Separates the column name from the value inside `_kw` terms, and category levels.
pub const KW_SEPARATOR: char = '\u{1f}';

/// A searchable text field: which schema field it holds and its BM25 weight.
#[derive(Debug, Clone)]
pub struct TextField {
    pub def: usize,
    pub field: Field,
    pub weight: f32,
    /// Whether typo corrections may match this field.
    pub typos: bool,
}

/// A numeric fast field (number, bool, date) and the schema field it holds.
#[derive(Debug, Clone)]
pub struct NumericField {
    pub def: usize,
    pub field: Field,
    /// The tantivy field name, used to open its fast-field column.
    pub column: String,
}

/// Handles to every tantivy field of a clerk index.
#[derive(Debug, Clone)]
pub struct IndexFields {
    pub schema: Schema,
    pub id: Field,
    pub source: Field,
    pub keywords: Field,
    /// What the product is: its type head nouns (not scored, only matched).
    pub product_type: Field,
    pub text: Vec<TextField>,
    pub numeric: Vec<NumericField>,
}

/// Name of the multi-valued keyword fast field.
pub const KEYWORDS_FIELD: &str = "_kw";

impl IndexFields {
    /// Builds the tantivy schema for `store`.
    pub fn build(store: &StoreSchema) -> IndexFields {
        let mut builder = Schema::builder();
        let id = builder.add_text_field("_id", STRING);
        let source = builder.add_bytes_field("_source", BytesOptions::default().set_stored());
        let keywords = builder.add_text_field(KEYWORDS_FIELD, STRING | FAST);
        let text_options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER_NAME)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let product_type = builder.add_text_field(
            "_type",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(TOKENIZER_NAME)
                    .set_index_option(IndexRecordOption::Basic),
            ),
        );
        let mut text = Vec::new();
        let mut numeric = Vec::new();
        for (def, field_def) in store.fields.iter().enumerate() {
            if let Some(weight) = field_def.weight {
                let field =
                    builder.add_text_field(&format!("t_{}", field_def.name), text_options.clone());
                text.push(TextField {
                    def,
                    field,
                    weight,
                    typos: field_def.typos,
                });
            }
            if field_def.kind.is_numeric() {
                let column = format!("n_{}", field_def.name);
                let field = builder.add_f64_field(&column, FAST | INDEXED);
                numeric.push(NumericField { def, field, column });
            }
        }
        IndexFields {
            schema: builder.build(),
            id,
            source,
            keywords,
            product_type,
            text,
            numeric,
        }
    }

    /// The numeric field that holds schema field `def`, if it is numeric.
    pub fn numeric_for(&self, def: usize) -> Option<&NumericField> {
        self.numeric.iter().find(|n| n.def == def)
    }
}

/// The `_kw` term for `value` in `column`.
pub fn keyword_term(column: &str, value: &str) -> String {
    let mut term = String::with_capacity(column.len() + value.len() + 1);
    term.push_str(column);
    term.push(KW_SEPARATOR);
    term.push_str(value);
    term
}

/// Whether schema field kind `kind` stores its values in `_kw`.
pub fn has_keyword_column(kind: &FieldKind) -> bool {
    matches!(
        kind,
        FieldKind::Keyword { .. } | FieldKind::Category { .. } | FieldKind::Attributes { .. }
    )
}
