//! A seeded generator of transactional histories (list-append and rw-register), for the
//! benchmarks and the tests of the transactional checker. It simulates a database: `concurrency`
//! client processes issue transactions over a pool of `key_count` active keys, each key retiring
//! after `max_writes_per_key` writes (as Jepsen's `elle.list-append/gen` does); every write of a
//! key writes a value unique to that key.
//!
//! By construction the histories are, for each `Isolation`:
//! - `Serializable`: strict-serializable. Each transaction takes effect atomically at a point
//!   inside its interval (between its invocation and its completion).
//! - `SnapshotIsolation`: strong snapshot isolation. A transaction reads the snapshot taken at a
//!   point inside its interval (plus its own writes) and commits at a later point inside it; if a
//!   key it writes was committed by another transaction in between, it aborts (`fail`:
//!   first-committer-wins). Write skew (G2-item) appears, G-single never does.
//! - `LostUpdate`: the same without first-committer-wins, so two transactions that read the
//!   same version of a key may both write it (lost-update, and so G-single).
//!
//! Some transactions fail outright (`fail_pct`: no effect) and some end `info` (`info_pct`: they
//! took effect or not, one in two; the process then continues as `process + concurrency`, as
//! in Jepsen). `final_reads` appends one transaction reading every key ever written, after every
//! other op completed, so that every committed write is observed.
//!
//! `generate` streams ops to a callback (a million transactions never sit in memory);
//! `generate_ops` collects brawl `Op`s; `write` writes Jepsen EDN, elle-cli JSON or brawl JSON
//! Lines.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Write};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::history::{Op, OpType, Process};

/// Which transactional workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnModel {
    /// `[append k v]` and `[r k [v ...]]`.
    ListAppend,
    /// `[w k v]` and `[r k v]`.
    RwRegister,
}

/// What the simulated database guarantees (see the module's doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Strict serializability: atomic at a point inside the interval.
    Serializable,
    /// Snapshot isolation with first-committer-wins (write skew possible).
    SnapshotIsolation,
    /// Snapshot reads without first-committer-wins: lost updates.
    LostUpdate,
}

/// An output format of `write`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutFormat {
    /// Jepsen EDN, one op map per line, keywords for types and micro-op names.
    Edn,
    /// elle-cli JSON: one array of op objects.
    ElleJson,
    /// brawl's `history.jsonl` (header line, then one op per line).
    Jsonl,
}

impl std::str::FromStr for TxnModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "list-append" => Ok(TxnModel::ListAppend),
            "rw-register" => Ok(TxnModel::RwRegister),
            _ => Err(format!("unknown model {s:?}: expected list-append or rw-register")),
        }
    }
}

impl std::str::FromStr for Isolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "serializable" | "strict-serializable" => Ok(Isolation::Serializable),
            "snapshot-isolation" | "si" => Ok(Isolation::SnapshotIsolation),
            "lost-update" => Ok(Isolation::LostUpdate),
            _ => Err(format!("unknown isolation {s:?}: expected serializable, snapshot-isolation or lost-update")),
        }
    }
}

impl std::str::FromStr for OutFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "edn" => Ok(OutFormat::Edn),
            "elle-json" | "json" => Ok(OutFormat::ElleJson),
            "jsonl" => Ok(OutFormat::Jsonl),
            _ => Err(format!("unknown format {s:?}: expected edn, elle-json or jsonl")),
        }
    }
}

/// Everything the generator needs; `Default` is Jepsen's list-append defaults at concurrency 10.
#[derive(Clone, Debug)]
pub struct GenSpec {
    /// list-append or rw-register.
    pub model: TxnModel,
    /// What the simulated database guarantees.
    pub isolation: Isolation,
    /// Transactions to invoke (not counting the final read).
    pub txns: u64,
    /// Client processes at once.
    pub concurrency: u32,
    /// Keys in the active pool.
    pub key_count: u32,
    /// Writes after which a key retires and a fresh one replaces it.
    pub max_writes_per_key: u32,
    /// Micro-ops per transaction, at least.
    pub min_txn_len: u32,
    /// Micro-ops per transaction, at most.
    pub max_txn_len: u32,
    /// Percentage of transactions that fail without effect.
    pub fail_pct: u32,
    /// Percentage of transactions that end `info` (half of them took effect).
    pub info_pct: u32,
    /// Append one transaction reading every key after everything else completed.
    pub final_reads: bool,
    /// Drives every random choice.
    pub seed: u64,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            model: TxnModel::ListAppend,
            isolation: Isolation::Serializable,
            txns: 1000,
            concurrency: 10,
            key_count: 10,
            max_writes_per_key: 32,
            min_txn_len: 1,
            max_txn_len: 4,
            fail_pct: 2,
            info_pct: 2,
            final_reads: false,
            seed: 42,
        }
    }
}

/// A micro-op's function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MopF {
    /// list-append `append`.
    Append,
    /// rw-register `w`.
    Write,
    /// `r`, both models.
    Read,
}

/// What a read returned (`None` in invocations and in `fail`/`info` completions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadResult {
    /// A list-append read.
    List(Vec<u64>),
    /// An rw-register read: the value, or the initial state (`nil`).
    Register(Option<u64>),
}

/// One micro-op: `[f key value]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mop {
    /// append / w / r.
    pub f: MopF,
    /// The key.
    pub key: u64,
    /// The written value (writes).
    pub write: u64,
    /// The read's result (reads in `ok` completions).
    pub read: Option<ReadResult>,
}

/// One generated op, borrowed by the sink of `generate`.
#[derive(Clone, Debug)]
pub struct GenOp<'a> {
    /// Dense, from 0.
    pub index: u64,
    /// Nanoseconds since the start.
    pub time: u64,
    /// invoke / ok / fail / info.
    pub kind: OpType,
    /// The client process.
    pub process: u64,
    /// The transaction.
    pub mops: &'a [Mop],
}

/// What a generation produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenStats {
    /// Ops written (invocations plus completions).
    pub ops: u64,
    /// Transactions that completed ok / fail / info.
    pub ok: u64,
    /// Of which aborted by first-committer-wins.
    pub fail: u64,
    /// Ended `info`.
    pub info: u64,
    /// First-committer-wins aborts (counted in `fail`).
    pub fcw_aborts: u64,
    /// Distinct keys used.
    pub keys: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Invoke,
    Snapshot,
    Commit,
    Complete,
}

/// What a slot's current transaction will end as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    Ok,
    Fail,
    /// Info; `true` if it takes effect.
    Info(bool),
}

#[derive(Debug, Default)]
struct Slot {
    process: u64,
    mops: Vec<Mop>,
    plan: Option<Plan>,
    /// Per micro-op: the key's version count and register value at the snapshot.
    snap: Vec<(u32, Option<u64>)>,
    /// The completion's value, filled at commit.
    done: Vec<Mop>,
    outcome: Option<OpType>,
}

#[derive(Debug, Default)]
struct KeyState {
    /// list-append: committed appends in order; rw-register: committed writes in order.
    versions: Vec<u64>,
    /// Writes handed out (at invocation), for retirement.
    issued: u32,
}

/// The simulated database and the event queue.
struct Sim<'s> {
    spec: &'s GenSpec,
    rng: ChaCha8Rng,
    keys: HashMap<u64, KeyState>,
    pool: Vec<u64>,
    next_key: u64,
    slots: Vec<Slot>,
    queue: BinaryHeap<Reverse<(u64, u64, u32, Ev)>>,
    seq: u64,
    invoked: u64,
    stats: GenStats,
    index: u64,
}

/// Streams the history of `spec` to `sink`, in history order, and returns the counts.
pub fn generate<E>(spec: &GenSpec, mut sink: impl FnMut(&GenOp) -> Result<(), E>) -> Result<GenStats, E> {
    let c = spec.concurrency.max(1);
    let mut sim = Sim {
        spec,
        rng: ChaCha8Rng::seed_from_u64(spec.seed),
        keys: HashMap::new(),
        pool: (0..spec.key_count.max(1) as u64).collect(),
        next_key: spec.key_count.max(1) as u64,
        slots: (0..c).map(|p| Slot { process: p as u64, ..Default::default() }).collect(),
        queue: BinaryHeap::new(),
        seq: 0,
        invoked: 0,
        stats: GenStats::default(),
        index: 0,
    };
    for s in 0..c {
        let t = sim.rng.random_range(0..1_000_000);
        sim.push(t, s, Ev::Invoke);
    }
    let mut last_time = 0;
    while let Some(Reverse((t, _, s, ev))) = sim.queue.pop() {
        last_time = t;
        match ev {
            Ev::Invoke => sim.invoke(t, s as usize, &mut sink)?,
            Ev::Snapshot => sim.snapshot(s as usize),
            Ev::Commit => sim.commit(s as usize),
            Ev::Complete => sim.complete(t, s as usize, &mut sink)?,
        }
    }
    if spec.final_reads {
        sim.final_read(last_time, &mut sink)?;
    }
    sim.stats.keys = sim.next_key;
    sim.stats.ops = sim.index;
    Ok(sim.stats)
}

impl Sim<'_> {
    fn push(&mut self, t: u64, slot: u32, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, slot, ev)));
    }

    fn emit<E>(
        &mut self,
        t: u64,
        kind: OpType,
        process: u64,
        mops: &[Mop],
        sink: &mut impl FnMut(&GenOp) -> Result<(), E>,
    ) -> Result<(), E> {
        let op = GenOp { index: self.index, time: t, kind, process, mops };
        self.index += 1;
        sink(&op)
    }

    fn new_txn(&mut self) -> Vec<Mop> {
        let spec = self.spec;
        let len = self.rng.random_range(spec.min_txn_len.max(1)..=spec.max_txn_len.max(spec.min_txn_len.max(1)));
        let mut mops = Vec::with_capacity(len as usize);
        for _ in 0..len {
            let at = self.rng.random_range(0..self.pool.len());
            let key = self.pool[at];
            if self.rng.random_bool(0.5) {
                mops.push(Mop { f: MopF::Read, key, write: 0, read: None });
                continue;
            }
            let k = self.keys.entry(key).or_default();
            k.issued += 1;
            let f = if spec.model == TxnModel::ListAppend { MopF::Append } else { MopF::Write };
            mops.push(Mop { f, key, write: k.issued as u64, read: None });
            if k.issued >= spec.max_writes_per_key.max(1) {
                self.pool[at] = self.next_key;
                self.next_key += 1;
            }
        }
        mops
    }

    fn invoke<E>(&mut self, t: u64, s: usize, sink: &mut impl FnMut(&GenOp) -> Result<(), E>) -> Result<(), E> {
        if self.invoked >= self.spec.txns {
            return Ok(());
        }
        self.invoked += 1;
        let mops = self.new_txn();
        let roll = self.rng.random_range(0..100);
        let plan = if roll < self.spec.fail_pct {
            Plan::Fail
        } else if roll < self.spec.fail_pct + self.spec.info_pct {
            Plan::Info(self.rng.random_bool(0.5))
        } else {
            Plan::Ok
        };
        // Latency: mostly 1 to 10 ms, one in fifty up to 100 ms.
        let latency = if self.rng.random_range(0..50) == 0 {
            self.rng.random_range(10_000_000..100_000_000)
        } else {
            self.rng.random_range(1_000_000..10_000_000)
        };
        let (start, end) = (t + 1, t + latency);
        let a = self.rng.random_range(start..end);
        let b = self.rng.random_range(start..end);
        let (snap, commit) = (a.min(b), a.max(b));
        if self.spec.isolation == Isolation::Serializable {
            self.push(commit, s as u32, Ev::Snapshot);
        } else {
            self.push(snap, s as u32, Ev::Snapshot);
        }
        self.push(commit, s as u32, Ev::Commit);
        self.push(end + 1, s as u32, Ev::Complete);
        let process = self.slots[s].process;
        self.emit(t, OpType::Invoke, process, &mops, sink)?;
        let slot = &mut self.slots[s];
        slot.mops = mops;
        slot.plan = Some(plan);
        Ok(())
    }

    fn snapshot(&mut self, s: usize) {
        let slot = &mut self.slots[s];
        slot.snap.clear();
        for m in &slot.mops {
            let st = self.keys.get(&m.key);
            let n = st.map_or(0, |k| k.versions.len() as u32);
            slot.snap.push((n, st.and_then(|k| k.versions.last().copied())));
        }
    }

    fn commit(&mut self, s: usize) {
        let model = self.spec.model;
        let slot = &mut self.slots[s];
        let plan = slot.plan.unwrap_or(Plan::Fail);
        let effective = matches!(plan, Plan::Ok | Plan::Info(true));
        // First-committer-wins: a written key committed by someone since the snapshot aborts.
        let conflict = self.spec.isolation == Isolation::SnapshotIsolation
            && slot.mops.iter().zip(&slot.snap).any(|(m, (n, _))| {
                m.f != MopF::Read && self.keys.get(&m.key).map_or(0, |k| k.versions.len() as u32) != *n
            });
        slot.done.clear();
        let outcome = match plan {
            Plan::Ok if conflict => {
                self.stats.fcw_aborts += 1;
                OpType::Fail
            }
            Plan::Ok => OpType::Ok,
            Plan::Fail => OpType::Fail,
            Plan::Info(_) => OpType::Info,
        };
        slot.outcome = Some(outcome);
        if outcome == OpType::Ok {
            for (i, m) in slot.mops.iter().enumerate() {
                let mut m = m.clone();
                if m.f == MopF::Read {
                    m.read = Some(read_at(model, &self.keys, &slot.mops, &slot.snap, i));
                }
                slot.done.push(m);
            }
        } else {
            slot.done.extend(slot.mops.iter().cloned());
        }
        if effective && !conflict {
            for m in &slot.mops {
                if m.f != MopF::Read {
                    self.keys.entry(m.key).or_default().versions.push(m.write);
                }
            }
        }
    }

    fn complete<E>(&mut self, t: u64, s: usize, sink: &mut impl FnMut(&GenOp) -> Result<(), E>) -> Result<(), E> {
        let slot = &mut self.slots[s];
        let outcome = slot.outcome.take().unwrap_or(OpType::Fail);
        let done = std::mem::take(&mut slot.done);
        let process = slot.process;
        match outcome {
            OpType::Ok => self.stats.ok += 1,
            OpType::Info => {
                self.stats.info += 1;
                self.slots[s].process += self.spec.concurrency.max(1) as u64;
            }
            _ => self.stats.fail += 1,
        }
        self.emit(t, outcome, process, &done, sink)?;
        self.slots[s].done = done;
        let think = self.rng.random_range(0..1_000_000);
        self.push(t + think, s as u32, Ev::Invoke);
        Ok(())
    }

    fn final_read<E>(&mut self, t: u64, sink: &mut impl FnMut(&GenOp) -> Result<(), E>) -> Result<(), E> {
        let mut keys: Vec<u64> = self.keys.keys().copied().collect();
        keys.sort_unstable();
        let invoke: Vec<Mop> = keys.iter().map(|&key| Mop { f: MopF::Read, key, write: 0, read: None }).collect();
        let done: Vec<Mop> = keys
            .iter()
            .map(|&key| {
                let v = &self.keys[&key].versions;
                let read = match self.spec.model {
                    TxnModel::ListAppend => ReadResult::List(v.clone()),
                    TxnModel::RwRegister => ReadResult::Register(v.last().copied()),
                };
                Mop { f: MopF::Read, key, write: 0, read: Some(read) }
            })
            .collect();
        let process = self.slots.iter().map(|s| s.process).max().unwrap_or(0) + 1;
        self.emit(t + 1_000_000, OpType::Invoke, process, &invoke, sink)?;
        self.emit(t + 2_000_000, OpType::Ok, process, &done, sink)?;
        self.stats.ok += 1;
        Ok(())
    }
}

/// What micro-op `i` of a transaction reads: the snapshot, then the transaction's own writes
/// before it.
fn read_at(
    model: TxnModel,
    keys: &HashMap<u64, KeyState>,
    mops: &[Mop],
    snap: &[(u32, Option<u64>)],
    i: usize,
) -> ReadResult {
    let key = mops[i].key;
    let mut own = mops[..i].iter().filter(|m| m.key == key && m.f != MopF::Read).map(|m| m.write);
    match model {
        TxnModel::ListAppend => {
            let n = snap[i].0 as usize;
            let mut v: Vec<u64> = keys.get(&key).map_or(&[][..], |k| &k.versions[..n]).to_vec();
            v.extend(own);
            ReadResult::List(v)
        }
        TxnModel::RwRegister => ReadResult::Register(own.next_back().or(snap[i].1)),
    }
}

/// The generated history as brawl `Op`s (`f` is `txn`, values as the importers produce them).
pub fn generate_ops(spec: &GenSpec) -> Vec<Op> {
    let mut ops = Vec::new();
    let r: Result<_, std::convert::Infallible> = generate(spec, |g| {
        ops.push(to_op(g));
        Ok(())
    });
    let _ = r;
    ops
}

/// One generated op as a brawl `Op`.
pub fn to_op(g: &GenOp) -> Op {
    use serde_json::{json, Value};
    let value: Vec<Value> = g
        .mops
        .iter()
        .map(|m| match m.f {
            MopF::Append => json!(["append", m.key, m.write]),
            MopF::Write => json!(["w", m.key, m.write]),
            MopF::Read => match &m.read {
                None => json!(["r", m.key, null]),
                Some(ReadResult::List(v)) => json!(["r", m.key, v]),
                Some(ReadResult::Register(v)) => json!(["r", m.key, v]),
            },
        })
        .collect();
    Op {
        index: g.index,
        time: g.time,
        kind: g.kind,
        process: Process::Client(g.process),
        f: "txn".into(),
        value: Value::Array(value),
        node: None,
        error: None,
    }
}

/// Writes the history of `spec` to `out` in `format`, streaming.
pub fn write(spec: &GenSpec, format: OutFormat, out: impl Write) -> io::Result<GenStats> {
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    let mut line: Vec<u8> = Vec::with_capacity(4096);
    match format {
        OutFormat::Jsonl => {
            let header = crate::history::Header::new(Some("gen-txn".into()), Some(spec.seed));
            serde_json::to_writer(&mut out, &header)?;
            out.write_all(b"\n")?;
        }
        OutFormat::ElleJson => out.write_all(b"[")?,
        OutFormat::Edn => {}
    }
    let stats = generate(spec, |g| {
        line.clear();
        match format {
            OutFormat::Edn => edn_line(&mut line, g),
            OutFormat::ElleJson => {
                if g.index > 0 {
                    line.extend_from_slice(b",\n");
                }
                json_line(&mut line, g);
            }
            OutFormat::Jsonl => {
                json_line(&mut line, g);
                line.push(b'\n');
            }
        }
        out.write_all(&line)
    })?;
    if format == OutFormat::ElleJson {
        out.write_all(b"]\n")?;
    }
    out.flush()?;
    Ok(stats)
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn type_name(t: OpType) -> &'static [u8] {
    match t {
        OpType::Invoke => b"invoke",
        OpType::Ok => b"ok",
        OpType::Fail => b"fail",
        OpType::Info => b"info",
    }
}

/// `{:index 0, :time 5, :type :invoke, :process 0, :f :txn, :value [[:append 3 1] [:r 4 nil]]}`
fn edn_line(out: &mut Vec<u8>, g: &GenOp) {
    out.extend_from_slice(b"{:index ");
    push_u64(out, g.index);
    out.extend_from_slice(b", :time ");
    push_u64(out, g.time);
    out.extend_from_slice(b", :type :");
    out.extend_from_slice(type_name(g.kind));
    out.extend_from_slice(b", :process ");
    push_u64(out, g.process);
    out.extend_from_slice(b", :f :txn, :value [");
    for (i, m) in g.mops.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(match m.f {
            MopF::Append => b"[:append ",
            MopF::Write => b"[:w ",
            MopF::Read => b"[:r ",
        });
        push_u64(out, m.key);
        out.push(b' ');
        match (&m.f, &m.read) {
            (MopF::Read, None) | (MopF::Read, Some(ReadResult::Register(None))) => out.extend_from_slice(b"nil"),
            (MopF::Read, Some(ReadResult::Register(Some(v)))) => push_u64(out, *v),
            (MopF::Read, Some(ReadResult::List(vs))) => {
                out.push(b'[');
                for (j, v) in vs.iter().enumerate() {
                    if j > 0 {
                        out.push(b' ');
                    }
                    push_u64(out, *v);
                }
                out.push(b']');
            }
            _ => push_u64(out, m.write),
        }
        out.push(b']');
    }
    out.extend_from_slice(b"]}\n");
}

/// `{"index":0,"time":5,"type":"invoke","process":0,"f":"txn","value":[["append",3,1],["r",4,null]]}`
/// (the field order brawl's JSON Lines writer uses).
fn json_line(out: &mut Vec<u8>, g: &GenOp) {
    out.extend_from_slice(b"{\"index\":");
    push_u64(out, g.index);
    out.extend_from_slice(b",\"time\":");
    push_u64(out, g.time);
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(type_name(g.kind));
    out.extend_from_slice(b"\",\"process\":");
    push_u64(out, g.process);
    out.extend_from_slice(b",\"f\":\"txn\",\"value\":[");
    for (i, m) in g.mops.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(match m.f {
            MopF::Append => b"[\"append\",",
            MopF::Write => b"[\"w\",",
            MopF::Read => b"[\"r\",",
        });
        push_u64(out, m.key);
        out.push(b',');
        match (&m.f, &m.read) {
            (MopF::Read, None) | (MopF::Read, Some(ReadResult::Register(None))) => out.extend_from_slice(b"null"),
            (MopF::Read, Some(ReadResult::Register(Some(v)))) => push_u64(out, *v),
            (MopF::Read, Some(ReadResult::List(vs))) => {
                out.push(b'[');
                for (j, v) in vs.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    push_u64(out, *v);
                }
                out.push(b']');
            }
            _ => push_u64(out, m.write),
        }
        out.push(b']');
    }
    out.extend_from_slice(b"]}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{parse_edn, parse_jsonl};

    fn spec(model: TxnModel, isolation: Isolation) -> GenSpec {
        GenSpec { model, isolation, txns: 300, concurrency: 5, ..Default::default() }
    }

    #[test]
    fn the_same_seed_gives_the_same_history_and_another_seed_another() {
        let s = spec(TxnModel::ListAppend, Isolation::SnapshotIsolation);
        assert_eq!(generate_ops(&s), generate_ops(&s));
        assert_ne!(generate_ops(&s), generate_ops(&GenSpec { seed: 7, ..s }));
    }

    #[test]
    fn every_txn_is_invoked_and_completed_once_with_dense_indices_and_rising_time() {
        let s = GenSpec {
            info_pct: 10,
            fail_pct: 10,
            final_reads: true,
            ..spec(TxnModel::RwRegister, Isolation::Serializable)
        };
        let ops = generate_ops(&s);
        assert_eq!(ops.len() as u64, 2 * (s.txns + 1));
        assert!(ops.iter().enumerate().all(|(i, o)| o.index == i as u64));
        assert!(ops.windows(2).all(|w| w[0].time <= w[1].time));
        let mut open: HashMap<Process, u64> = HashMap::new();
        for o in &ops {
            if o.kind == OpType::Invoke {
                assert!(open.insert(o.process, o.index).is_none(), "two open ops on {:?}", o.process);
            } else {
                assert!(open.remove(&o.process).is_some(), "completion without invocation at {}", o.index);
            }
        }
        assert!(open.is_empty());
        for t in [OpType::Ok, OpType::Fail, OpType::Info] {
            assert!(ops.iter().any(|o| o.kind == t), "no {t} op");
        }
        // Concurrency: some invocation happens while another op is open.
        assert!(ops.windows(2).any(|w| w[0].is_invoke() && w[1].is_invoke()));
    }

    #[test]
    fn keys_retire_after_max_writes_and_written_values_are_unique_per_key() {
        let s = GenSpec { max_writes_per_key: 4, ..spec(TxnModel::ListAppend, Isolation::Serializable) };
        let mut seen: HashMap<u64, Vec<u64>> = HashMap::new();
        generate(&s, |g| {
            if g.kind == OpType::Invoke {
                for m in g.mops.iter().filter(|m| m.f == MopF::Append) {
                    seen.entry(m.key).or_default().push(m.write);
                }
            }
            Ok::<_, ()>(())
        })
        .unwrap();
        assert!(seen.len() > 20, "keys retire and are replaced: {} keys", seen.len());
        for (k, vs) in &seen {
            assert!(vs.len() <= 4, "key {k} written {} times", vs.len());
            let mut u = vs.clone();
            u.sort();
            u.dedup();
            assert_eq!(u.len(), vs.len(), "key {k} has a repeated write");
        }
    }

    #[test]
    fn si_aborts_on_first_committer_wins_and_lost_update_does_not() {
        let si = GenStats {
            ..generate(&spec(TxnModel::ListAppend, Isolation::SnapshotIsolation), |_| Ok::<_, ()>(())).unwrap()
        };
        let lu = generate(&spec(TxnModel::ListAppend, Isolation::LostUpdate), |_| Ok::<_, ()>(())).unwrap();
        assert!(si.fcw_aborts > 0);
        assert_eq!(lu.fcw_aborts, 0);
    }

    #[test]
    fn reads_in_serializable_list_append_are_prefixes_of_the_final_read() {
        let s = GenSpec { final_reads: true, ..spec(TxnModel::ListAppend, Isolation::Serializable) };
        let mut reads: Vec<(u64, Vec<u64>)> = Vec::new();
        generate(&s, |g| {
            if g.kind == OpType::Ok {
                for m in g.mops {
                    if let Some(ReadResult::List(v)) = &m.read {
                        reads.push((m.key, v.clone()));
                    }
                }
            }
            Ok::<_, ()>(())
        })
        .unwrap();
        let finals: HashMap<u64, Vec<u64>> = reads.iter().cloned().collect(); // the last read wins: the final one
        assert!(reads.iter().any(|(_, v)| v.len() > 2));
        for (k, v) in &reads {
            assert!(finals[k].starts_with(v), "key {k}: {v:?} not a prefix of {:?}", finals[k]);
        }
    }

    #[test]
    fn the_three_formats_read_back_as_the_same_ops() {
        let s = GenSpec { txns: 50, info_pct: 10, ..spec(TxnModel::ListAppend, Isolation::SnapshotIsolation) };
        let ops = generate_ops(&s);
        let mut jsonl = Vec::new();
        write(&s, OutFormat::Jsonl, &mut jsonl).unwrap();
        assert_eq!(parse_jsonl(&jsonl).unwrap().ops, ops);
        let mut edn = Vec::new();
        write(&s, OutFormat::Edn, &mut edn).unwrap();
        let text = String::from_utf8(edn).unwrap();
        assert!(text.starts_with("{:index 0, :time "), "{}", &text[..60]);
        assert_eq!(parse_edn(&text).unwrap().ops, ops);
        let mut json = Vec::new();
        write(&s, OutFormat::ElleJson, &mut json).unwrap();
        let arr: Vec<serde_json::Value> = serde_json::from_slice(&json).unwrap();
        assert_eq!(arr.len(), ops.len());
        for (a, o) in arr.iter().zip(&ops) {
            assert_eq!(a["value"], o.value);
            assert_eq!(a["type"], o.kind.to_string());
            assert_eq!(a["index"], o.index);
        }
    }

    #[test]
    fn rw_register_writes_and_reads_registers() {
        let s = GenSpec { final_reads: true, ..spec(TxnModel::RwRegister, Isolation::SnapshotIsolation) };
        let ops = generate_ops(&s);
        let text = serde_json::to_string(&ops.last().unwrap().value).unwrap();
        assert!(text.starts_with("[[\"r\",0,"), "{text}");
        assert!(ops.iter().any(|o| o.value.to_string().contains("[\"w\",")));
        assert!(!ops.iter().any(|o| o.value.to_string().contains("append")));
    }
}
