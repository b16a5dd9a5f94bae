//! The store's live configuration: synonyms (and merchandising rules), read from the
//! config folder and swapped atomically.
//!
//! [`StoreConfig::load`] reads everything, validates all of it, and only then returns
//! a new configuration; callers swap it in whole, so a broken file never replaces a
//! working set and concurrent queries see either the old or the new configuration.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analysis::Analyzer;
use crate::error::Result;
use crate::synonyms::{self, Synonyms};

/// Everything a merchandiser can change without reindexing.
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    pub synonyms: Synonyms,
}

/// What a (re)load read.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoadReport {
    pub synonym_files: usize,
    pub synonym_lines: usize,
    pub synonym_entries: usize,
}

impl StoreConfig {
    /// Reads `synonyms/` under `config_dir`, compiled with the index's analyzer.
    pub fn load(config_dir: &Path, analyzer: &Analyzer) -> Result<StoreConfig> {
        let (lines, files) = synonyms::read_dir(&synonyms_dir(config_dir))?;
        let mut synonyms = Synonyms::compile(&lines, analyzer)?;
        synonyms.files = files;
        Ok(StoreConfig { synonyms })
    }

    /// Counts for a reload response.
    pub fn report(&self) -> LoadReport {
        LoadReport {
            synonym_files: self.synonyms.files,
            synonym_lines: self.synonyms.lines,
            synonym_entries: self.synonyms.len(),
        }
    }
}

/// The synonyms folder of a config directory.
pub fn synonyms_dir(config_dir: &Path) -> PathBuf {
    config_dir.join("synonyms")
}
