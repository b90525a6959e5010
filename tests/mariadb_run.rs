//! Issue 12 (MariaDB): real MariaDB 10.11 and Galera runs on a local cluster. One server with
//! the main workloads under partitions and kills; a Galera cluster that forms, keeps serving
//! on the majority through a partition of one node and recovers after every node was killed;
//! the documented repeatable-read anomaly and its safe twin; a bad option that fails setup.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use brawl::control::{Remote, RemoteCommand};
use brawl::history::{OpType, Process as HistProcess};
use common::{brawl, brawl_bin, free_port, squat_port, text, TestCluster};
use serde_json::Value;

/// Writes a test file and returns its path.
fn test_file(dir: &Path, name: &str, cluster: &str, body: &str) -> String {
    let yaml = format!("name: {name}\ncluster: {cluster}\n{body}");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).expect("write test file");
    path.display().to_string()
}

/// Runs a test file; returns the exit code, the run directory and its results.
fn run_test(file: &str, reports: &Path) -> (Option<i32>, PathBuf, Value, String) {
    run_test_with(file, reports, &[])
}

/// As `run_test`, with more arguments for `brawl run`.
fn run_test_with(file: &str, reports: &Path, args: &[&str]) -> (Option<i32>, PathBuf, Value, String) {
    let mut all = vec!["run", file, "--reports", reports.to_str().expect("utf8"), "--seed", "7"];
    all.extend_from_slice(args);
    let out = brawl(&all);
    let run = std::fs::canonicalize(reports.join("latest")).expect("reports/latest points at the run");
    let results = std::fs::read(run.join("results.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    (out.status.code(), run, results, text(&out))
}

fn ok_count(results: &Value, f: &str) -> u64 {
    results["stats"]["by_f"][f]["ok"].as_u64().unwrap_or(0)
}

/// The anomaly classes every checker named.
fn anomalies(results: &Value) -> Vec<String> {
    results["checkers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["anomaly_types"].as_array().into_iter().flatten())
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect()
}

/// Asserts nothing of MariaDB is left running or on disk on `node`.
async fn assert_clean(c: &TestCluster, node: &str) {
    let probe =
        "pgrep -x mariadbd || echo none; test -e /var/lib/brawl/node/mariadb && echo data-left || echo data-gone";
    let out = c.remote(node).exec(&RemoteCommand::new(probe)).await.expect("probe runs");
    assert_eq!(out.stdout.split_whitespace().collect::<Vec<_>>(), ["none", "data-gone"], "{node} after the run");
}

#[tokio::test]
async fn one_server_runs_the_main_workloads_under_partitions_and_kills() {
    let c = TestCluster::up("ma1", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let faults = "nemeses:\n  - partition: { topology: primaries }\n  - kill: { targets: primaries }\n\
                  \x20 - pause: { targets: primaries }\n\
                  timeline:\n  - { at: 2s, do: start-partition }\n  - { at: 3s, do: kill }\n\
                  \x20 - { at: 5s, do: start }\n  - { at: 7s, do: stop-partition }\n\
                  \x20 - { at: 7.5s, do: pause }\n  - { at: 8.2s, do: resume }\n";
    let cases: &[(&str, &str, &[&str])] = &[
        ("list-append", "list-append: { keys: 6, consistency-models: [serializable], op-timeout: 2s }", &["txn"]),
        ("bank", "bank: { op-timeout: 2s }", &["transfer", "read"]),
        ("set", "set: { op-timeout: 2s }", &["add", "read"]),
        ("register", "register: { keys: 4, op-timeout: 2s }", &["read", "write", "cas"]),
        ("rw-register", "rw-register: { keys: 6, consistency-models: [serializable], op-timeout: 2s }", &["txn"]),
        ("counter", "counter: { op-timeout: 2s }", &["add", "read"]),
    ];
    for (name, workload, fs) in cases {
        let started = Instant::now();
        let db = if name.contains("register") || *name == "list-append" { "{ isolation: serializable }" } else { "{}" };
        let body = format!(
            "db: {{ mariadb: {db} }}\nworkload: {{ {workload} }}\n{faults}\
             time-limit: 9s\nrecovery-time: 2s\nconcurrency: 6\nrate: 150\n"
        );
        let file = test_file(dir.path(), &format!("mariadb-{name}"), "ma1", &body);
        let (code, run, results, out) = run_test(&file, &reports);
        assert!(matches!(code, Some(0..=2)), "{name}: no verdict: {out}");
        assert_eq!(results["validity"], "valid", "{name}: {results:#}");
        for f in *fs {
            assert!(ok_count(&results, f) > 0, "{name}: no ok {f}: {results:#}");
        }
        assert_eq!(results["faults"]["kill"]["count"], 1, "{name}: {results:#}");
        assert_eq!(results["faults"]["pause"]["count"], 1, "{name}: {results:#}");
        assert!(run.join("n1/mariadb.log").exists(), "{name}: the server's log is not in {}", run.display());
        let log = std::fs::read_to_string(run.join("n1/mariadb.log")).expect("log");
        assert!(log.matches("ready for connections").count() >= 2, "{name}: the server was not restarted: {log}");
        assert_clean(&c, "n1").await;
        eprintln!("{name}: {:.1}s", started.elapsed().as_secs_f64());
    }
}

/// `wsrep_cluster_size` on every node (0 where the server does not answer).
async fn cluster_sizes(c: &TestCluster) -> Vec<u32> {
    let q = "mariadb --defaults-file=/var/lib/brawl/node/mariadb/my.cnf --connect-timeout=1 -N -B \
             -e \"SHOW STATUS LIKE 'wsrep_cluster_size'\" 2>/dev/null | cut -f2";
    let mut sizes = Vec::new();
    for node in ["n1", "n2", "n3"] {
        let out = c.remote(node).exec(&RemoteCommand::new(q).unchecked().timeout(Duration::from_secs(4))).await;
        sizes.push(out.ok().and_then(|o| o.stdout.trim().parse().ok()).unwrap_or(0));
    }
    sizes
}

#[tokio::test]
async fn galera_forms_survives_a_partition_and_recovers_after_every_node_is_killed() {
    let c = TestCluster::up("ma2", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let body = "db: { mariadb: { galera: true } }\nworkload: { set: { op-timeout: 3s } }\n\
                nemeses:\n  - partition: {}\n  - kill: { targets: all }\n  - pause: { targets: { nodes: [n3] } }\n\
                timeline:\n\
                \x20 - { at: 3s, do: start-partition, grudge: { n3: [n1, n2], n1: [n3], n2: [n3] } }\n\
                \x20 - { at: 13s, do: stop-partition }\n\
                \x20 - { at: 15s, do: kill }\n\
                \x20 - { at: 17s, do: start }\n\
                \x20 - { at: 30s, do: pause }\n\
                \x20 - { at: 33s, do: resume }\n\
                time-limit: 42s\nrecovery-time: 3s\nconcurrency: 6\nrate: 60\n";
    let file = test_file(dir.path(), "galera-ci", "ma2", body);
    let mut child = Command::new(brawl_bin())
        .args(["run", &file, "--reports", reports.to_str().expect("utf8"), "--seed", "7"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    // Watch the cluster from outside: formed (3 everywhere), all down, formed again.
    let (mut formed, mut down, mut reformed) = (false, false, false);
    let deadline = Instant::now() + Duration::from_secs(240);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the galera run did not end");
        let sizes = cluster_sizes(&c).await;
        if sizes == [3, 3, 3] {
            formed = true;
            reformed |= down;
        }
        down |= formed && sizes == [0, 0, 0];
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let status = child.wait().expect("exit");
    let run = std::fs::canonicalize(reports.join("latest")).expect("run");
    let results: Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).expect("results")).expect("json");
    assert!(matches!(status.code(), Some(0..=2)), "no verdict: {status:?} {results:#}");
    assert!(formed, "wsrep_cluster_size was never 3 on every node");
    assert!(down, "every node was never seen down after the kill");
    assert!(reformed, "wsrep_cluster_size did not come back to 3 on every node after every node was killed");
    let brawl_log = std::fs::read_to_string(run.join("brawl.log")).expect("brawl.log");
    assert!(brawl_log.contains("recovering the cluster"), "no recovery in brawl.log");
    assert!(brawl_log.contains("bootstrapping the most advanced node"), "no bootstrap in brawl.log");

    // Ops on the majority succeeded while n3 was cut off (after Galera evicted it), and ops
    // succeeded again after the recovery.
    let history = brawl::history::read_jsonl(run.join("history.jsonl")).expect("history");
    let at = |f: &str| {
        history
            .ops
            .iter()
            .filter(|o| o.f == f && o.process == HistProcess::Nemesis && o.error.is_none())
            .nth(1) // the completion (the first is the invocation)
            .map(|o| o.time)
            .unwrap_or_else(|| panic!("no completed {f} in the history"))
    };
    let (cut, healed, restarted) = (at("start-partition"), at("stop-partition"), at("start"));
    let ok_between = |from: u64, to: u64, nodes: &[&str]| {
        history
            .ops
            .iter()
            .filter(|o| o.time > from && o.time < to && o.f == "add")
            .filter(|o| o.kind == OpType::Ok && nodes.contains(&o.node.as_deref().unwrap_or("")))
            .count()
    };
    let majority_ok = ok_between(cut, healed, &["n1", "n2"]);
    assert!(majority_ok > 0, "no add succeeded on n1 or n2 while n3 was cut off");
    assert!(ok_between(restarted, u64::MAX, &["n1", "n2", "n3"]) > 0, "no add succeeded after the recovery");
    assert!(ok_count(&results, "add") > 0 && ok_count(&results, "read") > 0, "{results:#}");
    assert_eq!(results["faults"]["pause"]["count"], 1, "n3 was paused once: {results:#}");
    for n in ["n1", "n2", "n3"] {
        assert!(run.join(format!("{n}/mariadb.log")).exists(), "no log of {n}");
        assert_clean(&c, n).await;
    }
    eprintln!("galera: verdict {}, {majority_ok} adds ok on the majority during the partition", results["validity"]);

    // The Galera list-append preset as shipped (for 8 s): the cluster forms again on the same
    // nodes, transactions commit, it ends with a verdict and nothing is left.
    let started = Instant::now();
    let preset = format!("{}/workloads/galera-list-append.yaml", env!("CARGO_MANIFEST_DIR"));
    let (code, run, results, out) = run_test_with(&preset, &reports, &["--cluster", "ma2", "--time-limit", "8s"]);
    assert!(matches!(code, Some(0..=2)), "galera-list-append: no verdict: {out}");
    assert!(ok_count(&results, "txn") > 0, "galera-list-append: no txn committed: {results:#}");
    for n in ["n1", "n2", "n3"] {
        assert!(run.join(format!("{n}/mariadb.log")).exists(), "no log of {n}");
        assert_clean(&c, n).await;
    }
    eprintln!("galera-list-append: verdict {} in {:.1}s", results["validity"], started.elapsed().as_secs_f64());
}

#[tokio::test]
async fn repeatable_read_loses_updates_snapshot_isolation_does_not_and_a_bad_option_fails_setup() {
    let c = TestCluster::up("ma3", 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    // The documented anomaly and its twin, from their presets (they differ in
    // innodb_snapshot_isolation only), for 10 s each.
    let preset = |name: &str| format!("{}/workloads/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    let args = ["--cluster", "ma3", "--time-limit", "10s"];
    let (code, run, results, out) = run_test_with(&preset("mariadb-list-append-anomaly"), &reports, &args);
    assert_eq!(code, Some(1), "repeatable read without snapshot isolation should be invalid: {out}\n{results:#}");
    let named = anomalies(&results);
    assert!(
        named.iter().any(|a| a == "G-single" || a == "lost-update" || a.starts_with("G-single")),
        "no lost update or G-single named: {named:?}"
    );
    assert!(ok_count(&results, "txn") > 0);
    let report = std::fs::read_to_string(run.join("report.html")).expect("report");
    assert!(report.contains("G-single") || report.contains("lost-update"), "the report does not name the anomaly");
    assert!(report.contains("<li class=anomaly>"), "the report does not explain the anomaly");

    let (code, _, results, out) = run_test_with(&preset("mariadb-list-append-safe"), &reports, &args);
    assert_eq!(code, Some(0), "innodb_snapshot_isolation=ON should be snapshot isolation: {out}\n{results:#}");
    assert!(ok_count(&results, "txn") > 0, "{results:#}");
    assert!(results["stats"]["by_f"]["txn"]["fail"].as_u64().unwrap_or(0) > 0, "no write-write conflict was refused");

    // A server option MariaDB does not know: setup fails with the log's tail, exit 255.
    let bad = test_file(
        dir.path(),
        "mariadb-bad",
        "ma3",
        "db: { mariadb: { options: { no_such_option_brawl: 1 } } }\nworkload: { set: {} }\ntime-limit: 5s\nconcurrency: 2\n",
    );
    let started = Instant::now();
    let out = brawl(&["run", &bad, "--reports", reports.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("unknown variable") && said.contains("no_such_option_brawl"), "no log tail: {said}");
    assert!(started.elapsed() < Duration::from_secs(60), "the failure took {:?}", started.elapsed());
    assert_clean(&c, "n1").await;

    // Its port in use: the server cannot bind; setup fails the same way.
    let n1 = c.remote("n1");
    squat_port(n1.as_ref(), &c.ip("n1"), 3306).await;
    let file = test_file(
        dir.path(),
        "mariadb-port-in-use",
        "ma3",
        "db: { mariadb: {} }\nworkload: { set: {} }\ntime-limit: 5s\nconcurrency: 2\n",
    );
    let started = Instant::now();
    let out = brawl(&["run", &file, "--reports", reports.to_str().expect("utf8")]);
    free_port(n1.as_ref(), 3306).await;
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    assert!(text(&out).contains("already in use"), "the log's tail says why: {}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(60), "the failure took {:?}", started.elapsed());
    assert_clean(&c, "n1").await;
}
