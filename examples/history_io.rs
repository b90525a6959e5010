//! Measures history I/O throughput: writes 1M register ops to `history.jsonl` (one flush per op,
//! then in batches of 1000), reads them back, and round-trips them through Jepsen EDN.
//!
//! Run with `cargo run --release --example history_io [ops]`.

use std::time::Instant;

use brawl::history::{parse_edn, read_jsonl, write_edn, Header, HistoryWriter, Op, OpType, Process};
use serde_json::json;

fn op(i: u64) -> Op {
    let process = i / 2 % 10;
    let (kind, f, value) = match (i % 2, i / 2 % 3) {
        (0, 0) => (OpType::Invoke, "read", json!([process % 8, null])),
        (1, 0) => (OpType::Ok, "read", json!([process % 8, i % 5])),
        (_, 1) => (if i % 2 == 0 { OpType::Invoke } else { OpType::Ok }, "write", json!([process % 8, i % 5])),
        _ => (if i % 2 == 0 { OpType::Invoke } else { OpType::Fail }, "cas", json!([process % 8, [i % 5, 3]])),
    };
    let node = Some(format!("n{}", process % 5 + 1));
    Op { index: 0, time: i * 1_000, kind, process: Process::Client(process), f: f.into(), value, node, error: None }
}

/// Wall time and CPU time (all threads) since `start`: on a shared machine, CPU time is the
/// steadier measure.
struct Clock {
    wall: Instant,
    cpu: f64,
}

fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn clock() -> Clock {
    Clock { wall: Instant::now(), cpu: cpu_seconds() }
}

fn rate(n: u64, start: Clock) -> String {
    let wall = start.wall.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - start.cpu;
    format!("{:>9.0} ops/s  wall {wall:.3} s  cpu {cpu:.3} s", n as f64 / wall)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let ops: Vec<Op> = (0..n).map(op).collect();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("history.jsonl");
    let header = Header::new(Some("history-io".into()), Some(1));

    let start = clock();
    let mut w = HistoryWriter::create(&path, &header)?;
    for op in ops.iter().cloned() {
        w.append(op)?;
    }
    w.finish()?;
    println!("write, flush per op:     {}", rate(n, start));
    let size = std::fs::metadata(&path)?.len();

    let start = clock();
    let mut w = HistoryWriter::create(&path, &header)?;
    for batch in ops.chunks(1000) {
        w.append_batch(batch.iter().cloned())?;
    }
    w.finish()?;
    println!("write, batches of 1000:  {}", rate(n, start));

    let start = clock();
    let history = read_jsonl(&path)?;
    println!("read_jsonl:              {}  [{} MB]", rate(n, start), size / 1_000_000);
    assert_eq!(history.ops.len() as u64, n);

    let start = clock();
    let mut edn = Vec::new();
    write_edn(&history, &mut edn)?;
    println!("write_edn:               {}", rate(n, start));
    let start = clock();
    let back = parse_edn(std::str::from_utf8(&edn)?)?;
    println!("parse_edn:               {}", rate(n, start));
    assert_eq!(back.ops, history.ops);
    Ok(())
}
