//! PostgreSQL 15 from Debian's `postgresql-15` as the system under test: one primary on the
//! first node, or a primary with streaming replicas on the others (`replicas: async | sync`).
//!
//! On each node that runs it: `initdb` (the primary) or `pg_basebackup` from the primary (a
//! replica, retried until the primary answers) into `/var/lib/brawl/node/postgres` as the user
//! `postgres` (`setpriv`), then `postgres` started as a daemon (`db::daemon_command`) with every
//! setting as a `-c` option: it listens on the node's address only, without a Unix socket, and
//! its `pg_hba.conf` (in the data dir) trusts the superuser `postgres` from `samenet` only, the
//! subnet of the node's interfaces (the cluster's), so there is no password to leak. Replicas
//! name themselves by node (`application_name`) in `primary_conninfo`; `replicas: sync` makes
//! the primary wait for one of them (`synchronous_standby_names = 'ANY 1 ("n2", "n3")'`). A test's
//! `options:` are more `-c key=value` options. Kill and pause signal the whole process group
//! (the postmaster named by the pid file and its children).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use tracing::{debug, info};

use super::{node_ip, Db, DbError, Pause, Primary, Process};
use crate::client::sql::Isolation;
use crate::cluster::{Cluster, Node};
use crate::config::raw::duration;
use crate::control::RemoteCommand;

/// Where the data lives on a node (the local cluster makes /var/lib/brawl private per node).
pub const DATA_DIR: &str = "/var/lib/brawl/node/postgres";
/// The server's log on a node.
pub const LOG_FILE: &str = "/var/log/brawl-postgres.log";
/// The pid file (the postmaster's pid, which is also its process group).
pub const PID_FILE: &str = "/run/brawl-postgres.pid";
/// Debian's PostgreSQL 15 binaries.
pub const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The port.
pub const PORT: u16 = 5432;

/// How replicas follow the primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Replication {
    /// Asynchronous streaming replication: a commit does not wait for any replica.
    Async,
    /// Synchronous: a commit waits until one replica has flushed it.
    Sync,
}

/// The test file's `db: { postgres: { ... } }` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PostgresSpec {
    /// Every transaction's isolation level (default `read-committed`, PostgreSQL's own).
    pub isolation: Option<Isolation>,
    /// Streaming replicas on every node but the first; none when absent.
    pub replicas: Option<Replication>,
    /// Workers bound to a replica run their read-only ops there (default false: everything
    /// goes to the primary).
    pub replica_reads: Option<bool>,
    /// More server settings, each passed as `-c key=value`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// How long to wait for the servers to answer (default 60s).
    #[serde(default, deserialize_with = "duration::option")]
    pub await_timeout: Option<Duration>,
}

/// PostgreSQL, configured from a `PostgresSpec` for one test.
pub struct Postgres {
    spec: PostgresSpec,
    /// Extra environment the server starts with (libfaketime's, under a faketime clock fault).
    env: Vec<(String, String)>,
}

impl Postgres {
    /// PostgreSQL for one test.
    pub fn new(spec: PostgresSpec) -> Self {
        Postgres { spec, env: Vec::new() }
    }

    /// The same, started with `env` added to the server's environment.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    /// True when `node` runs a server: the first node always, the others when there are replicas.
    fn runs_on(&self, cluster: &Cluster, node: &Node) -> bool {
        self.spec.replicas.is_some() || cluster.nodes().first().is_some_and(|p| p.name == node.name)
    }

    fn is_primary(cluster: &Cluster, node: &Node) -> bool {
        cluster.nodes().first().is_some_and(|p| p.name == node.name)
    }

    /// `setpriv` to the postgres user, then `cmd`.
    fn as_postgres(cmd: &str) -> String {
        format!("setpriv --reuid=postgres --regid=postgres --init-groups -- {cmd}")
    }

    /// The settings, as `-c` options, of the server on `node`.
    pub fn settings(&self, cluster: &Cluster, node: &Node) -> Result<Vec<(String, String)>, DbError> {
        let ip = node_ip(node)?;
        let mut s: Vec<(String, String)> = vec![
            ("listen_addresses".into(), ip.to_string()),
            ("port".into(), PORT.to_string()),
            ("unix_socket_directories".into(), String::new()),
            ("hba_file".into(), format!("{DATA_DIR}/brawl_hba.conf")),
            ("max_connections".into(), "200".into()),
            ("wal_level".into(), "replica".into()),
            ("max_wal_senders".into(), "10".into()),
            ("hot_standby".into(), "on".into()),
            // Each replica's pg_basebackup forces a checkpoint, which may recycle the WAL an
            // earlier replica has yet to stream ("requested WAL segment ... has already been
            // removed": seen with 4 replicas); a restarted replica also needs the WAL written
            // while it was down. Keep 1 GB of it (a test writes far less).
            ("wal_keep_size".into(), "1GB".into()),
            // A backend whose client went away notices within a second and rolls back.
            ("client_connection_check_interval".into(), "1000".into()),
            ("logging_collector".into(), "off".into()),
            ("log_line_prefix".into(), "%m [%p] ".into()),
        ];
        if Self::is_primary(cluster, node) {
            if self.spec.replicas == Some(Replication::Sync) {
                // Quoted: a node name may hold characters (`-`, `.`) the list syntax does not allow bare.
                let names: Vec<String> = cluster.nodes().iter().skip(1).map(|n| format!("\"{}\"", n.name)).collect();
                s.push(("synchronous_standby_names".into(), format!("ANY 1 ({})", names.join(", "))));
            }
        } else if let Some(primary) = cluster.nodes().first() {
            let pip = node_ip(primary)?;
            s.push((
                "primary_conninfo".into(),
                format!("host={pip} port={PORT} user=postgres application_name={}", node.name),
            ));
        }
        s.extend(self.spec.options.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(s)
    }

    /// The command line that starts the server on `node` as a daemon.
    pub fn start_command(&self, cluster: &Cluster, node: &Node) -> Result<String, DbError> {
        let mut args = vec![format!("{BIN}/postgres"), "-D".into(), DATA_DIR.into()];
        for (k, v) in self.settings(cluster, node)? {
            args.push("-c".into());
            args.push(format!("{k}={v}"));
        }
        let exec = Self::as_postgres(&crate::control::join(&args));
        Ok(super::daemon_command(&exec, DATA_DIR, PID_FILE, LOG_FILE, &self.env))
    }

    /// The pg_hba.conf: trust the cluster's subnet, nothing else.
    pub fn hba() -> &'static str {
        "# brawl: trust only the subnet of this node's interfaces (the test cluster's)\n\
         host all postgres samenet trust\n\
         host replication postgres samenet trust\n"
    }

    /// Creates the data directory on `node`: initdb on the primary, a base backup elsewhere.
    async fn init(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        let r = &node.remote;
        let have = r.exec(&RemoteCommand::new(format!("test -f {DATA_DIR}/PG_VERSION")).sudo().unchecked()).await?;
        if have.success() {
            return Ok(());
        }
        let prepare = format!(
            "test -x {BIN}/postgres && id postgres >/dev/null && mkdir -p {DATA_DIR} && chown postgres:postgres {DATA_DIR} && chmod 700 {DATA_DIR}"
        );
        r.exec(&RemoteCommand::new(prepare).sudo()).await?;
        if Self::is_primary(cluster, node) {
            let initdb = Self::as_postgres(&format!(
                "{BIN}/initdb -D {DATA_DIR} -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync"
            ));
            r.exec(
                &RemoteCommand::new(format!("{initdb} >> {LOG_FILE} 2>&1 || {{ tail -n 20 {LOG_FILE}; exit 1; }}"))
                    .sudo()
                    .timeout(Duration::from_secs(120)),
            )
            .await?;
        } else {
            let primary = cluster.nodes().first().map(node_ip).transpose()?;
            let Some(pip) = primary else { return Ok(()) };
            // The primary is set up at the same time: retry until it answers (60s).
            let backup = Self::as_postgres(&format!(
                "{BIN}/pg_basebackup -h {pip} -p {PORT} -U postgres -D {DATA_DIR} -X stream -R --no-password"
            ));
            let cmd = format!(
                "for i in $(seq 120); do rm -rf {DATA_DIR}/* ; {backup} >> {LOG_FILE} 2>&1 && exit 0; sleep 0.5; done; tail -n 20 {LOG_FILE}; exit 1"
            );
            r.exec(&RemoteCommand::new(cmd).sudo().timeout(Duration::from_secs(120))).await?;
        }
        let hba = format!(
            "printf '%s' {} > {DATA_DIR}/brawl_hba.conf && chown postgres:postgres {DATA_DIR}/brawl_hba.conf",
            crate::control::quote(Self::hba())
        );
        r.exec(&RemoteCommand::new(hba).sudo()).await?;
        Ok(())
    }

    /// True when the pid file names a live process.
    async fn running(&self, node: &Node) -> Result<bool, DbError> {
        let probe = format!("test -f {PID_FILE} && kill -0 \"$(cat {PID_FILE})\" 2>/dev/null");
        Ok(node.remote.exec(&RemoteCommand::new(probe).sudo().unchecked()).await?.success())
    }

    /// Sends `signal` to the postmaster and its children (each backend is its own process
    /// group, so a group signal would miss them).
    async fn signal(&self, node: &Node, signal: &str) -> Result<(), DbError> {
        let cmd = format!(
            "test -f {PID_FILE} || exit 0; p=$(cat {PID_FILE}); kill -{signal} $p $(pgrep -P $p) 2>/dev/null || true"
        );
        node.remote.exec(&RemoteCommand::new(cmd).sudo().idempotent()).await?;
        Ok(())
    }

    async fn log_tail(node: &Node) -> String {
        node.remote
            .exec(&RemoteCommand::new(format!("tail -n 8 {LOG_FILE}")).sudo().unchecked())
            .await
            .map(|o| o.stdout.trim().to_string())
            .unwrap_or_default()
    }

    /// Waits until the server on `node` answers a query (and the primary streams to every
    /// replica); fails at once, with the log's tail, when the server died.
    async fn await_node(&self, cluster: &Cluster, node: &Node, limit: Duration) -> Result<(), DbError> {
        let ip = node_ip(node)?;
        let deadline = Instant::now() + limit;
        let replicas =
            if Self::is_primary(cluster, node) && self.spec.replicas.is_some() { cluster.len() - 1 } else { 0 };
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            if !self.running(node).await? {
                // The process is gone (a bad setting, a port in use): say so now, not in a minute.
                return Err(DbError::NotHealthy {
                    db: "postgres",
                    node: node.name.clone(),
                    after: limit.saturating_sub(deadline.saturating_duration_since(Instant::now())),
                    reason: format!("the server is not running; log: {}", Self::log_tail(node).await),
                });
            }
            match crate::client::sql::postgres::connect(ip, Duration::from_secs(2)).await {
                Ok(client) => {
                    let q = "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'";
                    match tokio::time::timeout(Duration::from_secs(2), client.simple_query(q)).await {
                        Ok(Ok(msgs)) => {
                            let n = msgs
                                .iter()
                                .find_map(|m| match m {
                                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                                        r.get(0).and_then(|v| v.parse::<usize>().ok())
                                    }
                                    _ => None,
                                })
                                .unwrap_or(0);
                            if n >= replicas {
                                return Ok(());
                            }
                            last = format!("{n} of {replicas} replicas streaming");
                        }
                        Ok(Err(e)) => last = e.to_string(),
                        Err(_) => last = "query timeout".into(),
                    }
                }
                Err(e) => last = e.message,
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(DbError::NotHealthy {
            db: "postgres",
            node: node.name.clone(),
            after: limit,
            reason: format!("{last}; log: {}", Self::log_tail(node).await),
        })
    }
}

#[async_trait]
impl Db for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn setup(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        if !self.runs_on(cluster, node) {
            return Ok(());
        }
        self.init(cluster, node).await?;
        Process::start(self, cluster, node).await
    }

    async fn teardown(&self, node: &Node) -> Result<(), DbError> {
        Process::kill(self, node).await?;
        let cmd = format!("rm -rf {DATA_DIR} {LOG_FILE} {PID_FILE}");
        node.remote.exec(&RemoteCommand::new(cmd).sudo().idempotent()).await?;
        Ok(())
    }

    async fn await_ready(&self, cluster: &Cluster) -> Result<(), DbError> {
        let limit = self.spec.await_timeout.unwrap_or(Duration::from_secs(60));
        let started = Instant::now();
        let results = cluster
            .on_nodes(|node| async move {
                if self.runs_on(cluster, node) {
                    self.await_node(cluster, node, limit).await
                } else {
                    Ok(())
                }
            })
            .await;
        for (_, r) in results {
            r?;
        }
        info!(elapsed_ms = started.elapsed().as_millis() as u64, "postgres is ready");
        Ok(())
    }

    fn log_files(&self) -> Vec<(String, String)> {
        vec![(LOG_FILE.into(), "postgres.log".into())]
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
impl Process for Postgres {
    async fn start(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        if !self.runs_on(cluster, node) || self.running(node).await? {
            return Ok(());
        }
        let cmd = self.start_command(cluster, node)?;
        debug!(node = %node.name, "starting postgres");
        node.remote.exec(&RemoteCommand::new(cmd).sudo()).await?;
        Ok(())
    }

    async fn kill(&self, node: &Node) -> Result<(), DbError> {
        // Kill the postmaster and its children at once, then wait until all are gone: a new
        // postmaster refuses to start while old backends still hold the shared memory.
        let cmd = format!(
            "test -f {PID_FILE} || exit 0; p=$(cat {PID_FILE}); all=\"$p $(pgrep -P $p)\"; kill -9 $all 2>/dev/null; \
             for i in $(seq 100); do alive=; for q in $all; do kill -0 $q 2>/dev/null && alive=1; done; \
             test -z \"$alive\" && exit 0; sleep 0.1; done; echo \"postgres processes $all still alive\"; exit 1"
        );
        node.remote.exec(&RemoteCommand::new(cmd).sudo().idempotent()).await?;
        Ok(())
    }
}

#[async_trait]
impl Pause for Postgres {
    async fn pause(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "STOP").await
    }

    async fn resume(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "CONT").await
    }
}

#[async_trait]
impl Primary for Postgres {
    /// The primary is the first node, always (brawl does not fail PostgreSQL over).
    async fn primaries(&self, cluster: &Cluster) -> Vec<String> {
        cluster.nodes().first().map(|n| vec![n.name.clone()]).unwrap_or_default()
    }
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

    fn spec(yaml: &str) -> PostgresSpec {
        serde_saphyr::from_str(yaml).expect("spec")
    }

    #[test]
    fn the_primary_listens_on_its_address_and_waits_for_a_sync_replica() {
        let (c, _) = cluster();
        let pg = Postgres::new(spec("{ replicas: sync, options: { shared_buffers: 64MB } }"));
        let cmd = pg.start_command(&c, &c.nodes()[0]).expect("builds");
        assert!(cmd.contains("setpriv --reuid=postgres"), "{cmd}");
        assert!(cmd.contains("-c listen_addresses=10.0.0.1"), "{cmd}");
        // FakeRemote nodes are named by their hosts.
        assert!(cmd.contains(r#"synchronous_standby_names=ANY 1 ("10.0.0.2", "10.0.0.3")"#), "{cmd}");
        assert!(cmd.contains("-c shared_buffers=64MB"), "{cmd}");
        assert!(cmd.contains(PID_FILE) && cmd.contains(LOG_FILE), "{cmd}");
        assert!(!cmd.contains("primary_conninfo"), "{cmd}");
    }

    #[test]
    fn replicas_follow_the_primary_by_name() {
        let (c, _) = cluster();
        let pg = Postgres::new(spec("{ replicas: async }"));
        let s = pg.settings(&c, &c.nodes()[2]).expect("settings");
        let get = |k: &str| s.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
        assert_eq!(
            get("primary_conninfo").as_deref(),
            Some("host=10.0.0.1 port=5432 user=postgres application_name=10.0.0.3")
        );
        assert_eq!(get("listen_addresses").as_deref(), Some("10.0.0.3"));
        assert_eq!(get("synchronous_standby_names"), None);
        assert_eq!(get("wal_keep_size").as_deref(), Some("1GB"), "replicas can catch up after a basebackup or a kill");
        assert!(Postgres::hba().lines().filter(|l| !l.starts_with('#')).all(|l| l.contains("samenet")));
    }

    #[tokio::test]
    async fn one_primary_alone_runs_only_on_the_first_node() {
        let (c, fakes) = cluster();
        let pg = Postgres::new(PostgresSpec::default());
        pg.setup(&c, &c.nodes()[1]).await.expect("nothing to do on n2");
        assert!(fakes[1].commands().is_empty(), "{:?}", fakes[1].commands());
        fakes[0].answer("PG_VERSION", 1, "");
        pg.setup(&c, &c.nodes()[0]).await.expect("setup on n1");
        let cmds = fakes[0].commands().join("\n");
        assert!(cmds.contains("initdb -D /var/lib/brawl/node/postgres -U postgres --auth=trust"), "{cmds}");
        assert!(cmds.contains("brawl_hba.conf"), "{cmds}");
        pg.teardown(&c.nodes()[0]).await.expect("teardown");
        let cmds = fakes[0].commands().join("\n");
        assert!(cmds.contains("kill -9 $all") && cmds.contains("rm -rf /var/lib/brawl/node/postgres"), "{cmds}");
    }

    #[test]
    fn bad_fields_are_refused() {
        let e = serde_saphyr::from_str::<PostgresSpec>("{ isolation: snapshot }").expect_err("unknown level");
        assert!(e.to_string().contains("snapshot"), "{e}");
        assert!(serde_saphyr::from_str::<PostgresSpec>("{ replica: sync }").is_err());
    }
}
