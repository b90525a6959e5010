//! Properties of the data-structure checkers: a history produced by a correct object is never
//! judged invalid. Random processes invoke random ops; each op takes effect atomically at its
//! completion against a real lock / counter / set / queue / id generator / bank, and some
//! completions become `info` (applied or not); a crashed process continues as a new one; some
//! ops never complete (and never apply). A final read or drain ends each history.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{bank, counter, mutex, queue, set, set_full, unique_ids, Validity};
use crate::history::{Op, OpType, Process};

/// splitmix64, driven by one proptest seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// A correct object: what to invoke next, and the atomic effect of an op (`None`: it fails).
trait Object {
    fn invoke(&mut self, rng: &mut Rng) -> (&'static str, Value);
    fn apply(&mut self, f: &str, arg: &Value) -> Option<Value>;
    /// Whether an op of `f` may crash after taking effect (a dequeue may not: its element is
    /// then gone unseen, which total-queue, like Jepsen's, cannot tell from a loss).
    fn may_crash_applied(&self, _f: &str) -> bool {
        true
    }
    /// The op that ends the history.
    fn last(&self) -> (&'static str, Value);
}

fn simulate(seed: u64, threads: u64, steps: usize, obj: &mut dyn Object) -> Vec<Op> {
    let mut rng = Rng(seed);
    let mut ops: Vec<Op> = Vec::new();
    let mut proc: Vec<u64> = (0..threads).collect();
    let mut pending: Vec<Option<(&'static str, Value)>> = vec![None; threads as usize];
    let push = |ops: &mut Vec<Op>, p: u64, kind: OpType, f: &str, value: Value| {
        let index = ops.len() as u64;
        ops.push(Op {
            index,
            time: index * 1_000_000,
            kind,
            process: Process::Client(p),
            f: f.into(),
            value,
            node: None,
            error: None,
        });
    };
    for _ in 0..steps {
        let t = rng.below(threads) as usize;
        match pending[t].take() {
            None => {
                let (f, arg) = obj.invoke(&mut rng);
                push(&mut ops, proc[t], OpType::Invoke, f, arg.clone());
                pending[t] = Some((f, arg));
            }
            Some((f, arg)) => match rng.below(10) {
                0 | 1 => {
                    if rng.below(2) == 0 && obj.may_crash_applied(f) {
                        let _ = obj.apply(f, &arg);
                    }
                    push(&mut ops, proc[t], OpType::Info, f, arg);
                    proc[t] += threads;
                }
                _ => match obj.apply(f, &arg) {
                    Some(v) => push(&mut ops, proc[t], OpType::Ok, f, v),
                    None => push(&mut ops, proc[t], OpType::Fail, f, arg),
                },
            },
        }
    }
    // Ops still pending never complete and never took effect.
    let p = proc.iter().max().copied().unwrap_or(0) + threads;
    let (f, arg) = obj.last();
    push(&mut ops, p, OpType::Invoke, f, arg.clone());
    let v = obj.apply(f, &arg).expect("the final op succeeds");
    push(&mut ops, p, OpType::Ok, f, v);
    ops
}

#[derive(Default)]
struct Lock(bool);

impl Object for Lock {
    fn invoke(&mut self, rng: &mut Rng) -> (&'static str, Value) {
        (if rng.below(2) == 0 { "acquire" } else { "release" }, Value::Null)
    }
    fn apply(&mut self, f: &str, _: &Value) -> Option<Value> {
        let want = f == "release";
        (self.0 == want).then(|| {
            self.0 = !want;
            Value::Null
        })
    }
    fn last(&self) -> (&'static str, Value) {
        (if self.0 { "release" } else { "acquire" }, Value::Null)
    }
}

#[derive(Default)]
struct Counter(i64);

impl Object for Counter {
    fn invoke(&mut self, rng: &mut Rng) -> (&'static str, Value) {
        match rng.below(3) {
            0 => ("read", Value::Null),
            _ => ("add", json!(rng.below(9) as i64 - 3)),
        }
    }
    fn apply(&mut self, f: &str, arg: &Value) -> Option<Value> {
        if f == "add" {
            self.0 += arg.as_i64().unwrap_or(0);
            return Some(arg.clone());
        }
        Some(json!(self.0))
    }
    fn last(&self) -> (&'static str, Value) {
        ("read", Value::Null)
    }
}

#[derive(Default)]
struct Set {
    next: i64,
    items: BTreeSet<i64>,
}

impl Object for Set {
    fn invoke(&mut self, rng: &mut Rng) -> (&'static str, Value) {
        if rng.below(3) == 0 {
            return ("read", Value::Null);
        }
        self.next += 1;
        ("add", json!(self.next))
    }
    fn apply(&mut self, f: &str, arg: &Value) -> Option<Value> {
        if f == "add" {
            self.items.insert(arg.as_i64().unwrap_or(0));
            return Some(arg.clone());
        }
        Some(json!(self.items))
    }
    fn last(&self) -> (&'static str, Value) {
        ("read", Value::Null)
    }
}

#[derive(Default)]
struct Queue {
    next: i64,
    items: VecDeque<i64>,
}

impl Object for Queue {
    fn invoke(&mut self, rng: &mut Rng) -> (&'static str, Value) {
        if rng.below(2) == 0 {
            return ("dequeue", Value::Null);
        }
        self.next += 1;
        ("enqueue", json!(self.next))
    }
    fn apply(&mut self, f: &str, arg: &Value) -> Option<Value> {
        match f {
            "enqueue" => {
                self.items.push_back(arg.as_i64().unwrap_or(0));
                Some(arg.clone())
            }
            "dequeue" => Some(self.items.pop_front().map_or(Value::Null, |v| json!(v))),
            _ => Some(json!(self.items.drain(..).collect::<Vec<_>>())),
        }
    }
    fn may_crash_applied(&self, f: &str) -> bool {
        f != "dequeue"
    }
    fn last(&self) -> (&'static str, Value) {
        ("drain", Value::Null)
    }
}

#[derive(Default)]
struct Ids(u64);

impl Object for Ids {
    fn invoke(&mut self, _: &mut Rng) -> (&'static str, Value) {
        ("generate", Value::Null)
    }
    fn apply(&mut self, _: &str, _: &Value) -> Option<Value> {
        self.0 += 1;
        Some(json!(self.0))
    }
    fn last(&self) -> (&'static str, Value) {
        ("generate", Value::Null)
    }
}

struct Bank(BTreeMap<String, i64>);

impl Object for Bank {
    fn invoke(&mut self, rng: &mut Rng) -> (&'static str, Value) {
        if rng.below(2) == 0 {
            return ("read", Value::Null);
        }
        let (from, to) = (rng.below(3), rng.below(3));
        ("transfer", json!({"from": from.to_string(), "to": to.to_string(), "amount": rng.below(6)}))
    }
    fn apply(&mut self, f: &str, arg: &Value) -> Option<Value> {
        if f == "read" {
            return Some(json!(self.0));
        }
        let (from, to) = (arg["from"].as_str()?.to_string(), arg["to"].as_str()?.to_string());
        let amount = arg["amount"].as_i64()?;
        if self.0[&from] < amount {
            return None;
        }
        *self.0.get_mut(&from)? -= amount;
        *self.0.get_mut(&to)? += amount;
        Some(arg.clone())
    }
    fn last(&self) -> (&'static str, Value) {
        ("read", Value::Null)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_real_lock_is_linearizable(seed in any::<u64>(), threads in 1u64..5, steps in 0usize..60) {
        let h = simulate(seed, threads, steps, &mut Lock::default());
        let o = mutex::check(&h, &mutex::Options::default()).expect("a lock history");
        prop_assert_eq!(o.validity, Validity::Valid, "{:#?}\n{:?}", o, h);
    }

    #[test]
    fn a_real_counter_stays_in_bounds(seed in any::<u64>(), threads in 1u64..6, steps in 0usize..120) {
        let h = simulate(seed, threads, steps, &mut Counter::default());
        let o = counter::check(&h, &counter::Options::default()).expect("a counter history");
        prop_assert_eq!(o.validity, Validity::Valid, "{:#?}", o);
    }

    #[test]
    fn a_real_set_loses_nothing_and_is_never_stale(seed in any::<u64>(), threads in 1u64..6, steps in 0usize..120) {
        let h = simulate(seed, threads, steps, &mut Set::default());
        let o = set::check(&h, &set::Options::default()).expect("a set history");
        prop_assert_eq!(o.validity, Validity::Valid, "{:#?}", o);
        let o = set_full::check(&h, &set_full::Options { linearizable: true }).expect("a set-full history");
        prop_assert_ne!(o.validity, Validity::Invalid, "{:#?}", o);
        if o.details["stable_count"] != json!(0) {
            prop_assert_eq!(o.validity, Validity::Valid);
        }
    }

    #[test]
    fn a_real_queue_loses_and_duplicates_nothing(seed in any::<u64>(), threads in 1u64..6, steps in 0usize..120) {
        let h = simulate(seed, threads, steps, &mut Queue::default());
        let o = queue::check(&h, &queue::Options::default()).expect("a queue history");
        prop_assert_eq!(o.validity, Validity::Valid, "{:#?}", o);
    }

    #[test]
    fn a_real_id_generator_is_unique(seed in any::<u64>(), threads in 1u64..6, steps in 0usize..120) {
        let h = simulate(seed, threads, steps, &mut Ids::default());
        let o = unique_ids::check(&h, &unique_ids::Options::default()).expect("an ids history");
        prop_assert_eq!(o.validity, Validity::Valid, "{:#?}", o);
    }

    #[test]
    fn a_real_bank_conserves_money(seed in any::<u64>(), threads in 1u64..6, steps in 0usize..120) {
        let accounts: BTreeMap<String, i64> = (0..3).map(|a| (a.to_string(), 10)).collect();
        let h = simulate(seed, threads, steps, &mut Bank(accounts));
        let opts = bank::Options { total: Some(30), accounts: Some(vec!["0".into(), "1".into(), "2".into()]), ..Default::default() };
        let o = bank::check(&h, &opts).expect("a bank history");
        prop_assert_eq!(o.validity, Validity::Valid, "{:#?}", o);
    }
}

/// The twins: each correct history, broken in one place, must be found invalid.
mod twins {
    use super::*;

    fn last_value(h: &mut [Op]) -> &mut Value {
        &mut h.last_mut().expect("a final op").value
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_read_beyond_every_add_is_out_of_bounds(seed in any::<u64>(), threads in 1u64..6, steps in 0usize..120) {
            let mut h = simulate(seed, threads, steps, &mut Counter::default());
            let reach: i64 = h.iter().filter(|o| o.f == "add").filter_map(|o| o.value.as_i64()).map(i64::abs).sum();
            *last_value(&mut h) = json!(reach + 1);
            let o = counter::check(&h, &counter::Options::default()).expect("a counter history");
            prop_assert_eq!(o.validity, Validity::Invalid);
            prop_assert_eq!(o.anomaly_types, ["out-of-bounds"]);
        }

        #[test]
        fn a_final_read_without_an_acknowledged_element_loses_it(seed in any::<u64>(), threads in 1u64..6, steps in 10usize..120) {
            let mut h = simulate(seed, threads, steps, &mut Set::default());
            let acked = h.iter().find(|o| o.f == "add" && o.kind == OpType::Ok).map(|o| o.value.clone());
            prop_assume!(acked.is_some());
            let acked = acked.expect("assumed");
            if let Some(items) = last_value(&mut h).as_array_mut() {
                items.retain(|v| *v != acked);
            }
            let o = set::check(&h, &set::Options::default()).expect("a set history");
            prop_assert_eq!(o.anomaly_types, ["lost"]);
            let o = set_full::check(&h, &set_full::Options::default()).expect("a set-full history");
            prop_assert_eq!(o.validity, Validity::Invalid);
            prop_assert!(o.anomaly_types.contains(&"lost".to_string()));
        }

        #[test]
        fn a_drain_repeating_an_element_duplicates_it(seed in any::<u64>(), threads in 1u64..6, steps in 10usize..120) {
            let mut h = simulate(seed, threads, steps, &mut Queue::default());
            let drained = last_value(&mut h).as_array_mut().expect("a drain returns a list");
            prop_assume!(!drained.is_empty());
            drained.push(drained[0].clone());
            let o = queue::check(&h, &queue::Options::default()).expect("a queue history");
            prop_assert_eq!(o.validity, Validity::Invalid);
            prop_assert_eq!(o.anomaly_types, ["duplicated"]);
        }

        #[test]
        fn an_id_handed_out_again_is_duplicated(seed in any::<u64>(), threads in 1u64..6, steps in 10usize..120) {
            let mut h = simulate(seed, threads, steps, &mut Ids::default());
            let first = h.iter().find(|o| o.f == "generate" && o.kind == OpType::Ok).map(|o| o.value.clone());
            let first = first.expect("the final generate is ok");
            prop_assume!(*last_value(&mut h) != first);
            *last_value(&mut h) = first;
            let o = unique_ids::check(&h, &unique_ids::Options::default()).expect("an ids history");
            prop_assert_eq!(o.anomaly_types, ["duplicated"]);
        }

        #[test]
        fn money_from_nowhere_is_a_wrong_total(seed in any::<u64>(), threads in 1u64..6, steps in 0usize..120) {
            let accounts: BTreeMap<String, i64> = (0..3).map(|a| (a.to_string(), 10)).collect();
            let mut h = simulate(seed, threads, steps, &mut Bank(accounts));
            let b = last_value(&mut h)["0"].as_i64().expect("a balance");
            last_value(&mut h)["0"] = json!(b + 1);
            let o = bank::check(&h, &bank::Options { total: Some(30), ..Default::default() }).expect("a bank history");
            prop_assert_eq!(o.anomaly_types, ["wrong-total"]);
        }
    }
}
