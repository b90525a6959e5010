//! The index of `reports/`: every run directory (`<test>/<timestamp>/`) with its test, start,
//! duration, faults and verdict, newest first, and every campaign; filtered by test and
//! verdict. Pure functions of the files, so `brawl serve` and `--write-index` share them.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::campaign::CAMPAIGNS_DIR;
use crate::report::escape;

/// One run as the index shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunEntry {
    /// The test's name (its directory).
    pub test: String,
    /// The run's directory name (its UTC start, `20261202T051230.123Z`).
    pub stamp: String,
    /// RFC 3339 start, from `run.json`.
    pub start: String,
    /// Seconds, from `results.json`.
    pub duration_s: Option<f64>,
    /// `partition ×2 (12.0 s)`, one per kind.
    pub faults: Vec<String>,
    /// `valid`, `invalid`, `unknown`, or `incomplete` (no `results.json`: running, failed or killed).
    pub verdict: String,
    /// The run has a `report.html`.
    pub has_report: bool,
}

/// One campaign.
#[derive(Clone, Debug, PartialEq)]
pub struct CampaignEntry {
    /// The campaign's name.
    pub name: String,
    /// Its directory name.
    pub stamp: String,
    /// Exit code, `None` while it runs.
    pub exit_code: Option<u8>,
    /// Number of runs so far.
    pub runs: usize,
}

#[derive(Deserialize)]
struct RunJson {
    #[serde(default)]
    start: String,
}

#[derive(Deserialize)]
struct ResultsJson {
    validity: String,
    #[serde(default)]
    duration_s: Option<f64>,
    #[serde(default)]
    faults: std::collections::BTreeMap<String, FaultJson>,
}

#[derive(Deserialize)]
struct FaultJson {
    count: u64,
    total_s: f64,
}

#[derive(Deserialize)]
struct CampaignJson {
    exit_code: u8,
    runs: Vec<serde_json::Value>,
}

fn dirs(path: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Every run under `reports`, newest first. Directories without `run.json` are not runs.
pub fn scan(reports: &Path) -> Vec<RunEntry> {
    let mut runs = Vec::new();
    for test in dirs(reports) {
        if test.starts_with('_') || test.starts_with('.') {
            continue;
        }
        for stamp in dirs(&reports.join(&test)) {
            let dir = reports.join(&test).join(&stamp);
            let Ok(meta) = std::fs::read(dir.join("run.json")) else { continue };
            let results = std::fs::read(dir.join("results.json")).ok();
            let has_report = dir.join("report.html").is_file();
            runs.push(run_entry(test.clone(), stamp, &meta, results.as_deref(), has_report));
        }
    }
    runs.sort_by(|a, b| b.stamp.cmp(&a.stamp).then_with(|| a.test.cmp(&b.test)));
    runs
}

/// One run from the bytes of its `run.json` and `results.json` (`None`: not there); files that
/// do not parse leave their fields empty or make the run `incomplete`.
pub fn run_entry(test: String, stamp: String, run_json: &[u8], results: Option<&[u8]>, has_report: bool) -> RunEntry {
    let start = serde_json::from_slice::<RunJson>(run_json).map(|m| m.start).unwrap_or_default();
    let results = results.and_then(|b| serde_json::from_slice::<ResultsJson>(b).ok());
    let (verdict, duration_s, faults) = match results {
        Some(r) => (
            r.validity,
            r.duration_s,
            r.faults.iter().map(|(k, f)| format!("{k} ×{} ({:.1} s)", f.count, f.total_s)).collect(),
        ),
        None => ("incomplete".to_string(), None, Vec::new()),
    };
    RunEntry { has_report, test, stamp, start, duration_s, faults, verdict }
}

/// Every campaign under `reports/_campaigns`, newest first.
pub fn scan_campaigns(reports: &Path) -> Vec<CampaignEntry> {
    let root = reports.join(CAMPAIGNS_DIR);
    let mut out = Vec::new();
    for name in dirs(&root) {
        for stamp in dirs(&root.join(&name)) {
            let json = std::fs::read(root.join(&name).join(&stamp).join("campaign.json")).ok();
            out.push(campaign_entry(name.clone(), stamp, json.as_deref()));
        }
    }
    out.sort_by(|a, b| b.stamp.cmp(&a.stamp));
    out
}

/// One campaign from the bytes of its `campaign.json` (`None`, or bytes that do not parse: a
/// campaign still running, with no exit code).
pub fn campaign_entry(name: String, stamp: String, campaign_json: Option<&[u8]>) -> CampaignEntry {
    let json = campaign_json.and_then(|b| serde_json::from_slice::<CampaignJson>(b).ok());
    CampaignEntry {
        name,
        stamp,
        exit_code: json.as_ref().map(|c| c.exit_code),
        runs: json.map(|c| c.runs.len()).unwrap_or(0),
    }
}

/// What the index shows: all runs, or those of one test and/or one verdict.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Filter {
    /// Only this test.
    pub test: Option<String>,
    /// Only this verdict.
    pub verdict: Option<String>,
}

impl Filter {
    fn keeps(&self, r: &RunEntry) -> bool {
        let some = |x: &Option<String>| x.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
        some(&self.test).is_none_or(|t| t == r.test) && some(&self.verdict).is_none_or(|v| v == r.verdict)
    }
}

/// The index page. Links are relative to `reports/` (the page lives at its root).
pub fn render(runs: &[RunEntry], campaigns: &[CampaignEntry], filter: &Filter) -> String {
    let tests: BTreeSet<&str> = runs.iter().map(|r| r.test.as_str()).collect();
    let shown: Vec<&RunEntry> = runs.iter().filter(|r| filter.keeps(r)).collect();
    let mut h = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>brawl runs</title>\n<style>\n\
         body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222} table{border-collapse:collapse;margin:1em 0}\n\
         td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left} th{background:#f4f4f4}\n\
         .valid{background:#e3f6e3} .invalid{background:#fbdada} .unknown{background:#fff3cd} .incomplete,.error{background:#e8e8e8}\n\
         form{margin:1em 0} select,button{font:inherit}\n\
         </style></head><body>\n<h1>brawl runs</h1>\n<form id=\"filter\" method=\"get\" action=\"\">\n<label>test <select name=\"test\"><option value=\"\">all</option>",
    );
    for t in &tests {
        let sel = if filter.test.as_deref() == Some(t) { " selected" } else { "" };
        let _ = write!(h, "<option{sel}>{}</option>", escape(t));
    }
    h.push_str("</select></label>\n<label>verdict <select name=\"verdict\"><option value=\"\">all</option>");
    for v in ["valid", "invalid", "unknown", "incomplete"] {
        let sel = if filter.verdict.as_deref() == Some(v) { " selected" } else { "" };
        let _ = write!(h, "<option{sel}>{v}</option>");
    }
    let _ = write!(
        h,
        "</select></label>\n<button type=\"submit\">filter</button></form>\n<p id=\"count\">{} of {} runs</p>\n\
         <table id=\"runs\"><tr><th>test</th><th>start</th><th>duration</th><th>faults</th><th>verdict</th><th>files</th></tr>\n",
        shown.len(),
        runs.len()
    );
    for r in shown {
        let base = format!("{}/{}", escape(&r.test), escape(&r.stamp));
        let report =
            if r.has_report { format!("<a href=\"{base}/report.html\">report</a> · ") } else { String::new() };
        let cls = escape(&r.verdict);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{cls}\">{cls}</td>\
             <td>{report}<a href=\"{base}/history.jsonl\">history</a> · <a href=\"{base}/\">files</a></td></tr>",
            escape(&r.test),
            escape(if r.start.is_empty() { &r.stamp } else { &r.start }),
            r.duration_s.map(|d| format!("{d:.1} s")).unwrap_or_default(),
            escape(&r.faults.join(", ")),
        );
    }
    h.push_str("</table>\n");
    if !campaigns.is_empty() {
        h.push_str("<h2>Campaigns</h2>\n<table id=\"campaigns\"><tr><th>campaign</th><th>start</th><th>runs</th><th>outcome</th></tr>\n");
        for c in campaigns {
            let (word, cls) = match c.exit_code {
                None => ("running or stopped".to_string(), "incomplete"),
                Some(0) => ("valid".into(), "valid"),
                Some(1) => ("invalid".into(), "invalid"),
                Some(2) => ("unknown".into(), "unknown"),
                Some(code) => (format!("failed runs (exit {code})"), "error"),
            };
            let _ = writeln!(
                h,
                "<tr><td><a href=\"{CAMPAIGNS_DIR}/{n}/{s}/campaign.html\">{n}</a></td><td>{s}</td><td>{}</td><td class=\"{cls}\">{word}</td></tr>",
                c.runs,
                n = escape(&c.name),
                s = escape(&c.stamp),
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_dir(reports: &Path, test: &str, stamp: &str, results: Option<&str>) {
        let dir = reports.join(test).join(stamp);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("run.json"), format!("{{\"start\":\"{stamp}\"}}")).expect("write");
        if let Some(r) = results {
            std::fs::write(dir.join("results.json"), r).expect("write");
            std::fs::write(dir.join("report.html"), "x").expect("write");
        }
    }

    #[test]
    fn runs_are_listed_newest_first_with_verdicts_and_faults_and_filtered() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let r = tmp.path();
        run_dir(
            r,
            "etcd",
            "20261201T000000.000Z",
            Some(r#"{"validity":"valid","duration_s":31.5,"faults":{"partition":{"count":2,"total_s":12.0}}}"#),
        );
        run_dir(r, "etcd", "20261202T000000.000Z", Some(r#"{"validity":"invalid","duration_s":30.0}"#));
        run_dir(r, "x<script>", "20261203T000000.000Z", None);
        std::fs::create_dir_all(r.join("etcd/not-a-run")).expect("mkdir");
        std::os::unix::fs::symlink("etcd/20261202T000000.000Z", r.join("latest")).expect("link");
        let runs = scan(r);
        assert_eq!(runs.len(), 3, "{runs:?}");
        assert_eq!(runs[0].verdict, "incomplete");
        assert_eq!(runs[1].verdict, "invalid");
        assert_eq!(runs[2].faults, vec!["partition ×2 (12.0 s)".to_string()]);
        let all = render(&runs, &[], &Filter::default());
        assert!(all.contains("3 of 3 runs"), "{all}");
        assert!(!all.contains("x<script>") && all.contains("x&lt;script&gt;"), "{all}");
        assert!(all.contains("href=\"etcd/20261201T000000.000Z/report.html\""), "{all}");
        let only = render(&runs, &[], &Filter { test: Some("etcd".into()), verdict: Some("valid".into()) });
        assert!(only.contains("1 of 3 runs"), "{only}");
        assert!(!only.contains("20261202T000000.000Z/report.html"), "{only}");
    }
}
