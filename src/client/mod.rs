//! Clients: the database-specific half of a test. A client turns a workload's ops
//! (`crate::workload::Invocation`, in Jepsen's shapes) into one database's calls and its answers
//! into completions, by the rules of `info`: an op whose outcome is unknown (a commit whose
//! reply was lost, a timeout after the request was sent) is `Info`, never `Fail`; `Fail` only
//! when the op definitely did not take effect (refused before it was sent, rolled back, a
//! failed precondition).
//!
//! One file per database family: `etcd.rs` (v3 JSON gateway), `redis.rs` (redis-rs), `sql/`
//! (PostgreSQL, MariaDB); `external.rs` is a client in any language. Each family declares which
//! workloads it serves (`serves`); a test pairing a database with a workload it cannot serve is
//! refused when the test file is validated.

pub mod etcd;
pub mod external;
pub mod redis;
pub mod sql;

use std::sync::Arc;

use async_trait::async_trait;

use crate::cluster::{Cluster, Node};
use crate::config::raw::{DbSpec, WorkloadSpec};
use crate::workload::{Completion, Invocation, WorkloadKind};

/// A connection to the system under test for one worker thread (one Jepsen process).
#[async_trait]
pub trait Client: Send {
    /// Performs `op`. Never an `Err`: timeouts and dropped connections are `Completion::Info`.
    async fn invoke(&mut self, op: &Invocation) -> Completion;
}

/// Opens clients for one test: one database, one workload.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Prepares the database for the workload, once, after the system is up and before any op:
    /// tables, initial balances. An error fails the run's setup.
    async fn setup(&self, _cluster: &Cluster) -> Result<(), String> {
        Ok(())
    }
    /// Opens a client for a worker bound to `node`; an error becomes a `fail` op with
    /// `no-client` (the op was never sent).
    async fn open(&self, node: &Node) -> Result<Box<dyn Client>, String>;
}

/// The workloads the database of `db` serves.
pub fn serves(db: &DbSpec) -> &'static [WorkloadKind] {
    match db {
        DbSpec::Etcd(_) => etcd::SERVES,
        // A system defined in the test file has no built-in client: only an external one.
        DbSpec::Shell(_) => &[],
        DbSpec::Redis(_) => redis::SERVES,
        DbSpec::Mariadb(_) => sql::SERVES,
        DbSpec::Postgres(_) => sql::SERVES,
    }
}

/// The connector for a test: its external client (`client: { command }`) when it has one,
/// which serves every workload, else the database's own; or why the pair cannot be tested
/// (the database does not serve the workload).
pub fn connector(
    db: &DbSpec,
    workload: &WorkloadSpec,
    external: Option<&external::ClientSpec>,
    test: &str,
    cluster: &Cluster,
) -> Result<Arc<dyn Connector>, String> {
    if let Some(spec) = external {
        let c = external::ExternalConnector::new(spec, workload, test, cluster);
        return Ok(Arc::new(c));
    }
    check_serves(db, workload.kind())?;
    Ok(match db {
        DbSpec::Etcd(_) => Arc::new(etcd::EtcdConnector::new(workload, cluster)),
        DbSpec::Shell(_) => return Err("a system defined by shell commands needs a `client: { command: ... }`".into()),
        DbSpec::Redis(s) => Arc::new(redis::RedisConnector::new(s, workload, cluster)?),
        DbSpec::Mariadb(s) => {
            Arc::new(sql::SqlConnector::new(Arc::new(sql::mysql::MysqlBackend::new(s, cluster)), workload))
        }
        DbSpec::Postgres(s) => {
            Arc::new(sql::SqlConnector::new(Arc::new(sql::postgres::PgBackend::new(s, cluster)), workload))
        }
    })
}

/// Refuses a database and workload that do not go together, naming both and what the database
/// does serve.
pub fn check_serves(db: &DbSpec, kind: WorkloadKind) -> Result<(), String> {
    let serves = serves(db);
    if serves.contains(&kind) {
        return Ok(());
    }
    Err(format!("{} does not serve the {} workload; it serves {}", db.name(), kind.name(), WorkloadKind::list(serves)))
}
