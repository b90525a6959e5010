//! A workload whose client does nothing and answers at once: it measures the generator,
//! interpreter and history writer alone (`brawl bench interpreter`).

use std::time::Duration;

use async_trait::async_trait;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::{Client, Completion, Invocation, Workload};
use crate::checker::ModelKind;
use crate::cluster::Node;

/// The no-op workload over `keys` keys.
pub struct Noop {
    /// Number of keys.
    pub keys: u32,
}

struct NoopClient;

#[async_trait]
impl Client for NoopClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        Completion::Ok(op.value.clone())
    }
}

#[async_trait]
impl Workload for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
    async fn open_client(&self, _node: &Node) -> Result<Box<dyn Client>, String> {
        Ok(Box::new(NoopClient))
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
    fn model(&self) -> ModelKind {
        ModelKind::Register
    }
    fn op_timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
}
