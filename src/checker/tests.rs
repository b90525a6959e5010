//! Hand-built histories for `check_linearizable`: valid ones, known anomalies that must be
//! invalid, `info` ops that may (or may not) take effect late, and the budget.

use super::*;
use crate::history::{Op, Process};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub(super) use super::elements::testkit::history;

fn check(rows: &[(u64, &str, &str, Value)]) -> LinearizabilityResult {
    check_linearizable(&history(rows), ModelKind::CasRegister, &Budget::default())
}

fn assert_valid(rows: &[(u64, &str, &str, Value)]) {
    let r = check(rows);
    assert_eq!(r.validity, Validity::Valid, "{r:#?}");
}

fn assert_invalid(rows: &[(u64, &str, &str, Value)]) -> KeyFailure {
    let r = check(rows);
    assert_eq!(r.validity, Validity::Invalid, "{r:#?}");
    r.failures.into_iter().next().expect("an invalid result names a failure")
}

#[test]
fn sequential_write_then_read_is_valid() {
    assert_valid(&[
        (1, "invoke", "write", json!([0, 1])),
        (1, "ok", "write", json!([0, 1])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, 1])),
    ]);
}

#[test]
fn a_read_concurrent_with_a_write_may_see_either_value() {
    for seen in [json!(null), json!(1)] {
        assert_valid(&[
            (1, "invoke", "write", json!([0, 1])),
            (2, "invoke", "read", json!([0, null])),
            (2, "ok", "read", json!([0, seen])),
            (1, "ok", "write", json!([0, 1])),
        ]);
    }
}

#[test]
fn concurrent_reads_can_order_concurrent_writes_either_way() {
    assert_valid(&[
        (1, "invoke", "write", json!([0, 1])),
        (2, "invoke", "write", json!([0, 2])),
        (1, "ok", "write", json!([0, 1])),
        (2, "ok", "write", json!([0, 2])),
        (3, "invoke", "read", json!([0, null])),
        (3, "ok", "read", json!([0, 1])),
        (3, "invoke", "cas", json!([0, [1, 3]])),
        (3, "ok", "cas", json!([0, [1, 3]])),
    ]);
}

#[test]
fn stale_read_after_a_completed_write_is_invalid() {
    let f = assert_invalid(&[
        (1, "invoke", "write", json!([0, 1])),
        (1, "ok", "write", json!([0, 1])),
        (1, "invoke", "write", json!([0, 2])),
        (1, "ok", "write", json!([0, 2])),
        (2, "invoke", "write", json!([0, 3])),
        (3, "invoke", "read", json!([0, null])),
        (3, "ok", "read", json!([0, 1])),
        (2, "ok", "write", json!([0, 3])),
    ]);
    assert_eq!(f.key, json!(0));
    assert_eq!(f.op.index, 6);
    assert_eq!(f.invocation.index, 5);
    assert_eq!(f.possible_states, vec![json!(2), json!(3)]);
    assert_eq!(f.concurrent.iter().map(|o| o.index).collect::<Vec<_>>(), vec![7]);
    assert!(f.message.contains("read [0,1]"), "{}", f.message);
}

#[test]
fn lost_write_is_invalid() {
    // Both writes completed, then two reads in a row disagree on which one came last.
    assert_invalid(&[
        (1, "invoke", "write", json!([0, 1])),
        (2, "invoke", "write", json!([0, 2])),
        (1, "ok", "write", json!([0, 1])),
        (2, "ok", "write", json!([0, 2])),
        (3, "invoke", "read", json!([0, null])),
        (3, "ok", "read", json!([0, 2])),
        (3, "invoke", "read", json!([0, null])),
        (3, "ok", "read", json!([0, 1])),
    ]);
}

#[test]
fn two_cas_from_the_same_value_in_a_row_is_invalid() {
    assert_invalid(&[
        (1, "invoke", "write", json!([0, 0])),
        (1, "ok", "write", json!([0, 0])),
        (1, "invoke", "cas", json!([0, [0, 1]])),
        (1, "ok", "cas", json!([0, [0, 1]])),
        (2, "invoke", "cas", json!([0, [0, 2]])),
        (2, "ok", "cas", json!([0, [0, 2]])),
    ]);
}

#[test]
fn impossible_cas_is_invalid() {
    assert_invalid(&[
        (1, "invoke", "write", json!([0, 1])),
        (1, "ok", "write", json!([0, 1])),
        (1, "invoke", "cas", json!([0, [2, 3]])),
        (1, "ok", "cas", json!([0, [2, 3]])),
    ]);
}

#[test]
fn cas_on_an_absent_key_is_invalid() {
    assert_invalid(&[(1, "invoke", "cas", json!([0, [null, 3]])), (1, "ok", "cas", json!([0, [null, 3]]))]);
}

#[test]
fn read_of_a_never_written_value_is_invalid() {
    let f = assert_invalid(&[
        (1, "invoke", "write", json!([0, 1])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, 7])),
        (1, "ok", "write", json!([0, 1])),
    ]);
    assert_eq!(f.possible_states, vec![json!(null), json!(1)]);
    assert_eq!(f.concurrent.len(), 1);
}

#[test]
fn read_of_null_after_a_completed_write_is_invalid() {
    assert_invalid(&[
        (1, "invoke", "write", json!([0, 1])),
        (1, "ok", "write", json!([0, 1])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, null])),
    ]);
}

#[test]
fn a_failed_write_never_takes_effect() {
    assert_invalid(&[
        (1, "invoke", "write", json!([0, 1])),
        (1, "fail", "write", json!([0, 1])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, 1])),
    ]);
}

#[test]
fn an_info_write_may_take_effect_long_after_it_was_invoked() {
    let mut rows = vec![(1, "invoke", "write", json!([0, 1])), (1, "info", "write", json!([0, 1]))];
    for _ in 0..50 {
        rows.push((2, "invoke", "read", json!([0, null])));
        rows.push((2, "ok", "read", json!([0, null])));
    }
    rows.push((2, "invoke", "read", json!([0, null])));
    rows.push((2, "ok", "read", json!([0, 1])));
    assert_valid(&rows);
}

#[test]
fn an_info_write_may_never_take_effect() {
    assert_valid(&[
        (1, "invoke", "write", json!([0, 1])),
        (1, "info", "write", json!([0, 1])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, null])),
        (2, "invoke", "write", json!([0, 2])),
        (2, "ok", "write", json!([0, 2])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, 2])),
    ]);
}

#[test]
fn an_invocation_that_never_completes_is_indeterminate() {
    assert_valid(&[
        (1, "invoke", "write", json!([0, 1])),
        (1, "ok", "write", json!([0, 1])),
        (1, "invoke", "cas", json!([0, [1, 2]])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, 2])),
    ]);
}

#[test]
fn an_info_write_cannot_take_effect_before_it_was_invoked() {
    assert_invalid(&[
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, 1])),
        (1, "invoke", "write", json!([0, 1])),
        (1, "info", "write", json!([0, 1])),
    ]);
}

#[test]
fn an_info_write_takes_effect_at_most_once() {
    let mut rows = vec![
        (1, "invoke", "write", json!([0, 1])),
        (1, "info", "write", json!([0, 1])),
        (2, "invoke", "write", json!([0, 2])),
        (2, "ok", "write", json!([0, 2])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, 1])),
        (2, "invoke", "write", json!([0, 2])),
        (2, "ok", "write", json!([0, 2])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, 1])),
    ];
    assert_invalid(&rows);
    // A second indeterminate write of 1 explains the second read.
    rows.insert(2, (3, "info", "write", json!([0, 1])));
    rows.insert(2, (3, "invoke", "write", json!([0, 1])));
    assert_valid(&rows);
}

#[test]
fn only_the_bad_key_is_named() {
    let mut rows = Vec::new();
    for k in 0..4 {
        rows.push((k, "invoke", "write", json!([k, 10])));
        rows.push((k, "ok", "write", json!([k, 10])));
    }
    for k in 0..4 {
        let seen = if k == 2 { json!([k, 11]) } else { json!([k, 10]) };
        rows.push((k, "invoke", "read", json!([k, null])));
        rows.push((k, "ok", "read", seen));
    }
    let r = check(&rows);
    assert_eq!(r.validity, Validity::Invalid);
    assert_eq!(r.keys_checked, 4);
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].key, json!(2));
}

#[test]
fn plain_values_are_one_register() {
    let rows = [
        (1, "invoke", "write", json!(3)),
        (1, "ok", "write", json!(3)),
        (1, "invoke", "cas", json!([3, 4])),
        (1, "ok", "cas", json!([3, 4])),
        (2, "invoke", "read", json!(null)),
        (2, "ok", "read", json!(3)),
    ];
    let f = assert_invalid(&rows);
    assert_eq!(f.key, Value::Null);
    assert_eq!(f.possible_states, vec![json!(4)]);
}

#[test]
fn the_register_model_cannot_check_cas() {
    let ops = history(&[(1, "invoke", "cas", json!([0, [1, 2]])), (1, "ok", "cas", json!([0, [1, 2]]))]);
    let r = check_linearizable(&ops, ModelKind::Register, &Budget::default());
    assert_eq!(r.validity, Validity::Unknown);
    assert!(r.unknown_keys[0].reason.contains("cas"), "{r:#?}");
}

#[test]
fn nemesis_ops_are_ignored_and_an_empty_history_is_valid() {
    let mut ops = history(&[(1, "invoke", "write", json!([0, 1])), (1, "ok", "write", json!([0, 1]))]);
    for op in &mut ops {
        op.process = Process::Nemesis;
    }
    let r = check_linearizable(&ops, ModelKind::Kv, &Budget::default());
    assert_eq!((r.validity, r.keys_checked), (Validity::Valid, 0));
}

/// Many concurrent writes of distinct values, all read by concurrent reads, then a read of a
/// value never written: proving that invalid means trying every order, which is exponential.
fn pathological() -> Vec<Op> {
    let mut rows = Vec::new();
    for p in 0..40 {
        rows.push((p, "invoke", "write", json!([0, p])));
    }
    for p in 0..41 {
        rows.push((100 + p, "invoke", "read", json!([0, null])));
    }
    for p in (0..40).rev() {
        rows.push((100 + p, "ok", "read", json!([0, p])));
    }
    rows.push((140, "ok", "read", json!([0, 999])));
    for p in 0..40 {
        rows.push((p, "ok", "write", json!([0, p])));
    }
    history(&rows)
}

#[test]
fn a_tiny_time_budget_gives_unknown_quickly() {
    let started = Instant::now();
    let budget = Budget { time: Duration::from_millis(100), memory_bytes: usize::MAX };
    let r = check_linearizable(&pathological(), ModelKind::CasRegister, &budget);
    assert_eq!(r.validity, Validity::Unknown, "{r:#?}");
    assert_eq!(r.unknown_keys[0].reason, "time budget exceeded");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_tiny_memory_budget_gives_unknown() {
    let budget = Budget { time: Duration::from_secs(60), memory_bytes: 1 << 20 };
    let r = check_linearizable(&pathological(), ModelKind::CasRegister, &budget);
    assert_eq!(r.validity, Validity::Unknown, "{r:#?}");
    assert_eq!(r.unknown_keys[0].reason, "memory budget exceeded");
    assert!(r.peak_search_bytes > 1 << 20);
}

#[test]
fn validity_merges_to_the_worst() {
    use Validity::*;
    assert_eq!(Valid.merge(Unknown), Unknown);
    assert_eq!(Invalid.merge(Unknown), Invalid);
    assert_eq!(serde_json::to_value(Invalid).expect("serializable"), json!("invalid"));
}

#[test]
fn a_write_of_the_current_value_can_still_take_effect_later() {
    assert_valid(&[
        (1, "invoke", "write", json!([0, 1])),
        (1, "ok", "write", json!([0, 1])),
        (2, "invoke", "write", json!([0, 1])),
        (3, "invoke", "write", json!([0, 4])),
        (3, "ok", "write", json!([0, 4])),
        (2, "ok", "write", json!([0, 1])),
        (3, "invoke", "read", json!([0, null])),
        (3, "ok", "read", json!([0, 1])),
    ]);
}
