//! `clerk serve` and `clerk shopper-token`: settings resolved (flags over environment
//! over `clerk.toml` over defaults), the data directory made ready (demo catalog,
//! interrupted builds cleaned), the shopper store opened with its cache size and
//! retention, product updates logged since the index's build replayed into it, and the
//! HTTP server run until SIGTERM.

use std::sync::Arc;

use super::{DEMO_SEED, Dirs, ServeArgs, index, print_report};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::http::{self, AppState, Gate};
use crate::index::DataDir;
use crate::settings::{SETTINGS_FILE, Settings};
use crate::shoppers::{RedbStore, STORE_FILE};
use crate::tokens::ShopperSecret;

/// The settings `clerk serve` runs with: flags win over the environment, which wins
/// over the file.
pub fn resolve_settings(args: &ServeArgs) -> Result<Settings> {
    let (file, required) = match &args.config {
        Some(file) => (file.clone(), true),
        None => (args.config_dir.join(SETTINGS_FILE), false),
    };
    let mut settings = Settings::load(&file, required)?;
    if let Some(addr) = args.addr {
        settings.server.addr = addr;
    }
    if let Some(dir) = &args.data_dir {
        settings.server.data_dir = dir.clone();
    }
    Ok(settings)
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let settings = resolve_settings(&args)?;
    let dirs = Dirs {
        data_dir: settings.server.data_dir.clone(),
        config_dir: args.config_dir.clone(),
        schema: args.schema.clone(),
    };
    let data = DataDir::new(&dirs.data_dir);
    data.remove_abandoned_builds();
    if let Some(catalog) = &args.catalog {
        print_report(&index(catalog, &dirs)?);
    } else if data.current_index()?.is_none() {
        let catalog = dirs.data_dir.join("demo-catalog.jsonl");
        std::fs::create_dir_all(&dirs.data_dir)
            .map_err(|e| Error::io(format!("creating {}", dirs.data_dir.display()), e))?;
        eprintln!(
            "no index in {}: generating the demo catalog ({} products)",
            dirs.data_dir.display(),
            args.demo_products
        );
        crate::demo::write_catalog(&catalog, args.demo_products, DEMO_SEED)?;
        print_report(&index(&catalog, &dirs)?);
    }
    let engine = Engine::open_with_config(data, Some(dirs.config_dir.clone()))?;
    let (engine, feed) = match &args.shopper_store {
        Some(url) => {
            let (engine, feed) = engine.into_replica(url)?;
            (Arc::new(engine.start_crowd()), Some(feed))
        }
        None => {
            // The store first: a second server on this data directory stops here.
            let store = RedbStore::open_with_cache(
                &dirs.data_dir.join(STORE_FILE),
                settings.store.cache_mb.saturating_mul(1 << 20),
            )?;
            // Updates acknowledged while a build ran, or logged just before a crash.
            engine.catch_up_updates()?;
            let engine = engine.with_shoppers(Arc::new(store)).start_crowd();
            (Arc::new(engine), None)
        }
    };
    // With a shared store, every replica applies the catalog feed in order.
    let tailer = feed.clone().map(|feed| {
        let engine = engine.clone();
        std::thread::spawn(move || feed.tail(engine))
    });
    let state = AppState::new(engine.clone())
        .with_env_keys()
        .with_gate(Gate::new(&settings.limits, &settings.rate_limit));
    warn_about_access(&state);
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| Error::io("starting the runtime", e))?;
    let addr = settings.server.addr;
    let sweeper = runtime.spawn(crate::retention::run(
        engine.clone(),
        settings.retention.clone(),
    ));
    let served = runtime
        .block_on(http::serve_with(
            addr,
            state,
            &settings.limits,
            http::shutdown_signal(),
            |addr| {
                tracing::info!(
                    "clerk serving {} products on http://{addr}",
                    engine.documents()
                );
                eprintln!(
                    "clerk serving {} products on http://{addr}",
                    engine.documents()
                );
            },
        ))
        .map_err(|e| Error::io(format!("serving on {addr}"), e));
    sweeper.abort();
    if let (Some(feed), Some(tailer)) = (feed, tailer) {
        feed.stop();
        let _ = tailer.join();
    }
    served
}

/// Logs what is left open, so nobody exposes admin endpoints by accident.
fn warn_about_access(state: &AppState) {
    if state.admin_key.is_none() {
        tracing::warn!(
            "CLERK_ADMIN_KEY is not set: admin endpoints (reload, product upserts, forgetting shoppers, shopper tokens) are open to anyone who can reach this port"
        );
    }
    if state.search_key.is_none() {
        tracing::info!("CLERK_SEARCH_KEY is not set: search, events and profiles need no key");
    }
    if state.shopper_secret.is_none() {
        tracing::info!(
            "CLERK_SHOPPER_SECRET is not set: shopper ids are taken as given (anyone may act as any shopper)"
        );
    }
}

/// Prints a token for `id`, signed with `CLERK_SHOPPER_SECRET`.
pub fn shopper_token(id: &str, expires_in: Option<i64>) -> Result<()> {
    let secret = ShopperSecret::from_env().ok_or_else(|| {
        Error::bad_request(
            "no_shopper_secret",
            "set CLERK_SHOPPER_SECRET to the server's shopper secret first",
        )
    })?;
    if id.is_empty() || id.len() > crate::tokens::MAX_SHOPPER_ID_BYTES {
        return Err(Error::bad_request(
            "bad_shopper",
            format!(
                "the shopper id must be 1 to {} bytes",
                crate::tokens::MAX_SHOPPER_ID_BYTES
            ),
        ));
    }
    let expires = match expires_in {
        None => 0,
        Some(s) if s > 0 => chrono::Utc::now().timestamp().saturating_add(s),
        Some(s) => {
            return Err(Error::bad_request(
                "bad_expiry",
                format!("--expires-in must be a positive number of seconds, got {s}"),
            ));
        }
    };
    println!("{}", secret.mint(id, expires));
    Ok(())
}
