//! `clerk report`: click-through and conversion per variant, from stored events.
//!
//! Every event carries the variant its shopper was served (personalized, holdout,
//! anonymous), so comparing the personalized group with the holdout group measures
//! what personalization is worth to the store.
//!
//! [`analytics`] adds the merchandiser's query figures (top, zero-result and low
//! click-through queries per [`crate::crowd::analytics`]), rebuilt from the stored
//! events with the same models the server keeps, and checked against the index in the
//! data directory.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::cli::ReportArgs;
use crate::crowd::{AnalyticsReport, Crowd, CrowdSettings};
use crate::engine::Engine;
use crate::error::Result;
use crate::events::{Event, EventKind};
use crate::index::DataDir;
use crate::shoppers::ShopperStore;

/// Behaviour of one variant's shoppers.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct VariantReport {
    /// Distinct shoppers. `clerk report` counts them exactly; analytics
    /// (`GET /v1/admin/analytics`) exactly up to 256 a day, estimated beyond.
    pub shoppers: usize,
    pub searches: u64,
    pub views: u64,
    pub clicks: u64,
    pub add_to_carts: u64,
    pub purchases: u64,
    /// Clicks per search.
    pub click_through: f64,
    /// Purchases per search.
    pub conversion: f64,
    /// Share of shoppers who bought anything.
    pub buyer_share: f64,
}

/// Tallies events by variant.
#[derive(Default)]
pub struct Tally {
    variants: BTreeMap<&'static str, (VariantReport, HashSet<String>, HashSet<String>)>,
}

impl Tally {
    pub fn add(&mut self, event: &Event) {
        let (report, shoppers, buyers) = self.variants.entry(event.variant.name()).or_default();
        shoppers.insert(event.shopper.clone());
        match event.kind {
            EventKind::Search => report.searches += 1,
            EventKind::View => report.views += 1,
            EventKind::Click => report.clicks += 1,
            EventKind::AddToCart => report.add_to_carts += 1,
            EventKind::Purchase => {
                report.purchases += 1;
                buyers.insert(event.shopper.clone());
            }
        }
    }

    /// Reports by variant name, with rates filled in.
    pub fn finish(self) -> BTreeMap<&'static str, VariantReport> {
        self.variants
            .into_iter()
            .map(|(name, (mut report, shoppers, buyers))| {
                report.shoppers = shoppers.len();
                let per_search = |n: u64| {
                    if report.searches > 0 {
                        n as f64 / report.searches as f64
                    } else {
                        0.0
                    }
                };
                report.click_through = per_search(report.clicks);
                report.conversion = per_search(report.purchases);
                report.buyer_share = if shoppers.is_empty() {
                    0.0
                } else {
                    buyers.len() as f64 / shoppers.len() as f64
                };
                (name, report)
            })
            .collect()
    }
}

/// The query analytics of `clerk report`: the stored events fed to fresh crowd
/// models, zero results checked against the data directory's index.
pub fn analytics(args: &ReportArgs, store: &dyn ShopperStore) -> Result<AnalyticsReport> {
    let engine =
        Engine::open_with_config(DataDir::new(&args.data_dir), Some(args.config_dir.clone()))
            .or_else(|_| Engine::open(DataDir::new(&args.data_dir)))?;
    let crowd = Crowd::new(CrowdSettings::from_affinity(
        &engine.snapshot().schema.affinity,
    ));
    crowd.catch_up(store)?;
    let engine = engine.with_crowd(std::sync::Arc::new(crowd));
    engine.analytics(args.days, args.limit)
}

/// The reports as a table.
pub fn render(reports: &BTreeMap<&'static str, VariantReport>) -> String {
    let mut out = String::from(
        "variant        shoppers  searches    clicks  purchases     CTR  conversion  buyers\n",
    );
    for (name, r) in reports {
        out.push_str(&format!(
            "{name:<14} {:>8} {:>9} {:>9} {:>10} {:>6.1}% {:>10.2}% {:>6.1}%\n",
            r.shoppers,
            r.searches,
            r.clicks,
            r.purchases,
            r.click_through * 100.0,
            r.conversion * 100.0,
            r.buyer_share * 100.0
        ));
    }
    if let (Some(p), Some(h)) = (reports.get("personalized"), reports.get("holdout"))
        && h.click_through > 0.0
        && h.conversion > 0.0
    {
        out.push_str(&format!(
            "lift (personalized vs holdout): CTR {:+.1}%, conversion {:+.1}%\n",
            (p.click_through / h.click_through - 1.0) * 100.0,
            (p.conversion / h.conversion - 1.0) * 100.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Variant;

    fn event(shopper: &str, kind: EventKind, variant: Variant) -> Event {
        Event {
            kind,
            shopper: shopper.into(),
            product: None,
            query: None,
            position: None,
            ts: 0,
            variant,
            served: None,
        }
    }

    #[test]
    fn rates_per_variant() {
        let mut tally = Tally::default();
        for e in [
            event("a", EventKind::Search, Variant::Personalized),
            event("a", EventKind::Search, Variant::Personalized),
            event("a", EventKind::Click, Variant::Personalized),
            event("a", EventKind::Purchase, Variant::Personalized),
            event("b", EventKind::Search, Variant::Holdout),
            event("b", EventKind::Search, Variant::Holdout),
            event("b", EventKind::Search, Variant::Holdout),
            event("b", EventKind::Search, Variant::Holdout),
            event("b", EventKind::Click, Variant::Holdout),
            event("c", EventKind::Search, Variant::Holdout),
        ] {
            tally.add(&e);
        }
        let reports = tally.finish();
        assert_eq!(reports["personalized"].click_through, 0.5);
        assert_eq!(reports["personalized"].conversion, 0.5);
        assert_eq!(reports["personalized"].buyer_share, 1.0);
        assert_eq!(reports["holdout"].shoppers, 2);
        assert_eq!(reports["holdout"].click_through, 0.2);
        assert_eq!(reports["holdout"].conversion, 0.0);
        assert!(render(&reports).contains("personalized"));
    }
}
