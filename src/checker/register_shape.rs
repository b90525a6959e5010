//! Shape validation for register histories: a history checked as `register`, `cas-register` or
//! `kv` must have ops the model accepts (`read`, `write`, and `cas` for the cas models) with
//! values of the model's shapes (`v`, `[k v]`, `[old new]`, `[k [old new]]`). The first client op
//! that does not fit is a `ShapeError`, so a history of another kind is refused, never checked.

use super::{ModelKind, ShapeError};
use crate::history::{Atom, OpType, Ops, Process, ValueRef};

/// What a value looks like, as far as the register models care.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// null, a number, a string, a boolean.
    Scalar,
    /// A two-element array; whether its second element is itself a pair of scalars.
    Two { second: Second },
    /// Anything else (objects, longer arrays, nested deeper).
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Second {
    Scalar,
    Pair,
    Other,
}

fn json_shape(v: &serde_json::Value) -> Shape {
    match v {
        serde_json::Value::Array(items) => match items.as_slice() {
            [_, b] => Shape::Two { second: second(json_atom(b)) },
            _ => Shape::Other,
        },
        serde_json::Value::Object(_) => Shape::Other,
        _ => Shape::Scalar,
    }
}

/// A JSON value as the shape of one element.
fn json_atom(v: &serde_json::Value) -> Shape {
    match v {
        serde_json::Value::Array(items) => match items.as_slice() {
            [a, b] if json_atom(a) == Shape::Scalar && json_atom(b) == Shape::Scalar => {
                Shape::Two { second: Second::Scalar }
            }
            _ => Shape::Other,
        },
        serde_json::Value::Object(_) => Shape::Other,
        _ => Shape::Scalar,
    }
}

fn second(s: Shape) -> Second {
    match s {
        Shape::Scalar => Second::Scalar,
        Shape::Two { second: Second::Scalar } => Second::Pair,
        _ => Second::Other,
    }
}

fn atom_shape(a: Atom<'_>) -> Shape {
    match a {
        Atom::Null | Atom::Int(_) => Shape::Scalar,
        Atom::Json(v) => json_atom(v),
    }
}

fn shape(v: ValueRef<'_>) -> Shape {
    match v {
        ValueRef::One(Atom::Json(v)) => json_shape(v),
        ValueRef::One(_) => Shape::Scalar,
        ValueRef::Pair(a, b) if atom_shape(a) == Shape::Scalar => Shape::Two { second: second(atom_shape(b)) },
        ValueRef::Pair(..) => Shape::Other,
        ValueRef::Nested(..) => Shape::Two { second: Second::Pair },
    }
}

/// Checks that every client invocation and ok completion of `ops` fits `model`; nemesis ops
/// are not looked at.
pub fn check_shape<H: Ops + ?Sized>(ops: &H, model: ModelKind) -> Result<(), ShapeError> {
    let name = match model {
        ModelKind::Register => "register",
        ModelKind::CasRegister => "cas-register",
        ModelKind::Kv => "kv",
    };
    let client = |i: &usize| ops.process(*i) != Process::Nemesis && matches!(ops.kind(*i), OpType::Invoke | OpType::Ok);
    // Independent keys when every client value is `[k v]` (as the checker decides), and always
    // for `kv`.
    let tuples = model == ModelKind::Kv
        || (0..ops.len()).filter(client).all(|i| match shape(ops.value(i)) {
            // `[old new]` of a plain cas-register is not a tuple (as the checker decides).
            Shape::Two { second } => ops.f(i) != "cas" || second == Second::Pair,
            _ => false,
        });
    let fs = if model.allows_cas() { "read, write or cas" } else { "read or write" };
    for i in (0..ops.len()).filter(client) {
        let refuse = |expected: String| ShapeError { index: ops.op(i).index, model: name.into(), expected };
        let f = ops.f(i);
        let cas = match f {
            "read" | "write" => false,
            "cas" if model.allows_cas() => true,
            _ => return Err(refuse(format!("an op with :f {fs}, got :f {f}"))),
        };
        let s = shape(ops.value(i));
        let v = match (tuples, s) {
            (true, Shape::Two { second }) => second,
            (true, _) => {
                let got = ops.value(i).to_value();
                return Err(refuse(format!("a [key value] tuple (as every other op has), got {got}")));
            }
            (false, Shape::Scalar) => Second::Scalar,
            (false, Shape::Two { second: Second::Scalar }) => Second::Pair,
            (false, _) => Second::Other,
        };
        let ok = match (cas, v) {
            // A cas carries [old new]; an ok read or a write a plain value.
            (true, Second::Pair) => true,
            (true, _) => false,
            (false, Second::Scalar) => true,
            (false, _) => false,
        };
        if !ok {
            let want = if cas { "[old new]" } else { "a plain value (null, a number or a string)" };
            let want = if tuples { format!("{want} as the value of its [key value] tuple") } else { want.to_string() };
            return Err(refuse(format!("a {f} with {want}, got {}", ops.value(i).to_value())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::history::{CompactHistory, History, Op};

    fn op(i: u64, kind: OpType, f: &str, value: Value) -> Op {
        Op { index: i, time: i, kind, process: Process::Client(i / 2), f: f.into(), value, node: None, error: None }
    }

    /// The verdict on the `[Op]` and on the compact form, which must agree.
    fn check(ops: &[Op], model: ModelKind) -> Result<(), String> {
        let compact = CompactHistory::from(&History::new(Default::default(), ops.to_vec()));
        let a = check_shape(ops, model).map_err(|e| e.to_string());
        assert_eq!(a, check_shape(&compact, model).map_err(|e| e.to_string()));
        a
    }

    #[test]
    fn register_histories_fit() {
        let plain = [
            op(0, OpType::Invoke, "write", json!(3)),
            op(1, OpType::Ok, "write", json!(3)),
            op(2, OpType::Invoke, "read", json!(null)),
            op(3, OpType::Ok, "read", json!("x")),
            op(4, OpType::Invoke, "cas", json!([3, 4])),
        ];
        assert_eq!(check(&plain, ModelKind::CasRegister), Ok(()));
        assert_eq!(check(&plain[..4], ModelKind::Register), Ok(()));
        let tuples = [
            op(0, OpType::Invoke, "write", json!([1, 3])),
            op(1, OpType::Ok, "write", json!(["k", 3])),
            op(2, OpType::Invoke, "cas", json!([1, [3, 4]])),
            op(3, OpType::Fail, "cas", json!({"odd": "fail values are not looked at"})),
        ];
        assert_eq!(check(&tuples, ModelKind::CasRegister), Ok(()));
        assert_eq!(check(&tuples, ModelKind::Kv), Ok(()));
        // Only cas ops, plain: `[old new]` is not a tuple.
        let cas_only = [op(0, OpType::Invoke, "cas", json!([1, 2])), op(1, OpType::Ok, "cas", json!([1, 2]))];
        assert_eq!(check(&cas_only, ModelKind::CasRegister), Ok(()));
    }

    #[test]
    fn other_histories_are_refused_at_their_first_bad_op() {
        let e = check(
            &[op(0, OpType::Invoke, "read", json!(null)), op(1, OpType::Invoke, "cas", json!([1, 2]))],
            ModelKind::Register,
        );
        assert_eq!(e.unwrap_err(), "op 1 does not fit the register model: an op with :f read or write, got :f cas");
        let txn = [op(0, OpType::Invoke, "txn", json!([["append", "x", 1]]))];
        assert!(check(&txn, ModelKind::CasRegister)
            .unwrap_err()
            .starts_with("op 0 does not fit the cas-register model"));
        let e = check(&[op(0, OpType::Invoke, "cas", json!(5))], ModelKind::CasRegister).unwrap_err();
        assert!(e.contains("a cas with [old new], got 5"), "{e}");
        let e = check(&[op(0, OpType::Ok, "read", json!([1, 2, 3]))], ModelKind::CasRegister).unwrap_err();
        assert!(e.contains("plain value"), "{e}");
        let e = check(&[op(0, OpType::Ok, "read", json!([1, 2])), op(1, OpType::Ok, "write", json!(4))], ModelKind::Kv)
            .unwrap_err();
        assert!(e.starts_with("op 1 does not fit the kv model: a [key value] tuple"), "{e}");
        let e = check(&[op(0, OpType::Ok, "write", json!([1, {"a": 1}]))], ModelKind::Kv).unwrap_err();
        assert!(e.contains("as the value of its [key value] tuple"), "{e}");
    }
}
