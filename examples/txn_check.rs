//! `cargo run --release --example txn_check -- FILE [list-append|rw-register] [MODEL,MODEL]`:
//! checks a transactional history file with `checker::txn::check_file` and prints the outcome's
//! summary, anomaly counts and the time taken (a measuring aid until `brawl check` lands).

use std::time::Instant;

use brawl::checker::txn::{check_file, Model, Options};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or_else(|| anyhow::anyhow!("usage: txn_check FILE [model] [consistency-models]"))?;
    let mut opts = Options::default();
    if args.get(1).map(String::as_str) == Some("rw-register") {
        opts.model = Model::RwRegister;
    }
    if let Some(ms) = args.get(2) {
        opts.consistency_models = ms.split(',').map(String::from).collect();
    }
    let start = Instant::now();
    let o = check_file(std::path::Path::new(path), &opts)?;
    let took = start.elapsed();
    println!("{:?}: {}", o.validity, o.summary);
    println!("counts: {}", o.details["counts"]);
    println!("not: {:?} also_not: {:?}", o.not, o.also_not);
    if let Some(u) = o.details["unknown"].as_array().filter(|u| !u.is_empty()) {
        println!("unknown: {u:?}");
    }
    println!("took {:.3} s", took.as_secs_f64());
    Ok(())
}
