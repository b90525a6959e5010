//! Tests of validation, schedules and the final heal.

use super::*;
use crate::nemesis::spec::{ClockSpec, KillSpec, PacketSpec, PartitionSpec, StrobeSpec};
use std::collections::BTreeMap;

fn nodes() -> Vec<String> {
    (1..=5).map(|i| format!("n{i}")).collect()
}

fn specs() -> Vec<NemesisSpec> {
    vec![
        NemesisSpec::Partition(PartitionSpec { interval: Some(Duration::from_secs(10)), ..Default::default() }),
        NemesisSpec::Kill(KillSpec {
            targets: Some(Targets::Minority),
            interval: Some(Duration::from_secs(15)),
            ..Default::default()
        }),
        NemesisSpec::Clock(ClockSpec {
            bump: Some(Duration::from_secs(2)),
            strobe: Some(StrobeSpec {
                delta: Duration::from_millis(200),
                period: Duration::from_millis(10),
                duration: Duration::from_secs(5),
            }),
            ..Default::default()
        }),
        NemesisSpec::Packet(PacketSpec { loss: Some(0.2), ..Default::default() }),
    ]
}

const LIMIT: Duration = Duration::from_secs(300);

#[test]
fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
    assert_eq!(plan(&specs(), &[], 42, LIMIT), plan(&specs(), &[], 42, LIMIT));
    assert_ne!(plan(&specs(), &[], 42, LIMIT), plan(&specs(), &[], 43, LIMIT));
}

#[test]
fn every_stop_follows_its_start_and_nothing_is_late() {
    for seed in 0..50 {
        let s = plan(&specs(), &[], seed, LIMIT);
        assert!(s.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(s.iter().all(|f| f.at < LIMIT));
        for kind in FaultKind::ALL {
            let mut open = false;
            for f in s.iter().filter(|f| FaultKind::of(&f.op.f) == Some(kind) && f.op.f != "check-clock-offsets") {
                let starts = kind.start_fs().contains(&f.op.f.as_str());
                assert_eq!(starts, !open, "seed {seed}: {kind:?} {} out of turn", f.op.f);
                open = starts;
            }
        }
        let kinds: BTreeSet<_> = s.iter().filter_map(|f| FaultKind::of(&f.op.f)).collect();
        assert_eq!(kinds.len(), 4, "all kinds interleaved");
    }
}

#[test]
fn gaps_average_the_interval() {
    let spec = vec![NemesisSpec::Partition(PartitionSpec::default())];
    let s = plan(&spec, &[], 9, Duration::from_secs(100_000));
    let mean = s.last().map(|f| f.at.as_secs_f64()).unwrap_or(0.0) / s.len() as f64;
    assert!((9.0..11.0).contains(&mean), "mean gap {mean}");
}

#[test]
fn crash_stop_never_restarts_until_the_final_heal() {
    let spec = vec![NemesisSpec::Kill(KillSpec { restart: Restart::Never, ..Default::default() })];
    let s = plan(&spec, &[], 1, LIMIT);
    assert!(!s.is_empty() && s.iter().all(|f| f.op.f == "kill"));
    assert_eq!(final_heal_ops(&spec), [FaultOp::new("start", json!({"targets": "all"}))]);
}

#[test]
fn the_final_heal_ends_every_kind() {
    let fs: Vec<String> = final_heal_ops(&specs()).into_iter().map(|o| o.f).collect();
    assert_eq!(fs, ["stop-partition", "stop-packet", "start", "reset-clock"]);
}

#[test]
fn a_timeline_replaces_the_intervals() {
    let entry = |at: u64, f: &str| TimelineEntry {
        at: Duration::from_secs(at),
        f: f.into(),
        topology: None,
        grudge: None,
        targets: None,
        delta: None,
        period: None,
        duration: None,
        loss: None,
        delay: None,
        duplicate: None,
        reorder: None,
        rate: None,
    };
    let t = vec![entry(25, "stop-partition"), entry(10, "start-partition"), entry(400, "start-partition")];
    let s = plan(&specs(), &t, 1, LIMIT);
    let got: Vec<(u64, &str)> = s.iter().map(|f| (f.at.as_secs(), f.op.f.as_str())).collect();
    assert_eq!(got, [(10, "start-partition"), (25, "stop-partition")]);
    let err = validate(&specs()[..1], &[entry(1, "kill")], &nodes()).unwrap_err();
    assert_eq!(err.to_string(), "timeline[0].do: kill needs a `kill` entry in nemeses");
    let err = validate(&specs(), &[entry(1, "explode")], &nodes()).unwrap_err();
    assert!(err.to_string().starts_with("timeline[0].do: unknown op \"explode\"; known: start-partition"), "{err}");
}

#[test]
fn validation_errors_name_the_field() {
    let check = |s: NemesisSpec| validate(&[s], &[], &nodes()).unwrap_err().to_string();
    let loss = NemesisSpec::Packet(PacketSpec { loss: Some(1.5), ..Default::default() });
    assert_eq!(check(loss), "nemeses[0].packet.loss: must be between 0 and 1, got 1.5");
    let rate = NemesisSpec::Packet(PacketSpec { rate: Some("fast".into()), ..Default::default() });
    assert!(check(rate).starts_with("nemeses[0].packet.rate: invalid rate \"fast\""));
    let grudge = BTreeMap::from([("n1".to_string(), vec!["n9".to_string()])]);
    let p = NemesisSpec::Partition(PartitionSpec { grudge: Some(grudge), ..Default::default() });
    assert!(check(p).starts_with("nemeses[0].partition.grudge.n1: unknown node \"n9\""));
    let k = NemesisSpec::Kill(KillSpec { targets: Some(Targets::Nodes(vec!["x".into()])), ..Default::default() });
    assert!(check(k).starts_with("nemeses[0].kill.targets: unknown node \"x\""));
    let none = NemesisSpec::Packet(PacketSpec::default());
    assert!(check(none).contains("names no behaviour"));
    let twice = vec![specs()[0].clone(), specs()[0].clone()];
    assert!(validate(&twice, &[], &nodes()).unwrap_err().to_string().contains("a second partition nemesis"));
    assert!(validate(&specs(), &[], &nodes()).is_ok());
}

#[test]
fn build_makes_one_nemesis_per_spec() {
    let c = build(&specs(), 1).expect("builds");
    assert_eq!(c.len(), 4);
}

/// The `test_file` fuzz target ran out of memory on `interval: 1ns` with `time-limit: 100000h`
/// (fuzz/corpus/test_file/oom-huge-schedule): `plan` would hold billions of ops.
#[test]
fn issue_10_fuzz_huge_schedule_is_refused() {
    let tiny =
        vec![NemesisSpec::Partition(PartitionSpec { interval: Some(Duration::from_nanos(1)), ..Default::default() })];
    let e = check_schedule_size(&tiny, Duration::from_secs(100_000 * 3600)).unwrap_err().to_string();
    assert!(e.contains("nemeses[0].partition.interval") && e.contains("use a longer interval"), "{e}");
    // A day at 100 ms is about 864,000 ops: allowed, and planned.
    let fast = vec![NemesisSpec::Partition(PartitionSpec {
        interval: Some(Duration::from_millis(100)),
        ..Default::default()
    })];
    let day = Duration::from_secs(24 * 3600);
    check_schedule_size(&fast, day).unwrap();
    assert!(check_schedule_size(&fast, day * 2).is_err());
    check_schedule_size(&specs(), Duration::from_secs(600)).unwrap();
}
