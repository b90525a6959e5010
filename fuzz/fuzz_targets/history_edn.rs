//! Jepsen's `history.edn` (`brawl check FILE.edn`): format detection as `read_history` does it,
//! `history::parse_edn` (both layouts), then pairing, the well-formedness check, and the EDN
//! export of what was read (which must read back to the same ops).
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = brawl::history::detect_format(Path::new("fuzz/history"), &data[..data.len().min(256)]);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(h) = brawl::history::parse_edn(text) else { return };
    let _ = brawl::history::pair(&h.ops);
    let _ = brawl::history::validate_well_formed(&h.ops);
    let mut out = Vec::new();
    brawl::history::write_edn(&h, &mut out).expect("writing to a Vec does not fail");
    let again = std::str::from_utf8(&out).expect("write_edn writes UTF-8");
    if let Err(e) = brawl::history::parse_edn(again) {
        panic!("write_edn wrote what parse_edn refuses: {e}\n{again}");
    }
});
