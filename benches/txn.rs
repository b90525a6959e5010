//! Benchmarks for the transactional checker on seeded generated histories (not timed tests).
//!
//! `cargo bench --bench txn` writes two list-append histories of `BRAWL_BENCH_TXNS` (default
//! 1,000,000) transactions at concurrency 10 in Jepsen EDN (`txn_gen`, seed 42) into
//! `BRAWL_BENCH_DIR` (default `/tmp/brawl-bench-txn`; kept, and reused when present): one
//! strict-serializable (`ser.edn`), one snapshot isolation with write skew (`si.edn`). It then
//! checks each from its file (`txn::check_file`, strict-serializable) and prints the wall time,
//! transactions per second, the anomaly types and the peak RSS (`VmHWM`). The expected
//! verdicts: `ser.edn` valid; `si.edn` invalid with G2-item and no G-single.
//!
//! `cargo bench --bench txn -- check FILE [list-append|rw-register] [MODEL,...]` checks one
//! file and nothing else, for timing the whole process with `/usr/bin/time -v`
//! (`docs/benchmarks.md`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use brawl::checker::txn::{check_file, Model, Options};
use brawl::checker::txn_gen::{write, GenSpec, Isolation, OutFormat, TxnModel};

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn check(path: &Path, model: Model, models: &[String], txns: Option<u64>) {
    let opts = Options { model, consistency_models: models.to_vec(), ..Default::default() };
    let t0 = Instant::now();
    let outcome = match check_file(path, &opts) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(254);
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    let counts: Vec<String> = outcome.anomalies.iter().map(|(k, v)| format!("{k} {}", v.len())).collect();
    println!(
        "{}: {:?} in {secs:.2} s{}; anomalies: [{}]; not {:?}; peak RSS {:.0} MiB",
        path.display(),
        outcome.validity,
        txns.map_or(String::new(), |n| format!(" ({:.0} txn/s)", n as f64 / secs)),
        counts.join(", "),
        outcome.not,
        peak_rss_mib()
    );
}

fn generate(dir: &Path, name: &str, isolation: Isolation, txns: u64) -> PathBuf {
    let path = dir.join(format!("{name}.edn"));
    if path.exists() {
        return path;
    }
    let spec =
        GenSpec { model: TxnModel::ListAppend, isolation, txns, concurrency: 10, seed: 42, ..Default::default() };
    let t0 = Instant::now();
    let file = std::fs::File::create(&path).expect("create the history file");
    let stats = write(&spec, OutFormat::Edn, file).expect("write the history");
    println!(
        "generated {}: {} ops, {} ok, {} fail ({} first-committer-wins), {} info, in {:.2} s",
        path.display(),
        stats.ops,
        stats.ok,
        stats.fail,
        stats.fcw_aborts,
        stats.info,
        t0.elapsed().as_secs_f64()
    );
    path
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if args.first().map(String::as_str) == Some("check") {
        let Some(path) = args.get(1) else {
            eprintln!("usage: check FILE [list-append|rw-register] [MODEL,...]");
            std::process::exit(254);
        };
        let model =
            if args.get(2).map(String::as_str) == Some("rw-register") { Model::RwRegister } else { Model::ListAppend };
        let models: Vec<String> =
            args.get(3).map_or("strict-serializable", String::as_str).split(',').map(str::to_string).collect();
        check(Path::new(path), model, &models, None);
        return;
    }
    let txns: u64 = std::env::var("BRAWL_BENCH_TXNS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = PathBuf::from(std::env::var_os("BRAWL_BENCH_DIR").unwrap_or_else(|| "/tmp/brawl-bench-txn".into()));
    std::fs::create_dir_all(&dir).expect("create the bench directory");
    let ss = ["strict-serializable".to_string()];
    for (name, isolation) in [("ser", Isolation::Serializable), ("si", Isolation::SnapshotIsolation)] {
        let path = generate(&dir, &format!("{name}-{txns}"), isolation, txns);
        check(&path, Model::ListAppend, &ss, Some(txns));
    }
}
