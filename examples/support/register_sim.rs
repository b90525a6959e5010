//! Seeded synthetic register histories, shared by `examples/gen_history.rs` and
//! `benches/checker.rs` (both include this file with `#[path]`).
//!
//! Each key is simulated as its own cas register: a thread invokes an op, the op takes effect
//! at a random point inside its interval (or, for an `info` op, maybe never), and completes
//! later. Keys are then merged by time into one history of Jepsen independent tuples `[k, v]`,
//! so every history is linearizable and the expected verdict is `valid`. After an `info`
//! completion the thread continues as a new process, as in Jepsen.

use brawl::history::{Op, OpType, Process};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// What to generate.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Client operations (each is an invocation plus a completion).
    pub ops: usize,
    /// Independent keys.
    pub keys: u64,
    /// Client threads per key (the concurrency each key sees).
    pub threads_per_key: u64,
    /// Written values are drawn from `1..=values` (Jepsen's register workload uses 5).
    pub values: u64,
    /// Percent of ops that complete `info` (half of them took effect).
    pub info_pct: u64,
    /// Percent of ops that complete `fail` (besides cas ops that found another value).
    pub fail_pct: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum F {
    Read,
    Write,
    Cas,
}

/// One simulated op of one key; values are `0` for null.
struct Sim {
    thread: u64,
    f: F,
    arg: u64,
    cas: (u64, u64),
    result: u64,
    kind: OpType,
    applied: bool,
    inv: u64,
    lin: u64,
    ret: u64,
}

fn simulate_key(rng: &mut ChaCha8Rng, shape: &Shape, n: usize) -> Vec<Sim> {
    let mut free = vec![0u64; shape.threads_per_key as usize];
    let mut sims = Vec::with_capacity(n);
    for _ in 0..n {
        let thread = rng.random_range(0..shape.threads_per_key);
        let inv = free[thread as usize] + rng.random_range(0..2_000);
        let ret = inv + rng.random_range(100..10_000);
        let lin = rng.random_range(inv + 1..ret);
        free[thread as usize] = ret;
        let f = match rng.random_range(0..4) {
            0 | 1 => F::Read,
            2 => F::Write,
            _ => F::Cas,
        };
        let roll = rng.random_range(0..100);
        let (kind, applied) = if roll < shape.info_pct {
            (OpType::Info, rng.random_bool(0.5))
        } else if roll < shape.info_pct + shape.fail_pct {
            (OpType::Fail, false)
        } else {
            (OpType::Ok, true)
        };
        let arg = if f == F::Write { rng.random_range(1..=shape.values) } else { 0 };
        sims.push(Sim { thread, f, arg, cas: (0, 0), result: 0, kind, applied, inv, lin, ret });
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| sims[i].lin);
    let mut state = 0;
    for i in order {
        let s = &mut sims[i];
        match s.f {
            F::Read => s.result = state,
            F::Write if s.applied => state = s.arg,
            F::Write => {}
            F::Cas => {
                let old = if rng.random_bool(0.5) { state } else { rng.random_range(1..=shape.values) };
                let new = rng.random_range(1..=shape.values);
                s.cas = (old, new);
                if s.applied && old == state && state != 0 {
                    state = new;
                } else if s.kind == OpType::Ok {
                    s.kind = OpType::Fail;
                }
            }
        }
    }
    sims
}

fn value(v: u64) -> Value {
    if v == 0 {
        Value::Null
    } else {
        json!(v)
    }
}

/// The whole history: keys simulated independently, then merged by time.
pub fn generate(shape: &Shape, seed: u64) -> Vec<Op> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let per_key = shape.ops / shape.keys as usize;
    let keys: Vec<Vec<Sim>> = (0..shape.keys).map(|_| simulate_key(&mut rng, shape, per_key)).collect();
    // (time, completion-before-invocation, key, op, process).
    let mut events: Vec<(u64, u8, u32, u32, u64)> = Vec::with_capacity(2 * shape.ops);
    let stride = shape.keys * shape.threads_per_key;
    for (k, sims) in keys.iter().enumerate() {
        let mut pid: Vec<u64> = (0..shape.threads_per_key).map(|t| k as u64 * shape.threads_per_key + t).collect();
        for (i, s) in sims.iter().enumerate() {
            let p = pid[s.thread as usize];
            events.push((s.inv, 1, k as u32, i as u32, p));
            events.push((s.ret, 0, k as u32, i as u32, p));
            if s.kind == OpType::Info {
                pid[s.thread as usize] += stride;
            }
        }
    }
    events.sort_unstable_by_key(|e| (e.0, e.1, e.2, e.3));
    events
        .iter()
        .enumerate()
        .map(|(index, &(time, rank, k, i, p))| {
            let s = &keys[k as usize][i as usize];
            let kind = if rank == 1 { OpType::Invoke } else { s.kind };
            let (f, v) = match s.f {
                F::Read if kind == OpType::Ok => ("read", value(s.result)),
                F::Read => ("read", Value::Null),
                F::Write => ("write", value(s.arg)),
                F::Cas => ("cas", json!([value(s.cas.0), value(s.cas.1)])),
            };
            Op {
                index: index as u64,
                time,
                kind,
                process: Process::Client(p),
                f: f.into(),
                value: json!([k, v]),
                node: None,
                error: matches!(kind, OpType::Info | OpType::Fail).then(|| "timeout".to_string()),
            }
        })
        .collect()
}
