//! Event retention: raw events live for a configured window, then go.
//!
//! Profiles fold every event in as it arrives (decayed weights), so dropping the raw
//! event later loses nothing a search uses; only reports and learning read raw
//! events, and they read the window. [`run`] sweeps at start and then every
//! `sweep_interval_seconds`, dropping events whose time is before now − window; the
//! store reuses the freed pages, so its file stays bounded by the window's traffic.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;
use crate::settings::Retention;

/// Sweeps forever (until the task is dropped); does nothing without a window.
pub async fn run(engine: Arc<Engine>, retention: Retention) {
    let Some(window) = retention.window() else {
        return;
    };
    let mut tick =
        tokio::time::interval(Duration::from_secs(retention.sweep_interval_seconds.max(1)));
    loop {
        tick.tick().await;
        let engine = engine.clone();
        let cutoff = chrono::Utc::now().timestamp() - window.as_secs() as i64;
        let swept = tokio::task::spawn_blocking(move || {
            let dropped = engine.expire_events(cutoff);
            crate::memory::release_free_pages();
            dropped
        });
        match swept.await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!("retention: dropped {n} events older than {window:?}"),
            Ok(Err(e)) => tracing::warn!("retention sweep failed: {e}"),
            Err(e) => tracing::warn!("retention sweep task failed: {e}"),
        }
    }
}
