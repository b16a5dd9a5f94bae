//! Where a search spent its time, stage by stage, for the `/metrics` histograms.
//!
//! The pipeline fills a [`StageTimings`] as it runs: analysis (words and the query
//! plan), retrieval (matching and filtering), ranking (scoring and the top-k heap),
//! facets (counting) and page (loading the page's products). Retrieval, ranking and
//! facets share one pass over the matches, so [`crate::retrieve::retrieve`] adds its
//! ranking and facet work as it goes and retrieval is what remains of the pass. The
//! timings travel beside the response (never serialized) to the HTTP layer, which
//! observes them into `clerk_search_stage_duration_seconds{stage=...}`.

use std::time::{Duration, Instant};

/// Time spent per stage of one search.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimings {
    pub analysis: Duration,
    pub retrieval: Duration,
    pub ranking: Duration,
    pub facets: Duration,
    pub page: Duration,
}

impl StageTimings {
    /// Stage names as exported, in pipeline order.
    pub const NAMES: [&'static str; 5] = ["analysis", "retrieval", "ranking", "facets", "page"];

    /// Each stage with its name, in pipeline order.
    pub fn stages(&self) -> [(&'static str, Duration); 5] {
        [
            ("analysis", self.analysis),
            ("retrieval", self.retrieval),
            ("ranking", self.ranking),
            ("facets", self.facets),
            ("page", self.page),
        ]
    }

    /// Books a retrieval pass that took `pass` in all: what ranking and facets did not
    /// use of it was retrieval.
    pub fn add_pass(&mut self, pass: Duration, inner: &StageTimings) {
        self.ranking += inner.ranking;
        self.facets += inner.facets;
        self.retrieval += pass.saturating_sub(inner.ranking + inner.facets);
    }
}

/// Runs `work` and adds its duration to `slot`.
pub fn timed<T>(slot: &mut Duration, work: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = work();
    *slot += started.elapsed();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_splits_into_retrieval_ranking_and_facets() {
        let inner = StageTimings {
            ranking: Duration::from_millis(3),
            facets: Duration::from_millis(2),
            ..StageTimings::default()
        };
        let mut total = StageTimings::default();
        total.add_pass(Duration::from_millis(10), &inner);
        total.add_pass(Duration::from_millis(4), &inner);
        assert_eq!(total.ranking, Duration::from_millis(6));
        assert_eq!(total.facets, Duration::from_millis(4));
        // 10 - 5, then 4 - 5 saturates at 0.
        assert_eq!(total.retrieval, Duration::from_millis(5));
        let names: Vec<_> = total.stages().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, StageTimings::NAMES);
    }

    #[test]
    fn timed_adds_up() {
        let mut slot = Duration::ZERO;
        let v = timed(&mut slot, || {
            std::thread::sleep(Duration::from_millis(2));
            7
        });
        assert_eq!(v, 7);
        assert!(slot >= Duration::from_millis(2));
    }
}
