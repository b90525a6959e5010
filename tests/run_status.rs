//! Issue 10, part 6: a run says where it is. Off a terminal (here stdout and stderr are pipes)
//! `brawl run` prints a plain status line at every phase change and every 10 s: the phase, the
//! time limit, the op counts, ops/s and the faults in effect.

mod common;

use common::{brawl, text, TestCluster};

#[test]
fn issue_10_a_run_off_a_terminal_prints_status_lines() {
    let _c = TestCluster::up("a-status", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    // Durations as bare seconds, too.
    let yaml = "name: a-status\ncluster: a-status\ndb: { etcd: {} }\n\
                workload: { register: { keys: 4, op-timeout: 2 } }\n\
                nemeses:\n  - partition: { topology: one, interval: 3 }\n\
                time-limit: 12\nrecovery-time: 1\nconcurrency: 4\nrate: 100\n";
    let file = dir.path().join("a-status.yaml");
    std::fs::write(&file, yaml).expect("write test file");
    let out =
        brawl(&["run", file.to_str().expect("utf8"), "--reports", reports.to_str().expect("utf8"), "--seed", "3"]);
    assert!(matches!(out.status.code(), Some(0..=2)), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let status: Vec<&str> = stdout.lines().filter(|l| l.starts_with('[')).collect();
    for phase in ["setup", "main", "recovery", "final reads", "teardown", "check", "report"] {
        assert!(status.iter().any(|l| l.contains(&format!("] {phase}"))), "no {phase:?} line in:\n{stdout}");
    }
    // A line from inside the main phase (the 10 s tick) with counts that have moved.
    let main: Vec<&&str> = status.iter().filter(|l| l.contains("] main ") && l.contains("/12s")).collect();
    let counted = main.iter().any(|l| {
        let ok = l.split(" ok ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse::<u64>().ok());
        ok.is_some_and(|n| n > 0)
            && l.contains(" fail ")
            && l.contains(" info ")
            && l.contains("ops/s")
            && l.contains("faults: ")
    });
    assert!(counted, "no main-phase line with ok > 0, fail, info, ops/s and faults in:\n{stdout}");
    // The verdict still comes last.
    assert!(stdout.lines().last().unwrap_or_default().starts_with("report: "), "{stdout}");
}
