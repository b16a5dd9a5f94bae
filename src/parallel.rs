//! Work split across cores for large catalogs: one task per index segment.
//!
//! Matching and retrieval work segment by segment and merge at the end, so on a
//! catalog large enough for the split to pay (thread hand-off costs microseconds, a
//! segment of a million-product catalog milliseconds) the segments run on rayon's
//! pool, one per core. The caller's request deadline ([`crate::deadline`]) goes with
//! each task. Input: the number of segments and a task per segment; output: the
//! tasks' results in segment order, exactly as a sequential run gives them.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

/// By default, catalogs with fewer live products than this are searched on the
/// calling thread ([`set_min_docs`] changes it).
pub const MIN_DOCS: u64 = 200_000;

static THRESHOLD: AtomicU64 = AtomicU64::new(MIN_DOCS);

/// Sets the catalog size from which segments are searched in parallel (`u64::MAX`:
/// never; 0: always, when there are several segments).
pub fn set_min_docs(docs: u64) {
    THRESHOLD.store(docs, Ordering::Relaxed);
}

/// `work(ord)` for every segment `ord` in `0..segments`, in order; in parallel when
/// the catalog holds at least [`MIN_DOCS`] products and more than one segment.
pub fn per_segment<T: Send>(
    segments: usize,
    docs: u64,
    work: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    let threshold = THRESHOLD.load(Ordering::Relaxed);
    if segments < 2 || docs < threshold || rayon::current_num_threads() < 2 {
        return (0..segments).map(work).collect();
    }
    let deadline = crate::deadline::current();
    (0..segments)
        .into_par_iter()
        .map(|ord| crate::deadline::adopt(deadline, || work(ord)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_segment_order_either_way() {
        let small = per_segment(5, 10, |i| i * 2);
        let large = per_segment(5, u64::MAX - 1, |i| i * 2);
        assert_eq!(small, [0, 2, 4, 6, 8]);
        assert_eq!(large, small);
    }

    #[test]
    fn the_callers_deadline_reaches_every_task() {
        let spent = crate::deadline::within(std::time::Duration::ZERO, || {
            per_segment(4, u64::MAX - 1, |_| crate::deadline::check().is_err())
        });
        assert_eq!(spent, [true; 4]);
        let fine = per_segment(4, u64::MAX - 1, |_| crate::deadline::check().is_ok());
        assert_eq!(fine, [true; 4]);
    }
}
