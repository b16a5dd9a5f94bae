//! Ranking metrics over one ranked list and its judgments.
//!
//! * NDCG@k with linear gains (the grade itself) and the ideal order built from every
//!   judgment of the query; unjudged products have gain 0;
//! * reciprocal rank of the first product with the query's top grade (within the list);
//! * precision@k: share of the top k judged relevant (grade ≥ 1);
//! * recall@k of the top-grade products.

use super::judged::JudgedQuery;

/// DCG of gains in order, cut at `k`.
fn dcg(gains: impl Iterator<Item = f64>, k: usize) -> f64 {
    gains
        .take(k)
        .enumerate()
        .map(|(i, g)| g / ((i + 2) as f64).log2())
        .sum()
}

/// NDCG@k of `ranked` product ids.
pub fn ndcg(ranked: &[String], query: &JudgedQuery, k: usize) -> f64 {
    let mut ideal: Vec<f64> = query.grades.values().map(|&g| g as f64).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let ideal = dcg(ideal.into_iter(), k);
    if ideal == 0.0 {
        return 0.0;
    }
    dcg(ranked.iter().map(|id| query.grade(id) as f64), k) / ideal
}

/// 1 / rank of the first product with the query's top grade; 0 when none is listed.
pub fn reciprocal_rank(ranked: &[String], query: &JudgedQuery) -> f64 {
    let top = query.top_grade();
    if top == 0 {
        return 0.0;
    }
    ranked
        .iter()
        .position(|id| query.grade(id) == top)
        .map(|i| 1.0 / (i + 1) as f64)
        .unwrap_or(0.0)
}

/// Share of the first `k` positions holding a product graded ≥ 1.
pub fn precision(ranked: &[String], query: &JudgedQuery, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .filter(|id| query.grade(id) >= 1)
        .count() as f64
        / k as f64
}

/// Share of the top-grade products found in the first `k` positions.
pub fn recall(ranked: &[String], query: &JudgedQuery, k: usize) -> f64 {
    let top = query.top_grade();
    let wanted = query
        .grades
        .values()
        .filter(|&&g| g == top && g > 0)
        .count();
    if wanted == 0 {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|id| top > 0 && query.grade(id) == top)
        .count();
    found as f64 / wanted as f64
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn query(grades: &[(&str, u8)]) -> JudgedQuery {
        JudgedQuery {
            id: "q".into(),
            text: "q".into(),
            grades: grades
                .iter()
                .map(|(p, g)| (p.to_string(), *g))
                .collect::<HashMap<_, _>>(),
        }
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ndcg_by_hand() {
        // Judgments a=2, b=1, c=0. Ranked [c, a, b]:
        // DCG = 0/log2(2) + 2/log2(3) + 1/log2(4) = 1.261860 + 0.5 = 1.761860
        // IDCG = 2/1 + 1/log2(3) = 2.630930
        let q = query(&[("a", 2), ("b", 1), ("c", 0)]);
        let got = ndcg(&ids(&["c", "a", "b"]), &q, 10);
        assert!((got - 1.761_859_6 / 2.630_929_8).abs() < 1e-6, "{got}");
        assert_eq!(ndcg(&ids(&["a", "b"]), &q, 10), 1.0);
        assert_eq!(ndcg(&ids(&["x", "y"]), &q, 10), 0.0);
        // Cut at k: a relevant product at rank 3 does not count for k = 2.
        assert_eq!(ndcg(&ids(&["c", "x", "a"]), &q, 2), 0.0);
    }

    #[test]
    fn reciprocal_rank_of_first_top_grade() {
        let q = query(&[("a", 2), ("b", 1)]);
        assert_eq!(reciprocal_rank(&ids(&["b", "x", "a"]), &q), 1.0 / 3.0);
        assert_eq!(reciprocal_rank(&ids(&["b"]), &q), 0.0);
    }

    #[test]
    fn precision_and_recall() {
        let q = query(&[("a", 2), ("b", 1), ("c", 2), ("d", 0)]);
        let ranked = ids(&["a", "d", "b", "x"]);
        assert_eq!(precision(&ranked, &q, 4), 0.5);
        assert_eq!(recall(&ranked, &q, 100), 0.5);
    }
}
