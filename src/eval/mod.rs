//! Offline relevance evaluation: judged queries through the real pipeline.
//!
//! A [`JudgedSet`] (queries with graded judgments) runs through [`Engine::search`],
//! exactly as HTTP would, once per [`Suite`] (clean, and rewritten with typos, spacing
//! mistakes and plural swaps). Each query gets NDCG@10, reciprocal rank of the first
//! top-grade product, precision@10, recall@100 and its latency; [`EvalReport`] holds
//! them per suite with summaries, serializes to JSON for baselines, and renders as a
//! table. [`compare`] diffs two reports metric by metric and names the queries that
//! moved most.

pub mod judged;
pub mod learning;
pub mod loyalty;
pub mod metrics;
pub mod personas;
pub mod suites;

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::Result;
use crate::search::SearchRequest;
pub use judged::{JudgedQuery, JudgedSet};
pub use suites::Suite;

/// Cut-off for NDCG and precision.
pub const K: usize = 10;
/// How many results each query retrieves (recall depth).
pub const DEPTH: usize = 100;

/// One query's scores in one suite.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QueryScore {
    pub id: String,
    pub query: String,
    pub ndcg: f64,
    pub reciprocal_rank: f64,
    pub precision: f64,
    pub recall: f64,
    pub total: u64,
    pub took_ms: f64,
}

/// Averages over a suite's queries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Summary {
    pub queries: usize,
    pub ndcg_at_10: f64,
    pub mrr: f64,
    pub precision_at_10: f64,
    pub recall_at_100: f64,
    pub zero_result_rate: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
}

/// One suite's results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SuiteResult {
    pub suite: String,
    pub summary: Summary,
    /// This suite's NDCG@10 as a share of the clean suite's.
    pub kept_of_clean: Option<f64>,
    pub queries: Vec<QueryScore>,
}

/// A whole evaluation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvalReport {
    pub set: String,
    pub documents: u64,
    pub suites: Vec<SuiteResult>,
    /// The personalization suite, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personalization: Option<personas::PersonaReport>,
    /// The brand-loyalty suite, when it ran (with personalization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loyalty: Option<loyalty::LoyaltyReport>,
    /// The learning suite, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning: Option<learning::LearningReport>,
}

impl EvalReport {
    /// The suite called `name`.
    pub fn suite(&self, name: &str) -> Option<&SuiteResult> {
        self.suites.iter().find(|s| s.suite == name)
    }
}

/// Runs every query of `set` in every suite through `engine`; `expand` false runs
/// them without the query layer (synonyms, typos, splits, joins, completions).
pub fn evaluate(
    engine: &Engine,
    set: &JudgedSet,
    suites: &[Suite],
    expand: bool,
) -> Result<EvalReport> {
    let mut results: Vec<SuiteResult> = Vec::new();
    for &suite in suites {
        let mut scores = Vec::with_capacity(set.queries.len());
        for query in &set.queries {
            let text = suite.rewrite(&query.id, &query.text);
            scores.push(score_query(engine, query, &text, expand)?);
        }
        results.push(SuiteResult {
            suite: suite.name().to_string(),
            summary: summarize(&scores),
            kept_of_clean: None,
            queries: scores,
        });
    }
    if let Some(clean) = results
        .iter()
        .find(|r| r.suite == "clean")
        .map(|r| r.summary.ndcg_at_10)
    {
        for r in &mut results {
            r.kept_of_clean = (clean > 0.0).then(|| r.summary.ndcg_at_10 / clean);
        }
    }
    Ok(EvalReport {
        set: set.name.clone(),
        documents: engine.documents(),
        suites: results,
        personalization: None,
        loyalty: None,
        learning: None,
    })
}

/// Searches `text` and scores the ranking against `query`'s judgments.
pub fn score_query(
    engine: &Engine,
    query: &JudgedQuery,
    text: &str,
    expand: bool,
) -> Result<QueryScore> {
    let request = SearchRequest {
        per_page: DEPTH,
        expand_query: expand,
        ..SearchRequest::query(text)
    };
    let response = engine.search(&request)?;
    let ranked: Vec<String> = response.hits.into_iter().map(|h| h.id).collect();
    Ok(score_ranking(
        query,
        text,
        &ranked,
        response.total,
        response.took_ms,
    ))
}

/// Scores one ranked list.
pub fn score_ranking(
    query: &JudgedQuery,
    text: &str,
    ranked: &[String],
    total: u64,
    took_ms: f64,
) -> QueryScore {
    QueryScore {
        id: query.id.clone(),
        query: text.to_string(),
        ndcg: metrics::ndcg(ranked, query, K),
        reciprocal_rank: metrics::reciprocal_rank(ranked, query),
        precision: metrics::precision(ranked, query, K),
        recall: metrics::recall(ranked, query, DEPTH),
        total,
        took_ms,
    }
}

/// Means of the scores, zero-result rate and latency percentiles.
pub fn summarize(scores: &[QueryScore]) -> Summary {
    if scores.is_empty() {
        return Summary::default();
    }
    let n = scores.len() as f64;
    let mean = |f: fn(&QueryScore) -> f64| scores.iter().map(f).sum::<f64>() / n;
    let mut latencies: Vec<f64> = scores.iter().map(|s| s.took_ms).collect();
    latencies.sort_by(f64::total_cmp);
    Summary {
        queries: scores.len(),
        ndcg_at_10: mean(|s| s.ndcg),
        mrr: mean(|s| s.reciprocal_rank),
        precision_at_10: mean(|s| s.precision),
        recall_at_100: mean(|s| s.recall),
        zero_result_rate: scores.iter().filter(|s| s.total == 0).count() as f64 / n,
        latency_ms_p50: percentile(&latencies, 0.50),
        latency_ms_p99: percentile(&latencies, 0.99),
    }
}

/// The `p` quantile of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The report as a table for a terminal.
pub fn render_table(report: &EvalReport) -> String {
    let mut out = format!("{} ({} documents)\n", report.set, report.documents);
    out.push_str(
        "suite    queries  NDCG@10  kept    MRR     P@10    R@100   zero    p50 ms  p99 ms\n",
    );
    for s in &report.suites {
        let m = &s.summary;
        let kept = s
            .kept_of_clean
            .map(|k| format!("{:5.1}%", k * 100.0))
            .unwrap_or_else(|| "   -  ".into());
        out.push_str(&format!(
            "{:<8} {:>7}  {:.4}  {kept}  {:.4}  {:.4}  {:.4}  {:5.1}%  {:6.2}  {:6.2}\n",
            s.suite,
            m.queries,
            m.ndcg_at_10,
            m.mrr,
            m.precision_at_10,
            m.recall_at_100,
            m.zero_result_rate * 100.0,
            m.latency_ms_p50,
            m.latency_ms_p99
        ));
    }
    if let Some(p) = &report.personalization {
        out.push_str(&personas::render(p));
    }
    if let Some(l) = &report.learning {
        out.push_str(&learning::render(l));
    }
    if let Some(l) = &report.loyalty {
        out.push_str(&loyalty::render(l));
    }
    out
}

/// How a report differs from a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// (suite, metric, baseline, current).
    pub metrics: Vec<(String, &'static str, f64, f64)>,
    /// Clean-suite queries by NDCG change, most worse first: (id, query, before, after).
    pub changed: Vec<(String, String, f64, f64)>,
}

impl Comparison {
    /// Change in the clean suite's NDCG@10 (negative = worse).
    pub fn clean_ndcg_delta(&self) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(s, m, _, _)| s == "clean" && *m == "NDCG@10")
            .map(|(_, _, before, after)| after - before)
    }

    /// The comparison for a terminal.
    pub fn render(&self, show: usize) -> String {
        let mut out = String::from("suite    metric     baseline  current   delta\n");
        for (suite, metric, before, after) in &self.metrics {
            out.push_str(&format!(
                "{suite:<8} {metric:<9} {before:9.4} {after:9.4} {:+8.4}\n",
                after - before
            ));
        }
        let worse: Vec<_> = self
            .changed
            .iter()
            .filter(|c| c.3 < c.2)
            .take(show)
            .collect();
        let better: Vec<_> = self
            .changed
            .iter()
            .rev()
            .filter(|c| c.3 > c.2)
            .take(show)
            .collect();
        for (title, rows) in [("most worse", worse), ("most better", better)] {
            if rows.is_empty() {
                continue;
            }
            out.push_str(&format!("{title} (clean NDCG@10):\n"));
            for (id, query, before, after) in rows {
                out.push_str(&format!(
                    "  {id:<10} {:+.4}  {before:.4} → {after:.4}  {query}\n",
                    after - before
                ));
            }
        }
        out
    }
}

/// Compares `current` with `baseline`, suite by suite and query by query.
pub fn compare(current: &EvalReport, baseline: &EvalReport) -> Comparison {
    let mut metrics = Vec::new();
    for suite in &current.suites {
        let Some(base) = baseline.suite(&suite.suite) else {
            continue;
        };
        let (b, c) = (&base.summary, &suite.summary);
        for (name, before, after) in [
            ("NDCG@10", b.ndcg_at_10, c.ndcg_at_10),
            ("MRR", b.mrr, c.mrr),
            ("P@10", b.precision_at_10, c.precision_at_10),
            ("R@100", b.recall_at_100, c.recall_at_100),
            ("zero", b.zero_result_rate, c.zero_result_rate),
        ] {
            metrics.push((suite.suite.clone(), name, before, after));
        }
    }
    let mut changed = Vec::new();
    if let (Some(now), Some(before)) = (current.suite("clean"), baseline.suite("clean")) {
        for q in &now.queries {
            if let Some(b) = before.queries.iter().find(|b| b.id == q.id)
                && (q.ndcg - b.ndcg).abs() > 1e-9
            {
                changed.push((q.id.clone(), q.query.clone(), b.ndcg, q.ndcg));
            }
        }
    }
    changed.sort_by(|a, b| (a.3 - a.2).total_cmp(&(b.3 - b.2)));
    Comparison { metrics, changed }
}
