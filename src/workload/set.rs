//! The set workload, Jepsen's `set-full`: clients add unique integers (`add v`) and now and
//! then read the whole set (`read` -> `[v ...]`); once the faults are healed and the system had
//! its recovery time, one client on every node reads the set again. Checked by
//! `checker::set_full`: lost, stale, never-read and unexpected elements, duplicates in a read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use super::txn::shape_or;
use super::{Checked, FinalReaders, Invocation, Workload, WorkloadKind};
use crate::checker::{set_full, Budget};
use crate::config::raw::duration;
use crate::history::Op;

/// The test file's `workload: { set: { ... } }` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SetSpec {
    /// The fraction of ops that are reads (default 0.1).
    pub read_fraction: Option<f64>,
    /// The set claims to be linearizable: a stale read is an anomaly (default false).
    pub linearizable: Option<bool>,
    /// How long an op may take before it is abandoned as indeterminate (default 5s).
    #[serde(default, deserialize_with = "duration::option")]
    pub op_timeout: Option<Duration>,
}

/// The set workload.
pub struct Set {
    spec: SetSpec,
    next: AtomicU64,
}

impl Set {
    /// The workload for `spec`.
    pub fn new(spec: &SetSpec) -> Self {
        Set { spec: spec.clone(), next: AtomicU64::new(0) }
    }
}

impl Workload for Set {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Set
    }

    fn op(&self, rng: &mut ChaCha8Rng, _key: u32) -> Invocation {
        let reads = self.spec.read_fraction.unwrap_or(0.1).clamp(0.0, 1.0);
        if rng.random_bool(reads) {
            Invocation { f: "read", value: Value::Null }
        } else {
            Invocation { f: "add", value: json!(self.next.fetch_add(1, Ordering::Relaxed)) }
        }
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
        let opts = set_full::Options { linearizable: self.spec.linearizable.unwrap_or(false) };
        Checked { linearizable: None, outcomes: vec![shape_or(set_full::check(ops, &opts), "set-full")] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn adds_are_unique_and_reads_come_at_their_fraction() {
        let w = Set::new(&SetSpec { read_fraction: Some(0.25), ..Default::default() });
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let ops: Vec<Invocation> = (0..4000).map(|_| w.op(&mut rng, 0)).collect();
        let adds: Vec<u64> = ops.iter().filter(|o| o.f == "add").filter_map(|o| o.value.as_u64()).collect();
        let mut sorted = adds.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), adds.len(), "unique adds");
        let reads = ops.iter().filter(|o| o.f == "read").count();
        assert!((800..1200).contains(&reads), "{reads} reads of 4000");
        assert_eq!(w.final_readers(), FinalReaders::OnePerNode);
    }
}
