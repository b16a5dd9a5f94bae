//! Shared by the benchmarks: cached catalogs and indexes, the query mix, 500 rules, a
//! shopper with a rich profile, and the stages of the pipeline to time.
//!
//! Catalogs and indexes are built once and cached under `target/bench-data/`, so only
//! the first run pays for generating and indexing (a million products take about a
//! minute on two cores).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clerk::engine::Engine;
use clerk::index::{DataDir, Quiet, build_index};
use clerk::schema::StoreSchema;
use clerk::search::SearchRequest;
use clerk::shoppers::{RedbStore, STORE_FILE, ShopperStore, in_holdout};
use serde_json::json;
use tantivy::Term;
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;

/// Where cached benchmark data lives.
pub fn data_root() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench-data")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A catalog to benchmark on.
#[derive(Clone, Copy, Debug)]
pub enum Catalog {
    Demo(u64),
    Icecat,
}

impl Catalog {
    pub fn name(self) -> String {
        match self {
            Catalog::Demo(n) => format!("demo-{n}"),
            Catalog::Icecat => "icecat-19k".to_string(),
        }
    }

    fn schema(self) -> StoreSchema {
        let file = match self {
            Catalog::Demo(_) => "index-schema/demo.toml",
            Catalog::Icecat => "index-schema/icecat.toml",
        };
        StoreSchema::load(&repo().join(file)).expect("schema")
    }

    /// The data directory with this catalog indexed (built on first use).
    pub fn data_dir(self) -> PathBuf {
        let dir = data_root().join(self.name());
        let data = DataDir::new(&dir);
        if data.current_index().ok().flatten().is_some() {
            return dir;
        }
        std::fs::create_dir_all(&dir).expect("bench data dir");
        let catalog = match self {
            Catalog::Demo(n) => {
                let path = dir.join("catalog.jsonl");
                clerk::demo::write_catalog(&path, n, 42).expect("demo catalog");
                path
            }
            Catalog::Icecat => {
                clerk::shared_data_dir().join("data/icecat_chorus_19k/catalog.jsonl.gz")
            }
        };
        eprintln!(
            "indexing {} for the benchmarks (cached in {})",
            self.name(),
            dir.display()
        );
        build_index(&catalog, &self.schema(), &data, &mut Quiet).expect("index");
        if let Catalog::Demo(_) = self {
            let _ = std::fs::remove_file(&catalog);
        }
        dir
    }

    /// The query mix: head queries, tail queries (four words), typo'd queries, broad
    /// one-letter prefixes, and browsing with filters (empty query).
    pub fn mix(self) -> Vec<SearchRequest> {
        let q = |text: &str| SearchRequest::query(text);
        let browse = |filters: &[&str]| SearchRequest {
            filters: filters.iter().map(|f| f.to_string()).collect(),
            ..SearchRequest::query("")
        };
        match self {
            Catalog::Demo(_) => vec![
                q("lamp "),
                q("sofa "),
                q("rug "),
                q("grey linen sofa modern "),
                q("brass floor lamp 65 "),
                q("oak dining table extendable "),
                q("sofq "),
                q("velvit chair "),
                q("chandelir "),
                q("s"),
                q("b"),
                browse(&["category:Furniture/Living Room"]),
                browse(&["brand:Nordby", "price:100..500"]),
                browse(&["color:Grey|Navy", "in_stock:true"]),
            ],
            Catalog::Icecat => vec![
                q("laptop "),
                q("toner "),
                q("hdmi cable "),
                q("hp laserjet black toner "),
                q("usb to serial adapter "),
                q("wireles mouse "),
                q("labtop "),
                q("t"),
                q("h"),
                browse(&["category:Printers"]),
                browse(&["brand:HP", "price:100..500"]),
            ],
        }
    }

    /// Facets counted at the last stage.
    pub fn facets(self) -> Vec<String> {
        let names: &[&str] = match self {
            Catalog::Demo(_) => &["brand", "category", "price", "color", "material", "style"],
            Catalog::Icecat => &[
                "brand",
                "category",
                "price",
                "product_colour",
                "form_factor",
                "print_technology",
            ],
        };
        names.iter().map(|s| s.to_string()).collect()
    }
}

/// 500 merchandising rules: a few store-wide, most for particular queries (the usual
/// shape of a store's rule set), written once into a config folder for `catalog`.
pub fn rules_config(catalog: Catalog, engine: &Engine) -> PathBuf {
    let dir = data_root().join(format!("config-{}", catalog.name()));
    let boosts = dir.join("boosts");
    std::fs::create_dir_all(&boosts).expect("rules dir");
    std::fs::create_dir_all(dir.join("synonyms")).expect("synonyms dir");
    for file in ["home.txt", "electronics.txt"] {
        std::fs::copy(
            repo().join("synonyms").join(file),
            dir.join("synonyms").join(file),
        )
        .expect("synonyms");
    }
    let snapshot = engine.snapshot();
    let ids: Vec<String> = (0..60)
        .filter_map(|i| {
            let address = tantivy::DocAddress::new(0, i * 7);
            clerk::search::load_product(&snapshot, address)
                .ok()
                .map(|(id, _)| id)
        })
        .collect();
    let brand = match catalog {
        Catalog::Demo(_) => "Nordby",
        Catalog::Icecat => "HP",
    };
    let mut text = String::new();
    match catalog {
        Catalog::Demo(_) => text.push_str(
            "[[rule]]\nname = \"stock\"\nbury = [{ where = \"in_stock = false\" }]\n\
             [[rule]]\nname = \"new\"\nboost = [{ where = \"created_at within 30 days\", factor = 1.2 }]\n",
        ),
        Catalog::Icecat => text.push_str("[[rule]]\nname = \"cheap last\"\ndemote = [{ where = \"price < 5\", factor = 0.8 }]\n"),
    }
    let words = [
        "lamp", "sofa", "rug", "chair", "table", "mirror", "vase", "bed", "desk", "stool", "toner",
        "cable", "mouse", "laptop", "monitor", "printer", "ink", "adapter", "battery", "headset",
    ];
    for i in 0..498 {
        let word = words[i % words.len()];
        let query = format!("{word} {i}");
        let pin = &ids[i % ids.len()];
        text.push_str(&format!(
            "[[rule]]\nname = \"rule {i}\"\nquery = \"{query}\"\npin = [{{ id = \"{pin}\", position = {} }}]\nboost = [{{ where = \"brand = '{brand}'\", factor = 1.{} }}]\n",
            1 + i % 5,
            1 + i % 9
        ));
    }
    std::fs::write(boosts.join("bench.toml"), text).expect("rules file");
    dir
}

/// The id of a shopper with a rich, consistent profile (120 events), recorded in a
/// fresh store beside the benchmark data.
pub fn rich_shopper(engine: &Engine) -> String {
    let snapshot = engine.snapshot();
    let shopper = (0..)
        .map(|i| format!("bench-{i}"))
        .find(|s| !in_holdout(s, 0.1))
        .unwrap_or_default();
    let mut events = Vec::new();
    for i in 0..120u32 {
        let address = tantivy::DocAddress::new(
            0,
            (i * 13) % snapshot.searcher.segment_reader(0).max_doc().max(1),
        );
        if let Ok((id, _)) = clerk::search::load_product(&snapshot, address) {
            let kind = ["view", "view", "click", "add_to_cart", "purchase"][i as usize % 5];
            events.push(json!({"type": kind, "shopper": shopper, "product": id}));
        }
    }
    engine
        .record_events(&serde_json::to_vec(&events).unwrap_or_default())
        .expect("profile events");
    shopper
}

/// An engine over `catalog`, with 500 rules and a shopper store.
pub struct Bench {
    pub catalog: Catalog,
    pub engine: Arc<Engine>,
    pub shopper: String,
    _store_dir: tempfile::TempDir,
}

impl Bench {
    pub fn new(catalog: Catalog) -> Bench {
        let data = catalog.data_dir();
        let plain = Engine::open(DataDir::new(&data)).expect("engine");
        let config = rules_config(catalog, &plain);
        let store_dir = tempfile::tempdir().expect("store dir");
        let store: Arc<dyn ShopperStore> =
            Arc::new(RedbStore::open(&store_dir.path().join(STORE_FILE)).expect("store"));
        let engine = Engine::open_with_config(DataDir::new(&data), Some(config))
            .expect("engine with rules")
            .with_shoppers(store);
        let shopper = rich_shopper(&engine);
        Bench {
            catalog,
            engine: Arc::new(engine),
            shopper,
            _store_dir: store_dir,
        }
    }

    /// The request of `stage` for one query of the mix.
    pub fn request(&self, base: &SearchRequest, stage: Stage) -> SearchRequest {
        let mut request = base.clone();
        request.per_page = 20;
        request.apply_rules = stage >= Stage::Rules;
        if stage >= Stage::Affinity {
            request.shopper = Some(self.shopper.clone());
        }
        if stage >= Stage::Facets {
            request.facets = self.catalog.facets();
            // `CLERK_GUARD_FACETS=a,b` counts only these (for profiling one facet).
            static ONLY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
            if let Some(only) = ONLY.get_or_init(|| std::env::var("CLERK_GUARD_FACETS").ok()) {
                request.facets.retain(|f| only.split(',').any(|o| o == f));
            }
        }
        request
    }

    /// Runs one query of the mix at `stage`; returns the number of hits (so the
    /// optimizer cannot drop the work, and a broken stage shows as zero).
    pub fn run(&self, base: &SearchRequest, stage: Stage) -> usize {
        match stage {
            Stage::Raw => self.raw_top20(&base.q),
            _ => self
                .engine
                .search(&self.request(base, stage))
                .map(|r| r.hits.len())
                .unwrap_or(0),
        }
    }

    /// The floor: tantivy's own BM25 top-20 for the analyzed words (all required, every
    /// text field with its weight), no expansion, filters, facets or re-ranking.
    pub fn raw_top20(&self, q: &str) -> usize {
        let snapshot = self.engine.snapshot();
        let words = snapshot.analyzer.query_words(q);
        let query: Box<dyn Query> = if words.is_empty() {
            Box::new(AllQuery)
        } else {
            let clauses = words
                .iter()
                .map(|w| {
                    let fields: Vec<Box<dyn Query>> = snapshot
                        .fields
                        .text
                        .iter()
                        .map(|tf| {
                            let term = TermQuery::new(
                                Term::from_field_text(tf.field, w.primary()),
                                IndexRecordOption::WithFreqs,
                            );
                            Box::new(BoostQuery::new(Box::new(term), tf.weight)) as Box<dyn Query>
                        })
                        .collect();
                    (
                        Occur::Must,
                        Box::new(BooleanQuery::union(fields)) as Box<dyn Query>,
                    )
                })
                .collect();
            Box::new(BooleanQuery::new(clauses))
        };
        snapshot
            .searcher
            .search(&*query, &TopDocs::with_limit(20).order_by_score())
            .map(|hits| hits.len())
            .unwrap_or(0)
    }
}

/// The stages of the pipeline, each adding to the one before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// tantivy BM25 top-20 (the floor).
    Raw,
    /// + analysis, synonyms, typos, prefixes, relaxation (clerk's retrieval).
    QueryLayer,
    /// + re-ranking for a shopper with a rich profile.
    Affinity,
    /// + 500 merchandising rules loaded.
    Rules,
    /// + facets: brand, category tree, price ranges, three attributes.
    Facets,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Raw,
        Stage::QueryLayer,
        Stage::Affinity,
        Stage::Rules,
        Stage::Facets,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Raw => "1_raw_tantivy_top20",
            Stage::QueryLayer => "2_query_layer",
            Stage::Affinity => "3_affinity",
            Stage::Rules => "4_rules_500",
            Stage::Facets => "5_facets",
        }
    }
}
