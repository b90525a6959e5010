//! Fault injection: the `Nemesis` trait, the ops it takes (`FaultOp`) and gives back
//! (`FaultRecord`), and `Compose`, which routes ops to the nemesis whose `fs()` names them.
//!
//! One file per fault: `partition.rs` (grudges over iptables, topologies in `grudge.rs`),
//! `packet.rs` (loss over iptables, netem where the kernel has it), `process.rs` (kill/start,
//! pause/resume through the `Db`), `clock.rs` (bump, strobe, reset: `faketime` or `system`).
//! `targets.rs` picks nodes, `spec.rs` is the test file's `nemeses:`/`timeline:`, `schedule.rs`
//! turns specs into a seeded schedule, `heal.rs` undoes everything brawl may have left on a node
//! without any state from the run (for a crashed run).

pub mod clock;
pub mod grudge;
pub mod heal;
mod net;
pub mod packet;
pub mod partition;
pub mod process;
pub mod schedule;
pub mod spec;
pub mod targets;
#[cfg(test)]
mod testkit;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::cluster::Cluster;
use crate::control::ControlError;
use crate::db::{node_ip, Db, DbError};
use crate::history::{Op, OpType, Process};

pub use heal::{heal_cluster, heal_node, HealReport};
pub use schedule::{
    build, check_schedule_size, final_heal_ops, plan, uses_faketime, validate, ScheduledFault, MAX_PLANNED_FAULTS,
};
pub use spec::{NemesisSpec, TimelineEntry};
pub use targets::{resolve, Targets};

/// What can go wrong setting up, driving or tearing down a nemesis. Faults that merely fail on a
/// node during a run are not errors: they are data in the `FaultRecord`.
#[derive(Debug, thiserror::Error)]
pub enum NemesisError {
    /// A command on a node failed.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The system under test refused (kill, start, pause, resume).
    #[error(transparent)]
    Db(#[from] DbError),
    /// The node cannot do what the fault needs.
    #[error("{what} is not supported on {node}: {why}")]
    Unsupported {
        /// Node name.
        node: String,
        /// The fault, e.g. "packet delay (tc netem)".
        what: String,
        /// Why, e.g. "this kernel has no netem qdisc".
        why: String,
    },
    /// The fault would be unsafe or meaningless here, e.g. the system clock on a local cluster.
    #[error("{what} refused: {why}")]
    Refused {
        /// The fault.
        what: String,
        /// Why, and what to use instead.
        why: String,
    },
    /// The system under test lacks a capability the fault needs.
    #[error("the {db} db cannot {capability}, which the {nemesis} nemesis needs")]
    Capability {
        /// The db's name.
        db: &'static str,
        /// e.g. "kill and start processes".
        capability: &'static str,
        /// The nemesis, e.g. "kill".
        nemesis: &'static str,
    },
    /// A node's clock could not be set to the control node's time (reset, teardown, heal).
    #[error("resetting the clock of {node}: {reason}")]
    Clock {
        /// Node name.
        node: String,
        /// How far off it still is, or why it could not be read or stepped.
        reason: String,
    },
    /// A nemesis spec or timeline entry is wrong.
    #[error("{path}: {reason}")]
    Invalid {
        /// Where, e.g. `nemeses[1].packet.loss`.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// What a nemesis runs against: the nodes, the system under test and the nodes' addresses.
#[derive(Clone)]
pub struct NemesisCtx {
    /// The test's nodes.
    pub cluster: Cluster,
    /// The system under test, for kill/start, pause/resume and primaries.
    pub db: Arc<dyn Db>,
    /// Each node's address, as other nodes see it (iptables rules name these).
    pub ips: BTreeMap<String, IpAddr>,
    /// True on brawl's own local cluster: nodes share the machine's clock and kernel.
    pub local_cluster: bool,
}

impl NemesisCtx {
    /// A context with every node's address resolved through `db::node_ip`.
    pub fn new(cluster: Cluster, db: Arc<dyn Db>, local_cluster: bool) -> Result<Self, NemesisError> {
        let mut ips = BTreeMap::new();
        for node in cluster.nodes() {
            ips.insert(node.name.clone(), node_ip(node)?);
        }
        Ok(NemesisCtx { cluster, db, ips, local_cluster })
    }

    /// The node names, in the cluster's order.
    pub fn node_names(&self) -> Vec<String> {
        self.cluster.nodes().iter().map(|n| n.name.clone()).collect()
    }

    /// The current primaries, or none when the db has no such capability.
    pub async fn primaries(&self) -> Vec<String> {
        match self.db.as_primary() {
            Some(p) => p.primaries(&self.cluster).await,
            None => Vec::new(),
        }
    }
}

/// One nemesis op, as the schedule gives it: `f` names the fault, `value` its argument.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultOp {
    /// e.g. `start-partition`.
    pub f: String,
    /// e.g. `{"topology": "majorities-ring"}`; `null` when the op takes none.
    pub value: serde_json::Value,
}

impl FaultOp {
    /// An op with this `f` and value.
    pub fn new(f: &str, value: serde_json::Value) -> Self {
        FaultOp { f: f.into(), value }
    }

    /// The history event that opens this op: type `info`, process `nemesis`, like Jepsen.
    pub fn to_op(&self, index: u64, time: u64) -> Op {
        let (f, value) = (self.f.clone(), self.value.clone());
        Op { index, time, kind: OpType::Info, process: Process::Nemesis, f, value, node: None, error: None }
    }
}

/// What a nemesis did for one op; it becomes the closing `info` event of the op.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// The op's `f`.
    pub f: String,
    /// What was done on which nodes: the grudge, the killed nodes, the clock offsets.
    pub value: serde_json::Value,
    /// The nodes the op touched.
    pub nodes: Vec<String>,
    /// Why the op failed on some node (the fault may be partly applied; `value` says where).
    pub error: Option<String>,
}

impl FaultRecord {
    /// A record of an op that did nothing, with this error.
    pub fn failed(op: &FaultOp, error: impl Into<String>) -> Self {
        FaultRecord { f: op.f.clone(), value: serde_json::Value::Null, nodes: Vec::new(), error: Some(error.into()) }
    }

    /// The history event that closes the op (type `info`, process `nemesis`).
    pub fn to_op(&self, index: u64, time: u64) -> Op {
        Op {
            index,
            time,
            kind: OpType::Info,
            process: Process::Nemesis,
            f: self.f.clone(),
            value: self.value.clone(),
            node: None,
            error: self.error.clone(),
        }
    }
}

/// A fault injector (Jepsen's `Nemesis` with `Reflection/fs`).
#[async_trait]
pub trait Nemesis: Send {
    /// The op names this nemesis handles, so `Compose` can route ops.
    fn fs(&self) -> &'static [&'static str];
    /// Prepares every node (and heals leftovers); fails when the fault cannot work here.
    async fn setup(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError>;
    /// Applies one op. Never `Err`: what failed on which node is in the record.
    async fn invoke(&mut self, ctx: &NemesisCtx, op: &FaultOp) -> FaultRecord;
    /// Heals everything this nemesis did. Safe to call twice, and after a failed setup.
    async fn teardown(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError>;
}

/// The kinds of fault, with the op names that start and stop them and their plot colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Network partitions (grudges).
    Partition,
    /// SIGKILL and restart.
    Kill,
    /// SIGSTOP and SIGCONT.
    Pause,
    /// Clock bumps and strobes.
    Clock,
    /// Packet loss, delay, duplication, reordering, rate limits.
    Packet,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 5] =
        [FaultKind::Partition, FaultKind::Kill, FaultKind::Pause, FaultKind::Clock, FaultKind::Packet];

    /// The kind's name in test files (`partition`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::Packet => "packet",
        }
    }

    /// Op names that open a fault window.
    pub fn start_fs(self) -> &'static [&'static str] {
        match self {
            FaultKind::Partition => &["start-partition"],
            FaultKind::Kill => &["kill"],
            FaultKind::Pause => &["pause"],
            FaultKind::Clock => &["bump-clock", "strobe-clock"],
            FaultKind::Packet => &["start-packet"],
        }
    }

    /// Op names that close it.
    pub fn stop_fs(self) -> &'static [&'static str] {
        match self {
            FaultKind::Partition => &["stop-partition"],
            FaultKind::Kill => &["start"],
            FaultKind::Pause => &["resume"],
            FaultKind::Clock => &["reset-clock"],
            FaultKind::Packet => &["stop-packet"],
        }
    }

    /// Every op name of the kind (start, stop and others such as `check-clock-offsets`).
    pub fn fs(self) -> &'static [&'static str] {
        match self {
            FaultKind::Partition => partition::FS,
            FaultKind::Kill => process::KILL_FS,
            FaultKind::Pause => process::PAUSE_FS,
            FaultKind::Clock => clock::FS,
            FaultKind::Packet => packet::FS,
        }
    }

    /// The colour that shades its windows on plots (Jepsen's `:perf` colours).
    pub fn color(self) -> &'static str {
        match self {
            FaultKind::Partition => "#E9DCA0",
            FaultKind::Kill => "#E9A4A0",
            FaultKind::Pause => "#A0B1E9",
            FaultKind::Clock => "#A0E9E3",
            FaultKind::Packet => "#D1E8A0",
        }
    }

    /// The kind an op name belongs to.
    pub fn of(f: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.fs().contains(&f))
    }
}

/// Several nemeses as one: each op goes to the first nemesis whose `fs()` names it.
#[derive(Default)]
pub struct Compose {
    nemeses: Vec<Box<dyn Nemesis>>,
}

impl Compose {
    /// These nemeses, in routing order.
    pub fn new(nemeses: Vec<Box<dyn Nemesis>>) -> Self {
        Compose { nemeses }
    }

    /// Number of nemeses.
    pub fn len(&self) -> usize {
        self.nemeses.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.nemeses.is_empty()
    }
}

#[async_trait]
impl Nemesis for Compose {
    fn fs(&self) -> &'static [&'static str] {
        // The union is not static; callers route through `invoke`, which knows every nemesis.
        &[]
    }

    async fn setup(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError> {
        for n in &mut self.nemeses {
            n.setup(ctx).await?;
        }
        Ok(())
    }

    async fn invoke(&mut self, ctx: &NemesisCtx, op: &FaultOp) -> FaultRecord {
        match self.nemeses.iter_mut().find(|n| n.fs().contains(&op.f.as_str())) {
            Some(n) => n.invoke(ctx, op).await,
            None => FaultRecord::failed(op, format!("no nemesis handles {:?}", op.f)),
        }
    }

    /// Tears down every nemesis, also after one fails; the first error is returned.
    async fn teardown(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError> {
        let mut first = Ok(());
        for n in &mut self.nemeses {
            if let Err(e) = n.teardown(ctx).await {
                tracing::warn!(error = %e, "nemesis teardown failed");
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

/// Joins per-node errors into one message (`n1: ...; n2: ...`), or `None` when there are none.
pub(crate) fn join_errors(errors: &[(String, String)]) -> Option<String> {
    if errors.is_empty() {
        None
    } else {
        Some(errors.iter().map(|(n, e)| format!("{n}: {e}")).collect::<Vec<_>>().join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_f_belongs_to_exactly_one_kind_and_starts_and_stops_are_fs() {
        for k in FaultKind::ALL {
            for f in k.start_fs().iter().chain(k.stop_fs()) {
                assert!(k.fs().contains(f), "{f}");
                assert_eq!(FaultKind::of(f), Some(k), "{f}");
            }
        }
        assert_eq!(FaultKind::of("nope"), None);
    }

    #[tokio::test]
    async fn compose_routes_by_f_and_reports_unknown_fs() {
        let (ctx, fakes) = testkit::ctx(3);
        let mut c = Compose::new(vec![Box::new(partition::PartitionNemesis::new(Default::default(), 1))]);
        let rec = c.invoke(&ctx, &FaultOp::new("stop-partition", json!(null))).await;
        assert_eq!(rec.error, None);
        assert!(fakes[0].commands().iter().any(|c| c.contains("-F BRAWL")));
        let rec = c.invoke(&ctx, &FaultOp::new("explode", json!(null))).await;
        assert_eq!(rec.error.as_deref(), Some("no nemesis handles \"explode\""));
    }
}
