//! `history.jsonl` (`brawl check`, `brawl report`, the end of `brawl run`): the serde reader
//! (`history::parse_jsonl`, which `read_jsonl` calls) and the block reader with its fast path
//! (`history::parse_jsonl_compact_from`, which `read_jsonl_compact` calls), which must agree op
//! for op and error for error; then pairing and the well-formedness check.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("<input>");
    let plain = brawl::history::parse_jsonl(data);
    // A small block makes lines straddle blocks; the first byte picks it so the fuzzer can vary it.
    let block = usize::from(data.first().copied().unwrap_or(0) % 64) + 1;
    for block in [block, 4096] {
        let compact = brawl::history::parse_jsonl_compact_from(data, path, block);
        match (&plain, &compact) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.header, b.header, "block {block}");
                assert_eq!(a.truncated, b.truncated, "block {block}");
                assert_eq!(a.ops, b.to_ops(), "block {block}");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "block {block}"),
            (a, b) => panic!("block {block}: the readers disagree: {:?} vs {:?}", a.as_ref().err(), b.as_ref().err()),
        }
    }
    if let Ok(h) = plain {
        let _ = brawl::history::pair(&h.ops);
        let _ = brawl::history::validate_well_formed(&h.ops);
    }
});
