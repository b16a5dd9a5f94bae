//! The index: building it, swapping it in, and reading consistent snapshots of it.
//!
//! * [`build`] turns a catalog file into a complete new index directory;
//! * [`data_dir`] keeps track of which index directory is live and swaps atomically;
//! * [`LiveIndex`] opens the live index and publishes [`Snapshot`]s: a tantivy
//!   searcher together with the dense columns of its segments. A query takes one
//!   snapshot and uses it from start to end, so a refresh in the middle of a query
//!   can never mix two states of the catalog.

pub mod build;
mod cluster;
pub mod commit_mark;
pub mod data_dir;
pub mod document;
pub mod file_lock;
pub mod product_type;
mod suggest_updates;
mod update;
pub mod updates;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwap;
use tantivy::index::SegmentId;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocSet, Index, IndexReader, ReloadPolicy, Searcher, TERMINATED, Term};

use crate::analysis::{Analyzer, ClerkTokenizer, TOKENIZER_NAME};
use crate::autocomplete::{Suggester, SuggestionOverlay};
use crate::columns::{Columns, SegmentColumns, Vocabulary};
use crate::error::{Error, Result};
use crate::lexicon::{Lexicon, SegmentTerms};
use crate::schema::{FieldKind, IndexFields, StoreSchema};

/// Decompressed 16 KB blocks of stored products kept per segment (tantivy keeps 100).
/// Every hit on a page reads its product from the store; with the default, a 19k
/// catalog's store (about 500 blocks) kept decompressing the same blocks. Bounded:
/// at most 16 MB per segment.
const DOC_STORE_CACHE_BLOCKS: usize = 1024;
pub use build::{BuildObserver, BuildReport, Quiet, build_index};
pub use data_dir::DataDir;
pub use update::FeedChange;

/// Registers the clerk analyzer with an index's tokenizer manager.
pub fn register_analyzer(index: &Index, schema: &StoreSchema) {
    let tokenizer = ClerkTokenizer::new(Analyzer::new(schema.stemmer));
    index.tokenizers().register(TOKENIZER_NAME, tokenizer);
}

/// One consistent view of the index for the length of a query.
pub struct Snapshot {
    pub searcher: Searcher,
    /// Columns of each segment, aligned with `searcher.segment_readers()`.
    pub columns: Columns,
    pub vocabulary: Arc<Vocabulary>,
    pub schema: Arc<StoreSchema>,
    pub fields: Arc<IndexFields>,
    pub analyzer: Analyzer,
    /// Every word of the typo-tolerant text fields, with its document frequency.
    pub lexicon: Arc<Lexicon>,
    /// How common each affinity feature value is, computed on first use.
    pub base_rates: std::sync::OnceLock<crate::affinity::BaseRates>,
    /// Each segment's feature counts for `base_rates`, aligned with the segments and
    /// shared with the snapshots before and after that hold the same segment.
    pub feature_counts: Vec<Arc<crate::affinity::SegmentFeatureCounts>>,
    /// Whole-catalog facet counts by facet key, computed on first use.
    pub facet_totals: Mutex<HashMap<String, Arc<Vec<u32>>>>,
}

impl Snapshot {
    /// Number of live (not deleted) products.
    pub fn num_docs(&self) -> u64 {
        self.searcher.num_docs()
    }

    /// Where the live product with id `id` is, if any.
    pub fn find(&self, id: &str) -> Option<DocAddress> {
        let term = Term::from_field_text(self.fields.id, id);
        for (ord, segment) in self.searcher.segment_readers().iter().enumerate() {
            let Ok(inverted) = segment.inverted_index(self.fields.id) else {
                continue;
            };
            let Ok(Some(mut postings)) = inverted.read_postings(&term, IndexRecordOption::Basic)
            else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if segment
                    .alive_bitset()
                    .is_none_or(|alive| alive.is_alive(doc))
                {
                    return Some(DocAddress::new(ord as u32, doc));
                }
                doc = postings.advance();
            }
        }
        None
    }
}

/// What was already read from each segment, and the vocabulary it was read against.
struct ColumnCache {
    vocabulary: Arc<Vocabulary>,
    segments: HashMap<SegmentId, CachedSegment>,
    lexicon: Arc<Lexicon>,
}

/// What a snapshot keeps of a segment for the next one: its columns, its terms, and
/// its feature counts once a personalized search asked for them.
type CachedSegment = (
    Arc<SegmentColumns>,
    SegmentTerms,
    Arc<crate::affinity::SegmentFeatureCounts>,
);

/// An open index that publishes fresh snapshots after every change.
pub struct LiveIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    schema: Arc<StoreSchema>,
    fields: Arc<IndexFields>,
    analyzer: Analyzer,
    cache: Mutex<ColumnCache>,
    snapshot: ArcSwap<Snapshot>,
    suggester: Arc<Suggester>,
    /// What product updates changed in the suggestions since the build.
    overlay: RwLock<SuggestionOverlay>,
    /// Opened on the first product update (`clerk search` never needs one).
    writer: Mutex<Option<tantivy::IndexWriter>>,
    /// The catalog's type nouns, to type upserted products like built ones.
    type_nouns: product_type::TypeNouns,
}

impl LiveIndex {
    /// Opens the index in `dir` with the schema snapshot stored beside it.
    pub fn open(dir: &Path) -> Result<LiveIndex> {
        let schema_path = dir.join(data_dir::SCHEMA_SNAPSHOT);
        let mut schema = StoreSchema::load(&schema_path)?;
        schema.name = std::fs::read_to_string(dir.join(data_dir::SCHEMA_NAME))
            .map(|n| n.trim().to_string())
            .unwrap_or_default();
        let schema = Arc::new(schema);
        let fields = Arc::new(IndexFields::build(&schema));
        let index = Index::open_in_dir(dir)?;
        register_analyzer(&index, &schema);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_STORE_CACHE_BLOCKS)
            .try_into()?;
        let categories = schema
            .fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Category { .. }))
            .map(|f| f.name.clone())
            .collect();
        let mut cache = ColumnCache {
            vocabulary: Arc::new(Vocabulary::new(categories)),
            segments: HashMap::new(),
            lexicon: Arc::new(Lexicon::default()),
        };
        let analyzer = Analyzer::new(schema.stemmer);
        let snapshot = build_snapshot(&reader, &mut cache, &schema, &fields, &analyzer)?;
        let suggester = Arc::new(Suggester::load(dir)?);
        let type_nouns = product_type::TypeNouns::load(dir, &schema)?;
        let mut overlay = SuggestionOverlay::new(&schema);
        let replayed = suggest_updates::replay_overlay_log(dir, &schema, &suggester, &mut overlay);
        if replayed > 0 {
            tracing::info!("autocomplete: {replayed} product changes since the build replayed");
        }
        let overlay = RwLock::new(overlay);
        Ok(LiveIndex {
            type_nouns,
            suggester,
            overlay,
            writer: Mutex::new(None),
            dir: dir.to_path_buf(),
            index,
            reader,
            schema,
            fields,
            analyzer,
            cache: Mutex::new(cache),
            snapshot: ArcSwap::from_pointee(snapshot),
        })
    }

    /// Opens the live index of a data directory.
    pub fn open_current(data: &DataDir) -> Result<LiveIndex> {
        match data.current_index()? {
            Some(dir) => LiveIndex::open(&dir),
            None => Err(Error::NoIndex(data.root().to_path_buf())),
        }
    }

    /// The directory this index lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tantivy index (writers for upserts are opened on it).
    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn schema(&self) -> &Arc<StoreSchema> {
        &self.schema
    }

    pub fn fields(&self) -> &Arc<IndexFields> {
        &self.fields
    }

    /// Autocomplete suggestions built with this index.
    pub fn suggester(&self) -> &Arc<Suggester> {
        &self.suggester
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Reloads the reader and publishes a snapshot that includes the latest commit.
    pub fn refresh(&self) -> Result<()> {
        self.reader.reload()?;
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| Error::Internal("column cache poisoned".into()))?;
        let snapshot = build_snapshot(
            &self.reader,
            &mut cache,
            &self.schema,
            &self.fields,
            &self.analyzer,
        )?;
        self.snapshot.store(Arc::new(snapshot));
        Ok(())
    }
}

/// Builds columns for segments not seen before and assembles a snapshot.
fn build_snapshot(
    reader: &IndexReader,
    cache: &mut ColumnCache,
    schema: &Arc<StoreSchema>,
    fields: &Arc<IndexFields>,
    analyzer: &Analyzer,
) -> Result<Snapshot> {
    let searcher = reader.searcher();
    let mut vocabulary: Option<Vocabulary> = None;
    let mut columns = Vec::with_capacity(searcher.segment_readers().len());
    let mut terms = Vec::with_capacity(searcher.segment_readers().len());
    let mut feature_counts = Vec::with_capacity(searcher.segment_readers().len());
    let mut fresh = HashMap::new();
    let mut changed = cache.segments.len() != searcher.segment_readers().len();
    for segment in searcher.segment_readers() {
        let id = segment.segment_id();
        let built = match cache.segments.get(&id) {
            Some(cached) => cached.clone(),
            None => {
                changed = true;
                let vocab = vocabulary.get_or_insert_with(|| (*cache.vocabulary).clone());
                let popularity = schema
                    .roles
                    .popularity
                    .and_then(|def| fields.numeric.iter().position(|n| n.def == def));
                let cols = Arc::new(SegmentColumns::build(segment, fields, popularity, vocab)?);
                (
                    cols,
                    Lexicon::segment_terms(segment, fields)?,
                    Arc::default(),
                )
            }
        };
        fresh.insert(id, built.clone());
        columns.push(built.0);
        terms.push(built.1);
        feature_counts.push(built.2);
    }
    if let Some(vocab) = vocabulary {
        cache.vocabulary = Arc::new(vocab);
    }
    if changed {
        cache.lexicon = Arc::new(Lexicon::merge(&terms)?);
    }
    // Segments merged away are dropped from the cache.
    cache.segments = fresh;
    Ok(Snapshot {
        searcher,
        columns,
        vocabulary: cache.vocabulary.clone(),
        schema: schema.clone(),
        fields: fields.clone(),
        analyzer: analyzer.clone(),
        lexicon: cache.lexicon.clone(),
        base_rates: std::sync::OnceLock::new(),
        feature_counts,
        facet_totals: Mutex::new(HashMap::new()),
    })
}
