//! `up`, `down` and `list` of local clusters.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tracing::{debug, info};

use super::layout::{write_atomic, Layout, NodeState, State};
use super::sys::{self, run};
use super::LocalError;
use crate::config::{nodes_file_yaml, NodeEntry, SshOverrides};
use crate::control::{quote, HostKeyChecking};

/// Paths on every node that are private to it: what a system under test writes.
pub const DEFAULT_PRIVATE_DIRS: &[&str] = &[
    "/root",
    "/tmp",
    "/var/tmp",
    "/run",
    "/var/log",
    "/var/lib/etcd",
    "/var/lib/redis",
    "/var/lib/brawl/node", // systems' data (/var/lib/brawl/node/<db>); not /var/lib/brawl, which holds BRAWL_HOME
    "/opt/brawl",
];
/// How long a node's sshd gets to start listening.
const SSHD_START: Duration = Duration::from_secs(15);

/// What `up` creates.
#[derive(Clone, Debug)]
pub struct UpSpec {
    /// Cluster name.
    pub name: String,
    /// Number of nodes.
    pub nodes: usize,
    /// Extra private paths, beyond `DEFAULT_PRIVATE_DIRS`.
    pub extra_private_dirs: Vec<String>,
}

/// Creates the cluster and returns its state. On failure removes whatever it created.
pub fn up(spec: &UpSpec) -> Result<State, LocalError> {
    if !sys::is_root() {
        return Err(LocalError::NotRoot { action: "up" });
    }
    let layout = Layout::new(&spec.name)?;
    if spec.nodes == 0 || spec.nodes > 200 {
        return Err(LocalError::BadCount { count: spec.nodes });
    }
    for d in &spec.extra_private_dirs {
        if !d.starts_with('/') || d == "/" || d.contains("..") {
            return Err(LocalError::BadPrivateDir { path: d.clone() });
        }
    }
    let home = super::home();
    if let Some(p) = DEFAULT_PRIVATE_DIRS
        .iter()
        .copied()
        .chain(spec.extra_private_dirs.iter().map(String::as_str))
        .find(|p| home.starts_with(p))
    {
        return Err(LocalError::BadPrivateDir {
            path: format!(
                "{p} (BRAWL_HOME {} is under it, so the nodes could not read their own state)",
                home.display()
            ),
        });
    }
    for (tool, package) in [
        ("ip", "iproute2"),
        ("unshare", "util-linux"),
        ("setsid", "util-linux"),
        ("ssh-keygen", "openssh-client"),
        ("/usr/sbin/sshd", "openssh-server"),
    ] {
        if !sys::have(tool) {
            return Err(LocalError::MissingTool { tool, package });
        }
    }
    if let Ok(Some(state)) = layout.read_state() {
        if state.complete && sys::netns_list().iter().any(|n| n.starts_with(&layout.netns_prefix())) {
            return Err(LocalError::AlreadyUp { name: layout.name.clone(), nodes: state.nodes.len() });
        }
    }
    // Remains of a crashed or half-finished `up` are cleared first.
    let leftovers = down(&spec.name)?;
    if !leftovers.is_empty() {
        info!(cluster = %spec.name, removed = ?leftovers.removed, "removed remains of an earlier cluster of this name");
    }
    build(&layout, spec).map_err(|e| {
        let _ = down(&spec.name);
        LocalError::UpFailed { source: Box::new(e) }
    })
}

fn build(layout: &Layout, spec: &UpSpec) -> Result<State, LocalError> {
    let started = Instant::now();
    // Traversable (not listable) so sshd, reading authorized_keys as a non-root login user, can.
    mkdir(&layout.dir, 0o711)?;
    let subnet = pick_subnet(layout)?;
    let gateway = Ipv4Addr::new(subnet[0], subnet[1], subnet[2], 1);
    let mut private_dirs: Vec<String> = DEFAULT_PRIVATE_DIRS.iter().map(|s| s.to_string()).collect();
    for d in &spec.extra_private_dirs {
        if !private_dirs.contains(d) {
            private_dirs.push(d.trim_end_matches('/').to_string());
        }
    }
    let nodes: Vec<NodeState> = (1..=spec.nodes)
        .map(|i| NodeState {
            name: format!("n{i}"),
            ip: Ipv4Addr::new(subnet[0], subnet[1], subnet[2], 10 + i as u8),
            netns: layout.netns(i),
            veth: layout.veth(i),
        })
        .collect();
    let mut state = State {
        name: layout.name.clone(),
        bridge: layout.bridge(),
        gateway,
        private_dirs,
        nodes,
        complete: false,
        created: chrono::Utc::now().to_rfc3339(),
    };
    // Recorded first, so a crash from here on leaves `down` a map of what to remove.
    save_state(layout, &state)?;

    let key = layout.dir.join("id_ed25519");
    keygen(&key, &format!("brawl-cluster-{}", layout.name))?;
    let authorized = layout.dir.join("authorized_keys");
    copy(&key.with_extension("pub"), &authorized)?;
    fs::set_permissions(&authorized, fs::Permissions::from_mode(0o644))
        .map_err(|source| LocalError::Io { path: authorized.clone(), source })?;
    let hosts: String = std::iter::once("127.0.0.1\tlocalhost\n".to_string())
        .chain(state.nodes.iter().map(|n| format!("{}\t{}\n", n.ip, n.name)))
        .collect();
    write(&layout.dir.join("hosts"), &hosts)?;

    run("ip", &["link", "add", &state.bridge, "type", "bridge"])?;
    run("ip", &["addr", "add", &format!("{gateway}/24"), "dev", &state.bridge])?;
    run("ip", &["link", "set", &state.bridge, "up"])?;

    let mut known_hosts = String::new();
    for node in &state.nodes {
        let hostkey = create_node(layout, &state, node)?;
        known_hosts.push_str(&format!("{} {}\n", node.ip, hostkey.trim()));
    }
    write(&layout.dir.join("known_hosts"), &known_hosts)?;
    for node in &state.nodes {
        wait_for_sshd(layout, node)?;
    }
    write(&layout.nodes_file(), &nodes_yaml(layout, &state))?;
    state.complete = true;
    save_state(layout, &state)?;
    info!(cluster = %layout.name, nodes = state.nodes.len(), elapsed_ms = started.elapsed().as_millis() as u64, "cluster up");
    Ok(state)
}

/// Creates node `node`'s namespaces and starts its sshd; returns its public host key.
fn create_node(layout: &Layout, state: &State, node: &NodeState) -> Result<String, LocalError> {
    let dir = layout.node_dir(&node.name);
    mkdir(&dir, 0o700)?;
    let hostkey = dir.join("ssh_host_ed25519_key");
    keygen(&hostkey, &format!("{}@brawl-{}", node.name, layout.name))?;
    let sshd_config = format!(
        "ListenAddress {ip}\nPort 22\nHostKey {hostkey}\nPidFile none\nAuthorizedKeysFile {auth}\n\
         PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         UsePAM no\nStrictModes no\nUseDNS no\nMaxSessions 16\nMaxStartups 100:30:200\nPrintMotd no\n\
         Subsystem sftp internal-sftp\n",
        ip = node.ip,
        hostkey = hostkey.display(),
        auth = layout.dir.join("authorized_keys").display(),
    );
    write(&dir.join("sshd_config"), &sshd_config)?;

    run("ip", &["netns", "add", &node.netns])?;
    run("ip", &["link", "add", &node.veth, "type", "veth", "peer", "name", "eth0", "netns", &node.netns])?;
    run("ip", &["link", "set", &node.veth, "master", &state.bridge, "up"])?;
    run("ip", &["-n", &node.netns, "addr", "add", &format!("{}/24", node.ip), "dev", "eth0"])?;
    run("ip", &["-n", &node.netns, "link", "set", "eth0", "up"])?;
    run("ip", &["-n", &node.netns, "link", "set", "lo", "up"])?;

    // Private directories: a fresh directory per node bind-mounted over each path, inside the
    // node's own mount namespace. A missing mount point is created (empty) on the host.
    let mut script = format!("set -e\nhostname {}\n", quote(&node.name));
    for path in &state.private_dirs {
        let private = dir.join("root").join(path.trim_start_matches('/'));
        mkdir(&private, 0o755)?;
        if path == "/tmp" || path == "/var/tmp" {
            fs::set_permissions(&private, fs::Permissions::from_mode(0o1777))
                .map_err(|source| LocalError::Io { path: private.clone(), source })?;
        }
        fs::create_dir_all(path).map_err(|source| LocalError::Io { path: PathBuf::from(path), source })?;
        script.push_str(&format!("mount --bind {} {}\n", quote(&private.display().to_string()), quote(path)));
    }
    script.push_str(&format!("mount --bind {} /etc/hosts\n", quote(&layout.dir.join("hosts").display().to_string())));
    script.push_str("mkdir -p /run/sshd\nchmod 755 /run/sshd\n");
    script
        .push_str(&format!("exec /usr/sbin/sshd -D -e -f {}\n", quote(&dir.join("sshd_config").display().to_string())));

    let log_path = dir.join("node.log");
    let log = fs::File::create(&log_path).map_err(|source| LocalError::Io { path: log_path.clone(), source })?;
    let err = log.try_clone().map_err(|source| LocalError::Io { path: log_path.clone(), source })?;
    // setsid: the node must not die with brawl's terminal session (Ctrl-C), only with `down`.
    Command::new("setsid")
        .args([
            "ip",
            "netns",
            "exec",
            &node.netns,
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--mount",
            "--uts",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            &script,
        ])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| LocalError::Command {
            cmd: format!("start node {}", node.name),
            status: "not started".into(),
            stderr: e.to_string(),
        })?;
    debug!(node = %node.name, ip = %node.ip, "node started");
    read(&hostkey.with_extension("pub"))
}

fn wait_for_sshd(layout: &Layout, node: &NodeState) -> Result<(), LocalError> {
    let deadline = Instant::now() + SSHD_START;
    let addr = SocketAddr::from((node.ip, 22));
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            let log = layout.node_dir(&node.name).join("node.log");
            let text = fs::read_to_string(&log).unwrap_or_default();
            let tail: String =
                text.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" | ");
            return Err(LocalError::NodeStart {
                node: node.name.clone(),
                addr: addr.to_string(),
                secs: SSHD_START.as_secs(),
                log,
                tail,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pick_subnet(layout: &Layout) -> Result<[u8; 3], LocalError> {
    let in_use = sys::ipv4_in_use();
    layout
        .subnet_candidates()
        .find(|[a, b, c]| !in_use.contains(&format!("{a}.{b}.{c}.")))
        .ok_or_else(|| LocalError::NoSubnet { name: layout.name.clone() })
}

/// The nodes file for this cluster, in the format `config::load_nodes_file` reads.
fn nodes_yaml(layout: &Layout, state: &State) -> String {
    let ssh = SshOverrides {
        user: Some("root".into()),
        port: Some(22),
        key_file: Some(layout.dir.join("id_ed25519")),
        known_hosts: Some(layout.dir.join("known_hosts")),
        host_key_checking: Some(HostKeyChecking::Strict),
        ..SshOverrides::default()
    };
    let nodes: Vec<NodeEntry> = state.nodes.iter().map(|n| NodeEntry::new(n.name.clone(), n.ip.to_string())).collect();
    format!(
        "# Written by `brawl cluster up --name {name}`; removed by `brawl cluster down --name {name}`.\n{}",
        nodes_file_yaml(&ssh, &nodes),
        name = layout.name
    )
}

/// What `down` removed.
#[derive(Debug, Default)]
pub struct DownReport {
    /// One line per removed thing ("namespace brawl-local-n1 (2 processes)").
    pub removed: Vec<String>,
}

impl DownReport {
    /// True when nothing of the cluster was found.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty()
    }
}

/// Removes everything of cluster `name`: processes, namespaces, links, state. Idempotent, and
/// works from whatever a crash or a half-finished `up` left behind (it searches by name).
pub fn down(name: &str) -> Result<DownReport, LocalError> {
    if !sys::is_root() {
        return Err(LocalError::NotRoot { action: "down" });
    }
    let layout = Layout::new(name)?;
    let mut report = DownReport::default();
    let prefix = layout.netns_prefix();
    let namespaces: Vec<String> = sys::netns_list()
        .into_iter()
        .filter(|n| {
            n.strip_prefix(&prefix).is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    // Killing each node's first process (its sshd, pid 1 of the node's pid namespace) makes the
    // kernel kill everything else in the node and drop its private mounts.
    for ns in &namespaces {
        let pids = sys::netns_pids(ns);
        for &pid in &pids {
            sys::kill9(pid);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !sys::netns_pids(ns).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        run("ip", &["netns", "del", ns])?;
        report.removed.push(format!("namespace {ns} ({} processes)", pids.len()));
    }
    // Anything still running from the cluster's directory (a node caught half-started).
    let dir = layout.dir.display().to_string();
    for pid in sys::pids_mentioning(&dir) {
        sys::kill9(pid);
        report.removed.push(format!("process {pid}"));
    }
    let tag = format!("bw{}", layout.tag);
    let mut links: Vec<String> = sys::link_list().into_iter().filter(|l| l.starts_with(&tag)).collect();
    links.sort_by_key(|l| l == &layout.bridge()); // veths first, the bridge last
    for link in links {
        if run("ip", &["link", "del", &link]).is_ok() {
            report.removed.push(format!("link {link}"));
        }
    }
    if layout.dir.exists() {
        fs::remove_dir_all(&layout.dir).map_err(|source| LocalError::Io { path: layout.dir.clone(), source })?;
        report.removed.push(format!("state {}", layout.dir.display()));
    }
    Ok(report)
}

/// Names of the local clusters that have state on this machine.
pub fn list() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(super::home().join("clusters"))
        .map(|rd| rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn save_state(layout: &Layout, state: &State) -> Result<(), LocalError> {
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| LocalError::BadState { path: layout.state_file(), reason: e.to_string() })?;
    write_atomic(&layout.state_file(), &text)
}

fn keygen(path: &Path, comment: &str) -> Result<(), LocalError> {
    let p = path.display().to_string();
    run("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", &p]).map(|_| ())
}

fn mkdir(path: &Path, mode: u32) -> Result<(), LocalError> {
    fs::create_dir_all(path).map_err(|source| LocalError::Io { path: path.to_path_buf(), source })?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|source| LocalError::Io { path: path.to_path_buf(), source })
}

fn write(path: &Path, text: &str) -> Result<(), LocalError> {
    fs::write(path, text).map_err(|source| LocalError::Io { path: path.to_path_buf(), source })
}

fn read(path: &Path) -> Result<String, LocalError> {
    fs::read_to_string(path).map_err(|source| LocalError::Io { path: path.to_path_buf(), source })
}

fn copy(from: &Path, to: &Path) -> Result<(), LocalError> {
    fs::copy(from, to).map(|_| ()).map_err(|source| LocalError::Io { path: from.to_path_buf(), source })
}
