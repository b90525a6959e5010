//! `CompactHistory`: a history held in 64 bytes per op, for checking large histories offline.
//!
//! An `Op` costs about 350 bytes once its `String`s and `serde_json::Value` arrays are on the
//! heap; a 2M-op history then takes most of a GiB before any checking starts. Here `f`, `node`
//! and `error` are interned, and a value of the shapes register workloads write (`v`, `[k, v]`,
//! `[k, [old, new]]` with null or integer parts) is stored inline; any other JSON value is kept
//! aside in a table. `Ops` lets the checkers read a `CompactHistory` and a `[Op]` alike.

use serde_json::Value;

use super::{Header, History, Op, OpType, Process};
use crate::checker::fx::FxHashMap;

/// No string (`node` or `error` absent).
const NONE: u32 = u32::MAX;

/// Shapes of a compact value (`CompactOp::shape`, low 2 bits).
const ONE: u8 = 0;
const PAIR: u8 = 1;
const NESTED: u8 = 2;

/// Atom tags (2 bits each, from bit 2 of `CompactOp::shape`).
const T_NULL: u8 = 0;
const T_INT: u8 = 1;
const T_JSON: u8 = 2;

/// One part of a value: null, an integer, or any other JSON value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Atom<'a> {
    /// `null`.
    Null,
    /// An integer that fits `i64`.
    Int(i64),
    /// Anything else (strings, floats, objects, longer arrays...).
    Json(&'a Value),
}

impl Atom<'_> {
    /// The JSON value.
    pub fn to_value(self) -> Value {
        match self {
            Atom::Null => Value::Null,
            Atom::Int(i) => Value::from(i),
            Atom::Json(v) => v.clone(),
        }
    }
}

/// An op's value, borrowed: `v`, `[a, b]` or `[a, [b, c]]`. `One(Json(..))` may be any JSON
/// value, arrays of those shapes included (that is how a `[Op]` presents every value).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// A single value.
    One(Atom<'a>),
    /// `[a, b]`.
    Pair(Atom<'a>, Atom<'a>),
    /// `[a, [b, c]]`.
    Nested(Atom<'a>, Atom<'a>, Atom<'a>),
}

impl ValueRef<'_> {
    /// The JSON value.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::One(a) => a.to_value(),
            ValueRef::Pair(a, b) => Value::Array(vec![a.to_value(), b.to_value()]),
            ValueRef::Nested(a, b, c) => {
                Value::Array(vec![a.to_value(), Value::Array(vec![b.to_value(), c.to_value()])])
            }
        }
    }
}

/// Read access to the ops of a history, by position, whatever their representation.
pub trait Ops: Sync {
    /// Number of ops.
    fn len(&self) -> usize;
    /// Whether there are no ops.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Who performed op `i`.
    fn process(&self, i: usize) -> Process;
    /// Op `i`'s type.
    fn kind(&self, i: usize) -> OpType;
    /// Op `i`'s function.
    fn f(&self, i: usize) -> &str;
    /// Op `i`'s value.
    fn value(&self, i: usize) -> ValueRef<'_>;
    /// Op `i` as an `Op` (for reports).
    fn op(&self, i: usize) -> Op;
}

impl Ops for [Op] {
    fn len(&self) -> usize {
        <[Op]>::len(self)
    }
    fn process(&self, i: usize) -> Process {
        self[i].process
    }
    fn kind(&self, i: usize) -> OpType {
        self[i].kind
    }
    fn f(&self, i: usize) -> &str {
        &self[i].f
    }
    fn value(&self, i: usize) -> ValueRef<'_> {
        ValueRef::One(Atom::Json(&self[i].value))
    }
    fn op(&self, i: usize) -> Op {
        self[i].clone()
    }
}

/// One op of a `CompactHistory`; its strings and large values live in the history's tables.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompactOp {
    index: u64,
    time: u64,
    process: u64,
    /// Integers, or indices into `CompactHistory::values`, per the tags in `shape`.
    atoms: [i64; 3],
    f: u32,
    node: u32,
    error: u32,
    kind: OpType,
    /// Bits 0-1: `ONE` / `PAIR` / `NESTED`; bits 2-7: the three atoms' tags.
    shape: u8,
    /// `process` is the nemesis.
    nemesis: bool,
}

/// A part of a value while an op is built: the atom and what its payload is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum RawAtom {
    Null,
    Int(i64),
    /// Index into the values table being built.
    Json(u32),
}

impl RawAtom {
    fn encode(self) -> (u8, i64) {
        match self {
            RawAtom::Null => (T_NULL, 0),
            RawAtom::Int(i) => (T_INT, i),
            RawAtom::Json(j) => (T_JSON, i64::from(j)),
        }
    }
}

/// The value of an op being built.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum RawValue {
    One(RawAtom),
    Pair(RawAtom, RawAtom),
    Nested(RawAtom, RawAtom, RawAtom),
}

/// The fields of an op being built, strings already interned.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawOp {
    pub index: u64,
    pub time: u64,
    pub kind: OpType,
    pub process: Process,
    pub f: u32,
    pub value: RawValue,
    pub node: Option<u32>,
    pub error: Option<u32>,
}

impl CompactOp {
    pub(crate) fn new(raw: RawOp) -> CompactOp {
        let (shape, parts) = match raw.value {
            RawValue::One(a) => (ONE, [a, RawAtom::Null, RawAtom::Null]),
            RawValue::Pair(a, b) => (PAIR, [a, b, RawAtom::Null]),
            RawValue::Nested(a, b, c) => (NESTED, [a, b, c]),
        };
        let mut op = CompactOp {
            index: raw.index,
            time: raw.time,
            process: 0,
            atoms: [0; 3],
            f: raw.f,
            node: raw.node.unwrap_or(NONE),
            error: raw.error.unwrap_or(NONE),
            kind: raw.kind,
            shape,
            nemesis: false,
        };
        for (k, part) in parts.into_iter().enumerate() {
            let (tag, payload) = part.encode();
            op.shape |= tag << (2 + 2 * k);
            op.atoms[k] = payload;
        }
        match raw.process {
            Process::Client(p) => op.process = p,
            Process::Nemesis => op.nemesis = true,
        }
        op
    }

    /// Sets the index (for an op that had none in the file).
    pub(crate) fn set_index(&mut self, index: u64) {
        self.index = index;
    }

    /// Sets the time (for an op that had none in the file).
    pub(crate) fn set_time(&mut self, time: u64) {
        self.time = time;
    }

    /// Sets the process (for an op that had none in the file).
    pub(crate) fn set_process(&mut self, process: Process) {
        match process {
            Process::Client(p) => (self.process, self.nemesis) = (p, false),
            Process::Nemesis => (self.process, self.nemesis) = (0, true),
        }
    }

    /// Moves the ids of strings and values by `strings` (a map) and `values` (an offset), for
    /// ops parsed apart and appended to one history.
    pub(crate) fn relocate(&mut self, strings: &[u32], values: i64) {
        self.f = strings[self.f as usize];
        for id in [&mut self.node, &mut self.error] {
            if *id != NONE {
                *id = strings[*id as usize];
            }
        }
        for k in 0..3 {
            if (self.shape >> (2 + 2 * k)) & 3 == T_JSON {
                self.atoms[k] += values;
            }
        }
    }
}

/// Strings interned to dense ids.
#[derive(Clone, Debug, Default)]
pub(crate) struct Strings {
    list: Vec<Box<str>>,
    ids: FxHashMap<Box<str>, u32>,
}

impl Strings {
    pub(crate) fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.list.len()).expect("fewer than 2^32 distinct strings in a history");
        self.list.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    pub(crate) fn get(&self, id: u32) -> &str {
        &self.list[id as usize]
    }
}

/// A whole history, compactly (see the module docs). Build it with `read_jsonl_compact`, or
/// from a `History`.
#[derive(Clone, Debug, Default)]
pub struct CompactHistory {
    /// The header.
    pub header: Header,
    /// The last line was cut mid-write (the run crashed) and was dropped.
    pub truncated: bool,
    pub(crate) ops: Vec<CompactOp>,
    pub(crate) strings: Strings,
    /// Values that are not null or an integer.
    pub(crate) values: Vec<Value>,
}

impl CompactHistory {
    /// Appends `op`, interning its strings and splitting its value into atoms.
    pub fn push(&mut self, op: &Op) {
        let raw = RawOp {
            index: op.index,
            time: op.time,
            kind: op.kind,
            process: op.process,
            f: self.strings.id(&op.f),
            value: split_value(&op.value, &mut |v| {
                self.values.push(v.clone());
                u32::try_from(self.values.len() - 1).expect("fewer than 2^32 large values in a history")
            }),
            node: op.node.as_deref().map(|s| self.strings.id(s)),
            error: op.error.as_deref().map(|s| self.strings.id(s)),
        };
        self.ops.push(CompactOp::new(raw));
    }

    fn atom(&self, op: &CompactOp, k: usize) -> Atom<'_> {
        match (op.shape >> (2 + 2 * k)) & 3 {
            T_INT => Atom::Int(op.atoms[k]),
            T_JSON => Atom::Json(&self.values[op.atoms[k] as usize]),
            _ => Atom::Null,
        }
    }

    /// The ops as `Op`s, in order.
    pub fn to_ops(&self) -> Vec<Op> {
        (0..self.ops.len()).map(|i| self.op(i)).collect()
    }
}

/// Splits a JSON value into the compact shapes; `aside` stores any other value, giving its id.
pub(crate) fn split_value(v: &Value, aside: &mut impl FnMut(&Value) -> u32) -> RawValue {
    let atom = |v: &Value| match v {
        Value::Null => Some(RawAtom::Null),
        Value::Number(n) => n.as_i64().map(RawAtom::Int),
        _ => None,
    };
    if let Some(a) = atom(v) {
        return RawValue::One(a);
    }
    if let Some([a, b]) = v.as_array().map(Vec::as_slice) {
        if let (Some(a), Some(b)) = (atom(a), atom(b)) {
            return RawValue::Pair(a, b);
        }
        if let (Some(a), Some([b, c])) = (atom(a), b.as_array().map(Vec::as_slice)) {
            if let (Some(b), Some(c)) = (atom(b), atom(c)) {
                return RawValue::Nested(a, b, c);
            }
        }
    }
    RawValue::One(RawAtom::Json(aside(v)))
}

impl From<&History> for CompactHistory {
    fn from(h: &History) -> Self {
        let mut c = CompactHistory { header: h.header.clone(), truncated: h.truncated, ..CompactHistory::default() };
        c.ops.reserve_exact(h.ops.len());
        for op in &h.ops {
            c.push(op);
        }
        c
    }
}

impl Ops for CompactHistory {
    fn len(&self) -> usize {
        self.ops.len()
    }
    fn process(&self, i: usize) -> Process {
        let op = &self.ops[i];
        if op.nemesis {
            Process::Nemesis
        } else {
            Process::Client(op.process)
        }
    }
    fn kind(&self, i: usize) -> OpType {
        self.ops[i].kind
    }
    fn f(&self, i: usize) -> &str {
        self.strings.get(self.ops[i].f)
    }
    fn value(&self, i: usize) -> ValueRef<'_> {
        let op = &self.ops[i];
        match op.shape & 3 {
            PAIR => ValueRef::Pair(self.atom(op, 0), self.atom(op, 1)),
            NESTED => ValueRef::Nested(self.atom(op, 0), self.atom(op, 1), self.atom(op, 2)),
            _ => ValueRef::One(self.atom(op, 0)),
        }
    }
    fn op(&self, i: usize) -> Op {
        let op = &self.ops[i];
        let string = |id: u32| (id != NONE).then(|| self.strings.get(id).to_string());
        Op {
            index: op.index,
            time: op.time,
            kind: op.kind,
            process: self.process(i),
            f: self.strings.get(op.f).to_string(),
            value: self.value(i).to_value(),
            node: string(op.node),
            error: string(op.error),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ops_round_trip_through_the_compact_form() {
        let values = [
            json!(null),
            json!(-3),
            json!([1, 2]),
            json!([1, [2, null]]),
            json!(["k", 2]),
            json!([1, [2, 3, 4]]),
            json!({"a": 1}),
            json!(1.5),
            json!([u64::MAX, 1]),
        ];
        let ops: Vec<Op> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Op {
                index: i as u64,
                time: 7 * i as u64,
                kind: [OpType::Invoke, OpType::Ok, OpType::Fail, OpType::Info][i % 4],
                process: if i == 3 { Process::Nemesis } else { Process::Client(u64::MAX - i as u64) },
                f: ["read", "write", "cas"][i % 3].into(),
                value: v.clone(),
                node: (i % 2 == 0).then(|| format!("n{i}")),
                error: (i % 3 == 0).then(|| "timeout".into()),
            })
            .collect();
        let c = CompactHistory::from(&History::new(Header::default(), ops.clone()));
        assert_eq!(c.to_ops(), ops);
        assert_eq!(c.value(2), ValueRef::Pair(Atom::Int(1), Atom::Int(2)));
        assert_eq!(c.value(3), ValueRef::Nested(Atom::Int(1), Atom::Int(2), Atom::Null));
        assert!(matches!(c.value(5), ValueRef::One(Atom::Json(_))));
        assert_eq!(std::mem::size_of::<CompactOp>(), 64);
    }
}
