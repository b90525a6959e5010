//! A nodes file (`--nodes-file`, a test's `nodes-file:`): every check of
//! `config::load_nodes_file` except host resolution (no DNS queries for made-up names).
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(targets) = brawl::config::parse_nodes_file_unresolved(text, Path::new("fuzz/nodes.yaml")) {
        assert!(!targets.is_empty(), "a nodes file with no nodes was accepted");
    }
});
