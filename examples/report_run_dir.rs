//! Builds a synthetic run directory (history, results from the real checkers, test.yaml,
//! run.json) to time `brawl report` on a large history (`docs/benchmarks-report.md`):
//!
//! ```text
//! cargo run --release --example report_run_dir -- 1000000 /tmp/brawl-report-bench
//! /usr/bin/time -v target/release/brawl report /tmp/brawl-report-bench
//! ```
//!
//! The history is `gen_history`'s linearizable register history (10 keys, 10 threads per key),
//! its times scaled so that latencies are 0.1 to 10 ms, with a partition every 10 s lasting
//! 4 s and a clock bump measuring offsets every 15 s.

#[path = "support/register_sim.rs"]
mod register_sim;

use brawl::checker::{check_linearizable, stats, Budget, ModelKind};
use brawl::history::{Header, HistoryWriter, Op, OpType, Process};
use brawl::run::results::{fault_summary, stats_warnings, RESULTS_VERSION};
use brawl::run::Results;
use register_sim::Shape;
use serde_json::json;

fn nemesis(time: u64, f: &str, value: serde_json::Value) -> Op {
    Op { index: 0, time, kind: OpType::Info, process: Process::Nemesis, f: f.into(), value, node: None, error: None }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ops: usize = args.first().map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let dir = std::path::PathBuf::from(args.get(1).map_or("/tmp/brawl-report-bench", String::as_str));
    std::fs::create_dir_all(&dir)?;
    let shape = Shape { ops, keys: 10, threads_per_key: 10, values: 5, info_pct: 3, fail_pct: 2 };
    let mut history = register_sim::generate(&shape, 42);
    for op in &mut history {
        op.time *= 1000;
    }
    let end = history.last().map_or(0, |o| o.time);
    let (mut faults, mut t) = (Vec::new(), 10_000_000_000u64);
    while t + 4_000_000_000 < end {
        faults.push(nemesis(t, "start-partition", json!("majority")));
        faults.push(nemesis(t + 1_000_000, "start-partition", json!({"n1": ["n2", "n3"]})));
        faults.push(nemesis(t + 4_000_000_000, "stop-partition", json!(null)));
        faults.push(nemesis(t + 4_001_000_000, "stop-partition", json!(null)));
        t += 10_000_000_000;
    }
    let mut t = 15_000_000_000u64;
    while t < end {
        let offsets = json!({"n1": (t / 15_000_000_000) as f64 * 0.1, "n2": 0.0, "n3": -0.05});
        faults.push(nemesis(t + 500_000_000, "bump-clock", json!(null)));
        faults.push(nemesis(t + 501_000_000, "bump-clock", json!({ "clock-offsets": offsets })));
        t += 15_000_000_000;
    }
    history.extend(faults);
    history.sort_by_key(|o| o.time);
    for (i, op) in history.iter_mut().enumerate() {
        op.index = i as u64;
    }
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("history.jsonl"))?);
    let mut w = HistoryWriter::new(file, &Header::new(Some("report-bench".into()), Some(42)))?;
    for chunk in history.chunks(4096) {
        w.append_batch(chunk.iter().cloned())?;
    }
    w.finish()?;
    let started = std::time::Instant::now();
    let st = stats(&history);
    let lin = check_linearizable(&history, ModelKind::CasRegister, &Budget::default());
    let results = Results {
        version: RESULTS_VERSION,
        test: "report-bench".into(),
        validity: lin.validity.merge(st.validity),
        start: chrono::Utc::now().to_rfc3339(),
        duration_s: end as f64 / 1e9 + started.elapsed().as_secs_f64(),
        seed: 42,
        warnings: stats_warnings(&st),
        linearizable: Some(lin),
        stats: st,
        checkers: Vec::new(),
        history_ops: history.len() as u64,
        interrupted: false,
        node_logs: vec![],
        faults: fault_summary(&history),
    };
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&results)?)?;
    std::fs::write(
        dir.join("test.yaml"),
        "name: report-bench\ncluster: bench\ndb: { etcd: {} }\nworkload: { register: { keys: 10 } }\n\
         time-limit: 60s\nconcurrency: 100\nseed: 42\nslo: { latency: 5ms, target: 99% }\n",
    )?;
    let argv = ["brawl", "run", "bench.yaml", "--seed", "42"];
    std::fs::write(dir.join("run.json"), json!({ "argv": argv, "seed": 42 }).to_string())?;
    println!("{}: {} history ops, verdict {:?}", dir.display(), history.len(), results.validity);
    Ok(())
}
