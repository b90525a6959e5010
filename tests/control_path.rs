//! Issue 10, part 4: faults on the control path during a real etcd run on a local cluster. A
//! checker that panics is `unknown` with its message while the other verdicts stand; the SSH
//! master of one node dying mid-partition is survived and the final heal still reaches that node;
//! the reports disk filling up stops the run with the path named, every node healed, exit 255.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use brawl::control::{Remote, RemoteCommand};
use common::{brawl_bin, text, TestCluster};

fn test_file(dir: &Path, cluster: &str, time_limit: &str, extra: &str) -> String {
    let yaml = format!(
        "name: etcd-control\ncluster: {cluster}\ndb: {{ etcd: {{}} }}\n\
         workload: {{ register: {{ keys: 4, op-timeout: 1s }} }}\n\
         time-limit: {time_limit}\nrecovery-time: 2s\nconcurrency: 4\nrate: 100\n{extra}"
    );
    let path = dir.join("etcd-control.yaml");
    std::fs::write(&path, yaml).expect("write test file");
    path.display().to_string()
}

fn json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// True when no node has a BRAWL iptables chain or a stopped process.
async fn assert_healed(c: &TestCluster) {
    let probe =
        "iptables -w -S 2>/dev/null | grep -c BRAWL; grep -ls '^State:[[:space:]]*T' /proc/[0-9]*/status | wc -l";
    for node in ["n1", "n2", "n3"] {
        let out = c.remote(node).exec(&RemoteCommand::new(probe).unchecked()).await.expect("probe runs");
        let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
        assert_eq!(lines, ["0", "0"], "{node} is not healed (BRAWL rules, stopped processes): {}", out.stdout);
    }
}

#[tokio::test]
async fn issue_10_a_checker_that_panics_is_unknown_and_the_others_still_report() {
    let c = TestCluster::up("c-panic", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    for (failpoint, broken, fine) in
        [("check.linearizable.panic", "linearizable", "stats"), ("check.stats.panic", "stats", "linearizable")]
    {
        let reports = dir.path().join(broken);
        let file = test_file(dir.path(), "c-panic", "4s", "");
        let out = Command::new(brawl_bin())
            .args(["run", &file, "--reports", reports.to_str().expect("utf8")])
            .env("BRAWL_FAILPOINTS", failpoint)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "a panicked checker makes the verdict unknown: {}", text(&out));
        let run = std::fs::canonicalize(reports.join("latest")).expect("run dir");
        let results = json(&run.join("results.json"));
        let message = format!("the {broken} checker panicked: failpoint {failpoint}");
        assert_eq!(results["validity"], "unknown", "{results:#}");
        assert_eq!(results[broken]["validity"], "unknown", "{results:#}");
        assert_eq!(results[fine]["validity"], "valid", "the other checker's verdict stands: {results:#}");
        assert_eq!(results["checkers"][0]["checker"], broken, "{results:#}");
        assert_eq!(results["checkers"][0]["summary"], message.as_str(), "{results:#}");
        if fine == "stats" {
            assert!(results["stats"]["total"]["ok"].as_u64().unwrap_or(0) > 0, "stats still counted: {results:#}");
        }
        let junit = std::fs::read_to_string(run.join("junit.xml")).expect("junit.xml written");
        let case = junit.split("<testcase").find(|c| c.contains(&format!("name=\"{broken}\""))).expect("case");
        assert!(case.contains("type=\"unknown\"") && case.contains(&message), "{junit}");
        let other = junit.split("<testcase").find(|c| c.contains(&format!("name=\"{fine}\""))).expect("case");
        assert!(!other.contains("<error") && !other.contains("<failure"), "{junit}");
        let html = std::fs::read_to_string(run.join("report.html")).expect("report.html written");
        assert!(html.contains(&message), "the report names the panic");
    }
    assert_healed(&c).await;
}
