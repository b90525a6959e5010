//! The run's checkers under `catch_unwind`: a checker that panics gives `unknown` for that
//! checker, with the panic message, and the other checkers' verdicts still stand and are written.
//! A panicked checker is also listed in `Results::checkers` (`CheckOutcome`, checker name and
//! message), which `junit.xml` and `report.html` show in place of its usual case.
//! Failpoints `check.linearizable.panic` and `check.stats.panic` make them panic (tests).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use crate::checker::{
    check_linearizable, stats, Budget, CheckOutcome, LinearizabilityResult, ModelKind, StatsResult, UnknownKey,
    Validity,
};
use crate::history::Op;

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

/// The linearizability checker; on a panic, an unknown result whose reason is the message.
pub fn linearizable(ops: &[Op], model: ModelKind, budget: &Budget) -> (LinearizabilityResult, Option<CheckOutcome>) {
    let started = Instant::now();
    match guarded("linearizable", || check_linearizable(ops, model, budget)) {
        Ok(r) => (r, None),
        Err(message) => {
            tracing::error!(%message, "the linearizable checker panicked; its verdict is unknown");
            let outcome = panicked("linearizable", &message);
            let r = LinearizabilityResult {
                validity: Validity::Unknown,
                model,
                keys_checked: 0,
                ops_checked: 0,
                failures: Vec::new(),
                unknown_keys: vec![UnknownKey { key: serde_json::Value::Null, reason: outcome.summary.clone() }],
                elapsed: started.elapsed(),
                peak_search_bytes: 0,
            };
            (r, Some(outcome))
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
