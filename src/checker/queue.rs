//! `total-queue`: Jepsen's `checker/total-queue`. Clients `enqueue v` and `dequeue` (ok with the
//! element, or with null for an empty queue, which dequeues nothing); a `drain` returns a list of
//! elements and counts as one dequeue of each. What goes in must come out, exactly once, so the
//! history must end with the queue drained. Multisets, as in Jepsen:
//!
//! - `lost`: enqueued ok more times than dequeued (invalid);
//! - `unexpected`: dequeued, but never enqueued at all (invalid);
//! - `duplicated`: dequeued more times than enqueues were attempted (invalid here: "exactly
//!   once"; Jepsen reports these but still calls the history valid);
//! - recovered (in `details`): dequeued although its enqueue was indeterminate or failed.
//!
//! A drain that did not complete ok may have removed anything: lost elements are then not
//! proven, and without another anomaly the verdict is `unknown` (Jepsen refuses such histories).

use std::collections::BTreeMap;

use serde_json::json;

use super::elements::{calls, element, list, unknown_f, Elem};
use super::outcome::{Anomaly, CheckOutcome, ShapeError};
use super::Validity;
use crate::history::{Op, OpType};

/// The checker's name, as `--model` spells it.
pub const NAME: &str = "total-queue";

/// The total-queue checker has no options; the type exists so every checker is called alike.
#[derive(Clone, Debug, Default)]
pub struct Options {}

/// A multiset of elements, with the index of the first op of each.
#[derive(Default)]
struct Bag {
    count: BTreeMap<Elem, (usize, u64)>,
}

impl Bag {
    fn add(&mut self, e: Elem, index: u64) {
        self.count.entry(e).or_insert((0, index)).0 += 1;
    }
    fn get(&self, e: &Elem) -> usize {
        self.count.get(e).map_or(0, |c| c.0)
    }
    fn first(&self, e: &Elem) -> Option<u64> {
        self.count.get(e).map(|c| c.1)
    }
    fn total(&self) -> usize {
        self.count.values().map(|c| c.0).sum()
    }
}

/// Checks a total-queue history (see the module docs).
pub fn check(ops: &[Op], _opts: &Options) -> Result<CheckOutcome, ShapeError> {
    let (mut attempts, mut enqueues, mut dequeues) = (Bag::default(), Bag::default(), Bag::default());
    let mut crashed_drains: Vec<u64> = Vec::new();
    for c in calls(ops, NAME)? {
        match c.invoke.f.as_str() {
            "enqueue" => {
                let e = element(c.invoke, NAME, "the element to enqueue")?;
                if let Some(done) = c.ok_completion() {
                    enqueues.add(e.clone(), done.index);
                }
                attempts.add(e, c.invoke.index);
            }
            "dequeue" => {
                if let Some(done) = c.ok_completion().filter(|d| !d.value.is_null()) {
                    dequeues.add(Elem::of(&done.value), done.index);
                }
            }
            "drain" => match c.outcome() {
                OpType::Ok => {
                    let done = c.ok_completion().expect("an ok outcome has an ok completion");
                    for v in list(done, NAME, "the elements drained")? {
                        dequeues.add(Elem::of(v), done.index);
                    }
                }
                OpType::Fail => {}
                _ => crashed_drains.push(c.last_index()),
            },
            _ => return Err(unknown_f(&c, NAME, &["enqueue", "dequeue", "drain"])),
        }
    }
    let mut o = CheckOutcome::new(NAME, Validity::Valid, "");
    let (mut lost, mut unexpected, mut duplicated, mut recovered) = (0, 0, 0, 0);
    for (e, &(n, first)) in &enqueues.count {
        let out = dequeues.get(e);
        if n > out {
            lost += n - out;
            let explanation = format!(
                "{e} was enqueued ok {n} times (first at op {first}) but dequeued {out} times{}",
                if crashed_drains.is_empty() { "" } else { " (a drain that did not complete may have taken it)" }
            );
            let data = json!({"element": e.to_value(), "enqueued": n, "dequeued": out});
            o.push("lost", Anomaly { explanation, ops: vec![first], data, ..Anomaly::default() });
        }
    }
    for (e, &(n, first)) in &dequeues.count {
        let tried = attempts.get(e);
        let data = json!({"element": e.to_value(), "dequeued": n, "attempted": tried});
        if tried == 0 {
            unexpected += n;
            let explanation = format!("{e} was dequeued {n} times (first at op {first}) but never enqueued");
            o.push("unexpected", Anomaly { explanation, ops: vec![first], data, ..Anomaly::default() });
        } else if n > tried {
            duplicated += n - tried;
            let explanation = format!(
                "{e} was dequeued {n} times (first at op {first}) but enqueues of it were attempted {tried} times"
            );
            let ops = [attempts.first(e), Some(first)].into_iter().flatten().collect();
            o.push("duplicated", Anomaly { explanation, ops, data, ..Anomaly::default() });
        }
        recovered += n.min(tried).saturating_sub(enqueues.get(e));
    }
    let proven_lost = lost > 0 && crashed_drains.is_empty();
    o.validity = if unexpected > 0 || duplicated > 0 || proven_lost {
        Validity::Invalid
    } else if lost > 0 {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    o.summary = format!(
        "{} enqueues attempted, {} acknowledged, {} dequeued: {lost} lost, {unexpected} unexpected, {duplicated} duplicated, \
         {recovered} recovered{}",
        attempts.total(),
        enqueues.total(),
        dequeues.total(),
        if crashed_drains.is_empty() {
            String::new()
        } else {
            format!("; {} drains did not complete, so lost elements are not proven", crashed_drains.len())
        }
    );
    o.details = json!({
        "attempt_count": attempts.total(),
        "acknowledged_count": enqueues.total(),
        "dequeued_count": dequeues.total(),
        "lost_count": lost,
        "unexpected_count": unexpected,
        "duplicated_count": duplicated,
        "recovered_count": recovered,
        "crashed_drains": crashed_drains,
    });
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::super::elements::testkit::history;
    use super::*;
    use serde_json::{json, Value};

    type Row = (u64, &'static str, &'static str, Value);

    fn run(rows: &[Row]) -> CheckOutcome {
        check(&history(rows), &Options::default()).expect("a queue history")
    }

    fn op(p: u64, f: &'static str, outcome: &'static str, v: Value) -> [Row; 2] {
        let inv = if f == "enqueue" { v.clone() } else { json!(null) };
        [(p, "invoke", f, inv), (p, outcome, f, v)]
    }

    fn rows(parts: &[[Row; 2]]) -> Vec<Row> {
        parts.iter().flat_map(|p| p.iter().cloned()).collect()
    }

    #[test]
    fn table_of_queue_histories() {
        let enq = |v: i64, t: &'static str| op(1, "enqueue", t, json!(v));
        let deq = |v: Value| op(2, "dequeue", "ok", v);
        let drain = |v: Value| op(2, "drain", "ok", v);
        let cases: Vec<(Vec<Row>, Validity, &[&str], u64)> = vec![
            (rows(&[enq(1, "ok"), enq(2, "ok"), deq(json!(1)), drain(json!([2]))]), Validity::Valid, &[], 0),
            (rows(&[enq(1, "ok"), deq(json!(null)), drain(json!([1]))]), Validity::Valid, &[], 0),
            (rows(&[enq(1, "ok"), enq(2, "ok"), drain(json!([2]))]), Validity::Invalid, &["lost"], 0),
            (rows(&[enq(1, "ok"), drain(json!([1, 9]))]), Validity::Invalid, &["unexpected"], 0),
            (rows(&[enq(1, "ok"), deq(json!(1)), drain(json!([1]))]), Validity::Invalid, &["duplicated"], 0),
            // An indeterminate enqueue may or may not come out: both are fine.
            (rows(&[enq(1, "info"), drain(json!([1]))]), Validity::Valid, &[], 1),
            (rows(&[enq(1, "info"), drain(json!([]))]), Validity::Valid, &[], 0),
            // The same element enqueued twice must come out twice.
            (rows(&[enq(1, "ok"), enq(1, "ok"), drain(json!([1]))]), Validity::Invalid, &["lost"], 0),
            (rows(&[enq(1, "ok"), enq(1, "ok"), drain(json!([1, 1]))]), Validity::Valid, &[], 0),
            // A crashed drain may have taken what is missing.
            (rows(&[enq(1, "ok"), op(2, "drain", "info", json!(null))]), Validity::Unknown, &["lost"], 0),
        ];
        for (h, validity, types, recovered) in cases {
            let o = run(&h);
            assert_eq!(o.validity, validity, "{h:?}: {o:#?}");
            assert_eq!(o.anomaly_types, types, "{h:?}");
            assert_eq!(o.details["recovered_count"], json!(recovered), "{h:?}");
        }
    }

    #[test]
    fn shape_errors() {
        let e = check(&history(&[(1, "invoke", "enqueue", json!(null))]), &Options::default()).expect_err("null");
        assert!(e.expected.contains("element to enqueue"), "{e}");
        let e = check(&history(&op(1, "drain", "ok", json!(3))), &Options::default()).expect_err("not a list");
        assert_eq!(e.index, 1);
        let e = check(&history(&[(1, "invoke", "push", json!(1))]), &Options::default()).expect_err("push");
        assert!(e.expected.contains("`enqueue` or `dequeue` or `drain`"), "{e}");
    }
}
