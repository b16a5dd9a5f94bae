//! Helpers for tests that read the shared third-party data (`../shared`).
//!
//! The WANDS and Icecat files live beside the repository, not in it, so a bare clone
//! has none of them. A test asks [`shared_or_skip`] for the path it needs: it gets
//! `Some(path)` when the file exists and `None` (with a printed reason) when it does
//! not, so `cargo test` passes on a bare clone. Under CI (`CI` set to anything but
//! `false`/`0`/empty) a missing file panics instead: `.ci/run` has the data, and a test
//! that silently skipped there would hide a regression.

use std::io::Write;
use std::path::PathBuf;

/// The shared file or folder `relative` (e.g. `data/wands/query.csv`) under
/// [`crate::shared_data_dir`], or `None` after printing why the caller skips.
///
/// # Panics
/// When the path is missing and the environment variable `CI` is set (truthy).
pub fn shared_or_skip(relative: &str) -> Option<PathBuf> {
    let path = crate::shared_data_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    let reason = format!(
        "skipped: ../shared/{relative} not found ({} does not exist; set CLERK_SHARED to the shared data folder)",
        path.display()
    );
    if running_in_ci() {
        panic!("{reason}; CI must have the shared data");
    }
    // Straight to the process's stderr: the test harness captures eprintln! of passing
    // tests, and a skip must be visible in a plain `cargo test`.
    let _ = writeln!(std::io::stderr(), "{reason}");
    None
}

/// Whether `CI` asks skips to become failures.
fn running_in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_none_outside_ci() {
        // Env changes are process-wide; this test only reads CI and never sets it.
        if running_in_ci() {
            return;
        }
        assert_eq!(shared_or_skip("no/such/file-for-clerk-tests.csv"), None);
    }
}
