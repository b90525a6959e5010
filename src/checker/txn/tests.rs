//! Table-driven tests of the transactional checker: for every anomaly, a small history that must
//! show it (and nothing it does not imply) and its twin without it.

use serde_json::{json, Value};

use super::{check, Model, Options};
use crate::checker::{CheckOutcome, Validity};
use crate::history::{Op, OpType, Process};

/// A history from `(process, type, value)` triples, indexed in order.
fn h(events: &[(u64, &str, Value)]) -> Vec<Op> {
    events
        .iter()
        .enumerate()
        .map(|(i, (p, kind, value))| Op {
            index: i as u64,
            time: i as u64,
            kind: match *kind {
                "invoke" => OpType::Invoke,
                "ok" => OpType::Ok,
                "fail" => OpType::Fail,
                _ => OpType::Info,
            },
            process: Process::Client(*p),
            f: "txn".into(),
            value: value.clone(),
            node: None,
            error: None,
        })
        .collect()
}

/// Ok-only history: one process per txn, so no process or realtime order.
fn oks(txns: &[Value]) -> Vec<Op> {
    let ev: Vec<(u64, &str, Value)> = txns.iter().enumerate().map(|(i, v)| (i as u64, "ok", v.clone())).collect();
    h(&ev)
}

fn opts(model: Model, models: &[&str]) -> Options {
    Options { model, consistency_models: models.iter().map(|m| m.to_string()).collect(), ..Default::default() }
}

fn run(ops: &[Op], model: Model, models: &[&str]) -> CheckOutcome {
    check(ops, &opts(model, models)).expect("the history fits the model")
}

/// Expects exactly `types` (sorted) and the matching validity.
fn expect(o: &CheckOutcome, types: &[&str]) {
    assert_eq!(o.anomaly_types, types, "{}", serde_json::to_string_pretty(o).unwrap_or_default());
    let want = if types.is_empty() { Validity::Valid } else { Validity::Invalid };
    assert_eq!(o.validity, want, "{}", o.summary);
}

const LA: Model = Model::ListAppend;
const RW: Model = Model::RwRegister;
const SS: &[&str] = &["strict-serializable"];

/// (name, history that shows it, its twin, anomaly types of the first).
fn list_append_table() -> Vec<(&'static str, Vec<Value>, Vec<Value>, Vec<&'static str>)> {
    vec![
        (
            "G0: write cycle",
            vec![
                json!([["append", "x", 1], ["append", "y", 1]]),
                json!([["append", "x", 2], ["append", "y", 2]]),
                json!([["r", "x", [1, 2]], ["r", "y", [2, 1]]]),
            ],
            vec![
                json!([["append", "x", 1], ["append", "y", 1]]),
                json!([["append", "x", 2], ["append", "y", 2]]),
                json!([["r", "x", [1, 2]], ["r", "y", [1, 2]]]),
            ],
            vec!["G0"],
        ),
        (
            "G1c: circular information flow",
            vec![json!([["append", "x", 1], ["r", "y", [1]]]), json!([["append", "y", 1], ["r", "x", [1]]])],
            vec![json!([["append", "x", 1], ["r", "y", []]]), json!([["append", "y", 1], ["r", "x", [1]]])],
            vec!["G1c"],
        ),
        (
            "G-single: read skew",
            vec![
                json!([["append", "x", 1], ["append", "y", 1]]),
                json!([["r", "x", [1]], ["r", "y", []]]),
                json!([["r", "y", [1]]]),
            ],
            vec![
                json!([["append", "x", 1], ["append", "y", 1]]),
                json!([["r", "x", [1]], ["r", "y", [1]]]),
                json!([["r", "y", [1]]]),
            ],
            vec!["G-single"],
        ),
        (
            "G2-item: write skew",
            vec![
                json!([["r", "x", []], ["append", "y", 1]]),
                json!([["r", "y", []], ["append", "x", 1]]),
                json!([["r", "x", [1]], ["r", "y", [1]]]),
            ],
            vec![
                json!([["r", "x", []], ["append", "y", 1]]),
                json!([["r", "y", [1]], ["append", "x", 1]]),
                json!([["r", "x", [1]], ["r", "y", [1]]]),
            ],
            vec!["G2-item"],
        ),
        (
            "G-nonadjacent: two rw edges, never adjacent",
            vec![
                json!([["r", "a", []], ["r", "d", [1]]]),
                json!([["append", "a", 1], ["append", "b", 1]]),
                json!([["r", "b", [1]], ["r", "c", []]]),
                json!([["append", "c", 1], ["append", "d", 1]]),
                json!([["r", "a", [1]], ["r", "c", [1]]]),
            ],
            vec![
                json!([["r", "a", []], ["r", "d", [1]]]),
                json!([["append", "a", 1], ["append", "b", 1]]),
                json!([["r", "b", [1]], ["r", "c", [1]]]),
                json!([["append", "c", 1], ["append", "d", 1]]),
                json!([["r", "a", [1]], ["r", "c", [1]]]),
            ],
            vec!["G-nonadjacent"],
        ),
        (
            "G1b: intermediate read",
            vec![
                json!([["append", "x", 1], ["append", "x", 2]]),
                json!([["r", "x", [1]]]),
                json!([["r", "x", [1, 2]]]),
            ],
            vec![
                json!([["append", "x", 1], ["append", "x", 2]]),
                json!([["r", "x", [1, 2]]]),
                json!([["r", "x", [1, 2]]]),
            ],
            // The reader saw 1 but not 2, both the writer's: rw and wr edges both ways.
            vec!["G-single", "G1b"],
        ),
        (
            "internal: a read that misses the txn's own append",
            vec![json!([["append", "x", 1], ["r", "x", []]])],
            vec![json!([["append", "x", 1], ["r", "x", [1]]])],
            vec!["internal"],
        ),
        (
            "future-read: a read of the txn's own later append",
            vec![json!([["r", "x", [1]], ["append", "x", 1]])],
            vec![json!([["r", "x", []], ["append", "x", 1]])],
            vec!["future-read"],
        ),
        (
            "duplicate-elements",
            vec![json!([["append", "x", 1]]), json!([["r", "x", [1, 1]]])],
            vec![json!([["append", "x", 1]]), json!([["r", "x", [1]]])],
            vec!["duplicate-elements"],
        ),
        (
            "incompatible-order",
            vec![
                json!([["append", "x", 1]]),
                json!([["append", "x", 2]]),
                json!([["r", "x", [1, 2]]]),
                json!([["r", "x", [2, 1]]]),
            ],
            vec![
                json!([["append", "x", 1]]),
                json!([["append", "x", 2]]),
                json!([["r", "x", [1, 2]]]),
                json!([["r", "x", [1]]]),
            ],
            vec!["incompatible-order"],
        ),
        (
            "lost-update (a G-single too)",
            vec![
                json!([["r", "x", []], ["append", "x", 1]]),
                json!([["r", "x", []], ["append", "x", 2]]),
                json!([["r", "x", [1, 2]]]),
            ],
            vec![
                json!([["r", "x", []], ["append", "x", 1]]),
                json!([["r", "x", [1]], ["append", "x", 2]]),
                json!([["r", "x", [1, 2]]]),
            ],
            vec!["G-single", "lost-update"],
        ),
        (
            "garbage-read: a value nobody appended",
            vec![json!([["r", "x", [5]]]), json!([["append", "x", 6]])],
            vec![json!([["r", "x", [5]]]), json!([["append", "x", 5]])],
            vec!["garbage-read"],
        ),
    ]
}

#[test]
fn list_append_anomalies_and_their_twins() {
    for (name, bad, good, types) in list_append_table() {
        let o = run(&oks(&bad), LA, SS);
        assert_eq!(o.anomaly_types, types, "{name}: {}", serde_json::to_string_pretty(&o).unwrap_or_default());
        assert_eq!(o.validity, Validity::Invalid, "{name}");
        assert!(!o.not.is_empty(), "{name}: `not` is set");
        for t in &types {
            for a in &o.anomalies[*t] {
                assert!(!a.explanation.is_empty() && !a.ops.is_empty() || *t == "duplicate-elements", "{name}: {a:?}");
            }
        }
        let o = run(&oks(&good), LA, SS);
        expect(&o, &[]);
    }
}

#[test]
fn aborted_reads_and_dirty_updates_need_failed_txns() {
    // G1a: an ok read sees a failed append.
    let ops = h(&[(0, "fail", json!([["append", "x", 1]])), (1, "ok", json!([["r", "x", [1]]]))]);
    expect(&run(&ops, LA, SS), &["G1a"]);
    let ops = h(&[(0, "ok", json!([["append", "x", 1]])), (1, "ok", json!([["r", "x", [1]]]))]);
    expect(&run(&ops, LA, SS), &[]);
    // An info append may have committed: reading it is fine.
    let ops = h(&[(0, "info", json!([["append", "x", 1]])), (1, "ok", json!([["r", "x", [1]]]))]);
    expect(&run(&ops, LA, SS), &[]);
    // dirty-update: a committed append follows a failed one.
    let ops = h(&[
        (0, "fail", json!([["append", "x", 1]])),
        (1, "ok", json!([["append", "x", 2]])),
        (2, "ok", json!([["r", "x", [1, 2]]])),
    ]);
    expect(&run(&ops, LA, SS), &["G1a", "dirty-update"]);
}

#[test]
fn g_single_explanation_names_both_steps() {
    let (_, bad, _, _) = list_append_table().into_iter().find(|t| t.0.starts_with("G-single")).expect("row");
    let o = run(&oks(&bad), LA, SS);
    let a = &o.anomalies["G-single"][0];
    assert_eq!(a.cycle.len(), 2, "{a:?}");
    let kinds: Vec<&str> = a.cycle.iter().map(|s| s.kind.as_str()).collect();
    assert!(kinds.contains(&"rw") && kinds.contains(&"wr"), "{kinds:?}");
    assert_eq!(a.cycle[0].to, a.cycle[1].from);
    assert_eq!(a.cycle[1].to, a.cycle[0].from);
    let why: Vec<&str> = a.cycle.iter().map(|s| s.why.as_str()).collect();
    assert!(why.iter().any(|w| w.contains("read T") && w.contains("'s append of 1 to key \"x\"")), "{why:?}");
    assert!(why.iter().any(|w| w.contains("which did not yet have") && w.contains("\"y\"")), "{why:?}");
    assert!(
        a.explanation.contains("exactly one anti-dependency") && a.explanation.ends_with("G-single."),
        "{}",
        a.explanation
    );
    assert_eq!(a.data["txns"].as_array().map(Vec::len), Some(2));
    assert!(o.not.contains(&"consistent-view".to_string()), "{:?}", o.not);
    assert!(o.also_not.contains(&"snapshot-isolation".to_string()) && o.also_not.contains(&"serializable".to_string()));
}

#[test]
fn models_decide_what_is_reported() {
    let row = |p: &str| list_append_table().into_iter().find(|t| t.0.starts_with(p)).expect("row").1;
    // Write skew is allowed by snapshot isolation, forbidden by serializable.
    expect(&run(&oks(&row("G2-item")), LA, &["snapshot-isolation"]), &[]);
    expect(&run(&oks(&row("G2-item")), LA, &["serializable"]), &["G2-item"]);
    expect(&run(&oks(&row("G2-item")), LA, &["repeatable-read"]), &["G2-item"]);
    // G-nonadjacent breaks snapshot isolation; read committed allows it and G-single.
    expect(&run(&oks(&row("G-nonadjacent")), LA, &["snapshot-isolation"]), &["G-nonadjacent"]);
    expect(&run(&oks(&row("G-nonadjacent")), LA, &["read-committed"]), &[]);
    expect(&run(&oks(&row("G-single")), LA, &["read-committed"]), &[]);
    expect(&run(&oks(&row("G-single")), LA, &["repeatable-read"]), &["G-single"]);
    // G1c breaks read committed but not read uncommitted.
    expect(&run(&oks(&row("G1c")), LA, &["read-committed"]), &["G1c"]);
    expect(&run(&oks(&row("G1c")), LA, &["read-uncommitted"]), &[]);
    expect(&run(&oks(&row("G0")), LA, &["read-uncommitted"]), &["G0"]);
    // --anomalies adds a class the models would not look for.
    let mut o = opts(LA, &["read-committed"]);
    o.anomalies = vec!["G2-item".into()];
    let r = check(&oks(&row("G2-item")), &o).expect("fits");
    assert_eq!(r.anomaly_types, ["G2-item"]);
}

#[test]
fn realtime_and_process_variants() {
    // T0 appends and completes; T1 begins afterwards and misses it: a stale read.
    let stale = |p1: u64| {
        h(&[
            (0, "invoke", json!([["append", "x", 1]])),
            (0, "ok", json!([["append", "x", 1]])),
            (p1, "invoke", json!([["r", "x", null]])),
            (p1, "ok", json!([["r", "x", []]])),
            (5, "invoke", json!([["r", "x", null]])),
            (5, "ok", json!([["r", "x", [1]]])),
        ])
    };
    expect(&run(&stale(1), LA, SS), &["G-single-realtime"]);
    expect(&run(&stale(1), LA, &["serializable"]), &[]);
    expect(&run(&stale(0), LA, &["strong-session-serializable"]), &["G-single-process"]);
    expect(&run(&stale(1), LA, &["strong-session-serializable"]), &[]);
    let o = run(&stale(1), LA, SS);
    assert_eq!(o.not, ["strong-snapshot-isolation"], "{:?}", o.not);
    assert_eq!(o.also_not, ["strict-serializable"], "{:?}", o.also_not);
    let a = &o.anomalies["G-single-realtime"][0];
    assert!(a.cycle.iter().any(|s| s.kind == "realtime" && s.why.contains("completed before")), "{a:?}");
    // The twin: the read begins before the append completes, so it may precede it.
    let concurrent = h(&[
        (0, "invoke", json!([["append", "x", 1]])),
        (1, "invoke", json!([["r", "x", null]])),
        (0, "ok", json!([["append", "x", 1]])),
        (1, "ok", json!([["r", "x", []]])),
        (5, "invoke", json!([["r", "x", null]])),
        (5, "ok", json!([["r", "x", [1]]])),
    ]);
    expect(&run(&concurrent, LA, SS), &[]);
}

#[test]
fn an_invoke_that_never_completes_may_have_committed() {
    let ops = h(&[
        (0, "invoke", json!([["append", "x", 1]])),
        (1, "invoke", json!([["r", "x", null]])),
        (1, "ok", json!([["r", "x", [1]]])),
    ]);
    expect(&run(&ops, LA, SS), &[]);
}

#[test]
fn rw_register_anomalies_and_their_twins() {
    let cases: Vec<(&str, Vec<Value>, Vec<Value>, Vec<&str>)> = vec![
        (
            "G1c",
            vec![json!([["w", "x", 1], ["r", "y", 1]]), json!([["w", "y", 1], ["r", "x", 1]])],
            vec![json!([["w", "x", 1], ["r", "y", null]]), json!([["w", "y", 1], ["r", "x", 1]])],
            vec!["G1c"],
        ),
        (
            "G2-item: write skew from the initial state",
            vec![json!([["r", "x", null], ["w", "y", 1]]), json!([["r", "y", null], ["w", "x", 1]])],
            vec![json!([["r", "x", null], ["w", "y", 1]]), json!([["r", "y", 1], ["w", "x", 1]])],
            vec!["G2-item"],
        ),
        (
            "G1b",
            vec![json!([["w", "x", 1], ["w", "x", 2]]), json!([["r", "x", 1]])],
            vec![json!([["w", "x", 1], ["w", "x", 2]]), json!([["r", "x", 2]])],
            vec!["G1b"],
        ),
        (
            "internal",
            vec![json!([["w", "x", 1], ["r", "x", 2]]), json!([["w", "x", 2]])],
            vec![json!([["w", "x", 1], ["r", "x", 1]]), json!([["w", "x", 2]])],
            vec!["internal"],
        ),
        (
            "garbage-read (Elle skips it)",
            vec![json!([["r", "x", 3]]), json!([["w", "x", 1]])],
            vec![json!([["r", "x", 1]]), json!([["w", "x", 1]])],
            vec!["garbage-read"],
        ),
        (
            "lost-update",
            vec![json!([["r", "x", null], ["w", "x", 1]]), json!([["r", "x", null], ["w", "x", 2]])],
            vec![json!([["r", "x", null], ["w", "x", 1]]), json!([["r", "x", 1], ["w", "x", 2]])],
            vec!["G2-item", "lost-update"],
        ),
    ];
    for (name, bad, good, types) in cases {
        let o = run(&oks(&bad), RW, SS);
        assert_eq!(o.anomaly_types, types, "{name}: {}", serde_json::to_string_pretty(&o).unwrap_or_default());
        assert_eq!(o.validity, Validity::Invalid, "{name}");
        expect(&run(&oks(&good), RW, SS), &[]);
    }
    let ops = h(&[(0, "fail", json!([["w", "x", 1]])), (1, "ok", json!([["r", "x", 1]]))]);
    expect(&run(&ops, RW, SS), &["G1a"]);
}

#[test]
fn rw_register_version_sources() {
    // Writes follow reads: T0 read 1 then wrote 2, T1 read 2 then wrote 1: cyclic.
    let ops = oks(&[
        json!([["w", "x", 1]]),
        json!([["r", "x", 1], ["w", "x", 2]]),
        json!([["r", "x", 2], ["w", "x", 3]]),
        json!([["r", "x", 3], ["r", "y", null]]),
        json!([["w", "y", 1], ["r", "x", 1]]),
    ]);
    // Without a source the versions of x are unordered beyond nil: nothing to see.
    expect(&run(&ops, RW, &["serializable"]), &[]);
    let mut o = opts(RW, &["serializable"]);
    o.writes_follow_reads = true;
    // Now 1 < 2 < 3: op 4 read x = 1 after op 3 saw 3 ... and op 3 missed y = 1.
    let r = check(&ops, &o).expect("fits");
    assert_eq!(r.validity, Validity::Invalid, "{}", serde_json::to_string_pretty(&r).unwrap_or_default());
    let cyclic = oks(&[json!([["r", "x", 1], ["w", "x", 2]]), json!([["r", "x", 2], ["w", "x", 1]])]);
    let r = check(&cyclic, &o).expect("fits");
    assert!(r.anomaly_types.contains(&"cyclic-versions".to_string()), "{:?}", r.anomaly_types);
}

#[test]
fn a_history_of_the_other_model_is_refused_naming_the_first_op() {
    let la = oks(&[json!([["r", "x", []]]), json!([["append", "x", 1]])]);
    let e = check(&la, &opts(RW, SS)).expect_err("list-append is not rw-register");
    assert_eq!(e.index, 0, "{e}");
    assert!(e.to_string().contains("rw-register"), "{e}");
    let la2 = oks(&[json!([["append", "x", 1]])]);
    assert_eq!(check(&la2, &opts(RW, SS)).expect_err("append").index, 0);
    let rw = oks(&[json!([["r", "x", null]]), json!([["w", "x", 1]])]);
    let e = check(&rw, &opts(LA, SS)).expect_err("rw-register is not list-append");
    assert!(e.index <= 1 && e.to_string().contains("list-append"), "{e}");
    let e = check(&oks(&[json!([["append", "x", 1]]), json!([["w", "x", 1]])]), &opts(LA, SS)).expect_err("w");
    assert_eq!(e.index, 1, "{e}");
    let e = check(&oks(&[json!({"a": 1})]), &opts(LA, SS)).expect_err("not a txn");
    assert!(e.expected.contains("array of micro-ops"), "{e}");
}

#[test]
fn empty_and_failed_only_histories_are_unknown() {
    assert_eq!(run(&[], LA, SS).validity, Validity::Unknown);
    let ops = h(&[(0, "fail", json!([["append", "x", 1]]))]);
    assert_eq!(run(&ops, LA, SS).validity, Validity::Unknown);
}

#[test]
fn duplicate_appends_make_the_verdict_unknown() {
    let o = run(&oks(&[json!([["append", "x", 1]]), json!([["append", "x", 1]])]), LA, SS);
    assert_eq!(o.validity, Validity::Unknown);
    assert!(o.summary.contains("duplicate-appends"), "{}", o.summary);
}

mod files {
    use std::io::Write;

    use super::super::{check_bytes, check_file, TxnError};
    use super::*;

    fn file(text: &str, ext: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(ext).tempfile().expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    fn check_text(text: &str, ext: &str, model: Model) -> Result<CheckOutcome, TxnError> {
        let f = file(text, ext);
        check_file(f.path(), &opts(model, SS))
    }

    const G_SINGLE_EDN: &str = "; read skew\n\
        {:type :invoke, :f :txn, :value [[:append :x 1] [:append :y 1]], :process 0, :index 0}\n\
        {:type :ok, :f :txn, :value [[:append :x 1] [:append :y 1]], :process 0, :index 1}\n\
        {:type :info, :f :start-partition, :value [:isolated {\"n1\" #{\"n2\"}}], :process :nemesis, :index 2}\n\
        {:type :ok, :f :txn, :value [[:r :x [1]] [:r :y []]], :process 1, :index 3}\n\
        {:type :ok, :f :txn, :value [[:r :y [1]]], :process 2, :index 4}\n";

    #[test]
    fn a_history_in_memory_reads_as_its_file_does() {
        let from_file = check_text(G_SINGLE_EDN, ".edn", LA).expect("file");
        let from_bytes = check_bytes(G_SINGLE_EDN.as_bytes(), std::path::Path::new("h.edn"), &opts(LA, SS));
        assert_eq!(from_bytes.expect("bytes"), from_file);
        let bad = "{:type :ok, :f :txn, :value [[:append :x 1]], :process 0}\n{:type :ok, :f :txn, :value [[:r :x}\n";
        let e = check_bytes(bad.as_bytes(), std::path::Path::new("h.edn"), &opts(LA, SS)).expect_err("refused");
        assert!(e.to_string().starts_with("h.edn:2:"), "{e}");
    }

    #[test]
    fn every_layout_gives_the_same_verdict() {
        let per_line = check_text(G_SINGLE_EDN, ".edn", LA).expect("edn");
        assert_eq!(per_line.anomaly_types, ["G-single"], "{}", per_line.summary);
        let vector = format!("[{}]", G_SINGLE_EDN.replace('\n', "\n  "));
        assert_eq!(check_text(&vector, ".edn", LA).expect("vector").anomaly_types, ["G-single"]);
        let list = format!("({})", G_SINGLE_EDN);
        assert_eq!(check_text(&list, ".edn", LA).expect("list").anomaly_types, ["G-single"]);
        let json = r#"[{"index":0,"process":0,"type":"ok","value":[["append","x",1],["append","y",1]]},
 {"type":"ok","f":"txn","value":[["r","x",[1]],["r","y",[]]],"process":1,"index":1},
 {"value":[["r","y",[1]]],"type":"ok","process":2}]"#;
        assert_eq!(check_text(json, ".json", LA).expect("json").anomaly_types, ["G-single"]);
        let jsonl = "{\"brawl-history\":1,\"test\":\"t\"}\n\
            {\"index\":0,\"time\":1,\"type\":\"ok\",\"process\":0,\"f\":\"txn\",\"value\":[[\"append\",5,1],[\"append\",6,1]]}\n\
            {\"index\":1,\"time\":2,\"type\":\"ok\",\"process\":1,\"f\":\"txn\",\"value\":[[\"r\",5,[1]],[\"r\",6,[]]],\"node\":\"n1\"}\n\
            {\"index\":2,\"time\":3,\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"kill\",\"value\":null}\n\
            {\"index\":3,\"time\":4,\"type\":\"ok\",\"process\":2,\"f\":\"txn\",\"value\":[[\"r\",6,[1]]]}\n";
        let o = check_text(jsonl, ".jsonl", LA).expect("jsonl");
        assert_eq!(o.anomaly_types, ["G-single"]);
        assert_eq!(o.anomalies["G-single"][0].ops.iter().copied().max(), Some(1), "op indices come from the file");
    }

    #[test]
    fn the_file_path_agrees_with_the_ops_path() {
        for (name, bad, good, _) in list_append_table() {
            for txns in [bad, good] {
                let ops = oks(&txns);
                let text: String = ops.iter().map(|o| serde_json::to_string(o).expect("json") + "\n").collect();
                let from_file = check_text(&text, ".jsonl", LA).expect("reads");
                let from_ops = run(&ops, LA, SS);
                assert_eq!(from_file.anomaly_types, from_ops.anomaly_types, "{name}");
                assert_eq!(from_file.validity, from_ops.validity, "{name}");
            }
        }
    }

    #[test]
    fn errors_name_the_line_and_what_was_expected() {
        let bad = "{:type :ok, :value [[:append 1 1]], :process 0}\n{:type :ok, :value [[:append 1 2]], :process 0\n";
        match check_text(bad, ".edn", LA) {
            Err(TxnError::Parse { line, expected, .. }) => {
                assert!(line >= 2 && expected.contains("rest of the op"), "{line} {expected}")
            }
            other => panic!("{other:?}"),
        }
        let bad = "{:type :ok, :value [[:append 1 1]], :process 0}\n\n{:type :done, :value [], :process 0}\n";
        match check_text(bad, ".edn", LA) {
            Err(TxnError::Parse { line, expected, .. }) => {
                assert!(line == 3 && expected.contains("invoke, ok"), "{line} {expected}")
            }
            other => panic!("{other:?}"),
        }
        let bad =
            "{:type :ok, :value [[:append 1 1]], :process 0}\n{:type :ok, :value [[:w 1 1]], :process 0, :index 7}\n";
        match check_text(bad, ".edn", LA) {
            Err(TxnError::Shape { line, source, .. }) => {
                assert_eq!((line, source.index), (2, 7), "{source}");
                assert!(source.expected.contains(":append or :r"), "{source}");
            }
            other => panic!("{other:?}"),
        }
        match check_text("{:type :ok, :value [[:append 1 1]], :process 0}\n", ".edn", RW) {
            Err(TxnError::Shape { line: 1, source, .. }) => assert_eq!(source.index, 0),
            other => panic!("{other:?}"),
        }
        match check_text("hello", ".edn", LA) {
            Err(TxnError::Parse { line: 1, expected, .. }) => assert!(expected.contains("op map")),
            other => panic!("{other:?}"),
        }
        match check_text("{:type :ok, :value [[:append 1 1.5]], :process 0}", ".edn", LA) {
            Err(e) => assert!(e.to_string().contains(":1:"), "{e}"),
            Ok(o) => panic!("{o:?}"),
        }
    }

    #[test]
    fn an_open_invoke_in_a_file_counts_as_info() {
        let text = "{:type :invoke, :value [[:append 1 1]], :process 0}\n\
                    {:type :invoke, :value [[:r 1 nil]], :process 1}\n\
                    {:type :ok, :value [[:r 1 [1]]], :process 1}\n";
        let o = check_text(text, ".edn", LA).expect("reads");
        assert_eq!(o.validity, Validity::Valid, "{}", o.summary);
        assert_eq!(o.details["txns"], 2);
    }
}

#[test]
fn an_exhausted_search_budget_is_unknown_never_valid() {
    let (_, bad, _, _) = list_append_table().into_iter().find(|t| t.0.starts_with("G-single")).expect("row");
    let mut o = opts(LA, &["serializable"]);
    o.search_budget = 0;
    let r = check(&oks(&bad), &o).expect("fits");
    assert_eq!(r.validity, Validity::Unknown, "{}", serde_json::to_string_pretty(&r).unwrap_or_default());
    assert!(r.summary.contains("budget"), "{}", r.summary);
    // The same history with the default budget: found, every time.
    for _ in 0..3 {
        assert_eq!(run(&oks(&bad), LA, &["serializable"]).anomaly_types, ["G-single"]);
    }
}
