//! Setting a node's real clock to the control node's time, as Jepsen's `reset-time!` does
//! (it runs `ntpdate` against the control node; brawl measures the offset itself): read the
//! node's clock a few times, keep the reading with the shortest round trip, step the clock by
//! minus that offset in one `date`, read it again, and retry once when it is still off by more
//! than `TOLERANCE` plus the round trip. Nothing here depends on what brawl did to the clock
//! before, so a strobe loop's leftover or a crashed run's steps are corrected too.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cluster::Node;
use crate::control::RemoteCommand;

use super::STEP_FN;

/// How far from the control node's clock a reset node may be, on top of the round trip of the
/// reading that verifies it (a reading errs by up to half its round trip).
pub const TOLERANCE: Duration = Duration::from_millis(50);
/// Readings per measurement; the one with the shortest round trip counts (as NTP does).
pub const SAMPLES: usize = 3;
/// Steps tried before a reset is reported as failed: the first and one retry.
pub const ATTEMPTS: usize = 2;

/// The control node's clock in nanoseconds since the epoch; injected so tests are exact.
pub type Now = Arc<dyn Fn() -> i128 + Send + Sync>;

/// The control node's real clock.
pub fn system_now() -> Now {
    Arc::new(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0))
}

/// One measurement of a node's clock against the control node's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    /// Node clock minus control clock at the reading's midpoint, in ns.
    pub offset_ns: i128,
    /// The reading's round trip, in ns; the offset errs by at most half of it.
    pub rtt_ns: i128,
}

impl Reading {
    /// True when the node is within `TOLERANCE` plus this reading's round trip.
    pub fn within_tolerance(&self) -> bool {
        self.offset_ns.abs() <= TOLERANCE.as_nanos() as i128 + self.rtt_ns
    }
}

/// What a reset did on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synced {
    /// The offset found before the first step.
    pub before: Reading,
    /// The offset read after the last step.
    pub after: Reading,
    /// Steps sent (1, or 2 after a retry).
    pub steps: usize,
}

impl Synced {
    /// One line for `brawl heal` and logs.
    pub fn describe(&self) -> String {
        format!(
            "set the clock to the control node's time: was {:+.3}s off, now {:+.3}s (round trip {:.3}s, {} step{})",
            self.before.offset_ns as f64 / 1e9,
            self.after.offset_ns as f64 / 1e9,
            self.after.rtt_ns as f64 / 1e9,
            self.steps,
            if self.steps == 1 { "" } else { "s" }
        )
    }
}

/// Parses `date +%s.%N` output into nanoseconds since the epoch.
pub fn parse_ns(s: &str) -> Option<i128> {
    let (secs, frac) = s.split_once('.')?;
    let nanos: i128 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    Some(secs.parse::<i128>().ok()? * 1_000_000_000 + nanos)
}

/// Reads `node`'s clock with `script` (which prints `date +%s.%N`) `SAMPLES` times; `None` when
/// no reading succeeded.
pub async fn measure(node: &Node, script: &str, now: &Now) -> Option<Reading> {
    let cmd = RemoteCommand::new(script).unchecked();
    let mut best: Option<Reading> = None;
    for _ in 0..SAMPLES {
        let t0 = now();
        let Ok(out) = node.remote.exec(&cmd).await else { continue };
        let t1 = now();
        let Some(t) = parse_ns(out.stdout.trim()) else { continue };
        let r = Reading { offset_ns: t - (t0 + t1) / 2, rtt_ns: t1 - t0 };
        if best.is_none_or(|b| r.rtt_ns < b.rtt_ns) {
            best = Some(r);
        }
    }
    best
}

/// The script that steps the real clock by `ns` (one relative `date -s`, see `STEP_FN`).
pub fn step_script(ns: i128) -> String {
    format!("{STEP_FN}; step {ns}")
}

/// Sets `node`'s real clock to the control node's time and verifies it; the error says how far
/// off the node still is (or that its clock could not be read).
pub async fn sync_node(node: &Node, now: &Now) -> Result<Synced, String> {
    let script = "date +%s.%N";
    let unreadable = || format!("cannot read the clock of {} (`{script}` gave no time)", node.name);
    let before = measure(node, script, now).await.ok_or_else(unreadable)?;
    let mut current = before;
    let mut steps = 0;
    while !current.within_tolerance() {
        if steps == ATTEMPTS {
            return Err(format!(
                "{} is still {:+.3}s off the control node's clock after {steps} steps (tolerance {}ms + round trip {:.3}s)",
                node.name,
                current.offset_ns as f64 / 1e9,
                TOLERANCE.as_millis(),
                current.rtt_ns as f64 / 1e9
            ));
        }
        // A relative step is not idempotent: never re-sent on a broken connection.
        let cmd = RemoteCommand::new(step_script(-current.offset_ns)).sudo();
        node.remote.exec(&cmd).await.map_err(|e| format!("stepping the clock of {}: {e}", node.name))?;
        steps += 1;
        current = measure(node, script, now).await.ok_or_else(unreadable)?;
    }
    Ok(Synced { before, after: current, steps })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cluster::Cluster;
    use crate::control::{FakeRemote, Remote};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What the fake node's `date +%s.%N` prints.
    pub const NODE_TIME: &str = "1795326282.870359930";
    const NODE_NS: i128 = 1_795_326_282_870_359_930;

    /// A control clock under which the node seems `ms` off for `calls` clock reads per segment
    /// (two reads per sample), the last segment forever, each read 1 ms after the one before it.
    pub fn scripted(segments: Vec<(usize, i64)>) -> Now {
        let calls = AtomicUsize::new(0);
        Arc::new(move || {
            let i = calls.fetch_add(1, Ordering::Relaxed);
            let (mut left, mut ms) = (i, segments.last().map_or(0, |s| s.1));
            for &(n, off) in &segments {
                if left < n {
                    ms = off;
                    break;
                }
                left -= n;
            }
            // Reads alternate t0, t1 = t0 + 2 ms: the midpoint sits exactly `ms` before the node.
            let t = if i % 2 == 0 { -1_000_000 } else { 1_000_000 };
            NODE_NS - i128::from(ms) * 1_000_000 + t
        })
    }

    fn node() -> (Arc<FakeRemote>, Cluster) {
        let fake = Arc::new(FakeRemote::new("n1"));
        fake.answer("date +%s.%N", 0, &format!("{NODE_TIME}\n"));
        (fake.clone(), Cluster::new(vec![fake as Arc<dyn Remote>]))
    }

    #[tokio::test]
    async fn a_node_ahead_is_stepped_back_by_its_offset_and_verified() {
        let (fake, cluster) = node();
        let now = scripted(vec![(2 * SAMPLES, 1500), (1, 0)]);
        let s = sync_node(&cluster.nodes()[0], &now).await.expect("synced");
        assert_eq!((s.before.offset_ns, s.after.offset_ns, s.steps), (1_500_000_000, 0, 1));
        assert_eq!(s.after.rtt_ns, 2_000_000);
        assert!(s.describe().starts_with("set the clock to the control node's time: was +1.500s off, now +0.000s"));
        insta::assert_snapshot!(fake.commands().join("\n"));
    }

    #[tokio::test]
    async fn a_step_that_falls_short_is_retried_once() {
        let (fake, cluster) = node();
        let now = scripted(vec![(2 * SAMPLES, -2000), (2 * SAMPLES, 700), (1, 10)]);
        let s = sync_node(&cluster.nodes()[0], &now).await.expect("synced on the retry");
        assert_eq!((s.before.offset_ns, s.after.offset_ns, s.steps), (-2_000_000_000, 10_000_000, 2));
        let steps: Vec<String> = fake.commands().into_iter().filter(|c| c.contains("step ")).collect();
        assert!(steps[0].ends_with("; step 2000000000"), "{steps:?}");
        assert!(steps[1].ends_with("; step -700000000"), "{steps:?}");
        assert!(steps.iter().all(|c| c.starts_with("sudo ")), "{steps:?}");
    }

    #[tokio::test]
    async fn a_clock_that_will_not_move_is_an_error_after_two_steps() {
        let (fake, cluster) = node();
        let err = sync_node(&cluster.nodes()[0], &scripted(vec![(1, 1122)])).await.unwrap_err();
        assert_eq!(
            err,
            "n1 is still +1.122s off the control node's clock after 2 steps (tolerance 50ms + round trip 0.002s)"
        );
        assert_eq!(fake.commands().iter().filter(|c| c.contains("step ")).count(), 2);
    }

    #[tokio::test]
    async fn a_node_within_tolerance_is_not_stepped_and_an_unreadable_one_is_an_error() {
        let (fake, cluster) = node();
        let s = sync_node(&cluster.nodes()[0], &scripted(vec![(1, 30)])).await.expect("already there");
        assert_eq!(s.steps, 0);
        assert!(fake.commands().iter().all(|c| c == "date +%s.%N"));
        let silent = Arc::new(FakeRemote::new("n2"));
        let cluster = Cluster::new(vec![silent as Arc<dyn Remote>]);
        let err = sync_node(&cluster.nodes()[0], &scripted(vec![(1, 0)])).await.unwrap_err();
        assert_eq!(err, "cannot read the clock of n2 (`date +%s.%N` gave no time)");
    }

    #[test]
    fn tolerance_grows_with_the_round_trip() {
        assert!(Reading { offset_ns: 50_000_000, rtt_ns: 0 }.within_tolerance());
        assert!(!Reading { offset_ns: -50_000_001, rtt_ns: 0 }.within_tolerance());
        assert!(Reading { offset_ns: -300_000_000, rtt_ns: 250_000_000 }.within_tolerance());
    }
}
