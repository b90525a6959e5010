//! What the data-structure checkers (set, set-full, counter, bank, total-queue, unique-ids,
//! mutex) share: `Elem`, an element value that can be ordered and hashed; `Call`, a client op's
//! invocation with its completion (`calls`); shape errors; interval strings and Jepsen's
//! latency quantiles.

use std::fmt;

use serde_json::{json, Value};

use super::outcome::ShapeError;
use crate::history::{pair, Op, OpType, Process};

/// An element of a set or queue, or an id: integers compare as numbers, anything else by its
/// JSON text (objects have sorted keys, so equal values have equal text).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Elem {
    /// An integer.
    Int(i64),
    /// Any other value, as JSON.
    Other(String),
}

impl Elem {
    /// The element a JSON value stands for.
    pub(crate) fn of(v: &Value) -> Elem {
        match v.as_i64() {
            Some(i) => Elem::Int(i),
            None => Elem::Other(v.to_string()),
        }
    }

    /// Back to JSON.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Elem::Int(i) => json!(i),
            Elem::Other(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        }
    }
}

impl fmt::Display for Elem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Elem::Int(i) => write!(f, "{i}"),
            Elem::Other(s) => f.write_str(s),
        }
    }
}

/// One client op: its invocation and, if the history has it, its completion.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call<'a> {
    /// Position of the invocation in the op slice.
    pub invoke_pos: usize,
    /// The invocation.
    pub invoke: &'a Op,
    /// Position of the completion.
    pub complete_pos: Option<usize>,
    /// The completion.
    pub complete: Option<&'a Op>,
}

impl<'a> Call<'a> {
    /// How the op ended; `Info` (indeterminate) when it never completed.
    pub(crate) fn outcome(&self) -> OpType {
        self.complete.map_or(OpType::Info, |c| c.kind)
    }

    /// Whether it completed `ok`.
    pub(crate) fn ok(&self) -> bool {
        self.outcome() == OpType::Ok
    }

    /// The completion if it is `ok`.
    pub(crate) fn ok_completion(&self) -> Option<&'a Op> {
        self.complete.filter(|c| c.kind == OpType::Ok)
    }

    /// The index of the completion, or of the invocation when there is none.
    pub(crate) fn last_index(&self) -> u64 {
        self.complete.map_or(self.invoke.index, |c| c.index)
    }

    /// The position of the completion, or the end of the history when there is none.
    pub(crate) fn end_pos(&self) -> usize {
        self.complete_pos.unwrap_or(usize::MAX)
    }
}

/// The client ops of a history, in invocation order (nemesis ops left out). A completion with no
/// invocation is refused: it has no op to belong to.
pub(crate) fn calls<'a>(ops: &'a [Op], model: &str) -> Result<Vec<Call<'a>>, ShapeError> {
    let pairs = pair(ops);
    let mut paired = vec![false; ops.len()];
    let mut out = Vec::with_capacity(pairs.len());
    for p in pairs {
        let invoke = &ops[p.invoke];
        if invoke.process == Process::Nemesis {
            continue;
        }
        paired[p.invoke] = true;
        if let Some(c) = p.complete {
            paired[c] = true;
        }
        if !invoke.is_invoke() {
            return Err(shape(invoke, model, format!("a completion ({}) with no invocation before it", invoke.kind)));
        }
        out.push(Call {
            invoke_pos: p.invoke,
            invoke,
            complete_pos: p.complete,
            complete: p.complete.map(|c| &ops[c]),
        });
    }
    if let Some(op) = ops.iter().zip(&paired).find(|(o, &p)| !p && o.process != Process::Nemesis).map(|(o, _)| o) {
        return Err(shape(op, model, format!("a completion ({}) with no invocation before it", op.kind)));
    }
    Ok(out)
}

/// A `ShapeError` for `op`.
pub(crate) fn shape(op: &Op, model: &str, expected: impl Into<String>) -> ShapeError {
    ShapeError { index: op.index, model: model.to_string(), expected: expected.into() }
}

/// Refuses a call whose `f` is not one of `fs`.
pub(crate) fn unknown_f(call: &Call<'_>, model: &str, fs: &[&str]) -> ShapeError {
    let want: Vec<String> = fs.iter().map(|f| format!("`{f}`")).collect();
    shape(call.invoke, model, format!("f {}, found `{}`", want.join(" or "), call.invoke.f))
}

/// A value that must be an integer.
pub(crate) fn int(op: &Op, model: &str, what: &str) -> Result<i64, ShapeError> {
    op.value.as_i64().ok_or_else(|| shape(op, model, format!("{what} as an integer, found {}", op.value)))
}

/// A value that must be a list of elements.
pub(crate) fn list<'a>(op: &'a Op, model: &str, what: &str) -> Result<&'a [Value], ShapeError> {
    op.value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| shape(op, model, format!("{what} as a list, found {}", op.value)))
}

/// A value that must be present (not null).
pub(crate) fn element(op: &Op, model: &str, what: &str) -> Result<Elem, ShapeError> {
    if op.value.is_null() {
        return Err(shape(op, model, format!("{what}, found null")));
    }
    Ok(Elem::of(&op.value))
}

/// Sorted elements as a short string, with runs of consecutive integers as ranges:
/// `1-3, 5, "x"` (Jepsen's integer interval sets).
pub(crate) fn intervals<'a>(elems: impl IntoIterator<Item = &'a Elem>) -> String {
    let mut sorted: Vec<&Elem> = elems.into_iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(i64, i64)> = None;
    let flush = |run: &mut Option<(i64, i64)>, parts: &mut Vec<String>| {
        if let Some((a, b)) = run.take() {
            parts.push(if a == b { a.to_string() } else { format!("{a}-{b}") });
        }
    };
    for e in sorted {
        match (e, run) {
            (Elem::Int(i), Some((a, b))) if b.checked_add(1) == Some(*i) => run = Some((a, *i)),
            (Elem::Int(i), _) => {
                flush(&mut run, &mut parts);
                run = Some((*i, *i));
            }
            (other, _) => {
                flush(&mut run, &mut parts);
                parts.push(other.to_string());
            }
        }
    }
    flush(&mut run, &mut parts);
    parts.join(", ")
}

/// Jepsen's `frequency-distribution` at 0, 0.5, 0.95, 0.99 and 1 of `values` (sorted here):
/// the value at position `min(n - 1, floor(n * q))`. Null when there are no values.
pub(crate) fn quantiles(mut values: Vec<f64>) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let mut m = serde_json::Map::new();
    for (name, q) in [("0", 0.0), ("0.5", 0.5), ("0.95", 0.95), ("0.99", 0.99), ("1", 1.0)] {
        let i = ((n as f64 * q).floor() as usize).min(n - 1);
        m.insert(name.to_string(), json!(values[i]));
    }
    Value::Object(m)
}

/// Nanoseconds as milliseconds, to the microsecond.
pub(crate) fn ms(ns: u64) -> f64 {
    (ns / 1000) as f64 / 1000.0
}

#[cfg(test)]
pub(crate) mod testkit {
    //! Hand-built histories for the checkers' tests.
    use super::*;

    /// `(process, type, f, value)` rows to a history: dense indices, op `i` at `i` ms.
    pub(crate) fn history(rows: &[(u64, &str, &str, Value)]) -> Vec<Op> {
        rows.iter()
            .enumerate()
            .map(|(i, (p, kind, f, value))| Op {
                index: i as u64,
                time: i as u64 * 1_000_000,
                kind: serde_json::from_value(json!(kind)).expect("a valid op type"),
                process: Process::Client(*p),
                f: (*f).into(),
                value: value.clone(),
                node: None,
                error: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::history;
    use super::*;

    #[test]
    fn intervals_join_runs_of_integers() {
        let es = [Elem::Int(3), Elem::Int(1), Elem::Int(2), Elem::Int(5), Elem::of(&json!("x")), Elem::Int(2)];
        assert_eq!(intervals(&es), "1-3, 5, \"x\"");
        assert_eq!(intervals(&[]), "");
    }

    #[test]
    fn quantiles_follow_jepsen() {
        let q = quantiles((1..=10).map(f64::from).collect());
        assert_eq!(q["0"], json!(1.0));
        assert_eq!(q["0.5"], json!(6.0));
        assert_eq!(q["0.95"], json!(10.0));
        assert_eq!(q["1"], json!(10.0));
        assert_eq!(quantiles(Vec::new()), Value::Null);
    }

    #[test]
    fn a_completion_without_invocation_is_refused() {
        let ops = history(&[(1, "ok", "add", json!(1))]);
        let e = calls(&ops, "set").expect_err("no invocation");
        assert_eq!(e.index, 0);
        assert!(e.expected.contains("no invocation"), "{e}");
    }

    #[test]
    fn elements_order_integers_numerically() {
        assert!(Elem::of(&json!(2)) < Elem::of(&json!(10)));
        assert_eq!(Elem::of(&json!({"b": 1, "a": 2})).to_value(), json!({"a": 2, "b": 1}));
    }
}
