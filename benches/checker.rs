//! Benchmarks for the linearizability checker on seeded synthetic histories (not timed tests):
//!
//! - (a) 1M operations (about 2M history events) over 10 independent keys, 10 client
//!   threads per key, a few % `info` and `fail`;
//!   written values unique-ish (drawn from 1..=1_000_000); `a5` is the same with Jepsen's
//!   five values (run it by name);
//! - (b) 100k operations on one key at concurrency 50, under a 10 s / 1 GiB budget.
//!
//! Histories come from simulating a cas register: each op takes effect at a random point inside
//! its interval, so every history is linearizable and the expected verdict is `valid` (or
//! `unknown` when the budget runs out). Run with `cargo bench --bench checker [a|b]`; prints
//! generation and check wall time, the verdict, and peak RSS (`VmHWM`). Set `BRAWL_BENCH_JSONL`
//! to a directory to also write the histories as JSON Lines. `docs/benchmarks.md` has the
//! commands for timing `brawl check` on such files as a whole process, and the figures.

use brawl::checker::{check_linearizable, Budget, ModelKind};
use std::io::Write;
use std::time::{Duration, Instant};

#[path = "../examples/support/register_sim.rs"]
mod register_sim;
use register_sim::{generate, Shape};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn run(name: &str, shape: &Shape, budget: Budget) {
    let t0 = Instant::now();
    let ops = generate(shape, 42);
    let generated = t0.elapsed();
    if let Some(dir) = std::env::var_os("BRAWL_BENCH_JSONL") {
        let path = std::path::Path::new(&dir).join(format!("{name}.jsonl"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create the JSONL file"));
        for o in &ops {
            serde_json::to_writer(&mut out, o).expect("write an op");
            out.write_all(b"\n").expect("write a newline");
        }
    }
    let t1 = Instant::now();
    let r = check_linearizable(&ops, ModelKind::CasRegister, &budget);
    let checked = t1.elapsed();
    println!(
        "{}: {} events ({} ops), {} keys, {} threads/key: generate {:.2?}, check {:.2?}, verdict {:?} \
         (ops checked {}, unknown {:?}, failures {}), search peak {:.1} MiB, process peak RSS {:.0} MiB",
        name,
        ops.len(),
        shape.ops,
        shape.keys,
        shape.threads_per_key,
        generated,
        checked,
        r.validity,
        r.ops_checked,
        r.unknown_keys.iter().map(|u| u.reason.as_str()).collect::<Vec<_>>(),
        r.failures.len(),
        r.peak_search_bytes as f64 / 1048576.0,
        peak_rss_mib(),
    );
}

fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let want = |n: &str| (which.is_empty() && n != "a5") || which.iter().any(|w| w == n);
    if want("a") {
        run(
            "a",
            &Shape { ops: 1_000_000, keys: 10, threads_per_key: 10, values: 1_000_000, info_pct: 3, fail_pct: 2 },
            Budget { time: Duration::from_secs(60), memory_bytes: 512 << 20 },
        );
    }
    if want("a5") {
        // (a) with Jepsen's 5 values: `info` writes of a value that is read again stay possible forever.
        run(
            "a5",
            &Shape { ops: 1_000_000, keys: 10, threads_per_key: 10, values: 5, info_pct: 3, fail_pct: 2 },
            Budget { time: Duration::from_secs(20), memory_bytes: 512 << 20 },
        );
    }
    if want("b") {
        run(
            "b",
            &Shape { ops: 100_000, keys: 1, threads_per_key: 50, values: 5, info_pct: 3, fail_pct: 2 },
            Budget { time: Duration::from_secs(10), memory_bytes: 1 << 30 },
        );
    }
}
