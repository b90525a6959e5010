//! `counter`: Jepsen's `checker/counter`, with negative adds allowed. The counter starts at 0;
//! `add n` adds the integer `n` (of either sign), `read` returns the value (`read n`).
//!
//! Bounds. An ok add takes effect once within its interval; a failed add never does; an
//! indeterminate one (`info`, or never completed) at some point after its invocation, or never.
//! A read invoked at position `i` and completed at `c` takes effect at some instant `t` in
//! `[i, c]` and returns the sum of the adds that took effect before `t`. That sum is smallest
//! when every positive add that may be left out is left out, and every negative add that may be
//! in is in; so no read may return less than
//!
//! ```text
//! lower = Σ positive adds completed ok before i  +  Σ negative adds, not failed, invoked before c
//! ```
//!
//! and, symmetrically, no more than
//!
//! ```text
//! upper = Σ positive adds, not failed, invoked before c  +  Σ negative adds completed ok before i
//! ```
//!
//! With only positive adds these are Jepsen's bounds (ok adds before the read's invocation, and
//! attempted adds not known to have failed before its completion). Every ok read outside its
//! bounds is an `out-of-bounds` anomaly, reported with its bounds. Sums are exact (`i128`).

use serde_json::json;

use super::elements::{calls, int, unknown_f};
use super::outcome::{Anomaly, CheckOutcome, ShapeError};
use super::Validity;
use crate::history::{Op, OpType};

/// The checker's name, as `--model` spells it.
pub const NAME: &str = "counter";

/// The counter checker has no options; the type exists so every checker is called alike.
#[derive(Clone, Debug, Default)]
pub struct Options {}

enum Event {
    /// An add not known to fail is invoked.
    Invoke(i64),
    /// An add completes ok.
    Ok(i64),
    /// A read is invoked; its number.
    ReadInvoke(usize),
    /// A read completes ok; its number and value.
    ReadOk(usize, i64, u64),
}

/// Running sums of adds, split by sign.
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    ok_pos: i128,
    ok_neg: i128,
    invoked_pos: i128,
    invoked_neg: i128,
}

/// Checks a counter history (see the module docs).
pub fn check(ops: &[Op], _opts: &Options) -> Result<CheckOutcome, ShapeError> {
    let mut events: Vec<(usize, Event)> = Vec::new();
    let mut reads = 0usize;
    for c in calls(ops, NAME)? {
        match c.invoke.f.as_str() {
            "add" => {
                let n = int(c.invoke, NAME, "the amount to add")?;
                if c.outcome() != OpType::Fail {
                    events.push((c.invoke_pos, Event::Invoke(n)));
                }
                if let (Some(pos), true) = (c.complete_pos, c.ok()) {
                    events.push((pos, Event::Ok(n)));
                }
            }
            "read" => {
                let (Some(pos), Some(done)) = (c.complete_pos, c.ok_completion()) else { continue };
                let v = int(done, NAME, "the value read")?;
                events.push((c.invoke_pos, Event::ReadInvoke(reads)));
                events.push((pos, Event::ReadOk(reads, v, done.index)));
                reads += 1;
            }
            _ => return Err(unknown_f(&c, NAME, &["add", "read"])),
        }
    }
    events.sort_by_key(|e| e.0);
    let mut s = Sums::default();
    let mut at_invoke = vec![Sums::default(); reads];
    let mut o = CheckOutcome::new(NAME, Validity::Valid, "");
    let mut worst: Option<(i128, serde_json::Value)> = None;
    for (_, ev) in events {
        match ev {
            Event::Invoke(n) if n >= 0 => s.invoked_pos += i128::from(n),
            Event::Invoke(n) => s.invoked_neg += i128::from(n),
            Event::Ok(n) if n >= 0 => s.ok_pos += i128::from(n),
            Event::Ok(n) => s.ok_neg += i128::from(n),
            Event::ReadInvoke(r) => at_invoke[r] = s,
            Event::ReadOk(r, v, index) => {
                let lower = at_invoke[r].ok_pos + s.invoked_neg;
                let upper = s.invoked_pos + at_invoke[r].ok_neg;
                let v = i128::from(v);
                if v < lower || v > upper {
                    let by = if v < lower { lower - v } else { v - upper };
                    let data = json!({"lower": lower.to_string(), "value": v.to_string(), "upper": upper.to_string()});
                    let data = numbers(data);
                    if worst.as_ref().is_none_or(|w| by > w.0) {
                        worst = Some((by, data.clone()));
                    }
                    o.push(
                        "out-of-bounds",
                        Anomaly {
                            explanation: format!(
                                "the read completed at op {index} returned {v}, outside [{lower}, {upper}]: the \
                                 counter could only hold a value in that range while the read ran"
                            ),
                            ops: vec![index],
                            data,
                            ..Anomaly::default()
                        },
                    );
                }
            }
        }
    }
    let errors = o.anomalies.get("out-of-bounds").map_or(0, Vec::len);
    if errors > 0 {
        o.validity = Validity::Invalid;
    }
    o.summary = format!("{reads} ok reads, {errors} outside their bounds");
    o.details = json!({
        "read_count": reads,
        "error_count": errors,
        "max_absolute_error": worst.map(|w| w.1),
    });
    Ok(o)
}

/// Turns the decimal strings of `{lower, value, upper}` back into JSON numbers where they fit
/// an `i64` (they do unless the sums overflow it).
fn numbers(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(m) = v.as_object_mut() {
        for x in m.values_mut() {
            if let Some(n) = x.as_str().and_then(|s| s.parse::<i64>().ok()) {
                *x = json!(n);
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::super::elements::testkit::history;
    use super::*;
    use serde_json::{json, Value};

    fn run(rows: &[(u64, &str, &str, Value)]) -> CheckOutcome {
        check(&history(rows), &Options::default()).expect("a counter history")
    }

    /// `add a` (ending with `outcome`) by process 1, then a read by process 2 of `v`.
    fn after_add(a: i64, outcome: &str, v: i64) -> CheckOutcome {
        run(&[
            (1, "invoke", "add", json!(a)),
            (1, outcome, "add", json!(a)),
            (2, "invoke", "read", json!(null)),
            (2, "ok", "read", json!(v)),
        ])
    }

    /// A read by process 2 concurrent with `add a` (ending with `outcome`), returning `v`.
    fn during_add(a: i64, outcome: &str, v: i64) -> CheckOutcome {
        run(&[
            (1, "invoke", "add", json!(a)),
            (2, "invoke", "read", json!(null)),
            (2, "ok", "read", json!(v)),
            (1, outcome, "add", json!(a)),
        ])
    }

    #[test]
    fn table_of_reads_and_their_bounds() {
        // (history builder, add, outcome of the add, value read, valid?)
        type Build = fn(i64, &str, i64) -> CheckOutcome;
        let cases: [(Build, i64, &str, i64, bool); 16] = [
            (after_add, 5, "ok", 5, true),
            (after_add, 5, "ok", 4, false),
            (after_add, 5, "ok", 6, false),
            (after_add, 5, "fail", 0, true),
            (after_add, 5, "fail", 5, false),
            (after_add, 5, "info", 0, true),
            (after_add, 5, "info", 5, true),
            (during_add, 5, "ok", 0, true),
            (during_add, 5, "ok", 5, true),
            (during_add, 5, "ok", 6, false),
            // Negative adds: the bounds use the sign.
            (after_add, -3, "ok", -3, true),
            (after_add, -3, "ok", 0, false),
            (after_add, -3, "info", 0, true),
            (after_add, -3, "info", -3, true),
            (during_add, -3, "ok", 0, true),
            (during_add, -3, "ok", -4, false),
        ];
        for (build, a, outcome, v, valid) in cases {
            let o = build(a, outcome, v);
            let want = if valid { Validity::Valid } else { Validity::Invalid };
            assert_eq!(o.validity, want, "add {a} {outcome}, read {v}: {o:#?}");
            assert_eq!(o.anomaly_types.is_empty(), valid);
        }
    }

    #[test]
    fn an_error_carries_its_bounds() {
        let o = run(&[
            (1, "invoke", "add", json!(10)),
            (1, "ok", "add", json!(10)),
            (1, "invoke", "add", json!(-4)),
            (2, "invoke", "read", json!(null)),
            (2, "ok", "read", json!(11)),
            (1, "info", "add", json!(-4)),
        ]);
        assert_eq!(o.validity, Validity::Invalid);
        let a = &o.anomalies["out-of-bounds"][0];
        assert_eq!(a.data, json!({"lower": 6, "value": 11, "upper": 10}));
        assert_eq!(a.ops, [4]);
        assert_eq!(o.details["max_absolute_error"], a.data);
    }

    #[test]
    fn shape_errors() {
        let e = check(&history(&[(1, "invoke", "add", json!("x"))]), &Options::default()).expect_err("not a number");
        assert!(e.expected.contains("amount to add as an integer"), "{e}");
        let e =
            check(&history(&[(1, "invoke", "read", json!(null)), (1, "ok", "read", json!([1]))]), &Options::default())
                .expect_err("a list is not a counter value");
        assert_eq!(e.index, 1);
        let e = check(&history(&[(1, "invoke", "inc", json!(1))]), &Options::default()).expect_err("inc");
        assert!(e.expected.contains("found `inc`"), "{e}");
    }
}
