//! Any history file `brawl check FILE` is given: format detection (`detect_format`, by the
//! first bytes, as for a file without a telling extension) and the reader it picks
//! (`history::parse_history_as`, what `read_history` calls); and elle-cli JSON, the one format
//! with no target of its own, read as such whatever the first bytes say.
#![no_main]
use std::path::Path;

use brawl::history::{parse_history_as, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = parse_history_as(data, Path::new("fuzz/history"), None) {
        let _ = brawl::history::pair(&h.ops);
        let _ = brawl::history::validate_well_formed(&h.ops);
    }
    if let Ok(h) = parse_history_as(data, Path::new("fuzz/history.json"), Some(Format::ElleJson)) {
        let _ = brawl::history::pair(&h.ops);
        let _ = brawl::history::validate_well_formed(&h.ops);
        let compact = brawl::history::CompactHistory::from(&h);
        assert_eq!(compact.to_ops(), h.ops, "an elle-cli history does not survive the compact form");
    }
});
