//! A workload whose client does nothing and answers at once: it measures the generator,
//! interpreter and history writer alone (`brawl bench interpreter`).

use std::time::Duration;

use async_trait::async_trait;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::{Checked, Completion, FinalReaders, Invocation, Workload, WorkloadKind};
use crate::checker::{check_linearizable, Budget, ModelKind};
use crate::client::{Client, Connector};
use crate::cluster::Node;
use crate::history::Op;

/// The no-op workload over `keys` keys.
pub struct Noop {
    /// Number of keys.
    pub keys: u32,
}

struct NoopClient;

/// Opens clients that answer every op at once with its own value.
pub struct NoopConnector;

#[async_trait]
impl Connector for NoopConnector {
    async fn open(&self, _node: &Node) -> Result<Box<dyn Client>, String> {
        Ok(Box::new(NoopClient))
    }
}

#[async_trait]
impl Client for NoopClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        Completion::Ok(op.value.clone())
    }
}

impl Workload for Noop {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Register
    }
    fn name(&self) -> &'static str {
        "noop"
    }
    fn keys(&self) -> u32 {
        self.keys
    }
    fn op(&self, rng: &mut ChaCha8Rng, key: u32) -> Invocation {
        Invocation { f: "write", value: json!([key, rng.random_range(0..5)]) }
    }
    fn final_read(&self, key: u32) -> Invocation {
        Invocation { f: "read", value: json!([key, Value::Null]) }
    }
    fn final_readers(&self) -> FinalReaders {
        FinalReaders::GroupLeaders
    }
    fn check(&self, ops: &[Op], budget: &Budget) -> Checked {
        Checked { linearizable: Some(check_linearizable(ops, ModelKind::Register, budget)), outcomes: Vec::new() }
    }
    fn op_timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
}
