//! The campaign page (`campaign.html`) and the campaign's JUnit file. Every string that came
//! from a test file or a run (names, messages) is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{CampaignResult, RunOutcome};
use crate::checker::Validity;
use crate::report::escape;

/// A word and a CSS class for an outcome.
fn outcome_word(r: &RunOutcome) -> (&'static str, &'static str) {
    if r.missing {
        return ("missing", "error");
    }
    match (r.verdict, r.exit_code) {
        (Some(Validity::Valid), _) => ("valid", "valid"),
        (Some(Validity::Invalid), _) => ("invalid", "invalid"),
        (Some(Validity::Unknown), _) => ("unknown", "unknown"),
        (None, 254) => ("bad config", "error"),
        (None, _) => ("failed", "error"),
    }
}

/// The tests in the order they ran, each with its runs per schedule.
fn grid(result: &CampaignResult) -> Vec<(String, BTreeMap<String, Vec<&RunOutcome>>)> {
    let mut rows: Vec<(String, BTreeMap<String, Vec<&RunOutcome>>)> = Vec::new();
    for r in &result.runs {
        let i = match rows.iter().position(|(t, _)| *t == r.test) {
            Some(i) => i,
            None => {
                rows.push((r.test.clone(), BTreeMap::new()));
                rows.len() - 1
            }
        };
        rows[i].1.entry(r.schedule.clone()).or_default().push(r);
    }
    rows
}

/// `campaign.html`; `to_reports` is the relative path from the page to `reports/`.
pub fn html(result: &CampaignResult, to_reports: &str) -> String {
    let overall = match result.exit_code {
        0 => ("every run valid", "valid"),
        1 => ("an anomaly was found", "invalid"),
        2 => ("some verdicts unknown", "unknown"),
        _ if result.runs.iter().any(|r| r.missing) => ("some runs failed or are missing", "error"),
        _ => ("some runs failed", "error"),
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>campaign {name}</title>\n<style>\n\
         body{{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse;margin:1em 0}}\n\
         td,th{{border:1px solid #ccc;padding:.4em .7em;text-align:left;vertical-align:top}} th{{background:#f4f4f4}}\n\
         .valid{{background:#e3f6e3}} .invalid{{background:#fbdada}} .unknown{{background:#fff3cd}} .error{{background:#e8e8e8}}\n\
         a.run{{display:inline-block;margin-right:.4em;padding:0 .3em;border-radius:3px;color:#222}}\n\
         .verdict{{font-size:1.3em;padding:.5em 1em;display:inline-block;border-radius:4px}}\n\
         </style></head><body>\n<h1>Campaign {name}</h1>\n\
         <p class=\"verdict {cls}\" id=\"verdict\">{word} (exit code {code})</p>\n\
         <p>Started {start}, {runs} runs in {dur}{stopped}; {reps} repetition(s) per cell.</p>\n",
        name = escape(&result.name),
        cls = overall.1,
        word = overall.0,
        code = result.exit_code,
        start = escape(&result.start),
        runs = result.runs.len(),
        dur = humantime::format_duration(Duration::from_secs(result.duration_s.round() as u64)),
        stopped = if result.interrupted { ", stopped early" } else { "" },
        reps = result.repetitions,
    );
    if let Some(s) = &result.shard {
        let _ = writeln!(
            h,
            "<p id=\"shard\">Shard {}/{}: {} of the matrix's {} cells (test × schedule); the others run on other shards.</p>",
            s.index,
            s.count,
            s.cells.len(),
            result.matrix.len()
        );
    }
    if let Some(m) = &result.merged {
        shards_table(&mut h, m);
    }
    h.push_str("<table id=\"matrix\"><tr><th>test \\ schedule</th>");
    for s in &result.schedules {
        let _ = write!(h, "<th>{}</th>", escape(s));
    }
    h.push_str("</tr>\n");
    for (test, cells) in grid(result) {
        let _ = write!(h, "<tr><th>{}</th>", escape(&test));
        for s in &result.schedules {
            let runs = cells.get(s).cloned().unwrap_or_default();
            let valid = runs.iter().filter(|r| r.verdict == Some(Validity::Valid)).count();
            let worst = runs.iter().max_by_key(|r| RunOutcome::rank(r.exit_code));
            let cls = worst.map(|r| outcome_word(r).1).unwrap_or("");
            let _ = write!(h, "<td class=\"{cls}\">{valid}/{} valid<br>", runs.len());
            for r in runs {
                let (word, c) = outcome_word(r);
                match &r.run_dir {
                    Some(d) => {
                        let _ = write!(
                            h,
                            "<a class=\"run {c}\" href=\"{}{}/report.html\" title=\"{word}\">#{}</a>",
                            escape(to_reports),
                            escape(d),
                            r.repetition
                        );
                    }
                    None => {
                        let _ = write!(h, "<span class=\"run {c}\" title=\"{word}\">#{}</span>", r.repetition);
                    }
                }
            }
            h.push_str("</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n<h2>Runs</h2>\n<table id=\"runs\"><tr><th>test</th><th>schedule</th><th>#</th><th>outcome</th><th>seed</th><th>duration</th><th>run</th><th>note</th></tr>\n");
    for r in &result.runs {
        let (word, c) = outcome_word(r);
        let link = r
            .run_dir
            .as_ref()
            .map(|d| format!("<a href=\"{}{}/report.html\">{}</a>", escape(to_reports), escape(d), escape(d)))
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{c}\">{word}</td><td>{}</td><td>{:.1} s</td><td>{link}</td><td>{}</td></tr>",
            escape(&r.test),
            escape(&r.schedule),
            r.repetition,
            r.seed.map(|s| s.to_string()).unwrap_or_default(),
            r.duration_s,
            escape(r.message.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</table>\n<p><a href=\"junit.xml\">junit.xml</a> · <a href=\"campaign.json\">campaign.json</a></p>\n</body></html>\n");
    h
}

/// The shards of a merged campaign: where each came from, or that it is missing.
fn shards_table(h: &mut String, m: &super::MergeRecord) {
    let missing = m.shards.iter().filter(|s| s.missing).count();
    let _ = writeln!(
        h,
        "<p>Merged from {} of {} shards{}.</p>\n<table id=\"shards\"><tr><th>shard</th><th>cells</th><th>runs</th><th>exit code</th><th>from</th></tr>",
        m.shards.len() - missing,
        m.count,
        if missing > 0 { format!("; {missing} missing, their runs marked missing below") } else { String::new() }
    );
    for s in &m.shards {
        let (cls, code, from) = match &s.source {
            None => ("error", "missing".to_string(), "not given".to_string()),
            Some(src) => {
                let cls = match s.exit_code {
                    0 => "valid",
                    1 => "invalid",
                    2 => "unknown",
                    _ => "error",
                };
                let stopped = if s.interrupted { " (stopped early)" } else { "" };
                (cls, format!("{}{stopped}", s.exit_code), escape(src))
            }
        };
        let _ = writeln!(
            h,
            "<tr class=\"{cls}\"><td>{}/{}</td><td>{}</td><td>{}</td><td>{code}</td><td>{from}</td></tr>",
            s.index,
            m.count,
            s.cells.len(),
            s.runs
        );
    }
    h.push_str("</table>\n");
}

/// One JUnit file for the whole campaign: a suite per (test, schedule), a case per repetition.
/// Invalid is a `failure`; unknown, failed and missing runs are `error`s (the property was not
/// shown either way). `to_reports` prefixes each run's directory in the case's output.
pub fn junit(result: &CampaignResult, to_reports: &str) -> String {
    let mut report = Report::new(format!("brawl campaign {}", result.name));
    report.set_time(Duration::from_secs_f64(result.duration_s.max(0.0)));
    for (test, cells) in grid(result) {
        for s in &result.schedules {
            let Some(runs) = cells.get(s) else { continue };
            let mut suite = TestSuite::new(format!("{test} × {s}"));
            for r in runs {
                let status = match (r.verdict, r.exit_code) {
                    _ if r.missing => {
                        let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                        st.set_type("missing");
                        st.set_message(r.message.clone().unwrap_or_else(|| "the run is missing".into()));
                        st
                    }
                    (Some(Validity::Valid), _) => TestCaseStatus::success(),
                    (Some(Validity::Invalid), _) => {
                        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        st.set_type("invalid");
                        st.set_message(r.message.clone().unwrap_or_else(|| "the history is not valid".into()));
                        st
                    }
                    (verdict, code) => {
                        let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                        st.set_type(if verdict.is_some() { "unknown" } else { "run failed" });
                        let default = if verdict.is_some() {
                            "the checker could not decide".to_string()
                        } else {
                            format!("the run failed with exit code {code}")
                        };
                        st.set_message(r.message.clone().unwrap_or(default));
                        st
                    }
                };
                let mut case = TestCase::new(format!("repetition {}", r.repetition), status);
                case.set_classname(format!("brawl.{test}.{s}"));
                case.set_time(Duration::from_secs_f64(r.duration_s.max(0.0)));
                // Where the run is and how to repeat it (the schema allows no properties on a case).
                let mut out = Vec::new();
                if let Some(d) = &r.run_dir {
                    out.push(format!("run: {to_reports}{d}"));
                }
                if let Some(seed) = r.seed {
                    out.push(format!("seed: {seed}"));
                }
                if !out.is_empty() {
                    case.set_system_out(out.join("\n"));
                }
                suite.add_test_case(case);
            }
            report.add_test_suite(suite);
        }
    }
    report.to_string().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(test: &str, schedule: &str, rep: u32, code: u8) -> RunOutcome {
        let verdict = match code {
            0 => Some(Validity::Valid),
            1 => Some(Validity::Invalid),
            2 => Some(Validity::Unknown),
            _ => None,
        };
        RunOutcome {
            test: test.into(),
            schedule: schedule.into(),
            repetition: rep,
            verdict,
            exit_code: code,
            run_dir: (code < 3).then(|| format!("{test}/2026120{rep}T000000.000Z")),
            message: (code == 1).then(|| "key 3: read of <script>alert(1)</script> & \"x\"".to_string()),
            seed: Some(rep as u64),
            duration_s: 1.5,
            cell: None,
            missing: false,
        }
    }

    fn result() -> CampaignResult {
        let runs = vec![
            run("etcd", "own", 1, 0),
            run("etcd", "own", 2, 0),
            run("etcd", "partition", 1, 0),
            run("etcd", "partition", 2, 1),
            run("redis<b>", "own", 1, 255),
        ];
        CampaignResult {
            name: "nightly".into(),
            start: "2026-12-02T05:00:00Z".into(),
            duration_s: 60.0,
            schedules: vec!["own".into(), "partition".into()],
            repetitions: 2,
            exit_code: super::super::exit_code(&runs),
            runs,
            interrupted: false,
            matrix: Vec::new(),
            shard: None,
            merged: None,
        }
    }

    #[test]
    fn the_page_has_a_cell_per_test_and_schedule_with_links_to_every_run() {
        let h = html(&result(), "../../../");
        assert!(h.contains("2/2 valid"), "{h}");
        assert!(h.contains("1/2 valid"), "{h}");
        assert!(h.contains("href=\"../../../etcd/20261202T000000.000Z/report.html\""), "{h}");
        assert!(h.contains("an anomaly was found (exit code 1)"), "{h}");
        assert!(!h.contains("<script>") && h.contains("&lt;script&gt;"), "{h}");
        assert!(!h.contains("redis<b>") && h.contains("redis&lt;b&gt;"), "{h}");
    }

    #[test]
    fn the_junit_file_has_a_suite_per_cell_and_a_case_per_repetition() {
        let x = junit(&result(), "reports/");
        assert!(x.contains("<testsuite name=\"etcd × partition\" tests=\"2\""), "{x}");
        assert!(x.contains("failures=\"1\""), "{x}");
        assert!(x.contains("type=\"invalid\""), "{x}");
        assert!(x.contains("type=\"run failed\""), "{x}");
        assert!(x.contains("&lt;script&gt;"), "{x}");
        assert_eq!(x.matches("<testcase ").count(), 5, "{x}");
    }
}
