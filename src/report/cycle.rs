//! The cycle diagram of a transactional anomaly: `svg(anomaly)` draws its `cycle` as an SVG of
//! brawl's own (no graphviz, no script). Transactions are boxes on a circle, labelled `T1..Tn`
//! in cycle order, each a link to its op in the report's timeline (`#op-<index>`, the anchors
//! `timeline::process_page` writes); each step is a curved arrow labelled with its kind (`ww`,
//! `wr`, `rw`, `process`, `realtime`) whose tooltip is the step's explanation. Arrowheads are
//! drawn as polygons rather than `<marker>`s, so that many diagrams on one page share no ids.
//! Every string from the history goes through `escape`.

use std::f64::consts::PI;
use std::fmt::Write;

use crate::checker::Anomaly;

use super::escape;

const BOX_W: f64 = 64.0;
const BOX_H: f64 = 26.0;

fn color(kind: &str) -> &'static str {
    match kind {
        "ww" => "#1f77b4",
        "wr" => "#2ca02c",
        "rw" => "#d62728",
        "process" => "#9467bd",
        "realtime" => "#7f7f7f",
        _ => "#333333",
    }
}

/// The transactions of the cycle, in the order the steps visit them.
pub fn txns(anomaly: &Anomaly) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for s in &anomaly.cycle {
        for i in [s.from, s.to] {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out
}

/// Where the segment from the centre of a box towards `(dx, dy)` leaves the box.
fn box_exit(dx: f64, dy: f64) -> f64 {
    let (ax, ay) = (dx.abs().max(1e-9), dy.abs().max(1e-9));
    let len = (dx * dx + dy * dy).sqrt();
    let t = (BOX_W / 2.0 / ax).min(BOX_H / 2.0 / ay);
    (t * len + 4.0).min(len / 2.0)
}

/// The SVG of `anomaly`'s cycle, or an empty string when it has none.
pub fn svg(anomaly: &Anomaly) -> String {
    let nodes = txns(anomaly);
    if nodes.is_empty() {
        return String::new();
    }
    let n = nodes.len();
    let r = if n == 1 { 0.0 } else { (n as f64 * 34.0).max(90.0) };
    let (cx, cy) = (r + BOX_W / 2.0 + 40.0, r + BOX_H / 2.0 + 40.0);
    let pos: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = -PI / 2.0 + 2.0 * PI * i as f64 / n as f64;
            (cx + r * a.cos(), cy + r * a.sin())
        })
        .collect();
    let at = |index: u64| nodes.iter().position(|&x| x == index).unwrap_or(0);
    let (w, h) = (2.0 * cx, 2.0 * cy);
    let mut s = format!(
        "<svg class=\"cycle\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
         viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    for step in &anomaly.cycle {
        let (a, b) = (pos[at(step.from)], pos[at(step.to)]);
        let c = color(&step.kind);
        let title = format!("T{} → T{} ({}): {}", at(step.from) + 1, at(step.to) + 1, step.kind, step.why);
        let _ = write!(s, "<g class=\"step\"><title>{}</title>", escape(&title));
        if step.from == step.to {
            // A transaction depending on itself: a loop above its box.
            let (x, y) = (a.0, a.1 - BOX_H / 2.0);
            let _ = write!(
                s,
                "<path d=\"M{:.1},{y:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{y:.1}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\"/>\
                 <polygon points=\"{:.1},{y:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"{c}\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{c}\">{}</text></g>",
                x - 12.0,
                x - 30.0,
                y - 40.0,
                x + 30.0,
                y - 40.0,
                x + 12.0,
                x + 12.0,
                x + 8.0,
                y - 9.0,
                x + 17.0,
                y - 7.0,
                y - 34.0,
                escape(&step.kind)
            );
            continue;
        }
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        let (ux, uy) = (dx / len, dy / len);
        // Bend to the left of the direction of travel, so that a->b and b->a do not overlap.
        let bend = 0.18 * len;
        let (mx, my) = ((a.0 + b.0) / 2.0 + uy * bend, (a.1 + b.1) / 2.0 - ux * bend);
        let cut = box_exit(dx, dy);
        let leave = |p: (f64, f64), q: (f64, f64)| {
            let (vx, vy) = (q.0 - p.0, q.1 - p.1);
            let l = (vx * vx + vy * vy).sqrt().max(1e-9);
            (p.0 + vx / l * cut, p.1 + vy / l * cut)
        };
        let (p0, p1) = (leave(a, (mx, my)), leave(b, (mx, my)));
        // Arrowhead along the curve's end tangent (from the control point to the end).
        let (tx, ty) = (p1.0 - mx, p1.1 - my);
        let tl = (tx * tx + ty * ty).sqrt().max(1e-9);
        let (tx, ty) = (tx / tl, ty / tl);
        let base = (p1.0 - tx * 10.0, p1.1 - ty * 10.0);
        let (l, rr) = ((base.0 + ty * 5.0, base.1 - tx * 5.0), (base.0 - ty * 5.0, base.1 + tx * 5.0));
        // The label sits on the curve's midpoint, pushed a little further out.
        let (lx, ly) = ((p0.0 + 2.0 * mx + p1.0) / 4.0 + uy * 10.0, (p0.1 + 2.0 * my + p1.1) / 4.0 - ux * 10.0);
        let _ = write!(
            s,
            "<path d=\"M{:.1},{:.1} Q{mx:.1},{my:.1} {:.1},{:.1}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\"/>\
             <polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"{c}\"/>\
             <text x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{c}\">{}</text></g>",
            p0.0,
            p0.1,
            p1.0,
            p1.1,
            p1.0,
            p1.1,
            l.0,
            l.1,
            rr.0,
            rr.1,
            ly + 4.0,
            escape(&step.kind)
        );
    }
    for (i, (&index, &(x, y))) in nodes.iter().zip(&pos).enumerate() {
        let _ = write!(
            s,
            "<a class=\"txn\" href=\"#op-{index}\"><title>{}</title>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"4\" fill=\"#ffffff\" stroke=\"#333333\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">T{}</text></a>",
            escape(&format!("T{}: op {index} (click for the timeline)", i + 1)),
            x - BOX_W / 2.0,
            y - BOX_H / 2.0,
            y + 4.0,
            i + 1
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use quick_xml::events::Event;
    use quick_xml::Reader;

    use super::*;
    use crate::checker::CycleStep;

    fn step(from: u64, to: u64, kind: &str, why: &str) -> CycleStep {
        CycleStep { from, to, kind: kind.into(), why: why.into() }
    }

    /// Parses `svg` as XML and returns (element name, href) for every element.
    fn elements(svg: &str) -> Vec<(String, Option<String>)> {
        let mut reader = Reader::from_str(svg);
        let mut out = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) | Event::Empty(e) => {
                    let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                    let href =
                        e.try_get_attribute("href").unwrap().map(|a| String::from_utf8(a.value.to_vec()).unwrap());
                    out.push((name, href));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    #[test]
    fn one_box_per_transaction_and_one_arrow_per_step_each_linked_to_the_timeline() {
        let a = Anomaly {
            explanation: "G-single".into(),
            cycle: vec![
                step(3, 7, "wr", "T2 read T1's append of 1 to key x"),
                step(7, 12, "ww", "T3 appended after T2"),
                step(12, 3, "rw", "T1 did not see T3's append"),
            ],
            ..Default::default()
        };
        let svg = svg(&a);
        let els = elements(&svg);
        assert_eq!(els[0].0, "svg");
        let links: Vec<&str> = els.iter().filter(|(n, _)| n == "a").filter_map(|(_, h)| h.as_deref()).collect();
        assert_eq!(links, ["#op-3", "#op-7", "#op-12"]);
        assert_eq!(els.iter().filter(|(n, _)| n == "rect").count(), 3);
        assert_eq!(els.iter().filter(|(n, _)| n == "path").count(), 3);
        assert_eq!(els.iter().filter(|(n, _)| n == "polygon").count(), 3);
        for (label, kind) in [("T1", "wr"), ("T2", "ww"), ("T3", "rw")] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
            assert!(svg.contains(&format!(">{kind}</text>")), "{kind}");
        }
        assert!(svg.contains("T1 → T2 (wr): T2 read T1&#39;s append of 1 to key x"));
    }

    #[test]
    fn two_transactions_get_two_separate_arrows() {
        let a = Anomaly { cycle: vec![step(1, 2, "ww", "a"), step(2, 1, "realtime", "b")], ..Default::default() };
        let svg = svg(&a);
        let paths: Vec<&str> = svg.match_indices("<path d=\"").map(|(i, _)| &svg[i..i + 60]).collect();
        assert_eq!(paths.len(), 2);
        assert_ne!(paths[0], paths[1]);
        assert!(svg.contains(">realtime</text>"));
    }

    #[test]
    fn strings_from_the_history_are_escaped() {
        let a = Anomaly {
            cycle: vec![
                step(1, 2, "<script>alert(1)</script>", "x\"><script>alert(2)</script>"),
                step(2, 1, "rw", "& more"),
            ],
            ..Default::default()
        };
        let svg = svg(&a);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains("&amp; more"));
        let els = elements(&svg);
        assert!(els
            .iter()
            .all(|(n, _)| ["svg", "g", "title", "path", "polygon", "text", "a", "rect"].contains(&n.as_str())));
    }

    #[test]
    fn no_cycle_draws_nothing_and_a_self_loop_draws_a_loop() {
        assert_eq!(svg(&Anomaly::default()), "");
        let s = svg(&Anomaly { cycle: vec![step(5, 5, "ww", "itself")], ..Default::default() });
        let els = elements(&s);
        assert_eq!(els.iter().filter(|(n, _)| n == "rect").count(), 1);
        assert_eq!(els.iter().filter(|(n, _)| n == "path").count(), 1);
    }

    #[test]
    fn the_timeline_has_the_anchors_the_diagram_links_to() {
        use crate::checker::txn_gen::{generate_ops, GenSpec};
        let ops = generate_ops(&GenSpec { txns: 20, concurrency: 3, ..Default::default() });
        let page = crate::report::timeline::process_page(&crate::report::digest(&ops), &ops, 0);
        let a = Anomaly { cycle: vec![step(1, ops[3].index, "ww", "")], ..Default::default() };
        for link in elements(&svg(&a)).into_iter().filter_map(|(_, h)| h) {
            let id = format!("id=\"{}\"", link.trim_start_matches('#'));
            assert!(page.contains(&id), "{id} missing from the timeline");
        }
        assert_eq!(page.matches(" id=\"op-").count(), ops.len());
    }
}
