//! The search pipeline: a [`SearchRequest`] in, a [`SearchResponse`] out.
//!
//! One function per stage, top to bottom, and the same code serves HTTP, the command
//! line, `clerk eval` and the benchmarks:
//!
//! 1. validate the request (pages, sort) and compile filters and facets;
//! 2. analyze the query into a [`QueryPlan`];
//! 3. understand and match the text: which word names the product type, which name
//!    brands or other values; every document's BM25 score and match facts;
//! 4. retrieve: filters, facet counts, ranking (relevance criteria, then taste and
//!    popularity among ties), top-k window; when too few products match every word,
//!    make words optional — modifiers before the product-type word — and say so;
//! 5. cut the page and load the products of its hits.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tantivy::{DocAddress, Term};

use crate::affinity::Personalization;
use crate::analysis::QueryWord;
use crate::config::StoreConfig;
use crate::error::{Error, Result};
use crate::events::Variant;
use crate::facets;
use crate::filter::{self, FilterSet};
use crate::index::Snapshot;
use crate::learning::LearnedBoosts;
use crate::plan::{self, PlanContext, Planned, QueryPlan, Roles};
use crate::profiles::Profile;
use crate::ranking::{CriterionScore, Ranker, TextQuery};
use crate::retrieve::{
    Candidate, Retrieval, Retrieved, Sort, SortKey, TextMatches, place_pins, retrieve,
};
use crate::rules::{ActiveRules, CompiledRules, RequestFacts};
use crate::shown::ShownProduct;
use crate::stages::{StageTimings, timed};

/// Largest `per_page`.
pub const MAX_PER_PAGE: usize = 100;
/// Default `per_page`.
pub const DEFAULT_PER_PAGE: usize = 20;
/// Deepest result reachable by paging (`page × per_page`).
pub const MAX_RESULT_WINDOW: usize = 10_000;
/// Most facets one request may ask for.
pub const MAX_FACETS: usize = 16;
/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 1_000;

/// A search, as validated from HTTP parameters or the command line.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SearchRequest {
    pub q: String,
    pub shopper: Option<String>,
    pub filters: Vec<String>,
    pub facets: Vec<String>,
    pub sort: Sort,
    pub page: usize,
    pub per_page: usize,
    pub explain: bool,
    /// Preview switch: re-rank by the shopper's profile (default on).
    pub personalize: bool,
    /// Preview switch: apply merchandising rules (default on).
    pub apply_rules: bool,
    /// Synonyms, typos, splits, joins and completions (default on; off only to measure
    /// what they are worth).
    pub expand_query: bool,
    /// Reorder ties by what the crowd's behaviour taught (default on; off to see the
    /// unlearned ranking, as learning itself does).
    #[serde(default = "yes")]
    pub learn: bool,
}

fn yes() -> bool {
    true
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            q: String::new(),
            shopper: None,
            filters: Vec::new(),
            facets: Vec::new(),
            sort: Sort::Relevance,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            explain: false,
            personalize: true,
            apply_rules: true,
            expand_query: true,
            learn: true,
        }
    }
}

/// Everything a search runs against: one snapshot, one configuration, the rules
/// compiled for that snapshot, and who is searching.
#[derive(Clone, Copy)]
pub struct SearchContext<'a> {
    pub snapshot: &'a Snapshot,
    pub config: &'a StoreConfig,
    pub rules: &'a CompiledRules,
    pub shopper: &'a ShopperContext,
    /// The crowd's learned signals for this query (none for the holdout).
    pub learned: Option<&'a LearnedBoosts>,
}

/// Who is searching: the variant they are served and their profile.
#[derive(Debug, Clone)]
pub struct ShopperContext {
    pub variant: Variant,
    /// The profile, for personalized shoppers.
    pub profile: Option<Profile>,
    /// Unix seconds, for decaying the profile.
    pub now: i64,
}

impl ShopperContext {
    /// Nobody in particular.
    pub fn anonymous() -> ShopperContext {
        ShopperContext {
            variant: Variant::Anonymous,
            profile: None,
            now: chrono::Utc::now().timestamp(),
        }
    }
}

impl SearchRequest {
    /// A request for `q` with every other setting at its default.
    pub fn query(q: impl Into<String>) -> SearchRequest {
        SearchRequest {
            q: q.into(),
            ..SearchRequest::default()
        }
    }

    /// Checks the bounds SPEC sets on paging and query length.
    pub fn validate(&self) -> Result<()> {
        if self.q.len() > MAX_QUERY_BYTES {
            return Err(Error::bad_request(
                "query_too_long",
                format!(
                    "q is {} bytes; at most {MAX_QUERY_BYTES} are accepted",
                    self.q.len()
                ),
            ));
        }
        if self.facets.len() > MAX_FACETS {
            return Err(Error::bad_request(
                "too_many_facets",
                format!(
                    "{} facets were asked for; at most {MAX_FACETS} per request",
                    self.facets.len()
                ),
            ));
        }
        if self.page == 0 {
            return Err(Error::bad_request("bad_page", "page starts at 1"));
        }
        if self.per_page == 0 || self.per_page > MAX_PER_PAGE {
            return Err(Error::bad_request(
                "per_page_too_large",
                format!(
                    "per_page must be between 1 and {MAX_PER_PAGE}, got {}",
                    self.per_page
                ),
            ));
        }
        if self.page.saturating_mul(self.per_page) > MAX_RESULT_WINDOW {
            return Err(Error::bad_request(
                "page_too_deep",
                format!(
                    "page × per_page may reach at most {MAX_RESULT_WINDOW} results; narrow the query with filters instead"
                ),
            ));
        }
        Ok(())
    }
}

/// Words dropped to find results, and why.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Relaxation {
    pub dropped: Vec<String>,
    pub message: String,
    /// How many products match every word (they come first).
    pub matched_all: u64,
}

/// A spelling correction applied to the query.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Correction {
    pub from: String,
    pub to: String,
}

/// Why a hit is where it is (`explain=true`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Explain {
    /// The relevance criteria, in the order they rank (see `crate::ranking`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<CriterionScore>,
    /// The BM25 text score; with the factors below it makes the tie score (`score`).
    pub text: f32,
    pub popularity: f32,
    pub affinity: f32,
    /// What the crowd's clicks and purchases taught about this product for this query.
    pub learned: f32,
    /// Why the crowd's verdict (the `learned` criterion) is what it is, in shopper
    /// words: "shoppers who searched “network card” chose Network Cards".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned_because: Option<String>,
    pub rules: Vec<String>,
    /// Why the shopper's profile lifted this product, in their words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    /// The taste behind `because`: `brand`, `category`, `_type` (the product type),
    /// `price_band` or an attribute such as `attributes.color`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because_feature: Option<String>,
}

/// One result.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Hit {
    pub id: String,
    pub score: f32,
    /// The product's returned fields, as the schema names them.
    #[schema(value_type = Object)]
    pub product: ShownProduct,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

/// The response, in SPEC's shape.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SearchResponse {
    pub query: String,
    pub total: u64,
    pub took_ms: f64,
    pub page: usize,
    pub per_page: usize,
    /// `personalized`, `holdout` or `anonymous`.
    #[schema(value_type = Variant)]
    pub variant: &'static str,
    /// `"unavailable"` when the shopper store could not be reached: the shopper was
    /// served unpersonalized (`variant` is then `anonymous`) and `notice` says why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personalization: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    pub corrections: Vec<Correction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relaxed: Option<Relaxation>,
    pub hits: Vec<Hit>,
    /// Counts per requested facet, over every match.
    #[schema(value_type = std::collections::HashMap<String, Vec<crate::facets::FacetValue>>)]
    pub facets: Map<String, Value>,
    pub rules_applied: Vec<String>,
    /// When nothing matched: a plain sentence saying so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When nothing matched: queries that would have found something.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub did_you_mean: Vec<String>,
    /// With `explain`: what the query became.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub plan: Option<QueryPlan>,
    /// With `explain`: which word names the product type, which name values.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub roles: Option<Roles>,
    /// Time per stage, for metrics; never part of the JSON.
    #[serde(skip)]
    #[schema(ignore)]
    pub timings: StageTimings,
}

/// Runs the whole pipeline for one request against one snapshot and configuration.
pub fn search(context: &SearchContext, request: &SearchRequest) -> Result<SearchResponse> {
    let SearchContext {
        snapshot,
        config,
        rules,
        shopper,
        learned,
    } = *context;
    let started = Instant::now();
    request.validate()?;
    let numeric_defs: Vec<usize> = snapshot.fields.numeric.iter().map(|n| n.def).collect();
    let filter_specs = filter::parse(&request.filters, &snapshot.schema, &numeric_defs)?;
    let filters = FilterSet::compile(&filter_specs, &snapshot.vocabulary, &snapshot.schema)?;
    let facet_specs = facets::resolve(
        &request.facets,
        &snapshot.schema,
        &snapshot.vocabulary,
        &numeric_defs,
    )?;
    let sort = sort_key(request.sort, snapshot)?;
    let mut timings = StageTimings::default();
    let (words, planned, text) = timed(&mut timings.analysis, || {
        let mut words = snapshot.analyzer.query_words(&request.q);
        words.truncate(plan::MAX_QUERY_WORDS);
        let planned = plan_query(snapshot, config, &words, request);
        let text = TextQuery::prepare(snapshot, &planned.plan);
        (words, planned, text)
    });
    let text = text?;
    crate::deadline::check()?;
    let personalization = match (&shopper.profile, shopper.variant, request.personalize) {
        (Some(profile), Variant::Personalized, true) => {
            Some(Personalization::new(profile, snapshot, shopper.now))
        }
        _ => None,
    };
    let ranker = Ranker::new(snapshot)
        .personalized(personalization)
        .learned(learned.cloned());

    let active = match request.apply_rules {
        true => ActiveRules::select(
            &config.rules,
            rules,
            &RequestFacts {
                query: &request.q,
                filters: &filter_specs,
                now: shopper.now,
            },
            snapshot,
            &snapshot.analyzer,
        ),
        false => ActiveRules::none(),
    };
    let retrieval = Retrieval {
        snapshot,
        filters: &filters,
        facets: &facet_specs,
        criteria: &text.criteria,
        ranker: &ranker,
        rules: &active,
        sort,
        window: request.page * request.per_page,
    };
    let pass_started = Instant::now();
    let (retrieved, relaxed) = retrieve_relaxing(&retrieval, &planned.plan, &text, request.sort)?;
    let retrieved = place_pins(&retrieval, retrieved);
    timings.add_pass(pass_started.elapsed(), &retrieved.timings);
    let hits = timed(&mut timings.page, || {
        page_hits(&retrieval, &retrieved.top, request)
    })?;
    let (message, did_you_mean) = if retrieved.total == 0 && !words.is_empty() {
        no_results(snapshot, &words, &request.q)
    } else {
        (None, Vec::new())
    };
    Ok(SearchResponse {
        query: request.q.clone(),
        total: retrieved.total,
        took_ms: started.elapsed().as_secs_f64() * 1000.0,
        page: request.page,
        per_page: request.per_page,
        variant: shopper.variant.name(),
        personalization: None,
        notice: None,
        corrections: planned.corrections,
        relaxed,
        hits,
        facets: retrieved
            .facet_counts
            .into_response(&facet_specs, &snapshot.vocabulary),
        rules_applied: active.names.clone(),
        message,
        did_you_mean,
        plan: request.explain.then_some(planned.plan),
        roles: request.explain.then_some(text.roles),
        timings,
    })
}

/// Analysis → synonyms, typos, prefixes: the query plan.
pub fn plan_query(
    snapshot: &Snapshot,
    config: &StoreConfig,
    words: &[QueryWord],
    request: &SearchRequest,
) -> Planned {
    let exact_fields: Vec<_> = snapshot
        .fields
        .text
        .iter()
        .filter(|t| !t.typos)
        .map(|t| t.field)
        .collect();
    let known_elsewhere = |term: &str| {
        exact_fields.iter().any(|&f| {
            snapshot
                .searcher
                .doc_freq(&Term::from_field_text(f, term))
                .unwrap_or(0)
                > 0
        })
    };
    let context = PlanContext {
        analyzer: &snapshot.analyzer,
        lexicon: &snapshot.lexicon,
        synonyms: &config.synonyms,
        typos: snapshot.schema.typos,
        prefix_last: !request.q.ends_with(char::is_whitespace),
        known_elsewhere: &known_elsewhere,
        expand: request.expand_query,
    };
    plan::build(words, &context)
}

/// Most suggestions offered when nothing matched.
const MAX_SUGGESTIONS: usize = 3;
/// Most unknown words of one query looked up for "did you mean" (each lookup walks
/// the lexicon within two edits; the rest of the words are kept as typed).
pub const MAX_SUGGESTED_WORDS: usize = 4;

/// The zero-result message and "did you mean" queries built from the lexicon's
/// nearest words to the words the index does not know.
fn no_results(
    snapshot: &Snapshot,
    words: &[QueryWord],
    query: &str,
) -> (Option<String>, Vec<String>) {
    // Each unknown word's nearest lexicon words, looked up once; suggestion `rank`
    // replaces every unknown word by its `rank`-th nearest.
    let mut looked_up = 0;
    let nearest: Vec<Vec<String>> = words
        .iter()
        .map(|w| {
            let surface = crate::analysis::fold_word(&w.surface);
            if w.is_number
                || snapshot.lexicon.doc_freq(w.primary()) > 0
                || surface.chars().count() < 3
                || surface.len() > crate::typo::MAX_TYPO_WORD_BYTES
                || looked_up >= MAX_SUGGESTED_WORDS
                || crate::deadline::check().is_err()
            {
                return Vec::new();
            }
            looked_up += 1;
            snapshot
                .lexicon
                .fuzzy(&surface, 2, MAX_SUGGESTIONS)
                .into_iter()
                .map(|c| c.term)
                .collect()
        })
        .collect();
    let mut suggestions: Vec<String> = Vec::new();
    for rank in 0..MAX_SUGGESTIONS {
        let mut changed = false;
        let rewritten: Vec<String> = words
            .iter()
            .zip(&nearest)
            .map(|(w, near)| match near.get(rank) {
                Some(term) => {
                    changed = true;
                    term.clone()
                }
                None => w.surface.clone(),
            })
            .collect();
        let suggestion = rewritten.join(" ");
        if changed && !suggestions.contains(&suggestion) {
            suggestions.push(suggestion);
        }
    }
    let message = format!("No products match \"{}\".", query.trim());
    (Some(message), suggestions)
}

/// The sort's column; sorts need their role field in the schema.
fn sort_key(sort: Sort, snapshot: &Snapshot) -> Result<SortKey> {
    let roles = &snapshot.schema.roles;
    let (role, descending, name, field) = match sort {
        Sort::Relevance => {
            return Ok(SortKey {
                numeric: None,
                descending: true,
            });
        }
        Sort::PriceAsc => (roles.price, false, "price_asc", "a price (number)"),
        Sort::PriceDesc => (roles.price, true, "price_desc", "a price (number)"),
        Sort::Newest => (roles.newest, true, "newest", "a created_at (date)"),
        Sort::Rating => (roles.rating, true, "rating", "a rating (number)"),
    };
    let numeric = role.and_then(|def| snapshot.fields.numeric.iter().position(|n| n.def == def));
    match numeric {
        Some(n) => Ok(SortKey {
            numeric: Some(n),
            descending,
        }),
        None => Err(Error::bad_request(
            "bad_sort",
            format!("sort {name} needs {field} field, and this catalog's schema has none"),
        )),
    }
}

/// Below this many products matching every word, products matching all but the
/// least informative word follow them (relevance order only).
pub const FEW_RESULTS: u64 = 10;

/// Retrieves with all words required. When fewer than [`FEW_RESULTS`] products
/// match every word, words become optional one at a time ([`relaxation_order`]:
/// words found nowhere, then the commonest modifiers, the product-type word last)
/// until more products match; the `words` criterion keeps products matching more
/// words first, and `relaxed` says which words were made optional.
fn retrieve_relaxing(
    retrieval: &Retrieval,
    plan: &QueryPlan,
    text: &TextQuery,
    sort: Sort,
) -> Result<(Retrieved, Option<Relaxation>)> {
    let Some(strict_segments) = text.strict.as_deref() else {
        return Ok((retrieve(retrieval, None)?, None));
    };
    let required = text.required;
    let strict = retrieve(
        retrieval,
        Some(&TextMatches {
            segments: strict_segments,
            accept: required,
        }),
    )?;
    if strict.total >= FEW_RESULTS || plan.required_count() <= 1 {
        return Ok((strict, None));
    }
    let counts = text.clause_counts(retrieval.snapshot)?;
    let mut accept = required;
    let mut dropped = Vec::new();
    for index in relaxation_order(plan, &text.roles, &counts) {
        if accept.count_ones() <= 1 || dropped.len() >= plan::MAX_RELAXATION_STEPS {
            break;
        }
        crate::deadline::check()?;
        accept &= !(1u32 << index);
        dropped.push(plan.clauses[index].surface.clone());
        let Some(segments) = text.matches_all_of(retrieval.snapshot, accept)? else {
            return Ok((strict, None));
        };
        let matches = TextMatches {
            segments: &segments,
            accept,
        };
        let relaxed = retrieve(retrieval, Some(&matches))?;
        if relaxed.total <= strict.total {
            continue;
        }
        if strict.total > 0 && sort != Sort::Relevance {
            return Ok((strict, None));
        }
        let words = dropped
            .iter()
            .map(|d| format!("\"{d}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let message = match strict.total {
            0 => format!("No products match every word; showing results without {words}"),
            n => format!("{n} products match every word; products without {words} follow"),
        };
        return Ok((
            relaxed,
            Some(Relaxation {
                dropped,
                message,
                matched_all: strict.total,
            }),
        ));
    }
    Ok((strict, None))
}

/// The order in which required words become optional: words no product has, then
/// the other words from the commonest, the product-type word last.
///
/// `counts`: how many documents match each clause ([`TextQuery::clause_counts`]).
fn relaxation_order(plan: &QueryPlan, roles: &Roles, counts: &[u64]) -> Vec<usize> {
    let mut order: Vec<(bool, bool, std::cmp::Reverse<u64>, usize)> =
        (0..plan.clauses.len().min(32))
            .filter(|&i| plan.clauses[i].required)
            .map(|i| {
                let matched = counts.get(i).copied().unwrap_or(0);
                let is_type = roles.type_clause == Some(i);
                (matched > 0, is_type, std::cmp::Reverse(matched), i)
            })
            .collect();
    order.sort();
    order.into_iter().map(|(_, _, _, i)| i).collect()
}

/// The requested page of candidates, with their products loaded.
fn page_hits(
    retrieval: &Retrieval,
    top: &[Candidate],
    request: &SearchRequest,
) -> Result<Vec<Hit>> {
    let (snapshot, ranker) = (retrieval.snapshot, retrieval.ranker);
    let from = (request.page - 1) * request.per_page;
    top.iter()
        .skip(from)
        .take(request.per_page)
        .map(|c| {
            let (id, product) = crate::shown::load(snapshot, c.address)?;
            let columns = snapshot.columns.get(c.address.segment_ord as usize);
            let reason = request
                .explain
                .then(|| because(snapshot, ranker, c))
                .flatten();
            let explain = request.explain.then(|| Explain {
                criteria: retrieval.criteria.explain(&c.facts),
                text: c.breakdown.text,
                popularity: c.breakdown.popularity,
                affinity: c.breakdown.affinity,
                learned: c.breakdown.learned,
                learned_because: columns.and_then(|columns| {
                    ranker.crowd_reason(columns, &snapshot.vocabulary, c.address, &request.q)
                }),
                rules: columns
                    .map(|columns| retrieval.rules.labels(columns, c.address))
                    .unwrap_or_default(),
                because: reason.as_ref().map(|r| r.sentence.clone()),
                because_feature: reason.map(|r| r.feature),
            });
            Ok(Hit {
                id,
                score: c.score,
                product,
                explain,
            })
        })
        .collect()
}

/// The profile's reason for a candidate it lifted.
fn because(
    snapshot: &Snapshot,
    ranker: &Ranker,
    candidate: &Candidate,
) -> Option<crate::affinity::Because> {
    if candidate.breakdown.affinity <= 0.0 {
        return None;
    }
    let personalization = ranker.personalization()?;
    let columns = snapshot
        .columns
        .get(candidate.address.segment_ord as usize)?;
    personalization.because(columns, candidate.address.doc_id, &snapshot.vocabulary)
}

/// A product's id and its returned fields, from the stored source, as a JSON value
/// (for readers of its fields; hits carry the text, [`crate::shown`]).
pub fn load_product(snapshot: &Snapshot, address: DocAddress) -> Result<(String, Value)> {
    let (id, product) = crate::shown::load(snapshot, address)?;
    Ok((id, product.value().clone()))
}
