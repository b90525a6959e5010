//! MariaDB 10.11 as the system under test, from Debian's `mariadb-server` (and `galera-4`): one
//! server on the test's first node, or a Galera cluster of every node.
//!
//! Each node keeps everything under paths the local cluster makes private: the config file
//! `/var/lib/brawl/node/mariadb/my.cnf` (passed with `--defaults-file`, never in /etc), the data
//! directory beside it (made by `mariadb-install-db` as user mysql), socket and server pid
//! in `/run/brawl-mariadb/`, the daemon's pid file `/run/brawl-mariadb.pid` and its log
//! `/var/log/brawl-mariadb.log`. The server binds the node's own address.
//!
//! Galera: the first node bootstraps (`--wsrep-new-cluster`), the others join one at a time
//! (state transfer by rsync) until `wsrep_cluster_size` is the number of nodes and every node
//! is ready. A node killed while others still form a primary component rejoins on start; when
//! no node is left in a primary component, `start` recovers the cluster as an operator would:
//! every node's last committed seqno from `--wsrep-recover`, the most advanced node marked
//! `safe_to_bootstrap` and bootstrapped, the rest started to join it.
//!
//! Clients log in as user `brawl` with a password made fresh for each brawl process
//! (`password`), sent to the node on the mariadb client's stdin so it is never in a command
//! line or a log.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Deserializer};
use tracing::{debug, info, warn};

use super::{node_ip, Db, DbError, Pause, Primary, Process};
use crate::cluster::{Cluster, Node};
use crate::config::raw::duration;
use crate::control::RemoteCommand;

/// Everything brawl keeps of MariaDB on a node.
pub const BASE_DIR: &str = "/var/lib/brawl/node/mariadb";
/// The data directory.
pub const DATA_DIR: &str = "/var/lib/brawl/node/mariadb/data";
/// The server's config file.
pub const CONFIG_FILE: &str = "/var/lib/brawl/node/mariadb/my.cnf";
/// Socket and the server's own pid file live here (owned by mysql).
pub const RUN_DIR: &str = "/run/brawl-mariadb";
/// The server's Unix socket.
pub const SOCKET: &str = "/run/brawl-mariadb/mariadb.sock";
/// The daemon's pid file (the pid of the process `daemon_command` started).
pub const PID_FILE: &str = "/run/brawl-mariadb.pid";
/// The server's log (its stderr).
pub const LOG_FILE: &str = "/var/log/brawl-mariadb.log";
/// The client port.
pub const PORT: u16 = 3306;
/// The user clients log in as.
pub const USER: &str = "brawl";
/// The database the clients' tables live in.
pub const DATABASE: &str = "brawl";
/// Galera's provider library (Debian's galera-4).
const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

/// `isolation:` the SQL client's levels, shared with PostgreSQL.
pub use crate::client::sql::Isolation;

/// The value of `transaction-isolation` for `level`.
pub fn server_isolation(level: Isolation) -> &'static str {
    match level {
        Isolation::ReadCommitted => "READ-COMMITTED",
        Isolation::RepeatableRead => "REPEATABLE-READ",
        Isolation::Serializable => "SERIALIZABLE",
    }
}

/// The test file's `db: { mariadb: { ... } }` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MariaDbSpec {
    /// The server's default isolation level and every client transaction's (MariaDB's
    /// default, repeatable read, when absent).
    pub isolation: Option<Isolation>,
    /// A Galera cluster of every node (default false: one server on the first node).
    #[serde(default)]
    pub galera: bool,
    /// Extra server options, written into the config file's `[mariadbd]` section as
    /// `name = value` after brawl's own (so they win): `innodb_snapshot_isolation: "ON"`.
    #[serde(default, deserialize_with = "options")]
    pub options: BTreeMap<String, String>,
    /// How long to wait for the server (or the cluster) to be ready (default 90s).
    #[serde(default, deserialize_with = "duration::option")]
    pub await_timeout: Option<Duration>,
}

/// `options:` as a map of option names to scalar values; a name must be an option name
/// (letters, digits, `_`, `-`, `.`) and a value one line, so nothing can break out of its line.
fn options<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    use serde::de::Error;
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (name, value) in raw {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
            return Err(D::Error::custom(format!(
                "option name {name:?}: expected a server option name (letters, digits, `_`, `-`, `.`)"
            )));
        }
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => if b { "ON" } else { "OFF" }.to_string(),
            other => {
                return Err(D::Error::custom(format!(
                    "option {name}: expected a string, number or boolean, found {other}"
                )))
            }
        };
        if text.contains(['\n', '\r']) {
            return Err(D::Error::custom(format!("option {name}: the value must be one line")));
        }
        out.insert(name, text);
    }
    Ok(out)
}

/// The client user's password: random, made once per brawl process, shared by the db (which
/// creates the user) and the client (which logs in).
pub fn password() -> &'static str {
    static PASSWORD: OnceLock<String> = OnceLock::new();
    PASSWORD.get_or_init(|| format!("bw{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>()))
}

/// The node clients of `node` talk to: itself under Galera, else the one server.
pub fn server_for<'a>(spec: &MariaDbSpec, cluster: &'a Cluster, node: &'a Node) -> &'a Node {
    if spec.galera {
        node
    } else {
        cluster.nodes().first().unwrap_or(node)
    }
}

/// MariaDB, configured from a `MariaDbSpec` for one test.
pub struct MariaDb {
    spec: MariaDbSpec,
    /// Galera's cluster name, from the test's name.
    cluster_name: String,
    /// libfaketime's variables under a faketime clock nemesis.
    env: Vec<(String, String)>,
    /// Serializes membership changes (joins, restarts, recovery): two nodes joining at once
    /// would race for the same donor, and two starts after a total crash must not both
    /// bootstrap a cluster.
    membership: tokio::sync::Mutex<()>,
    /// Set when the bootstrap node's setup failed, so joiners waiting for it give up at once.
    bootstrap_failed: std::sync::atomic::AtomicBool,
}

/// What one node's server says about itself.
#[derive(Clone, Debug, Default, PartialEq)]
struct NodeState {
    /// The daemon's process is alive.
    running: bool,
    /// `SHOW GLOBAL STATUS LIKE 'wsrep%'` (empty when the server did not answer).
    status: HashMap<String, String>,
}

impl NodeState {
    fn get(&self, key: &str) -> &str {
        self.status.get(key).map(String::as_str).unwrap_or("")
    }
    /// In a primary component and ready for queries.
    fn primary(&self) -> bool {
        self.running && self.get("wsrep_cluster_status") == "Primary" && self.get("wsrep_ready") == "ON"
    }
    /// Synced with its cluster.
    fn synced(&self) -> bool {
        self.primary() && self.get("wsrep_local_state_comment") == "Synced"
    }
}

impl MariaDb {
    /// MariaDB for the test `test_name`.
    pub fn new(spec: MariaDbSpec, test_name: &str) -> Self {
        let cluster_name: String =
            format!("brawl-{test_name}").chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(60).collect();
        MariaDb {
            spec,
            cluster_name,
            env: Vec::new(),
            membership: tokio::sync::Mutex::new(()),
            bootstrap_failed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The same MariaDB, started with `env` added to its environment.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    fn await_limit(&self) -> Duration {
        self.spec.await_timeout.unwrap_or(Duration::from_secs(90))
    }

    fn is_first(cluster: &Cluster, node: &Node) -> bool {
        cluster.nodes().first().is_some_and(|n| n.name == node.name)
    }

    /// Whether this node runs a server at all (every node under Galera, else only the first).
    fn serves_on(&self, cluster: &Cluster, node: &Node) -> bool {
        self.spec.galera || Self::is_first(cluster, node)
    }

    /// The config file for `node`.
    pub fn config(&self, cluster: &Cluster, node: &Node) -> Result<String, DbError> {
        let ip = node_ip(node)?;
        let mut c = String::from("# written by brawl; passed to mariadbd with --defaults-file\n[client]\n");
        c += &format!("socket = {SOCKET}\nuser = root\n\n[mariadbd]\n");
        c += &format!("datadir = {DATA_DIR}\nsocket = {SOCKET}\npid-file = {RUN_DIR}/mariadbd.pid\n");
        c += &format!("user = mysql\nbind-address = {ip}\nport = {PORT}\nskip-name-resolve\n");
        c += "performance_schema = OFF\ninnodb_buffer_pool_size = 64M\nmax_connections = 300\n";
        if let Some(level) = self.spec.isolation {
            c += &format!("transaction-isolation = {}\n", server_isolation(level));
        }
        if self.spec.galera {
            let members: Vec<String> =
                cluster.nodes().iter().map(|n| node_ip(n).map(|ip| ip.to_string())).collect::<Result<_, _>>()?;
            c += "binlog_format = ROW\ndefault_storage_engine = InnoDB\ninnodb_autoinc_lock_mode = 2\n";
            c += &format!("wsrep_on = ON\nwsrep_provider = {PROVIDER}\n");
            c += &format!("wsrep_cluster_address = gcomm://{}\n", members.join(","));
            c += &format!("wsrep_cluster_name = {}\nwsrep_node_name = {}\n", self.cluster_name, node.name);
            c += &format!("wsrep_node_address = {ip}\nwsrep_sst_method = rsync\n");
            c += &format!("wsrep_provider_options = \"gmcast.listen_addr=tcp://{ip}:4567;ist.recv_addr={ip}:4568;gcache.size=64M\"\n");
        }
        for (name, value) in &self.spec.options {
            c += &format!("{name} = {value}\n");
        }
        Ok(c)
    }

    /// The command that starts the server on a node; `bootstrap` starts a new Galera cluster.
    pub fn start_command(&self, bootstrap: bool) -> String {
        let mut exec = format!("mariadbd --defaults-file={CONFIG_FILE}");
        if bootstrap {
            exec += " --wsrep-new-cluster";
        }
        let prepare = format!("mkdir -p {RUN_DIR} && chown mysql:mysql {RUN_DIR} && ");
        prepare + &super::daemon_command(&exec, BASE_DIR, PID_FILE, LOG_FILE, &self.env)
    }

    /// Installs the packages where missing, writes the config and makes the data directory.
    async fn prepare(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        let r = &node.remote;
        let have =
            r.exec(&RemoteCommand::new("command -v mariadbd && command -v mariadb-install-db").unchecked()).await?;
        let galera_missing = self.spec.galera
            && !r.exec(&RemoteCommand::new(format!("test -f {PROVIDER}")).unchecked()).await?.success();
        if !have.success() || galera_missing {
            info!(node = %node.name, "installing mariadb-server and galera-4 from Debian's packages");
            let install = "DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
                           --no-install-recommends mariadb-server mariadb-client galera-4 rsync";
            r.exec(&RemoteCommand::new(install).sudo().timeout(Duration::from_secs(600)).idempotent()).await?;
        }
        r.exec(&RemoteCommand::new(format!("mkdir -p {DATA_DIR} && chown mysql:mysql {BASE_DIR} {DATA_DIR}")).sudo())
            .await?;
        r.upload(self.config(cluster, node)?.as_bytes(), CONFIG_FILE, 0o644).await?;
        let init = format!(
            "test -d {DATA_DIR}/mysql || mariadb-install-db --no-defaults --user=mysql --datadir={DATA_DIR} \
             --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve > {BASE_DIR}/install.log 2>&1"
        );
        let out = r.exec(&RemoteCommand::new(init).sudo().timeout(Duration::from_secs(180)).unchecked()).await?;
        if !out.success() {
            let log = self.tail(node, &format!("{BASE_DIR}/install.log")).await;
            return Err(DbError::NotHealthy {
                db: "mariadb",
                node: node.name.clone(),
                after: Duration::ZERO,
                reason: format!("mariadb-install-db failed (exit {}); its log ends: {log}", out.status),
            });
        }
        Ok(())
    }

    /// The last lines of a file on `node` (empty when unreadable).
    async fn tail(&self, node: &Node, file: &str) -> String {
        node.remote
            .exec(&RemoteCommand::new(format!("tail -n 8 {file}")).sudo().unchecked())
            .await
            .map(|o| o.stdout.trim().to_string())
            .unwrap_or_default()
    }

    /// True when the pid file names a live process.
    async fn running(&self, node: &Node) -> Result<bool, DbError> {
        let probe = format!("test -f {PID_FILE} && kill -0 \"$(cat {PID_FILE})\" 2>/dev/null");
        Ok(node.remote.exec(&RemoteCommand::new(probe).sudo().unchecked()).await?.success())
    }

    /// Runs SQL as root over the node's socket; `None` when the server did not answer.
    async fn sql(&self, node: &Node, sql: &str) -> Result<Option<String>, DbError> {
        let cmd = format!("mariadb --defaults-file={CONFIG_FILE} --connect-timeout=2 -N -B");
        let out = node
            .remote
            .exec(
                &RemoteCommand::new(cmd)
                    .sudo()
                    .stdin(sql.as_bytes().to_vec())
                    .timeout(Duration::from_secs(20))
                    .unchecked(),
            )
            .await?;
        Ok(out.success().then_some(out.stdout))
    }

    /// The node's process and wsrep state.
    async fn state(&self, node: &Node) -> NodeState {
        let running = self.running(node).await.unwrap_or(false);
        let mut status = HashMap::new();
        if running {
            if let Ok(Some(out)) = self.sql(node, "SHOW GLOBAL STATUS LIKE 'wsrep%';").await {
                status = parse_status(&out);
            }
        }
        NodeState { running, status }
    }

    /// Waits until `ready` holds for the node's state, failing early when the server exits.
    async fn await_node(&self, node: &Node, what: &str, ready: impl Fn(&NodeState) -> bool) -> Result<(), DbError> {
        let limit = self.await_limit();
        let started = Instant::now();
        let mut last = NodeState::default();
        while started.elapsed() < limit {
            let st = if self.spec.galera {
                self.state(node).await
            } else {
                let running = self.running(node).await?;
                let answers = running && self.sql(node, "SELECT 1;").await?.is_some();
                NodeState { running: answers, status: HashMap::new() }
            };
            if ready(&st) {
                return Ok(());
            }
            if !st.running && !self.running(node).await? {
                // Give the log a moment: the process may have just exited.
                tokio::time::sleep(Duration::from_millis(300)).await;
                let log = self.tail(node, LOG_FILE).await;
                return Err(DbError::NotHealthy {
                    db: "mariadb",
                    node: node.name.clone(),
                    after: started.elapsed(),
                    reason: format!("mariadbd exited while waiting for it to be {what}; its log ends: {log}"),
                });
            }
            last = st;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let log = self.tail(node, LOG_FILE).await;
        Err(DbError::NotHealthy {
            db: "mariadb",
            node: node.name.clone(),
            after: limit,
            reason: format!(
                "not {what} (cluster status {:?}, state {:?}, size {:?}); log: {log}",
                last.get("wsrep_cluster_status"),
                last.get("wsrep_local_state_comment"),
                last.get("wsrep_cluster_size")
            ),
        })
    }

    /// Starts the server on `node` and waits for it: answering (one server), in a new primary
    /// component (`bootstrap`), or synced with the cluster (a joiner).
    async fn start_and_wait(&self, node: &Node, bootstrap: bool) -> Result<(), DbError> {
        debug!(node = %node.name, bootstrap, "starting mariadbd");
        node.remote.exec(&RemoteCommand::new(self.start_command(bootstrap)).sudo()).await?;
        if !self.spec.galera {
            self.await_node(node, "answering", |s| s.running).await
        } else if bootstrap {
            self.await_node(node, "primary", NodeState::primary).await
        } else {
            self.await_node(node, "synced", NodeState::synced).await
        }
    }

    /// Waits (as joiner `node`) until the bootstrap node `first` is in a primary component.
    async fn await_bootstrap(&self, node: &Node, first: &Node) -> Result<(), DbError> {
        let limit = self.await_limit();
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.bootstrap_failed.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            if self.state(first).await.primary() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(DbError::NotHealthy {
            db: "mariadb",
            node: node.name.clone(),
            after: started.elapsed(),
            reason: format!("cannot join: the bootstrap node {} did not form a cluster", first.name),
        })
    }

    /// Creates the client's user and database on `node` (replicated by Galera).
    async fn create_user(&self, node: &Node) -> Result<(), DbError> {
        let sql = format!(
            "CREATE DATABASE IF NOT EXISTS {DATABASE};\n\
             CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{pw}';\n\
             ALTER USER '{USER}'@'%' IDENTIFIED BY '{pw}';\n\
             GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%';\n",
            pw = password()
        );
        let cmd = format!("mariadb --defaults-file={CONFIG_FILE} --connect-timeout=5 -N -B");
        // The password goes on stdin: never in a command line, so never in a log.
        let out = node
            .remote
            .exec(&RemoteCommand::new(cmd).sudo().stdin(sql.into_bytes()).timeout(Duration::from_secs(30)).unchecked())
            .await?;
        if !out.success() {
            return Err(DbError::NotHealthy {
                db: "mariadb",
                node: node.name.clone(),
                after: Duration::ZERO,
                reason: format!("creating the client's user failed: {}", out.stderr.trim()),
            });
        }
        Ok(())
    }

    /// Kills the server with `signal` and, for SIGKILL, waits until it is gone.
    async fn signal(&self, node: &Node, signal: &str) -> Result<(), DbError> {
        super::signal_pid_file(node, PID_FILE, signal).await
    }

    /// The last committed seqno of a stopped node: grastate.dat's, or `--wsrep-recover`'s when
    /// the node crashed (grastate says -1).
    async fn recovered_seqno(&self, node: &Node) -> Result<i64, DbError> {
        let grastate =
            node.remote.exec(&RemoteCommand::new(format!("cat {DATA_DIR}/grastate.dat")).sudo().unchecked()).await?;
        if let Some(s) = parse_grastate_seqno(&grastate.stdout).filter(|s| *s >= 0) {
            return Ok(s);
        }
        let recover = format!(
            "cd {BASE_DIR} && mariadbd --defaults-file={CONFIG_FILE} --wsrep-recover --log-error={BASE_DIR}/recover.log; \
             grep 'Recovered position' {BASE_DIR}/recover.log | tail -n 1"
        );
        let out =
            node.remote.exec(&RemoteCommand::new(recover).sudo().timeout(Duration::from_secs(120)).unchecked()).await?;
        Ok(parse_recovered_position(&out.stdout).unwrap_or(-1))
    }

    /// Recovers a Galera cluster none of whose nodes is in a primary component: every server
    /// stopped, the node with the highest seqno bootstrapped, then the rest joined one by one.
    /// The caller holds `membership`.
    async fn recover(&self, cluster: &Cluster) -> Result<(), DbError> {
        let mut best: Option<(i64, &Node)> = None;
        for node in cluster.nodes() {
            Process::kill(self, node).await?;
            let seqno = self.recovered_seqno(node).await?;
            info!(node = %node.name, seqno, "galera recovery: last committed seqno");
            if best.is_none_or(|(s, _)| seqno > s) {
                best = Some((seqno, node));
            }
        }
        let Some((seqno, first)) = best else { return Ok(()) };
        info!(node = %first.name, seqno, "galera recovery: bootstrapping the most advanced node");
        for node in cluster.nodes() {
            // A stale saved view would make the node wait for its old members instead.
            let forget = format!("rm -f {DATA_DIR}/gvwstate.dat {BASE_DIR}/recover.log");
            node.remote.exec(&RemoteCommand::new(forget).sudo().idempotent()).await?;
        }
        let mark = format!("sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' {DATA_DIR}/grastate.dat");
        first.remote.exec(&RemoteCommand::new(mark).sudo().idempotent()).await?;
        self.start_and_wait(first, true).await?;
        for node in cluster.nodes().iter().filter(|n| n.name != first.name) {
            self.start_and_wait(node, false).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Db for MariaDb {
    fn name(&self) -> &'static str {
        "mariadb"
    }

    async fn setup(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        if !self.serves_on(cluster, node) {
            return Ok(());
        }
        self.prepare(cluster, node).await?;
        if !self.spec.galera || Self::is_first(cluster, node) {
            let started = self.start_and_wait(node, self.spec.galera).await;
            if started.is_err() {
                self.bootstrap_failed.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            return started;
        }
        // A joiner waits for the bootstrap node to form the cluster, then joins alone.
        let first = cluster.nodes().first().unwrap_or(node);
        self.await_bootstrap(node, first).await?;
        let _one_at_a_time = self.membership.lock().await;
        self.start_and_wait(node, false).await
    }

    async fn teardown(&self, node: &Node) -> Result<(), DbError> {
        Process::kill(self, node).await?;
        // What a state transfer left (its rsync daemon) runs with brawl's paths in its command line.
        // The `[/]` keeps the pattern from matching the shell that runs this very command
        // (which is why the paths are removed by a command of their own).
        let kill = format!("pkill -9 -f '[/]{}'; pkill -9 -f '[/]{}'; true", &BASE_DIR[1..], &RUN_DIR[1..]);
        node.remote.exec(&RemoteCommand::new(kill).sudo().idempotent()).await?;
        let cmd = format!("rm -rf {BASE_DIR} {RUN_DIR} {PID_FILE} {LOG_FILE}");
        node.remote.exec(&RemoteCommand::new(cmd).sudo().idempotent()).await?;
        Ok(())
    }

    async fn await_ready(&self, cluster: &Cluster) -> Result<(), DbError> {
        let started = Instant::now();
        let Some(first) = cluster.nodes().first() else { return Ok(()) };
        if self.spec.galera {
            let n = cluster.len().to_string();
            for (_, r) in cluster
                .on_nodes(|node| {
                    self.await_node(node, "in the full cluster", |s| s.synced() && s.get("wsrep_cluster_size") == n)
                })
                .await
            {
                r?;
            }
        } else {
            self.await_node(first, "answering", |s| s.running).await?;
        }
        self.create_user(first).await?;
        info!(
            nodes = cluster.len(),
            galera = self.spec.galera,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "mariadb is ready"
        );
        Ok(())
    }

    fn log_files(&self) -> Vec<(String, String)> {
        vec![(LOG_FILE.into(), "mariadb.log".into())]
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
impl Process for MariaDb {
    async fn start(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        if !self.serves_on(cluster, node) {
            return Ok(());
        }
        let _membership = self.membership.lock().await;
        if self.running(node).await? {
            return Ok(());
        }
        if !self.spec.galera {
            return self.start_and_wait(node, false).await;
        }
        let mut any_primary = false;
        for other in cluster.nodes().iter().filter(|n| n.name != node.name) {
            any_primary |= self.state(other).await.primary();
        }
        if any_primary {
            return self.start_and_wait(node, false).await;
        }
        warn!(node = %node.name, "no galera node is in a primary component; recovering the cluster");
        self.recover(cluster).await
    }

    async fn kill(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "9").await?;
        // Wait for the process to be gone, so a restart never races the dying one for its ports.
        let wait = format!("for i in $(seq 100); do test -f {PID_FILE} && kill -0 \"$(cat {PID_FILE})\" 2>/dev/null || exit 0; sleep 0.1; done; exit 1");
        node.remote.exec(&RemoteCommand::new(wait).sudo().idempotent()).await?;
        Ok(())
    }
}

#[async_trait]
impl Pause for MariaDb {
    async fn pause(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "STOP").await
    }

    async fn resume(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "CONT").await
    }
}

#[async_trait]
impl Primary for MariaDb {
    /// One server: the first node while it runs. Galera: every node in a primary component
    /// (all nodes take writes).
    async fn primaries(&self, cluster: &Cluster) -> Vec<String> {
        let mut out = Vec::new();
        for node in cluster.nodes() {
            if !self.serves_on(cluster, node) {
                continue;
            }
            let st = self.state(node).await;
            if (self.spec.galera && st.primary()) || (!self.spec.galera && st.running) {
                out.push(node.name.clone());
            }
        }
        out
    }
}

/// `name\tvalue` lines of `SHOW STATUS` in batch mode.
fn parse_status(out: &str) -> HashMap<String, String> {
    out.lines().filter_map(|l| l.split_once('\t')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect()
}

/// The seqno in grastate.dat (`seqno:   42`).
fn parse_grastate_seqno(text: &str) -> Option<i64> {
    text.lines().find_map(|l| l.strip_prefix("seqno:")).and_then(|s| s.trim().parse().ok())
}

/// The seqno in `--wsrep-recover`'s line `WSREP: Recovered position: <uuid>:<seqno>`.
fn parse_recovered_position(text: &str) -> Option<i64> {
    let line = text.lines().rev().find(|l| l.contains("Recovered position"))?;
    line.trim().rsplit(':').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{FakeRemote, Remote};
    use std::sync::Arc;

    fn cluster() -> (Cluster, Vec<Arc<FakeRemote>>) {
        let fakes: Vec<Arc<FakeRemote>> =
            ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().map(|h| Arc::new(FakeRemote::new(h))).collect();
        (Cluster::new(fakes.iter().map(|f| f.clone() as Arc<dyn Remote>).collect()), fakes)
    }

    fn spec(yaml: &str) -> Result<MariaDbSpec, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn the_config_has_isolation_galera_and_the_options_last() {
        let (c, _) = cluster();
        let s = spec("isolation: serializable\ngalera: true\noptions: { innodb_snapshot_isolation: \"ON\", wsrep_sync_wait: 1 }\n")
            .expect("parses");
        let cfg = MariaDb::new(s, "t 1").config(&c, &c.nodes()[1]).expect("builds");
        assert!(cfg.contains("bind-address = 10.0.0.2\n"), "{cfg}");
        assert!(cfg.contains("transaction-isolation = SERIALIZABLE\n"), "{cfg}");
        assert!(cfg.contains("wsrep_cluster_address = gcomm://10.0.0.1,10.0.0.2,10.0.0.3\n"), "{cfg}");
        assert!(cfg.contains("wsrep_cluster_name = brawl-t1\n"), "{cfg}");
        assert!(cfg.contains("gmcast.listen_addr=tcp://10.0.0.2:4567"), "{cfg}");
        let at = cfg.find("innodb_snapshot_isolation = ON\n").expect("option written");
        assert!(at > cfg.find("wsrep_provider_options").expect("galera part"), "{cfg}");
        assert!(cfg.contains("wsrep_sync_wait = 1\n"), "{cfg}");
        assert!(!cfg.contains(password()), "no password in the config");
    }

    #[test]
    fn one_server_has_no_galera_and_keeps_the_default_isolation() {
        let (c, _) = cluster();
        let cfg = MariaDb::new(MariaDbSpec::default(), "t").config(&c, &c.nodes()[0]).expect("builds");
        assert!(!cfg.contains("wsrep"), "{cfg}");
        assert!(!cfg.contains("transaction-isolation"), "{cfg}");
        assert!(cfg.contains(&format!("socket = {SOCKET}")), "{cfg}");
    }

    #[test]
    fn options_that_could_break_the_config_are_refused() {
        assert!(spec("options: { \"a b\": 1 }").expect_err("bad name").contains("option name"));
        assert!(spec("options: { a: [1] }").expect_err("not scalar").contains("expected a string"));
        assert!(spec("options: { a: \"x\\ny\" }").expect_err("two lines").contains("one line"));
        assert!(spec("isolation: snapshot").is_err());
        assert_eq!(spec("options: { x: true }").expect("bool").options["x"], "ON");
    }

    #[test]
    fn the_start_command_bootstraps_only_when_asked() {
        let db = MariaDb::new(MariaDbSpec::default(), "t");
        let plain = db.start_command(false);
        assert!(plain.contains(&format!("mariadbd --defaults-file={CONFIG_FILE}")), "{plain}");
        assert!(!plain.contains("--wsrep-new-cluster"), "{plain}");
        assert!(plain.contains(PID_FILE) && plain.contains(LOG_FILE), "{plain}");
        assert!(db.start_command(true).contains("--wsrep-new-cluster"));
    }

    #[test]
    fn seqnos_are_read_from_grastate_and_wsrep_recover() {
        let grastate = "# GALERA saved state\nversion: 2.1\nuuid:    6a1b-77\nseqno:   -1\nsafe_to_bootstrap: 0\n";
        assert_eq!(parse_grastate_seqno(grastate), Some(-1));
        let line =
            "2026-12-03  7:01:02 0 [Note] WSREP: Recovered position: 8a6f3c52-b0f1-11ef-8e0a-7fc1b0b7a1f0:1234\n";
        assert_eq!(parse_recovered_position(line), Some(1234));
        assert_eq!(parse_recovered_position("nothing"), None);
        let st = parse_status("wsrep_cluster_size\t3\nwsrep_ready\tON\n");
        assert_eq!(st["wsrep_cluster_size"], "3");
    }

    #[tokio::test]
    async fn the_password_goes_on_stdin_never_in_a_command() {
        let (c, fakes) = cluster();
        MariaDb::new(MariaDbSpec::default(), "t").create_user(&c.nodes()[0]).await.expect("creates");
        assert!(fakes[0].commands().iter().all(|cmd| !cmd.contains(password())), "{:?}", fakes[0].commands());
    }
}
