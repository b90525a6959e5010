//! list-append inference, as Elle's `elle.list-append`: each key's version order is its longest
//! read (every other read must be a prefix of it, else `incompatible-order`); from it come the
//! ww, wr and rw edges, and the direct anomalies G1a, G1b, internal, future-read, dirty-update,
//! duplicate-elements, lost-update and (ours) garbage-read.

use serde_json::json;

use super::found::Found;
use super::graph::{RW, WR, WW};
use super::history::{MopKind, Status, Txns, NONE};
use crate::checker::Anomaly;

/// What inference hands to the cycle search and the explanations.
#[derive(Debug, Default)]
pub(crate) struct ListIndex {
    /// Per key `k`, its appends are `elems[elem_offs[k]..elem_offs[k + 1]]`, as `(value,
    /// micro-op, txn)` sorted by value (values are unique per key once inference succeeds).
    elem_offs: Vec<u32>,
    elems: Vec<(i64, u32, u32)>,
    /// Per micro-op (appends only): the element's position in its key's version order (`NONE`
    /// when no read saw it).
    pub pos: Vec<u32>,
    /// Per key, the append micro-op of each element of the version order (`NONE`: nobody).
    pub writers: Vec<Vec<u32>>,
    /// Per key, the non-failed txns whose appends no read saw.
    pub unread: Vec<Vec<u32>>,
}

impl ListIndex {
    /// The appends to key `k`, sorted by value.
    fn appends(&self, k: u32) -> &[(i64, u32, u32)] {
        &self.elems[self.elem_offs[k as usize] as usize..self.elem_offs[k as usize + 1] as usize]
    }

    /// The global index of the micro-op that appended `v` to key `k`.
    pub fn elem(&self, k: u32, v: i64) -> Option<u32> {
        let a = self.appends(k);
        a.binary_search_by_key(&v, |e| e.0).ok().map(|i| a[i].1)
    }

    /// `(micro-op, txn)` of the append of `v` to key `k`.
    fn writer(&self, k: u32, v: i64) -> Option<(u32, u32)> {
        let a = self.appends(k);
        a.binary_search_by_key(&v, |e| e.0).ok().map(|i| (a[i].1, a[i].2))
    }
}

/// Groups the appends by key (a counting sort, so in micro-op order) and sorts each group by
/// value. Returns the first duplicated append as `(earlier, later)` micro-ops: the one a scan
/// in micro-op order meets first.
fn index_appends(t: &Txns, ix: &mut ListIndex) -> Option<(u32, u32)> {
    let nkeys = t.keys.len();
    let mut offs = vec![0u32; nkeys + 1];
    for m in &t.mops {
        if m.kind == MopKind::Append {
            offs[m.key as usize + 1] += 1;
        }
    }
    for k in 0..nkeys {
        offs[k + 1] += offs[k];
    }
    let mut fill = offs.clone();
    let mut elems = vec![(0i64, 0u32, 0u32); offs[nkeys] as usize];
    for (i, m) in t.mops.iter().enumerate() {
        if m.kind == MopKind::Append {
            let at = &mut fill[m.key as usize];
            elems[*at as usize] = (m.val, i as u32, m.txn);
            *at += 1;
        }
    }
    let mut dup: Option<(u32, u32)> = None;
    for k in 0..nkeys {
        let g = &mut elems[offs[k] as usize..offs[k + 1] as usize];
        if !g.windows(2).all(|w| w[0].0 < w[1].0) {
            // In micro-op order within a value: the first two of a run are the pair a scan
            // meets first.
            g.sort_unstable_by_key(|e| (e.0, e.1));
            for w in g.windows(2) {
                if w[0].0 == w[1].0 && dup.is_none_or(|d| w[1].1 < d.1) {
                    dup = Some((w[0].1, w[1].1));
                }
            }
        }
    }
    ix.elem_offs = offs;
    ix.elems = elems;
    dup
}

/// Infers edges (pushed onto `edges`) and direct anomalies (into `found`). Returns the index,
/// or the first duplicated append (which makes the history uncheckable, as in Elle).
pub(crate) fn infer(t: &Txns, edges: &mut Vec<(u32, u32, u8)>, found: &mut Found) -> Result<ListIndex, String> {
    let nkeys = t.keys.len();
    let mut ix = ListIndex {
        pos: vec![NONE; t.mops.len()],
        writers: vec![Vec::new(); nkeys],
        unread: vec![Vec::new(); nkeys],
        ..Default::default()
    };
    if let Some((prev, i)) = index_appends(t, &mut ix) {
        let m = &t.mops[i as usize];
        let a = t.txns[t.mops[prev as usize].txn as usize].op;
        let b = t.txns[m.txn as usize].op;
        return Err(format!(
            "duplicate-appends: ops {a} and {b} both append {} to key {}",
            t.show_val(m.val),
            t.show_key(m.key)
        ));
    }
    // Statuses in one byte each: the loops below look them up at random.
    let statuses: Vec<Status> = t.txns.iter().map(|x| x.status).collect();
    let status = |txn: u32| statuses[txn as usize];
    let mut first_failed = vec![u32::MAX; nkeys];
    let mut first_garbage = vec![u32::MAX; nkeys];
    for k in 0..nkeys {
        let order = &t.longest[k];
        let mut ws = Vec::with_capacity(order.len());
        let mut dup_reported = false;
        let mut dirty_reported = false;
        for (p, v) in order.iter().enumerate() {
            let (wm, wt) = ix.writer(k as u32, *v).unwrap_or((NONE, NONE));
            let w = match wm {
                NONE => NONE,
                e => {
                    if ix.pos[e as usize] != NONE && !dup_reported {
                        dup_reported = true;
                        found.add("duplicate-elements", || Anomaly {
                            explanation: format!("a read of key {} holds {} twice", t.show_key(k as u32), t.show_val(*v)),
                            data: json!({"key": t.json_key(k as u32), "element": t.json_val(*v), "value": order.iter().map(|x| t.json_val(*x)).collect::<Vec<_>>()}),
                            ..Default::default()
                        });
                    }
                    if ix.pos[e as usize] == NONE {
                        ix.pos[e as usize] = p as u32;
                    }
                    wt
                }
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
                let failed_op = t.txns[t.mops[ws[first_failed[k] as usize] as usize].txn as usize].op;
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
            ws.push(wm);
        }
        ix.writers[k] = ws;
    }
    for (i, m) in t.mops.iter().enumerate() {
        if m.kind == MopKind::Append && ix.pos[i] == NONE && status(m.txn) != Status::Fail {
            ix.unread[m.key as usize].push(m.txn);
        }
    }
    for u in ix.unread.iter_mut() {
        u.dedup();
    }
    // ww: consecutive elements of each version order; unread appends come after the last.
    for k in 0..nkeys {
        let ws = &ix.writers[k];
        let txn = |m: u32| if m == NONE { NONE } else { t.mops[m as usize].txn };
        let live = |w: u32| w != NONE && status(w) != Status::Fail;
        for p in 1..ws.len() {
            let (a, b) = (txn(ws[p - 1]), txn(ws[p]));
            if live(a) && live(b) {
                edges.push((a, b, WW));
            }
        }
        if let Some(&last) = ws.last() {
            let last = txn(last);
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
                    let w = |v: &i64| ix.writer(m.key, *v).map(|e| e.1);
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
            if let Some((v, w)) =
                bad_failed.filter(|_| x.status == Status::Ok).and_then(|v| Some((v, ix.writer(m.key, v)?.1)))
            {
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
                let e = match m.kind {
                    MopKind::ReadPrefix => Some(ix.writers[k][read.len() - 1]).filter(|e| *e != NONE),
                    _ => ix.elem(m.key, last),
                };
                if let Some(e) = e {
                    let w = t.mops[e as usize].txn;
                    let later = t.mops[e as usize + 1..t.mop_range(w).end]
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
            let txn = |m: u32| if m == NONE { NONE } else { t.mops[m as usize].txn };
            let live = |w: u32| w != NONE && status(w) != Status::Fail;
            if len > 0 && live(txn(ws[len - 1])) {
                edges.push((txn(ws[len - 1]), ti, WR));
            }
            if len < ws.len() {
                if live(txn(ws[len])) {
                    edges.push((ti, txn(ws[len]), RW));
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
