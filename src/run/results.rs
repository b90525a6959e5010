//! `results.json`: the verdict of every checker and what the run did (see
//! `docs/results-format.md`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::history::{Op, Process};
use crate::nemesis::FaultKind;

use crate::checker::{CheckOutcome, LinearizabilityResult, StatsResult, Validity};

/// The current version of the results format.
pub const RESULTS_VERSION: u32 = 1;

/// Everything a run concluded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// Format version.
    #[serde(rename = "brawl-results")]
    pub version: u32,
    /// The test's name.
    pub test: String,
    /// The overall verdict: the worst of the checkers'.
    pub validity: Validity,
    /// When the run started (RFC 3339, UTC).
    pub start: String,
    /// Seconds from start to the end of the checks.
    pub duration_s: f64,
    /// The seed that drove every RNG.
    pub seed: u64,
    /// The linearizability checker, for workloads it checks (registers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linearizable: Option<LinearizabilityResult>,
    /// ok / fail / info counts per f.
    pub stats: StatsResult,
    /// Every other checker the workload runs (sets, counters, transactions ...), in order.
    #[serde(default)]
    pub checkers: Vec<CheckOutcome>,
    /// Things a reader should know that do not change the verdict (a vacuous run, an interrupted run).
    pub warnings: Vec<String>,
    /// Ops in the history (invocations and completions).
    pub history_ops: u64,
    /// True when the run was interrupted (Ctrl-C / SIGTERM) before its time limit.
    pub interrupted: bool,
    /// Node log files saved with the run, relative to the run directory.
    pub node_logs: Vec<String>,
    /// The faults that happened: per kind, how many times and for how long in all.
    pub faults: BTreeMap<String, FaultStats>,
}

/// How often one kind of fault happened and for how long.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultStats {
    /// Fault intervals started (a start op that succeeded).
    pub count: u64,
    /// Seconds the fault was in effect, summed over intervals (an interval never stopped runs
    /// to the last op of the history).
    pub total_s: f64,
}

/// Pairs the nemesis's start and stop completions per fault kind. The nemesis journals each
/// op twice (when it starts and when it ends, one op at a time), so every second nemesis op is a
/// completion; a failed start does not count.
pub fn fault_summary(ops: &[Op]) -> BTreeMap<String, FaultStats> {
    let mut out: BTreeMap<String, FaultStats> = BTreeMap::new();
    let mut open: BTreeMap<String, u64> = BTreeMap::new();
    let end = ops.last().map(|o| o.time).unwrap_or(0);
    let nemesis: Vec<&Op> = ops.iter().filter(|o| o.process == Process::Nemesis).collect();
    for op in nemesis.chunks(2).filter_map(|pair| pair.get(1)) {
        let Some(kind) = FaultKind::of(&op.f) else { continue };
        let name = kind.name().to_string();
        if kind.start_fs().contains(&op.f.as_str()) {
            if op.error.is_none() && !open.contains_key(&name) {
                open.insert(name.clone(), op.time);
                out.entry(name).or_default().count += 1;
            }
        } else if kind.stop_fs().contains(&op.f.as_str()) {
            if let Some(t0) = open.remove(&name) {
                out.entry(name).or_default().total_s += op.time.saturating_sub(t0) as f64 / 1e9;
            }
        }
    }
    for (name, t0) in open {
        out.entry(name).or_default().total_s += end.saturating_sub(t0) as f64 / 1e9;
    }
    out
}
impl Results {
    /// The exit code for this verdict: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(&self) -> u8 {
        match self.validity {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }
}

/// Warnings from the stats: fs that never succeeded (a vacuous run proves little).
pub fn stats_warnings(stats: &StatsResult) -> Vec<String> {
    let mut w: Vec<String> = stats.vacuous.iter().map(|f| format!("vacuous: no `{f}` op ever succeeded")).collect();
    if stats.total.ok == 0 {
        w.push("vacuous: no client op succeeded at all".into());
    }
    w
}
