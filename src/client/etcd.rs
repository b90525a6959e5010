//! etcd's client, through its v3 JSON gateway (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`).
//!
//! - `register`: a key `k` is etcd's key `brawl/<k>`, its value the JSON text of the register's
//!   value; single-key reads, puts and compare-and-set transactions. Reads are linearizable
//!   (through raft) unless the workload asks for `read-consistency: serializable` (served from
//!   the member's local state, possibly stale).
//! - `list-append` and `rw-register`: a key `k` is `brawl/la/<k>` (its value the JSON list) or
//!   `brawl/rw/<k>` (the JSON value). A transaction is optimistic, as Jepsen's etcd suite does
//!   it: one linearizable read-only `txn` ranges over every key the transaction touches (one
//!   revision, so a consistent snapshot); the micro-ops are applied to that snapshot in order,
//!   reads seeing the transaction's own earlier writes; then one `txn` commits, its `compare`
//!   checking that no touched key changed since (`mod_revision` equal, or `version` 0 for a key
//!   that was absent) and its `success` putting every written key. The reads therefore hold at
//!   the commit's revision as well. A failed compare changed nothing: the transaction is
//!   retried on a fresh snapshot a few times, then `fail`s. A read-only transaction completes
//!   with its snapshot. Checked as strict-serializable unless the workload says otherwise.
//! - `set`: an element `v` is the key `brawl/set/<v>`; a read is one linearizable range over the
//!   prefix (keys only).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
pub const SERVES: &[WorkloadKind] =
    &[WorkloadKind::Register, WorkloadKind::Set, WorkloadKind::ListAppend, WorkloadKind::RwRegister];

/// How many times a transaction whose compare failed (another transaction wrote one of its
/// keys in between) is retried before it fails.
const TXN_ATTEMPTS: u32 = 5;

/// The prefix of the set's element keys.
const SET_PREFIX: &str = "brawl/set/";

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
            _ => false,
        };
        EtcdConnector { kind: workload.kind(), serializable, op_timeout: workload.op_timeout() }
    }
}

#[async_trait]
impl Connector for EtcdConnector {
    async fn open(&self, node: &Node) -> Result<Box<dyn Client>, String> {
        if !SERVES.contains(&self.kind) {
            return Err(format!("etcd does not serve the {} workload", self.kind.name()));
        }
        let base = Etcd::client_url(node).map_err(|e| e.to_string())?;
        // Each client has its own connection pool, bound to its node.
        let http = reqwest::Client::builder()
            .timeout(self.op_timeout)
            .connect_timeout(self.op_timeout)
            .pool_max_idle_per_host(1)
            .build()
            .map_err(|e| e.to_string())?;
        let gateway = Gateway { http, base };
        Ok(Box::new(EtcdClient {
            gateway,
            kind: self.kind,
            serializable: self.serializable,
            op_timeout: self.op_timeout,
        }))
    }
}

/// One etcd member's JSON gateway.
struct Gateway {
    http: reqwest::Client,
    base: String,
}

/// What a request came back with: a JSON body, or why it did not.
#[derive(Debug)]
enum Reply {
    Body(Value),
    /// The request never reached the server (connection refused, no route): definitely not done.
    NotSent(String),
    /// Anything else: the server may or may not have acted.
    Unknown(String),
}

impl Gateway {
    /// POSTs `body` to `path`, giving up after `timeout`.
    async fn post(&self, path: &str, body: Value, timeout: Duration) -> Reply {
        let req = self.http.post(format!("{}{path}", self.base)).timeout(timeout).json(&body);
        let resp = match req.send().await {
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

/// A client of one etcd member, for one workload.
struct EtcdClient {
    gateway: Gateway,
    kind: WorkloadKind,
    serializable: bool,
    op_timeout: Duration,
}

#[async_trait]
impl Client for EtcdClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        match self.kind {
            WorkloadKind::Register => self.register(op).await,
            WorkloadKind::ListAppend => self.txn(op, TxnModel::ListAppend).await,
            WorkloadKind::RwRegister => self.txn(op, TxnModel::RwRegister).await,
            WorkloadKind::Set => self.set(op).await,
            other => {
                Completion::Fail { value: op.value.clone(), error: format!("etcd does not serve {}", other.name()) }
            }
        }
    }
}

impl EtcdClient {
    async fn register(&self, op: &Invocation) -> Completion {
        let value = op.value.clone();
        let Some(key) = value.get(0).and_then(Value::as_u64) else {
            return Completion::Fail { value, error: "malformed op: no key".into() };
        };
        let k = b64(&format!("brawl/{key}"));
        let enc = |v: &Value| b64(&v.to_string());
        let t = self.op_timeout;
        match op.f {
            "read" => {
                let body = json!({"key": k, "serializable": self.serializable});
                match self.gateway.post("/v3/kv/range", body, t).await {
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
                outcome(self.gateway.post("/v3/kv/put", body, t).await, value, |_| true)
            }
            "cas" => {
                let (old, new) = (&value[1][0], &value[1][1]);
                let body = json!({
                    "compare": [{"key": k, "target": "VALUE", "result": "EQUAL", "value": enc(old)}],
                    "success": [{"requestPut": {"key": k, "value": enc(new)}}],
                });
                outcome(self.gateway.post("/v3/kv/txn", body, t).await, value, succeeded)
            }
            other => Completion::Fail { value, error: format!("unknown op {other}") },
        }
    }

    async fn set(&self, op: &Invocation) -> Completion {
        let value = op.value.clone();
        let t = self.op_timeout;
        match op.f {
            "add" => {
                let Some(v) = value.as_u64() else {
                    return Completion::Fail { value, error: "malformed op: the element is no integer".into() };
                };
                let body = json!({"key": b64(&format!("{SET_PREFIX}{v}")), "value": b64("1")});
                outcome(self.gateway.post("/v3/kv/put", body, t).await, value, |_| true)
            }
            "read" => {
                let body =
                    json!({"key": b64(SET_PREFIX), "range_end": b64(&prefix_end(SET_PREFIX)), "keys_only": true});
                match self.gateway.post("/v3/kv/range", body, t).await {
                    Reply::Body(v) => match set_elements(&v) {
                        Ok(els) => Completion::Ok(json!(els)),
                        Err(error) => Completion::Fail { value, error },
                    },
                    Reply::NotSent(e) | Reply::Unknown(e) => Completion::Fail { value, error: e },
                }
            }
            other => Completion::Fail { value, error: format!("unknown op {other}") },
        }
    }

    /// One transaction: snapshot, apply, commit with compares; retried on a failed compare.
    async fn txn(&self, op: &Invocation, model: TxnModel) -> Completion {
        let value = op.value.clone();
        let deadline = Instant::now() + self.op_timeout;
        let Some(mops) = value.as_array() else {
            return Completion::Fail { value, error: "malformed op: a txn is a list of micro-ops".into() };
        };
        let keys = match touched_keys(mops) {
            Ok(k) => k,
            Err(error) => return Completion::Fail { value, error },
        };
        for _ in 0..TXN_ATTEMPTS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let snapshot = match self.gateway.post("/v3/kv/txn", snapshot_body(model, &keys), left).await {
                Reply::Body(v) => match parse_snapshot(model, &keys, &v) {
                    Ok(s) => s,
                    Err(error) => return Completion::Fail { value, error },
                },
                // Only reads so far: nothing happened.
                Reply::NotSent(error) | Reply::Unknown(error) => return Completion::Fail { value, error },
            };
            let (completed, writes) = match apply(model, mops, &snapshot) {
                Ok(x) => x,
                Err(error) => return Completion::Fail { value, error },
            };
            if writes.is_empty() {
                // The snapshot was one linearizable read at one revision: the transaction's.
                return Completion::Ok(completed);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.gateway.post("/v3/kv/txn", commit_body(model, &snapshot, &writes), left).await {
                Reply::Body(v) if succeeded(&v) => return Completion::Ok(completed),
                // A key changed since the snapshot; the txn did nothing. Try again.
                Reply::Body(_) => continue,
                Reply::NotSent(error) => return Completion::Fail { value, error },
                Reply::Unknown(error) => return Completion::Info { value, error },
            }
        }
        let error = format!("compare failed or time ran out before commit ({TXN_ATTEMPTS} attempts at most)");
        Completion::Fail { value, error }
    }
}

/// The transactional workloads' stored shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TxnModel {
    /// A key holds a JSON list; `append` adds to its end.
    ListAppend,
    /// A key holds one JSON value; `w` replaces it.
    RwRegister,
}

impl TxnModel {
    fn key(self, k: u64) -> String {
        match self {
            TxnModel::ListAppend => format!("brawl/la/{k}"),
            TxnModel::RwRegister => format!("brawl/rw/{k}"),
        }
    }
}

/// One key as the snapshot found it: its value (a list, a value, or null when absent) and its
/// `mod_revision` (None when absent).
#[derive(Clone, Debug, PartialEq)]
struct Stored {
    value: Value,
    mod_revision: Option<i64>,
}

/// The distinct keys of a transaction, in order of first use.
fn touched_keys(mops: &[Value]) -> Result<Vec<u64>, String> {
    let mut keys = Vec::new();
    for (i, m) in mops.iter().enumerate() {
        let k = m.get(1).and_then(Value::as_u64).ok_or_else(|| format!("malformed micro-op {i}: {m}"))?;
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    Ok(keys)
}

/// A read-only txn ranging over each of `keys`: one revision for all.
fn snapshot_body(model: TxnModel, keys: &[u64]) -> Value {
    let ranges: Vec<Value> = keys.iter().map(|k| json!({"requestRange": {"key": b64(&model.key(*k))}})).collect();
    json!({"success": ranges})
}

/// The snapshot's keys from the reply to `snapshot_body`.
fn parse_snapshot(model: TxnModel, keys: &[u64], reply: &Value) -> Result<BTreeMap<u64, Stored>, String> {
    let responses = reply.get("responses").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if responses.len() != keys.len() {
        return Err(format!("the snapshot txn answered {} ranges for {} keys", responses.len(), keys.len()));
    }
    let mut snap = BTreeMap::new();
    for (k, r) in keys.iter().zip(responses) {
        let kv = r.pointer("/response_range/kvs/0").or_else(|| r.pointer("/responseRange/kvs/0"));
        let stored = match kv {
            None => Stored { value: empty(model), mod_revision: None },
            Some(kv) => {
                let raw = kv.get("value").and_then(Value::as_str).unwrap_or("");
                let value = decode(raw).ok_or_else(|| format!("key {k} holds no JSON value"))?;
                let rev = kv.get("mod_revision").or(kv.get("modRevision")).and_then(int);
                Stored { value, mod_revision: Some(rev.ok_or_else(|| format!("key {k} has no mod_revision"))?) }
            }
        };
        snap.insert(*k, stored);
    }
    Ok(snap)
}

/// What an absent key reads as.
fn empty(model: TxnModel) -> Value {
    match model {
        TxnModel::ListAppend => json!([]),
        TxnModel::RwRegister => Value::Null,
    }
}

/// Applies the micro-ops in order to `snapshot`: the completed micro-ops (reads filled in, each
/// seeing the transaction's own earlier writes) and the keys written with their final values.
fn apply(
    model: TxnModel,
    mops: &[Value],
    snapshot: &BTreeMap<u64, Stored>,
) -> Result<(Value, BTreeMap<u64, Value>), String> {
    let mut state: BTreeMap<u64, Value> = snapshot.iter().map(|(k, s)| (*k, s.value.clone())).collect();
    let mut writes = BTreeMap::new();
    let mut done = Vec::with_capacity(mops.len());
    for (i, m) in mops.iter().enumerate() {
        let (f, k, v) = (m[0].as_str().unwrap_or(""), m[1].as_u64().unwrap_or(0), &m[2]);
        let cur = state.entry(k).or_insert_with(|| empty(model));
        match (model, f) {
            (_, "r") => done.push(json!(["r", k, cur.clone()])),
            (TxnModel::ListAppend, "append") => {
                match cur {
                    Value::Array(list) => list.push(v.clone()),
                    other => return Err(format!("key {k} holds {other}, not a list")),
                }
                writes.insert(k, cur.clone());
                done.push(m.clone());
            }
            (TxnModel::RwRegister, "w") => {
                *cur = v.clone();
                writes.insert(k, v.clone());
                done.push(m.clone());
            }
            _ => return Err(format!("micro-op {i}: unknown function {f:?}")),
        }
    }
    Ok((Value::Array(done), writes))
}

/// The committing txn: every snapshot key unchanged, then every write put.
fn commit_body(model: TxnModel, snapshot: &BTreeMap<u64, Stored>, writes: &BTreeMap<u64, Value>) -> Value {
    let compare: Vec<Value> = snapshot
        .iter()
        .map(|(k, s)| {
            let key = b64(&model.key(*k));
            match s.mod_revision {
                Some(rev) => json!({"key": key, "target": "MOD", "result": "EQUAL", "mod_revision": rev.to_string()}),
                None => json!({"key": key, "target": "VERSION", "result": "EQUAL", "version": "0"}),
            }
        })
        .collect();
    let success: Vec<Value> = writes
        .iter()
        .map(|(k, v)| json!({"requestPut": {"key": b64(&model.key(*k)), "value": b64(&v.to_string())}}))
        .collect();
    json!({"compare": compare, "success": success})
}

/// The elements of a range reply over the set's prefix, ascending.
fn set_elements(reply: &Value) -> Result<Vec<u64>, String> {
    let kvs = reply.get("kvs").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let mut els = Vec::with_capacity(kvs.len());
    for kv in kvs {
        let key = kv.get("key").and_then(Value::as_str).and_then(|k| B64.decode(k).ok()).unwrap_or_default();
        let key = String::from_utf8_lossy(&key);
        let el = key.strip_prefix(SET_PREFIX).and_then(|e| e.parse().ok());
        els.push(el.ok_or_else(|| format!("the set's range returned a foreign key {key:?}"))?);
    }
    els.sort_unstable();
    Ok(els)
}

/// The end of the range of keys starting with `prefix` (its last byte plus one).
fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether a txn reply says its compare held.
fn succeeded(v: &Value) -> bool {
    v.get("succeeded").and_then(Value::as_bool) == Some(true)
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

/// An int64 of the gateway's JSON: a string ("12") or a number.
fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn b64(s: &str) -> String {
    B64.encode(s)
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

    fn stored(value: Value, rev: Option<i64>) -> Stored {
        Stored { value, mod_revision: rev }
    }

    #[test]
    fn list_append_reads_see_the_txns_own_appends_and_write_whole_lists() {
        let mops = json!([["r", 1, null], ["append", 1, 3], ["r", 1, null], ["append", 2, 1], ["r", 3, null]]);
        let mops = mops.as_array().expect("list");
        assert_eq!(touched_keys(mops).expect("keys"), [1, 2, 3]);
        let snap: BTreeMap<u64, Stored> =
            [(1, stored(json!([1, 2]), Some(7))), (2, stored(json!([]), None)), (3, stored(json!([]), None))].into();
        let (done, writes) = apply(TxnModel::ListAppend, mops, &snap).expect("applies");
        assert_eq!(
            done,
            json!([["r", 1, [1, 2]], ["append", 1, 3], ["r", 1, [1, 2, 3]], ["append", 2, 1], ["r", 3, []]])
        );
        assert_eq!(writes, [(1, json!([1, 2, 3])), (2, json!([1]))].into());
        let body = commit_body(TxnModel::ListAppend, &snap, &writes);
        assert_eq!(
            body["compare"],
            json!([
                {"key": b64("brawl/la/1"), "target": "MOD", "result": "EQUAL", "mod_revision": "7"},
                {"key": b64("brawl/la/2"), "target": "VERSION", "result": "EQUAL", "version": "0"},
                {"key": b64("brawl/la/3"), "target": "VERSION", "result": "EQUAL", "version": "0"},
            ]),
            "every touched key is compared, read-only ones too"
        );
        assert_eq!(body["success"][0]["requestPut"]["value"], b64("[1,2,3]"));
        assert_eq!(body["success"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn rw_register_reads_the_last_write_and_absent_keys_are_null() {
        let mops = json!([["r", 5, null], ["w", 5, 2], ["w", 5, 3], ["r", 5, null], ["r", 6, null]]);
        let snap: BTreeMap<u64, Stored> = [(5, stored(Value::Null, None)), (6, stored(json!(9), Some(3)))].into();
        let (done, writes) = apply(TxnModel::RwRegister, mops.as_array().expect("list"), &snap).expect("applies");
        assert_eq!(done, json!([["r", 5, null], ["w", 5, 2], ["w", 5, 3], ["r", 5, 3], ["r", 6, 9]]));
        assert_eq!(writes, [(5, json!(3))].into());
        assert!(apply(TxnModel::RwRegister, json!([["append", 5, 1]]).as_array().expect("list"), &snap).is_err());
    }

    #[test]
    fn snapshots_are_parsed_from_the_gateways_json() {
        let keys = [1, 2];
        let body = snapshot_body(TxnModel::RwRegister, &keys);
        assert_eq!(body["success"][1]["requestRange"]["key"], b64("brawl/rw/2"));
        let reply = json!({"header": {}, "succeeded": true, "responses": [
            {"response_range": {"header": {}, "kvs": [{"key": b64("brawl/rw/1"), "value": b64("4"), "mod_revision": "12"}], "count": "1"}},
            {"response_range": {"header": {}}},
        ]});
        let snap = parse_snapshot(TxnModel::RwRegister, &keys, &reply).expect("parses");
        assert_eq!(snap[&1], stored(json!(4), Some(12)));
        assert_eq!(snap[&2], stored(Value::Null, None));
        assert!(parse_snapshot(TxnModel::RwRegister, &[1], &reply).is_err(), "one range per key");
    }

    #[test]
    fn set_reads_are_the_elements_under_the_prefix_sorted() {
        assert_eq!(prefix_end(SET_PREFIX), "brawl/set0");
        let reply = json!({"kvs": [{"key": b64("brawl/set/10")}, {"key": b64("brawl/set/9")}]});
        assert_eq!(set_elements(&reply).expect("parses"), [9, 10]);
        assert_eq!(set_elements(&json!({"count": "0"})).expect("empty"), Vec::<u64>::new());
        assert!(set_elements(&json!({"kvs": [{"key": b64("brawl/other")}]})).is_err());
    }
}
