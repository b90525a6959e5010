//! A client in any language: brawl starts `client.command` once per worker process and speaks
//! JSON lines with it over its stdin and stdout (protocol version 1, `docs/client-protocol.md`).
//!
//! - brawl sends a hello (`{"type":"hello","protocol":1,"workload":..,"process":..,"node":..,
//!   "nodes":[..],"test":..}`); the client answers `{"type":"hello","protocol":1}`.
//! - one request per op: `{"type":"invoke","id":N,"f":..,"value":..,"node":..,"address":..,
//!   "timeout_ms":..}`; one reply: `{"id":N,"type":"ok"|"fail"|"info","value":..,"error":..}`.
//! - the client's stderr goes to the run's log, a line at a time, prefixed by its process.
//!
//! A reply that is late (past the op's timeout), malformed, for another id, or missing because
//! the client exited makes the op `info` with the reason; the process is then killed and the
//! interpreter continues as a new process with a new client, as Jepsen does after an `info`.
//! Nothing waits without a timeout: the hello has its own (`client.hello-timeout`, default 10 s).

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::{Client, Connector};
use crate::cluster::{Cluster, Node};
use crate::config::raw::duration;
use crate::config::WorkloadSpec;
use crate::db::node_ip;
use crate::workload::{Completion, Invocation, WorkloadKind};

/// The protocol version brawl speaks.
pub const PROTOCOL: u64 = 1;
/// The longest reply line brawl reads (a longer one is malformed).
const MAX_LINE: usize = 16 << 20;

/// The test file's `client:` section.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClientSpec {
    /// The command that starts one client process (run by `sh -c` on the control node, in the
    /// directory brawl runs in).
    pub command: String,
    /// How long a new client may take to answer its hello (default 10 s).
    #[serde(default, deserialize_with = "duration::option")]
    pub hello_timeout: Option<Duration>,
    /// Extra environment for the client processes.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

/// Starts external client processes for one test.
pub struct ExternalConnector {
    spec: ClientSpec,
    workload: WorkloadKind,
    /// What the client needs of the workload's settings (the hello's `options`).
    options: Value,
    test: String,
    op_timeout: Duration,
    /// Every node's name and address, for the hello.
    nodes: Vec<Value>,
    /// Numbers the client processes (the hello's `process`, the stderr prefix).
    started: AtomicU64,
}

impl ExternalConnector {
    /// The connector for `spec`, serving `workload` on `cluster`.
    pub fn new(spec: &ClientSpec, workload: &WorkloadSpec, test: &str, cluster: &Cluster) -> Self {
        let nodes = cluster
            .nodes()
            .iter()
            .map(|n| json!({"name": n.name, "address": node_ip(n).map(|ip| ip.to_string()).unwrap_or_default()}))
            .collect();
        ExternalConnector {
            spec: spec.clone(),
            workload: workload.kind(),
            options: workload_options(workload),
            test: test.to_string(),
            op_timeout: workload.op_timeout(),
            nodes,
            started: AtomicU64::new(0),
        }
    }

    fn hello_timeout(&self) -> Duration {
        self.spec.hello_timeout.unwrap_or(Duration::from_secs(10))
    }

    /// Starts a client process bound to `node` and waits for its hello.
    async fn spawn(&self, node: &Node) -> Result<External, String> {
        let n = self.started.fetch_add(1, Ordering::Relaxed);
        let address = node_ip(node).map(|ip| ip.to_string()).unwrap_or_default();
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&self.spec.command)
            .envs(&self.spec.env)
            .env("BRAWL_CLIENT_PROTOCOL", PROTOCOL.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // Its own process group, so ending it ends whatever it started.
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|e| format!("cannot start client `{}`: {e}", self.spec.command))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("client started without pipes".into());
        };
        let label = format!("client {n}");
        tokio::spawn(forward_stderr(stderr, label.clone()));
        let mut ext = External {
            child,
            stdin: BufWriter::new(stdin),
            stdout: BufReader::new(stdout),
            line: Vec::new(),
            next_id: 0,
            node: node.name.clone(),
            address,
            op_timeout: self.op_timeout,
            label,
        };
        let hello = json!({
            "type": "hello", "protocol": PROTOCOL, "workload": self.workload.name(), "process": n,
            "node": {"name": node.name, "address": ext.address}, "nodes": self.nodes, "test": self.test,
            "options": self.options,
        });
        let answer = match ext.exchange(&hello, self.hello_timeout()).await {
            Ok(v) => v,
            Err(e) => {
                ext.end().await;
                return Err(format!("client `{}` did not answer its hello: {e}", self.spec.command));
            }
        };
        let version = answer.get("protocol").and_then(Value::as_u64);
        if answer.get("type").and_then(Value::as_str) != Some("hello") || version != Some(PROTOCOL) {
            ext.end().await;
            return Err(format!(
                "client `{}` answered its hello with {}; expected {{\"type\":\"hello\",\"protocol\":{PROTOCOL}}}",
                self.spec.command,
                clip(&answer.to_string())
            ));
        }
        Ok(ext)
    }
}

#[async_trait]
impl Connector for ExternalConnector {
    /// Starts one client and ends it after its hello: a client that cannot start or never
    /// answers fails the run's setup, before any fault.
    async fn setup(&self, cluster: &Cluster) -> Result<(), String> {
        let Some(node) = cluster.nodes().first() else { return Ok(()) };
        let mut probe = self.spawn(node).await?;
        probe.end().await;
        Ok(())
    }

    async fn open(&self, node: &Node) -> Result<Box<dyn Client>, String> {
        Ok(Box::new(self.spawn(node).await?))
    }
}

/// One client process.
struct External {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: Vec<u8>,
    next_id: u64,
    node: String,
    address: String,
    op_timeout: Duration,
    label: String,
}

impl External {
    /// Sends `msg` and reads one reply line within `limit`.
    async fn exchange(&mut self, msg: &Value, limit: Duration) -> Result<Value, String> {
        let mut text = msg.to_string();
        text.push('\n');
        let io = async {
            self.stdin.write_all(text.as_bytes()).await.map_err(|e| format!("cannot write to the client: {e}"))?;
            self.stdin.flush().await.map_err(|e| format!("cannot write to the client: {e}"))?;
            self.line.clear();
            let n = read_line(&mut self.stdout, &mut self.line).await?;
            if n == 0 {
                return Err("the client exited".to_string());
            }
            serde_json::from_slice::<Value>(&self.line)
                .map_err(|e| format!("malformed reply ({e}): {}", clip(&String::from_utf8_lossy(&self.line))))
        };
        match tokio::time::timeout(limit, io).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if e == "the client exited" => Err(self.exit_reason().await),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no reply within {}", humantime::format_duration(limit))),
        }
    }

    /// Why the client is gone: its exit status, when it has one.
    async fn exit_reason(&mut self) -> String {
        match tokio::time::timeout(Duration::from_millis(500), self.child.wait()).await {
            Ok(Ok(status)) => format!("the client exited ({status})"),
            _ => "the client closed its output".into(),
        }
    }

    /// Kills the process group and reaps the process.
    async fn end(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on our own child's process group; no memory is touched.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
    }
}

impl Drop for External {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: as in `end`.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
            }
        }
    }
}

#[async_trait]
impl Client for External {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({
            "type": "invoke", "id": id, "f": op.f, "value": op.value, "node": self.node,
            "address": self.address, "timeout_ms": self.op_timeout.as_millis() as u64,
        });
        // A little slack over the op's timeout, for the client to report its own timeout.
        let limit = self.op_timeout + Duration::from_millis(500);
        let info = |error: String| Completion::Info { value: op.value.clone(), error };
        let reply = match self.exchange(&request, limit).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(client = %self.label, error = %e, "client reply missing; ending the client");
                self.end().await;
                return info(format!("external client: {e}"));
            }
        };
        match parse_reply(&reply, id, &op.value) {
            Ok(c) => c,
            Err(e) => {
                self.end().await;
                info(format!("external client: {e}"))
            }
        }
    }
}

/// The workload's settings a client must know to serve it, for the hello's `options`: for
/// `bank`, the accounts and the opening balances the client creates (its `setup` is its own);
/// the op timeout for every workload. Settings that only shape the generator are not sent.
fn workload_options(w: &WorkloadSpec) -> Value {
    let mut o = json!({"op_timeout_ms": w.op_timeout().as_millis() as u64});
    if let WorkloadSpec::Bank(b) = w {
        o["accounts"] = json!((0..b.account_count()).collect::<Vec<_>>());
        o["balances"] = json!(b.opening_balances());
        o["total"] = json!(b.total_amount());
        o["negative_balances"] = json!(b.negative_balances.unwrap_or(false));
    }
    o
}

/// A reply as a completion, or why it is not one.
fn parse_reply(reply: &Value, id: u64, invoked: &Value) -> Result<Completion, String> {
    let shown = || clip(&reply.to_string());
    let got = reply.get("id").and_then(Value::as_u64);
    if got != Some(id) {
        return Err(match got {
            Some(other) => format!("reply for id {other} while waiting for id {id}: {}", shown()),
            None => format!("reply without an integer id (expected {id}): {}", shown()),
        });
    }
    let error = || reply.get("error").map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string));
    let value = reply.get("value").cloned().unwrap_or(Value::Null);
    match reply.get("type").and_then(Value::as_str) {
        Some("ok") => Ok(Completion::Ok(value)),
        Some("fail") => Ok(Completion::Fail {
            value: if value.is_null() { invoked.clone() } else { value },
            error: error().unwrap_or_else(|| "failed".into()),
        }),
        Some("info") => Ok(Completion::Info {
            value: if value.is_null() { invoked.clone() } else { value },
            error: error().unwrap_or_else(|| "indeterminate".into()),
        }),
        _ => Err(format!("reply type must be \"ok\", \"fail\" or \"info\": {}", shown())),
    }
}

/// Reads one line (without its newline) of at most `MAX_LINE` bytes; 0 at end of input.
async fn read_line(r: &mut BufReader<ChildStdout>, line: &mut Vec<u8>) -> Result<usize, String> {
    loop {
        let buf = r.fill_buf().await.map_err(|e| format!("cannot read from the client: {e}"))?;
        if buf.is_empty() {
            return Ok(line.len());
        }
        match memchr(b'\n', buf) {
            Some(i) => {
                line.extend_from_slice(&buf[..i]);
                r.consume(i + 1);
                // A blank line is no reply: read on.
                if line.iter().all(u8::is_ascii_whitespace) {
                    line.clear();
                    continue;
                }
                return Ok(line.len().max(1));
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                r.consume(n);
                if line.len() > MAX_LINE {
                    return Err(format!("malformed reply: a line longer than {MAX_LINE} bytes"));
                }
            }
        }
    }
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

/// At most 300 characters of `s`.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(300).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

/// Sends the client's stderr to the run's log, a line at a time.
async fn forward_stderr(stderr: tokio::process::ChildStderr, label: String) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "brawl::client", client = %label, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_become_completions_and_bad_ones_are_refused() {
        let v = json!([1, 2]);
        assert_eq!(
            parse_reply(&json!({"id": 3, "type": "ok", "value": [1, 5]}), 3, &v),
            Ok(Completion::Ok(json!([1, 5])))
        );
        assert_eq!(
            parse_reply(&json!({"id": 3, "type": "fail", "error": "cas mismatch"}), 3, &v),
            Ok(Completion::Fail { value: v.clone(), error: "cas mismatch".into() })
        );
        assert!(matches!(parse_reply(&json!({"id": 3, "type": "info"}), 3, &v), Ok(Completion::Info { .. })));
        let e = parse_reply(&json!({"id": 2, "type": "ok"}), 3, &v).unwrap_err();
        assert!(e.contains("reply for id 2 while waiting for id 3"), "{e}");
        assert!(parse_reply(&json!({"type": "ok"}), 3, &v).unwrap_err().contains("without an integer id"));
        assert!(parse_reply(&json!({"id": 3, "type": "yes"}), 3, &v).unwrap_err().contains("reply type"));
    }

    #[test]
    fn the_hello_tells_a_bank_client_its_accounts_and_opening_balances() {
        let bank: WorkloadSpec = serde_saphyr::from_str("{ bank: { accounts: 3, total: 100 } }").expect("bank");
        let o = workload_options(&bank);
        assert_eq!(o["accounts"], json!([0, 1, 2]));
        assert_eq!(o["balances"], json!([34, 33, 33]));
        assert_eq!(o["total"], 100);
        assert_eq!(o["negative_balances"], false);
        assert_eq!(o["op_timeout_ms"], 5000);
        let set: WorkloadSpec = serde_saphyr::from_str("{ set: { op-timeout: 1s } }").expect("set");
        assert_eq!(workload_options(&set), json!({"op_timeout_ms": 1000}));
    }
}
