//! Clock faults: `bump-clock` (± ms), `strobe-clock` (flip between two offsets every period for
//! a duration, as a background loop on the node), `reset-clock` (offset 0, strobe stopped) and
//! `check-clock-offsets`. Every op records each node's offset from the control node before and
//! after, in seconds (Jepsen's `:clock-offsets`).
//!
//! Strategy `faketime` rewrites a per-node offset file that libfaketime, preloaded into the
//! system under test (`faketime_env`), re-reads on every call; strategy `system` steps the real
//! clock with `date -s` after stopping the node's time service. A local cluster shares one
//! kernel clock, so `system` is refused there. With `system`, reset (and teardown, and
//! `brawl heal`) sets each clock to the control node's time and verifies it (`sync`), as Jepsen
//! does, instead of undoing brawl's own steps: what a strobe loop left behind is unknowable.

#[path = "clock_sync.rs"]
pub mod sync;

use std::collections::BTreeMap;

use async_trait::async_trait;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::spec::ClockSpec;
use super::targets::{resolve, Targets};
use super::{join_errors, FaultOp, FaultRecord, Nemesis, NemesisCtx, NemesisError};
use crate::cluster::Node;
use crate::control::{quote, RemoteCommand};
pub use sync::parse_ns;
use sync::Now;

/// The ops a clock nemesis handles.
pub const FS: &[&str] = &["bump-clock", "strobe-clock", "reset-clock", "check-clock-offsets"];
/// libfaketime as Debian's `libfaketime` package installs it.
pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// The per-node offset file libfaketime reads (`+1.500000s`, `+0`).
pub const OFFSET_FILE: &str = "/opt/brawl/faketime/offset";
/// brawl's clock state on a node: the strobe pid and the system strategy's marker.
pub const CLOCK_DIR: &str = "/opt/brawl/clock";
/// Present while the system strategy may have moved the node's clock.
pub const SYSTEM_MARKER: &str = "/opt/brawl/clock/system-strategy";

/// How clocks are moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// libfaketime in the system under test; works on a local cluster.
    Faketime,
    /// The node's real clock (`date -s`), NTP stopped; real hosts only.
    System,
}

/// The environment that starts a program under libfaketime with brawl's offset file; a `Db`
/// starts the system under test with it when the test has a faketime clock nemesis. Programs
/// that read the clock without libc (Go binaries such as etcd) are not affected.
pub fn faketime_env() -> Vec<(String, String)> {
    [
        ("LD_PRELOAD", FAKETIME_LIB),
        ("FAKETIME_TIMESTAMP_FILE", OFFSET_FILE),
        ("FAKETIME_NO_CACHE", "1"),
        // Only the wall clock moves, as with a real clock step; monotonic time stays true.
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// libfaketime's spelling of an offset in milliseconds: `+1.500000s`, `-0.200000s`, `+0`.
pub fn format_offset(ms: i64) -> String {
    if ms == 0 {
        return "+0".into();
    }
    let sign = if ms < 0 { '-' } else { '+' };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{:03}000s", a / 1000, a % 1000)
}

/// Atomically writes `content` to the offset file (libfaketime never sees half a file).
fn write_offset(content: &str) -> String {
    format!("printf '%s\\n' {} > {OFFSET_FILE}.tmp && mv -f {OFFSET_FILE}.tmp {OFFSET_FILE}", quote(content))
}

/// Stops any strobe loop and waits until it is gone, so it cannot write after us. Prints
/// `killed strobe loop <pid>`. The loop is asked first (`strobe-stop`), and ends at its low point
/// with the clock (or offset file) back where it started; killing it mid-flip, between a step and
/// its record, left the system clock a strobe delta off after reset. After 10 s it is killed
/// (its whole process group, found by pid file or by its marker).
pub fn kill_strobe() -> String {
    // The marker is assembled at run time so this script's own command line never matches it.
    format!(
        "m=brawl; m=$m-strobe; touch {CLOCK_DIR}/strobe-stop 2>/dev/null; \
         for p in $(cat {CLOCK_DIR}/strobe.pid 2>/dev/null) $(pgrep -f \"^sh -c : $m\" 2>/dev/null); do \
         grep -qs \"$m\" /proc/$p/cmdline || continue; \
         for i in $(seq 200); do grep -qs '^State:[[:space:]]*[^Z]' /proc/$p/status || break; sleep 0.05; done; \
         kill -KILL -- -$p 2>/dev/null || kill -KILL $p 2>/dev/null; \
         for i in $(seq 100); do grep -qs '^State:[[:space:]]*[^Z]' /proc/$p/status || break; sleep 0.01; done; \
         echo \"killed strobe loop $p\"; done; rm -f {CLOCK_DIR}/strobe.pid {CLOCK_DIR}/strobe-stop"
    )
}

/// Steps the real clock by `$1` nanoseconds (shell function definition). One `date` reads the
/// clock and sets it (`date -s '+1.500000000 seconds'`): reading it in one process and setting it
/// in another lost the time between them, up to a second on a loaded, emulated VM.
const STEP_FN: &str = "step() { n=$1; s=+; if [ \"$n\" -lt 0 ]; then s=-; n=$((0 - n)); fi; \
     date -s \"$s$((n / 1000000000)).$(printf %09d $((n % 1000000000))) seconds\" >/dev/null; }";

/// Removes the step records that brawl before the control-clock reset kept (never read now).
pub fn clear_old_records() -> String {
    format!("rm -f {CLOCK_DIR}/offset-ns {CLOCK_DIR}/strobe-high")
}

/// The time services brawl knows how to stop and start.
const TIME_SERVICES: &str = "systemd-timesyncd chrony chronyd ntp ntpsec openntpd";

/// Restarts the time services brawl stopped and removes the system strategy's marker.
pub fn restore_time_services() -> String {
    format!(
        "for s in $(sort -u {CLOCK_DIR}/stopped-services 2>/dev/null); do \
         {{ systemctl start $s 2>/dev/null || service $s start; }} && echo \"restarted $s\"; done; \
         rm -f {CLOCK_DIR}/stopped-services {SYSTEM_MARKER}"
    )
}

/// The clock nemesis.
pub struct ClockNemesis {
    spec: ClockSpec,
    strategy: Strategy,
    rng: ChaCha8Rng,
    /// Each node's offset as brawl set it, in ms (faketime: what the file says, strobe aside).
    offsets_ms: BTreeMap<String, i64>,
    /// The control node's clock, which offsets are measured against and reset sets nodes to.
    now: Now,
}

impl ClockNemesis {
    /// A clock nemesis; the strategy defaults at setup (faketime on a local cluster, else system).
    pub fn new(spec: ClockSpec, seed: u64) -> Self {
        ClockNemesis {
            strategy: spec.strategy.unwrap_or(Strategy::Faketime),
            spec,
            rng: ChaCha8Rng::seed_from_u64(seed),
            offsets_ms: BTreeMap::new(),
            now: sync::system_now(),
        }
    }

    /// The same nemesis measuring against `now` instead of the real clock (tests).
    pub fn with_now(mut self, now: Now) -> Self {
        self.now = now;
        self
    }

    /// The script that prints the time the node's system under test sees, `secs.nanos`.
    fn date_script(&self) -> String {
        match self.strategy {
            Strategy::System => "date +%s.%N".into(),
            Strategy::Faketime => {
                let env: Vec<String> = faketime_env().into_iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("env {} date +%s.%N", env.join(" "))
            }
        }
    }

    /// Each node's offset from the control node's clock, in seconds (null when unreadable): of
    /// `sync::SAMPLES` readings, the one with the shortest round trip (as NTP does), since the
    /// error of a reading is up to half its round trip, which varies a lot on a loaded host.
    async fn offsets(&self, ctx: &NemesisCtx) -> BTreeMap<String, serde_json::Value> {
        let script = self.date_script();
        let results = ctx
            .cluster
            .on_nodes(|node| {
                let (script, now) = (script.clone(), self.now.clone());
                async move { sync::measure(node, &script, &now).await }
            })
            .await;
        results.into_iter().map(|(n, r)| (n, json!(r.map(|r| seconds(r.offset_ns))))).collect()
    }

    /// With the system strategy, sets each of `nodes` to the control node's clock (verified,
    /// retried once); returns each node's result and the errors.
    async fn sync_nodes(&self, ctx: &NemesisCtx, nodes: &[String]) -> (serde_json::Value, Vec<(String, String)>) {
        let results = ctx
            .cluster
            .on_nodes(|node| {
                let (now, wanted) = (self.now.clone(), nodes.contains(&node.name));
                async move {
                    match wanted {
                        true => Some(sync::sync_node(node, &now).await),
                        false => None,
                    }
                }
            })
            .await;
        let (mut value, mut errors) = (serde_json::Map::new(), Vec::new());
        for (n, r) in results {
            match r {
                Some(Ok(s)) => {
                    let v = json!({ "before": seconds(s.before.offset_ns), "after": seconds(s.after.offset_ns),
                        "rtt": seconds(s.after.rtt_ns), "steps": s.steps });
                    value.insert(n, v);
                }
                Some(Err(e)) => errors.push((n, e)),
                None => {}
            }
        }
        (value.into(), errors)
    }

    /// The script that applies one op on one node, with its offset in ms afterwards.
    fn script(&self, f: &str, node: &str, v: &serde_json::Value) -> Result<(String, i64), String> {
        let cur = self.offsets_ms.get(node).copied().unwrap_or(0);
        let ms = |k: &str| v.get(k).and_then(|x| x.as_i64()).ok_or_else(|| format!("{f} needs an integer {k:?}"));
        let sys = self.strategy == Strategy::System;
        Ok(match f {
            "bump-clock" => {
                let (d, new) = (ms("delta-ms")?, cur + ms("delta-ms")?);
                let s = if sys {
                    format!("{}; {}", kill_strobe(), sync::step_script(i128::from(d) * 1_000_000))
                } else {
                    format!("{}; {}", kill_strobe(), write_offset(&format_offset(new)))
                };
                (s, new)
            }
            "strobe-clock" => {
                let (d, p, dur) = (ms("delta-ms")?, ms("period-ms")?.max(1), ms("duration-ms")?);
                let flips = (dur / (2 * p)).max(1);
                let sleep = format!("{}.{:03}", p / 1000, p % 1000);
                let (high, low) = if sys {
                    (format!("step {}", d * 1_000_000), format!("step {}", -d * 1_000_000))
                } else {
                    (write_offset(&format_offset(cur + d)), write_offset(&format_offset(cur)))
                };
                let prelude = if sys { STEP_FN } else { ":" };
                let body = format!(": brawl-strobe; {prelude}; i=0; while [ $i -lt {flips} ] && [ ! -e {CLOCK_DIR}/strobe-stop ]; do {high}; sleep {sleep}; {low}; sleep {sleep}; i=$((i+1)); done");
                let s = format!("{}; mkdir -p {CLOCK_DIR} && {{ setsid sh -c {} </dev/null >/dev/null 2>&1 & echo $! > {CLOCK_DIR}/strobe.pid; }}", kill_strobe(), quote(&body));
                (s, cur)
            }
            // The clock itself is set afterwards, from the control node (`sync`).
            "reset-clock" if sys => (format!("{}; {}", kill_strobe(), clear_old_records()), 0),
            "reset-clock" => (format!("{}; {}", kill_strobe(), write_offset("+0")), 0),
            other => return Err(format!("the clock nemesis does not handle {other:?}")),
        })
    }
}

/// Nanoseconds as seconds, rounded to the microsecond.
fn seconds(ns: i128) -> f64 {
    (ns as f64 / 1e3).round() / 1e6
}

/// Runs an op's script. A clock step is relative, so a script that steps is never re-sent after
/// a broken connection (it may have run); the others only write files and kill the strobe.
async fn run(node: &Node, script: String, steps: bool) -> Result<(), NemesisError> {
    let cmd = RemoteCommand::new(script).sudo();
    node.remote.exec(&if steps { cmd } else { cmd.idempotent() }).await?;
    Ok(())
}

#[async_trait]
impl Nemesis for ClockNemesis {
    fn fs(&self) -> &'static [&'static str] {
        FS
    }

    async fn setup(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError> {
        self.strategy =
            self.spec.strategy.unwrap_or(if ctx.local_cluster { Strategy::Faketime } else { Strategy::System });
        if self.strategy == Strategy::System && ctx.local_cluster {
            return Err(NemesisError::Refused {
                what: "the system clock strategy".into(),
                why: "the system clock strategy would move the whole machine's clock, control node included; use `strategy: faketime` on a local cluster".into(),
            });
        }
        let script = match self.strategy {
            Strategy::Faketime => format!(
                "test -f {FAKETIME_LIB} || {{ echo missing; exit 3; }}; mkdir -p /opt/brawl/faketime {CLOCK_DIR} && {}; {}",
                kill_strobe(),
                write_offset("+0")
            ),
            Strategy::System => format!(
                "mkdir -p {CLOCK_DIR} && touch {SYSTEM_MARKER} && for s in {TIME_SERVICES}; do \
                 if command -v systemctl >/dev/null && systemctl is-active --quiet $s 2>/dev/null; then systemctl stop $s && echo $s >> {CLOCK_DIR}/stopped-services; \
                 elif [ -x /etc/init.d/$s ] && service $s status >/dev/null 2>&1; then service $s stop && echo $s >> {CLOCK_DIR}/stopped-services; fi; done; \
                 {}", clear_old_records()
            ),
        };
        for (node, r) in ctx
            .cluster
            .on_nodes(|n| {
                let cmd = RemoteCommand::new(script.clone()).sudo().unchecked();
                async move { n.remote.exec(&cmd).await }
            })
            .await
        {
            let out = r?;
            if out.status == 3 && out.stdout.contains("missing") {
                let why =
                    format!("libfaketime is not installed ({FAKETIME_LIB}); install Debian's libfaketime package");
                return Err(NemesisError::Unsupported { node, what: "clock faults (faketime)".into(), why });
            }
            if !out.success() {
                return Err(NemesisError::Refused { what: format!("clock setup on {node}"), why: out.stderr });
            }
        }
        tracing::info!(strategy = ?self.strategy, "clock nemesis ready; faketime moves only programs started with nemesis::clock::faketime_env()");
        Ok(())
    }

    async fn invoke(&mut self, ctx: &NemesisCtx, op: &FaultOp) -> FaultRecord {
        let before = self.offsets(ctx).await;
        if op.f == "check-clock-offsets" {
            return FaultRecord {
                f: op.f.clone(),
                value: json!({ "clock-offsets": before }),
                nodes: ctx.node_names(),
                error: None,
            };
        }
        let targets = match op.value.get("targets").map(|t| serde_json::from_value::<Targets>(t.clone())) {
            Some(Err(e)) => return FaultRecord::failed(op, format!("invalid targets: {e}")),
            Some(Ok(t)) => t,
            None if op.f == "reset-clock" => Targets::All,
            None => self.spec.targets.clone().unwrap_or_default(),
        };
        let nodes = resolve(&targets, &ctx.node_names(), &ctx.primaries().await, &mut self.rng);
        let mut scripts = BTreeMap::new();
        for n in &nodes {
            match self.script(&op.f, n, &op.value) {
                Ok(s) => scripts.insert(n.clone(), s),
                Err(e) => return FaultRecord::failed(op, e),
            };
        }
        let steps = self.strategy == Strategy::System && op.f != "reset-clock";
        let results = ctx
            .cluster
            .on_nodes(|node| {
                let s = scripts.get(&node.name).map(|(s, _)| s.clone());
                async move {
                    match s {
                        Some(s) => run(node, s, steps).await,
                        None => Ok(()),
                    }
                }
            })
            .await;
        let mut errors = Vec::new();
        for (n, r) in results {
            match (r, scripts.get(&n)) {
                (Ok(()), Some((_, new))) => {
                    self.offsets_ms.insert(n, *new);
                }
                (Err(e), _) => errors.push((n, e.to_string())),
                _ => {}
            }
        }
        let mut value = if op.value.is_object() { op.value.clone() } else { json!({}) };
        if op.f == "reset-clock" && self.strategy == Strategy::System {
            let ready: Vec<String> = nodes.iter().filter(|n| !errors.iter().any(|(e, _)| e == *n)).cloned().collect();
            let (synced, sync_errors) = self.sync_nodes(ctx, &ready).await;
            value["synced"] = synced;
            errors.extend(sync_errors);
        }
        let after = self.offsets(ctx).await;
        value["targets"] = json!(nodes);
        value["strategy"] = json!(self.strategy);
        value["clock-offsets-before"] = json!(before);
        value["clock-offsets"] = json!(after);
        FaultRecord { f: op.f.clone(), value, nodes, error: join_errors(&errors) }
    }

    async fn teardown(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError> {
        let script = match self.strategy {
            Strategy::Faketime => {
                format!("{}; ! test -d /opt/brawl/faketime || {{ {}; }}", kill_strobe(), write_offset("+0"))
            }
            Strategy::System => format!("{}; {}", kill_strobe(), clear_old_records()),
        };
        self.offsets_ms.clear();
        let mut first = Ok(());
        for (_, r) in ctx.cluster.on_nodes(|n| run(n, script.clone(), false)).await {
            if let (Err(e), true) = (r, first.is_ok()) {
                first = Err(e);
            }
        }
        if self.strategy == Strategy::System {
            let (_, errors) = self.sync_nodes(ctx, &ctx.node_names()).await;
            for (_, r) in ctx.cluster.on_nodes(|n| run(n, restore_time_services(), false)).await {
                if let (Err(e), true) = (r, first.is_ok()) {
                    first = Err(e);
                }
            }
            if let (Some((node, reason)), true) = (errors.into_iter().next(), first.is_ok()) {
                first = Err(NemesisError::Clock { node, reason });
            }
        }
        first
    }
}

#[cfg(test)]
#[path = "clock_tests.rs"]
mod tests;
