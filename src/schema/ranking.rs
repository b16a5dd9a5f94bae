//! The `[ranking]` section of a schema: which relevance criteria rank results, in what
//! order, where a product states what it *is*, and which fields count as strong.
//!
//! ```toml
//! [ranking]
//! criteria = ["type", "words", "typo", "learned", "taste", "attribute"]   # compared in this order
//! type_fields = ["category", "attributes.product_type"]
//! strong_fields = ["title", "brand", "category"]
//! ```
//! Every key is optional. Without `criteria`, all six apply in the order above;
//! without `type_fields`, every category field says what a product is (and the title's
//! head noun otherwise); without `strong_fields`, every text field weighted at least
//! half as much as the heaviest one is strong. See `crate::ranking` for what each
//! criterion measures.

use serde::Deserialize;

use super::{FieldDef, FieldKind, normalize_attribute_key};

/// One relevance criterion (see `crate::ranking::criteria`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// How many of the query's words a product matches (more first).
    Words,
    /// How many typos (and unfinished words) it took to match (fewer first).
    Typo,
    /// What the crowd's behaviour on this query says, coarsely: preferred, neutral or
    /// passed over (`crate::learning`); neutral for holdout shoppers and thin evidence.
    Learned,
    /// Whether the query's product-type word names what the product is.
    Type,
    /// Whether the shopper's profile strongly favours the product (`crate::affinity`):
    /// a clear taste, not a faint one; neutral for anonymous and holdout shoppers and
    /// with `personalization_impact` 0.
    Taste,
    /// How many words matched in strong fields (title, brand, category: more first).
    Attribute,
}

impl Criterion {
    /// Every criterion, in the default order.
    pub const ALL: [Criterion; 6] = [
        Criterion::Type,
        Criterion::Words,
        Criterion::Typo,
        Criterion::Learned,
        Criterion::Taste,
        Criterion::Attribute,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Criterion::Words => "words",
            Criterion::Typo => "typo",
            Criterion::Learned => "learned",
            Criterion::Type => "type",
            Criterion::Taste => "taste",
            Criterion::Attribute => "attribute",
        }
    }

    fn parse(name: &str) -> Option<Criterion> {
        Criterion::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Where a product states its type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeSource {
    /// A field by index into the schema's fields (category: its leaf; keyword or text:
    /// its value).
    Field(usize),
    /// An attribute key of the attributes field (`attributes.product_type`).
    Attribute { field: usize, key: String },
}

/// Resolved `[ranking]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RankingSettings {
    pub criteria: Vec<Criterion>,
    pub type_sources: Vec<TypeSource>,
    /// Indexes of the schema fields whose matches count as strong.
    pub strong_fields: Vec<usize>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRanking {
    criteria: Option<Vec<String>>,
    type_fields: Option<Vec<String>>,
    strong_fields: Option<Vec<String>>,
}

impl RawRanking {
    pub(super) fn resolve(
        self,
        fields: &[FieldDef],
        origin: &str,
        problems: &mut Vec<String>,
    ) -> RankingSettings {
        let mut bad = |what: String| problems.push(format!("{origin}: [ranking] {what}"));
        let mut criteria = Vec::new();
        for name in self.criteria.unwrap_or_else(|| {
            Criterion::ALL
                .iter()
                .map(|c| c.name().to_string())
                .collect()
        }) {
            match Criterion::parse(&name) {
                Some(c) if criteria.contains(&c) => bad(format!("criterion \"{name}\" twice")),
                Some(c) => criteria.push(c),
                None => bad(format!(
                    "criteria: \"{name}\" is not one of type, words, typo, learned, taste, attribute"
                )),
            }
        }
        let type_sources = match self.type_fields {
            None => fields
                .iter()
                .enumerate()
                .filter(|(_, f)| matches!(f.kind, FieldKind::Category { .. }))
                .map(|(i, _)| TypeSource::Field(i))
                .collect(),
            Some(names) => names
                .iter()
                .filter_map(|name| match type_source(name, fields) {
                    Ok(source) => Some(source),
                    Err(reason) => {
                        bad(format!("type_fields: \"{name}\" {reason}"));
                        None
                    }
                })
                .collect(),
        };
        let strong_fields = match self.strong_fields {
            None => default_strong_fields(fields),
            Some(names) => names
                .iter()
                .filter_map(|name| {
                    match fields.iter().position(|f| &f.name == name) {
                        Some(i) if fields[i].weight.is_some() => return Some(i),
                        Some(_) => bad(format!(
                            "strong_fields: \"{name}\" has no weight (not searched)"
                        )),
                        None => bad(format!("strong_fields: no field \"{name}\"")),
                    }
                    None
                })
                .collect(),
        };
        RankingSettings {
            criteria,
            type_sources,
            strong_fields,
        }
    }
}

fn type_source(name: &str, fields: &[FieldDef]) -> Result<TypeSource, &'static str> {
    if let Some(i) = fields.iter().position(|f| f.name == name) {
        return match fields[i].kind {
            FieldKind::Category { .. } | FieldKind::Keyword { .. } | FieldKind::Text => {
                Ok(TypeSource::Field(i))
            }
            _ => Err("is not a category, keyword or text field"),
        };
    }
    let (field, key) = name
        .split_once('.')
        .ok_or("is not a field of this schema")?;
    let i = fields
        .iter()
        .position(|f| f.name == field && matches!(f.kind, FieldKind::Attributes { .. }))
        .ok_or("is not a field or an attribute (attributes.key) of this schema")?;
    Ok(TypeSource::Attribute {
        field: i,
        key: normalize_attribute_key(key),
    })
}

/// Text fields weighted at least half as much as the heaviest.
fn default_strong_fields(fields: &[FieldDef]) -> Vec<usize> {
    let heaviest = fields
        .iter()
        .filter_map(|f| f.weight)
        .fold(0.0f32, f32::max);
    fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.weight.is_some_and(|w| w >= heaviest * 0.5))
        .map(|(i, _)| i)
        .collect()
}
