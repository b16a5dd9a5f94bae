//! The store's live configuration: synonyms and merchandising rules, read from the
//! config folder and swapped atomically.
//!
//! [`StoreConfig::load`] reads everything, validates all of it against the live index,
//! and only then returns a new configuration; callers swap it in whole, so a broken
//! file never replaces a working set and concurrent queries see either the old or the
//! new configuration. A problem in either folder refuses both: the report lists every
//! problem of both.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::index::Snapshot;
use crate::rules::RuleSet;
use crate::synonyms::{self, Synonyms};

/// Everything a merchandiser can change without reindexing.
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    pub synonyms: Synonyms,
    pub rules: RuleSet,
}

/// What a (re)load read.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct LoadReport {
    pub synonym_files: usize,
    pub synonym_lines: usize,
    pub synonym_entries: usize,
    pub rule_files: usize,
    pub rules: usize,
}

impl StoreConfig {
    /// Reads `synonyms/` and `boosts/` under `config_dir`, checked against `snapshot`
    /// (its analyzer, fields, attributes and products).
    pub fn load(config_dir: &Path, snapshot: &Snapshot) -> Result<StoreConfig> {
        let mut problems = Vec::new();
        let synonyms = synonyms::read_dir(&synonyms_dir(config_dir))
            .and_then(|(lines, files)| {
                let mut compiled = Synonyms::compile(&lines, &snapshot.analyzer)?;
                compiled.files = files;
                Ok(compiled)
            })
            .map_err(|e| collect(e, &mut problems))
            .ok();
        let rules = RuleSet::load_dir(&rules_dir(config_dir), snapshot)
            .map_err(|e| collect(e, &mut problems))
            .ok();
        match (synonyms, rules) {
            (Some(synonyms), Some(rules)) if problems.is_empty() => {
                Ok(StoreConfig { synonyms, rules })
            }
            _ => Err(Error::Config { problems }),
        }
    }

    /// Counts for a reload response.
    pub fn report(&self) -> LoadReport {
        LoadReport {
            synonym_files: self.synonyms.files,
            synonym_lines: self.synonyms.lines,
            synonym_entries: self.synonyms.len(),
            rule_files: self.rules.files,
            rules: self.rules.rules.len(),
        }
    }
}

/// Adds an error's problems to `problems`.
fn collect(error: Error, problems: &mut Vec<String>) {
    match error {
        Error::Config { problems: p } => problems.extend(p),
        other => problems.push(other.to_string()),
    }
}

/// The synonyms folder of a config directory.
pub fn synonyms_dir(config_dir: &Path) -> PathBuf {
    config_dir.join("synonyms")
}

/// The merchandising rules folder of a config directory.
pub fn rules_dir(config_dir: &Path) -> PathBuf {
    config_dir.join("boosts")
}
