//! list-append inference, as Elle's `elle.list-append`: each key's version order is its longest
//! read (every other read must be a prefix of it, else `incompatible-order`); from it come the
//! ww, wr and rw edges, and the direct anomalies G1a, G1b, internal, future-read, dirty-update,
//! duplicate-elements, lost-update and (ours) garbage-read.

use serde_json::json;

use super::found::Found;
use super::graph::{RW, WR, WW};
use super::history::{MopKind, Status, Txns, NONE};
use crate::checker::fx::FxHashMap;
use crate::checker::Anomaly;

/// Where an appended element sits: the global index of the append and its position in the key's
/// version order (`NONE` when no read saw it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Elem {
    pub mop: u32,
    pub pos: u32,
}

/// What inference hands to the cycle search and the explanations.
#[derive(Debug, Default)]
pub(crate) struct ListIndex {
    pub elems: FxHashMap<(u32, i64), Elem>,
    /// Per key, the txn that appended each element of the version order (`NONE`: nobody).
    pub writers: Vec<Vec<u32>>,
    /// Per key, the non-failed txns whose appends no read saw.
    pub unread: Vec<Vec<u32>>,
}

/// Infers edges (pushed onto `edges`) and direct anomalies (into `found`). Returns the index,
/// or the first duplicated append (which makes the history uncheckable, as in Elle).
pub(crate) fn infer(t: &Txns, edges: &mut Vec<(u32, u32, u8)>, found: &mut Found) -> Result<ListIndex, String> {
    let nkeys = t.keys.len();
    let mut ix =
        ListIndex { elems: FxHashMap::default(), writers: vec![Vec::new(); nkeys], unread: vec![Vec::new(); nkeys] };
    let appends = t.mops.iter().filter(|m| m.kind == MopKind::Append).count();
    ix.elems.reserve(appends);
    for (i, m) in t.mops.iter().enumerate() {
        if m.kind == MopKind::Append {
            if let Some(prev) = ix.elems.insert((m.key, m.val), Elem { mop: i as u32, pos: NONE }) {
                let a = t.txns[t.mops[prev.mop as usize].txn as usize].op;
                let b = t.txns[m.txn as usize].op;
                return Err(format!(
                    "duplicate-appends: ops {a} and {b} both append {} to key {}",
                    t.show_val(m.val),
                    t.show_key(m.key)
                ));
            }
        }
    }
    let status = |txn: u32| t.txns[txn as usize].status;
    let mut first_failed = vec![u32::MAX; nkeys];
    let mut first_garbage = vec![u32::MAX; nkeys];
    for k in 0..nkeys {
        let order = &t.longest[k];
        let mut ws = Vec::with_capacity(order.len());
        let mut dup_reported = false;
        let mut dirty_reported = false;
        for (p, v) in order.iter().enumerate() {
            let w = match ix.elems.get_mut(&(k as u32, *v)) {
                Some(e) => {
                    if e.pos != NONE && !dup_reported {
                        dup_reported = true;
                        found.add("duplicate-elements", || Anomaly {
                            explanation: format!("a read of key {} holds {} twice", t.show_key(k as u32), t.show_val(*v)),
                            data: json!({"key": t.json_key(k as u32), "element": t.json_val(*v), "value": order.iter().map(|x| t.json_val(*x)).collect::<Vec<_>>()}),
                            ..Default::default()
                        });
                    }
                    if e.pos == NONE {
                        e.pos = p as u32;
                    }
                    t.mops[e.mop as usize].txn
                }
                None => NONE,
            };
            if w == NONE && first_garbage[k] == u32::MAX {
                first_garbage[k] = p as u32;
            }
            if w != NONE && status(w) == Status::Fail && first_failed[k] == u32::MAX {
                first_failed[k] = p as u32;
            }
            if w != NONE && status(w) == Status::Ok && first_failed[k] != u32::MAX && !dirty_reported {
                dirty_reported = true;
                let fv = order[first_failed[k] as usize];
                let failed_op = t.txns[ws[first_failed[k] as usize] as usize].op;
                found.add("dirty-update", || Anomaly {
                    explanation: format!(
                        "key {}: op {} appended {} after the failed op {}'s append of {}",
                        t.show_key(k as u32),
                        t.txns[w as usize].op,
                        t.show_val(*v),
                        failed_op,
                        t.show_val(fv)
                    ),
                    ops: vec![failed_op, t.txns[w as usize].op],
                    data: json!({"key": t.json_key(k as u32)}),
                    ..Default::default()
                });
            }
            ws.push(w);
        }
        ix.writers[k] = ws;
    }
    for m in &t.mops {
        if m.kind == MopKind::Append && status(m.txn) != Status::Fail {
            if let Some(e) = ix.elems.get(&(m.key, m.val)) {
                if e.pos == NONE {
                    ix.unread[m.key as usize].push(m.txn);
                }
            }
        }
    }
    for u in ix.unread.iter_mut() {
        u.dedup();
    }
    // ww: consecutive elements of each version order; unread appends come after the last.
    for k in 0..nkeys {
        let ws = &ix.writers[k];
        let live = |w: u32| w != NONE && status(w) != Status::Fail;
        for p in 1..ws.len() {
            if live(ws[p - 1]) && live(ws[p]) {
                edges.push((ws[p - 1], ws[p], WW));
            }
        }
        if let Some(&last) = ws.last() {
            if live(last) {
                edges.extend(ix.unread[k].iter().map(|u| (last, *u, WW)));
            }
        }
    }
    let mut lost: Vec<(u32, u32, u32)> = Vec::new();
    let mut odd_keys: Vec<u32> = Vec::new();
    for (ti, x) in t.txns.iter().enumerate() {
        if x.status == Status::Fail {
            continue;
        }
        let ti = ti as u32;
        let mops = t.mops_of(ti);
        for (j, m) in mops.iter().enumerate() {
            if !matches!(m.kind, MopKind::ReadPrefix | MopKind::ReadOdd) {
                continue;
            }
            let k = m.key as usize;
            let read = t.read_list(m);
            let earlier = &mops[..j];
            let external = !earlier.iter().any(|e| e.key == m.key && e.kind != MopKind::ReadNil);
            if !external {
                check_internal(t, ti, j, found);
            }
            if let Some(f) =
                mops[j + 1..].iter().find(|a| a.kind == MopKind::Append && a.key == m.key && read.contains(&a.val))
            {
                found.add("future-read", || Anomaly {
                    explanation: format!(
                        "op {} read key {} = {}, which holds {}, its own later append",
                        x.op,
                        t.show_key(m.key),
                        show_list(t, read),
                        t.show_val(f.val)
                    ),
                    ops: vec![x.op],
                    data: json!({"key": t.json_key(m.key), "value": json_list(t, read)}),
                    ..Default::default()
                });
            }
            let (bad_failed, bad_garbage) = match m.kind {
                MopKind::ReadPrefix => {
                    let len = m.val as u32;
                    let ff = (first_failed[k] < len).then(|| t.longest[k][first_failed[k] as usize]);
                    let fg = (first_garbage[k] < len).then(|| t.longest[k][first_garbage[k] as usize]);
                    (ff, fg)
                }
                _ => {
                    odd_keys.push(m.key);
                    let w = |v: &i64| ix.elems.get(&(m.key, *v)).map(|e| t.mops[e.mop as usize].txn);
                    let ff = read.iter().find(|v| w(v).is_some_and(|w| status(w) == Status::Fail)).copied();
                    let fg = read.iter().find(|v| w(v).is_none()).copied();
                    let mut sorted = read.to_vec();
                    sorted.sort_unstable();
                    if let Some(d) = sorted.windows(2).find(|p| p[0] == p[1]) {
                        let d = d[0];
                        found.add("duplicate-elements", || Anomaly {
                            explanation: format!("op {} read key {} holding {} twice", x.op, t.show_key(m.key), t.show_val(d)),
                            ops: vec![x.op],
                            data: json!({"key": t.json_key(m.key), "element": t.json_val(d), "value": json_list(t, read)}),
                            ..Default::default()
                        });
                    }
                    (ff, fg)
                }
            };
            if let Some(v) = bad_failed.filter(|_| x.status == Status::Ok) {
                let w = t.mops[ix.elems[&(m.key, v)].mop as usize].txn;
                found.add("G1a", || Anomaly {
                    explanation: format!(
                        "op {} read key {} = {}, seeing {}, which the failed op {} appended",
                        x.op,
                        t.show_key(m.key),
                        show_list(t, read),
                        t.show_val(v),
                        t.txns[w as usize].op
                    ),
                    ops: vec![t.txns[w as usize].op, x.op],
                    data: json!({"key": t.json_key(m.key), "element": t.json_val(v)}),
                    ..Default::default()
                });
            }
            if let Some(v) = bad_garbage {
                found.add("garbage-read", || Anomaly {
                    explanation: format!(
                        "op {} read key {} = {}, seeing {}, which no transaction appended",
                        x.op,
                        t.show_key(m.key),
                        show_list(t, read),
                        t.show_val(v)
                    ),
                    ops: vec![x.op],
                    data: json!({"key": t.json_key(m.key), "element": t.json_val(v)}),
                    ..Default::default()
                });
            }
            if let Some(&last) = read.last() {
                if let Some(e) = ix.elems.get(&(m.key, last)) {
                    let w = t.mops[e.mop as usize].txn;
                    let later = t.mops[e.mop as usize + 1..t.mop_range(w).end]
                        .iter()
                        .find(|a| a.kind == MopKind::Append && a.key == m.key);
                    if let (true, Some(later)) = (w != ti && status(w) != Status::Fail, later) {
                        found.add("G1b", || Anomaly {
                            explanation: format!(
                                "op {} read key {} = {}, ending in {}, an intermediate append of op {}, which went on to append {}",
                                x.op,
                                t.show_key(m.key),
                                show_list(t, read),
                                t.show_val(last),
                                t.txns[w as usize].op,
                                t.show_val(later.val)
                            ),
                            ops: vec![t.txns[w as usize].op, x.op],
                            data: json!({"key": t.json_key(m.key), "element": t.json_val(last)}),
                            ..Default::default()
                        });
                    }
                }
            }
            if !external || m.kind != MopKind::ReadPrefix {
                continue;
            }
            let len = m.val as usize;
            let ws = &ix.writers[k];
            let live = |w: u32| w != NONE && status(w) != Status::Fail;
            if len > 0 && live(ws[len - 1]) {
                edges.push((ws[len - 1], ti, WR));
            }
            if len < ws.len() {
                if live(ws[len]) {
                    edges.push((ti, ws[len], RW));
                }
            } else {
                edges.extend(ix.unread[k].iter().map(|u| (ti, *u, RW)));
            }
            if x.status == Status::Ok && mops[j + 1..].iter().any(|a| a.kind == MopKind::Append && a.key == m.key) {
                lost.push((m.key, len as u32, ti));
            }
        }
    }
    lost_updates(t, &mut lost, found);
    odd_keys.sort_unstable();
    odd_keys.dedup();
    for k in odd_keys {
        incompatible(t, k, found);
    }
    Ok(ix)
}

/// A later read of a key inside one txn must show what the txn knows of it: its earlier read
/// followed by its own appends since, or (with no earlier read) end with its own appends.
fn check_internal(t: &Txns, ti: u32, j: usize, found: &mut Found) {
    let mops = t.mops_of(ti);
    let m = &mops[j];
    let read = t.read_list(m);
    let mut expected: Vec<i64> = Vec::new();
    let mut known_prefix = false;
    for e in mops[..j].iter().filter(|e| e.key == m.key) {
        match e.kind {
            MopKind::ReadPrefix | MopKind::ReadOdd => {
                expected = t.read_list(e).to_vec();
                known_prefix = true;
            }
            MopKind::Append => expected.push(e.val),
            _ => {}
        }
    }
    let ok = if known_prefix { read == expected.as_slice() } else { read.ends_with(&expected) };
    if !ok {
        let op = t.txns[ti as usize].op;
        found.add("internal", || Anomaly {
            explanation: format!(
                "op {op} read key {} = {}, but its own earlier micro-ops imply {}{}",
                t.show_key(m.key),
                show_list(t, read),
                if known_prefix { "" } else { "a list ending in " },
                show_list(t, &expected)
            ),
            ops: vec![op],
            data: json!({"key": t.json_key(m.key), "value": json_list(t, read), "expected": json_list(t, &expected)}),
            ..Default::default()
        });
    }
}

/// Two committed txns that read the same state of a key and both appended to it.
fn lost_updates(t: &Txns, lost: &mut [(u32, u32, u32)], found: &mut Found) {
    lost.sort_unstable();
    for group in lost.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        if group.len() < 2 {
            continue;
        }
        let (k, len, _) = group[0];
        let ops: Vec<u64> = group.iter().map(|g| t.txns[g.2 as usize].op).collect();
        let state = &t.longest[k as usize][..len as usize];
        found.add("lost-update", || Anomaly {
            explanation: format!(
                "ops {} all read key {} = {} and then appended to it: all but one of their appends should have seen another",
                ops.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                t.show_key(k),
                show_list(t, state)
            ),
            ops: ops.clone(),
            data: json!({"key": t.json_key(k), "value": json_list(t, state)}),
            ..Default::default()
        });
    }
}

/// One `incompatible-order` per key, with the table of every read of it.
fn incompatible(t: &Txns, k: u32, found: &mut Found) {
    let mut reads = Vec::new();
    let mut ops = Vec::new();
    for m in t.mops.iter().filter(|m| m.key == k && matches!(m.kind, MopKind::ReadPrefix | MopKind::ReadOdd)) {
        let x = &t.txns[m.txn as usize];
        if x.status == Status::Fail {
            continue;
        }
        ops.push(x.op);
        reads.push(json!({"op": x.op, "process": x.process, "value": json_list(t, t.read_list(m))}));
    }
    found.add("incompatible-order", || Anomaly {
        explanation: format!(
            "the reads of key {} are not all prefixes of one order: no single sequence of appends explains them",
            t.show_key(k)
        ),
        ops,
        data: json!({"key": t.json_key(k), "reads": reads}),
        ..Default::default()
    });
}

pub(crate) fn show_list(t: &Txns, vs: &[i64]) -> String {
    format!("[{}]", vs.iter().map(|v| t.show_val(*v)).collect::<Vec<_>>().join(" "))
}

fn json_list(t: &Txns, vs: &[i64]) -> serde_json::Value {
    serde_json::Value::from(vs.iter().map(|v| t.json_val(*v)).collect::<Vec<_>>())
}
