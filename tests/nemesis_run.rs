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
