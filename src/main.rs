//! The `clerk` binary: parses the command line and runs it.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// glibc for the server, mimalloc once a batch command asks for it (`clerk::memory`).
#[global_allocator]
static ALLOCATOR: clerk::memory::Hybrid = clerk::memory::Hybrid;

fn main() {
    let cli = clerk::cli::Cli::parse();
    // Before any thread exists: glibc reads the arena cap when threads first allocate.
    // Only the long-running server is capped and stays on glibc; batch commands such
    // as `clerk index` allocate from mimalloc (a 1M build: 50–60 s on glibc, 40–42 s).
    let arenas = match cli.command {
        clerk::cli::Command::Serve(_) => clerk::memory::cap_malloc_arenas(),
        _ => {
            clerk::memory::use_batch_allocator();
            clerk::memory::ArenaCap::Untouched("a batch command allocates from mimalloc")
        }
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tantivy=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // CLERK_LOG_FORMAT=json: one JSON object a line (request logs carry method, route,
    // status, latency_ms and request_id as fields); anything else: plain text.
    match std::env::var("CLERK_LOG_FORMAT").as_deref() {
        Ok("json") => logs.json().flatten_event(true).init(),
        _ => logs.init(),
    }
    match arenas {
        clerk::memory::ArenaCap::Invalid { value, applied } => tracing::warn!(
            "CLERK_MALLOC_ARENAS={value:?} is not a whole number from 0 to 1024; using {applied}"
        ),
        other => tracing::debug!("malloc arenas: {other:?}"),
    }
    if let Err(e) = clerk::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(if e.is_caller_mistake() { 2 } else { 1 });
    }
}
