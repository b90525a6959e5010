//! The names of Elle's consistency models and their aliases, in one table, for
//! `--consistency-models` and for the transactional checker (which owns the lattice itself).
//! `canonical` turns any accepted spelling into Elle's canonical name.

/// Every model name Elle knows (`elle.consistency-model`), in its friendly spelling (Elle's
/// `friendly-model-name`), weakest first, roughly. These are the names `canonical` returns.
pub const MODELS: &[&str] = &[
    "read-uncommitted",
    "read-committed",
    "cursor-stability",
    "monotonic-atomic-view",
    "read-atomic",
    "causal-cerone",
    "prefix",
    "parallel-snapshot-isolation",
    "update-atomic",
    "consistent-view",
    "forward-consistent-view",
    "monotonic-snapshot-read",
    "monotonic-view",
    "update-serializable",
    "repeatable-read",
    "snapshot-isolation",
    "view-serializable",
    "serializable",
    "strong-session-read-uncommitted",
    "strong-session-read-committed",
    "strong-read-uncommitted",
    "strong-read-committed",
    "strong-session-snapshot-isolation",
    "strong-session-serializable",
    "strong-snapshot-isolation",
    "1SR",
    "session-serializable",
    "monotonic-reads",
    "monotonic-writes",
    "read-your-writes",
    "writes-follow-reads",
    "PRAM",
    "causal",
    "sequential",
    "linearizable",
    "strict-serializable",
];

/// Other spellings: `(alias, canonical name)`. Adya's PL names, Elle's abbreviations and the
/// names users type.
pub const ALIASES: &[(&str, &str)] = &[
    ("PL-1", "read-uncommitted"),
    ("RU", "read-uncommitted"),
    ("PL-2", "read-committed"),
    ("RC", "read-committed"),
    ("PL-CS", "cursor-stability"),
    ("MAV", "monotonic-atomic-view"),
    ("RA", "read-atomic"),
    ("PSI", "parallel-snapshot-isolation"),
    ("PL-2+", "consistent-view"),
    ("PL-FCV", "forward-consistent-view"),
    ("PL-MSR", "monotonic-snapshot-read"),
    ("PL-2L", "monotonic-view"),
    ("PL-3U", "update-serializable"),
    ("PL-2.99", "repeatable-read"),
    ("RR", "repeatable-read"),
    ("SI", "snapshot-isolation"),
    ("PL-SI", "snapshot-isolation"),
    ("PL-3", "serializable"),
    ("conflict-serializable", "serializable"),
    ("strong-session-PL-1", "strong-session-read-uncommitted"),
    ("strong-session-PL-2", "strong-session-read-committed"),
    ("strong-PL-1", "strong-read-uncommitted"),
    ("strong-PL-2", "strong-read-committed"),
    ("strong-session-SI", "strong-session-snapshot-isolation"),
    ("strong-SI", "strong-snapshot-isolation"),
    ("strong-serializable", "strict-serializable"),
    ("PL-SS", "strict-serializable"),
];

/// The transactional anomaly classes `--anomalies` accepts: Elle's names (cycle anomalies with
/// their `-process` and `-realtime` variants) plus brawl's `garbage-read`.
pub const ANOMALIES: &[&str] = &[
    "G0",
    "G0-process",
    "G0-realtime",
    "G1",
    "G1-process",
    "G1-realtime",
    "G1a",
    "G1b",
    "G1c",
    "G1c-process",
    "G1c-realtime",
    "G-single",
    "G-single-process",
    "G-single-realtime",
    "G-single-item",
    "G-single-item-process",
    "G-single-item-realtime",
    "G-nonadjacent",
    "G-nonadjacent-process",
    "G-nonadjacent-realtime",
    "G-nonadjacent-item",
    "G-nonadjacent-item-process",
    "G-nonadjacent-item-realtime",
    "G2",
    "G2-process",
    "G2-realtime",
    "G2-item",
    "G2-item-process",
    "G2-item-realtime",
    "GSI",
    "GSIa",
    "GSIb",
    "G-SI",
    "G-SIb",
    "G-cursor",
    "G-MSR",
    "G-monotonic",
    "G-update",
    "internal",
    "future-read",
    "dirty-update",
    "duplicate-elements",
    "incompatible-order",
    "lost-update",
    "write-skew",
    "cyclic-versions",
    "garbage-read",
    "predicate-read-miss",
];

/// Whether `--anomalies` knows `name` (exact spelling, a leading `:` allowed).
pub fn is_anomaly(name: &str) -> bool {
    ANOMALIES.contains(&name.trim().trim_start_matches(':'))
}

/// The model `brawl check` expects when `--consistency-models` is not given (Elle's default).
pub const DEFAULT: &str = "strict-serializable";

/// The canonical name of `name` (a canonical name or an alias; case-insensitive, a leading `:`
/// allowed), or `None` for a name Elle does not know.
pub fn canonical(name: &str) -> Option<&'static str> {
    let name = name.trim().trim_start_matches(':');
    MODELS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(name))
        .or_else(|| ALIASES.iter().find(|(a, _)| a.eq_ignore_ascii_case(name)).map(|&(_, m)| m))
}

/// Every accepted spelling, for error messages: the canonical names, then the aliases.
pub fn accepted() -> String {
    let mut names: Vec<&str> = MODELS.to_vec();
    names.extend(ALIASES.iter().map(|(a, _)| *a).filter(|a| !MODELS.contains(a)));
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_and_aliases() {
        assert_eq!(canonical("PL-2"), Some("read-committed"));
        assert_eq!(canonical("si"), Some("snapshot-isolation"));
        assert_eq!(canonical(":serializable"), Some("serializable"));
        assert_eq!(canonical("strong-serializable"), Some("strict-serializable"));
        assert_eq!(canonical("PL-2.99"), Some("repeatable-read"));
        assert_eq!(canonical("strong-session-serializable"), Some("strong-session-serializable"));
        assert_eq!(canonical("PL-3U"), Some("update-serializable"));
        assert_eq!(canonical("strong-PL-2"), Some("strong-read-committed"));
        assert_eq!(canonical("causal"), Some("causal"), "Elle's causal is not causal-cerone");
        assert_eq!(canonical("serialisable"), None);
        assert_eq!(canonical(""), None);
    }

    #[test]
    fn every_alias_names_a_model_and_no_name_is_ambiguous() {
        for (alias, model) in ALIASES {
            assert!(MODELS.contains(model), "{alias} -> {model}");
        }
        let mut all: Vec<String> = MODELS.iter().map(|m| m.to_lowercase()).collect();
        all.extend(ALIASES.iter().filter(|(a, m)| a != m).map(|(a, _)| a.to_lowercase()));
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        assert!(accepted().contains("PL-SS") && canonical(DEFAULT) == Some(DEFAULT));
    }

    /// Every anomaly the lattice says one of ours implies is one of ours too.
    #[test]
    fn the_anomaly_list_is_closed_under_the_lattice_s_implications() {
        use crate::checker::txn::lattice;
        for a in ANOMALIES {
            for b in lattice::implied_by([*a]) {
                assert!(is_anomaly(b), "{a} implies {b}, which is not in ANOMALIES");
            }
        }
        assert!(is_anomaly(":G-single") && !is_anomaly("G3"));
    }

    /// The transactional checker's lattice (helper T's `txn::lattice`) and this table must know
    /// the same models: every name `canonical` gives is one the lattice accepts, and every model
    /// of the lattice has a spelling here.
    #[test]
    fn the_table_and_the_txn_lattice_know_the_same_models() {
        use crate::checker::txn::lattice;
        for m in MODELS {
            assert!(lattice::validate(&[m.to_string()]).is_ok(), "the lattice does not know {m}");
        }
        for m in lattice::all_models() {
            assert!(canonical(m).is_some(), "no spelling of the lattice's {m} here");
        }
    }
}
