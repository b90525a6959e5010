//! `junit.xml`: one test suite per run (named after the test), one test case per checker
//! (`linearizable`, `stats`, then every `Results.checkers` outcome), for CI systems. A valid checker passes; an invalid one is a
//! `<failure>` whose message and text explain it; an **unknown** verdict is an `<error>` of
//! type `unknown`: brawl could not decide, which CI must not take as a pass, yet it is not a
//! proven violation either. The output validates against Jenkins' `junit-10.xsd`
//! (`tests/fixtures/junit-10.xsd`).

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::checker::Validity;
use crate::run::Results;

/// The JUnit XML of a run's verdicts.
pub fn junit_xml(r: &Results) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new(format!("brawl.{}", r.test));
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&r.start) {
        suite.set_timestamp(t);
    }
    suite.set_time(Duration::from_secs_f64(r.duration_s.max(0.0)));
    suite.add_property(Property::new("seed", r.seed.to_string()));
    suite.add_property(Property::new("validity", format!("{:?}", r.validity).to_lowercase()));
    suite.add_property(Property::new("history-ops", r.history_ops.to_string()));

    let lin_case = r.linearizable.as_ref().map(|lin| {
        let mut explanation = Vec::new();
        for f in &lin.failures {
            explanation.push(format!("key {}: {}", f.key, f.message));
            explanation.push(format!("  cannot be linearized: {}", op_line(&f.op)));
            explanation.push(format!("  invoked as: {}", op_line(&f.invocation)));
            let states: Vec<String> = f.possible_states.iter().map(|s| s.to_string()).collect();
            explanation.push(format!("  states possible before it: {}", states.join(", ")));
            for c in &f.concurrent {
                explanation.push(format!("  concurrent: {}", op_line(c)));
            }
            if f.concurrent_omitted > 0 {
                explanation.push(format!("  ... and {} more concurrent ops", f.concurrent_omitted));
            }
        }
        for u in &lin.unknown_keys {
            explanation.push(format!("key {}: unknown: {}", u.key, u.reason));
        }
        let summary = match lin.validity {
            Validity::Valid => String::new(),
            Validity::Invalid => format!("{} of {} keys are not linearizable", lin.failures.len(), lin.keys_checked),
            Validity::Unknown => format!(
                "could not decide linearizability for {} of {} keys (see the text)",
                lin.unknown_keys.len(),
                lin.keys_checked
            ),
        };
        let mut lin_case = case("linearizable", lin.validity, &summary, &explanation.join("\n"));
        lin_case.set_time(lin.elapsed);
        lin_case.set_classname(format!("brawl.{}", r.test));
        lin_case
    });

    let st = &r.stats;
    let mut detail = vec![format!("total: {} ok, {} fail, {} info", st.total.ok, st.total.fail, st.total.info)];
    detail.extend(st.by_f.iter().map(|(f, s)| format!("{f}: {} ok, {} fail, {} info", s.ok, s.fail, s.info)));
    let summary = match st.validity {
        Validity::Valid => String::new(),
        _ if st.total.ok == 0 => "no client op succeeded: the run proves nothing".to_string(),
        _ => format!("fs that never succeeded: {}", st.vacuous.join(", ")),
    };
    let mut stats_case = case("stats", st.validity, &summary, &detail.join("\n"));
    stats_case.set_classname(format!("brawl.{}", r.test));

    // A built-in checker that panicked has a `CheckOutcome` of its name: that case replaces its own.
    let replaced = |name: &str| r.checkers.iter().any(|c| c.checker == name);
    suite.add_test_cases(
        lin_case
            .map(|c| ("linearizable", c))
            .into_iter()
            .chain([("stats", stats_case)])
            .filter(|(n, _)| !replaced(n))
            .map(|(_, c)| c),
    );
    suite.add_test_cases(super::outcomes::junit_cases(&r.checkers, &format!("brawl.{}", r.test)));
    let mut report = Report::new("brawl");
    report.add_test_suite(suite);
    report.to_string()
}

/// A test case for one verdict.
pub(super) fn case(name: &str, v: Validity, message: &str, text: &str) -> TestCase {
    let status = match v {
        Validity::Valid => TestCaseStatus::success(),
        Validity::Invalid => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type("invalid").set_message(message).set_description(text);
            s
        }
        Validity::Unknown => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_type("unknown").set_message(format!("unknown: {message}")).set_description(text);
            s
        }
    };
    let mut c = TestCase::new(name, status);
    if v == Validity::Valid && !text.is_empty() {
        c.set_system_out(text);
    }
    c
}

fn op_line(op: &crate::history::Op) -> String {
    let mut s = format!("#{} p{} {} {} {}", op.index, op.process, op.kind, op.f, op.value);
    if let Some(e) = &op.error {
        s.push_str(&format!(" ({e})"));
    }
    s
}
