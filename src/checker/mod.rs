//! Checkers: pure functions from a history to a verdict (`Validity`).
//!
//! - `linearizable`: the linearizability checker (`check_linearizable`) for register, cas-register
//!   and key-value histories; `model` holds the sequential models, `prepare` splits a history by
//!   key and `search` runs the per-key search under a `Budget`.
//! - `outcome`: `CheckOutcome`, the one result shape of every other checker (sets, counters,
//!   banks, queues, transactions ...), and `ShapeError` for a history that does not fit a model.
//! - `models`: Elle's consistency model names and aliases (`canonical`), for
//!   `--consistency-models` and the transactional checker.
//! - `register_shape`: refuses register histories whose ops do not fit the model (`check_shape`).
//! - `stats`: ok / fail / info counts per `f` (`stats`), flagging fs that never succeeded.
//! - Jepsen's data-structure checkers, one file each, all `check(ops, &Options) ->
//!   Result<CheckOutcome, ShapeError>`: `set`, `set_full`, `counter`, `bank`, `queue`
//!   (total-queue), `unique_ids`, and `mutex` (Knossos' lock model through the same search as
//!   registers); `elements` holds what they share.
//!
//! Checkers never do I/O and never read the wall clock except to enforce a `Budget`; a budget
//! that runs out turns the verdict into `Unknown`, never into a wrong `Valid` or `Invalid`.

pub mod bank;
mod budget;
pub mod counter;
mod elements;
pub(crate) mod fx;
mod linearizable;
mod model;
pub mod models;
pub mod mutex;
pub mod outcome;
mod prepare;
#[cfg(test)]
mod proptests;
pub mod queue;
pub mod register_shape;
mod search;
pub mod set;
pub mod set_full;
mod slots;
mod stats;
#[cfg(test)]
mod tests;
pub mod txn;
pub mod unique_ids;
mod uses;

pub use budget::Budget;
pub use linearizable::{check_linearizable, check_linearizable_ops, KeyFailure, LinearizabilityResult, UnknownKey};
pub use model::{CasRegister, LockOp, ModelKind, RegOp, Register, SequentialSpec};
pub use outcome::{Anomaly, CheckOutcome, CycleStep, ShapeError};
pub use stats::{stats, stats_ops, FStats, StatsResult};

use serde::{Deserialize, Serialize};

/// A checker's verdict. `Invalid > Unknown > Valid`, so verdicts merge with `max()`, like
/// Jepsen's valid-priorities: one invalid part makes the whole invalid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    /// The history satisfies the property.
    Valid,
    /// The checker could not decide (budget exhausted, unsupported ops, nothing to check).
    #[default]
    Unknown,
    /// The history violates the property.
    Invalid,
}

impl Validity {
    /// Merges two verdicts: the worse one wins.
    pub fn merge(self, other: Validity) -> Validity {
        self.max(other)
    }
}
