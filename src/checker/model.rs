//! Sequential models for the linearizability checker, in the shape of stateright's
//! `SequentialSpec`: a state and a `step` that either accepts an op (giving the next state) or
//! rejects it. Register values are interned to `u32` ids per key (`0` is null, the absent
//! initial value), so states are small, `Copy` and cheap to hash.

use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification: what a single-threaded object would answer.
pub trait SequentialSpec: Send + Sync {
    /// The object's state; compared and hashed by the search's memo tables.
    type State: Copy + Eq + Ord + Hash + Debug + Send;
    /// One operation together with its observed result (e.g. a read and the value it saw).
    type Op: Copy + Eq + Hash + Debug + Send + Sync;
    /// The state before any op.
    fn init(&self) -> Self::State;
    /// Applies `op` to `state`: `Some(next)` if the op (with its result) is legal there.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;
    /// Whether the op's legality depends on the state (reads, cas). Ops that don't (blind
    /// writes) never "consume" a state, which lets the search skip pointless `info` effects.
    fn observes(&self, op: &Self::Op) -> bool;
    /// Whether the op never changes the state where it is legal (reads). The search takes such
    /// an op as soon as the state allows it, which is always at least as good as waiting.
    fn read_only(&self, op: &Self::Op) -> bool;
}

/// A register op with interned values (`0` = null).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegOp {
    /// A read that returned the value.
    Read(u32),
    /// A write of the value.
    Write(u32),
    /// Compare-and-set `[old, new]`; present in a history only when it succeeded or is unknown.
    Cas(u32, u32),
}

/// The null (absent) register value's id.
pub const NULL: u32 = 0;

/// A read/write register starting at null. Rejects cas.
#[derive(Clone, Copy, Debug, Default)]
pub struct Register;

impl SequentialSpec for Register {
    type State = u32;
    type Op = RegOp;
    fn init(&self) -> u32 {
        NULL
    }
    fn step(&self, state: &u32, op: &RegOp) -> Option<u32> {
        match *op {
            RegOp::Read(v) => (v == *state).then_some(*state),
            RegOp::Write(v) => Some(v),
            RegOp::Cas(..) => None,
        }
    }
    fn observes(&self, op: &RegOp) -> bool {
        !matches!(op, RegOp::Write(_))
    }
    fn read_only(&self, op: &RegOp) -> bool {
        match *op {
            RegOp::Read(_) => true,
            RegOp::Write(_) => false,
            RegOp::Cas(old, new) => old == new,
        }
    }
}

/// A read/write/cas register starting at null. A cas succeeds only when the register holds
/// `old` and is not null: cas on an absent key fails, as in etcd.
#[derive(Clone, Copy, Debug, Default)]
pub struct CasRegister;

impl SequentialSpec for CasRegister {
    type State = u32;
    type Op = RegOp;
    fn init(&self) -> u32 {
        NULL
    }
    fn step(&self, state: &u32, op: &RegOp) -> Option<u32> {
        match *op {
            RegOp::Cas(old, new) => (old == *state && *state != NULL).then_some(new),
            other => Register.step(state, &other),
        }
    }
    fn observes(&self, op: &RegOp) -> bool {
        !matches!(op, RegOp::Write(_))
    }
    fn read_only(&self, op: &RegOp) -> bool {
        match *op {
            RegOp::Read(_) => true,
            RegOp::Write(_) => false,
            RegOp::Cas(old, new) => old == new,
        }
    }
}

/// A lock op of Knossos' mutex model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockOp {
    /// Take the lock.
    Acquire,
    /// Give it back.
    Release,
}

/// Knossos' `mutex` model: a lock that is free (`false`) or held (`true`), free at first.
/// Acquiring a held lock or releasing a free one is inconsistent. As in Knossos, the lock has no
/// owner: any process may release it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mutex;

impl SequentialSpec for Mutex {
    type State = bool;
    type Op = LockOp;
    fn init(&self) -> bool {
        false
    }
    fn step(&self, held: &bool, op: &LockOp) -> Option<bool> {
        match (*held, op) {
            (false, LockOp::Acquire) => Some(true),
            (true, LockOp::Release) => Some(false),
            _ => None,
        }
    }
    fn observes(&self, _op: &LockOp) -> bool {
        true
    }
    fn read_only(&self, _op: &LockOp) -> bool {
        false
    }
}

/// Which model a history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// read / write.
    Register,
    /// read / write / cas.
    CasRegister,
    /// A key-value map: every op carries its key (`[k, v]`) and keys are independent, so it is
    /// checked as one cas-register per key (linearizability is compositional: a history is
    /// linearizable iff each key's sub-history is).
    Kv,
}

impl ModelKind {
    /// Whether the model accepts `cas` ops.
    pub fn allows_cas(self) -> bool {
        !matches!(self, ModelKind::Register)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_reads_what_was_written() {
        let s = Register.step(&NULL, &RegOp::Write(3)).expect("writes always apply");
        assert_eq!(Register.step(&s, &RegOp::Read(3)), Some(3));
        assert_eq!(Register.step(&s, &RegOp::Read(4)), None);
        assert_eq!(Register.step(&s, &RegOp::Cas(3, 4)), None);
    }

    #[test]
    fn cas_needs_the_old_value_and_a_present_key() {
        assert_eq!(CasRegister.step(&NULL, &RegOp::Cas(NULL, 1)), None);
        assert_eq!(CasRegister.step(&2, &RegOp::Cas(2, 5)), Some(5));
        assert_eq!(CasRegister.step(&2, &RegOp::Cas(1, 5)), None);
        assert!(!CasRegister.observes(&RegOp::Write(1)));
        assert!(CasRegister.observes(&RegOp::Read(1)));
    }

    #[test]
    fn a_mutex_alternates_acquire_and_release() {
        let held = Mutex.step(&Mutex.init(), &LockOp::Acquire).expect("a free lock can be taken");
        assert_eq!(Mutex.step(&held, &LockOp::Acquire), None);
        assert_eq!(Mutex.step(&held, &LockOp::Release), Some(false));
        assert_eq!(Mutex.step(&false, &LockOp::Release), None);
    }
}
