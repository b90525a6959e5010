//! Times the phases of `brawl check` on a JSON Lines history (read, check, stats) and prints
//! the process's CPU time and resident memory after each, to see where a check's time and
//! memory go (wall time alone misleads on a busy machine):
//!
//! ```text
//! cargo run --release --example check_phases -- /tmp/h.jsonl [--ops]
//! ```
//!
//! `--ops` reads the history as `Op`s (`read_jsonl`) instead of a `CompactHistory`.

use brawl::checker::{check_linearizable_ops, stats_ops, Budget, ModelKind};
use brawl::history::Ops;
use std::time::Instant;

fn status() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |k: &str| status.lines().find_map(|l| l.strip_prefix(k)).map_or(String::new(), |v| v.trim().to_string());
    // utime and stime, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(") ").next().unwrap_or("").split(' ').collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    format!("cpu user {:.2} s sys {:.2} s; rss {}, peak {}", ticks(11), ticks(12), get("VmRSS:"), get("VmHWM:"))
}

fn phases<H: Ops + ?Sized>(ops: &H) {
    let t = Instant::now();
    let r = check_linearizable_ops(ops, ModelKind::CasRegister, &Budget::default());
    println!("check: {:?} ({} unknown) in {:.2?}; {}", r.validity, r.unknown_keys.len(), t.elapsed(), status());
    let t = Instant::now();
    let s = stats_ops(ops);
    println!("stats: {} ok in {:.2?}; {}", s.total.ok, t.elapsed(), status());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "/tmp/h.jsonl".into());
    let t = Instant::now();
    if std::env::args().any(|a| a == "--ops") {
        let history = brawl::history::read_jsonl(&path)?;
        println!("read: {} ops in {:.2?}; {}", history.ops.len(), t.elapsed(), status());
        phases(&history.ops[..]);
    } else {
        let history = brawl::history::read_jsonl_compact(&path)?;
        println!("read: {} ops in {:.2?}; {}", history.len(), t.elapsed(), status());
        phases(&history);
    }
    Ok(())
}
