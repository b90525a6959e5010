//! `mutex`: a lock checked for linearizability against Knossos' `mutex` model (`model::Mutex`:
//! acquire when free, release when held, anything else inconsistent), with the same search as
//! registers (`search::run`). Clients `acquire` and `release` (values are ignored). As in
//! Knossos, an `ok` op took effect within its interval, a `fail`ed one never did, and an
//! indeterminate one (`info`, or never completed) may take effect at any time after its
//! invocation, or never: a crashed acquire may leave the lock held for good, or not at all.
//!
//! Invalid: one `not-linearizable` anomaly, naming the op no order can explain (two processes
//! holding the lock at once, a release of a free lock), the lock states possible just before
//! it, and the ops concurrent with it. A budget that runs out makes the verdict `unknown`.

use serde_json::json;

use super::budget::{Budget, Meter};
use super::elements::{calls, unknown_f, Call};
use super::model::{LockOp, Mutex};
use super::outcome::{Anomaly, CheckOutcome, ShapeError};
use super::search::{self, Event, Outcome};
use super::Validity;
use crate::history::{Op, OpType};

/// The checker's name, as `--model` spells it.
pub const NAME: &str = "mutex";

/// At most this many concurrent ops are listed with a failure.
const MAX_CONCURRENT: usize = 32;

/// Options of the mutex checker.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Time and memory the search may use.
    pub budget: Budget,
}

/// Checks a lock history (see the module docs).
pub fn check(ops: &[Op], opts: &Options) -> Result<CheckOutcome, ShapeError> {
    let calls = calls(ops, NAME)?;
    let mut events: Vec<(usize, Event)> = Vec::new();
    let mut ok_ops: Vec<LockOp> = Vec::new();
    let mut ok_calls: Vec<&Call> = Vec::new();
    // The two `info` effect classes: every indeterminate acquire is alike, and so is every release.
    let classes = [LockOp::Acquire, LockOp::Release];
    let mut infos = 0usize;
    for c in &calls {
        let op = match c.invoke.f.as_str() {
            "acquire" => LockOp::Acquire,
            "release" => LockOp::Release,
            _ => return Err(unknown_f(c, NAME, &["acquire", "release"])),
        };
        match (c.outcome(), c.complete_pos) {
            (OpType::Fail, _) => {}
            (OpType::Ok, Some(done)) => {
                let j = u32::try_from(ok_ops.len()).unwrap_or(u32::MAX);
                ok_ops.push(op);
                ok_calls.push(c);
                events.push((c.invoke_pos, Event::Call(j)));
                events.push((done, Event::Return(j)));
            }
            _ => {
                infos += 1;
                events.push((c.invoke_pos, Event::InfoCall(op as u32)));
            }
        }
    }
    events.sort_by_key(|e| e.0);
    let events: Vec<Event> = events.into_iter().map(|e| e.1).collect();
    let meter = Meter::new(&opts.budget);
    let checked = format!("{} ok lock ops and {infos} indeterminate ones", ok_ops.len());
    let mut o = match search::run(&Mutex, &events, &ok_ops, &classes, &meter) {
        Outcome::Valid => CheckOutcome::new(NAME, Validity::Valid, format!("linearizable: {checked}")),
        Outcome::Unknown(reason) => CheckOutcome::new(NAME, Validity::Unknown, format!("{reason} ({checked})")),
        Outcome::Invalid { op, states } => {
            let c = ok_calls[op as usize];
            let mut o = CheckOutcome::new(NAME, Validity::Invalid, "");
            let anomaly = explain(&calls, c, &states);
            o.summary = format!("not linearizable: {}", anomaly.explanation);
            o.push("not-linearizable", anomaly);
            o
        }
    };
    o.details = json!({"ok_ops": ok_ops.len(), "indeterminate_ops": infos});
    Ok(o)
}

fn explain(calls: &[Call<'_>], c: &Call<'_>, states: &[bool]) -> Anomaly {
    let (start, end) = (c.invoke_pos, c.end_pos());
    let overlapping: Vec<&Call> = calls
        .iter()
        .filter(|o| o.invoke_pos != start && o.outcome() != OpType::Fail)
        .filter(|o| o.invoke_pos < end && o.end_pos() > start)
        .collect();
    let mut ops = vec![c.invoke.index, c.last_index()];
    ops.extend(overlapping.iter().take(MAX_CONCURRENT).map(|o| o.last_index()));
    let possible: Vec<&str> = states.iter().map(|&held| if held { "held" } else { "free" }).collect();
    let explanation = format!(
        "{} by process {} (invoked at op {}, ok at op {}) cannot be linearized: just before it completed the lock \
         could only be {}; {} ops were concurrent with it",
        c.invoke.f,
        c.invoke.process,
        c.invoke.index,
        c.last_index(),
        if possible.is_empty() { "in no state at all".to_string() } else { possible.join(" or ") },
        overlapping.len()
    );
    let data = json!({"possible_states": possible, "concurrent": overlapping.len()});
    Anomaly { explanation, ops, data, ..Anomaly::default() }
}

#[cfg(test)]
mod tests {
    use super::super::elements::testkit::history;
    use super::*;
    use serde_json::{json, Value};

    type Row = (u64, &'static str, &'static str, Value);

    fn run(rows: &[Row]) -> CheckOutcome {
        check(&history(rows), &Options::default()).expect("a mutex history")
    }

    fn op(p: u64, f: &'static str, outcome: &'static str) -> [Row; 2] {
        [(p, "invoke", f, json!(null)), (p, outcome, f, json!(null))]
    }

    fn rows(parts: &[[Row; 2]]) -> Vec<Row> {
        parts.iter().flat_map(|p| p.iter().cloned()).collect()
    }

    #[test]
    fn table_of_lock_histories() {
        let cases: Vec<(Vec<Row>, Validity)> = vec![
            (rows(&[op(1, "acquire", "ok"), op(1, "release", "ok"), op(2, "acquire", "ok")]), Validity::Valid),
            // Two processes hold the lock at once.
            (rows(&[op(1, "acquire", "ok"), op(2, "acquire", "ok")]), Validity::Invalid),
            // A release of a free lock.
            (rows(&[op(1, "release", "ok")]), Validity::Invalid),
            // A failed acquire never took the lock.
            (rows(&[op(1, "acquire", "fail"), op(2, "acquire", "ok")]), Validity::Valid),
            // An indeterminate acquire may never have taken effect ...
            (rows(&[op(1, "acquire", "info"), op(2, "acquire", "ok")]), Validity::Valid),
            // ... or may have: then a release by anyone is fine.
            (rows(&[op(1, "acquire", "info"), op(2, "release", "ok")]), Validity::Valid),
            // But it takes effect at most once.
            (rows(&[op(1, "acquire", "info"), op(2, "release", "ok"), op(3, "release", "ok")]), Validity::Invalid),
        ];
        for (h, validity) in cases {
            let o = run(&h);
            assert_eq!(o.validity, validity, "{h:?}: {o:#?}");
            assert_eq!(o.anomaly_types.is_empty(), validity == Validity::Valid);
        }
    }

    #[test]
    fn concurrent_acquires_may_be_ordered_with_a_release_between() {
        // p1 holds the lock; p2's acquire overlaps p1's release, so it can follow it.
        let h = vec![
            (1, "invoke", "acquire", json!(null)),
            (1, "ok", "acquire", json!(null)),
            (2, "invoke", "acquire", json!(null)),
            (1, "invoke", "release", json!(null)),
            (1, "ok", "release", json!(null)),
            (2, "ok", "acquire", json!(null)),
        ];
        assert_eq!(run(&h).validity, Validity::Valid);
        // Without the release, p2's acquire cannot succeed.
        let h: Vec<Row> = h.into_iter().filter(|r| r.2 != "release").collect();
        let o = run(&h);
        assert_eq!(o.validity, Validity::Invalid);
        let a = &o.anomalies["not-linearizable"][0];
        assert_eq!(&a.ops[..2], [2, 3]);
        assert!(a.explanation.contains("could only be held"), "{}", a.explanation);
    }

    #[test]
    fn shape_errors() {
        let e = check(&history(&op(1, "lock", "ok")), &Options::default()).expect_err("lock");
        assert!(e.expected.contains("`acquire` or `release`"), "{e}");
        assert_eq!(e.model, NAME);
    }
}
