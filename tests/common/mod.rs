//! Helpers for tests that need brawl's local cluster (root; never skipped).

#![allow(dead_code)]

pub mod webdriver;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use brawl::cluster::Cluster;
use brawl::control::{Remote, SshRemote, SshTarget};
use brawl::local::{self, Layout, State, UpSpec};

/// The brawl binary built for this test run.
pub fn brawl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_brawl"))
}

/// Runs the brawl binary with `args`.
pub fn brawl(args: &[&str]) -> Output {
    Command::new(brawl_bin()).args(args).output().expect("brawl runs")
}

/// Stdout and stderr of an output, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Local-cluster tests need root. They fail (never skip) without it, in CI and elsewhere.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(uid, 0, "this test brings up a local cluster and needs root; run the suite as root (see README)");
}

/// A local cluster that is brought down when dropped, also when the test panics.
pub struct TestCluster {
    /// Cluster name.
    pub name: String,
    /// What `up` recorded.
    pub state: State,
}

impl TestCluster {
    /// Brings up cluster `name` with `nodes` nodes (removing any remains of an earlier run).
    pub fn up(name: &str, nodes: usize) -> Self {
        require_root();
        let state = local::up(&UpSpec { name: name.into(), nodes, extra_private_dirs: vec![] })
            .unwrap_or_else(|e| panic!("cluster up {name}: {e}"));
        TestCluster { name: name.into(), state }
    }

    /// The cluster's layout.
    pub fn layout(&self) -> Layout {
        Layout::new(&self.name).expect("valid name")
    }

    /// The nodes file path.
    pub fn nodes_file(&self) -> String {
        self.layout().nodes_file().display().to_string()
    }

    /// SSH targets of the nodes, from the nodes file.
    pub fn targets(&self) -> Vec<SshTarget> {
        brawl::config::load_nodes_file(&self.layout().nodes_file()).expect("nodes file loads")
    }

    /// Node `name`'s address.
    pub fn ip(&self, node: &str) -> String {
        self.state.nodes.iter().find(|n| n.name == node).expect("node exists").ip.to_string()
    }

    /// The nodes' names, n1 first.
    pub fn node_names(&self) -> Vec<String> {
        self.state.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// A library cluster over SSH (not yet connected).
    pub fn cluster(&self) -> Cluster {
        Cluster::ssh(self.targets()).0
    }

    /// The SSH remote of one node.
    pub fn remote(&self, node: &str) -> Arc<SshRemote> {
        let t = self.targets().into_iter().find(|t| t.name == node).expect("node exists");
        Arc::new(SshRemote::new(t))
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Err(e) = local::down(&self.name) {
            eprintln!("cluster down {}: {e}", self.name);
        }
    }
}

/// Runs `script` on `remote`, which must succeed, and returns stdout.
pub async fn sh(remote: &dyn Remote, script: &str) -> String {
    remote
        .exec(&brawl::control::RemoteCommand::new(script))
        .await
        .unwrap_or_else(|e| panic!("on {}: {e}", remote.name()))
        .stdout
}

/// Holds `ip:port` on `remote` with a listening socket (SO_REUSEADDR, so connections of an
/// earlier run in TIME_WAIT do not matter) until `free_port`; returns once it listens.
pub async fn squat_port(remote: &dyn Remote, ip: &str, port: u16) {
    let script = format!(
        "setsid /usr/bin/python3 -c 'import socket,time; s=socket.socket(); \
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"{ip}\", {port})); s.listen(); time.sleep(120)' \
         </dev/null >/dev/null 2>&1 & echo $! > /run/brawl-test-squatter-{port}.pid; \
         for i in $(seq 20); do ss -ltn | grep -q '{ip}:{port} ' && echo up && exit 0; sleep 0.2; done; echo down"
    );
    assert_eq!(sh(remote, &script).await.trim(), "up", "the squatter on {ip}:{port} does not listen");
}

/// Ends what `squat_port` started.
pub async fn free_port(remote: &dyn Remote, port: u16) {
    let pid = format!("/run/brawl-test-squatter-{port}.pid");
    sh(remote, &format!("kill \"$(cat {pid})\" 2>/dev/null; rm -f {pid}; true")).await;
}

/// Everything of cluster `name` still on this machine: namespaces, links, processes, mounts and
/// state. Empty when `down` did its job.
pub fn remains(name: &str) -> Vec<String> {
    let layout = Layout::new(name).expect("valid name");
    let mut found = Vec::new();
    let run = |args: &[&str]| {
        String::from_utf8_lossy(&Command::new("ip").args(args).output().expect("ip runs").stdout).into_owned()
    };
    for ns in run(&["netns", "list"]).lines() {
        if ns.starts_with(&layout.netns_prefix()) {
            found.push(format!("namespace {ns}"));
        }
    }
    let tag = format!("bw{}", layout.tag);
    for line in run(&["-o", "link", "show"]).lines() {
        if line.contains(&tag) {
            found.push(format!("link {line}"));
        }
    }
    let dir = layout.dir.display().to_string();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&dir) || cmdline.contains(&format!("brawl-{name}-n")) {
                found.push(format!("process {pid}: {cmdline}"));
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    for line in mounts.lines() {
        if line.contains(&dir) || line.contains(&format!("/run/netns/brawl-{name}-n")) {
            found.push(format!("mount {line}"));
        }
    }
    if layout.dir.exists() {
        found.push(format!("state directory {dir}"));
    }
    found
}
