//! A fault-schedule file (`brawl run --nemesis FILE`, a campaign's `nemeses:`):
//! `config::load_nemesis_file`, then validate, build and plan it as a 60 s run on 5 nodes would.
#![no_main]
use std::path::Path;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(file) = brawl::config::load_nemesis_str(text, Path::new("fuzz/nemesis.yaml")) else { return };
    let nodes = brawl_fuzz::default_nodes();
    brawl_fuzz::plan_faults(&file.nemeses, &file.timeline, &nodes, 42, Duration::from_secs(60));
});
