//! Workloads: what clients do to the system under test, and how their ops are checked.
//!
//! A `Workload` opens one `Client` per worker thread, bound to a node, and draws each op's
//! `Invocation` from a seeded RNG for a key the generator hands it. Clients never return errors:
//! a failure of the system under test is a `Completion` (`Fail` when the op definitely did not
//! happen, `Info` when it may have), kept in the history. One file per workload: `register.rs`,
//! `noop.rs` (does nothing; measures the interpreter).

pub mod noop;
pub mod register;

use async_trait::async_trait;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::checker::ModelKind;
use crate::cluster::Node;

/// One op to perform: its function and argument (`value` carries the key as `[key, v]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// `read`, `write`, `cas`, ...
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

/// A connection to the system under test on one node, used by one worker thread.
#[async_trait]
pub trait Client: Send {
    /// Performs `op`. Never an `Err`: timeouts and dropped connections are `Completion::Info`.
    async fn invoke(&mut self, op: &Invocation) -> Completion;
}

/// A workload: clients, op generation and the model its histories are checked against.
#[async_trait]
pub trait Workload: Send + Sync {
    /// Short name for reports (`register`).
    fn name(&self) -> &'static str;
    /// Opens a client bound to `node`; an error becomes a `fail` op with `no-client`.
    async fn open_client(&self, node: &Node) -> Result<Box<dyn Client>, String>;
    /// The number of independent keys ops are spread over.
    fn keys(&self) -> u32;
    /// The next op on `key`, drawn from `rng`.
    fn op(&self, rng: &mut ChaCha8Rng, key: u32) -> Invocation;
    /// The final read of `key`, done once the system had time to recover.
    fn final_read(&self, key: u32) -> Invocation;
    /// The model the linearizability checker uses for this workload's history.
    fn model(&self) -> ModelKind;
    /// How long one op may take before it is abandoned as `info`.
    fn op_timeout(&self) -> std::time::Duration;
}
