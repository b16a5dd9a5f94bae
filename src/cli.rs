//! The command line: `clerk serve | index | search | demo-catalog`.
//!
//! Arguments are parsed by clap into [`Cli`], then each command resolves its paths and
//! calls the library: the same engine and pipeline as the HTTP API.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::index::build::MAX_REPORTED_REJECTIONS;
use crate::index::{BuildObserver, BuildReport, DataDir, build_index};
use crate::retrieve::Sort;
use crate::schema::StoreSchema;
use crate::search::{SearchRequest, SearchResponse};
use crate::shoppers::{RedbStore, STORE_FILE, ShopperStore};

mod serve;

/// Products in the demo catalog `clerk serve` generates on a fresh data directory.
pub const DEMO_PRODUCTS: u64 = 20_000;
/// Seed of that demo catalog.
pub const DEMO_SEED: u64 = 42;

#[derive(Debug, Parser)]
#[command(
    name = "clerk",
    version,
    about = "On-site product search for online stores"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (builds the demo catalog on a fresh data directory).
    Serve(ServeArgs),
    /// Build a new index from a catalog and swap it in atomically.
    Index(IndexArgs),
    /// Run one query against the index, through the same pipeline as HTTP.
    Search(SearchArgs),
    /// Write a synthetic demo catalog (JSON Lines; gzip when FILE ends in .gz).
    DemoCatalog(DemoArgs),
    /// Measure relevance on a judged query set.
    Eval(EvalArgs),
    /// Click-through and conversion per variant, from the recorded events.
    Report(ReportArgs),
    /// Merchandising rules: `clerk rules check` validates boosts/ (and synonyms/).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Mint a shopper token with CLERK_SHOPPER_SECRET (what a store's backend does).
    ShopperToken {
        /// The shopper id.
        id: String,
        /// Seconds until the token expires (default: never).
        #[arg(long)]
        expires_in: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate synonyms/ and boosts/ against the index, as a reload would.
    Check {
        #[arg(long, default_value = "./clerk-data")]
        data_dir: PathBuf,
        /// Folder holding synonyms/ and boosts/.
        #[arg(long, default_value = ".")]
        config_dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[arg(long, default_value = "./clerk-data")]
    pub data_dir: PathBuf,
    /// Folder holding index-schema/, synonyms/ and boosts/ (zero-result checks).
    #[arg(long, default_value = ".")]
    pub config_dir: PathBuf,
    /// Query analytics over this many days, ending today (UTC).
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Rows per query list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where the data and the store's configuration live.
#[derive(Debug, Args, Clone)]
pub struct Dirs {
    /// Data directory holding the index.
    #[arg(long, default_value = "./clerk-data")]
    pub data_dir: PathBuf,
    /// Folder holding index-schema/, synonyms/ and boosts/.
    #[arg(long, default_value = ".")]
    pub config_dir: PathBuf,
    /// Schema used to build: a name in index-schema/ (without .toml) or a path.
    #[arg(long, default_value = "demo")]
    pub schema: String,
}

impl Dirs {
    /// The schema file named by `--schema`.
    pub fn schema_path(&self) -> PathBuf {
        if self.schema.ends_with(".toml") || self.schema.contains('/') {
            PathBuf::from(&self.schema)
        } else {
            self.config_dir
                .join("index-schema")
                .join(format!("{}.toml", self.schema))
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: clerk.toml's server.addr, CLERK_ADDR, else
    /// 127.0.0.1:7878].
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Index this catalog before serving.
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Size of the demo catalog generated when the data directory has no index.
    #[arg(long, default_value_t = DEMO_PRODUCTS)]
    pub demo_products: u64,
    /// Data directory holding the index [default: clerk.toml's server.data_dir,
    /// CLERK_DATA_DIR, else ./clerk-data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Folder holding index-schema/, synonyms/, boosts/ and clerk.toml.
    #[arg(long, default_value = ".")]
    pub config_dir: PathBuf,
    /// Schema used to build: a name in index-schema/ (without .toml) or a path.
    #[arg(long, default_value = "demo")]
    pub schema: String,
    /// Server settings file [default: clerk.toml in --config-dir; missing = defaults].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Events and profiles in a shared Redis (redis://HOST:PORT) so several replicas
    /// serve one store; product changes and reloads then reach every replica.
    /// Default: the embedded store in the data directory.
    #[arg(long, value_name = "redis://HOST:PORT")]
    pub shopper_store: Option<String>,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Catalog file: JSON Lines, CSV or TSV as the schema says; plain or gzip.
    #[arg(long)]
    pub catalog: PathBuf,
    /// Forget the product upserts and deletes made over HTTP (the catalog holds them).
    #[arg(long)]
    pub discard_updates: bool,
    #[command(flatten)]
    pub dirs: Dirs,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query (may be empty to browse).
    pub query: String,
    #[arg(long)]
    pub shopper: Option<String>,
    /// A filter such as brand:Nordby or price:10..50 (repeatable).
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// Facets to count, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub facets: Vec<String>,
    /// relevance, price_asc, price_desc, newest or rating.
    #[arg(long, default_value = "relevance")]
    pub sort: String,
    #[arg(long, default_value_t = 1)]
    pub page: usize,
    #[arg(long, default_value_t = 10)]
    pub per_page: usize,
    /// Show how each hit was scored.
    #[arg(long)]
    pub explain: bool,
    /// Print the response as JSON, exactly as HTTP returns it.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value = "./clerk-data")]
    pub data_dir: PathBuf,
    /// Folder holding synonyms/ and boosts/.
    #[arg(long, default_value = ".")]
    pub config_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[arg(long)]
    pub products: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Judged set folder: queries.tsv + qrels.tsv, or WANDS query.csv + label.csv.
    #[arg(long)]
    pub set: PathBuf,
    /// Index this catalog into a temporary directory first (else use --data-dir's index).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    #[command(flatten)]
    pub dirs: Dirs,
    /// Suites to run, comma-separated: clean, typo, spaces, plural, personalization,
    /// learning.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "clean,typo,spaces,plural,personalization"
    )]
    pub suites: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compare with a baseline report (JSON from --json or --out).
    #[arg(long)]
    pub compare: Option<PathBuf>,
    /// With --compare: fail when clean NDCG@10 falls more than this below the baseline.
    #[arg(long)]
    pub max_drop: Option<f64>,
    /// Run the queries as analyzed, without synonyms, typos, splits, joins or
    /// completions (to measure what the query layer is worth).
    #[arg(long)]
    pub without_query_layer: bool,
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::ShopperToken { id, expires_in } => serve::shopper_token(&id, expires_in),
        Command::Index(args) => {
            if args.discard_updates {
                crate::index::updates::UpdateLog::new(&args.dirs.data_dir).discard()?;
            }
            let report = index(&args.catalog, &args.dirs)?;
            print_report(&report);
            Ok(())
        }
        Command::Search(args) => search(args),
        Command::Eval(args) => eval(args),
        Command::Report(args) => report(args),
        Command::Rules(RulesCommand::Check {
            data_dir,
            config_dir,
        }) => check_rules(&data_dir, &config_dir),
        Command::DemoCatalog(args) => {
            let started = std::time::Instant::now();
            let n = crate::demo::write_catalog(&args.out, args.products, args.seed)?;
            eprintln!(
                "wrote {n} products to {} in {:.1} s",
                args.out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

/// Builds an index of `catalog` with the schema `dirs` name.
pub fn index(catalog: &Path, dirs: &Dirs) -> Result<BuildReport> {
    let schema = StoreSchema::load(&dirs.schema_path())?;
    let data = DataDir::new(&dirs.data_dir);
    let mut observer = TerminalObserver::default();
    build_index(catalog, &schema, &data, &mut observer)
}

pub(crate) fn print_report(report: &BuildReport) {
    if report.replayed != (0, 0) {
        eprintln!(
            "replayed {} product upserts and {} deletes made over HTTP (from {}; `clerk index --discard-updates` drops them when the catalog already holds them)",
            report.replayed.0,
            report.replayed.1,
            crate::index::updates::UPDATES_FILE
        );
    }
    eprintln!(
        "indexed {} products, rejected {} lines, in {:.1} s; index {} ({:.1} MB)",
        report.indexed,
        report.rejected,
        report.elapsed.as_secs_f64(),
        report.index_dir.display(),
        report.bytes_on_disk as f64 / 1e6
    );
}

fn search(args: SearchArgs) -> Result<()> {
    let mut engine =
        Engine::open_with_config(DataDir::new(&args.data_dir), Some(args.config_dir.clone()))?;
    if args.shopper.is_some()
        && let Some(store) = read_only_shoppers(&args.data_dir)
    {
        engine = engine.with_shoppers(store);
    }
    let sort = Sort::parse(&args.sort).ok_or_else(|| {
        Error::bad_request(
            "bad_sort",
            format!(
                "--sort {} is not one of relevance, price_asc, price_desc, newest, rating",
                args.sort
            ),
        )
    })?;
    let request = SearchRequest {
        q: args.query,
        shopper: args.shopper,
        filters: args.filters,
        facets: args.facets,
        sort,
        page: args.page,
        per_page: args.per_page,
        explain: args.explain,
        ..SearchRequest::default()
    };
    let response = engine.search(&request)?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&response).map_err(|e| Error::Internal(e.to_string()))?;
        println!("{text}");
    } else {
        print_human(&response);
    }
    Ok(())
}

fn eval(args: EvalArgs) -> Result<()> {
    use crate::eval::{self, EvalReport, JudgedSet, Suite};
    let personalization = args.suites.iter().any(|s| s == "personalization");
    let learning = args.suites.iter().any(|s| s == "learning");
    let suites = args
        .suites
        .iter()
        .filter(|s| *s != "personalization" && *s != "learning")
        .map(|name| {
            Suite::parse(name).ok_or_else(|| {
                Error::bad_request(
                    "bad_suite",
                    format!("unknown suite \"{name}\"; suites: clean, typo, spaces, plural, personalization, learning"),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let set = JudgedSet::load(&args.set)?;
    // A catalog is indexed into a directory that lives as long as the evaluation.
    let scratch =
        tempfile::tempdir().map_err(|e| Error::io("creating a temporary directory", e))?;
    let data_dir = match &args.catalog {
        Some(catalog) => {
            let dirs = Dirs {
                data_dir: scratch.path().to_path_buf(),
                ..args.dirs.clone()
            };
            print_report(&index(catalog, &dirs)?);
            dirs.data_dir
        }
        None => args.dirs.data_dir.clone(),
    };
    let mut engine =
        Engine::open_with_config(DataDir::new(&data_dir), Some(args.dirs.config_dir.clone()))?;
    if personalization {
        // Simulated shoppers go to a scratch store, never to the data directory's.
        engine = engine.with_shoppers(Arc::new(RedbStore::open(&scratch.path().join(STORE_FILE))?));
    }
    let engine = Arc::new(engine);
    let mut report = eval::evaluate(&engine, &set, &suites, !args.without_query_layer)?;
    if personalization {
        report.personalization = Some(eval::personas::evaluate(&engine, &set)?);
        report.loyalty = Some(eval::loyalty::evaluate(&engine, &set)?);
    }
    if learning {
        report.learning = Some(eval::learning::evaluate(
            &data_dir,
            &args.dirs.config_dir,
            scratch.path(),
            &set,
        )?);
    }
    let json = serde_json::to_string_pretty(&report).map_err(|e| Error::Internal(e.to_string()))?;
    if let Some(out) = &args.out {
        std::fs::write(out, &json)
            .map_err(|e| Error::io(format!("writing {}", out.display()), e))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", eval::render_table(&report));
    }
    let Some(baseline_path) = &args.compare else {
        return Ok(());
    };
    let text = std::fs::read_to_string(baseline_path)
        .map_err(|e| Error::io(format!("reading {}", baseline_path.display()), e))?;
    let baseline: EvalReport = serde_json::from_str(&text).map_err(|e| Error::Config {
        problems: vec![format!(
            "{}: not an eval report: {e}",
            baseline_path.display()
        )],
    })?;
    let comparison = eval::compare(&report, &baseline);
    eprint!("{}", comparison.render(8));
    if let (Some(max_drop), Some(delta)) = (args.max_drop, comparison.clean_ndcg_delta())
        && delta < -max_drop
    {
        return Err(Error::bad_request(
            "relevance_regression",
            format!(
                "clean NDCG@10 fell {:.4} below {} (allowed: {max_drop}); fix the ranking or update the baseline, saying why",
                -delta,
                baseline_path.display()
            ),
        ));
    }
    Ok(())
}

fn check_rules(data_dir: &Path, config_dir: &Path) -> Result<()> {
    let engine = Engine::open(DataDir::new(data_dir))?;
    let config = crate::config::StoreConfig::load(config_dir, &engine.snapshot())?;
    let report = config.report();
    println!(
        "ok: {} rules in {} file(s), {} synonym lines in {} file(s)",
        report.rules, report.rule_files, report.synonym_lines, report.synonym_files
    );
    Ok(())
}

fn report(args: ReportArgs) -> Result<()> {
    let path = args.data_dir.join(STORE_FILE);
    if !path.exists() {
        return Err(Error::NotFound(format!(
            "no events recorded yet: {} does not exist",
            path.display()
        )));
    }
    let store = RedbStore::open_read_only(&path).or_else(|_| RedbStore::open(&path))?;
    let mut tally = crate::report::Tally::default();
    store.for_each_event(&mut |event| tally.add(event))?;
    let reports = tally.finish();
    let analytics = crate::report::analytics(&args, &store)?;
    if args.json {
        // The variants by name, as before, and the query analytics beside them.
        let mut json =
            serde_json::to_value(&reports).map_err(|e| Error::Internal(e.to_string()))?;
        if let Some(map) = json.as_object_mut() {
            let queries =
                serde_json::to_value(&analytics).map_err(|e| Error::Internal(e.to_string()))?;
            map.insert("queries".to_string(), queries);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&json).map_err(|e| Error::Internal(e.to_string()))?
        );
    } else {
        print!("{}", crate::report::render(&reports));
        print!("{}", crate::crowd::analytics::render(&analytics));
    }
    Ok(())
}

/// The shopper store of a data directory for reading, when nobody else holds it.
fn read_only_shoppers(data_dir: &Path) -> Option<Arc<dyn ShopperStore>> {
    let path = data_dir.join(STORE_FILE);
    if !path.exists() {
        return None;
    }
    match RedbStore::open_read_only(&path) {
        Ok(store) => Some(Arc::new(store)),
        Err(e) => {
            eprintln!("note: shopper profiles unavailable ({e}); searching anonymously");
            None
        }
    }
}

fn print_human(response: &SearchResponse) {
    println!(
        "{} results for \"{}\" in {:.2} ms",
        response.total, response.query, response.took_ms
    );
    if let Some(relaxed) = &response.relaxed {
        println!("  {}", relaxed.message);
    }
    for (i, hit) in response.hits.iter().enumerate() {
        let position = (response.page - 1) * response.per_page + i + 1;
        let title = hit
            .product
            .get("title")
            .and_then(|t| t.as_str())
            .unwrap_or("");
        let price = hit
            .product
            .get("price")
            .and_then(|p| p.as_f64())
            .map(|p| format!("  {p:.2}"))
            .unwrap_or_default();
        println!(
            "{position:>4}. [{}] {title}{price}  (score {:.3})",
            hit.id, hit.score
        );
        if let Some(explain) = &hit.explain {
            println!(
                "      text {:.3}  popularity {:.3}",
                explain.text, explain.popularity
            );
        }
    }
    for (name, values) in &response.facets {
        println!("facet {name}: {values}");
    }
}

/// Progress bar and rejected lines on the terminal.
#[derive(Default)]
struct TerminalObserver {
    bar: Option<ProgressBar>,
    progress: Option<Arc<AtomicU64>>,
    printed: usize,
}

impl BuildObserver for TerminalObserver {
    fn started(&mut self, total_bytes: u64, progress: Arc<AtomicU64>) {
        if !std::io::stderr().is_terminal() || total_bytes == 0 {
            return;
        }
        let bar = ProgressBar::new(total_bytes);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} indexing [{bar:40}] {bytes}/{total_bytes} {msg} ({eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
        self.progress = Some(progress);
    }

    fn tick(&mut self, indexed: u64) {
        if let (Some(bar), Some(progress)) = (&self.bar, &self.progress) {
            bar.set_position(progress.load(Ordering::Relaxed));
            bar.set_message(format!("{indexed} products"));
        }
    }

    fn rejected(&mut self, line: usize, reason: &str) {
        self.printed += 1;
        let message = if self.printed <= MAX_REPORTED_REJECTIONS {
            format!("line {line}: {reason}")
        } else if self.printed == MAX_REPORTED_REJECTIONS + 1 {
            "more lines were rejected; only the count is reported from here".to_string()
        } else {
            return;
        };
        match &self.bar {
            Some(bar) => bar.println(message),
            None => eprintln!("{message}"),
        }
    }

    fn finished(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
