//! Issue 11: report.html and junit.xml render every `Results.checkers` outcome (valid, invalid
//! and unknown) from a run directory: a verdict row per checker, anomalies with the ops involved,
//! capped per class, values from the system under test escaped, bank's totals as a chart,
//! set-full's latency quantiles as a table, and junit.xml valid against Jenkins' schema.

use std::path::Path;
use std::process::Command;

use brawl::checker::{
    bank, check_linearizable, counter, set, set_full, stats, Budget, CheckOutcome, ModelKind, Validity,
};
use brawl::history::{Header, HistoryWriter, Op, OpType, Process};
use brawl::run::results::{fault_summary, RESULTS_VERSION};
use brawl::run::Results;
use serde_json::{json, Value};

const EVIL: &str = "<script>alert(1)</script>";

fn op(ops: &mut Vec<Op>, p: u64, kind: OpType, f: &str, value: Value) {
    let index = ops.len() as u64;
    ops.push(Op {
        index,
        time: index * 5_000_000,
        kind,
        process: Process::Client(p),
        f: f.into(),
        value,
        node: Some("n1".into()),
        error: None,
    });
}

/// Adds of 0..30 (ok) and of `EVIL` (ok), reads along the way, and a final read that lost 0..25
/// and holds an element never added.
fn set_history() -> Vec<Op> {
    let mut ops = Vec::new();
    for v in 0..30 {
        op(&mut ops, 1, OpType::Invoke, "add", json!(v));
        op(&mut ops, 1, OpType::Ok, "add", json!(v));
        op(&mut ops, 2, OpType::Invoke, "read", json!(null));
        op(&mut ops, 2, OpType::Ok, "read", json!((0..=v).collect::<Vec<_>>()));
    }
    op(&mut ops, 1, OpType::Invoke, "add", json!(EVIL));
    op(&mut ops, 1, OpType::Ok, "add", json!(EVIL));
    op(&mut ops, 2, OpType::Invoke, "read", json!(null));
    op(&mut ops, 2, OpType::Ok, "read", json!([25, 26, 27, 28, 29, EVIL, "<b>never</b>"]));
    ops
}

fn bank_outcome() -> CheckOutcome {
    let mut ops = Vec::new();
    for i in 0..10 {
        op(&mut ops, 1, OpType::Invoke, "transfer", json!({"from": "a", "to": "b", "amount": 1}));
        op(&mut ops, 1, OpType::Ok, "transfer", json!({"from": "a", "to": "b", "amount": 1}));
        op(&mut ops, 2, OpType::Invoke, "read", json!(null));
        op(&mut ops, 2, OpType::Ok, "read", json!({"a": 50 - i - 1, "b": 50 + i + 1}));
    }
    bank::check(&ops, &bank::Options { total: Some(100), ..bank::Options::default() }).expect("a bank history")
}

fn counter_outcome() -> CheckOutcome {
    let mut ops = Vec::new();
    op(&mut ops, 1, OpType::Invoke, "add", json!(1));
    op(&mut ops, 1, OpType::Ok, "add", json!(1));
    op(&mut ops, 1, OpType::Invoke, "read", json!(null));
    op(&mut ops, 1, OpType::Ok, "read", json!(1));
    counter::check(&ops, &counter::Options::default()).expect("a counter history")
}

fn run_dir(dir: &Path, ops: &[Op], checkers: Vec<CheckOutcome>) -> Results {
    let mut w =
        HistoryWriter::create(dir.join("history.jsonl"), &Header::new(Some("sets".into()), Some(3))).expect("history");
    w.append_batch(ops.iter().cloned()).expect("append");
    w.finish().expect("finish");
    let st = stats(ops);
    let lin = check_linearizable(&[], ModelKind::CasRegister, &Budget::default());
    let validity = checkers.iter().fold(lin.validity.merge(st.validity), |v, o| v.merge(o.validity));
    let results = Results {
        version: RESULTS_VERSION,
        test: "sets".into(),
        validity,
        start: "2026-12-02T05:00:00+00:00".into(),
        duration_s: 1.0,
        seed: 3,
        warnings: Vec::new(),
        linearizable: Some(lin),
        stats: st,
        checkers,
        history_ops: ops.len() as u64,
        interrupted: false,
        node_logs: Vec::new(),
        faults: fault_summary(ops),
    };
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&results).expect("json")).expect("results");
    results
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
    assert!(out.status.success(), "junit.xml does not validate:\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn issue_11_outcomes_render_escaped_with_charts_and_junit_cases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ops = set_history();
    let set = set::check(&ops, &set::Options::default()).expect("a set history");
    assert_eq!(set.validity, Validity::Invalid);
    assert_eq!(set.anomaly_types, ["lost", "unexpected"]);
    let full = set_full::check(&ops, &set_full::Options::default()).expect("a set-full history");
    assert_eq!(full.validity, Validity::Invalid, "{full:#?}");
    let never = CheckOutcome::new("unique-ids", Validity::Unknown, "nothing generated <yet>");
    let bank = bank_outcome();
    assert_eq!(bank.validity, Validity::Valid, "{bank:#?}");
    let outcomes = vec![set, full, bank, counter_outcome(), never];
    let r = run_dir(dir.path(), &ops, outcomes);
    assert_eq!(r.validity, Validity::Invalid);
    brawl::report::write_run(dir.path()).expect("report");
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");

    // Verdict rows beside linearizable and stats, linking to each section.
    for (i, (name, v)) in [
        ("set", "invalid"),
        ("set-full", "invalid"),
        ("bank", "valid"),
        ("counter", "valid"),
        ("unique-ids", "unknown"),
    ]
    .iter()
    .enumerate()
    {
        let row = format!("<tr><td><a href=\"#outcome-{i}\">{name}</a></td><td class={v}>{v}</td>");
        assert!(html.contains(&row), "no verdict row {row}");
        assert!(html.contains(&format!("id=\"outcome-{i}\"")), "no section {i}");
    }
    // Lost elements: 25 of them, 20 shown, the rest counted; the ops involved are quoted.
    assert!(html.contains("<h4>lost (25)</h4>"), "no lost class");
    assert!(html.contains("and 5 more lost anomalies"));
    assert!(html.contains("p1 ok add 0 on n1"), "the add of a lost element is not shown");
    // Escaped everywhere: the unexpected element, the added element, the summary.
    assert!(!html.contains("<script") && !html.contains("<b>never"), "unescaped value in the report");
    assert!(html.contains("&lt;b&gt;never&lt;/b&gt;"));
    assert!(html.contains("nothing generated &lt;yet&gt;"));
    // Well formed: what opens closes, and nothing loads or runs.
    for (open, close) in [("<svg", "</svg>"), ("<details", "</details>"), ("<ol", "</ol>"), ("<section", "</section>")]
    {
        assert_eq!(html.matches(open).count(), html.matches(close).count(), "{open} not closed");
    }
    assert!(!html.contains("<img") && !html.contains("https://"));
    // Charts and tables.
    assert!(html.contains("id=\"bank-totals-2\"><svg"), "no bank chart");
    assert!(html.contains("<table class=latencies>") && html.contains("<td>stable</td>"), "no latency table");

    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit.xml");
    validate_junit(&dir.path().join("junit.xml"));
    for name in ["set", "set-full", "bank", "counter", "unique-ids"] {
        assert!(xml.contains(&format!("<testcase name=\"{name}\"")), "no test case {name}: {xml}");
    }
    assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
    assert_eq!(xml.matches("<error").count(), 1, "{xml}");
    assert!(!xml.contains("<script") && xml.contains("&lt;b&gt;never"), "{xml}");
}
