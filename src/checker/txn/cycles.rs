//! The cycle search: exhaustive and polynomial for every class, with no clock.
//!
//! Everything happens inside the nontrivial SCCs of the widest graph asked for. Per variant
//! (plain, `-process`, `-realtime`: the extra edges allowed), per class:
//! - G0: an SCC of ww (+extra) edges.
//! - G1c: a wr edge inside an SCC of ww+wr (+extra).
//! - G-single: an rw edge `a -> b` with a path `b ~> a` without rw edges: `b` and `a` in one
//!   ww+wr SCC, or `b`'s SCC reaching `a`'s in the condensation (bitset reachability, 64 queries
//!   per pass, over the topological range between them).
//! - G-nonadjacent: in a component with no G-single, a closed walk in which no two rw edges are
//!   adjacent: an SCC of the product graph (txn, "arrived by rw") holding an rw edge. Such a walk
//!   already contradicts snapshot isolation (start timestamps strictly increase along it).
//! - G2-item: an rw edge inside an SCC that shows neither of the above.
//!
//! A variant's anomaly is reported for a component only if none of its txns showed the same
//! class in a weaker variant. The one budget is on the reachability work (a count of edge
//! visits, never time); if it runs out the search says which component it could not finish.

use super::graph::{bfs_path, scc, Graph, RW, WR, WW};

/// A cycle found: its class and its steps `(from, to, kind)`, in txn ids.
#[derive(Debug, Clone)]
pub(crate) struct Cycle {
    pub class: String,
    pub steps: Vec<(u32, u32, u8)>,
}

/// The search's result.
#[derive(Debug, Default)]
pub(crate) struct Cycles {
    pub cycles: Vec<Cycle>,
    /// Components the search could not finish (budget), in words.
    pub unknown: Vec<String>,
}

/// One variant: the suffix of its anomaly names and the extra edge kinds it allows.
pub(crate) struct Variant {
    pub suffix: &'static str,
    pub extra: u8,
}

/// How many candidate edges are tried per component for a shortest explanation.
const TRIES: usize = 8;

/// Searches `edges` over `n` txns for every class `wanted` accepts, within `budget` edge visits
/// of reachability work.
pub(crate) fn search(
    n: usize,
    edges: &mut [(u32, u32, u8)],
    variants: &[Variant],
    wanted: &dyn Fn(&str) -> bool,
    mut budget: u64,
) -> Cycles {
    let mut out = Cycles::default();
    let full = variants.iter().fold(WW | WR | RW, |m, v| m | v.extra);
    let g = Graph::new(n, edges);
    let (comp, ncomp) = scc(&g, full);
    let mut size = vec![0u32; ncomp as usize];
    for c in &comp {
        size[*c as usize] += 1;
    }
    // The subgraph of nontrivial components.
    let mut new_id = vec![u32::MAX; n];
    let mut back = Vec::new();
    for v in 0..n {
        if size[comp[v] as usize] > 1 {
            new_id[v] = back.len() as u32;
            back.push(v as u32);
        }
    }
    if back.is_empty() {
        return out;
    }
    let mut sub_edges = Vec::new();
    for &v in &back {
        for (w, k) in g.out(v) {
            if comp[w as usize] == comp[v as usize] && k & full != 0 {
                sub_edges.push((new_id[v as usize], new_id[w as usize], k));
            }
        }
    }
    drop(g);
    let sub = Graph::new(back.len(), &mut sub_edges);
    let m = back.len();
    let mut marks: Vec<(String, Vec<bool>)> = Vec::new();
    for v in variants {
        let name = |c: &str| format!("{c}{}", v.suffix);
        let mut found =
            |class: &str, comp_nodes: &[u32], steps: Vec<(u32, u32, u8)>, marks: &mut Vec<(String, Vec<bool>)>| {
                let at = match marks.iter().position(|(c, _)| c == class) {
                    Some(at) => at,
                    None => {
                        marks.push((class.to_string(), vec![false; m]));
                        marks.len() - 1
                    }
                };
                if comp_nodes.iter().any(|x| marks[at].1[*x as usize]) {
                    return;
                }
                for x in comp_nodes {
                    marks[at].1[*x as usize] = true;
                }
                let steps = steps.into_iter().map(|(a, b, k)| (back[a as usize], back[b as usize], k)).collect();
                out.cycles.push(Cycle { class: format!("{class}{}", v.suffix), steps });
            };
        let mask_ww = WW | v.extra;
        let mask_d = WW | WR | v.extra;
        let mask_all = WW | WR | RW | v.extra;
        if wanted(&name("G0")) {
            let (c, nc) = scc(&sub, mask_ww);
            for nodes in groups(&c, nc) {
                if nodes.len() < 2 {
                    continue;
                }
                let cands = internal_edges(&sub, &nodes, &c, mask_ww, WW | v.extra);
                if let Some(steps) = shortest(&sub, &cands, mask_ww, &c) {
                    found("G0", &nodes, steps, &mut marks);
                }
            }
        }
        let (cd, ncd) = scc(&sub, mask_d);
        if wanted(&name("G1c")) {
            for nodes in groups(&cd, ncd) {
                if nodes.len() < 2 {
                    continue;
                }
                let cands = internal_edges(&sub, &nodes, &cd, mask_d, WR);
                if let Some(steps) = shortest(&sub, &cands, mask_d, &cd) {
                    found("G1c", &nodes, steps, &mut marks);
                }
            }
        }
        let want_single = wanted(&name("G-single")) || wanted(&name("G-single-item"));
        let want_nonadj = wanted(&name("G-nonadjacent")) || wanted(&name("G-nonadjacent-item"));
        let want_g2 = wanted(&name("G2-item"));
        if !(want_single || want_nonadj || want_g2) {
            continue;
        }
        let (ca, nca) = scc(&sub, mask_all);
        let comps = groups(&ca, nca);
        // G-single: reachability queries b ~> a in the ww+wr(+extra) condensation.
        let mut rw_edges: Vec<(u32, u32)> = Vec::new();
        for a in 0..m as u32 {
            for (b, k) in sub.out(a) {
                if k == RW && ca[a as usize] == ca[b as usize] {
                    rw_edges.push((a, b));
                }
            }
        }
        let queries: Vec<(u32, u32)> = rw_edges.iter().map(|(a, b)| (cd[*b as usize], cd[*a as usize])).collect();
        let reach = match reachable(&sub, mask_d, &cd, ncd, &queries, &mut budget) {
            Ok(r) => r,
            Err(()) => {
                let big = comps.iter().max_by_key(|c| c.len()).map_or(0, |c| c.len());
                out.unknown.push(format!(
                    "the search for G-single{} ran out of its budget in a component of {big} transactions",
                    v.suffix
                ));
                // Without G-single's answer the other rw classes cannot be told apart.
                continue;
            }
        };
        let mut single_in = vec![Vec::new(); nca as usize];
        let mut rw_in = vec![Vec::new(); nca as usize];
        for (i, (a, b)) in rw_edges.iter().enumerate() {
            rw_in[ca[*a as usize] as usize].push((*a, *b));
            if reach[i] {
                single_in[ca[*a as usize] as usize].push((*a, *b));
            }
        }
        let mut rest: Vec<u32> = Vec::new();
        for (ci, nodes) in comps.iter().enumerate() {
            if rw_in[ci].is_empty() {
                continue;
            }
            if !single_in[ci].is_empty() {
                if want_single {
                    let cands: Vec<(u32, u32, u8)> = single_in[ci].iter().map(|(a, b)| (*a, *b, RW)).collect();
                    if let Some(steps) = shortest(&sub, &cands, mask_d, &ca) {
                        found("G-single", nodes, steps, &mut marks);
                    }
                }
                continue;
            }
            rest.push(ci as u32);
        }
        // G-nonadjacent over the product graph of the remaining components.
        let mut hit_nonadj = vec![false; nca as usize];
        if want_nonadj && !rest.is_empty() {
            let mut in_rest = vec![false; nca as usize];
            for c in &rest {
                in_rest[*c as usize] = true;
            }
            let mut h_edges = Vec::new();
            for a in 0..m as u32 {
                if !in_rest[ca[a as usize] as usize] {
                    continue;
                }
                for (b, k) in sub.out(a) {
                    if k & mask_all == 0 || ca[b as usize] != ca[a as usize] {
                        continue;
                    }
                    if k == RW {
                        h_edges.push((2 * a, 2 * b + 1, RW));
                    } else {
                        h_edges.push((2 * a, 2 * b, k));
                        h_edges.push((2 * a + 1, 2 * b, k));
                    }
                }
            }
            let h = Graph::new(2 * m, &mut h_edges);
            let (hc, _) = scc(&h, mask_all);
            for &ci in &rest {
                let cands: Vec<(u32, u32, u8)> = rw_in[ci as usize]
                    .iter()
                    .filter(|(a, b)| hc[2 * *a as usize] == hc[2 * *b as usize + 1])
                    .map(|(a, b)| (2 * a, 2 * b + 1, RW))
                    .collect();
                if let Some(steps) = shortest(&h, &cands, mask_all, &hc) {
                    hit_nonadj[ci as usize] = true;
                    let steps = steps.into_iter().map(|(a, b, k)| (a / 2, b / 2, k)).collect();
                    found("G-nonadjacent", &comps[ci as usize], steps, &mut marks);
                }
            }
        }
        if want_g2 {
            for &ci in &rest {
                if hit_nonadj[ci as usize] {
                    continue;
                }
                let cands: Vec<(u32, u32, u8)> = rw_in[ci as usize].iter().map(|(a, b)| (*a, *b, RW)).collect();
                if let Some(steps) = shortest(&sub, &cands, mask_all, &ca) {
                    found("G2-item", &comps[ci as usize], steps, &mut marks);
                }
            }
        }
    }
    out
}

/// Nodes by component.
fn groups(comp: &[u32], n: u32) -> Vec<Vec<u32>> {
    let mut g = vec![Vec::new(); n as usize];
    for (v, c) in comp.iter().enumerate() {
        g[*c as usize].push(v as u32);
    }
    g
}

/// Edges inside the component `nodes` (all in `comp`) whose kind is in `kinds` and `mask`.
fn internal_edges(g: &Graph, nodes: &[u32], comp: &[u32], mask: u8, kinds: u8) -> Vec<(u32, u32, u8)> {
    let mut out = Vec::new();
    for &a in nodes {
        for (b, k) in g.out(a) {
            if k & mask != 0 && k & kinds != 0 && comp[b as usize] == comp[a as usize] {
                out.push((a, b, k));
                if out.len() >= TRIES {
                    return out;
                }
            }
        }
    }
    out
}

/// The shortest cycle made of one of the first `TRIES` candidate edges `a -> b` and a shortest
/// path `b ~> a` inside their component, over `mask`.
fn shortest(g: &Graph, cands: &[(u32, u32, u8)], mask: u8, comp: &[u32]) -> Option<Vec<(u32, u32, u8)>> {
    let mut best: Option<Vec<(u32, u32, u8)>> = None;
    for &(a, b, k) in cands.iter().take(TRIES) {
        if let Some(path) = bfs_path(g, mask, b, a, comp, comp[a as usize]) {
            if best.as_ref().is_none_or(|x| path.len() + 1 < x.len()) {
                let mut steps = vec![(a, b, k)];
                steps.extend(path);
                best = Some(steps);
            }
        }
    }
    best
}

/// For each query `(x, y)` over components of `comp` (ids in Tarjan order, edges from higher to
/// lower), whether `x` reaches `y` over `mask`. Bitsets answer 64 targets per pass over the id
/// range between them; `budget` counts edge visits.
fn reachable(
    g: &Graph,
    mask: u8,
    comp: &[u32],
    ncomp: u32,
    queries: &[(u32, u32)],
    budget: &mut u64,
) -> Result<Vec<bool>, ()> {
    let mut answer = vec![false; queries.len()];
    let mut open: Vec<usize> = Vec::new();
    for (i, (x, y)) in queries.iter().enumerate() {
        if x == y {
            answer[i] = true;
        } else if x > y {
            open.push(i);
        }
    }
    if open.is_empty() {
        return Ok(answer);
    }
    // The condensation, as a CSR over components.
    let mut cedges = Vec::new();
    for a in 0..g.len() as u32 {
        for (b, k) in g.out(a) {
            if k & mask != 0 && comp[a as usize] != comp[b as usize] {
                cedges.push((comp[a as usize], comp[b as usize], WW));
            }
        }
    }
    let cg = Graph::new(ncomp as usize, &mut cedges);
    open.sort_by_key(|i| queries[*i].1);
    let mut bits: Vec<u64> = Vec::new();
    let mut start = 0;
    while start < open.len() {
        // Up to 64 distinct targets.
        let mut targets: Vec<u32> = Vec::new();
        let mut end = start;
        while end < open.len() {
            let y = queries[open[end]].1;
            if targets.last() != Some(&y) {
                if targets.len() == 64 {
                    break;
                }
                targets.push(y);
            }
            end += 1;
        }
        let lo = targets[0];
        let hi = open[start..end].iter().map(|i| queries[*i].0).max().unwrap_or(lo);
        bits.clear();
        bits.resize((hi - lo + 1) as usize, 0);
        for (ti, t) in targets.iter().enumerate() {
            bits[(t - lo) as usize] |= 1 << ti;
        }
        for c in lo..=hi {
            let mut acc = bits[(c - lo) as usize];
            for (d, _) in cg.out(c) {
                if d >= lo {
                    acc |= bits[(d - lo) as usize];
                }
            }
            let visits = (cg.offs[c as usize + 1] - cg.offs[c as usize]) as u64 + 1;
            *budget = budget.checked_sub(visits).ok_or(())?;
            bits[(c - lo) as usize] = acc;
        }
        for &i in &open[start..end] {
            let (x, y) = queries[i];
            let ti = targets.binary_search(&y).expect("every target of the batch is listed");
            answer[i] = bits[(x - lo) as usize] & (1 << ti) != 0;
        }
        start = end;
    }
    Ok(answer)
}
