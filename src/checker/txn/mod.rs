//! The transactional checker for list-append and rw-register histories, after Elle: infer
//! ww / wr / rw (and process / realtime) dependencies between transactions, find the direct
//! anomalies (G1a, G1b, internal, ...) and every class of dependency cycle (G0 ... G2-item)
//! with an exhaustive, polynomial search, explain each, and place the result in Elle's
//! consistency-model lattice (`not`, `also_not`).
//!
//! - `history`: the compact representation (`Txns`) and its `Builder`; `ops` fills it from
//!   `Op`s, `scan` straight from a file's bytes, `split` on two threads for a big file.
//! - `list_append`, `rw_register`: inference; `order`: process and realtime edges.
//! - `graph`: CSR graph, SCCs, BFS; `cycles`: the cycle search; `explain`: words.
//! - `lattice`: Elle's models and anomalies; `found`: the anomalies collected.

mod cycles;
mod explain;
mod found;
mod graph;
mod history;
pub mod lattice;
mod list_append;
mod ops;
mod order;
mod rw_register;
mod scan;
mod split;
#[cfg(test)]
mod split_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::json;

use crate::checker::{CheckOutcome, ShapeError, Validity};
use crate::history::Op;
use cycles::Variant;
use found::Found;
use graph::{PROCESS, REALTIME};
use history::Txns;

/// Which transactional model the history follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Model {
    /// Elle's list-append: `[["append", k, v], ["r", k, [v ...]]]`.
    #[default]
    ListAppend,
    /// Elle's rw-register: `[["w", k, v], ["r", k, v-or-null]]`.
    RwRegister,
}

impl Model {
    /// The name `--model` uses.
    pub fn name(self) -> &'static str {
        match self {
            Model::ListAppend => "list-append",
            Model::RwRegister => "rw-register",
        }
    }
}

/// What to check for.
#[derive(Clone, Debug)]
pub struct Options {
    /// The model of the history.
    pub model: Model,
    /// Consistency models to check (Elle's names and aliases); default `strict-serializable`.
    pub consistency_models: Vec<String>,
    /// Extra anomaly classes to look for, as elle-cli's `--anomalies`.
    pub anomalies: Vec<String>,
    /// rw-register: a txn that reads k = v1 then writes v2 orders v1 before v2.
    pub writes_follow_reads: bool,
    /// rw-register: each process sees each key's versions in order.
    pub sequential_keys: bool,
    /// rw-register: each key's versions follow realtime order.
    pub linearizable_keys: bool,
    /// How many edge visits the reachability part of the G-single search may spend before the
    /// verdict becomes unknown (a count, never a clock).
    pub search_budget: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            model: Model::ListAppend,
            consistency_models: vec!["strict-serializable".into()],
            anomalies: Vec::new(),
            writes_follow_reads: false,
            sequential_keys: false,
            linearizable_keys: false,
            search_budget: 20_000_000_000,
        }
    }
}

/// Errors of `check_file`.
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The file is not a history this reader understands.
    #[error("{path}:{line}: expected {expected}")]
    Parse { path: String, line: u64, expected: String },
    /// An op does not fit the model.
    #[error("{path}:{line}: {source}")]
    Shape { path: String, line: u64, source: ShapeError },
    /// An unknown consistency model.
    #[error(transparent)]
    Model(#[from] lattice::UnknownModel),
}

/// Checks a history of ops (a run's, or a small file's).
pub fn check(ops: &[Op], opts: &Options) -> Result<CheckOutcome, ShapeError> {
    let txns = ops::build(ops, opts.model)?;
    Ok(check_txns(&txns, opts))
}

/// Checks a history file (Jepsen EDN, elle-cli JSON or brawl's JSON Lines) straight from its
/// bytes, without building `Op`s.
pub fn check_file(path: &Path, opts: &Options) -> Result<CheckOutcome, TxnError> {
    lattice::validate(&opts.consistency_models)?;
    let txns = split::read(path, opts.model)?;
    Ok(check_txns(&txns, opts))
}

/// `check_file` on a history held in memory (`path` only names it in errors): what the fuzz
/// target of the transaction scanner calls.
pub fn check_bytes(bytes: &[u8], path: &Path, opts: &Options) -> Result<CheckOutcome, TxnError> {
    lattice::validate(&opts.consistency_models)?;
    let txns = scan::read_bytes(bytes, path, opts.model)?;
    Ok(check_txns(&txns, opts))
}

/// The anomaly classes to report: every one the models forbid, plus the extra ones asked for
/// and those implying them.
fn wanted_set(opts: &Options) -> BTreeSet<String> {
    let mut w = lattice::prohibited(&opts.consistency_models);
    w.extend(opts.anomalies.iter().cloned());
    w
}

fn check_txns(t: &Txns, opts: &Options) -> CheckOutcome {
    let wanted = wanted_set(opts);
    let is_wanted = |c: &str| wanted.contains(c) || wanted.contains(&item(c));
    let mut found = Found::default();
    let mut edges = Vec::new();
    let any = |suffix: &str| wanted.iter().any(|a| a.ends_with(suffix));
    let (want_process, want_realtime) = (any("-process"), any("-realtime"));
    // Process and realtime edges need only the txns' positions: build them on a second thread
    // while the data dependencies are inferred.
    let (index, order_edges) = std::thread::scope(|s| {
        let order = s.spawn(|| {
            let mut e = Vec::new();
            if want_process || want_realtime {
                order::process(t, &mut e);
            }
            if want_realtime {
                order::realtime(t, &mut e);
            }
            e
        });
        let index = match opts.model {
            Model::ListAppend => list_append::infer(t, &mut edges, &mut found).map(Idx::List),
            Model::RwRegister => rw_register::infer(t, opts, &mut edges, &mut found).map(Idx::Reg),
        };
        (index, order.join())
    });
    let order_edges = order_edges.unwrap_or_else(|_| {
        // The order thread only sorts and scans; a panic there is a bug: redo it here.
        let mut e = Vec::new();
        order::process(t, &mut e);
        if want_realtime {
            order::realtime(t, &mut e);
        }
        e
    });
    let index = match index {
        Ok(i) => i,
        Err(why) => {
            let mut o = CheckOutcome::new(opts.model.name(), Validity::Unknown, format!("cannot check: {why}"));
            o.details = json!({"error": why});
            return o;
        }
    };
    edges.extend(order_edges);
    let mut variants = vec![Variant { suffix: "", extra: 0 }];
    if want_process {
        variants.push(Variant { suffix: "-process", extra: PROCESS });
    }
    if want_realtime {
        variants.push(Variant { suffix: "-realtime", extra: PROCESS | REALTIME });
    }
    let nedges = edges.len();
    let cyc = cycles::search(t.txns.len(), &mut edges, &variants, &is_wanted, opts.search_budget);
    drop(edges);
    let ix = match &index {
        Idx::List(l) => explain::Index::List(l),
        Idx::Reg(r) => explain::Index::Reg(r),
    };
    for c in &cyc.cycles {
        found.add(&c.class, || explain::cycle(t, &ix, c));
    }
    outcome(t, opts, found, &is_wanted, cyc.unknown, nedges)
}

enum Idx {
    List(list_append::ListIndex),
    Reg(rw_register::RegIndex),
}

/// `G-single` -> `G-single-item`, for models that forbid the item variant only.
fn item(c: &str) -> String {
    for base in ["G-single", "G-nonadjacent"] {
        if let Some(rest) = c.strip_prefix(base) {
            return format!("{base}-item{rest}");
        }
    }
    c.to_string()
}

fn outcome(
    t: &Txns,
    opts: &Options,
    found: Found,
    wanted: &dyn Fn(&str) -> bool,
    unknown: Vec<String>,
    nedges: usize,
) -> CheckOutcome {
    let reported: Vec<String> = found.counts.keys().filter(|c| wanted(c)).cloned().collect();
    let ignored: Vec<String> = found.counts.keys().filter(|c| !wanted(c)).cloned().collect();
    let committed = t.txns.iter().filter(|x| x.status == history::Status::Ok).count();
    let validity = if !reported.is_empty() {
        Validity::Invalid
    } else if !unknown.is_empty() || committed == 0 {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    let models = opts.consistency_models.join(", ");
    let summary = match validity {
        Validity::Valid => format!("{} txns ({committed} ok): no anomaly that {models} forbids", t.txns.len()),
        Validity::Invalid => format!("{} txns: {} (not {models})", t.txns.len(), reported.join(", ")),
        Validity::Unknown if committed == 0 => "no committed transaction to check".to_string(),
        Validity::Unknown => format!("{} txns: {}", t.txns.len(), unknown.join("; ")),
    };
    let mut o = CheckOutcome::new(opts.model.name(), validity, summary);
    let mut counts = serde_json::Map::new();
    for c in &reported {
        counts.insert(c.clone(), json!(found.counts[c]));
    }
    let mut kept = found.kept;
    for c in &reported {
        for a in kept.remove(c).unwrap_or_default() {
            o.push(c, a);
        }
    }
    if !reported.is_empty() {
        // Every rw edge here is an item anti-dependency: place G-single and G-nonadjacent in
        // the lattice as Elle's -item variants (which also imply G2-item).
        let items: Vec<String> = reported.iter().map(|c| item(c)).collect();
        let (not, also_not) = lattice::boundary(&items);
        o.not = not;
        o.also_not = also_not;
    }
    o.details = json!({
        "txns": t.txns.len(),
        "committed": committed,
        "edges": nedges,
        "counts": counts,
        "kept_per_class": found::KEEP,
        "unknown": unknown,
        "not_forbidden_by_models": ignored,
    });
    o
}
