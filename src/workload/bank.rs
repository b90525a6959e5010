//! The bank workload, Jepsen's `bank`: `accounts` accounts hold `total` between them
//! (the client's setup puts it all in the first account, or spreads it when told); clients
//! transfer random amounts between two accounts (`transfer {from, to, amount}`) and read every
//! balance (`read` -> `{account: balance}`, accounts as strings). Checked by `checker::bank`:
//! every read must show the total, no negative balance, every account and no other.

use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use super::txn::shape_or;
use super::{Checked, FinalReaders, Invocation, Workload, WorkloadKind};
use crate::checker::{bank, Budget};
use crate::config::raw::duration;
use crate::history::Op;

/// The test file's `workload: { bank: { ... } }` section.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BankSpec {
    /// Number of accounts, named 0, 1, ... (default 5).
    pub accounts: Option<u32>,
    /// The money in the bank (default 100).
    pub total: Option<i64>,
    /// Transfers move 1..=max-transfer (default 5).
    pub max_transfer: Option<u32>,
    /// Negative balances are legal (default false: a transfer that would overdraw fails).
    pub negative_balances: Option<bool>,
    /// The fraction of ops that are reads (default 0.5).
    pub read_fraction: Option<f64>,
    /// How long an op may take before it is abandoned as indeterminate (default 5s).
    #[serde(default, deserialize_with = "duration::option")]
    pub op_timeout: Option<Duration>,
}

impl BankSpec {
    /// The number of accounts.
    pub fn account_count(&self) -> u32 {
        self.accounts.unwrap_or(5).max(2)
    }

    /// The money in the bank.
    pub fn total_amount(&self) -> i64 {
        self.total.unwrap_or(100)
    }

    /// Each account's opening balance: the total spread evenly, the remainder in account 0.
    pub fn opening_balances(&self) -> Vec<i64> {
        let n = i64::from(self.account_count());
        let each = self.total_amount() / n;
        let mut v = vec![each; n as usize];
        v[0] += self.total_amount() - each * n;
        v
    }
}

/// The bank workload.
pub struct Bank {
    spec: BankSpec,
}

impl Bank {
    /// The workload for `spec`.
    pub fn new(spec: &BankSpec) -> Self {
        Bank { spec: spec.clone() }
    }
}

impl Workload for Bank {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Bank
    }

    fn op(&self, rng: &mut ChaCha8Rng, _key: u32) -> Invocation {
        if rng.random_bool(self.spec.read_fraction.unwrap_or(0.5).clamp(0.0, 1.0)) {
            return Invocation { f: "read", value: Value::Null };
        }
        let n = self.spec.account_count();
        let from = rng.random_range(0..n);
        let to = (from + rng.random_range(1..n)) % n;
        let amount = rng.random_range(1..=self.spec.max_transfer.unwrap_or(5).max(1));
        Invocation { f: "transfer", value: json!({"from": from, "to": to, "amount": amount}) }
    }

    fn final_readers(&self) -> FinalReaders {
        FinalReaders::OnePerNode
    }

    fn final_read(&self, _key: u32) -> Invocation {
        Invocation { f: "read", value: Value::Null }
    }

    fn op_timeout(&self) -> Duration {
        self.spec.op_timeout.unwrap_or(Duration::from_secs(5))
    }

    fn check(&self, ops: &[Op], _budget: &Budget) -> Checked {
        let opts = bank::Options {
            total: Some(self.spec.total_amount()),
            accounts: Some((0..self.spec.account_count()).map(|a| a.to_string()).collect()),
            negative_balances_allowed: self.spec.negative_balances.unwrap_or(false),
        };
        Checked { linearizable: None, outcomes: vec![shape_or(bank::check(ops, &opts), "bank")] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn transfers_move_between_two_distinct_accounts() {
        let w = Bank::new(&BankSpec { accounts: Some(3), max_transfer: Some(2), ..Default::default() });
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut transfers = 0;
        for _ in 0..300 {
            let op = w.op(&mut rng, 0);
            if op.f != "transfer" {
                continue;
            }
            transfers += 1;
            let (from, to, amount) = (&op.value["from"], &op.value["to"], &op.value["amount"]);
            assert_ne!(from, to);
            assert!(from.as_u64().is_some_and(|a| a < 3) && to.as_u64().is_some_and(|a| a < 3));
            assert!(amount.as_u64().is_some_and(|a| (1..=2).contains(&a)));
        }
        assert!(transfers > 100);
        assert_eq!(BankSpec { accounts: Some(3), total: Some(10), ..Default::default() }.opening_balances(), [4, 3, 3]);
    }
}
