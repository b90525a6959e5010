//! `Slots`: the ok ops in flight on one key, each in a numbered slot, so that a
//! configuration's pending ops are one bitmask (`Bits`) rather than a list.
//!
//! A slot is taken at an op's invocation and freed at its completion, when every configuration
//! has linearized it, so a freed slot is clear in every configuration. Besides the op, a slot
//! knows which other slots hold an identical op that completes earlier (`earlier`): of
//! identical pending ops, linearizing the one that completes first is always at least as good
//! (swap the two in any linearization), so the search only tries that one.

use super::model::SequentialSpec;
use std::hash::Hash;

/// A set of slots.
pub(crate) trait Bits: Copy + Default + Eq + Ord + Hash + Send + std::fmt::Debug {
    /// How many slots the type holds.
    const CAPACITY: usize;
    /// The set `{i}`.
    fn bit(i: usize) -> Self;
    /// Intersection.
    fn and(self, o: Self) -> Self;
    /// Union.
    fn or(self, o: Self) -> Self;
    /// `self` without `o`.
    fn minus(self, o: Self) -> Self;
    /// Whether the set is empty.
    fn none(self) -> bool;
    /// Removes and returns the lowest member.
    fn pop(&mut self) -> Option<usize>;
    /// Number of members.
    fn len(self) -> u32;
}

macro_rules! bits {
    ($t:ty) => {
        impl Bits for $t {
            const CAPACITY: usize = <$t>::BITS as usize;
            fn bit(i: usize) -> Self {
                1 << i
            }
            fn and(self, o: Self) -> Self {
                self & o
            }
            fn or(self, o: Self) -> Self {
                self | o
            }
            fn minus(self, o: Self) -> Self {
                self & !o
            }
            fn none(self) -> bool {
                self == 0
            }
            fn pop(&mut self) -> Option<usize> {
                if *self == 0 {
                    return None;
                }
                let i = self.trailing_zeros() as usize;
                *self &= *self - 1;
                Some(i)
            }
            fn len(self) -> u32 {
                self.count_ones()
            }
        }
    };
}
bits!(u64);
bits!(u128);

/// The in-flight ok ops of one key.
pub(crate) struct Slots<O, B> {
    /// The op in each slot (meaningful for slots in `used`; empty until the first `take`).
    pub op: Vec<O>,
    /// Where each slot's op completes (the rank of its `Return` event).
    pub done: Vec<u32>,
    /// Slots holding an identical op that completes earlier.
    pub earlier: Vec<B>,
    /// Slots in use.
    pub used: B,
    /// Slots whose op never changes the state (reads): taken as soon as the state allows.
    pub read_only: B,
    /// Slots whose op depends on the state.
    pub observes: B,
}

impl<O: Copy + Eq, B: Bits> Slots<O, B> {
    /// Empty slots.
    pub fn new() -> Self {
        Slots {
            op: Vec::new(),
            done: vec![0; B::CAPACITY],
            earlier: vec![B::default(); B::CAPACITY],
            used: B::default(),
            read_only: B::default(),
            observes: B::default(),
        }
    }

    /// Puts `op`, completing at rank `done`, in the lowest free slot, which it returns.
    pub fn take<M: SequentialSpec<Op = O>>(&mut self, model: &M, op: O, done: u32) -> Option<usize> {
        let s = (0..B::CAPACITY).find(|&s| self.used.and(B::bit(s)).none())?;
        if self.op.is_empty() {
            self.op = vec![op; B::CAPACITY];
        }
        let (b, mut earlier) = (B::bit(s), B::default());
        let mut others = self.used;
        while let Some(t) = others.pop() {
            if self.op[t] == op {
                if self.done[t] < done {
                    earlier = earlier.or(B::bit(t));
                } else {
                    self.earlier[t] = self.earlier[t].or(b);
                }
            }
        }
        self.op[s] = op;
        self.done[s] = done;
        self.earlier[s] = earlier;
        self.used = self.used.or(b);
        if model.read_only(&op) {
            self.read_only = self.read_only.or(b);
        }
        if model.observes(&op) {
            self.observes = self.observes.or(b);
        }
        Some(s)
    }

    /// Frees slot `s`.
    pub fn free(&mut self, s: usize) {
        let b = B::bit(s);
        self.used = self.used.minus(b);
        self.read_only = self.read_only.minus(b);
        self.observes = self.observes.minus(b);
        self.earlier[s] = B::default();
        let mut others = self.used;
        while let Some(t) = others.pop() {
            self.earlier[t] = self.earlier[t].minus(b);
        }
    }
}
