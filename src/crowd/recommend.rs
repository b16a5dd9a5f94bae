//! Recommendation requests and responses, and the merchandising pass over
//! co-occurrence candidates.
//!
//! In: a [`RecommendationRequest`] (validated here: exactly one of product and
//! shopper, a known kind, a limit in 1..=[`MAX_LIMIT`]) and, for products, the
//! neighbours the co-occurrence model holds. [`merchandise`] passes them through the
//! same machinery a search uses: the request's filters ([`FilterSet`]), hide rules
//! (never shown), boosts and demotes (scale the score) and buries (last), with the
//! rules selected as for browsing (empty query). Out: [`Recommendations`] in the
//! shape `GET /v1/recommendations` answers.

use serde::Serialize;
use serde_json::Value;
use tantivy::DocAddress;

use super::{Neighbour, RecommendationKind};
use crate::error::{Error, Result};
use crate::filter::FilterSet;
use crate::index::Snapshot;
use crate::rules::ActiveRules;

/// Most recommendations a request may ask for.
pub const MAX_LIMIT: usize = 50;
/// Recommendations returned when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 10;

/// What is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct RecommendationRequest {
    pub product: Option<String>,
    pub shopper: Option<String>,
    /// Required with `product`; not taken with `shopper`.
    pub kind: Option<String>,
    pub limit: usize,
    pub filters: Vec<String>,
}

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Product(String, RecommendationKind),
    Shopper(String),
}

impl RecommendationRequest {
    /// Checks the request and says what to fix.
    pub fn target(&self) -> Result<Target> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(Error::bad_request(
                "bad_limit",
                format!(
                    "limit must be between 1 and {MAX_LIMIT}, got {}",
                    self.limit
                ),
            ));
        }
        match (&self.product, &self.shopper) {
            (Some(product), None) => {
                let kind = self.kind.as_deref().unwrap_or("also_viewed");
                let kind = RecommendationKind::parse(kind).ok_or_else(|| {
                    Error::bad_request(
                        "bad_kind",
                        format!("kind must be also_viewed or bought_together, got \"{kind}\""),
                    )
                })?;
                Ok(Target::Product(product.clone(), kind))
            }
            (None, Some(shopper)) => match &self.kind {
                Some(kind) if kind != "for_you" => Err(Error::bad_request(
                    "bad_kind",
                    format!(
                        "recommendations for a shopper are \"for you\"; drop kind=\"{kind}\" or ask for a product instead"
                    ),
                )),
                _ => Ok(Target::Shopper(shopper.clone())),
            },
            (Some(_), Some(_)) => Err(Error::bad_request(
                "ambiguous_target",
                "give either product=ID (with kind) or shopper=ID, not both",
            )),
            (None, None) => Err(Error::bad_request(
                "missing_target",
                "give product=ID&kind=also_viewed|bought_together, or shopper=ID",
            )),
        }
    }
}

/// One recommendation.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Recommendation {
    pub id: String,
    pub score: f32,
    /// The product's returned fields.
    #[schema(value_type = Object)]
    pub product: crate::shown::ShownProduct,
    /// Why, in the shopper's words.
    pub because: String,
}

/// The response.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Recommendations {
    pub product: Option<String>,
    pub shopper: Option<String>,
    /// `also_viewed`, `bought_together` or `for_you`.
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub recommendations: Vec<Recommendation>,
}

/// A neighbour that survived the merchandising pass.
#[derive(Debug, Clone)]
pub struct Placed {
    pub neighbour: Neighbour,
    pub address: DocAddress,
    pub score: f64,
    pub buried: bool,
}

/// Filters, hides, boosts and buries `neighbours`; the best `limit` come back, buried
/// ones last. `exclude` (the product asked about) never comes back.
pub fn merchandise(
    snapshot: &Snapshot,
    filters: &FilterSet,
    rules: &ActiveRules,
    neighbours: Vec<Neighbour>,
    exclude: &str,
    limit: usize,
) -> Vec<Placed> {
    let mut placed: Vec<Placed> = neighbours
        .into_iter()
        .filter(|n| n.product != exclude && n.weight > 0.0)
        .filter_map(|neighbour| {
            let address = snapshot.find(&neighbour.product)?;
            let columns = snapshot.columns.get(address.segment_ord as usize)?;
            if filters.fail_mask(columns, address.doc_id) != 0 || rules.is_hidden(address) {
                return None;
            }
            let effect = rules.effect(columns, address.doc_id);
            Some(Placed {
                score: neighbour.weight * f64::from(effect.factor),
                buried: effect.buried,
                neighbour,
                address,
            })
        })
        .collect();
    placed.sort_by(|a, b| {
        a.buried
            .cmp(&b.buried)
            .then_with(|| b.score.total_cmp(&a.score))
            .then_with(|| a.neighbour.product.cmp(&b.neighbour.product))
    });
    placed.truncate(limit);
    placed
}

/// The sentence a product recommendation carries.
pub fn because(kind: RecommendationKind, title: &str, shoppers: usize) -> String {
    let people = match shoppers {
        1 => "1 shopper".to_string(),
        n => format!("{n} shoppers"),
    };
    match kind {
        RecommendationKind::AlsoViewed => {
            format!("shoppers who viewed {title} also viewed this ({people})")
        }
        RecommendationKind::BoughtTogether => format!("bought together with {title} by {people}"),
    }
}

/// A product's display name: its title, else its first text field, else its id.
pub fn title_of(product: &Value, id: &str) -> String {
    product
        .get("title")
        .and_then(Value::as_str)
        .or_else(|| product.as_object()?.values().find_map(Value::as_str))
        .unwrap_or(id)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        product: Option<&str>,
        shopper: Option<&str>,
        kind: Option<&str>,
        limit: usize,
    ) -> Result<Target> {
        RecommendationRequest {
            product: product.map(String::from),
            shopper: shopper.map(String::from),
            kind: kind.map(String::from),
            limit,
            filters: Vec::new(),
        }
        .target()
    }

    fn code(result: Result<Target>) -> &'static str {
        match result {
            Err(Error::BadRequest { code, .. }) => code,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn validation_says_what_to_fix() {
        assert_eq!(
            request(Some("p"), None, Some("bought_together"), 5).ok(),
            Some(Target::Product(
                "p".into(),
                RecommendationKind::BoughtTogether
            ))
        );
        assert_eq!(
            request(None, Some("s"), None, 50).ok(),
            Some(Target::Shopper("s".into()))
        );
        assert_eq!(code(request(None, None, None, 5)), "missing_target");
        assert_eq!(
            code(request(Some("p"), Some("s"), None, 5)),
            "ambiguous_target"
        );
        assert_eq!(
            code(request(Some("p"), None, Some("similar"), 5)),
            "bad_kind"
        );
        assert_eq!(code(request(Some("p"), None, None, 0)), "bad_limit");
        assert_eq!(code(request(Some("p"), None, None, 51)), "bad_limit");
        assert!(
            because(RecommendationKind::BoughtTogether, "Linen sofa", 12)
                .contains("bought together with Linen sofa by 12 shoppers")
        );
    }
}
