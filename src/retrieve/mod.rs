//! Retrieval: one pass over every match that filters, counts facets and keeps the best.
//!
//! Input: a snapshot, the text matches of each segment (none when browsing) and the
//! clauses a match must have, the compiled filters and facets, the ranking criteria, a
//! ranker and a sort order. Every document the query matches is visited once per
//! query; for each, the filters give a fail mask: a document that fails nothing is a
//! hit (counted in `total` and every facet, ranked, offered to the top-k heap); a
//! document that fails only a facet's own filters still counts toward that facet
//! (disjunctive faceting). Output: the total, the best `window` candidates in order,
//! and the facet counts — all over the same set, so they always agree.
//!
//! Order (see `crate::ranking`): buried last, then the sort key, then the relevance
//! tier, then the tie score.

mod browse;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use tantivy::{DocAddress, DocId};

use crate::error::Result;
use crate::facets::{Counted, FacetCounts, FacetSpec};
use crate::filter::{FilterSet, bit_is_set};
use crate::index::Snapshot;
use crate::ranking::{Criteria, DocMatch, MatchFacts, Ranker, ScoreBreakdown};
use crate::rules::ActiveRules;
use crate::stages::{StageTimings, timed};

/// Result orderings (SPEC `sort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
    Rating,
}

impl Sort {
    /// Parses SPEC's sort names.
    pub fn parse(text: &str) -> Option<Sort> {
        Some(match text {
            "" | "relevance" => Sort::Relevance,
            "price_asc" => Sort::PriceAsc,
            "price_desc" => Sort::PriceDesc,
            "newest" => Sort::Newest,
            "rating" => Sort::Rating,
            _ => return None,
        })
    }
}

/// The numeric column a sort reads and its direction (true = larger first).
#[derive(Debug, Clone, Copy)]
pub struct SortKey {
    pub numeric: Option<usize>,
    pub descending: bool,
}

/// A document that made the window.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    pub address: DocAddress,
    /// The relevance criteria, packed ([`Criteria::tier`]).
    pub tier: u32,
    /// What the text match said (for `explain`).
    pub facts: MatchFacts,
    /// The tie score: text × boosts × taste × popularity.
    pub score: f32,
    pub breakdown: ScoreBreakdown,
    /// A merchandising rule buried it: it goes below every unburied product.
    pub buried: bool,
    /// Sort value, oriented so larger is better (NaN-free).
    key: f64,
    /// Order among exact ties, from the product id (`SegmentColumns::tie`).
    tie: u32,
}

impl Candidate {
    fn cmp_rank(&self, other: &Candidate) -> Ordering {
        other
            .buried
            .cmp(&self.buried)
            .then_with(|| self.key.total_cmp(&other.key))
            .then_with(|| self.tier.cmp(&other.tier))
            .then_with(|| self.score.total_cmp(&other.score))
            // Exact ties go by product id, so the order is the same on every page, after
            // every rebuild and on every replica; the address only if two ids collide.
            .then_with(|| other.tie.cmp(&self.tie))
            .then_with(|| other.address.segment_ord.cmp(&self.address.segment_ord))
            .then_with(|| other.address.doc_id.cmp(&self.address.doc_id))
    }
}

/// Heap entry ordered so the worst candidate is on top.
struct Worst(Candidate);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp_rank(&self.0)
    }
}

/// Everything one retrieval needs.
#[derive(Clone, Copy)]
pub struct Retrieval<'a> {
    pub snapshot: &'a Snapshot,
    pub filters: &'a FilterSet,
    pub facets: &'a [FacetSpec],
    pub criteria: &'a Criteria,
    pub ranker: &'a Ranker,
    /// Merchandising rules in force: hides, boosts, buries; pins are placed after.
    pub rules: &'a ActiveRules<'a>,
    pub sort: SortKey,
    /// How many of the best candidates to keep.
    pub window: usize,
}

/// What a retrieval found.
pub struct Retrieved {
    pub total: u64,
    /// The best candidates, best first.
    pub top: Vec<Candidate>,
    pub facet_counts: FacetCounts,
    /// Pinned products that matched (counted, but kept out of `top` for placing).
    pub pinned_matches: Vec<DocAddress>,
    /// Ranking and facet time inside this pass (retrieval is the rest).
    pub timings: StageTimings,
}

impl Retrieved {
    /// These results first, then `more`'s that are not among them; totals and facets
    /// are `more`'s (a superset), the list is cut at `window`.
    pub fn followed_by(self, more: Retrieved, window: usize) -> Retrieved {
        let mut top = self.top;
        let seen: std::collections::HashSet<DocAddress> = top.iter().map(|c| c.address).collect();
        top.extend(more.top.into_iter().filter(|c| !seen.contains(&c.address)));
        top.truncate(window);
        let mut pinned_matches = self.pinned_matches;
        pinned_matches.extend(more.pinned_matches);
        pinned_matches.sort();
        pinned_matches.dedup();
        Retrieved {
            total: more.total.max(self.total),
            top,
            facet_counts: more.facet_counts,
            pinned_matches,
            timings: StageTimings {
                ranking: self.timings.ranking + more.timings.ranking,
                facets: self.timings.facets + more.timings.facets,
                ..more.timings
            },
        }
    }
}

/// The text matches of a query, per segment (aligned with the searcher's segments),
/// and the clauses a document must have matched to count.
pub struct TextMatches<'a> {
    pub segments: &'a [Vec<DocMatch>],
    pub accept: u32,
}

/// Runs the retrieval pass for `text` (`None` browses the whole catalog).
///
/// Per segment, in stages over arrays rather than per document through every stage:
/// collect the matches (tantivy's scorer, or every live document when browsing),
/// apply hides and filters, count facets column by column, then score and keep the
/// best. A document whose best possible score (full affinity, every boost) cannot
/// beat the current top is not scored in full: the top stays exact, the work shrinks.
/// Segments of a large catalog run on several cores ([`crate::parallel`]); their
/// totals, facet counts and tops merge into one answer.
pub fn retrieve(r: &Retrieval, text: Option<&TextMatches>) -> Result<Retrieved> {
    let searcher = &r.snapshot.searcher;
    let own_masks: Vec<u64> = r
        .facets
        .iter()
        .map(|f| r.filters.mask_for_key(&f.key))
        .collect();
    let plan = match text {
        None => browse::BrowsePlan::new(r, &own_masks),
        Some(_) => browse::BrowsePlan::scan(r.facets.len()),
    };
    let pass = Pass {
        r,
        text,
        plan: &plan,
        own_masks: &own_masks,
        facet_masks: own_masks.iter().fold(0u64, |m, o| m | o),
    };
    let passes = crate::parallel::per_segment(
        searcher.segment_readers().len(),
        searcher.num_docs(),
        |ord| pass.segment(ord),
    );
    let mut merged = SegmentResult::empty(r);
    for result in passes {
        merged.absorb(result?);
    }
    let SegmentResult {
        total,
        mut top,
        mut counts,
        mut pinned_matches,
        mut timings,
    } = merged;
    timed(&mut timings.facets, || {
        plan.count_separately(r, &own_masks, &mut counts)
    });
    top.sort_by(|a, b| b.cmp_rank(a));
    top.truncate(r.window);
    pinned_matches.sort();
    Ok(Retrieved {
        total,
        top,
        facet_counts: counts,
        pinned_matches,
        timings,
    })
}

/// What one segment contributes.
struct SegmentResult {
    total: u64,
    /// The segment's best candidates (unordered).
    top: Vec<Candidate>,
    counts: FacetCounts,
    pinned_matches: Vec<DocAddress>,
    timings: StageTimings,
}

impl SegmentResult {
    fn empty(r: &Retrieval) -> SegmentResult {
        SegmentResult {
            total: 0,
            top: Vec::new(),
            counts: FacetCounts::new(r.facets, &r.snapshot.vocabulary),
            pinned_matches: Vec::new(),
            timings: StageTimings::default(),
        }
    }

    /// Adds another segment's results to these.
    fn absorb(&mut self, other: SegmentResult) {
        self.total += other.total;
        self.top.extend(other.top);
        self.counts.merge(&other.counts);
        self.pinned_matches.extend(other.pinned_matches);
        self.timings.ranking += other.timings.ranking;
        self.timings.facets += other.timings.facets;
    }
}

/// One retrieval's shared inputs, run segment by segment.
struct Pass<'a> {
    r: &'a Retrieval<'a>,
    text: Option<&'a TextMatches<'a>>,
    plan: &'a browse::BrowsePlan,
    own_masks: &'a [u64],
    facet_masks: u64,
}

impl Pass<'_> {
    /// Filters, counts and ranks the matches of segment `ord`.
    fn segment(&self, ord: usize) -> Result<SegmentResult> {
        let r = self.r;
        crate::deadline::check()?;
        let mut out = SegmentResult::empty(r);
        let Some(columns) = r.snapshot.columns.get(ord) else {
            return Ok(out);
        };
        let segment = r.snapshot.searcher.segment_reader(ord as u32);
        let alive = segment.alive_bitset();
        let Some(text) = self.text else {
            let passing = self.browse(ord, columns, &mut out)?;
            if r.window > 0 {
                let started = std::time::Instant::now();
                out.top = self.best(&passing, ord, columns)?;
                out.timings.ranking += started.elapsed();
            }
            return Ok(out);
        };
        let matches: &[DocMatch] = text.segments.get(ord).map_or(&[], |m| m);
        let accepted = |m: &DocMatch| m.facts.matched & text.accept == text.accept;
        let (counted, passing, partial) =
            if alive.is_none() && self.sifts_nothing(ord) && matches.iter().all(accepted) {
                // Nothing to drop: every match is counted and ranked as it is.
                crate::deadline::check()?;
                let counted = matches.iter().map(|m| m.doc).collect();
                (counted, Cow::Borrowed(matches), Vec::new())
            } else {
                let (counted, passing, partial) = self.sift(
                    matches.iter().filter(|m| accepted(m)).copied(),
                    ord,
                    alive,
                    &mut out,
                )?;
                (counted, Cow::Owned(passing), partial)
            };
        out.total = counted.len() as u64;
        // Facets, one column at a time; a facet also counts the documents that fail
        // only its own filters (disjunctive faceting).
        timed(&mut out.timings.facets, || {
            let counted = Counted::new(&counted, segment.max_doc());
            for (i, spec) in r.facets.iter().enumerate() {
                out.counts.add_all(i, spec, columns, &counted);
                for &(doc, fails) in &partial {
                    if fails & !self.own_masks[i] == 0 {
                        out.counts.add(i, spec, columns, doc);
                    }
                }
            }
        });
        if r.window > 0 {
            let started = std::time::Instant::now();
            out.top = self.best(&passing, ord, columns)?;
            out.timings.ranking += started.elapsed();
        }
        Ok(out)
    }

    /// Browsing segment `ord` (no query text), a bitset at a time rather than a
    /// document at a time: the documents passing every filter are the AND of each
    /// clause's kept bitset, less the deleted and hidden ones; the total is their
    /// count, the facets count them column by column (a facet restricted by its own
    /// filters counts the documents passing the others: disjunctive faceting), and the
    /// ones to rank are read from the bitset in order, pins set aside. Returns those.
    fn browse(
        &self,
        ord: usize,
        columns: &crate::columns::SegmentColumns,
        out: &mut SegmentResult,
    ) -> Result<Vec<DocMatch>> {
        let r = self.r;
        crate::deadline::check()?;
        let segment = r.snapshot.searcher.segment_reader(ord as u32);
        let max_doc = segment.max_doc();
        let hidden = r.rules.hidden_bits(ord as u32, max_doc);
        let every = r.filters.every_clause();
        let live_passing = |mask: u64| {
            let mut bits = r.filters.passing_bits(columns, mask, max_doc);
            keep_live(&mut bits, segment.alive_bitset(), hidden.as_deref());
            bits
        };
        let counted = live_passing(every);
        out.total = counted.iter().map(|w| u64::from(w.count_ones())).sum();
        timed(&mut out.timings.facets, || {
            let all = Counted::from_bits(counted.clone(), max_doc);
            for (i, spec) in r.facets.iter().enumerate() {
                if self.plan.separate[i] {
                    continue;
                }
                let others = every & !self.own_masks[i];
                match others == every {
                    true => out.counts.add_all(i, spec, columns, &all),
                    false => {
                        let own = Counted::from_bits(live_passing(others), max_doc);
                        out.counts.add_all(i, spec, columns, &own);
                    }
                }
            }
        });
        crate::deadline::check()?;
        let mut ranked = counted;
        for pin in &r.rules.pins {
            let doc = pin.address.doc_id;
            if pin.address.segment_ord as usize == ord && bit_is_set(&ranked, doc) {
                out.pinned_matches.push(pin.address);
                if let Some(word) = ranked.get_mut(doc as usize / 64) {
                    *word &= !(1u64 << (doc % 64));
                }
            }
        }
        let mut passing = Vec::with_capacity(out.total as usize);
        for (w, &word) in ranked.iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                passing.push(DocMatch {
                    doc: (w * 64) as DocId + rest.trailing_zeros(),
                    text: 0.0,
                    facts: MatchFacts::default(),
                });
                rest &= rest - 1;
            }
        }
        Ok(passing)
    }

    /// Whether [`Pass::sift`] keeps every live match of segment `ord` (no filter, no
    /// hidden product there, no pin).
    fn sifts_nothing(&self, ord: usize) -> bool {
        let r = self.r;
        r.filters.is_empty()
            && r.rules.pins.is_empty()
            && r.rules.hidden().all(|a| a.segment_ord as usize != ord)
    }

    /// Hides, deletes and filters: the documents counted, those to rank (counted and
    /// not pinned), and those failing only facets' own filters (with their fail masks).
    #[allow(clippy::type_complexity)]
    fn sift(
        &self,
        matches: impl Iterator<Item = DocMatch>,
        ord: usize,
        alive: Option<&tantivy::fastfield::AliveBitSet>,
        out: &mut SegmentResult,
    ) -> Result<(Vec<DocId>, Vec<DocMatch>, Vec<(DocId, u64)>)> {
        let r = self.r;
        let mut ticker = crate::deadline::Ticker::default();
        // Sized for every match passing: growing them step by step copied each
        // element about twice more (a tenth of a one-letter query's time at 1M).
        let capacity = match matches.size_hint() {
            (_, Some(most)) => most,
            (least, None) => least,
        };
        let mut counted = Vec::with_capacity(capacity);
        let mut passing = Vec::with_capacity(capacity);
        let mut partial = Vec::new();
        let Some(columns) = r.snapshot.columns.get(ord) else {
            return Ok((counted, passing, partial));
        };
        let max_doc = r.snapshot.searcher.segment_reader(ord as u32).max_doc();
        let hidden = r.rules.hidden_bits(ord as u32, max_doc);
        let filters =
            (!r.filters.is_empty()).then(|| r.filters.on_segment(columns, max_doc, capacity, 0));
        for m in matches {
            let doc = m.doc;
            ticker.tick()?;
            if alive.is_some_and(|a| !a.is_alive(doc)) {
                continue;
            }
            let address = DocAddress::new(ord as u32, doc);
            if hidden.as_deref().is_some_and(|h| bit_is_set(h, doc)) {
                continue;
            }
            let fails = match &filters {
                None => 0,
                Some(filters) => filters.fail_mask(doc),
            };
            if fails == 0 {
                counted.push(doc);
                if r.rules.is_pinned(address) {
                    out.pinned_matches.push(address);
                } else {
                    passing.push(m);
                }
            } else if fails & !self.facet_masks == 0 {
                partial.push((doc, fails));
            }
        }
        Ok((counted, passing, partial))
    }

    /// The best `window` of `passing` in this segment.
    ///
    /// Block by block: first the cheap part of every document's rank (sort key,
    /// relevance tier, and its score with the profile's highest affinity, or none
    /// where the profile's tastes do not reach: [`Ranker::taste_reach`]) drops those
    /// that cannot reach the current top even with the clearest taste and every
    /// boost at once; the merchandising rules of those left are read (a buried one,
    /// or one whose own boosts leave it short, is dropped there); the affinities of
    /// the rest within reach are computed together ([`Ranker::affinities`]); then a
    /// document whose score with its own affinity and rules cannot beat the worst of
    /// the top is dropped before its learned signal is read. Every drop is strict, so
    /// the top is exactly the one scoring every document gives.
    fn best(
        &self,
        passing: &[DocMatch],
        ord: usize,
        columns: &crate::columns::SegmentColumns,
    ) -> Result<Vec<Candidate>> {
        /// Documents whose affinities are computed together.
        const BLOCK: usize = 512;
        let r = self.r;
        let browsing = self.text.is_none();
        let boost_ceiling = r.rules.max_factor();
        let mut ticker = crate::deadline::Ticker::default();
        let mut heap: BinaryHeap<Worst> = BinaryHeap::with_capacity(r.window + 1);
        let sort_values = r.sort.numeric.map(|n| columns.numeric(n));
        // The tier without taste; taste is one bit on top ([`Criteria::taste_bit`]).
        // Neighbouring matches often share their facts, so the last tier is kept.
        let taste_bit = r.criteria.taste_bit();
        let may_taste = !browsing && r.ranker.may_taste();
        let crowd_known = !browsing && r.ranker.knows_crowd();
        let mut last_tier: Option<(MatchFacts, u32)> = None;
        // Where the profile may see any taste ([`Ranker::taste_reach`]): elsewhere the
        // affinity is exactly 0, so the first pass bounds those documents tightly and
        // their affinities are never computed. Found once the top is full and a block
        // still lets many documents through; dropped when the matches lie mostly
        // within it (a query for what the shopper loves).
        let mut reach: Option<Vec<u64>> = None;
        let mut may_reach =
            r.ranker.max_affinity() > 0.0 && TASTE_REACH.load(AtomicOrdering::Relaxed);
        let mut hopefuls: Vec<Hopeful> = Vec::with_capacity(BLOCK.min(passing.len()));
        let mut docs: Vec<DocId> = Vec::with_capacity(hopefuls.capacity());
        let mut affinities: Vec<f32> = Vec::with_capacity(hopefuls.capacity());
        let bound = r
            .ranker
            .segment_bound(columns, ord as u32, browsing, boost_ceiling);
        let max_doc = r.snapshot.searcher.segment_reader(ord as u32).max_doc();
        let effects = r.rules.in_segment(columns, max_doc);
        for block in passing.chunks(BLOCK) {
            hopefuls.clear();
            // The first pass only reads the top: its worst is looked up once a block.
            let bar = unburied_worst(&heap, r.window).map(|w| (w.key, w.tier, w.score));
            let reach_bits = reach.as_deref();
            for m in block {
                ticker.tick()?;
                let address = DocAddress::new(ord as u32, m.doc);
                // Matching leaves `crowd` 0 and `taste` false: only a known crowd
                // verdict changes the facts before the affinity is known.
                debug_assert!(m.facts.crowd == 0 && !m.facts.taste);
                let facts = match crowd_known {
                    false => m.facts,
                    true => MatchFacts {
                        crowd: r.ranker.crowd(columns, address),
                        taste: false,
                        ..m.facts
                    },
                };
                let untasted = match last_tier {
                    Some((f, tier)) if f == facts => tier,
                    _ => {
                        let tier = r.criteria.tier(&facts);
                        last_tier = Some((facts, tier));
                        tier
                    }
                };
                let key = match sort_values {
                    Some(values) => oriented(
                        values.get(m.doc as usize).copied().unwrap_or(f64::NAN),
                        r.sort.descending,
                    ),
                    None => 0.0,
                };
                // The best tier and score the document could reach before its
                // affinity is known (the profile's highest, or 0 out of its reach):
                // can it pass the worst of the top?
                let reached = reach_bits.is_none_or(|bits| bit_is_set(bits, m.doc));
                let hopeful = untasted | if may_taste && reached { taste_bit } else { 0 };
                // Against the worst of the top: first with every boost at once, then,
                // for a match that needs a boost to pass, with its own boosts.
                let mut factor = None;
                if let Some((worst_key, worst_tier, worst_score)) = bar {
                    match key
                        .total_cmp(&worst_key)
                        .then_with(|| hopeful.cmp(&worst_tier))
                    {
                        Ordering::Less => continue,
                        Ordering::Greater => {}
                        Ordering::Equal => {
                            let (bound, ceiling) = bound.of(m.doc, m.text, reached);
                            debug_assert_eq!(
                                bound.to_bits(),
                                r.ranker
                                    .upper_bound(
                                        columns,
                                        address,
                                        m.text,
                                        browsing,
                                        if reached {
                                            r.ranker.max_affinity()
                                        } else {
                                            0.0
                                        },
                                    )
                                    .to_bits()
                            );
                            let short = |b: f32| b.total_cmp(&worst_score).is_lt();
                            if short(ceiling) {
                                continue;
                            }
                            if short(bound) {
                                let own = effects.factor(m.doc);
                                if short(bound * own) {
                                    continue;
                                }
                                factor = Some(own);
                            }
                        }
                    }
                }
                let buried = effects.is_buried(m.doc);
                // A buried match ranks below the unburied worst of a full top.
                if bar.is_some() && buried {
                    continue;
                }
                let effect = crate::rules::Effect {
                    factor: factor.unwrap_or_else(|| effects.factor(m.doc)),
                    buried,
                };
                hopefuls.push(Hopeful {
                    m: *m,
                    facts,
                    untasted,
                    key,
                    reached,
                    effect,
                });
            }
            if may_reach && bar.is_some() && hopefuls.len() * 2 > block.len() {
                may_reach = false;
                let limit = REACH_WORDS_PER_MATCH * passing.len();
                reach = r.ranker.taste_reach(columns, max_doc, limit);
                if let Some(bits) = reach.as_deref() {
                    for h in hopefuls.iter_mut() {
                        h.reached = bit_is_set(bits, h.m.doc);
                    }
                }
            }
            // The affinities of the block's hopefuls, those out of reach left out when
            // they are many (computing them would give exactly 0 too).
            let reached = hopefuls.iter().filter(|h| h.reached).count();
            let sparse = reached * 4 <= hopefuls.len() * 3;
            if hopefuls.len() == block.len() && !sparse {
                reach = None;
            }
            docs.clear();
            match sparse {
                true => docs.extend(hopefuls.iter().filter(|h| h.reached).map(|h| h.m.doc)),
                false => docs.extend(hopefuls.iter().map(|h| h.m.doc)),
            }
            r.ranker.affinities(columns, &docs, &mut affinities);
            if sparse {
                spread_over_reached(&mut affinities, hopefuls.iter().map(|h| h.reached));
            }
            for (h, &affinity) in hopefuls.iter().zip(&affinities) {
                let (doc, text) = (h.m.doc, h.m.text);
                let address = DocAddress::new(ord as u32, doc);
                let taste = !browsing && r.ranker.strong_taste(affinity);
                let tier = h.untasted | if taste { taste_bit } else { 0 };
                let effect = h.effect;
                if let Some(worst) = unburied_worst(&heap, r.window) {
                    // With its own affinity and rules, can it pass the worst of the top?
                    if effect.buried {
                        continue;
                    }
                    let beats = h
                        .key
                        .total_cmp(&worst.key)
                        .then_with(|| tier.cmp(&worst.tier))
                        .then_with(|| {
                            let best_case = r
                                .ranker
                                .upper_bound(columns, address, text, browsing, affinity)
                                * effect.factor;
                            best_case.total_cmp(&worst.score)
                        });
                    if beats == Ordering::Less {
                        continue;
                    }
                }
                let breakdown = r.ranker.parts_with(columns, address, text, affinity);
                let facts = MatchFacts { taste, ..h.facts };
                debug_assert_eq!(tier, r.criteria.tier(&facts));
                let candidate = Candidate {
                    address,
                    tier,
                    facts,
                    score: r.ranker.score(&breakdown, browsing) * effect.factor,
                    breakdown,
                    buried: effect.buried,
                    key: h.key,
                    tie: columns.tie(doc),
                };
                if heap.len() < r.window {
                    heap.push(Worst(candidate));
                } else if let Some(worst) = heap.peek()
                    && candidate.cmp_rank(&worst.0) == Ordering::Greater
                {
                    heap.pop();
                    heap.push(Worst(candidate));
                }
            }
        }
        Ok(heap.into_iter().map(|w| w.0).collect())
    }
}

/// A match whose sort key and relevance tier could still reach the top.
struct Hopeful {
    m: DocMatch,
    facts: MatchFacts,
    /// Its tier without taste.
    untasted: u32,
    key: f64,
    /// Whether its affinity may be above 0 (else it is 0).
    reached: bool,
    /// What the merchandising rules do to it.
    effect: crate::rules::Effect,
}

/// Spreads `values`, one per reached entry of `reached` in order, over all its
/// entries: 0 where not reached.
fn spread_over_reached(
    values: &mut Vec<f32>,
    reached: impl DoubleEndedIterator<Item = bool> + ExactSizeIterator,
) {
    let mut next = values.len();
    values.resize(reached.len(), 0.0);
    for (at, reached) in reached.enumerate().rev() {
        // `next <= at`: the values move up, never over one not yet moved.
        let value = match reached && next > 0 {
            true => {
                next -= 1;
                values.get(next).copied().unwrap_or(0.0)
            }
            false => 0.0,
        };
        if let Some(slot) = values.get_mut(at) {
            *slot = value;
        }
    }
}

static TASTE_REACH: AtomicBool = AtomicBool::new(true);

/// Whether ranking bounds the documents outside a profile's reach by an affinity of 0
/// (on by default). Off, every hopeful document's affinity is computed: the same
/// results, which tests compare.
pub fn set_taste_reach(enabled: bool) {
    TASTE_REACH.store(enabled, AtomicOrdering::Relaxed);
}

/// Bitset words a segment's ranking may combine, per match, to find the documents a
/// profile's tastes reach: past that, finding them costs more than the affinities it
/// spares (an affinity reads every taste group's columns; a word is one `or`).
const REACH_WORDS_PER_MATCH: usize = 16;

/// The worst of a full top, when it is not buried (a buried worst is beaten by any
/// document a rule does not bury, which only its rules tell).
fn unburied_worst(heap: &BinaryHeap<Worst>, window: usize) -> Option<&Candidate> {
    heap.peek()
        .map(|w| &w.0)
        .filter(|w| heap.len() >= window && !w.buried)
}

/// Clears from `bits` (a segment's document bitset) the deleted documents and those
/// set in `hidden`.
fn keep_live(
    bits: &mut [u64],
    alive: Option<&tantivy::fastfield::AliveBitSet>,
    hidden: Option<&[u64]>,
) {
    if let Some(hidden) = hidden {
        for (word, hide) in bits.iter_mut().zip(hidden) {
            *word &= !hide;
        }
    }
    let Some(alive) = alive else {
        return;
    };
    for (w, word) in bits.iter_mut().enumerate() {
        let mut rest = *word;
        while rest != 0 {
            let bit = rest.trailing_zeros();
            rest &= rest - 1;
            if alive.is_deleted((w * 64) as DocId + bit) {
                *word &= !(1u64 << bit);
            }
        }
    }
}

/// Places the active pins at their slots.
///
/// A pinned product shows where the merchandiser put it on every page and under every
/// profile, provided it passes the request's filters; one that did not match the query
/// text is still shown, and then counted in the total and the facets too. When fewer
/// results than a pin's slot exist, the pin closes up behind them.
pub fn place_pins(r: &Retrieval, mut retrieved: Retrieved) -> Retrieved {
    if r.rules.pins.is_empty() {
        return retrieved;
    }
    let mut pinned = Vec::new();
    for pin in &r.rules.pins {
        let address = pin.address;
        let Some(columns) = r.snapshot.columns.get(address.segment_ord as usize) else {
            continue;
        };
        if !retrieved.pinned_matches.contains(&address) {
            let segment = r.snapshot.searcher.segment_reader(address.segment_ord);
            let alive = segment
                .alive_bitset()
                .is_none_or(|a| a.is_alive(address.doc_id));
            if !alive || r.filters.fail_mask(columns, address.doc_id) != 0 {
                continue;
            }
            retrieved.total += 1;
            for (i, spec) in r.facets.iter().enumerate() {
                retrieved.facet_counts.add(i, spec, columns, address.doc_id);
            }
        }
        let breakdown = r.ranker.parts(columns, address, 0.0);
        pinned.push((pin.slot, address, breakdown));
    }
    let mut organic = std::mem::take(&mut retrieved.top).into_iter().peekable();
    let mut pins = pinned.into_iter().peekable();
    let mut top = Vec::with_capacity(r.window);
    while top.len() < r.window {
        let position = top.len() + 1;
        let take_pin = match (pins.peek(), organic.peek()) {
            (Some((slot, _, _)), Some(_)) => *slot <= position,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_pin {
            pins.next().map(|(_, address, breakdown)| Candidate {
                address,
                tier: organic.peek().map(|c| c.tier).unwrap_or(0),
                facts: MatchFacts::default(),
                score: organic.peek().map(|c| c.score).unwrap_or(0.0),
                breakdown,
                buried: false,
                key: 0.0,
                tie: 0,
            })
        } else {
            organic.next()
        };
        match next {
            Some(candidate) => top.push(candidate),
            None => break,
        }
    }
    retrieved.top = top;
    retrieved
}

/// A sort value turned so that larger is better; missing values sort last.
fn oriented(value: f64, descending: bool) -> f64 {
    if value.is_nan() {
        f64::NEG_INFINITY
    } else if descending {
        value
    } else {
        -value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreading_puts_each_value_at_its_reached_entry() {
        let mut values = vec![1.0, 2.0, 3.0];
        let reached = [false, true, true, false, false, true];
        spread_over_reached(&mut values, reached.iter().copied());
        assert_eq!(values, [0.0, 1.0, 2.0, 0.0, 0.0, 3.0]);
        let mut all = vec![4.0, 5.0];
        spread_over_reached(&mut all, [true, true].into_iter());
        assert_eq!(all, [4.0, 5.0]);
        let mut none: Vec<f32> = Vec::new();
        spread_over_reached(&mut none, [false, false].into_iter());
        assert_eq!(none, [0.0, 0.0]);
    }
}
