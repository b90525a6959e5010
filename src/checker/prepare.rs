//! Turns a history into per-key op lists for the search: pairs invocations with completions
//! by process, drops what cannot matter (nemesis ops, `fail`ed ops, reads with no known
//! result, `info` ops no later op could observe), interns values to `u32` ids and gives each
//! `info` op a deadline after which its effect could no longer be seen.

use super::fx::FxHashMap;
use super::model::{ModelKind, RegOp, NULL};
use crate::history::{Op, OpType, Process};
use serde_json::Value;

/// The latest point an op may take effect. Ordered: `Never < At(_) < Forever`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Deadline {
    /// An `info` op whose effect nothing could observe: the search leaves it out.
    Never,
    /// Before the history position (an ok op's completion, or the last observer of an `info`).
    At(usize),
    /// An `info` op (or an invocation never completed) that may take effect at any time.
    Forever,
}

/// One client operation on one key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KOp {
    /// The op with its result, values interned.
    pub op: RegOp,
    /// Position of the invocation in the history slice.
    pub call: usize,
    /// Position of the completion, if the op completed (ok or info).
    pub complete: Option<usize>,
    /// Whether the op completed `ok` (it must take effect before `complete`).
    pub ok: bool,
    /// When it must have taken effect by (ok ops) or can no longer matter (info ops).
    pub deadline: Deadline,
}

/// The ops of one key, in invocation order.
#[derive(Debug, Default)]
pub(crate) struct KeyHistory {
    /// The key as it appears in the history (null for a plain single-register history).
    pub key: Value,
    /// The ops to check.
    pub ops: Vec<KOp>,
    /// Value ids to values (`values[0]` is null).
    pub values: Interner,
    /// Set when the key has an op the model cannot check (then the key is `Unknown`).
    pub unsupported: Option<String>,
}

/// Interns JSON values to dense `u32` ids without allocating for integers and strings.
#[derive(Debug)]
pub(crate) struct Interner {
    ints: FxHashMap<i64, u32>,
    strs: FxHashMap<String, u32>,
    other: FxHashMap<String, u32>,
    values: Vec<Value>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            ints: FxHashMap::default(),
            strs: FxHashMap::default(),
            other: FxHashMap::default(),
            values: vec![Value::Null],
        }
    }
}

impl Interner {
    /// The id of `v`, adding it if new. Null is always `NULL`.
    pub(crate) fn id(&mut self, v: &Value) -> u32 {
        let next = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        let id = match v {
            Value::Null => return NULL,
            Value::Number(n) if n.as_i64().is_some() => *self.ints.entry(n.as_i64().unwrap_or(0)).or_insert(next),
            Value::String(s) => match self.strs.get(s.as_str()) {
                Some(id) => *id,
                None => *self.strs.entry(s.clone()).or_insert(next),
            },
            other => *self.other.entry(other.to_string()).or_insert(next),
        };
        if id == next {
            self.values.push(v.clone());
        }
        id
    }

    /// The value behind an id.
    pub(crate) fn value(&self, id: u32) -> Value {
        self.values.get(id as usize).cloned().unwrap_or(Value::Null)
    }
}

/// Splits `ops` by key. Keys come out in order of first appearance.
pub(crate) fn split(ops: &[Op], model: ModelKind) -> Vec<KeyHistory> {
    let tuples = uses_tuples(ops);
    let mut keys = Interner::default();
    // Interned key id -> index in `out`.
    let mut slot: Vec<usize> = Vec::new();
    let mut out: Vec<KeyHistory> = Vec::new();
    // Per process: (key index, op index) of its outstanding invocation.
    let mut open: FxHashMap<u64, (usize, usize)> = FxHashMap::default();
    for (pos, op) in ops.iter().enumerate() {
        let Process::Client(p) = op.process else { continue };
        let (key, v) = if tuples { (&op.value[0], &op.value[1]) } else { (&Value::Null, &op.value) };
        if op.kind == OpType::Invoke {
            let id = keys.id(key) as usize;
            if id >= slot.len() {
                slot.resize(id + 1, usize::MAX);
            }
            if slot[id] == usize::MAX {
                slot[id] = out.len();
                out.push(KeyHistory { key: key.clone(), ..KeyHistory::default() });
            }
            let k = slot[id];
            let h = &mut out[k];
            let parsed = match op.f.as_str() {
                "read" => Some(RegOp::Read(NULL)),
                "write" => Some(RegOp::Write(h.values.id(v))),
                "cas" if model.allows_cas() => match v.as_array().map(Vec::as_slice) {
                    Some([old, new]) => Some(RegOp::Cas(h.values.id(old), h.values.id(new))),
                    _ => None,
                },
                _ => None,
            };
            let Some(parsed) = parsed else {
                h.unsupported.get_or_insert_with(|| format!("op {} with value {} is not in the model", op.f, op.value));
                continue;
            };
            let kop = KOp { op: parsed, call: pos, complete: None, ok: false, deadline: Deadline::Forever };
            h.ops.push(kop);
            // A second invocation by a process with one outstanding: the first stays indeterminate.
            open.insert(p, (k, h.ops.len() - 1));
        } else if let Some((k, i)) = open.remove(&p) {
            let h = &mut out[k];
            let kop = &mut h.ops[i];
            kop.complete = Some(pos);
            match op.kind {
                OpType::Ok => {
                    kop.ok = true;
                    kop.deadline = Deadline::At(pos);
                    if let RegOp::Read(_) = kop.op {
                        kop.op = RegOp::Read(h.values.id(v));
                    }
                }
                OpType::Fail => kop.deadline = Deadline::Never,
                OpType::Info | OpType::Invoke => {}
            }
        }
    }
    for h in &mut out {
        // A read that never returned a value constrains nothing.
        h.ops.retain(|o| o.deadline != Deadline::Never && (o.ok || !matches!(o.op, RegOp::Read(_))));
        assign_info_deadlines(&mut h.ops);
        h.ops.retain(|o| o.deadline != Deadline::Never);
    }
    out
}

/// Whether client values are Jepsen independent tuples `[key, v]` (else: one plain register).
fn uses_tuples(ops: &[Op]) -> bool {
    let mut any = false;
    for op in ops.iter().filter(|o| o.process != Process::Nemesis) {
        let Some([_, v]) = op.value.as_array().map(Vec::as_slice) else { return false };
        if op.f == "cas" && !(v.is_null() || v.as_array().is_some_and(|a| a.len() == 2)) {
            return false;
        }
        any = true;
    }
    any
}

/// The value an op leaves in the register, if it changes it.
fn produces(op: RegOp) -> Option<u32> {
    match op {
        RegOp::Read(_) => None,
        RegOp::Write(v) | RegOp::Cas(_, v) => Some(v),
    }
}

/// The value an op needs to find in the register.
fn consumes(op: RegOp) -> Option<u32> {
    match op {
        RegOp::Write(_) => None,
        RegOp::Read(v) | RegOp::Cas(v, _) => Some(v),
    }
}

/// Gives each `info` op the latest deadline of an op that could observe its value, or `Never`.
///
/// An `info` op applied after every possible observer of its value took effect changes nothing
/// anyone sees: each later op that depends on the state would have to observe that value, and
/// so be late too, so dropping all late `info` ops from a valid linearization leaves a valid
/// one. The deadlines are the least fixpoint of `D(info) = max D(observer of its value)` over
/// observers whose deadline is after the info's invocation; if it does not settle quickly,
/// every `info` keeps `Forever`, which is always sound.
fn assign_info_deadlines(ops: &mut [KOp]) {
    let infos: Vec<usize> = (0..ops.len()).filter(|&i| !ops[i].ok).collect();
    if infos.is_empty() {
        return;
    }
    for &i in &infos {
        ops[i].deadline = Deadline::Never;
    }
    for _round in 0..64 {
        let mut latest: FxHashMap<u32, Deadline> = FxHashMap::default();
        for o in ops.iter() {
            if let Some(v) = consumes(o.op) {
                let e = latest.entry(v).or_insert(Deadline::Never);
                *e = (*e).max(o.deadline);
            }
        }
        let mut changed = false;
        for &i in &infos {
            let seen = produces(ops[i].op).and_then(|v| latest.get(&v).copied()).unwrap_or(Deadline::Never);
            let d = if seen > Deadline::At(ops[i].call) { seen } else { Deadline::Never };
            if d > ops[i].deadline {
                ops[i].deadline = d;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
    for &i in &infos {
        ops[i].deadline = Deadline::Forever;
    }
}
