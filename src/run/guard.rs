//! The run's checkers under `catch_unwind`: a checker that panics gives `unknown` for that
//! checker, with the panic message, and the other checkers' verdicts still stand and are written.
//! A panicked checker is also listed in `Results::checkers` (`CheckOutcome`, checker name and
//! message), which `junit.xml` and `report.html` show in place of its usual case.
//! Failpoints `check.linearizable.panic` and `check.stats.panic` make them panic (tests).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::checker::{
    stats, Budget, CheckOutcome, LinearizabilityResult, ModelKind, StatsResult, UnknownKey, Validity,
};
use crate::history::Op;
use crate::workload::{Checked, Workload, WorkloadKind};

use super::{failpoint, panic_message};

/// Runs `check`, turning a panic into its message.
fn guarded<T>(name: &str, check: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(|| {
        failpoint(&format!("check.{name}.panic"));
        check()
    }))
    .map_err(|p| panic_message(p.as_ref()))
}

/// The outcome that stands for a checker that panicked.
pub fn panicked(name: &str, message: &str) -> CheckOutcome {
    CheckOutcome {
        checker: name.to_string(),
        validity: Validity::Unknown,
        summary: format!("the {name} checker panicked: {message}"),
        ..Default::default()
    }
}

/// A workload's checkers; on a panic, `unknown`: for a workload checked for linearizability an
/// unknown linearizability result whose reason is the message (failpoint
/// `check.linearizable.panic`), for the others an outcome named after the workload
/// (`check.<workload>.panic`). The panicked outcome is the second value.
pub fn workload(workload: &dyn Workload, ops: &[Op], budget: &Budget) -> (Checked, Option<CheckOutcome>) {
    let started = Instant::now();
    let linearizable = workload.kind() == WorkloadKind::Register;
    let name = if linearizable { "linearizable" } else { workload.name() };
    match guarded(name, || workload.check(ops, budget)) {
        Ok(r) => (r, None),
        Err(message) => {
            tracing::error!(%message, checker = name, "a checker panicked; its verdict is unknown");
            let outcome = panicked(name, &message);
            let lin = linearizable.then(|| LinearizabilityResult {
                validity: Validity::Unknown,
                model: ModelKind::CasRegister,
                keys_checked: 0,
                ops_checked: 0,
                failures: Vec::new(),
                unknown_keys: vec![UnknownKey { key: serde_json::Value::Null, reason: outcome.summary.clone() }],
                elapsed: started.elapsed(),
                peak_search_bytes: 0,
            });
            let outcomes = if linearizable { Vec::new() } else { vec![outcome.clone()] };
            (Checked { linearizable: lin, outcomes }, Some(outcome))
        }
    }
}

/// The stats checker; on a panic, an unknown result with no counts.
pub fn stats_checked(ops: &[Op]) -> (StatsResult, Option<CheckOutcome>) {
    match guarded("stats", || stats(ops)) {
        Ok(r) => (r, None),
        Err(message) => {
            tracing::error!(%message, "the stats checker panicked; its verdict is unknown");
            let r = StatsResult {
                validity: Validity::Unknown,
                total: Default::default(),
                by_f: Default::default(),
                vacuous: Vec::new(),
            };
            (r, Some(panicked("stats", &message)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_other_results_pass_through() {
        assert_eq!(guarded("x", || 7), Ok(7));
        assert_eq!(guarded("x", || -> u8 { panic!("boom {}", 3) }), Err("boom 3".to_string()));
        let o = panicked("stats", "index out of bounds");
        assert_eq!(
            (o.validity, o.summary.as_str()),
            (Validity::Unknown, "the stats checker panicked: index out of bounds")
        );
    }
}
