//! `check_linearizable`: Knossos-style linearizability checking of register, cas-register and
//! key-value histories. The history is split by key (linearizability is compositional), keys
//! are searched in parallel under one shared `Budget`, and each invalid key is explained by the
//! op that cannot be linearized, the ops concurrent with it and the states possible before it.

use super::budget::{Budget, Meter};
use super::model::{CasRegister, ModelKind, RegOp, Register};
use super::prepare::{self, Deadline, KeyHistory, KeyOps};
use super::search::{self, Event, Outcome};
use super::Validity;
use crate::history::{Op, Ops};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many concurrent ops are listed in a `KeyFailure`.
const MAX_CONCURRENT: usize = 32;

/// The linearizability checker's result; goes into `results.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearizabilityResult {
    /// Invalid if any key is; else unknown if any key is; else valid (also for no ops at all).
    pub validity: Validity,
    /// The model the history was checked against.
    pub model: ModelKind,
    /// How many keys the history has.
    pub keys_checked: usize,
    /// Client ops that took part in the search (ok ops and `info` ops that could be observed).
    pub ops_checked: usize,
    /// One entry per invalid key, in order of the key's first appearance.
    pub failures: Vec<KeyFailure>,
    /// Keys the checker could not decide, and why.
    pub unknown_keys: Vec<UnknownKey>,
    /// Wall time the check took (informational; never part of the verdict).
    pub elapsed: Duration,
    /// The most bytes the searches' configuration sets and memo tables held at once (estimate).
    pub peak_search_bytes: usize,
}

/// Why one key is not linearizable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyFailure {
    /// The key (null for a plain single-register history).
    pub key: Value,
    /// The completion of the op that no order of the ops before it can explain.
    pub op: Op,
    /// That op's invocation.
    pub invocation: Op,
    /// Ops of the key whose intervals overlap it (their completions, or invocations when they
    /// never completed), up to 32 in history order.
    pub concurrent: Vec<Op>,
    /// How many more concurrent ops there were than are listed.
    pub concurrent_omitted: usize,
    /// The register values possible just before the op completed (`info` ops still in flight
    /// may yet change them).
    pub possible_states: Vec<Value>,
    /// A one-line explanation.
    pub message: String,
}

/// A key whose verdict is `Unknown`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnknownKey {
    /// The key.
    pub key: Value,
    /// Why: budget exhausted, or an op the model does not know.
    pub reason: String,
}

enum KeyOutcome {
    Valid,
    Invalid(Box<KeyFailure>),
    Unknown(String),
}

/// Checks that the client ops in `ops` (a whole history, nemesis ops included) are
/// linearizable with respect to `model`. `info` ops and invocations that never completed may
/// take effect at any time after their invocation, or never; `fail`ed ops never do.
///
/// Pure: the verdict depends only on `ops` and `model`, except that a budget running out
/// makes the affected keys (and so at worst the verdict) `Unknown`.
pub fn check_linearizable(ops: &[Op], model: ModelKind, budget: &Budget) -> LinearizabilityResult {
    check_linearizable_ops(ops, model, budget)
}

/// `check_linearizable` for any `Ops`, a `CompactHistory` say.
pub fn check_linearizable_ops<H: Ops + ?Sized>(ops: &H, model: ModelKind, budget: &Budget) -> LinearizabilityResult {
    let started = Instant::now();
    let meter = Meter::new(budget);
    let split = prepare::split(ops);
    let key_values: Vec<Value> = split.keys.iter().map(|k| k.key.clone()).collect();
    let mut order: Vec<usize> = (0..split.keys.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(split.keys[k].positions.len()));
    // Each key is prepared and checked by one worker, and its data dropped once checked.
    let tuples = split.tuples;
    let keys: Vec<Mutex<Option<KeyOps>>> = split.keys.into_iter().map(|k| Mutex::new(Some(k))).collect();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(keys.len()).max(1);
    let mut outcomes: Vec<Option<KeyOutcome>> = (0..keys.len()).map(|_| None).collect();
    let mut ops_checked = 0;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while let Some(&k) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let Some(key) = keys[k].lock().map(|mut h| h.take()).unwrap_or(None) else { continue };
                        let h = prepare::prepare(ops, model, tuples, key);
                        done.push((k, h.ops.len(), check_key(&h, ops, model, &meter)));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            // A worker only panics on a bug; its keys then stay `None` and are reported unknown.
            for (k, n, o) in h.join().unwrap_or_default() {
                outcomes[k] = Some(o);
                ops_checked += n;
            }
        }
    });
    let mut result = LinearizabilityResult {
        validity: Validity::Valid,
        model,
        keys_checked: keys.len(),
        ops_checked,
        failures: Vec::new(),
        unknown_keys: Vec::new(),
        elapsed: Duration::ZERO,
        peak_search_bytes: meter.peak(),
    };
    for (key, outcome) in key_values.into_iter().zip(outcomes) {
        match outcome.unwrap_or_else(|| KeyOutcome::Unknown("checker thread panicked".into())) {
            KeyOutcome::Valid => {}
            KeyOutcome::Invalid(f) => result.failures.push(*f),
            KeyOutcome::Unknown(reason) => result.unknown_keys.push(UnknownKey { key, reason }),
        }
    }
    if !result.failures.is_empty() {
        result.validity = Validity::Invalid;
    } else if !result.unknown_keys.is_empty() {
        result.validity = Validity::Unknown;
    }
    result.elapsed = started.elapsed();
    result
}

/// The search's inputs for one key: events, ok ops (index -> index in `h.ops`) and `info`
/// effect classes (shared by `info` ops without deadline, one per op otherwise).
fn build_events(h: &KeyHistory) -> (Vec<Event>, Vec<usize>, Vec<RegOp>) {
    let mut timed: Vec<(usize, u8, Event)> = Vec::with_capacity(2 * h.ops.len());
    let mut ok_ops = Vec::new();
    let mut classes = Vec::new();
    let mut shared: HashMap<RegOp, u32> = HashMap::new();
    let new_class = |classes: &mut Vec<RegOp>, op| {
        classes.push(op);
        u32::try_from(classes.len() - 1).unwrap_or(u32::MAX)
    };
    for (i, o) in h.ops.iter().enumerate() {
        match (o.ok, o.deadline, o.complete) {
            (true, _, Some(done)) => {
                let j = u32::try_from(ok_ops.len()).unwrap_or(u32::MAX);
                ok_ops.push(i);
                timed.push((o.call, 0, Event::Call(j)));
                timed.push((done, 0, Event::Return(j)));
            }
            (_, Deadline::At(d), _) => {
                let c = new_class(&mut classes, o.op);
                timed.push((o.call, 0, Event::InfoCall(c)));
                timed.push((d, 1, Event::Expire(c)));
            }
            _ => {
                let c = match shared.get(&o.op) {
                    Some(&c) => c,
                    None => new_class(&mut classes, o.op),
                };
                shared.insert(o.op, c);
                timed.push((o.call, 0, Event::InfoCall(c)));
            }
        }
    }
    timed.sort_by_key(|&(pos, rank, _)| (pos, rank));
    (timed.into_iter().map(|t| t.2).collect(), ok_ops, classes)
}

fn check_key<H: Ops + ?Sized>(h: &KeyHistory, ops: &H, model: ModelKind, meter: &Meter) -> KeyOutcome {
    if let Some(why) = &h.unsupported {
        return KeyOutcome::Unknown(why.clone());
    }
    if let Err(e) = meter.check_time() {
        return KeyOutcome::Unknown(e.reason().into());
    }
    let (events, ok_ops, classes) = build_events(h);
    let reg_ops: Vec<RegOp> = ok_ops.iter().map(|&i| h.ops[i].op).collect();
    let outcome = match model {
        ModelKind::Register => search::run(&Register, &events, &reg_ops, &classes, meter),
        ModelKind::CasRegister | ModelKind::Kv => search::run(&CasRegister, &events, &reg_ops, &classes, meter),
    };
    match outcome {
        Outcome::Valid => KeyOutcome::Valid,
        Outcome::Unknown(reason) => KeyOutcome::Unknown(reason),
        Outcome::Invalid { op, states } => KeyOutcome::Invalid(Box::new(explain(h, ops, ok_ops[op as usize], &states))),
    }
}

/// Builds the report for op `i` of key `h`, which could not be linearized.
fn explain<H: Ops + ?Sized>(h: &KeyHistory, ops: &H, i: usize, states: &[u32]) -> KeyFailure {
    let x = &h.ops[i];
    let done = x.complete.unwrap_or(x.call);
    let end = |o: &prepare::KOp| match o.deadline {
        Deadline::At(d) => d.max(o.complete.unwrap_or(0)),
        Deadline::Never | Deadline::Forever => usize::MAX,
    };
    let overlapping: Vec<&prepare::KOp> =
        h.ops.iter().enumerate().filter(|&(j, o)| j != i && o.call < done && end(o) > x.call).map(|(_, o)| o).collect();
    let concurrent: Vec<Op> =
        overlapping.iter().take(MAX_CONCURRENT).map(|o| ops.op(o.complete.unwrap_or(o.call))).collect();
    let possible_states: Vec<Value> = states.iter().map(|&s| h.values.value(s)).collect();
    let op = ops.op(done);
    let shown = |v: &[Value]| v.iter().map(Value::to_string).collect::<Vec<_>>().join(", ");
    let message = format!(
        "{} {} (index {}) on key {} cannot be linearized: just before it completed the register could only hold [{}]; \
         {} ops were concurrent with it",
        op.f,
        op.value,
        op.index,
        h.key,
        shown(&possible_states),
        overlapping.len()
    );
    KeyFailure {
        key: h.key.clone(),
        op,
        invocation: ops.op(x.call),
        concurrent_omitted: overlapping.len() - concurrent.len(),
        concurrent,
        possible_states,
        message,
    }
}
