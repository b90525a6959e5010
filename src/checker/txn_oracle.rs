//! Brute-force oracles for small transactional histories (list-append and rw-register), the
//! reference the transactional checker is property-tested against. They decide from the
//! definitions, by trying every possibility, so they are exponential: at most `MAX_TXNS`
//! transactions (ok plus info).
//!
//! The committed transactions are the `ok` ones plus any subset of the `info` ones (an info
//! transaction may or may not have taken effect; its reads are unknown, so only its writes count);
//! `fail` ones never took effect. An invocation that never completed counts as info. Then, for
//! some subset:
//! - `Serializable`: some total order of the committed transactions in which every read sees
//!   exactly the state the order gives (its own earlier writes included).
//! - `StrictSerializable`: such an order that also keeps realtime: a transaction that completed
//!   before another was invoked comes first.
//! - `SnapshotIsolation`: some commit order and, for each transaction, a start point (a prefix of
//!   the commit order: the transactions committed before it started) no later than its commit,
//!   such that its reads see the state at its start plus its own writes, and no two concurrent
//!   transactions (one committing between the other's start and commit) write the same key
//!   (first-committer-wins).
//! - `StrongSnapshotIsolation`: the same, where a transaction that completed before another was
//!   invoked committed before the other started.
//!
//! Reads in list-append compare whole lists (`null` in an ok read is the empty list); in
//! rw-register `null` is the initial state. A snapshot assignment is independent per transaction
//! once the commit order is fixed, so the search is over commit orders only.

use std::collections::HashMap;

use serde_json::Value;

use crate::history::{Op, OpType, Process};

/// The most transactions (ok plus info) the oracles accept.
pub const MAX_TXNS: usize = 8;

/// The consistency models the oracles decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OracleModel {
    /// Some serial order explains every read.
    Serializable,
    /// Some serial order consistent with realtime explains every read.
    StrictSerializable,
    /// Snapshot reads, first-committer-wins.
    SnapshotIsolation,
    /// Snapshot isolation whose snapshots respect realtime.
    StrongSnapshotIsolation,
}

/// Why the oracle cannot decide.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OracleError {
    /// Too many transactions for brute force.
    #[error("{0} transactions: the oracle takes at most {MAX_TXNS}")]
    TooBig(usize),
    /// An op that is not a transaction of the model.
    #[error("op {index}: {expected}")]
    Shape {
        /// The op's index.
        index: u64,
        /// What was expected.
        expected: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
enum Mop {
    Write(String, Value),
    Read(String, Option<Value>),
}

#[derive(Clone, Debug)]
struct Txn {
    /// Position of the invocation in the history.
    invoke: usize,
    /// Position of the ok completion (none for info).
    complete: Option<usize>,
    ok: bool,
    mops: Vec<Mop>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    List,
    Register,
}

type State = HashMap<String, Value>;

/// Decides whether `ops` (a list-append or rw-register history) satisfies `model`.
pub fn check(ops: &[Op], model: OracleModel) -> Result<bool, OracleError> {
    let (txns, kind) = parse(ops)?;
    if txns.len() > MAX_TXNS {
        return Err(OracleError::TooBig(txns.len()));
    }
    let infos: Vec<usize> = (0..txns.len()).filter(|&i| !txns[i].ok).collect();
    for subset in 0u32..(1 << infos.len()) {
        let chosen: Vec<usize> = (0..txns.len())
            .filter(|&i| txns[i].ok || infos.iter().position(|&j| j == i).is_some_and(|b| subset & (1 << b) != 0))
            .collect();
        let mut search = Search { txns: &txns, kind, model, order: Vec::new(), states: vec![State::new()] };
        if search.dfs(&chosen, &mut vec![false; txns.len()]) {
            return Ok(true);
        }
    }
    Ok(false)
}

struct Search<'a> {
    txns: &'a [Txn],
    kind: Kind,
    model: OracleModel,
    order: Vec<usize>,
    /// `states[d]`: the state after the first `d` commits.
    states: Vec<State>,
}

impl Search<'_> {
    fn dfs(&mut self, chosen: &[usize], placed: &mut Vec<bool>) -> bool {
        if self.order.len() == chosen.len() {
            return true;
        }
        for &i in chosen {
            if placed[i] || !self.can_place(i) {
                continue;
            }
            let d = self.order.len();
            let mut next = self.states[d].clone();
            for m in &self.txns[i].mops {
                if let Mop::Write(k, v) = m {
                    apply(self.kind, &mut next, k, v);
                }
            }
            placed[i] = true;
            self.order.push(i);
            self.states.push(next);
            if self.dfs(chosen, placed) {
                return true;
            }
            self.states.pop();
            self.order.pop();
            placed[i] = false;
        }
        false
    }

    /// Whether transaction `i` can commit next: its realtime predecessors are placed and some
    /// start point explains its reads without a write conflict.
    fn can_place(&self, i: usize) -> bool {
        let t = &self.txns[i];
        let d = self.order.len();
        let pos = |j: usize| self.order.iter().position(|&o| o == j);
        let realtime = matches!(self.model, OracleModel::StrictSerializable | OracleModel::StrongSnapshotIsolation);
        let mut lo = 0;
        if realtime {
            for (j, u) in self.txns.iter().enumerate() {
                if u.complete.is_some_and(|c| c < t.invoke) {
                    match pos(j) {
                        Some(p) => lo = lo.max(p + 1),
                        None => return false,
                    }
                }
            }
        }
        let snapshots = match self.model {
            OracleModel::Serializable | OracleModel::StrictSerializable => d..=d,
            OracleModel::SnapshotIsolation | OracleModel::StrongSnapshotIsolation => lo..=d,
        };
        snapshots.into_iter().any(|s| self.reads_match(t, &self.states[s]) && !self.conflicts(t, s))
    }

    /// Some transaction committed at a position in `s..` writes a key `t` writes.
    fn conflicts(&self, t: &Txn, s: usize) -> bool {
        self.order[s..].iter().any(|&j| self.txns[j].mops.iter().any(|m| matches!(m, Mop::Write(k, _) if writes(t, k))))
    }

    fn reads_match(&self, t: &Txn, snapshot: &State) -> bool {
        let mut local: State = State::new();
        for m in &t.mops {
            match m {
                Mop::Write(k, v) => {
                    if !local.contains_key(k) {
                        local.insert(k.clone(), snapshot.get(k).cloned().unwrap_or(Value::Null));
                    }
                    apply(self.kind, &mut local, k, v);
                }
                Mop::Read(_, None) => {}
                Mop::Read(k, Some(seen)) => {
                    let now = local.get(k).or_else(|| snapshot.get(k)).unwrap_or(&Value::Null);
                    let equal = match self.kind {
                        // A list-append read is a list (or null, the empty list); anything else fits nothing.
                        Kind::List => (seen.is_null() || seen.is_array()) && as_list(now) == as_list(seen),
                        Kind::Register => now == seen,
                    };
                    if !equal {
                        return false;
                    }
                }
            }
        }
        true
    }
}

fn writes(t: &Txn, key: &str) -> bool {
    t.mops.iter().any(|m| matches!(m, Mop::Write(k, _) if k == key))
}

fn as_list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], |a| a.as_slice())
}

fn apply(kind: Kind, state: &mut State, k: &str, v: &Value) {
    match kind {
        Kind::Register => {
            state.insert(k.to_string(), v.clone());
        }
        Kind::List => {
            let e = state.entry(k.to_string()).or_insert_with(|| Value::Array(Vec::new()));
            if !e.is_array() {
                *e = Value::Array(Vec::new());
            }
            if let Value::Array(a) = e {
                a.push(v.clone());
            }
        }
    }
}

/// Pairs invocations with completions and reads the micro-ops.
fn parse(ops: &[Op]) -> Result<(Vec<Txn>, Kind), OracleError> {
    let mut open: HashMap<Process, (usize, &Op)> = HashMap::new();
    let mut txns = Vec::new();
    let mut kind = None;
    for (pos, op) in ops.iter().enumerate() {
        let Process::Client(_) = op.process else { continue };
        if op.kind == OpType::Invoke {
            open.insert(op.process, (pos, op));
            continue;
        }
        let Some((invoke, inv)) = open.remove(&op.process) else {
            return Err(shape(op, "a completion without an invocation"));
        };
        match op.kind {
            OpType::Ok => txns.push(Txn { invoke, complete: Some(pos), ok: true, mops: mops(op, true, &mut kind)? }),
            OpType::Info => txns.push(Txn { invoke, complete: None, ok: false, mops: mops(inv, false, &mut kind)? }),
            // A failed transaction took no effect; its micro-ops still say which model this is.
            _ => {
                mops(op, false, &mut kind)?;
            }
        }
    }
    for (_, (invoke, inv)) in open {
        txns.push(Txn { invoke, complete: None, ok: false, mops: mops(inv, false, &mut kind)? });
    }
    txns.sort_by_key(|t| t.invoke);
    Ok((txns, kind.unwrap_or(Kind::List)))
}

fn shape(op: &Op, expected: &str) -> OracleError {
    OracleError::Shape { index: op.index, expected: expected.to_string() }
}

fn mops(op: &Op, with_reads: bool, kind: &mut Option<Kind>) -> Result<Vec<Mop>, OracleError> {
    let arr = op.value.as_array().ok_or_else(|| shape(op, "a transaction: a list of micro-ops"))?;
    let mut out = Vec::with_capacity(arr.len());
    for m in arr {
        let m = m.as_array().filter(|m| m.len() == 3).ok_or_else(|| shape(op, "micro-ops [f k v]"))?;
        let key = m[1].to_string();
        let mut set = |k: Kind| match kind {
            Some(was) if *was != k => Err(shape(op, "append and w in one history")),
            _ => {
                *kind = Some(k);
                Ok(())
            }
        };
        match m[0].as_str() {
            Some("append") => {
                set(Kind::List)?;
                out.push(Mop::Write(key, m[2].clone()));
            }
            Some("w") => {
                set(Kind::Register)?;
                out.push(Mop::Write(key, m[2].clone()));
            }
            Some("r") => out.push(Mop::Read(key, with_reads.then(|| m[2].clone()))),
            _ => return Err(shape(op, "a micro-op named append, w or r")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::OracleModel::*;
    use super::*;
    use crate::checker::txn_gen::{generate_ops, GenSpec, Isolation, TxnModel};

    /// `(process, type, value)` rows become a history with dense indices and rising times.
    pub(crate) fn history(rows: &[(u64, &str, Value)]) -> Vec<Op> {
        rows.iter()
            .enumerate()
            .map(|(i, (p, t, v))| Op {
                index: i as u64,
                time: i as u64 * 10,
                kind: serde_json::from_value(json!(t)).unwrap(),
                process: Process::Client(*p),
                f: "txn".into(),
                value: v.clone(),
                node: None,
                error: None,
            })
            .collect()
    }

    fn all(ops: &[Op]) -> [bool; 4] {
        [Serializable, StrictSerializable, SnapshotIsolation, StrongSnapshotIsolation].map(|m| check(ops, m).unwrap())
    }

    #[test]
    fn write_skew_is_snapshot_isolation_but_not_serializable() {
        // T0 reads x and y empty, appends to x; T1 reads x and y empty, appends to y.
        let h = history(&[
            (0, "invoke", json!([["r", "x", null], ["r", "y", null], ["append", "x", 1]])),
            (1, "invoke", json!([["r", "x", null], ["r", "y", null], ["append", "y", 1]])),
            (0, "ok", json!([["r", "x", []], ["r", "y", []], ["append", "x", 1]])),
            (1, "ok", json!([["r", "x", []], ["r", "y", []], ["append", "y", 1]])),
            (2, "invoke", json!([["r", "x", null], ["r", "y", null]])),
            (2, "ok", json!([["r", "x", [1]], ["r", "y", [1]]])),
        ]);
        assert_eq!(all(&h), [false, false, true, true]);
    }

    #[test]
    fn a_lost_update_is_not_snapshot_isolation() {
        let h = history(&[
            (0, "invoke", json!([["r", "x", null], ["append", "x", 1]])),
            (1, "invoke", json!([["r", "x", null], ["append", "x", 2]])),
            (0, "ok", json!([["r", "x", []], ["append", "x", 1]])),
            (1, "ok", json!([["r", "x", []], ["append", "x", 2]])),
            (2, "invoke", json!([["r", "x", null]])),
            (2, "ok", json!([["r", "x", [1, 2]]])),
        ]);
        assert_eq!(all(&h), [false, false, false, false]);
    }

    #[test]
    fn a_stale_read_is_serializable_but_not_strict() {
        let h = history(&[
            (0, "invoke", json!([["w", "x", 1]])),
            (0, "ok", json!([["w", "x", 1]])),
            (1, "invoke", json!([["r", "x", null]])),
            (1, "ok", json!([["r", "x", null]])),
        ]);
        assert_eq!(all(&h), [true, false, true, false]);
    }

    #[test]
    fn reading_a_failed_write_or_a_value_never_written_fits_no_model() {
        let aborted = history(&[
            (0, "invoke", json!([["w", "x", 1]])),
            (0, "fail", json!([["w", "x", 1]])),
            (1, "invoke", json!([["r", "x", null]])),
            (1, "ok", json!([["r", "x", 1]])),
        ]);
        assert_eq!(all(&aborted), [false; 4]);
        let garbage = history(&[(1, "invoke", json!([["r", "x", null]])), (1, "ok", json!([["r", "x", 3]]))]);
        assert_eq!(all(&garbage), [false; 4]);
    }

    #[test]
    fn an_info_write_may_or_may_not_have_happened() {
        let seen = history(&[
            (0, "invoke", json!([["append", "x", 1]])),
            (0, "info", json!([["append", "x", 1]])),
            (1, "invoke", json!([["r", "x", null]])),
            (1, "ok", json!([["r", "x", [1]]])),
            (2, "invoke", json!([["r", "x", null]])),
            (2, "ok", json!([["r", "x", []]])),
        ]);
        // Serializable either way round; strictly, p2's empty read after p1 saw [1] is stale.
        assert_eq!(all(&seen), [true, false, true, false]);
    }

    #[test]
    fn an_internal_read_must_see_the_transactions_own_write() {
        let h = history(&[
            (0, "invoke", json!([["append", "x", 1], ["r", "x", null]])),
            (0, "ok", json!([["append", "x", 1], ["r", "x", []]])),
        ]);
        assert_eq!(all(&h), [false; 4]);
    }

    #[test]
    fn too_many_transactions_or_a_bad_shape_are_refused() {
        let rows: Vec<(u64, &str, Value)> =
            (0..9).flat_map(|p| [(p, "invoke", json!([["w", "x", p]])), (p, "ok", json!([["w", "x", p]]))]).collect();
        assert_eq!(check(&history(&rows), Serializable), Err(OracleError::TooBig(9)));
        let bad = history(&[(0, "invoke", json!(3)), (0, "ok", json!(3))]);
        assert!(matches!(check(&bad, Serializable), Err(OracleError::Shape { index: 1, .. })));
    }

    fn small(model: TxnModel, isolation: Isolation, seed: u64) -> Vec<Op> {
        let spec = GenSpec {
            model,
            isolation,
            txns: 6,
            concurrency: 3,
            key_count: 2,
            max_txn_len: 3,
            fail_pct: 5,
            info_pct: 10,
            final_reads: true,
            seed,
            ..Default::default()
        };
        generate_ops(&spec)
    }

    /// The generator's claims, checked by the oracle: its serializable histories are strictly
    /// serializable, its snapshot-isolation ones are strong snapshot isolation and sometimes not
    /// serializable, its lost-update ones sometimes not snapshot isolation.
    #[test]
    fn the_generator_makes_what_it_claims() {
        let (mut skew, mut lost) = (0, 0);
        for model in [TxnModel::ListAppend, TxnModel::RwRegister] {
            for seed in 0..150 {
                let ser = small(model, Isolation::Serializable, seed);
                assert!(check(&ser, StrictSerializable).unwrap(), "{model:?} seed {seed}: {ser:#?}");
                let si = small(model, Isolation::SnapshotIsolation, seed);
                assert!(check(&si, StrongSnapshotIsolation).unwrap(), "{model:?} seed {seed}: {si:#?}");
                skew += usize::from(!check(&si, Serializable).unwrap());
                let lu = small(model, Isolation::LostUpdate, seed);
                lost += usize::from(!check(&lu, SnapshotIsolation).unwrap());
            }
        }
        assert!(skew > 0 && lost > 0, "write skews {skew}, lost updates {lost}");
    }
}
