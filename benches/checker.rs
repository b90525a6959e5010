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
//! to a directory to also write the histories as JSON Lines.

use brawl::checker::{check_linearizable, Budget, ModelKind};
use brawl::history::{Op, OpType, Process};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

/// What to generate.
struct Shape {
    name: &'static str,
    ops: usize,
    keys: u64,
    threads_per_key: u64,
    /// Written values are drawn from `1..=values` (Jepsen's register workload uses 5).
    values: u64,
    info_pct: u64,
    fail_pct: u64,
    budget: Budget,
}

/// One simulated op of one key.
struct Sim {
    thread: u64,
    f: &'static str,
    arg: Value,
    result: Value,
    kind: OpType,
    applied: bool,
    inv: u64,
    lin: u64,
    ret: u64,
}

fn simulate_key(rng: &mut ChaCha8Rng, shape: &Shape, n: usize) -> Vec<Sim> {
    let mut free = vec![0u64; shape.threads_per_key as usize];
    let mut sims = Vec::with_capacity(n);
    for _ in 0..n {
        let thread = rng.random_range(0..shape.threads_per_key);
        let inv = free[thread as usize] + rng.random_range(0..2_000);
        let ret = inv + rng.random_range(100..10_000);
        let lin = rng.random_range(inv + 1..ret);
        free[thread as usize] = ret;
        let f = match rng.random_range(0..4) {
            0 | 1 => "read",
            2 => "write",
            _ => "cas",
        };
        let roll = rng.random_range(0..100);
        let (kind, applied) = if roll < shape.info_pct {
            (OpType::Info, rng.random_bool(0.5))
        } else if roll < shape.info_pct + shape.fail_pct {
            (OpType::Fail, false)
        } else {
            (OpType::Ok, true)
        };
        let arg = if f == "write" { json!(rng.random_range(1..=shape.values)) } else { Value::Null };
        sims.push(Sim { thread, f, arg, result: Value::Null, kind, applied, inv, lin, ret });
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| sims[i].lin);
    let mut state = Value::Null;
    for i in order {
        let s = &mut sims[i];
        match s.f {
            "read" => s.result = state.clone(),
            "write" if s.applied => state = s.arg.clone(),
            "write" => {}
            _ => {
                let old = if rng.random_bool(0.5) { state.clone() } else { json!(rng.random_range(1..=shape.values)) };
                let new = json!(rng.random_range(1..=shape.values));
                s.arg = json!([old, new]);
                if s.applied && old == state && !state.is_null() {
                    state = new;
                } else if s.kind == OpType::Ok {
                    s.kind = OpType::Fail;
                }
            }
        }
    }
    sims
}

fn op(index: usize, time: u64, kind: OpType, process: u64, f: &str, value: Value) -> Op {
    Op {
        index: index as u64,
        time,
        kind,
        process: Process::Client(process),
        f: f.into(),
        value,
        node: None,
        error: None,
    }
}

/// The whole history: keys simulated independently, then merged by time.
fn generate(shape: &Shape, seed: u64) -> Vec<Op> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let per_key = shape.ops / shape.keys as usize;
    let keys: Vec<Vec<Sim>> = (0..shape.keys).map(|_| simulate_key(&mut rng, shape, per_key)).collect();
    // (time, completion-before-invocation, key, op); a thread becomes a new process after info.
    let mut events: Vec<(u64, u8, u32, u32, u64)> = Vec::with_capacity(2 * shape.ops);
    let stride = shape.keys * shape.threads_per_key;
    for (k, sims) in keys.iter().enumerate() {
        let mut pid: Vec<u64> = (0..shape.threads_per_key).map(|t| k as u64 * shape.threads_per_key + t).collect();
        for (i, s) in sims.iter().enumerate() {
            let p = pid[s.thread as usize];
            events.push((s.inv, 1, k as u32, i as u32, p));
            events.push((s.ret, 0, k as u32, i as u32, p));
            if s.kind == OpType::Info {
                pid[s.thread as usize] += stride;
            }
        }
    }
    events.sort_unstable_by_key(|e| (e.0, e.1, e.2, e.3));
    events
        .iter()
        .enumerate()
        .map(|(index, &(time, rank, k, i, p))| {
            let s = &keys[k as usize][i as usize];
            let (kind, v) = match (rank, s.f) {
                (1, _) => (OpType::Invoke, s.arg.clone()),
                (_, "read") if s.kind == OpType::Ok => (s.kind, s.result.clone()),
                _ => (s.kind, s.arg.clone()),
            };
            op(index, time, kind, p, s.f, json!([k, v]))
        })
        .collect()
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn run(shape: &Shape) {
    let t0 = Instant::now();
    let ops = generate(shape, 42);
    let generated = t0.elapsed();
    if let Some(dir) = std::env::var_os("BRAWL_BENCH_JSONL") {
        let path = std::path::Path::new(&dir).join(format!("{}.jsonl", shape.name));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create the JSONL file"));
        for o in &ops {
            serde_json::to_writer(&mut out, o).expect("write an op");
            out.write_all(b"\n").expect("write a newline");
        }
    }
    let t1 = Instant::now();
    let r = check_linearizable(&ops, ModelKind::CasRegister, &shape.budget);
    let checked = t1.elapsed();
    println!(
        "{}: {} events ({} ops), {} keys, {} threads/key: generate {:.2?}, check {:.2?}, verdict {:?} \
         (ops checked {}, unknown {:?}, failures {}), search peak {:.1} MiB, process peak RSS {:.0} MiB",
        shape.name,
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
        run(&Shape {
            name: "a",
            ops: 1_000_000,
            keys: 10,
            threads_per_key: 10,
            values: 1_000_000,
            info_pct: 3,
            fail_pct: 2,
            budget: Budget { time: Duration::from_secs(60), memory_bytes: 512 << 20 },
        });
    }
    if want("a5") {
        // (a) with Jepsen's 5 values: `info` writes of a value that is read again stay possible forever.
        run(&Shape {
            name: "a5",
            ops: 1_000_000,
            keys: 10,
            threads_per_key: 10,
            values: 5,
            info_pct: 3,
            fail_pct: 2,
            budget: Budget { time: Duration::from_secs(20), memory_bytes: 512 << 20 },
        });
    }
    if want("b") {
        run(&Shape {
            name: "b",
            ops: 100_000,
            keys: 1,
            threads_per_key: 50,
            values: 5,
            info_pct: 3,
            fail_pct: 2,
            budget: Budget { time: Duration::from_secs(10), memory_bytes: 1 << 30 },
        });
    }
}
