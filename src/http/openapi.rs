//! `GET /openapi.json`: the OpenAPI 3 description of every endpoint.
//!
//! Generated with utoipa from the handlers' own types: each handler carries a
//! `#[utoipa::path]` with its parameters, body and every status it can answer, and the
//! response types derive `ToSchema` where they are defined. [`ApiDoc`] gathers them.
//! Bodies that handlers read as raw bytes (so that bad JSON gets SPEC's error, not
//! axum's) are described by the input types below, which mirror what the parsers
//! accept. CI runs schemathesis against the live server with this document.

use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use super::error::{ErrorBody, ErrorDetail};

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "clerk",
        description = "On-site product search for online stores: search, autocomplete, shopper events and profiles, catalog updates, configuration reload. Errors are `{\"error\":{\"code\",\"message\",\"problems\"?}}`. When the server has `CLERK_ADMIN_KEY`, admin endpoints and search previews need `Authorization: Bearer <key>`."
    ),
    paths(
        super::storefront::page,
        super::storefront::script,
        super::storefront::style,
        super::storefront::config,
        super::status::health,
        super::status::metrics,
        openapi_json,
        super::search::search_get,
        super::search::search_post,
        super::autocomplete::autocomplete,
        super::shoppers::events,
        super::shoppers::profile,
        super::shoppers::forget,
        super::shoppers::opt_out,
        super::shoppers::opt_in,
        super::products::upsert,
        super::products::delete,
        super::admin::reload,
        super::recommendations::recommendations,
        super::analytics::analytics,
        super::analytics::learned,
        super::admin::shopper_token,
    ),
    components(schemas(ErrorBody, ErrorDetail, EventInput, ProductInput, SearchBody, Switch)),
    modifiers(&AdminKey),
    tags(
        (name = "search", description = "Search and autocomplete"),
        (name = "shoppers", description = "Events and profiles"),
        (name = "admin", description = "Catalog and configuration (admin key)"),
        (name = "operations", description = "Health, metrics, this document"),
        (name = "storefront", description = "The shop page"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer admin key.
struct AdminKey;

impl Modify for AdminKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("CLERK_ADMIN_KEY"))
                    .build(),
            ),
        );
    }
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3)", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Sort orders.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortName {
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
    Rating,
}

/// `GET /v1/search` parameters (`POST` takes the same names in a JSON object).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The query; empty browses the whole catalog.
    pub q: Option<String>,
    /// An opaque shopper id: personalizes the ranking.
    pub shopper: Option<String>,
    /// Repeatable `field:value`, `field:a|b`, `field:lo..hi`, `category:A/B`.
    pub filter: Option<Vec<String>>,
    /// Comma-separated facet field names.
    pub facets: Option<String>,
    pub sort: Option<SortName>,
    /// From 1; `page × per_page` at most 10000.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
    /// Add a score breakdown and a "because" line to each hit.
    pub explain: Option<Switch>,
    /// `off` previews without merchandising rules (admin).
    pub rules: Option<Switch>,
    /// `off` previews without personalization (admin).
    pub personalization: Option<Switch>,
}

/// A switch in a query string: `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    True,
    False,
    #[serde(rename = "1")]
    One,
    #[serde(rename = "0")]
    Zero,
    Yes,
    No,
    On,
    Off,
}

/// A string or an array of strings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `POST /v1/search` body: the GET parameters as a JSON object.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    pub q: Option<String>,
    pub shopper: Option<String>,
    pub filter: Option<OneOrMany>,
    pub facets: Option<OneOrMany>,
    pub sort: Option<SortName>,
    #[schema(minimum = 1)]
    pub page: Option<u32>,
    #[schema(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
    pub explain: Option<bool>,
    pub rules: Option<bool>,
    pub personalization: Option<bool>,
}

/// One event of a `POST /v1/events` batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    #[serde(rename = "type")]
    #[schema(value_type = crate::events::EventKind)]
    pub kind: String,
    #[schema(pattern = r"\S", max_length = 512)]
    pub shopper: String,
    /// Required for view, click, add_to_cart and purchase: a product in the catalog.
    #[schema(pattern = r"\S", max_length = 512)]
    pub product: Option<String>,
    /// Required for search.
    #[schema(pattern = r"\S", max_length = 512)]
    pub query: Option<String>,
    #[schema(minimum = 1, maximum = 100000)]
    pub position: Option<u32>,
    /// RFC 3339; defaults to now.
    #[schema(format = DateTime)]
    pub ts: Option<String>,
}

/// One product of a `PUT /v1/products` batch, in the catalog's JSON shape: `id`, and
/// the fields the store's schema names (its required ones, such as the title, too).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProductInput {
    #[schema(pattern = r"\S")]
    pub id: String,
    /// The other fields: `title`, `brand`, `price`, `category`, `attributes`...
    #[serde(flatten)]
    pub fields: std::collections::HashMap<String, serde_json::Value>,
}

/// `GET /v1/recommendations` parameters: `product` (with `kind`) or `shopper`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecommendationsQuery {
    /// A product id: recommendations next to it.
    pub product: Option<String>,
    /// With `product`: `also_viewed` (default) or `bought_together`.
    pub kind: Option<String>,
    /// A shopper id: recommendations "for you".
    pub shopper: Option<String>,
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
    /// Repeatable, as in search.
    pub filter: Option<Vec<String>>,
}

/// `GET /v1/admin/analytics` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// UTC days covered, ending today (default 7).
    #[param(minimum = 1, maximum = 365)]
    pub days: Option<u32>,
    /// Rows per list (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// `GET /v1/admin/learned` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LearnedQueryParams {
    /// The query to look up; without it, the queries the crowd taught most.
    pub q: Option<String>,
    /// Queries listed at most (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// `GET /v1/autocomplete` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AutocompleteQuery {
    /// What the shopper has typed.
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::PartialSchema;

    #[test]
    fn the_switch_words_are_the_ones_the_parser_takes() {
        let documented = serde_json::to_value(Switch::schema()).unwrap();
        let words: Vec<&str> = documented["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(words, super::super::params::SWITCH_WORDS);
    }

    #[test]
    fn every_route_is_described() {
        let doc = ApiDoc::openapi();
        let json = serde_json::to_value(&doc).unwrap();
        let paths = json["paths"].as_object().unwrap();
        for (path, method) in [
            ("/", "get"),
            ("/assets/app.js", "get"),
            ("/assets/style.css", "get"),
            ("/health", "get"),
            ("/metrics", "get"),
            ("/openapi.json", "get"),
            ("/v1/search", "get"),
            ("/v1/search", "post"),
            ("/v1/autocomplete", "get"),
            ("/v1/events", "post"),
            ("/v1/shoppers/{id}", "get"),
            ("/v1/shoppers/{id}", "delete"),
            ("/v1/shoppers/{id}/opt-out", "post"),
            ("/v1/shoppers/{id}/opt-in", "post"),
            ("/v1/products", "put"),
            ("/v1/products/{id}", "delete"),
            ("/v1/admin/reload", "post"),
            ("/v1/storefront/config", "get"),
        ] {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} missing"
            );
        }
        let schemas = json["components"]["schemas"].as_object().unwrap();
        for name in [
            "ErrorBody",
            "SearchResponse",
            "FacetValue",
            "ProfileView",
            "Hit",
        ] {
            assert!(schemas.contains_key(name), "schema {name} missing");
        }
    }
}
