//! Issue 12, etcd: list-append, rw-register and set under partitions and kills on one timeline;
//! the documented anomaly (serializable reads under a partition are not linearizable) and its
//! safe twin; an etcd that cannot start fails setup with its log, leaving nothing behind.
//! (tests/etcd_run.rs covers the register workload end to end.)

mod common;

use std::path::Path;
use std::time::Instant;

use common::{brawl, sh, text, TestCluster};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A short test of `workload` with partitions and kills, on cluster `cluster`.
fn test_file(dir: &Path, name: &str, cluster: &str, workload: &str) -> String {
    let yaml = format!(
        "name: {name}\ncluster: {cluster}\ndb: {{ etcd: {{}} }}\nworkload: {workload}\n\
         nemeses:\n  - partition: {{ topology: one, interval: 3s }}\n  - kill: {{ targets: one, interval: 3s }}\n\
         time-limit: 12s\nrecovery-time: 2s\nconcurrency: 6\nrate: 150\n"
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).expect("write test file");
    path.display().to_string()
}

/// Runs `brawl run FILE ARGS...` into `reports`; the exit code, the run directory's results
/// (null when there are none) and the output.
fn run(file: &str, reports: &Path, args: &[&str]) -> (Option<i32>, Value, String, std::path::PathBuf) {
    let mut all = vec!["run", file, "--reports", reports.to_str().expect("utf8")];
    all.extend_from_slice(args);
    let out = brawl(&all);
    let name = Path::new(file).file_stem().and_then(|s| s.to_str()).expect("file name").to_string();
    let dir = std::fs::canonicalize(reports.join("latest")).unwrap_or_else(|_| reports.join(name));
    let results = std::fs::read(dir.join("results.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    (out.status.code(), results, text(&out), dir)
}

/// Nothing of etcd left on any node: no process, no data.
async fn assert_nothing_left(c: &TestCluster, nodes: usize) {
    for i in 1..=nodes {
        let node = c.remote(&format!("n{i}"));
        let left = sh(node.as_ref(), "pgrep -x etcd; test -e /var/lib/etcd/brawl && echo data-left; true").await;
        assert_eq!(left.trim(), "", "n{i} still has etcd: {left}");
    }
}

#[tokio::test]
async fn etcd_list_append_rw_register_and_set_survive_partitions_and_kills() {
    let c = TestCluster::up("et-txn", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "et-list-append",
            "{ list-append: { keys: 6, max-txn-length: 4, max-writes-per-key: 16 } }",
            "list-append",
            &["txn"][..],
        ),
        (
            "et-rw-register",
            "{ rw-register: { keys: 6, max-txn-length: 4, max-writes-per-key: 16 } }",
            "rw-register",
            &["txn"][..],
        ),
        ("et-set", "{ set: { linearizable: true, read-fraction: 0.2 } }", "set-full", &["add", "read"][..]),
    ];
    for (name, workload, checker, fs) in cases {
        let started = Instant::now();
        let reports = dir.path().join(name);
        let file = test_file(dir.path(), name, "et-txn", workload);
        let (code, results, out, run_dir) = run(&file, &reports, &["--seed", "3"]);
        assert_eq!(code, Some(0), "{name}: {out}\n{results:#}");
        assert_eq!(results["validity"], "valid", "{name}: {results:#}");
        let outcome = results["checkers"]
            .as_array()
            .and_then(|cs| cs.iter().find(|o| o["checker"] == checker))
            .unwrap_or_else(|| panic!("{name}: no {checker} checker in {results:#}"));
        assert_eq!(outcome["validity"], "valid", "{name}: {outcome:#}");
        for f in fs {
            let ok = results["stats"]["by_f"][f]["ok"].as_u64().unwrap_or(0);
            assert!(ok > 0, "{name}: no ok {f}: {results:#}");
        }
        for fault in ["partition", "kill"] {
            assert!(results["faults"][fault]["count"].as_u64().unwrap_or(0) >= 1, "{name}: no {fault}: {results:#}");
        }
        for n in ["n1", "n2", "n3"] {
            assert!(run_dir.join(n).join("etcd.log").exists(), "{name}: {n}/etcd.log missing in {}", run_dir.display());
        }
        assert_nothing_left(&c, 3).await;
        eprintln!("{name}: valid in {:.1}s", started.elapsed().as_secs_f64());
    }
}

#[tokio::test]
async fn etcd_serializable_reads_are_stale_under_partitions_and_linearizable_reads_are_not() {
    let c = TestCluster::up("et-anom", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--cluster", "et-anom", "--time-limit", "15s", "--seed", "5"];

    // The documented anomaly: a cut-off member serves old values.
    let started = Instant::now();
    let file = format!("{ROOT}/workloads/etcd-register-serializable-reads.yaml");
    let (code, results, out, run_dir) = run(&file, &dir.path().join("anomaly"), &args);
    assert_eq!(code, Some(1), "{out}\n{results:#}");
    assert_eq!(results["validity"], "invalid", "{results:#}");
    let lin = &results["linearizable"];
    assert_eq!(lin["validity"], "invalid", "{lin:#}");
    let failures = lin["failures"].as_array().cloned().unwrap_or_default();
    assert!(!failures.is_empty(), "{lin:#}");
    assert!(failures.iter().any(|f| f["op"]["f"] == "read"), "a stale read is what no order explains: {lin:#}");
    assert!(results["faults"]["partition"]["count"].as_u64().unwrap_or(0) >= 1, "{results:#}");
    let report = std::fs::read_to_string(run_dir.join("report.html")).expect("report.html");
    assert!(report.contains("id=verdict>invalid<"), "the report shows the verdict");
    assert!(
        report.contains("not linearizable</h3>") && report.contains("The op that cannot be linearized"),
        "the report explains the anomaly"
    );
    assert_nothing_left(&c, 3).await;
    eprintln!("serializable reads: invalid in {:.1}s", started.elapsed().as_secs_f64());

    // The safe twin: the same test with linearizable reads.
    let started = Instant::now();
    let file = format!("{ROOT}/workloads/etcd-register-linearizable-reads.yaml");
    let (code, results, out, _) = run(&file, &dir.path().join("safe"), &args);
    assert_eq!(code, Some(0), "{out}\n{results:#}");
    assert_eq!(results["linearizable"]["validity"], "valid", "{results:#}");
    assert!(results["faults"]["partition"]["count"].as_u64().unwrap_or(0) >= 1, "{results:#}");
    for f in ["read", "write", "cas"] {
        assert!(results["stats"]["by_f"][f]["ok"].as_u64().unwrap_or(0) > 0, "no ok {f}: {results:#}");
    }
    assert_nothing_left(&c, 3).await;
    eprintln!("linearizable reads: valid in {:.1}s", started.elapsed().as_secs_f64());

    // An etcd that cannot start: a flag it does not know. Setup fails at once with the log's
    // complaint, exit 255, and nothing stays running.
    let started = Instant::now();
    let yaml = "name: et-bad-option\ncluster: et-anom\ndb: { etcd: { options: { no-such-flag: 1 } } }\n\
                workload: { register: {} }\ntime-limit: 5s\nconcurrency: 2\n";
    let file = dir.path().join("et-bad-option.yaml");
    std::fs::write(&file, yaml).expect("write");
    let (code, _, out, _) = run(file.to_str().expect("utf8"), &dir.path().join("bad"), &[]);
    assert_eq!(code, Some(255), "{out}");
    assert!(out.contains("etcd exited while starting"), "{out}");
    assert!(out.contains("flag provided but not defined: -no-such-flag"), "the log's complaint: {out}");
    assert!(started.elapsed().as_secs() < 30, "it failed fast, not after the health timeout");
    assert_nothing_left(&c, 3).await;

    // A port in use on one node: its member exits; the run fails the same way. (SO_REUSEADDR:
    // the last run's connections may still be in TIME_WAIT on that port.)
    let n2 = c.remote("n2");
    let ip = c.ip("n2");
    let squat = format!(
        "setsid /usr/bin/python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"{ip}\", 2379)); s.listen(); time.sleep(120)' \
         </dev/null >/dev/null 2>&1 & echo $! > /run/et-squatter.pid; \
         for i in $(seq 20); do ss -ltn | grep -q '{ip}:2379 ' && echo up && exit 0; sleep 0.2; done; echo down"
    );
    assert_eq!(sh(n2.as_ref(), &squat).await.trim(), "up");
    let yaml = "name: et-port-in-use\ncluster: et-anom\ndb: { etcd: {} }\nworkload: { register: {} }\ntime-limit: 5s\nconcurrency: 2\n";
    let file = dir.path().join("et-port-in-use.yaml");
    std::fs::write(&file, yaml).expect("write");
    let (code, _, out, _) = run(file.to_str().expect("utf8"), &dir.path().join("port"), &[]);
    sh(n2.as_ref(), "kill \"$(cat /run/et-squatter.pid)\"; rm -f /run/et-squatter.pid").await;
    assert_eq!(code, Some(255), "{out}");
    assert!(out.contains("etcd on n2") && out.contains("address already in use"), "{out}");
    assert_nothing_left(&c, 3).await;
}
