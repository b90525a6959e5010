//! Test helpers: a cluster of `FakeRemote`s named by address and a fake `Db` that records
//! kill/start/pause/resume calls as commands on the node.

use std::sync::Arc;

use async_trait::async_trait;

use super::NemesisCtx;
use crate::cluster::{Cluster, Node};
use crate::control::{FakeRemote, Remote, RemoteCommand};
use crate::db::{Db, DbError, Pause, Primary, Process};

/// A db whose capabilities run marker commands on the node, so snapshots show them.
pub struct FakeDb {
    /// The primaries `Primary::primaries` reports.
    pub primaries: Vec<String>,
}

async fn mark(node: &Node, what: &str) -> Result<(), DbError> {
    node.remote.exec(&RemoteCommand::new(format!("fake-db {what}"))).await?;
    Ok(())
}

#[async_trait]
impl Db for FakeDb {
    fn name(&self) -> &'static str {
        "fake"
    }
    async fn setup(&self, _cluster: &Cluster, _node: &Node) -> Result<(), DbError> {
        Ok(())
    }
    async fn teardown(&self, _node: &Node) -> Result<(), DbError> {
        Ok(())
    }
    async fn await_ready(&self, _cluster: &Cluster) -> Result<(), DbError> {
        Ok(())
    }
    fn as_process(&self) -> Option<&dyn Process> {
        Some(self)
    }
    fn as_pause(&self) -> Option<&dyn Pause> {
        Some(self)
    }
    fn as_primary(&self) -> Option<&dyn Primary> {
        Some(self)
    }
}

#[async_trait]
impl Process for FakeDb {
    async fn start(&self, _cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        mark(node, "start").await
    }
    async fn kill(&self, node: &Node) -> Result<(), DbError> {
        mark(node, "kill").await
    }
}

#[async_trait]
impl Pause for FakeDb {
    async fn pause(&self, node: &Node) -> Result<(), DbError> {
        mark(node, "pause").await
    }
    async fn resume(&self, node: &Node) -> Result<(), DbError> {
        mark(node, "resume").await
    }
}

#[async_trait]
impl Primary for FakeDb {
    async fn primaries(&self, _cluster: &Cluster) -> Vec<String> {
        self.primaries.clone()
    }
}

/// A context of `n` fake nodes n1..nN at 10.0.0.1..N (not a local cluster), primary n1.
pub fn ctx(n: usize) -> (NemesisCtx, Vec<Arc<FakeRemote>>) {
    ctx_with(n, false)
}

/// As `ctx`, saying whether it is a local cluster.
pub fn ctx_with(n: usize, local_cluster: bool) -> (NemesisCtx, Vec<Arc<FakeRemote>>) {
    let fakes: Vec<Arc<FakeRemote>> = (1..=n).map(|i| Arc::new(FakeRemote::new(&format!("n{i}")))).collect();
    let cluster = Cluster::new(fakes.iter().map(|f| f.clone() as Arc<dyn Remote>).collect());
    let ips = (1..=n).map(|i| (format!("n{i}"), format!("10.0.0.{i}").parse().expect("an address"))).collect();
    let db = Arc::new(FakeDb { primaries: vec!["n1".into()] });
    (NemesisCtx { cluster, db, ips, local_cluster }, fakes)
}

/// Every node's commands, as `n1: cmd` lines, for snapshots.
pub fn log(fakes: &[Arc<FakeRemote>]) -> String {
    let mut out = Vec::new();
    for f in fakes {
        for c in f.commands() {
            out.push(format!("{}: {c}", f.name()));
        }
    }
    out.join("\n")
}

/// Forgets nothing, but returns the log since `mark` lines were taken (`log` length before).
pub fn log_since(fakes: &[Arc<FakeRemote>], before: &[usize]) -> String {
    let mut out = Vec::new();
    for (f, skip) in fakes.iter().zip(before) {
        for c in f.commands().into_iter().skip(*skip) {
            out.push(format!("{}: {c}", f.name()));
        }
    }
    out.join("\n")
}

/// How many commands each node has run so far (for `log_since`).
pub fn marks(fakes: &[Arc<FakeRemote>]) -> Vec<usize> {
    fakes.iter().map(|f| f.commands().len()).collect()
}
