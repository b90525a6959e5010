//! Host commands for the local cluster (`ip`, `ssh-keygen`, `kill`), run synchronously.

use std::path::Path;
use std::process::{Command, Stdio};

use super::LocalError;

/// Runs `program args`; an error carries the command line, status and stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, LocalError> {
    let cmd_line = || std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().map_err(|e| LocalError::Command {
        cmd: cmd_line(),
        status: "not started".into(),
        stderr: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(LocalError::Command {
            cmd: cmd_line(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// True when `program` is found on PATH (or is an existing absolute path).
pub fn have(program: &str) -> bool {
    if program.starts_with('/') {
        return Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// True when this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The pids of processes in network namespace `ns` (empty when it has none or does not exist).
pub fn netns_pids(ns: &str) -> Vec<i32> {
    run("ip", &["netns", "pids", ns])
        .map(|s| s.split_whitespace().filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default()
}

/// Names of all network namespaces on this machine.
pub fn netns_list() -> Vec<String> {
    run("ip", &["netns", "list"])
        .map(|s| s.lines().filter_map(|l| l.split_whitespace().next().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Names of all links in the host's network namespace.
pub fn link_list() -> Vec<String> {
    run("ip", &["-o", "link", "show"])
        .map(|s| {
            s.lines()
                .filter_map(|l| l.split(": ").nth(1))
                .map(|n| n.split('@').next().unwrap_or(n).to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Every IPv4 address (with prefix) on this machine's host-namespace interfaces and routes.
pub fn ipv4_in_use() -> String {
    let mut s = run("ip", &["-4", "-o", "addr", "show"]).unwrap_or_default();
    s.push_str(&run("ip", &["-4", "route", "show"]).unwrap_or_default());
    s
}

/// Sends SIGKILL to `pid`, ignoring processes that are already gone.
pub fn kill9(pid: i32) {
    // SAFETY: kill has no memory-safety preconditions; a stale pid only yields ESRCH.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Pids of processes whose command line mentions `needle` (not this process).
pub fn pids_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}
