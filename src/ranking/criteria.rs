//! The relevance criteria: how well a document answers what was typed, as a few
//! coarse, comparable numbers.
//!
//! Contract (milli's ranking rules are the model): each criterion maps a document's
//! [`MatchFacts`] to a small number, larger = better; documents are ordered by the
//! criteria in the configured order, each deciding only among documents the earlier
//! ones left tied. Two criteria are not read from the text match: `learned`, the crowd's
//! coarse verdict on the product for this query ([`MatchFacts::crowd`], set by
//! retrieval from `crate::learning`; neutral without strong evidence and for holdout
//! shoppers), and `taste`, whether the shopper's profile clearly favours the product
//! ([`MatchFacts::taste`], set by retrieval from the affinity). Rules and popularity
//! never decide a criterion: they, and the finer taste, order documents *within* a tie
//! (`super::score`).
//!
//! The default order is `type`, `words`, `typo`, `learned`, `taste`, `attribute`:
//! products that *are* what the query's product-type word names come first (a
//! notebook before the battery "for Lenovo laptops" that mentions every word), then
//! more words, then fewer typos. Neither the crowd nor taste ever lifts a product over
//! one of the asked-for type, matching more words or with fewer typos; both can
//! reorder the `attribute` tier and the tie.
//!
//! | criterion | value (larger ranks first) |
//! |---|---|
//! | `type` | 2 when the query's product-type word names what the product is, 1 when the product states no type, 0 when it is something else |
//! | `words` | query words matched (fewer only when relaxation made some optional) |
//! | `typo` | minus the typos and unfinished words it took to match |
//! | `learned` | 2 when the crowd prefers the product for this query, 0 when it passes it over, 1 otherwise (`crate::learning`) |
//! | `taste` | 1 when the shopper's profile clearly favours the product (affinity × impact at least [`crate::ranking::score::STRONG_TASTE`]), 0 otherwise and for anonymous and holdout shoppers |
//! | `attribute` | query words matched in a strong field (title, brand, category…) |
//!
//! [`Criteria::tier`] packs the values into one integer in the configured order, so
//! comparing tiers compares the criteria lexicographically.

use serde::Serialize;

use super::matching::MatchFacts;
use crate::plan::{QueryPlan, Roles};
use crate::schema::{Criterion, RankingSettings};

/// Most typo cost a tier tells apart.
const MAX_TYPO_COST: u32 = 127;

/// The criteria of one query.
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    order: Vec<Criterion>,
    /// The clauses the query requires (before relaxation).
    required: u32,
    has_type: bool,
}

/// One criterion's value for one hit (`explain`).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CriterionScore {
    pub criterion: Criterion,
    /// The document's value: words matched, typos, 1/0 for the type, strong words.
    pub value: u32,
    /// The best value any document could have (0 typos; every word…).
    pub best: u32,
}

impl Criteria {
    /// The criteria for `plan` under the schema's settings.
    pub fn new(settings: &RankingSettings, plan: &QueryPlan, roles: &Roles) -> Criteria {
        let required = plan
            .clauses
            .iter()
            .enumerate()
            .filter(|(i, c)| c.required && *i < 32)
            .fold(0u32, |m, (i, _)| m | (1 << i));
        Criteria {
            order: settings.criteria.clone(),
            required,
            has_type: roles.type_clause.is_some(),
        }
    }

    /// Every document ties (browsing).
    pub fn none() -> Criteria {
        Criteria::default()
    }

    fn bits(criterion: Criterion) -> u32 {
        match criterion {
            Criterion::Words | Criterion::Attribute => 6,
            Criterion::Typo => 7,
            Criterion::Type | Criterion::Learned => 2,
            Criterion::Taste => 1,
        }
    }

    /// A criterion's value for a document (larger is better).
    #[inline]
    fn value(&self, criterion: Criterion, facts: &MatchFacts) -> u32 {
        match criterion {
            Criterion::Words => (facts.matched & self.required).count_ones(),
            Criterion::Typo => MAX_TYPO_COST - (facts.typos as u32).min(MAX_TYPO_COST),
            Criterion::Learned => (facts.crowd.clamp(-1, 1) + 1) as u32,
            Criterion::Type if !self.has_type => 0,
            Criterion::Type if facts.typed => 2,
            Criterion::Type => facts.untyped as u32,
            Criterion::Taste => facts.taste as u32,
            Criterion::Attribute => (facts.strong & facts.matched & self.required).count_ones(),
        }
    }

    /// The criteria packed in order: comparing tiers compares the criteria.
    #[inline]
    pub fn tier(&self, facts: &MatchFacts) -> u32 {
        self.order.iter().fold(0u32, |tier, &c| {
            (tier << Self::bits(c)) | self.value(c, facts)
        })
    }

    /// The bit `taste` sets in a tier (0 when `taste` is not a criterion): a tier
    /// computed without taste, or-ed with it, is the tier with taste.
    pub fn taste_bit(&self) -> u32 {
        let mut shift = 0;
        for &c in self.order.iter().rev() {
            if c == Criterion::Taste {
                return 1 << shift;
            }
            shift += Self::bits(c);
        }
        0
    }

    /// The best tier any document can reach.
    pub fn best_tier(&self) -> u32 {
        let best = MatchFacts {
            matched: self.required,
            strong: self.required,
            typos: 0,
            typed: true,
            untyped: false,
            crowd: 1,
            taste: true,
        };
        self.tier(&best)
    }

    /// Each criterion's value for a document, in order (`explain`).
    pub fn explain(&self, facts: &MatchFacts) -> Vec<CriterionScore> {
        self.order
            .iter()
            .map(|&criterion| {
                let words = self.required.count_ones();
                let (value, best) = match criterion {
                    Criterion::Words => (self.value(criterion, facts), words),
                    Criterion::Typo => (facts.typos as u32, 0),
                    Criterion::Type => (self.value(criterion, facts), 2 * self.has_type as u32),
                    Criterion::Learned => (self.value(criterion, facts), 2),
                    Criterion::Taste => (self.value(criterion, facts), 1),
                    Criterion::Attribute => (self.value(criterion, facts), words),
                };
                CriterionScore {
                    criterion,
                    value,
                    best,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Clause, Node, PlanTerm};

    fn criteria(order: &[Criterion]) -> Criteria {
        let plan = QueryPlan {
            clauses: ["lenovo", "notebook"]
                .iter()
                .map(|w| Clause {
                    surface: w.to_string(),
                    required: true,
                    node: Node::Term(PlanTerm::exact(*w)),
                })
                .collect(),
        };
        let settings = RankingSettings {
            criteria: order.to_vec(),
            type_sources: Vec::new(),
            strong_fields: Vec::new(),
        };
        let roles = Roles {
            type_clause: Some(1),
            modifiers: vec![0],
        };
        Criteria::new(&settings, &plan, &roles)
    }

    fn facts(matched: u32, strong: u32, typos: u8, typed: bool) -> MatchFacts {
        MatchFacts {
            matched,
            strong,
            typos,
            typed,
            untyped: false,
            crowd: 0,
            taste: false,
        }
    }

    #[test]
    fn tiers_compare_criteria_in_order() {
        let c = criteria(&Criterion::ALL);
        let all_words_typo = c.tier(&facts(3, 3, 1, true));
        let one_word_exact = c.tier(&facts(1, 1, 0, true));
        assert!(all_words_typo > one_word_exact, "words come before typos");
        let typed = c.tier(&facts(3, 0, 0, true));
        let mentioned = c.tier(&facts(3, 3, 0, false));
        assert!(typed > mentioned, "type comes before attribute");
        assert!(
            c.tier(&facts(1, 1, 0, true)) > c.tier(&facts(3, 3, 0, false)),
            "being the asked-for type comes before matching more words"
        );
        let unknown = c.tier(&MatchFacts {
            untyped: true,
            ..facts(3, 0, 0, false)
        });
        assert!(typed > unknown && unknown > c.tier(&facts(3, 3, 0, false)));
        let preferred = MatchFacts {
            crowd: 1,
            taste: true,
            ..facts(3, 3, 0, true)
        };
        assert_eq!(c.best_tier(), c.tier(&preferred));
    }

    #[test]
    fn the_taste_bit_turns_a_tier_without_taste_into_one_with_it() {
        for order in [
            Criterion::ALL.to_vec(),
            vec![Criterion::Taste, Criterion::Words],
            vec![Criterion::Words, Criterion::Typo, Criterion::Taste],
        ] {
            let c = criteria(&order);
            for f in [facts(3, 3, 1, true), facts(1, 0, 0, false)] {
                let with = c.tier(&MatchFacts { taste: true, ..f });
                assert_eq!(c.tier(&f) | c.taste_bit(), with, "{order:?}");
                assert_ne!(c.taste_bit(), 0);
            }
        }
        assert_eq!(criteria(&[Criterion::Words]).taste_bit(), 0);
    }

    #[test]
    fn the_crowd_decides_after_type_words_and_typos() {
        let c = criteria(&Criterion::ALL);
        let crowd = |crowd: i8, f: MatchFacts| MatchFacts { crowd, ..f };
        // Preferred by the crowd beats a better attribute tier...
        let preferred_mentioned = c.tier(&crowd(1, facts(3, 0, 0, true)));
        let neutral_named = c.tier(&facts(3, 3, 0, true));
        assert!(preferred_mentioned > neutral_named);
        // ...and a product the crowd passes over falls below a worse attribute tier.
        assert!(c.tier(&crowd(-1, facts(3, 3, 0, true))) < c.tier(&facts(3, 0, 0, true)));
        // Never above a product of the asked-for type, matching more words or with
        // fewer typos.
        let passed_over = c.tier(&crowd(-1, facts(3, 0, 0, true)));
        assert!(c.tier(&crowd(1, facts(3, 3, 0, false))) < passed_over);
        assert!(c.tier(&crowd(1, facts(1, 1, 0, true))) < passed_over);
        assert!(c.tier(&crowd(1, facts(3, 3, 1, true))) < passed_over);
        // Neutral evidence changes nothing: the tiers order as without the criterion.
        let without = criteria(&[
            Criterion::Type,
            Criterion::Words,
            Criterion::Typo,
            Criterion::Attribute,
        ]);
        let all = [
            facts(3, 3, 0, true),
            facts(3, 0, 0, true),
            facts(1, 1, 0, false),
            facts(3, 3, 2, false),
        ];
        for a in &all {
            for b in &all {
                assert_eq!(
                    c.tier(a).cmp(&c.tier(b)),
                    without.tier(a).cmp(&without.tier(b))
                );
            }
        }
        let explained = c.explain(&crowd(-1, facts(3, 3, 0, true)));
        assert_eq!(explained[3].criterion, Criterion::Learned);
        assert_eq!((explained[3].value, explained[3].best), (0, 2));
    }

    #[test]
    fn a_clear_taste_decides_after_type_and_before_attribute() {
        let c = criteria(&Criterion::ALL);
        let liked = |f: MatchFacts| MatchFacts { taste: true, ..f };
        // Liked and named in the description beats unliked and named in the title...
        assert!(c.tier(&liked(facts(3, 0, 0, true))) > c.tier(&facts(3, 3, 0, true)));
        // ...but never a product of the asked-for type, nor one matching more words,
        // with fewer typos, or that the crowd prefers.
        let typed = c.tier(&facts(3, 0, 0, true));
        assert!(c.tier(&liked(facts(3, 3, 0, false))) < typed);
        assert!(c.tier(&liked(facts(1, 1, 0, true))) < typed);
        assert!(c.tier(&liked(facts(3, 3, 1, true))) < typed);
        let preferred = MatchFacts {
            crowd: 1,
            ..facts(3, 0, 0, true)
        };
        assert!(c.tier(&liked(facts(3, 3, 0, true))) < c.tier(&preferred));
        let explained = c.explain(&liked(facts(3, 3, 0, true)));
        assert_eq!(explained[4].criterion, Criterion::Taste);
        assert_eq!((explained[4].value, explained[4].best), (1, 1));
        // Left out of the order, taste only reorders within the tie score.
        let without = criteria(&[Criterion::Words, Criterion::Attribute]);
        assert_eq!(
            without.tier(&liked(facts(3, 0, 0, true))),
            without.tier(&facts(3, 0, 0, true))
        );
    }

    #[test]
    fn the_configured_order_decides() {
        let c = criteria(&[Criterion::Attribute, Criterion::Type]);
        assert!(c.tier(&facts(3, 3, 0, false)) > c.tier(&facts(3, 0, 0, true)));
        let none = criteria(&[]);
        assert_eq!(
            none.tier(&facts(3, 3, 0, true)),
            none.tier(&facts(1, 0, 9, false))
        );
    }
}
