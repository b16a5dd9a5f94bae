//! A per-request work deadline that long loops check, so a request past its budget
//! stops working instead of running on after its caller gave up.
//!
//! The HTTP layer (or any caller) runs the work inside [`within`], which sets the
//! deadline for the current thread; retrieval calls [`check`] once per segment and
//! per relaxation step, and [`Ticker::tick`] every [`CHECK_EVERY`] documents. Past the
//! deadline they return [`Error::DeadlineExceeded`], which the HTTP edge answers with
//! `503` and `Retry-After`. Work run outside [`within`] (the command line, `clerk
//! eval`, benchmarks) has no deadline and never pays more than a thread-local read.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Documents between two clock reads inside a scoring loop.
pub const CHECK_EVERY: u32 = 4_096;

thread_local! {
    static DEADLINE: Cell<Option<(Instant, Duration)>> = const { Cell::new(None) };
}

/// Runs `work` with a deadline `budget` from now on this thread, then clears it.
pub fn within<T>(budget: Duration, work: impl FnOnce() -> T) -> T {
    let _reset = Reset(DEADLINE.with(|d| d.replace(Some((Instant::now() + budget, budget)))));
    work()
}

/// A deadline carried from one thread to another ([`current`], [`adopt`]).
pub type Carried = Option<(Instant, Duration)>;

/// The current thread's deadline, to carry into work run on other threads.
pub fn current() -> Carried {
    DEADLINE.with(Cell::get)
}

/// Runs `work` on this thread under a deadline taken with [`current`] on another.
pub fn adopt<T>(deadline: Carried, work: impl FnOnce() -> T) -> T {
    let _reset = Reset(DEADLINE.with(|d| d.replace(deadline)));
    work()
}

/// Puts a thread's previous deadline back when the work is done.
struct Reset(Carried);

impl Drop for Reset {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.0));
    }
}

/// `Err(DeadlineExceeded)` when the current thread's deadline has passed.
pub fn check() -> Result<()> {
    match DEADLINE.with(Cell::get) {
        Some((at, budget)) if Instant::now() >= at => Err(Error::DeadlineExceeded {
            budget_ms: budget.as_millis() as u64,
        }),
        _ => Ok(()),
    }
}

/// Counts documents and checks the deadline every [`CHECK_EVERY`] of them.
#[derive(Debug, Default)]
pub struct Ticker(u32);

impl Ticker {
    pub fn tick(&mut self) -> Result<()> {
        self.0 += 1;
        if self.0 >= CHECK_EVERY {
            self.0 = 0;
            check()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_inside_a_spent_budget_stops_and_outside_never_does() {
        assert!(check().is_ok());
        let outcome = within(Duration::from_millis(5), || {
            std::thread::sleep(Duration::from_millis(10));
            let mut ticker = Ticker::default();
            (0..CHECK_EVERY * 2).try_for_each(|_| ticker.tick())
        });
        assert!(matches!(
            outcome,
            Err(Error::DeadlineExceeded { budget_ms: 5 })
        ));
        assert!(check().is_ok(), "the deadline is cleared after the work");
        let fine = within(Duration::from_secs(60), check);
        assert!(fine.is_ok());
    }
}
