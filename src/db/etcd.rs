//! etcd as the system under test: installed from Debian's `etcd-server` where missing (or from a
//! binary or tarball the test names), one cluster over the test's nodes, started as a daemon with
//! a pid file and a log file, awaited until healthy, torn down to empty data. A member that
//! exits while starting (a bad option, a port in use) fails setup at once, with the tail of its
//! log in the error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Deserializer};
use tracing::{debug, info};

use super::{node_ip, Db, DbError, Pause, Primary, Process};
use crate::cluster::{Cluster, Node};
use crate::config::raw::duration;
use crate::control::RemoteCommand;

/// Where brawl keeps etcd's data on a node (under the path the local cluster makes private).
pub const DATA_DIR: &str = "/var/lib/etcd/brawl";
/// etcd's log on a node.
pub const LOG_FILE: &str = "/var/log/brawl-etcd.log";
/// etcd's pid file on a node.
pub const PID_FILE: &str = "/run/brawl-etcd.pid";
/// Where an uploaded binary or tarball goes.
const OPT_DIR: &str = "/opt/brawl/etcd";
/// The client port.
pub const CLIENT_PORT: u16 = 2379;
/// The peer port.
pub const PEER_PORT: u16 = 2380;

/// The test file's `db: { etcd: { ... } }` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EtcdSpec {
    /// The version the nodes must run (checked with `etcd --version`); any when absent.
    pub version: Option<String>,
    /// An etcd binary on the control node, uploaded to every node.
    pub binary: Option<String>,
    /// A release tarball (`etcd-vX-linux-amd64.tar.gz`) on the control node, uploaded and unpacked.
    pub tarball: Option<String>,
    /// Raft election timeout (etcd's default is 1s; raise it on slow hosts).
    #[serde(default, deserialize_with = "duration::option")]
    pub election_timeout: Option<Duration>,
    /// Raft heartbeat interval (etcd's default is 100ms).
    #[serde(default, deserialize_with = "duration::option")]
    pub heartbeat_interval: Option<Duration>,
    /// How long to wait for the cluster to become healthy (default 60s).
    #[serde(default, deserialize_with = "duration::option")]
    pub await_timeout: Option<Duration>,
    /// More etcd flags, each passed as `--key=value` (`{ snapshot-count: 1000, quota-backend-bytes:
    /// 4294967296 }`); the flags brawl sets itself (name, data dir, URLs, initial cluster) cannot
    /// be given here.
    #[serde(default, deserialize_with = "scalar_map")]
    pub options: BTreeMap<String, String>,
}

/// The flags brawl sets on every member; `options` may not override them.
const OWN_FLAGS: &[&str] = &[
    "name",
    "data-dir",
    "listen-peer-urls",
    "initial-advertise-peer-urls",
    "listen-client-urls",
    "advertise-client-urls",
    "initial-cluster",
    "initial-cluster-state",
    "initial-cluster-token",
    "election-timeout",
    "heartbeat-interval",
];

/// How many lines of a member's log a startup failure quotes.
const LOG_TAIL_LINES: u32 = 10;

/// etcd, configured from an `EtcdSpec` for one test.
pub struct Etcd {
    spec: EtcdSpec,
    /// The test's name, used as the cluster token so two tests never join each other's members.
    token: String,
    http: reqwest::Client,
    /// Extra environment etcd starts with (libfaketime's, under a faketime clock nemesis).
    env: Vec<(String, String)>,
}

impl Etcd {
    /// etcd for the test `test_name`.
    pub fn new(spec: EtcdSpec, test_name: &str) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap_or_default();
        Etcd { spec, token: format!("brawl-{test_name}"), http, env: Vec::new() }
    }

    /// The same etcd, started with `env` added to its environment.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    /// The etcd binary on the nodes.
    fn binary(&self) -> String {
        if self.spec.binary.is_some() || self.spec.tarball.is_some() {
            format!("{OPT_DIR}/etcd")
        } else {
            "etcd".into()
        }
    }

    /// The client URL of `node`.
    pub fn client_url(node: &Node) -> Result<String, DbError> {
        Ok(format!("http://{}:{CLIENT_PORT}", node_ip(node)?))
    }

    /// Makes sure the binary is on the node, in the version asked for.
    async fn install(&self, node: &Node) -> Result<(), DbError> {
        let r = &node.remote;
        if let Some(path) = &self.spec.binary {
            let bytes = read_local(path)?;
            r.exec(&RemoteCommand::new(format!("mkdir -p {OPT_DIR}")).sudo()).await?;
            r.upload(&bytes, &format!("{OPT_DIR}/etcd"), 0o755).await?;
        } else if let Some(path) = &self.spec.tarball {
            let bytes = read_local(path)?;
            r.exec(&RemoteCommand::new(format!("mkdir -p {OPT_DIR}")).sudo()).await?;
            r.upload(&bytes, &format!("{OPT_DIR}/etcd.tar.gz"), 0o644).await?;
            let unpack = format!("cd {OPT_DIR} && tar -xzf etcd.tar.gz --strip-components=1 && test -x {OPT_DIR}/etcd && rm -f etcd.tar.gz");
            r.exec(&RemoteCommand::new(unpack).sudo().timeout(Duration::from_secs(120))).await?;
        } else {
            let have = r.exec(&RemoteCommand::new("command -v etcd").unchecked()).await?;
            if !have.success() {
                info!(node = %node.name, "installing etcd-server from Debian's packages");
                let install =
                    "DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 etcd-server";
                r.exec(&RemoteCommand::new(install).sudo().timeout(Duration::from_secs(600)).idempotent()).await?;
            }
        }
        if let Some(wanted) = &self.spec.version {
            let out = r.exec(&RemoteCommand::new(format!("{} --version", self.binary()))).await?;
            let found = parse_version(&out.stdout).unwrap_or_else(|| out.stdout.trim().to_string());
            if &found != wanted {
                return Err(DbError::Version { db: "etcd", node: node.name.clone(), found, wanted: wanted.clone() });
            }
        }
        Ok(())
    }

    /// The command line that starts etcd on `node` as a member of `cluster`.
    pub fn start_command(&self, cluster: &Cluster, node: &Node) -> Result<String, DbError> {
        let ip = node_ip(node)?;
        let initial: Vec<String> = cluster
            .nodes()
            .iter()
            .map(|n| Ok(format!("{}=http://{}:{PEER_PORT}", n.name, node_ip(n)?)))
            .collect::<Result<_, DbError>>()?;
        let mut args = vec![
            self.binary(),
            "--name".into(),
            node.name.clone(),
            "--data-dir".into(),
            DATA_DIR.into(),
            "--listen-peer-urls".into(),
            format!("http://{ip}:{PEER_PORT}"),
            "--initial-advertise-peer-urls".into(),
            format!("http://{ip}:{PEER_PORT}"),
            "--listen-client-urls".into(),
            format!("http://{ip}:{CLIENT_PORT}"),
            "--advertise-client-urls".into(),
            format!("http://{ip}:{CLIENT_PORT}"),
            "--initial-cluster".into(),
            initial.join(","),
            "--initial-cluster-state".into(),
            "new".into(),
            "--initial-cluster-token".into(),
            self.token.clone(),
        ];
        if let Some(t) = self.spec.election_timeout {
            args.extend(["--election-timeout".into(), t.as_millis().to_string()]);
        }
        if let Some(t) = self.spec.heartbeat_interval {
            args.extend(["--heartbeat-interval".into(), t.as_millis().to_string()]);
        }
        for (key, value) in &self.spec.options {
            let flag = key.trim_start_matches('-');
            if OWN_FLAGS.contains(&flag) {
                return Err(DbError::LocalFile {
                    path: format!("db.etcd.options.{key}"),
                    reason: format!("brawl sets --{flag} itself; remove it from the test's options"),
                });
            }
            args.push(format!("--{flag}={value}"));
        }
        let exec = crate::control::join(&args);
        Ok(super::daemon_command(&exec, DATA_DIR, PID_FILE, LOG_FILE, &self.env))
    }

    /// True when the pid file names a live process.
    async fn running(&self, node: &Node) -> Result<bool, DbError> {
        let probe = format!("test -f {PID_FILE} && kill -0 \"$(cat {PID_FILE})\" 2>/dev/null");
        Ok(node.remote.exec(&RemoteCommand::new(probe).sudo().unchecked()).await?.success())
    }

    async fn signal(&self, node: &Node, signal: &str) -> Result<(), DbError> {
        super::signal_pid_file(node, PID_FILE, signal).await
    }

    /// What the member's log on `node` says: its lines naming an error (etcd prints a bad
    /// flag's complaint before a page of usage), then its last lines. Empty when there is none.
    async fn log_tail(&self, node: &Node) -> String {
        let cmd = format!(
            "grep -iE 'error|fatal|panic|not defined|invalid|in use' {LOG_FILE} 2>/dev/null | tail -n 5 | cut -c1-400; \
             echo '--- last lines:'; tail -n {LOG_TAIL_LINES} {LOG_FILE} 2>/dev/null | cut -c1-400"
        );
        node.remote
            .exec(&RemoteCommand::new(cmd).sudo().unchecked())
            .await
            .map(|o| o.stdout.trim().to_string())
            .unwrap_or_default()
    }

    /// Waits for one node's `/health` to say true; fails at once when the member exits.
    async fn await_node(&self, node: &Node, limit: Duration) -> Result<(), DbError> {
        let url = format!("{}/health", Self::client_url(node)?);
        let started = Instant::now();
        let deadline = started + limit;
        let mut last = String::from("no answer yet");
        let mut probes = 0u32;
        while Instant::now() < deadline {
            // Every second, whether the member is still there: one that exited (a bad flag, a
            // port in use) will never be healthy, and its log says why.
            if probes % 5 == 4 && !self.running(node).await? {
                return Err(DbError::NotHealthy {
                    db: "etcd",
                    node: node.name.clone(),
                    after: started.elapsed(),
                    reason: format!("etcd exited while starting; {LOG_FILE} says:\n{}", self.log_tail(node).await),
                });
            }
            probes += 1;
            match self.http.get(&url).send().await {
                Ok(resp) => match resp.text().await {
                    Ok(body) if body.contains("\"health\":\"true\"") => return Ok(()),
                    Ok(body) => last = body.trim().to_string(),
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(DbError::NotHealthy {
            db: "etcd",
            node: node.name.clone(),
            after: limit,
            reason: format!("{last}; {LOG_FILE} says:\n{}", self.log_tail(node).await),
        })
    }
}

#[async_trait]
impl Db for Etcd {
    fn name(&self) -> &'static str {
        "etcd"
    }

    async fn setup(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        self.install(node).await?;
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
        for (_, r) in cluster.on_nodes(|node| self.await_node(node, limit)).await {
            r?;
        }
        info!(nodes = cluster.len(), elapsed_ms = started.elapsed().as_millis() as u64, "etcd is healthy");
        Ok(())
    }

    fn log_files(&self) -> Vec<(String, String)> {
        vec![(LOG_FILE.into(), "etcd.log".into())]
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
impl Process for Etcd {
    async fn start(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        if self.running(node).await? {
            return Ok(());
        }
        let cmd = self.start_command(cluster, node)?;
        debug!(node = %node.name, "starting etcd");
        node.remote.exec(&RemoteCommand::new(cmd).sudo()).await?;
        Ok(())
    }

    async fn kill(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "9").await?;
        // Wait for the process to be gone, so a restart never races the dying one for its ports.
        let wait = format!("for i in $(seq 50); do test -f {PID_FILE} && kill -0 \"$(cat {PID_FILE})\" 2>/dev/null || exit 0; sleep 0.1; done; exit 1");
        node.remote.exec(&RemoteCommand::new(wait).sudo().idempotent()).await?;
        Ok(())
    }
}

#[async_trait]
impl Pause for Etcd {
    async fn pause(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "STOP").await
    }

    async fn resume(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "CONT").await
    }
}

#[async_trait]
impl Primary for Etcd {
    async fn primaries(&self, cluster: &Cluster) -> Vec<String> {
        let mut leaders = Vec::new();
        for node in cluster.nodes() {
            let Ok(url) = Self::client_url(node) else { continue };
            let Ok(resp) = self.http.post(format!("{url}/v3/maintenance/status")).body("{}").send().await else {
                continue;
            };
            let Ok(v) = resp.json::<serde_json::Value>().await else { continue };
            let me = v.pointer("/header/member_id").and_then(|x| x.as_str());
            if me.is_some() && me == v.get("leader").and_then(|x| x.as_str()) {
                leaders.push(node.name.clone());
            }
        }
        leaders
    }
}

/// A map of flag names to scalars (strings, numbers, booleans), each as its text.
fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    /// One YAML scalar, as text.
    struct Scalar(String);
    impl<'de> Deserialize<'de> for Scalar {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Scalar;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string, number or boolean (the flag's value)")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
            }
            d.deserialize_any(V)
        }
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(raw.into_iter().map(|(k, v)| (k, v.0)).collect())
}

fn read_local(path: &str) -> Result<Vec<u8>, DbError> {
    std::fs::read(path).map_err(|e| DbError::LocalFile { path: path.into(), reason: e.to_string() })
}

/// The version in `etcd --version` output ("etcd Version: 3.4.23").
fn parse_version(out: &str) -> Option<String> {
    out.lines().find_map(|l| l.strip_prefix("etcd Version:")).map(|v| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{FakeRemote, Remote};
    use std::sync::Arc;

    fn cluster() -> (Cluster, Vec<Arc<FakeRemote>>) {
        let fakes: Vec<Arc<FakeRemote>> =
            ["10.0.0.1", "10.0.0.2"].iter().map(|h| Arc::new(FakeRemote::new(h))).collect();
        (Cluster::new(fakes.iter().map(|f| f.clone() as Arc<dyn Remote>).collect()), fakes)
    }

    #[test]
    fn start_command_names_every_member_and_the_timeouts() {
        let (c, _) = cluster();
        let spec = EtcdSpec {
            election_timeout: Some(Duration::from_secs(5)),
            heartbeat_interval: Some(Duration::from_millis(500)),
            ..Default::default()
        };
        let cmd = Etcd::new(spec, "t").start_command(&c, &c.nodes()[1]).expect("builds");
        assert!(cmd.contains("--initial-cluster 10.0.0.1=http://10.0.0.1:2380,10.0.0.2=http://10.0.0.2:2380"), "{cmd}");
        assert!(cmd.contains("--listen-client-urls http://10.0.0.2:2379"), "{cmd}");
        assert!(cmd.contains("--election-timeout 5000 --heartbeat-interval 500"), "{cmd}");
        assert!(cmd.contains("--initial-cluster-token brawl-t"), "{cmd}");
        assert!(cmd.contains(PID_FILE) && cmd.contains(LOG_FILE), "{cmd}");
    }

    #[tokio::test]
    async fn a_missing_etcd_is_installed_from_debian_and_the_version_is_checked() {
        let (c, fakes) = cluster();
        fakes[0].answer("command -v etcd", 1, "");
        fakes[0].answer("--version", 0, "etcd Version: 3.4.23\nGit SHA: Not provided\n");
        let etcd = Etcd::new(EtcdSpec { version: Some("3.5.0".into()), ..Default::default() }, "t");
        let err = etcd.install(&c.nodes()[0]).await.expect_err("version mismatch");
        assert!(err.to_string().contains("version 3.4.23, but the test asks for 3.5.0"), "{err}");
        assert!(fakes[0]
            .commands()
            .iter()
            .any(|c| c.starts_with("sudo ") && c.contains("apt-get install") && c.contains("etcd-server")));
    }

    #[test]
    fn options_become_flags_and_brawls_own_flags_are_refused() {
        let (c, _) = cluster();
        let spec: EtcdSpec = serde_saphyr::from_str(
            "options: { snapshot-count: 1000, enable-pprof: true, log-level: \"debug\", auto-compaction-retention: 1.5 }",
        )
        .expect("parses");
        let cmd = Etcd::new(spec, "t").start_command(&c, &c.nodes()[0]).expect("builds");
        assert!(
            cmd.contains("--auto-compaction-retention=1.5 --enable-pprof=true --log-level=debug --snapshot-count=1000"),
            "{cmd}"
        );
        let spec = EtcdSpec { options: [("data-dir".to_string(), "/".to_string())].into(), ..Default::default() };
        let err = Etcd::new(spec, "t").start_command(&c, &c.nodes()[0]).expect_err("refused");
        assert!(err.to_string().contains("brawl sets --data-dir itself"), "{err}");
        let bad = serde_saphyr::from_str::<EtcdSpec>("options: { a: [1] }").expect_err("a list is no flag value");
        assert!(bad.to_string().contains("a string, number or boolean"), "{bad}");
    }

    #[tokio::test]
    async fn a_member_that_exits_while_starting_fails_with_its_log() {
        // Loopback, where nothing answers on etcd's port: the health probe is refused at once.
        let fake = Arc::new(FakeRemote::new("127.0.0.1"));
        let c = Cluster::new(vec![fake.clone() as Arc<dyn Remote>]);
        let fakes = [fake];
        fakes[0].answer("kill -0", 1, "");
        fakes[0].answer("grep -iE", 0, "flag provided but not defined: -no-such-flag\n");
        let etcd = Etcd::new(EtcdSpec::default(), "t");
        let err = etcd.await_node(&c.nodes()[0], Duration::from_secs(30)).await.expect_err("exited");
        let msg = err.to_string();
        assert!(msg.contains("etcd exited while starting") && msg.contains("no-such-flag"), "{msg}");
    }

    #[test]
    fn versions_are_parsed() {
        assert_eq!(parse_version("etcd Version: 3.4.23\nGo Version: go1.19\n").as_deref(), Some("3.4.23"));
        assert_eq!(parse_version("garbage"), None);
    }
}
