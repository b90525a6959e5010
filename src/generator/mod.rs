//! Generators: which op each worker thread invokes next, and when, drawn from the test's seed.
//!
//! Every thread has its own ChaCha stream (the test's seed, stream = thread), so the schedule of
//! invocations (what each thread invokes, on which key, after which pause) is the same for the
//! same seed, whatever the system under test answers. Keys are handed out Jepsen-style
//! (`independent/concurrent-generator`): threads form groups of at most `threads_per_key`; a group
//! owns the keys `k ≡ group (mod groups)` and each thread moves to its group's next key every
//! `ops_per_key` ops, so no key ever sees more than `threads_per_key` concurrent processes.
//! `interpreter` runs the threads against clients and records the history.

pub mod interpreter;

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::workload::{Invocation, Workload};

/// How ops are spread over threads, keys and time.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Number of worker threads.
    pub concurrency: usize,
    /// Target ops/s over all threads; `None` is as fast as the clients go.
    pub rate: Option<f64>,
    /// At most this many threads work on one key (Jepsen's group size).
    pub threads_per_key: usize,
    /// A thread moves to its group's next key after this many ops.
    pub ops_per_key: u64,
    /// The seed of every RNG.
    pub seed: u64,
}

impl Schedule {
    /// Defaults for a test: groups of up to 5 threads, 100 ops per key.
    pub fn new(concurrency: usize, rate: Option<f64>, seed: u64) -> Self {
        Schedule { concurrency: concurrency.max(1), rate, threads_per_key: 5, ops_per_key: 100, seed }
    }

    /// Number of thread groups for `keys` keys (never more groups than keys).
    pub fn groups(&self, keys: u32) -> u32 {
        let by_threads = self.concurrency.div_ceil(self.threads_per_key.max(1)) as u32;
        by_threads.clamp(1, keys.max(1))
    }

    /// The group of thread `t`.
    pub fn group_of(&self, thread: usize, keys: u32) -> u32 {
        (thread as u32) % self.groups(keys)
    }

    /// One generator per thread.
    pub fn threads(&self, keys: u32) -> Vec<ThreadGen> {
        (0..self.concurrency).map(|t| ThreadGen::new(self, t, keys)).collect()
    }
}

/// The next op of one thread and the pause before it.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// What to invoke.
    pub op: Invocation,
    /// How long after the thread's previous invocation to invoke it.
    pub gap: Duration,
}

/// One thread's op stream. Pure: no clock, no I/O; time only as planned gaps.
#[derive(Clone, Debug)]
pub struct ThreadGen {
    rng: ChaCha8Rng,
    group: u32,
    /// Number of groups (threads `0..groups` lead their group in the final reads).
    pub groups: u32,
    keys: u32,
    ops: u64,
    ops_per_key: u64,
    /// Mean gap between this thread's invocations (ns); gaps are uniform in [0, 2·mean).
    mean_gap_ns: Option<f64>,
}

impl ThreadGen {
    fn new(s: &Schedule, thread: usize, keys: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
        rng.set_stream(thread as u64);
        let mean_gap_ns = s.rate.filter(|r| *r > 0.0).map(|r| 1e9 * s.concurrency as f64 / r);
        ThreadGen {
            rng,
            group: s.group_of(thread, keys),
            groups: s.groups(keys),
            keys: keys.max(1),
            ops: 0,
            ops_per_key: s.ops_per_key.max(1),
            mean_gap_ns,
        }
    }

    /// The key this thread works on now.
    pub fn key(&self) -> u32 {
        let in_group = (self.keys - self.group).div_ceil(self.groups).max(1);
        let step = ((self.ops / self.ops_per_key) % u64::from(in_group)) as u32;
        self.group + step * self.groups
    }

    /// The keys of this thread's group.
    pub fn group_keys(&self) -> Vec<u32> {
        (self.group..self.keys).step_by(self.groups as usize).collect()
    }

    /// The next op and the pause before it.
    pub fn next(&mut self, workload: &dyn Workload) -> Planned {
        let key = self.key();
        let op = workload.op(&mut self.rng, key);
        self.ops += 1;
        let gap = match self.mean_gap_ns {
            Some(mean) => Duration::from_nanos(self.rng.random_range(0.0..2.0 * mean) as u64),
            None => Duration::ZERO,
        };
        Planned { op, gap }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::register::{Register, RegisterSpec};

    fn plan(seed: u64) -> Vec<Vec<Planned>> {
        let w = Register::new(&RegisterSpec { keys: Some(4), ..Default::default() });
        Schedule::new(6, Some(100.0), seed)
            .threads(4)
            .into_iter()
            .map(|mut g| (0..300).map(|_| g.next(&w)).collect())
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_of_invocations() {
        assert_eq!(plan(7), plan(7));
        assert_ne!(plan(7), plan(8));
    }

    #[test]
    fn no_key_is_shared_by_more_than_threads_per_key_threads() {
        let s = Schedule { concurrency: 12, rate: None, threads_per_key: 3, ops_per_key: 10, seed: 1 };
        let w = Register::new(&RegisterSpec { keys: Some(10), ..Default::default() });
        let mut gens = s.threads(10);
        let mut users: std::collections::BTreeMap<u64, std::collections::BTreeSet<usize>> = Default::default();
        for _ in 0..200 {
            for (t, g) in gens.iter_mut().enumerate() {
                let key = g.next(&w).op.value[0].as_u64().expect("key");
                users.entry(key).or_default().insert(t);
            }
        }
        assert!(users.values().all(|threads| threads.len() <= 3), "{users:?}");
        assert_eq!(users.len(), 10, "every key gets used: {users:?}");
    }

    #[test]
    fn gaps_average_to_the_target_rate() {
        let w = Register::new(&RegisterSpec::default());
        let mut g = Schedule::new(10, Some(1000.0), 3).threads(8).remove(0);
        let total: Duration = (0..10_000).map(|_| g.next(&w).gap).sum();
        // 10 threads at 1000 ops/s in all: 10 ms per op per thread on average.
        let mean_ms = total.as_secs_f64() * 1000.0 / 10_000.0;
        assert!((9.5..10.5).contains(&mean_ms), "{mean_ms}");
        let mut fast = Schedule::new(10, None, 3).threads(8).remove(0);
        assert_eq!(fast.next(&w).gap, Duration::ZERO);
    }
}
