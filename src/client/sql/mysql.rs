//! The MySQL backend of the SQL client (`super::SqlBackend`), over mysql_async, for MariaDB
//! and Galera: the workloads' SQL is `super`'s, in the `Dialect::Mysql` spelling.
//!
//! A worker bound to a node talks to that node's server under Galera (every node takes
//! writes) and to the one server on the first node otherwise. It logs in as
//! `db::mariadb::USER` with the password the db created (`db::mariadb::password`), over plain
//! TCP to the node's address, with `CLIENT_FOUND_ROWS` so an `UPDATE` counts the rows it
//! matched (a cas to the value a register already has changed nothing, yet it succeeded).
//!
//! Errors, by how sure we are that nothing happened: a connection that was never made is
//! `NotSent`; the server's deadlock (1213, also Galera's certification failure), lock wait
//! timeout (1205), snapshot-isolation conflict (1020, "record has changed since last read",
//! with `innodb_snapshot_isolation`) and "WSREP has not yet prepared node for application
//! use" (1047) rolled the transaction back; anything else, a lost connection above all, is
//! `Unknown`.

use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row, Value as MyValue};

use super::{Answer, Dialect, Isolation, SqlBackend, SqlConn, SqlError, SqlErrorKind};
use crate::cluster::{Cluster, Node};
use crate::db::mariadb::{self, MariaDbSpec};

/// Opens connections to MariaDB for one test.
pub struct MysqlBackend {
    isolation: Isolation,
    galera: bool,
    /// The one server's node (the first), when there is no Galera cluster.
    first: Option<Node>,
}

impl MysqlBackend {
    /// The backend for a test of `spec` on `cluster`.
    pub fn new(spec: &MariaDbSpec, cluster: &Cluster) -> Self {
        MysqlBackend {
            isolation: spec.isolation.unwrap_or(Isolation::RepeatableRead),
            galera: spec.galera,
            first: cluster.nodes().first().cloned(),
        }
    }

    /// The node whose server a worker bound to `node` talks to.
    fn server<'a>(&'a self, node: &'a Node) -> &'a Node {
        if self.galera {
            node
        } else {
            self.first.as_ref().unwrap_or(node)
        }
    }
}

#[async_trait]
impl SqlBackend for MysqlBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn isolation(&self) -> Isolation {
        self.isolation
    }

    async fn connect(&self, node: &Node, _read_only: bool, timeout: Duration) -> Result<Box<dyn SqlConn>, SqlError> {
        let server = self.server(node);
        let ip = crate::db::node_ip(server).map_err(|e| SqlError::new(SqlErrorKind::NotSent, e.to_string()))?;
        let opts = OptsBuilder::default()
            .ip_or_hostname(ip.to_string())
            .tcp_port(mariadb::PORT)
            .prefer_socket(false)
            .user(Some(mariadb::USER))
            .pass(Some(mariadb::password()))
            .db_name(Some(mariadb::DATABASE))
            .client_found_rows(true);
        match tokio::time::timeout(timeout, Conn::new(opts)).await {
            Ok(Ok(conn)) => Ok(Box::new(MysqlConn { conn })),
            Ok(Err(e)) => Err(SqlError::new(SqlErrorKind::NotSent, format!("{}: {}", server.name, describe(&e)))),
            Err(_) => Err(SqlError::new(SqlErrorKind::NotSent, format!("{}: connect timed out", server.name))),
        }
    }
}

/// One connection.
struct MysqlConn {
    conn: Conn,
}

#[async_trait]
impl SqlConn for MysqlConn {
    async fn query(&mut self, sql: &str) -> Result<Answer, SqlError> {
        let mut result = self.conn.query_iter(sql).await.map_err(|e| error(&e))?;
        let rows: Vec<Row> = result.collect().await.map_err(|e| error(&e))?;
        let affected = result.affected_rows();
        result.drop_result().await.map_err(|e| error(&e))?;
        Ok(Answer { rows: rows.into_iter().map(|r| r.unwrap().into_iter().map(text).collect()).collect(), affected })
    }
}

/// A value of the text protocol as text (`None` for NULL).
fn text(v: MyValue) -> Option<String> {
    match v {
        MyValue::NULL => None,
        MyValue::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        MyValue::Int(i) => Some(i.to_string()),
        MyValue::UInt(u) => Some(u.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Server error codes after which the transaction surely did not commit.
const ROLLED_BACK: &[u16] = &[
    1213, // ER_LOCK_DEADLOCK (also Galera's certification failure)
    1205, // ER_LOCK_WAIT_TIMEOUT
    1020, // ER_CHECKREAD: innodb_snapshot_isolation's write-write conflict
    1047, // ER_UNKNOWN_COM_ERROR: "WSREP has not yet prepared node for application use"
];

/// How sure we are that a statement that failed with `e` did not take effect.
pub fn classify(code: Option<u16>) -> SqlErrorKind {
    match code {
        Some(c) if ROLLED_BACK.contains(&c) => SqlErrorKind::RolledBack,
        _ => SqlErrorKind::Unknown,
    }
}

fn error(e: &mysql_async::Error) -> SqlError {
    let code = match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    };
    SqlError::new(classify(code), describe(e))
}

/// A short message: the server's code and text, or the driver's reason.
fn describe(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => format!("{}: {}", s.code, s.message),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollbacks_are_told_from_unknowns() {
        assert_eq!(classify(Some(1213)), SqlErrorKind::RolledBack);
        assert_eq!(classify(Some(1020)), SqlErrorKind::RolledBack);
        assert_eq!(classify(Some(1047)), SqlErrorKind::RolledBack);
        assert_eq!(classify(Some(1180)), SqlErrorKind::Unknown, "error during commit");
        assert_eq!(classify(None), SqlErrorKind::Unknown, "a lost connection");
    }

    #[test]
    fn values_come_back_as_text() {
        assert_eq!(text(MyValue::NULL), None);
        assert_eq!(text(MyValue::Bytes(b"1,2,3".to_vec())).as_deref(), Some("1,2,3"));
        assert_eq!(text(MyValue::Int(-4)).as_deref(), Some("-4"));
    }
}
