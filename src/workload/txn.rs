//! The transactional workloads, Elle's `list-append` and `rw-register`: each op is a
//! transaction (`f: txn`) of micro-ops on a small pool of keys, checked by
//! `checker::txn` for the test's consistency models.
//!
//! The generator is Elle's: a pool of `keys` active keys; each transaction has between
//! `min-txn-length` and `max-txn-length` micro-ops, each a read or (equally likely) a write of
//! a key drawn from the pool. Values written to a key are unique for that key (1, 2, 3 ...), so
//! reads can be traced to their writes; once a key has had `max-writes-per-key` writes it
//! retires and a fresh key takes its place, so version orders stay short. The pool and the
//! counters are shared by every thread (behind a lock): which thread gets which value depends
//! on how the threads interleave, while each thread's choices (lengths, reads or writes, pool
//! slots) come from its own seeded RNG.
//!
//! History shapes: list-append `[["append", k, v], ["r", k, null]]`, completed with the lists
//! read (`["r", k, [1, 2]]`); rw-register `[["w", k, v], ["r", k, null]]`, completed with the
//! value read (null for a key never written).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Checked, Invocation, Workload, WorkloadKind};
use crate::checker::txn::{self, Model};
use crate::checker::{Budget, CheckOutcome, ShapeError, Validity};
use crate::config::raw::duration;
use crate::history::Op;

/// The test file's `workload: { list-append: { ... } }` (or `rw-register:`) section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TxnSpec {
    /// Active keys at any time (default 8).
    pub keys: Option<u32>,
    /// Fewest micro-ops per transaction (default 1).
    pub min_txn_length: Option<u32>,
    /// Most micro-ops per transaction (default 4).
    pub max_txn_length: Option<u32>,
    /// Writes a key takes before it retires (default 32).
    pub max_writes_per_key: Option<u32>,
    /// Consistency models the history is checked for (Elle's names and aliases; default
    /// `strict-serializable`).
    #[serde(default)]
    pub consistency_models: Vec<String>,
    /// Extra anomaly classes to look for (Elle's `:anomalies`).
    #[serde(default)]
    pub anomalies: Vec<String>,
    /// How long a transaction may take before it is abandoned as indeterminate (default 5s).
    #[serde(default, deserialize_with = "duration::option")]
    pub op_timeout: Option<Duration>,
}

impl TxnSpec {
    /// The consistency models to check: the test's, or `strict-serializable`.
    pub fn models(&self) -> Vec<String> {
        if self.consistency_models.is_empty() {
            vec!["strict-serializable".into()]
        } else {
            self.consistency_models.clone()
        }
    }

    /// How long one transaction may take.
    pub fn op_timeout(&self) -> Duration {
        self.op_timeout.unwrap_or(Duration::from_secs(5))
    }
}

/// The shared state of the generator: the key pool and each key's writes so far.
#[derive(Debug)]
struct Pool {
    active: Vec<u64>,
    next_key: u64,
    writes: HashMap<u64, u64>,
}

/// A transactional workload (list-append or rw-register).
pub struct Txn {
    model: Model,
    spec: TxnSpec,
    min_len: u32,
    max_len: u32,
    max_writes: u64,
    pool: Mutex<Pool>,
}

impl Txn {
    /// The workload for `spec`, of `model`'s kind.
    pub fn new(model: Model, spec: &TxnSpec) -> Self {
        let keys = u64::from(spec.keys.unwrap_or(8).max(1));
        let min_len = spec.min_txn_length.unwrap_or(1).max(1);
        let max_len = spec.max_txn_length.unwrap_or(4).max(min_len);
        Txn {
            model,
            spec: spec.clone(),
            min_len,
            max_len,
            max_writes: u64::from(spec.max_writes_per_key.unwrap_or(32).max(1)),
            pool: Mutex::new(Pool { active: (0..keys).collect(), next_key: keys, writes: HashMap::new() }),
        }
    }

    /// The checker's options for this workload.
    pub fn options(&self) -> txn::Options {
        txn::Options {
            model: self.model,
            consistency_models: self.spec.models(),
            anomalies: self.spec.anomalies.clone(),
            ..txn::Options::default()
        }
    }
}

impl Workload for Txn {
    fn kind(&self) -> WorkloadKind {
        match self.model {
            Model::ListAppend => WorkloadKind::ListAppend,
            Model::RwRegister => WorkloadKind::RwRegister,
        }
    }

    fn op(&self, rng: &mut ChaCha8Rng, _key: u32) -> Invocation {
        let len = rng.random_range(self.min_len..=self.max_len);
        let mut mops = Vec::with_capacity(len as usize);
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..len {
            let slot = rng.random_range(0..pool.active.len());
            let key = pool.active[slot];
            if rng.random_bool(0.5) {
                mops.push(json!(["r", key, Value::Null]));
                continue;
            }
            let n = pool.writes.entry(key).or_insert(0);
            *n += 1;
            let value = *n;
            if value >= self.max_writes {
                // Retired: a fresh key takes its slot.
                pool.writes.remove(&key);
                pool.active[slot] = pool.next_key;
                pool.next_key += 1;
            }
            let f = match self.model {
                Model::ListAppend => "append",
                Model::RwRegister => "w",
            };
            mops.push(json!([f, key, value]));
        }
        Invocation { f: "txn", value: Value::Array(mops) }
    }

    fn final_read(&self, _key: u32) -> Invocation {
        Invocation { f: "txn", value: json!([]) }
    }

    fn op_timeout(&self) -> Duration {
        self.spec.op_timeout()
    }

    fn check(&self, ops: &[Op], _budget: &Budget) -> Checked {
        let name = self.kind().name();
        Checked { linearizable: None, outcomes: vec![shape_or(txn::check(ops, &self.options()), name)] }
    }
}

/// A checker's outcome, or for a history it refuses, an `unknown` outcome naming the op.
pub fn shape_or(r: Result<CheckOutcome, ShapeError>, checker: &str) -> CheckOutcome {
    r.unwrap_or_else(|e| {
        CheckOutcome::new(checker, Validity::Unknown, format!("the history does not fit the {checker} checker: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::BTreeMap;

    #[test]
    fn values_are_unique_per_key_and_keys_retire() {
        let spec = TxnSpec { keys: Some(3), max_writes_per_key: Some(4), ..Default::default() };
        let w = Txn::new(Model::ListAppend, &spec);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut seen: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for _ in 0..500 {
            let op = w.op(&mut rng, 0);
            assert_eq!(op.f, "txn");
            let mops = op.value.as_array().expect("txn");
            assert!((1..=4).contains(&mops.len()), "{op:?}");
            for m in mops {
                if m[0] == "append" {
                    seen.entry(m[1].as_u64().expect("key")).or_default().push(m[2].as_u64().expect("value"));
                } else {
                    assert_eq!(m[0], "r");
                    assert!(m[2].is_null());
                }
            }
        }
        assert!(seen.len() > 20, "keys retire and fresh ones come: {}", seen.len());
        for (k, vs) in &seen {
            assert!(vs.len() <= 4, "key {k} written {} times", vs.len());
            assert_eq!(*vs, (1..=vs.len() as u64).collect::<Vec<_>>(), "key {k}: unique, in order");
        }
    }

    #[test]
    fn rw_register_writes_w() {
        let w = Txn::new(Model::RwRegister, &TxnSpec::default());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let fs: std::collections::BTreeSet<String> = (0..50)
            .flat_map(|_| w.op(&mut rng, 0).value.as_array().cloned().unwrap_or_default())
            .map(|m| m[0].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(fs.into_iter().collect::<Vec<_>>(), ["r", "w"]);
        assert_eq!(w.kind(), WorkloadKind::RwRegister);
    }
}
