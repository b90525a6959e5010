//! Issue 5: `report.html` and `junit.xml` from run directories built from synthetic histories
//! (no cluster): sections present for valid and invalid runs, everything from the system under
//! test or the user escaped, junit.xml valid against Jenkins' JUnit schema, `brawl report`
//! re-rendering without re-checking.

mod common;

use std::path::Path;
use std::process::Command;

use brawl::checker::{check_linearizable, stats, Budget, ModelKind, UnknownKey, Validity};
use brawl::history::{Header, HistoryWriter, Op, OpType, Process};
use brawl::run::results::{fault_summary, stats_warnings, RESULTS_VERSION};
use brawl::run::Results;
use serde_json::{json, Value};

const MS: u64 = 1_000_000;

/// Builds a history op by op; times in ms.
#[derive(Default)]
struct H {
    ops: Vec<Op>,
}

impl H {
    fn push(&mut self, t_ms: u64, kind: OpType, process: Option<u64>, f: &str, value: Value) -> &mut Op {
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time: t_ms * MS,
            kind,
            process: process.map_or(Process::Nemesis, Process::Client),
            f: f.into(),
            value,
            node: process.map(|p| format!("n{}", p % 3 + 1)),
            error: None,
        });
        self.ops.last_mut().expect("just pushed")
    }

    /// One client op, invoked at `t` and completed `lat` ms later, before the next one starts.
    /// A read is invoked with `[0, null]`, anything else with its completion's value.
    fn op(&mut self, t: u64, lat: u64, p: u64, f: &str, kind: OpType, done: Value) -> &mut Op {
        let inv = if f == "read" { json!([0, null]) } else { done.clone() };
        self.push(t, OpType::Invoke, Some(p), f, inv);
        self.push(t + lat, kind, Some(p), f, done)
    }

    /// A nemesis op journaled at both ends.
    fn nemesis(&mut self, t: u64, f: &str, done: Value) {
        self.push(t, OpType::Info, None, f, json!(null));
        self.push(t + 2, OpType::Info, None, f, done);
    }
}

/// A sequential register history over 10 s, one op every 20 ms on key 0 (or `key`), with a
/// partition from 3 s to 5 s during which ops fail, and a clock bump; linearizable.
fn sequential(values: &[Value]) -> H {
    let mut h = H::default();
    let mut current = Value::Null;
    let mut n = 0u64;
    for i in 0..500u64 {
        let t = i * 20;
        if t == 3000 {
            h.nemesis(t, "start-partition", json!({"n1": ["n2", "n3"]}));
        }
        if t == 5000 {
            h.nemesis(t, "stop-partition", json!(null));
        }
        if t == 7000 {
            h.nemesis(
                t,
                "bump-clock",
                json!({"clock-offsets-before": {"n1": 0.0}, "clock-offsets": {"n1": 0.25, "n2": null}}),
            );
        }
        let p = i % 4;
        let partitioned = (3100..5000).contains(&t);
        if partitioned {
            let v = values[(n as usize) % values.len()].clone();
            h.op(t + 1, 10, p, "write", OpType::Fail, json!([0, v])).error =
                Some(format!("unavailable: {}", values[0].as_str().unwrap_or("timeout")));
        } else if i % 2 == 0 {
            let v = values[(n as usize) % values.len()].clone();
            n += 1;
            h.op(t + 1, 3 + i % 7, p, "write", OpType::Ok, json!([0, v]));
            current = v;
        } else {
            h.op(t + 1, 2 + i % 5, p, "read", OpType::Ok, json!([0, current]));
        }
    }
    h
}

/// Writes a run directory for `ops` (results computed by the real checkers, as `brawl run` does).
fn run_dir(dir: &Path, test: &str, ops: &[Op], test_yaml: &str, argv: &[&str]) -> Results {
    let mut w =
        HistoryWriter::create(dir.join("history.jsonl"), &Header::new(Some(test.into()), Some(7))).expect("history");
    w.append_batch(ops.iter().cloned()).expect("append");
    w.finish().expect("finish");
    let st = stats(ops);
    let lin = check_linearizable(ops, ModelKind::CasRegister, &Budget::default());
    let results = Results {
        version: RESULTS_VERSION,
        test: test.into(),
        validity: lin.validity.merge(st.validity),
        start: "2026-12-02T05:00:00+00:00".into(),
        duration_s: 12.5,
        seed: 7,
        warnings: stats_warnings(&st),
        linearizable: Some(lin),
        stats: st,
        checkers: Vec::new(),
        history_ops: ops.len() as u64,
        interrupted: false,
        node_logs: vec!["n1/etcd.log".into()],
        faults: fault_summary(ops),
    };
    write_results(dir, &results);
    std::fs::write(dir.join("test.yaml"), test_yaml).expect("test.yaml");
    std::fs::write(dir.join("run.json"), json!({"argv": argv, "seed": 7}).to_string()).expect("run.json");
    results
}

fn write_results(dir: &Path, r: &Results) {
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(r).expect("json")).expect("results.json");
}

const YAML: &str = "name: reg\ncluster: rep\ndb: { etcd: {} }\nworkload: { register: {} }\ntime-limit: 10s\n\
                    concurrency: 4\nslo: { latency: 5ms, target: 99.9% }\n";

/// Every `<svg` and `<figure` is closed; nothing loads from the network (the SVG namespace is
/// the only URL) and no element a report never has (scripts, images, frames) is present.
fn assert_well_formed(html: &str) {
    let lower = html.to_lowercase().replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert_eq!(lower.matches("<svg").count(), lower.matches("</svg>").count());
    assert_eq!(lower.matches("<figure").count(), lower.matches("</figure>").count());
    for bad in ["<script", "<img", "<iframe", "javascript:", "http://", "https://"] {
        let at = lower.find(bad).map(|i| &lower[i.saturating_sub(80)..(i + 80).min(lower.len())]);
        assert!(at.is_none(), "{bad} in the report: {at:?}");
    }
}

#[test]
fn a_valid_run_has_every_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    let values: Vec<Value> = (1..=5).map(|v| json!(v)).collect();
    let h = sequential(&values);
    let r = run_dir(dir.path(), "reg", &h.ops, YAML, &["brawl", "run", "workloads/etcd-register.yaml"]);
    assert_eq!(r.validity, Validity::Valid, "{:?}", r.linearizable);
    let paths = brawl::report::write_run(dir.path()).expect("report");
    let html = std::fs::read_to_string(&paths.report).expect("report.html");
    assert_well_formed(&html);
    assert!(html.contains("id=verdict>valid<"));
    for id in ["checkers", "availability-chart", "latency-scatter", "quantiles-0", "throughput", "clock", "timeline"] {
        assert!(html.contains(&format!("id={id}")) || html.contains(&format!("id=\"{id}\"")), "no #{id}");
    }
    assert!(html.matches("<svg").count() >= 7, "charts: {}", html.matches("<svg").count());
    // The partition is shaded and in the legend; its window is measured.
    assert!(html.contains("partition") && html.contains("fill=\"#E9DCA0\""), "no partition band");
    assert!(html.contains("to first unavailable second") && html.contains("id=unavailable-def"));
    // The SLO from test.yaml, in operators' terms.
    assert!(html.contains("within 5 ms (target 99.9%)"), "no SLO line");
    assert!(html.contains("nines") || html.contains("nine)"));
    // How to reproduce: the command line with the seed.
    assert!(html.contains("brawl run workloads/etcd-register.yaml --seed 7"));
    assert!(html.contains("href=\"./n1/etcd.log\"") && html.contains("href=\"./history.jsonl\""));
    assert!(!html.contains("id=anomalies"));
}

#[test]
fn an_invalid_run_explains_the_anomaly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let values: Vec<Value> = (1..=5).map(|v| json!(v)).collect();
    let mut h = sequential(&values);
    // A stale read at the end: 99 was never written.
    h.op(10_500, 3, 0, "read", OpType::Ok, json!([0, 99]));
    let r = run_dir(dir.path(), "reg", &h.ops, YAML, &["brawl", "run", "t.yaml"]);
    assert_eq!(r.validity, Validity::Invalid);
    brawl::report::write_run(dir.path()).expect("report");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert_well_formed(&html);
    assert!(html.contains("id=verdict>invalid<"));
    assert!(html.contains("id=anomalies") && html.contains("key 0: not linearizable"));
    assert!(html.contains("<svg class=\"anomaly\""), "no anomaly timeline");
    assert!(html.contains("[0,99]"));
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");
    assert!(xml.contains("<failure") && xml.contains("not linearizable"), "{xml}");
}

#[test]
fn strings_from_the_system_and_the_user_are_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let evil = ["<script>alert(\"x\")</script>", "a & b 'q' \"dq\"", "</pre><img src=x onerror=alert(1)>"];
    let values: Vec<Value> = evil.iter().map(|s| json!(s)).collect();
    let mut h = sequential(&values);
    // A read of a value never written: the anomaly section quotes it.
    h.op(10_500, 3, 0, "read", OpType::Ok, json!([0, "<script>never()</script>"])).node = Some("<b>n1</b>".into());
    let yaml = format!("{YAML}# <script>alert('yaml')</script> & more\n");
    run_dir(dir.path(), "reg", &h.ops, &yaml, &["brawl", "run", "<script>argv()</script>"]);
    brawl::report::write_run(dir.path()).expect("report");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert_well_formed(&html);
    assert!(!html.contains("<b>n1"));
    assert!(html.contains("&lt;script&gt;never()&lt;/script&gt;"), "value not shown escaped");
    assert!(html.contains("&lt;script&gt;alert(&#39;yaml&#39;)&lt;/script&gt; &amp; more"), "yaml not escaped");
    assert!(html.contains("&lt;script&gt;argv()&lt;/script&gt;"), "argv not escaped");
    assert!(html.contains("&amp; b"), "ampersand not escaped");
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");
    assert!(!xml.contains("<script") && xml.contains("&lt;script&gt;never()"), "{xml}");
    validate_junit(&dir.path().join("junit.xml"));
}

fn validate_junit(path: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit/junit-10.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(path)
        .output()
        .expect("xmllint runs (Debian package libxml2-utils, installed by .ci/setup)");
    assert!(
        out.status.success(),
        "{} does not validate against junit-10.xsd:\n{}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(path).unwrap_or_default()
    );
}

#[test]
fn junit_validates_against_the_jenkins_schema_for_every_verdict() {
    let values: Vec<Value> = (1..=5).map(|v| json!(v)).collect();
    // Valid.
    let dir = tempfile::tempdir().expect("tempdir");
    run_dir(dir.path(), "reg", &sequential(&values).ops, YAML, &["brawl"]);
    brawl::report::write_run(dir.path()).expect("report");
    validate_junit(&dir.path().join("junit.xml"));
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");
    assert!(xml.contains("<testcase name=\"linearizable\"") && xml.contains("<testcase name=\"stats\""), "{xml}");
    assert!(!xml.contains("<failure") && !xml.contains("<error"), "{xml}");
    // Invalid.
    let mut h = sequential(&values);
    h.op(10_500, 3, 0, "read", OpType::Ok, json!([0, 99]));
    let dir = tempfile::tempdir().expect("tempdir");
    run_dir(dir.path(), "reg", &h.ops, YAML, &["brawl"]);
    brawl::report::write_run(dir.path()).expect("report");
    validate_junit(&dir.path().join("junit.xml"));
    // Unknown: an error of type unknown, with the reason.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut r = run_dir(dir.path(), "reg", &sequential(&values).ops, YAML, &["brawl"]);
    let lin = r.linearizable.as_mut().expect("register run");
    lin.validity = Validity::Unknown;
    lin.unknown_keys.push(UnknownKey { key: json!(0), reason: "time budget exhausted".into() });
    r.validity = Validity::Unknown;
    write_results(dir.path(), &r);
    brawl::report::write_run(dir.path()).expect("report");
    validate_junit(&dir.path().join("junit.xml"));
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");
    assert!(
        xml.contains("<error") && xml.contains("type=\"unknown\"") && xml.contains("time budget exhausted"),
        "{xml}"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert!(html.contains("id=verdict>unknown<") && html.contains("time budget exhausted"));
}

#[test]
fn brawl_report_rerenders_without_rechecking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let values: Vec<Value> = (1..=5).map(|v| json!(v)).collect();
    let mut r = run_dir(dir.path(), "reg", &sequential(&values).ops, YAML, &["brawl"]);
    // results.json says invalid although the history is fine: the report must say what the
    // stored verdict says, proving it did not check again.
    r.validity = Validity::Invalid;
    write_results(dir.path(), &r);
    let before = std::fs::read(dir.path().join("results.json")).expect("results");
    let out = common::brawl(&["report", dir.path().to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
    assert!(html.contains("id=verdict>invalid<"));
    assert!(dir.path().join("junit.xml").is_file());
    assert_eq!(std::fs::read(dir.path().join("results.json")).expect("results"), before);
    // Not a run directory: bad input.
    let out = common::brawl(&["report", "/nonexistent-run-dir"]);
    assert_eq!(out.status.code(), Some(254), "{}", common::text(&out));
    assert!(common::text(&out).contains("not a run directory"));
}
