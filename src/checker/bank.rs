//! `bank`: Jepsen's `tests/bank` checker. Clients `transfer {from, to, amount}` between
//! accounts and `read` every balance (`read {account: balance}`). Transfers conserve money, so
//! every ok read must show:
//!
//! - `wrong-total`: balances summing to the expected total: `Options::total`, or when that is
//!   `None` the total of the first ok read (Jepsen requires `:total-amount`; inferring it only
//!   catches a change of total, not a wrong starting one);
//! - `negative-value`: no negative balance, unless `negative_balances_allowed`;
//! - `nil-balance`: no account without a balance (null);
//! - `unexpected-key`: no account outside `Options::accounts` (when given; else outside the
//!   first ok read's accounts);
//! - `missing-key`: every account of `Options::accounts` (or of the first ok read) present.
//!
//! `details.totals` holds `[time_ns, total]` per ok read, for the report's chart. Account names
//! are JSON object keys, so strings (Jepsen's integer accounts arrive as `"0"`, `"1"` ...).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::elements::{calls, shape, unknown_f};
use super::outcome::{Anomaly, CheckOutcome, ShapeError};
use super::Validity;
use crate::history::Op;

/// The checker's name, as `--model` spells it.
pub const NAME: &str = "bank";

/// Options of the bank checker.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The money in the bank; `None`: whatever the first ok read shows.
    pub total: Option<i64>,
    /// The accounts; `None`: those of the first ok read.
    pub accounts: Option<Vec<String>>,
    /// Negative balances are legal (Jepsen's `:negative-balances?`).
    pub negative_balances_allowed: bool,
}

/// Checks a bank history (see the module docs).
pub fn check(ops: &[Op], opts: &Options) -> Result<CheckOutcome, ShapeError> {
    let mut reads: Vec<(&Op, &Map<String, Value>)> = Vec::new();
    for c in calls(ops, NAME)? {
        match c.invoke.f.as_str() {
            "transfer" => transfer_shape(c.invoke)?,
            "read" => {
                let Some(done) = c.ok_completion() else { continue };
                let m = done
                    .value
                    .as_object()
                    .ok_or_else(|| shape(done, NAME, format!("a map of account to balance, found {}", done.value)))?;
                if let Some((k, v)) = m.iter().find(|(_, v)| !(v.is_null() || v.is_i64())) {
                    return Err(shape(done, NAME, format!("account {k}'s balance as an integer or null, found {v}")));
                }
                reads.push((done, m));
            }
            _ => return Err(unknown_f(&c, NAME, &["transfer", "read"])),
        }
    }
    reads.sort_by_key(|r| r.0.index);
    let Some(&(first, first_map)) = reads.first() else {
        let mut o = CheckOutcome::new(NAME, Validity::Unknown, "no ok read: the bank was never read");
        o.details = json!({"read_count": 0, "totals": []});
        return Ok(o);
    };
    let total_of = |m: &Map<String, Value>| m.values().filter_map(Value::as_i64).map(i128::from).sum::<i128>();
    let expected = opts.total.map_or_else(|| total_of(first_map), i128::from);
    let accounts: BTreeSet<&str> = match &opts.accounts {
        Some(a) => a.iter().map(String::as_str).collect(),
        None => first_map.keys().map(String::as_str).collect(),
    };
    let from_where = if opts.accounts.is_some() { "the accounts given" } else { "the first read's accounts" };
    let mut o = CheckOutcome::new(NAME, Validity::Valid, "");
    let mut totals = Vec::with_capacity(reads.len());
    let (mut lowest, mut highest) = (i128::MAX, i128::MIN);
    for &(op, m) in &reads {
        let i = op.index;
        let total = total_of(m);
        totals.push(json!([op.time, clamp(total)]));
        lowest = lowest.min(total);
        highest = highest.max(total);
        if total != expected {
            let why = if opts.total.is_some() { "the bank's total" } else { "the first read's total" };
            let data = json!({"total": clamp(total), "expected": clamp(expected), "balances": m});
            let explanation = format!("the read at op {i} sums to {total}, not {expected} ({why})");
            o.push("wrong-total", Anomaly { explanation, ops: vec![i], data, ..Anomaly::default() });
        }
        for (acct, v) in m {
            let data = json!({"account": acct, "balance": v});
            match v.as_i64() {
                None => o.push(
                    "nil-balance",
                    Anomaly {
                        explanation: format!("the read at op {i} has no balance for account {acct}"),
                        ops: vec![i],
                        data,
                        ..Anomaly::default()
                    },
                ),
                Some(b) if b < 0 && !opts.negative_balances_allowed => o.push(
                    "negative-value",
                    Anomaly {
                        explanation: format!("the read at op {i} shows account {acct} at {b}"),
                        ops: vec![i],
                        data,
                        ..Anomaly::default()
                    },
                ),
                _ => {}
            }
            if !accounts.contains(acct.as_str()) {
                let explanation = format!("the read at op {i} has account {acct}, which is not among {from_where}");
                o.push(
                    "unexpected-key",
                    Anomaly { explanation, ops: vec![i], data: json!({"account": acct}), ..Anomaly::default() },
                );
            }
        }
        for acct in accounts.iter().filter(|a| !m.contains_key(**a)) {
            let explanation = format!("the read at op {i} lacks account {acct} (one of {from_where})");
            o.push(
                "missing-key",
                Anomaly { explanation, ops: vec![i], data: json!({"account": acct}), ..Anomaly::default() },
            );
        }
    }
    if !o.anomalies.is_empty() {
        o.validity = Validity::Invalid;
    }
    let bad: usize = o.anomalies.values().map(Vec::len).sum();
    o.summary = format!(
        "{} ok reads of {} accounts, expected total {expected}{}: {bad} problems",
        reads.len(),
        accounts.len(),
        if opts.total.is_some() { "" } else { " (the first read's)" }
    );
    o.details = json!({
        "read_count": reads.len(),
        "first_read": first.index,
        "expected_total": clamp(expected),
        "lowest_total": clamp(lowest),
        "highest_total": clamp(highest),
        "accounts": accounts,
        "totals": totals,
    });
    Ok(o)
}

/// A transfer's value must be `{from, to, amount}`.
fn transfer_shape(op: &Op) -> Result<(), ShapeError> {
    let ok = op
        .value
        .as_object()
        .is_some_and(|m| m.contains_key("from") && m.contains_key("to") && m.get("amount").is_some_and(Value::is_i64));
    if ok {
        Ok(())
    } else {
        Err(shape(op, NAME, format!("a transfer {{from, to, amount}} with an integer amount, found {}", op.value)))
    }
}

/// An `i128` sum as JSON: a number when it fits `i64` (always, short of overflow), else text.
fn clamp(n: i128) -> Value {
    i64::try_from(n).map_or_else(|_| json!(n.to_string()), |n| json!(n))
}

#[cfg(test)]
mod tests {
    use super::super::elements::testkit::history;
    use super::*;
    use serde_json::json;

    fn read(balances: Value) -> Vec<(u64, &'static str, &'static str, Value)> {
        vec![
            (1, "invoke", "transfer", json!({"from": "a", "to": "b", "amount": 3})),
            (1, "ok", "transfer", json!({"from": "a", "to": "b", "amount": 3})),
            (2, "invoke", "read", json!(null)),
            (2, "ok", "read", json!({"a": 7, "b": 13})),
            (2, "invoke", "read", json!(null)),
            (2, "ok", "read", balances),
        ]
    }

    fn run(balances: Value, opts: &Options) -> CheckOutcome {
        check(&history(&read(balances)), opts).expect("a bank history")
    }

    fn given() -> Options {
        Options { total: Some(20), accounts: Some(vec!["a".into(), "b".into()]), negative_balances_allowed: false }
    }

    #[test]
    fn table_of_second_reads() {
        let cases: [(Value, &[&str]); 7] = [
            (json!({"a": 10, "b": 10}), &[]),
            (json!({"a": 10, "b": 11}), &["wrong-total"]),
            (json!({"a": -1, "b": 21}), &["negative-value"]),
            (json!({"a": null, "b": 20}), &["nil-balance"]),
            (json!({"a": 20}), &["missing-key"]),
            (json!({"a": 10, "b": 10, "c": 0}), &["unexpected-key"]),
            (json!({"a": 10, "c": 10}), &["missing-key", "unexpected-key"]),
        ];
        for (balances, types) in cases {
            for opts in [given(), Options::default()] {
                let o = run(balances.clone(), &opts);
                assert_eq!(o.anomaly_types, types, "{balances} {opts:?}: {o:#?}");
                let want = if types.is_empty() { Validity::Valid } else { Validity::Invalid };
                assert_eq!(o.validity, want);
            }
        }
    }

    #[test]
    fn negative_balances_may_be_allowed() {
        let opts = Options { negative_balances_allowed: true, ..given() };
        assert_eq!(run(json!({"a": -1, "b": 21}), &opts).validity, Validity::Valid);
    }

    #[test]
    fn a_given_total_is_checked_on_the_first_read_too() {
        let o = run(json!({"a": 7, "b": 13}), &Options { total: Some(100), ..given() });
        assert_eq!(o.anomalies["wrong-total"].len(), 2);
        assert_eq!(o.anomalies["wrong-total"][0].data["expected"], json!(100));
    }

    #[test]
    fn totals_over_time_are_in_the_details() {
        let o = run(json!({"a": 10, "b": 11}), &Options::default());
        assert_eq!(o.details["totals"], json!([[3_000_000, 20], [5_000_000, 21]]));
        assert_eq!((o.details["lowest_total"].clone(), o.details["highest_total"].clone()), (json!(20), json!(21)));
    }

    #[test]
    fn no_read_is_unknown() {
        let h = history(&[(1, "invoke", "read", json!(null)), (1, "fail", "read", json!(null))]);
        assert_eq!(check(&h, &Options::default()).expect("shape").validity, Validity::Unknown);
    }

    #[test]
    fn shape_errors() {
        let e = check(&history(&[(1, "invoke", "transfer", json!([1, 2, 3]))]), &given()).expect_err("a list");
        assert!(e.expected.contains("{from, to, amount}"), "{e}");
        let e = check(&history(&[(1, "invoke", "read", json!(null)), (1, "ok", "read", json!([10, 10]))]), &given())
            .expect_err("a list is not a map");
        assert_eq!(e.index, 1);
        let e = check(&history(&[(1, "invoke", "read", json!(null)), (1, "ok", "read", json!({"a": "x"}))]), &given())
            .expect_err("a string balance");
        assert!(e.expected.contains("account a"), "{e}");
        let e = check(&history(&[(1, "invoke", "deposit", json!(1))]), &given()).expect_err("deposit");
        assert!(e.expected.contains("`transfer` or `read`"), "{e}");
    }
}
