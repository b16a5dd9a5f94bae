//! Judged query sets: queries with graded relevance judgments.
//!
//! Two layouts are read: a folder with `queries.tsv` (`query_id<TAB>query`) and
//! `qrels.tsv` (TREC: `query_id 0 product_id grade`), and the WANDS layout
//! (`query.csv` and `label.csv`, tab-separated, labels Exact = 2, Partial = 1,
//! Irrelevant = 0).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// One judged query.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedQuery {
    pub id: String,
    pub text: String,
    /// Product id → grade (0, 1, 2, ...); unjudged products count as 0.
    pub grades: HashMap<String, u8>,
}

impl JudgedQuery {
    /// The grade of `product` (0 when unjudged).
    pub fn grade(&self, product: &str) -> u8 {
        self.grades.get(product).copied().unwrap_or(0)
    }

    /// The highest grade any product has for this query.
    pub fn top_grade(&self) -> u8 {
        self.grades.values().copied().max().unwrap_or(0)
    }
}

/// A set of judged queries.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedSet {
    pub name: String,
    pub queries: Vec<JudgedQuery>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

fn bad(path: &Path, line: usize, why: impl std::fmt::Display) -> Error {
    Error::Config {
        problems: vec![format!("{}:{line}: {why}", path.display())],
    }
}

impl JudgedSet {
    /// Loads a judged set from a folder in either layout.
    pub fn load(dir: &Path) -> Result<JudgedSet> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "judged".into());
        if dir.join("qrels.tsv").exists() {
            JudgedSet::load_trec(&name, &dir.join("queries.tsv"), &dir.join("qrels.tsv"))
        } else if dir.join("label.csv").exists() {
            JudgedSet::load_wands(&name, &dir.join("query.csv"), &dir.join("label.csv"))
        } else {
            Err(Error::Config {
                problems: vec![format!(
                    "{}: expected queries.tsv + qrels.tsv, or WANDS query.csv + label.csv",
                    dir.display()
                )],
            })
        }
    }

    /// `queries.tsv` and TREC qrels.
    pub fn load_trec(name: &str, queries: &Path, qrels: &Path) -> Result<JudgedSet> {
        let mut set = JudgedSet {
            name: name.to_string(),
            queries: Vec::new(),
        };
        for (i, line) in read(queries)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (id, text) = line
                .split_once('\t')
                .ok_or_else(|| bad(queries, i + 1, "expected query_id<TAB>query"))?;
            set.push_query(id.trim(), text.trim());
        }
        for (i, line) in read(qrels)?.lines().enumerate() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.is_empty() {
                continue;
            }
            let [query, _, product, grade] = cols[..] else {
                return Err(bad(qrels, i + 1, "expected `query_id 0 product_id grade`"));
            };
            let grade: u8 = grade.parse().map_err(|_| {
                bad(
                    qrels,
                    i + 1,
                    format!("grade \"{grade}\" is not a small whole number"),
                )
            })?;
            set.judge(query, product, grade);
        }
        Ok(set)
    }

    /// WANDS `query.csv` and `label.csv` (both tab-separated with a header row).
    pub fn load_wands(name: &str, queries: &Path, labels: &Path) -> Result<JudgedSet> {
        let mut set = JudgedSet {
            name: name.to_string(),
            queries: Vec::new(),
        };
        for (i, line) in read(queries)?.lines().enumerate().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 2 {
                return Err(bad(
                    queries,
                    i + 1,
                    "expected query_id<TAB>query<TAB>query_class",
                ));
            }
            set.push_query(cols[0].trim(), cols[1].trim());
        }
        for (i, line) in read(labels)?.lines().enumerate().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 4 {
                return Err(bad(
                    labels,
                    i + 1,
                    "expected id<TAB>query_id<TAB>product_id<TAB>label",
                ));
            }
            let grade = match cols[3].trim() {
                "Exact" => 2,
                "Partial" => 1,
                "Irrelevant" => 0,
                other => {
                    return Err(bad(
                        labels,
                        i + 1,
                        format!("label \"{other}\" is not Exact, Partial or Irrelevant"),
                    ));
                }
            };
            set.judge(cols[1].trim(), cols[2].trim(), grade);
        }
        Ok(set)
    }

    fn push_query(&mut self, id: &str, text: &str) {
        self.queries.push(JudgedQuery {
            id: id.to_string(),
            text: text.to_string(),
            grades: HashMap::new(),
        });
    }

    fn judge(&mut self, query: &str, product: &str, grade: u8) {
        if let Some(q) = self.queries.iter_mut().find(|q| q.id == query) {
            let slot = q.grades.entry(product.to_string()).or_insert(grade);
            *slot = (*slot).max(grade);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wands_layout_maps_labels_to_grades() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("query.csv"),
            "query_id\tquery\tquery_class\n0\tsalon chair\tMassage Chairs\n1\tdinosaur\t\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("label.csv"),
            "id\tquery_id\tproduct_id\tlabel\n1\t0\t25434\tExact\n2\t0\t12088\tPartial\n3\t1\t42\tIrrelevant\n",
        )
        .unwrap();
        let set = JudgedSet::load(dir.path()).unwrap();
        assert_eq!(set.queries.len(), 2);
        assert_eq!(set.queries[0].text, "salon chair");
        assert_eq!(set.queries[0].grade("25434"), 2);
        assert_eq!(set.queries[0].grade("12088"), 1);
        assert_eq!(set.queries[1].grade("42"), 0);
        std::fs::write(
            dir.path().join("label.csv"),
            "id\tquery_id\tproduct_id\tlabel\n1\t0\t1\tGreat\n",
        )
        .unwrap();
        assert!(
            JudgedSet::load(dir.path())
                .unwrap_err()
                .to_string()
                .contains("label \"Great\"")
        );
    }

    #[test]
    fn trec_layout_reports_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("queries.tsv"), "q1\tred shoe\n").unwrap();
        std::fs::write(dir.path().join("qrels.tsv"), "q1 0 a 2\nq1 0 b\n").unwrap();
        let err = JudgedSet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("qrels.tsv:2"), "{err}");
    }
}
