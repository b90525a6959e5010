//! brawl's local cluster: nodes n1..nN on this machine that stand in for VMs.
//!
//! Each node is a network namespace (own address on a per-cluster bridge, own iptables) in which
//! `unshare` makes a pid, mount and uts namespace whose first process is the node's own sshd.
//! Private per-node directories are bind-mounted over the paths a system under test writes.
//! Everything a cluster creates is named from the cluster's name, recorded under its state
//! directory, and removed by `down`, which also works from whatever a crash left behind.
//! `Layout` names things; `up`, `down` and `status` act. Needs root.

mod layout;
mod sys;
mod updown;

pub use layout::{home, Layout, NodeState, State};
pub use updown::{down, list, up, DownReport, UpSpec, DEFAULT_PRIVATE_DIRS};

/// How many processes run in network namespace `ns` (0 when it does not exist).
pub fn netns_process_count(ns: &str) -> usize {
    sys::netns_pids(ns).len()
}

use std::path::PathBuf;

/// What can go wrong creating, inspecting or removing a local cluster.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// Not running as root.
    #[error("`brawl cluster {action}` needs root: it creates network namespaces, links and mounts; run it as root (e.g. with sudo)")]
    NotRoot {
        /// The subcommand.
        action: &'static str,
    },
    /// A name that cannot be used for namespaces and directories.
    #[error(
        "invalid cluster name {name:?}: use 1 to 20 characters of a-z, 0-9 and '-', starting with a letter or digit"
    )]
    BadName {
        /// The name given.
        name: String,
    },
    /// Bad node count.
    #[error("invalid node count {count}: a local cluster has 1 to 200 nodes")]
    BadCount {
        /// The count given.
        count: usize,
    },
    /// A private directory that is not an absolute path.
    #[error("invalid private directory {path:?}: it must be an absolute path other than /")]
    BadPrivateDir {
        /// The path given.
        path: String,
    },
    /// A tool the local cluster needs is missing on this machine.
    #[error("`{tool}` is not installed; install it with `apt-get install -y {package}`")]
    MissingTool {
        /// The program.
        tool: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// The cluster is already up.
    #[error("cluster {name} is already up ({nodes} nodes); `brawl cluster down --name {name}` removes it")]
    AlreadyUp {
        /// Cluster name.
        name: String,
        /// Node count.
        nodes: usize,
    },
    /// The cluster is not up (for commands that need it).
    #[error("cluster {name} is not up; `brawl cluster up --name {name}` creates it")]
    NotUp {
        /// Cluster name.
        name: String,
    },
    /// No free /24 subnet was found for the cluster.
    #[error("no free subnet for cluster {name}: every candidate 10.x.y.0/24 is in use on this machine")]
    NoSubnet {
        /// Cluster name.
        name: String,
    },
    /// A host command failed.
    #[error("`{cmd}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        cmd: String,
        /// Exit status or the spawn error.
        status: String,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// A node's sshd did not start listening in time.
    #[error("sshd of node {node} ({addr}) did not start within {secs} s; its log {log} says: {tail}")]
    NodeStart {
        /// Node name.
        node: String,
        /// Its address.
        addr: String,
        /// How long we waited.
        secs: u64,
        /// The node's log file.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },
    /// `up` failed; what it created was removed again.
    #[error("cluster up failed; everything it had created was removed again")]
    UpFailed {
        /// The failure.
        #[source]
        source: Box<LocalError>,
    },
    /// Local file I/O.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The state file could not be read.
    #[error("state file {path} is unreadable: {reason}; `brawl cluster down` still removes the cluster")]
    BadState {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}
