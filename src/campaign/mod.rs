//! Campaigns for nightly CI: a matrix of tests × fault schedules × repetitions run one after
//! another ([`Campaign::matrix`]), then one page (`campaign.html`: a cell per test and
//! schedule, pass/fail across repetitions, a link to every run), one JUnit file for the whole
//! campaign and `campaign.json`, in `reports/_campaigns/<name>/<timestamp>/`. The exit code is
//! the worst outcome's ([`RunOutcome::rank`]). The CLI (`brawl campaign`) drives the runs.
//! A campaign can run one shard of its matrix (`--shard K/N`, [`shard`]); [`merge`] joins the
//! shards' directories into one page, one JUnit file and one `campaign.json`.

pub mod merge;
pub mod page;
pub mod shard;
pub mod spec;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checker::Validity;
pub use merge::{merge, MergeError, MergeRecord, MergedShard};
pub use shard::{MatrixCell, Shard, ShardRecord};
pub use spec::{load_campaign, load_campaign_str, Campaign, Cell, ScheduleRef};

/// Where campaigns are stored under `reports/` (a test name cannot start with `_`).
pub const CAMPAIGNS_DIR: &str = "_campaigns";

/// What became of one run of the matrix.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunOutcome {
    /// The test's name (its `name:`), or the file's stem when it could not be read.
    pub test: String,
    /// The schedule's label (`own`, `partition`).
    pub schedule: String,
    /// 1-based repetition.
    pub repetition: u32,
    /// The verdict; `None` when the run failed before one.
    pub verdict: Option<Validity>,
    /// The run's exit code (0, 1, 2; 254 or 255 when it failed).
    pub exit_code: u8,
    /// The run directory, relative to `reports/`.
    pub run_dir: Option<String>,
    /// Why there is no verdict, or what made it invalid or unknown.
    pub message: Option<String>,
    /// The seed.
    pub seed: Option<u64>,
    /// Wall time of the run, seconds.
    pub duration_s: f64,
    /// The run's cell: its position in the campaign's `matrix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<usize>,
    /// Set by a merge on a run that did not happen: its shard was not given, or stopped early.
    /// Such a run counts as failed (exit code 255).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing: bool,
}

impl RunOutcome {
    /// How bad an outcome is: invalid > a failed run (254, 255) > unknown > valid. An anomaly
    /// found is the campaign's most important news, so it outranks a run that broke.
    pub fn rank(code: u8) -> u8 {
        match code {
            0 => 0,
            2 => 1,
            254 => 2,
            255 => 3,
            1 => 5,
            _ => 4,
        }
    }
}

/// The campaign's exit code: its worst run's (0 when there were no runs).
pub fn exit_code(runs: &[RunOutcome]) -> u8 {
    runs.iter().map(|r| r.exit_code).max_by_key(|c| RunOutcome::rank(*c)).unwrap_or(0)
}

/// The stored summary of a campaign (`campaign.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CampaignResult {
    /// The campaign's name.
    pub name: String,
    /// RFC 3339 start.
    pub start: String,
    /// Seconds from start to the last run's end.
    pub duration_s: f64,
    /// The schedules' labels, in column order.
    pub schedules: Vec<String>,
    /// Repetitions per cell.
    pub repetitions: u32,
    /// Every run, in the order they ran.
    pub runs: Vec<RunOutcome>,
    /// The exit code.
    pub exit_code: u8,
    /// The campaign was stopped (Ctrl-C, SIGTERM) before its last run.
    pub interrupted: bool,
    /// Every cell of the whole matrix, in order (a shard's too, so that a merge can check that
    /// its shards come from the same campaign).
    #[serde(default)]
    pub matrix: Vec<MatrixCell>,
    /// Which shard of the matrix this campaign ran (`--shard K/N`); absent: all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// Set on a merge of shards: where each shard came from, or that it is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergeRecord>,
}

/// Creates `reports/_campaigns/<name>/<timestamp>/`.
pub fn create_dir(reports: &Path, name: &str, start: chrono::DateTime<chrono::Utc>) -> std::io::Result<PathBuf> {
    let dir = reports.join(CAMPAIGNS_DIR).join(name).join(crate::run::store::stamp(start));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes `campaign.json`, `campaign.html` and `junit.xml` into `dir` (inside `reports`).
pub fn write(dir: &Path, result: &CampaignResult) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(result).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("campaign.json"), json)?;
    std::fs::write(dir.join("campaign.html"), page::html(result, "../../../"))?;
    std::fs::write(dir.join("junit.xml"), page::junit(result, "reports/"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(code: u8) -> RunOutcome {
        RunOutcome {
            test: "t".into(),
            schedule: "own".into(),
            repetition: 1,
            verdict: None,
            exit_code: code,
            run_dir: None,
            message: None,
            seed: None,
            duration_s: 0.0,
            cell: None,
            missing: false,
        }
    }

    #[test]
    fn the_campaign_exits_with_its_worst_outcome() {
        let codes = |cs: &[u8]| exit_code(&cs.iter().map(|c| outcome(*c)).collect::<Vec<_>>());
        assert_eq!(codes(&[]), 0);
        assert_eq!(codes(&[0, 0]), 0);
        assert_eq!(codes(&[0, 2, 0]), 2);
        assert_eq!(codes(&[2, 255, 0]), 255);
        assert_eq!(codes(&[255, 1, 2]), 1);
        assert_eq!(codes(&[254, 2]), 254);
    }
}
