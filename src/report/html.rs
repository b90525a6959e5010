//! The page: plain HTML and CSS with the SVG charts inline, no scripts and no network. Sections
//! in the order a reader needs them: verdicts, availability and SLO, latency, throughput,
//! faults, clocks, anomalies, the process timeline, counts, and how to reproduce the run.
//! Every string that came from the system under test or the user goes through `escape`.

use std::fmt::Write;

use crate::checker::Validity;
use crate::history::Op;

use super::availability::{availability, nines, Availability, FaultWindow};
use super::charts::{self, fault_color};
use super::digest::{digest, Digest};
use super::timeline::{self, PAGE_OPS};
use super::RunFiles;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn verdict(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:75em;padding:0 1em;color:#222}\
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}\
.verdict{font-size:1.8em;font-weight:bold;padding:.15em .5em;border-radius:4px;display:inline-block}\
.valid{background:#cde8ff}.invalid{background:#ffc6dd}.unknown{background:#ffe2b0}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right;vertical-align:top}\
th{background:#f4f4f4}td:first-child,th:first-child,td.l{text-align:left}\
pre{background:#f8f8f8;padding:1em;overflow:auto;white-space:pre-wrap}code{background:#f4f4f4}\
figure{margin:.5em 0;overflow-x:auto}figcaption{color:#555;font-size:.9em}\
.swatch{display:inline-block;width:1em;height:1em;vertical-align:middle;margin-right:.3em;border:1px solid #999}\
.big{font-size:1.3em}.warn{background:#ffe2b0;padding:.3em .6em}details{margin:.3em 0}summary{cursor:pointer}";

fn ms(d: std::time::Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn opt_ms(d: Option<std::time::Duration>, none: &str) -> String {
    d.map_or_else(|| none.to_string(), ms)
}

fn figure(h: &mut String, id: &str, svg: Result<String, String>, caption: &str) {
    match svg {
        Ok(svg) => {
            let _ = write!(h, "<figure id=\"{id}\">{svg}<figcaption>{caption}</figcaption></figure>");
        }
        Err(e) => {
            let _ = write!(h, "<p class=warn>chart {id} could not be drawn: {}</p>", escape(&e));
        }
    }
}

/// The whole page for a run.
pub fn render(run: &RunFiles) -> String {
    let r = &run.results;
    let d = digest(&run.history);
    let a = availability(&d, run.slo);
    let mut h = String::with_capacity(1 << 20);
    let v = verdict(r.validity);
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{test}: {v}</title>\
         <meta name=viewport content=\"width=device-width\"><style>{STYLE}</style></head><body>\
         <h1>{test}</h1><p><span class=\"verdict {v}\" id=verdict>{v}</span></p>",
        test = escape(&r.test)
    );
    let _ = write!(
        h,
        "<p>Started {} · {:.1} s · seed <code>{}</code> · {} history ops{}</p>",
        escape(&r.start),
        r.duration_s,
        r.seed,
        r.history_ops,
        if r.interrupted { " · <b>interrupted</b>" } else { "" }
    );
    for w in r.warnings.iter().chain(&run.notes) {
        let _ = write!(h, "<p class=warn>⚠ {}</p>", escape(w));
    }
    checkers(&mut h, run);
    availability_section(&mut h, &d, &a);
    latency_section(&mut h, &d);
    h.push_str("<h2 id=throughput-h>Throughput</h2>");
    figure(&mut h, "throughput", charts::throughput(&d), "Completions per second, by type.");
    faults_section(&mut h, run, &d);
    if let Some(svg) = charts::clock_offsets(&d) {
        h.push_str("<h2>Clock offsets</h2>");
        figure(
            &mut h,
            "clock",
            svg,
            "Each node's clock offset from the control node, as the clock nemesis measured it.",
        );
    }
    anomalies(&mut h, run, &d);
    super::outcomes::sections(&mut h, &run.results.checkers, &run.history);
    process_timeline(&mut h, run, &d);
    counts(&mut h, run);
    reproduce(&mut h, run);
    h.push_str("</body></html>\n");
    h
}

fn keys(n: usize) -> String {
    if n == 1 {
        "1 key".into()
    } else {
        format!("{n} keys")
    }
}

fn checkers(h: &mut String, run: &RunFiles) {
    let r = &run.results;
    h.push_str("<h2>Checkers</h2><table id=checkers><tr><th>checker</th><th>verdict</th><th>reason</th></tr>");
    let mut rows: Vec<(&str, Validity, String)> = Vec::new();
    if let Some(lin) = &r.linearizable {
        let reason = match lin.validity {
            Validity::Valid => format!(
                "every key linearizable ({:?} model): {} keys, {} ops checked in {:.2} s",
                lin.model,
                lin.keys_checked,
                lin.ops_checked,
                lin.elapsed.as_secs_f64()
            ),
            Validity::Invalid => {
                let first = lin.failures.first().map_or(String::new(), |f| format!(": key {}: {}", f.key, f.message));
                format!("{} of {} not linearizable{first}", lin.failures.len(), keys(lin.keys_checked))
            }
            Validity::Unknown => {
                let first =
                    lin.unknown_keys.first().map_or(String::new(), |u| format!(": key {}: {}", u.key, u.reason));
                format!("could not decide {}{first}", keys(lin.unknown_keys.len()))
            }
        };
        rows.push(("linearizable", lin.validity, reason));
    }
    let st = &r.stats;
    let mut st_reason = format!("{} ok, {} fail, {} info", st.total.ok, st.total.fail, st.total.info);
    if st.total.ok == 0 {
        st_reason.push_str("; no client op succeeded");
    } else if !st.vacuous.is_empty() {
        let _ = write!(st_reason, "; never succeeded: {}", st.vacuous.join(", "));
    }
    // A built-in checker that panicked has a `CheckOutcome` of its name: that row replaces its own.
    let replaced = |name: &str| r.checkers.iter().any(|c| c.checker == name);
    rows.push(("stats", st.validity, st_reason));
    for (name, v, reason) in rows {
        if !replaced(name) {
            let _ = write!(
                h,
                "<tr><td>{name}</td><td class={v}>{v}</td><td class=l>{}</td></tr>",
                escape(&reason),
                v = verdict(v)
            );
        }
    }
    super::outcomes::verdict_rows(h, &r.checkers);
    h.push_str("</table>");
}

fn availability_section(h: &mut String, d: &Digest, a: &Availability) {
    let slo = a.slo;
    let met = if a.slo_met() { "<b class=valid>met</b>" } else { "<b class=invalid>missed</b>" };
    let _ = write!(
        h,
        "<h2 id=availability>Availability</h2><p class=big>Availability: <b>{}</b> of {} requests answered (ok, or a definite no).</p>\
         <p class=big id=slo>SLO: {} of requests answered within {} (target {}): {met}.</p>",
        nines(a.overall()),
        a.total,
        nines(a.slo_attainment()),
        ms(slo.latency),
        nines(slo.target).split(' ').next().unwrap_or_default(),
    );
    figure(
        h,
        "availability-chart",
        charts::availability(d, a),
        "Share of the ops invoked in each second that the system answered (ok, or a definite no such as a cas \
         whose expected value did not match); a second in which no op was invoked leaves a gap; faults shaded.",
    );
    if a.windows.is_empty() {
        h.push_str("<p>No fault intervals.</p>");
        return;
    }
    let _ = write!(
        h,
        "<p id=unavailable-def>A second is <b>unavailable</b> when less than {target} of the ops invoked in it were \
         answered (the SLO's target), or when no op was invoked in it while one that was not answered was in \
         flight (clients stuck waiting). This run had {n} unavailable second{s}.</p>",
        target = nines(slo.target).split(' ').next().unwrap_or_default(),
        n = a.unavailable_seconds(),
        s = if a.unavailable_seconds() == 1 { "" } else { "s" },
    );
    let _ = write!(
        h,
        "<table id=fault-windows><tr><th>fault</th><th>from (s)</th><th>healed (s)</th><th>lasted</th>\
         <th>failed requests</th><th>to first unavailable second</th><th>unavailable</th><th>recovered after heal</th></tr>"
    );
    for w in &a.windows {
        let c = fault_color(w.kind);
        let _ = write!(
            h,
            "<tr><td><span class=swatch style=\"background:#{:02X}{:02X}{:02X}\"></span>{}</td><td>{:.2}</td><td>{:.2}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.0,
            c.1,
            c.2,
            w.kind.name(),
            w.start as f64 / 1e9,
            w.end as f64 / 1e9,
            ms(std::time::Duration::from_nanos(w.end - w.start)),
            failed_cell(w),
            opt_ms(w.to_first_unavailable, "none unavailable"),
            if w.unavailable_secs == 0 { "—".to_string() } else { format!("{} s", w.unavailable_secs) },
            opt_ms(w.to_recover, "not recovered"),
        );
    }
    h.push_str(
        "</table><p><small>A fault runs from the completion of the op that started it to that of the op that \
         healed it. Failed requests: of the client ops that completed while it ran (or were invoked then and never \
         completed), those not answered (fail or info; a definite no such as a cas mismatch is an answer). \
         Counted in whole seconds of the run: the first unavailable second from the one the fault started in, \
         the unavailable seconds until recovery, and recovery: the first second, from the heal's, in which ops \
         were invoked and the target share was answered (looked for until the next fault).</small></p>",
    );
}

/// `3 of 1000 (0.3%)`, or `none completed`.
fn failed_cell(w: &FaultWindow) -> String {
    if w.completed == 0 {
        return "none completed".into();
    }
    let pct = w.failed_share() * 100.0;
    let pct = if pct == 0.0 || pct >= 1.0 { format!("{pct:.0}%") } else { format!("{pct:.2}%") };
    format!("{} of {} ({pct})", w.failed, w.completed)
}

fn latency_section(h: &mut String, d: &Digest) {
    h.push_str("<h2 id=latency>Latency</h2>");
    let points = charts::sample(&d.ops);
    let done = d.ops.iter().filter(|o| o.complete.is_some()).count();
    let caption = if points.len() < done {
        format!(
            "One point per op at its invocation, coloured by outcome and shaped by f; {} of {done} ops drawn \
             (failed and indeterminate ops first, up to a fifth of the points, then an even sample of the rest); faults shaded.",
            points.len()
        )
    } else {
        format!("One point per op ({done}) at its invocation, coloured by outcome and shaped by f; faults shaded.")
    };
    figure(h, "latency-scatter", charts::latency_scatter(d, &points), &escape(&caption));
    h.push_str(
        "<table id=quantiles><tr><th>f (ok ops)</th><th>count</th><th>p50</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th></tr>",
    );
    for (f, n, q) in charts::quantile_table(d) {
        let _ = write!(h, "<tr><td>{}</td><td>{n}</td>", escape(&f));
        for x in q {
            let _ = write!(h, "<td>{x:.2} ms</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</table><p><small>Quantiles from every ok op (HdrHistogram, 3 significant digits).</small></p>");
    for f in 0..d.fs.len() {
        let id = format!("quantiles-{f}");
        figure(h, &id, charts::quantiles(d, f as u16), "Latency quantiles of ok ops per time bucket; faults shaded.");
    }
}

fn faults_section(h: &mut String, run: &RunFiles, d: &Digest) {
    h.push_str("<h2 id=faults>Faults</h2>");
    if run.results.faults.is_empty() && d.faults.is_empty() {
        h.push_str("<p>No faults were injected.</p>");
        return;
    }
    h.push_str("<table><tr><th>fault</th><th>intervals</th><th>in effect</th></tr>");
    for (kind, s) in &run.results.faults {
        let swatch = crate::nemesis::FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == kind)
            .map_or(String::new(), |k| format!("<span class=swatch style=\"background:{}\"></span>", k.color()));
        let _ = write!(h, "<tr><td>{swatch}{}</td><td>{}</td><td>{:.1} s</td></tr>", escape(kind), s.count, s.total_s);
    }
    h.push_str("</table>");
}

fn anomalies(h: &mut String, run: &RunFiles, d: &Digest) {
    let Some(lin) = &run.results.linearizable else { return };
    if lin.failures.is_empty() && lin.unknown_keys.is_empty() {
        return;
    }
    h.push_str("<h2 id=anomalies>Anomalies</h2>");
    for f in &lin.failures {
        let _ = write!(
            h,
            "<section class=anomaly><h3>key {}: not linearizable</h3><p>{}</p><p>The op that cannot be linearized:</p><pre>{}\n{}</pre>",
            escape(&f.key.to_string()),
            escape(&f.message),
            op_line(&f.invocation),
            op_line(&f.op)
        );
        let states: Vec<String> = f.possible_states.iter().map(|s| s.to_string()).collect();
        let _ =
            write!(h, "<p>Register values possible just before it: <code>{}</code></p>", escape(&states.join(", ")));
        let svg = timeline::anomaly(d, &run.history, f);
        let _ = write!(
            h,
            "<figure>{svg}<figcaption>The op (red) and the ops concurrent with it; hover for values.</figcaption></figure>"
        );
        let lines: Vec<String> = f.concurrent.iter().map(op_line).collect();
        let _ = write!(
            h,
            "<details><summary>{} concurrent ops{}</summary><pre>{}</pre></details></section>",
            f.concurrent.len(),
            if f.concurrent_omitted > 0 {
                format!(" ({} more not listed)", f.concurrent_omitted)
            } else {
                String::new()
            },
            lines.join("\n")
        );
    }
    for u in &lin.unknown_keys {
        let _ = write!(h, "<p>key {}: unknown: {}</p>", escape(&u.key.to_string()), escape(&u.reason));
    }
}

fn process_timeline(h: &mut String, run: &RunFiles, d: &Digest) {
    if d.ops.is_empty() {
        return;
    }
    let (pages, total) =
        timeline::pages(d, run.results.linearizable.as_ref().map_or(&[][..], |l| l.failures.as_slice()));
    let _ = write!(
        h,
        "<h2 id=timeline>Timeline</h2><p>Ops per process, time flowing down, {PAGE_OPS} ops a page; {} of {total} pages \
         shown (the first ones and those holding an anomaly); every op is in <a href=\"history.jsonl\">history.jsonl</a>.</p>",
        pages.len()
    );
    for (i, p) in pages.iter().enumerate() {
        let first = &d.ops[p * PAGE_OPS];
        let last = &d.ops[((p + 1) * PAGE_OPS).min(d.ops.len()) - 1];
        let _ = write!(
            h,
            "<details{}><summary>page {} of {total}: ops invoked {:.3} s to {:.3} s</summary>{}</details>",
            if i == 0 { " open" } else { "" },
            p + 1,
            first.invoke as f64 / 1e9,
            last.invoke as f64 / 1e9,
            timeline::process_page(d, &run.history, *p)
        );
    }
}

fn counts(h: &mut String, run: &RunFiles) {
    h.push_str("<h2>Ops</h2><table id=counts><tr><th>f</th><th>ok</th><th>fail</th><th>info</th></tr>");
    for (f, s) in &run.results.stats.by_f {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", escape(f), s.ok, s.fail, s.info);
    }
    h.push_str("</table>");
}

fn reproduce(h: &mut String, run: &RunFiles) {
    let r = &run.results;
    h.push_str("<h2 id=files>Files</h2><ul>");
    let files = ["history.jsonl", "results.json", "junit.xml", "test.yaml", "run.json", "brawl.log"];
    for f in files.iter().map(|f| f.to_string()).chain(r.node_logs.iter().cloned()) {
        // Always a relative link: a name that looks like a URL scheme stays a file name.
        let href = if f.starts_with("./") { f.clone() } else { format!("./{f}") };
        let _ = write!(h, "<li><a href=\"{}\">{}</a></li>", escape(&href), escape(&f));
    }
    h.push_str("</ul>");
    let mut argv: Vec<String> = run.argv.clone();
    if !argv.is_empty() && !argv.iter().any(|a| a == "--seed" || a.starts_with("--seed=")) {
        argv.extend(["--seed".to_string(), r.seed.to_string()]);
    }
    let repro: Vec<String> = argv.iter().map(|a| crate::control::quote(a)).collect();
    let _ = write!(
        h,
        "<h2 id=reproduce>Reproduce</h2><p>Seed <code>{}</code>. The same command runs the same schedule:</p><pre>{}</pre>",
        r.seed,
        escape(&repro.join(" "))
    );
    let _ = write!(h, "<h2 id=test>Test as run</h2><pre>{}</pre>", escape(&run.test_yaml));
}

fn op_line(op: &Op) -> String {
    let mut s =
        format!("#{} t={:.3}s p{} {} {} {}", op.index, op.time as f64 / 1e9, op.process, op.kind, op.f, op.value);
    if let Some(node) = &op.node {
        let _ = write!(s, " on {node}");
    }
    if let Some(e) = &op.error {
        let _ = write!(s, " ({e})");
    }
    escape(&s)
}
