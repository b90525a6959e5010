//! `ControlError`: what can go wrong talking to a node, with the node, command and stderr tail.

use std::time::Duration;

/// How many bytes of stderr an error keeps (the tail, where the reason usually is).
pub const STDERR_TAIL: usize = 800;

/// An error of the control layer. Every variant names the node.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The SSH connection could not be established (after retries).
    #[error("cannot connect to {node} ({addr}): {reason}")]
    Connect {
        /// Node name.
        node: String,
        /// `user@host:port` as far as known.
        addr: String,
        /// Why, from ssh's own log (e.g. a refused connection or a timeout).
        reason: String,
    },
    /// The node's host key is not the one recorded in known_hosts, or is unknown under strict checking.
    #[error("host key of {node} ({addr}) is not trusted: {reason}; if the node was rebuilt, remove its old key with `ssh-keygen -R {host}` (or the cluster's known_hosts) and record the new one")]
    HostKey {
        /// Node name.
        node: String,
        /// `user@host:port`.
        addr: String,
        /// The host as written in known_hosts.
        host: String,
        /// ssh's message.
        reason: String,
    },
    /// The command ran and exited non-zero (only for commands that must succeed).
    #[error("command on {node} exited with {status}: `{cmd}`{}", stderr_suffix(.stderr))]
    Exec {
        /// Node name.
        node: String,
        /// The command as the caller wrote it (before sudo/timeout wrapping; no secrets).
        cmd: String,
        /// Exit status; -1 when the process was killed by a signal.
        status: i32,
        /// The tail of stderr.
        stderr: String,
    },
    /// The command did not finish within its time limit; the remote side was told to kill it.
    #[error("command on {node} timed out after {}: `{cmd}`", humantime::format_duration(*.after))]
    Timeout {
        /// Node name.
        node: String,
        /// The command.
        cmd: String,
        /// The time limit.
        after: Duration,
    },
    /// The connection broke while the command was running: it may or may not have run, so it is
    /// not retried.
    #[error("connection to {node} broke during `{cmd}`; the command may have run: {reason}")]
    Indeterminate {
        /// Node name.
        node: String,
        /// The command.
        cmd: String,
        /// The transport error.
        reason: String,
    },
    /// A file transfer failed.
    #[error("{direction} of {path} on {node} failed: {reason}")]
    Transfer {
        /// Node name.
        node: String,
        /// "upload" or "download".
        direction: &'static str,
        /// Remote path.
        path: String,
        /// Why.
        reason: String,
    },
    /// A local I/O error (reading a file to upload, writing a downloaded one).
    #[error("local file {path}: {source}")]
    Local {
        /// Local path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Sudo needs a password from an environment variable that is not set.
    #[error("sudo for {node} needs the password in ${var}, which is not set")]
    SudoPassword {
        /// Node name.
        node: String,
        /// The variable.
        var: String,
    },
}

impl ControlError {
    /// The node this error is about.
    pub fn node(&self) -> &str {
        match self {
            ControlError::Connect { node, .. }
            | ControlError::HostKey { node, .. }
            | ControlError::Exec { node, .. }
            | ControlError::Timeout { node, .. }
            | ControlError::Indeterminate { node, .. }
            | ControlError::Transfer { node, .. }
            | ControlError::SudoPassword { node, .. } => node,
            ControlError::Local { .. } => "control node",
        }
    }
}

fn stderr_suffix(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!(": {s}")
    }
}

/// The last `STDERR_TAIL` bytes of `s`, cut at a character boundary, with a marker when cut.
pub fn tail(s: &str) -> String {
    if s.len() <= STDERR_TAIL {
        return s.to_string();
    }
    let mut start = s.len() - STDERR_TAIL;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &s[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_error_names_node_command_status_and_stderr() {
        let e = ControlError::Exec { node: "n2".into(), cmd: "false".into(), status: 3, stderr: "boom\n".into() };
        assert_eq!(e.to_string(), "command on n2 exited with 3: `false`: boom");
        assert_eq!(e.node(), "n2");
    }

    #[test]
    fn tail_keeps_the_end() {
        let long = "x".repeat(STDERR_TAIL) + "END";
        let t = tail(&long);
        assert!(t.starts_with("...") && t.ends_with("END"));
        assert_eq!(tail("short"), "short");
    }
}
