//! [`TestPlan`]: a test file after validation.
//!
//! [`validate`] turns a [`RawTest`] into a [`TestPlan`]: it checks the cross-field rules (one
//! node source, unique node names, positive limits), resolves paths against the test file's
//! directory and converts the `ssh` section (see [`super::ssh`]). Each error points at the
//! offending field's line and column.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::load::{load, load_str, ConfigError};
use super::raw::{DbSpec, NemesisSpec, RawSlo, RawTest, WorkloadSpec};
use super::ssh::{resolve_path, ssh_overrides, SshOverrides};

/// A validated test: what to run, on which nodes, for how long.
#[derive(Clone, Debug, PartialEq)]
pub struct TestPlan {
    /// The test's name (`[a-z0-9][a-z0-9._-]*`); names its report directory.
    pub name: String,
    /// Where the nodes come from.
    pub nodes: NodeSource,
    /// SSH settings from the test file; applied over those of the nodes' source.
    pub ssh: SshOverrides,
    /// The system under test.
    pub db: DbSpec,
    /// A client in any language (`client: { command: ... }`), instead of the built-in one.
    pub client: Option<crate::config::raw::ClientSpec>,
    /// What the clients do.
    pub workload: WorkloadSpec,
    /// The faults to inject, in file order.
    pub nemeses: Vec<NemesisSpec>,
    /// Explicit fault timeline entries.
    pub timeline: Vec<crate::nemesis::TimelineEntry>,
    /// How long the test runs; more than zero.
    pub time_limit: Duration,
    /// How many client processes run at once; at least 1.
    pub concurrency: usize,
    /// Operations per second over all clients (positive, finite); `None` means as fast as possible.
    pub rate: Option<f64>,
    /// Seed for every random choice; `None` lets the run pick one (and record it).
    pub seed: Option<u64>,
    /// The quiet period after the faults are healed, before the final reads (default 5s).
    pub recovery_time: Duration,
    /// The service level objective the report measures the run against.
    pub slo: Slo,
}

/// A service level objective: `target` of the client requests are answered ok within
/// `latency`. From the test file's `slo:` section; without it, 99% within 1 s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slo {
    /// A request answered ok within this latency meets the objective.
    pub latency: Duration,
    /// The share of requests that should meet it, as a fraction in (0, 1]: 0.999 is "99.9%".
    pub target: f64,
}

impl Default for Slo {
    fn default() -> Self {
        Slo { latency: Duration::from_secs(1), target: 0.99 }
    }
}

/// Where a test's nodes come from: exactly one of `cluster`, `nodes-file` or `nodes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeSource {
    /// A local cluster made by `brawl cluster up`, by name.
    Cluster(String),
    /// A nodes file, already resolved against the test file's directory.
    NodesFile(PathBuf),
    /// Host names (unique, non-empty); each is also the node's name.
    Hosts(Vec<String>),
}

/// Load the test file at `path` and validate it into a [`TestPlan`].
pub fn load_test(path: &Path) -> Result<TestPlan, ConfigError> {
    validate(load(path)?, path)
}

/// [`load_test`] of a test file's `text`, with errors naming `file` (which is not read).
pub fn load_test_str(text: &str, file: &Path) -> Result<TestPlan, ConfigError> {
    validate(load_str(text, file)?, file)
}

/// Check a parsed test file's cross-field rules and build its [`TestPlan`]; `file` is where it
/// was read from (errors name it, and relative paths are resolved against its directory).
pub fn validate(raw: RawTest, file: &Path) -> Result<TestPlan, ConfigError> {
    let err = |at: Location, path: &str, msg: String| ConfigError::invalid(file, at, path, msg);
    let name = raw.name;
    if !is_valid_name(&name.value) {
        let msg = format!(
            "invalid test name {:?}: expected lowercase letters, digits, '.', '_' or '-', \
             starting with a letter or digit",
            name.value
        );
        return Err(err(name.referenced, "name", msg));
    }
    let nodes = node_source(raw.cluster, raw.nodes, raw.nodes_file, file)?;
    let ssh = match raw.ssh {
        Some(ssh) => ssh_overrides(ssh, file)?,
        None => SshOverrides::default(),
    };
    if raw.time_limit.value.0.is_zero() {
        let msg = "must be more than zero".to_string();
        return Err(err(raw.time_limit.referenced, "time-limit", msg));
    }
    if raw.concurrency.value == 0 {
        let msg = "must be at least 1".to_string();
        return Err(err(raw.concurrency.referenced, "concurrency", msg));
    }
    if let Some(rate) = &raw.rate {
        if !(rate.value.is_finite() && rate.value > 0.0) {
            let msg = format!("must be a number of operations per second above 0, not {}", rate.value);
            return Err(err(rate.referenced, "rate", msg));
        }
    }
    // The database must serve the workload, and a transactional workload's models must be Elle's.
    let workload_at = raw.workload.referenced;
    let kind = raw.workload.value.kind();
    let mut db = raw.db.value;
    if let DbSpec::Shell(shell) = &mut db {
        crate::db::shell::validate(shell, raw.db.referenced).map_err(|e| err(e.at, &e.path, e.message))?;
        shell.file = Some(file.to_path_buf());
        if raw.client.is_none() {
            let msg = "a system defined by shell commands has no built-in client: give a `client: { command: ... }` \
                       section (see docs/client-protocol.md)";
            return Err(err(raw.db.referenced, "db.shell", msg.into()));
        }
    }
    if let Some(client) = &raw.client {
        if client.value.command.trim().is_empty() {
            return Err(err(
                client.referenced,
                "client.command",
                "is empty: expected the command that starts one client".into(),
            ));
        }
    } else if let Err(msg) = crate::client::check_serves(&db, kind) {
        return Err(err(workload_at, "workload", msg));
    }
    if let WorkloadSpec::ListAppend(t) | WorkloadSpec::RwRegister(t) = &raw.workload.value {
        let path = format!("workload.{}.consistency-models", kind.name());
        for m in &t.consistency_models {
            if crate::checker::models::canonical(m).is_none() {
                let msg =
                    format!("unknown consistency model {m:?}; expected one of {}", crate::checker::models::accepted());
                return Err(err(workload_at, &path, msg));
            }
        }
        let path = format!("workload.{}.anomalies", kind.name());
        for a in &t.anomalies {
            if !crate::checker::models::is_anomaly(a) {
                return Err(err(workload_at, &path, format!("unknown anomaly {a:?}")));
            }
        }
    }
    let slo = match raw.slo {
        Some(slo) => slo_of(slo, file)?,
        None => Slo::default(),
    };
    Ok(TestPlan {
        name: name.value,
        nodes,
        ssh,
        db,
        client: raw.client.map(|c| c.value),
        workload: raw.workload.value,
        nemeses: raw.nemeses,
        timeline: raw.timeline,
        time_limit: raw.time_limit.value.0,
        concurrency: raw.concurrency.value,
        rate: raw.rate.map(|r| r.value),
        seed: raw.seed,
        recovery_time: raw.recovery_time.unwrap_or(Duration::from_secs(5)),
        slo,
    })
}

/// The `slo` section, checked: a latency above zero and a target above 0% and at most 100%.
fn slo_of(raw: RawSlo, file: &Path) -> Result<Slo, ConfigError> {
    let mut slo = Slo::default();
    if let Some(latency) = raw.latency {
        if latency.value.0.is_zero() {
            return Err(ConfigError::invalid(file, latency.referenced, "slo.latency", "must be more than zero"));
        }
        slo.latency = latency.value.0;
    }
    if let Some(target) = raw.target {
        let p = target.value.0;
        if !(p.is_finite() && p > 0.0 && p <= 100.0) {
            let msg = format!("must be a percentage above 0% and at most 100%, not {p}%");
            return Err(ConfigError::invalid(file, target.referenced, "slo.target", msg));
        }
        slo.target = p / 100.0;
    }
    Ok(slo)
}

/// `[a-z0-9][a-z0-9._-]*`: safe as a directory name.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// Exactly one of `cluster`, `nodes` and `nodes-file`, checked and converted.
fn node_source(
    cluster: Option<Spanned<String>>,
    nodes: Option<Spanned<Vec<Spanned<String>>>>,
    nodes_file: Option<Spanned<String>>,
    file: &Path,
) -> Result<NodeSource, ConfigError> {
    let given: Vec<(&str, Location)> = [
        cluster.as_ref().map(|c| ("cluster", c.referenced)),
        nodes.as_ref().map(|n| ("nodes", n.referenced)),
        nodes_file.as_ref().map(|n| ("nodes-file", n.referenced)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let [(first, _), (second, at), ..] = given[..] {
        let msg = format!("both `{first}` and `{second}` are given: keep only one of them");
        return Err(ConfigError::invalid(file, at, second, msg));
    }
    if let Some(cluster) = cluster {
        if cluster.value.is_empty() {
            return Err(ConfigError::invalid(file, cluster.referenced, "cluster", "is empty"));
        }
        return Ok(NodeSource::Cluster(cluster.value));
    }
    if let Some(nodes_file) = nodes_file {
        return Ok(NodeSource::NodesFile(resolve_path(&nodes_file, "nodes-file", file)?));
    }
    let Some(nodes) = nodes else {
        return Err(ConfigError::Invalid {
            file: file.to_path_buf(),
            line: Some(1),
            column: Some(1),
            path: String::new(),
            message: "no nodes: expected one of `cluster` (a local cluster's name), \
                      `nodes-file` (a path) or `nodes` (a list of hosts)"
                .to_string(),
        });
    };
    if nodes.value.is_empty() {
        return Err(ConfigError::invalid(file, nodes.referenced, "nodes", "is empty: expected at least one node"));
    }
    let mut seen = HashSet::new();
    for (i, node) in nodes.value.iter().enumerate() {
        let path = format!("nodes[{i}]");
        if node.value.trim().is_empty() {
            return Err(ConfigError::invalid(file, node.referenced, path, "node name is empty"));
        }
        if !seen.insert(node.value.as_str()) {
            let msg = format!("node {:?} is listed twice", node.value);
            return Err(ConfigError::invalid(file, node.referenced, path, msg));
        }
    }
    Ok(NodeSource::Hosts(nodes.value.into_iter().map(|n| n.value).collect()))
}

#[cfg(test)]
mod tests {
    // Snapshot files are named without the crate name, so they are found from any crate.
    macro_rules! snap {
        ($value:expr) => {
            insta::with_settings!(
                { prepend_module_to_snapshot => false, snapshot_path => "snapshots/plan" },
                { insta::assert_snapshot!($value) }
            )
        };
    }

    use super::*;
    use crate::config::load::load_str;
    use crate::config::raw::{EtcdSpec, KillSpec, PartitionSpec, PauseSpec, RegisterSpec, Targets, Topology};
    use crate::control::target::{HostKeyChecking, Sudo};

    const BASE: &str = "db: { etcd: {} }\nworkload: { register: {} }\ntime-limit: 10s\nconcurrency: 2\n";

    fn plan(text: &str) -> Result<TestPlan, ConfigError> {
        let file = Path::new("tests/test.yaml");
        validate(load_str(text, file)?, file)
    }

    fn err(text: &str) -> String {
        plan(text).unwrap_err().to_string()
    }

    #[test]
    fn full_file_gives_the_expected_plan() {
        let text = r#"
name: etcd-register
nodes: [n1, n2, n3]
ssh:
  user: admin
  port: 2222
  key-file: keys/id_ed25519
  known-hosts: /etc/brawl/known_hosts
  strict-host-key-checking: accept-new
  sudo: { password-env: BRAWL_SUDO_PASSWORD }
  connect-timeout: 5s
  command-timeout: 2m
db: { etcd: { version: "3.4.23" } }
workload: { register: { keys: 8 } }
nemeses:
  - partition: { topology: majorities-ring, interval: 10s }
  - kill: { targets: minority, interval: 30s }
  - pause: {}
time-limit: 5m
concurrency: 10
rate: 100
seed: 42
slo: { latency: 200ms, target: 99.9% }
"#;
        let expected = TestPlan {
            name: "etcd-register".into(),
            nodes: NodeSource::Hosts(vec!["n1".into(), "n2".into(), "n3".into()]),
            ssh: SshOverrides {
                user: Some("admin".into()),
                port: Some(2222),
                key_file: Some("tests/keys/id_ed25519".into()),
                known_hosts: Some("/etc/brawl/known_hosts".into()),
                host_key_checking: Some(HostKeyChecking::AcceptNew),
                ssh_config: None,
                sudo: Some(Sudo::PasswordEnv("BRAWL_SUDO_PASSWORD".into())),
                connect_timeout: Some(Duration::from_secs(5)),
                command_timeout: Some(Duration::from_secs(120)),
            },
            client: None,
            db: DbSpec::Etcd(EtcdSpec { version: Some("3.4.23".into()), ..EtcdSpec::default() }),
            workload: WorkloadSpec::Register(RegisterSpec { keys: Some(8), ..Default::default() }),
            nemeses: vec![
                NemesisSpec::Partition(PartitionSpec {
                    topology: Some(Topology::MajoritiesRing),
                    grudge: None,
                    interval: Some(Duration::from_secs(10)),
                }),
                NemesisSpec::Kill(KillSpec {
                    targets: Some(Targets::Minority),
                    interval: Some(Duration::from_secs(30)),
                    restart: Default::default(),
                }),
                NemesisSpec::Pause(PauseSpec::default()),
            ],
            timeline: vec![],
            time_limit: Duration::from_secs(300),
            concurrency: 10,
            rate: Some(100.0),
            seed: Some(42),
            recovery_time: Duration::from_secs(5),
            slo: Slo { latency: Duration::from_millis(200), target: 99.9 / 100.0 },
        };
        assert_eq!(plan(text).unwrap(), expected);
    }

    #[test]
    fn fixture_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config");
        let plan = load_test(&dir.join("valid.yaml")).unwrap();
        assert_eq!(plan.nodes, NodeSource::NodesFile(dir.join("nodes.yaml")));
        let targets = crate::config::load_nodes_file(&dir.join("nodes.yaml")).unwrap();
        assert_eq!(targets.len(), 3);
        let mut errors = Vec::new();
        for name in ["invalid-two-node-sources", "invalid-nemesis-field"] {
            errors.push(load_test(&dir.join(format!("{name}.yaml"))).unwrap_err());
        }
        let nodes = dir.join("invalid-nodes-unknown-host.yaml");
        errors.push(crate::config::load_nodes_file(&nodes).unwrap_err());
        let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        snap!(errors.join("\n").replace(&format!("{}/", dir.display()), ""));
    }

    #[test]
    fn nodes_file_is_relative_to_the_test_file() {
        let p = plan(&format!("name: t\nnodes-file: ../nodes.yaml\n{BASE}")).unwrap();
        assert_eq!(p.nodes, NodeSource::NodesFile("tests/../nodes.yaml".into()));
        let p = plan(&format!("name: t\nnodes-file: /etc/nodes.yaml\n{BASE}")).unwrap();
        assert_eq!(p.nodes, NodeSource::NodesFile("/etc/nodes.yaml".into()));
        let p = plan(&format!("name: t\ncluster: local\n{BASE}")).unwrap();
        assert_eq!(p.nodes, NodeSource::Cluster("local".into()));
    }

    #[test]
    fn unknown_top_level_key() {
        snap!(err(&format!("name: t\ncluster: c\nnode: [n1]\n{BASE}")));
    }

    #[test]
    fn unknown_key_in_a_nemesis() {
        let text = format!("name: t\ncluster: c\n{BASE}nemeses:\n  - partition: {{}}\n  - kill: {{ x: 1 }}\n");
        snap!(err(&text));
    }

    #[test]
    fn unknown_nemesis() {
        snap!(err(&format!("name: t\ncluster: c\n{BASE}nemeses: [ explode: {{}} ]\n")));
    }

    #[test]
    fn bad_enum_variant() {
        let text = format!("name: t\ncluster: c\n{BASE}nemeses:\n  - kill: {{ targets: most }}\n");
        snap!(err(&text));
    }

    #[test]
    fn wrong_type() {
        let text =
            "name: t\ncluster: c\ndb: { etcd: {} }\nworkload: { register: {} }\ntime-limit: 10s\nconcurrency: ten\n";
        snap!(err(text));
    }

    #[test]
    fn nodes_not_a_list() {
        snap!(err(&format!("name: t\nnodes: n1\n{BASE}")));
    }

    #[test]
    fn db_without_settings() {
        let text = "name: t\ncluster: c\ndb: etcd\nworkload: { register: {} }\ntime-limit: 1s\nconcurrency: 1\n";
        snap!(err(text));
    }

    #[test]
    fn missing_name() {
        snap!(err(&format!("cluster: c\n{BASE}")));
    }

    #[test]
    fn bad_duration() {
        let text = format!("name: t\ncluster: c\n{BASE}nemeses: [ partition: {{ interval: 10 parsecs }} ]\n");
        snap!(err(&text));
    }

    #[test]
    fn yaml_syntax_error() {
        snap!(err(&format!("name: t\nnodes: [n1, n2\n{BASE}")));
    }

    #[test]
    fn sequence_where_a_string_belongs() {
        snap!(err(&format!("name: [t\ncluster: c\n{BASE}")));
    }

    #[test]
    fn issue_10_a_bare_number_is_seconds() {
        let with = |t: &str| {
            format!("name: t\ncluster: c\ndb: {{ etcd: {{}} }}\nworkload: {{ register: {{}} }}\n{t}\nconcurrency: 1\n")
        };
        assert_eq!(plan(&with("time-limit: 10")).expect("valid").time_limit, Duration::from_secs(10));
        assert_eq!(plan(&with("time-limit: 0.5")).expect("valid").time_limit, Duration::from_millis(500));
        assert_eq!(plan(&with("time-limit: \"90\"")).expect("valid").time_limit, Duration::from_secs(90));
        assert_eq!(plan(&with("time-limit: 2m")).expect("valid").time_limit, Duration::from_secs(120));
        snap!(err(&with("time-limit: -10")));
    }

    #[test]
    fn bad_name() {
        snap!(err(&format!("name: Etcd/Register\ncluster: c\n{BASE}")));
    }

    #[test]
    fn two_node_sources() {
        snap!(err(&format!("name: t\ncluster: c\nnodes: [n1]\n{BASE}")));
    }

    #[test]
    fn no_node_source() {
        snap!(err(&format!("name: t\n{BASE}")));
    }

    #[test]
    fn duplicate_node() {
        snap!(err(&format!("name: t\nnodes: [n1, n2, n1]\n{BASE}")));
    }

    #[test]
    fn empty_node_list() {
        snap!(err(&format!("name: t\nnodes: []\n{BASE}")));
    }

    #[test]
    fn empty_node_name() {
        snap!(err(&format!("name: t\nnodes: [n1, \"\"]\n{BASE}")));
    }

    #[test]
    fn concurrency_zero() {
        let text =
            "name: t\ncluster: c\ndb: { etcd: {} }\nworkload: { register: {} }\ntime-limit: 10s\nconcurrency: 0\n";
        snap!(err(text));
    }

    #[test]
    fn negative_rate() {
        snap!(err(&format!("name: t\ncluster: c\n{BASE}rate: -1\n")));
    }

    #[test]
    fn slo_defaults_when_absent_or_partial() {
        assert_eq!(plan(&format!("name: t\ncluster: c\n{BASE}")).unwrap().slo, Slo::default());
        let p = plan(&format!("name: t\ncluster: c\n{BASE}slo: {{ latency: 50ms }}\n")).unwrap();
        assert_eq!(p.slo, Slo { latency: Duration::from_millis(50), target: 0.99 });
        let p = plan(&format!("name: t\ncluster: c\n{BASE}slo: {{ target: 100% }}\n")).unwrap();
        assert_eq!(p.slo, Slo { latency: Duration::from_secs(1), target: 1.0 });
    }

    #[test]
    fn bad_slo_values() {
        let errors: Vec<String> = [
            "slo: { target: 0.999 }",
            "slo: { target: 120% }",
            "slo: { target: 0% }",
            "slo: { latency: 0s }",
            "slo: { latency: fast }",
            "slo: { latency: 1s, nines: 3 }",
        ]
        .iter()
        .map(|s| err(&format!("name: t\ncluster: c\n{BASE}{s}\n")))
        .collect();
        snap!(errors.join("\n"));
    }

    #[test]
    fn zero_time_limit() {
        let text =
            "name: t\ncluster: c\ndb: { etcd: {} }\nworkload: { register: {} }\ntime-limit: 0s\nconcurrency: 1\n";
        snap!(err(text));
    }

    #[test]
    fn issue_12_a_database_that_does_not_serve_the_workload_is_refused() {
        let text = "name: t\ncluster: c\ndb: { etcd: {} }\nworkload: { bank: { accounts: 3 } }\ntime-limit: 5s\nconcurrency: 1\n";
        let e = err(text);
        assert!(e.starts_with("tests/test.yaml:4:"), "{e}");
        assert!(e.contains("etcd does not serve the bank workload; it serves register"), "{e}");
    }

    #[test]
    fn issue_12_transactional_workloads_name_elle_models() {
        let ok = "name: t\ncluster: c\ndb: { etcd: {} }\nworkload: { register: {} }\ntime-limit: 5s\nconcurrency: 1\n";
        assert!(plan(ok).is_ok());
        let bad = "name: t\ncluster: c\ndb: { etcd: {} }\nworkload:\n  list-append: { consistency-models: [serialisable] }\ntime-limit: 5s\nconcurrency: 1\n";
        let e = err(bad);
        // etcd serves list-append only once its client does; either error names the field.
        assert!(e.contains("workload"), "{e}");
    }
}
