//! Availability in operators' terms, from the client ops of a `Digest`. An op *succeeded* when
//! the system answered it: `ok`, or a `fail` that is a definite answer (a cas whose expected
//! value did not match, `digest::ANSWER_ERRORS`); timeouts, refused connections and ops that
//! never completed did not.
//!
//! - **per second**: the share of the ops invoked in each second that the system answered;
//! - **overall**: the share of all client ops that succeeded;
//! - **SLO attainment**: the share of all client ops that succeeded within the SLO's latency;
//! - **unavailable seconds**: a second of the run is unavailable when its availability is below
//!   the SLO's target, or when no op was invoked in it while an op that did not succeed was in
//!   flight through all of it (every client stuck waiting for a timeout). Any other second in
//!   which no op was invoked is not counted either way;
//! - **per fault interval** (from the completion of the op that started the fault to the
//!   completion of the op that healed it), in whole seconds: the time from the start to the
//!   first unavailable second, the unavailable seconds from the start until recovery, and the
//!   time from the heal to recovery, the first second at or after the heal's that is up
//!   (ops invoked, at least the target share answered; looked for until the next fault starts); and the interval's share of failed
//!   requests: of the client ops that completed in it (or were invoked in it and never
//!   completed), those that did not succeed.
//!
//! So one node partitioned while 99.9% of requests are answered is not "unavailable", and a
//! cluster that answers nothing for 3 s is unavailable for 3 s. Everything is exact: no sampling.

use std::time::Duration;

use crate::config::Slo;
use crate::nemesis::FaultKind;

use super::digest::{ClientOp, Digest};

const SEC: u64 = 1_000_000_000;

/// Availability figures of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Availability {
    /// Per second of the run (by invocation time): `(ok, total)`.
    pub per_second: Vec<(u64, u64)>,
    /// Per second of the run: up, down (below the SLO's target) or idle (see the module docs).
    pub seconds: Vec<Second>,
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

    /// How many seconds of the whole run were unavailable.
    pub fn unavailable_seconds(&self) -> u64 {
        self.seconds.iter().filter(|s| **s == Second::Down).count() as u64
    }
}

/// One second of the run, judged against the SLO's target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Second {
    /// Ops were invoked in it and at least the target share of them was answered.
    Up,
    /// Below the target, or no op invoked while one that did not succeed was in flight.
    Down,
    /// No op invoked and none stuck: nothing to judge.
    Idle,
}

/// What one fault interval did to availability, in whole seconds of the run.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultWindow {
    /// The fault's kind.
    pub kind: FaultKind,
    /// When the fault was in effect (ns).
    pub start: u64,
    /// When it was healed (ns; the end of the history if never).
    pub end: u64,
    /// From the start to the beginning of the first unavailable second (zero when the second
    /// the fault started in is unavailable), among the seconds until recovery; `None` when
    /// none was unavailable.
    pub to_first_unavailable: Option<Duration>,
    /// Unavailable seconds from the second the fault started in until recovery (or the horizon).
    pub unavailable_secs: u64,
    /// From the heal to the beginning of the first second, at or after the heal's, that is up
    /// (zero when the heal's second is); `None` when there was none before the next fault or
    /// the end of the history.
    pub to_recover: Option<Duration>,
    /// Client ops that completed in the interval (or were invoked in it and never completed).
    pub completed: u64,
    /// Of those, the ones that did not succeed (fail or info, not a definite answer).
    pub failed: u64,
}

impl FaultWindow {
    /// The interval's share of failed requests (0 when none completed in it).
    pub fn failed_share(&self) -> f64 {
        1.0 - ratio(self.completed - self.failed, self.completed)
    }
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
    let secs = (d.end / SEC + 1) as usize;
    let mut per_second = vec![(0u64, 0u64); secs];
    let (mut ok, mut within_slo) = (0, 0);
    let slo_ns = slo.latency.as_nanos() as u64;
    // stuck[s] > 0: an op that did not succeed was in flight through all of second s.
    let mut stuck = vec![0i64; secs + 1];
    for op in &d.ops {
        let s = &mut per_second[((op.invoke / SEC) as usize).min(secs - 1)];
        s.1 += 1;
        if op.answered {
            s.0 += 1;
            ok += 1;
            if op.latency().is_some_and(|l| l <= slo_ns) {
                within_slo += 1;
            }
        } else {
            // Whole seconds inside [invoke, complete): from ceil(invoke) to floor(complete).
            let first = op.invoke.div_ceil(SEC) as usize;
            let last = (op.complete.unwrap_or(d.end.saturating_add(1)) / SEC) as usize;
            if first < last.min(secs) {
                stuck[first] += 1;
                stuck[last.min(secs)] -= 1;
            }
        }
    }
    let mut in_flight = 0;
    let seconds = per_second
        .iter()
        .enumerate()
        .map(|(s, &(ok, total))| {
            in_flight += stuck[s];
            match total {
                0 if in_flight > 0 => Second::Down,
                0 => Second::Idle,
                _ if (ok as f64) / (total as f64) < slo.target => Second::Down,
                _ => Second::Up,
            }
        })
        .collect::<Vec<Second>>();
    let starts: Vec<u64> = d.faults.iter().map(|f| f.start).collect();
    let windows = d
        .faults
        .iter()
        .map(|f| {
            let end = d.fault_end(f);
            // Recovery is looked for until the next fault starts (of any kind) or the history ends.
            let horizon = starts.iter().copied().filter(|&s| s > end).min().unwrap_or(u64::MAX);
            window(&d.ops, &seconds, f.kind, f.start, end, horizon)
        })
        .collect();
    Availability { per_second, seconds, ok, total: d.ops.len() as u64, within_slo, slo, windows }
}

/// One fault interval's window over the per-second verdicts `seconds`.
fn window(ops: &[ClientOp], seconds: &[Second], kind: FaultKind, start: u64, end: u64, horizon: u64) -> FaultWindow {
    let secs = seconds.len();
    let (first, heal) = ((start / SEC) as usize, (end / SEC) as usize);
    // Seconds that begin before the horizon (the second the next fault starts in belongs to it).
    let limit = (horizon.div_ceil(SEC) as usize).min(secs).max(heal.min(secs));
    let bad = |s: usize| seconds.get(s) == Some(&Second::Down);
    let recovered = (heal..limit).find(|&s| seconds.get(s) == Some(&Second::Up));
    let until = recovered.unwrap_or(limit);
    let to_first_unavailable =
        (first..until).find(|&s| bad(s)).map(|s| Duration::from_nanos((s as u64 * SEC).saturating_sub(start)));
    let unavailable_secs = (first..until).filter(|&s| bad(s)).count() as u64;
    let to_recover = recovered.map(|s| Duration::from_nanos((s as u64 * SEC).saturating_sub(end)));
    let (mut completed, mut failed) = (0, 0);
    for o in ops.iter().filter(|o| (start..end).contains(&o.complete.unwrap_or(o.invoke))) {
        completed += 1;
        failed += u64::from(!o.answered);
    }
    FaultWindow { kind, start, end, to_first_unavailable, unavailable_secs, to_recover, completed, failed }
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

    fn window_of(ops: Vec<ClientOp>, kind: FaultKind, from_ms: u64, to_ms: u64, end_ms: u64) -> FaultWindow {
        let faults = vec![FaultInterval { kind, start: from_ms * MS, end: Some(to_ms * MS) }];
        let a = availability(&digest(ops, faults, end_ms), Slo::default());
        a.windows.into_iter().next().expect("one window")
    }

    #[test]
    fn issue_10_one_failed_op_in_a_thousand_is_not_unavailability() {
        // An op every 4 ms for 8 s, 1 ms each; the partition from 2 s to 6 s sees 1000 of them
        // complete, and one (at 3.5 s) fails: 249 of 250 answered in that second.
        let ops: Vec<ClientOp> =
            (0..2000).map(|i| client(i, i * 4, 1, if i * 4 == 3500 { Info } else { Ok })).collect();
        let w = window_of(ops, FaultKind::Partition, 2000, 6000, 8000);
        assert_eq!((w.completed, w.failed), (1000, 1));
        assert!((w.failed_share() - 0.001).abs() < 1e-12, "{}", w.failed_share());
        assert_eq!(w.unavailable_secs, 0, "{w:?}");
        assert_eq!(w.to_first_unavailable, None);
        assert_eq!(w.to_recover, Some(Duration::ZERO));
    }

    #[test]
    fn issue_10_every_op_failing_for_3s_is_3s_unavailable() {
        // An op every 10 ms for 10 s; every op invoked from 2 s to 5 s fails.
        let ops: Vec<ClientOp> =
            (0..1000).map(|i| client(i, i * 10, 2, if (2000..5000).contains(&(i * 10)) { Fail } else { Ok })).collect();
        let w = window_of(ops, FaultKind::Partition, 2000, 5000, 10_000);
        assert_eq!(w.unavailable_secs, 3, "{w:?}");
        assert_eq!(w.to_first_unavailable, Some(Duration::ZERO));
        assert_eq!(w.to_recover, Some(Duration::ZERO));
        assert_eq!((w.completed, w.failed), (300, 300));
        assert_eq!(w.failed_share(), 1.0);
    }

    #[test]
    fn unavailability_that_outlasts_the_heal_counts_until_recovery() {
        // The fault runs from 1.2 s to 3 s; ops invoked from 1.5 s to 4.5 s fail: seconds 1 to 4
        // are below 99%, second 5 is the first one up again.
        let ops: Vec<ClientOp> =
            (0..80).map(|i| client(i, i * 100, 5, if (1500..4500).contains(&(i * 100)) { Fail } else { Ok })).collect();
        let w = window_of(ops, FaultKind::Partition, 1200, 3000, 8000);
        assert_eq!(w.to_first_unavailable, Some(Duration::ZERO), "second 1 began before the fault");
        assert_eq!(w.unavailable_secs, 4);
        assert_eq!(w.to_recover, Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_client_stuck_on_a_timeout_makes_its_silent_seconds_unavailable() {
        // One client: ok every 100 ms until 2 s, then an op at 2.05 s that times out at 7.05 s,
        // then ok again. Seconds 3 to 6 see no invocation but a failing op in flight.
        let mut ops: Vec<ClientOp> = (0..21).map(|i| client(i, i * 100, 5, Ok)).collect();
        ops.push(client(21, 2050, 5000, Info));
        ops.extend((0..20).map(|i| client(22 + i, 7100 + i * 100, 5, Ok)));
        let faults = vec![FaultInterval { kind: FaultKind::Kill, start: 2000 * MS, end: Some(6000 * MS) }];
        let a = availability(&digest(ops, faults, 9100), Slo::default());
        use Second::*;
        assert_eq!(a.seconds, [Up, Up, Down, Down, Down, Down, Down, Up, Up, Up]);
        let w = &a.windows[0];
        assert_eq!((w.unavailable_secs, w.to_first_unavailable), (5, Some(Duration::ZERO)));
        assert_eq!(w.to_recover, Some(Duration::from_secs(1)));
        assert_eq!((w.completed, w.failed), (1, 0), "the info op completed after the heal");
        assert_eq!(a.unavailable_seconds(), 5);
    }

    #[test]
    fn a_fault_nobody_noticed_and_one_never_recovered_from() {
        let ops: Vec<ClientOp> = (0..30).map(|i| client(i, i * 100, 5, if i >= 25 { Info } else { Ok })).collect();
        let faults = vec![
            FaultInterval { kind: FaultKind::Kill, start: 200 * MS, end: Some(400 * MS) },
            FaultInterval { kind: FaultKind::Pause, start: 2400 * MS, end: Some(2450 * MS) },
        ];
        let a = availability(&digest(ops, faults, 3000), Slo::default());
        // The kill: nothing unavailable, up at the heal.
        assert_eq!(a.windows[0].to_first_unavailable, None);
        assert_eq!(a.windows[0].unavailable_secs, 0);
        assert_eq!(a.windows[0].to_recover, Some(Duration::ZERO));
        // The pause: second 2 is half answered; the idle second 3 is no recovery.
        assert_eq!(a.seconds, [Second::Up, Second::Up, Second::Down, Second::Idle]);
        assert_eq!(a.windows[1].to_first_unavailable, Some(Duration::ZERO));
        assert_eq!(a.windows[1].unavailable_secs, 1);
        assert_eq!(a.windows[1].to_recover, None);
    }

    #[test]
    fn the_target_is_the_line() {
        // 100 ops in one second, 2 failed: 98% is down against 99%, up against 95%.
        let ops: Vec<ClientOp> = (0..100).map(|i| client(i, i * 10, 1, if i < 2 { Fail } else { Ok })).collect();
        let d = digest(ops, vec![], 999);
        assert_eq!(availability(&d, Slo::default()).seconds, [Second::Down]);
        let lax = Slo { target: 0.95, ..Slo::default() };
        assert_eq!(availability(&d, lax).seconds, [Second::Up]);
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
