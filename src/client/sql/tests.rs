//! The shared SQL client against a scripted connection: the statements each workload sends and
//! how errors at each step become `fail` or `info`.

use std::sync::{Arc, Mutex};

use super::*;
use crate::control::{FakeRemote, Remote};

/// A connection that records statements and answers from a script: the first rule whose
/// prefix matches a statement answers it; unmatched statements answer nothing.
#[derive(Clone, Default)]
struct Script {
    sent: Arc<Mutex<Vec<String>>>,
    rules: Arc<Mutex<Vec<(String, Result<Answer, SqlError>)>>>,
    refuse: bool,
}

impl Script {
    fn on(&self, prefix: &str, r: Result<Answer, SqlError>) -> &Self {
        self.rules.lock().expect("lock").push((prefix.into(), r));
        self
    }
    fn sent(&self) -> Vec<String> {
        self.sent.lock().expect("lock").clone()
    }
}

struct FakeConn(Script);

#[async_trait]
impl SqlConn for FakeConn {
    async fn query(&mut self, sql: &str) -> Result<Answer, SqlError> {
        self.0.sent.lock().expect("lock").push(sql.into());
        let rules = self.0.rules.lock().expect("lock");
        rules.iter().find(|(p, _)| sql.starts_with(p.as_str())).map(|(_, r)| r.clone()).unwrap_or(Ok(Answer::default()))
    }
}

struct FakeBackend(Script, Dialect);

#[async_trait]
impl SqlBackend for FakeBackend {
    fn dialect(&self) -> Dialect {
        self.1
    }
    fn isolation(&self) -> Isolation {
        Isolation::Serializable
    }
    async fn connect(&self, _node: &Node, _read_only: bool, _t: Duration) -> Result<Box<dyn SqlConn>, SqlError> {
        if self.0.refuse {
            return Err(SqlError::new(SqlErrorKind::NotSent, "connection refused"));
        }
        Ok(Box::new(FakeConn(self.0.clone())))
    }
}

fn rows(rs: &[&[Option<&str>]]) -> Result<Answer, SqlError> {
    Ok(Answer {
        rows: rs.iter().map(|r| r.iter().map(|c| c.map(str::to_string)).collect()).collect(),
        affected: rs.len() as u64,
    })
}

fn affected(n: u64) -> Result<Answer, SqlError> {
    Ok(Answer { rows: Vec::new(), affected: n })
}

fn err(kind: SqlErrorKind, m: &str) -> Result<Answer, SqlError> {
    Err(SqlError::new(kind, m))
}

async fn client(script: &Script, dialect: Dialect, yaml: &str) -> Box<dyn Client> {
    let spec: WorkloadSpec = serde_saphyr::from_str(yaml).expect("workload yaml");
    let node = Node { name: "n1".into(), remote: Arc::new(FakeRemote::new("10.0.0.1")) as Arc<dyn Remote> };
    let c = SqlConnector::new(Arc::new(FakeBackend(script.clone(), dialect)), &spec);
    c.open(&node).await.expect("open")
}

fn inv(f: &'static str, value: Value) -> Invocation {
    Invocation { f, value }
}

#[tokio::test]
async fn list_append_appends_by_upsert_and_reads_lists() {
    let s = Script::default();
    s.on("SELECT v FROM brawl_append WHERE k = 3", rows(&[&[Some("1,2")]]));
    let mut c = client(&s, Dialect::Postgres, "list-append: {}").await;
    let got = c.invoke(&inv("txn", json!([["append", 3, 7], ["r", 3, null], ["r", 4, null]]))).await;
    assert_eq!(got, Completion::Ok(json!([["append", 3, 7], ["r", 3, [1, 2]], ["r", 4, []]])));
    insta::assert_snapshot!(s.sent().join("\n"), @r"
    BEGIN ISOLATION LEVEL SERIALIZABLE
    INSERT INTO brawl_append (k, v) VALUES (3, '7') ON CONFLICT (k) DO UPDATE SET v = brawl_append.v || ',' || excluded.v
    SELECT v FROM brawl_append WHERE k = 3
    SELECT v FROM brawl_append WHERE k = 4
    COMMIT
    ");
}

#[tokio::test]
async fn mysql_dialect_sets_isolation_and_concatenates() {
    let s = Script::default();
    let mut c = client(&s, Dialect::Mysql, "list-append: {}").await;
    let got = c.invoke(&inv("txn", json!([["append", 1, 2]]))).await;
    assert_eq!(got, Completion::Ok(json!([["append", 1, 2]])));
    insta::assert_snapshot!(s.sent().join("\n"), @r"
    SET TRANSACTION ISOLATION LEVEL SERIALIZABLE
    START TRANSACTION
    INSERT INTO brawl_append (k, v) VALUES (1, '2') ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', VALUES(v))
    COMMIT
    ");
}

#[tokio::test]
async fn errors_before_commit_fail_and_at_commit_are_info_unless_rolled_back() {
    // A statement error before COMMIT: never committed.
    let s = Script::default();
    s.on("INSERT", err(SqlErrorKind::Unknown, "timeout"));
    let mut c = client(&s, Dialect::Postgres, "rw-register: {}").await;
    let w = json!([["w", 1, 5]]);
    assert!(matches!(c.invoke(&inv("txn", w.clone())).await, Completion::Fail { .. }));
    // A commit whose answer was lost: unknown.
    let s = Script::default();
    s.on("COMMIT", err(SqlErrorKind::Unknown, "connection closed"));
    let mut c = client(&s, Dialect::Postgres, "rw-register: {}").await;
    assert!(matches!(c.invoke(&inv("txn", w.clone())).await, Completion::Info { .. }));
    // ... unless it wrote nothing.
    assert!(matches!(c.invoke(&inv("txn", json!([["r", 1, null]]))).await, Completion::Fail { .. }));
    // A serialization failure at commit rolled back.
    let s = Script::default();
    s.on("COMMIT", err(SqlErrorKind::RolledBack, "40001: could not serialize access"));
    let mut c = client(&s, Dialect::Postgres, "rw-register: {}").await;
    match c.invoke(&inv("txn", w.clone())).await {
        Completion::Fail { error, .. } => assert!(error.contains("40001"), "{error}"),
        other => panic!("{other:?}"),
    }
    // A refused connection: never sent.
    let s = Script { refuse: true, ..Default::default() };
    let mut c = client(&s, Dialect::Postgres, "rw-register: {}").await;
    assert!(matches!(c.invoke(&inv("txn", w)).await, Completion::Fail { .. }));
    assert!(s.sent().is_empty());
}

#[tokio::test]
async fn rw_register_reads_null_for_missing_keys() {
    let s = Script::default();
    s.on("SELECT v FROM brawl_rw WHERE k = 2", rows(&[&[Some("9")]]));
    let mut c = client(&s, Dialect::Postgres, "rw-register: {}").await;
    let got = c.invoke(&inv("txn", json!([["r", 1, null], ["r", 2, null], ["w", 2, 10]]))).await;
    assert_eq!(got, Completion::Ok(json!([["r", 1, null], ["r", 2, 9], ["w", 2, 10]])));
    assert!(s
        .sent()
        .iter()
        .any(|q| q == "INSERT INTO brawl_rw (k, v) VALUES (2, 10) ON CONFLICT (k) DO UPDATE SET v = excluded.v"));
}

#[tokio::test]
async fn register_cas_fails_when_no_row_matched() {
    let s = Script::default();
    s.on("UPDATE brawl_register SET v = 4 WHERE k = 1 AND v = 3", affected(0));
    s.on("UPDATE brawl_register SET v = 5 WHERE k = 1 AND v = 4", affected(1));
    s.on("SELECT v FROM brawl_register WHERE k = 1", rows(&[&[Some("5")]]));
    let mut c = client(&s, Dialect::Postgres, "register: {}").await;
    assert!(matches!(c.invoke(&inv("cas", json!([1, [3, 4]]))).await, Completion::Fail { .. }));
    assert!(s.sent().contains(&"ROLLBACK".to_string()));
    assert_eq!(c.invoke(&inv("cas", json!([1, [4, 5]]))).await, Completion::Ok(json!([1, [4, 5]])));
    assert_eq!(c.invoke(&inv("read", json!([1, null]))).await, Completion::Ok(json!([1, 5])));
    assert_eq!(c.invoke(&inv("read", json!([2, null]))).await, Completion::Ok(json!([2, null])));
}

#[tokio::test]
async fn bank_transfers_refuse_overdrafts_and_reads_name_every_account() {
    let s = Script::default();
    s.on(
        "SELECT id, balance FROM brawl_bank WHERE id IN (0, 2)",
        rows(&[&[Some("0"), Some("2")], &[Some("2"), Some("10")]]),
    );
    s.on("SELECT id, balance FROM brawl_bank ORDER BY id", rows(&[&[Some("0"), Some("2")], &[Some("1"), Some("8")]]));
    let mut c = client(&s, Dialect::Postgres, "bank: {}").await;
    match c.invoke(&inv("transfer", json!({"from": 0, "to": 2, "amount": 3}))).await {
        Completion::Fail { error, .. } => assert!(error.contains("insufficient"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert!(!s.sent().iter().any(|q| q.starts_with("UPDATE")), "{:?}", s.sent());
    let ok = c.invoke(&inv("transfer", json!({"from": 2, "to": 0, "amount": 3}))).await;
    assert_eq!(ok, Completion::Ok(json!({"from": 2, "to": 0, "amount": 3})));
    let sent = s.sent();
    assert!(sent.contains(&"SELECT id, balance FROM brawl_bank WHERE id IN (0, 2) ORDER BY id FOR UPDATE".to_string()));
    assert!(sent.contains(&"UPDATE brawl_bank SET balance = balance - 3 WHERE id = 2".to_string()));
    assert!(sent.contains(&"UPDATE brawl_bank SET balance = balance + 3 WHERE id = 0".to_string()));
    assert_eq!(c.invoke(&inv("read", Value::Null)).await, Completion::Ok(json!({"0": 2, "1": 8})));
}

#[tokio::test]
async fn set_and_counter_statements() {
    let s = Script::default();
    s.on("SELECT v FROM brawl_set", rows(&[&[Some("1")], &[Some("4")]]));
    s.on("SELECT c FROM brawl_counter", rows(&[&[Some("12")]]));
    let mut set = client(&s, Dialect::Postgres, "set: {}").await;
    assert_eq!(set.invoke(&inv("add", json!(4))).await, Completion::Ok(json!(4)));
    assert_eq!(set.invoke(&inv("read", Value::Null)).await, Completion::Ok(json!([1, 4])));
    let mut counter = client(&s, Dialect::Postgres, "counter: {}").await;
    assert_eq!(counter.invoke(&inv("add", json!(3))).await, Completion::Ok(json!(3)));
    assert_eq!(counter.invoke(&inv("read", Value::Null)).await, Completion::Ok(json!(12)));
    let sent = s.sent();
    assert!(sent.contains(&"INSERT INTO brawl_set (v) VALUES (4)".to_string()));
    assert!(sent.contains(&"UPDATE brawl_counter SET c = c + 3 WHERE id = 0".to_string()));
}

#[test]
fn schemas_create_tables_and_opening_balances() {
    let bank = Dialect::Mysql.schema(WorkloadKind::Bank, &[20, 20, 60]);
    assert_eq!(
        bank[0],
        "CREATE TABLE IF NOT EXISTS brawl_bank (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB"
    );
    assert_eq!(bank[2], "INSERT INTO brawl_bank (id, balance) VALUES (0, 20), (1, 20), (2, 60)");
    assert!(Dialect::Postgres
        .schema(WorkloadKind::Counter, &[])
        .contains(&"INSERT INTO brawl_counter (id, c) VALUES (0, 0)".to_string()));
    assert_eq!(parse_list(Some("1,2,3")), Ok(vec![1, 2, 3]));
    assert_eq!(parse_list(None), Ok(vec![]));
    assert!(parse_list(Some("1,x")).is_err());
}
