//! What the query is about: which clause names the product type, which name values
//! of exact fields (brand, colour, size…).
//!
//! Input: a [`QueryPlan`] and two questions the index answers ([`RoleContext`]):
//! does a term name what some product *is* (its `_type` words, learned from the
//! catalog at index time), and does a word name a value of a keyword field. Output:
//! [`Roles`]. English noun phrases put their head last ("notebook *bag*"), and what
//! follows "for" or "with" is what the product is for or has ("case *for* iphone"),
//! so the type clause is the last clause naming a type before any such word. The
//! `type` ranking criterion puts products of that type first, and relaxation keeps
//! the type word while it turns modifiers into preferences.

use serde::Serialize;

use super::{Node, QueryPlan};

/// Words after which the query says what the product is for or comes with.
const CONNECTORS: &[&str] = &["for", "with", "compatible", "fits"];

/// The roles of a query's clauses.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Roles {
    /// The clause naming the product type wanted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_clause: Option<usize>,
    /// Clauses naming a value of an exact field (brand, colour…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modifiers: Vec<usize>,
}

/// What the index knows about terms.
pub struct RoleContext<'a> {
    /// Whether some product *is* a `term` (the term occurs in `_type`).
    pub names_type: &'a dyn Fn(&str) -> bool,
    /// Whether `word` (as typed, lowercased) is a value of a keyword field.
    pub names_value: &'a dyn Fn(&str) -> bool,
}

/// Finds the type clause and the modifiers of `plan`.
pub fn assign_roles(plan: &QueryPlan, ctx: &RoleContext) -> Roles {
    let mut roles = Roles::default();
    for (i, clause) in plan.clauses.iter().enumerate() {
        let surface = clause.surface.to_lowercase();
        if CONNECTORS.contains(&surface.as_str()) {
            break;
        }
        if !clause.required {
            continue;
        }
        if names_type(&clause.node, ctx) {
            roles.type_clause = Some(i);
        }
        if (ctx.names_value)(&surface) {
            roles.modifiers.push(i);
        }
    }
    // A word naming a type is the type, even when some column also has it as a value.
    roles.modifiers.retain(|&i| Some(i) != roles.type_clause);
    roles
}

/// Whether any single term of a clause names a type.
fn names_type(node: &Node, ctx: &RoleContext) -> bool {
    match node {
        Node::Term(t) => !t.text.chars().all(|c| c.is_ascii_digit()) && (ctx.names_type)(&t.text),
        Node::Any(children) => children.iter().any(|c| names_type(c, ctx)),
        // A span ("graphics card"): its head is its last word.
        Node::All(children) => children.last().is_some_and(|c| names_type(c, ctx)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Clause, PlanTerm};

    fn plan(words: &[&str]) -> QueryPlan {
        QueryPlan {
            clauses: words
                .iter()
                .map(|w| Clause {
                    surface: w.to_string(),
                    required: *w != "for",
                    node: Node::Term(PlanTerm::exact(*w)),
                })
                .collect(),
        }
    }

    fn roles(words: &[&str]) -> Roles {
        let types = ["notebook", "bag", "case", "battery", "phone"];
        let values = ["lenovo", "samsung", "black", "battery"];
        assign_roles(
            &plan(words),
            &RoleContext {
                names_type: &|t| types.contains(&t),
                names_value: &|w| values.contains(&w),
            },
        )
    }

    #[test]
    fn the_head_noun_names_the_type_and_brands_are_modifiers() {
        let r = roles(&["lenovo", "notebook"]);
        assert_eq!((r.type_clause, r.modifiers), (Some(1), vec![0]));
        assert_eq!(roles(&["notebook", "bag"]).type_clause, Some(1));
        assert_eq!(
            roles(&["black", "samsung", "phone", "case"]).modifiers,
            [0, 1]
        );
    }

    #[test]
    fn what_a_product_is_for_is_not_its_type() {
        assert_eq!(roles(&["case", "for", "phone"]).type_clause, Some(0));
        assert_eq!(
            roles(&["battery", "for", "lenovo", "notebook"]).type_clause,
            Some(0)
        );
    }

    #[test]
    fn queries_without_a_type_word_have_no_type_clause() {
        assert_eq!(roles(&["lenovo", "t61"]).type_clause, None);
    }
}
