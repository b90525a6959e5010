//! Jepsen's `history.edn` (`brawl check FILE.edn`): `history::parse_edn` (the fast path, with
//! the general reader behind it), which must agree op for op and error for error with the
//! general reader alone (`parse_edn_general`) and with the compact reader `brawl check` uses
//! (`parse_edn_compact_str`); then pairing, the well-formedness check, and the EDN export of what
//! was read, which must read back.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let fast = brawl::history::parse_edn(text);
    let general = brawl::history::parse_edn_general(text);
    let compact = brawl::history::parse_edn_compact_str(text);
    match (&fast, &general) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "fast and general readers disagree"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "fast and general errors differ"),
        (a, b) => panic!("fast {:?} vs general {:?}", a.as_ref().err(), b.as_ref().err()),
    }
    match (&fast, &compact) {
        (Ok(a), Ok(b)) => assert_eq!(a.ops, b.to_ops(), "compact reader disagrees"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "compact reader's error differs"),
        (a, b) => panic!("ops {:?} vs compact {:?}", a.as_ref().err(), b.as_ref().err()),
    }
    let Ok(h) = fast else { return };
    let _ = brawl::history::pair(&h.ops);
    let _ = brawl::history::validate_well_formed(&h.ops);
    let mut out = Vec::new();
    brawl::history::write_edn(&h, &mut out).expect("writing to a Vec does not fail");
    let again = std::str::from_utf8(&out).expect("write_edn writes UTF-8");
    if let Err(e) = brawl::history::parse_edn(again) {
        panic!("write_edn wrote what parse_edn refuses: {e}\n{again}");
    }
});
