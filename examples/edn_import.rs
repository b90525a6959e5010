//! Times reading a history file alone (no check), to measure the readers' throughput:
//!
//! ```text
//! cargo run --release --example edn_import -- /tmp/a.edn [rounds] [ops]
//! ```
//!
//! Prints, per round, the wall time, the process's CPU time (all threads) and MB/s on each, for
//! the compact reader (what `brawl check --model cas-register` uses) or, with a third argument
//! `ops`, the `Op` reader (what the other models use).

use std::time::Instant;

fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map_or("/tmp/a.edn", String::as_str);
    let rounds: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let ops_path = args.get(2).is_some_and(|s| s == "ops");
    let mb = std::fs::metadata(path)?.len() as f64 / 1e6;
    for _ in 0..rounds {
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        let n = if ops_path {
            brawl::history::read_history(path)?.ops.len()
        } else {
            use brawl::history::Ops;
            brawl::history::read_history_compact(path, None)?.len()
        };
        let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        println!(
            "{path}: {n} ops, {mb:.1} MB: wall {wall:.3} s ({:.0} MB/s), cpu {cpu:.3} s ({:.0} MB/s per cpu-second)",
            mb / wall,
            mb / cpu
        );
    }
    Ok(())
}
