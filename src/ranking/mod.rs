//! Ranking: relevance criteria first, then taste and popularity among equal matches.
//!
//! A document's place is decided in this order (each step only among documents the
//! previous ones left tied):
//!
//! 1. merchandising: pins take their slots, hidden products are gone, buried products
//!    go below every other (`crate::rules`);
//! 2. the sort, when the shopper asked for one (price, newest, rating);
//! 3. **relevance criteria** ([`criteria`]): whether the product *is* what the query's
//!    product-type word names, words matched, typos, the crowd's verdict, whether the
//!    shopper clearly likes it, words matched in strong fields — coarse numbers computed
//!    from the [`matching`] facts, in the order the schema's `[ranking] criteria` gives;
//! 4. **within a tie** ([`score`]): the text score (BM25) times merchandising boosts,
//!    the shopper's affinity, the crowd's learned signals and popularity.
//!
//! Because taste acts only through the `taste` criterion (a clear taste, after the
//! criteria that say whether a product is what was asked for) and inside a tie, a
//! better match by those criteria never falls below a worse one whatever the profile,
//! and among equally good matches a clear taste wins outright. `explain` shows each
//! criterion's value and each factor of the tie score.

pub mod bm25;
pub mod criteria;
pub mod matching;
pub mod query;
pub mod score;

pub use criteria::{Criteria, CriterionScore};
pub use matching::{DocMatch, MatchFacts, Matcher, set_gathering};
pub use query::TextQuery;
pub use score::{Ranker, ScoreBreakdown};
