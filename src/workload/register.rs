//! The register workload: concurrent read, write and compare-and-set on independent keys,
//! through etcd's v3 JSON gateway (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`).
//!
//! Values in the history are Jepsen's independent tuples: read `[k, v]` (null when the key is
//! absent), write `[k, v]`, cas `[k, [old, new]]`.

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Client, Completion, Invocation, Workload};
use crate::checker::ModelKind;
use crate::cluster::Node;
use crate::config::raw::duration;
use crate::db::etcd::Etcd;

/// The test file's `workload: { register: { ... } }` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegisterSpec {
    /// Number of independent keys (default 8).
    pub keys: Option<u32>,
    /// `linearizable` (default) or `serializable` reads: etcd's two read consistencies.
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

/// The register workload against etcd.
pub struct Register {
    keys: u32,
    serializable: bool,
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
            serializable: spec.read_consistency == Some(ReadConsistency::Serializable),
            value_range: spec.value_range.unwrap_or(5).max(1),
            weights: [mix.read, mix.write, mix.cas],
            op_timeout: spec.op_timeout.unwrap_or(Duration::from_secs(2)),
        }
    }
}

#[async_trait]
impl Workload for Register {
    fn name(&self) -> &'static str {
        "register"
    }

    async fn open_client(&self, node: &Node) -> Result<Box<dyn Client>, String> {
        let base = Etcd::client_url(node).map_err(|e| e.to_string())?;
        // Each client has its own connection pool, bound to its node.
        let http = reqwest::Client::builder()
            .timeout(self.op_timeout)
            .connect_timeout(self.op_timeout)
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Box::new(EtcdRegisterClient { http, base, serializable: self.serializable }))
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

    fn final_read(&self, key: u32) -> Invocation {
        Invocation { f: "read", value: json!([key, Value::Null]) }
    }

    fn model(&self) -> ModelKind {
        ModelKind::CasRegister
    }

    fn op_timeout(&self) -> Duration {
        self.op_timeout
    }
}

/// A client of one etcd member's JSON gateway.
struct EtcdRegisterClient {
    http: reqwest::Client,
    base: String,
    serializable: bool,
}

/// What a request came back with: a JSON body, or why it did not.
enum Reply {
    Body(Value),
    /// The request never reached the server (connection refused, no route): definitely not done.
    NotSent(String),
    /// Anything else: the server may or may not have acted.
    Unknown(String),
}

impl EtcdRegisterClient {
    async fn post(&self, path: &str, body: Value) -> Reply {
        let resp = match self.http.post(format!("{}{path}", self.base)).json(&body).send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Reply::NotSent(short(&e)),
            Err(e) if e.is_timeout() => return Reply::Unknown("timeout".into()),
            Err(e) => return Reply::Unknown(short(&e)),
        };
        let status = resp.status();
        match resp.json::<Value>().await {
            Ok(v) if status.is_success() => Reply::Body(v),
            Ok(v) => Reply::Unknown(
                v.get("error").or(v.get("message")).and_then(Value::as_str).unwrap_or("error").to_string(),
            ),
            Err(e) if e.is_timeout() => Reply::Unknown("timeout".into()),
            Err(e) => Reply::Unknown(short(&e)),
        }
    }
}

#[async_trait]
impl Client for EtcdRegisterClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let value = op.value.clone();
        let Some(key) = value.get(0).and_then(Value::as_u64) else {
            return Completion::Fail { value, error: "malformed op: no key".into() };
        };
        let k = B64.encode(format!("brawl/{key}"));
        let enc = |v: &Value| B64.encode(v.to_string());
        match op.f {
            "read" => {
                let body = json!({"key": k, "serializable": self.serializable});
                match self.post("/v3/kv/range", body).await {
                    Reply::Body(v) => {
                        let read =
                            v.pointer("/kvs/0/value").and_then(Value::as_str).and_then(decode).unwrap_or(Value::Null);
                        Completion::Ok(json!([key, read]))
                    }
                    // A read changes nothing, so one that did not answer can safely be a failure.
                    Reply::NotSent(e) | Reply::Unknown(e) => Completion::Fail { value, error: e },
                }
            }
            "write" => {
                let body = json!({"key": k, "value": enc(&value[1])});
                outcome(self.post("/v3/kv/put", body).await, value, |_| true)
            }
            "cas" => {
                let (old, new) = (&value[1][0], &value[1][1]);
                let body = json!({
                    "compare": [{"key": k, "target": "VALUE", "result": "EQUAL", "value": enc(old)}],
                    "success": [{"requestPut": {"key": k, "value": enc(new)}}],
                });
                outcome(self.post("/v3/kv/txn", body).await, value, |v| {
                    v.get("succeeded").and_then(Value::as_bool) == Some(true)
                })
            }
            other => Completion::Fail { value, error: format!("unknown op {other}") },
        }
    }
}

/// A write's completion: ok when `applied`, fail when definitely not done, info when unknown.
fn outcome(reply: Reply, value: Value, applied: impl Fn(&Value) -> bool) -> Completion {
    match reply {
        Reply::Body(v) if applied(&v) => Completion::Ok(value),
        Reply::Body(_) => Completion::Fail { value, error: "precondition failed".into() },
        Reply::NotSent(e) => Completion::Fail { value, error: e },
        Reply::Unknown(e) => Completion::Info { value, error: e },
    }
}

/// A stored value (base64 of its JSON text) back as JSON.
fn decode(b64: &str) -> Option<Value> {
    let bytes = B64.decode(b64).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn short(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s.chars().take(200).collect()
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

    #[test]
    fn replies_map_to_completions() {
        let v = json!([1, 2]);
        assert_eq!(outcome(Reply::Body(json!({})), v.clone(), |_| true), Completion::Ok(v.clone()));
        assert!(matches!(outcome(Reply::Body(json!({})), v.clone(), |_| false), Completion::Fail { .. }));
        assert!(matches!(outcome(Reply::NotSent("refused".into()), v.clone(), |_| true), Completion::Fail { .. }));
        assert!(matches!(outcome(Reply::Unknown("timeout".into()), v, |_| true), Completion::Info { .. }));
        assert_eq!(decode(&B64.encode("4")), Some(json!(4)));
    }
}
