//! `Targets`: which nodes a fault hits (Jepsen's node specs in `combined/db-nodes`), and
//! `resolve`, which picks them with the nemesis's seeded RNG.

use rand::seq::SliceRandom;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A node spec, as written in a test file: `targets: minority` or `targets: { nodes: [n1, n2] }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum Targets {
    /// One random node.
    One,
    /// A strict minority: floor((n-1)/2) random nodes, at least one. (Jepsen takes floor(n/2),
    /// which for an even n is half the cluster, not a minority.)
    Minority,
    /// floor(n/2)+1 random nodes.
    Majority,
    /// Fewer than a third: floor((n-1)/3) random nodes, at least one (for BFT systems).
    MinorityThird,
    /// Every node.
    All,
    /// The current primaries (leaders), as the db reports them; none when it cannot tell.
    Primaries,
    /// A random nonempty subset (Jepsen's default for a missing spec).
    #[default]
    Random,
    /// Exactly these nodes.
    Nodes(Vec<String>),
}

/// floor(n/2)+1: the smallest majority of `n` nodes.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// The nodes `targets` names among `nodes`, in `nodes`' order. `primaries` is what the db says
/// leads now. Unknown names in an explicit list are dropped (validation rejects them earlier).
pub fn resolve(targets: &Targets, nodes: &[String], primaries: &[String], rng: &mut ChaCha8Rng) -> Vec<String> {
    let n = nodes.len();
    if n == 0 {
        return Vec::new();
    }
    let mut shuffled = nodes.to_vec();
    shuffled.shuffle(rng);
    let picked: Vec<String> = match targets {
        Targets::One => shuffled.into_iter().take(1).collect(),
        Targets::Minority => shuffled.into_iter().take(((n - 1) / 2).max(1)).collect(),
        Targets::Majority => shuffled.into_iter().take(majority(n)).collect(),
        Targets::MinorityThird => shuffled.into_iter().take(((n - 1) / 3).max(1)).collect(),
        Targets::All => nodes.to_vec(),
        Targets::Primaries => primaries.to_vec(),
        Targets::Random => {
            let k = rng.random_range(1..=n);
            shuffled.into_iter().take(k).collect()
        }
        Targets::Nodes(list) => list.clone(),
    };
    nodes.iter().filter(|x| picked.contains(x)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn count(t: &Targets, n: usize) -> usize {
        resolve(t, &names(n), &[], &mut ChaCha8Rng::seed_from_u64(7)).len()
    }

    #[test]
    fn sizes_follow_the_spec() {
        for (n, minority, majority_, third) in
            [(1, 1, 1, 1), (2, 1, 2, 1), (3, 1, 2, 1), (4, 1, 3, 1), (5, 2, 3, 1), (7, 3, 4, 2)]
        {
            assert_eq!(count(&Targets::One, n), 1);
            assert_eq!(count(&Targets::Minority, n), minority, "minority of {n}");
            assert_eq!(count(&Targets::Majority, n), majority_, "majority of {n}");
            assert_eq!(count(&Targets::MinorityThird, n), third, "third of {n}");
            assert_eq!(count(&Targets::All, n), n);
        }
    }

    #[test]
    fn random_subsets_are_nonempty_and_vary() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let picks: Vec<Vec<String>> = (0..50).map(|_| resolve(&Targets::Random, &names(5), &[], &mut rng)).collect();
        assert!(picks.iter().all(|p| !p.is_empty() && p.len() <= 5));
        assert!(picks.iter().any(|p| p != &picks[0]));
    }

    #[test]
    fn explicit_and_primaries_keep_cluster_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let t = Targets::Nodes(vec!["n3".into(), "n1".into(), "n9".into()]);
        assert_eq!(resolve(&t, &names(3), &[], &mut rng), ["n1", "n3"]);
        assert_eq!(resolve(&Targets::Primaries, &names(3), &["n2".into()], &mut rng), ["n2"]);
        assert!(resolve(&Targets::Primaries, &names(3), &[], &mut rng).is_empty());
    }

    #[test]
    fn the_same_seed_picks_the_same_nodes() {
        let pick = |s| resolve(&Targets::Minority, &names(9), &[], &mut ChaCha8Rng::seed_from_u64(s));
        assert_eq!(pick(3), pick(3));
    }
}
