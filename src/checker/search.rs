//! The per-key linearizability search: Lowe's just-in-time linearization over a set of
//! configurations, memoized, with `info` ops as interchangeable pending effects.
//!
//! Events are walked in history order. A configuration is a model state, the ops invoked but
//! not yet linearized (`pending`), and the `info` effects that may still take effect (`infos`,
//! a multiset: once invoked, `info` ops with the same effect and no deadline are
//! interchangeable). An op is linearized only when forced: at its completion, every
//! configuration that has not linearized it yet is expanded (memoized per expansion) by
//! linearizing pending ops until it has. Where no op is in flight, `pending` is empty in every
//! configuration, so the set is just the states (and `info` effects) still possible: the history
//! is cut there for free and memory stays proportional to concurrency, not to history length.

use super::budget::{Exhausted, Meter};
use super::model::SequentialSpec;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

/// FxHash (rustc's): configurations are a few small integers, and SipHash's DoS resistance buys
/// nothing on a history we generated ourselves.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A hash set keyed by FxHash.
pub(crate) type FxHashSet<T> = HashSet<T, BuildHasherDefault<FxHasher>>;

/// One step of the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// An ok op (index into `ops`) is invoked.
    Call(u32),
    /// An ok op completes: it must be linearized by now.
    Return(u32),
    /// An `info` op of the effect class is invoked: one more copy may take effect.
    InfoCall(u32),
    /// An `info` op of the (single-op) class can no longer be observed: forget it.
    Expire(u32),
}

/// How a key's search ended.
#[derive(Debug)]
pub(crate) enum Outcome<S> {
    /// Some linearization exists.
    Valid,
    /// No configuration could linearize the op (index into `ops`) by its completion.
    Invalid {
        /// The op.
        op: u32,
        /// The model states possible just before its completion, sorted.
        states: Vec<S>,
    },
    /// The budget ran out.
    Unknown(Exhausted),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Config<S> {
    state: S,
    /// Sorted op indices.
    pending: Box<[u32]>,
    /// Sorted `(class, count)` with `count > 0`; shared because most steps don't change it.
    infos: Rc<[(u32, u32)]>,
}

impl<S> Config<S> {
    /// Estimated heap and table bytes, for the memory budget.
    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + 16 + 4 * self.pending.len() + 8 * self.infos.len()
    }
}

/// Searches one key. `ops` are the ok ops, `classes` the `info` effect classes.
pub(crate) fn run<M: SequentialSpec>(
    model: &M,
    events: &[Event],
    ops: &[M::Op],
    classes: &[M::Op],
    meter: &Meter,
) -> Outcome<M::State> {
    let mut s = Search {
        model,
        ops,
        classes,
        meter,
        seen: FxHashSet::default(),
        stack: Vec::new(),
        steps: 0,
        held: 0,
        live: 0,
        fresh: 0,
        memo: 0,
    };
    let result = s.walk(events);
    meter.shrink(s.held);
    result
}

struct Search<'a, M: SequentialSpec> {
    model: &'a M,
    ops: &'a [M::Op],
    classes: &'a [M::Op],
    meter: &'a Meter,
    /// Memo of one expansion: configurations already reached while forcing one op.
    seen: FxHashSet<Config<M::State>>,
    stack: Vec<Config<M::State>>,
    steps: u64,
    /// Bytes reported to the meter and not yet released (the sum of the next three).
    held: usize,
    /// Bytes of the current configuration set.
    live: usize,
    /// Bytes of the set being built at a completion.
    fresh: usize,
    /// Bytes of `seen`.
    memo: usize,
}

impl<M: SequentialSpec> Search<'_, M> {
    fn walk(&mut self, events: &[Event]) -> Outcome<M::State> {
        let start = Config { state: self.model.init(), pending: Box::default(), infos: Rc::from(Vec::new()) };
        let mut configs = vec![start];
        for ev in events {
            let step = match *ev {
                Event::Call(i) => {
                    self.call(&mut configs, i);
                    Ok(())
                }
                Event::InfoCall(c) => {
                    configs.iter_mut().for_each(|cfg| cfg.infos = add_info(&cfg.infos, c));
                    Ok(())
                }
                Event::Expire(c) => {
                    self.expire(&mut configs, c);
                    Ok(())
                }
                Event::Return(i) => self.ret(&mut configs, i),
            };
            match step {
                Ok(()) => {}
                Err(Stop::Exhausted(e)) => return Outcome::Unknown(e),
                Err(Stop::Stuck(op, states)) => return Outcome::Invalid { op, states },
            }
        }
        Outcome::Valid
    }

    /// An op is invoked: configurations where it is a read of the current state take it at
    /// once (that dominates leaving it pending); the rest add it to `pending`.
    fn call(&mut self, configs: &mut [Config<M::State>], i: u32) {
        let op = &self.ops[i as usize];
        let read_only = self.model.read_only(op);
        for cfg in configs {
            if !read_only || self.model.step(&cfg.state, op).is_none() {
                let mut p = cfg.pending.to_vec();
                p.push(i); // ops are numbered in invocation order, so `p` stays sorted
                cfg.pending = p.into_boxed_slice();
            }
        }
    }

    fn expire(&mut self, configs: &mut Vec<Config<M::State>>, class: u32) {
        for cfg in configs.iter_mut() {
            if let Ok(k) = cfg.infos.binary_search_by_key(&class, |e| e.0) {
                let mut v = cfg.infos.to_vec();
                v.remove(k);
                cfg.infos = Rc::from(v);
            }
        }
        prune(configs);
    }

    /// Op `x` completes: every configuration must have linearized it.
    fn ret(&mut self, configs: &mut Vec<Config<M::State>>, x: u32) -> Result<(), Stop<M::State>> {
        let mut next = FxHashSet::default();
        self.fresh = 0;
        for cfg in configs.iter() {
            if cfg.pending.binary_search(&x).is_err() {
                self.keep(cfg.clone(), &mut next).map_err(Stop::Exhausted)?;
            } else {
                self.expand(cfg.clone(), x, &mut next).map_err(Stop::Exhausted)?;
            }
        }
        if next.is_empty() {
            return Err(Stop::Stuck(x, self.reachable(configs, x)));
        }
        *configs = next.into_iter().collect();
        prune(configs);
        let (old, fresh) = (self.live, self.fresh);
        self.live = configs.iter().map(Config::bytes).sum();
        self.release(old + fresh);
        self.account(self.live).map_err(Stop::Exhausted)
    }

    /// Linearizes pending ops of `start` until `x` is linearized; each way to get there goes to
    /// `out`. `info` effects are applied only when a pending op could observe their result:
    /// any other application can be moved later or dropped.
    fn expand(
        &mut self,
        start: Config<M::State>,
        x: u32,
        out: &mut FxHashSet<Config<M::State>>,
    ) -> Result<(), Exhausted> {
        // `clear` costs the table's capacity, so don't let one big expansion slow all later ones.
        if self.seen.capacity() > 256 {
            self.seen = FxHashSet::default();
        } else {
            self.seen.clear();
        }
        let memo = std::mem::take(&mut self.memo);
        self.release(memo);
        self.stack.clear();
        self.seen.insert(start.clone());
        self.stack.push(start);
        while let Some(cur) = self.stack.pop() {
            self.steps += 1;
            if self.steps % 1024 == 0 {
                self.meter.check_time()?;
            }
            for (k, &y) in cur.pending.iter().enumerate() {
                if let Some(state) = self.model.step(&cur.state, &self.ops[y as usize]) {
                    let pending = self.absorb(&cur.pending, Some(k), state);
                    self.offer(Config { state, pending, infos: cur.infos.clone() }, x, out)?;
                }
            }
            if cur.infos.is_empty() {
                continue;
            }
            // What could observe the result of an `info` effect: pending ops that depend on the
            // state, and `info` effects that do (class, copies), collected once per configuration.
            let mut observers: Vec<(u32, u32, M::Op)> = Vec::new();
            observers.extend(cur.pending.iter().map(|&y| (u32::MAX, 0, self.ops[y as usize])));
            observers.extend(cur.infos.iter().map(|&(c, n)| (c, n, self.classes[c as usize])));
            observers.retain(|(_, _, op)| self.model.observes(op));
            for (k, &(class, _)) in cur.infos.iter().enumerate() {
                let Some(state) = self.model.step(&cur.state, &self.classes[class as usize]) else { continue };
                let seen =
                    |&(c, n, op): &(u32, u32, M::Op)| (c != class || n > 1) && self.model.step(&state, &op).is_some();
                if state == cur.state || !observers.iter().any(seen) {
                    continue;
                }
                let pending = self.absorb(&cur.pending, None, state);
                self.offer(Config { state, pending, infos: take_one(&cur.infos, k) }, x, out)?;
            }
        }
        Ok(())
    }

    /// The states the configurations can reach by linearizing pending ops other than `x` (and
    /// `info` effects), for the failure report. Bounded: a report is not worth a second budget.
    fn reachable(&mut self, configs: &[Config<M::State>], x: u32) -> Vec<M::State> {
        const LIMIT: usize = 100_000;
        let mut seen: FxHashSet<Config<M::State>> = configs.iter().cloned().collect();
        let mut stack: Vec<Config<M::State>> = configs.to_vec();
        while let Some(cur) = stack.pop() {
            if seen.len() > LIMIT {
                break;
            }
            let mut next = Vec::new();
            for (k, &y) in cur.pending.iter().enumerate().filter(|&(_, &y)| y != x) {
                if let Some(state) = self.model.step(&cur.state, &self.ops[y as usize]) {
                    next.push(Config {
                        state,
                        pending: self.absorb(&cur.pending, Some(k), state),
                        infos: cur.infos.clone(),
                    });
                }
            }
            for (k, &(c, _)) in cur.infos.iter().enumerate() {
                if let Some(state) = self.model.step(&cur.state, &self.classes[c as usize]) {
                    let infos = take_one(&cur.infos, k);
                    next.push(Config { state, pending: self.absorb(&cur.pending, None, state), infos });
                }
            }
            for cfg in next {
                if seen.insert(cfg.clone()) {
                    stack.push(cfg);
                }
            }
        }
        let mut states: Vec<M::State> = seen.iter().map(|c| c.state).collect();
        states.sort();
        states.dedup();
        states
    }

    fn offer(&mut self, cfg: Config<M::State>, x: u32, out: &mut FxHashSet<Config<M::State>>) -> Result<(), Exhausted> {
        if cfg.pending.binary_search(&x).is_err() {
            self.keep(cfg, out)
        } else if !self.seen.contains(&cfg) {
            let bytes = cfg.bytes() + 16;
            self.memo += bytes;
            self.seen.insert(cfg.clone());
            self.stack.push(cfg);
            self.account(bytes)
        } else {
            Ok(())
        }
    }

    fn keep(&mut self, cfg: Config<M::State>, out: &mut FxHashSet<Config<M::State>>) -> Result<(), Exhausted> {
        let bytes = cfg.bytes();
        if out.insert(cfg) {
            self.fresh += bytes;
            return self.account(bytes);
        }
        Ok(())
    }

    /// `pending` without index `skip` and without the reads that `state` satisfies: taking a
    /// read as soon as it can be taken dominates waiting, since it leaves the state as it is.
    /// (Not so for a write of the current value: later, it could change the state.)
    fn absorb(&self, pending: &[u32], skip: Option<usize>, state: M::State) -> Box<[u32]> {
        let mut out = Vec::with_capacity(pending.len());
        for (k, &y) in pending.iter().enumerate() {
            let op = &self.ops[y as usize];
            if Some(k) != skip && !(self.model.read_only(op) && self.model.step(&state, op).is_some()) {
                out.push(y);
            }
        }
        out.into_boxed_slice()
    }

    fn account(&mut self, bytes: usize) -> Result<(), Exhausted> {
        self.held += bytes;
        self.meter.grow(bytes)
    }

    fn release(&mut self, bytes: usize) {
        let bytes = bytes.min(self.held);
        self.held -= bytes;
        self.meter.shrink(bytes);
    }
}

enum Stop<S> {
    Exhausted(Exhausted),
    Stuck(u32, Vec<S>),
}

/// `infos` with one copy of entry `k` used up.
fn take_one(infos: &[(u32, u32)], k: usize) -> Rc<[(u32, u32)]> {
    let mut v = infos.to_vec();
    if v[k].1 > 1 {
        v[k].1 -= 1;
    } else {
        v.remove(k);
    }
    Rc::from(v)
}

fn add_info(infos: &Rc<[(u32, u32)]>, class: u32) -> Rc<[(u32, u32)]> {
    let mut v = infos.to_vec();
    match v.binary_search_by_key(&class, |e| e.0) {
        Ok(k) => v[k].1 += 1,
        Err(k) => v.insert(k, (class, 1)),
    }
    Rc::from(v)
}

/// Drops duplicate configurations and those dominated by one with the same state and
/// pending ops but at least as many of every `info` effect still available.
fn prune<S: Ord + Clone>(configs: &mut Vec<Config<S>>) {
    configs.sort();
    configs.dedup();
    if configs.iter().all(|c| c.infos.is_empty()) {
        return;
    }
    let mut keep = vec![true; configs.len()];
    let mut start = 0;
    while start < configs.len() {
        let mut end = start + 1;
        while end < configs.len()
            && configs[end].state == configs[start].state
            && configs[end].pending == configs[start].pending
        {
            end += 1;
        }
        if end - start <= 256 {
            for a in start..end {
                keep[a] = !(start..end).any(|b| b != a && keep[b] && covers(&configs[b].infos, &configs[a].infos));
            }
        }
        start = end;
    }
    let mut k = keep.into_iter();
    configs.retain(|_| k.next().unwrap_or(true));
}

/// Whether multiset `big` contains multiset `small` (both sorted by class).
fn covers(big: &[(u32, u32)], small: &[(u32, u32)]) -> bool {
    let mut j = 0;
    for &(c, n) in small {
        while j < big.len() && big[j].0 < c {
            j += 1;
        }
        if j == big.len() || big[j].0 != c || big[j].1 < n {
            return false;
        }
    }
    true
}
