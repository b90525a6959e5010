//! `CheckOutcome`: what every checker other than the linearizability search returns, in one
//! shape, so that `brawl check --json`, `results.json`, `junit.xml` and `report.html` treat all
//! of them alike. Its fields follow Elle's and Jepsen's result maps (`:valid?`,
//! `:anomaly-types`, `:anomalies`, `:not`, `:also-not`), in snake case.
//!
//! A checker is a pure function `check(ops, &Options) -> Result<CheckOutcome, ShapeError>`: a
//! history whose ops do not fit the checker's model is refused with the first such op
//! (`ShapeError`), never passed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Validity;

/// One checker's verdict with everything needed to explain it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// The checker's name, as `--model` spells it (`set-full`, `list-append`, `bank`, ...).
    pub checker: String,
    /// The verdict.
    pub validity: Validity,
    /// One line for people: what was checked and what was found.
    pub summary: String,
    /// The names of the anomaly classes found (`G-single`, `lost`, `wrong-total`, ...), sorted.
    #[serde(default)]
    pub anomaly_types: Vec<String>,
    /// Every anomaly found, by class, in the order found.
    #[serde(default)]
    pub anomalies: BTreeMap<String, Vec<Anomaly>>,
    /// Transactional checkers: the weakest consistency models the anomalies rule out (Elle's
    /// `:not`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not: Vec<String>,
    /// Transactional checkers: every stronger model that is ruled out as a consequence (Elle's
    /// `:also-not`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_not: Vec<String>,
    /// Checker-specific figures (counts, latency quantiles, totals over time ...).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

/// One anomaly: an explanation a person can follow, the ops involved, and for cycles the steps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// In words: what is wrong.
    pub explanation: String,
    /// The indices (`Op::index`) of the ops involved, completions where there are any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<u64>,
    /// For a dependency cycle: its steps, in order; the last step leads back to the first op.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cycle: Vec<CycleStep>,
    /// Anything else that helps (the reads of a key for `incompatible-order`, an element ...).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

/// One edge of a dependency cycle: `from` must precede `to`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleStep {
    /// History index of the earlier transaction's completion.
    pub from: u64,
    /// History index of the later transaction's completion.
    pub to: u64,
    /// `ww`, `wr`, `rw`, `process` or `realtime`.
    pub kind: String,
    /// Why, in words ("T2 read T1's append of 3 to key 5").
    pub why: String,
}

/// A history that does not fit the checker's model: the first op whose shape is wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("op {index} does not fit the {model} model: {expected}")]
pub struct ShapeError {
    /// The op's index in the history.
    pub index: u64,
    /// The model asked for.
    pub model: String,
    /// What the model expected of the op, and what it found.
    pub expected: String,
}

impl CheckOutcome {
    /// An outcome with the given name and verdict and nothing else.
    pub fn new(checker: impl Into<String>, validity: Validity, summary: impl Into<String>) -> Self {
        CheckOutcome { checker: checker.into(), validity, summary: summary.into(), ..Default::default() }
    }

    /// Records an anomaly of `class`, keeping `anomaly_types` sorted and unique.
    pub fn push(&mut self, class: &str, anomaly: Anomaly) {
        self.anomalies.entry(class.to_string()).or_default().push(anomaly);
        if let Err(at) = self.anomaly_types.binary_search_by(|c| c.as_str().cmp(class)) {
            self.anomaly_types.insert(at, class.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_keeps_anomaly_types_sorted_and_unique() {
        let mut o = CheckOutcome::new("set", Validity::Invalid, "");
        o.push("lost", Anomaly::default());
        o.push("duplicated", Anomaly::default());
        o.push("lost", Anomaly::default());
        assert_eq!(o.anomaly_types, ["duplicated", "lost"]);
        assert_eq!(o.anomalies["lost"].len(), 2);
    }

    #[test]
    fn an_outcome_round_trips_through_json() {
        let mut o = CheckOutcome::new("list-append", Validity::Invalid, "G-single");
        o.not = vec!["snapshot-isolation".into()];
        o.push(
            "G-single",
            Anomaly {
                explanation: "a cycle".into(),
                ops: vec![1, 3],
                cycle: vec![CycleStep { from: 1, to: 3, kind: "rw".into(), why: "because".into() }],
                data: serde_json::Value::Null,
            },
        );
        let back: CheckOutcome = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }
}
