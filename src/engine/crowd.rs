//! The engine's crowd operations: recommendations, popular-search suggestions and
//! analytics, each read from the attached [`Crowd`] and checked against the live
//! index (products that exist, rules and filters in force, queries that still find
//! something).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;

use super::Engine;
use crate::autocomplete::Suggestion;
use crate::config::StoreConfig;
use crate::crowd::recommend::{
    Placed, Recommendation, RecommendationRequest, Recommendations, Target, because, merchandise,
    title_of,
};
use crate::crowd::{AnalyticsReport, Crowd, CrowdSettings, RecommendationKind, shopper_hash};
use crate::error::{Error, Result};
use crate::filter::{self, FilterSet};
use crate::index::Snapshot;
use crate::rules::{ActiveRules, RequestFacts};
use crate::search::{SearchRequest, load_product};

/// Most analytics days.
pub const MAX_ANALYTICS_DAYS: u32 = 365;
/// Most rows per analytics list.
pub const MAX_ANALYTICS_LIMIT: usize = 100;
/// Queries remembered by the "finds something today" cache.
const MAX_CACHED_QUERIES: usize = 50_000;

/// Whether queries find anything, for one snapshot and configuration.
pub(super) struct FindsCache {
    snapshot: Arc<Snapshot>,
    config: Arc<StoreConfig>,
    finds: HashMap<String, bool>,
}

impl Engine {
    /// The same engine, with recommendations, popular searches and analytics from `crowd`.
    pub fn with_crowd(mut self, crowd: Arc<Crowd>) -> Engine {
        self.crowd = Some(crowd);
        self
    }

    /// The same engine with a crowd fed by its shopper store's events (a background
    /// tailer); without a store it is returned unchanged.
    pub fn start_crowd(self) -> Engine {
        let Some(store) = self.shoppers.clone() else {
            return self;
        };
        let settings = CrowdSettings::from_affinity(&self.snapshot().schema.affinity);
        self.with_crowd(Crowd::start(settings, store))
    }

    /// The attached crowd, if any.
    pub fn crowd(&self) -> Option<&Arc<Crowd>> {
        self.crowd.as_ref()
    }

    fn require_crowd(&self) -> Result<&Crowd> {
        self.crowd.as_deref().ok_or_else(|| {
            Error::Internal("no crowd models are attached (they need `clerk serve`)".into())
        })
    }

    /// Whether `query` finds at least one product in today's index (cached per
    /// snapshot and configuration).
    pub fn finds_something(&self, query: &str) -> bool {
        let (snapshot, config) = (self.snapshot(), self.config());
        if let Ok(cache) = self.finds_cache.lock()
            && let Some(c) = cache.as_ref()
            && Arc::ptr_eq(&c.snapshot, &snapshot)
            && Arc::ptr_eq(&c.config, &config)
            && let Some(found) = c.finds.get(query)
        {
            return *found;
        }
        let request = SearchRequest {
            per_page: 1,
            personalize: false,
            ..SearchRequest::query(query)
        };
        let found = self.search(&request).is_ok_and(|r| r.total > 0);
        if let Ok(mut cache) = self.finds_cache.lock() {
            let fresh = match cache.as_ref() {
                Some(c) => {
                    !Arc::ptr_eq(&c.snapshot, &snapshot)
                        || !Arc::ptr_eq(&c.config, &config)
                        || c.finds.len() >= MAX_CACHED_QUERIES
                }
                None => true,
            };
            if fresh {
                *cache = Some(FindsCache {
                    snapshot,
                    config,
                    finds: HashMap::new(),
                });
            }
            if let Some(c) = cache.as_mut() {
                c.finds.insert(query.to_string(), found);
            }
        }
        found
    }

    /// Catalog suggestions merged with popular searches that still find something:
    /// popular ones first (most shoppers first, at most half the list when the
    /// catalog has enough), then the catalog's, without repeats.
    pub(super) fn merged_suggestions(&self, typed: &str, limit: usize) -> Vec<Suggestion> {
        let catalog = self.index.load().suggest(typed, limit);
        let Some(crowd) = self.crowd.as_deref() else {
            return catalog;
        };
        let popular = match crowd.models() {
            Ok(models) => models.searches.matching(typed),
            Err(_) => return catalog,
        };
        let room = limit.div_ceil(2).max(limit.saturating_sub(catalog.len()));
        let mut out: Vec<Suggestion> = popular
            .into_iter()
            .filter(|p| self.finds_something(&p.query))
            .take(room)
            .map(|p| Suggestion {
                text: p.query,
                score: p.shoppers as f64,
            })
            .collect();
        for suggestion in catalog {
            if out.len() >= limit {
                break;
            }
            if !out.iter().any(|s| s.text == suggestion.text) {
                out.push(suggestion);
            }
        }
        out
    }

    /// Analytics over the last `days` days, `limit` rows per list.
    pub fn analytics(&self, days: u32, limit: usize) -> Result<AnalyticsReport> {
        if !(1..=MAX_ANALYTICS_DAYS).contains(&days) {
            return Err(Error::bad_request(
                "bad_days",
                format!("days must be between 1 and {MAX_ANALYTICS_DAYS}, got {days}"),
            ));
        }
        if !(1..=MAX_ANALYTICS_LIMIT).contains(&limit) {
            return Err(Error::bad_request(
                "bad_limit",
                format!("limit must be between 1 and {MAX_ANALYTICS_LIMIT}, got {limit}"),
            ));
        }
        let window = self
            .require_crowd()?
            .models()?
            .analytics
            .window(days, Utc::now().timestamp());
        Ok(window.report(limit, &mut |q| self.finds_something(q)))
    }

    /// Recommendations for a product or a shopper.
    pub fn recommendations(&self, request: &RecommendationRequest) -> Result<Recommendations> {
        match request.target()? {
            Target::Product(product, kind) => self.for_product(&product, kind, request),
            Target::Shopper(shopper) => self.for_shopper(&shopper, request),
        }
    }

    fn for_product(
        &self,
        product: &str,
        kind: RecommendationKind,
        request: &RecommendationRequest,
    ) -> Result<Recommendations> {
        let snapshot = self.snapshot();
        let address = snapshot
            .find(product)
            .ok_or_else(|| Error::NotFound(format!("no product \"{product}\" in the catalog")))?;
        let crowd = self.require_crowd()?;
        let now = Utc::now().timestamp();
        let neighbours = crowd.models()?.cooccurrence.neighbours(product, kind, now);
        let config = self.config();
        let rules = self.compiled_rules(&snapshot, &config);
        let numeric: Vec<usize> = snapshot.fields.numeric.iter().map(|n| n.def).collect();
        let specs = filter::parse(&request.filters, &snapshot.schema, &numeric)?;
        let filters = FilterSet::compile(&specs, &snapshot.vocabulary, &snapshot.schema)?;
        let facts = RequestFacts {
            query: "",
            filters: &specs,
            now,
        };
        let active =
            ActiveRules::select(&config.rules, &rules, &facts, &snapshot, &snapshot.analyzer);
        let placed = merchandise(
            &snapshot,
            &filters,
            &active,
            neighbours,
            product,
            request.limit,
        );
        let (_, source) = load_product(&snapshot, address)?;
        let title = title_of(&source, product);
        let recommendations = placed
            .into_iter()
            .map(|p| recommendation(&snapshot, p, kind, &title))
            .collect::<Result<Vec<_>>>()?;
        Ok(Recommendations {
            product: Some(product.to_string()),
            shopper: None,
            kind: kind.name(),
            recommendations,
        })
    }

    /// "For you": a browse through the search pipeline with the shopper's profile
    /// (rules, filters and their variant as in any search), less what they bought.
    fn for_shopper(
        &self,
        shopper: &str,
        request: &RecommendationRequest,
    ) -> Result<Recommendations> {
        let bought = self
            .require_crowd()?
            .models()?
            .cooccurrence
            .bought_by(shopper_hash(shopper));
        let search = SearchRequest {
            shopper: Some(shopper.to_string()),
            filters: request.filters.clone(),
            per_page: (request.limit + bought.len()).min(crate::search::MAX_PER_PAGE),
            explain: true,
            ..SearchRequest::default()
        };
        let response = self.search(&search)?;
        let recommendations = response
            .hits
            .into_iter()
            .filter(|hit| !bought.contains(&hit.id))
            .take(request.limit)
            .map(|hit| Recommendation {
                because: hit
                    .explain
                    .and_then(|e| e.because)
                    .unwrap_or_else(|| "popular with shoppers in this store".to_string()),
                id: hit.id,
                score: hit.score,
                product: hit.product,
            })
            .collect();
        Ok(Recommendations {
            product: None,
            shopper: Some(shopper.to_string()),
            kind: "for_you",
            recommendations,
        })
    }
}

fn recommendation(
    snapshot: &Snapshot,
    placed: Placed,
    kind: RecommendationKind,
    title: &str,
) -> Result<Recommendation> {
    let (id, product) = crate::shown::load(snapshot, placed.address)?;
    Ok(Recommendation {
        id,
        score: ((placed.score * 1000.0).round() / 1000.0) as f32,
        product,
        because: because(kind, title, placed.neighbour.shoppers),
    })
}
