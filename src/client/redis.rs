//! Redis's client, on redis-rs (tokio): the register workload as GET / SET and a compare-and-set
//! Lua script, the set as SADD / SMEMBERS, the counter as INCRBY / GET, list-append as
//! MULTI/EXEC transactions of RPUSH and LRANGE.
//!
//! Every op goes to the primary. With Sentinel, a client asks its node's Sentinel (then the
//! others) for the primary (`SENTINEL get-master-addr-by-name`) when it opens, and again after a
//! `READONLY`, `MASTERDOWN` or `NOREPLICAS` answer or a lost connection: so it follows failovers.
//! Rules of info: an error reply from the server means the command was refused and did not
//! happen (`fail`); a write whose reply was lost (timeout, dropped connection) is `info`; a read
//! that did not answer is `fail` (a read changes nothing).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use serde_json::{json, Value};

use super::{Client, Connector};
use crate::cluster::{Cluster, Node};
use crate::config::raw::WorkloadSpec;
use crate::db::node_ip;
use crate::db::redis::{ask_sentinel, connect, RedisSpec, PORT};
use crate::workload::{Completion, Invocation, WorkloadKind};

/// The workloads Redis serves.
pub const SERVES: &[WorkloadKind] =
    &[WorkloadKind::Register, WorkloadKind::Set, WorkloadKind::Counter, WorkloadKind::ListAppend];

/// The set workload's Redis key.
const SET_KEY: &str = "brawl:set";
/// The counter workload's Redis key.
const COUNTER_KEY: &str = "brawl:counter";

/// Compare-and-set, atomic because Redis runs a script alone: set `ARGV[2]` when the value is
/// `ARGV[1]`; 1 when it did, 0 when the precondition failed.
const CAS_SCRIPT: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]); return 1 else return 0 end";

/// Where the primary is and how to reach it: shared by a test's clients.
struct Target {
    sentinel: bool,
    /// Never logged.
    password: Option<String>,
    /// Every node's address, in test order (the first is the single server's).
    nodes: Vec<(String, IpAddr)>,
    op_timeout: Duration,
}

impl Target {
    /// The primary's address as seen from `node`: its Sentinel's answer first, then the
    /// other Sentinels'; without Sentinel, the first node.
    async fn locate(&self, node: &str) -> Result<IpAddr, String> {
        if !self.sentinel {
            return self.nodes.first().map(|n| n.1).ok_or_else(|| "no nodes".to_string());
        }
        let mut order: Vec<&(String, IpAddr)> = self.nodes.iter().filter(|n| n.0 == node).collect();
        order.extend(self.nodes.iter().filter(|n| n.0 != node));
        let mut last = String::from("no sentinel");
        let limit = self.op_timeout.min(Duration::from_secs(1));
        for (_, ip) in order {
            match ask_sentinel(*ip, limit).await {
                Ok((host, _)) => {
                    return host.parse().map_err(|_| format!("sentinel named primary {host:?}, not an address"))
                }
                Err(e) => last = e,
            }
        }
        Err(format!("no sentinel named the primary: {last}"))
    }

    async fn open(&self, node: &str) -> Result<MultiplexedConnection, String> {
        let ip = self.locate(node).await?;
        let pw = self.password.as_deref();
        match tokio::time::timeout(self.op_timeout * 2, connect(ip, PORT, pw, self.op_timeout)).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(format!("connecting to {ip}: {}", short(&e))),
            Err(_) => Err(format!("connecting to {ip}: timeout")),
        }
    }
}

/// Opens Redis clients for one test.
pub struct RedisConnector {
    kind: WorkloadKind,
    target: Arc<Target>,
}

impl RedisConnector {
    /// The connector for `workload` (which `client::connector` checked Redis serves); refuses
    /// bad options.
    pub fn new(spec: &RedisSpec, workload: &WorkloadSpec, cluster: &Cluster) -> Result<Self, String> {
        spec.validate()?;
        let nodes = cluster
            .nodes()
            .iter()
            .map(|n| node_ip(n).map(|ip| (n.name.clone(), ip)).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let target = Target {
            sentinel: spec.sentinel,
            password: spec.password.clone(),
            nodes,
            op_timeout: workload.op_timeout(),
        };
        Ok(RedisConnector { kind: workload.kind(), target: Arc::new(target) })
    }
}

#[async_trait]
impl Connector for RedisConnector {
    async fn open(&self, node: &Node) -> Result<Box<dyn Client>, String> {
        if !SERVES.contains(&self.kind) {
            return Err(format!("redis does not serve the {} workload", self.kind.name()));
        }
        let conn = self.target.open(&node.name).await?;
        Ok(Box::new(RedisClient {
            kind: self.kind,
            target: self.target.clone(),
            node: node.name.clone(),
            conn: Some(conn),
        }))
    }
}

/// One worker's connection to the primary; `None` after an error that calls for finding the
/// primary again.
struct RedisClient {
    kind: WorkloadKind,
    target: Arc<Target>,
    node: String,
    conn: Option<MultiplexedConnection>,
}

/// Why an op did not complete ok.
#[derive(Debug)]
enum Failure {
    /// A precondition did not hold (cas): definitely not done.
    Precondition,
    /// The op cannot be made of this value.
    Malformed(String),
    /// What redis-rs said.
    Redis(redis::RedisError),
}

impl From<redis::RedisError> for Failure {
    fn from(e: redis::RedisError) -> Self {
        Failure::Redis(e)
    }
}

#[async_trait]
impl Client for RedisClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let value = op.value.clone();
        let conn = match &self.conn {
            Some(c) => c.clone(),
            None => match self.target.open(&self.node).await {
                Ok(c) => {
                    self.conn = Some(c.clone());
                    c
                }
                // Never sent: the op surely did not happen.
                Err(e) => return Completion::Fail { value, error: format!("not connected: {e}") },
            },
        };
        let read_only = is_read_only(op);
        match tokio::time::timeout(self.target.op_timeout, perform(conn, self.kind, op)).await {
            Ok(Ok(v)) => Completion::Ok(v),
            Ok(Err(Failure::Precondition)) => Completion::Fail { value, error: "precondition failed".into() },
            Ok(Err(Failure::Malformed(e))) => Completion::Fail { value, error: format!("malformed op: {e}") },
            Ok(Err(Failure::Redis(e))) => {
                let (definite, reconnect) = classify(&e);
                if reconnect {
                    self.conn = None;
                }
                let error = short(&e);
                if definite || read_only {
                    Completion::Fail { value, error }
                } else {
                    Completion::Info { value, error }
                }
            }
            Err(_) => {
                self.conn = None;
                if read_only {
                    Completion::Fail { value, error: "timeout".into() }
                } else {
                    Completion::Info { value, error: "timeout".into() }
                }
            }
        }
    }
}

/// (the server refused the command, so it did not happen; find the primary again).
fn classify(e: &redis::RedisError) -> (bool, bool) {
    match e.code() {
        Some(code) => (true, matches!(code, "READONLY" | "MASTERDOWN" | "NOREPLICAS" | "LOADING" | "NOAUTH")),
        None => (e.is_connection_refusal(), true),
    }
}

/// True for ops that change nothing: a failed one is safely `fail`.
fn is_read_only(op: &Invocation) -> bool {
    match op.f {
        "read" => true,
        "txn" => op.value.as_array().is_some_and(|m| m.iter().all(|m| m[0] == "r")),
        _ => false,
    }
}

fn register_key(k: &Value) -> Result<String, Failure> {
    k.as_u64().map(|k| format!("brawl:r:{k}")).ok_or_else(|| Failure::Malformed("no key".into()))
}

fn list_key(k: &Value) -> Result<String, Failure> {
    match k {
        Value::Number(n) => Ok(format!("brawl:l:{n}")),
        Value::String(s) => Ok(format!("brawl:l:{s}")),
        _ => Err(Failure::Malformed(format!("key {k}"))),
    }
}

/// Parses a stored register value (JSON text) back; anything else as a string.
fn parse_stored(s: Option<String>) -> Value {
    match s {
        None => Value::Null,
        Some(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
    }
}

/// Runs `op` of a `kind` workload on `conn`: the ok value, or why not.
async fn perform(mut conn: MultiplexedConnection, kind: WorkloadKind, op: &Invocation) -> Result<Value, Failure> {
    let v = &op.value;
    match (kind, op.f) {
        (WorkloadKind::Register, "read") => {
            let got: Option<String> = redis::cmd("GET").arg(register_key(&v[0])?).query_async(&mut conn).await?;
            Ok(json!([v[0], parse_stored(got)]))
        }
        (WorkloadKind::Register, "write") => {
            let () = redis::cmd("SET").arg(register_key(&v[0])?).arg(v[1].to_string()).query_async(&mut conn).await?;
            Ok(v.clone())
        }
        (WorkloadKind::Register, "cas") => {
            let (key, old, new) = (register_key(&v[0])?, v[1][0].to_string(), v[1][1].to_string());
            let done: i64 =
                redis::cmd("EVAL").arg(CAS_SCRIPT).arg(1).arg(key).arg(old).arg(new).query_async(&mut conn).await?;
            if done == 1 {
                Ok(v.clone())
            } else {
                Err(Failure::Precondition)
            }
        }
        (WorkloadKind::Set, "add") => {
            let e = v.as_i64().ok_or_else(|| Failure::Malformed(format!("element {v}")))?;
            let _: i64 = redis::cmd("SADD").arg(SET_KEY).arg(e).query_async(&mut conn).await?;
            Ok(v.clone())
        }
        (WorkloadKind::Set, "read") => {
            let members: Vec<String> = redis::cmd("SMEMBERS").arg(SET_KEY).query_async(&mut conn).await?;
            let mut got: Vec<i64> = members.iter().filter_map(|m| m.parse().ok()).collect();
            got.sort_unstable();
            Ok(json!(got))
        }
        (WorkloadKind::Counter, "add") => {
            let n = v.as_i64().ok_or_else(|| Failure::Malformed(format!("amount {v}")))?;
            let _: i64 = redis::cmd("INCRBY").arg(COUNTER_KEY).arg(n).query_async(&mut conn).await?;
            Ok(v.clone())
        }
        (WorkloadKind::Counter, "read") => {
            let got: Option<i64> = redis::cmd("GET").arg(COUNTER_KEY).query_async(&mut conn).await?;
            Ok(json!(got.unwrap_or(0)))
        }
        (WorkloadKind::ListAppend, "txn") => {
            let mops = v.as_array().ok_or_else(|| Failure::Malformed("a txn is a list of micro-ops".into()))?;
            let pipe = txn_pipeline(mops)?;
            let replies: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
            fill_reads(mops, &replies)
        }
        (_, f) => Err(Failure::Malformed(format!("unknown op {f}"))),
    }
}

/// MULTI, one RPUSH or LRANGE per micro-op, EXEC.
fn txn_pipeline(mops: &[Value]) -> Result<redis::Pipeline, Failure> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    for m in mops {
        let key = list_key(&m[1])?;
        match m[0].as_str() {
            Some("append") => {
                let e = m[2].as_i64().ok_or_else(|| Failure::Malformed(format!("appended value {}", m[2])))?;
                pipe.cmd("RPUSH").arg(key).arg(e);
            }
            Some("r") => {
                pipe.cmd("LRANGE").arg(key).arg(0).arg(-1);
            }
            _ => return Err(Failure::Malformed(format!("micro-op {m}"))),
        }
    }
    Ok(pipe)
}

/// The transaction as completed: every read filled with the list EXEC returned for it.
fn fill_reads(mops: &[Value], replies: &[redis::Value]) -> Result<Value, Failure> {
    if replies.len() != mops.len() {
        return Err(Failure::Malformed(format!("{} replies to {} micro-ops", replies.len(), mops.len())));
    }
    let mut out = Vec::with_capacity(mops.len());
    for (m, r) in mops.iter().zip(replies) {
        if m[0] == "r" {
            let list: Vec<i64> =
                redis::from_redis_value_ref(r).map_err(|e| Failure::Malformed(format!("a read's reply: {e}")))?;
            out.push(json!(["r", m[1], list]));
        } else {
            out.push(m.clone());
        }
    }
    Ok(Value::Array(out))
}

fn short(e: &redis::RedisError) -> String {
    e.to_string().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txns_become_one_multi_exec_and_reads_are_filled() {
        let mops = json!([["append", 3, 7], ["r", 3, null]]);
        let mops = mops.as_array().expect("array");
        let pipe = txn_pipeline(mops).expect("pipeline");
        let packed = String::from_utf8_lossy(&pipe.get_packed_pipeline()).to_string();
        let words: Vec<&str> = packed.split("\r\n").filter(|w| !w.starts_with(['*', '$'])).collect();
        assert_eq!(words, ["MULTI", "RPUSH", "brawl:l:3", "7", "LRANGE", "brawl:l:3", "0", "-1", "EXEC", ""]);
        let replies = [
            redis::Value::Int(2),
            redis::Value::Array(vec![redis::Value::BulkString(b"5".to_vec()), redis::Value::BulkString(b"7".to_vec())]),
        ];
        assert_eq!(fill_reads(mops, &replies).expect("filled"), json!([["append", 3, 7], ["r", 3, [5, 7]]]));
        assert!(txn_pipeline(json!([["w", 1, 2]]).as_array().expect("array")).is_err());
    }

    #[test]
    fn reads_are_recognised_and_values_read_back() {
        assert!(is_read_only(&Invocation { f: "read", value: Value::Null }));
        assert!(is_read_only(&Invocation { f: "txn", value: json!([["r", 1, null]]) }));
        assert!(!is_read_only(&Invocation { f: "txn", value: json!([["r", 1, null], ["append", 1, 2]]) }));
        assert!(!is_read_only(&Invocation { f: "add", value: json!(1) }));
        assert_eq!(parse_stored(Some("4".into())), json!(4));
        assert_eq!(parse_stored(None), Value::Null);
        assert_eq!(register_key(&json!(2)).ok().as_deref(), Some("brawl:r:2"));
    }

    #[test]
    fn server_refusals_are_definite_and_lost_replies_are_not() {
        let readonly =
            redis::RedisError::from((redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly), "READONLY"));
        assert_eq!(classify(&readonly), (true, true));
        let io = redis::RedisError::from(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
        assert_eq!(classify(&io), (false, true));
        let refused = redis::RedisError::from(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"));
        assert_eq!(classify(&refused), (true, true));
    }
}
