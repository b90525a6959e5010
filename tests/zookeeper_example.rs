//! Issue 13's worked examples, run as users would run them, on the real local cluster: the
//! ZooKeeper register (`db: shell:` + a Python kazoo client) under partitions, kills and pauses,
//! and the bash client against brawl's built-in etcd. Each test copies the example, changing
//! only the cluster, the time limit and the fault intervals, so an example that stops working
//! fails here.
//!
//! Needs what `.ci/setup` installs: Debian's zookeeper, netcat-openbsd, jq, etcd, and kazoo.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::{brawl, text, TestCluster};
use serde_json::Value;

/// One example at a time: each brings up its own cluster and the machine is small.
static SERIAL: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example at `rel` with each `(from, to)` replaced; every `from` must be there.
fn example_copy(rel: &str, edits: &[(&str, &str)], dir: &Path) -> PathBuf {
    let mut yaml = std::fs::read_to_string(repo().join(rel)).expect("example reads");
    for (from, to) in edits {
        assert!(yaml.contains(from), "{rel} no longer contains {from:?}; update this test with the example");
        yaml = yaml.replace(from, to);
    }
    let path = dir.join(Path::new(rel).file_name().expect("file name"));
    std::fs::write(&path, yaml).expect("write copy");
    path
}

/// `brawl run FILE` from the repository's root (the examples name their clients relative to
/// it), and the run directory it made.
fn run(file: &Path, reports: &Path, test: &str) -> (Output, PathBuf) {
    let out = Command::new(common::brawl_bin())
        .current_dir(repo())
        .args(["run", file.to_str().expect("utf8"), "--reports", reports.to_str().expect("utf8"), "--seed", "13"])
        .output()
        .expect("brawl runs");
    let dir = std::fs::read_dir(reports.join(test))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(Result::ok)
        .map(|e| e.path())
        .unwrap_or_else(|| panic!("no run directory:\n{}", text(&out)));
    (out, dir)
}

fn results(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("results.json")).expect("results.json")).expect("results parse")
}

/// Every `f` of the register workload has ok ops.
fn assert_ok_in_every_f(r: &Value, out: &Output) {
    for f in ["read", "write", "cas"] {
        let ok = r["stats"]["by_f"][f]["ok"].as_u64().unwrap_or(0);
        assert!(ok > 0, "no ok {f}: {}\n{}", r["stats"]["by_f"], text(out));
    }
}

#[test]
fn issue_13_zookeeper_example_gives_a_verdict_under_partitions_kills_and_pauses_and_leaves_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let name = "zk-t";
    let _c = TestCluster::up(name, 3);
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = example_copy(
        "workloads/examples/zookeeper-register.yaml",
        &[
            ("cluster: local", &format!("cluster: {name}")),
            ("time-limit: 60s", "time-limit: 24s"),
            ("recovery-time: 10s", "recovery-time: 5s"),
            ("topology: one, interval: 10s", "topology: one, interval: 6s"),
            ("targets: one, interval: 10s", "targets: one, interval: 6s"),
            // `one`, not `primaries`: right after a partition or a kill there may be no leader
            // to pause, and this test must see a pause land.
            ("targets: primaries, interval: 15s", "targets: one, interval: 6s"),
        ],
        tmp.path(),
    );
    let (out, dir) = run(&file, &tmp.path().join("reports"), "zookeeper-register");
    let t = text(&out);
    assert!(matches!(out.status.code(), Some(0..=2)), "a verdict (0, 1 or 2), not a failed run:\n{t}");

    let r = results(&dir);
    assert_ok_in_every_f(&r, &out);
    for fault in ["partition", "kill", "pause"] {
        assert!(r["faults"][fault]["count"].as_u64() >= Some(1), "no {fault} happened: {}\n{t}", r["faults"]);
    }

    // The faults landed on nodes: brawl signalled the recorded process groups.
    let log = std::fs::read_to_string(dir.join("brawl.log")).unwrap_or_default();
    for f in ["kill", "pause", "start-partition"] {
        assert!(log.contains(&format!("fault op done f={f} nodes=[\"n")), "no {f} on a node in brawl.log\n{t}");
    }

    // ZooKeeper's own log is kept per node; the server brawl started is the one that served
    // (no leftover server held the ports), and the killed one was started again.
    let mut starts = Vec::new();
    for n in ["n1", "n2", "n3"] {
        let log = std::fs::read_to_string(dir.join(n).join("zookeeper.log"))
            .unwrap_or_else(|e| panic!("{n}'s zookeeper.log is not in the run directory: {e}\n{t}"));
        assert!(!log.contains("Address already in use"), "{n}: a stray server held ZooKeeper's ports");
        assert!(log.contains("FOLLOWING") || log.contains("LEADING"), "{n} joined a quorum");
        starts.push(log.matches("Starting quorum peer").count());
    }
    assert!(starts.iter().all(|&s| s >= 1), "every node started: {starts:?}");
    assert!(starts.iter().any(|&s| s >= 2), "a killed node was killed and started again: {starts:?}");
    // A paused leader loses its followers: some node held a new election after the first.
    let elections: usize = ["n1", "n2", "n3"]
        .iter()
        .map(|n| std::fs::read_to_string(dir.join(n).join("zookeeper.log")).unwrap_or_default())
        .map(|log| log.matches("New election").count())
        .sum();
    assert!(elections > 3, "faults forced new elections: {elections}");

    // Nothing left on the nodes: no server, no pid file, no data directory.
    let ps = brawl(&[
        "exec",
        "--cluster",
        name,
        "--",
        "pgrep -x java || echo none-running; test -e /run/brawl-shell.pid && echo pid-file-left; ls /var/lib/brawl/node",
    ]);
    let p = text(&ps);
    assert_eq!(p.matches("none-running").count(), 3, "a ZooKeeper is still running:\n{p}");
    assert!(!p.contains("pid-file-left") && !p.contains("shell"), "left behind:\n{p}");
}

#[test]
fn issue_13_bash_client_against_built_in_etcd_gives_a_valid_verdict() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let name = "zk-e";
    let _c = TestCluster::up(name, 3);
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = example_copy(
        "workloads/examples/etcd-register-shell-client.yaml",
        &[("cluster: local", &format!("cluster: {name}")), ("time-limit: 30s", "time-limit: 15s")],
        tmp.path(),
    );
    let (out, dir) = run(&file, &tmp.path().join("reports"), "etcd-register-shell-client");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "etcd with linearizable reads and txn cas is valid:\n{t}");
    let r = results(&dir);
    assert_eq!(r["validity"], "valid", "{r:#}");
    assert_ok_in_every_f(&r, &out);
    assert!(r["faults"]["kill"]["count"].as_u64() >= Some(1), "kills happened: {}", r["faults"]);
    let log = std::fs::read_to_string(dir.join("brawl.log")).unwrap_or_default();
    assert!(log.contains("client for register on"), "the bash client's stderr is in the run log");
}
