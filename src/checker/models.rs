//! The names of Elle's consistency models and their aliases, in one table, for
//! `--consistency-models` and for the transactional checker (which owns the lattice itself).
//! `canonical` turns any accepted spelling into Elle's canonical name.

/// Every canonical model name Elle knows (`elle.consistency-model`), weakest first, roughly.
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
    "strong-session-snapshot-isolation",
    "strong-session-serializable",
    "strong-snapshot-isolation",
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
    ("causal", "causal-cerone"),
    ("PSI", "parallel-snapshot-isolation"),
    ("PL-2+", "consistent-view"),
    ("PL-FCV", "forward-consistent-view"),
    ("PL-MSR", "monotonic-snapshot-read"),
    ("PL-2L", "monotonic-view"),
    ("PL-2.99", "repeatable-read"),
    ("RR", "repeatable-read"),
    ("SI", "snapshot-isolation"),
    ("PL-SI", "snapshot-isolation"),
    ("PL-3", "serializable"),
    ("conflict-serializable", "serializable"),
    ("1SR", "serializable"),
    ("strong-session-SI", "strong-session-snapshot-isolation"),
    ("strong-SI", "strong-snapshot-isolation"),
    ("strict-serializable", "strict-serializable"),
    ("strong-serializable", "strict-serializable"),
    ("PL-SS", "strict-serializable"),
    ("strict-1SR", "strict-serializable"),
];

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
}
