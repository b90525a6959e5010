//! rw-register inference, as Elle's `elle.rw-register`: wr edges from unique writes; per key a
//! version graph from the initial state (nil precedes every value) plus the optional sources
//! (writes-follow-reads, sequential keys, linearizable keys), each dropped for a key where it
//! would make the versions cyclic (`cyclic-versions`); ww and rw edges from that graph. Direct
//! anomalies: G1a, G1b, internal, future-read, lost-update and (ours) garbage-read.

use serde_json::json;

use super::found::Found;
use super::graph::{RW, WR, WW};
use super::history::{MopKind, Status, Txns};
use super::Options;
use crate::checker::fx::FxHashMap;
use crate::checker::Anomaly;

/// A version: `None` is the initial state.
type Ver = Option<i64>;

/// What explanations need: for each edge, the key and the versions behind it.
#[derive(Debug, Default)]
pub(crate) struct RegIndex {
    pub explain: FxHashMap<(u32, u32, u8), (u32, Ver, Ver)>,
}

/// A txn's view of one key: what it first read (if it read first) and what it wrote last.
#[derive(Clone, Copy)]
struct View {
    key: u32,
    read: Option<Ver>,
    wrote: Option<i64>,
}

fn views(t: &Txns, ti: u32) -> Vec<View> {
    let mut out: Vec<View> = Vec::new();
    for m in t.mops_of(ti) {
        let at = match out.iter().position(|v| v.key == m.key) {
            Some(at) => at,
            None => {
                let read = match m.kind {
                    MopKind::ReadReg => Some(Some(m.val)),
                    MopKind::ReadInit => Some(None),
                    _ => None,
                };
                out.push(View { key: m.key, read, wrote: None });
                out.len() - 1
            }
        };
        if m.kind == MopKind::Write {
            out[at].wrote = Some(m.val);
        }
    }
    out
}

/// Infers edges and direct anomalies; `Err` names a value written twice.
pub(crate) fn infer(
    t: &Txns,
    opts: &Options,
    edges: &mut Vec<(u32, u32, u8)>,
    found: &mut Found,
) -> Result<RegIndex, String> {
    let mut ix = RegIndex::default();
    let mut writer: FxHashMap<(u32, i64), u32> = FxHashMap::default();
    for (i, m) in t.mops.iter().enumerate() {
        if m.kind != MopKind::Write {
            continue;
        }
        if let Some(prev) = writer.insert((m.key, m.val), i as u32) {
            let pt = t.mops[prev as usize].txn;
            if pt != m.txn {
                return Err(format!(
                    "duplicate-writes: ops {} and {} both write {} to key {}",
                    t.txns[pt as usize].op,
                    t.txns[m.txn as usize].op,
                    t.show_val(m.val),
                    t.show_key(m.key)
                ));
            }
        }
    }
    let status = |x: u32| t.txns[x as usize].status;
    let writer_txn = |k: u32, v: i64| writer.get(&(k, v)).map(|m| t.mops[*m as usize].txn);
    let mut readers: FxHashMap<(u32, Ver), Vec<u32>> = FxHashMap::default();
    let mut lost: Vec<(u32, Ver, u32)> = Vec::new();
    let mut all_views: Vec<Vec<View>> = Vec::with_capacity(t.txns.len());
    for (ti, x) in t.txns.iter().enumerate() {
        let ti = ti as u32;
        let vs = if x.status == Status::Fail { Vec::new() } else { views(t, ti) };
        if x.status == Status::Fail {
            all_views.push(vs);
            continue;
        }
        let mops = t.mops_of(ti);
        for (j, m) in mops.iter().enumerate() {
            let read: Ver = match m.kind {
                MopKind::ReadReg => Some(m.val),
                MopKind::ReadInit => None,
                _ => continue,
            };
            let earlier: Vec<_> = mops[..j].iter().filter(|e| e.key == m.key && e.kind != MopKind::ReadNil).collect();
            if let Some(prev) = earlier.last() {
                let expected: Ver = match earlier.iter().rev().find(|e| e.kind == MopKind::Write) {
                    Some(w) => Some(w.val),
                    None => (prev.kind == MopKind::ReadReg).then_some(prev.val),
                };
                if expected != read {
                    let show = |v: Ver| v.map_or("nil".to_string(), |v| t.show_val(v));
                    found.add("internal", || Anomaly {
                        explanation: format!(
                            "op {} read key {} = {}, but its own earlier micro-ops imply {}",
                            x.op,
                            t.show_key(m.key),
                            show(read),
                            show(expected)
                        ),
                        ops: vec![x.op],
                        data: json!({"key": t.json_key(m.key)}),
                        ..Default::default()
                    });
                }
                continue;
            }
            readers.entry((m.key, read)).or_default().push(ti);
            if x.status == Status::Ok && mops[j + 1..].iter().any(|w| w.kind == MopKind::Write && w.key == m.key) {
                lost.push((m.key, read, ti));
            }
            let Some(v) = read else { continue };
            let Some(w) = writer_txn(m.key, v) else {
                found.add("garbage-read", || Anomaly {
                    explanation: format!(
                        "op {} read key {} = {}, a value no transaction wrote",
                        x.op,
                        t.show_key(m.key),
                        t.show_val(v)
                    ),
                    ops: vec![x.op],
                    data: json!({"key": t.json_key(m.key), "value": t.json_val(v)}),
                    ..Default::default()
                });
                continue;
            };
            let wop = t.txns[w as usize].op;
            if w == ti {
                found.add("future-read", || Anomaly {
                    explanation: format!(
                        "op {} read key {} = {}, which it writes only later",
                        x.op,
                        t.show_key(m.key),
                        t.show_val(v)
                    ),
                    ops: vec![x.op],
                    data: json!({"key": t.json_key(m.key), "value": t.json_val(v)}),
                    ..Default::default()
                });
                continue;
            }
            if status(w) == Status::Fail {
                if x.status == Status::Ok {
                    found.add("G1a", || Anomaly {
                        explanation: format!(
                            "op {} read key {} = {}, written by the failed op {wop}",
                            x.op,
                            t.show_key(m.key),
                            t.show_val(v)
                        ),
                        ops: vec![wop, x.op],
                        data: json!({"key": t.json_key(m.key), "value": t.json_val(v)}),
                        ..Default::default()
                    });
                }
                continue;
            }
            let final_write = views(t, w).iter().find(|vw| vw.key == m.key).and_then(|vw| vw.wrote);
            if final_write != Some(v) {
                found.add("G1b", || Anomaly {
                    explanation: format!(
                        "op {} read key {} = {}, an intermediate write of op {wop}, which went on to write {}",
                        x.op,
                        t.show_key(m.key),
                        t.show_val(v),
                        final_write.map_or("nil".into(), |f| t.show_val(f))
                    ),
                    ops: vec![wop, x.op],
                    data: json!({"key": t.json_key(m.key), "value": t.json_val(v)}),
                    ..Default::default()
                });
                continue;
            }
            edges.push((w, ti, WR));
            ix.explain.insert((w, ti, WR), (m.key, Some(v), None));
        }
        all_views.push(vs);
    }
    lost.sort_unstable();
    for g in lost.chunk_by(|a, b| a.0 == b.0 && a.1 == b.1) {
        if g.len() >= 2 {
            let ops: Vec<u64> = g.iter().map(|x| t.txns[x.2 as usize].op).collect();
            let v = g[0].1.map_or("nil".to_string(), |v| t.show_val(v));
            found.add("lost-update", || Anomaly {
                explanation: format!(
                    "ops {} all read key {} = {v} and then wrote it: all but one of them should have seen another's write",
                    ops.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                    t.show_key(g[0].0)
                ),
                ops: ops.clone(),
                data: json!({"key": t.json_key(g[0].0)}),
                ..Default::default()
            });
        }
    }
    let versions = version_graph(t, opts, &all_views, found);
    for (key, v1, v2) in versions {
        let w2 = match writer_txn(key, v2) {
            Some(w) if status(w) != Status::Fail => w,
            _ => continue,
        };
        if let Some(v1) = v1 {
            if let Some(w1) = writer_txn(key, v1).filter(|w| status(*w) != Status::Fail && *w != w2) {
                edges.push((w1, w2, WW));
                ix.explain.insert((w1, w2, WW), (key, Some(v1), Some(v2)));
            }
        }
        for r in readers.get(&(key, v1)).into_iter().flatten() {
            if *r != w2 {
                edges.push((*r, w2, RW));
                ix.explain.insert((*r, w2, RW), (key, v1, Some(v2)));
            }
        }
    }
    Ok(ix)
}

/// The accepted version edges `(key, v1, v2)`, `v1` before `v2`.
fn version_graph(t: &Txns, opts: &Options, views: &[Vec<View>], found: &mut Found) -> Vec<(u32, Ver, i64)> {
    let nkeys = t.keys.len();
    let mut accepted: Vec<Vec<(Ver, i64)>> = vec![Vec::new(); nkeys];
    // The initial state precedes every value written.
    for m in &t.mops {
        if m.kind == MopKind::Write && t.txns[m.txn as usize].status != Status::Fail {
            accepted[m.key as usize].push((None, m.val));
        }
    }
    let mut sources: Vec<(&str, Vec<Vec<(Ver, i64)>>)> = Vec::new();
    if opts.writes_follow_reads {
        let mut s = vec![Vec::new(); nkeys];
        for vs in views {
            for v in vs {
                if let (Some(r), Some(w)) = (v.read, v.wrote) {
                    if r != Some(w) {
                        s[v.key as usize].push((r, w));
                    }
                }
            }
        }
        sources.push(("writes-follow-reads", s));
    }
    let chain = |pairs: &[(u32, u32)]| {
        let mut s = vec![Vec::new(); nkeys];
        for &(a, b) in pairs {
            for va in &views[a as usize] {
                let last: Ver = match (va.wrote, va.read) {
                    (Some(w), _) => Some(w),
                    (None, Some(r)) => r,
                    (None, None) => continue,
                };
                for vb in views[b as usize].iter().filter(|vb| vb.key == va.key) {
                    let first = match (vb.read, vb.wrote) {
                        (Some(Some(r)), _) => r,
                        (Some(None), _) => continue,
                        (None, Some(w)) => w,
                        (None, None) => continue,
                    };
                    if last != Some(first) {
                        s[va.key as usize].push((last, first));
                    }
                }
            }
        }
        s
    };
    if opts.sequential_keys {
        let mut e = Vec::new();
        super::order::process(t, &mut e);
        let pairs: Vec<(u32, u32)> = e.iter().map(|x| (x.0, x.1)).collect();
        sources.push(("sequential-keys", chain(&pairs)));
    }
    if opts.linearizable_keys {
        let mut e = Vec::new();
        super::order::realtime(t, &mut e);
        let pairs: Vec<(u32, u32)> = e.iter().map(|x| (x.0, x.1)).collect();
        sources.push(("linearizable-keys", chain(&pairs)));
    }
    for (name, s) in sources {
        for (k, extra) in s.into_iter().enumerate() {
            if extra.is_empty() {
                continue;
            }
            let mut cand = accepted[k].clone();
            cand.extend(extra);
            if cyclic(&cand) {
                found.add("cyclic-versions", || Anomaly {
                    explanation: format!(
                        "the {name} version order of key {} is cyclic, so it was not used",
                        t.show_key(k as u32)
                    ),
                    data: json!({"key": t.json_key(k as u32), "source": name}),
                    ..Default::default()
                });
            } else {
                accepted[k] = cand;
            }
        }
    }
    let mut out = Vec::new();
    for (k, mut es) in accepted.into_iter().enumerate() {
        es.sort_unstable();
        es.dedup();
        out.extend(es.into_iter().map(|(a, b)| (k as u32, a, b)));
    }
    out
}

/// Whether the version edges hold a cycle (Kahn's algorithm).
fn cyclic(es: &[(Ver, i64)]) -> bool {
    let mut ids: FxHashMap<Ver, usize> = FxHashMap::default();
    let id = |v: Ver, ids: &mut FxHashMap<Ver, usize>| {
        let n = ids.len();
        *ids.entry(v).or_insert(n)
    };
    let pairs: Vec<(usize, usize)> = es.iter().map(|(a, b)| (id(*a, &mut ids), id(Some(*b), &mut ids))).collect();
    let n = ids.len();
    let mut indeg = vec![0usize; n];
    let mut out = vec![Vec::new(); n];
    for (a, b) in &pairs {
        if a == b {
            return true;
        }
        indeg[*b] += 1;
        out[*a].push(*b);
    }
    let mut queue: Vec<usize> = (0..n).filter(|v| indeg[*v] == 0).collect();
    let mut seen = 0;
    while let Some(v) = queue.pop() {
        seen += 1;
        for w in &out[v] {
            indeg[*w] -= 1;
            if indeg[*w] == 0 {
                queue.push(*w);
            }
        }
    }
    seen < n
}
