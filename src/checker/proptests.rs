//! Property: histories produced by a sequential model are always linearizable. Ops get random
//! intervals on a few threads, take effect at a random point inside their interval (in that
//! order, on a per-key cas register), and some are turned into `info` (applied or not), `fail`
//! (not applied) or left without completion.

use super::tests::history;
use super::*;
use crate::history::Op;
use proptest::prelude::*;
use serde_json::{json, Value};

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
