//! Issue 11: Jepsen EDN histories in `tests/histories/` (keywords, no `:index`, nemesis ops,
//! integer account keys) through the importer and the set, set-full, counter, bank,
//! total-queue, unique-ids and mutex checkers: each valid history and its invalid twin.

use brawl::checker::{bank, counter, mutex, queue, set, set_full, unique_ids, CheckOutcome, ShapeError, Validity};
use brawl::history::{read_history, Op};

type Check = fn(&[Op]) -> Result<CheckOutcome, ShapeError>;

/// Reads `tests/histories/NAME`, checks it and asserts the verdict and anomaly types.
fn check(name: &str, checker: Check, validity: Validity, anomalies: &[&str]) -> CheckOutcome {
    let path = format!("{}/tests/histories/{name}", env!("CARGO_MANIFEST_DIR"));
    let h = read_history(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    let o = checker(&h.ops).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(o.validity, validity, "{name}: {o:#?}");
    assert_eq!(o.anomaly_types, anomalies, "{name}");
    o
}

#[test]
fn issue_11_jepsen_histories_get_jepsens_verdicts() {
    let set: Check = |ops| set::check(ops, &set::Options::default());
    let full: Check = |ops| set_full::check(ops, &set_full::Options::default());
    let full_lin: Check = |ops| set_full::check(ops, &set_full::Options { linearizable: true });
    let counter: Check = |ops| counter::check(ops, &counter::Options::default());
    let bank: Check = |ops| bank::check(ops, &bank::Options { total: Some(20), ..bank::Options::default() });
    let queue: Check = |ops| queue::check(ops, &queue::Options::default());
    let ids: Check = |ops| unique_ids::check(ops, &unique_ids::Options::default());
    let lock: Check = |ops| mutex::check(ops, &mutex::Options::default());

    let o = check("jepsen-set.edn", set, Validity::Valid, &[]);
    assert_eq!(o.details["recovered"], "2");
    let o = check("jepsen-set-lost.edn", set, Validity::Invalid, &["lost"]);
    assert_eq!(o.anomalies["lost"][0].data["element"], 1);
    check("jepsen-set-full-stale.edn", full, Validity::Valid, &[]);
    let o = check("jepsen-set-full-stale.edn", full_lin, Validity::Invalid, &["stale"]);
    assert_eq!(o.details["stale"], "1");
    check("jepsen-set-full-duplicated.edn", full, Validity::Invalid, &["duplicated"]);
    check("jepsen-counter.edn", counter, Validity::Valid, &[]);
    let o = check("jepsen-counter-out-of-bounds.edn", counter, Validity::Invalid, &["out-of-bounds"]);
    assert_eq!(o.anomalies["out-of-bounds"][0].data, serde_json::json!({"lower": 3, "value": 4, "upper": 3}));
    let o = check("jepsen-bank.edn", bank, Validity::Valid, &[]);
    assert_eq!(o.details["accounts"], serde_json::json!(["0", "1"]));
    check("jepsen-bank-wrong-total.edn", bank, Validity::Invalid, &["wrong-total"]);
    check("jepsen-total-queue.edn", queue, Validity::Valid, &[]);
    check("jepsen-total-queue-lost.edn", queue, Validity::Invalid, &["lost"]);
    check("jepsen-unique-ids.edn", ids, Validity::Valid, &[]);
    check("jepsen-unique-ids-duplicated.edn", ids, Validity::Invalid, &["duplicated"]);
    check("jepsen-mutex.edn", lock, Validity::Valid, &[]);
    check("jepsen-mutex-double-acquire.edn", lock, Validity::Invalid, &["not-linearizable"]);
}

#[test]
fn issue_11_a_history_of_another_model_is_refused() {
    let path = format!("{}/tests/histories/jepsen-register.edn", env!("CARGO_MANIFEST_DIR"));
    let ops = read_history(&path).expect("a register history").ops;
    let refusals = [
        set::check(&ops, &set::Options::default()).map(|_| ()),
        set_full::check(&ops, &set_full::Options::default()).map(|_| ()),
        counter::check(&ops, &counter::Options::default()).map(|_| ()),
        bank::check(&ops, &bank::Options::default()).map(|_| ()),
        queue::check(&ops, &queue::Options::default()).map(|_| ()),
        unique_ids::check(&ops, &unique_ids::Options::default()).map(|_| ()),
        mutex::check(&ops, &mutex::Options::default()).map(|_| ()),
    ];
    for r in refusals {
        // Either the first op's f (`read`) is foreign to the model, or, where the model has
        // reads, the first read's completion (op 3, value null) or the write (op 1) is refused.
        let e = r.expect_err("a register history fits none of these models");
        assert!(e.index <= 3, "{e}");
        assert!(e.to_string().contains("found"), "{e}");
    }
    // A set history is not a counter history: the read returns a list.
    let path = format!("{}/tests/histories/jepsen-set.edn", env!("CARGO_MANIFEST_DIR"));
    let ops = read_history(&path).expect("a set history").ops;
    let e = counter::check(&ops, &counter::Options::default()).expect_err("a list is not a count");
    assert!(e.to_string().contains("the value read as an integer"), "{e}");
}
