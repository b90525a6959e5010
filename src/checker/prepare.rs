//! Turns a history into per-key op lists for the search: pairs invocations with completions
//! by process, drops what cannot matter (nemesis ops, `fail`ed ops, reads with no known
//! result, `info` ops no later op could observe), interns values to `u32` ids and gives each
//! `info` op a deadline after which its effect could no longer be seen.

use super::fx::FxHashMap;
use super::model::{ModelKind, RegOp, NULL};
use crate::history::{Atom, OpType, Ops, Process, ValueRef};
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

/// A `[key, v]` tuple's element, or a whole value, as the split reads it.
#[derive(Clone, Debug)]
enum Part<'a> {
    Atom(Atom<'a>),
    /// `[a, b]`, say a cas's `[old, new]`.
    Pair(Atom<'a>, Atom<'a>),
    /// Any other shape, rebuilt.
    Owned(Value),
}

impl<'a> Part<'a> {
    /// A whole value.
    fn of(v: ValueRef<'a>) -> Part<'a> {
        match v {
            ValueRef::One(a) => Part::Atom(a),
            ValueRef::Pair(a, b) => Part::Pair(a, b),
            nested @ ValueRef::Nested(..) => Part::Owned(nested.to_value()),
        }
    }

    /// The key and value of a Jepsen independent tuple `[key, v]`.
    fn tuple(v: ValueRef<'a>) -> Option<(Part<'a>, Part<'a>)> {
        match v {
            ValueRef::Pair(k, v) => Some((Part::Atom(k), Part::Atom(v))),
            ValueRef::Nested(k, a, b) => Some((Part::Atom(k), Part::Pair(a, b))),
            ValueRef::One(Atom::Json(v)) => two(v).map(|(k, v)| (Part::Atom(k), Part::Atom(v))),
            ValueRef::One(_) => None,
        }
    }

    fn is_null(&self) -> bool {
        match self {
            Part::Atom(Atom::Null) => true,
            Part::Atom(Atom::Json(v)) => v.is_null(),
            Part::Owned(v) => v.is_null(),
            _ => false,
        }
    }

    /// The two elements, if this is a two-element array.
    fn pair(&self) -> Option<(Atom<'_>, Atom<'_>)> {
        match self {
            Part::Pair(a, b) => Some((*a, *b)),
            Part::Atom(Atom::Json(v)) => two(v),
            Part::Owned(v) => two(v),
            Part::Atom(_) => None,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Part::Atom(a) => a.to_value(),
            Part::Pair(a, b) => Value::Array(vec![a.to_value(), b.to_value()]),
            Part::Owned(v) => v.clone(),
        }
    }
}

fn two(v: &Value) -> Option<(Atom<'_>, Atom<'_>)> {
    match v.as_array().map(Vec::as_slice) {
        Some([a, b]) => Some((Atom::Json(a), Atom::Json(b))),
        _ => None,
    }
}

impl Interner {
    fn atom(&mut self, a: Atom<'_>) -> u32 {
        match a {
            Atom::Null => NULL,
            Atom::Int(i) => {
                let next = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
                let id = *self.ints.entry(i).or_insert(next);
                if id == next {
                    self.values.push(Value::from(i));
                }
                id
            }
            Atom::Json(v) => self.id(v),
        }
    }

    fn part(&mut self, p: &Part<'_>) -> u32 {
        match p {
            Part::Atom(a) => self.atom(*a),
            other => self.id(&other.to_value()),
        }
    }
}

/// The positions of one key's client ops in the history (invocations and the completions
/// that pair with them), found by `split` and turned into a `KeyHistory` by `prepare`.
#[derive(Debug, Default)]
pub(crate) struct KeyOps {
    /// The key as it appears in the history.
    pub key: Value,
    /// Positions in the history, in order.
    pub positions: Vec<usize>,
}

/// The history split by key: keys in order of first appearance.
#[derive(Debug, Default)]
pub(crate) struct Split {
    /// Whether values are `[key, v]` tuples (else the history is one plain register).
    pub tuples: bool,
    /// The keys.
    pub keys: Vec<KeyOps>,
}

/// The key and value of op `pos` (a whole value and a null key unless values are tuples).
fn key_value<H: Ops + ?Sized>(ops: &H, pos: usize, tuples: bool) -> (Part<'_>, Part<'_>) {
    let value = ops.value(pos);
    let whole = || (Part::Atom(Atom::Null), Part::of(value));
    if tuples {
        Part::tuple(value).unwrap_or_else(whole)
    } else {
        whole()
    }
}

/// Splits `ops` by key: a completion goes with its process's outstanding invocation. Cheap, so
/// that the costly part (`prepare`, interning values) runs per key, in parallel.
pub(crate) fn split<H: Ops + ?Sized>(ops: &H) -> Split {
    let tuples = uses_tuples(ops);
    let mut keys = Interner::default();
    // Interned key id -> index in `out`.
    let mut slot: Vec<usize> = Vec::new();
    let mut out: Vec<KeyOps> = Vec::new();
    // Per process: key index of its outstanding invocation.
    let mut open: FxHashMap<u64, usize> = FxHashMap::default();
    for pos in 0..ops.len() {
        let Process::Client(p) = ops.process(pos) else { continue };
        if ops.kind(pos) == OpType::Invoke {
            let (key, _) = key_value(ops, pos, tuples);
            let id = keys.part(&key) as usize;
            if id >= slot.len() {
                slot.resize(id + 1, usize::MAX);
            }
            if slot[id] == usize::MAX {
                slot[id] = out.len();
                out.push(KeyOps { key: key.to_value(), positions: Vec::new() });
            }
            out[slot[id]].positions.push(pos);
            open.insert(p, slot[id]);
        } else if let Some(k) = open.remove(&p) {
            out[k].positions.push(pos);
        }
    }
    Split { tuples, keys: out }
}

/// Turns one key's ops into the search's input: pairs them by process, interns values, drops
/// what cannot matter and gives `info` ops their deadlines.
pub(crate) fn prepare<H: Ops + ?Sized>(ops: &H, model: ModelKind, tuples: bool, key: KeyOps) -> KeyHistory {
    let mut h = KeyHistory { key: key.key, ..KeyHistory::default() };
    h.ops.reserve(key.positions.len() / 2);
    // Per process: index in `h.ops` of its outstanding invocation.
    let mut open: FxHashMap<u64, usize> = FxHashMap::default();
    for pos in key.positions {
        let Process::Client(p) = ops.process(pos) else { continue };
        let (_, v) = key_value(ops, pos, tuples);
        let kind = ops.kind(pos);
        if kind == OpType::Invoke {
            let parsed = match ops.f(pos) {
                "read" => Some(RegOp::Read(NULL)),
                "write" => Some(RegOp::Write(h.values.part(&v))),
                "cas" if model.allows_cas() => {
                    v.pair().map(|(old, new)| RegOp::Cas(h.values.atom(old), h.values.atom(new)))
                }
                _ => None,
            };
            let Some(parsed) = parsed else {
                h.unsupported.get_or_insert_with(|| {
                    format!("op {} with value {} is not in the model", ops.f(pos), ops.value(pos).to_value())
                });
                // The completion, if any, then pairs with nothing.
                open.remove(&p);
                continue;
            };
            let kop = KOp { op: parsed, call: pos, complete: None, ok: false, deadline: Deadline::Forever };
            h.ops.push(kop);
            // A second invocation by a process with one outstanding: the first stays indeterminate.
            open.insert(p, h.ops.len() - 1);
        } else if let Some(i) = open.remove(&p) {
            let kop = &mut h.ops[i];
            kop.complete = Some(pos);
            match kind {
                OpType::Ok => {
                    kop.ok = true;
                    kop.deadline = Deadline::At(pos);
                    if let RegOp::Read(_) = kop.op {
                        kop.op = RegOp::Read(h.values.part(&v));
                    }
                }
                OpType::Fail => kop.deadline = Deadline::Never,
                OpType::Info | OpType::Invoke => {}
            }
        }
    }
    // A read that never returned a value constrains nothing.
    h.ops.retain(|o| o.deadline != Deadline::Never && (o.ok || !matches!(o.op, RegOp::Read(_))));
    assign_info_deadlines(&mut h.ops);
    h.ops.retain(|o| o.deadline != Deadline::Never);
    h.ops.shrink_to_fit();
    h
}

/// Whether client values are Jepsen independent tuples `[key, v]` (else: one plain register).
fn uses_tuples<H: Ops + ?Sized>(ops: &H) -> bool {
    let mut any = false;
    for i in (0..ops.len()).filter(|&i| ops.process(i) != Process::Nemesis) {
        let Some((_, v)) = Part::tuple(ops.value(i)) else { return false };
        if ops.f(i) == "cas" && !(v.is_null() || v.pair().is_some()) {
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
