//! `Budget`: the time and memory one check may use, and `Meter`, which the per-key searches
//! share to enforce it. Running out makes a key `Unknown`; it never changes a verdict.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Limits for one check of a whole history (all keys together).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Wall time for the whole check.
    pub time: Duration,
    /// Bytes the search's configuration sets and memo tables may hold at once (an estimate of
    /// their heap use, not of the process's RSS).
    pub memory_bytes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { time: Duration::from_secs(60), memory_bytes: 1 << 30 }
    }
}

/// Why a search stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exhausted {
    /// Past `Budget::time`.
    Time,
    /// Past `Budget::memory_bytes`.
    Memory,
}

impl Exhausted {
    /// The reason recorded for an unknown key.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Exhausted::Time => "time budget exceeded",
            Exhausted::Memory => "memory budget exceeded",
        }
    }
}

/// Shared by the worker threads of one check.
#[derive(Debug)]
pub(crate) struct Meter {
    deadline: Instant,
    limit: usize,
    /// Estimated bytes held by all searches right now; atomic because keys run in parallel.
    used: AtomicUsize,
    /// High-water mark of `used`, reported in the result.
    peak: AtomicUsize,
    /// Set once the clock has run out, so other workers stop without reading the clock.
    timed_out: AtomicBool,
}

impl Meter {
    /// Starts the clock.
    pub(crate) fn new(budget: &Budget) -> Meter {
        let now = Instant::now();
        Meter {
            deadline: now.checked_add(budget.time).unwrap_or(now + Duration::from_secs(86_400 * 365)),
            limit: budget.memory_bytes,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            timed_out: AtomicBool::new(false),
        }
    }

    /// Checks the clock.
    pub(crate) fn check_time(&self) -> Result<(), Exhausted> {
        if self.timed_out.load(Ordering::Relaxed) || Instant::now() >= self.deadline {
            self.timed_out.store(true, Ordering::Relaxed);
            return Err(Exhausted::Time);
        }
        Ok(())
    }

    /// Records that a search now holds `bytes` more (or fewer) bytes.
    pub(crate) fn grow(&self, bytes: usize) -> Result<(), Exhausted> {
        let now = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
        if now > self.limit {
            return Err(Exhausted::Memory);
        }
        Ok(())
    }

    /// Records that a search released `bytes`.
    pub(crate) fn shrink(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// The most bytes held at once so far.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_past_the_limit_is_exhausted() {
        let m = Meter::new(&Budget { time: Duration::from_secs(5), memory_bytes: 100 });
        assert_eq!(m.grow(60), Ok(()));
        assert_eq!(m.grow(60), Err(Exhausted::Memory));
        m.shrink(60);
        assert_eq!(m.grow(10), Ok(()));
        assert_eq!(m.peak(), 120);
    }

    #[test]
    fn a_zero_time_budget_is_exhausted_at_once() {
        let m = Meter::new(&Budget { time: Duration::ZERO, memory_bytes: 100 });
        assert_eq!(m.check_time(), Err(Exhausted::Time));
    }
}
