//! Issue 2: the local cluster is made of real, isolated SSH nodes, and `down` leaves nothing.

mod common;

use std::process::Command;
use std::time::Duration;

use brawl::control::Remote;
use common::{brawl, remains, require_root, sh, text, TestCluster};

#[tokio::test]
async fn each_node_answers_ssh_with_its_own_hostname() {
    let c = TestCluster::up("t-host", 3);
    let results = c.cluster().exec_all(&brawl::control::RemoteCommand::new("hostname")).await;
    for (node, r) in results {
        let out = r.unwrap_or_else(|e| panic!("{node}: {e}"));
        assert_eq!(out.stdout.trim(), node);
    }
    // The same through the CLI, by cluster name.
    let out = brawl(&["exec", "--cluster", "t-host", "--", "hostname"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for n in ["n1", "n2", "n3"] {
        assert!(stdout.contains(&format!("== {n}: exit 0")) && stdout.contains(&format!("\n{n}\n")), "{stdout}");
    }
}

#[tokio::test]
async fn iptables_drop_on_n1_blocks_n2_but_not_n3() {
    let c = TestCluster::up("t-ipt", 3);
    let (n1, n2, n3) = (c.remote("n1"), c.remote("n2"), c.remote("n3"));
    let probe = |ip: String| format!("timeout 2 bash -c 'exec 3<>/dev/tcp/{ip}/22' && echo open || echo blocked");
    assert_eq!(sh(n2.as_ref(), &probe(c.ip("n1"))).await.trim(), "open");
    sh(n1.as_ref(), &format!("iptables -w -A INPUT -s {} -j DROP", c.ip("n2"))).await;
    assert_eq!(sh(n2.as_ref(), &probe(c.ip("n1"))).await.trim(), "blocked", "n2 -> n1 must be cut");
    assert_eq!(sh(n2.as_ref(), &probe(c.ip("n3"))).await.trim(), "open", "n2 -> n3 must still work");
    assert_eq!(sh(n3.as_ref(), &probe(c.ip("n1"))).await.trim(), "open", "n3 -> n1 must still work");
    // The rule lives in n1's own network namespace: not on n2, not on the host.
    assert!(!sh(n2.as_ref(), "iptables -w -S INPUT").await.contains(&c.ip("n2")));
    let host = Command::new("iptables").args(["-w", "-S", "INPUT"]).output().expect("iptables runs");
    assert!(!String::from_utf8_lossy(&host.stdout).contains(&c.ip("n2")), "the host's rules changed");
}

#[tokio::test]
async fn pkill_on_n2_leaves_the_same_process_on_n3_running() {
    let c = TestCluster::up("t-pkill", 3);
    let (n2, n3) = (c.remote("n2"), c.remote("n3"));
    let start = "setsid sleep 4242 </dev/null >/dev/null 2>&1 & echo started";
    sh(n2.as_ref(), start).await;
    sh(n3.as_ref(), start).await;
    sh(n2.as_ref(), "pkill -9 -f 'slee[p] 4242'; sleep 0.2").await;
    let pgrep = brawl::control::RemoteCommand::new("pgrep -f 'slee[p] 4242'").unchecked();
    assert_ne!(n2.exec(&pgrep).await.expect("n2 answers").status, 0, "n2's sleep must be gone");
    let n3_out = n3.exec(&pgrep).await.expect("n3 answers");
    assert_eq!(n3_out.status, 0, "n3's sleep must still run");
    // Each node has its own pid namespace: the sleep is not visible on the host's pid table as pid 1-ish.
    let pid: u32 = n3_out.stdout.trim().parse().expect("a pid");
    assert!(pid < 1000, "pid {pid} should be small in the node's own pid namespace");
}

#[tokio::test]
async fn a_file_in_a_private_directory_is_not_seen_on_another_node() {
    let c = TestCluster::up("t-priv", 2);
    let (n1, n2) = (c.remote("n1"), c.remote("n2"));
    for dir in ["/tmp", "/var/lib/etcd", "/var/log", "/root"] {
        sh(n1.as_ref(), &format!("echo secret > {dir}/brawl-private-test")).await;
        let seen = sh(n2.as_ref(), &format!("cat {dir}/brawl-private-test 2>/dev/null || echo absent")).await;
        assert_eq!(seen.trim(), "absent", "{dir} is shared between n1 and n2");
        assert!(!std::path::Path::new(&format!("{dir}/brawl-private-test")).exists(), "{dir} is shared with the host");
        assert_eq!(sh(n1.as_ref(), &format!("cat {dir}/brawl-private-test")).await.trim(), "secret");
    }
    // Nodes resolve each other by name.
    assert!(sh(n1.as_ref(), "getent hosts n2").await.contains(&c.ip("n2")));
}

#[tokio::test]
async fn two_clusters_coexist() {
    let a = TestCluster::up("t-two-a", 2);
    let b = TestCluster::up("t-two-b", 2);
    assert_ne!(a.state.bridge, b.state.bridge);
    assert_ne!(a.state.gateway, b.state.gateway);
    for c in [&a, &b] {
        let results = c.cluster().exec_all(&brawl::control::RemoteCommand::new("hostname")).await;
        assert!(results.iter().all(|(_, r)| r.is_ok()), "cluster {} does not answer", c.name);
    }
    drop(a);
    assert!(remains("t-two-a").is_empty(), "{:?}", remains("t-two-a"));
    let results = b.cluster().exec_all(&brawl::control::RemoteCommand::new("hostname")).await;
    assert!(results.iter().all(|(_, r)| r.is_ok()), "removing one cluster broke the other");
}

#[test]
fn down_removes_everything_and_is_idempotent() {
    require_root();
    let out = brawl(&["cluster", "up", "--name", "t-down", "--nodes", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    // Something running inside a node, with a private mount, must go too.
    let out = brawl(&[
        "exec",
        "--cluster",
        "t-down",
        "--",
        "setsid sleep 999 </dev/null >/dev/null 2>&1 & mount | grep -c ' /tmp '",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!remains("t-down").is_empty());
    let out = brawl(&["cluster", "down", "--name", "t-down"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(remains("t-down"), Vec::<String>::new());
    let again = brawl(&["cluster", "down", "--name", "t-down"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("was not up"), "{}", text(&again));
    let status = brawl(&["cluster", "status", "--name", "t-down"]);
    assert_eq!(status.status.code(), Some(254), "{}", text(&status));
}

#[test]
fn down_cleans_up_after_a_half_finished_up() {
    require_root();
    // brawl killed with SIGKILL part-way through `up` (at several points, to catch each stage).
    for delay_ms in [30u64, 80, 150] {
        let mut child = Command::new(common::brawl_bin())
            .args(["cluster", "up", "--name", "t-half", "--nodes", "5"])
            .spawn()
            .expect("brawl starts");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let out = brawl(&["cluster", "down", "--name", "t-half"]);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(remains("t-half"), Vec::<String>::new(), "after a kill at {delay_ms} ms");
    }
}

#[test]
fn a_test_that_fails_half_way_leaves_nothing_behind() {
    require_root();
    let result = std::thread::spawn(|| {
        let _c = TestCluster::up("t-panic", 2);
        panic!("a test failing half-way");
    })
    .join();
    assert!(result.is_err(), "the inner test was meant to fail");
    assert_eq!(remains("t-panic"), Vec::<String>::new());
}

#[test]
fn up_again_while_up_is_refused_and_up_needs_root() {
    let _c = TestCluster::up("t-again", 1);
    let out = brawl(&["cluster", "up", "--name", "t-again", "--nodes", "1"]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already up"), "{}", text(&out));
    // As an unprivileged user, up says that it needs root.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(common::brawl_bin())
        .args(["cluster", "up", "--name", "t-noroot"])
        .output()
        .expect("setpriv runs");
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs root"), "{}", text(&out));
}

#[test]
fn doctor_passes_on_a_local_cluster_and_names_the_fix_for_a_failure() {
    let c = TestCluster::up("t-doctor", 2);
    let out = brawl(&["doctor", "--cluster", "t-doctor"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for check in ["reachable", "host key", "root", "iptables", "tools"] {
        assert_eq!(stdout.matches(&format!("ok   {check}")).count(), 2, "{check}: {stdout}");
    }
    // A login user that cannot run commands as root: the root check fails and says how to fix it.
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = dir.path().join("nodes.yaml");
    let yaml =
        std::fs::read_to_string(c.nodes_file()).expect("nodes file").replace("user: \"root\"", "user: \"nobody\"");
    std::fs::write(&nodes, yaml).expect("write");
    let out = brawl(&["doctor", "--nodes-file", nodes.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ok   reachable") && stdout.contains("FAIL root"), "{stdout}");
    assert!(stdout.contains("fix: give the user passwordless sudo"), "{stdout}");
}
