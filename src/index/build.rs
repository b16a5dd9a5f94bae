//! Building a complete index from a catalog file, beside the live one.
//!
//! Records stream from [`CatalogReader`], are validated into products, and go to a
//! tantivy writer; rejected lines are reported with their number and reason. Only a
//! build that indexed at least one product and committed cleanly is activated.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use tantivy::{Index, IndexWriter};

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
    records: impl Iterator<Item = Record>,
    schema: &StoreSchema,
    data: &DataDir,
    observer: &mut dyn BuildObserver,
) -> Result<BuildReport> {
    let started = Instant::now();
    let log = UpdateLog::new(data.root());
    let updates = log.load(&|record| Product::from_record(schema, record).ok().map(|p| p.id))?;
    let building = data.begin_build()?;
    observer.started(total_bytes, progress);
    let outcome = write_index(&building, records, &updates, schema, observer);
    observer.finished();
    let (indexed, rejected, rejections) = match outcome {
        Ok(counts) => counts,
        Err(e) => {
            data.abandon(&building);
            return Err(e);
        }
    };
    let index_dir = data.activate(&building)?;
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

fn write_index(
    dir: &Path,
    records: impl Iterator<Item = Record>,
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

    let mut suggestions = SuggestionBuilder::new(schema);
    let mut typing = Typing::Learning(Vec::new());
    let mut seen: FxHashMap<String, usize> = FxHashMap::default();
    let (mut indexed, mut rejected) = (0u64, 0u64);
    let mut rejections = Vec::new();
    let mut reject = |line: usize, reason: String, observer: &mut dyn BuildObserver| {
        observer.rejected(line, &reason);
        rejected += 1;
        if rejections.len() < MAX_REPORTED_REJECTIONS {
            rejections.push((line, reason));
        }
    };
    for (line, record) in records {
        let product = record.and_then(|r| Product::from_record(schema, &r));
        let product = match product {
            Ok(p) => p,
            Err(reason) => {
                reject(line, reason, observer);
                continue;
            }
        };
        if updates.latest.contains_key(&product.id) {
            // Replaced or deleted over HTTP since: the update log's version wins.
            continue;
        }
        if let Some(first) = seen.get(&product.id) {
            let reason = format!("duplicate id \"{}\" (first on line {first})", product.id);
            reject(line, reason, observer);
            continue;
        }
        suggestions.add(&product);
        seen.insert(product.id.clone(), line);
        typing.add(product, &mut writer, schema, &fields)?;
        indexed += 1;
        if indexed % 4096 == 0 {
            observer.tick(indexed);
        }
    }
    for id in &updates.order {
        let Some(Some(record)) = updates.latest.get(id) else {
            continue;
        };
        if let Ok(product) = Product::from_record(schema, record) {
            suggestions.add(&product);
            typing.add(product, &mut writer, schema, &fields)?;
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
    let nouns = typing.finish(&mut writer, schema, &fields)?;
    writer.commit()?;
    writer.wait_merging_threads()?;
    suggestions.write(dir)?;
    nouns.save(dir)?;
    std::fs::write(dir.join(SCHEMA_SNAPSHOT), &schema.source_text)
        .and_then(|_| std::fs::write(dir.join(SCHEMA_NAME), &schema.name))
        .map_err(|e| Error::io("writing the schema snapshot", e))?;
    Ok((indexed, rejected, rejections))
}

/// Products wait until the type nouns are learned from the first [`LEARN_FROM`] of
/// them; after that each is written as it comes.
enum Typing {
    Learning(Vec<Product>),
    Known(TypeNouns),
}

impl Typing {
    fn add(
        &mut self,
        product: Product,
        writer: &mut IndexWriter,
        schema: &StoreSchema,
        fields: &IndexFields,
    ) -> Result<()> {
        match self {
            Typing::Known(nouns) => {
                writer.add_document(to_document(&product, schema, fields, nouns))?;
            }
            Typing::Learning(waiting) => {
                waiting.push(product);
                if waiting.len() >= LEARN_FROM {
                    let nouns = self.finish(writer, schema, fields)?;
                    *self = Typing::Known(nouns);
                }
            }
        }
        Ok(())
    }

    /// Learns the nouns (if still learning), writes the waiting products, returns them.
    fn finish(
        &mut self,
        writer: &mut IndexWriter,
        schema: &StoreSchema,
        fields: &IndexFields,
    ) -> Result<TypeNouns> {
        match self {
            Typing::Known(nouns) => Ok(nouns.clone()),
            Typing::Learning(waiting) => {
                let nouns = TypeNouns::learn(waiting.iter(), schema);
                for product in waiting.drain(..) {
                    writer.add_document(to_document(&product, schema, fields, &nouns))?;
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
