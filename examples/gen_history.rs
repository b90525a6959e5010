//! Writes a seeded synthetic register history as `history.jsonl`, to time `brawl check` on it
//! as a whole process (parse + check):
//!
//! ```text
//! cargo run --release --example gen_history -- 1000000 /tmp/h.jsonl [keys] [threads-per-key] [values] [seed]
//! /usr/bin/time -v target/release/brawl check /tmp/h.jsonl
//! cargo run --release --example gen_history -- 1000000 /tmp/h.edn   # Jepsen EDN, one op per line
//! ```
//!
//! Defaults: 10 keys, 10 threads per key, values 1..=5 (Jepsen's register workload), seed 42;
//! 50% read / 25% write / 25% cas, 3% `info` and 2% `fail`. Every history is linearizable.

#[path = "support/register_sim.rs"]
mod register_sim;

use brawl::history::{Header, History, HistoryWriter};
use register_sim::Shape;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(args.get(i).map(|s| s.parse()).transpose()?.unwrap_or(default))
    };
    let ops = num(0, 1_000_000)? as usize;
    let path = args.get(1).map_or("/tmp/h.jsonl", String::as_str);
    let shape =
        Shape { ops, keys: num(2, 10)?, threads_per_key: num(3, 10)?, values: num(4, 5)?, info_pct: 3, fail_pct: 2 };
    let seed = num(5, 42)?;
    let history = register_sim::generate(&shape, seed);
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let header = Header::new(Some("gen_history".into()), Some(seed));
    if path.ends_with(".edn") {
        // Jepsen's layout: one op map per line.
        brawl::history::write_edn(&History::new(header, history.clone()), file)?;
    } else {
        let mut w = HistoryWriter::new(file, &header)?;
        for chunk in history.chunks(4096) {
            w.append_batch(chunk.iter().cloned())?;
        }
        w.finish()?;
    }
    println!("{path}: {} events ({ops} ops) over {} keys, {shape:?}", history.len(), shape.keys);
    Ok(())
}
