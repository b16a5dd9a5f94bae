//! The storefront page at `GET /`: a shop a person can use, served by the binary.
//!
//! The page is plain HTML, CSS and JavaScript written by hand in this folder and
//! embedded with `include_str!`, so there is no build step and no Node toolchain. It
//! talks to the public API only (`/v1/search`, `/v1/autocomplete`, `/v1/events`) plus
//! `GET /v1/storefront/config`, which tells it what this store's schema offers:
//! facetable fields and how each is shaped, the sorts the schema supports, which
//! fields hold a hit's title, brand, price and stock, and a few demo shoppers. So the
//! same page works on the demo catalog and on any catalog a schema describes.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::AppState;
use crate::schema::{FieldKind, StoreSchema};
use crate::shoppers::variant_of;

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// Ids offered in the shopper switcher (the first few the schema's holdout share
/// personalizes; a holdout shopper would show no reordering).
const DEMO_SHOPPER_CANDIDATES: &[&str] = &[
    "s-42", "s-7", "s-2026", "s-101", "s-5", "s-314", "s-99", "s-1234",
];
/// How many demo shoppers the switcher offers.
const DEMO_SHOPPERS: usize = 3;

/// Security headers for the page: scripts and styles only from this origin.
const PAGE_CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The page, its assets and its configuration endpoint.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/assets/app.js", get(script))
        .route("/assets/style.css", get(style))
        .route("/v1/storefront/config", get(config))
}

/// `GET /`: the storefront page.
#[utoipa::path(
    get,
    path = "/",
    tag = "storefront",
    responses((status = 200, description = "The shop page (reads q, shopper, filter, sort, page from its URL)", content_type = "text/html", body = String))
)]
pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
}

/// `GET /assets/app.js`.
#[utoipa::path(
    get,
    path = "/assets/app.js",
    tag = "storefront",
    responses((status = 200, description = "The page's script", content_type = "text/javascript", body = String))
)]
pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_JS,
    )
}

/// `GET /assets/style.css`.
#[utoipa::path(
    get,
    path = "/assets/style.css",
    tag = "storefront",
    responses((status = 200, description = "The page's styles", content_type = "text/css", body = String))
)]
pub async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        STYLE_CSS,
    )
}

/// What the storefront page needs to know about this store.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct StorefrontConfig {
    /// The schema's name (`demo`, `icecat`).
    pub schema: String,
    /// Fields the sidebar can facet on, in schema order.
    pub facets: Vec<FacetField>,
    /// Sorts this schema supports (`relevance` always).
    pub sorts: Vec<String>,
    /// Which product fields a result card shows.
    pub display: DisplayFields,
    /// Shopper ids offered by the switcher (all personalized, none in the holdout).
    pub demo_shoppers: Vec<String>,
}

/// A facetable field and the shape of its counts.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FacetField {
    pub name: String,
    /// `terms` (values with counts), `tree` (category levels), `ranges` (numeric
    /// buckets) or `bool`.
    pub kind: String,
}

/// Product fields a result card reads; `None` when the schema has no such field.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct DisplayFields {
    pub title: Option<String>,
    pub brand: Option<String>,
    pub price: Option<String>,
    pub in_stock: Option<String>,
}

/// `GET /v1/storefront/config`.
#[utoipa::path(
    get,
    path = "/v1/storefront/config",
    tag = "storefront",
    responses((status = 200, description = "What the storefront page shows for this schema", body = StorefrontConfig))
)]
pub async fn config(State(state): State<AppState>) -> Json<StorefrontConfig> {
    Json(storefront_config(&state.engine.snapshot().schema))
}

/// The storefront's view of `schema`.
pub fn storefront_config(schema: &StoreSchema) -> StorefrontConfig {
    let mut facets: Vec<FacetField> = Vec::new();
    for field in schema.fields.iter().filter(|f| f.facet.is_some()) {
        let kind = match field.kind {
            FieldKind::Category { .. } => "tree",
            FieldKind::Bool => "bool",
            FieldKind::Number | FieldKind::Date => "ranges",
            _ => "terms",
        };
        facets.push(FacetField {
            name: field.name.clone(),
            kind: kind.to_string(),
        });
    }
    facets.extend(schema.attribute_facets.iter().map(|name| FacetField {
        name: name.clone(),
        kind: "terms".to_string(),
    }));
    let roles = &schema.roles;
    let role_name = |role: Option<usize>| {
        role.and_then(|i| schema.fields.get(i))
            .filter(|f| f.returned)
            .map(|f| f.name.clone())
    };
    let mut sorts = vec!["relevance".to_string()];
    if roles.price.is_some() {
        sorts.extend(["price_asc".to_string(), "price_desc".to_string()]);
    }
    if roles.newest.is_some() {
        sorts.push("newest".to_string());
    }
    if roles.rating.is_some() {
        sorts.push("rating".to_string());
    }
    let first_returned = |wanted: fn(&FieldKind) -> bool| {
        schema
            .fields
            .iter()
            .find(|f| f.returned && wanted(&f.kind))
            .map(|f| f.name.clone())
    };
    let brand = schema
        .field("brand")
        .filter(|f| f.returned)
        .map(|f| f.name.clone())
        .or_else(|| first_returned(|k| matches!(k, FieldKind::Keyword { .. })));
    StorefrontConfig {
        schema: schema.name.clone(),
        facets,
        sorts,
        display: DisplayFields {
            title: first_returned(|k| matches!(k, FieldKind::Text)),
            brand,
            price: role_name(roles.price),
            in_stock: role_name(roles.in_stock),
        },
        demo_shoppers: DEMO_SHOPPER_CANDIDATES
            .iter()
            .filter(|id| {
                variant_of(id, false, &schema.affinity) == crate::events::Variant::Personalized
            })
            .take(DEMO_SHOPPERS)
            .map(|id| id.to_string())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(name: &str) -> StoreSchema {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("index-schema")
            .join(format!("{name}.toml"));
        StoreSchema::load(&path).unwrap()
    }

    #[test]
    fn the_demo_schema_gives_its_facets_sorts_and_card_fields() {
        let config = storefront_config(&schema("demo"));
        let facet = |name: &str| {
            config
                .facets
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.kind.as_str())
        };
        assert_eq!(facet("brand"), Some("terms"));
        assert_eq!(facet("category"), Some("tree"));
        assert_eq!(facet("price"), Some("ranges"));
        assert_eq!(facet("in_stock"), Some("bool"));
        assert_eq!(facet("color"), Some("terms"));
        assert_eq!(facet("description"), None);
        assert_eq!(
            config.sorts,
            ["relevance", "price_asc", "price_desc", "newest", "rating"]
        );
        assert_eq!(config.display.title.as_deref(), Some("title"));
        assert_eq!(config.display.price.as_deref(), Some("price"));
        assert_eq!(config.display.in_stock.as_deref(), Some("in_stock"));
        assert_eq!(config.demo_shoppers.len(), DEMO_SHOPPERS);
    }

    #[test]
    fn another_schema_gives_its_own_facets() {
        let config = storefront_config(&schema("icecat"));
        assert!(config.facets.iter().any(|f| f.name == "processor_family"));
        assert!(!config.facets.iter().any(|f| f.name == "color"));
    }
}
