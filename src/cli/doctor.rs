//! `brawl doctor`: pre-flight checks of every node, each failure with its fix.

use std::time::Duration;

use clap::Args;

use super::{CliError, NodeArgs, EXIT_INVALID, EXIT_OK};
use crate::cluster::Cluster;
use crate::control::{ControlError, Remote, RemoteCommand, SshRemote};

/// Arguments of `brawl doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    nodes: NodeArgs,
}

/// Tools the tests use on nodes, with the Debian package that has each.
const TOOLS: &[(&str, &str)] = &[
    ("iptables", "iptables"),
    ("ip", "iproute2"),
    ("tc", "iproute2"),
    ("pkill", "procps"),
    ("killall", "psmisc"),
    ("timeout", "coreutils"),
    ("setsid", "util-linux"),
    ("start-stop-daemon", "dpkg"),
];

/// One check's outcome.
struct Check {
    name: String,
    ok: bool,
    detail: String,
    fix: String,
}

impl Check {
    fn pass(name: &str, detail: impl Into<String>) -> Self {
        Check { name: name.into(), ok: true, detail: detail.into(), fix: String::new() }
    }
    fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { name: name.into(), ok: false, detail: detail.into(), fix: fix.into() }
    }
}

/// Runs every check on every node; exit 0 when all pass, 1 otherwise.
pub async fn run(args: DoctorArgs) -> Result<u8, CliError> {
    let targets = args.nodes.targets()?;
    let (_, remotes) = Cluster::ssh(targets);
    let results = futures::future::join_all(remotes.iter().map(|r| check_node(r))).await;
    let mut all_ok = true;
    for (remote, checks) in remotes.iter().zip(results) {
        println!("{} ({})", remote.name(), remote.addr());
        for c in checks {
            all_ok &= c.ok;
            let mark = if c.ok { "ok  " } else { "FAIL" };
            println!("  {mark} {:<14} {}", c.name, c.detail);
            if !c.ok {
                println!("       fix: {}", c.fix);
            }
        }
    }
    Ok(if all_ok { EXIT_OK } else { EXIT_INVALID })
}

async fn check_node(remote: &SshRemote) -> Vec<Check> {
    let mut checks = Vec::new();
    let t = remote.target();
    match remote.connect().await {
        Ok(()) => {
            checks.push(Check::pass("reachable", format!("ssh to {} works", remote.addr())));
            checks.push(Check::pass("host key", "matches known_hosts"));
        }
        Err(e @ ControlError::HostKey { .. }) => {
            checks.push(Check::pass("reachable", "answers"));
            let kh =
                t.known_hosts.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "~/.ssh/known_hosts".into());
            checks.push(Check::fail(
                "host key",
                e.to_string(),
                format!("check the node's fingerprint, then `ssh-keyscan -t ed25519 {} >> {kh}`", t.host),
            ));
            return checks;
        }
        Err(e) => {
            checks.push(Check::fail(
                "reachable",
                e.to_string(),
                "check the address and port in the nodes file, that sshd runs on the node, and that the key is authorized",
            ));
            return checks;
        }
    }
    let quick = Duration::from_secs(10);
    match remote.exec(&RemoteCommand::new("id -u").sudo().timeout(quick)).await {
        Ok(out) if out.stdout.trim() == "0" => checks.push(Check::pass("root", "commands can run as root")),
        Ok(out) => checks.push(Check::fail(
            "root",
            format!("commands run as uid {}", out.stdout.trim()),
            "log in as root, or set `sudo: passwordless` in the ssh section",
        )),
        Err(e) => checks.push(Check::fail(
            "root",
            e.to_string(),
            "give the user passwordless sudo (`echo 'USER ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/brawl`)",
        )),
    }
    match remote.exec(&RemoteCommand::new("iptables -w -L INPUT -n >/dev/null").sudo().timeout(quick)).await {
        Ok(_) => checks.push(Check::pass("iptables", "can list and change rules")),
        Err(e) => checks.push(Check::fail("iptables", e.to_string(), "apt-get install -y iptables (and run as root)")),
    }
    let probe = TOOLS
        .iter()
        .map(|(tool, _)| format!("command -v {tool} >/dev/null || echo {tool}"))
        .collect::<Vec<_>>()
        .join("; ");
    match remote.exec(&RemoteCommand::new(probe).sudo().timeout(quick)).await {
        Ok(out) => {
            let missing: Vec<&str> = out.stdout.split_whitespace().collect();
            if missing.is_empty() {
                checks.push(Check::pass("tools", TOOLS.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ")));
            } else {
                let mut packages: Vec<&str> =
                    TOOLS.iter().filter(|(t, _)| missing.contains(t)).map(|(_, p)| *p).collect();
                packages.dedup();
                checks.push(Check::fail(
                    "tools",
                    format!("missing: {}", missing.join(", ")),
                    format!("apt-get install -y {}", packages.join(" ")),
                ));
            }
        }
        Err(e) => checks.push(Check::fail("tools", e.to_string(), "see the error")),
    }
    checks
}
