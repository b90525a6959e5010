//! `Txns`: a transactional history in compact form, built by `Builder` from either brawl's ops
//! or the byte scanner. Keys are interned to `u32`, values are `i64` (strings are interned into
//! a reserved range), one `Mop` per micro-op, and list reads are stored as a length against the
//! key's longest read (`Builder::read_list` checks the prefix as it goes), so no transaction
//! owns a heap allocation.

use crate::checker::fx::FxHashMap;

/// Strings used as values are interned as `STR_BASE + id`; integers in that range are refused.
pub(crate) const STR_BASE: i64 = i64::MIN;
/// How many string values can be interned.
pub(crate) const STR_LIMIT: i64 = 1 << 32;
/// No txn / no mop.
pub(crate) const NONE: u32 = u32::MAX;

/// How a transaction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Info,
    Fail,
}

/// What a micro-op does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MopKind {
    /// list-append `append k v`.
    Append,
    /// list-append read that is a prefix of the key's longest read: `val` is its length.
    ReadPrefix,
    /// list-append read that is not: `val` is its index in `Txns::odd`.
    ReadOdd,
    /// A read whose value is unknown (`nil` in an invoke, info or fail).
    ReadNil,
    /// rw-register `w k v`.
    Write,
    /// rw-register read of `val`.
    ReadReg,
    /// rw-register read of the initial state (`nil` in an ok op).
    ReadInit,
}

/// One micro-op.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mop {
    pub val: i64,
    pub key: u32,
    pub txn: u32,
    pub kind: MopKind,
}

/// One transaction: a completion (or an invoke that never completed) and its micro-ops.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Txn {
    /// The history index reported for it (its completion's, or its invoke's if it never completed).
    pub op: u64,
    /// Position of the invoke in the history (0 when there was none).
    pub invoke_pos: u64,
    /// Position of the completion (`u64::MAX` for an info or a txn that never completed).
    pub complete_pos: u64,
    pub process: u64,
    pub status: Status,
    /// Its micro-ops are `mops[mop_start..mop_end]`.
    pub mop_start: u32,
    pub mop_end: u32,
}

/// A key or value as written in the history.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Atom {
    Int(i64),
    Str(Box<str>),
}

impl std::fmt::Display for Atom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Atom::Int(i) => write!(f, "{i}"),
            Atom::Str(s) => f.write_str(s),
        }
    }
}

/// The whole transactional history.
#[derive(Debug, Default)]
pub(crate) struct Txns {
    pub txns: Vec<Txn>,
    pub mops: Vec<Mop>,
    /// Per key, the longest list read so far (list-append's version order).
    pub longest: Vec<Vec<i64>>,
    /// Reads that are not prefixes of their key's longest read (`MopKind::ReadOdd`).
    pub odd: Vec<Vec<i64>>,
    /// Interned keys, by id.
    pub keys: Vec<Atom>,
    /// Interned string values, by id.
    pub strs: Vec<Box<str>>,
}

impl Txns {
    /// The micro-ops of txn `t`.
    pub fn mops_of(&self, t: u32) -> &[Mop] {
        &self.mops[self.mop_range(t)]
    }

    /// The global indices of txn `t`'s micro-ops.
    pub fn mop_range(&self, t: u32) -> std::ops::Range<usize> {
        let x = &self.txns[t as usize];
        x.mop_start as usize..x.mop_end as usize
    }

    /// The elements a list read saw.
    pub fn read_list(&self, m: &Mop) -> &[i64] {
        match m.kind {
            MopKind::ReadPrefix => &self.longest[m.key as usize][..m.val as usize],
            MopKind::ReadOdd => &self.odd[m.val as usize],
            _ => &[],
        }
    }

    /// A value for people.
    pub fn show_val(&self, v: i64) -> String {
        match self.str_of(v) {
            Some(s) => format!("{s:?}"),
            None => v.to_string(),
        }
    }

    /// A value as JSON.
    pub fn json_val(&self, v: i64) -> serde_json::Value {
        match self.str_of(v) {
            Some(s) => serde_json::Value::from(s),
            None => serde_json::Value::from(v),
        }
    }

    fn str_of(&self, v: i64) -> Option<&str> {
        let id = v.wrapping_sub(STR_BASE);
        (v < STR_BASE + STR_LIMIT && id >= 0).then(|| self.strs.get(id as usize).map(|s| &**s)).flatten()
    }

    /// A key for people.
    pub fn show_key(&self, k: u32) -> String {
        match &self.keys[k as usize] {
            Atom::Int(i) => i.to_string(),
            Atom::Str(s) => format!("{s:?}"),
        }
    }

    /// A key as JSON.
    pub fn json_key(&self, k: u32) -> serde_json::Value {
        match &self.keys[k as usize] {
            Atom::Int(i) => serde_json::Value::from(*i),
            Atom::Str(s) => serde_json::Value::from(&**s),
        }
    }

    /// Txn `t`'s value as Jepsen writes it: `[["append", k, v], ["r", k, [..]], ...]`.
    pub fn json_txn(&self, t: u32) -> serde_json::Value {
        use serde_json::Value as V;
        let mops = self.mops_of(t).iter().map(|m| {
            let k = self.json_key(m.key);
            match m.kind {
                MopKind::Append => V::from(vec![V::from("append"), k, self.json_val(m.val)]),
                MopKind::Write => V::from(vec![V::from("w"), k, self.json_val(m.val)]),
                MopKind::ReadNil | MopKind::ReadInit => V::from(vec![V::from("r"), k, V::Null]),
                MopKind::ReadReg => V::from(vec![V::from("r"), k, self.json_val(m.val)]),
                MopKind::ReadPrefix | MopKind::ReadOdd => {
                    let vs = self.read_list(m).iter().map(|v| self.json_val(*v)).collect::<Vec<_>>();
                    V::from(vec![V::from("r"), k, V::from(vs)])
                }
            }
        });
        V::from(mops.collect::<Vec<_>>())
    }
}

/// Builds `Txns` one history event at a time, in history order.
#[derive(Default)]
pub(crate) struct Builder {
    pub t: Txns,
    str_keys: FxHashMap<Box<str>, u32>,
    int_keys: FxHashMap<i64, u32>,
    /// Ids of the small non-negative integer keys (most histories' keys), without hashing.
    small_keys: Vec<u32>,
    str_ids: FxHashMap<Box<str>, i64>,
    /// Per process, the txn it has invoked and not completed yet.
    pending: FxHashMap<u64, u32>,
    /// Txns whose invoke we saw, with no completion yet.
    open: Vec<u32>,
    /// The txn micro-ops are being added to.
    cur: u32,
}

impl Builder {
    /// Interns an integer key.
    pub fn int_key(&mut self, k: i64) -> u32 {
        const SMALL: i64 = 1 << 20;
        if (0..SMALL).contains(&k) {
            let at = k as usize;
            if at >= self.small_keys.len() {
                self.small_keys.resize((at + 1).next_power_of_two(), NONE);
            }
            if self.small_keys[at] == NONE {
                self.small_keys[at] = self.new_key(Atom::Int(k));
            }
            return self.small_keys[at];
        }
        if let Some(id) = self.int_keys.get(&k) {
            return *id;
        }
        let id = self.new_key(Atom::Int(k));
        self.int_keys.insert(k, id);
        id
    }

    /// Interns a string key.
    pub fn str_key(&mut self, k: &str) -> u32 {
        if let Some(id) = self.str_keys.get(k) {
            return *id;
        }
        let id = self.new_key(Atom::Str(k.into()));
        self.str_keys.insert(k.into(), id);
        id
    }

    fn new_key(&mut self, a: Atom) -> u32 {
        self.t.keys.push(a);
        self.t.longest.push(Vec::new());
        (self.t.keys.len() - 1) as u32
    }

    /// An integer value; `None` inside the range reserved for interned strings (below
    /// -9223372032559808512).
    pub fn int_val(&self, v: i64) -> Option<i64> {
        (v >= STR_BASE + STR_LIMIT).then_some(v)
    }

    /// Interns a string value.
    pub fn str_val(&mut self, s: &str) -> i64 {
        if let Some(v) = self.str_ids.get(s) {
            return *v;
        }
        let v = STR_BASE + self.t.strs.len() as i64;
        self.t.strs.push(s.into());
        self.str_ids.insert(s.into(), v);
        v
    }

    /// An invoke by `process` at history position `pos`: allocates the txn.
    pub fn invoke(&mut self, process: u64, pos: u64, op: u64) {
        let id = self.t.txns.len() as u32;
        self.t.txns.push(Txn {
            op,
            invoke_pos: pos,
            complete_pos: u64::MAX,
            process,
            status: Status::Info,
            mop_start: 0,
            mop_end: 0,
        });
        // A second invoke without a completion leaves the first open, as an info.
        self.pending.insert(process, id);
        self.open.push(id);
    }

    /// The completion of `process`'s pending txn (or of a txn with no invoke); its micro-ops
    /// follow, then `end`. Returns the txn's id.
    pub fn complete(&mut self, process: u64, pos: u64, op: u64, status: Status) -> u32 {
        let id = match self.pending.remove(&process) {
            Some(id) => {
                if let Some(at) = self.open.iter().rposition(|o| *o == id) {
                    self.open.swap_remove(at);
                }
                id
            }
            None => {
                self.t.txns.push(Txn {
                    op,
                    invoke_pos: 0,
                    complete_pos: u64::MAX,
                    process,
                    status,
                    mop_start: 0,
                    mop_end: 0,
                });
                (self.t.txns.len() - 1) as u32
            }
        };
        let t = &mut self.t.txns[id as usize];
        t.op = op;
        t.status = status;
        t.complete_pos = if status == Status::Ok { pos } else { u64::MAX };
        t.mop_start = self.t.mops.len() as u32;
        self.cur = id;
        id
    }

    /// Txns invoked and never completed: the caller gives each its invoke's micro-ops with
    /// `reopen` + pushes + `end`; they count as info.
    pub fn take_open(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.open)
    }

    /// Makes an open txn current, to give it its invoke's micro-ops.
    pub fn reopen(&mut self, id: u32) {
        self.t.txns[id as usize].mop_start = self.t.mops.len() as u32;
        self.cur = id;
    }

    /// Ends the current txn's micro-ops.
    pub fn end(&mut self) {
        self.t.txns[self.cur as usize].mop_end = self.t.mops.len() as u32;
    }

    fn cur(&self) -> u32 {
        self.cur
    }

    /// list-append `append k v` / rw-register `w k v` in the current txn.
    pub fn write(&mut self, kind: MopKind, key: u32, val: i64) {
        let txn = self.cur();
        self.t.mops.push(Mop { val, key, txn, kind });
    }

    /// A read of unknown value, or rw-register reads.
    pub fn read_scalar(&mut self, kind: MopKind, key: u32, val: i64) {
        let txn = self.cur();
        self.t.mops.push(Mop { val, key, txn, kind });
    }

    /// A list-append read of `vs`: stored as a length when it is a prefix of (or extends) the
    /// key's longest read, in full otherwise. Reads of failed txns are dropped by the caller.
    pub fn read_list(&mut self, key: u32, vs: &[i64], counts: bool) {
        let txn = self.cur();
        let (kind, val) = place_read(&mut self.t.longest[key as usize], &mut self.t.odd, vs, counts);
        self.t.mops.push(Mop { val, key, txn, kind });
    }

    /// Interns a key as written (what merging two scanned parts needs).
    pub fn atom_key(&mut self, a: &Atom) -> u32 {
        match a {
            Atom::Int(i) => self.int_key(*i),
            Atom::Str(s) => self.str_key(s),
        }
    }

    /// The finished history.
    pub fn finish(self) -> Txns {
        self.t
    }
}

/// Where a list read goes, given its key's longest read so far: `(ReadPrefix, length)` when it
/// is a prefix of it (or extends it, and `counts`: then it becomes the longest), else
/// `(ReadOdd, index)` with the read pushed onto `odd`.
pub(crate) fn place_read(longest: &mut Vec<i64>, odd: &mut Vec<Vec<i64>>, vs: &[i64], counts: bool) -> (MopKind, i64) {
    let n = longest.len().min(vs.len());
    if longest[..n] == vs[..n] {
        if counts && vs.len() > longest.len() {
            longest.extend_from_slice(&vs[n..]);
        }
        if vs.len() <= longest.len() {
            return (MopKind::ReadPrefix, vs.len() as i64);
        }
    }
    odd.push(vs.to_vec());
    (MopKind::ReadOdd, (odd.len() - 1) as i64)
}
