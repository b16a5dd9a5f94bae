//! What the crowd taught ranking, for merchandisers (`GET /v1/admin/learned`): per
//! query, the categories its shoppers chose, the products they preferred and passed
//! over, and its first page without and with learning — read from the signals in
//! force and two searches against the live index.

use serde::Serialize;

use super::Engine;
use crate::error::{Error, Result};
use crate::learning::QueryLesson;
use crate::search::SearchRequest;

/// Most queries one report lists.
pub const MAX_LEARNED_LIMIT: usize = 100;
/// Results of each first page a report shows.
const PAGE: usize = 10;

/// What the crowd taught ranking.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LearnedReport {
    /// Whether this server learns from its shoppers (it needs a shopper store).
    pub learning: bool,
    /// How many queries have learned signals in force.
    pub learned_queries: usize,
    /// The queries asked for, or those the crowd taught most.
    pub queries: Vec<LearnedQuery>,
}

/// What the crowd taught about one query.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LearnedQuery {
    #[serde(flatten)]
    pub lesson: QueryLesson,
    /// Its first page as the holdout group sees it, without the crowd's signals.
    pub unlearned_page: Vec<String>,
    /// Its first page as everyone else sees it now.
    pub learned_page: Vec<String>,
}

impl Engine {
    /// What the crowd taught about `query`, or about the `limit` queries it taught
    /// most when `query` is `None`.
    pub fn learned(&self, query: Option<&str>, limit: usize) -> Result<LearnedReport> {
        if !(1..=MAX_LEARNED_LIMIT).contains(&limit) {
            return Err(Error::bad_request(
                "bad_limit",
                format!("limit must be between 1 and {MAX_LEARNED_LIMIT}, got {limit}"),
            ));
        }
        let Some(learning) = &self.learning else {
            return Ok(LearnedReport {
                learning: false,
                learned_queries: 0,
                queries: Vec::new(),
            });
        };
        let signals = learning.signals();
        let lessons = match query.map(str::trim) {
            Some("") => {
                return Err(Error::bad_request(
                    "bad_query",
                    "q is empty: give the query to look up, or leave q out to list the queries the crowd taught most",
                ));
            }
            Some(q) => vec![signals.lesson(q).unwrap_or_else(|| QueryLesson {
                query: crate::learning::normalize_query(q),
                categories: Vec::new(),
                preferred: Vec::new(),
                passed_over: Vec::new(),
            })],
            None => signals.lessons(limit),
        };
        let queries = lessons
            .into_iter()
            .map(|lesson| {
                Ok(LearnedQuery {
                    unlearned_page: self.first_page(&lesson.query, false)?,
                    learned_page: self.first_page(&lesson.query, true)?,
                    lesson,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LearnedReport {
            learning: true,
            learned_queries: signals.learned_queries(),
            queries,
        })
    }

    /// The ids of `query`'s anonymous first page, learned or not.
    fn first_page(&self, query: &str, learn: bool) -> Result<Vec<String>> {
        let request = SearchRequest {
            per_page: PAGE,
            learn,
            ..SearchRequest::query(query)
        };
        Ok(self
            .search(&request)?
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect())
    }
}
