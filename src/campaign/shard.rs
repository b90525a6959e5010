//! Sharding a campaign over CI runners: [`Shard`] (`--shard K/N`) picks the cells a runner
//! owns, and [`MatrixCell`] names each cell of the whole matrix so that shards can be checked
//! against each other when they are merged.
//!
//! The unit of the split is a cell, a (test, schedule) pair with all its repetitions: pass/fail
//! across repetitions then comes from one runner and one cluster, so "1/3 valid" never mixes
//! machines. Cells are dealt round-robin by their position in the expanded matrix, as nextest's
//! `--partition count:K/N` deals tests: cell `i` (0-based) belongs to shard `i % N + 1`. The
//! split depends only on the campaign file, never on the machine, the clock or a hash seed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The most shards a campaign can be cut into.
pub const MAX_SHARDS: u32 = 1000;

/// Shard `index` of `count` (both 1-based, `1 <= index <= count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// K: which shard, from 1.
    pub index: u32,
    /// N: how many shards.
    pub count: u32,
}

/// A `--shard` value that is not `K/N`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid shard {given:?}: {why} (expected K/N with 1 <= K <= N <= {MAX_SHARDS}, e.g. 2/3)")]
pub struct ShardParseError {
    /// What was given.
    pub given: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl FromStr for Shard {
    type Err = ShardParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| ShardParseError { given: s.to_string(), why };
        let (k, n) = s.split_once('/').ok_or_else(|| err("no '/'"))?;
        let k: u32 = k.trim().parse().map_err(|_| err("K is not a whole number"))?;
        let n: u32 = n.trim().parse().map_err(|_| err("N is not a whole number"))?;
        if n == 0 || n > MAX_SHARDS {
            return Err(err("N out of range"));
        }
        if k == 0 || k > n {
            return Err(err("K out of range"));
        }
        Ok(Shard { index: k, count: n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether this shard runs cell `cell` (0-based position in the matrix).
    pub fn owns(&self, cell: usize) -> bool {
        cell % self.count as usize == (self.index - 1) as usize
    }

    /// The cells this shard runs, of a matrix of `cells` cells.
    pub fn cells(&self, cells: usize) -> Vec<usize> {
        (0..cells).filter(|c| self.owns(*c)).collect()
    }
}

/// One cell of the whole matrix, as `campaign.json` records it: the matrix's identity, the
/// same on every runner (no absolute paths, no host names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixCell {
    /// The test's name (its `name:`).
    pub test: String,
    /// The test file as the campaign file writes it.
    pub file: String,
    /// The schedule's label (`own`, `partition`).
    pub schedule: String,
}

/// What a sharded campaign records about its shard in `campaign.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// K.
    pub index: u32,
    /// N.
    pub count: u32,
    /// The cells it owns (positions in `matrix`).
    pub cells: Vec<usize>,
}

impl ShardRecord {
    /// The record of `shard` over a matrix of `cells` cells.
    pub fn new(shard: Shard, cells: usize) -> Self {
        ShardRecord { index: shard.index, count: shard.count, cells: shard.cells(cells) }
    }

    /// The shard it records.
    pub fn shard(&self) -> Shard {
        Shard { index: self.index, count: self.count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_parses() {
        for (s, k, n) in [("1/1", 1, 1), ("2/3", 2, 3), (" 3 / 3 ", 3, 3)] {
            assert_eq!(s.parse::<Shard>(), Ok(Shard { index: k, count: n }), "{s}");
        }
        assert_eq!(Shard { index: 2, count: 3 }.to_string(), "2/3");
    }

    #[test]
    fn a_bad_shard_says_why() {
        for (s, why) in [
            ("3", "no '/'"),
            ("0/2", "K out of range"),
            ("3/2", "K out of range"),
            ("1/0", "N out of range"),
            ("1/1001", "N out of range"),
            ("a/2", "K is not a whole number"),
            ("1/-2", "N is not a whole number"),
        ] {
            let e = s.parse::<Shard>().expect_err(s);
            assert_eq!(e.why, why, "{s}");
            assert!(e.to_string().contains("expected K/N"), "{e}");
        }
    }

    #[test]
    fn shards_deal_cells_round_robin_and_cover_the_matrix_exactly_once() {
        let s = |k| Shard { index: k, count: 3 };
        assert_eq!(s(1).cells(7), vec![0, 3, 6]);
        assert_eq!(s(2).cells(7), vec![1, 4]);
        assert_eq!(s(3).cells(7), vec![2, 5]);
        for cells in 0..20 {
            for n in 1..6 {
                let mut all: Vec<usize> = (1..=n).flat_map(|k| Shard { index: k, count: n }.cells(cells)).collect();
                all.sort_unstable();
                assert_eq!(all, (0..cells).collect::<Vec<_>>(), "{cells} cells in {n} shards");
            }
        }
        // More shards than cells: the last ones own nothing.
        assert!(Shard { index: 3, count: 3 }.cells(2).is_empty());
    }
}
