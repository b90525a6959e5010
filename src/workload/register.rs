//! The register workload: concurrent read, write and compare-and-set on independent keys,
//! checked for linearizability against a compare-and-set register (Knossos' `cas-register`).
//!
//! Values in the history are Jepsen's independent tuples: read `[k, v]` (null when the key is
//! absent), write `[k, v]`, cas `[k, [old, new]]`.

use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Checked, FinalReaders, Invocation, Workload, WorkloadKind};
use crate::checker::{check_linearizable, Budget, ModelKind};
use crate::config::raw::duration;
use crate::history::Op;

/// The test file's `workload: { register: { ... } }` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegisterSpec {
    /// Number of independent keys (default 8).
    pub keys: Option<u32>,
    /// `linearizable` (default) or `serializable` reads, for databases that offer the choice
    /// (etcd: serializable reads are served from the member's local state and may be stale).
    pub read_consistency: Option<ReadConsistency>,
    /// Values written are drawn from 0..value-range (default 5, as Jepsen).
    pub value_range: Option<u32>,
    /// Relative weights of read, write and cas (default 1 each).
    pub mix: Option<Mix>,
    /// How long an op may take before it is abandoned as indeterminate (default 2s).
    #[serde(default, deserialize_with = "duration::option")]
    pub op_timeout: Option<Duration>,
}

/// etcd's read consistency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadConsistency {
    /// Reads go through raft (the default).
    #[default]
    Linearizable,
    /// Reads are served from the member's local state (may be stale).
    Serializable,
}

/// Relative weights of the op kinds.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Mix {
    /// Weight of reads.
    #[serde(default = "one")]
    pub read: u32,
    /// Weight of writes.
    #[serde(default = "one")]
    pub write: u32,
    /// Weight of compare-and-sets.
    #[serde(default = "one")]
    pub cas: u32,
}

fn one() -> u32 {
    1
}

/// The register workload.
pub struct Register {
    keys: u32,
    value_range: u32,
    weights: [u32; 3],
    op_timeout: Duration,
}

impl Register {
    /// The workload for `spec`.
    pub fn new(spec: &RegisterSpec) -> Self {
        let mix = spec.mix.clone().unwrap_or(Mix { read: 1, write: 1, cas: 1 });
        Register {
            keys: spec.keys.unwrap_or(8).max(1),
            value_range: spec.value_range.unwrap_or(5).max(1),
            weights: [mix.read, mix.write, mix.cas],
            op_timeout: spec.op_timeout.unwrap_or(Duration::from_secs(2)),
        }
    }
}

impl Workload for Register {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Register
    }

    fn keys(&self) -> u32 {
        self.keys
    }

    fn op(&self, rng: &mut ChaCha8Rng, key: u32) -> Invocation {
        let total: u32 = self.weights.iter().sum::<u32>().max(1);
        let pick = rng.random_range(0..total);
        let v = |rng: &mut ChaCha8Rng| rng.random_range(0..self.value_range);
        if pick < self.weights[0] {
            Invocation { f: "read", value: json!([key, Value::Null]) }
        } else if pick < self.weights[0] + self.weights[1] {
            Invocation { f: "write", value: json!([key, v(rng)]) }
        } else {
            Invocation { f: "cas", value: json!([key, [v(rng), v(rng)]]) }
        }
    }

    fn final_readers(&self) -> FinalReaders {
        FinalReaders::GroupLeaders
    }

    fn final_read(&self, key: u32) -> Invocation {
        Invocation { f: "read", value: json!([key, Value::Null]) }
    }

    fn op_timeout(&self) -> Duration {
        self.op_timeout
    }

    fn check(&self, ops: &[Op], budget: &Budget) -> Checked {
        Checked { linearizable: Some(check_linearizable(ops, ModelKind::CasRegister, budget)), outcomes: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ops_follow_the_mix_and_carry_their_key() {
        let spec = RegisterSpec { mix: Some(Mix { read: 0, write: 1, cas: 0 }), ..Default::default() };
        let w = Register::new(&spec);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let op = w.op(&mut rng, 3);
            assert_eq!(op.f, "write");
            assert_eq!(op.value[0], 3);
            assert!(op.value[1].as_u64().is_some_and(|v| v < 5));
        }
        let all = Register::new(&RegisterSpec::default());
        let fs: std::collections::BTreeSet<&str> = (0..200).map(|_| all.op(&mut rng, 0).f).collect();
        assert_eq!(fs.into_iter().collect::<Vec<_>>(), ["cas", "read", "write"]);
    }
}
