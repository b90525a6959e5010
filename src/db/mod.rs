//! The system under test: `Db` (per-node setup and teardown) and its optional capabilities,
//! as Jepsen's `DB`, `Kill`/`Process`, `Pause`, `Primary` and `LogFiles`.
//!
//! `cycle` is the lifecycle step every run takes: tear down everywhere, set up everywhere, wait
//! until the system answers. One file per system under test: `etcd.rs`, `mariadb.rs`,
//! `postgres.rs`, `redis.rs`, `shell.rs` (a system defined in the test file).

pub mod etcd;
pub mod mariadb;
pub mod postgres;
pub mod redis;
pub mod shell;

use std::time::Duration;

use async_trait::async_trait;

use crate::cluster::{Cluster, Node};
use crate::control::ControlError;

/// What can go wrong deploying or driving the system under test.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A command on a node failed.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The system did not become healthy in time.
    #[error("{db} on {node} was not healthy within {}: {reason}", humantime::format_duration(*.after))]
    NotHealthy {
        /// The system's name.
        db: &'static str,
        /// Node name.
        node: String,
        /// How long we waited.
        after: Duration,
        /// The last thing it said.
        reason: String,
    },
    /// The node has another version than the test asks for.
    #[error("{db} on {node} is version {found}, but the test asks for {wanted}; name a `binary` or `tarball` of {wanted} in the test's db section")]
    Version {
        /// The system's name.
        db: &'static str,
        /// Node name.
        node: String,
        /// What the node has.
        found: String,
        /// What the test asks for.
        wanted: String,
    },
    /// A step of a system the test file defines (`db: shell:`) failed.
    #[error("{place} failed on {node} (exit {status}): {tail}")]
    Step {
        /// `file:line: db.shell.setup`.
        place: String,
        /// Node name.
        node: String,
        /// Its exit status (-1: the template did not render).
        status: i32,
        /// The tail of its output.
        tail: String,
    },
    /// A local file named by the test could not be read.
    #[error("{path}: {reason}")]
    LocalFile {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A node's address could not be resolved.
    #[error("cannot resolve the address of {node} ({host}): {reason}")]
    Address {
        /// Node name.
        node: String,
        /// Its host.
        host: String,
        /// Why.
        reason: String,
    },
}

/// A system under test, deployed on every node.
#[async_trait]
pub trait Db: Send + Sync {
    /// A short name for logs and reports (`etcd`).
    fn name(&self) -> &'static str;
    /// Learns the cluster before any other call (`cycle` and `teardown_all` call it first);
    /// for systems whose per-node commands need every node (templates).
    fn bind(&self, _cluster: &Cluster) {}
    /// Installs, configures and starts the system on `node`. Idempotent.
    async fn setup(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError>;
    /// Stops the system on `node` and removes its data, so the next run starts from empty.
    /// Safe to run twice, and on a node where setup never ran.
    async fn teardown(&self, node: &Node) -> Result<(), DbError>;
    /// Waits until the system answers on every node, or fails with `NotHealthy`.
    async fn await_ready(&self, cluster: &Cluster) -> Result<(), DbError>;
    /// Files on each node worth keeping with the run: (remote path, local name).
    fn log_files(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// The kill/start capability, when the system has one.
    fn as_process(&self) -> Option<&dyn Process> {
        None
    }
    /// The pause/resume capability.
    fn as_pause(&self) -> Option<&dyn Pause> {
        None
    }
    /// The primaries capability.
    fn as_primary(&self) -> Option<&dyn Primary> {
        None
    }
}

/// Crash and restart the system's process on a node (Jepsen's `Kill`).
#[async_trait]
pub trait Process: Send + Sync {
    /// Starts the process if it is not running.
    async fn start(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError>;
    /// Kills the process with SIGKILL.
    async fn kill(&self, node: &Node) -> Result<(), DbError>;
}

/// Pause and resume the system's process (SIGSTOP / SIGCONT).
#[async_trait]
pub trait Pause: Send + Sync {
    /// Stops the process.
    async fn pause(&self, node: &Node) -> Result<(), DbError>;
    /// Continues it.
    async fn resume(&self, node: &Node) -> Result<(), DbError>;
}

/// Which nodes currently lead.
#[async_trait]
pub trait Primary: Send + Sync {
    /// The names of the nodes that are primaries (leaders) now.
    async fn primaries(&self, cluster: &Cluster) -> Vec<String>;
}

/// Tears the system down on every node, sets it up on every node, and waits for it: every run
/// starts from empty data. Jepsen's `db/cycle!`.
pub async fn cycle(db: &dyn Db, cluster: &Cluster) -> Result<(), DbError> {
    db.bind(cluster);
    teardown_all(db, cluster).await?;
    for (_, r) in cluster.on_nodes(|node| db.setup(cluster, node)).await {
        r?;
    }
    db.await_ready(cluster).await
}

/// Tears the system down on every node; the first error wins, after all nodes were tried.
pub async fn teardown_all(db: &dyn Db, cluster: &Cluster) -> Result<(), DbError> {
    db.bind(cluster);
    let mut first = Ok(());
    for (_, r) in cluster.on_nodes(|node| db.teardown(node)).await {
        if first.is_ok() {
            first = r;
        }
    }
    first
}

/// Downloads every node's log files into `dir/<node>/<name>`; failures are logged, not fatal
/// (a node may be down: logs are fetched after failed runs too).
pub async fn download_logs(db: &dyn Db, cluster: &Cluster, dir: &std::path::Path) -> Vec<String> {
    let files = db.log_files();
    let results = cluster
        .on_nodes(|node| {
            let files = files.clone();
            async move {
                let mut got = Vec::new();
                for (remote, local) in files {
                    match node.remote.download(&remote).await {
                        Ok(bytes) => {
                            let path = dir.join(&node.name).join(&local);
                            let written = std::fs::create_dir_all(dir.join(&node.name)).and_then(|_| std::fs::write(&path, bytes));
                            match written {
                                Ok(()) => got.push(format!("{}/{local}", node.name)),
                                Err(e) => tracing::warn!(node = %node.name, path = %path.display(), error = %e, "cannot save log"),
                            }
                        }
                        Err(e) => tracing::warn!(node = %node.name, file = %remote, error = %e, "cannot download log"),
                    }
                }
                got
            }
        })
        .await;
    results.into_iter().flat_map(|(_, got)| got).collect()
}

/// Sends `signal` (`9`, `STOP`, `CONT` ...) to the process whose pid is in `pid_file` on
/// `node`, if the file is there; a process already gone is no error.
pub async fn signal_pid_file(node: &Node, pid_file: &str, signal: &str) -> Result<(), DbError> {
    let cmd = format!("test -f {pid_file} && kill -{signal} \"$(cat {pid_file})\" 2>/dev/null || true");
    node.remote.exec(&crate::control::RemoteCommand::new(cmd).sudo().idempotent()).await?;
    Ok(())
}

/// The IPv4 address other nodes and clients use for `node`.
pub fn node_ip(node: &Node) -> Result<std::net::IpAddr, DbError> {
    let host = node.remote.host();
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    use std::net::ToSocketAddrs;
    (host, 0)
        .to_socket_addrs()
        .map_err(|e| DbError::Address { node: node.name.clone(), host: host.to_string(), reason: e.to_string() })?
        .map(|a| a.ip())
        .find(|ip| ip.is_ipv4())
        .ok_or_else(|| DbError::Address {
            node: node.name.clone(),
            host: host.to_string(),
            reason: "no IPv4 address".into(),
        })
}

/// How a system under test is started as a daemon on a node: in `dir`, in its own session, its
/// pid (the shell's, which `exec`s the program) in `pid_file`, its output appended to
/// `log_file`, and `env` set (the clock nemesis's libfaketime variables, when the test has a
/// faketime clock fault). Every `Db` starts its processes with this, so a test can start a
/// process exactly the way the system under test is started.
pub fn daemon_command(exec: &str, dir: &str, pid_file: &str, log_file: &str, env: &[(String, String)]) -> String {
    let env: String = env.iter().map(|(k, v)| format!("{k}={} ", crate::control::quote(v))).collect();
    let inner = format!("echo $$ > {pid_file}; {env}exec {exec} >> {log_file} 2>&1");
    format!("mkdir -p {dir} && cd {dir} && setsid sh -c {} </dev/null >/dev/null 2>&1 &", crate::control::quote(&inner))
}
