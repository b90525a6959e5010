//! The two-thread scan against the one-thread scan: on generated histories cut at every op
//! boundary (or a spread of them), field for field; on histories whose join must place reads
//! again or match invokes across the cut; and on histories that must fall back (an op without
//! `:index`, a parse error near the cut), whose errors must read exactly as one thread's.

use std::io::Write;
use std::path::Path;

use super::split::{read_with, split_bytes};
use super::{check_bytes, check_file, scan, Model, Options, TxnError};
use crate::checker::txn_gen::{write, GenSpec, Isolation, OutFormat, TxnModel};

const LA: Model = Model::ListAppend;

fn generated(isolation: Isolation, model: TxnModel, txns: u64, format: OutFormat, seed: u64) -> Vec<u8> {
    let spec = GenSpec { model, isolation, txns, seed, info_pct: 5, fail_pct: 5, ..Default::default() };
    let mut out = Vec::new();
    write(&spec, format, &mut out).expect("writes to memory");
    out
}

/// Every offset that starts a line with `{`, but the first.
fn cuts(bytes: &[u8]) -> Vec<usize> {
    (1..bytes.len()).filter(|i| bytes[*i] == b'{' && bytes[*i - 1] == b'\n').collect()
}

fn one_thread(bytes: &[u8], model: Model) -> String {
    format!("{:?}", scan::read_bytes(bytes, Path::new("h.edn"), model).expect("the history reads"))
}

/// The split at every cut (every `step`-th) gives exactly the one-thread result.
fn same_at_every_cut(bytes: &[u8], model: Model, step: usize) {
    let want = one_thread(bytes, model);
    let all = cuts(bytes);
    assert!(all.len() > 10, "a history with ops to cut between");
    for cut in all.iter().step_by(step) {
        let got = split_bytes(bytes, *cut, model).unwrap_or_else(|| panic!("no fallback expected at {cut}"));
        assert_eq!(format!("{got:?}"), want, "cut at byte {cut}");
    }
}

#[test]
fn the_split_scan_is_the_one_thread_scan_on_generated_histories() {
    for (i, iso) in
        [Isolation::Serializable, Isolation::SnapshotIsolation, Isolation::LostUpdate].into_iter().enumerate()
    {
        let edn = generated(iso, TxnModel::ListAppend, 150, OutFormat::Edn, 7 + i as u64);
        same_at_every_cut(&edn, LA, 1);
        let json = generated(iso, TxnModel::ListAppend, 150, OutFormat::ElleJson, 9 + i as u64);
        same_at_every_cut(&json, LA, 3);
        let jsonl = generated(iso, TxnModel::ListAppend, 150, OutFormat::Jsonl, 11 + i as u64);
        same_at_every_cut(&jsonl, LA, 3);
        let rw = generated(iso, TxnModel::RwRegister, 150, OutFormat::Edn, 13 + i as u64);
        same_at_every_cut(&rw, Model::RwRegister, 3);
        // Keyword keys (interned as strings) and the vector layout.
        let text = String::from_utf8(edn).expect("utf-8");
        let kw = text.replace("[:append ", "[:append :k").replace("[:r ", "[:r :k");
        same_at_every_cut(kw.as_bytes(), LA, 2);
        let vector = format!("[{}]\n", text.replace('\n', "\n "));
        let v: Vec<usize> = (1..vector.len()).filter(|i| vector.as_bytes()[*i] == b'{').collect();
        let want = one_thread(vector.as_bytes(), LA);
        for cut in v.iter().step_by(5) {
            // Cut by hand: in this layout lines start with a space.
            let got = split_bytes(vector.as_bytes(), *cut, LA).expect("no fallback");
            assert_eq!(format!("{got:?}"), want, "vector cut at {cut}");
        }
    }
}

#[test]
fn the_split_scan_agrees_on_big_generated_histories_and_their_verdicts() {
    for iso in [Isolation::Serializable, Isolation::SnapshotIsolation, Isolation::LostUpdate] {
        let edn = generated(iso, TxnModel::ListAppend, 20_000, OutFormat::Edn, 42);
        same_at_every_cut(&edn, LA, 2311);
        let mut f = tempfile::Builder::new().suffix(".edn").tempfile().expect("temp file");
        f.write_all(&edn).expect("write");
        let split = read_with(f.path(), LA, 0).expect("reads");
        let whole = scan::read(f.path(), LA).expect("reads");
        assert_eq!(format!("{split:?}"), format!("{whole:?}"));
        let o = Options::default();
        let from_file = check_file(f.path(), &o).expect("checks");
        assert_eq!(from_file, check_bytes(&edn, f.path(), &o).expect("checks"));
    }
}

/// Hand-made: reads whose form changes once both halves are known, string values, invokes
/// completed across the cut, left open by a second invoke, and never completed.
#[test]
fn the_join_places_reads_again_and_matches_invokes_across_the_cut() {
    let first = "{:index 0, :type :invoke, :process 0, :value [[:append 1 1] [:append 2 \"a\"]]}\n\
        {:index 1, :type :ok, :process 0, :value [[:append 1 1] [:append 2 \"a\"]]}\n\
        {:index 2, :type :invoke, :process 1, :value [[:r 1 nil] [:append 1 2]]}\n\
        {:index 3, :type :invoke, :process 2, :value [[:append 3 \"b\"]]}\n\
        {:index 4, :type :invoke, :process 3, :value [[:append 4 9]]}\n\
        {:index 5, :type :invoke, :process 4, :value [[:append 5 9]]}\n\
        {:index 6, :type :ok, :process 5, :value [[:r 1 [1 2 3]] [:r 2 [\"a\"]]]}\n\
        {:index 7, :type :info, :process :nemesis, :value {:n1 [:n2]}}\n";
    let second = "{:index 8, :type :ok, :process 1, :value [[:r 1 [1]] [:append 1 2]]}\n\
        {:index 9, :type :invoke, :process 3, :value [[:append 4 10]]}\n\
        {:index 10, :type :fail, :process 6, :value [[:r 1 [1 2]] [:r 6 [\"c\" \"b\"]]]}\n\
        {:index 11, :type :ok, :process 7, :value [[:r 1 [1 4]] [:r 2 [\"a\" \"b\"]] [:r 3 [\"b\"]]]}\n\
        {:index 12, :type :ok, :process 8, :value [[:r 1 [1 2 3 5]] [:append 7 \"d\"]]}\n\
        {:index 13, :type :info, :process 2, :value [[:append 3 \"b\"]]}\n\
        {:index 14, :type :invoke, :process 9, :value [[:r 7 nil] [:append 8 \"e\"]]}\n\
        {:index 15, :type :invoke, :process 10, :value [[:r 1 nil]]}\n\
        {:index 16, :type :ok, :process 10, :value [[:r 1 [1 2 3 5 6]]]}\n";
    let text = format!("{first}{second}");
    same_at_every_cut(text.as_bytes(), LA, 1);
    let want = one_thread(text.as_bytes(), LA);
    assert_eq!(format!("{:?}", split_bytes(text.as_bytes(), first.len(), LA).expect("joins")), want);
}

fn fallback_is_one_thread(text: &str, cut_near: usize) {
    let cut = cuts(text.as_bytes()).into_iter().min_by_key(|c| c.abs_diff(cut_near)).expect("a cut");
    assert!(split_bytes(text.as_bytes(), cut, LA).is_none(), "the split must give up at {cut}");
    let mut f = tempfile::Builder::new().suffix(".edn").tempfile().expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    let split = read_with(f.path(), LA, 0);
    let whole = scan::read(f.path(), LA);
    match (split, whole) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            if let (TxnError::Parse { line: la, .. }, TxnError::Parse { line: lb, .. }) = (&a, &b) {
                assert_eq!(la, lb);
            }
        }
        (a, b) => panic!("split {a:?} vs one thread {b:?}"),
    }
}

#[test]
fn a_missing_index_or_an_error_near_the_cut_falls_back_to_one_thread() {
    let edn = String::from_utf8(generated(Isolation::SnapshotIsolation, TxnModel::ListAppend, 200, OutFormat::Edn, 3))
        .expect("utf-8");
    let mid = edn.len() / 2;
    let at = |i: usize| cuts(edn.as_bytes()).into_iter().find(|c| *c > i).expect("a cut after");
    // An op without :index just after the middle: its index is its ordinal.
    let c = at(mid);
    let end = c + edn[c..].find('\n').expect("a line");
    let line = &edn[c..end];
    let without = line.replacen("{:index ", "{:was ", 1);
    let text = format!("{}{}{}", &edn[..c], without, &edn[end..]);
    fallback_is_one_thread(&text, mid);
    let one = scan::read_bytes(text.as_bytes(), Path::new("h.edn"), LA).expect("reads");
    assert!(format!("{one:?}").len() > 1000);
    // Parse errors just before and just after the cut, and an op left unfinished at it.
    for (at_line, bad) in [
        (at(mid - 200), "{:index 1, :type :done, :process 0, :value []}\n"),
        (at(mid), "{:type :ok :value [[:append 1 1.5]], :process 0}\n"),
        (at(mid), "{:index 5, :type :ok, :value [[:r 1 [1 2}\n"),
    ] {
        let text = format!("{}{}{}", &edn[..at_line], bad, &edn[at_line..]);
        fallback_is_one_thread(&text, at_line + bad.len());
        fallback_is_one_thread(&text, at_line);
        assert!(scan::read_bytes(text.as_bytes(), Path::new("h.edn"), LA).is_err(), "{bad}");
    }
    // An op that spans the cut (a line inside it starts with `{`).
    let text = format!(
        "{}{{:index 0, :type :info, :process :nemesis, :value\n{{:type :ok, :process 0, :value [[:append 1 1]]}}}}\n{}",
        &edn[..at(mid)],
        &edn[at(mid)..]
    );
    let inner = at(mid) + text[at(mid)..].find("\n{").expect("inner line") + 1;
    fallback_is_one_thread(&text, inner);
}
