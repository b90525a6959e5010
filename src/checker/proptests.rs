//! Properties of the linearizability checker.
//!
//! - Histories produced by a sequential model are always linearizable. Ops get random
//!   intervals on a few threads, take effect at a random point inside their interval (in that
//!   order, on a per-key cas register), and some are turned into `info` (applied or not), `fail`
//!   (not applied) or left without completion.
//! - On small random histories, valid or not, the checker agrees with a brute-force reference
//!   (`reference`) that tries every order of the ops: this checks the search's pruning (read
//!   absorption, `info` deadlines and dominance, the beam and unlimited passes) against the
//!   definition.

use super::tests::history;
use super::*;
use crate::history::Op;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// splitmix64: enough randomness for a simulation driven by one proptest seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Copy, PartialEq)]
enum End {
    Ok,
    Fail,
    Info,
    Never,
}

struct Sim {
    thread: u64,
    key: u64,
    f: &'static str,
    arg: Value,
    result: Value,
    end: End,
    applied: bool,
    times: (u64, u64, u64),
}

/// Simulates `n` ops on `threads` threads over `keys` keys against a cas register.
fn simulate(seed: u64, threads: u64, n: usize, keys: u64, cas: bool) -> Vec<Op> {
    let mut rng = Rng(seed);
    let mut free = vec![0u64; threads as usize];
    let mut sims: Vec<Sim> = Vec::with_capacity(n);
    for _ in 0..n {
        let thread = rng.below(threads);
        let inv = free[thread as usize] + rng.below(3);
        let ret = inv + 1 + rng.below(8);
        let lin = inv * 1000 + 1 + rng.below((ret - inv) * 1000 - 1);
        free[thread as usize] = ret;
        let f = match rng.below(if cas { 3 } else { 2 }) {
            0 => "read",
            1 => "write",
            _ => "cas",
        };
        let (end, applied) = match rng.below(100) {
            0..=7 => (End::Info, rng.below(2) == 0),
            8..=13 => (End::Fail, false),
            _ => (End::Ok, true),
        };
        let arg = if f == "write" { json!(1 + rng.below(4)) } else { Value::Null };
        let key = rng.below(keys);
        sims.push(Sim { thread, key, f, arg, result: Value::Null, end, applied, times: (inv, lin, ret) });
    }
    // Take effect in linearization order.
    let mut order: Vec<usize> = (0..sims.len()).collect();
    order.sort_by_key(|&i| sims[i].times.1);
    let mut state = vec![Value::Null; keys as usize];
    for i in order {
        let s = &mut sims[i];
        let cur = &mut state[s.key as usize];
        match s.f {
            "read" => s.result = cur.clone(),
            "write" if s.applied => *cur = s.arg.clone(),
            "write" => {}
            _ => {
                let old = if rng.below(2) == 0 { cur.clone() } else { json!(rng.below(5)) };
                let new = json!(1 + rng.below(4));
                s.arg = json!([old, new]);
                if s.applied && old == *cur && !cur.is_null() {
                    *cur = new;
                } else if s.end == End::Ok {
                    s.end = End::Fail;
                }
            }
        }
    }
    // The last op of a thread may never complete.
    for t in 0..threads {
        if let Some(s) = sims.iter_mut().rev().find(|s| s.thread == t) {
            if s.end == End::Info && rng.below(2) == 0 {
                s.end = End::Never;
            }
        }
    }
    render(&sims, threads)
}

/// Sim ops to history rows: completions before invocations at equal times; a thread continues
/// as a new process after an `info`.
fn render(sims: &[Sim], threads: u64) -> Vec<Op> {
    let mut pids: Vec<u64> = (0..threads).collect();
    let mut events: Vec<(u64, u8, usize, u64)> = Vec::new();
    let mut by_time: Vec<usize> = (0..sims.len()).collect();
    by_time.sort_by_key(|&i| sims[i].times.0);
    for i in by_time {
        let s = &sims[i];
        let pid = pids[s.thread as usize];
        events.push((s.times.0, 1, i, pid));
        if s.end != End::Never {
            events.push((s.times.2, 0, i, pid));
        }
        if matches!(s.end, End::Info | End::Never) {
            pids[s.thread as usize] += threads;
        }
    }
    events.sort_by_key(|&(t, rank, i, _)| (t, rank, i));
    let rows: Vec<(u64, &str, &str, Value)> = events
        .iter()
        .map(|&(_, rank, i, pid)| {
            let s = &sims[i];
            let kind = match (rank, s.end) {
                (1, _) => "invoke",
                (_, End::Ok) => "ok",
                (_, End::Fail) => "fail",
                _ => "info",
            };
            let v = if s.f == "read" && kind == "ok" { s.result.clone() } else { s.arg.clone() };
            (pid, kind, s.f, json!([s.key, v]))
        })
        .collect();
    history(&rows)
}

/// A small random history on one key, with no model behind it: a read sees, and a cas expects,
/// null or a value some write or cas invoked before it completed could have left, at random,
/// so many histories are not linearizable and many are. Writes and cas store values 1..=3;
/// some ops end `info` or `fail`, and a thread's last op may never complete.
fn random_history(seed: u64, threads: u64, n: usize, cas: bool) -> Vec<Op> {
    let mut rng = Rng(seed);
    let mut free = vec![0u64; threads as usize];
    let mut sims: Vec<Sim> = Vec::with_capacity(n);
    let small = |rng: &mut Rng| json!(1 + rng.below(3));
    for _ in 0..n {
        let thread = rng.below(threads);
        let inv = free[thread as usize] + rng.below(3);
        let ret = inv + 1 + rng.below(6);
        free[thread as usize] = ret;
        let (f, arg, result) = match rng.below(if cas { 3 } else { 2 }) {
            0 => ("read", Value::Null, Value::Null),
            1 => ("write", small(&mut rng), Value::Null),
            _ => ("cas", json!([null, small(&mut rng)]), Value::Null),
        };
        let end = match rng.below(100) {
            0..=14 => End::Info,
            15..=24 => End::Fail,
            _ => End::Ok,
        };
        sims.push(Sim { thread, key: 0, f, arg, result, end, applied: false, times: (inv, inv, ret) });
    }
    for i in 0..sims.len() {
        let before = |s: &Sim| s.times.0 < sims[i].times.2;
        let mut seen: Vec<Value> = sims.iter().filter(|s| before(s) && s.f == "write").map(|s| s.arg.clone()).collect();
        seen.extend(sims.iter().filter(|s| before(s) && s.f == "cas").map(|s| s.arg[1].clone()));
        seen.push(Value::Null);
        let pick = seen[rng.below(seen.len() as u64) as usize].clone();
        match sims[i].f {
            "read" => sims[i].result = pick,
            "cas" => sims[i].arg[0] = pick,
            _ => {}
        }
    }
    for t in 0..threads {
        if let Some(s) = sims.iter_mut().rev().find(|s| s.thread == t) {
            if rng.below(4) == 0 {
                s.end = End::Never;
            }
        }
    }
    render(&sims, threads)
}

/// One op for `reference`: what it does, when it was invoked and completed, whether it must
/// take effect (ok) or may (info, or never completed).
struct RefOp {
    f: String,
    /// The write's value, the cas's `[old, new]`, or the ok read's result.
    value: Value,
    invoke: usize,
    complete: usize,
    must: bool,
}

/// Brute force: whether some order of the ops is legal for the model and respects real time.
/// Ok ops must take effect between invocation and completion; `info` ops (and invocations that
/// never completed) at any time after their invocation, or never; `fail`ed ops never. The
/// history is one key with `[0, v]` values.
fn reference(ops: &[Op], cas: bool) -> bool {
    let mut refs: Vec<RefOp> = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    for (pos, op) in ops.iter().enumerate() {
        let crate::history::Process::Client(p) = op.process else { continue };
        let v = op.value[1].clone();
        match op.kind {
            crate::history::OpType::Invoke => {
                open.insert(p, refs.len());
                refs.push(RefOp { f: op.f.clone(), value: v, invoke: pos, complete: usize::MAX, must: false });
            }
            kind => {
                let Some(i) = open.remove(&p) else { continue };
                match kind {
                    crate::history::OpType::Ok => {
                        refs[i].must = true;
                        refs[i].complete = pos;
                        if refs[i].f == "read" {
                            refs[i].value = v;
                        }
                    }
                    crate::history::OpType::Fail => refs[i].f = "failed".into(),
                    _ => {}
                }
            }
        }
    }
    // Failed ops never happen; reads that never returned a value change nothing.
    refs.retain(|r| r.f != "failed" && (r.must || r.f != "read"));
    let mut dead: HashSet<(u64, String)> = HashSet::new();
    search(&refs, 0, &Value::Null, cas, &mut dead)
}

fn search(refs: &[RefOp], done: u64, state: &Value, cas: bool, dead: &mut HashSet<(u64, String)>) -> bool {
    if refs.iter().enumerate().all(|(i, r)| !r.must || done & (1 << i) != 0) {
        return true;
    }
    if dead.contains(&(done, state.to_string())) {
        return false;
    }
    for (i, r) in refs.iter().enumerate() {
        if done & (1 << i) != 0 {
            continue;
        }
        // Every ok op that completed before this one was invoked must already have happened.
        let blocked = refs.iter().enumerate().any(|(j, a)| a.must && done & (1 << j) == 0 && a.complete < r.invoke);
        if blocked {
            continue;
        }
        let next = match r.f.as_str() {
            "read" => (r.value == *state).then(|| state.clone()),
            "write" => Some(r.value.clone()),
            "cas" if cas => (r.value[0] == *state && !state.is_null()).then(|| r.value[1].clone()),
            _ => None,
        };
        if let Some(next) = next {
            if search(refs, done | (1 << i), &next, cas, dead) {
                return true;
            }
        }
    }
    dead.insert((done, state.to_string()));
    false
}

fn verdict(ops: &[Op], cas: bool) -> (Validity, bool) {
    let model = if cas { ModelKind::CasRegister } else { ModelKind::Register };
    (check_linearizable(ops, model, &Budget::default()).validity, reference(ops, cas))
}

proptest! {
    #[test]
    fn histories_from_a_cas_register_are_linearizable(seed in any::<u64>(), threads in 1u64..6, n in 1usize..60, keys in 1u64..3) {
        let ops = simulate(seed, threads, n, keys, true);
        let r = check_linearizable(&ops, ModelKind::CasRegister, &Budget::default());
        prop_assert_eq!(r.validity, Validity::Valid, "{:#?}", r);
    }

    #[test]
    fn histories_from_a_register_are_linearizable(seed in any::<u64>(), threads in 1u64..8, n in 1usize..80) {
        let ops = simulate(seed, threads, n, 1, false);
        let r = check_linearizable(&ops, ModelKind::Register, &Budget::default());
        prop_assert_eq!(r.validity, Validity::Valid, "{:#?}", r);
    }

    #[test]
    fn the_checker_agrees_with_brute_force_on_cas_registers(seed in any::<u64>(), threads in 1u64..7, n in 1usize..20) {
        let ops = random_history(seed, threads, n, true);
        let (got, linearizable) = verdict(&ops, true);
        let want = if linearizable { Validity::Valid } else { Validity::Invalid };
        prop_assert_eq!(got, want, "{:#?}", ops);
    }

    #[test]
    fn the_checker_agrees_with_brute_force_on_registers(seed in any::<u64>(), threads in 1u64..7, n in 1usize..20) {
        let ops = random_history(seed, threads, n, false);
        let (got, linearizable) = verdict(&ops, false);
        let want = if linearizable { Validity::Valid } else { Validity::Invalid };
        prop_assert_eq!(got, want, "{:#?}", ops);
    }

    #[test]
    fn validity_merging_is_order_independent(a in 0usize..3, b in 0usize..3, c in 0usize..3) {
        let v = [Validity::Valid, Validity::Unknown, Validity::Invalid];
        let (a, b, c) = (v[a], v[b], v[c]);
        prop_assert_eq!(a.merge(b).merge(c), c.merge(a).merge(b));
    }
}

/// The simulator itself must be able to produce anomalies once a result is tampered with, or
/// the property above proves nothing.
#[test]
fn a_tampered_simulated_history_is_caught() {
    let mut caught = 0;
    for seed in 0..50 {
        let mut ops = simulate(seed, 3, 40, 1, true);
        let Some(read) = ops.iter_mut().rev().find(|o| o.f == "read" && o.kind == crate::history::OpType::Ok) else {
            continue;
        };
        read.value = json!([0, 99]);
        if check_linearizable(&ops, ModelKind::CasRegister, &Budget::default()).validity == Validity::Invalid {
            caught += 1;
        }
    }
    assert!(caught > 40, "{caught}");
}

/// The random histories must include both verdicts and `info` ops, or the agreement with brute
/// force proves little; and the reference itself must reject a known anomaly.
#[test]
fn random_histories_are_a_mix_of_valid_and_invalid() {
    let (mut valid, mut invalid, mut with_info) = (0, 0, 0);
    for seed in 0..300 {
        let ops = random_history(seed, 3, 8, true);
        if reference(&ops, true) {
            valid += 1;
        } else {
            invalid += 1;
        }
        if ops.iter().any(|o| o.kind == crate::history::OpType::Info) {
            with_info += 1;
        }
    }
    assert!(valid > 30 && invalid > 30 && with_info > 30, "{valid} valid, {invalid} invalid, {with_info} with info");
    let stale = super::tests::history(&[
        (1, "invoke", "write", json!([0, 1])),
        (1, "ok", "write", json!([0, 1])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, null])),
    ]);
    assert!(!reference(&stale, true));
    let late_info = super::tests::history(&[
        (1, "invoke", "write", json!([0, 1])),
        (1, "info", "write", json!([0, 1])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, null])),
        (2, "invoke", "read", json!([0, null])),
        (2, "ok", "read", json!([0, 1])),
    ]);
    assert!(reference(&late_info, true));
}
