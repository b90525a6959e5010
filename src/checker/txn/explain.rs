//! Explanations of cycles in words: each step says why one txn precedes the next ("T2 read
//! T1's append of 3 to key 5"), and the paragraph ends with the class and why it is that class.

use serde_json::json;

use super::cycles::Cycle;
use super::graph::{kind_name, PROCESS, RW, WR, WW};
use super::history::{MopKind, Txns, NONE};
use super::list_append::{show_list, ListIndex};
use super::rw_register::RegIndex;
use crate::checker::{Anomaly, CycleStep};

/// What the explanations look things up in.
pub(crate) enum Index<'a> {
    List(&'a ListIndex),
    Reg(&'a RegIndex),
}

/// Turns a cycle into an `Anomaly`.
pub(crate) fn cycle(t: &Txns, ix: &Index, c: &Cycle) -> Anomaly {
    let names: Vec<u32> = c.steps.iter().map(|s| s.0).collect();
    let name = |x: u32| format!("T{}", names.iter().position(|n| *n == x).map_or(0, |p| p + 1));
    let mut steps = Vec::new();
    let mut sentences = Vec::new();
    for &(a, b, k) in &c.steps {
        let why = why(t, ix, a, b, k, &name(a), &name(b));
        sentences.push(format!("{} < {} because {why}", name(a), name(b)));
        steps.push(CycleStep {
            from: t.txns[a as usize].op,
            to: t.txns[b as usize].op,
            kind: kind_name(k).to_string(),
            why,
        });
    }
    let rw = c.steps.iter().filter(|s| s.2 == RW).count();
    let base = c.class.trim_end_matches("-process").trim_end_matches("-realtime");
    let what = match base {
        "G0" => "a cycle of write dependencies only".to_string(),
        "G1c" => "a cycle of write and read dependencies".to_string(),
        "G-single" => "a cycle with exactly one anti-dependency (rw)".to_string(),
        "G-nonadjacent" => format!("a cycle with {rw} anti-dependencies (rw), no two of them adjacent"),
        _ => format!("a cycle with {rw} anti-dependencies (rw), two of them adjacent"),
    };
    let extra = if c.class.ends_with("-realtime") {
        " that needs realtime order"
    } else if c.class.ends_with("-process") {
        " that needs process order"
    } else {
        ""
    };
    let last = sentences.len().saturating_sub(1);
    let mut text = String::new();
    for (i, s) in sentences.iter().enumerate() {
        if i > 0 {
            text.push_str(if i == last { "; however, " } else { "; " });
        }
        text.push_str(s);
    }
    let explanation = format!("Let {}. Then {text}: {what}{extra}, {}.", lets(t, &names, &name), c.class);
    let txns: Vec<serde_json::Value> = names
        .iter()
        .map(|x| {
            let tx = &t.txns[*x as usize];
            json!({"name": name(*x), "index": tx.op, "process": tx.process, "value": t.json_txn(*x)})
        })
        .collect();
    Anomaly {
        explanation,
        ops: names.iter().map(|x| t.txns[*x as usize].op).collect(),
        cycle: steps,
        data: json!({ "txns": txns }),
    }
}

fn lets(t: &Txns, names: &[u32], name: &dyn Fn(u32) -> String) -> String {
    names.iter().map(|x| format!("{} = op {}", name(*x), t.txns[*x as usize].op)).collect::<Vec<_>>().join(", ")
}

/// Why `a` precedes `b` over an edge of kind `k`, in words.
fn why(t: &Txns, ix: &Index, a: u32, b: u32, k: u8, an: &str, bn: &str) -> String {
    match k {
        PROCESS => return format!("{an} completed before {bn} began, in process {}", t.txns[a as usize].process),
        WW | WR | RW => {}
        _ => return format!("{an} completed before {bn} began"),
    }
    let found = match ix {
        Index::List(li) => why_list(t, li, a, b, k, an, bn),
        Index::Reg(ri) => why_reg(t, ri, a, b, k, an, bn),
    };
    found.unwrap_or_else(|| format!("of a {} dependency", kind_name(k)))
}

fn why_list(t: &Txns, ix: &ListIndex, a: u32, b: u32, k: u8, an: &str, bn: &str) -> Option<String> {
    for ma in t.mops_of(a) {
        let key = ma.key;
        let ws = &ix.writers[key as usize];
        let order = &t.longest[key as usize];
        match k {
            WW if ma.kind == MopKind::Append => {
                let pos = |v: i64| ix.elem(key, v).map_or(NONE, |e| ix.pos[e as usize]);
                let pa = pos(ma.val);
                for mb in t.mops_of(b).iter().filter(|m| m.kind == MopKind::Append && m.key == key) {
                    let pb = pos(mb.val);
                    let next =
                        (pa != NONE && pb == pa + 1) || (pb == NONE && pa != NONE && pa as usize + 1 == order.len());
                    if next {
                        return Some(format!(
                            "{an} appended {} to key {} before {bn} appended {}",
                            t.show_val(ma.val),
                            t.show_key(key),
                            t.show_val(mb.val)
                        ));
                    }
                }
            }
            WR if ma.kind == MopKind::Append => {
                for mb in t.mops_of(b).iter().filter(|m| m.kind == MopKind::ReadPrefix && m.key == key && m.val > 0) {
                    if ws.get(mb.val as usize - 1).is_some_and(|w| *w != NONE && t.mops[*w as usize].txn == a) {
                        return Some(format!(
                            "{bn} read {an}'s append of {} to key {}",
                            t.show_val(ma.val),
                            t.show_key(key)
                        ));
                    }
                }
            }
            RW if ma.kind == MopKind::ReadPrefix => {
                let len = ma.val as usize;
                for mb in t.mops_of(b).iter().filter(|m| m.kind == MopKind::Append && m.key == key) {
                    let pb = ix.elem(key, mb.val).map_or(NONE, |e| ix.pos[e as usize]);
                    if pb as usize == len || (pb == NONE && len == order.len()) {
                        return Some(format!(
                            "{an} read key {} = {}, which did not yet have {bn}'s append of {}",
                            t.show_key(key),
                            show_list(t, &order[..len]),
                            t.show_val(mb.val)
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn why_reg(t: &Txns, ix: &RegIndex, a: u32, b: u32, k: u8, an: &str, bn: &str) -> Option<String> {
    let edge = ix.explain.get(&(a, b, k))?;
    let (key, v1, v2) = *edge;
    let show = |v: Option<i64>| v.map_or("nil".to_string(), |v| t.show_val(v));
    Some(match k {
        WW => format!("{an} wrote {} to key {} before {bn} wrote {}", show(v1), t.show_key(key), show(v2)),
        WR => format!("{bn} read {an}'s write of {} to key {}", show(v1), t.show_key(key)),
        _ => format!("{an} read key {} = {}, which {bn} overwrote with {}", t.show_key(key), show(v1), show(v2)),
    })
}
