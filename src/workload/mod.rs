//! Workloads: what is asked of the system under test and how the answers are judged. A
//! workload knows no database: it draws ops in Jepsen's shapes from a seeded RNG, says which
//! final reads end a run, and checks the history with the checkers of `crate::checker`. The
//! database-specific half, turning ops into calls, is a client (`crate::client`).
//!
//! Clients never return errors: a failure of the system under test is a `Completion` (`Fail`
//! when the op definitely did not happen, `Info` when it may have), kept in the history. One
//! file per workload: `register.rs`, `list_append.rs` and `rw_register.rs` (transactions, on
//! `txn.rs`'s generator), `set.rs`, `counter.rs`, `bank.rs`, `noop.rs` (does nothing;
//! measures the interpreter).

pub mod bank;
pub mod counter;
pub mod noop;
pub mod register;
pub mod set;
pub mod txn;

use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::checker::{Budget, CheckOutcome, LinearizabilityResult};
use crate::history::Op;

/// The workloads brawl has, by the name a test file gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    /// Read, write and compare-and-set on independent keys; linearizability.
    Register,
    /// Transactions of appends to and reads of lists; Elle's list-append.
    ListAppend,
    /// Transactions of writes and reads of registers; Elle's rw-register.
    RwRegister,
    /// Adds of unique elements and reads of the whole set; Jepsen's set-full.
    Set,
    /// Increments and reads of one counter; Jepsen's counter.
    Counter,
    /// Transfers between accounts and reads of every balance; Jepsen's bank.
    Bank,
}

impl WorkloadKind {
    /// Every workload, in the order documentation lists them.
    pub const ALL: [WorkloadKind; 6] = [
        WorkloadKind::Register,
        WorkloadKind::ListAppend,
        WorkloadKind::RwRegister,
        WorkloadKind::Set,
        WorkloadKind::Counter,
        WorkloadKind::Bank,
    ];

    /// The name a test file uses (`list-append`).
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Register => "register",
            WorkloadKind::ListAppend => "list-append",
            WorkloadKind::RwRegister => "rw-register",
            WorkloadKind::Set => "set",
            WorkloadKind::Counter => "counter",
            WorkloadKind::Bank => "bank",
        }
    }

    /// `a, b and c` for error messages.
    pub fn list(kinds: &[WorkloadKind]) -> String {
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        match names.split_last() {
            None => "nothing".into(),
            Some((last, [])) => (*last).into(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }
}

/// One op to perform: its function and argument, in history form (Jepsen's shapes: a register's
/// `[key, v]`, a transaction's `[["append", k, v], ["r", k, null]]`, a set's element ...).
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// `read`, `write`, `cas`, `txn`, `add`, `transfer` ...
    pub f: &'static str,
    /// The argument, in history form.
    pub value: Value,
}

/// How an op ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Completion {
    /// It happened; the value is the result (a read's value) in history form.
    Ok(Value),
    /// It definitely did not happen.
    Fail {
        /// The value as invoked.
        value: Value,
        /// Why.
        error: String,
    },
    /// It may or may not have happened, now or later.
    Info {
        /// The value as invoked.
        value: Value,
        /// Why it is unknown.
        error: String,
    },
}

/// Which worker threads do a workload's final reads, once faults are healed and the system
/// had its recovery time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalReaders {
    /// None: the workload has no final reads.
    Nobody,
    /// One thread per key group reads each of its group's keys (registers).
    GroupLeaders,
    /// One thread on every node (threads `0..nodes`, thread `t` being bound to node
    /// `t % nodes`) reads once: a set's final reads.
    OnePerNode,
}

/// What a workload's checkers concluded.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// The linearizability checker's result, for workloads checked by it (registers).
    pub linearizable: Option<LinearizabilityResult>,
    /// Every other checker's outcome (transactions, sets, counters, banks).
    pub outcomes: Vec<CheckOutcome>,
}

/// A workload: op generation, final reads and checking. Shared by every worker thread; a
/// generator that needs shared state (keys that retire, unique values) keeps it behind a lock.
pub trait Workload: Send + Sync {
    /// Which workload this is.
    fn kind(&self) -> WorkloadKind;
    /// Short name for reports (`register`).
    fn name(&self) -> &'static str {
        self.kind().name()
    }
    /// The number of independent keys the scheduler spreads threads over (Jepsen's
    /// `independent` keys); 1 for workloads that choose their own keys.
    fn keys(&self) -> u32 {
        1
    }
    /// The next op of a thread working on scheduler key `key`, drawn from `rng`.
    fn op(&self, rng: &mut ChaCha8Rng, key: u32) -> Invocation;
    /// Who does the final reads.
    fn final_readers(&self) -> FinalReaders {
        FinalReaders::Nobody
    }
    /// The final read of scheduler key `key` (`GroupLeaders`), or the one final read of a node
    /// (`OnePerNode`, with `key` 0).
    fn final_read(&self, key: u32) -> Invocation;
    /// How long one op may take before it is abandoned as `info`.
    fn op_timeout(&self) -> Duration;
    /// Checks a history of this workload (pure; run under `catch_unwind` by `run::guard`).
    fn check(&self, ops: &[Op], budget: &Budget) -> Checked;
}
