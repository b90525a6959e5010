//! The counter workload, Jepsen's `counter`: clients add small integers to one counter
//! (`add n`) and read it (`read` -> n); checked by `checker::counter`: every read within the
//! sums of the adds that must and that may have happened by then. Every node reads once more at
//! the end.

use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use super::txn::shape_or;
use super::{Checked, FinalReaders, Invocation, Workload, WorkloadKind};
use crate::checker::{counter, Budget};
use crate::config::raw::duration;
use crate::history::Op;

/// The test file's `workload: { counter: { ... } }` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CounterSpec {
    /// Adds are drawn from 1..=max-add (default 5).
    pub max_add: Option<u32>,
    /// Adds may also be negative, from -max-add..=-1 (default false).
    pub negative: Option<bool>,
    /// The fraction of ops that are reads (default 0.5).
    pub read_fraction: Option<f64>,
    /// How long an op may take before it is abandoned as indeterminate (default 5s).
    #[serde(default, deserialize_with = "duration::option")]
    pub op_timeout: Option<Duration>,
}

/// The counter workload.
pub struct Counter {
    spec: CounterSpec,
}

impl Counter {
    /// The workload for `spec`.
    pub fn new(spec: &CounterSpec) -> Self {
        Counter { spec: spec.clone() }
    }
}

impl Workload for Counter {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Counter
    }

    fn op(&self, rng: &mut ChaCha8Rng, _key: u32) -> Invocation {
        if rng.random_bool(self.spec.read_fraction.unwrap_or(0.5).clamp(0.0, 1.0)) {
            return Invocation { f: "read", value: Value::Null };
        }
        let max = i64::from(self.spec.max_add.unwrap_or(5).max(1));
        let mut n = rng.random_range(1..=max);
        if self.spec.negative.unwrap_or(false) && rng.random_bool(0.5) {
            n = -n;
        }
        Invocation { f: "add", value: json!(n) }
    }

    fn final_readers(&self) -> FinalReaders {
        FinalReaders::OnePerNode
    }

    fn final_read(&self, _key: u32) -> Invocation {
        Invocation { f: "read", value: Value::Null }
    }

    fn op_timeout(&self) -> Duration {
        self.spec.op_timeout.unwrap_or(Duration::from_secs(5))
    }

    fn check(&self, ops: &[Op], _budget: &Budget) -> Checked {
        Checked { linearizable: None, outcomes: vec![shape_or(counter::check(ops, &counter::Options {}), "counter")] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn adds_stay_in_range_and_go_negative_only_when_asked() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let pos = Counter::new(&CounterSpec { max_add: Some(3), ..Default::default() });
        let neg = Counter::new(&CounterSpec { max_add: Some(3), negative: Some(true), ..Default::default() });
        let adds = |w: &Counter, rng: &mut ChaCha8Rng| -> Vec<i64> {
            (0..500).map(|_| w.op(rng, 0)).filter(|o| o.f == "add").filter_map(|o| o.value.as_i64()).collect()
        };
        let p = adds(&pos, &mut rng);
        assert!(p.iter().all(|n| (1..=3).contains(n)), "{p:?}");
        let n = adds(&neg, &mut rng);
        assert!(n.iter().all(|n| (-3..=3).contains(n) && *n != 0));
        assert!(n.iter().any(|n| *n < 0));
    }
}
