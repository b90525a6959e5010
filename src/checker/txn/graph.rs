//! `Graph`: the transaction dependency graph in CSR form (one `u32` target and one kind byte per
//! edge), with iterative Tarjan SCCs and BFS shortest paths over any subset of edge kinds.

/// Edge kinds, as bits so that a mask selects a subgraph.
pub(crate) const WW: u8 = 1;
pub(crate) const WR: u8 = 2;
pub(crate) const RW: u8 = 4;
pub(crate) const PROCESS: u8 = 8;
pub(crate) const REALTIME: u8 = 16;

/// The name of one edge kind.
pub(crate) fn kind_name(k: u8) -> &'static str {
    match k {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        _ => "realtime",
    }
}

/// A directed multigraph over nodes `0..n`, edges sorted by source.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    pub offs: Vec<u32>,
    pub to: Vec<u32>,
    pub kind: Vec<u8>,
}

impl Graph {
    /// Builds the graph from `(from, to, kind)` edges, dropping self-loops and duplicates.
    pub fn new(n: usize, edges: &mut [(u32, u32, u8)]) -> Graph {
        let mut counts = vec![0u32; n + 1];
        for (a, b, _) in edges.iter() {
            if a != b {
                counts[*a as usize + 1] += 1;
            }
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let total = counts[n] as usize;
        let mut to = vec![0u32; total];
        let mut kind = vec![0u8; total];
        let mut fill = counts.clone();
        for (a, b, k) in edges.iter() {
            if a != b {
                let at = fill[*a as usize] as usize;
                to[at] = *b;
                kind[at] = *k;
                fill[*a as usize] += 1;
            }
        }
        // Sort and dedup each adjacency list, so the graph (and every search) is deterministic.
        let mut offs = vec![0u32; n + 1];
        let mut w = 0usize;
        // `(target, kind)` packed in one word, so a sort compares one integer.
        let mut buf: Vec<u64> = Vec::new();
        for v in 0..n {
            let (s, e) = (counts[v] as usize, counts[v + 1] as usize);
            if e - s == 1 {
                to[w] = to[s];
                kind[w] = kind[s];
                w += 1;
            } else {
                buf.clear();
                buf.extend((s..e).map(|i| (u64::from(to[i]) << 8) | u64::from(kind[i])));
                buf.sort_unstable();
                buf.dedup();
                for x in &buf {
                    to[w] = (x >> 8) as u32;
                    kind[w] = *x as u8;
                    w += 1;
                }
            }
            offs[v + 1] = w as u32;
        }
        to.truncate(w);
        kind.truncate(w);
        Graph { offs, to, kind }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.offs.len() - 1
    }

    /// The edges out of `v`: `(target, kind)`.
    pub fn out(&self, v: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        let (s, e) = (self.offs[v as usize] as usize, self.offs[v as usize + 1] as usize);
        self.to[s..e].iter().copied().zip(self.kind[s..e].iter().copied())
    }
}

/// Strongly connected components of the subgraph of edges whose kind is in `mask`: a component
/// id per node. Tarjan numbers components sinks first, so every edge between two components
/// goes from a higher id to a lower one.
pub(crate) fn scc(g: &Graph, mask: u8) -> (Vec<u32>, u32) {
    const UNSEEN: u32 = u32::MAX;
    let n = g.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut comp = vec![UNSEEN; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut on_stack = vec![false; n];
    // Call stack: (node, next edge position).
    let mut calls: Vec<(u32, u32)> = Vec::new();
    let (mut next_index, mut next_comp) = (0u32, 0u32);
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        calls.push((root, g.offs[root as usize]));
        index[root as usize] = next_index;
        low[root as usize] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut pos)) = calls.last_mut() {
            let end = g.offs[v as usize + 1];
            let mut descended = false;
            while *pos < end {
                let e = *pos as usize;
                *pos += 1;
                if g.kind[e] & mask == 0 {
                    continue;
                }
                let w = g.to[e];
                if index[w as usize] == UNSEEN {
                    index[w as usize] = next_index;
                    low[w as usize] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    calls.push((w, g.offs[w as usize]));
                    descended = true;
                    break;
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
            }
            if descended {
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    comp[w as usize] = next_comp;
                    if w == v {
                        break;
                    }
                }
                next_comp += 1;
            }
        }
    }
    (comp, next_comp)
}

/// A shortest path from `from` to `to` over edges in `mask`, staying inside `within` (nodes
/// whose `comp` equals `c`), as `(from, to, kind)` steps; `None` if there is none.
pub(crate) fn bfs_path(g: &Graph, mask: u8, from: u32, to: u32, comp: &[u32], c: u32) -> Option<Vec<(u32, u32, u8)>> {
    if from == to {
        return Some(Vec::new());
    }
    let mut prev: crate::checker::fx::FxHashMap<u32, (u32, u8)> = Default::default();
    let mut queue = std::collections::VecDeque::from([from]);
    prev.insert(from, (from, 0));
    while let Some(v) = queue.pop_front() {
        for (w, k) in g.out(v) {
            if k & mask == 0 || comp[w as usize] != c || prev.contains_key(&w) {
                continue;
            }
            prev.insert(w, (v, k));
            if w == to {
                let mut path = Vec::new();
                let mut cur = to;
                while cur != from {
                    let (p, k) = prev[&cur];
                    path.push((p, cur, k));
                    cur = p;
                }
                path.reverse();
                return Some(path);
            }
            queue.push_back(w);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scc_finds_cycles_per_mask_and_orders_sinks_first() {
        // 0 -ww-> 1 -ww-> 2 -rw-> 0, and 2 -ww-> 3.
        let mut e = vec![(0, 1, WW), (1, 2, WW), (2, 0, RW), (2, 3, WW), (1, 1, WW)];
        let g = Graph::new(4, &mut e);
        let (all, _) = scc(&g, WW | RW);
        assert_eq!(all[0], all[1]);
        assert_eq!(all[1], all[2]);
        assert_ne!(all[2], all[3]);
        assert!(all[2] > all[3], "edges go from higher to lower component ids");
        let (ww, n) = scc(&g, WW);
        assert_eq!(n, 4, "no cycle without the rw edge");
        assert!(ww[0] > ww[1] && ww[1] > ww[2]);
        let p = bfs_path(&g, WW, 0, 2, &all, all[0]).unwrap();
        assert_eq!(p, vec![(0, 1, WW), (1, 2, WW)]);
        assert!(bfs_path(&g, WW, 2, 0, &all, all[0]).is_none());
    }
}
