//! Process and realtime edges. Realtime is Elle's transitive reduction: each txn gets an edge from
//! every txn on the "frontier" (completed, and not yet followed by a txn that completed after
//! it) when it is invoked; a completion removes the txns it follows from the frontier.

use super::graph::{PROCESS, REALTIME};
use super::history::{Status, Txns};

/// Realtime edges: `a -> b` when `a` completed ok before `b` was invoked (reduced).
pub(crate) fn realtime(t: &Txns, edges: &mut Vec<(u32, u32, u8)>) {
    // (position, 0 = completion / 1 = invoke, txn): completions at a position sort first, but
    // positions are distinct in a real history.
    let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(t.txns.len() * 2);
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

/// Process edges: each process's consecutive txns, the earlier one ok.
pub(crate) fn process(t: &Txns, edges: &mut Vec<(u32, u32, u8)>) {
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
