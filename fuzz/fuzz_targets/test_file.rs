//! A test file (`brawl run FILE`, `brawl validate FILE`): `config::load_test`, then what the run
//! does with its faults before it starts (validate, build, plan the schedule).
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(plan) = brawl::config::load_test_str(text, Path::new("fuzz/test.yaml")) else { return };
    let nodes = match &plan.nodes {
        brawl::config::NodeSource::Hosts(hosts) => hosts.clone(),
        _ => brawl_fuzz::default_nodes(),
    };
    let seed = plan.seed.unwrap_or(42);
    brawl_fuzz::plan_faults(&plan.nemeses, &plan.timeline, &nodes, seed, plan.time_limit);
});
