//! Availability in operators' terms, from the client ops of a `Digest`. An op *succeeded* when
//! the system answered it: `ok`, or a `fail` that is a definite answer (a cas whose expected
//! value did not match, `digest::ANSWER_ERRORS`); timeouts, refused connections and ops that
//! never completed did not.
//!
//! - **per second**: the share of the ops invoked in each second that completed `ok`;
//! - **overall**: the share of all client ops that succeeded;
//! - **SLO attainment**: the share of all client ops that succeeded within the SLO's latency;
//! - **per fault interval** (from the completion of the op that started the fault to the
//!   completion of the op that healed it): after the heal, the time until the system
//!   *recovered*: the first moment from which the ops invoked during `STABLE` succeeded, save for
//!   the failures the background rate explains (looked for until the next fault starts); the time
//!   from the start to the fault's first failed op (invoked before recovery, and starting a
//!   stretch of `STABLE` with more failures than the background explains); and the
//!   unavailability window from that op to recovery.
//!
//!   The background rate is the share of ops that failed before the first fault (zero when no op
//!   ran before it). A system that never fails outside faults has none, and then a single failure
//!   counts; a noisy one is allowed the mean plus three standard deviations of its noise per
//!   stretch, so onset and recovery are exact only to within that noise.
//!
//! Everything is exact: no sampling.

use std::time::Duration;

use crate::config::Slo;
use crate::nemesis::FaultKind;

use super::digest::{ClientOp, Digest};

/// How long every op must succeed, after a heal, for the system to count as recovered.
pub const STABLE: Duration = Duration::from_secs(1);

/// Availability figures of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Availability {
    /// Per second of the run (by invocation time): `(ok, total)`.
    pub per_second: Vec<(u64, u64)>,
    /// Client ops the system answered (`ClientOp::answered`).
    pub ok: u64,
    /// Client ops invoked.
    pub total: u64,
    /// Client ops answered within the SLO's latency.
    pub within_slo: u64,
    /// The objective measured against.
    pub slo: Slo,
    /// One per fault interval, in start order.
    pub windows: Vec<FaultWindow>,
    /// The share of ops that failed before the first fault: noise the windows allow for.
    pub background: f64,
}

impl Availability {
    /// The share of ops that succeeded (1 when there were none).
    pub fn overall(&self) -> f64 {
        ratio(self.ok, self.total)
    }

    /// The share of ops answered within the SLO's latency (1 when there were none).
    pub fn slo_attainment(&self) -> f64 {
        ratio(self.within_slo, self.total)
    }

    /// True when the attainment reached the SLO's target.
    pub fn slo_met(&self) -> bool {
        self.slo_attainment() >= self.slo.target
    }
}

/// What one fault interval did to availability.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultWindow {
    /// The fault's kind.
    pub kind: FaultKind,
    /// When the fault was in effect (ns).
    pub start: u64,
    /// When it was healed (ns; the end of the history if never).
    pub end: u64,
    /// From the start to the invocation of the first op that did not succeed, among those
    /// invoked from the start until recovery; `None` when all of them succeeded.
    pub to_first_failure: Option<Duration>,
    /// From the heal until recovery; zero when the system was healthy at the heal, `None` when
    /// it did not recover before the next fault or the end of the history.
    pub to_recover: Option<Duration>,
    /// From the first failure to recovery; `None` without a failure or without recovery.
    pub unavailable: Option<Duration>,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Computes the availability figures of `d` against `slo`.
pub fn availability(d: &Digest, slo: Slo) -> Availability {
    let secs = (d.end / 1_000_000_000 + 1) as usize;
    let mut per_second = vec![(0u64, 0u64); secs];
    let (mut ok, mut within_slo) = (0, 0);
    let slo_ns = slo.latency.as_nanos() as u64;
    for op in &d.ops {
        let s = &mut per_second[((op.invoke / 1_000_000_000) as usize).min(secs - 1)];
        s.1 += 1;
        if op.answered {
            s.0 += 1;
            ok += 1;
            if op.latency().is_some_and(|l| l <= slo_ns) {
                within_slo += 1;
            }
        }
    }
    let background = background_failure_rate(d);
    // failures[i]: how many of the first i ops did not succeed.
    let mut failures = Vec::with_capacity(d.ops.len() + 1);
    failures.push(0u32);
    for o in &d.ops {
        failures.push(failures.last().copied().unwrap_or(0) + u32::from(!o.answered));
    }
    let w = Windows { ops: &d.ops, failures: &failures, background };
    let starts: Vec<u64> = d.faults.iter().map(|f| f.start).collect();
    let windows = d
        .faults
        .iter()
        .map(|f| {
            let end = d.fault_end(f);
            // Recovery is looked for until the next fault starts (of any kind) or the history ends.
            let horizon = starts.iter().copied().filter(|&s| s > end).min().unwrap_or(u64::MAX);
            w.window(f.kind, f.start, end, horizon)
        })
        .collect();
    Availability { per_second, ok, total: d.ops.len() as u64, within_slo, slo, windows, background }
}

/// The share of ops that did not succeed before the first fault: the system's noise, which is
/// not the faults' doing. Zero (every failure counts) when no op ran before the first fault.
fn background_failure_rate(d: &Digest) -> f64 {
    let first = d.faults.iter().map(|f| f.start).min().unwrap_or(u64::MAX);
    let before = &d.ops[..d.ops.partition_point(|o| o.invoke < first)];
    let failed = before.iter().filter(|o| !o.answered).count() as u64;
    1.0 - ratio(before.len() as u64 - failed, before.len() as u64)
}

/// At most how many of `n` ops may fail at the background rate: the mean plus three standard
/// deviations (Poisson). Zero when the background rate is zero.
fn allowed_failures(n: usize, background: f64) -> u32 {
    let mean = n as f64 * background;
    (mean + 3.0 * mean.sqrt()).floor() as u32
}

/// Sliding windows of `STABLE` over the client ops (in invocation order).
struct Windows<'a> {
    ops: &'a [ClientOp],
    failures: &'a [u32],
    background: f64,
}

impl Windows<'_> {
    /// The ops invoked in `[from, min(from + STABLE, horizon))`, starting at position `lo`:
    /// (how many, how many did not succeed).
    fn count(&self, lo: usize, from: u64, horizon: u64) -> (usize, u32) {
        let until = from.saturating_add(STABLE.as_nanos() as u64).min(horizon);
        let hi = lo + self.ops[lo..].partition_point(|o| o.invoke < until);
        (hi - lo, self.failures[hi] - self.failures[lo])
    }

    /// A stretch with at least one success and no more failures than the background explains.
    fn healthy(&self, lo: usize, from: u64, horizon: u64) -> bool {
        let (n, failed) = self.count(lo, from, horizon);
        (failed as usize) < n && failed <= allowed_failures(n, self.background)
    }

    /// One fault interval's window.
    fn window(&self, kind: FaultKind, start: u64, end: u64, horizon: u64) -> FaultWindow {
        let ops = self.ops;
        let from = ops.partition_point(|o| o.invoke < start);
        let at_heal = ops.partition_point(|o| o.invoke < end);
        let until = ops.partition_point(|o| o.invoke < horizon);
        // Recovered: the heal itself, or the first op after it, that starts a healthy stretch.
        let recovered = std::iter::once((at_heal, end))
            .chain((at_heal..until).map(|i| (i, ops[i].invoke)))
            .find(|&(lo, t)| self.healthy(lo, t, horizon))
            .map(|(_, t)| t);
        // The fault's first failure: one that starts a stretch with more failures than noise.
        let last = ops.partition_point(|o| o.invoke < recovered.unwrap_or(horizon));
        let first_failure = (from..last.max(from))
            .find(|&i| !ops[i].answered && !self.healthy_failures(i, horizon))
            .map(|i| ops[i].invoke);
        FaultWindow {
            kind,
            start,
            end,
            to_first_failure: first_failure.map(|f| Duration::from_nanos(f - start)),
            to_recover: recovered.map(|r| Duration::from_nanos(r.saturating_sub(end))),
            unavailable: match (first_failure, recovered) {
                (Some(f), Some(r)) => Some(Duration::from_nanos(r.saturating_sub(f))),
                _ => None,
            },
        }
    }

    /// True when the failures in the stretch starting at op `i` are within the noise.
    fn healthy_failures(&self, i: usize, horizon: u64) -> bool {
        let (n, failed) = self.count(i, self.ops[i].invoke, horizon);
        failed <= allowed_failures(n, self.background)
    }
}

/// A share written the way operators say it: `99.95% (three nines)`.
pub fn nines(share: f64) -> String {
    let pct = share * 100.0;
    let digits = if share >= 0.9999 {
        4
    } else if share >= 0.99 {
        3
    } else {
        2
    };
    let mut p = format!("{pct:.digits$}");
    if p.contains('.') {
        p = p.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if share >= 1.0 {
        return "100% (every request)".into();
    }
    // Count the leading nines: 0.9995 has three. The epsilon absorbs float error (0.999).
    let n = (-(1.0 - share).log10() + 1e-9).floor().max(0.0) as usize;
    let words = ["no nines", "one nine", "two nines", "three nines", "four nines", "five nines", "six nines"];
    let name = words.get(n).map_or_else(|| format!("{n} nines"), |w| w.to_string());
    format!("{p}% ({name})")
}

#[cfg(test)]
mod tests {
    use super::super::digest::{tests::op, Digest, FaultInterval};
    use super::*;
    use crate::history::OpType::{self, *};
    use serde_json::json;

    const MS: u64 = 1_000_000;

    fn client(index: u64, invoke_ms: u64, latency_ms: u64, outcome: OpType) -> ClientOp {
        ClientOp {
            f: 0,
            process: index,
            index,
            invoke: invoke_ms * MS,
            complete: Some((invoke_ms + latency_ms) * MS),
            completion: Some(index + 1000),
            outcome,
            answered: outcome == Ok,
        }
    }

    fn digest(ops: Vec<ClientOp>, faults: Vec<FaultInterval>, end_ms: u64) -> Digest {
        Digest { fs: vec!["read".into()], ops, faults, clock: vec![], end: end_ms * MS }
    }

    #[test]
    fn overall_and_slo_count_every_op() {
        // 10 ops: 8 ok (two slower than the 100 ms SLO), one fail, one info.
        let mut ops: Vec<ClientOp> = (0..8).map(|i| client(i, i * 100, if i < 2 { 150 } else { 10 }, Ok)).collect();
        ops.push(client(8, 1500, 5, Fail));
        ops.push(client(9, 1600, 5, Info));
        let slo = Slo { latency: Duration::from_millis(100), target: 0.9 };
        let a = availability(&digest(ops, vec![], 2000), slo);
        assert_eq!((a.ok, a.total, a.within_slo), (8, 10, 6));
        assert_eq!(a.overall(), 0.8);
        assert_eq!(a.slo_attainment(), 0.6);
        assert!(!a.slo_met());
        assert_eq!(a.per_second, [(8, 8), (0, 2), (0, 0)]);
    }

    #[test]
    fn a_partition_window_from_first_failure_to_recovery() {
        // An op every 100 ms from 0 to 5.9 s. The fault runs from 1 s to 3 s; ops invoked from
        // 1.5 s up to 3.4 s fail; from 3.5 s on all succeed.
        let ops: Vec<ClientOp> = (0..60)
            .map(|i| {
                let t = i * 100;
                client(i, t, 5, if (1500..3500).contains(&t) { Fail } else { Ok })
            })
            .collect();
        let faults = vec![FaultInterval { kind: FaultKind::Partition, start: 1000 * MS, end: Some(3000 * MS) }];
        let a = availability(&digest(ops, faults, 6000), Slo::default());
        let w = &a.windows[0];
        assert_eq!(w.to_first_failure, Some(Duration::from_millis(500)));
        assert_eq!(w.to_recover, Some(Duration::from_millis(500)));
        assert_eq!(w.unavailable, Some(Duration::from_millis(2000)));
    }

    #[test]
    fn a_fault_nobody_noticed_and_one_never_recovered_from() {
        let ops: Vec<ClientOp> = (0..30).map(|i| client(i, i * 100, 5, if i >= 25 { Info } else { Ok })).collect();
        let faults = vec![
            FaultInterval { kind: FaultKind::Kill, start: 200 * MS, end: Some(400 * MS) },
            FaultInterval { kind: FaultKind::Pause, start: 2400 * MS, end: Some(2450 * MS) },
        ];
        let a = availability(&digest(ops, faults, 3000), Slo::default());
        // The kill: no failure, healthy at the heal.
        assert_eq!(a.windows[0].to_first_failure, None);
        assert_eq!(a.windows[0].to_recover, Some(Duration::ZERO));
        assert_eq!(a.windows[0].unavailable, None);
        // The pause: ops from 2.5 s on (after the heal) never succeed again.
        assert_eq!(a.windows[1].to_first_failure, Some(Duration::from_millis(100)));
        assert_eq!(a.windows[1].to_recover, None);
        assert_eq!(a.windows[1].unavailable, None);
    }

    #[test]
    fn a_blip_after_the_heal_delays_recovery_until_a_clean_second() {
        // Heal at 1 s; ok at 1.0, fail at 1.2, ok from 1.4 every 100 ms.
        let mut ops = vec![client(0, 500, 5, Fail), client(1, 1000, 5, Ok), client(2, 1200, 5, Fail)];
        ops.extend((0..20).map(|i| client(3 + i, 1400 + i * 100, 5, Ok)));
        let faults = vec![FaultInterval { kind: FaultKind::Partition, start: 0, end: Some(1000 * MS) }];
        let a = availability(&digest(ops, faults, 4000), Slo::default());
        assert_eq!(a.windows[0].to_first_failure, Some(Duration::from_millis(500)));
        assert_eq!(a.windows[0].to_recover, Some(Duration::from_millis(400)));
        assert_eq!(a.windows[0].unavailable, Some(Duration::from_millis(900)));
    }

    #[test]
    fn background_noise_is_not_unavailability() {
        // An op every 10 ms for 10 s; one in 20 fails everywhere (5% noise). A partition from 3 s
        // to 5 s makes every op invoked from 3.2 s to 5.5 s fail.
        let ops: Vec<ClientOp> = (0..1000)
            .map(|i| {
                let t = i * 10;
                client(i, t, 2, if i % 20 == 7 || (3200..5500).contains(&t) { Fail } else { Ok })
            })
            .collect();
        let faults = vec![FaultInterval { kind: FaultKind::Partition, start: 3000 * MS, end: Some(5000 * MS) }];
        let a = availability(&digest(ops, faults, 10_000), Slo::default());
        assert!((a.background - 0.05).abs() < 0.01, "{}", a.background);
        let w = &a.windows[0];
        // The noise before the onset may be taken for it (it starts a stretch full of failures),
        // so the onset is exact only to within the noise: here at or before 3.2 s.
        let first = w.to_first_failure.expect("a failure").as_millis();
        assert!((0..=200).contains(&first), "{w:?}");
        let rec = w.to_recover.expect("recovered").as_millis();
        assert!((400..=500).contains(&rec), "{w:?}");
        // Without the noise allowance it would never have recovered: no clean second follows.
        assert!(a.windows[0].unavailable.expect("window").as_millis() >= 2200);
    }

    #[test]
    fn from_a_history_file_shape() {
        // The digest feeds availability: a never-completed op counts against it.
        let ops = vec![
            op(0, 0, Invoke, Some(0), "read", json!([1, null])),
            op(1, 5, Ok, Some(0), "read", json!([1, null])),
            op(2, 10, Invoke, Some(1), "write", json!([1, 2])),
        ];
        let a = availability(&super::super::digest::digest(&ops), Slo::default());
        assert_eq!((a.ok, a.total), (1, 2));
        assert_eq!(a.overall(), 0.5);
    }

    #[test]
    fn nines_in_operators_words() {
        assert_eq!(nines(0.999), "99.9% (three nines)");
        assert_eq!(nines(0.9995), "99.95% (three nines)");
        assert_eq!(nines(0.99), "99% (two nines)");
        assert_eq!(nines(0.5), "50% (no nines)");
        assert_eq!(nines(0.93), "93% (one nine)");
        assert_eq!(nines(0.99999), "99.999% (five nines)");
        assert_eq!(nines(1.0), "100% (every request)");
    }
}
