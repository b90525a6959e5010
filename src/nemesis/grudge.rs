//! Grudges and topologies, pure: a `Grudge` maps each node to the nodes it drops traffic from
//! (Jepsen's `nemesis.clj`). No I/O; randomness only from the RNG passed in.

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::SliceRandom;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::targets::majority;

/// Node → the nodes whose packets it drops (inbound only, so one-way partitions are possible).
/// Nodes that drop nothing are absent.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// How a partition splits the nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Two halves in the test's node order, the first the smaller: floor(n/2) and ceil(n/2).
    Halves,
    /// Two halves of shuffled nodes.
    RandomHalves,
    /// One random node cut off from the rest.
    One,
    /// Every node sees a majority, no two the same one: an exact ring for up to 5 nodes,
    /// Jepsen's stochastic linking of the least-connected nodes beyond.
    MajoritiesRing,
    /// Two halves, plus one node that still talks to both.
    Bridge,
    /// A random nonempty subset of the primaries, each alone; the rest together.
    Primaries,
}

/// The grudge that cuts every component off from every other.
pub fn complete(components: &[Vec<String>]) -> Grudge {
    let mut g = Grudge::new();
    for (i, comp) in components.iter().enumerate() {
        let others: BTreeSet<String> =
            components.iter().enumerate().filter(|(j, _)| *j != i).flat_map(|(_, c)| c.iter().cloned()).collect();
        for node in comp {
            if !others.is_empty() {
                g.entry(node.clone()).or_default().extend(others.iter().cloned());
            }
        }
    }
    g
}

/// Splits `nodes` in two, the first part floor(n/2) long.
fn bisect(nodes: &[String]) -> Vec<Vec<String>> {
    let (a, b) = nodes.split_at(nodes.len() / 2);
    vec![a.to_vec(), b.to_vec()]
}

/// Two halves in the given order.
pub fn halves(nodes: &[String]) -> Grudge {
    complete(&bisect(nodes))
}

/// One node alone, the rest together.
pub fn isolate(nodes: &[String], node: &str) -> Grudge {
    let rest: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    complete(&[vec![node.to_string()], rest])
}

/// Two halves, with the first node of the second half a bridge that drops nothing and that
/// nobody drops.
pub fn bridge(nodes: &[String]) -> Grudge {
    let parts = bisect(nodes);
    let mut g = complete(&parts);
    if let Some(b) = parts[1].first() {
        g.remove(b);
        for set in g.values_mut() {
            set.remove(b);
        }
        g.retain(|_, s| !s.is_empty());
    }
    g
}

/// Each node in a ring (in the given order) sees the majority window centred on it.
pub fn majorities_ring_exact(nodes: &[String]) -> Grudge {
    let n = nodes.len();
    let m = majority(n);
    let mut g = Grudge::new();
    for i in 0..n {
        let window: Vec<&String> = (0..m).map(|k| &nodes[(i + k) % n]).collect();
        let me = window[m / 2];
        let drops: BTreeSet<String> = nodes.iter().filter(|x| !window.contains(x)).cloned().collect();
        if !drops.is_empty() {
            g.insert(me.clone(), drops);
        }
    }
    g
}

/// Jepsen's `majorities-ring-stochastic`: link the least-connected node to the least-connected
/// node it is not linked to, until every node links to a majority (itself included).
pub fn majorities_ring_stochastic(nodes: &[String], rng: &mut ChaCha8Rng) -> Grudge {
    let m = majority(nodes.len());
    let mut links: BTreeMap<String, BTreeSet<String>> =
        nodes.iter().map(|n| (n.clone(), BTreeSet::from([n.clone()]))).collect();
    loop {
        let mut order = nodes.to_vec();
        order.shuffle(rng);
        order.sort_by_key(|n| links[n].len()); // stable: ties stay in shuffled order
        let a = order[0].clone();
        if links[&a].len() >= m {
            break;
        }
        let Some(b) = order.iter().find(|b| !links[&a].contains(*b)).cloned() else { break };
        links.entry(a.clone()).or_default().insert(b.clone());
        links.entry(b).or_default().insert(a);
    }
    links
        .into_iter()
        .map(|(n, linked)| (n, nodes.iter().filter(|x| !linked.contains(*x)).cloned().collect::<BTreeSet<_>>()))
        .filter(|(_, drops)| !drops.is_empty())
        .collect()
}

/// The grudge a topology gives for these nodes (in test order) and primaries.
pub fn topology(t: Topology, nodes: &[String], primaries: &[String], rng: &mut ChaCha8Rng) -> Grudge {
    let mut shuffled = nodes.to_vec();
    shuffled.shuffle(rng);
    match t {
        Topology::Halves => halves(nodes),
        Topology::RandomHalves => halves(&shuffled),
        Topology::One => shuffled.first().map(|n| isolate(nodes, n)).unwrap_or_default(),
        Topology::MajoritiesRing if nodes.len() <= 5 => majorities_ring_exact(&shuffled),
        Topology::MajoritiesRing => majorities_ring_stochastic(nodes, rng),
        Topology::Bridge => bridge(&shuffled),
        Topology::Primaries => {
            let mut ps: Vec<String> = primaries.iter().filter(|p| nodes.contains(p)).cloned().collect();
            if ps.is_empty() {
                return Grudge::new();
            }
            ps.shuffle(rng);
            ps.truncate(rng.random_range(1..=ps.len()));
            let rest: Vec<String> = nodes.iter().filter(|n| !ps.contains(n)).cloned().collect();
            let mut comps: Vec<Vec<String>> = ps.into_iter().map(|p| vec![p]).collect();
            comps.push(rest);
            complete(&comps)
        }
    }
}

/// Checks an explicit grudge: known nodes only, nobody drops itself. Returns the offending
/// entry's key and why.
pub fn check(g: &BTreeMap<String, Vec<String>>, nodes: &[String]) -> Result<(), (String, String)> {
    for (node, drops) in g {
        if !nodes.contains(node) {
            return Err((node.clone(), format!("unknown node {node:?}; the test's nodes are {}", nodes.join(", "))));
        }
        for d in drops {
            if !nodes.contains(d) {
                return Err((node.clone(), format!("unknown node {d:?}; the test's nodes are {}", nodes.join(", "))));
            }
            if d == node {
                return Err((node.clone(), format!("{node} cannot drop its own traffic")));
            }
        }
    }
    Ok(())
}

/// The nodes a node still hears from (itself included), for reports and tests.
pub fn component(g: &Grudge, nodes: &[String], node: &str) -> BTreeSet<String> {
    let drops = g.get(node).cloned().unwrap_or_default();
    nodes.iter().filter(|n| !drops.contains(*n)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn set(xs: &[&str]) -> BTreeSet<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn halves_put_the_smaller_half_first() {
        let g = halves(&names(5));
        assert_eq!(g["n1"], set(&["n3", "n4", "n5"]));
        assert_eq!(g["n3"], set(&["n1", "n2"]));
        assert_eq!(g.len(), 5);
    }

    #[test]
    fn bridge_node_talks_to_both_sides() {
        let g = bridge(&names(5));
        assert!(!g.contains_key("n3"));
        assert_eq!(g["n1"], set(&["n4", "n5"]));
        assert_eq!(g["n4"], set(&["n1", "n2"]));
    }

    #[test]
    fn an_exact_ring_of_five_gives_each_node_its_neighbours() {
        let g = majorities_ring_exact(&names(5));
        assert_eq!(component(&g, &names(5), "n2"), set(&["n1", "n2", "n3"]));
        assert_eq!(component(&g, &names(5), "n1"), set(&["n5", "n1", "n2"]));
    }

    #[test]
    fn primaries_are_each_alone() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let g = topology(Topology::Primaries, &names(5), &["n2".into()], &mut rng);
        assert_eq!(g["n2"], set(&["n1", "n3", "n4", "n5"]));
        assert_eq!(g["n1"], set(&["n2"]));
        assert!(topology(Topology::Primaries, &names(5), &[], &mut rng).is_empty());
    }

    #[test]
    fn explicit_grudges_are_checked() {
        let g = |k: &str, v: &[&str]| BTreeMap::from([(k.to_string(), v.iter().map(|s| s.to_string()).collect())]);
        assert!(check(&g("n1", &["n2"]), &names(3)).is_ok());
        assert!(check(&g("n1", &["n9"]), &names(3)).unwrap_err().1.contains("unknown node \"n9\""));
        assert!(check(&g("n1", &["n1"]), &names(3)).unwrap_err().1.contains("its own"));
    }

    const ALL: [Topology; 6] = [
        Topology::Halves,
        Topology::RandomHalves,
        Topology::One,
        Topology::MajoritiesRing,
        Topology::Bridge,
        Topology::Primaries,
    ];

    proptest! {
        #[test]
        fn no_node_drops_itself_and_only_nodes_appear(n in 1usize..12, seed: u64, t in 0usize..6) {
            let nodes = names(n);
            let g = topology(ALL[t], &nodes, &nodes[..1], &mut ChaCha8Rng::seed_from_u64(seed));
            for (k, v) in &g {
                prop_assert!(nodes.contains(k));
                prop_assert!(!v.contains(k));
                prop_assert!(!v.is_empty());
                prop_assert!(v.iter().all(|x| nodes.contains(x)), "only test nodes: never the control node");
            }
        }

        #[test]
        fn majorities_ring_gives_each_node_a_distinct_majority(n in 3usize..14, seed: u64) {
            let nodes = names(n);
            let g = topology(Topology::MajoritiesRing, &nodes, &[], &mut ChaCha8Rng::seed_from_u64(seed));
            let comps: Vec<BTreeSet<String>> = nodes.iter().map(|x| component(&g, &nodes, x)).collect();
            for c in &comps {
                prop_assert!(c.len() >= majority(n), "{c:?}");
            }
            if n <= 5 {
                let distinct: BTreeSet<_> = comps.iter().collect();
                prop_assert_eq!(distinct.len(), n);
            }
            prop_assert!(comps.iter().any(|c| c.len() < n), "someone must be cut off from someone");
        }

        #[test]
        fn halves_split_floor_and_ceil(n in 2usize..14, seed: u64) {
            let nodes = names(n);
            let g = topology(Topology::RandomHalves, &nodes, &[], &mut ChaCha8Rng::seed_from_u64(seed));
            let sizes: BTreeSet<usize> = nodes.iter().map(|x| component(&g, &nodes, x).len()).collect();
            prop_assert_eq!(sizes, BTreeSet::from([n / 2, n - n / 2]));
        }
    }
}
