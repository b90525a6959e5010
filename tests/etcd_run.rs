//! Issue 3: a real etcd register test on a local cluster, end to end, and its stored run.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{brawl, brawl_bin, sh, text, TestCluster};

fn test_file(dir: &std::path::Path, cluster: &str, time_limit: &str) -> String {
    let yaml = format!(
        "name: etcd-ci\ncluster: {cluster}\ndb: {{ etcd: {{}} }}\n\
         workload: {{ register: {{ keys: 6, op-timeout: 2s }} }}\n\
         time-limit: {time_limit}\nrecovery-time: 1s\nconcurrency: 10\nrate: 400\n"
    );
    let path = dir.join("etcd-ci.yaml");
    std::fs::write(&path, yaml).expect("write test file");
    path.display().to_string()
}

#[tokio::test]
async fn etcd_register_runs_end_to_end_and_is_linearizable() {
    let c = TestCluster::up("t-etcd", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let file = test_file(dir.path(), "t-etcd", "20s");
    let out = brawl(&["run", &file, "--reports", reports.to_str().expect("utf8"), "--seed", "42"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = std::fs::canonicalize(reports.join("latest")).expect("reports/latest points at the run");
    assert!(run.starts_with(reports.join("etcd-ci")), "{}", run.display());

    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).expect("results.json")).expect("json");
    assert_eq!(results["validity"], "valid", "{results:#}");
    assert_eq!(results["linearizable"]["validity"], "valid");
    let ok = results["stats"]["total"]["ok"].as_u64().expect("ok count");
    assert!(ok >= 2000, "only {ok} ok ops");
    for f in ["read", "write", "cas"] {
        assert!(results["stats"]["by_f"][f]["ok"].as_u64().unwrap_or(0) > 0, "no ok {f}: {results:#}");
    }
    assert_eq!(results["seed"], 42);

    // The history reads back, and brawl check agrees offline.
    let history = brawl::history::read_jsonl(run.join("history.jsonl")).expect("history reads");
    assert!(history.ops.len() as u64 >= 2 * ok);
    assert!(history.ops.iter().any(|o| o.node.as_deref() == Some("n3")), "ops record their node");
    let check = brawl(&["check", run.to_str().expect("utf8")]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));

    // The run directory has everything a person needs.
    for f in ["test.yaml", "run.json", "brawl.log", "report.html", "n1/etcd.log", "n2/etcd.log", "n3/etcd.log"] {
        assert!(run.join(f).exists(), "{f} missing from {}", run.display());
    }
    let as_run = std::fs::read_to_string(run.join("test.yaml")).expect("test.yaml");
    assert!(as_run.contains("seed: 42"), "{as_run}");
    let report = std::fs::read_to_string(run.join("report.html")).expect("report");
    assert!(report.contains("id=verdict>valid<"), "report without verdict");
    assert!(std::fs::read_to_string(run.join("brawl.log")).expect("log").contains("etcd is healthy"));

    // Torn down: no etcd and no data left on the nodes.
    let n1 = c.remote("n1");
    assert_eq!(sh(n1.as_ref(), "pgrep -x etcd || echo none").await.trim(), "none");
    assert_eq!(sh(n1.as_ref(), "test -e /var/lib/etcd/brawl && echo left || echo gone").await.trim(), "gone");
}

#[test]
fn a_run_killed_with_sigkill_leaves_a_readable_history() {
    let _c = TestCluster::up("t-etcd-kill", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let file = test_file(dir.path(), "t-etcd-kill", "60s");
    let mut child = Command::new(brawl_bin())
        .args(["run", &file, "--reports", reports.to_str().expect("utf8")])
        .spawn()
        .expect("starts");
    // Wait until ops are being journaled, then kill brawl without warning.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let history = loop {
        let h = reports.join("latest/history.jsonl");
        if std::fs::metadata(&h).map(|m| m.len() > 20_000).unwrap_or(false) {
            break h;
        }
        assert!(std::time::Instant::now() < deadline, "no history after 60 s");
        std::thread::sleep(Duration::from_millis(200));
    };
    child.kill().expect("kill -9");
    let _ = child.wait();
    let read = brawl::history::read_jsonl(&history).expect("the prefix reads");
    assert!(read.ops.len() > 100, "{} ops", read.ops.len());
    assert!(read.ops.windows(2).all(|w| w[0].index + 1 == w[1].index && w[0].time <= w[1].time));
}
