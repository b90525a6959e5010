//! A run's human and machine reports, from the files of its run directory: `report.html` (a
//! self-contained page: verdicts, availability and SLO, latency and throughput with the faults
//! shaded, anomalies explained, a per-process timeline, how to reproduce) and `junit.xml` (one
//! test case per checker, for CI). Never re-runs a check: verdicts come from `results.json`.
//!
//! `write_run(dir)` is the entry point (`brawl run` and `brawl report` call it). `digest` turns
//! a history into what is drawn; `availability` computes availability and SLO attainment;
//! `charts` draws with plotters; `timeline` draws op timelines (every op anchored as `op-<index>`);
//! `cycle` draws a transactional anomaly's dependency cycle; `html` assembles the page and owns
//! `escape`; `junit` writes the JUnit XML; `outcomes` renders every `CheckOutcome` (sets,
//! counters, banks, queues, locks, transactions) in both.

mod availability;
mod charts;
pub mod cycle;
mod digest;
mod html;
mod junit;
mod outcomes;
mod timeline;

use std::path::{Path, PathBuf};

pub use availability::{availability, nines, Availability, FaultWindow, Second};
pub use digest::{digest, ClientOp, ClockSample, Digest, FaultInterval};
pub use html::{escape, render};
pub use junit::junit_xml;

use crate::config::Slo;
use crate::history::Op;
use crate::run::Results;

/// A run directory's files, read: what a report is made from.
#[derive(Clone, Debug)]
pub struct RunFiles {
    /// `results.json`.
    pub results: Results,
    /// `history.jsonl`'s ops.
    pub history: Vec<Op>,
    /// `test.yaml`, the test as run (empty when missing).
    pub test_yaml: String,
    /// The command line from `run.json` (empty when missing).
    pub argv: Vec<String>,
    /// The SLO from `test.yaml` (the default when it has none or cannot be read).
    pub slo: Slo,
    /// Problems with the optional files, shown on the page.
    pub notes: Vec<String>,
}

/// The files `write_run` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportPaths {
    /// `report.html`.
    pub report: PathBuf,
    /// `junit.xml`.
    pub junit: PathBuf,
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file the report needs could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A report file could not be written.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> ReportError {
    ReportError::Read { path: path.to_path_buf(), reason: e.to_string() }
}

/// Reads a run directory: `results.json` and `history.jsonl` are required; `test.yaml` (the
/// test and its SLO) and `run.json` (the command line) are optional.
pub fn read_run(dir: &Path) -> Result<RunFiles, ReportError> {
    let path = dir.join("results.json");
    let results = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
    let path = dir.join("history.jsonl");
    let history = std::fs::read(&path).map_err(|e| read_err(&path, e))?;
    let test_yaml = std::fs::read_to_string(dir.join("test.yaml"));
    let run_json = std::fs::read_to_string(dir.join("run.json")).ok();
    parse_run(dir, &results, &history, test_yaml, run_json.as_deref())
}

/// [`read_run`] of files already read: their contents, named in errors as files of `dir`
/// (which is not read). A missing `test.yaml` is the error reading it.
pub fn parse_run(
    dir: &Path,
    results: &str,
    history: &[u8],
    test_yaml: std::io::Result<String>,
    run_json: Option<&str>,
) -> Result<RunFiles, ReportError> {
    let path = dir.join("results.json");
    let results: Results = serde_json::from_str(results).map_err(|e| read_err(&path, e))?;
    let path = dir.join("history.jsonl");
    let history = crate::history::parse_jsonl_at(history, &path).map_err(|e| read_err(&path, e))?.ops;
    let mut notes = Vec::new();
    let test_path = dir.join("test.yaml");
    let (test_yaml, slo) = match test_yaml {
        Ok(text) => {
            let slo = crate::config::load_test_str(&text, &test_path).map(|p| p.slo).unwrap_or_else(|e| {
                notes.push(format!("test.yaml: {e}; the SLO is the default"));
                Slo::default()
            });
            (text, slo)
        }
        Err(e) => {
            notes.push(format!("test.yaml: {e}; the SLO is the default"));
            (String::new(), Slo::default())
        }
    };
    let argv = run_json
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|v| serde_json::from_value::<Vec<String>>(v.get("argv")?.clone()).ok())
        .unwrap_or_default();
    Ok(RunFiles { results, history, test_yaml, argv, slo, notes })
}

/// Writes `report.html` and `junit.xml` into the run directory `dir` from its files.
pub fn write_run(dir: &Path) -> Result<ReportPaths, ReportError> {
    let run = read_run(dir)?;
    let paths = ReportPaths { report: dir.join("report.html"), junit: dir.join("junit.xml") };
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|e| ReportError::Write { path: path.to_path_buf(), reason: e.to_string() })
    };
    let xml =
        junit_xml(&run.results).map_err(|e| ReportError::Write { path: paths.junit.clone(), reason: e.to_string() })?;
    write(&paths.junit, xml.as_bytes())?;
    write(&paths.report, render(&run).as_bytes())?;
    Ok(paths)
}
