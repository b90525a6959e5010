//! The generic rendering of `Results.checkers` (every `CheckOutcome`: sets, counters, banks,
//! queues, locks, ids, transactions): a verdict row per checker in the page's verdict table, a
//! section per checker with its figures, and per anomaly class its explanations and the ops
//! involved (at most `MAX_PER_CLASS` anomalies per class, then "and N more"); bank's totals over
//! time as a chart and set-full's latency quantiles as a table; and one JUnit test case per
//! outcome. Every string from the history or a checker passes `escape`.

use std::fmt::Write;

use plotters::prelude::*;
use quick_junit::TestCase;
use serde_json::Value;

use crate::checker::{Anomaly, CheckOutcome, Validity};
use crate::history::Op;

use super::html::escape;

/// At most this many anomalies of one class are shown; the rest are counted.
pub const MAX_PER_CLASS: usize = 20;
/// At most this many ops are shown per anomaly.
const MAX_OPS: usize = 10;
/// At most this many characters of an anomaly's data are shown.
const MAX_DATA: usize = 600;

fn verdict(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

/// One row per outcome for the verdict table (`<tr>` with checker, verdict, summary).
pub fn verdict_rows(h: &mut String, outcomes: &[CheckOutcome]) {
    for (i, o) in outcomes.iter().enumerate() {
        let _ = write!(
            h,
            "<tr><td><a href=\"#outcome-{i}\">{}</a></td><td class={v}>{v}</td><td class=l>{}</td></tr>",
            escape(&o.checker),
            escape(&o.summary),
            v = verdict(o.validity)
        );
    }
}

/// A section per outcome: summary, figures, charts and anomalies. Nothing when there are none.
pub fn sections(h: &mut String, outcomes: &[CheckOutcome], history: &[Op]) {
    if outcomes.is_empty() {
        return;
    }
    h.push_str("<h2 id=outcomes>Checker results</h2>");
    for (i, o) in outcomes.iter().enumerate() {
        let v = verdict(o.validity);
        let _ = write!(
            h,
            "<section class=outcome id=\"outcome-{i}\"><h3>{}: <span class={v}>{v}</span></h3><p>{}</p>",
            escape(&o.checker),
            escape(&o.summary)
        );
        if !o.not.is_empty() {
            let _ = write!(
                h,
                "<p>Not {}; so also not {}.</p>",
                escape(&o.not.join(", ")),
                if o.also_not.is_empty() { "anything stronger".to_string() } else { escape(&o.also_not.join(", ")) }
            );
        }
        figures(h, &o.details);
        latency_table(h, &o.details);
        if o.checker == "bank" {
            bank_chart(h, i, &o.details);
        }
        for class in &o.anomaly_types {
            let Some(list) = o.anomalies.get(class) else { continue };
            anomaly_class(h, class, list, history);
        }
        h.push_str("</section>");
    }
}

/// The scalar fields of `details`: numbers and flags on one line, strings (element lists as
/// intervals) one per row.
fn figures(h: &mut String, details: &Value) {
    let Some(m) = details.as_object() else { return };
    let name = |k: &str| escape(&k.replace('_', " "));
    let inline: Vec<String> = m
        .iter()
        .filter_map(|(k, v)| match v {
            Value::Number(_) | Value::Bool(_) => Some(format!("{} <b>{v}</b>", name(k))),
            _ => None,
        })
        .collect();
    if !inline.is_empty() {
        let _ = write!(h, "<p class=figures>{}</p>", inline.join(" · "));
    }
    let strings: Vec<(&String, &str)> =
        m.iter().filter_map(|(k, v)| v.as_str().filter(|s| !s.is_empty()).map(|s| (k, s))).collect();
    if strings.is_empty() {
        return;
    }
    h.push_str("<table class=figures>");
    for (k, v) in strings {
        let _ = write!(h, "<tr><td>{}</td><td class=l>{}</td></tr>", name(k), escape(&clip(v, MAX_DATA)));
    }
    h.push_str("</table>");
}

/// set-full's stable and lost latency quantiles, when present.
fn latency_table(h: &mut String, details: &Value) {
    let qs = ["0", "0.5", "0.95", "0.99", "1"];
    let rows: Vec<(&str, &serde_json::Map<String, Value>)> =
        [("stable", "stable_latencies"), ("lost", "lost_latencies")]
            .into_iter()
            .filter_map(|(name, key)| details.get(key).and_then(Value::as_object).map(|m| (name, m)))
            .collect();
    if rows.is_empty() {
        return;
    }
    h.push_str("<table class=latencies><tr><th>latency (ms)</th>");
    for q in qs {
        let _ = write!(h, "<th>q {q}</th>");
    }
    h.push_str("</tr>");
    for (name, m) in rows {
        let _ = write!(h, "<tr><td>{name}</td>");
        for q in qs {
            let cell = m.get(q).and_then(Value::as_f64).map_or("—".to_string(), |x| format!("{x:.3}"));
            let _ = write!(h, "<td>{cell}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str(
        "</table><p><small>Stable: from when an element was known to be in the set to when every read saw it. \
         Lost: from then to the last read that saw it.</small></p>",
    );
}

fn anomaly_class(h: &mut String, class: &str, list: &[Anomaly], history: &[Op]) {
    let _ = write!(h, "<h4>{} ({})</h4><ol class=anomalies>", escape(class), list.len());
    for a in list.iter().take(MAX_PER_CLASS) {
        let _ = write!(h, "<li class=anomaly>{}", escape(&a.explanation));
        if !a.cycle.is_empty() {
            // The diagram, then its steps in words, with the diagram's labels (T1..Tn in order
            // of first appearance) and the ops they stand for.
            h.push_str(&super::cycle::svg(a));
            let txns = super::cycle::txns(a);
            let label = |i: u64| txns.iter().position(|&x| x == i).map_or(0, |p| p + 1);
            h.push_str("<ol class=cycle>");
            for s in &a.cycle {
                let _ = write!(
                    h,
                    "<li>T{} (op {}) → T{} (op {}) ({}): {}</li>",
                    label(s.from),
                    s.from,
                    label(s.to),
                    s.to,
                    escape(&s.kind),
                    escape(&s.why)
                );
            }
            h.push_str("</ol>");
        }
        if !a.ops.is_empty() || !a.data.is_null() {
            let n = a.ops.len();
            let _ = write!(h, "<details><summary>{n} {}</summary>", if n == 1 { "op" } else { "ops" });
            if !a.ops.is_empty() {
                let lines: Vec<String> = a.ops.iter().take(MAX_OPS).map(|&i| op_line(history, i)).collect();
                let more = a.ops.len().saturating_sub(MAX_OPS);
                let _ = write!(
                    h,
                    "<pre>{}{}</pre>",
                    lines.join("\n"),
                    if more > 0 { format!("\n… and {more} more ops") } else { String::new() }
                );
            }
            if !a.data.is_null() {
                let _ = write!(h, "<p><code>{}</code></p>", escape(&clip(&a.data.to_string(), MAX_DATA)));
            }
            h.push_str("</details>");
        }
        h.push_str("</li>");
    }
    h.push_str("</ol>");
    if list.len() > MAX_PER_CLASS {
        let _ = write!(
            h,
            "<p>… and {} more {} anomalies (every one is in results.json).</p>",
            list.len() - MAX_PER_CLASS,
            escape(class)
        );
    }
}

/// The op with history index `i`, as one escaped line.
fn op_line(history: &[Op], i: u64) -> String {
    let op = match history.get(i as usize).filter(|o| o.index == i) {
        Some(op) => Some(op),
        None => history.binary_search_by_key(&i, |o| o.index).ok().map(|p| &history[p]),
    };
    let Some(op) = op else { return format!("#{i} (not in history.jsonl)") };
    let mut s =
        format!("#{} t={:.3}s p{} {} {} {}", op.index, op.time as f64 / 1e9, op.process, op.kind, op.f, op.value);
    if let Some(node) = &op.node {
        let _ = write!(s, " on {node}");
    }
    if let Some(e) = &op.error {
        let _ = write!(s, " ({e})");
    }
    escape(&clip(&s, MAX_DATA))
}

/// `s` cut to at most `n` characters, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// bank: the total of every ok read over time, with the expected total as a line.
fn bank_chart(h: &mut String, i: usize, details: &Value) {
    let pts: Vec<(f64, f64)> = details
        .get("totals")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|p| Some((p.get(0)?.as_f64()? / 1e9, p.get(1)?.as_f64()?))).collect())
        .unwrap_or_default();
    if pts.is_empty() {
        return;
    }
    let expected = details.get("expected_total").and_then(Value::as_f64);
    match totals_svg(&pts, expected) {
        Ok(svg) => {
            let _ = write!(
                h,
                "<figure id=\"bank-totals-{i}\">{svg}<figcaption>The total of the balances in each ok read; the \
                 line is the expected total.</figcaption></figure>"
            );
        }
        Err(e) => {
            let _ = write!(h, "<p class=warn>chart bank-totals-{i} could not be drawn: {}</p>", escape(&e));
        }
    }
}

fn totals_svg(pts: &[(f64, f64)], expected: Option<f64>) -> Result<String, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let x1 = pts.iter().map(|p| p.0).fold(0.001, f64::max) * 1.02;
    let ys = pts.iter().map(|p| p.1).chain(expected);
    let (lo, hi) = ys.fold((f64::MAX, f64::MIN), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let pad = ((hi - lo) * 0.1).max(1.0);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (960, 240)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x1, (lo - pad)..(hi + pad))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("total")
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(|e| err(&e))?;
        if let Some(t) = expected {
            let line = LineSeries::new([(0.0, t), (x1, t)], RGBColor(0x2C, 0xA0, 0x2C).stroke_width(1));
            chart.draw_series(line).map_err(|e| err(&e))?;
        }
        let color = RGBColor(0x1F, 0x77, 0xB4);
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 2, color.filled()))).map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(out)
}

/// One JUnit test case per outcome: valid passes, invalid is a failure, unknown an error.
pub fn junit_cases(outcomes: &[CheckOutcome], classname: &str) -> Vec<TestCase> {
    outcomes
        .iter()
        .map(|o| {
            let mut text = Vec::new();
            for class in &o.anomaly_types {
                let list = o.anomalies.get(class).map_or(&[][..], Vec::as_slice);
                text.push(format!("{class}: {}", list.len()));
                for a in list.iter().take(MAX_PER_CLASS) {
                    let ops: Vec<String> = a.ops.iter().take(MAX_OPS).map(|i| format!("#{i}")).collect();
                    text.push(format!("  {} [ops {}]", a.explanation, ops.join(" ")));
                }
                if list.len() > MAX_PER_CLASS {
                    text.push(format!("  ... and {} more", list.len() - MAX_PER_CLASS));
                }
            }
            let mut c = super::junit::case(&o.checker, o.validity, &o.summary, &text.join("\n"));
            c.set_classname(classname.to_string());
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(n: usize) -> CheckOutcome {
        let mut o = CheckOutcome::new("set", Validity::Invalid, "lost <b>things</b>");
        for i in 0..n {
            o.push(
                "lost",
                Anomaly {
                    explanation: format!("<script>{i}</script> was lost"),
                    ops: (0..15).collect(),
                    data: json!({"element": "<i>"}),
                    ..Anomaly::default()
                },
            );
        }
        o
    }

    #[test]
    fn classes_are_capped_and_everything_is_escaped() {
        let mut h = String::new();
        sections(&mut h, &[outcome(25)], &[]);
        assert_eq!(h.matches("<li class=anomaly>").count(), MAX_PER_CLASS);
        assert!(h.contains("and 5 more lost anomalies"), "{h}");
        assert!(h.contains("… and 5 more ops"));
        assert!(h.contains("#3 (not in history.jsonl)"));
        assert!(!h.contains("<script") && !h.contains("<b>") && !h.contains("<i>"), "{h}");
        assert!(h.contains("&lt;script&gt;0&lt;/script&gt;"));
    }

    #[test]
    fn a_cycle_is_a_diagram_and_an_ordered_list_of_steps() {
        let mut o = CheckOutcome::new("list-append", Validity::Invalid, "G-single");
        o.push(
            "G-single",
            Anomaly {
                explanation: "a cycle".into(),
                cycle: vec![
                    crate::checker::CycleStep { from: 1, to: 3, kind: "wr".into(), why: "T2 read <x>".into() },
                    crate::checker::CycleStep { from: 3, to: 1, kind: "rw".into(), why: "back".into() },
                ],
                ..Anomaly::default()
            },
        );
        let mut h = String::new();
        sections(&mut h, &[o], &[]);
        assert!(h.contains(
            "<ol class=cycle><li>T1 (op 1) → T2 (op 3) (wr): T2 read &lt;x&gt;</li><li>T2 (op 3) → T1 (op 1) (rw): back</li></ol>"
        ));
        assert_eq!(h.matches("<svg class=\"cycle\"").count(), 1, "the diagram is drawn above the steps");
    }

    #[test]
    fn bank_totals_are_drawn() {
        let mut o = CheckOutcome::new("bank", Validity::Valid, "ok");
        o.details = json!({"totals": [[1_000_000_000u64, 100], [2_000_000_000u64, 100]], "expected_total": 100});
        let mut h = String::new();
        sections(&mut h, &[o], &[]);
        assert!(h.contains("id=\"bank-totals-0\"><svg"), "{h}");
        assert!(h.contains("expected_total") || h.contains("expected total"));
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("ééé", 2), "éé…");
        assert_eq!(clip("ab", 2), "ab");
    }
}
