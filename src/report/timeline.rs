//! Hand-drawn SVG timelines (simple enough not to need plotters): a small one per
//! linearizability failure (the op that cannot be linearized and the ops concurrent with it),
//! and Jepsen's per-process timeline of ops, in pages of `PAGE_OPS`, at most `MAX_PAGES` of
//! them (the first pages and those holding a failure; the rest is in `history.jsonl`).
//! Every string written into the SVG goes through `escape`. Each op of the process timeline is
//! anchored as `op-<index>`, by its invocation's index and its completion's (links from
//! `cycle` diagrams).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use crate::checker::KeyFailure;
use crate::history::{Op, OpType};

use super::charts::type_color;
use super::digest::{ClientOp, Digest};
use super::escape;

/// Client ops per page of the process timeline.
pub const PAGE_OPS: usize = 1000;
/// At most this many pages are drawn.
pub const MAX_PAGES: usize = 8;

fn hex(t: OpType) -> String {
    let c = type_color(t);
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// One op in words: `p3 write [1,4] → ok [1,4] (timeout)`.
pub fn describe(history: &[Op], o: &ClientOp, fs: &[String]) -> String {
    let inv = history.get(o.index as usize).filter(|op| op.index == o.index);
    let done = o.completion.and_then(|i| history.get(i as usize)).filter(|op| Some(op.index) == o.completion);
    let mut s = format!("p{} {} {}", o.process, fs[o.f as usize], inv.map_or(String::new(), |i| i.value.to_string()));
    match done {
        Some(d) => {
            let _ = write!(s, " → {} {}", d.kind, d.value);
            if let Some(e) = &d.error {
                let _ = write!(s, " ({e})");
            }
            let _ = write!(s, " in {:.1} ms", o.latency().unwrap_or(0) as f64 / 1e6);
        }
        None => s.push_str(" → never completed"),
    }
    s
}

/// Finds the client op whose invocation or completion has history index `index`.
fn find<'a>(by_index: &HashMap<u64, &'a ClientOp>, index: u64) -> Option<&'a ClientOp> {
    by_index.get(&index).copied()
}

/// The SVG of one failure: a row per op, the failing one outlined in red.
pub fn anomaly(d: &Digest, history: &[Op], f: &KeyFailure) -> String {
    let wanted: BTreeSet<u64> =
        std::iter::once(f.invocation.index).chain(f.concurrent.iter().map(|o| o.index)).collect();
    let by_index: HashMap<u64, &ClientOp> = d
        .ops
        .iter()
        .flat_map(|o| [(o.index, o), (o.completion.unwrap_or(o.index), o)])
        .filter(|(i, _)| wanted.contains(i))
        .collect();
    let mut rows: Vec<(&ClientOp, bool)> = Vec::new();
    if let Some(o) = find(&by_index, f.invocation.index) {
        rows.push((o, true));
    }
    for c in &f.concurrent {
        if let Some(o) = find(&by_index, c.index) {
            if !rows.iter().any(|(r, _)| r.index == o.index) {
                rows.push((o, false));
            }
        }
    }
    rows.sort_by_key(|(o, _)| o.invoke);
    if rows.is_empty() {
        return String::new();
    }
    let t0 = rows.iter().map(|(o, _)| o.invoke).min().unwrap_or(0);
    let t1 = rows.iter().map(|(o, _)| o.complete.unwrap_or(d.end)).max().unwrap_or(t0).max(t0 + 1);
    let (label_w, bar_w, row_h) = (430.0, 500.0, 20.0);
    let x = |t: u64| label_w + (t - t0) as f64 / (t1 - t0) as f64 * bar_w;
    let height = rows.len() as f64 * row_h + 30.0;
    let mut s = format!(
        "<svg class=\"anomaly\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">",
        label_w + bar_w + 20.0
    );
    for (i, (o, bad)) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let text = describe(history, o, &d.fs);
        let short: String = text.chars().take(70).collect();
        let (x0, x1) = (x(o.invoke), x(o.complete.unwrap_or(d.end)));
        let stroke = if *bad { " stroke=\"#D00\" stroke-width=\"2\"" } else { "" };
        let _ = write!(
            s,
            "<g><title>{}</title><text x=\"0\" y=\"{}\"{}>{}</text><rect x=\"{x0:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"14\" fill=\"{}\"{stroke}/></g>",
            escape(&text),
            y + 11.0,
            if *bad { " font-weight=\"bold\" fill=\"#D00\"" } else { "" },
            escape(&short),
            (x1 - x0).max(2.0),
            hex(o.outcome),
        );
    }
    let y = height - 8.0;
    let _ = write!(
        s,
        "<text x=\"{label_w}\" y=\"{y}\">{:.3} s</text><text x=\"{}\" y=\"{y}\" text-anchor=\"end\">{:.3} s</text></svg>",
        t0 as f64 / 1e9,
        label_w + bar_w,
        t1 as f64 / 1e9
    );
    s
}

/// Which pages to draw: the first ones, then those holding a failing op, at most `MAX_PAGES`.
pub fn pages(d: &Digest, failures: &[KeyFailure]) -> (Vec<usize>, usize) {
    let total = d.ops.len().div_ceil(PAGE_OPS);
    let mut chosen: BTreeSet<usize> = BTreeSet::new();
    for f in failures {
        let pos = d.ops.partition_point(|o| o.index < f.invocation.index);
        if chosen.len() < MAX_PAGES / 2 && pos < d.ops.len() {
            chosen.insert(pos / PAGE_OPS);
        }
    }
    let mut p = 0;
    while chosen.len() < MAX_PAGES.min(total) {
        chosen.insert(p);
        p += 1;
    }
    (chosen.into_iter().collect(), total)
}

/// One page of the per-process timeline: a column per process, time flowing down.
pub fn process_page(d: &Digest, history: &[Op], page: usize) -> String {
    let ops = &d.ops[page * PAGE_OPS..((page + 1) * PAGE_OPS).min(d.ops.len())];
    let procs: BTreeSet<u64> = ops.iter().map(|o| o.process).collect();
    let col: HashMap<u64, usize> = procs.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let t0 = ops.first().map_or(0, |o| o.invoke);
    let t1 = ops.iter().map(|o| o.complete.unwrap_or(d.end)).max().unwrap_or(t0).max(t0 + 1);
    // Tall enough that an average op is about 16 px high.
    let height = (ops.len() as f64 / procs.len().max(1) as f64 * 16.0).clamp(300.0, 4000.0);
    let y = |t: u64| 20.0 + (t.saturating_sub(t0)) as f64 / (t1 - t0) as f64 * height;
    let (col_w, gap) = (96.0, 4.0);
    let mut s = format!(
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"10\">",
        procs.len() as f64 * col_w + 60.0,
        height + 30.0
    );
    for (p, i) in &col {
        let _ = write!(s, "<text x=\"{}\" y=\"12\">p{p}</text>", 60.0 + *i as f64 * col_w);
    }
    let _ = write!(
        s,
        "<text x=\"0\" y=\"24\">{:.3} s</text><text x=\"0\" y=\"{}\">{:.3} s</text>",
        t0 as f64 / 1e9,
        height + 20.0,
        t1 as f64 / 1e9
    );
    for o in ops {
        let x = 60.0 + col[&o.process] as f64 * col_w;
        let (y0, y1) = (y(o.invoke), y(o.complete.unwrap_or(d.end)));
        let h = (y1 - y0).max(2.0);
        let text = describe(history, o, &d.fs);
        let _ = write!(
            s,
            "<g id=\"op-{}\"><title>{}</title><rect{} x=\"{x}\" y=\"{y0:.1}\" width=\"{}\" height=\"{h:.1}\" fill=\"{}\"/>",
            o.index,
            escape(&text),
            o.completion.map_or(String::new(), |c| format!(" id=\"op-{c}\"")),
            col_w - gap,
            hex(o.outcome)
        );
        if h >= 11.0 {
            let short: String = d.fs[o.f as usize].chars().take(14).collect();
            let _ = write!(s, "<text x=\"{}\" y=\"{:.1}\">{}</text>", x + 2.0, y0 + 9.0, escape(&short));
        }
        s.push_str("</g>");
    }
    s.push_str("</svg>");
    s
}
