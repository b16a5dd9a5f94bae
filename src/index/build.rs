//! Building a complete index from a catalog file, beside the live one.
//!
//! Records stream from [`CatalogReader`] and are validated into products on a reader
//! thread (parsing, duplicate ids, autocomplete phrases), so reading overlaps writing;
//! rejected lines are reported with their number and reason. The products are typed
//! (`super::product_type`), put in cluster order (`super::cluster`) and go to a tantivy
//! writer. Only a build that indexed at least one product and committed cleanly is
//! activated.
//!
//! The update log ([`super::updates`]) is folded in as read when the build starts; the
//! commit records the last sequence number folded in, and updates logged later are
//! replayed by whoever opens the new index ([`crate::engine::Engine::catch_up_updates`]).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use tantivy::{Index, IndexWriter};

use super::cluster::{CHUNK, Clusters};
use super::commit_mark::CommitMark;
use super::data_dir::{DataDir, SCHEMA_NAME, SCHEMA_SNAPSHOT};
use super::document::to_document;
use super::product_type::{LEARN_FROM, TypeNouns};
use super::register_analyzer;
use super::updates::{UpdateLog, Updates};
use crate::autocomplete::SuggestionBuilder;
use crate::catalog::Product;
use crate::catalog::reader::{CatalogReader, Record};
use crate::error::{Error, Result};
use crate::schema::{IndexFields, StoreSchema};

/// How many rejected lines a report keeps word for word.
pub const MAX_REPORTED_REJECTIONS: usize = 50;

/// Indexing memory budget shared by the writer threads.
const WRITER_MEMORY_BYTES: usize = 512 << 20;

/// What a build did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub indexed: u64,
    pub rejected: u64,
    /// The first rejected lines: (line number, reason).
    pub rejections: Vec<(usize, String)>,
    pub elapsed: Duration,
    pub index_dir: std::path::PathBuf,
    pub bytes_on_disk: u64,
    /// Product upserts and deletes replayed from the update log.
    pub replayed: (usize, usize),
}

/// Observes a build: progress and rejected lines (the command line prints them).
pub trait BuildObserver {
    /// Called once with the file size and a counter of bytes read so far.
    fn started(&mut self, _total_bytes: u64, _progress: Arc<AtomicU64>) {}
    /// Called every few thousand products.
    fn tick(&mut self, _indexed: u64) {}
    /// Called for every rejected line.
    fn rejected(&mut self, _line: usize, _reason: &str) {}
    /// Called when the build is over, successful or not.
    fn finished(&mut self) {}
}

/// An observer that does nothing.
pub struct Quiet;
impl BuildObserver for Quiet {}

/// Builds a new index of `catalog` in `data` and makes it live.
pub fn build_index(
    catalog: &Path,
    schema: &StoreSchema,
    data: &DataDir,
    observer: &mut dyn BuildObserver,
) -> Result<BuildReport> {
    let reader = CatalogReader::open(catalog, &schema.format)?;
    build_from_records(
        reader.total_bytes(),
        reader.progress(),
        reader,
        schema,
        data,
        observer,
    )
}

/// Builds a new index from any record source and makes it live.
pub fn build_from_records(
    total_bytes: u64,
    progress: Arc<AtomicU64>,
    records: impl Iterator<Item = Record> + Send,
    schema: &StoreSchema,
    data: &DataDir,
    observer: &mut dyn BuildObserver,
) -> Result<BuildReport> {
    let started = Instant::now();
    let log = UpdateLog::new(data.root());
    let updates = log.load(&|record| Product::from_record(schema, record).ok().map(|p| p.id))?;
    let building = data.begin_build()?;
    observer.started(total_bytes, progress);
    let outcome = write_index(building.path(), records, &updates, schema, observer);
    observer.finished();
    let (indexed, rejected, rejections) = match outcome {
        Ok(counts) => counts,
        Err(e) => {
            data.abandon(building);
            return Err(e);
        }
    };
    hold_before_activating();
    let index_dir = data.activate(building)?;
    Ok(BuildReport {
        indexed,
        rejected,
        rejections,
        replayed: updates.counts(),
        elapsed: started.elapsed(),
        bytes_on_disk: dir_size(&index_dir),
        index_dir,
    })
}

type Counts = (u64, u64, Vec<(usize, String)>);

/// Test hook: the environment variable naming a file; while that file exists, a
/// finished build waits before it activates (at most [`MAX_HOLD`]). Tests use it to
/// make product updates overlap a rebuild deterministically. Unset (production), it
/// costs one environment lookup per build.
pub const HOLD_BUILD_ENV: &str = "CLERK_TEST_HOLD_BUILD";
/// Longest a build waits for [`HOLD_BUILD_ENV`]'s file to go.
const MAX_HOLD: Duration = Duration::from_secs(120);

/// Waits while the file named by [`HOLD_BUILD_ENV`] exists (test hook).
fn hold_before_activating() {
    let Some(gate) = std::env::var_os(HOLD_BUILD_ENV) else {
        return;
    };
    let gate = std::path::PathBuf::from(gate);
    let started = Instant::now();
    while gate.exists() && started.elapsed() < MAX_HOLD {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write_index(
    dir: &Path,
    records: impl Iterator<Item = Record> + Send,
    updates: &Updates,
    schema: &StoreSchema,
    observer: &mut dyn BuildObserver,
) -> Result<Counts> {
    let fields = IndexFields::build(schema);
    let index = Index::create_in_dir(dir, fields.schema.clone())?;
    register_analyzer(&index, schema);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(8);
    let mut writer: IndexWriter = index.writer_with_num_threads(threads, WRITER_MEMORY_BYTES)?;

    let mut typing = Typing::Learning(Vec::new());
    let mut feed = Feed {
        writer: &mut writer,
        clusters: Clusters::new(schema, CHUNK),
        schema,
        fields: &fields,
    };
    let (mut indexed, mut rejected) = (0u64, 0u64);
    let mut rejections = Vec::new();
    let mut reject = |line: usize, reason: String, observer: &mut dyn BuildObserver| {
        observer.rejected(line, &reason);
        rejected += 1;
        if rejections.len() < MAX_REPORTED_REJECTIONS {
            rejections.push((line, reason));
        }
    };
    let mut suggestions = std::thread::scope(|scope| -> Result<SuggestionBuilder> {
        let (products, validating) = validate_beside(scope, records, updates, schema);
        for (line, product) in products.iter().flatten() {
            let product = match product {
                Ok(p) => p,
                Err(reason) => {
                    reject(line, reason, observer);
                    continue;
                }
            };
            typing.add(product, &mut feed)?;
            indexed += 1;
            if indexed % 4096 == 0 {
                observer.tick(indexed);
            }
        }
        validating
            .join()
            .map_err(|_| Error::Catalog("the catalog reader stopped unexpectedly".into()))
    })?;
    for id in &updates.order {
        let Some(Some(record)) = updates.latest.get(id) else {
            continue;
        };
        if let Ok(product) = Product::from_record(schema, record) {
            suggestions.add(&product);
            typing.add(product, &mut feed)?;
            indexed += 1;
        }
    }
    if indexed == 0 {
        let first = rejections
            .first()
            .map(|(l, r)| format!("; line {l}: {r}"))
            .unwrap_or_default();
        return Err(Error::Catalog(format!(
            "no product could be indexed ({rejected} lines rejected{first})"
        )));
    }
    let nouns = typing.finish(&mut feed)?;
    feed.flush(&nouns)?;
    // The index holds the update log up to here; whoever opens it replays the rest.
    let mark = CommitMark {
        updates: updates.through,
        feed: None,
    };
    let mut commit = writer.prepare_commit()?;
    commit.set_payload(&mark.payload());
    commit.commit()?;
    writer.wait_merging_threads()?;
    suggestions.write(dir)?;
    nouns.save(dir)?;
    std::fs::write(dir.join(SCHEMA_SNAPSHOT), &schema.source_text)
        .and_then(|_| std::fs::write(dir.join(SCHEMA_NAME), &schema.name))
        .map_err(|e| Error::io("writing the schema snapshot", e))?;
    Ok((indexed, rejected, rejections))
}

/// Catalog lines parsed and validated per batch.
const PARSE_BATCH: usize = 512;

/// One validated catalog line: the product, or why the line is rejected.
type Validated = (usize, std::result::Result<Product, String>);

/// Reads, parses and validates `records` on a thread of `scope`, so reading the
/// catalog overlaps writing it: products replaced since over HTTP are skipped (the
/// update log's version wins), a repeated id is rejected, and each product's
/// autocomplete phrases are collected. The batches arrive in catalog order; the
/// thread returns the suggestions.
fn validate_beside<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    records: impl Iterator<Item = Record> + Send + 'scope,
    updates: &'scope Updates,
    schema: &'scope StoreSchema,
) -> (
    std::sync::mpsc::Receiver<Vec<Validated>>,
    std::thread::ScopedJoinHandle<'scope, SuggestionBuilder>,
) {
    // Room for a whole chunk (`super::cluster`): reading goes on while one is written.
    let (batches, received) = std::sync::mpsc::sync_channel(CHUNK / PARSE_BATCH + 1);
    let validating = scope.spawn(move || {
        let mut suggestions = SuggestionBuilder::new(schema);
        let mut seen: FxHashMap<String, usize> = FxHashMap::default();
        let mut batch = Vec::with_capacity(PARSE_BATCH);
        for (line, record) in records {
            let product = match record.and_then(|r| Product::from_record(schema, &r)) {
                Ok(p) if updates.latest.contains_key(&p.id) => continue,
                Ok(p) => match seen.get(&p.id) {
                    Some(first) => {
                        Err(format!("duplicate id \"{}\" (first on line {first})", p.id))
                    }
                    None => {
                        suggestions.add(&p);
                        seen.insert(p.id.clone(), line);
                        Ok(p)
                    }
                },
                Err(reason) => Err(reason),
            };
            batch.push((line, product));
            if batch.len() >= PARSE_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(PARSE_BATCH));
                if batches.send(full).is_err() {
                    return suggestions; // the build stopped
                }
            }
        }
        let _ = batches.send(batch);
        suggestions
    });
    (received, validating)
}

/// Where validated products go: clustered ([`Clusters`]), then written.
struct Feed<'a> {
    writer: &'a mut IndexWriter,
    clusters: Clusters,
    schema: &'a StoreSchema,
    fields: &'a IndexFields,
}

impl Feed<'_> {
    fn add(&mut self, product: Product, nouns: &TypeNouns) -> Result<()> {
        let (writer, schema, fields) = (&mut *self.writer, self.schema, self.fields);
        self.clusters.push(product, &mut |p: Product| {
            writer
                .add_document(to_document(&p, schema, fields, nouns))
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Writes the products still buffered.
    fn flush(&mut self, nouns: &TypeNouns) -> Result<()> {
        let (writer, schema, fields) = (&mut *self.writer, self.schema, self.fields);
        self.clusters.flush(&mut |p: Product| {
            writer
                .add_document(to_document(&p, schema, fields, nouns))
                .map(|_| ())
        })?;
        Ok(())
    }
}

/// Products wait until the type nouns are learned from the first [`LEARN_FROM`] of
/// them (in catalog order, so every kind of product is seen); after that each goes
/// to the feed as it comes.
enum Typing {
    Learning(Vec<Product>),
    Known(TypeNouns),
}

impl Typing {
    fn add(&mut self, product: Product, feed: &mut Feed) -> Result<()> {
        match self {
            Typing::Known(nouns) => feed.add(product, nouns)?,
            Typing::Learning(waiting) => {
                waiting.push(product);
                if waiting.len() >= LEARN_FROM {
                    let nouns = self.finish(feed)?;
                    *self = Typing::Known(nouns);
                }
            }
        }
        Ok(())
    }

    /// Learns the nouns (if still learning), feeds the waiting products, returns them.
    fn finish(&mut self, feed: &mut Feed) -> Result<TypeNouns> {
        match self {
            Typing::Known(nouns) => Ok(nouns.clone()),
            Typing::Learning(waiting) => {
                let nouns = TypeNouns::learn(waiting.iter(), feed.schema);
                for product in waiting.drain(..) {
                    feed.add(product, &nouns)?;
                }
                Ok(nouns)
            }
        }
    }
}

/// Total size of the files in `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
