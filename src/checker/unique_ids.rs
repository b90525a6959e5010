//! `unique-ids`: Jepsen's `checker/unique-ids`. Clients `generate` ids (`generate` ok with the
//! id); every acknowledged id must be distinct. A `duplicated` anomaly per id handed out more
//! than once, with its count and the ops (Jepsen lists the 48 most duplicated; we list all);
//! `details` has the counts and the `range` `[lowest, highest]` (integers numerically, other ids
//! by their JSON text).

use std::collections::BTreeMap;

use serde_json::json;

use super::elements::{calls, element, unknown_f, Elem};
use super::outcome::{Anomaly, CheckOutcome, ShapeError};
use super::Validity;
use crate::history::Op;

/// The checker's name, as `--model` spells it.
pub const NAME: &str = "unique-ids";

/// At most this many op indices are listed per duplicated id.
const MAX_OPS: usize = 16;

/// The unique-ids checker has no options; the type exists so every checker is called alike.
#[derive(Clone, Debug, Default)]
pub struct Options {}

/// Checks a unique-ids history (see the module docs).
pub fn check(ops: &[Op], _opts: &Options) -> Result<CheckOutcome, ShapeError> {
    let mut attempted = 0usize;
    let mut acks: BTreeMap<Elem, Vec<u64>> = BTreeMap::new();
    let mut acknowledged = 0usize;
    for c in calls(ops, NAME)? {
        if c.invoke.f != "generate" {
            return Err(unknown_f(&c, NAME, &["generate"]));
        }
        attempted += 1;
        if let Some(done) = c.ok_completion() {
            let id = element(done, NAME, "the generated id")?;
            acks.entry(id).or_default().push(done.index);
            acknowledged += 1;
        }
    }
    let mut o = CheckOutcome::new(NAME, Validity::Valid, "");
    // Most duplicated first, like Jepsen's list.
    let mut dups: Vec<(&Elem, &Vec<u64>)> = acks.iter().filter(|(_, at)| at.len() > 1).collect();
    dups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    for &(id, at) in &dups {
        let mut shown: Vec<u64> = at.iter().take(MAX_OPS).copied().collect();
        shown.sort_unstable();
        let list: Vec<String> = shown.iter().map(u64::to_string).collect();
        let more = if at.len() > MAX_OPS { format!(" and {} more", at.len() - MAX_OPS) } else { String::new() };
        o.push(
            "duplicated",
            Anomaly {
                explanation: format!("id {id} was generated {} times: ops {}{more}", at.len(), list.join(", ")),
                ops: shown,
                data: json!({"id": id.to_value(), "count": at.len()}),
                ..Anomaly::default()
            },
        );
    }
    if !dups.is_empty() {
        o.validity = Validity::Invalid;
    }
    let range = match (acks.keys().next(), acks.keys().next_back()) {
        (Some(lo), Some(hi)) => json!([lo.to_value(), hi.to_value()]),
        _ => json!(null),
    };
    o.summary =
        format!("{attempted} attempted, {acknowledged} acknowledged: {} ids handed out more than once", dups.len());
    o.details = json!({
        "attempted_count": attempted,
        "acknowledged_count": acknowledged,
        "duplicated_count": dups.len(),
        "range": range,
    });
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::super::elements::testkit::history;
    use super::*;
    use serde_json::{json, Value};

    fn gen(ids: &[Value]) -> Vec<(u64, &'static str, &'static str, Value)> {
        ids.iter()
            .enumerate()
            .flat_map(|(p, id)| {
                let kind = if id.is_null() { "info" } else { "ok" };
                [(p as u64, "invoke", "generate", json!(null)), (p as u64, kind, "generate", id.clone())]
            })
            .collect()
    }

    fn run(ids: &[Value]) -> CheckOutcome {
        check(&history(&gen(ids)), &Options::default()).expect("a unique-ids history")
    }

    #[test]
    fn distinct_ids_are_valid_and_give_the_range() {
        let o = run(&[json!(3), json!(10), json!(2), json!(null)]);
        assert_eq!(o.validity, Validity::Valid, "{o:#?}");
        assert_eq!(o.details["range"], json!([2, 10]));
        assert_eq!(
            (o.details["attempted_count"].clone(), o.details["acknowledged_count"].clone()),
            (json!(4), json!(3))
        );
    }

    #[test]
    fn a_repeated_id_is_duplicated_with_its_count_and_ops() {
        let o = run(&[json!(1), json!(2), json!(1), json!(2), json!(1)]);
        assert_eq!(o.validity, Validity::Invalid);
        let d = &o.anomalies["duplicated"];
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].data, json!({"id": 1, "count": 3}), "most duplicated first");
        assert_eq!(d[0].ops, [1, 5, 9]);
        assert_eq!(o.details["duplicated_count"], json!(2));
    }

    #[test]
    fn string_ids_work_too() {
        assert_eq!(run(&[json!("a"), json!("b")]).validity, Validity::Valid);
        assert_eq!(run(&[json!("a"), json!("a")]).validity, Validity::Invalid);
    }

    #[test]
    fn shape_errors() {
        let e = check(&history(&[(1, "invoke", "read", json!(null))]), &Options::default()).expect_err("read");
        assert!(e.expected.contains("`generate`"), "{e}");
        let e = check(
            &history(&[(1, "invoke", "generate", json!(null)), (1, "ok", "generate", json!(null))]),
            &Options::default(),
        )
        .expect_err("an ok generate returns an id");
        assert_eq!(e.index, 1);
    }
}
