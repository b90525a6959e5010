//! Vagrant clusters: turns `vagrant ssh-config` into a brawl nodes file, so tests run on the
//! machines of a Vagrantfile (`brawl cluster vagrant`, `--vagrant DIR`). Main entry: [`discover`]
//! then [`write_files`]; [`nodes_file`] does both when the files are missing or stale.
//!
//! Vagrant's own SSH settings reach each machine on its management address (or a forwarded port)
//! with host-key checking off. brawl uses them once per machine to read the machine's private
//! address and its SSH host keys, then writes, under `DIR/.vagrant/brawl/`: `known_hosts` (those
//! keys for the private addresses), `ssh_config` (the per-machine key for each address) and
//! `nodes.yaml` (user `vagrant`, passwordless sudo, strict host-key checking). Every later
//! connection goes to the private address and checks the host key strictly.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::config::{nodes_file_yaml, NodeEntry, SshOverrides};
use crate::control::{HostKeyChecking, Remote, RemoteCommand, SshRemote, SshTarget, Sudo};

/// What can go wrong reading a Vagrant cluster.
#[derive(Debug, thiserror::Error)]
pub enum VagrantError {
    /// `vagrant` could not be run, or `vagrant ssh-config` failed (machines not up).
    #[error("`vagrant ssh-config` in {dir} failed: {reason}")]
    SshConfig {
        /// The Vagrantfile's directory.
        dir: PathBuf,
        /// What vagrant said.
        reason: String,
    },
    /// A machine could not be probed over Vagrant's own SSH settings.
    #[error("cannot read the address and host keys of {node}: {reason}")]
    Probe {
        /// The machine.
        node: String,
        /// Why.
        reason: String,
    },
    /// No single address of a machine could be chosen.
    #[error("machine {node}: {reason}")]
    Address {
        /// The machine.
        node: String,
        /// Why.
        reason: String,
    },
    /// `--network` is not an IPv4 CIDR.
    #[error("invalid network {0:?}: expected an IPv4 CIDR such as 10.88.1.0/24")]
    BadNetwork(String),
    /// Writing the files failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// One `Host` block of `vagrant ssh-config`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshConfigHost {
    /// The machine's name in the Vagrantfile (`n1`).
    pub name: String,
    /// Where Vagrant connects: the management address, or 127.0.0.1 with a forwarded port.
    pub hostname: String,
    /// Login user (`vagrant`).
    pub user: Option<String>,
    /// Port Vagrant connects to.
    pub port: Option<u16>,
    /// The machine's private keys, first is Vagrant's per-machine key.
    pub identity_files: Vec<PathBuf>,
}

/// Parses `vagrant ssh-config` output: one entry per `Host` block, in order.
pub fn parse_ssh_config(text: &str) -> Vec<SshConfigHost> {
    let mut hosts: Vec<SshConfigHost> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once([' ', '\t', '=']).unwrap_or((line, ""));
        let value = unquote(value.trim_start_matches([' ', '\t', '=']).trim());
        if key.eq_ignore_ascii_case("host") {
            hosts.push(SshConfigHost { name: value, ..Default::default() });
            continue;
        }
        let Some(h) = hosts.last_mut() else { continue };
        match key.to_ascii_lowercase().as_str() {
            "hostname" => h.hostname = value,
            "user" => h.user = Some(value),
            "port" => h.port = value.parse().ok(),
            "identityfile" => h.identity_files.push(PathBuf::from(value)),
            _ => {}
        }
    }
    for h in &mut hosts {
        if h.hostname.is_empty() {
            h.hostname = h.name.clone();
        }
    }
    hosts
}

fn unquote(s: &str) -> String {
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s).to_string()
}

/// An IPv4 network, `10.88.1.0/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    addr: u32,
    prefix: u8,
}

impl Network {
    /// Parses `a.b.c.d/len`.
    pub fn parse(s: &str) -> Result<Self, VagrantError> {
        let bad = || VagrantError::BadNetwork(s.to_string());
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().ok().filter(|p| *p <= 32).ok_or_else(bad)?;
        Ok(Network { addr: u32::from(addr), prefix })
    }

    /// True when `ip` is in this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) };
        u32::from(ip) & mask == self.addr & mask
    }
}

/// What a machine said about itself: its global IPv4 addresses and its SSH host public keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    /// Global IPv4 addresses, in `ip addr` order.
    pub addrs: Vec<Ipv4Addr>,
    /// Host public keys, `type base64` (the comment dropped).
    pub host_keys: Vec<String>,
}

/// The script run on each machine (as the login user, no sudo): addresses, then host keys.
pub const PROBE_SCRIPT: &str = "ip -4 -o addr show scope global; cat /etc/ssh/ssh_host_*_key.pub";

/// Parses [`PROBE_SCRIPT`]'s output.
pub fn parse_probe(out: &str) -> Probe {
    let mut p = Probe::default();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "inet") {
            if let Some(ip) = words.get(i + 1).and_then(|a| a.split('/').next()).and_then(|a| a.parse().ok()) {
                p.addrs.push(ip);
            }
        } else if words.len() >= 2 && (words[0].starts_with("ssh-") || words[0].starts_with("ecdsa-")) {
            p.host_keys.push(format!("{} {}", words[0], words[1]));
        }
    }
    p
}

/// The address brawl uses for a machine: the one in `network` if given; else its only address
/// other than the one Vagrant connects to (and VirtualBox's NAT address 10.0.2.15 when Vagrant
/// goes through a forwarded port); else, with a single network, the one Vagrant connects to.
pub fn pick_address(host: &SshConfigHost, addrs: &[Ipv4Addr], network: Option<Network>) -> Result<Ipv4Addr, String> {
    let shown = || addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
    if let Some(net) = network {
        return addrs
            .iter()
            .copied()
            .find(|a| net.contains(*a))
            .ok_or_else(|| format!("no address in the network given with --network (it has {})", shown()));
    }
    let vagrant_ip: Option<Ipv4Addr> = host.hostname.parse().ok();
    let forwarded = vagrant_ip.is_some_and(|ip| ip.is_loopback());
    let candidates: Vec<Ipv4Addr> = addrs
        .iter()
        .copied()
        .filter(|a| Some(*a) != vagrant_ip && !(forwarded && *a == Ipv4Addr::new(10, 0, 2, 15)))
        .collect();
    match (candidates.as_slice(), vagrant_ip) {
        ([one], _) => Ok(*one),
        ([], Some(ip)) if !forwarded => Ok(ip),
        ([], _) => {
            Err(format!("no private network address (it has {}); add a private_network to the Vagrantfile", shown()))
        }
        (many, _) => Err(format!(
            "several candidate addresses ({}); choose with --network CIDR",
            many.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// One machine as brawl will reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VagrantNode {
    /// Vagrant's settings for the machine.
    pub ssh: SshConfigHost,
    /// The private address tests use.
    pub address: Ipv4Addr,
    /// The machine's SSH host keys, `type base64`.
    pub host_keys: Vec<String>,
}

/// Where brawl keeps its files for the Vagrantfile in `dir`: `.vagrant/brawl` (or under
/// `$VAGRANT_DOTFILE_PATH`).
pub fn state_dir(dir: &Path) -> PathBuf {
    match std::env::var_os("VAGRANT_DOTFILE_PATH") {
        Some(p) => dir.join(p).join("brawl"),
        None => dir.join(".vagrant").join("brawl"),
    }
}

/// Runs `vagrant ssh-config` in `dir`.
pub fn vagrant_ssh_config(dir: &Path) -> Result<String, VagrantError> {
    let err = |reason: String| VagrantError::SshConfig { dir: dir.to_path_buf(), reason };
    let out = Command::new("vagrant")
        .arg("ssh-config")
        .current_dir(dir)
        .env("VAGRANT_CWD", dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| err(format!("cannot run vagrant: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" ");
        return Err(err(format!("{} ({tail}); are all machines up (`vagrant up`)?", out.status)));
    }
    Ok(stdout)
}

/// Reads the machines of the Vagrantfile in `dir`: Vagrant's SSH settings, then each machine's
/// address and host keys over them (host-key checking off for this one probe).
pub async fn discover(dir: &Path, network: Option<Network>) -> Result<Vec<VagrantNode>, VagrantError> {
    let dir = dir.to_path_buf();
    let text = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || vagrant_ssh_config(&dir)
    })
    .await
    .map_err(|e| VagrantError::SshConfig { dir: dir.clone(), reason: e.to_string() })??;
    let hosts = parse_ssh_config(&text);
    if hosts.is_empty() {
        return Err(VagrantError::SshConfig { dir, reason: "it names no machines".into() });
    }
    let probes = hosts.into_iter().map(|h| async move {
        let probe = probe(&h).await?;
        let address = pick_address(&h, &probe.addrs, network)
            .map_err(|reason| VagrantError::Address { node: h.name.clone(), reason })?;
        if probe.host_keys.is_empty() {
            let reason = "no host keys in /etc/ssh/ssh_host_*_key.pub".into();
            return Err(VagrantError::Probe { node: h.name.clone(), reason });
        }
        Ok(VagrantNode { ssh: h, address, host_keys: probe.host_keys })
    });
    futures::future::join_all(probes).await.into_iter().collect()
}

async fn probe(h: &SshConfigHost) -> Result<Probe, VagrantError> {
    let mut t = SshTarget::new(h.name.clone(), h.hostname.clone());
    t.port = h.port;
    t.user = h.user.clone();
    t.key_file = h.identity_files.first().cloned();
    t.host_key_checking = HostKeyChecking::Off;
    t.connect_timeout = Duration::from_secs(30);
    let remote = SshRemote::new(t);
    let out = remote
        .exec(&RemoteCommand::new(PROBE_SCRIPT).timeout(Duration::from_secs(30)))
        .await
        .map_err(|e| VagrantError::Probe { node: h.name.clone(), reason: e.to_string() })?;
    Ok(parse_probe(&out.stdout))
}

/// The `known_hosts` text: every machine's keys under its private address.
pub fn known_hosts_text(nodes: &[VagrantNode]) -> String {
    let mut out = String::new();
    for n in nodes {
        for k in &n.host_keys {
            out.push_str(&format!("{} {k}\n", n.address));
        }
    }
    out
}

/// The ssh config text: for each private address, the machine's user and key.
pub fn ssh_config_text(nodes: &[VagrantNode]) -> String {
    let mut out =
        String::from("# Written by `brawl cluster vagrant`: Vagrant's per-machine keys by private address.\n");
    for n in nodes {
        out.push_str(&format!("Host {}\n", n.address));
        if let Some(user) = &n.ssh.user {
            out.push_str(&format!("  User {user}\n"));
        }
        for key in &n.ssh.identity_files {
            out.push_str(&format!("  IdentityFile \"{}\"\n", key.display()));
        }
        out.push_str("  IdentitiesOnly yes\n");
    }
    out
}

/// The nodes file text; `state` is the absolute directory of `known_hosts` and `ssh_config`.
pub fn nodes_yaml(dir: &Path, state: &Path, nodes: &[VagrantNode]) -> String {
    let ssh = SshOverrides {
        user: Some("vagrant".into()),
        known_hosts: Some(state.join("known_hosts")),
        host_key_checking: Some(HostKeyChecking::Strict),
        ssh_config: Some(state.join("ssh_config")),
        sudo: Some(Sudo::Passwordless),
        // New connections cost ~0.8 s on software-emulated VMs; leave room for a busy host.
        connect_timeout: Some(Duration::from_secs(30)),
        ..SshOverrides::default()
    };
    let entries: Vec<NodeEntry> = nodes
        .iter()
        .map(|n| {
            let mut e = NodeEntry::new(n.ssh.name.clone(), n.address.to_string());
            e.user = n.ssh.user.clone().filter(|u| u != "vagrant");
            e
        })
        .collect();
    format!(
        "# Written by `brawl cluster vagrant --dir {}` from `vagrant ssh-config`;\n# written again when Vagrant recreates a machine.\n{}",
        dir.display(),
        nodes_file_yaml(&ssh, &entries)
    )
}

/// Writes `known_hosts`, `ssh_config` and `nodes.yaml` under [`state_dir`]; returns the nodes file.
pub fn write_files(dir: &Path, nodes: &[VagrantNode]) -> Result<PathBuf, VagrantError> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let state = state_dir(&dir);
    let write = |name: &str, text: String| {
        let path = state.join(name);
        let tmp = state.join(format!(".{name}.tmp"));
        std::fs::create_dir_all(&state)
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| VagrantError::Write { path: path.clone(), reason: e.to_string() })?;
        Ok(path)
    };
    write("known_hosts", known_hosts_text(nodes))?;
    write("ssh_config", ssh_config_text(nodes))?;
    write("nodes.yaml", nodes_yaml(&dir, &state, nodes))
}

/// True when the nodes file is missing, or older than a machine Vagrant created since.
pub fn is_stale(dir: &Path) -> bool {
    let state = state_dir(dir);
    let Ok(written) = std::fs::metadata(state.join("nodes.yaml")).and_then(|m| m.modified()) else {
        return true;
    };
    let machines = state.parent().map(|p| p.join("machines")).unwrap_or_default();
    newest_id(&machines).is_some_and(|t| t > written)
}

/// The newest modification time of `machines/*/*/id` (Vagrant rewrites it when it creates a machine).
fn newest_id(machines: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for m in std::fs::read_dir(machines).ok()?.flatten() {
        for p in std::fs::read_dir(m.path()).into_iter().flatten().flatten() {
            if let Ok(t) = std::fs::metadata(p.path().join("id")).and_then(|m| m.modified()) {
                newest = newest.max(Some(t));
            }
        }
    }
    newest
}

/// The nodes file of the Vagrantfile in `dir`, discovered and written first when missing or
/// stale. Blocking: it runs on its own thread and runtime, so sync callers can use it.
pub fn nodes_file(dir: &Path) -> Result<PathBuf, VagrantError> {
    if !is_stale(dir) {
        return Ok(state_dir(dir).join("nodes.yaml"));
    }
    let dir = dir.to_path_buf();
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
                VagrantError::Probe { node: "-".into(), reason: format!("cannot start a runtime: {e}") }
            })?;
            let nodes = rt.block_on(discover(&dir, None))?;
            write_files(&dir, &nodes)
        })
        .join()
        .unwrap_or_else(|_| Err(VagrantError::Probe { node: "-".into(), reason: "discovery panicked".into() }))
    })
}

/// The address part of a node for printing.
pub fn describe(n: &VagrantNode) -> String {
    format!(
        "{}  {}  ({} host keys; vagrant ssh via {})",
        n.ssh.name,
        IpAddr::V4(n.address),
        n.host_keys.len(),
        n.ssh.hostname
    )
}

#[cfg(test)]
#[path = "vagrant_tests.rs"]
mod tests;
