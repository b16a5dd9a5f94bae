//! The store's declarative schema: `index-schema/*.toml` → [`StoreSchema`].
//!
//! A merchandiser or store engineer describes the catalog in a TOML file: where each
//! field comes from in the input, what kind it is (text with a weight, keyword, category
//! path, number, bool, date, attribute map), whether it is returned in results, and how
//! it is faceted. This module reads that file in three steps, as ripgrep does with its
//! flags: parse the raw TOML ([`raw`]), validate it into resolved types (this file), and
//! hand those to the rest of the crate. [`fields`] turns the resolved schema into a
//! tantivy schema with typed field handles.
//!
//! The schema an index was built with is copied into the index directory, so searching
//! an index always uses the schema that built it.

pub mod fields;
mod ranking;
mod raw;

use std::path::Path;

use crate::error::{Error, Result};

pub use fields::IndexFields;
pub use ranking::{Criterion, RankingSettings, TypeSource};

/// How catalog files are laid out.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogFormat {
    /// One JSON object a line.
    JsonLines,
    /// Delimited text with a header row (`,` for CSV, `\t` for TSV).
    Delimited { delimiter: u8 },
}

/// Which stemmer the analyzer applies after lowercasing and folding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stemmer {
    /// Plural folding and possessives only ("cables" → "cable", "batteries" → "battery").
    Light,
    /// Snowball English (Porter 2): more recall, more false friends.
    Snowball,
    /// Exact words only.
    None,
}

/// What a field holds and how it is indexed.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// Free text, searched with BM25.
    Text,
    /// Exact values (brand, colour): filters, facets, affinity; searchable when weighted.
    Keyword { separator: Option<String> },
    /// A category path ("Furniture/Living Room/Sofas"): a facet tree.
    Category { separator: String },
    /// A number (price, rating, popularity, margin).
    Number,
    /// true / false (in_stock).
    Bool,
    /// A point in time, RFC 3339 or `YYYY-MM-DD`.
    Date,
    /// A map of attribute name → value(s); every attribute acts as a keyword field.
    Attributes {
        item_separator: String,
        key_separator: String,
    },
}

impl FieldKind {
    /// The kind's name as written in the schema file.
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Keyword { .. } => "keyword",
            FieldKind::Category { .. } => "category",
            FieldKind::Number => "number",
            FieldKind::Bool => "bool",
            FieldKind::Date => "date",
            FieldKind::Attributes { .. } => "attributes",
        }
    }

    /// True for kinds stored as a number column (number, bool, date).
    pub fn is_numeric(&self) -> bool {
        matches!(self, FieldKind::Number | FieldKind::Bool | FieldKind::Date)
    }
}

/// One field of the store's schema.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub name: String,
    pub kind: FieldKind,
    /// Where the value comes from: a JSON key (dots walk into objects) or a CSV column.
    pub source: String,
    /// BM25 weight when the field is searched as text; `None` = not searchable.
    pub weight: Option<f32>,
    /// Whether the field appears in `product` of each hit.
    pub returned: bool,
    /// Whether a product without this field is rejected.
    pub required: bool,
    /// Facet settings, when the field can be faceted.
    pub facet: Option<FacetDef>,
    /// Whether words typed with typos may match this field (false for SKUs, sizes).
    pub typos: bool,
}

/// How a field is faceted.
#[derive(Debug, Clone, PartialEq)]
pub struct FacetDef {
    /// How many values (or children per category node) a facet returns at most.
    pub size: usize,
    /// Bucket edges for number fields: `[0, 50, 100]` → 0–50, 50–100, 100+.
    pub ranges: Vec<f64>,
}

/// Fields with a special meaning to ranking and sorting, as indexes into `fields`.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    pub price: Option<usize>,
    pub popularity: Option<usize>,
    pub rating: Option<usize>,
    pub newest: Option<usize>,
    pub in_stock: Option<usize>,
}

/// The resolved, validated store schema.
#[derive(Debug, Clone)]
pub struct StoreSchema {
    /// The schema's name: its file name without `.toml` (`demo`, `icecat`).
    pub name: String,
    pub format: CatalogFormat,
    /// Where the product id comes from in the input.
    pub id_source: String,
    pub stemmer: Stemmer,
    pub typos: crate::typo::TypoSettings,
    pub fields: Vec<FieldDef>,
    pub roles: Roles,
    /// Attribute keys that may be faceted (as listed under the attributes field).
    pub attribute_facets: Vec<String>,
    /// How shopper behaviour becomes affinity and re-ranking.
    pub affinity: AffinitySettings,
    /// Relevance criteria, product types and strong fields (`[ranking]`).
    pub ranking: RankingSettings,
    /// The TOML text this schema was read from, kept to snapshot it beside an index.
    pub source_text: String,
}

/// A product feature a shopper's affinity is learned on.
#[derive(Debug, Clone, PartialEq)]
pub enum AffinityFeature {
    /// An exact-value column: a keyword field, a category field (every level), an
    /// attribute (`attributes.color`).
    Column(String),
    /// The price band the product falls in (`price_bands` edges).
    PriceBand,
}

/// Settings of the personalization loop (`[affinity]` in the schema).
#[derive(Debug, Clone, PartialEq)]
pub struct AffinitySettings {
    pub features: Vec<AffinityFeature>,
    /// Edges of the price bands, ascending.
    pub price_bands: Vec<f64>,
    /// An event's weight halves every this many seconds.
    pub half_life_seconds: f64,
    /// Events closer together than this belong to one session.
    pub session_gap_seconds: i64,
    /// How much more the current session counts than older history.
    pub session_boost: f32,
    /// Weights of view, click, add_to_cart, purchase.
    pub event_weights: [f32; 4],
    /// How far personalization may lift a product: its score is multiplied by at most
    /// `1 + personalization_impact` (0 turns personalization off).
    pub personalization_impact: f32,
    /// Share of shoppers served without personalization, to measure lift.
    pub holdout_share: f64,
    /// Amount of (decayed, weighted) behaviour at which a profile counts half.
    pub confidence_events: f32,
    /// Category paths whose products never feed a profile.
    pub sensitive_categories: Vec<String>,
}

impl Default for AffinitySettings {
    fn default() -> Self {
        AffinitySettings {
            features: Vec::new(),
            price_bands: Vec::new(),
            half_life_seconds: 30.0 * 86_400.0,
            session_gap_seconds: 30 * 60,
            session_boost: 2.0,
            event_weights: [1.0, 2.0, 5.0, 10.0],
            personalization_impact: 1.0,
            holdout_share: 0.1,
            confidence_events: 4.0,
            sensitive_categories: Vec::new(),
        }
    }
}

/// Default number of values a facet returns.
pub const DEFAULT_FACET_SIZE: usize = 10;

impl StoreSchema {
    /// Reads and validates a schema file.
    pub fn load(path: &Path) -> Result<StoreSchema> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading schema {}", path.display()), e))?;
        StoreSchema::parse(&text, &path.display().to_string())
    }

    /// Parses and validates schema text; `origin` names the file in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<StoreSchema> {
        let raw: raw::RawSchema = toml::from_str(text).map_err(|e| Error::Config {
            problems: vec![raw::describe_toml_error(origin, text, &e)],
        })?;
        let mut schema = raw.resolve(text, origin)?;
        schema.name = Path::new(origin)
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        Ok(schema)
    }

    /// The field called `name`, if the schema declares it.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The attributes field, if the schema has one.
    pub fn attributes_field(&self) -> Option<&FieldDef> {
        self.fields
            .iter()
            .find(|f| matches!(f.kind, FieldKind::Attributes { .. }))
    }

    /// Resolves a name used in a filter, facet or rule to what it refers to.
    ///
    /// Schema fields win; otherwise, with an attributes field `attributes`, both
    /// `attributes.color` and the short `color` name the attribute `color`.
    pub fn resolve(&self, name: &str) -> Option<FieldRef<'_>> {
        if let Some(def) = self.field(name) {
            return Some(FieldRef::Field(def));
        }
        let attrs = self.attributes_field()?;
        let key = name
            .strip_prefix(attrs.name.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(name);
        Some(FieldRef::Attribute {
            column: attribute_column(&attrs.name, key),
        })
    }

    /// Names of the fields that can be faceted, for error messages.
    pub fn facetable_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .fields
            .iter()
            .filter(|f| f.facet.is_some())
            .map(|f| f.name.clone())
            .collect();
        names.extend(self.attribute_facets.iter().cloned());
        names
    }

    /// Names of the fields that can be filtered on, for error messages.
    pub fn filterable_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .fields
            .iter()
            .filter(|f| !matches!(f.kind, FieldKind::Text | FieldKind::Attributes { .. }))
            .map(|f| f.name.clone())
            .collect();
        if let Some(attrs) = self.attributes_field() {
            names.push(format!("{}.<name>", attrs.name));
        }
        names
    }
}

/// What a field name in a request refers to.
#[derive(Debug, Clone)]
pub enum FieldRef<'a> {
    /// A field the schema declares.
    Field(&'a FieldDef),
    /// One attribute of the attributes map, stored in the keyword column `column`.
    Attribute { column: String },
}

/// The keyword column that holds attribute `key` of the attributes field `field`.
pub fn attribute_column(field: &str, key: &str) -> String {
    format!("{field}.{}", normalize_attribute_key(key))
}

/// Attribute names are folded so `Colour`, `colour` and ` colour ` are one attribute.
pub fn normalize_attribute_key(key: &str) -> String {
    key.trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../index-schema/demo.toml");
    const ICECAT: &str = include_str!("../../index-schema/icecat.toml");

    #[test]
    fn shipped_schemas_are_valid() {
        let demo = StoreSchema::parse(DEMO, "demo.toml").unwrap();
        assert!(demo.roles.price.is_some());
        assert!(demo.roles.popularity.is_some());
        assert!(demo.field("title").unwrap().required);
        let icecat = StoreSchema::parse(ICECAT, "icecat.toml").unwrap();
        assert!(icecat.field("brand").unwrap().facet.is_some());
    }

    #[test]
    fn unknown_kind_is_reported_with_the_field() {
        let text = "[[field]]\nname = \"title\"\nkind = \"txet\"\n";
        let err = StoreSchema::parse(text, "s.toml").unwrap_err().to_string();
        assert!(err.contains("s.toml"), "{err}");
        assert!(err.contains("txet"), "{err}");
    }

    #[test]
    fn unknown_key_is_an_error() {
        let text = "[[field]]\nname = \"title\"\nkind = \"text\"\nwieght = 2.0\n";
        let err = StoreSchema::parse(text, "s.toml").unwrap_err().to_string();
        assert!(err.contains("wieght"), "{err}");
    }

    #[test]
    fn duplicate_field_names_are_refused() {
        let text = "[[field]]\nname = \"title\"\nkind = \"text\"\n[[field]]\nname = \"title\"\nkind = \"keyword\"\n";
        let err = StoreSchema::parse(text, "s.toml").unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn attribute_names_resolve_short_and_long() {
        let schema = StoreSchema::parse(DEMO, "demo.toml").unwrap();
        for name in ["color", "attributes.color", "attributes.Color"] {
            match schema.resolve(name) {
                Some(FieldRef::Attribute { column }) => assert_eq!(column, "attributes.color"),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(matches!(schema.resolve("brand"), Some(FieldRef::Field(_))));
    }

    #[test]
    fn ranges_must_ascend() {
        let text =
            "[[field]]\nname = \"price\"\nkind = \"number\"\nfacet = true\nranges = [10, 5]\n";
        let err = StoreSchema::parse(text, "s.toml").unwrap_err().to_string();
        assert!(err.contains("ascending"), "{err}");
    }
}
