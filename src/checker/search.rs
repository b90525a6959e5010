//! The per-key linearizability search: Lowe's just-in-time linearization over a set of
//! configurations, walked in history order.
//!
//! A configuration is a model state, the in-flight ok ops not yet linearized (a bitmask over
//! `Slots`) and the `info` effects it has used up (an interned multiset, `Uses`): all three are
//! integers, so a configuration is a small `Copy` value and memo tables hash it directly. An op
//! is linearized only when forced: at its completion, every configuration that has not
//! linearized it yet is expanded (memoized) by linearizing pending ops and `info` effects until
//! it has. Where no op is in flight every pending mask is empty, so the set is just the states
//! (and used `info` effects) still possible: the history is cut there for free and memory
//! stays proportional to concurrency, not to history length.
//!
//! `run` searches in up to three passes (see `Mode`), each conclusive in one direction: a beam
//! search that keeps only the most promising configurations (a linearization it finds is
//! real), one where `info` effects may be used any number of times (if even that gets stuck,
//! none exists), and the exact search.

use super::budget::{Exhausted, Meter};
use super::fx::FxHashSet;
use super::model::SequentialSpec;
use super::slots::Bits;

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
    /// The budget ran out (or more ok ops were in flight at once than the search can track).
    Unknown(String),
}

/// Configurations kept per completion by the first, beam-search pass. At concurrency 10 with
/// unique values a completion can leave a hundred configurations; at 64 the beam dropped some
/// on every key of the 1M-op benchmark, got stuck, and two more whole passes followed.
const BEAM: usize = 1024;

/// How a pass treats `info` effects and the size of the configuration set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Exact, but keeping at most this many configurations after each completion (those that
    /// used the fewest `info` effects): a linearization found is real; getting stuck after
    /// dropping configurations proves nothing.
    Beam(usize),
    /// Each invoked `info` effect may take effect any number of times until it expires: more
    /// than the truth allows, so getting stuck proves the key invalid; passing proves nothing.
    Unlimited,
    /// Each `info` op takes effect at most once, and no configuration is dropped.
    Exact,
}

/// How one pass ended.
enum Walk<S> {
    Valid,
    Stuck { op: u32, states: Vec<S>, dropped: bool },
    Exhausted(Exhausted),
}

/// Searches one key. `ops` are the ok ops, `classes` the `info` effect classes.
pub(crate) fn run<M: SequentialSpec>(
    model: &M,
    events: &[Event],
    ops: &[M::Op],
    classes: &[M::Op],
    meter: &Meter,
) -> Outcome<M::State> {
    let (mut done, mut in_flight, mut most) = (vec![0u32; ops.len()], 0usize, 0usize);
    for (rank, ev) in events.iter().enumerate() {
        match *ev {
            Event::Call(_) => {
                in_flight += 1;
                most = most.max(in_flight);
            }
            Event::Return(i) => {
                done[i as usize] = u32::try_from(rank).unwrap_or(u32::MAX);
                in_flight -= 1;
            }
            Event::InfoCall(_) | Event::Expire(_) => {}
        }
    }
    let input = Input { model, events, ops, classes, done: &done, meter };
    if most <= 64 {
        passes::<M, u64>(&input)
    } else if most <= 128 {
        passes::<M, u128>(&input)
    } else {
        Outcome::Unknown(format!("{most} ok ops in flight at once on one key; the search tracks at most 128"))
    }
}

fn passes<M: SequentialSpec, B: Bits>(input: &Input<'_, M>) -> Outcome<M::State> {
    let mut stuck = None;
    for mode in [Mode::Beam(BEAM), Mode::Unlimited, Mode::Exact] {
        match Search::<M, B>::new(input, mode).walk() {
            Walk::Valid if mode != Mode::Unlimited => return Outcome::Valid,
            Walk::Valid => {}
            Walk::Stuck { op, states, dropped: false } => return Outcome::Invalid { op, states },
            Walk::Stuck { op, states, dropped: true } => stuck = stuck.or(Some((op, states))),
            Walk::Exhausted(e) => return Outcome::Unknown(e.reason().into()),
        }
    }
    // Unreachable: the exact pass never drops a configuration.
    match stuck {
        Some((op, states)) => Outcome::Invalid { op, states },
        None => Outcome::Valid,
    }
}

struct Input<'a, M: SequentialSpec> {
    model: &'a M,
    events: &'a [Event],
    ops: &'a [M::Op],
    classes: &'a [M::Op],
    /// Rank of each ok op's `Return` event.
    done: &'a [u32],
    meter: &'a Meter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Config<S, B> {
    pub state: S,
    /// Pending slots.
    pub pend: B,
    /// Interned multiset of used `info` effects.
    pub used: u32,
}

/// Estimated bytes per configuration held in a vector or hash set.
const ENTRY: usize = 48;

mod walk;

use walk::Search;
