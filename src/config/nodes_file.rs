//! Nodes files: the YAML list of hosts a test runs on, read into [`SshTarget`]s and written by
//! `brawl cluster up` with [`nodes_file_yaml`].
//!
//! ```yaml
//! ssh: { user: root, key-file: id_ed25519, known-hosts: known_hosts }  # optional, like a test's
//! nodes:
//!   - { name: n1, host: 10.77.3.11 }   # host defaults to name
//!   - { name: n2, host: 10.77.3.12, port: 2222, user: admin }
//! ```
//!
//! Relative paths in `ssh` are resolved against the nodes file's directory. Every host must
//! resolve, through the ssh config (`ssh -G`) and then the system resolver, so a typo fails
//! here rather than minutes into a test.

use std::collections::HashSet;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_saphyr::Location;

use super::load::{load, ConfigError};
use super::raw::RawNodesFile;
use super::ssh::{ssh_overrides, SshOverrides};
use crate::control::target::{HostKeyChecking, SshTarget, Sudo};

/// Read the nodes file at `path` into one [`SshTarget`] per node, in file order.
///
/// Fails on an empty list, a duplicate or empty name, or a host that does not resolve.
pub fn load_nodes_file(path: &Path) -> Result<Vec<SshTarget>, ConfigError> {
    validate_nodes(load(path)?, path)
}

/// Check a parsed nodes file read from `file` and build its targets (see [`load_nodes_file`]).
pub fn validate_nodes(raw: RawNodesFile, file: &Path) -> Result<Vec<SshTarget>, ConfigError> {
    let (targets, host_locations) = build_targets(raw, file)?;
    check_hosts(&targets, &host_locations, file)?;
    Ok(targets)
}

/// A nodes file's `text` checked as [`load_nodes_file`] checks it, except that hosts are not
/// resolved (no `ssh -G`, no DNS): for the fuzz target, which must not send queries for
/// made-up names. Errors name `file`, which is not read.
pub fn parse_nodes_file_unresolved(text: &str, file: &Path) -> Result<Vec<SshTarget>, ConfigError> {
    Ok(build_targets(super::load::load_str(text, file)?, file)?.0)
}

/// Every check of [`validate_nodes`] but host resolution: the targets, and where each host is.
fn build_targets(raw: RawNodesFile, file: &Path) -> Result<(Vec<SshTarget>, Vec<(Location, String)>), ConfigError> {
    let ssh = match raw.ssh {
        Some(ssh) => ssh_overrides(ssh, file)?,
        None => SshOverrides::default(),
    };
    if raw.nodes.value.is_empty() {
        let msg = "is empty: expected at least one node";
        return Err(ConfigError::invalid(file, raw.nodes.referenced, "nodes", msg));
    }
    let mut seen = HashSet::new();
    let mut targets = Vec::new();
    let mut host_locations = Vec::new();
    for (i, node) in raw.nodes.value.into_iter().enumerate() {
        let node = node.value;
        let name = node.name;
        let err = |at, field: &str, msg: String| ConfigError::invalid(file, at, format!("nodes[{i}].{field}"), msg);
        if name.value.trim().is_empty() {
            return Err(err(name.referenced, "name", "node name is empty".into()));
        }
        if !seen.insert(name.value.clone()) {
            let msg = format!("node {:?} is listed twice", name.value);
            return Err(err(name.referenced, "name", msg));
        }
        let (host, at, field) = match node.host {
            Some(host) => (host.value, host.referenced, "host"),
            None => (name.value.clone(), name.referenced, "name"),
        };
        if host.is_empty() || host.starts_with('-') {
            return Err(err(at, field, format!("invalid host {host:?}")));
        }
        let mut target = SshTarget::new(name.value, host);
        ssh.apply(&mut target);
        if node.port.is_some() {
            target.port = node.port;
        }
        if node.user.is_some() {
            target.user = node.user;
        }
        targets.push(target);
        host_locations.push((at, format!("nodes[{i}].{field}")));
    }
    Ok((targets, host_locations))
}

/// Resolve every target's host at once (DNS can be slow); report the first that fails.
fn check_hosts(targets: &[SshTarget], locations: &[(Location, String)], file: &Path) -> Result<(), ConfigError> {
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets.iter().map(|t| scope.spawn(move || check_host(t))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("host check panicked".into()))).collect()
    });
    for (result, (at, path)) in results.into_iter().zip(locations) {
        result.map_err(|msg| ConfigError::invalid(file, *at, path.clone(), msg))?;
    }
    Ok(())
}

/// `Ok` when `target.host`, after ssh config aliases, resolves to an address.
fn check_host(target: &SshTarget) -> Result<(), String> {
    if target.host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let (hostname, port) = ssh_hostname(target)?;
    let unknown =
        || format!("unknown host {:?}: it does not resolve (checked with ssh -G and the system resolver)", target.host);
    if hostname.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    match (hostname.as_str(), port).to_socket_addrs() {
        Ok(addrs) if addrs.len() > 0 => Ok(()),
        _ => Err(unknown()),
    }
}

/// The host name and port that `ssh -G` says `target` maps to; the host itself (port 22) when
/// ssh is not installed.
fn ssh_hostname(target: &SshTarget) -> Result<(String, u16), String> {
    let mut cmd = Command::new("ssh");
    cmd.arg("-G");
    if let Some(config) = &target.ssh_config {
        cmd.arg("-F").arg(config);
    }
    if let Some(port) = target.port {
        cmd.arg("-p").arg(port.to_string());
    }
    if let Some(user) = &target.user {
        cmd.arg("-l").arg(user);
    }
    cmd.arg(&target.host).stdin(Stdio::null());
    let output = match cmd.output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((target.host.clone(), target.port.unwrap_or(22)));
        }
        Err(e) => return Err(format!("cannot check host {:?}: ssh -G: {e}", target.host)),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.lines().next().unwrap_or("no output").trim();
        return Err(format!("cannot check host {:?}: ssh -G failed: {reason}", target.host));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let field = |key: &str| stdout.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ').map(str::trim));
    let hostname = field("hostname").unwrap_or(&target.host).to_string();
    let port = field("port").and_then(|p| p.parse().ok()).unwrap_or(22);
    Ok((hostname, port))
}

/// One node line of a nodes file written by [`nodes_file_yaml`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    /// The node's name in tests.
    pub name: String,
    /// Host name or address ssh connects to.
    pub host: String,
    /// TCP port for this node only.
    pub port: Option<u16>,
    /// Login user for this node only.
    pub user: Option<String>,
}

impl NodeEntry {
    /// A node reached at `host` with the file's common ssh settings.
    pub fn new(name: impl Into<String>, host: impl Into<String>) -> Self {
        NodeEntry { name: name.into(), host: host.into(), port: None, user: None }
    }
}

/// The text of a nodes file with the common `ssh` settings and these nodes; what
/// [`load_nodes_file`] reads back. Paths that are not UTF-8 are written lossily.
pub fn nodes_file_yaml(ssh: &SshOverrides, nodes: &[NodeEntry]) -> String {
    let mut out = String::from("# A brawl nodes file: the hosts a test runs on.\n");
    let mut s = Vec::new();
    if let Some(user) = &ssh.user {
        s.push(format!("user: {}", quote(user)));
    }
    if let Some(port) = ssh.port {
        s.push(format!("port: {port}"));
    }
    let paths = [("key-file", &ssh.key_file), ("known-hosts", &ssh.known_hosts)];
    let paths = paths.into_iter().chain([("ssh-config", &ssh.ssh_config)]);
    for (key, path) in paths {
        if let Some(path) = path {
            s.push(format!("{key}: {}", quote(&path.to_string_lossy())));
        }
    }
    if let Some(checking) = ssh.host_key_checking {
        let value = match checking {
            HostKeyChecking::Strict => "true",
            HostKeyChecking::AcceptNew => "accept-new",
            HostKeyChecking::Off => "false",
        };
        s.push(format!("strict-host-key-checking: {value}"));
    }
    match &ssh.sudo {
        None => {}
        Some(Sudo::None) => s.push("sudo: none".into()),
        Some(Sudo::Passwordless) => s.push("sudo: passwordless".into()),
        Some(Sudo::PasswordEnv(var)) => s.push(format!("sudo: {{ password-env: {} }}", quote(var))),
    }
    for (key, d) in [("connect-timeout", ssh.connect_timeout), ("command-timeout", ssh.command_timeout)] {
        if let Some(d) = d {
            s.push(format!("{key}: {}", quote(&humantime::format_duration(d).to_string())));
        }
    }
    if !s.is_empty() {
        out.push_str("ssh:\n");
        for line in s {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str(if nodes.is_empty() { "nodes: []\n" } else { "nodes:\n" });
    for node in nodes {
        out.push_str(&format!("  - {{ name: {}, host: {}", quote(&node.name), quote(&node.host)));
        if let Some(port) = node.port {
            out.push_str(&format!(", port: {port}"));
        }
        if let Some(user) = &node.user {
            out.push_str(&format!(", user: {}", quote(user)));
        }
        out.push_str(" }\n");
    }
    out
}

/// A YAML double-quoted scalar holding exactly `s` (a JSON string is one).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

#[cfg(test)]
mod tests {
    // Snapshot files are named without the crate name, so they are found from any crate.
    macro_rules! snap {
        ($value:expr) => {
            insta::with_settings!(
                { prepend_module_to_snapshot => false, snapshot_path => "snapshots/nodes_file" },
                { insta::assert_snapshot!($value) }
            )
        };
    }

    use super::*;
    use crate::config::load::load_str;
    use std::path::PathBuf;
    use std::time::Duration;

    fn nodes(text: &str) -> Result<Vec<SshTarget>, ConfigError> {
        let file = Path::new("test.yaml");
        validate_nodes(load_str(text, file)?, file)
    }

    fn err(text: &str) -> String {
        nodes(text).unwrap_err().to_string()
    }

    /// The fuzz target's entry point checks all but host resolution, so it never sends a
    /// query for a made-up name (`unknown_host` shows `load_nodes_file` refusing it).
    #[test]
    fn unresolved_parse_skips_only_host_resolution() {
        let file = Path::new("nodes.yaml");
        let text = "nodes:\n  - { name: n1, host: 127.0.0.1 }\n  - { name: n2, host: no-such-host.invalid }\n";
        let targets = parse_nodes_file_unresolved(text, file).unwrap();
        assert_eq!(targets.iter().map(|t| t.host.as_str()).collect::<Vec<_>>(), ["127.0.0.1", "no-such-host.invalid"]);
        let dup = "nodes:\n  - { name: n1 }\n  - { name: n1 }\n";
        let e = parse_nodes_file_unresolved(dup, file).unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
    }

    #[test]
    fn literal_addresses_with_strict_checking_by_default() {
        let text = "nodes:\n  - { name: n1, host: 10.77.3.11 }\n  - { name: n2, host: '::1', port: 2222, user: admin }\n  - { name: localhost }\n";
        let mut n2 = SshTarget::new("n2", "::1");
        n2.port = Some(2222);
        n2.user = Some("admin".into());
        let expected = vec![SshTarget::new("n1", "10.77.3.11"), n2, SshTarget::new("localhost", "localhost")];
        assert_eq!(nodes(text).unwrap(), expected);
        assert!(expected.iter().all(|t| t.host_key_checking == HostKeyChecking::Strict));
    }

    #[test]
    fn checking_is_off_only_when_asked() {
        let check = |v: &str| {
            let text =
                format!("ssh: {{ strict-host-key-checking: {v} }}\nnodes: [ {{ name: n1, host: 127.0.0.1 }} ]\n");
            nodes(&text).unwrap()[0].host_key_checking
        };
        assert_eq!(check("true"), HostKeyChecking::Strict);
        assert_eq!(check("accept-new"), HostKeyChecking::AcceptNew);
        assert_eq!(check("false"), HostKeyChecking::Off);
    }

    #[test]
    fn relative_paths_follow_the_nodes_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nodes.yaml");
        let text = "ssh: { user: root, key-file: id_ed25519, known-hosts: /etc/kh, sudo: passwordless }\nnodes: [ { name: n1, host: 10.0.0.1, user: admin } ]\n";
        std::fs::write(&file, text).unwrap();
        let targets = load_nodes_file(&file).unwrap();
        let mut expected = SshTarget::new("n1", "10.0.0.1");
        expected.user = Some("admin".into());
        expected.key_file = Some(dir.path().join("id_ed25519"));
        expected.known_hosts = Some(PathBuf::from("/etc/kh"));
        expected.sudo = Sudo::Passwordless;
        assert_eq!(targets, vec![expected]);
    }

    #[test]
    fn ssh_config_aliases_resolve() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ssh_config"), "Host db1\n  HostName 127.0.0.1\n").unwrap();
        let file = dir.path().join("nodes.yaml");
        let text = "ssh: { ssh-config: ssh_config }\nnodes: [ { name: n1, host: db1 } ]\n";
        std::fs::write(&file, text).unwrap();
        assert_eq!(load_nodes_file(&file).unwrap()[0].host, "db1");
    }

    #[test]
    fn unknown_host() {
        let text = "nodes:\n  - { name: n1, host: 127.0.0.1 }\n  - { name: n2, host: no-such-host.invalid }\n";
        snap!(err(text));
    }

    #[test]
    fn unknown_host_defaulted_from_the_name() {
        snap!(err("nodes:\n  - name: no-such-host.invalid\n"));
    }

    #[test]
    fn duplicate_names() {
        let text = "nodes:\n  - { name: n1, host: 10.0.0.1 }\n  - { name: n1, host: 10.0.0.2 }\n";
        snap!(err(text));
    }

    #[test]
    fn empty_node_list() {
        snap!(err("ssh: { user: root }\nnodes: []\n"));
    }

    #[test]
    fn unknown_node_key() {
        snap!(err("nodes:\n  - { name: n1, hots: 10.0.0.1 }\n"));
    }

    #[test]
    fn written_file_reads_back() {
        let ssh = SshOverrides {
            user: Some("root".into()),
            port: Some(22),
            key_file: Some("/var/lib/brawl/clusters/local/id_ed25519".into()),
            known_hosts: Some("/var/lib/brawl/clusters/local/known_hosts".into()),
            host_key_checking: Some(HostKeyChecking::Strict),
            ssh_config: Some("/tmp/odd \"dir\"\\cfg".into()),
            sudo: Some(Sudo::PasswordEnv("PW".into())),
            connect_timeout: Some(Duration::from_millis(1500)),
            command_timeout: Some(Duration::from_secs(90)),
        };
        let mut n2 = NodeEntry::new("n2", "10.77.3.12");
        n2.port = Some(2222);
        n2.user = Some("admin: #1".into());
        let entries = [NodeEntry::new("n1", "10.77.3.11"), n2];
        let text = nodes_file_yaml(&ssh, &entries);
        snap!(text);
        let raw = load_str(&text, Path::new("/x/nodes.yaml")).unwrap();
        let mut t1 = SshTarget::new("n1", "10.77.3.11");
        ssh.apply(&mut t1);
        let mut t2 = SshTarget::new("n2", "10.77.3.12");
        ssh.apply(&mut t2);
        t2.port = Some(2222);
        t2.user = Some("admin: #1".into());
        assert_eq!(validate_nodes(raw, Path::new("/x/nodes.yaml")).unwrap(), vec![t1, t2]);
    }

    #[test]
    fn quote_escapes() {
        assert_eq!(quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
