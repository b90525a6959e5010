//! The shared SQL client's PostgreSQL backend, on tokio-postgres: plain-text simple queries
//! (`simple_query`, every value as text), no TLS, the superuser `postgres` over TCP (the server
//! trusts only its own subnet: see `db::postgres`).
//!
//! Writes always go to the primary (the first node). A read-only op of a worker bound to a
//! replica reads on that replica when the test says `replica-reads: true`; a standby allows no
//! serializable transactions, so such reads run at repeatable read (a snapshot of what the
//! replica has replayed, which may be stale).

use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use super::{Answer, Dialect, Isolation, SqlBackend, SqlConn, SqlError, SqlErrorKind};
use crate::cluster::{Cluster, Node};
use crate::db::node_ip;
use crate::db::postgres::{PostgresSpec, PORT};

/// Opens tokio-postgres connections for one test.
pub struct PgBackend {
    isolation: Isolation,
    /// The primary's address.
    primary: Option<std::net::IpAddr>,
    /// Read on the worker's own node when it is a replica.
    replica_reads: bool,
    /// The names of the nodes that run a replica.
    replicas: Vec<String>,
}

impl PgBackend {
    /// The backend for `spec` on `cluster` (its first node is the primary).
    pub fn new(spec: &PostgresSpec, cluster: &Cluster) -> Self {
        let nodes = cluster.nodes();
        let primary = nodes.first().and_then(|n| node_ip(n).ok());
        let replicas =
            if spec.replicas.is_some() { nodes.iter().skip(1).map(|n| n.name.clone()).collect() } else { Vec::new() };
        PgBackend {
            isolation: spec.isolation.unwrap_or_default(),
            primary,
            replica_reads: spec.replica_reads.unwrap_or(false),
            replicas,
        }
    }
}

/// Maps a tokio-postgres error to how sure we are it did not happen.
pub fn classify(e: &tokio_postgres::Error) -> SqlError {
    let kind = match e.code() {
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
            SqlErrorKind::RolledBack
        }
        _ => SqlErrorKind::Unknown,
    };
    SqlError::new(kind, message(e))
}

/// `CODE: message` for a server error, the error and its sources otherwise.
fn message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.code().code(), db.message());
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

#[async_trait]
impl SqlBackend for PgBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn isolation(&self) -> Isolation {
        self.isolation
    }

    async fn connect(&self, node: &Node, read_only: bool, timeout: Duration) -> Result<Box<dyn SqlConn>, SqlError> {
        let on_replica = read_only && self.replica_reads && self.replicas.contains(&node.name);
        let ip = if on_replica {
            node_ip(node).map_err(|e| SqlError::new(SqlErrorKind::NotSent, e.to_string()))?
        } else {
            self.primary.ok_or_else(|| SqlError::new(SqlErrorKind::NotSent, "no address for the primary"))?
        };
        let conn = connect(ip, timeout).await?;
        Ok(Box::new(PgConn { client: conn, standby: on_replica }))
    }
}

/// Connects to the server at `ip` as `postgres`; the connection's task ends when the client is
/// dropped, which closes the socket (and the server rolls back an open transaction).
pub async fn connect(ip: std::net::IpAddr, timeout: Duration) -> Result<tokio_postgres::Client, SqlError> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(ip.to_string())
        .port(PORT)
        .user("postgres")
        .dbname("postgres")
        .application_name("brawl")
        .connect_timeout(timeout);
    let connecting = config.connect(NoTls);
    let (client, connection) = match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return Err(SqlError::new(SqlErrorKind::NotSent, message(&e))),
        Err(_) => return Err(SqlError::new(SqlErrorKind::NotSent, "connect timeout")),
    };
    tokio::spawn(async move {
        // Ends when the client is dropped or the server goes away; the client sees the error.
        let _ = connection.await;
    });
    Ok(client)
}

/// One tokio-postgres connection.
struct PgConn {
    client: tokio_postgres::Client,
    /// Connected to a hot standby.
    standby: bool,
}

#[async_trait]
impl SqlConn for PgConn {
    async fn query(&mut self, sql: &str) -> Result<Answer, SqlError> {
        if self.client.is_closed() {
            return Err(SqlError::new(SqlErrorKind::NotSent, "connection closed"));
        }
        let messages = self.client.simple_query(sql).await.map_err(|e| classify(&e))?;
        Ok(answer(messages))
    }

    fn begin(&self, dialect: Dialect, iso: Isolation) -> Vec<String> {
        if self.standby && iso == Isolation::Serializable {
            return dialect.begin(Isolation::RepeatableRead);
        }
        dialect.begin(iso)
    }
}

/// Rows and the affected count of a simple query's messages.
fn answer(messages: Vec<SimpleQueryMessage>) -> Answer {
    let mut a = Answer::default();
    for m in messages {
        match m {
            SimpleQueryMessage::Row(row) => {
                a.rows.push((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect());
            }
            SimpleQueryMessage::CommandComplete(n) => a.affected = n,
            _ => {}
        }
    }
    a
}
