//! Tests of the clock nemesis against `FakeRemote`.

use super::sync::tests::{scripted, NODE_TIME};
use super::*;
use crate::nemesis::spec::StrobeSpec;
use crate::nemesis::testkit;
use std::time::Duration;

fn spec(strategy: Option<Strategy>) -> ClockSpec {
    ClockSpec { strategy, targets: Some(Targets::Nodes(vec!["n1".into()])), ..Default::default() }
}

#[test]
fn offsets_are_spelled_for_libfaketime() {
    assert_eq!(format_offset(1500), "+1.500000s");
    assert_eq!(format_offset(-200), "-0.200000s");
    assert_eq!(format_offset(0), "+0");
    assert_eq!(parse_ns("12.5"), Some(12_500_000_000));
    assert_eq!(parse_ns("1795326282.870359930"), Some(1_795_326_282_870_359_930));
    assert_eq!(parse_ns(""), None);
}

#[test]
fn faketime_env_preloads_the_library_with_the_offset_file() {
    let env = faketime_env();
    assert!(env.contains(&("LD_PRELOAD".into(), FAKETIME_LIB.into())));
    assert!(env.contains(&("FAKETIME_TIMESTAMP_FILE".into(), OFFSET_FILE.into())));
    assert!(env.contains(&("FAKETIME_NO_CACHE".into(), "1".into())));
}

#[tokio::test]
async fn the_system_strategy_is_refused_on_a_local_cluster() {
    let (ctx, fakes) = testkit::ctx_with(3, true);
    let err = ClockNemesis::new(spec(Some(Strategy::System)), 1).setup(&ctx).await.unwrap_err();
    assert!(err.to_string().contains("use `strategy: faketime` on a local cluster"), "{err}");
    assert!(fakes[0].commands().is_empty(), "nothing ran");
    let mut n = ClockNemesis::new(spec(None), 1);
    n.setup(&ctx).await.expect("defaults to faketime");
    assert_eq!(n.strategy, Strategy::Faketime);
}

#[tokio::test]
async fn a_missing_libfaketime_is_unsupported() {
    let (ctx, fakes) = testkit::ctx_with(2, true);
    fakes[1].answer("test -f /usr/lib", 3, "missing\n");
    let err = ClockNemesis::new(spec(None), 1).setup(&ctx).await.unwrap_err();
    assert!(err.to_string().starts_with("clock faults (faketime) is not supported on n2"), "{err}");
}

#[tokio::test]
async fn faketime_bump_strobe_reset_run_exactly_these_commands() {
    let (ctx, fakes) = testkit::ctx_with(2, true);
    fakes[0].answer("date +%s.%N", 0, "1795326282.870359930\n");
    let mut n = ClockNemesis::new(spec(None), 1);
    n.setup(&ctx).await.expect("setup");
    let rec = n.invoke(&ctx, &FaultOp::new("bump-clock", json!({"delta-ms": 1500}))).await;
    assert_eq!((rec.nodes.as_slice(), rec.error.as_deref()), (&["n1".to_string()][..], None));
    assert!(rec.value["clock-offsets"]["n1"].is_f64(), "{:?}", rec.value);
    assert!(rec.value["clock-offsets-before"]["n2"].is_null());
    let strobe = json!({"delta-ms": 200, "period-ms": 10, "duration-ms": 5000});
    n.invoke(&ctx, &FaultOp::new("strobe-clock", strobe)).await;
    let rec = n.invoke(&ctx, &FaultOp::new("reset-clock", json!(null))).await;
    assert_eq!(rec.nodes, ["n1", "n2"]);
    n.teardown(&ctx).await.expect("teardown");
    insta::assert_snapshot!(testkit::log(&fakes[..1]));
}

#[tokio::test]
async fn system_strategy_steps_the_real_clock_on_real_hosts() {
    let (ctx, fakes) = testkit::ctx(1);
    fakes[0].answer("date +%s.%N", 0, NODE_TIME);
    let mut s = spec(Some(Strategy::System));
    s.strobe = Some(StrobeSpec {
        delta: Duration::from_millis(100),
        period: Duration::from_millis(50),
        duration: Duration::from_secs(1),
    });
    // The node reads 10 ms ahead of the control node: within tolerance, so reset only verifies.
    let mut n = ClockNemesis::new(s, 1).with_now(scripted(vec![(1, 10)]));
    n.setup(&ctx).await.expect("setup");
    n.invoke(&ctx, &FaultOp::new("bump-clock", json!({"delta-ms": -250}))).await;
    n.invoke(&ctx, &FaultOp::new("strobe-clock", json!({"delta-ms": 100, "period-ms": 50, "duration-ms": 1000}))).await;
    let rec = n.invoke(&ctx, &FaultOp::new("reset-clock", json!(null))).await;
    assert_eq!(rec.error, None);
    assert_eq!(rec.value["synced"]["n1"], json!({"before": 0.01, "after": 0.01, "rtt": 0.002, "steps": 0}));
    n.teardown(&ctx).await.expect("teardown");
    insta::assert_snapshot!(testkit::log(&fakes));
}

/// Issue 10: after a strobe on a slow VM, undoing brawl's own steps left n3 1.1 s behind. Reset
/// now sets the clock from the control node, whatever brawl did before, and checks the result.
#[tokio::test]
async fn issue_10_reset_sets_the_clock_to_the_control_nodes_time() {
    let (ctx, fakes) = testkit::ctx(1);
    fakes[0].answer("date +%s.%N", 0, NODE_TIME);
    // Before the op and in reset's first reading the node is 1.122 s behind; after the step, 0.
    let now = scripted(vec![(4 * sync::SAMPLES, -1122), (1, 0)]);
    let mut n = ClockNemesis::new(spec(Some(Strategy::System)), 1).with_now(now);
    let before = testkit::marks(&fakes);
    let rec = n.invoke(&ctx, &FaultOp::new("reset-clock", json!(null))).await;
    assert_eq!(rec.error, None);
    assert_eq!(rec.value["clock-offsets-before"]["n1"], json!(-1.122));
    assert_eq!(rec.value["clock-offsets"]["n1"], json!(0.0));
    assert_eq!(rec.value["synced"]["n1"]["steps"], json!(1));
    insta::assert_snapshot!(testkit::log_since(&fakes, &before));
}

#[tokio::test]
async fn a_reset_that_cannot_reach_the_control_clock_is_a_failed_op_and_teardown_error() {
    let (ctx, fakes) = testkit::ctx(2);
    fakes[0].answer("date +%s.%N", 0, NODE_TIME);
    fakes[1].answer("date +%s.%N", 0, NODE_TIME);
    let mut n = ClockNemesis::new(spec(Some(Strategy::System)), 1).with_now(scripted(vec![(1, 900)]));
    let rec = n.invoke(&ctx, &FaultOp::new("reset-clock", json!(null))).await;
    let err = rec.error.expect("reset failed");
    assert!(err.contains("n1 is still +0.900s off the control node's clock after 2 steps"), "{err}");
    assert!(err.contains("n2 is still +0.900s off"), "{err}");
    let err = n.teardown(&ctx).await.unwrap_err().to_string();
    assert!(err.starts_with("resetting the clock of n1: n1 is still +0.900s off"), "{err}");
    assert!(testkit::log(&fakes).contains("restarted"), "time services are restarted anyway");
}

#[tokio::test]
async fn a_bad_value_is_a_failed_op() {
    let (ctx, _) = testkit::ctx(1);
    let mut n = ClockNemesis::new(spec(None), 1);
    let rec = n.invoke(&ctx, &FaultOp::new("bump-clock", json!({"delta": 3}))).await;
    assert_eq!(rec.error.as_deref(), Some("bump-clock needs an integer \"delta-ms\""));
}

/// On a loaded, emulated VM, reading the clock in one `date` and setting it in another lost up
/// to a second per step; one relative `date -s` reads and sets it in the same process.
#[test]
fn issue_6_a_system_clock_step_is_one_relative_date() {
    for (ns, want) in [
        (2_000_000_000i64, "-s +2.000000000 seconds"),
        (-1_500_000_000, "-s -1.500000000 seconds"),
        (250_000_000, "-s +0.250000000 seconds"),
        (-7, "-s -0.000000007 seconds"),
    ] {
        let script = format!("date() {{ echo \"$@\" >&2; }}; {STEP_FN}; step {ns}");
        let out = std::process::Command::new("sh").arg("-c").arg(&script).output().expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), want, "step {ns}");
    }
}
