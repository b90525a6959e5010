//! `report.html`: a self-contained page (no network) with the verdict, the counts, the
//! anomalies explained, the test as run and links to the raw files. Never re-runs a check.
//! Every string that came from the system under test or the user is escaped (`escape`).

use std::fmt::Write;

use crate::checker::Validity;
use crate::history::Op;
use crate::run::Results;

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

fn verdict_class(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

fn op_line(op: &Op) -> String {
    let process = match op.process {
        crate::history::Process::Client(p) => p.to_string(),
        crate::history::Process::Nemesis => "nemesis".into(),
    };
    let kind = serde_json::to_value(op.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let mut s = format!("#{} t={:.3}s p{} {} {} {}", op.index, op.time as f64 / 1e9, process, kind, op.f, op.value);
    if let Some(node) = &op.node {
        let _ = write!(s, " on {node}");
    }
    if let Some(e) = &op.error {
        let _ = write!(s, " ({e})");
    }
    escape(&s)
}

/// The whole page.
pub fn render(r: &Results, test_yaml: &str, argv: &[String]) -> String {
    let mut h = String::new();
    let v = verdict_class(r.validity);
    let _ = write!(
        h,
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>{test}: {v}</title><style>\
         body{{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em;color:#222}}\
         .verdict{{font-size:2em;font-weight:bold;padding:.2em .5em;border-radius:4px;display:inline-block}}\
         .valid{{background:#cde8ff}}.invalid{{background:#ffc6dd}}.unknown{{background:#ffe2b0}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}\
         th{{background:#f4f4f4}}td:first-child{{text-align:left}}pre{{background:#f8f8f8;padding:1em;overflow:auto}}\
         code{{background:#f4f4f4}}</style></head><body>",
        test = escape(&r.test)
    );
    let _ = write!(h, "<h1>{}</h1><p><span class=\"verdict {v}\" id=verdict>{v}</span></p>", escape(&r.test));
    let _ = write!(
        h,
        "<p>Started {} · {:.1} s · seed <code>{}</code> · {} history ops{}</p>",
        escape(&r.start),
        r.duration_s,
        r.seed,
        r.history_ops,
        if r.interrupted { " · <b>interrupted</b>" } else { "" }
    );
    for w in &r.warnings {
        let _ = write!(h, "<p class=unknown>⚠ {}</p>", escape(w));
    }
    h.push_str("<h2>Checkers</h2><table><tr><th>checker</th><th>verdict</th><th>detail</th></tr>");
    let lin = &r.linearizable;
    let _ = write!(
        h,
        "<tr><td>linearizable ({:?})</td><td class={}>{}</td><td>{} keys, {} ops checked in {:.2} s</td></tr>",
        lin.model,
        verdict_class(lin.validity),
        verdict_class(lin.validity),
        lin.keys_checked,
        lin.ops_checked,
        lin.elapsed.as_secs_f64()
    );
    let _ = write!(
        h,
        "<tr><td>stats</td><td class={}>{}</td><td>{} ok, {} fail, {} info</td></tr></table>",
        verdict_class(r.stats.validity),
        verdict_class(r.stats.validity),
        r.stats.total.ok,
        r.stats.total.fail,
        r.stats.total.info
    );
    h.push_str("<h2>Ops</h2><table><tr><th>f</th><th>ok</th><th>fail</th><th>info</th></tr>");
    for (f, s) in &r.stats.by_f {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", escape(f), s.ok, s.fail, s.info);
    }
    h.push_str("</table>");
    if !lin.failures.is_empty() || !lin.unknown_keys.is_empty() {
        h.push_str("<h2>Anomalies</h2>");
    }
    for f in &lin.failures {
        let _ = write!(h, "<h3>key {}</h3><p>{}</p>", escape(&f.key.to_string()), escape(&f.message));
        let _ = write!(h, "<p>Cannot be linearized:</p><pre>{}\n{}</pre>", op_line(&f.invocation), op_line(&f.op));
        let states: Vec<String> = f.possible_states.iter().map(|s| s.to_string()).collect();
        let _ = write!(h, "<p>States possible just before it: <code>{}</code></p>", escape(&states.join(", ")));
        let lines: Vec<String> = f.concurrent.iter().map(op_line).collect();
        let _ = write!(
            h,
            "<p>Concurrent ops ({} more not shown):</p><pre>{}</pre>",
            f.concurrent_omitted,
            lines.join("\n")
        );
    }
    for u in &lin.unknown_keys {
        let _ = write!(h, "<p>key {}: unknown: {}</p>", escape(&u.key.to_string()), escape(&u.reason));
    }
    h.push_str("<h2>Files</h2><ul><li><a href=\"history.jsonl\">history.jsonl</a></li><li><a href=\"results.json\">results.json</a></li><li><a href=\"brawl.log\">brawl.log</a></li><li><a href=\"test.yaml\">test.yaml</a></li>");
    for log in &r.node_logs {
        let _ = write!(h, "<li><a href=\"{0}\">{0}</a></li>", escape(log));
    }
    h.push_str("</ul>");
    let repro: Vec<String> = argv.iter().map(|a| crate::control::quote(a)).collect();
    let _ = write!(h, "<h2>Reproduce</h2><pre>{}</pre>", escape(&repro.join(" ")));
    let _ = writeln!(h, "<h2>Test as run</h2><pre>{}</pre></body></html>", escape(test_yaml));
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_be_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
