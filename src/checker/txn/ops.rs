//! Builds `Txns` from brawl's `Op`s, refusing (with `ShapeError`) the first op whose value does
//! not fit the model: list-append takes `append` and `r` micro-ops (reads of lists), rw-register
//! `w` and `r` (reads of single values).

use serde_json::Value;

use super::history::{Builder, MopKind, Status, Txns};
use super::Model;
use crate::checker::ShapeError;
use crate::history::{Op, OpType, Process};

/// Builds the compact history; nemesis ops are skipped.
pub(crate) fn build(ops: &[Op], model: Model) -> Result<Txns, ShapeError> {
    let mut b = Builder::default();
    let mut invokes: Vec<(u32, usize)> = Vec::new();
    for (pos, op) in ops.iter().enumerate() {
        let Process::Client(p) = op.process else { continue };
        let pos = pos as u64 + 1;
        match op.kind {
            OpType::Invoke => {
                shape(&mut Builder::default(), op, model, false)?;
                b.invoke(p, pos, op.index);
                invokes.push((b.t.txns.len() as u32 - 1, pos as usize - 1));
            }
            kind => {
                let status = match kind {
                    OpType::Ok => Status::Ok,
                    OpType::Fail => Status::Fail,
                    _ => Status::Info,
                };
                b.complete(p, pos, op.index, status);
                shape(&mut b, op, model, status == Status::Ok)?;
                b.end();
            }
        }
    }
    let open = b.take_open();
    for id in open {
        if let Some((_, at)) = invokes.iter().find(|(t, _)| *t == id) {
            b.reopen(id);
            shape(&mut b, &ops[*at], model, false)?;
            b.end();
        }
    }
    Ok(b.finish())
}

fn err(op: &Op, model: Model, expected: impl Into<String>) -> ShapeError {
    ShapeError { index: op.index, model: model.name().to_string(), expected: expected.into() }
}

/// Checks one op's value and adds its micro-ops to the current txn of `b`.
fn shape(b: &mut Builder, op: &Op, model: Model, ok: bool) -> Result<(), ShapeError> {
    let Value::Array(mops) = &op.value else {
        return Err(err(op, model, format!("a transaction (an array of micro-ops), found {}", brief(&op.value))));
    };
    let counts = op.kind != OpType::Fail;
    let mut vals: Vec<i64> = Vec::new();
    for (i, mop) in mops.iter().enumerate() {
        let parts = match mop {
            Value::Array(p) if p.len() == 3 => p,
            _ => return Err(err(op, model, format!("micro-op {i} as [f, key, value], found {}", brief(mop)))),
        };
        let f = parts[0].as_str().unwrap_or("");
        let key = match &parts[1] {
            Value::Number(n) if n.as_i64().is_some() => b.int_key(n.as_i64().unwrap_or_default()),
            Value::String(s) => b.str_key(s),
            other => {
                return Err(err(op, model, format!("micro-op {i}: an integer or string key, found {}", brief(other))))
            }
        };
        let v = &parts[2];
        match (model, f) {
            (Model::ListAppend, "append") | (Model::RwRegister, "w") => {
                let val = scalar(b, v).ok_or_else(|| {
                    err(op, model, format!("micro-op {i}: an integer or string to {f}, found {}", brief(v)))
                })?;
                let kind = if model == Model::ListAppend { MopKind::Append } else { MopKind::Write };
                b.write(kind, key, val);
            }
            (Model::ListAppend, "r") => match v {
                Value::Null if !ok => b.read_scalar(MopKind::ReadNil, key, 0),
                Value::Array(items) => {
                    vals.clear();
                    for it in items {
                        let x = scalar(b, it).ok_or_else(|| {
                            err(op, model, format!("micro-op {i}: a list of integers or strings, found {}", brief(it)))
                        })?;
                        vals.push(x);
                    }
                    b.read_list(key, &vals, counts);
                }
                other => {
                    return Err(err(op, model, format!("micro-op {i}: an ok read of a list, found {}", brief(other))))
                }
            },
            (Model::RwRegister, "r") => match v {
                Value::Null if ok => b.read_scalar(MopKind::ReadInit, key, 0),
                Value::Null => b.read_scalar(MopKind::ReadNil, key, 0),
                other => {
                    let val = scalar(b, other).ok_or_else(|| {
                        err(op, model, format!("micro-op {i}: a read of one value (or null), found {}", brief(other)))
                    })?;
                    b.read_scalar(MopKind::ReadReg, key, val);
                }
            },
            _ => {
                let want = if model == Model::ListAppend { "\"append\" or \"r\"" } else { "\"w\" or \"r\"" };
                return Err(err(op, model, format!("micro-op {i}: f {want}, found {}", brief(&parts[0]))));
            }
        }
    }
    Ok(())
}

fn scalar(b: &mut Builder, v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => b.int_val(n.as_i64()?),
        Value::String(s) => Some(b.str_val(s)),
        _ => None,
    }
}

fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}...",
            &s[..s.char_indices().take_while(|(i, _)| *i < 57).last().map_or(0, |(i, c)| i + c.len_utf8())]
        )
    } else {
        s
    }
}
