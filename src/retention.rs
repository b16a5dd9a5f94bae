//! Retention: raw events live for a configured window, idle shoppers' profiles for a
//! longer one, then they go.
//!
//! Profiles fold every event in as it arrives (decayed weights), so dropping the raw
//! event later loses nothing a search uses; reports, learning and the crowd read raw
//! events, and they read the window. [`run`] sweeps at start and then every
//! `sweep_interval_seconds`:
//!
//! * events whose time is before now − `events_days` are dropped, and the learned
//!   signals and crowd models forget what only those events taught
//!   ([`Engine::expire_events`]), so memory follows the window, not every shopper ever
//!   seen, and a long-running server agrees with a restarted one;
//! * profiles of shoppers with no event since now − `profiles_days` are dropped,
//!   opt-outs excepted ([`Engine::expire_profiles`]). Each sweep looks at
//!   [`PROFILES_PER_SWEEP`] profiles at most and the next one goes on where it
//!   stopped, so the work per sweep is bounded however many shoppers the store has.
//!
//! The store reuses the freed pages, so its file stays bounded by the window's traffic
//! and the number of shoppers active within `profiles_days`.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;
use crate::settings::Retention;

/// Profiles one sweep looks at, at most.
pub const PROFILES_PER_SWEEP: usize = 20_000;
/// Profiles looked at in one store transaction.
const PROFILES_PER_STEP: usize = 2_000;

/// Sweeps forever (until the task is dropped); does nothing without a window.
pub async fn run(engine: Arc<Engine>, retention: Retention) {
    let Some(window) = retention.window() else {
        return;
    };
    let profiles_window = retention.profiles_window();
    let mut tick =
        tokio::time::interval(Duration::from_secs(retention.sweep_interval_seconds.max(1)));
    let mut cursor: Option<String> = None;
    loop {
        tick.tick().await;
        let engine = engine.clone();
        let now = chrono::Utc::now().timestamp();
        let cutoff = now - window.as_secs() as i64;
        let idle_before = profiles_window.map(|w| now - w.as_secs() as i64);
        let from = cursor.take();
        let swept = tokio::task::spawn_blocking(move || {
            let events = engine.expire_events(cutoff);
            let profiles = match idle_before {
                Some(idle_before) => sweep_profiles(&engine, idle_before, from),
                None => Ok((0, None)),
            };
            crate::memory::release_free_pages();
            (events, profiles)
        });
        let (events, profiles) = match swept.await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!("retention sweep task failed: {e}");
                continue;
            }
        };
        match events {
            Ok(0) => {}
            Ok(n) => tracing::info!("retention: dropped {n} events older than {window:?}"),
            Err(e) => tracing::warn!("retention sweep failed: {e}"),
        }
        match profiles {
            Ok((dropped, next)) => {
                cursor = next;
                if dropped > 0 {
                    tracing::info!(
                        "retention: dropped {dropped} profiles idle for {profiles_window:?}"
                    );
                }
            }
            Err(e) => tracing::warn!("retention: expiring profiles failed: {e}"),
        }
    }
}

/// Looks at up to [`PROFILES_PER_SWEEP`] profiles after `cursor`, dropping the idle
/// ones; returns how many went and where the next sweep goes on.
fn sweep_profiles(
    engine: &Engine,
    idle_before: i64,
    mut cursor: Option<String>,
) -> crate::error::Result<(usize, Option<String>)> {
    let mut dropped = 0;
    let mut looked = 0;
    while looked < PROFILES_PER_SWEEP {
        let (n, next) = engine.expire_profiles(idle_before, cursor, PROFILES_PER_STEP)?;
        dropped += n;
        looked += PROFILES_PER_STEP;
        cursor = next;
        if cursor.is_none() {
            break;
        }
    }
    Ok((dropped, cursor))
}
