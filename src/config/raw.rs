//! The serde types that mirror brawl's YAML files field by field: `Raw*` for the test file and
//! the nodes file, and the `*Spec` sections (db, workload, nemeses) that plug-ins fill in.
//!
//! Everything is `deny_unknown_fields` and kebab-case; enums are externally tagged. Fields that
//! a cross-field rule checks are `Spanned` so the rule can point at them. Nothing outside
//! `config` sees a `Raw*` type; the `*Spec` types are passed on in the [`super::TestPlan`].

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;
use std::time::Duration;

/// A test file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawTest {
    /// The test's name; also the name of its report directory.
    pub name: Spanned<String>,
    /// Run on the named local cluster.
    pub cluster: Option<Spanned<String>>,
    /// Run on these hosts.
    pub nodes: Option<Spanned<Vec<Spanned<String>>>>,
    /// Run on the nodes of this nodes file (relative to the test file).
    pub nodes_file: Option<Spanned<String>>,
    /// SSH settings for every node; override those of the nodes file.
    pub ssh: Option<RawSsh>,
    /// The system under test.
    pub db: Spanned<DbSpec>,
    /// What the clients do.
    pub workload: Spanned<WorkloadSpec>,
    /// A client in any language, instead of the database's built-in one.
    pub client: Option<Spanned<ClientSpec>>,
    /// The faults to inject.
    #[serde(default)]
    pub nemeses: Vec<NemesisSpec>,
    /// An explicit fault schedule, instead of or beside the intervals.
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    /// How long the test runs.
    pub time_limit: Spanned<duration::Human>,
    /// How many client processes run at once.
    pub concurrency: Spanned<usize>,
    /// Operations per second over all clients.
    pub rate: Option<Spanned<f64>>,
    /// Seed for every random choice.
    pub seed: Option<u64>,
    /// Quiet period after healing, before the final reads.
    #[serde(default, deserialize_with = "duration::option")]
    pub recovery_time: Option<Duration>,
    /// The service level the report measures the run against.
    pub slo: Option<RawSlo>,
}

/// `slo: { latency: 200ms, target: 99.9% }`: the share of requests (`target`) that should be
/// answered ok within `latency`. Either field may be left out for its default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSlo {
    /// The latency a request must be answered within.
    pub latency: Option<Spanned<duration::Human>>,
    /// The share of requests, as a percentage such as `99.9%`.
    pub target: Option<Spanned<Percent>>,
}

/// A percentage written with its sign, `99.9%`; the number is kept as written (99.9).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percent(pub f64);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage such as 99.9%")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
                v.trim()
                    .strip_suffix('%')
                    .and_then(|n| n.trim().parse::<f64>().ok())
                    .map(Percent)
                    .ok_or_else(|| E::custom(format!("invalid percentage {v:?}: expected a percentage such as 99.9%")))
            }
        }
        // As for durations: asking for a string keeps errors at the value's location, and a
        // bare number (`0.999`, ambiguous between a fraction and a percentage) is refused.
        deserializer.deserialize_str(V)
    }
}

/// The `ssh` section of a test file or a nodes file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSsh {
    /// Login user.
    pub user: Option<String>,
    /// TCP port.
    pub port: Option<u16>,
    /// Private key file; `~` is expanded, relative paths follow the file's directory.
    pub key_file: Option<Spanned<String>>,
    /// known_hosts file; `~` is expanded, relative paths follow the file's directory.
    pub known_hosts: Option<Spanned<String>>,
    /// Host-key policy.
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    /// ssh config file; `~` is expanded, relative paths follow the file's directory.
    pub ssh_config: Option<Spanned<String>>,
    /// How commands get root.
    pub sudo: Option<RawSudo>,
    /// Time allowed to connect.
    #[serde(default, deserialize_with = "duration::option")]
    pub connect_timeout: Option<Duration>,
    /// Default time limit of one command.
    #[serde(default, deserialize_with = "duration::option")]
    pub command_timeout: Option<Duration>,
}

/// `strict-host-key-checking`: `true`, `accept-new` or `false` (the explicit opt-out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// `true`: the key must already be known.
    Yes,
    /// `accept-new`: learn unknown keys, refuse changed ones.
    AcceptNew,
    /// `false`: accept any key.
    No,
}

impl<'de> Deserialize<'de> for StrictHostKeyChecking {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StrictHostKeyChecking;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, accept-new or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(if v { StrictHostKeyChecking::Yes } else { StrictHostKeyChecking::No })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "true" => Ok(StrictHostKeyChecking::Yes),
                    "accept-new" => Ok(StrictHostKeyChecking::AcceptNew),
                    "false" => Ok(StrictHostKeyChecking::No),
                    // `custom`, unlike `invalid_value`, gets the value's own location.
                    _ => Err(E::custom(format!("invalid value {v:?}: expected true, accept-new or false"))),
                }
            }
        }
        // Asking for a string (not `any`) keeps errors at the value's location; serde-saphyr
        // still hands over `true` and `false` as text.
        deserializer.deserialize_str(V)
    }
}

/// `sudo`: `none`, `passwordless` or `{ password-env: VAR }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawSudo {
    /// Commands run as the login user.
    None,
    /// `sudo -n`.
    Passwordless,
    /// `sudo -S` with the password from this environment variable.
    PasswordEnv(String),
}

/// The system under test.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum DbSpec {
    /// etcd.
    Etcd(EtcdSpec),
    /// A system defined in the test file by shell commands.
    Shell(ShellSpec),
    /// Redis, alone or with replicas and Sentinel.
    Redis(crate::db::redis::RedisSpec),
    /// MariaDB, one server or a Galera cluster.
    Mariadb(crate::db::mariadb::MariaDbSpec),
    /// PostgreSQL 15.
    Postgres(crate::db::postgres::PostgresSpec),
}

impl DbSpec {
    /// The system's name, as a test file gives it (`etcd`).
    pub fn name(&self) -> &'static str {
        match self {
            DbSpec::Etcd(_) => "etcd",
            DbSpec::Shell(_) => "shell",
            DbSpec::Redis(_) => "redis",
            DbSpec::Mariadb(_) => "mariadb",
            DbSpec::Postgres(_) => "postgres",
        }
    }
}

/// A client in any language.
pub use crate::client::external::ClientSpec;
/// How to install etcd.
pub use crate::db::etcd::EtcdSpec;
/// A system's lifecycle as shell commands.
pub use crate::db::shell::ShellSpec;

/// What the clients do.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum WorkloadSpec {
    /// Reads, writes and compare-and-set on a few registers, checked for linearizability.
    Register(RegisterSpec),
    /// Transactions of list appends and reads (Elle's list-append).
    ListAppend(TxnSpec),
    /// Transactions of register writes and reads (Elle's rw-register).
    RwRegister(TxnSpec),
    /// Adds of unique elements and reads of the set (Jepsen's set-full).
    Set(SetSpec),
    /// Adds to and reads of a counter.
    Counter(CounterSpec),
    /// Transfers between accounts and reads of the balances.
    Bank(BankSpec),
}

impl WorkloadSpec {
    /// Which workload this is.
    pub fn kind(&self) -> crate::workload::WorkloadKind {
        use crate::workload::WorkloadKind as K;
        match self {
            WorkloadSpec::Register(_) => K::Register,
            WorkloadSpec::ListAppend(_) => K::ListAppend,
            WorkloadSpec::RwRegister(_) => K::RwRegister,
            WorkloadSpec::Set(_) => K::Set,
            WorkloadSpec::Counter(_) => K::Counter,
            WorkloadSpec::Bank(_) => K::Bank,
        }
    }

    /// How long one op may take before it is abandoned as indeterminate.
    pub fn op_timeout(&self) -> std::time::Duration {
        use std::time::Duration;
        match self {
            WorkloadSpec::Register(s) => s.op_timeout.unwrap_or(Duration::from_secs(2)),
            WorkloadSpec::ListAppend(s) | WorkloadSpec::RwRegister(s) => s.op_timeout(),
            WorkloadSpec::Set(s) => s.op_timeout.unwrap_or(Duration::from_secs(5)),
            WorkloadSpec::Counter(s) => s.op_timeout.unwrap_or(Duration::from_secs(5)),
            WorkloadSpec::Bank(s) => s.op_timeout.unwrap_or(Duration::from_secs(5)),
        }
    }
}

/// The workloads' settings.
pub use crate::workload::bank::BankSpec;
pub use crate::workload::counter::CounterSpec;
pub use crate::workload::register::RegisterSpec;
pub use crate::workload::set::SetSpec;
pub use crate::workload::txn::TxnSpec;

pub use crate::nemesis::grudge::Topology;
pub use crate::nemesis::spec::{KillSpec, NemesisSpec, PartitionSpec, PauseSpec, TimelineEntry};
pub use crate::nemesis::Targets;

/// A nodes file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawNodesFile {
    /// SSH settings for every node.
    pub ssh: Option<RawSsh>,
    /// The nodes.
    pub nodes: Spanned<Vec<Spanned<RawNode>>>,
}

/// One entry of a nodes file's `nodes` list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawNode {
    /// The node's name in tests.
    pub name: Spanned<String>,
    /// Host name, ssh alias or address; defaults to the name.
    pub host: Option<Spanned<String>>,
    /// TCP port for this node.
    pub port: Option<u16>,
    /// Login user for this node.
    pub user: Option<String>,
}

/// The duration parser, here under its old path for the `deserialize_with` attributes.
pub use super::duration;
