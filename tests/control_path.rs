//! Issue 10, part 4: faults on the control path during a real etcd run on a local cluster. A
//! checker that panics is `unknown` with its message while the other verdicts stand; the SSH
//! master of one node dying mid-partition is survived and the final heal still reaches that node;
//! the reports disk filling up stops the run with the path named, every node healed, exit 255.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// The newest run directory under `reports` once its history exists.
fn run_dir(reports: &Path) -> Option<std::path::PathBuf> {
    let latest = reports.join("latest");
    std::fs::canonicalize(latest).ok().filter(|d| d.join("history.jsonl").exists())
}

/// Waits (at most 60 s) until the history holds the completion of a `start-partition`.
fn await_partition(child: &mut Child, reports: &Path) -> std::path::PathBuf {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no partition within 60 s");
        assert!(child.try_wait().expect("wait").is_none(), "the run ended before its partition");
        if let Some(dir) = run_dir(reports) {
            let h = std::fs::read_to_string(dir.join("history.jsonl")).unwrap_or_default();
            if h.lines().any(|l| l.contains("\"start-partition\"") && l.contains("\"grudge\"")) {
                return dir;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for the run to end (at most `limit`) and returns its exit code and stderr.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The pid of the `ssh -M` master behind `node`'s control socket, as that master reports it.
fn master_pid(c: &TestCluster, node: &str) -> Option<i32> {
    let target = c.targets().into_iter().find(|t| t.name == node).expect("node in the nodes file");
    let path = brawl::control::control_path(&target);
    let out = Command::new("ssh").arg("-S").arg(&path).args(["-O", "check", "brawl-node"]).output().expect("ssh");
    let text = String::from_utf8_lossy(&out.stderr);
    let pid = text.split("pid=").nth(1)?.split(')').next()?.trim().parse().ok();
    pid.filter(|_| out.status.success())
}

#[tokio::test]
async fn issue_10_the_ssh_master_of_a_node_dies_during_a_partition() {
    let c = TestCluster::up("c-master", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    // The partition is never stopped by the schedule: only the final heal removes it.
    let extra = "nemeses:\n  - partition: {}\ntimeline:\n  - { at: 2s, do: start-partition, topology: halves }\n";
    let file = test_file(dir.path(), "c-master", "12s", extra);
    let mut child = Command::new(brawl_bin())
        .args(["run", &file, "--reports", reports.to_str().expect("utf8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let run = await_partition(&mut child, &reports);
    let old = master_pid(&c, "n2").expect("brawl's master for n2 is up during the run");
    // SAFETY: kill(2) on the pid that n2's control socket names: the master brawl started.
    assert_eq!(unsafe { libc::kill(old, libc::SIGKILL) }, 0, "kill {old}");
    let (code, stderr) = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(0), "the run goes on to a valid verdict: {stderr}");
    let new = master_pid(&c, "n2").expect("brawl reconnected to n2 with a new master");
    assert_ne!(new, old, "the master for n2 is a new one");
    // The final heal reached n2 over the new master: no BRAWL chain is left on any node.
    assert_healed(&c).await;
    let history = std::fs::read_to_string(run.join("history.jsonl")).expect("history");
    let heal = history.lines().filter(|l| l.contains("\"stop-partition\"")).last().expect("final heal journaled");
    assert!(heal.contains("network-healed") && !heal.contains("\"error\""), "the final heal succeeded: {heal}");
    let results = json(&run.join("results.json"));
    let st = &results["stats"]["total"];
    let unanswered = st["fail"].as_u64().unwrap_or(0) + st["info"].as_u64().unwrap_or(0);
    assert!(unanswered > 0, "the partition made some ops fail or time out: {results:#}");
    let log = std::fs::read_to_string(run.join("run.log")).unwrap_or_default();
    assert!(!log.contains("nemesis teardown failed"), "{log}");
}

/// A tmpfs mounted for one test and unmounted when dropped, also when the test fails.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Self {
        std::fs::create_dir_all(path).expect("mount point");
        let st = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(path).status();
        assert!(st.expect("mount runs").success(), "mount tmpfs at {}", path.display());
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` until a write fails with ENOSPC.
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).expect("filler");
    let chunk = vec![0u8; 4096];
    loop {
        if let Err(e) = f.write_all(&chunk).and_then(|()| f.sync_data()) {
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
            return;
        }
    }
}

#[tokio::test]
async fn issue_10_the_reports_disk_fills_during_a_run() {
    let c = TestCluster::up("c-disk", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let _tmpfs = Tmpfs::mount(&reports, "3m");
    let extra = "nemeses:\n  - partition: {}\n  - pause: { targets: one }\ntimeline:\n  - { at: 1s, do: pause }\n  - { at: 2s, do: start-partition, topology: halves }\n";
    let file = test_file(dir.path(), "c-disk", "60s", extra);
    let mut child = Command::new(brawl_bin())
        .args(["run", &file, "--reports", reports.to_str().expect("utf8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let run = await_partition(&mut child, &reports);
    fill(&reports);
    let filled = Instant::now();
    let (code, stderr) = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(255), "a full disk is a harness error: {stderr}");
    let history = run.join("history.jsonl");
    assert!(stderr.contains(&history.display().to_string()), "the error names the history: {stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(filled.elapsed() < Duration::from_secs(45), "the run stopped, not ran out its 60 s time limit");
    assert_healed(&c).await;
    // The history written before the disk filled is readable (its last line may be cut off).
    std::fs::remove_file(reports.join("filler")).expect("free the disk");
    let out = Command::new(brawl_bin()).arg("check").arg(&history).output().expect("check runs");
    assert!(matches!(out.status.code(), Some(0..=2)), "brawl check reads the prefix: {}", text(&out));
    let h = std::fs::read_to_string(&history).expect("history");
    assert!(h.contains("\"pause\"") && h.contains("\"start-partition\""), "the faults before it are kept");
}
