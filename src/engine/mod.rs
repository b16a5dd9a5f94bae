//! The engine: the state a running clerk serves from.
//!
//! It owns the live index of a data directory and swaps to a new one when `clerk
//! index` activates it (the data directory's `CURRENT` changes). Every caller — the
//! HTTP handlers, `clerk search`, `clerk eval`, the benchmarks — runs queries through
//! [`Engine::search`], so they all share one pipeline. Shopper events and profiles
//! go through the engine too ([`shoppers`]), so a profile is always read against the
//! index it was built from.

mod crowd;
mod learned;
mod products;
mod replicas;
mod shoppers;

pub use crowd::{MAX_ANALYTICS_DAYS, MAX_ANALYTICS_LIMIT};
pub use learned::{LearnedQuery, LearnedReport, MAX_LEARNED_LIMIT};
pub use replicas::ReloadBroadcast;
pub use shoppers::{AffinityView, ProfileView};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::autocomplete::Suggestion;
use crate::columns::{ColumnKind, ValueId};
use crate::config::{LoadReport, StoreConfig};
use crate::error::{Error, Result};
use crate::events::Variant;
use crate::index::{DataDir, LiveIndex, Snapshot};
use crate::learning::{Learning, ProductKinds, category_key};
use crate::product_feed::ProductFeed;
use crate::rules::CompiledRules;
use crate::search::{self, SearchContext, SearchRequest, SearchResponse, ShopperContext};
use crate::shoppers::ShopperStore;

/// What the catalog says a product is, for learning what a query leads to: its type
/// words (`_type`) and the leaf paths of its categories.
fn product_kinds(snapshot: &Snapshot, id: &str) -> ProductKinds {
    let Some(address) = snapshot.find(id) else {
        return ProductKinds::default();
    };
    let Some(columns) = snapshot.columns.get(address.segment_ord as usize) else {
        return ProductKinds::default();
    };
    let vocabulary = &snapshot.vocabulary;
    let values = |column: usize| {
        columns
            .keyword(column)
            .map_or(&[][..], |c| c.values(address.doc_id))
    };
    let mut kinds = ProductKinds::default();
    if let Some(column) = vocabulary.column_id(crate::schema::fields::TYPE_COLUMN) {
        let dict = vocabulary.column(column);
        kinds.types = values(column)
            .iter()
            .map(|&v| dict.label(v).to_string())
            .collect();
    }
    for (column, dict) in vocabulary.columns().iter().enumerate() {
        if dict.kind != ColumnKind::Category {
            continue;
        }
        let held = values(column);
        // Leaves: the values no other value of the product descends from.
        let parents: Vec<ValueId> = held.iter().map(|&v| dict.parent(v)).collect();
        kinds.categories.extend(
            held.iter()
                .filter(|v| !parents.contains(v))
                .map(|&v| category_key(&dict.name, &dict.path(v))),
        );
    }
    kinds
}

/// A data directory's live index and the store's configuration, ready to search.
pub struct Engine {
    data: DataDir,
    index: ArcSwap<LiveIndex>,
    /// The index directory currently open, to notice when `CURRENT` moves.
    open_dir: Mutex<PathBuf>,
    /// Where `synonyms/` and `boosts/` are read from; `None` runs without them.
    config_dir: Option<PathBuf>,
    config: ArcSwap<StoreConfig>,
    /// Events and profiles; `None` serves everyone anonymously.
    shoppers: Option<Arc<dyn ShopperStore>>,
    /// What the crowd's events taught ranking (with a shopper store).
    learning: Option<Arc<Learning>>,
    /// Rules compiled for the latest (snapshot, configuration) pair.
    compiled: Mutex<Option<CompiledFor>>,
    /// Models learned from every shopper's events (`clerk serve` attaches them).
    crowd: Option<Arc<crate::crowd::Crowd>>,
    /// Whether queries find anything today, for suggestions and analytics.
    finds_cache: Mutex<Option<crowd::FindsCache>>,
    /// The catalog feed shared with other replicas; `None` updates the index directly.
    feed: Option<Arc<ProductFeed>>,
    /// Held while a product update is logged and applied, and while a new index
    /// catches up with the log and is swapped in: an update lands either in the log
    /// before the catch-up reads it, or in the new index.
    updating: Mutex<()>,
}

/// Rules compiled for one snapshot and configuration (held, so neither is reused).
struct CompiledFor {
    snapshot: Arc<Snapshot>,
    config: Arc<StoreConfig>,
    rules: Arc<CompiledRules>,
}

impl Engine {
    /// Opens the live index of `data`, without store configuration.
    pub fn open(data: DataDir) -> Result<Engine> {
        Engine::open_with_config(data, None)
    }

    /// Opens the live index of `data` and the configuration in `config_dir`.
    pub fn open_with_config(data: DataDir, config_dir: Option<PathBuf>) -> Result<Engine> {
        let index = LiveIndex::open_current(&data)?;
        let config = match &config_dir {
            Some(dir) => StoreConfig::load(dir, &index.snapshot())?,
            None => StoreConfig::default(),
        };
        let open_dir = Mutex::new(index.dir().to_path_buf());
        Ok(Engine {
            data,
            index: ArcSwap::from_pointee(index),
            open_dir,
            config_dir,
            config: ArcSwap::from_pointee(config),
            shoppers: None,
            learning: None,
            compiled: Mutex::new(None),
            crowd: None,
            finds_cache: Mutex::new(None),
            feed: None,
            updating: Mutex::new(()),
        })
    }

    /// The same engine, recording events and personalizing with `store`.
    pub fn with_shoppers(mut self, store: Arc<dyn ShopperStore>) -> Engine {
        self.shoppers = Some(store);
        self.learning = Some(Arc::new(Learning::new()));
        self
    }

    /// Folds the events recorded since the last call into the learned signals
    /// (`crate::learning`); returns how many were read. The server calls it every
    /// second; the signals survive a restart because they are rebuilt from the store.
    pub fn learn(&self) -> Result<usize> {
        let (Some(learning), Some(store)) = (&self.learning, self.shoppers.as_deref()) else {
            return Ok(0);
        };
        let snapshot = self.snapshot();
        let settings = snapshot.schema.affinity.clone();
        let ranked = |q: &str, learn: bool, per_page: usize| -> Result<Vec<String>> {
            let request = SearchRequest {
                per_page,
                learn,
                ..SearchRequest::query(q)
            };
            Ok(self
                .search(&request)?
                .hits
                .into_iter()
                .map(|h| h.id)
                .collect())
        };
        let rank = |q: &str| ranked(q, false, search::MAX_PER_PAGE);
        let rank_learned = |q: &str| ranked(q, true, crate::learning::PAGE);
        let kinds = |id: &str| product_kinds(&snapshot, id);
        learning.refresh(store, &settings, &rank, &kinds, &rank_learned)
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<StoreConfig> {
        self.config.load_full()
    }

    /// Re-reads the configuration; on any problem the old one keeps serving.
    pub fn reload_config(&self) -> Result<LoadReport> {
        let Some(dir) = &self.config_dir else {
            return Ok(self.config().report());
        };
        let config = StoreConfig::load(dir, &self.snapshot())?;
        let report = config.report();
        self.config.store(Arc::new(config));
        Ok(report)
    }

    /// The data directory served.
    pub fn data_dir(&self) -> &DataDir {
        &self.data
    }

    /// The live index.
    pub fn index(&self) -> Arc<LiveIndex> {
        self.index.load_full()
    }

    /// The current snapshot of the live index.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.index.load().snapshot()
    }

    /// Whether shopper profiles are read over the network (a Redis store).
    pub fn shopper_store_is_remote(&self) -> bool {
        self.shoppers
            .as_ref()
            .is_some_and(|store| store.is_remote())
    }

    /// Number of searchable products.
    pub fn documents(&self) -> u64 {
        self.snapshot().num_docs()
    }

    /// Runs one search through the whole pipeline.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResponse> {
        let snapshot = self.snapshot();
        let config = self.config();
        let rules = self.compiled_rules(&snapshot, &config);
        // A shared store that is down costs personalization, never the search.
        let (shopper, unavailable) =
            match self.shopper_context(request.shopper.as_deref(), &snapshot) {
                Ok(shopper) => (shopper, None),
                Err(Error::Unavailable(reason)) => (ShopperContext::anonymous(), Some(reason)),
                Err(e) => return Err(e),
            };
        // Learned signals are off for the holdout, so their lift can be measured.
        let learned = match (&self.learning, shopper.variant, request.learn) {
            (Some(learning), variant, true) if variant != Variant::Holdout => {
                Some(learning.signals().for_query(&request.q, &snapshot))
            }
            _ => None,
        };
        let context = SearchContext {
            snapshot: &snapshot,
            config: &config,
            rules: &rules,
            shopper: &shopper,
            learned: learned.as_ref(),
        };
        let mut response = search::search(&context, request)?;
        if let Some(reason) = unavailable {
            response.personalization = Some("unavailable");
            response.notice = Some(format!("served without personalization: {reason}"));
        }
        Ok(response)
    }

    /// The rules compiled for `snapshot`, compiled again when the snapshot or the
    /// configuration changed since the last search.
    fn compiled_rules(
        &self,
        snapshot: &Arc<Snapshot>,
        config: &Arc<StoreConfig>,
    ) -> Arc<CompiledRules> {
        if let Ok(cache) = self.compiled.lock()
            && let Some(cached) = cache.as_ref()
            && Arc::ptr_eq(&cached.snapshot, snapshot)
            && Arc::ptr_eq(&cached.config, config)
        {
            return cached.rules.clone();
        }
        let rules = Arc::new(config.rules.compile(snapshot));
        if let Ok(mut cache) = self.compiled.lock() {
            *cache = Some(CompiledFor {
                snapshot: snapshot.clone(),
                config: config.clone(),
                rules: rules.clone(),
            });
        }
        rules
    }

    /// Autocomplete suggestions for what a shopper has typed: the catalog's, and
    /// popular searches when a crowd is attached.
    pub fn autocomplete(&self, typed: &str, limit: usize) -> Vec<Suggestion> {
        self.merged_suggestions(typed, limit)
    }

    /// Switches to a newly activated index, if `CURRENT` names one; returns whether it
    /// did. A lone server first replays the product updates logged since the new
    /// index's build, so none acknowledged meanwhile is lost (replicas get them from
    /// the catalog feed instead).
    pub fn follow_current(&self) -> Result<bool> {
        let Some(current) = self.data.current_index()? else {
            return Ok(false);
        };
        let _updating = self.lock_updates()?;
        let mut open_dir = self
            .open_dir
            .lock()
            .map_err(|_| Error::Internal("engine lock poisoned".into()))?;
        if *open_dir == current {
            return Ok(false);
        }
        let index = LiveIndex::open(&current)?;
        if self.feed.is_none() {
            self.replay_log_into(&index)?;
        }
        // Synonyms are compiled with the analyzer, which the new index may change.
        if let Some(dir) = &self.config_dir {
            let config = StoreConfig::load(dir, &index.snapshot())?;
            self.config.store(Arc::new(config));
        }
        self.index.store(Arc::new(index));
        tracing::info!("switched to index {}", current.display());
        *open_dir = current;
        Ok(true)
    }
}
