//! Process and realtime edges. Realtime is Elle's transitive reduction: each txn gets an edge from
//! every txn on the "frontier" (completed, and not yet followed by a txn that completed after
//! it) when it is invoked; a completion removes the txns it follows from the frontier.
//!
//! Both walk the history in position order. Positions are distinct (one per op) except 0, the
//! invoke position of a completion without an invoke, so the walk is an array indexed by
//! position rather than a sort; a history where that does not hold is sorted instead.

use super::graph::{PROCESS, REALTIME};
use super::history::{Status, Txns};
use crate::checker::fx::FxHashMap;

/// No event at this position.
const EMPTY: u32 = u32::MAX;

/// The events `(position, 0 = completion / 1 = invoke, txn)` of the txns `keep` accepts, in
/// the order `sort_unstable` puts them; and whether every position but 0 was distinct.
fn events(t: &Txns, keep: impl Fn(u32) -> bool, completions: bool) -> (Vec<(u64, u8, u32)>, bool) {
    let n = t.txns.len();
    let max = t
        .txns
        .iter()
        .map(|x| x.invoke_pos.max(if x.complete_pos == u64::MAX { 0 } else { x.complete_pos }))
        .max()
        .unwrap_or(0);
    let mut out: Vec<(u64, u8, u32)> = Vec::with_capacity(if completions { 2 * n } else { n });
    let dense = max < 4 * n as u64 + 1024 && n < (EMPTY / 2) as usize;
    if dense {
        // Slot per position: txn * 2 + kind.
        let mut at = vec![EMPTY; max as usize + 1];
        let mut clash = false;
        let mut put = |pos: u64, v: u32| {
            let slot = &mut at[pos as usize];
            clash |= *slot != EMPTY;
            *slot = v;
        };
        for (i, x) in t.txns.iter().enumerate() {
            let i = i as u32;
            if !keep(i) {
                continue;
            }
            if x.invoke_pos == 0 {
                out.push((0, 1, i));
            } else {
                put(x.invoke_pos, 2 * i + 1);
            }
            if completions && x.status == Status::Ok && x.complete_pos != u64::MAX {
                put(x.complete_pos, 2 * i);
            }
        }
        if !clash {
            // Position 0 (invokes only, in txn order) first, then every other position once.
            out.extend(
                at.iter()
                    .enumerate()
                    .skip(1)
                    .filter(|(_, v)| **v != EMPTY)
                    .map(|(p, v)| (p as u64, (*v & 1) as u8, *v >> 1)),
            );
            return (out, true);
        }
        out.clear();
    }
    for (i, x) in t.txns.iter().enumerate() {
        let i = i as u32;
        if !keep(i) {
            continue;
        }
        out.push((x.invoke_pos, 1, i));
        if completions && x.status == Status::Ok && x.complete_pos != u64::MAX {
            out.push((x.complete_pos, 0, i));
        }
    }
    out.sort_unstable();
    (out, false)
}

/// Realtime edges: `a -> b` when `a` completed ok before `b` was invoked (reduced).
pub(crate) fn realtime(t: &Txns, edges: &mut Vec<(u32, u32, u8)>) {
    // Completions at a position sort first, but positions are distinct in a real history.
    let (events, _) = events(t, |i| t.txns[i as usize].status != Status::Fail, true);
    let mut frontier: Vec<u32> = Vec::new();
    // preds[txn] = range into `flat`.
    let mut flat: Vec<u32> = Vec::new();
    let mut preds: Vec<(u32, u32)> = vec![(0, 0); t.txns.len()];
    for (_, kind, txn) in events {
        if kind == 1 {
            let s = flat.len() as u32;
            flat.extend_from_slice(&frontier);
            preds[txn as usize] = (s, flat.len() as u32);
            edges.extend(frontier.iter().map(|p| (*p, txn, REALTIME)));
        } else {
            let (s, e) = preds[txn as usize];
            let seen = &flat[s as usize..e as usize];
            frontier.retain(|f| !seen.contains(f));
            frontier.push(txn);
        }
    }
}

/// Process edges: each process's consecutive txns (by invoke position, then completion
/// position), the earlier one ok.
pub(crate) fn process(t: &Txns, edges: &mut Vec<(u32, u32, u8)>) {
    let (mut events, distinct) = events(t, |i| t.txns[i as usize].status != Status::Fail, false);
    // Equal invoke positions (0: completions without an invoke) go by completion position.
    let key = |e: &(u64, u8, u32)| (e.0, t.txns[e.2 as usize].complete_pos, e.2);
    let zeros = if distinct { events.iter().take_while(|e| e.0 == 0).count() } else { events.len() };
    events[..zeros].sort_unstable_by_key(key);
    let mut last: FxHashMap<u64, u32> = FxHashMap::default();
    for (_, _, i) in events {
        let x = &t.txns[i as usize];
        if let Some(prev) = last.insert(x.process, i) {
            if t.txns[prev as usize].status == Status::Ok {
                edges.push((prev, i, PROCESS));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::txn::{ops, Model};
    use crate::checker::txn_gen::{generate_ops, GenSpec, Isolation};

    /// The sorting versions these replace, kept to compare against.
    fn realtime_sorted(t: &Txns, edges: &mut Vec<(u32, u32, u8)>) {
        let mut events: Vec<(u64, u8, u32)> = Vec::new();
        for (i, x) in t.txns.iter().enumerate() {
            if x.status == Status::Fail {
                continue;
            }
            events.push((x.invoke_pos, 1, i as u32));
            if x.status == Status::Ok && x.complete_pos != u64::MAX {
                events.push((x.complete_pos, 0, i as u32));
            }
        }
        events.sort_unstable();
        let mut frontier: Vec<u32> = Vec::new();
        let mut preds: Vec<Vec<u32>> = vec![Vec::new(); t.txns.len()];
        for (_, kind, txn) in events {
            if kind == 1 {
                preds[txn as usize] = frontier.clone();
                edges.extend(frontier.iter().map(|p| (*p, txn, REALTIME)));
            } else {
                let seen = &preds[txn as usize];
                frontier.retain(|f| !seen.contains(f));
                frontier.push(txn);
            }
        }
    }

    fn process_sorted(t: &Txns, edges: &mut Vec<(u32, u32, u8)>) {
        let mut by: Vec<(u64, u64, u64, u32)> = t
            .txns
            .iter()
            .enumerate()
            .filter(|(_, x)| x.status != Status::Fail)
            .map(|(i, x)| (x.process, x.invoke_pos, x.complete_pos, i as u32))
            .collect();
        by.sort_unstable();
        for w in by.windows(2) {
            if w[0].0 == w[1].0 && t.txns[w[0].3 as usize].status == Status::Ok {
                edges.push((w[0].3, w[1].3, PROCESS));
            }
        }
    }

    #[test]
    fn the_position_walk_gives_the_sorted_edges() {
        for (seed, iso) in [(1, Isolation::Serializable), (2, Isolation::SnapshotIsolation), (3, Isolation::LostUpdate)]
        {
            let spec = GenSpec { isolation: iso, txns: 3000, seed, info_pct: 10, fail_pct: 10, ..Default::default() };
            let mut t = ops::build(&generate_ops(&spec), Model::ListAppend).expect("fits");
            for round in 0..3 {
                let (mut a, mut b) = (Vec::new(), Vec::new());
                realtime(&t, &mut a);
                realtime_sorted(&t, &mut b);
                assert_eq!(a, b, "realtime, round {round}");
                let (mut a, mut b) = (Vec::new(), Vec::new());
                process(&t, &mut a);
                process_sorted(&t, &mut b);
                a.sort_unstable();
                b.sort_unstable();
                assert!(!a.is_empty());
                assert_eq!(a, b, "process, round {round}");
                // Then completions without invokes (position 0), and then clashing positions
                // (the sorting fallback).
                for (i, x) in t.txns.iter_mut().enumerate() {
                    if i % 7 == round {
                        x.invoke_pos = if round == 0 { 0 } else { x.invoke_pos / 2 + 1 };
                    }
                }
            }
        }
    }
}
