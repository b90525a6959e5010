//! `results.json`: the verdict of every checker and what the run did (see
//! `docs/results-format.md`).

use serde::{Deserialize, Serialize};

use crate::checker::{LinearizabilityResult, StatsResult, Validity};

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
    /// The linearizability checker.
    pub linearizable: LinearizabilityResult,
    /// ok / fail / info counts per f.
    pub stats: StatsResult,
    /// Things a reader should know that do not change the verdict (a vacuous run, an interrupted run).
    pub warnings: Vec<String>,
    /// Ops in the history (invocations and completions).
    pub history_ops: u64,
    /// True when the run was interrupted (Ctrl-C / SIGTERM) before its time limit.
    pub interrupted: bool,
    /// Node log files saved with the run, relative to the run directory.
    pub node_logs: Vec<String>,
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
