//! `Digest`: what the report draws, taken from a history in one pass: the client ops as
//! intervals (invocation to completion), the fault intervals per kind, and the clock offsets the
//! clock nemesis measured. Compact (a few dozen bytes per op) so a 1M-op history fits easily.

use std::collections::BTreeMap;

use crate::history::{pair, Op, OpType, Process};
use crate::nemesis::FaultKind;

/// One client op: an invocation and how it ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientOp {
    /// Position of its f in `Digest::fs`.
    pub f: u16,
    /// The client process.
    pub process: u64,
    /// Index of the invocation in the history.
    pub index: u64,
    /// Invocation time, ns since the test began.
    pub invoke: u64,
    /// Completion time; `None` when the history ended first.
    pub complete: Option<u64>,
    /// Index of the completion in the history.
    pub completion: Option<u64>,
    /// `Ok`, `Fail` or `Info` (`Info` also when it never completed).
    pub outcome: OpType,
    /// The system answered: `ok`, or a `fail` that is a definite answer (`ANSWER_ERRORS`).
    /// Availability and the SLO count these; timeouts and refused connections are not answers.
    pub answered: bool,
}

impl ClientOp {
    /// Nanoseconds from invocation to completion, when it completed.
    pub fn latency(&self) -> Option<u64> {
        self.complete.map(|c| c.saturating_sub(self.invoke))
    }
}

/// Errors of `fail` completions that are the system's definite answer rather than its absence:
/// the register workload's cas whose expected value did not match.
pub const ANSWER_ERRORS: &[&str] = &["precondition failed"];

/// One fault interval: from the completion of the op that started it to the completion of the op
/// that healed it (when the fault was certainly in effect).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultInterval {
    /// Which kind of fault.
    pub kind: FaultKind,
    /// When the start op completed (ns).
    pub start: u64,
    /// When the healing op completed; `None` when it never was (the interval runs to the end).
    pub end: Option<u64>,
}

/// One node's clock offset from the control node, measured by the clock nemesis.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockSample {
    /// When it was measured (ns).
    pub time: u64,
    /// The node.
    pub node: String,
    /// Offset in seconds.
    pub offset_s: f64,
}

/// The history, digested for drawing and for the availability figures.
#[derive(Clone, Debug, Default)]
pub struct Digest {
    /// The client fs, in order of first appearance.
    pub fs: Vec<String>,
    /// Client ops in invocation order.
    pub ops: Vec<ClientOp>,
    /// Fault intervals in start order.
    pub faults: Vec<FaultInterval>,
    /// Clock offsets, in time order.
    pub clock: Vec<ClockSample>,
    /// The time of the history's last op (ns).
    pub end: u64,
}

impl Digest {
    /// The end of a fault interval, or of the history when it was never healed.
    pub fn fault_end(&self, f: &FaultInterval) -> u64 {
        f.end.unwrap_or(self.end).max(f.start)
    }
}

/// Digests `ops` (a whole history, in order).
pub fn digest(ops: &[Op]) -> Digest {
    let mut d = Digest { end: ops.last().map_or(0, |o| o.time), ..Digest::default() };
    let mut f_index: BTreeMap<&str, u16> = BTreeMap::new();
    for p in pair(ops) {
        let inv = &ops[p.invoke];
        let Process::Client(process) = inv.process else { continue };
        let next = d.fs.len() as u16;
        let f = *f_index.entry(inv.f.as_str()).or_insert_with(|| next);
        if f == next {
            d.fs.push(inv.f.clone());
        }
        d.ops.push(ClientOp {
            f,
            process,
            index: inv.index,
            invoke: inv.time,
            complete: p.complete.map(|c| ops[c].time),
            completion: p.complete.map(|c| ops[c].index),
            outcome: p.outcome(ops),
            answered: p.complete.is_some_and(|c| {
                let done = &ops[c];
                done.kind == OpType::Ok
                    || (done.kind == OpType::Fail && done.error.as_deref().is_some_and(|e| ANSWER_ERRORS.contains(&e)))
            }),
        });
    }
    // The nemesis journals each op twice, one op at a time: every second nemesis op completes.
    let nemesis: Vec<&Op> = ops.iter().filter(|o| o.process == Process::Nemesis).collect();
    let mut open: BTreeMap<&'static str, usize> = BTreeMap::new();
    for pair in nemesis.chunks(2) {
        let Some(done) = pair.get(1) else { continue };
        clock_samples(pair[0].time, done, &mut d.clock);
        let Some(kind) = FaultKind::of(&done.f) else { continue };
        if kind.start_fs().contains(&done.f.as_str()) {
            if done.error.is_none() && !open.contains_key(kind.name()) {
                open.insert(kind.name(), d.faults.len());
                d.faults.push(FaultInterval { kind, start: done.time, end: None });
            }
        } else if kind.stop_fs().contains(&done.f.as_str()) {
            if let Some(i) = open.remove(kind.name()) {
                d.faults[i].end = Some(done.time);
            }
        }
    }
    d.clock.sort_by_key(|s| s.time);
    d
}

/// The offsets a clock op measured: `clock-offsets-before` at its start, `clock-offsets` at its
/// end (`{node: seconds or null}`, see `nemesis::clock`).
fn clock_samples(started: u64, done: &Op, out: &mut Vec<ClockSample>) {
    for (field, time) in [("clock-offsets-before", started), ("clock-offsets", done.time)] {
        let Some(map) = done.value.get(field).and_then(|v| v.as_object()) else { continue };
        for (node, v) in map {
            if let Some(offset_s) = v.as_f64() {
                out.push(ClockSample { time, node: node.clone(), offset_s });
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A history op, for hand-built histories.
    pub fn op(index: u64, time_ms: u64, kind: OpType, process: Option<u64>, f: &str, value: serde_json::Value) -> Op {
        Op {
            index,
            time: time_ms * 1_000_000,
            kind,
            process: process.map_or(Process::Nemesis, Process::Client),
            f: f.into(),
            value,
            node: None,
            error: None,
        }
    }

    #[test]
    fn pairs_client_ops_and_fault_intervals() {
        use OpType::*;
        let ops = vec![
            op(0, 0, Invoke, Some(0), "write", json!([1, 1])),
            op(1, 10, Info, None, "start-partition", json!("majority")),
            op(2, 12, Info, None, "start-partition", json!({"n1": ["n2"]})),
            op(3, 20, Ok, Some(0), "write", json!([1, 1])),
            op(4, 21, Invoke, Some(1), "read", json!([1, null])),
            op(9, 22, Invoke, Some(2), "cas", json!([1, [3, 4]])),
            Op { error: Some("precondition failed".into()), ..op(10, 23, Fail, Some(2), "cas", json!([1, [3, 4]])) },
            op(5, 30, Info, None, "stop-partition", json!(null)),
            op(6, 35, Info, None, "stop-partition", json!(null)),
            op(7, 40, Info, None, "bump-clock", json!(null)),
            op(8, 41, Info, None, "bump-clock", json!({"clock-offsets": {"n1": 0.5, "n2": null}})),
        ];
        let d = digest(&ops);
        assert_eq!(d.fs, ["write", "read", "cas"]);
        assert_eq!(d.ops.len(), 3);
        assert!(d.ops[0].answered && !d.ops[1].answered && d.ops[2].answered);
        assert_eq!(d.ops[0].latency(), Some(20_000_000));
        assert_eq!(d.ops[1].outcome, Info);
        assert_eq!(d.ops[1].complete, None);
        assert_eq!(
            d.faults,
            [
                FaultInterval { kind: FaultKind::Partition, start: 12_000_000, end: Some(35_000_000) },
                FaultInterval { kind: FaultKind::Clock, start: 41_000_000, end: None },
            ]
        );
        assert_eq!(d.fault_end(&d.faults[1]), 41_000_000);
        assert_eq!(d.clock, [ClockSample { time: 41_000_000, node: "n1".into(), offset_s: 0.5 }]);
    }
}
