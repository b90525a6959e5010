//! The campaign file: which tests, which fault schedules, how many repetitions, and the
//! overrides every run gets. Paths are resolved against the campaign file's directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use crate::config::raw::duration;
use crate::config::ConfigError;

/// The campaign file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCampaign {
    /// The campaign's name (`[a-z0-9][a-z0-9._-]*`).
    pub name: Spanned<String>,
    /// Test files.
    pub tests: Spanned<Vec<Spanned<String>>>,
    /// Fault schedule files (as in `nemeses/`), or `own` for each test's own schedule.
    #[serde(default)]
    pub nemeses: Option<Spanned<Vec<Spanned<String>>>>,
    /// How many times each (test, schedule) cell runs.
    #[serde(default)]
    pub repetitions: Option<Spanned<u32>>,
    /// Every run's time limit.
    #[serde(default, deserialize_with = "duration::option")]
    pub time_limit: Option<Duration>,
    /// Every run's number of clients.
    pub concurrency: Option<u64>,
    /// Every run's target rate.
    pub rate: Option<f64>,
    /// The first run's seed; run i gets seed + i. Absent: a random seed per run.
    pub seed: Option<u64>,
    /// A local cluster for every run.
    pub cluster: Option<String>,
    /// A nodes file for every run.
    pub nodes_file: Option<Spanned<String>>,
    /// The linearizability check's time budget per run.
    #[serde(default, deserialize_with = "duration::option")]
    pub check_time: Option<Duration>,
}

/// Which fault schedule a cell runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleRef {
    /// The test file's own `nemeses:`/`timeline:`.
    Own,
    /// A nemesis file's schedule instead.
    File(PathBuf),
}

impl ScheduleRef {
    /// The schedule's label on the campaign page: `own` or the file's stem (`partition`).
    pub fn label(&self) -> String {
        match self {
            ScheduleRef::Own => "own".into(),
            ScheduleRef::File(p) => p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        }
    }
}

/// A checked campaign.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// Its name.
    pub name: String,
    /// The test files.
    pub tests: Vec<PathBuf>,
    /// The test files as the campaign file writes them (the same on every runner).
    pub test_files: Vec<String>,
    /// The schedules crossed with every test.
    pub schedules: Vec<ScheduleRef>,
    /// Repetitions per cell.
    pub repetitions: u32,
    /// Overrides for every run.
    pub time_limit: Option<Duration>,
    /// Clients per run.
    pub concurrency: Option<u64>,
    /// Rate per run.
    pub rate: Option<f64>,
    /// First seed.
    pub seed: Option<u64>,
    /// Local cluster.
    pub cluster: Option<String>,
    /// Nodes file.
    pub nodes_file: Option<PathBuf>,
    /// Check budget.
    pub check_time: Option<Duration>,
}

/// One run of the matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// The test file.
    pub test: PathBuf,
    /// The schedule.
    pub schedule: ScheduleRef,
    /// 1-based repetition.
    pub repetition: u32,
}

impl Campaign {
    /// Every run, in the order they run: test by test, schedule by schedule, repetitions last.
    pub fn matrix(&self) -> Vec<Cell> {
        let mut cells = Vec::new();
        for test in &self.tests {
            for schedule in &self.schedules {
                for repetition in 1..=self.repetitions {
                    cells.push(Cell { test: test.clone(), schedule: schedule.clone(), repetition });
                }
            }
        }
        cells
    }
}

/// Reads and checks a campaign file: names, at least one test, files that exist, repetitions
/// from 1 to 1000, at most one of `cluster` and `nodes-file`.
pub fn load_campaign(file: &Path) -> Result<Campaign, ConfigError> {
    check_campaign(crate::config::load(file)?, file)
}

/// [`load_campaign`] of a campaign file's `text`, with errors naming `file` (which is not read;
/// the test and nemesis files it names are still looked for, relative to it).
pub fn load_campaign_str(text: &str, file: &Path) -> Result<Campaign, ConfigError> {
    check_campaign(crate::config::load_str(text, file)?, file)
}

fn check_campaign(raw: RawCampaign, file: &Path) -> Result<Campaign, ConfigError> {
    let err = |at: Location, path: &str, msg: String| ConfigError::invalid(file, at, path, msg);
    let base = file.parent().unwrap_or(Path::new("."));
    let resolve = |p: &str| if Path::new(p).is_absolute() { PathBuf::from(p) } else { base.join(p) };
    if !crate::config::is_valid_name(&raw.name.value) {
        let msg = format!(
            "invalid campaign name {:?}: expected lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
            raw.name.value
        );
        return Err(err(raw.name.referenced, "name", msg));
    }
    if raw.tests.value.is_empty() {
        return Err(err(raw.tests.referenced, "tests", "no tests: expected a list of test files".into()));
    }
    let mut tests = Vec::new();
    for (i, t) in raw.tests.value.iter().enumerate() {
        let path = resolve(&t.value);
        if !path.is_file() {
            let msg = format!("test file {} does not exist (paths are relative to the campaign file)", path.display());
            return Err(err(t.referenced, &format!("tests[{i}]"), msg));
        }
        tests.push(path);
    }
    let mut schedules = Vec::new();
    for (i, s) in raw.nemeses.iter().flat_map(|n| n.value.iter()).enumerate() {
        if s.value == "own" {
            schedules.push(ScheduleRef::Own);
            continue;
        }
        let path = resolve(&s.value);
        if !path.is_file() {
            let msg = format!(
                "nemesis file {} does not exist (paths are relative to the campaign file; `own` runs each test's own schedule)",
                path.display()
            );
            return Err(err(s.referenced, &format!("nemeses[{i}]"), msg));
        }
        let schedule = ScheduleRef::File(path);
        if schedules.iter().any(|x: &ScheduleRef| x.label() == schedule.label()) {
            let msg = format!("a second schedule labelled {:?}; give the files different names", schedule.label());
            return Err(err(s.referenced, &format!("nemeses[{i}]"), msg));
        }
        schedules.push(schedule);
    }
    if schedules.is_empty() {
        schedules.push(ScheduleRef::Own);
    }
    let repetitions = match raw.repetitions {
        None => 1,
        Some(r) if (1..=1000).contains(&r.value) => r.value,
        Some(r) => {
            let msg = format!("repetitions must be from 1 to 1000, not {}", r.value);
            return Err(err(r.referenced, "repetitions", msg));
        }
    };
    if raw.cluster.is_some() && raw.nodes_file.is_some() {
        let at = raw.nodes_file.as_ref().map(|n| n.referenced).unwrap_or(Location::UNKNOWN);
        return Err(err(at, "nodes-file", "give `cluster` or `nodes-file`, not both".into()));
    }
    if let Some(r) = raw.rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(err(Location::UNKNOWN, "rate", format!("rate must be a positive number of ops/s, not {r}")));
        }
    }
    Ok(Campaign {
        name: raw.name.value,
        test_files: raw.tests.value.iter().map(|t| t.value.clone()).collect(),
        tests,
        schedules,
        repetitions,
        time_limit: raw.time_limit,
        concurrency: raw.concurrency,
        rate: raw.rate,
        seed: raw.seed,
        cluster: raw.cluster,
        nodes_file: raw.nodes_file.map(|n| resolve(&n.value)),
        check_time: raw.check_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign(dir: &Path, text: &str) -> Result<Campaign, ConfigError> {
        std::fs::write(dir.join("t1.yaml"), "x").expect("write");
        std::fs::write(dir.join("t2.yaml"), "x").expect("write");
        std::fs::write(dir.join("partition.yaml"), "x").expect("write");
        let file = dir.join("c.yaml");
        std::fs::write(&file, text).expect("write");
        load_campaign(&file)
    }

    #[test]
    fn the_matrix_crosses_tests_schedules_and_repetitions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = campaign(
            dir.path(),
            "name: nightly\ntests: [t1.yaml, t2.yaml]\nnemeses: [own, partition.yaml]\nrepetitions: 2\ntime-limit: 10s\n",
        )
        .expect("loads");
        let m = c.matrix();
        assert_eq!(m.len(), 8);
        assert_eq!(m[0], Cell { test: dir.path().join("t1.yaml"), schedule: ScheduleRef::Own, repetition: 1 });
        assert_eq!(m[3].schedule.label(), "partition");
        assert_eq!(m[3].repetition, 2);
        assert_eq!(m[7].test, dir.path().join("t2.yaml"));
        assert_eq!(c.time_limit, Some(Duration::from_secs(10)));
    }

    #[test]
    fn without_nemeses_each_test_runs_its_own_schedule_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = campaign(dir.path(), "name: c\ntests: [t1.yaml]\n").expect("loads");
        assert_eq!(
            c.matrix(),
            vec![Cell { test: dir.path().join("t1.yaml"), schedule: ScheduleRef::Own, repetition: 1 }]
        );
    }

    #[test]
    fn mistakes_name_the_file_line_and_field() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = campaign(dir.path(), "name: c\ntests:\n  - t1.yaml\n  - missing.yaml\n").expect_err("missing test");
        let msg = e.to_string();
        assert!(msg.contains("c.yaml:4") && msg.contains("tests[1]") && msg.contains("missing.yaml"), "{msg}");
        let e = campaign(dir.path(), "name: c\ntests: [t1.yaml]\nrepetitions: 0\n").expect_err("zero");
        assert!(e.to_string().contains("c.yaml:3") && e.to_string().contains("repetitions"), "{e}");
        let e = campaign(dir.path(), "name: Bad Name\ntests: [t1.yaml]\n").expect_err("name");
        assert!(e.to_string().contains("c.yaml:1") && e.to_string().contains("campaign name"), "{e}");
        let e = campaign(dir.path(), "name: c\ntests: [t1.yaml]\nrepetition: 2\n").expect_err("unknown field");
        assert!(e.to_string().contains("repetition"), "{e}");
        let e = campaign(dir.path(), "name: c\ntests: []\n").expect_err("no tests");
        assert!(e.to_string().contains("no tests"), "{e}");
    }
}
