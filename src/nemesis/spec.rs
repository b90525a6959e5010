//! The test file's `nemeses:` and `timeline:` sections as serde types: externally tagged,
//! kebab-case, `deny_unknown_fields`. Durations are seconds (`10`, `0.2`) or carry a unit (`10s`, `200ms`).
//!
//! ```yaml
//! nemeses:
//!   - partition: { topology: majorities-ring, interval: 10s }   # or grudge: {n1: [n2, n3]}
//!   - kill: { targets: minority, interval: 15s, restart: after } # after (default) | never
//!   - pause: { targets: one, interval: 10s }
//!   - clock: { strategy: faketime, interval: 10s, bump: 2s, strobe: { delta: 200ms, period: 10ms, duration: 5s } }
//!   - packet: { targets: all, loss: 0.2, interval: 10s }        # delay: 50ms, duplicate, reorder, rate: 1mbit
//! timeline:
//!   - { at: 10s, do: start-partition, topology: majorities-ring }
//!   - { at: 25s, do: stop-partition }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use super::clock::Strategy;
use super::grudge::Topology;
use super::targets::Targets;
use super::{FaultKind, FaultOp};
use crate::config::raw::duration::{self, Human};

/// The time between faults when a spec names no `interval` (Jepsen's default).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// One fault to inject, as `- <kind>: { ... }` in `nemeses:`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum NemesisSpec {
    /// Network partitions.
    Partition(PartitionSpec),
    /// Kill (SIGKILL) and restart processes.
    Kill(KillSpec),
    /// Pause (SIGSTOP) and resume processes.
    Pause(PauseSpec),
    /// Clock bumps and strobes.
    Clock(ClockSpec),
    /// Packet loss, delay, duplication, reordering and rate limits.
    Packet(PacketSpec),
}

impl NemesisSpec {
    /// The kind of fault.
    pub fn kind(&self) -> FaultKind {
        match self {
            NemesisSpec::Partition(_) => FaultKind::Partition,
            NemesisSpec::Kill(_) => FaultKind::Kill,
            NemesisSpec::Pause(_) => FaultKind::Pause,
            NemesisSpec::Clock(_) => FaultKind::Clock,
            NemesisSpec::Packet(_) => FaultKind::Packet,
        }
    }

    /// The mean time between this fault's ops.
    pub fn interval(&self) -> Duration {
        match self {
            NemesisSpec::Partition(s) => s.interval,
            NemesisSpec::Kill(s) => s.interval,
            NemesisSpec::Pause(s) => s.interval,
            NemesisSpec::Clock(s) => s.interval,
            NemesisSpec::Packet(s) => s.interval,
        }
        .unwrap_or(DEFAULT_INTERVAL)
    }
}

/// `partition: { topology | grudge, interval }`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PartitionSpec {
    /// How nodes are split (default `one`).
    pub topology: Option<Topology>,
    /// An explicit grudge instead: node → the nodes it drops traffic from.
    pub grudge: Option<BTreeMap<String, Vec<String>>>,
    /// Mean time between start and stop (default 10s).
    #[serde(default, deserialize_with = "duration::option")]
    pub interval: Option<Duration>,
}

/// When killed nodes come back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// Crash-recovery: `start` follows each `kill` after a staggered gap.
    #[default]
    After,
    /// Crash-stop: killed nodes stay down until the final heal.
    Never,
}

/// `kill: { targets, interval, restart }`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KillSpec {
    /// Which nodes (default: a random nonempty subset).
    pub targets: Option<Targets>,
    /// Mean time between kill and start (default 10s).
    #[serde(default, deserialize_with = "duration::option")]
    pub interval: Option<Duration>,
    /// Crash-recovery (`after`, default) or crash-stop (`never`).
    #[serde(default)]
    pub restart: Restart,
}

/// `pause: { targets, interval }`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PauseSpec {
    /// Which nodes (default: a random nonempty subset).
    pub targets: Option<Targets>,
    /// Mean time between pause and resume (default 10s).
    #[serde(default, deserialize_with = "duration::option")]
    pub interval: Option<Duration>,
}

/// `strobe: { delta, period, duration }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StrobeSpec {
    /// How far the clock jumps ahead and back.
    #[serde(deserialize_with = "required")]
    pub delta: Duration,
    /// Time between flips.
    #[serde(deserialize_with = "required")]
    pub period: Duration,
    /// How long the strobe lasts.
    #[serde(deserialize_with = "required")]
    pub duration: Duration,
}

/// `clock: { strategy, targets, interval, bump, strobe }`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClockSpec {
    /// `faketime` or `system` (default: faketime on a local cluster, system elsewhere).
    pub strategy: Option<Strategy>,
    /// Which nodes (default: a random nonempty subset).
    pub targets: Option<Targets>,
    /// Mean time between a bump/strobe and the reset (default 10s).
    #[serde(default, deserialize_with = "duration::option")]
    pub interval: Option<Duration>,
    /// Bump size: each bump moves the clock this far, forward or back at random.
    #[serde(default, deserialize_with = "duration::option")]
    pub bump: Option<Duration>,
    /// Strobe settings; with both `bump` and `strobe`, each fault picks one at random.
    pub strobe: Option<StrobeSpec>,
}

/// `packet: { targets, interval, loss, delay, duplicate, reorder, rate }`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PacketSpec {
    /// Which nodes (default: a random nonempty subset).
    pub targets: Option<Targets>,
    /// Mean time between start and stop (default 10s).
    #[serde(default, deserialize_with = "duration::option")]
    pub interval: Option<Duration>,
    /// Probability (0..1) of dropping a packet (iptables; works everywhere).
    pub loss: Option<f64>,
    /// Added latency (tc netem).
    #[serde(default, deserialize_with = "duration::option")]
    pub delay: Option<Duration>,
    /// Probability of duplicating a packet (tc netem).
    pub duplicate: Option<f64>,
    /// Probability of reordering a packet (tc netem).
    pub reorder: Option<f64>,
    /// Rate limit in tc's units, e.g. `1mbit` (tc netem).
    pub rate: Option<String>,
}

/// One entry of `timeline:`: `{ at: 10s, do: start-partition, topology: majorities-ring }`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TimelineEntry {
    /// When, from the start of the test.
    #[serde(deserialize_with = "required")]
    pub at: Duration,
    /// The op's name, e.g. `start-partition`, `kill`, `bump-clock`.
    #[serde(rename = "do")]
    pub f: String,
    /// For `start-partition`.
    pub topology: Option<Topology>,
    /// For `start-partition`: an explicit grudge.
    pub grudge: Option<BTreeMap<String, Vec<String>>>,
    /// For kill, start, pause, resume, clock and packet ops.
    pub targets: Option<Targets>,
    /// For `bump-clock` and `strobe-clock`: the jump, `2s` or `-500ms`.
    #[serde(default, deserialize_with = "signed_ms")]
    pub delta: Option<i64>,
    /// For `strobe-clock`.
    #[serde(default, deserialize_with = "duration::option")]
    pub period: Option<Duration>,
    /// For `strobe-clock`.
    #[serde(default, deserialize_with = "duration::option")]
    pub duration: Option<Duration>,
    /// For `start-packet`.
    pub loss: Option<f64>,
    /// For `start-packet`.
    #[serde(default, deserialize_with = "duration::option")]
    pub delay: Option<Duration>,
    /// For `start-packet`.
    pub duplicate: Option<f64>,
    /// For `start-packet`.
    pub reorder: Option<f64>,
    /// For `start-packet`.
    pub rate: Option<String>,
}

impl TimelineEntry {
    /// The op this entry asks for; its value holds only the fields given.
    pub fn to_op(&self) -> FaultOp {
        let mut v = serde_json::Map::new();
        let mut put = |k: &str, x: Option<Value>| {
            if let Some(x) = x {
                v.insert(k.into(), x);
            }
        };
        let ms = |d: Option<Duration>| d.map(|d| json!(d.as_millis() as u64));
        put("topology", self.topology.map(|t| json!(t)));
        put("grudge", self.grudge.as_ref().map(|g| json!(g)));
        put("targets", self.targets.as_ref().map(|t| json!(t)));
        put("delta-ms", self.delta.map(|d| json!(d)));
        put("period-ms", ms(self.period));
        put("duration-ms", ms(self.duration));
        put("loss", self.loss.map(|x| json!(x)));
        put("delay-ms", ms(self.delay));
        put("duplicate", self.duplicate.map(|x| json!(x)));
        put("reorder", self.reorder.map(|x| json!(x)));
        put("rate", self.rate.as_ref().map(|x| json!(x)));
        FaultOp { f: self.f.clone(), value: if v.is_empty() { Value::Null } else { Value::Object(v) } }
    }
}

fn required<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    Ok(Human::deserialize(d)?.0)
}

/// A duration (bare number = seconds) with an optional leading `-`, in whole milliseconds.
fn signed_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "{}, with an optional -", duration::EXPECTED)
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<i64, E> {
            let (neg, body) = match s.trim().strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.trim()),
            };
            let ms = duration::parse(body)
                .map_err(|_| {
                    E::custom(format!("invalid duration {s:?}: expected {}, with an optional -", duration::EXPECTED))
                })?
                .as_millis();
            let ms = i64::try_from(ms).map_err(|_| E::custom(format!("duration {s:?} is too long")))?;
            Ok(if neg { -ms } else { ms })
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            self.visit_str(&v.to_string())
        }
    }
    struct Opt(i64);
    impl<'de> Deserialize<'de> for Opt {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(V).map(Opt)
        }
    }
    Ok(Option::<Opt>::deserialize(d)?.map(|o| o.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(yaml: &str) -> Result<T, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_shapes_parse() {
        let yaml = r#"
- partition: { topology: majorities-ring, interval: 10s }
- partition: { grudge: { n1: [n2, n3] } }
- kill: { targets: minority, interval: 15s, restart: never }
- pause: { targets: { nodes: [n1] }, interval: 10s }
- clock: { strategy: faketime, interval: 10s, bump: 2s, strobe: { delta: 200ms, period: 10ms, duration: 5s } }
- packet: { targets: all, loss: 0.2, delay: 50ms, duplicate: 0.1, reorder: 0.1, rate: 1mbit }
"#;
        let specs: Vec<NemesisSpec> = parse(yaml).expect("parses");
        assert_eq!(specs.len(), 6);
        assert_eq!(specs[0].interval(), Duration::from_secs(10));
        assert_eq!(
            specs[2],
            NemesisSpec::Kill(KillSpec {
                targets: Some(Targets::Minority),
                interval: Some(Duration::from_secs(15)),
                restart: Restart::Never
            })
        );
        let NemesisSpec::Clock(c) = &specs[4] else { panic!("clock") };
        assert_eq!(c.strobe.as_ref().map(|s| s.period), Some(Duration::from_millis(10)));
    }

    #[test]
    fn unknown_fields_and_kinds_are_rejected() {
        assert!(parse::<Vec<NemesisSpec>>("- kill: { targets: most }").unwrap_err().contains("unknown variant"));
        assert!(parse::<Vec<NemesisSpec>>("- kill: { nodes: one }").unwrap_err().contains("unknown field"));
        assert!(parse::<Vec<NemesisSpec>>("- flood: {}").unwrap_err().contains("unknown variant"));
    }

    #[test]
    fn timeline_entries_become_ops() {
        let t: Vec<TimelineEntry> = parse(
            "- { at: 10s, do: start-partition, topology: majorities-ring }\n- { at: 25s, do: bump-clock, delta: -500ms, targets: all }\n- { at: 30s, do: stop-partition }",
        )
        .expect("parses");
        assert_eq!(t[0].at, Duration::from_secs(10));
        assert_eq!(t[0].to_op(), FaultOp::new("start-partition", json!({"topology": "majorities-ring"})));
        assert_eq!(t[1].to_op().value, json!({"delta-ms": -500, "targets": "all"}));
        assert_eq!(t[2].to_op().value, Value::Null);
    }
}
