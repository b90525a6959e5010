//! Redis 7 as the system under test, from Debian's `redis-server` and `redis-sentinel`: one
//! server on the first node, or (`sentinel: true`) a primary on the first node with every other
//! node its replica (`replicaof`) and a Sentinel on every node that fails over (quorum a
//! majority, short down-after and failover timeouts so failovers happen within a short test).
//!
//! Every file lives under the node's private `/var/lib/brawl/node/redis` (`redis.conf`,
//! `sentinel.conf`, the RDB and AOF files), never in /etc; the configuration is uploaded, so the
//! password (`requirepass` / `masterauth` / `sentinel auth-pass`) is in no command line and no
//! log. Servers bind the node's own address; `protected-mode no` is safe only because of that.
//! A restarted server asks Sentinel who the primary is and comes back as its replica.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use tracing::{debug, info};

use super::{node_ip, signal_pid_file, Db, DbError, Pause, Primary, Process};
use crate::cluster::{Cluster, Node};
use crate::config::raw::duration;
use crate::control::RemoteCommand;

/// Where brawl keeps Redis's data and configuration on a node.
pub const DATA_DIR: &str = "/var/lib/brawl/node/redis";
/// The server's log.
pub const LOG_FILE: &str = "/var/log/brawl-redis.log";
/// The server's pid file.
pub const PID_FILE: &str = "/run/brawl-redis.pid";
/// Sentinel's log.
pub const SENTINEL_LOG: &str = "/var/log/brawl-redis-sentinel.log";
/// Sentinel's pid file.
pub const SENTINEL_PID: &str = "/run/brawl-redis-sentinel.pid";
/// The server's port.
pub const PORT: u16 = 6379;
/// Sentinel's port.
pub const SENTINEL_PORT: u16 = 26379;
/// The name Sentinel monitors the primary under.
pub const MASTER_NAME: &str = "brawl";

/// The test file's `db: { redis: { ... } }` section.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RedisSpec {
    /// A primary on the first node, replicas on the others and a Sentinel on every node
    /// (default false: one server on the first node).
    #[serde(default)]
    pub sentinel: bool,
    /// redis.conf lines, `name: value` (`appendonly: "yes"`, `save: ""`); an empty value is
    /// written as `""`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// `requirepass` and `masterauth` (and Sentinel's `auth-pass`); never logged.
    pub password: Option<String>,
    /// Sentinel's `down-after-milliseconds` (default 1s).
    #[serde(default, deserialize_with = "duration::option")]
    pub down_after: Option<Duration>,
    /// Sentinel's `failover-timeout` (default 3s).
    #[serde(default, deserialize_with = "duration::option")]
    pub failover_timeout: Option<Duration>,
    /// How long to wait for the servers (and Sentinels) to be ready (default 30s).
    #[serde(default, deserialize_with = "duration::option")]
    pub await_timeout: Option<Duration>,
}

impl std::fmt::Debug for RedisSpec {
    // By hand, so the password never reaches a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSpec")
            .field("sentinel", &self.sentinel)
            .field("options", &self.options)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("down_after", &self.down_after)
            .field("failover_timeout", &self.failover_timeout)
            .field("await_timeout", &self.await_timeout)
            .finish()
    }
}

impl RedisSpec {
    /// Checks the options: names of letters, digits and dashes, values on one line.
    pub fn validate(&self) -> Result<(), String> {
        for (k, v) in &self.options {
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("db.redis.options: `{k}` is not a redis.conf directive name"));
            }
            if v.contains(['\n', '\r']) {
                return Err(format!("db.redis.options.{k}: a value must be one line"));
            }
        }
        if self.password.as_deref().is_some_and(|p| p.contains(['\n', '\r', ' ', '"'])) {
            return Err("db.redis.password: must not contain spaces, quotes or line breaks".into());
        }
        Ok(())
    }
}

/// Redis (and Sentinel), configured from a `RedisSpec` for one test.
pub struct Redis {
    spec: RedisSpec,
    /// Extra environment the servers start with (libfaketime's, under a faketime clock nemesis).
    env: Vec<(String, String)>,
}

impl Redis {
    /// Redis for one test.
    pub fn new(spec: RedisSpec) -> Self {
        Redis { spec, env: Vec::new() }
    }

    /// The same Redis, started with `env` added to its environment.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    /// True when `node` runs a server: every node with Sentinel, else only the first.
    fn serves_on(&self, cluster: &Cluster, node: &Node) -> bool {
        self.spec.sentinel || cluster.nodes().first().is_some_and(|n| n.name == node.name)
    }

    /// redis.conf for a server at `ip`, a replica of `primary` when that is another address.
    pub fn server_conf(&self, ip: IpAddr, primary: Option<IpAddr>) -> String {
        let mut c = format!(
            "# written by brawl\nbind {ip}\nport {PORT}\nprotected-mode no\ndaemonize no\nlogfile \"\"\ndir {DATA_DIR}\n"
        );
        if let Some(p) = &self.spec.password {
            c += &format!("requirepass \"{p}\"\nmasterauth \"{p}\"\n");
        }
        if self.spec.sentinel {
            c += &format!("replica-announce-ip {ip}\n");
        }
        for (k, v) in &self.spec.options {
            let v = if v.is_empty() { "\"\"" } else { v.as_str() };
            c += &format!("{k} {v}\n");
        }
        if let Some(p) = primary.filter(|p| *p != ip) {
            c += &format!("replicaof {p} {PORT}\n");
        }
        c
    }

    /// sentinel.conf for a Sentinel at `ip` watching `primary` with `nodes` Sentinels in all.
    pub fn sentinel_conf(&self, ip: IpAddr, primary: IpAddr, nodes: usize) -> String {
        let quorum = nodes / 2 + 1;
        let down = self.spec.down_after.unwrap_or(Duration::from_secs(1)).as_millis();
        let failover = self.spec.failover_timeout.unwrap_or(Duration::from_secs(3)).as_millis();
        let mut c = format!(
            "# written by brawl; Sentinel rewrites it\nbind {ip}\nport {SENTINEL_PORT}\nprotected-mode no\n\
             daemonize no\nlogfile \"\"\ndir {DATA_DIR}\nsentinel announce-ip {ip}\n\
             sentinel monitor {MASTER_NAME} {primary} {PORT} {quorum}\n\
             sentinel down-after-milliseconds {MASTER_NAME} {down}\n\
             sentinel failover-timeout {MASTER_NAME} {failover}\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n"
        );
        if let Some(p) = &self.spec.password {
            c += &format!("sentinel auth-pass {MASTER_NAME} \"{p}\"\n");
        }
        c
    }

    /// The address most Sentinels name as the primary now (every Sentinel is asked: an
    /// isolated one still names the old primary), or `None` when none answers.
    async fn sentinel_primary(&self, cluster: &Cluster) -> Option<IpAddr> {
        let asks = cluster
            .nodes()
            .iter()
            .filter_map(|n| node_ip(n).ok())
            .map(|ip| ask_sentinel(ip, Duration::from_millis(700)));
        let answers: Vec<IpAddr> =
            futures::future::join_all(asks).await.into_iter().filter_map(|r| r.ok()?.0.parse().ok()).collect();
        let mut best: Option<(IpAddr, usize)> = None;
        for a in &answers {
            let n = answers.iter().filter(|b| *b == a).count();
            if best.is_none_or(|(_, m)| n > m) {
                best = Some((*a, n));
            }
        }
        best.map(|(a, _)| a)
    }

    /// Writes the server's configuration (for the current primary) and starts it.
    async fn start_server(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        let ip = node_ip(node)?;
        let first = cluster.nodes().first().map(node_ip).transpose()?;
        let primary = if self.spec.sentinel { self.sentinel_primary(cluster).await.or(first) } else { None };
        let r = &node.remote;
        r.exec(&RemoteCommand::new(format!("mkdir -p {DATA_DIR} && chmod 700 {DATA_DIR}")).sudo().idempotent()).await?;
        r.upload(self.server_conf(ip, primary).as_bytes(), &format!("{DATA_DIR}/redis.conf"), 0o600).await?;
        let exec = format!("redis-server {DATA_DIR}/redis.conf");
        debug!(node = %node.name, replica_of = ?primary.filter(|p| *p != ip), "starting redis-server");
        let cmd = super::daemon_command(&exec, DATA_DIR, PID_FILE, LOG_FILE, &self.env);
        r.exec(&RemoteCommand::new(cmd).sudo()).await?;
        Ok(())
    }

    /// Starts Sentinel, writing its configuration only the first time (Sentinel keeps its state
    /// there).
    async fn start_sentinel(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        if running(node, SENTINEL_PID).await? {
            return Ok(());
        }
        let ip = node_ip(node)?;
        let first = match cluster.nodes().first() {
            Some(n) => node_ip(n)?,
            None => return Ok(()),
        };
        let path = format!("{DATA_DIR}/sentinel.conf");
        let have = node.remote.exec(&RemoteCommand::new(format!("test -s {path}")).sudo().unchecked()).await?;
        if !have.success() {
            node.remote.upload(self.sentinel_conf(ip, first, cluster.len()).as_bytes(), &path, 0o600).await?;
        }
        let cmd =
            super::daemon_command(&format!("redis-sentinel {path}"), DATA_DIR, SENTINEL_PID, SENTINEL_LOG, &self.env);
        node.remote.exec(&RemoteCommand::new(cmd).sudo()).await?;
        Ok(())
    }

    /// Waits until `node`'s server answers (and, with Sentinel, a replica's link to the primary
    /// is up and its Sentinel knows the primary, every replica and every other Sentinel).
    async fn await_node(&self, cluster: &Cluster, node: &Node, limit: Duration) -> Result<(), DbError> {
        let ip = node_ip(node)?;
        let started = Instant::now();
        let deadline = started + limit;
        let mut last = String::from("no answer yet");
        let n = cluster.len();
        while Instant::now() < deadline {
            if !running(node, PID_FILE).await? {
                last = "redis-server exited".into();
                break;
            }
            match info(ip, PORT, self.spec.password.as_deref(), "replication", Duration::from_secs(1)).await {
                Ok(text) => {
                    let role = field(&text, "role").unwrap_or_default();
                    let ready = if !self.spec.sentinel {
                        role == "master"
                    } else if role == "slave" {
                        field(&text, "master_link_status").as_deref() == Some("up")
                    } else {
                        role == "master"
                    };
                    if ready && !self.spec.sentinel {
                        return Ok(());
                    }
                    if ready {
                        match sentinel_master(ip).await {
                            Ok(m) if m.0 >= n - 1 && m.1 >= n - 1 => return Ok(()),
                            Ok(m) => last = format!("sentinel knows {} replicas and {} other sentinels", m.0, m.1),
                            Err(e) => last = format!("sentinel: {e}"),
                        }
                    } else {
                        last = format!("role {role}, link {}", field(&text, "master_link_status").unwrap_or_default());
                    }
                }
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let tail = node
            .remote
            .exec(&RemoteCommand::new(format!("tail -n 8 {LOG_FILE}")).sudo().unchecked())
            .await
            .map(|o| o.stdout)
            .unwrap_or_default();
        Err(DbError::NotHealthy {
            db: "redis",
            node: node.name.clone(),
            after: started.elapsed(),
            reason: format!("{last}; log: {}", tail.trim()),
        })
    }
}

/// True when `pid_file` names a live process on `node`.
async fn running(node: &Node, pid_file: &str) -> Result<bool, DbError> {
    let probe = format!("test -f {pid_file} && kill -0 \"$(cat {pid_file})\" 2>/dev/null");
    Ok(node.remote.exec(&RemoteCommand::new(probe).sudo().unchecked()).await?.success())
}

/// SIGKILLs the process of `pid_file` and waits until it is gone (so a restart never races the
/// dying one for its port).
async fn kill_and_wait(node: &Node, pid_file: &str) -> Result<(), DbError> {
    signal_pid_file(node, pid_file, "CONT").await?;
    signal_pid_file(node, pid_file, "9").await?;
    let wait = format!("for i in $(seq 50); do test -f {pid_file} && kill -0 \"$(cat {pid_file})\" 2>/dev/null || exit 0; sleep 0.1; done; exit 1");
    node.remote.exec(&RemoteCommand::new(wait).sudo().idempotent()).await?;
    Ok(())
}

/// A connection to `ip:port`, authenticated with `password`, within `limit`.
pub async fn connect(
    ip: IpAddr,
    port: u16,
    password: Option<&str>,
    limit: Duration,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    use redis::IntoConnectionInfo;
    let mut settings = redis::RedisConnectionInfo::default();
    if let Some(p) = password {
        settings = settings.set_password(p);
    }
    let info = redis::ConnectionAddr::Tcp(ip.to_string(), port).into_connection_info()?.set_redis_settings(settings);
    let client = redis::Client::open(info)?;
    let config =
        redis::AsyncConnectionConfig::new().set_connection_timeout(Some(limit)).set_response_timeout(Some(limit));
    client.get_multiplexed_async_connection_with_config(&config).await
}

/// `INFO section` of the server at `ip:port`, or why not.
async fn info(ip: IpAddr, port: u16, password: Option<&str>, section: &str, limit: Duration) -> Result<String, String> {
    let work = async {
        let mut c = connect(ip, port, password, limit).await?;
        redis::cmd("INFO").arg(section).query_async::<String>(&mut c).await
    };
    match tokio::time::timeout(limit * 2, work).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timeout".into()),
    }
}

/// One `name:value` line of INFO output.
pub fn field(info: &str, name: &str) -> Option<String> {
    info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(|v| v.trim().to_string())
}

/// `SENTINEL get-master-addr-by-name` of the Sentinel at `ip`: the primary's host and port.
pub async fn ask_sentinel(ip: IpAddr, limit: Duration) -> Result<(String, u16), String> {
    let work = async {
        let mut c = connect(ip, SENTINEL_PORT, None, limit).await?;
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER_NAME)
            .query_async::<Option<(String, u16)>>(&mut c)
            .await
    };
    match tokio::time::timeout(limit * 2, work).await {
        Ok(Ok(Some(addr))) => Ok(addr),
        Ok(Ok(None)) => Err(format!("sentinel at {ip} does not know {MASTER_NAME}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("sentinel at {ip}: timeout")),
    }
}

/// What the Sentinel at `ip` knows of the primary: (replicas, other Sentinels).
async fn sentinel_master(ip: IpAddr) -> Result<(usize, usize), String> {
    let limit = Duration::from_secs(1);
    let work = async {
        let mut c = connect(ip, SENTINEL_PORT, None, limit).await?;
        redis::cmd("SENTINEL").arg("master").arg(MASTER_NAME).query_async::<Vec<String>>(&mut c).await
    };
    let flat = match tokio::time::timeout(limit * 2, work).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("timeout".into()),
    };
    let get = |k: &str| {
        flat.chunks(2).find(|p| p[0] == k).and_then(|p| p.get(1)).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0)
    };
    Ok((get("num-slaves"), get("num-other-sentinels")))
}

#[async_trait]
impl Db for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn setup(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        if !self.serves_on(cluster, node) {
            return Ok(());
        }
        let have = node.remote.exec(&RemoteCommand::new("command -v redis-server").unchecked()).await?;
        if !have.success()
            || (self.spec.sentinel
                && !node.remote.exec(&RemoteCommand::new("command -v redis-sentinel").unchecked()).await?.success())
        {
            info!(node = %node.name, "installing redis-server and redis-sentinel from Debian's packages");
            let install = "DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends redis-server redis-sentinel";
            node.remote
                .exec(&RemoteCommand::new(install).sudo().timeout(Duration::from_secs(600)).idempotent())
                .await?;
        }
        self.start_server(cluster, node).await?;
        if self.spec.sentinel {
            self.start_sentinel(cluster, node).await?;
        }
        Ok(())
    }

    async fn teardown(&self, node: &Node) -> Result<(), DbError> {
        kill_and_wait(node, SENTINEL_PID).await?;
        kill_and_wait(node, PID_FILE).await?;
        let cmd = format!("rm -rf {DATA_DIR} {LOG_FILE} {PID_FILE} {SENTINEL_LOG} {SENTINEL_PID}");
        node.remote.exec(&RemoteCommand::new(cmd).sudo().idempotent()).await?;
        Ok(())
    }

    async fn await_ready(&self, cluster: &Cluster) -> Result<(), DbError> {
        let limit = self.spec.await_timeout.unwrap_or(Duration::from_secs(30));
        let started = Instant::now();
        let results = cluster
            .on_nodes(|node| async move {
                if self.serves_on(cluster, node) {
                    self.await_node(cluster, node, limit).await
                } else {
                    Ok(())
                }
            })
            .await;
        for (_, r) in results {
            r?;
        }
        info!(
            nodes = cluster.len(),
            sentinel = self.spec.sentinel,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "redis is ready"
        );
        Ok(())
    }

    fn log_files(&self) -> Vec<(String, String)> {
        let mut files = vec![(LOG_FILE.into(), "redis.log".into())];
        if self.spec.sentinel {
            files.push((SENTINEL_LOG.into(), "redis-sentinel.log".into()));
        }
        files
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
impl Process for Redis {
    async fn start(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        if !self.serves_on(cluster, node) || running(node, PID_FILE).await? {
            return Ok(());
        }
        self.start_server(cluster, node).await
    }

    /// Kills the server only: Sentinel, like a monitoring process beside the database, stays.
    async fn kill(&self, node: &Node) -> Result<(), DbError> {
        kill_and_wait(node, PID_FILE).await
    }
}

#[async_trait]
impl Pause for Redis {
    async fn pause(&self, node: &Node) -> Result<(), DbError> {
        signal_pid_file(node, PID_FILE, "STOP").await
    }

    async fn resume(&self, node: &Node) -> Result<(), DbError> {
        signal_pid_file(node, PID_FILE, "CONT").await
    }
}

#[async_trait]
impl Primary for Redis {
    /// With Sentinel, the node Sentinel names; else the nodes whose server says `role:master`.
    async fn primaries(&self, cluster: &Cluster) -> Vec<String> {
        if self.spec.sentinel {
            let Some(ip) = self.sentinel_primary(cluster).await else { return Vec::new() };
            return cluster.nodes().iter().filter(|n| node_ip(n).ok() == Some(ip)).map(|n| n.name.clone()).collect();
        }
        let mut out = Vec::new();
        for node in cluster.nodes() {
            let Ok(ip) = node_ip(node) else { continue };
            if !self.serves_on(cluster, node) {
                continue;
            }
            let r = info(ip, PORT, self.spec.password.as_deref(), "replication", Duration::from_millis(700)).await;
            if r.ok().and_then(|t| field(&t, "role")).as_deref() == Some("master") {
                out.push(node.name.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{FakeRemote, Remote};
    use std::sync::Arc;

    fn spec() -> RedisSpec {
        let mut options = BTreeMap::new();
        options.insert("appendonly".to_string(), "no".to_string());
        options.insert("save".to_string(), String::new());
        RedisSpec { sentinel: true, options, password: Some("s3cret".into()), ..Default::default() }
    }

    #[test]
    fn server_conf_binds_the_node_and_follows_the_primary() {
        let r = Redis::new(spec());
        let ip: IpAddr = "10.0.0.2".parse().expect("ip");
        let conf = r.server_conf(ip, Some("10.0.0.1".parse().expect("ip")));
        for line in [
            "bind 10.0.0.2",
            "port 6379",
            "protected-mode no",
            "dir /var/lib/brawl/node/redis",
            "appendonly no",
            "save \"\"",
            "requirepass \"s3cret\"",
            "masterauth \"s3cret\"",
            "replicaof 10.0.0.1 6379",
        ] {
            assert!(conf.lines().any(|l| l == line), "{line} missing from\n{conf}");
        }
        assert!(!r.server_conf(ip, Some(ip)).contains("replicaof"), "a primary is no replica of itself");
        assert!(!r.server_conf(ip, None).contains("replicaof"));
    }

    #[test]
    fn sentinel_conf_has_a_majority_quorum_and_short_timeouts() {
        let r = Redis::new(spec());
        let conf = r.sentinel_conf("10.0.0.3".parse().expect("ip"), "10.0.0.1".parse().expect("ip"), 5);
        assert!(conf.contains("sentinel monitor brawl 10.0.0.1 6379 3\n"), "{conf}");
        assert!(conf.contains("sentinel down-after-milliseconds brawl 1000\n"), "{conf}");
        assert!(conf.contains("sentinel failover-timeout brawl 3000\n"), "{conf}");
        assert!(conf.contains("sentinel auth-pass brawl \"s3cret\"\n"), "{conf}");
        assert!(conf.contains("bind 10.0.0.3\n"), "{conf}");
    }

    #[test]
    fn the_password_is_not_in_debug_output_and_options_are_checked() {
        let s = spec();
        assert!(!format!("{s:?}").contains("s3cret"));
        assert!(s.validate().is_ok());
        let mut bad = spec();
        bad.options.insert("save 1\nslaveof".into(), "x".into());
        assert!(bad.validate().expect_err("bad name").contains("db.redis.options"));
        let mut bad = spec();
        bad.options.insert("save".into(), "1\nreplicaof x".into());
        assert!(bad.validate().is_err());
    }

    #[test]
    fn info_fields_are_read() {
        let text = "# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n";
        assert_eq!(field(text, "role").as_deref(), Some("slave"));
        assert_eq!(field(text, "master_link_status").as_deref(), Some("up"));
        assert_eq!(field(text, "master_host"), None);
    }

    #[tokio::test]
    async fn teardown_kills_by_pid_file_and_removes_the_data_and_uploads_carry_the_password_only() {
        // One server (no Sentinel to ask, so the test talks to no network).
        let fake = Arc::new(FakeRemote::new("127.0.0.1"));
        let c = Cluster::new(vec![fake.clone() as Arc<dyn Remote>]);
        let r = Redis::new(RedisSpec { sentinel: false, ..spec() });
        r.teardown(&c.nodes()[0]).await.expect("teardown");
        let cmds = fake.commands().join("\n");
        assert!(cmds.contains(&format!("kill -9 \"$(cat {PID_FILE})\"")), "{cmds}");
        assert!(cmds.contains(&format!("kill -9 \"$(cat {SENTINEL_PID})\"")), "{cmds}");
        assert!(cmds.contains(&format!("rm -rf {DATA_DIR}")), "{cmds}");
        r.start_server(&c, &c.nodes()[0]).await.expect("start");
        let cmds = fake.commands().join("\n");
        assert!(!cmds.contains("s3cret"), "the password is in a command line: {cmds}");
        assert!(cmds.contains("redis-server /var/lib/brawl/node/redis/redis.conf"), "{cmds}");
        assert!(!cmds.contains("pkill") && !cmds.contains("killall"), "{cmds}");
    }
}
