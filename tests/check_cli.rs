//! Issue 3: `brawl check` re-checks stored histories offline, brawl's and Jepsen's.

mod common;

use common::{brawl, text};

fn check(args: &[&str]) -> (Option<i32>, String) {
    let out = brawl(&[&["check"][..], args].concat());
    let t = text(&out);
    (out.status.code(), t)
}

#[test]
fn jepsen_edn_histories_get_the_right_verdict() {
    // One register; an info write that takes effect late; a process renamed after info (1 -> 6).
    let (code, t) = check(&["tests/histories/jepsen-register-info-valid.edn"]);
    assert_eq!(code, Some(0), "{t}");
    // Independent keys as `[k v]` tuples; key 1 reads a value overwritten before the read began.
    let (code, t) = check(&["tests/histories/jepsen-independent-stale-read.edn"]);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("key 1") && !t.contains("key 0:"), "{t}");
    // The same file, format named explicitly, and as JSON.
    let (code, t) = check(&["tests/histories/jepsen-independent-stale-read.edn", "--format", "jepsen-edn", "--json"]);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("\"possible_states\""), "{t}");
    // A read that goes back to the old value after the info write was seen: invalid.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = std::fs::read_to_string("tests/histories/jepsen-register-info-valid.edn").expect("fixture")
        + "{:type :invoke, :f :read, :value nil, :process 0, :time 18000, :index 12}\n{:type :ok, :f :read, :value 1, :process 0, :time 19000, :index 13}\n";
    let path = dir.path().join("history.edn");
    std::fs::write(&path, bad).expect("write");
    let (code, t) = check(&[path.to_str().expect("utf8")]);
    assert_eq!(code, Some(1), "{t}");
    // A plain read/write model refuses cas: unknown, exit 2.
    let (code, t) = check(&["tests/histories/jepsen-register-info-valid.edn", "--model", "register"]);
    assert_eq!(code, Some(2), "{t}");
}

#[test]
fn unreadable_histories_are_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.edn");
    std::fs::write(&path, "{:type :invoke, :f :read, :value [0 nil}\n").expect("write");
    let (code, t) = check(&[path.to_str().expect("utf8")]);
    assert_eq!(code, Some(254), "{t}");
    assert!(t.contains("broken.edn:1:"), "{t}");
}

#[test]
fn brawl_histories_survive_a_round_trip_through_jepsen_edn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let edn = brawl::history::read_edn("tests/histories/jepsen-independent-stale-read.edn").expect("reads");
    let out = dir.path().join("h.edn");
    brawl::history::write_edn(&edn, std::fs::File::create(&out).expect("create")).expect("writes");
    let back = brawl::history::read_edn(&out).expect("reads back");
    assert_eq!(edn.ops, back.ops);
}
