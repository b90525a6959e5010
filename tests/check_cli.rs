//! Issue 3: `brawl check` re-checks stored histories offline, brawl's and Jepsen's. Issue 11:
//! every input layout (EDN in both layouts, elle-cli JSON, JSON lines), every model, and the
//! exit codes 0 / 1 / 2 / 254.

mod common;

use common::{brawl, text};

fn check(args: &[&str]) -> (Option<i32>, String) {
    let out = brawl(&[&["check"][..], args].concat());
    let t = text(&out);
    (out.status.code(), t)
}

#[test]
fn jepsen_edn_histories_get_the_right_verdict() {
    // One register; an info write that takes effect late; a process renamed after info (1 -> 6).
    let (code, t) = check(&["tests/histories/jepsen-register-info-valid.edn"]);
    assert_eq!(code, Some(0), "{t}");
    // Independent keys as `[k v]` tuples; key 1 reads a value overwritten before the read began.
    let (code, t) = check(&["tests/histories/jepsen-independent-stale-read.edn"]);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("key 1") && !t.contains("key 0:"), "{t}");
    // The same file, format named explicitly, and as JSON.
    let (code, t) = check(&["tests/histories/jepsen-independent-stale-read.edn", "--format", "jepsen-edn", "--json"]);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("\"possible_states\""), "{t}");
    // A read that goes back to the old value after the info write was seen: invalid.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = std::fs::read_to_string("tests/histories/jepsen-register-info-valid.edn").expect("fixture")
        + "{:type :invoke, :f :read, :value nil, :process 0, :time 18000, :index 12}\n{:type :ok, :f :read, :value 1, :process 0, :time 19000, :index 13}\n";
    let path = dir.path().join("history.edn");
    std::fs::write(&path, bad).expect("write");
    let (code, t) = check(&[path.to_str().expect("utf8")]);
    assert_eq!(code, Some(1), "{t}");
    // A plain read/write model refuses cas: the history does not fit the model, exit 254.
    let (code, t) = check(&["tests/histories/jepsen-register-info-valid.edn", "--model", "register"]);
    assert_eq!(code, Some(254), "{t}");
    assert!(t.contains("does not fit the register model") && t.contains(":f cas"), "{t}");
}

#[test]
fn unreadable_histories_are_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.edn");
    std::fs::write(&path, "{:type :invoke, :f :read, :value [0 nil}\n").expect("write");
    let (code, t) = check(&[path.to_str().expect("utf8")]);
    assert_eq!(code, Some(254), "{t}");
    assert!(t.contains("broken.edn:1:"), "{t}");
}

#[test]
fn brawl_histories_survive_a_round_trip_through_jepsen_edn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let edn = brawl::history::read_edn("tests/histories/jepsen-independent-stale-read.edn").expect("reads");
    let out = dir.path().join("h.edn");
    brawl::history::write_edn(&edn, std::fs::File::create(&out).expect("create")).expect("writes");
    let back = brawl::history::read_edn(&out).expect("reads back");
    assert_eq!(edn.ops, back.ops);
}

#[test]
fn issue_11_edn_vector_layout_with_comments_and_no_index_or_time() {
    // Knossos' layout: one vector, maps over several lines, comments, string and keyword :f.
    let (code, t) = check(&["tests/histories/knossos-vector-comments.edn"]);
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("4 ops"), "{t}");
    // Its twin reads the value the cas replaced: not linearizable.
    let (code, t) = check(&["tests/histories/knossos-vector-stale.edn", "--model", "cas-register"]);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("index 7"), "ops without :index are numbered by position: {t}");
}

#[test]
fn issue_11_keyword_string_and_integer_keys() {
    // Keys :x, "y" and 7; key "y" reads 4 after 5 was written and nothing wrote 4.
    let (code, t) = check(&["tests/histories/register-keyword-string-keys.edn"]);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains(r#"key "y""#) && !t.contains(r#"key "x""#) && !t.contains("key 7"), "{t}");
    assert!(t.contains("3 keys"), "{t}");
}

#[test]
fn issue_11_missing_process_is_a_process_of_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.edn");
    // Completions only (Elle's style), no :process: each gets a process of its own, so the
    // second write does not look like a second op of the first one's process.
    std::fs::write(&path, "{:type :invoke, :f :write, :value 1, :process 3}\n{:type :ok, :f :write, :value 1, :process 3}\n{:type :ok, :f :write, :value 2}\n")
        .expect("write");
    let h = brawl::history::read_history(&path).expect("reads");
    assert_eq!(h.ops[2].process, brawl::history::Process::Client(4));
    assert_eq!((h.ops[2].index, h.ops[2].time), (2, 2));
}

#[test]
fn issue_11_elle_json_array_and_json_lines() {
    let (code, t) = check(&["tests/histories/elle-append-valid.json", "--model", "list-append"]);
    assert_eq!(code, Some(0), "{t}");
    // Each transaction reads the other's append: G1c, so not even read-committed.
    let (code, t) = check(&["tests/histories/elle-append-g1c.json", "--model", "list-append"]);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("G1c") && t.contains("not read-committed"), "{t}");
    // The same ops as JSON lines (no brawl header), with --json: the CheckOutcome.
    let (code, t) = check(&["tests/histories/elle-append-g1c.jsonl", "--model", "list-append", "--json"]);
    assert_eq!(code, Some(1), "{t}");
    let json = &t[t.find("--- stdout\n").expect("stdout") + 11..t.find("--- stderr").expect("stderr")];
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {t}"));
    assert_eq!(v["checker"], "list-append");
    assert_eq!(v["validity"], "invalid");
    assert_eq!(v["anomaly_types"], serde_json::json!(["G1c"]));
    assert_eq!(v["not"], serde_json::json!(["read-committed"]));
    assert!(v["anomalies"]["G1c"][0]["cycle"].as_array().is_some_and(|c| c.len() == 2), "{t}");
    // read-uncommitted does not forbid G1c; PL-1 is its alias.
    for m in ["read-uncommitted", "PL-1"] {
        let (code, t) =
            check(&["tests/histories/elle-append-g1c.jsonl", "--model", "list-append", "--consistency-models", m]);
        assert_eq!(code, Some(0), "{m}: {t}");
    }
    // --format names the format of a file whose name says nothing.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.txt");
    std::fs::copy("tests/histories/elle-append-g1c.json", &path).expect("copy");
    let (code, t) = check(&[path.to_str().expect("utf8"), "--model", "list-append", "--format", "elle-json"]);
    assert_eq!(code, Some(1), "{t}");
}

#[test]
fn issue_11_histories_that_do_not_fit_the_model_are_refused() {
    // Transactions checked as a register, a register checked as transactions, as a set.
    for (file, model, what) in [
        ("tests/histories/elle-append-g1c.json", "cas-register", "op 0 does not fit the cas-register model"),
        ("tests/histories/jepsen-register.edn", "list-append", "op 0 does not fit the list-append model"),
        ("tests/histories/elle-append-valid.json", "set", "op 0 does not fit the set model"),
    ] {
        let (code, t) = check(&[file, "--model", model]);
        assert_eq!(code, Some(254), "{file} as {model}: {t}");
        assert!(t.contains(file) && t.contains(what), "{t}");
    }
    // A cas whose value is not [old new].
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.edn");
    std::fs::write(
        &path,
        "{:type :invoke, :f :write, :value 1, :process 0}\n{:type :invoke, :f :cas, :value 5, :process 1}\n",
    )
    .expect("write");
    let (code, t) = check(&[path.to_str().expect("utf8")]);
    assert_eq!(code, Some(254), "{t}");
    assert!(t.contains("op 1 does not fit the cas-register model: a cas with [old new], got 5"), "{t}");
}

#[test]
fn issue_11_exit_codes_and_bad_arguments() {
    // Unknown: a set that was never read.
    let (code, t) = check(&["tests/histories/set-never-read.edn", "--model", "set"]);
    assert_eq!(code, Some(2), "{t}");
    // An unknown consistency model lists the accepted ones.
    let (code, t) =
        check(&["tests/histories/elle-append-valid.json", "--model", "list-append", "--consistency-models", "PL-9"]);
    assert_eq!(code, Some(254), "{t}");
    assert!(t.contains("unknown consistency model `PL-9`") && t.contains("snapshot-isolation"), "{t}");
    let (code, t) = check(&["tests/histories/elle-append-valid.json", "--model", "list-append", "--anomalies", "G3"]);
    assert_eq!(code, Some(254), "{t}");
    assert!(t.contains("unknown anomaly `G3`") && t.contains("G-single"), "{t}");
    // Transaction flags on a model without transactions.
    let (code, t) = check(&["tests/histories/jepsen-register.edn", "--consistency-models", "serializable"]);
    assert_eq!(code, Some(254), "{t}");
    // An unknown --model is clap's usage error, also 254 is not promised; it must not pass.
    let (code, t) = check(&["tests/histories/jepsen-register.edn", "--model", "queue"]);
    assert_ne!(code, Some(0), "{t}");
}

#[test]
fn issue_11_reader_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        // EDN, op-per-line layout: a map that is not closed on line 2.
        (
            "a.edn",
            "{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :value [0 nil}\n",
            "a.edn:2:36: bad edn: mismatched `}`: expected `]`",
            "set",
        ),
        // EDN, vector layout: a bad :type on line 3.
        (
            "b.edn",
            "[{:type :invoke, :f :read, :process 0}\n\n {:type :done, :f :read, :process 0}]",
            "b.edn:3: bad op: `:type` must be",
            "set",
        ),
        // elle JSON: a missing comma on line 2.
        (
            "c.json",
            "[{\"type\": \"ok\", \"f\": \"txn\"},\n {\"type\": \"ok\" \"f\": \"txn\"}]",
            "c.json:2:16: bad json:",
            "list-append",
        ),
        // JSON lines without a header: an op without "type" on line 2.
        ("d.jsonl", "{\"type\": \"ok\", \"f\": \"txn\"}\n{\"f\": \"txn\"}\n", "d.jsonl:2: bad op: missing \"type\"", "list-append"),
        // EDN read by the transaction scanner: an unclosed transaction on line 2.
        (
            "e.edn",
            "{:type :invoke, :f :txn, :value [[:append 1 2]], :process 0}\n{:type :ok, :f :txn, :value [[:append 1 2]}, :process 0}\n",
            "e.edn:2: op 1 does not fit the list-append model",
            "list-append",
        ),
    ];
    for (name, text, want, model) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let (code, t) = check(&[path.to_str().expect("utf8"), "--model", model]);
        assert_eq!(code, Some(254), "{name}: {t}");
        assert!(t.contains(want), "{name}: want {want:?} in {t}");
    }
}
