//! The consistency-model lattice, as Elle's `elle.consistency-model` defines it: which models
//! imply which (`MODELS`), which anomalies imply which (`IMPLIED`), and which anomalies each
//! model directly forbids (`DIRECT`). From these, `prohibited` gives every anomaly a set of
//! models rules out, and `boundary` gives Elle's `:not` (the weakest models a set of anomalies
//! violates) and `:also-not` (every stronger one), in Elle's friendly names.
//!
//! One addition of ours: `garbage-read` (a read of a value nobody wrote, which Elle skips)
//! implies `G1a`, like Elle's `incompatible-order` and `dirty-update`.

use std::collections::{BTreeSet, VecDeque};

/// Friendly name -> canonical name (Elle's `canonical-model-names`).
const CANONICAL: &[(&str, &str)] = &[
    ("consistent-view", "PL-2+"),
    ("conflict-serializable", "PL-3"),
    ("cursor-stability", "PL-CS"),
    ("forward-consistent-view", "PL-FCV"),
    ("monotonic-snapshot-read", "PL-MSR"),
    ("monotonic-view", "PL-2L"),
    ("read-committed", "PL-2"),
    ("read-uncommitted", "PL-1"),
    ("repeatable-read", "PL-2.99"),
    ("serializable", "PL-3"),
    ("snapshot-isolation", "PL-SI"),
    ("strict-serializable", "PL-SS"),
    ("strong-serializable", "PL-SS"),
    ("update-serializable", "PL-3U"),
    ("strong-session-read-uncommitted", "strong-session-PL-1"),
    ("strong-session-read-committed", "strong-session-PL-2"),
    ("strong-read-uncommitted", "strong-PL-1"),
    ("strong-read-committed", "strong-PL-2"),
];

/// `a -> [b..]`: a history satisfying `a` satisfies each `b` (Elle's `models`; names are
/// canonicalised before use).
const MODELS: &[(&str, &[&str])] = &[
    ("causal-cerone", &["read-atomic"]),
    ("consistent-view", &["cursor-stability", "monotonic-view"]),
    ("conflict-serializable", &["view-serializable"]),
    ("cursor-stability", &["read-committed", "PL-2"]),
    ("forward-consistent-view", &["consistent-view"]),
    ("PL-2", &["PL-1"]),
    ("PL-3", &["repeatable-read", "update-serializable"]),
    ("update-serializable", &["forward-consistent-view"]),
    ("monotonic-atomic-view", &["read-committed"]),
    ("monotonic-view", &["PL-2"]),
    ("monotonic-snapshot-read", &["PL-2"]),
    ("parallel-snapshot-isolation", &["causal-cerone", "update-atomic"]),
    ("prefix", &["causal-cerone"]),
    ("read-atomic", &["monotonic-atomic-view"]),
    ("read-committed", &["read-uncommitted"]),
    ("repeatable-read", &["cursor-stability", "monotonic-atomic-view"]),
    ("update-atomic", &["read-atomic"]),
    ("serializable", &["repeatable-read", "snapshot-isolation", "view-serializable"]),
    ("session-serializable", &["1SR"]),
    (
        "snapshot-isolation",
        &[
            "forward-consistent-view",
            "monotonic-atomic-view",
            "monotonic-snapshot-read",
            "parallel-snapshot-isolation",
            "prefix",
        ],
    ),
    (
        "strict-serializable",
        &[
            "PL-3",
            "serializable",
            "linearizable",
            "snapshot-isolation",
            "strong-snapshot-isolation",
            "strong-session-serializable",
        ],
    ),
    ("strong-session-PL-1", &["PL-1"]),
    ("strong-session-PL-2", &["PL-2", "strong-session-PL-1"]),
    ("strong-PL-1", &["strong-session-PL-1"]),
    ("strong-PL-2", &["strong-session-PL-2", "strong-PL-1"]),
    ("strong-session-serializable", &["serializable", "strong-session-snapshot-isolation"]),
    ("strong-session-snapshot-isolation", &["snapshot-isolation", "strong-session-PL-2"]),
    ("strong-serializable", &["session-serializable"]),
    ("strong-snapshot-isolation", &["strong-session-snapshot-isolation", "strong-PL-2"]),
    ("linearizable", &["sequential"]),
    ("sequential", &["causal"]),
    ("causal", &["writes-follow-reads", "PRAM"]),
    ("PRAM", &["monotonic-reads", "monotonic-writes", "read-your-writes"]),
];

/// `a -> [b..]`: a history showing anomaly `a` also shows each `b` (Elle's `implied-anomalies`).
const IMPLIED: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    ("G-single-item", &["G-single", "G-single-item-process", "G-nonadjacent-item"]),
    ("G-single-item-process", &["G-single-process", "G-single-item-realtime", "G-nonadjacent-item-process"]),
    ("G-single-item-realtime", &["G-single-realtime", "G-nonadjacent-item-realtime"]),
    ("G-single", &["G-nonadjacent", "GSIb", "G-single-process"]),
    ("G-single-process", &["G-nonadjacent-process", "G-single-realtime"]),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    ("G-nonadjacent-item", &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"]),
    ("G-nonadjacent-item-process", &["G-nonadjacent-process", "G2-item-process", "G-nonadjacent-item-realtime"]),
    ("G-nonadjacent-item-realtime", &["G2-item-realtime", "G-nonadjacent-realtime"]),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    ("G-nonadjacent-process", &["G2-process", "G-nonadjacent-realtime"]),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    ("GSIa", &["GSI"]),
    ("GSIb", &["GSI"]),
    ("incompatible-order", &["G1a"]),
    ("future-read", &["G1c"]),
    ("dirty-update", &["G1a"]),
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
    // brawl's addition: a read of a value nobody wrote is at least as bad as an aborted read.
    ("garbage-read", &["G1a"]),
];

/// Model -> the anomalies it forbids beyond its weaker models (Elle's
/// `direct-proscribed-anomalies`; names are canonicalised before use).
const DIRECT: &[(&str, &[&str])] = &[
    ("causal-cerone", &["internal", "G1a"]),
    ("cursor-stability", &["G1", "G-cursor", "lost-update"]),
    ("monotonic-view", &["G1", "G-monotonic"]),
    ("monotonic-snapshot-read", &["G1", "G-MSR"]),
    ("consistent-view", &["G1", "G-single"]),
    ("forward-consistent-view", &["G1", "G-SIb"]),
    ("parallel-snapshot-isolation", &["internal", "G1a"]),
    ("PL-3", &["G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"]),
    ("PL-2", &["G1", "PL-2-cycle-exists"]),
    ("PL-1", &["G0", "duplicate-elements", "cyclic-versions", "PL-1-cycle-exists"]),
    ("prefix", &["internal", "G1a"]),
    ("serializable", &["internal"]),
    ("snapshot-isolation", &["internal", "G1", "G-SI", "G-nonadjacent", "PL-SI-cycle-exists"]),
    ("read-atomic", &["internal", "G1a", "future-read"]),
    ("repeatable-read", &["G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"]),
    ("update-atomic", &["lost-update"]),
    ("strict-serializable", &["G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"]),
    ("strong-session-PL-1", &["strong-session-PL-1-cycle-exists", "G0-process"]),
    ("strong-session-PL-2", &["strong-session-PL-2-cycle-exists", "G1c-process"]),
    ("strong-PL-1", &["strong-PL-1-cycle-exists", "G0-realtime"]),
    ("strong-PL-2", &["strong-PL-2-cycle-exists", "G1c-realtime"]),
    (
        "strong-session-snapshot-isolation",
        &["internal", "G1-process", "G-nonadjacent-process", "strong-session-snapshot-isolation-cycle-exists"],
    ),
    (
        "strong-snapshot-isolation",
        &["internal", "G1-realtime", "G-nonadjacent-realtime", "strong-snapshot-isolation-cycle-exists"],
    ),
    ("strong-session-serializable", &["G1-process", "G2-process", "strong-session-serializable-cycle-exists"]),
    ("update-serializable", &["G1", "G-update"]),
];

/// A model name no table knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown consistency model {0:?}; known models: {1}")]
pub struct UnknownModel(pub String, pub String);

/// Elle's canonical name of a model (`serializable` -> `PL-3`); unknown names pass through.
pub fn canonical(name: &str) -> &str {
    CANONICAL.iter().find(|(f, _)| *f == name).map_or(name, |(_, c)| c)
}

/// Elle's friendly name of a canonical model (`PL-3` -> `serializable`).
pub fn friendly(name: &str) -> &str {
    if name == "PL-3" {
        return "serializable";
    }
    CANONICAL.iter().find(|(_, c)| *c == name).map_or(name, |(f, _)| f)
}

fn model_out(m: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (a, bs) in MODELS {
        if canonical(a) == m {
            out.extend(bs.iter().map(|b| canonical_static(b)));
        }
    }
    out
}

fn model_in(m: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (a, bs) in MODELS {
        if bs.iter().any(|b| canonical(b) == m) {
            out.push(canonical_static(a));
        }
    }
    out
}

fn canonical_static(name: &'static str) -> &'static str {
    CANONICAL.iter().find(|(f, _)| *f == name).map_or(name, |(_, c)| c)
}

/// Every model name Elle knows, friendly and canonical, sorted.
pub fn all_models() -> BTreeSet<&'static str> {
    let mut all = BTreeSet::new();
    for (a, bs) in MODELS {
        all.insert(canonical_static(a));
        all.extend(bs.iter().map(|b| canonical_static(b)));
    }
    for (f, c) in CANONICAL {
        all.insert(*f);
        all.insert(*c);
    }
    all
}

/// Checks that every model is known.
pub fn validate(models: &[String]) -> Result<(), UnknownModel> {
    let all = all_models();
    match models.iter().find(|m| !all.contains(m.as_str())) {
        Some(m) => Err(UnknownModel(m.clone(), all.into_iter().collect::<Vec<_>>().join(", "))),
        None => Ok(()),
    }
}

fn bfs<'a>(start: impl IntoIterator<Item = &'a str>, next: impl Fn(&str) -> Vec<&'a str>) -> BTreeSet<&'a str> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&str> = start.into_iter().collect();
    while let Some(x) = queue.pop_front() {
        if seen.insert(x) {
            queue.extend(next(x));
        }
    }
    seen
}

fn implied_out(a: &str) -> Vec<&'static str> {
    IMPLIED.iter().filter(|(x, _)| *x == a).flat_map(|(_, bs)| bs.iter().copied()).collect()
}

fn implied_in(a: &str) -> Vec<&'static str> {
    IMPLIED.iter().filter(|(_, bs)| bs.contains(&a)).map(|(x, _)| *x).collect()
}

/// Every anomaly that `models` rule out, including each anomaly implying a forbidden one
/// (Elle's `anomalies-prohibited-by`).
pub fn prohibited(models: &[String]) -> BTreeSet<String> {
    let start: Vec<&str> = models.iter().map(|m| canonical(m)).collect();
    let implied = bfs(start, |m| model_out(m));
    let direct: Vec<&str> =
        DIRECT.iter().filter(|(m, _)| implied.contains(canonical(m))).flat_map(|(_, an)| an.iter().copied()).collect();
    bfs(direct, |a| implied_in(a)).into_iter().map(String::from).collect()
}

/// Every anomaly implied by `anomalies`, themselves included (Elle's `all-implied-anomalies`).
pub fn implied_by<'a>(anomalies: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'a str> {
    bfs(anomalies, |a| implied_out(a))
}

/// `(not, also_not)`: the weakest models the anomalies rule out, and the stronger ones ruled out
/// with them, in friendly names, sorted (Elle's `friendly-boundary`).
pub fn boundary(anomalies: &[String]) -> (Vec<String>, Vec<String>) {
    let implied = implied_by(anomalies.iter().map(String::as_str));
    let direct: Vec<&'static str> = DIRECT
        .iter()
        .filter(|(_, an)| an.iter().any(|a| implied.contains(a)))
        .map(|(m, _)| canonical_static(m))
        .collect();
    let impossible = bfs(direct, model_in);
    // Weakest: drop every model that implies another impossible model.
    let mut weakest: BTreeSet<&str> = impossible.clone();
    for m in &impossible {
        let below = bfs([*m], model_out);
        let others: BTreeSet<&str> = weakest.iter().copied().filter(|x| x != m).collect();
        if below.iter().any(|b| b != m && others.contains(b)) {
            weakest.remove(m);
        }
    }
    let not: BTreeSet<&str> = weakest.iter().map(|m| friendly(m)).collect();
    let also: BTreeSet<&str> = impossible.iter().filter(|m| !weakest.contains(*m)).map(|m| friendly(m)).collect();
    (not.into_iter().map(String::from).collect(), also.into_iter().map(String::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn g_single_rules_out_consistent_view_and_snapshot_isolation_then_serializable() {
        // Elle's lattice: a G-single on items (all list-append and rw-register G-singles) is
        // also a G2-item, so it rules out repeatable read too.
        assert_eq!(boundary(&s(&["G-single"])).0, ["consistent-view"]);
        let (not, also) = boundary(&s(&["G-single-item"]));
        assert_eq!(not, ["consistent-view", "repeatable-read"]);
        for m in ["snapshot-isolation", "serializable", "strict-serializable", "strong-session-serializable"] {
            assert!(also.contains(&m.to_string()), "{m} missing from {also:?}");
        }
        assert!(!also.contains(&"read-committed".to_string()));
    }

    #[test]
    fn g2_item_rules_out_repeatable_read_not_snapshot_isolation() {
        let (not, also) = boundary(&s(&["G2-item"]));
        assert_eq!(not, ["repeatable-read"]);
        assert!(also.contains(&"serializable".to_string()));
        assert!(!also.contains(&"snapshot-isolation".to_string()));
    }

    #[test]
    fn g0_rules_out_read_uncommitted_and_everything_above() {
        let (not, also) = boundary(&s(&["G0"]));
        assert_eq!(not, ["read-uncommitted"]);
        assert!(also.contains(&"read-committed".to_string()));
        assert!(also.contains(&"strict-serializable".to_string()));
    }

    #[test]
    fn realtime_only_rules_out_strict_models() {
        let (not, also) = boundary(&s(&["G2-item-realtime"]));
        assert_eq!(not, ["strict-serializable"]);
        assert!(also.is_empty(), "{also:?}");
        let (not, _) = boundary(&s(&["G1c-realtime"]));
        assert!(not.contains(&"strong-read-committed".to_string()), "{not:?}");
    }

    #[test]
    fn prohibited_by_strict_serializable_covers_realtime_and_plain_cycles() {
        let p = prohibited(&s(&["strict-serializable"]));
        for a in [
            "G0",
            "G1a",
            "G1b",
            "G1c",
            "G-single",
            "G2-item",
            "G2-item-realtime",
            "G1c-realtime",
            "internal",
            "lost-update",
        ] {
            assert!(p.contains(a), "{a} not prohibited");
        }
        assert!(p.contains("G2-item-process"), "strict implies strong-session-serializable");
        assert!(!prohibited(&s(&["serializable"])).contains("G2-item-process"));
        let rc = prohibited(&s(&["read-committed"]));
        assert!(rc.contains("G1c") && !rc.contains("G-single") && !rc.contains("G2-item"));
        let si = prohibited(&s(&["snapshot-isolation"]));
        assert!(si.contains("G-single") && si.contains("G-nonadjacent") && !si.contains("G2-item"));
    }

    #[test]
    fn aliases_and_unknown_models() {
        assert_eq!(canonical("serializable"), "PL-3");
        assert_eq!(friendly("PL-3"), "serializable");
        assert!(validate(&s(&["PL-2", "strong-session-serializable", "repeatable-read"])).is_ok());
        assert!(validate(&s(&["serialisable"])).is_err());
    }
}
