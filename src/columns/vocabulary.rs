//! The store-wide dictionary of exact values: column name → value → id.
//!
//! Append-only, so ids stay valid as segments come and go; a refresh clones the
//! current vocabulary, adds what new segments bring and publishes the clone.

use std::collections::HashMap;

use crate::analysis::fold_word;
use crate::schema::fields::KW_SEPARATOR;

/// A value's id within its column.
pub type ValueId = u32;

/// Parent of a category root.
pub const NO_PARENT: ValueId = ValueId::MAX;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Plain exact values (keyword fields, attributes).
    Keyword,
    /// Category path nodes: each value is a node with a parent.
    Category,
}

/// The values of one column.
#[derive(Debug, Clone)]
pub struct ColumnDict {
    pub name: String,
    pub kind: ColumnKind,
    /// Display text of each value (for category nodes: the node's own label).
    labels: Vec<String>,
    /// Normalized key → id (for category nodes: the normalized full path).
    by_key: HashMap<String, ValueId>,
    /// Each value read as a number (NaN when it is not one), for numeric comparisons.
    numbers: Vec<f64>,
    /// Category nodes only: the parent node, or [`NO_PARENT`].
    parents: Vec<ValueId>,
}

impl ColumnDict {
    fn new(name: &str, kind: ColumnKind) -> ColumnDict {
        ColumnDict {
            name: name.to_string(),
            kind,
            labels: Vec::new(),
            by_key: HashMap::new(),
            numbers: Vec::new(),
            parents: Vec::new(),
        }
    }

    /// Number of distinct values.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Display text of value `id`.
    pub fn label(&self, id: ValueId) -> &str {
        self.labels
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The value read as a number, NaN when it is not one.
    pub fn number(&self, id: ValueId) -> f64 {
        self.numbers.get(id as usize).copied().unwrap_or(f64::NAN)
    }

    /// Parent of category node `id` ([`NO_PARENT`] for roots and keyword values).
    pub fn parent(&self, id: ValueId) -> ValueId {
        self.parents.get(id as usize).copied().unwrap_or(NO_PARENT)
    }

    /// Finds a value by its text, case and accents folded. Category paths use `/`.
    pub fn lookup(&self, text: &str) -> Option<ValueId> {
        self.by_key.get(&normalize_value(text)).copied()
    }

    /// All values whose key satisfies `pred` (for category suffix matches).
    pub fn ids_where(&self, mut pred: impl FnMut(&str) -> bool) -> Vec<ValueId> {
        let mut ids: Vec<ValueId> = self
            .by_key
            .iter()
            .filter(|(k, _)| pred(k))
            .map(|(_, &id)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The full path of a category node, levels joined with `/`.
    pub fn path(&self, id: ValueId) -> String {
        let mut levels = Vec::new();
        let mut node = id;
        while node != NO_PARENT && levels.len() < 64 {
            levels.push(self.label(node));
            node = self.parent(node);
        }
        levels.reverse();
        levels.join("/")
    }

    /// Depth of a category node (roots are 0).
    pub fn depth(&self, id: ValueId) -> usize {
        let mut depth = 0;
        let mut node = self.parent(id);
        while node != NO_PARENT && depth < 64 {
            depth += 1;
            node = self.parent(node);
        }
        depth
    }

    fn intern(&mut self, raw: &str) -> ValueId {
        match self.kind {
            ColumnKind::Keyword => self.intern_key(normalize_value(raw), raw, NO_PARENT),
            ColumnKind::Category => {
                let mut parent = NO_PARENT;
                let mut key = String::new();
                for level in raw.split(KW_SEPARATOR).filter(|l| !l.is_empty()) {
                    if !key.is_empty() {
                        key.push('/');
                    }
                    key.push_str(&normalize_value(level));
                    parent = self.intern_key(key.clone(), level, parent);
                }
                parent
            }
        }
    }

    fn intern_key(&mut self, key: String, label: &str, parent: ValueId) -> ValueId {
        if let Some(&id) = self.by_key.get(&key) {
            return id;
        }
        let id = self.labels.len() as ValueId;
        self.numbers
            .push(label.trim().parse::<f64>().unwrap_or(f64::NAN));
        self.labels.push(label.to_string());
        self.parents.push(parent);
        self.by_key.insert(key, id);
        id
    }
}

/// Case- and accent-folded form of an exact value, whitespace collapsed.
pub fn normalize_value(text: &str) -> String {
    text.split_whitespace()
        .map(fold_word)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every exact-value column of the store.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    columns: Vec<ColumnDict>,
    by_name: HashMap<String, usize>,
    /// Names of the columns that hold category paths.
    category_columns: Vec<String>,
}

impl Vocabulary {
    /// An empty vocabulary; `category_columns` names the columns holding category paths.
    pub fn new(category_columns: Vec<String>) -> Vocabulary {
        Vocabulary {
            category_columns,
            ..Vocabulary::default()
        }
    }

    /// The id of column `name`, if any segment has values in it.
    pub fn column_id(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Column `id`.
    pub fn column(&self, id: usize) -> &ColumnDict {
        &self.columns[id]
    }

    /// Column named `name`.
    pub fn column_named(&self, name: &str) -> Option<&ColumnDict> {
        self.column_id(name).map(|id| &self.columns[id])
    }

    /// All columns.
    pub fn columns(&self) -> &[ColumnDict] {
        &self.columns
    }

    /// Adds `value` to `column` (both created on first sight); returns their ids.
    pub fn intern(&mut self, column: &str, value: &str) -> (usize, ValueId) {
        let column_id = match self.by_name.get(column) {
            Some(&id) => id,
            None => {
                let kind = if self.category_columns.iter().any(|c| c == column) {
                    ColumnKind::Category
                } else {
                    ColumnKind::Keyword
                };
                self.columns.push(ColumnDict::new(column, kind));
                self.by_name
                    .insert(column.to_string(), self.columns.len() - 1);
                self.columns.len() - 1
            }
        };
        (column_id, self.columns[column_id].intern(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_values_fold_case_and_accents() {
        let mut vocab = Vocabulary::new(vec![]);
        let (c, a) = vocab.intern("brand", "Nordby");
        let (_, b) = vocab.intern("brand", "NORDBY");
        assert_eq!(a, b);
        assert_eq!(vocab.column(c).label(a), "Nordby");
        assert_eq!(vocab.column(c).lookup("nordby"), Some(a));
        let (_, cafe) = vocab.intern("brand", "Café");
        assert_eq!(vocab.column(c).lookup("cafe"), Some(cafe));
    }

    #[test]
    fn category_paths_become_a_tree() {
        let mut vocab = Vocabulary::new(vec!["category".to_string()]);
        let (c, sofas) = vocab.intern("category", "Furniture\u{1f}Living Room\u{1f}Sofas");
        let dict = vocab.column(c);
        assert_eq!(dict.kind, ColumnKind::Category);
        assert_eq!(dict.path(sofas), "Furniture/Living Room/Sofas");
        assert_eq!(dict.depth(sofas), 2);
        let living = dict.parent(sofas);
        assert_eq!(dict.label(living), "Living Room");
        assert_eq!(dict.lookup("furniture/living room"), Some(living));
        let (_, again) = vocab.intern("category", "Furniture\u{1f}Living Room");
        assert_eq!(again, living);
    }

    #[test]
    fn numeric_values_are_read_once() {
        let mut vocab = Vocabulary::new(vec![]);
        let (c, v) = vocab.intern("attributes.display_diagonal", "17");
        assert_eq!(vocab.column(c).number(v), 17.0);
        let (_, w) = vocab.intern("attributes.display_diagonal", "big");
        assert!(vocab.column(c).number(w).is_nan());
    }
}
