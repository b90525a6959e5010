//! Matching invocations with their completions (`pair`), and checking that a history is well
//! formed (`validate_well_formed`), with Jepsen's semantics: a process has at most one op
//! outstanding, and a client process that completes with `info` has crashed and never returns.

use std::collections::HashMap;

use super::{HistoryError, Op, OpType, Process};

/// An invocation and its completion, as positions in the op slice given to `pair`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Position of the invocation.
    pub invoke: usize,
    /// Position of the completion; `None` when the history ended first.
    pub complete: Option<usize>,
}

impl Pair {
    /// How the op ended: its completion's type, or `Info` (indeterminate) when it never completed.
    pub fn outcome(&self, ops: &[Op]) -> OpType {
        self.complete.map_or(OpType::Info, |c| ops[c].kind)
    }
}

/// Pairs each invocation with the next op of the same process, in invocation order.
///
/// Client processes invoke with `invoke` and complete with `ok`, `fail` or `info`. The nemesis
/// logs `info` at both ends (as Jepsen does), so its ops pair up in turn: 1st with 2nd, 3rd with
/// 4th. An invocation still outstanding at the end has `complete: None`. Malformed histories
/// (see `validate_well_formed`) still pair: a second invocation leaves the first one unpaired,
/// and a completion without an invocation is in no pair.
pub fn pair(ops: &[Op]) -> Vec<Pair> {
    // Process -> position in `pairs` of its outstanding invocation.
    let mut pending: HashMap<Process, usize> = HashMap::new();
    let mut pairs = Vec::with_capacity(ops.len() / 2 + 1);
    for (i, op) in ops.iter().enumerate() {
        let starts = match op.process {
            Process::Nemesis => !pending.contains_key(&Process::Nemesis),
            Process::Client(_) => op.is_invoke(),
        };
        if starts {
            pending.insert(op.process, pairs.len());
            pairs.push(Pair { invoke: i, complete: None });
        } else if let Some(p) = pending.remove(&op.process) {
            pairs[p].complete = Some(i);
        }
    }
    pairs
}

/// Checks that indices are dense from 0, time never goes backwards, and each client process
/// alternates invocation and completion and never invokes again after an `info` completion
/// (Jepsen continues a crashed process's thread as a new process). Nemesis ops are not checked
/// for pairing. The error names the first offending op.
pub fn validate_well_formed(ops: &[Op]) -> Result<(), HistoryError> {
    // Process -> index of its outstanding invocation.
    let mut pending: HashMap<Process, u64> = HashMap::new();
    // Process -> index of the `info` completion that ended it.
    let mut crashed: HashMap<Process, u64> = HashMap::new();
    let mut previous_time = 0;
    for (position, op) in ops.iter().enumerate() {
        if op.index != position as u64 {
            return Err(HistoryError::IndexNotDense { position, index: op.index });
        }
        if op.time < previous_time {
            return Err(HistoryError::TimeBackwards { index: op.index, time: op.time, previous: previous_time });
        }
        previous_time = op.time;
        if op.process == Process::Nemesis {
            continue;
        }
        let (index, process) = (op.index, op.process);
        if op.is_invoke() {
            if let Some(&outstanding) = pending.get(&process) {
                return Err(HistoryError::DoubleInvoke { index, process, outstanding });
            }
            if let Some(&crashed) = crashed.get(&process) {
                return Err(HistoryError::CrashedProcessReused { index, process, crashed });
            }
            pending.insert(process, index);
        } else {
            if pending.remove(&process).is_none() {
                return Err(HistoryError::NotInvoked { index, process });
            }
            if op.kind == OpType::Info {
                crashed.insert(process, index);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// Ops from `(type, process)`; process `u64::MAX` is the nemesis.
    fn history(spec: &[(OpType, u64)]) -> Vec<Op> {
        spec.iter()
            .enumerate()
            .map(|(i, &(kind, p))| Op {
                index: i as u64,
                time: 10 * i as u64,
                kind,
                process: if p == u64::MAX { Process::Nemesis } else { Process::Client(p) },
                f: "read".into(),
                value: Value::Null,
                node: None,
                error: None,
            })
            .collect()
    }

    use OpType::{Fail, Info, Invoke, Ok};
    const NEMESIS: u64 = u64::MAX;

    #[test]
    fn pairs_by_process_in_invocation_order() {
        let ops = history(&[
            (Invoke, 0),
            (Invoke, 1),
            (Info, NEMESIS),
            (Ok, 1),
            (Fail, 0),
            (Info, NEMESIS),
            (Invoke, 1),
            (Info, NEMESIS),
            (Invoke, 2),
            (Info, 2),
        ]);
        let pairs = pair(&ops);
        let p = |invoke, complete| Pair { invoke, complete };
        assert_eq!(pairs, [p(0, Some(4)), p(1, Some(3)), p(2, Some(5)), p(6, None), p(7, None), p(8, Some(9))]);
        let outcomes: Vec<OpType> = pairs.iter().map(|p| p.outcome(&ops)).collect();
        assert_eq!(outcomes, [Fail, Ok, Info, Info, Info, Info]);
        assert_eq!(validate_well_formed(&ops).map_err(|e| e.to_string()), Result::Ok(()));
    }

    #[test]
    fn malformed_histories_still_pair() {
        let ops = history(&[(Ok, 0), (Invoke, 0), (Invoke, 0), (Ok, 0)]);
        assert_eq!(pair(&ops), [Pair { invoke: 1, complete: None }, Pair { invoke: 2, complete: Some(3) }]);
    }

    fn error(ops: &[Op]) -> String {
        validate_well_formed(ops).unwrap_err().to_string()
    }

    #[test]
    fn double_invoke_names_both_ops() {
        let ops = history(&[(Invoke, 0), (Invoke, 1), (Invoke, 0)]);
        assert_eq!(error(&ops), "op 2: process 0 invoked while its op 0 is still outstanding");
    }

    #[test]
    fn completion_without_invocation() {
        let ops = history(&[(Invoke, 0), (Ok, 0), (Ok, 0)]);
        assert_eq!(error(&ops), "op 2: process 0 completed with no outstanding invocation");
    }

    #[test]
    fn crashed_process_must_not_return() {
        let ops = history(&[(Invoke, 3), (Info, 3), (Invoke, 8), (Invoke, 3)]);
        assert_eq!(error(&ops), "op 3: process 3 invoked again after its op 1 completed as info");
    }

    #[test]
    fn indices_must_be_dense() {
        let mut ops = history(&[(Invoke, 0), (Ok, 0), (Invoke, 0)]);
        ops[2].index = 3;
        assert_eq!(error(&ops), "op at position 2 has index 3; indices must be dense from 0");
    }

    #[test]
    fn time_must_not_go_backwards() {
        let mut ops = history(&[(Invoke, 0), (Ok, 0), (Invoke, 0)]);
        ops[2].time = 5;
        assert_eq!(error(&ops), "op 2: time 5 is before the previous op's time 10");
    }
}
