//! One pass of the search (`Search::walk`): the configuration set carried along the events,
//! the expansion at each completion, `info` bookkeeping and the memory budget.

use super::{Config, Event, Exhausted, FxHashSet, Input, Mode, Walk, ENTRY};
use crate::checker::fx::FxHashMap;
use crate::checker::model::SequentialSpec;
use crate::checker::slots::{Bits, Slots};
use crate::checker::uses::Uses;

/// Report bytes to the meter in batches of this many: it is shared by all worker threads.
const FLUSH: usize = 1 << 16;

/// Set in `Config::used` while the last step applied an `info` effect that nothing observed
/// yet: in a linearization with as few `info` effects as possible, an observer comes next (an
/// effect followed by a blind write, or by nothing, could be dropped), so only observers may.
const MUST: u32 = 1 << 31;

/// At most this many configurations are explored to list the states of a failure report.
const REPORT_LIMIT: usize = 100_000;

type Cfg<M, B> = Config<<M as SequentialSpec>::State, B>;

pub(super) struct Search<'a, M: SequentialSpec, B> {
    input: &'a Input<'a, M>,
    model: &'a M,
    mode: Mode,
    slots: Slots<M::Op, B>,
    /// Slot of each ok op while it is in flight.
    slot_of: Vec<u8>,
    /// Copies of each `info` class invoked so far (0 once expired).
    invoked: Vec<u32>,
    /// Classes with `invoked > 0`.
    active: Vec<u32>,
    /// Active classes whose legality depends on the state: they can observe another's effect.
    observers: Vec<M::Op>,
    uses: Uses,
    configs: Vec<Cfg<M, B>>,
    /// Configurations after the current completion.
    next: FxHashSet<Cfg<M, B>>,
    /// Memo of the current completion's expansion.
    seen: FxHashSet<Cfg<M, B>>,
    stack: Vec<Cfg<M, B>>,
    /// Per state and pending ops, the `info` effects used by configurations this expansion
    /// reached (only those that used some).
    dom: FxHashMap<(M::State, B), Vec<u32>>,
    /// Whether the beam dropped a configuration.
    dropped: bool,
    steps: u64,
    /// Bytes reported to the meter.
    held: usize,
    /// Bytes added since the last report.
    unreported: usize,
}

enum Stop<S> {
    Exhausted(Exhausted),
    Stuck(u32, Vec<S>),
}

impl<S> From<Exhausted> for Stop<S> {
    fn from(e: Exhausted) -> Self {
        Stop::Exhausted(e)
    }
}

impl<'a, M: SequentialSpec, B: Bits> Search<'a, M, B> {
    pub(super) fn new(input: &'a Input<'a, M>, mode: Mode) -> Self {
        Search {
            input,
            model: input.model,
            mode,
            slots: Slots::new(),
            slot_of: vec![0; input.ops.len()],
            invoked: vec![0; input.classes.len()],
            active: Vec::new(),
            observers: Vec::new(),
            uses: Uses::default(),
            configs: vec![Config { state: input.model.init(), pend: B::default(), used: 0 }],
            next: FxHashSet::default(),
            seen: FxHashSet::default(),
            stack: Vec::new(),
            dom: FxHashMap::default(),
            dropped: false,
            steps: 0,
            held: 0,
            unreported: 0,
        }
    }

    pub(super) fn walk(mut self) -> Walk<M::State> {
        let result = self.events();
        self.input.meter.shrink(self.held);
        match result {
            Ok(()) => Walk::Valid,
            Err(Stop::Exhausted(e)) => Walk::Exhausted(e),
            Err(Stop::Stuck(op, states)) => Walk::Stuck { op, states, dropped: self.dropped },
        }
    }

    fn events(&mut self) -> Result<(), Stop<M::State>> {
        for ev in self.input.events {
            match *ev {
                Event::Call(i) => self.call(i),
                Event::Return(i) => self.ret(i)?,
                Event::InfoCall(c) => self.info_call(c),
                Event::Expire(c) => self.expire(c),
            }
        }
        Ok(())
    }

    /// An op is invoked: configurations where it is a read of the current state take it at
    /// once (that dominates leaving it pending); the rest add it to their pending ops.
    fn call(&mut self, i: u32) {
        let op = self.input.ops[i as usize];
        let s = self.slots.take(self.model, op, self.input.done[i as usize]);
        let s = s.expect("`run` picks a mask wide enough for the ops in flight");
        self.slot_of[i as usize] = s as u8;
        let (b, read_only) = (B::bit(s), self.model.read_only(&op));
        for cfg in &mut self.configs {
            if !read_only || self.model.step(&cfg.state, &op).is_none() {
                cfg.pend = cfg.pend.or(b);
            }
        }
    }

    fn info_call(&mut self, c: u32) {
        self.invoked[c as usize] += 1;
        if self.invoked[c as usize] == 1 {
            self.active.push(c);
            self.set_observers();
        }
    }

    fn expire(&mut self, c: u32) {
        self.invoked[c as usize] = 0;
        self.active.retain(|&a| a != c);
        self.set_observers();
        for cfg in &mut self.configs {
            if self.uses.count(cfg.used, c) > 0 {
                cfg.used = self.uses.without(cfg.used, c);
            }
        }
        self.prune();
    }

    fn set_observers(&mut self) {
        let (classes, model) = (self.input.classes, self.model);
        self.observers = self.active.iter().map(|&c| classes[c as usize]).filter(|op| model.observes(op)).collect();
    }

    /// Op `i` completes: every configuration must have linearized it.
    fn ret(&mut self, i: u32) -> Result<(), Stop<M::State>> {
        let s = self.slot_of[i as usize] as usize;
        let x = B::bit(s);
        if self.configs.iter().all(|c| c.pend.and(x).none()) {
            self.slots.free(s);
            return Ok(());
        }
        self.next.clear();
        self.seen.clear();
        self.dom.clear();
        let configs = std::mem::take(&mut self.configs);
        for &cfg in &configs {
            if cfg.pend.and(x).none() {
                self.keep(cfg)?;
            } else {
                self.expand(cfg, x)?;
            }
        }
        if self.next.is_empty() {
            return Err(Stop::Stuck(i, self.reachable(&configs, x)));
        }
        self.configs = configs;
        self.configs.clear();
        self.configs.extend(self.next.drain());
        self.seen.clear();
        self.stack.clear();
        self.slots.free(s);
        self.prune();
        self.settle()?;
        Ok(())
    }

    /// Linearizes pending ops of `start` until slot `x` is linearized; each way to get there
    /// goes to `next`. `info` effects are applied only when something could observe their
    /// result: any other application can be moved later or dropped.
    fn expand(&mut self, start: Cfg<M, B>, x: B) -> Result<(), Exhausted> {
        if !self.seen.insert(start) {
            return Ok(());
        }
        self.grow(ENTRY)?;
        self.stack.push(start);
        let (model, classes) = (self.model, self.input.classes);
        while let Some(cur) = self.stack.pop() {
            self.steps += 1;
            if self.steps % 1024 == 0 {
                self.input.meter.check_time()?;
            }
            if let Mode::Beam(width) = self.mode {
                // An under-approximation may stop looking anywhere: ok ops are tried first.
                if self.next.len() >= 4 * width || self.seen.len() >= 64 * width {
                    self.dropped = true;
                    self.stack.clear();
                    break;
                }
            }
            // Right after an `info` effect nothing observed, only an observer may follow.
            let must = cur.used & MUST != 0;
            let used = cur.used & !MUST;
            for k in 0..self.active.len() {
                let c = self.active[k];
                let op = &classes[c as usize];
                if must && !model.observes(op) {
                    continue;
                }
                let Some(state) = model.step(&cur.state, op) else { continue };
                if state == cur.state || !self.observed(&state, cur.pend) {
                    continue;
                }
                let used = match self.mode {
                    Mode::Unlimited => used,
                    _ if self.uses.count(used, c) >= self.invoked[c as usize] => continue,
                    _ => self.uses.add(used, c),
                };
                let pend = self.absorb(cur.pend, state);
                let flag = if pend == cur.pend { MUST } else { 0 };
                self.offer(Config { state, pend, used: used | flag }, x)?;
            }
            let mut todo = if must { cur.pend.and(self.slots.observes) } else { cur.pend };
            while let Some(y) = todo.pop() {
                if !cur.pend.and(self.slots.earlier[y]).none() {
                    continue;
                }
                let Some(state) = model.step(&cur.state, &self.slots.op[y]) else { continue };
                let pend = self.absorb(cur.pend.minus(B::bit(y)), state);
                self.offer(Config { state, pend, used }, x)?;
            }
        }
        Ok(())
    }

    fn offer(&mut self, cfg: Cfg<M, B>, x: B) -> Result<(), Exhausted> {
        if cfg.pend.and(x).none() {
            debug_assert_eq!(cfg.used & MUST, 0, "x observed the last info effect");
            self.keep(cfg)
        } else if cfg.used != 0 && self.dominated(cfg) {
            Ok(())
        } else if self.seen.insert(cfg) {
            self.stack.push(cfg);
            self.grow(ENTRY)
        } else {
            Ok(())
        }
    }

    /// Whether this expansion already reached `cfg`'s state and pending ops having used no
    /// more `info` effects (and with no more obligations), recording `cfg` if not.
    fn dominated(&mut self, cfg: Cfg<M, B>) -> bool {
        let seen = self.dom.entry((cfg.state, cfg.pend)).or_default();
        let uses = &self.uses;
        let better = |u: u32| (u & MUST) <= (cfg.used & MUST) && uses.within(u & !MUST, cfg.used & !MUST);
        if seen.iter().any(|&u| better(u)) {
            return true;
        }
        seen.push(cfg.used);
        false
    }

    fn keep(&mut self, cfg: Cfg<M, B>) -> Result<(), Exhausted> {
        if self.next.insert(cfg) {
            return self.grow(ENTRY);
        }
        Ok(())
    }

    /// `pend` without the reads that `state` satisfies: taking a read as soon as it can be
    /// taken dominates waiting, since it leaves the state as it is. (Not so for a write of the
    /// current value: later, it could change the state.)
    fn absorb(&self, pend: B, state: M::State) -> B {
        let (mut out, mut reads) = (pend, pend.and(self.slots.read_only));
        while let Some(y) = reads.pop() {
            if self.model.step(&state, &self.slots.op[y]).is_some() {
                out = out.minus(B::bit(y));
            }
        }
        out
    }

    /// Whether a pending op or an active `info` effect could observe `state`.
    fn observed(&self, state: &M::State, pend: B) -> bool {
        let mut obs = pend.and(self.slots.observes);
        while let Some(y) = obs.pop() {
            if self.model.step(state, &self.slots.op[y]).is_some() {
                return true;
            }
        }
        self.observers.iter().any(|op| self.model.step(state, op).is_some())
    }

    /// Sorts and dedups the configurations, drops those that used a superset of the `info`
    /// effects another with the same state and pending ops used, and applies the beam.
    fn prune(&mut self) {
        self.configs.sort_unstable();
        self.configs.dedup();
        if self.mode != Mode::Unlimited && self.configs.iter().any(|c| c.used != 0) {
            let mut keep = vec![true; self.configs.len()];
            let mut start = 0;
            while start < self.configs.len() {
                let (state, pend) = (self.configs[start].state, self.configs[start].pend);
                let len = self.configs[start..].iter().take_while(|c| c.state == state && c.pend == pend).count();
                let group = start..start + len;
                if len > 1 && len <= 256 {
                    for a in group.clone() {
                        let (ua, cfgs) = (self.configs[a].used, &self.configs);
                        keep[a] = !group.clone().any(|b| b != a && keep[b] && self.uses.within(cfgs[b].used, ua));
                    }
                }
                start += len;
            }
            let mut k = keep.into_iter();
            self.configs.retain(|_| k.next().unwrap_or(true));
        }
        if let Mode::Beam(width) = self.mode {
            if self.configs.len() > width {
                let uses = &self.uses;
                self.configs.sort_by_cached_key(|c| (uses.total(c.used), c.pend.len()));
                self.configs.truncate(width);
                self.configs.sort_unstable();
                self.dropped = true;
            }
        }
        if self.uses.len() > 4096 && self.uses.len() > 8 * self.configs.len() {
            let mut live: Vec<&mut u32> = self.configs.iter_mut().map(|c| &mut c.used).collect();
            self.uses.compact(&mut live);
        }
    }

    /// The states the configurations can reach by linearizing pending ops other than slot `x`
    /// (and `info` effects), for the failure report. Bounded: a report is not worth a budget.
    fn reachable(&mut self, configs: &[Cfg<M, B>], x: B) -> Vec<M::State> {
        let mut seen: FxHashSet<Cfg<M, B>> = configs.iter().copied().collect();
        let mut stack: Vec<Cfg<M, B>> = configs.to_vec();
        let (model, classes) = (self.model, self.input.classes);
        while let Some(cur) = stack.pop() {
            if seen.len() > REPORT_LIMIT {
                break;
            }
            let mut next = Vec::new();
            let mut todo = cur.pend.minus(x);
            while let Some(y) = todo.pop() {
                if let Some(state) = model.step(&cur.state, &self.slots.op[y]) {
                    next.push(Config { state, pend: self.absorb(cur.pend.minus(B::bit(y)), state), used: cur.used });
                }
            }
            for k in 0..self.active.len() {
                let c = self.active[k];
                let Some(state) = model.step(&cur.state, &classes[c as usize]) else { continue };
                let used = match self.mode {
                    Mode::Unlimited => cur.used,
                    _ if self.uses.count(cur.used, c) >= self.invoked[c as usize] => continue,
                    _ => self.uses.add(cur.used, c),
                };
                next.push(Config { state, pend: self.absorb(cur.pend, state), used });
            }
            for cfg in next {
                if seen.insert(cfg) {
                    stack.push(cfg);
                }
            }
        }
        let mut states: Vec<M::State> = seen.iter().map(|c| c.state).collect();
        states.sort();
        states.dedup();
        states
    }

    fn grow(&mut self, bytes: usize) -> Result<(), Exhausted> {
        self.unreported += bytes;
        if self.unreported >= FLUSH {
            let b = std::mem::take(&mut self.unreported);
            self.held += b;
            self.input.meter.grow(b)?;
        }
        Ok(())
    }

    /// Brings the meter in line with what the pass holds now, after a completion.
    fn settle(&mut self) -> Result<(), Exhausted> {
        // A table left large by one big completion would make every later `clear` slow.
        let roomy = |cap: usize| cap > 4096 && cap > 8 * self.configs.len();
        if roomy(self.next.capacity()) {
            self.next = FxHashSet::default();
        }
        if roomy(self.seen.capacity()) {
            self.seen = FxHashSet::default();
        }
        if roomy(self.dom.capacity()) {
            self.dom = FxHashMap::default();
        }
        if roomy(self.stack.capacity()) {
            self.stack = Vec::new();
        }
        let size = std::mem::size_of::<Cfg<M, B>>();
        let tables = self.next.capacity() + self.seen.capacity() + 2 * self.dom.capacity();
        let now = size * (self.configs.capacity() + self.stack.capacity()) + ENTRY * tables + self.uses.bytes();
        self.unreported = 0;
        if now > self.held {
            let b = now - self.held;
            self.held = now;
            self.input.meter.grow(b)
        } else {
            self.input.meter.shrink(self.held - now);
            self.held = now;
            Ok(())
        }
    }
}
