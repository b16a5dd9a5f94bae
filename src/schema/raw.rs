//! The schema file as written (serde structs), and its validation into [`StoreSchema`].

use serde::Deserialize;

use super::{
    AffinityFeature, AffinitySettings, CatalogFormat, DEFAULT_FACET_SIZE, FacetDef, FieldDef,
    FieldKind, Roles, Stemmer, StoreSchema, normalize_attribute_key,
};
use crate::error::{Error, Result};
use crate::typo::TypoSettings;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchema {
    #[serde(default)]
    catalog: RawCatalog,
    #[serde(default)]
    analysis: RawAnalysis,
    #[serde(default)]
    roles: RawRoles,
    #[serde(default)]
    typos: RawTypos,
    affinity: Option<RawAffinity>,
    #[serde(default)]
    ranking: super::ranking::RawRanking,
    #[serde(default, rename = "field")]
    fields: Vec<RawField>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    format: Option<String>,
    id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAnalysis {
    stemmer: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAffinity {
    features: Option<Vec<String>>,
    price_bands: Option<Vec<f64>>,
    half_life_days: Option<f64>,
    session_minutes: Option<i64>,
    session_boost: Option<f32>,
    personalization_impact: Option<f32>,
    holdout_share: Option<f64>,
    confidence_events: Option<f32>,
    sensitive_categories: Option<Vec<String>>,
    event_weights: Option<RawEventWeights>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEventWeights {
    view: Option<f32>,
    click: Option<f32>,
    add_to_cart: Option<f32>,
    purchase: Option<f32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTypos {
    enabled: Option<bool>,
    one_typo_from: Option<usize>,
    two_typos_from: Option<usize>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    price: Option<String>,
    popularity: Option<String>,
    rating: Option<String>,
    newest: Option<String>,
    in_stock: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    kind: String,
    source: Option<String>,
    weight: Option<f32>,
    #[serde(default)]
    returned: bool,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    facet: bool,
    typos: Option<bool>,
    facet_size: Option<usize>,
    ranges: Option<Vec<f64>>,
    separator: Option<String>,
    item_separator: Option<String>,
    key_separator: Option<String>,
    /// Attribute keys that can be faceted (attributes fields only).
    facets: Option<Vec<String>>,
}

/// Turns a TOML syntax or shape error into "file:line: reason".
pub(super) fn describe_toml_error(origin: &str, text: &str, e: &toml::de::Error) -> String {
    let line = e
        .span()
        .map(|span| line_at(text, span.start))
        .map(|l| format!(":{l}"))
        .unwrap_or_default();
    format!("{origin}{line}: {}", e.message())
}

/// 1-based line number of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Line where `name = "<field>"` is declared, for semantic errors.
fn line_of_field(text: &str, field: &str) -> Option<usize> {
    let needle = format!("\"{field}\"");
    text.lines()
        .position(|l| l.trim_start().starts_with("name") && l.contains(&needle))
        .map(|i| i + 1)
}

impl RawSchema {
    pub(super) fn resolve(self, text: &str, origin: &str) -> Result<StoreSchema> {
        let mut problems = Vec::new();
        let at = |field: &str| match line_of_field(text, field) {
            Some(l) => format!("{origin}:{l}: field \"{field}\""),
            None => format!("{origin}: field \"{field}\""),
        };

        let format = match self.catalog.format.as_deref().unwrap_or("jsonl") {
            "jsonl" | "json" | "ndjson" => CatalogFormat::JsonLines,
            "csv" => CatalogFormat::Delimited { delimiter: b',' },
            "tsv" => CatalogFormat::Delimited { delimiter: b'\t' },
            other => {
                problems.push(format!(
                    "{origin}: [catalog] format \"{other}\" is not one of jsonl, csv, tsv"
                ));
                CatalogFormat::JsonLines
            }
        };
        let stemmer = match self.analysis.stemmer.as_deref().unwrap_or("light") {
            "light" => Stemmer::Light,
            "snowball" | "porter2" => Stemmer::Snowball,
            "none" => Stemmer::None,
            other => {
                problems.push(format!(
                    "{origin}: [analysis] stemmer \"{other}\" is not one of light, snowball, none"
                ));
                Stemmer::Light
            }
        };

        let mut fields: Vec<FieldDef> = Vec::new();
        let mut attribute_facets = Vec::new();
        for raw in self.fields {
            let where_ = at(&raw.name);
            if !valid_field_name(&raw.name) {
                problems.push(format!(
                    "{where_}: names use letters, digits and `_` only, starting with a letter"
                ));
                continue;
            }
            if fields.iter().any(|f| f.name == raw.name) {
                problems.push(format!("{where_}: declared twice"));
                continue;
            }
            match resolve_field(raw, &mut attribute_facets) {
                Ok(def) => fields.push(def),
                Err(reason) => problems.push(format!("{where_}: {reason}")),
            }
        }
        if fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Attributes { .. }))
            .count()
            > 1
        {
            problems.push(format!(
                "{origin}: at most one field may be of kind attributes"
            ));
        }
        if !fields.iter().any(|f| f.weight.is_some()) {
            problems.push(format!(
                "{origin}: no field is searchable; give at least one field a `weight`"
            ));
        }

        let roles = resolve_roles(&self.roles, &fields, origin, &mut problems);
        let defaults = TypoSettings::default();
        let typos = TypoSettings {
            enabled: self.typos.enabled.unwrap_or(defaults.enabled),
            one_typo_from: self.typos.one_typo_from.unwrap_or(defaults.one_typo_from),
            two_typos_from: self.typos.two_typos_from.unwrap_or(defaults.two_typos_from),
        };
        if typos.one_typo_from == 0 || typos.two_typos_from < typos.one_typo_from {
            problems.push(format!(
                "{origin}: [typos] needs 1 <= one_typo_from <= two_typos_from, got {} and {}",
                typos.one_typo_from, typos.two_typos_from
            ));
        }
        let affinity = resolve_affinity(
            self.affinity,
            &fields,
            &attribute_facets,
            &roles,
            origin,
            &mut problems,
        );
        let ranking = self.ranking.resolve(&fields, origin, &mut problems);
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        Ok(StoreSchema {
            name: String::new(),
            affinity,
            ranking,
            format,
            id_source: self.catalog.id.unwrap_or_else(|| "id".to_string()),
            stemmer,
            typos,
            fields,
            roles,
            attribute_facets,
            source_text: text.to_string(),
        })
    }
}

fn valid_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn resolve_field(
    raw: RawField,
    attribute_facets: &mut Vec<String>,
) -> std::result::Result<FieldDef, String> {
    let kind = match raw.kind.as_str() {
        "text" => FieldKind::Text,
        "keyword" => FieldKind::Keyword {
            separator: raw.separator.clone(),
        },
        "category" => FieldKind::Category {
            separator: raw.separator.clone().unwrap_or_else(|| "/".to_string()),
        },
        "number" => FieldKind::Number,
        "bool" => FieldKind::Bool,
        "date" => FieldKind::Date,
        "attributes" => FieldKind::Attributes {
            item_separator: raw
                .item_separator
                .clone()
                .unwrap_or_else(|| "|".to_string()),
            key_separator: raw.key_separator.clone().unwrap_or_else(|| ":".to_string()),
        },
        other => {
            return Err(format!(
                "kind \"{other}\" is not one of text, keyword, category, number, bool, date, attributes"
            ));
        }
    };
    let text_like = matches!(
        kind,
        FieldKind::Text
            | FieldKind::Keyword { .. }
            | FieldKind::Category { .. }
            | FieldKind::Attributes { .. }
    );
    let weight = match (kind.clone(), raw.weight) {
        (FieldKind::Text, None) => Some(1.0),
        (_, Some(w)) if !text_like => {
            return Err(format!(
                "a {} field cannot have a weight ({w})",
                kind.name()
            ));
        }
        (_, Some(w)) if !(w.is_finite() && w > 0.0) => {
            return Err(format!("weight must be a positive number, not {w}"));
        }
        (_, w) => w,
    };
    if raw.separator.is_some()
        && !matches!(kind, FieldKind::Keyword { .. } | FieldKind::Category { .. })
    {
        return Err("`separator` applies to keyword and category fields only".to_string());
    }
    if (raw.item_separator.is_some() || raw.key_separator.is_some() || raw.facets.is_some())
        && !matches!(kind, FieldKind::Attributes { .. })
    {
        return Err(
            "`item_separator`, `key_separator` and `facets` apply to attributes fields only"
                .to_string(),
        );
    }
    let facet = resolve_facet(&raw, &kind)?;
    if let Some(keys) = &raw.facets {
        attribute_facets.extend(keys.iter().map(|k| normalize_attribute_key(k)));
    }
    Ok(FieldDef {
        source: raw.source.unwrap_or_else(|| raw.name.clone()),
        name: raw.name,
        kind,
        weight,
        returned: raw.returned,
        required: raw.required,
        typos: raw.typos.unwrap_or(true),
        facet,
    })
}

fn resolve_facet(
    raw: &RawField,
    kind: &FieldKind,
) -> std::result::Result<Option<FacetDef>, String> {
    if raw.ranges.is_some() && *kind != FieldKind::Number {
        return Err("`ranges` apply to number fields only".to_string());
    }
    if !raw.facet {
        if raw.ranges.is_some() || raw.facet_size.is_some() {
            return Err("`ranges` and `facet_size` need `facet = true`".to_string());
        }
        return Ok(None);
    }
    if matches!(
        kind,
        FieldKind::Text | FieldKind::Date | FieldKind::Attributes { .. }
    ) {
        return Err(format!(
            "a {} field cannot be a facet (attributes list their facets in `facets`)",
            kind.name()
        ));
    }
    let ranges = raw.ranges.clone().unwrap_or_default();
    if *kind == FieldKind::Number && ranges.len() < 2 {
        return Err(
            "a number facet needs `ranges` with at least two edges, e.g. [0, 50, 100]".to_string(),
        );
    }
    if ranges.iter().any(|r| !r.is_finite()) || ranges.windows(2).any(|w| w[0] >= w[1]) {
        return Err(format!(
            "`ranges` must be finite and strictly ascending: {ranges:?}"
        ));
    }
    let size = raw.facet_size.unwrap_or(DEFAULT_FACET_SIZE);
    if size == 0 {
        return Err("`facet_size` must be at least 1".to_string());
    }
    Ok(Some(FacetDef { size, ranges }))
}

/// The `[affinity]` section, with defaults: every faceted keyword field, every
/// category field, the faceted attributes, and the price band when there is a price.
fn resolve_affinity(
    raw: Option<RawAffinity>,
    fields: &[FieldDef],
    attribute_facets: &[String],
    roles: &Roles,
    origin: &str,
    problems: &mut Vec<String>,
) -> AffinitySettings {
    let raw = raw.unwrap_or_default();
    let defaults = AffinitySettings::default();
    let attributes = fields
        .iter()
        .find(|f| matches!(f.kind, FieldKind::Attributes { .. }));
    let mut bad = |what: String| problems.push(format!("{origin}: [affinity] {what}"));
    let feature = |name: &str, bad: &mut dyn FnMut(String)| -> Option<AffinityFeature> {
        if name == "price_band" {
            if roles.price.is_none() {
                bad("price_band needs a price field".into());
                return None;
            }
            return Some(AffinityFeature::PriceBand);
        }
        match fields.iter().find(|f| f.name == name) {
            Some(f)
                if matches!(
                    f.kind,
                    FieldKind::Keyword { .. } | FieldKind::Category { .. }
                ) =>
            {
                Some(AffinityFeature::Column(f.name.clone()))
            }
            Some(f) => {
                bad(format!(
                    "feature \"{name}\" is a {} field; use keyword, category or attribute fields",
                    f.kind.name()
                ));
                None
            }
            None => match attributes {
                Some(a) => Some(AffinityFeature::Column(super::attribute_column(
                    &a.name, name,
                ))),
                None => {
                    bad(format!("feature \"{name}\" names no field"));
                    None
                }
            },
        }
    };
    let features = match &raw.features {
        Some(names) => names.iter().filter_map(|n| feature(n, &mut bad)).collect(),
        None => {
            let mut out: Vec<AffinityFeature> = fields
                .iter()
                .filter(|f| match f.kind {
                    FieldKind::Keyword { .. } => f.facet.is_some(),
                    FieldKind::Category { .. } => true,
                    _ => false,
                })
                .map(|f| AffinityFeature::Column(f.name.clone()))
                .collect();
            if let Some(a) = attributes {
                out.extend(
                    attribute_facets
                        .iter()
                        .map(|k| AffinityFeature::Column(super::attribute_column(&a.name, k))),
                );
            }
            if roles.price.is_some() {
                out.push(AffinityFeature::PriceBand);
            }
            out
        }
    };
    let price_bands = raw.price_bands.clone().unwrap_or_else(|| {
        roles
            .price
            .and_then(|p| fields[p].facet.as_ref())
            .map(|f| f.ranges.clone())
            .unwrap_or_else(|| vec![0.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0])
    });
    if price_bands.windows(2).any(|w| w[0] >= w[1]) {
        bad(format!("price_bands must ascend: {price_bands:?}"));
    }
    let weights = raw.event_weights.unwrap_or_default();
    let event_weights = [
        weights.view.unwrap_or(defaults.event_weights[0]),
        weights.click.unwrap_or(defaults.event_weights[1]),
        weights.add_to_cart.unwrap_or(defaults.event_weights[2]),
        weights.purchase.unwrap_or(defaults.event_weights[3]),
    ];
    if event_weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        bad("event weights must be numbers >= 0".into());
    }
    let settings = AffinitySettings {
        features,
        price_bands,
        half_life_seconds: raw
            .half_life_days
            .map(|d| d * 86_400.0)
            .unwrap_or(defaults.half_life_seconds),
        session_gap_seconds: raw
            .session_minutes
            .map(|m| m * 60)
            .unwrap_or(defaults.session_gap_seconds),
        session_boost: raw.session_boost.unwrap_or(defaults.session_boost),
        event_weights,
        personalization_impact: raw
            .personalization_impact
            .unwrap_or(defaults.personalization_impact),
        holdout_share: raw.holdout_share.unwrap_or(defaults.holdout_share),
        confidence_events: raw.confidence_events.unwrap_or(defaults.confidence_events),
        sensitive_categories: raw.sensitive_categories.unwrap_or_default(),
    };
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if !positive(settings.half_life_seconds) || settings.session_gap_seconds <= 0 {
        bad("half_life_days and session_minutes must be positive".into());
    }
    if !(0.0..=1.0).contains(&settings.holdout_share) {
        bad(format!(
            "holdout_share must be between 0 and 1, got {}",
            settings.holdout_share
        ));
    }
    if !(0.0..=10.0).contains(&settings.personalization_impact) {
        bad(format!(
            "personalization_impact must be between 0 and 10, got {}",
            settings.personalization_impact
        ));
    }
    if settings.session_boost.is_nan()
        || settings.session_boost < 0.0
        || !positive(settings.confidence_events as f64)
    {
        bad("session_boost must be >= 0 and confidence_events > 0".into());
    }
    settings
}

/// Role fields default to the field of the same name when it has a fitting kind.
fn resolve_roles(
    raw: &RawRoles,
    fields: &[FieldDef],
    origin: &str,
    problems: &mut Vec<String>,
) -> Roles {
    let mut pick = |role: &str, named: &Option<String>, want: &FieldKind| -> Option<usize> {
        let default_name = match role {
            "newest" => "created_at",
            other => other,
        };
        let name = named.as_deref().unwrap_or(default_name);
        let found = fields.iter().position(|f| f.name == name);
        match found {
            Some(i) if fields[i].kind == *want => Some(i),
            Some(i) if named.is_some() => {
                problems.push(format!(
                    "{origin}: [roles] {role} = \"{name}\" must be a {} field, not {}",
                    want.name(),
                    fields[i].kind.name()
                ));
                None
            }
            None if named.is_some() => {
                problems.push(format!(
                    "{origin}: [roles] {role} = \"{name}\" names no declared field"
                ));
                None
            }
            _ => None,
        }
    };
    Roles {
        price: pick("price", &raw.price, &FieldKind::Number),
        popularity: pick("popularity", &raw.popularity, &FieldKind::Number),
        rating: pick("rating", &raw.rating, &FieldKind::Number),
        newest: pick("newest", &raw.newest, &FieldKind::Date),
        in_stock: pick("in_stock", &raw.in_stock, &FieldKind::Bool),
    }
}
