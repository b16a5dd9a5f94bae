//! Process-wide memory tuning applied once at start-up, before any thread exists.
//!
//! glibc's malloc gives each thread that contends for the heap its own arena (up to
//! eight per core). clerk runs searches on tokio's blocking pool, whose threads come
//! and go, so under a steady mix of searches and events the arenas multiply and each
//! keeps its freed pages: a 10-minute soak grew RSS 70 → 250 MB without levelling,
//! while the same soak with two arenas stayed within ±3 %. [`cap_malloc_arenas`]
//! therefore caps the arena count in the product rather than asking every operator to
//! export `MALLOC_ARENA_MAX`.
//!
//! Input: the environment. `CLERK_MALLOC_ARENAS` sets the cap (default
//! [`DEFAULT_MALLOC_ARENAS`]; `0` leaves glibc's own default); an explicit
//! `MALLOC_ARENA_MAX`, which glibc reads itself, is left alone. Output: one `mallopt`
//! call and a description of what was done, for the start-up log. On targets other
//! than glibc nothing happens.
//!
//! [`allocator`] is the binary's global allocator: glibc's malloc for the server,
//! mimalloc for batch commands, which allocate far more per second of work.

pub mod allocator;

pub use allocator::{Hybrid, use_batch_allocator};

/// Arenas when nothing is configured: two kept RSS flat over a 30-minute soak, at the
/// price of ~25 % throughput at saturation (docs/performance.md, "Soak").
pub const DEFAULT_MALLOC_ARENAS: u32 = 2;

/// The largest cap accepted; more than this is glibc's default on any machine we run.
const MAX_MALLOC_ARENAS: u32 = 1024;

/// What start-up did about malloc arenas, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArenaCap {
    /// `mallopt(M_ARENA_MAX, n)` was applied.
    Capped(u32),
    /// Left to glibc: `CLERK_MALLOC_ARENAS=0`, `MALLOC_ARENA_MAX` set, or not glibc.
    Untouched(&'static str),
    /// `CLERK_MALLOC_ARENAS` was not a number in range; the default was applied.
    Invalid { value: String, applied: u32 },
}

/// Decides the cap from the two environment values (pure, so it is testable).
pub fn decide(clerk_value: Option<&str>, glibc_value: Option<&str>) -> ArenaCap {
    if glibc_value.is_some() {
        return ArenaCap::Untouched("MALLOC_ARENA_MAX is set");
    }
    match clerk_value.map(str::trim) {
        None | Some("") => ArenaCap::Capped(DEFAULT_MALLOC_ARENAS),
        Some("0") => ArenaCap::Untouched("CLERK_MALLOC_ARENAS=0"),
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n <= MAX_MALLOC_ARENAS => ArenaCap::Capped(n),
            _ => ArenaCap::Invalid {
                value: v.to_string(),
                applied: DEFAULT_MALLOC_ARENAS,
            },
        },
    }
}

/// Reads the environment and applies the cap. Call first thing in `main`.
pub fn cap_malloc_arenas() -> ArenaCap {
    let clerk = std::env::var("CLERK_MALLOC_ARENAS").ok();
    let glibc = std::env::var("MALLOC_ARENA_MAX").ok();
    let decision = decide(clerk.as_deref(), glibc.as_deref());
    let n = match &decision {
        ArenaCap::Capped(n) => *n,
        ArenaCap::Invalid { applied, .. } => *applied,
        ArenaCap::Untouched(_) => return decision,
    };
    if apply(n) {
        decision
    } else {
        ArenaCap::Untouched("not glibc, or mallopt refused")
    }
}

/// Hands the allocator's free pages back to the operating system (glibc's
/// `malloc_trim`, which also releases whole free pages inside the heap, not only at its
/// top). Long-lived models that forget half their entries at once (co-occurrence past
/// its pair budget) and the retention sweep call it, so that RSS follows what is live
/// rather than the highest it ever was. Costs a walk of the free lists, a few
/// milliseconds at most; elsewhere a no-op.
pub fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused memory to the kernel; it is thread-safe
    // and has no memory-safety preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply(n: u32) -> bool {
    let Ok(n) = libc::c_int::try_from(n) else {
        return false;
    };
    // SAFETY: mallopt only sets a tuning parameter of the allocator; it is
    // thread-safe and has no memory-safety preconditions.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, n) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply(_n: u32) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_caps_at_two_and_glibc_own_setting_wins() {
        assert_eq!(decide(None, None), ArenaCap::Capped(2));
        assert_eq!(decide(Some(" "), None), ArenaCap::Capped(2));
        assert_eq!(decide(Some("4"), None), ArenaCap::Capped(4));
        assert!(matches!(
            decide(Some("4"), Some("8")),
            ArenaCap::Untouched(_)
        ));
        assert!(matches!(decide(Some("0"), None), ArenaCap::Untouched(_)));
    }

    #[test]
    fn a_bad_value_is_reported_and_the_default_applied() {
        for bad in ["two", "-1", "99999"] {
            assert_eq!(
                decide(Some(bad), None),
                ArenaCap::Invalid {
                    value: bad.to_string(),
                    applied: 2
                }
            );
        }
    }
}
