//! The `clerk` binary: parses the command line and runs it.

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tantivy=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = clerk::cli::Cli::parse();
    if let Err(e) = clerk::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(if e.is_caller_mistake() { 2 } else { 1 });
    }
}
