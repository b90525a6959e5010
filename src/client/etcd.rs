//! etcd's client, through its v3 JSON gateway (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`):
//! the register workload as single-key reads, puts and compare-and-set transactions.
//!
//! A key `k` of the register workload is etcd's key `brawl/<k>`, its value the JSON text of the
//! register's value. Reads are linearizable (through raft) unless the workload asks for
//! `read-consistency: serializable` (served from the member's local state, possibly stale).

use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};

use super::{Client, Connector};
use crate::cluster::{Cluster, Node};
use crate::config::raw::WorkloadSpec;
use crate::db::etcd::Etcd;
use crate::workload::register::ReadConsistency;
use crate::workload::{Completion, Invocation, WorkloadKind};

/// The workloads etcd serves.
pub const SERVES: &[WorkloadKind] = &[WorkloadKind::Register];

/// Opens etcd clients for one test.
pub struct EtcdConnector {
    kind: WorkloadKind,
    serializable: bool,
    op_timeout: Duration,
}

impl EtcdConnector {
    /// The connector for `workload` (which `client::connector` checked etcd serves).
    pub fn new(workload: &WorkloadSpec, _cluster: &Cluster) -> Self {
        let serializable = match workload {
            WorkloadSpec::Register(r) => r.read_consistency == Some(ReadConsistency::Serializable),
            #[allow(unreachable_patterns)]
            _ => false,
        };
        EtcdConnector { kind: workload.kind(), serializable, op_timeout: workload.op_timeout() }
    }
}

#[async_trait]
impl Connector for EtcdConnector {
    async fn open(&self, node: &Node) -> Result<Box<dyn Client>, String> {
        let base = Etcd::client_url(node).map_err(|e| e.to_string())?;
        // Each client has its own connection pool, bound to its node.
        let http = reqwest::Client::builder()
            .timeout(self.op_timeout)
            .connect_timeout(self.op_timeout)
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| e.to_string())?;
        match self.kind {
            WorkloadKind::Register => Ok(Box::new(EtcdRegisterClient { http, base, serializable: self.serializable })),
            other => Err(format!("etcd does not serve the {} workload", other.name())),
        }
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
