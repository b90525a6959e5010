//! Issue 2: the SSH control layer against real nodes of a local cluster.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brawl::control::{ControlError, Remote, RemoteCommand, SshRemote, Sudo};
use common::{brawl, sh, text, TestCluster};

#[tokio::test]
async fn exec_returns_output_and_errors_name_node_command_status_and_stderr() {
    let c = TestCluster::up("t-exec", 1);
    let n1 = c.remote("n1");
    let out = n1.exec(&RemoteCommand::new("echo out; echo err >&2; exit 0")).await.expect("runs");
    assert_eq!((out.status, out.stdout.as_str(), out.stderr.as_str()), (0, "out\n", "err\n"));
    let out = n1.exec(&RemoteCommand::new("exit 7").unchecked()).await.expect("runs");
    assert_eq!(out.status, 7);
    let out = n1.exec(&RemoteCommand::new("no-such-brawl-command").unchecked()).await.expect("runs");
    assert_eq!(out.status, 127, "{out:?}");
    let err = n1.exec(&RemoteCommand::new("echo 'it broke: disk full' >&2; exit 3")).await.expect_err("fails");
    let msg = err.to_string();
    assert!(matches!(err, ControlError::Exec { status: 3, .. }), "{msg}");
    for part in ["n1", "exited with 3", "exit 3", "it broke: disk full"] {
        assert!(msg.contains(part), "{part:?} missing from {msg:?}");
    }
    let out = n1.exec(&RemoteCommand::new("cat; echo").stdin(b"from stdin".to_vec())).await.expect("runs");
    assert_eq!(out.stdout, "from stdin\n");
    let quoted = format!("printf %s {}", brawl::control::quote("$HOME 'quoted' `id` & ;"));
    assert_eq!(sh(n1.as_ref(), &quoted).await, "$HOME 'quoted' `id` & ;");
}

#[tokio::test]
async fn a_command_past_its_timeout_fails_and_is_killed_on_the_node() {
    let c = TestCluster::up("t-timeout", 1);
    let n1 = c.remote("n1");
    let started = Instant::now();
    let err = n1.exec(&RemoteCommand::new("sleep 7777").timeout(Duration::from_secs(1))).await.expect_err("times out");
    assert!(matches!(err, ControlError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("n1") && err.to_string().contains("timed out after 1s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left = n1.exec(&RemoteCommand::new("pgrep -f 'slee[p] 7777'").unchecked()).await.expect("runs");
    assert_ne!(left.status, 0, "the timed-out command still runs on the node: {}", left.stdout);
}

#[tokio::test]
async fn files_go_up_and_come_back_unchanged() {
    let c = TestCluster::up("t-files", 2);
    let n1 = c.remote("n1");
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    n1.upload(&data, "/opt/brawl/blob.bin", 0o640).await.expect("uploads");
    assert_eq!(sh(n1.as_ref(), "stat -c %a /opt/brawl/blob.bin").await.trim(), "640");
    assert_eq!(n1.download("/opt/brawl/blob.bin").await.expect("downloads"), data);
    // Private to n1.
    let n2 = c.remote("n2");
    assert_eq!(sh(n2.as_ref(), "test -e /opt/brawl/blob.bin && echo there || echo absent").await.trim(), "absent");
    let err = n1.download("/opt/brawl/missing").await.expect_err("no such file");
    assert!(matches!(err, ControlError::Transfer { .. }) && err.to_string().contains("/opt/brawl/missing"), "{err}");
    assert!(err.to_string().contains("n1"), "{err}");
}

#[tokio::test]
async fn many_concurrent_commands_share_one_connection() {
    let c = TestCluster::up("t-many", 3);
    let n1 = c.remote("n1");
    let runs = (0..40).map(|i| {
        let n1 = n1.clone();
        async move { n1.exec(&RemoteCommand::new(format!("sleep 0.2; echo {i}"))).await }
    });
    let results = futures::future::join_all(runs).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.expect("every command succeeds").stdout.trim(), i.to_string());
    }
    // Fan-out over the cluster.
    let all = c.cluster().exec_all(&RemoteCommand::new("hostname")).await;
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|(n, r)| r.as_ref().map(|o| o.stdout.trim() == n).unwrap_or(false)));
}

#[tokio::test]
async fn a_broken_connection_is_reopened_and_a_command_that_may_have_run_is_not_rerun() {
    let c = TestCluster::up("t-reconn", 1);
    let n1 = c.remote("n1");
    sh(n1.as_ref(), "echo ready").await;
    // The command records that it ran, then kills the node's side of every SSH connection.
    let script = "echo ran >> /root/runs; pkill -9 -f 'sshd: root@notty'; sleep 5";
    let err = n1.exec(&RemoteCommand::new(script)).await.expect_err("the connection breaks");
    assert!(matches!(err, ControlError::Indeterminate { .. }), "{err}");
    assert!(err.to_string().contains("may have run"), "{err}");
    // The next command reconnects by itself, and the first one ran exactly once.
    assert_eq!(sh(n1.as_ref(), "cat /root/runs").await, "ran\n");
}

/// Creates a login user on this machine (shared by the nodes) with sudo rights, idempotently.
fn ensure_sudo_user(user: &str, password: Option<&str>) {
    let run = |cmd: &str| {
        let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh runs");
        assert!(out.status.success(), "`{cmd}` failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    assert!(
        std::path::Path::new("/usr/bin/sudo").exists(),
        "sudo is not installed; run .ci/setup (apt-get install sudo)"
    );
    run(&format!("id -u {user} >/dev/null 2>&1 || useradd -m -s /bin/bash {user}"));
    let rule = match password {
        None => {
            // Not locked (sshd refuses locked accounts), but no password either.
            run(&format!("usermod -p '*' {user}"));
            format!("{user} ALL=(ALL) NOPASSWD: ALL")
        }
        Some(pw) => {
            run(&format!("echo '{user}:{pw}' | chpasswd"));
            format!("{user} ALL=(ALL) ALL")
        }
    };
    run(&format!("echo '{rule}' > /etc/sudoers.d/{user} && chmod 440 /etc/sudoers.d/{user}"));
}

#[tokio::test]
async fn a_non_root_user_gets_root_through_sudo() {
    ensure_sudo_user("brawl-ci", None);
    ensure_sudo_user("brawl-ci-pw", Some("pw-for-brawl-tests"));
    let c = TestCluster::up("t-sudo", 1);
    for (user, sudo) in
        [("brawl-ci", Sudo::Passwordless), ("brawl-ci-pw", Sudo::PasswordEnv("BRAWL_TEST_SUDO_PW".into()))]
    {
        std::env::set_var("BRAWL_TEST_SUDO_PW", "pw-for-brawl-tests");
        let mut t = c.targets().remove(0);
        t.user = Some(user.into());
        t.sudo = sudo;
        let n1 = Arc::new(SshRemote::new(t));
        let plain = n1.exec(&RemoteCommand::new("id -un")).await.expect("runs");
        assert_eq!(plain.stdout.trim(), user);
        let root = n1.exec(&RemoteCommand::new("id -u").sudo()).await.unwrap_or_else(|e| panic!("{user}: {e}"));
        assert_eq!(root.stdout.trim(), "0", "{user}");
        // Files owned by root, both ways.
        n1.upload(b"root only", "/opt/brawl/secret", 0o600).await.unwrap_or_else(|e| panic!("{user}: {e}"));
        assert_eq!(sh(n1.as_ref(), "stat -c %U /opt/brawl/secret").await.trim(), "root");
        assert_eq!(n1.download("/opt/brawl/secret").await.unwrap_or_else(|e| panic!("{user}: {e}")), b"root only");
    }
    // The password never shows up in what ran.
    let mut t = c.targets().remove(0);
    t.user = Some("brawl-ci-pw".into());
    t.sudo = Sudo::PasswordEnv("BRAWL_TEST_SUDO_PW".into());
    let n1 = SshRemote::new(t);
    let seen = n1.exec(&RemoteCommand::new("ps -eo args").sudo()).await.expect("runs");
    assert!(!seen.stdout.contains("pw-for-brawl-tests"), "the password is visible on the node");
}

#[tokio::test]
async fn a_node_whose_host_key_changed_is_refused() {
    let c = TestCluster::up("t-hostkey", 1);
    let other = tempfile::tempdir().expect("tempdir");
    let key = other.path().join("k");
    let out =
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).output().expect("keygen");
    assert!(out.status.success());
    let fake = std::fs::read_to_string(key.with_extension("pub")).expect("pub key");
    let known = other.path().join("known_hosts");
    std::fs::write(&known, format!("{} {}", c.ip("n1"), fake)).expect("write");
    let mut t = c.targets().remove(0);
    t.known_hosts = Some(known.clone());
    let err = SshRemote::new(t).connect().await.expect_err("refused");
    assert!(matches!(err, ControlError::HostKey { .. }), "{err}");
    assert!(err.to_string().contains("n1") && err.to_string().contains("changed"), "{err}");
    // Through the CLI: exit 254 with the node named.
    let nodes = other.path().join("nodes.yaml");
    let text_nodes = std::fs::read_to_string(c.nodes_file())
        .expect("nodes file")
        .replace(&c.layout().dir.join("known_hosts").display().to_string(), &known.display().to_string());
    std::fs::write(&nodes, text_nodes).expect("write");
    let out = brawl(&["exec", "--nodes-file", nodes.to_str().expect("utf8"), "--", "true"]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("host key of n1"), "{}", text(&out));
}

#[tokio::test]
async fn an_unreachable_node_fails_within_its_timeout_naming_the_node() {
    let c = TestCluster::up("t-unreach", 1);
    // An address on the cluster's own bridge where no node lives.
    let ip = c.ip("n1").rsplit_once('.').map(|(net, _)| format!("{net}.250")).expect("ipv4");
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = dir.path().join("nodes.yaml");
    let yaml = std::fs::read_to_string(c.nodes_file())
        .expect("nodes file")
        .replace(&format!("host: \"{}\"", c.ip("n1")), &format!("host: \"{ip}\""));
    let yaml = yaml.replace("ssh:\n", "ssh:\n  connect-timeout: 2s\n");
    std::fs::write(&nodes, yaml).expect("write");
    let started = Instant::now();
    let out = brawl(&["exec", "--nodes-file", nodes.to_str().expect("utf8"), "--", "true"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cannot connect to n1") && stdout.contains(&ip), "{}", text(&out));
    assert!(took < Duration::from_secs(6), "took {took:?} with a 2 s connect timeout");
}
