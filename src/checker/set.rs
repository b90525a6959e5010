//! `set`: Jepsen's `checker/set`. Clients `add` elements (`add v`), and one final `read`
//! returns the whole set (`read [v ...]`). Judged against the last ok read:
//!
//! - `lost`: added ok, but not in the final read (invalid);
//! - `unexpected`: in the final read, but never attempted (invalid);
//! - `duplicated`: more than once in the final read (invalid; Jepsen does not look);
//! - recovered (in `details`, not an anomaly): the add was indeterminate (`info`, or never
//!   completed) or failed, yet the element is there.
//!
//! No ok read at all is `unknown` ("set was never read"). Other reads are checked for shape only.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::elements::{calls, element, intervals, list, unknown_f, Call, Elem};
use super::outcome::{Anomaly, CheckOutcome, ShapeError};
use super::Validity;
use crate::history::Op;

/// The checker's name, as `--model` spells it.
pub const NAME: &str = "set";

/// The set checker has no options; the type exists so every checker is called alike.
#[derive(Clone, Debug, Default)]
pub struct Options {}

/// Checks a set history (see the module docs).
pub fn check(ops: &[Op], _opts: &Options) -> Result<CheckOutcome, ShapeError> {
    let calls = calls(ops, NAME)?;
    // Element -> index of its first add invocation.
    let mut attempts: BTreeMap<Elem, u64> = BTreeMap::new();
    // Element -> index of an ok add's completion.
    let mut adds: BTreeMap<Elem, u64> = BTreeMap::new();
    let mut last_read: Option<(&Call, Vec<Elem>)> = None;
    for c in &calls {
        match c.invoke.f.as_str() {
            "add" => {
                let e = element(c.invoke, NAME, "the element to add")?;
                if let Some(done) = c.ok_completion() {
                    adds.entry(e.clone()).or_insert(done.index);
                }
                attempts.entry(e).or_insert(c.invoke.index);
            }
            "read" => {
                let Some(done) = c.ok_completion() else { continue };
                let elems: Vec<Elem> = list(done, NAME, "the elements read")?.iter().map(Elem::of).collect();
                if last_read.as_ref().is_none_or(|(r, _)| r.end_pos() < c.end_pos()) {
                    last_read = Some((c, elems));
                }
            }
            _ => return Err(unknown_f(c, NAME, &["add", "read"])),
        }
    }
    let Some((read, read_elems)) = last_read else {
        let mut o = CheckOutcome::new(NAME, Validity::Unknown, "set was never read: no ok read");
        o.details = json!({"attempt_count": attempts.len(), "acknowledged_count": adds.len()});
        return Ok(o);
    };
    let r = read.last_index();
    let mut counts: BTreeMap<&Elem, usize> = BTreeMap::new();
    for e in &read_elems {
        *counts.entry(e).or_default() += 1;
    }
    let final_set: BTreeSet<&Elem> = counts.keys().copied().collect();
    let ok: Vec<&Elem> = final_set.iter().copied().filter(|e| attempts.contains_key(*e)).collect();
    let unexpected: Vec<&Elem> = final_set.iter().copied().filter(|e| !attempts.contains_key(*e)).collect();
    let lost: Vec<(&Elem, u64)> = adds.iter().filter(|(e, _)| !final_set.contains(e)).map(|(e, &i)| (e, i)).collect();
    let recovered: Vec<&Elem> = ok.iter().copied().filter(|e| !adds.contains_key(*e)).collect();

    let mut o = CheckOutcome::new(NAME, Validity::Valid, "");
    for &(e, add) in &lost {
        o.push(
            "lost",
            Anomaly {
                explanation: format!("{e} was added (ok at op {add}) but the final read (op {r}) does not contain it"),
                ops: vec![add, r],
                data: json!({"element": e.to_value()}),
                ..Anomaly::default()
            },
        );
    }
    for &e in &unexpected {
        o.push(
            "unexpected",
            Anomaly {
                explanation: format!("{e} is in the final read (op {r}) but no add of it was ever attempted"),
                ops: vec![r],
                data: json!({"element": e.to_value()}),
                ..Anomaly::default()
            },
        );
    }
    for (&e, &n) in counts.iter().filter(|(_, &n)| n > 1) {
        o.push(
            "duplicated",
            Anomaly {
                explanation: format!("{e} appears {n} times in the final read (op {r})"),
                ops: vec![r],
                data: json!({"element": e.to_value(), "count": n}),
                ..Anomaly::default()
            },
        );
    }
    if !o.anomalies.is_empty() {
        o.validity = Validity::Invalid;
    }
    let duplicated = o.anomalies.get("duplicated").map_or(0, Vec::len);
    o.summary = format!(
        "final read (op {r}) of {} elements; {} attempted, {} acknowledged: {} lost, {} unexpected, {} duplicated, {} recovered",
        final_set.len(),
        attempts.len(),
        adds.len(),
        lost.len(),
        unexpected.len(),
        duplicated,
        recovered.len()
    );
    o.details = json!({
        "final_read": r,
        "attempt_count": attempts.len(),
        "acknowledged_count": adds.len(),
        "ok_count": ok.len(),
        "lost_count": lost.len(),
        "unexpected_count": unexpected.len(),
        "duplicated_count": duplicated,
        "recovered_count": recovered.len(),
        "ok": intervals(ok),
        "lost": intervals(lost.iter().map(|l| l.0)),
        "unexpected": intervals(unexpected),
        "recovered": intervals(recovered),
    });
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::super::elements::testkit::history;
    use super::*;
    use serde_json::{json, Value};

    fn run(rows: &[(u64, &str, &str, Value)]) -> CheckOutcome {
        check(&history(rows), &Options::default()).expect("a set history")
    }

    /// Adds of 1 (ok), 2 (info), 3 (fail), then a final read of `seen`.
    fn with_read(seen: Value) -> CheckOutcome {
        run(&[
            (1, "invoke", "add", json!(1)),
            (1, "ok", "add", json!(1)),
            (2, "invoke", "add", json!(2)),
            (2, "info", "add", json!(2)),
            (3, "invoke", "add", json!(3)),
            (3, "fail", "add", json!(3)),
            (4, "invoke", "read", json!(null)),
            (4, "ok", "read", seen),
        ])
    }

    #[test]
    fn table_of_final_reads() {
        // (final read, validity, anomaly types, recovered count)
        let cases: [(Value, Validity, &[&str], u64); 7] = [
            (json!([1]), Validity::Valid, &[], 0),
            (json!([1, 2]), Validity::Valid, &[], 1),
            // A failed add seen is recovered, as in Jepsen (it was attempted).
            (json!([1, 3]), Validity::Valid, &[], 1),
            (json!([]), Validity::Invalid, &["lost"], 0),
            (json!([1, 9]), Validity::Invalid, &["unexpected"], 0),
            (json!([1, 1]), Validity::Invalid, &["duplicated"], 0),
            (json!([2, 9]), Validity::Invalid, &["lost", "unexpected"], 1),
        ];
        for (seen, validity, types, recovered) in cases {
            let o = with_read(seen.clone());
            assert_eq!(o.validity, validity, "{seen}: {o:#?}");
            assert_eq!(o.anomaly_types, types, "{seen}");
            assert_eq!(o.details["recovered_count"], json!(recovered), "{seen}");
        }
    }

    #[test]
    fn a_lost_element_names_its_add_and_the_read() {
        let o = with_read(json!([2]));
        let lost = &o.anomalies["lost"];
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].ops, [1, 7]);
        assert_eq!(lost[0].data["element"], json!(1));
        assert_eq!(o.details["lost"], json!("1"));
    }

    #[test]
    fn only_the_last_read_counts() {
        let o = run(&[
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([])),
            (2, "invoke", "add", json!(1)),
            (2, "ok", "add", json!(1)),
            (1, "invoke", "read", json!(null)),
            (1, "ok", "read", json!([1])),
        ]);
        assert_eq!(o.validity, Validity::Valid, "{o:#?}");
        assert_eq!(o.details["final_read"], json!(5));
    }

    #[test]
    fn no_read_is_unknown() {
        let o = run(&[(1, "invoke", "add", json!(1)), (1, "ok", "add", json!(1)), (2, "invoke", "read", json!(null))]);
        assert_eq!(o.validity, Validity::Unknown);
        assert!(o.summary.contains("never read"));
    }

    #[test]
    fn shape_errors_name_the_op() {
        let wrong_f = history(&[(1, "invoke", "append", json!(1)), (1, "ok", "append", json!(1))]);
        let e = check(&wrong_f, &Options::default()).expect_err("append is not a set op");
        assert_eq!(e.index, 0);
        assert!(e.expected.contains("`add` or `read`"), "{e}");
        let not_a_list = history(&[(1, "invoke", "read", json!(null)), (1, "ok", "read", json!(3))]);
        let e = check(&not_a_list, &Options::default()).expect_err("a read returns a list");
        assert_eq!((e.index, e.model.as_str()), (1, "set"));
        let null_add = history(&[(1, "invoke", "add", json!(null))]);
        assert_eq!(check(&null_add, &Options::default()).expect_err("null").index, 0);
    }
}
