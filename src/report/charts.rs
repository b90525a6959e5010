//! The report's charts, drawn by plotters into SVG strings (no fonts needed: the SVG backend
//! writes `<text>` and the browser picks the font). Every time chart shades the fault intervals,
//! one colour per fault kind (`FaultKind::color`), with the kind in its legend. Text that
//! plotters writes into the SVG (fs, node names) is escaped by plotters' SVG backend.
//!
//! Large histories are downsampled for the latency scatter only (`MAX_POINTS`); quantiles and
//! rates are computed from every op (hdrhistogram per time bucket).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::history::OpType;
use crate::nemesis::FaultKind;

use super::availability::Availability;
use super::digest::{ClientOp, Digest};

/// At most this many points are drawn in the latency scatter.
pub const MAX_POINTS: usize = 20_000;
/// Time charts have at most this many buckets.
const BUCKETS: u64 = 150;
const W: u32 = 960;
const H: u32 = 320;
const FONT: &str = "sans-serif";

/// Jepsen's colours for ok, info and fail.
pub fn type_color(t: OpType) -> RGBColor {
    match t {
        OpType::Ok => RGBColor(0x81, 0xBF, 0xFC),
        OpType::Info => RGBColor(0xFF, 0xA4, 0x00),
        OpType::Fail => RGBColor(0xFF, 0x1E, 0x90),
        OpType::Invoke => RGBColor(0x99, 0x99, 0x99),
    }
}

/// A fault kind's shading colour.
pub fn fault_color(k: FaultKind) -> RGBColor {
    let hex = k.color().trim_start_matches('#');
    let c = |i: usize| hex.get(i..i + 2).and_then(|s| u8::from_str_radix(s, 16).ok()).unwrap_or(0xCC);
    RGBColor(c(0), c(2), c(4))
}

type Chart<'a, 'b, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>;
type DrawResult<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Renders `draw` onto a fresh SVG of the standard size.
fn svg(draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> DrawResult<()>) -> DrawResult<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// Shades every fault interval over the whole height `y0..y1`; the first of each kind is labelled.
fn draw_bands<'a, 'b: 'a, Y>(
    chart: &mut Chart<'a, 'b, Y>,
    d: &Digest,
    y0: Y::ValueType,
    y1: Y::ValueType,
) -> DrawResult<()>
where
    Y: Ranged,
    Y::ValueType: Clone + 'static,
{
    let mut labelled = Vec::new();
    for f in &d.faults {
        let color = fault_color(f.kind);
        let rect =
            Rectangle::new([(secs(f.start), y0.clone()), (secs(d.fault_end(f)), y1.clone())], color.mix(0.6).filled());
        let series = chart.draw_series(std::iter::once(rect)).map_err(err)?;
        if !labelled.contains(&f.kind) {
            labelled.push(f.kind);
            series
                .label(f.kind.name())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.mix(0.6).filled()));
        }
    }
    Ok(())
}

fn legend<'a, 'b: 'a, Y: Ranged>(chart: &mut Chart<'a, 'b, Y>) -> DrawResult<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(err)
}

/// The ops drawn in the scatter: all of them up to `MAX_POINTS`; past that, failed and
/// indeterminate ops first (up to a fifth), then an even stride over the ok ones.
pub fn sample(ops: &[ClientOp]) -> Vec<&ClientOp> {
    let done: Vec<&ClientOp> = ops.iter().filter(|o| o.complete.is_some()).collect();
    if done.len() <= MAX_POINTS {
        return done;
    }
    let (bad, good): (Vec<&ClientOp>, Vec<&ClientOp>) = done.into_iter().partition(|o| o.outcome != OpType::Ok);
    fn stride(v: Vec<&ClientOp>, n: usize) -> Vec<&ClientOp> {
        if v.len() <= n {
            return v;
        }
        let step = v.len() as f64 / n as f64;
        (0..n).map(|i| v[(i as f64 * step) as usize]).collect()
    }
    let bad = stride(bad, MAX_POINTS / 5);
    let good = stride(good, MAX_POINTS - bad.len());
    let mut all: Vec<&ClientOp> = bad.into_iter().chain(good).collect();
    all.sort_by_key(|o| o.index);
    all
}

/// Latency over time: a point per op (coloured by outcome, shaped by f), log scale.
pub fn latency_scatter(d: &Digest, points: &[&ClientOp]) -> DrawResult<String> {
    let ms = |o: &ClientOp| (o.latency().unwrap_or(0) as f64 / 1e6).max(0.01);
    let max = points.iter().map(|o| ms(o)).fold(1.0, f64::max) * 1.5;
    let min = points.iter().map(|o| ms(o)).fold(max, f64::min).max(0.01) / 1.5;
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..secs(d.end).max(0.001), (min..max).log_scale())
            .map_err(err)?;
        chart.configure_mesh().x_desc("time (s)").y_desc("latency (ms)").label_style((FONT, 12)).draw().map_err(err)?;
        draw_bands(&mut chart, d, min, max)?;
        for (fi, f) in d.fs.iter().enumerate() {
            for t in [OpType::Ok, OpType::Info, OpType::Fail] {
                let pts: Vec<(f64, f64)> = points
                    .iter()
                    .filter(|o| o.f as usize == fi && o.outcome == t)
                    .map(|o| (secs(o.invoke), ms(o)))
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                let style = type_color(t).filled();
                let label = format!("{f} {t}");
                let series = match fi % 4 {
                    0 => chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 2, style))),
                    1 => chart.draw_series(pts.into_iter().map(|p| TriangleMarker::new(p, 3, style))),
                    2 => chart.draw_series(pts.into_iter().map(|p| Cross::new(p, 2, type_color(t).stroke_width(1)))),
                    _ => chart.draw_series(
                        pts.into_iter().map(|p| EmptyElement::at(p) + Rectangle::new([(-2, -2), (2, 2)], style)),
                    ),
                }
                .map_err(err)?;
                let color = type_color(t);
                series.label(label).legend(move |(x, y)| match fi % 4 {
                    0 => Circle::new((x + 6, y), 3, color.filled()).into_dyn(),
                    1 => TriangleMarker::new((x + 6, y), 4, color.filled()).into_dyn(),
                    2 => Cross::new((x + 6, y), 3, color.stroke_width(1)).into_dyn(),
                    _ => Rectangle::new([(x + 3, y - 3), (x + 9, y + 3)], color.filled()).into_dyn(),
                });
            }
        }
        legend(&mut chart)
    })
}

/// The width of a time bucket (ns): a whole number of seconds, at most `BUCKETS` buckets.
pub fn bucket_width(end: u64) -> u64 {
    let secs = end.div_ceil(1_000_000_000).max(1);
    secs.div_ceil(BUCKETS).max(1) * 1_000_000_000
}

/// Latency quantiles (p50, p95, p99, max) of one f's ok ops per time bucket, from every op.
pub fn quantiles(d: &Digest, f: u16) -> DrawResult<String> {
    let width = bucket_width(d.end);
    let mut buckets: BTreeMap<u64, Histogram<u64>> = BTreeMap::new();
    for o in d.ops.iter().filter(|o| o.f == f && o.outcome == OpType::Ok) {
        let us = (o.latency().unwrap_or(0) / 1000).max(1);
        let h = buckets.entry(o.invoke / width).or_insert_with(|| Histogram::new(3).expect("3 significant digits"));
        let _ = h.record(us);
    }
    let qs: [(&str, f64, RGBColor); 4] = [
        ("p50", 0.5, RGBColor(0x1F, 0x77, 0xB4)),
        ("p95", 0.95, RGBColor(0x2C, 0xA0, 0x2C)),
        ("p99", 0.99, RGBColor(0xFF, 0x7F, 0x0E)),
        ("max", 1.0, RGBColor(0xD6, 0x27, 0x28)),
    ];
    let series: Vec<Vec<(f64, f64)>> = qs
        .iter()
        .map(|(_, q, _)| {
            buckets
                .iter()
                .map(|(b, h)| (secs(b * width + width / 2), (h.value_at_quantile(*q) as f64 / 1000.0).max(0.01)))
                .collect()
        })
        .collect();
    let max = series.iter().flatten().map(|p| p.1).fold(1.0, f64::max) * 1.5;
    let min = series.iter().flatten().map(|p| p.1).fold(max, f64::min) / 1.5;
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .caption(format!("{} latency quantiles", d.fs[f as usize]), (FONT, 14))
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..secs(d.end).max(0.001), (min..max).log_scale())
            .map_err(err)?;
        chart.configure_mesh().x_desc("time (s)").y_desc("latency (ms)").label_style((FONT, 12)).draw().map_err(err)?;
        draw_bands(&mut chart, d, min, max)?;
        for ((name, _, color), pts) in qs.iter().zip(series) {
            let color = *color;
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], color.stroke_width(2)));
        }
        legend(&mut chart)
    })
}

/// Completions per second by type (ok, info, fail), per time bucket.
pub fn throughput(d: &Digest) -> DrawResult<String> {
    let width = bucket_width(d.end);
    let n = (d.end / width + 1) as usize;
    let types = [OpType::Ok, OpType::Info, OpType::Fail];
    let mut counts = vec![[0u64; 3]; n];
    for o in &d.ops {
        if let (Some(c), Some(t)) = (o.complete, types.iter().position(|t| *t == o.outcome)) {
            counts[((c / width) as usize).min(n - 1)][t] += 1;
        }
    }
    let per_s = width as f64 / 1e9;
    let max = counts.iter().flatten().map(|&c| c as f64 / per_s).fold(1.0, f64::max) * 1.15;
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..secs(d.end).max(0.001), 0.0..max)
            .map_err(err)?;
        chart.configure_mesh().x_desc("time (s)").y_desc("ops/s").label_style((FONT, 12)).draw().map_err(err)?;
        draw_bands(&mut chart, d, 0.0, max)?;
        for (i, t) in types.iter().enumerate() {
            let pts = counts.iter().enumerate().map(|(b, c)| (secs(b as u64 * width + width / 2), c[i] as f64 / per_s));
            let color = type_color(*t);
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(err)?
                .label(t.to_string())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], color.stroke_width(2)));
        }
        legend(&mut chart)
    })
}

/// The share of ops the system answered, per second of the run. A second in which no op was
/// invoked breaks the line: there is nothing to measure there.
pub fn availability(d: &Digest, a: &Availability) -> DrawResult<String> {
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (s, (ok, total)) in a.per_second.iter().enumerate() {
        if *total == 0 {
            runs.push(Vec::new());
        } else if let Some(run) = runs.last_mut() {
            run.push((s as f64 + 0.5, 100.0 * *ok as f64 / *total as f64));
        }
    }
    runs.retain(|r| !r.is_empty());
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..secs(d.end).max(0.001), 0.0..105.0)
            .map_err(err)?;
        chart.configure_mesh().x_desc("time (s)").y_desc("answered (%)").label_style((FONT, 12)).draw().map_err(err)?;
        draw_bands(&mut chart, d, 0.0, 105.0)?;
        let color = RGBColor(0x1F, 0x77, 0xB4);
        for (i, run) in runs.into_iter().enumerate() {
            let series = chart.draw_series(LineSeries::new(run, color.stroke_width(2)).point_size(2)).map_err(err)?;
            if i == 0 {
                series
                    .label("ops answered per second")
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], color.stroke_width(2)));
            }
        }
        legend(&mut chart)
    })
}

/// Each node's clock offset over time, when clock faults measured any.
pub fn clock_offsets(d: &Digest) -> Option<DrawResult<String>> {
    if d.clock.is_empty() {
        return None;
    }
    let mut by_node: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for s in &d.clock {
        by_node.entry(s.node.as_str()).or_default().push((secs(s.time), s.offset_s));
    }
    let hi = d.clock.iter().map(|s| s.offset_s).fold(0.0, f64::max);
    let lo = d.clock.iter().map(|s| s.offset_s).fold(0.0, f64::min);
    let pad = ((hi - lo) * 0.1).max(0.01);
    let (lo, hi) = (lo - pad, hi + pad);
    Some(svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..secs(d.end).max(0.001), lo..hi)
            .map_err(err)?;
        chart.configure_mesh().x_desc("time (s)").y_desc("offset (s)").label_style((FONT, 12)).draw().map_err(err)?;
        draw_bands(&mut chart, d, lo, hi)?;
        for (i, (node, pts)) in by_node.into_iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)).point_size(3))
                .map_err(err)?
                .label(node)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 14, y)], color.stroke_width(2)));
        }
        legend(&mut chart)
    }))
}

/// Exact latency quantiles (ms) of each f's ok ops over the whole run: p50, p95, p99, p99.9, max.
pub fn quantile_table(d: &Digest) -> Vec<(String, u64, [f64; 5])> {
    let mut hs: Vec<Histogram<u64>> = d.fs.iter().map(|_| Histogram::new(3).expect("3 significant digits")).collect();
    for o in d.ops.iter().filter(|o| o.outcome == OpType::Ok) {
        let _ = hs[o.f as usize].record((o.latency().unwrap_or(0) / 1000).max(1));
    }
    d.fs.iter()
        .zip(hs)
        .map(|(f, h)| {
            let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
            (f.clone(), h.len(), [q(0.5), q(0.95), q(0.99), q(0.999), h.max() as f64 / 1000.0])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_keeps_failures_and_caps_points() {
        let ops: Vec<ClientOp> = (0..100_000u64)
            .map(|i| ClientOp {
                f: 0,
                process: i % 10,
                index: i,
                invoke: i * 1000,
                complete: Some(i * 1000 + 500),
                completion: None,
                outcome: if i % 100 == 0 { OpType::Fail } else { OpType::Ok },
                answered: i % 100 != 0,
            })
            .collect();
        let s = sample(&ops);
        assert_eq!(s.len(), MAX_POINTS);
        assert_eq!(s.iter().filter(|o| o.outcome == OpType::Fail).count(), 1000);
        assert!(s.windows(2).all(|w| w[0].index < w[1].index));
    }

    #[test]
    fn fault_colours_parse() {
        assert_eq!(fault_color(FaultKind::Partition), RGBColor(0xE9, 0xDC, 0xA0));
    }

    #[test]
    fn buckets_are_whole_seconds() {
        assert_eq!(bucket_width(10_000_000_000), 1_000_000_000);
        assert_eq!(bucket_width(600_000_000_000), 4_000_000_000);
    }
}
