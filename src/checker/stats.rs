//! `stats`: Jepsen's stats checker. Counts completions (ok / fail / info) overall and per `f`
//! and names the fs that never succeeded ("vacuous": a workload whose writes all failed tests
//! nothing about writes).
//!
//! Verdict, chosen to flag a run that tested nothing without calling the system wrong: `Unknown`
//! when no client op completed ok (including an empty history), else `Valid`. Jepsen's own
//! `stats` says invalid whenever some f never succeeded; here that is only the `vacuous`
//! warning, because a rarely used f (say, one cas during a partition) failing is not a safety
//! violation.

use super::Validity;
use crate::history::{Op, OpType, Ops, Process};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Completion counts for one `f` (or for all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FStats {
    /// All completions.
    pub count: u64,
    /// Completions that are `ok`.
    pub ok: u64,
    /// Completions that are `fail`.
    pub fail: u64,
    /// Completions that are `info` (indeterminate).
    pub info: u64,
}

impl FStats {
    fn add(&mut self, kind: OpType) {
        self.count += 1;
        match kind {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            OpType::Info => self.info += 1,
            OpType::Invoke => self.count -= 1,
        }
    }
}

/// The stats checker's result; goes into `results.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsResult {
    /// `Unknown` if no client op completed ok, else `Valid`.
    pub validity: Validity,
    /// Counts over all client ops.
    pub total: FStats,
    /// Counts per `f`, sorted by `f`.
    pub by_f: BTreeMap<String, FStats>,
    /// The fs that completed at least once but never ok (a warning, not a verdict).
    pub vacuous: Vec<String>,
}

/// Counts client completions (nemesis ops are not counted).
pub fn stats(ops: &[Op]) -> StatsResult {
    stats_ops(ops)
}

/// `stats` for any `Ops`, a `CompactHistory` say.
pub fn stats_ops<H: Ops + ?Sized>(ops: &H) -> StatsResult {
    let mut total = FStats::default();
    let mut by_f: BTreeMap<String, FStats> = BTreeMap::new();
    for i in (0..ops.len()).filter(|&i| ops.process(i) != Process::Nemesis && ops.kind(i) != OpType::Invoke) {
        let kind = ops.kind(i);
        total.add(kind);
        match by_f.get_mut(ops.f(i)) {
            Some(s) => s.add(kind),
            None => by_f.entry(ops.f(i).to_string()).or_default().add(kind),
        }
    }
    let vacuous = by_f.iter().filter(|(_, s)| s.ok == 0).map(|(f, _)| f.clone()).collect();
    let validity = if total.ok == 0 { Validity::Unknown } else { Validity::Valid };
    StatsResult { validity, total, by_f, vacuous }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(process: Process, kind: OpType, f: &str) -> Op {
        Op { index: 0, time: 0, kind, process, f: f.into(), value: json!(null), node: None, error: None }
    }

    #[test]
    fn counts_per_f_and_flags_fs_that_never_succeeded() {
        let c = Process::Client(1);
        let ops = vec![
            op(c, OpType::Invoke, "read"),
            op(c, OpType::Ok, "read"),
            op(c, OpType::Invoke, "write"),
            op(c, OpType::Fail, "write"),
            op(c, OpType::Invoke, "write"),
            op(c, OpType::Info, "write"),
            op(Process::Nemesis, OpType::Info, "start-partition"),
        ];
        let s = stats(&ops);
        assert_eq!(s.validity, Validity::Valid);
        assert_eq!(s.total, FStats { count: 3, ok: 1, fail: 1, info: 1 });
        assert_eq!(s.by_f["write"], FStats { count: 2, ok: 0, fail: 1, info: 1 });
        assert_eq!(s.vacuous, vec!["write".to_string()]);
        assert!(!s.by_f.contains_key("start-partition"));
    }

    #[test]
    fn no_successful_op_at_all_is_unknown() {
        let c = Process::Client(1);
        assert_eq!(stats(&[]).validity, Validity::Unknown);
        assert_eq!(stats(&[op(c, OpType::Invoke, "read"), op(c, OpType::Fail, "read")]).validity, Validity::Unknown);
    }
}
