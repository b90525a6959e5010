//! Issue 4 (first part): faults really happen on the nodes during an etcd run, are journaled,
//! and are healed at the end, on Ctrl-C, and by `brawl heal` after a SIGKILL.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use brawl::control::{Remote, RemoteCommand};
use common::{brawl, brawl_bin, text, TestCluster};

fn test_file(dir: &std::path::Path, cluster: &str, time_limit: &str, timeline: &str) -> String {
    let yaml = format!(
        "name: etcd-nemesis\ncluster: {cluster}\ndb: {{ etcd: {{}} }}\n\
         workload: {{ register: {{ keys: 4, op-timeout: 1s }} }}\n\
         time-limit: {time_limit}\nrecovery-time: 2s\nconcurrency: 6\nrate: 200\n{timeline}"
    );
    let path = dir.join("etcd-nemesis.yaml");
    std::fs::write(&path, yaml).expect("write test file");
    path.display().to_string()
}

/// What the nodes look like right now: BRAWL drop rules, stopped etcd, etcd's pid.
async fn observe(c: &TestCluster) -> BTreeMap<String, (bool, bool, String)> {
    let probe = "iptables -w -S BRAWL 2>/dev/null | grep -c DROP; ps -o stat= -C etcd | head -1; cat /run/brawl-etcd.pid 2>/dev/null";
    let mut out = BTreeMap::new();
    for node in ["n1", "n2", "n3"] {
        let r = c.remote(node);
        if let Ok(o) = r.exec(&RemoteCommand::new(probe).unchecked().timeout(Duration::from_secs(3))).await {
            let lines: Vec<&str> = o.stdout.lines().collect();
            let drops = lines.first().and_then(|l| l.trim().parse::<u32>().ok()).unwrap_or(0) > 0;
            let stopped = lines.get(1).is_some_and(|s| s.trim().starts_with('T'));
            out.insert(node.to_string(), (drops, stopped, lines.get(2).unwrap_or(&"").trim().to_string()));
        }
    }
    out
}

async fn clean(c: &TestCluster) {
    let now = observe(c).await;
    for (node, (drops, stopped, _)) in now {
        assert!(!drops && !stopped, "{node} is not healed: drops {drops}, stopped {stopped}");
    }
}

#[tokio::test]
async fn partition_kill_and_pause_really_happen_and_are_healed() {
    let c = TestCluster::up("t-nem", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let timeline = concat!(
        "nemeses:\n  - partition: { topology: majorities-ring }\n  - kill: { targets: one }\n  - pause: { targets: one }\n",
        "timeline:\n",
        "  - { at: 3s, do: start-partition, topology: halves }\n",
        "  - { at: 6s, do: stop-partition }\n",
        "  - { at: 8s, do: kill }\n",
        "  - { at: 10s, do: start }\n",
        "  - { at: 12s, do: pause }\n",
        "  - { at: 14s, do: resume }\n",
    );
    let file = test_file(dir.path(), "t-nem", "17s", timeline);
    let mut child = Command::new(brawl_bin())
        .args(["run", &file, "--reports", reports.to_str().expect("utf8")])
        .spawn()
        .expect("starts");
    let (mut saw_drop, mut saw_stopped) = (false, false);
    let mut pids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the run did not end");
        for (node, (drops, stopped, pid)) in observe(&c).await {
            saw_drop |= drops;
            saw_stopped |= stopped;
            if !pid.is_empty() {
                pids.entry(node).or_default().insert(pid);
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let status = child.wait().expect("exit");
    assert_eq!(status.code(), Some(0), "verdict not valid");
    assert!(saw_drop, "no partition rule was ever seen on a node");
    assert!(saw_stopped, "no etcd was ever seen stopped (state T)");
    assert!(pids.values().any(|p| p.len() >= 2), "no etcd pid changed after the kill: {pids:?}");
    let run = std::fs::canonicalize(reports.join("latest")).expect("run");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).expect("results")).expect("json");
    for kind in ["partition", "kill", "pause"] {
        assert_eq!(results["faults"][kind]["count"], 1, "{kind}: {results:#}");
        assert!(results["faults"][kind]["total_s"].as_f64().unwrap_or(0.0) > 0.5, "{kind}: {results:#}");
    }
    let history = std::fs::read_to_string(run.join("history.jsonl")).expect("history");
    assert!(history.contains("\"grudge\""), "the partition's grudge is journaled");
    // Healed: no rule, no stopped process (etcd itself was torn down at the end).
    let n1 = c.remote("n1");
    let chains = n1.exec(&RemoteCommand::new("iptables -w -S | grep -c BRAWL || true")).await.expect("runs");
    assert_eq!(chains.stdout.trim(), "0", "brawl's chain is left on n1");
    clean(&c).await;
}

#[tokio::test]
async fn sigint_in_a_partition_and_sigkill_then_brawl_heal_leave_clean_nodes() {
    let c = TestCluster::up("t-heal", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let timeline = "nemeses:\n  - partition: {}\n  - pause: { targets: all }\ntimeline:\n  - { at: 2s, do: start-partition, topology: one }\n  - { at: 2s, do: pause }\n";
    let file = test_file(dir.path(), "t-heal", "60s", timeline);
    for signal in ["INT", "KILL"] {
        let mut child = Command::new(brawl_bin())
            .args(["run", &file, "--reports", reports.to_str().expect("utf8")])
            .spawn()
            .expect("starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let now = observe(&c).await;
            if now.values().any(|(d, _, _)| *d) && now.values().all(|(_, s, _)| *s) {
                break;
            }
            assert!(Instant::now() < deadline, "the faults never started");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sent = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().expect("kill");
        assert!(sent.success());
        if signal == "INT" {
            // Healed within 10 s of Ctrl-C.
            let healed_by = Instant::now() + Duration::from_secs(10);
            loop {
                let now = observe(&c).await;
                if now.values().all(|(d, s, _)| !d && !s) {
                    break;
                }
                assert!(Instant::now() < healed_by, "not healed 10 s after SIGINT: {now:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let status = child.wait().expect("exit");
            assert!(status.code().is_some(), "brawl died of the signal instead of finishing the run");
        } else {
            let _ = child.wait();
            let now = observe(&c).await;
            assert!(now.values().any(|(d, s, _)| *d || *s), "SIGKILL should leave faults behind: {now:?}");
            let out = brawl(&["heal", "--cluster", "t-heal"]);
            assert!(out.status.success(), "{}", text(&out));
            assert!(String::from_utf8_lossy(&out.stdout).contains("removed iptables chain BRAWL"), "{}", text(&out));
            clean(&c).await;
        }
    }
}

#[test]
fn packet_delay_without_netem_is_a_clear_unsupported_error() {
    let _c = TestCluster::up("t-netem", 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = test_file(dir.path(), "t-netem", "5s", "nemeses:\n  - packet: { targets: all, delay: 50ms }\n");
    let out = brawl(&["run", &file, "--reports", dir.path().join("reports").to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("netem") && stderr.contains("unsupported") || stderr.contains("no netem"), "{stderr}");
}

/// Packets dropped so far by brawl's loss rules on `node` (their iptables counters).
async fn dropped_packets(c: &TestCluster, node: &str) -> u64 {
    let probe = "iptables -w -L BRAWL-PKT -v -x -n 2>/dev/null | awk '$3 == \"DROP\" { s += $1 } END { print s + 0 }'";
    let r = c.remote(node);
    match r.exec(&RemoteCommand::new(probe).unchecked().timeout(Duration::from_secs(3))).await {
        Ok(o) => o.stdout.trim().parse().unwrap_or(0),
        Err(_) => 0,
    }
}

#[tokio::test]
async fn a_packet_loss_schedule_really_drops_packets_and_is_healed() {
    let c = TestCluster::up("t-loss", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    // An interval schedule (not a timeline): loss faults drawn from the seed, 40% of packets.
    let nemeses = "nemeses:\n  - packet: { targets: all, loss: 0.4, interval: 2s }\n";
    let file = test_file(dir.path(), "t-loss", "12s", nemeses);
    let mut child = Command::new(brawl_bin())
        .args(["run", &file, "--reports", reports.to_str().expect("utf8"), "--seed", "7"])
        .spawn()
        .expect("starts");
    let mut most_dropped = 0u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the run did not end");
        for node in ["n1", "n2", "n3"] {
            most_dropped = most_dropped.max(dropped_packets(&c, node).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(child.wait().expect("exit").code(), Some(0), "verdict not valid");
    assert!(most_dropped > 0, "brawl's loss rules never dropped a packet");
    let run = std::fs::canonicalize(reports.join("latest")).expect("run");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).expect("results")).expect("json");
    assert!(results["faults"]["packet"]["count"].as_u64().unwrap_or(0) >= 1, "{results:#}");
    let n1 = c.remote("n1");
    let rules = n1.exec(&RemoteCommand::new("iptables -w -S | grep -c BRAWL || true")).await.expect("runs");
    assert_eq!(rules.stdout.trim(), "0", "brawl's packet chain is left on n1");
}

#[tokio::test]
async fn a_panic_in_the_middle_of_a_partition_still_heals_every_node() {
    let c = TestCluster::up("t-panic", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let timeline = "nemeses:\n  - partition: {}\n  - pause: { targets: one }\ntimeline:\n  - { at: 1s, do: pause }\n  - { at: 2s, do: start-partition, topology: halves }\n";
    let file = test_file(dir.path(), "t-panic", "30s", timeline);
    let out = Command::new(brawl_bin())
        .args(["run", &file, "--reports", reports.to_str().expect("utf8")])
        .env("BRAWL_FAILPOINTS", "run.after-fault")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("panicked during the run"), "{}", text(&out));
    clean(&c).await;
    let n1 = c.remote("n1");
    let rules = n1.exec(&RemoteCommand::new("iptables -w -S | grep -c BRAWL || true")).await.expect("runs");
    assert_eq!(rules.stdout.trim(), "0", "brawl's chain is left on n1 after the panic");
    // The history written before the panic is kept and readable.
    let run = std::fs::canonicalize(reports.join("latest")).expect("run");
    let history = std::fs::read_to_string(run.join("history.jsonl")).expect("history");
    assert!(history.contains("\"pause\""), "the fault before the panic is journaled");
}

/// The time the program that `started_like_the_sut` runs last wrote, minus ours, in seconds.
async fn sut_offset(c: &TestCluster, node: &str) -> f64 {
    let r = c.remote(node);
    let now = |/* control */| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    // Wait for a fresh sample (the loop writes every 50 ms).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = now();
    let out = r.exec(&RemoteCommand::new("cat /tmp/brawl-clock-probe")).await.expect("reads the probe");
    let after = now();
    let seen: f64 = out.stdout.trim().parse().unwrap_or_else(|_| panic!("probe wrote {:?}", out.stdout));
    seen - (before.as_secs_f64() + after.as_secs_f64()) / 2.0
}

#[tokio::test]
async fn a_process_started_like_the_sut_sees_bump_strobe_and_reset() {
    use brawl::nemesis::{clock::faketime_env, FaultOp, Nemesis, NemesisCtx, NemesisSpec};
    let c = TestCluster::up("t-clock", 2);
    let cluster = c.cluster();
    let db = brawl::run::build_db(&brawl::config::DbSpec::Etcd(Default::default()), "t-clock", faketime_env());
    let ctx = NemesisCtx::new(cluster.clone(), db, true).expect("ctx");
    let spec: NemesisSpec = serde_json::from_value(serde_json::json!({"clock": {}})).expect("spec");
    let mut nem = brawl::nemesis::build(std::slice::from_ref(&spec), 1).expect("builds");
    assert!(brawl::nemesis::uses_faketime(&[spec], true), "a local cluster's clock nemesis uses faketime");
    nem.setup(&ctx).await.expect("clock setup");
    // Started exactly as a Db starts its daemon, with the env the run gives it.
    let probe = "sh -c 'while :; do date +%s.%N > /tmp/brawl-clock-probe.tmp; mv /tmp/brawl-clock-probe.tmp /tmp/brawl-clock-probe; sleep 0.05; done'";
    let start = brawl::db::daemon_command(probe, "/tmp", "/run/brawl-probe.pid", "/tmp/probe.log", &faketime_env());
    for node in ["n1", "n2"] {
        common::sh(c.remote(node).as_ref(), &start).await;
    }
    for node in ["n1", "n2"] {
        let off = sut_offset(&c, node).await;
        assert!(off.abs() < 0.5, "{node} starts with offset {off}");
    }
    let bump = nem
        .invoke(&ctx, &FaultOp::new("bump-clock", serde_json::json!({"delta-ms": 5000, "targets": {"nodes": ["n1"]}})))
        .await;
    assert!(bump.error.is_none(), "{bump:?}");
    let recorded = bump.value["clock-offsets"]["n1"].as_f64().expect("n1's offset recorded");
    assert!((recorded - 5.0).abs() < 0.5, "recorded offset after the bump: {}", bump.value);
    let before = bump.value["clock-offsets-before"]["n1"].as_f64().expect("offset before recorded");
    assert!(before.abs() < 0.5, "recorded offset before the bump: {}", bump.value);
    let n1 = sut_offset(&c, "n1").await;
    assert!((n1 - 5.0).abs() < 0.5, "n1's process reads {n1} s off after a +5 s bump");
    let n2 = sut_offset(&c, "n2").await;
    assert!(n2.abs() < 0.5, "n2 was not a target but reads {n2} s off");
    let back = nem
        .invoke(&ctx, &FaultOp::new("bump-clock", serde_json::json!({"delta-ms": -8000, "targets": {"nodes": ["n2"]}})))
        .await;
    assert!(back.error.is_none(), "{back:?}");
    let n2 = sut_offset(&c, "n2").await;
    assert!((n2 + 8.0).abs() < 0.5, "n2's process reads {n2} s off after a -8 s bump");

    let reset = nem.invoke(&ctx, &FaultOp::new("reset-clock", serde_json::Value::Null)).await;
    assert!(reset.error.is_none(), "{reset:?}");
    for node in ["n1", "n2"] {
        let off = sut_offset(&c, node).await;
        assert!(off.abs() < 0.5, "{node} reads {off} s off after the reset");
        assert!(reset.value["clock-offsets"][node].as_f64().expect("recorded").abs() < 0.5, "{}", reset.value);
    }

    // A strobe flips between the offsets; the process sees both.
    let strobe =
        serde_json::json!({"delta-ms": 3000, "period-ms": 400, "duration-ms": 6000, "targets": {"nodes": ["n1"]}});
    let s = nem.invoke(&ctx, &FaultOp::new("strobe-clock", strobe)).await;
    assert!(s.error.is_none(), "{s:?}");
    let (mut high, mut low) = (false, false);
    for _ in 0..12 {
        let off = sut_offset(&c, "n1").await;
        high |= (off - 3.0).abs() < 0.5;
        low |= off.abs() < 0.5;
    }
    assert!(high && low, "n1's process did not see the strobe flip (high {high}, low {low})");
    nem.teardown(&ctx).await.expect("teardown");
    let off = sut_offset(&c, "n1").await;
    assert!(off.abs() < 0.5, "n1 reads {off} s off after the teardown");
    for node in ["n1", "n2"] {
        common::sh(c.remote(node).as_ref(), "kill $(cat /run/brawl-probe.pid)").await;
    }
}

#[test]
fn the_vm_test_file_runs_unchanged_on_a_local_cluster_with_the_faketime_clock() {
    let _c = TestCluster::up("t-vmfile", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vm/etcd-register.yaml");
    let out = brawl(&["run", file, "--cluster", "t-vmfile", "--reports", reports.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = std::fs::canonicalize(reports.join("latest")).expect("run");
    let history = std::fs::read_to_string(run.join("history.jsonl")).expect("history");
    let clock_ops: Vec<serde_json::Value> = history
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|op| op["f"] == "bump-clock" && op["value"]["strategy"].is_string())
        .collect();
    assert_eq!(clock_ops.len(), 3, "three bumps journaled with their outcome");
    for op in &clock_ops {
        assert_eq!(op["value"]["strategy"], "faketime", "{op}");
        assert!(op["value"]["clock-offsets"].is_object(), "{op}");
    }
    // The first bump moved n1 by +2 s, as seen by a program started under libfaketime.
    let n1 = clock_ops[0]["value"]["clock-offsets"]["n1"].as_f64().expect("n1's offset");
    assert!((n1 - 2.0).abs() < 0.5, "n1 after a +2 s bump: {n1} s; {}", clock_ops[0]);
}
