//! The SQL client shared by PostgreSQL and MariaDB: every workload written once over a small
//! backend trait (`SqlBackend` opens `SqlConn`s: tokio-postgres in `postgres.rs`, mysql_async
//! for MariaDB), with a `Dialect` for where their SQL differs.
//!
//! Every op is one explicit transaction at the test's isolation level (`Isolation`; PostgreSQL
//! `BEGIN ISOLATION LEVEL ...`, MySQL `SET TRANSACTION ISOLATION LEVEL ...; START
//! TRANSACTION`), ended by `COMMIT`. That fixes where an outcome can be unknown: an error or a
//! timeout before `COMMIT` was sent leaves the transaction uncommitted (the connection is closed
//! and the server rolls it back), so the op is `fail`; an error during `COMMIT` is `info`,
//! unless the server said the transaction was rolled back (serialization failure `40001`,
//! deadlock `40P01`, MySQL `1213`/`1205`). A transaction that writes nothing is `fail` whatever
//! went wrong. Each op has one deadline (`workload.op_timeout()`) over all its statements.
//!
//! The SQL, per workload (`K`, `V` are integers from the op, never strings from elsewhere):
//!
//! - `list-append`: table `brawl_append (k BIGINT PRIMARY KEY, v TEXT)`, a list as its
//!   comma-separated text. `["append", K, V]` is an upsert that concatenates: PostgreSQL
//!   `INSERT INTO brawl_append (k, v) VALUES (K, 'V') ON CONFLICT (k) DO UPDATE SET v =
//!   brawl_append.v || ',' || excluded.v`, MySQL `... ON DUPLICATE KEY UPDATE v = CONCAT(v, ',',
//!   VALUES(v))`; `["r", K, null]` is `SELECT v FROM brawl_append WHERE k = K`.
//! - `rw-register`: table `brawl_rw (k BIGINT PRIMARY KEY, v BIGINT)`; `["w", K, V]` an upsert
//!   that replaces, `["r", K, null]` a select. A transaction that reads a key and then writes it
//!   is the application's read-modify-write: at read committed two of them can both read the
//!   same value and both write (a lost update, which the checker names `lost-update`).
//! - `register`: table `brawl_register (k BIGINT PRIMARY KEY, v BIGINT)`; `read` a select,
//!   `write` an upsert, `cas [old new]` `UPDATE brawl_register SET v = NEW WHERE k = K AND v =
//!   OLD`, ok when it changed one row (MySQL clients must count found rows, not changed ones).
//! - `set`: table `brawl_set (v BIGINT PRIMARY KEY)`; `add V` an insert, `read` `SELECT v FROM
//!   brawl_set`.
//! - `counter`: table `brawl_counter (id INT PRIMARY KEY, c BIGINT)` with the row `(0, 0)`;
//!   `add N` `UPDATE brawl_counter SET c = c + N WHERE id = 0`, `read` a select.
//! - `bank`: table `brawl_bank (id BIGINT PRIMARY KEY, balance BIGINT)` with
//!   `BankSpec::opening_balances()`; `transfer` reads both balances (`SELECT ... FOR UPDATE`
//!   where the dialect locks reads), fails without writing if it would overdraw (unless negative
//!   balances are allowed), then `UPDATE ... SET balance = balance - A` / `+ A`; `read` selects
//!   every balance.

pub mod mysql;
pub mod postgres;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::{Client, Connector};
use crate::cluster::{Cluster, Node};
use crate::config::raw::WorkloadSpec;
use crate::workload::{Completion, Invocation, WorkloadKind};

/// The workloads the SQL client serves.
pub const SERVES: &[WorkloadKind] = &[
    WorkloadKind::Register,
    WorkloadKind::ListAppend,
    WorkloadKind::RwRegister,
    WorkloadKind::Set,
    WorkloadKind::Counter,
    WorkloadKind::Bank,
];

/// The transaction isolation level of every op (a db spec's `isolation:`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// `READ COMMITTED` (PostgreSQL's default).
    #[default]
    ReadCommitted,
    /// `REPEATABLE READ` (PostgreSQL: snapshot isolation; InnoDB's default).
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

impl Isolation {
    /// The level as SQL names it.
    pub fn sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

/// Where the SQL of PostgreSQL and MySQL/MariaDB differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

impl Dialect {
    /// The statements that begin a transaction at `iso`.
    pub fn begin(self, iso: Isolation) -> Vec<String> {
        match self {
            Dialect::Postgres => vec![format!("BEGIN ISOLATION LEVEL {}", iso.sql())],
            Dialect::Mysql => {
                vec![format!("SET TRANSACTION ISOLATION LEVEL {}", iso.sql()), "START TRANSACTION".into()]
            }
        }
    }

    /// An upsert of `(k, v)` into `table` (columns `k`, `v`) that replaces `v`.
    pub fn upsert(self, table: &str, k: &str, v: &str) -> String {
        match self {
            Dialect::Postgres => {
                format!("INSERT INTO {table} (k, v) VALUES ({k}, {v}) ON CONFLICT (k) DO UPDATE SET v = excluded.v")
            }
            Dialect::Mysql => {
                format!("INSERT INTO {table} (k, v) VALUES ({k}, {v}) ON DUPLICATE KEY UPDATE v = VALUES(v)")
            }
        }
    }

    /// An upsert of `(k, 'v')` into `table` that appends `,v` to an existing text `v`.
    pub fn upsert_append(self, table: &str, k: u64, v: u64) -> String {
        match self {
            Dialect::Postgres => format!(
                "INSERT INTO {table} (k, v) VALUES ({k}, '{v}') ON CONFLICT (k) DO UPDATE SET v = {table}.v || ',' || excluded.v"
            ),
            Dialect::Mysql => format!(
                "INSERT INTO {table} (k, v) VALUES ({k}, '{v}') ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', VALUES(v))"
            ),
        }
    }

    /// What follows a `SELECT` that reads rows the transaction then updates.
    pub fn lock_suffix(self) -> &'static str {
        " FOR UPDATE"
    }

    /// The DDL and opening data for `kind`.
    pub fn schema(self, kind: WorkloadKind, balances: &[i64]) -> Vec<String> {
        let mut s = match kind {
            WorkloadKind::ListAppend => {
                vec!["CREATE TABLE IF NOT EXISTS brawl_append (k BIGINT PRIMARY KEY, v TEXT NOT NULL)".to_string()]
            }
            WorkloadKind::RwRegister => {
                vec!["CREATE TABLE IF NOT EXISTS brawl_rw (k BIGINT PRIMARY KEY, v BIGINT)".to_string()]
            }
            WorkloadKind::Register => {
                vec!["CREATE TABLE IF NOT EXISTS brawl_register (k BIGINT PRIMARY KEY, v BIGINT)".to_string()]
            }
            WorkloadKind::Set => vec!["CREATE TABLE IF NOT EXISTS brawl_set (v BIGINT PRIMARY KEY)".to_string()],
            WorkloadKind::Counter => vec![
                "CREATE TABLE IF NOT EXISTS brawl_counter (id INT PRIMARY KEY, c BIGINT NOT NULL)".to_string(),
                "DELETE FROM brawl_counter".into(),
                "INSERT INTO brawl_counter (id, c) VALUES (0, 0)".into(),
            ],
            WorkloadKind::Bank => {
                let mut v = vec![
                    "CREATE TABLE IF NOT EXISTS brawl_bank (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)"
                        .to_string(),
                    "DELETE FROM brawl_bank".into(),
                ];
                let rows: Vec<String> = balances.iter().enumerate().map(|(i, b)| format!("({i}, {b})")).collect();
                if !rows.is_empty() {
                    v.push(format!("INSERT INTO brawl_bank (id, balance) VALUES {}", rows.join(", ")));
                }
                v
            }
        };
        if self == Dialect::Mysql {
            // InnoDB, so that transactions and row locks apply.
            for stmt in s.iter_mut().filter(|q| q.starts_with("CREATE TABLE")) {
                stmt.push_str(" ENGINE=InnoDB");
            }
        }
        s
    }
}

/// How sure we are that a failed statement did not take effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlErrorKind {
    /// The statement never reached the server (connection refused, closed before sending).
    NotSent,
    /// The server rolled the transaction back: serialization failure (`40001`), deadlock
    /// (`40P01`, MySQL `1213`), lock wait timeout (MySQL `1205`).
    RolledBack,
    /// Anything else after the statement was sent: it may or may not have taken effect.
    Unknown,
}

/// A backend's error: its kind and a short message (never a secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    /// How sure we are it did not happen.
    pub kind: SqlErrorKind,
    /// What went wrong, e.g. `40001: could not serialize access ...`.
    pub message: String,
}

impl SqlError {
    /// An error of `kind`.
    pub fn new(kind: SqlErrorKind, message: impl Into<String>) -> Self {
        let message: String = message.into();
        SqlError { kind, message: message.chars().take(300).collect() }
    }
}

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Rows of a query's answer, every value as text (`None` for NULL), and the rows it changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// The rows, columns in select order.
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows inserted, updated or deleted (for an `UPDATE`: rows matched).
    pub affected: u64,
}

/// One connection to a database server.
#[async_trait]
pub trait SqlConn: Send {
    /// Runs one statement and returns its rows (text) and affected count.
    async fn query(&mut self, sql: &str) -> Result<Answer, SqlError>;
    /// The statements that begin a transaction at `iso` on this connection (a PostgreSQL
    /// standby allows no serializable transactions and overrides this).
    fn begin(&self, dialect: Dialect, iso: Isolation) -> Vec<String> {
        dialect.begin(iso)
    }
}

/// A database family's driver: opens connections.
#[async_trait]
pub trait SqlBackend: Send + Sync {
    /// The SQL dialect.
    fn dialect(&self) -> Dialect;
    /// The isolation level of every transaction.
    fn isolation(&self) -> Isolation;
    /// Opens a connection for a worker bound to `node`: for `read_only` transactions, where
    /// the database lets that node read (a replica, with `replica-reads`); else the primary.
    async fn connect(&self, node: &Node, read_only: bool, timeout: Duration) -> Result<Box<dyn SqlConn>, SqlError>;
}

/// The workload's settings the client needs.
#[derive(Clone, Debug)]
struct Settings {
    kind: WorkloadKind,
    op_timeout: Duration,
    balances: Vec<i64>,
    negative_balances: bool,
}

/// Opens SQL clients for one test.
pub struct SqlConnector {
    backend: Arc<dyn SqlBackend>,
    settings: Settings,
}

impl SqlConnector {
    /// The connector for `workload` over `backend`.
    pub fn new(backend: Arc<dyn SqlBackend>, workload: &WorkloadSpec) -> Self {
        let (balances, negative_balances) = match workload {
            WorkloadSpec::Bank(b) => (b.opening_balances(), b.negative_balances.unwrap_or(false)),
            _ => (Vec::new(), false),
        };
        let settings =
            Settings { kind: workload.kind(), op_timeout: workload.op_timeout(), balances, negative_balances };
        SqlConnector { backend, settings }
    }
}

#[async_trait]
impl Connector for SqlConnector {
    async fn setup(&self, cluster: &Cluster) -> Result<(), String> {
        let Some(node) = cluster.nodes().first() else { return Err("the test has no nodes".into()) };
        let dialect = self.backend.dialect();
        let limit = Duration::from_secs(10);
        let mut last = String::new();
        // The server may still be finishing its start: try a few times.
        for _ in 0..10 {
            match self.backend.connect(node, false, limit).await {
                Ok(mut conn) => {
                    let mut result = Ok(());
                    for stmt in dialect.schema(self.settings.kind, &self.settings.balances) {
                        let r = tokio::time::timeout(limit, conn.query(&stmt)).await;
                        match r {
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => {
                                result = Err(format!("`{stmt}`: {e}"));
                                break;
                            }
                            Err(_) => {
                                result = Err(format!("`{stmt}`: timed out after 10s"));
                                break;
                            }
                        }
                    }
                    match result {
                        Ok(()) => return Ok(()),
                        Err(e) => last = e,
                    }
                }
                Err(e) => last = format!("cannot connect to {}: {e}", node.name),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(format!("creating the {} tables failed: {last}", self.settings.kind.name()))
    }

    async fn open(&self, node: &Node) -> Result<Box<dyn Client>, String> {
        Ok(Box::new(SqlClient {
            backend: self.backend.clone(),
            node: node.clone(),
            settings: self.settings.clone(),
            conns: [None, None],
        }))
    }
}

/// Why an op's transaction ended without committing, or how its commit went.
#[derive(Debug)]
enum Abort {
    /// A statement before `COMMIT` failed: nothing was committed.
    Before(SqlError),
    /// A precondition failed (cas mismatch, overdraw); rolled back by us.
    Precondition(String),
    /// `COMMIT` failed.
    Commit(SqlError),
}

/// One worker's client: a connection for writes (to the primary) and one for reads, opened
/// when first needed and again after an error left it unusable.
struct SqlClient {
    backend: Arc<dyn SqlBackend>,
    node: Node,
    settings: Settings,
    /// `[writes, reads]`.
    conns: [Option<Box<dyn SqlConn>>; 2],
}

/// The statements one op runs inside its transaction, decided as it goes.
struct Txn<'a> {
    conn: &'a mut dyn SqlConn,
    deadline: Instant,
}

impl Txn<'_> {
    async fn q(&mut self, sql: &str) -> Result<Answer, SqlError> {
        match tokio::time::timeout_at(self.deadline, self.conn.query(sql)).await {
            Ok(r) => r,
            Err(_) => Err(SqlError::new(SqlErrorKind::Unknown, "timeout")),
        }
    }
}

#[async_trait]
impl Client for SqlClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let value = op.value.clone();
        let read_only = is_read_only(self.settings.kind, op);
        let slot = usize::from(read_only);
        let deadline = Instant::now() + self.settings.op_timeout;
        if self.conns[slot].is_none() {
            let connect = self.backend.connect(&self.node, read_only, self.settings.op_timeout);
            match tokio::time::timeout_at(deadline, connect).await {
                Ok(Ok(c)) => self.conns[slot] = Some(c),
                Ok(Err(e)) => return Completion::Fail { value, error: format!("connect: {e}") },
                Err(_) => return Completion::Fail { value, error: "connect: timeout".into() },
            }
        }
        let Some(conn) = self.conns[slot].as_mut() else {
            return Completion::Fail { value, error: "no connection".into() };
        };
        let dialect = self.backend.dialect();
        let begin = conn.begin(dialect, self.backend.isolation());
        let mut txn = Txn { conn: conn.as_mut(), deadline };
        let result = run(&mut txn, dialect, &begin, &self.settings, op).await;
        let completion = match result {
            Ok(v) => return Completion::Ok(v),
            Err(Abort::Precondition(e)) => {
                // Roll back and keep the connection, unless even that fails.
                if txn.q("ROLLBACK").await.is_err() {
                    self.conns[slot] = None;
                }
                return Completion::Fail { value, error: e };
            }
            Err(Abort::Before(e)) => Completion::Fail { value, error: e.message },
            Err(Abort::Commit(e)) if e.kind == SqlErrorKind::RolledBack || read_only => {
                Completion::Fail { value, error: format!("commit: {}", e.message) }
            }
            Err(Abort::Commit(e)) => Completion::Info { value, error: format!("commit: {}", e.message) },
        };
        // After an error the connection's state is unknown (a timed-out statement may still
        // run): close it, which rolls back whatever was not committed, and reconnect next time.
        self.conns[slot] = None;
        completion
    }
}

/// True when `op` writes nothing: it may run on a replica, and its unknown outcome is a `fail`.
fn is_read_only(kind: WorkloadKind, op: &Invocation) -> bool {
    match kind {
        WorkloadKind::ListAppend | WorkloadKind::RwRegister => {
            op.value.as_array().is_some_and(|mops| mops.iter().all(|m| m.get(0).and_then(Value::as_str) == Some("r")))
        }
        _ => op.f == "read",
    }
}

/// Runs `op` as one transaction.
async fn run(txn: &mut Txn<'_>, d: Dialect, begin: &[String], s: &Settings, op: &Invocation) -> Result<Value, Abort> {
    for stmt in begin {
        txn.q(stmt).await.map_err(Abort::Before)?;
    }
    let v = body(txn, d, s, op).await?;
    txn.q("COMMIT").await.map_err(Abort::Commit)?;
    Ok(v)
}

fn malformed(op: &Invocation) -> Abort {
    Abort::Precondition(format!("malformed op: {} {}", op.f, op.value))
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// The first column of the first row as an integer, if any.
fn first_int(a: &Answer) -> Result<Option<i64>, Abort> {
    match a.rows.first().and_then(|r| r.first()).cloned().flatten() {
        None => Ok(None),
        Some(t) => t
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Abort::Before(SqlError::new(SqlErrorKind::Unknown, format!("not an integer: {t:?}")))),
    }
}

/// Parses a list-append value (`1,2,3`) back into integers.
pub fn parse_list(text: Option<&str>) -> Result<Vec<u64>, String> {
    match text {
        None | Some("") => Ok(Vec::new()),
        Some(t) => t
            .split(',')
            .map(|x| x.trim().parse::<u64>().map_err(|_| format!("not a list of integers: {t:?}")))
            .collect(),
    }
}

/// What `op` does inside its transaction; returns the completed value.
async fn body(txn: &mut Txn<'_>, d: Dialect, s: &Settings, op: &Invocation) -> Result<Value, Abort> {
    let before = |e| Abort::Before(e);
    match (s.kind, op.f) {
        (WorkloadKind::ListAppend | WorkloadKind::RwRegister, "txn") => {
            let Some(mops) = op.value.as_array() else { return Err(malformed(op)) };
            let mut out = Vec::with_capacity(mops.len());
            for m in mops {
                let (Some(f), Some(k)) = (m.get(0).and_then(Value::as_str), m.get(1).and_then(Value::as_u64)) else {
                    return Err(malformed(op));
                };
                let append = s.kind == WorkloadKind::ListAppend;
                let table = if append { "brawl_append" } else { "brawl_rw" };
                match f {
                    "r" => {
                        let a = txn.q(&format!("SELECT v FROM {table} WHERE k = {k}")).await.map_err(before)?;
                        let read = if append {
                            let text = a.rows.first().and_then(|r| r.first()).cloned().flatten();
                            let list = parse_list(text.as_deref())
                                .map_err(|e| Abort::Before(SqlError::new(SqlErrorKind::Unknown, e)))?;
                            json!(list)
                        } else {
                            first_int(&a)?.map_or(Value::Null, |v| json!(v))
                        };
                        out.push(json!(["r", k, read]));
                    }
                    "append" | "w" => {
                        let Some(v) = m.get(2).and_then(Value::as_u64) else { return Err(malformed(op)) };
                        let sql = if append {
                            d.upsert_append(table, k, v)
                        } else {
                            d.upsert(table, &k.to_string(), &v.to_string())
                        };
                        txn.q(&sql).await.map_err(before)?;
                        out.push(m.clone());
                    }
                    _ => return Err(malformed(op)),
                }
            }
            Ok(Value::Array(out))
        }
        (WorkloadKind::Register, f) => {
            let Some(k) = op.value.get(0).and_then(Value::as_u64) else { return Err(malformed(op)) };
            match f {
                "read" => {
                    let a = txn.q(&format!("SELECT v FROM brawl_register WHERE k = {k}")).await.map_err(before)?;
                    Ok(json!([k, first_int(&a)?]))
                }
                "write" => {
                    let Some(v) = op.value.get(1).and_then(int) else { return Err(malformed(op)) };
                    txn.q(&d.upsert("brawl_register", &k.to_string(), &v.to_string())).await.map_err(before)?;
                    Ok(op.value.clone())
                }
                "cas" => {
                    let (Some(old), Some(new)) =
                        (op.value.pointer("/1/0").and_then(int), op.value.pointer("/1/1").and_then(int))
                    else {
                        return Err(malformed(op));
                    };
                    let sql = format!("UPDATE brawl_register SET v = {new} WHERE k = {k} AND v = {old}");
                    let a = txn.q(&sql).await.map_err(before)?;
                    if a.affected == 0 {
                        return Err(Abort::Precondition(format!("precondition failed: key {k} is not {old}")));
                    }
                    Ok(op.value.clone())
                }
                _ => Err(malformed(op)),
            }
        }
        (WorkloadKind::Set, "add") => {
            let Some(v) = int(&op.value) else { return Err(malformed(op)) };
            txn.q(&format!("INSERT INTO brawl_set (v) VALUES ({v})")).await.map_err(before)?;
            Ok(op.value.clone())
        }
        (WorkloadKind::Set, "read") => {
            let a = txn.q("SELECT v FROM brawl_set ORDER BY v").await.map_err(before)?;
            let mut vs = Vec::with_capacity(a.rows.len());
            for row in &a.rows {
                let t = row.first().cloned().flatten().unwrap_or_default();
                let v: i64 = t.parse().map_err(|_| {
                    Abort::Before(SqlError::new(SqlErrorKind::Unknown, format!("not an integer: {t:?}")))
                })?;
                vs.push(v);
            }
            Ok(json!(vs))
        }
        (WorkloadKind::Counter, "add") => {
            let Some(n) = int(&op.value) else { return Err(malformed(op)) };
            txn.q(&format!("UPDATE brawl_counter SET c = c + {n} WHERE id = 0")).await.map_err(before)?;
            Ok(op.value.clone())
        }
        (WorkloadKind::Counter, "read") => {
            let a = txn.q("SELECT c FROM brawl_counter WHERE id = 0").await.map_err(before)?;
            Ok(json!(first_int(&a)?.unwrap_or(0)))
        }
        (WorkloadKind::Bank, "read") => {
            let a = txn.q("SELECT id, balance FROM brawl_bank ORDER BY id").await.map_err(before)?;
            let mut m = Map::new();
            for row in &a.rows {
                let id = row.first().cloned().flatten().unwrap_or_default();
                let bal = row.get(1).cloned().flatten().unwrap_or_default();
                let b: i64 = bal.parse().map_err(|_| {
                    Abort::Before(SqlError::new(SqlErrorKind::Unknown, format!("not a balance: {bal:?}")))
                })?;
                m.insert(id, json!(b));
            }
            Ok(Value::Object(m))
        }
        (WorkloadKind::Bank, "transfer") => {
            let v = &op.value;
            let (Some(from), Some(to), Some(amount)) = (
                v.get("from").and_then(Value::as_u64),
                v.get("to").and_then(Value::as_u64),
                v.get("amount").and_then(int),
            ) else {
                return Err(malformed(op));
            };
            // Both rows, locked in id order (two transfers between the same accounts lock alike).
            let (lo, hi) = (from.min(to), from.max(to));
            let sql =
                format!("SELECT id, balance FROM brawl_bank WHERE id IN ({lo}, {hi}) ORDER BY id{}", d.lock_suffix());
            let a = txn.q(&sql).await.map_err(before)?;
            let balance_of = |id: u64| {
                a.rows
                    .iter()
                    .find(|r| r.first().cloned().flatten().as_deref() == Some(id.to_string().as_str()))
                    .and_then(|r| r.get(1).cloned().flatten())
                    .and_then(|b| b.parse::<i64>().ok())
            };
            let (Some(b_from), Some(_)) = (balance_of(from), balance_of(to)) else {
                return Err(Abort::Precondition(format!("no account {from} or {to}")));
            };
            if b_from < amount && !s.negative_balances {
                return Err(Abort::Precondition(format!(
                    "insufficient funds: account {from} has {b_from}, not {amount}"
                )));
            }
            txn.q(&format!("UPDATE brawl_bank SET balance = balance - {amount} WHERE id = {from}"))
                .await
                .map_err(before)?;
            txn.q(&format!("UPDATE brawl_bank SET balance = balance + {amount} WHERE id = {to}"))
                .await
                .map_err(before)?;
            Ok(op.value.clone())
        }
        _ => Err(malformed(op)),
    }
}

#[cfg(test)]
mod tests;
