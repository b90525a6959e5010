//! From specs to faults: `validate` (field-path errors), `build` (one nemesis per spec, in a
//! `Compose`), `plan` (a pure, seeded schedule: Jepsen's stagger of a start/stop flip-flop per
//! fault, or the explicit timeline) and `final_heal_ops` (what the end of a test runs).

use std::collections::BTreeSet;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::clock::ClockNemesis;
use super::grudge;
use super::packet::{Behaviours, PacketNemesis};
use super::partition::PartitionNemesis;
use super::process::{Mode, ProcessNemesis};
use super::spec::{NemesisSpec, Restart, TimelineEntry};
use super::targets::Targets;
use super::{Compose, FaultKind, FaultOp, Nemesis, NemesisError};

/// The bump a clock spec without `bump` or `strobe` uses.
pub const DEFAULT_BUMP: Duration = Duration::from_secs(1);

/// One op of the schedule and when to run it.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledFault {
    /// Time from the start of the test.
    pub at: Duration,
    /// The op.
    pub op: FaultOp,
}

/// Each spec's own seed, so adding a fault does not change the others' schedules.
fn sub_seed(seed: u64, i: usize) -> u64 {
    seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// True when the test has a clock nemesis that works through libfaketime (the strategy it names,
/// or the default: faketime on a local cluster); the system under test must then start with
/// `clock::faketime_env()`.
pub fn uses_faketime(specs: &[NemesisSpec], local_cluster: bool) -> bool {
    use super::clock::Strategy;
    specs.iter().any(|s| match s {
        NemesisSpec::Clock(c) => {
            c.strategy.unwrap_or(if local_cluster { Strategy::Faketime } else { Strategy::System })
                == Strategy::Faketime
        }
        _ => false,
    })
}

/// The nemeses for these specs (one each), with seeds derived from `seed`.
pub fn build(specs: &[NemesisSpec], seed: u64) -> Result<Compose, NemesisError> {
    let mut kinds = BTreeSet::new();
    let mut out: Vec<Box<dyn Nemesis>> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        if !kinds.insert(spec.kind()) {
            return Err(invalid(
                format!("nemeses[{i}]"),
                format!("a second {} nemesis; list each kind once", spec.kind().name()),
            ));
        }
        let s = sub_seed(seed, i) ^ 0x5eed;
        out.push(match spec {
            NemesisSpec::Partition(p) => Box::new(PartitionNemesis::new(p.clone(), s)),
            NemesisSpec::Kill(k) => Box::new(ProcessNemesis::new(Mode::Kill, k.targets.clone().unwrap_or_default(), s)),
            NemesisSpec::Pause(p) => {
                Box::new(ProcessNemesis::new(Mode::Pause, p.targets.clone().unwrap_or_default(), s))
            }
            NemesisSpec::Clock(c) => Box::new(ClockNemesis::new(c.clone(), s)),
            NemesisSpec::Packet(p) => Box::new(PacketNemesis::new(p.clone(), s)),
        });
    }
    Ok(Compose::new(out))
}

fn invalid(path: String, reason: impl Into<String>) -> NemesisError {
    NemesisError::Invalid { path, reason: reason.into() }
}

fn check_targets(t: &Option<Targets>, nodes: &[String], path: String) -> Result<(), NemesisError> {
    if let Some(Targets::Nodes(list)) = t {
        if let Some(bad) = list.iter().find(|n| !nodes.contains(n)) {
            return Err(invalid(path, format!("unknown node {bad:?}; the test's nodes are {}", nodes.join(", "))));
        }
        if list.is_empty() {
            return Err(invalid(path, "names no nodes"));
        }
    }
    Ok(())
}

fn check_prob(p: Option<f64>, path: String) -> Result<(), NemesisError> {
    match p {
        Some(p) if !(0.0..=1.0).contains(&p) => Err(invalid(path, format!("must be between 0 and 1, got {p}"))),
        _ => Ok(()),
    }
}

fn check_rate(r: &Option<String>, path: String) -> Result<(), NemesisError> {
    let Some(r) = r else { return Ok(()) };
    let unit_at = r.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(r.len());
    let (num, unit) = r.split_at(unit_at);
    let units = ["bit", "kbit", "mbit", "gbit", "bps", "kbps", "mbps", "gbps"];
    if num.parse::<f64>().map(|n| n > 0.0).unwrap_or(false) && units.contains(&unit) {
        Ok(())
    } else {
        Err(invalid(path, format!("invalid rate {r:?}: expected a number and one of {}", units.join(", "))))
    }
}

fn check_grudge(
    g: &Option<std::collections::BTreeMap<String, Vec<String>>>,
    nodes: &[String],
    path: &str,
) -> Result<(), NemesisError> {
    match g.as_ref().map(|g| grudge::check(g, nodes)) {
        Some(Err((node, why))) => Err(invalid(format!("{path}.grudge.{node}"), why)),
        _ => Ok(()),
    }
}

/// Checks specs and timeline against the test's nodes; errors name the field, e.g.
/// `nemeses[1].packet.loss`.
pub fn validate(specs: &[NemesisSpec], timeline: &[TimelineEntry], nodes: &[String]) -> Result<(), NemesisError> {
    let mut kinds = BTreeSet::new();
    for (i, spec) in specs.iter().enumerate() {
        let p = format!("nemeses[{i}].{}", spec.kind().name());
        if !kinds.insert(spec.kind()) {
            return Err(invalid(
                format!("nemeses[{i}]"),
                format!("a second {} nemesis; list each kind once", spec.kind().name()),
            ));
        }
        if spec.interval().is_zero() {
            return Err(invalid(format!("{p}.interval"), "must be more than 0"));
        }
        match spec {
            NemesisSpec::Partition(s) => {
                if s.topology.is_some() && s.grudge.is_some() {
                    return Err(invalid(p, "give a topology or a grudge, not both"));
                }
                check_grudge(&s.grudge, nodes, &p)?;
            }
            NemesisSpec::Kill(s) => check_targets(&s.targets, nodes, format!("{p}.targets"))?,
            NemesisSpec::Pause(s) => check_targets(&s.targets, nodes, format!("{p}.targets"))?,
            NemesisSpec::Clock(s) => {
                check_targets(&s.targets, nodes, format!("{p}.targets"))?;
                if let Some(st) = &s.strobe {
                    if st.period.is_zero() || st.delta.is_zero() || st.duration < st.period {
                        return Err(invalid(
                            format!("{p}.strobe"),
                            "delta and period must be more than 0 and duration at least one period",
                        ));
                    }
                }
            }
            NemesisSpec::Packet(s) => {
                check_targets(&s.targets, nodes, format!("{p}.targets"))?;
                check_prob(s.loss, format!("{p}.loss"))?;
                check_prob(s.duplicate, format!("{p}.duplicate"))?;
                check_prob(s.reorder, format!("{p}.reorder"))?;
                check_rate(&s.rate, format!("{p}.rate"))?;
                let b = Behaviours::from_spec(s);
                if b.loss.is_none() && b.netem_args().is_none() {
                    return Err(invalid(p, "names no behaviour: give loss, delay, duplicate, reorder or rate"));
                }
            }
        }
    }
    for (j, e) in timeline.iter().enumerate() {
        let p = format!("timeline[{j}]");
        let Some(kind) = FaultKind::of(&e.f) else {
            let known: Vec<&str> = FaultKind::ALL.iter().flat_map(|k| k.fs().iter().copied()).collect();
            return Err(invalid(format!("{p}.do"), format!("unknown op {:?}; known: {}", e.f, known.join(", "))));
        };
        if !kinds.contains(&kind) {
            return Err(invalid(format!("{p}.do"), format!("{} needs a `{}` entry in nemeses", e.f, kind.name())));
        }
        check_targets(&e.targets, nodes, format!("{p}.targets"))?;
        check_grudge(&e.grudge, nodes, &p)?;
        check_prob(e.loss, format!("{p}.loss"))?;
        check_prob(e.duplicate, format!("{p}.duplicate"))?;
        check_prob(e.reorder, format!("{p}.reorder"))?;
        check_rate(&e.rate, format!("{p}.rate"))?;
    }
    Ok(())
}

/// The op that opens one fault window of `spec`.
fn start_op(spec: &NemesisSpec, rng: &mut ChaCha8Rng) -> FaultOp {
    let targets = |t: &Option<Targets>| json!(t.clone().unwrap_or_default());
    match spec {
        NemesisSpec::Partition(s) => match &s.grudge {
            Some(g) => FaultOp::new("start-partition", json!({ "grudge": g })),
            None => FaultOp::new("start-partition", json!({ "topology": s.topology.unwrap_or(grudge::Topology::One) })),
        },
        NemesisSpec::Kill(s) => FaultOp::new("kill", json!({ "targets": targets(&s.targets) })),
        NemesisSpec::Pause(s) => FaultOp::new("pause", json!({ "targets": targets(&s.targets) })),
        NemesisSpec::Clock(s) => {
            let bump = s.bump.or(if s.strobe.is_none() { Some(DEFAULT_BUMP) } else { None });
            let use_strobe = match (&bump, &s.strobe) {
                (Some(_), Some(_)) => rng.random_bool(0.5),
                (None, Some(_)) => true,
                _ => false,
            };
            match (&s.strobe, bump) {
                (Some(st), _) if use_strobe => FaultOp::new(
                    "strobe-clock",
                    json!({ "targets": targets(&s.targets), "delta-ms": st.delta.as_millis() as u64,
                            "period-ms": st.period.as_millis() as u64, "duration-ms": st.duration.as_millis() as u64 }),
                ),
                (_, b) => {
                    let ms = b.unwrap_or(DEFAULT_BUMP).as_millis() as i64;
                    let signed = if rng.random_bool(0.5) { ms } else { -ms };
                    FaultOp::new("bump-clock", json!({ "targets": targets(&s.targets), "delta-ms": signed }))
                }
            }
        }
        NemesisSpec::Packet(s) => {
            let mut b = Behaviours::from_spec(s);
            b.targets = Some(s.targets.clone().unwrap_or_default());
            FaultOp::new("start-packet", serde_json::to_value(&b).unwrap_or(Value::Null))
        }
    }
}

/// The op that closes it, or `None` for crash-stop kills.
fn stop_op(spec: &NemesisSpec) -> Option<FaultOp> {
    let f = match spec {
        NemesisSpec::Kill(k) if k.restart == Restart::Never => return None,
        other => other.kind().stop_fs()[0],
    };
    Some(FaultOp::new(f, Value::Null))
}

/// At most this many fault ops are planned for one spec: `plan` holds them all in memory.
pub const MAX_PLANNED_FAULTS: u128 = 1_000_000;

/// Checks that `plan` stays within [`MAX_PLANNED_FAULTS`] per spec over `time_limit` (the
/// expected count is the time limit over the mean gap); `brawl run` calls it before planning.
/// Without it, `interval: 1ns` with a long time limit planned billions of ops and ran out of
/// memory (found by the `test_file` fuzz target).
pub fn check_schedule_size(specs: &[NemesisSpec], time_limit: Duration) -> Result<(), NemesisError> {
    for (i, spec) in specs.iter().enumerate() {
        // `plan`'s gaps are uniform in [0, max(2·interval, 1 ms)).
        let mean_gap = spec.interval().max(Duration::from_micros(500)).as_nanos();
        let expected = time_limit.as_nanos() / mean_gap;
        if expected > MAX_PLANNED_FAULTS {
            let p = format!("nemeses[{i}].{}.interval", spec.kind().name());
            let msg = format!(
                "{} over a time limit of {} plans about {expected} fault ops, more than {MAX_PLANNED_FAULTS}: use a longer interval",
                humantime::format_duration(spec.interval()),
                humantime::format_duration(time_limit)
            );
            return Err(invalid(p, msg));
        }
    }
    Ok(())
}

/// The schedule: the timeline when there is one, else for each spec alternating start and stop
/// ops with gaps uniform in [0, 2·interval), all kinds interleaved by time. Pure: the same
/// inputs give the same schedule. Ops at or after `time_limit` are left out; the final heal
/// closes whatever is still open.
pub fn plan(specs: &[NemesisSpec], timeline: &[TimelineEntry], seed: u64, time_limit: Duration) -> Vec<ScheduledFault> {
    let mut out: Vec<ScheduledFault> = Vec::new();
    if !timeline.is_empty() {
        out =
            timeline.iter().filter(|e| e.at < time_limit).map(|e| ScheduledFault { at: e.at, op: e.to_op() }).collect();
    } else {
        for (i, spec) in specs.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(sub_seed(seed, i));
            let span = (spec.interval().as_nanos() as u64).saturating_mul(2).max(1_000_000);
            if spec.kind() == FaultKind::Clock {
                out.push(ScheduledFault { at: Duration::ZERO, op: FaultOp::new("check-clock-offsets", Value::Null) });
            }
            let mut t = Duration::ZERO;
            let mut starting = true;
            loop {
                t += Duration::from_nanos(rng.random_range(0..span));
                if t >= time_limit {
                    break;
                }
                let op = if starting { Some(start_op(spec, &mut rng)) } else { stop_op(spec) };
                if let Some(op) = op {
                    out.push(ScheduledFault { at: t, op });
                }
                starting = !starting;
            }
        }
    }
    out.sort_by_key(|s| s.at); // stable: a start stays ahead of its stop at the same instant
    out
}

/// The ops that end every fault the specs can cause (Jepsen's final generators): stop
/// partitions and packet faults, resume and start every node, reset every clock.
pub fn final_heal_ops(specs: &[NemesisSpec]) -> Vec<FaultOp> {
    let kinds: BTreeSet<FaultKind> = specs.iter().map(NemesisSpec::kind).collect();
    let all = json!({ "targets": "all" });
    [
        (FaultKind::Partition, FaultOp::new("stop-partition", Value::Null)),
        (FaultKind::Packet, FaultOp::new("stop-packet", Value::Null)),
        (FaultKind::Pause, FaultOp::new("resume", all.clone())),
        (FaultKind::Kill, FaultOp::new("start", all.clone())),
        (FaultKind::Clock, FaultOp::new("reset-clock", all)),
    ]
    .into_iter()
    .filter(|(k, _)| kinds.contains(k))
    .map(|(_, op)| op)
    .collect()
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
