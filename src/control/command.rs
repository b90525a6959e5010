//! `RemoteCommand` (what to run on a node, and how) and `CmdOutput` (what came back), plus the
//! one function that turns a command into the line ssh sends: sudo and a remote time limit.

use std::time::Duration;

use super::escape::quote;
use super::target::Sudo;

/// Extra time the remote `timeout` gives a command after SIGTERM before SIGKILL.
const KILL_AFTER_SECS: u64 = 2;

/// A shell script to run on one node.
#[derive(Clone, Debug)]
pub struct RemoteCommand {
    /// The script, run by `sh -c` on the node.
    pub script: String,
    /// Run as root through the node's sudo method (a no-op when logged in as root).
    pub sudo: bool,
    /// Time limit; `None` uses the node's default command timeout.
    pub timeout: Option<Duration>,
    /// Bytes written to the command's stdin.
    pub stdin: Option<Vec<u8>>,
    /// A non-zero exit is a `ControlError::Exec` (the default); when false it is just data.
    pub check: bool,
    /// The command may be run again if the connection broke while it ran (it is idempotent).
    pub idempotent: bool,
}

impl RemoteCommand {
    /// A checked, non-idempotent command without sudo, stdin or its own timeout.
    pub fn new(script: impl Into<String>) -> Self {
        RemoteCommand { script: script.into(), sudo: false, timeout: None, stdin: None, check: true, idempotent: false }
    }
    /// Runs the command as root through sudo where the login user is not root.
    pub fn sudo(mut self) -> Self {
        self.sudo = true;
        self
    }
    /// Sets the command's own time limit.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }
    /// Feeds these bytes to the command's stdin.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }
    /// A non-zero exit status is returned as data instead of an error.
    pub fn unchecked(mut self) -> Self {
        self.check = false;
        self
    }
    /// Marks the command safe to run twice, so a broken connection may be retried.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }
}

/// What a finished command left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdOutput {
    /// Exit status; -1 when killed by a signal.
    pub status: i32,
    /// Everything the command wrote to stdout (lossily decoded as UTF-8).
    pub stdout: String,
    /// Everything the command wrote to stderr.
    pub stderr: String,
    /// Wall time from sending the command to its exit.
    pub duration: Duration,
}

impl CmdOutput {
    /// True when the command exited 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// The line ssh sends for `cmd`, and the bytes to feed to its stdin first (a sudo password).
///
/// The script runs under the remote `timeout` so a command whose ssh channel is gone cannot run
/// forever; with sudo, `timeout` runs as root so it can kill what the script started.
pub fn wrap(cmd: &RemoteCommand, sudo: &Sudo, limit: Duration, password: Option<&str>) -> (String, Option<Vec<u8>>) {
    let secs = limit.as_secs_f64().max(0.001);
    let inner = format!("timeout -k {KILL_AFTER_SECS} {secs:.3}s sh -c {}", quote(&cmd.script));
    let (line, prefix) = match (cmd.sudo, sudo) {
        (false, _) | (true, Sudo::None) => (inner, None),
        (true, Sudo::Passwordless) => (format!("sudo -n -- {inner}"), None),
        (true, Sudo::PasswordEnv(_)) => {
            let mut pw = password.unwrap_or_default().as_bytes().to_vec();
            pw.push(b'\n');
            (format!("sudo -S -p '' -- {inner}"), Some(pw))
        }
    };
    let stdin = match (prefix, &cmd.stdin) {
        (None, None) => None,
        (Some(p), None) => Some(p),
        (None, Some(s)) => Some(s.clone()),
        (Some(mut p), Some(s)) => {
            p.extend_from_slice(s);
            Some(p)
        }
    };
    (line, stdin)
}

/// True when an exit status means the remote `timeout` killed the script (124: TERM, 137: KILL).
pub fn is_remote_timeout(status: i32) -> bool {
    status == 124 || status == 137
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_command_runs_under_timeout() {
        let (line, stdin) = wrap(&RemoteCommand::new("echo 'hi'"), &Sudo::None, Duration::from_secs(5), None);
        assert_eq!(line, "timeout -k 2 5.000s sh -c 'echo '\\''hi'\\'''");
        assert_eq!(stdin, None);
    }

    #[test]
    fn sudo_is_applied_only_when_asked_and_needed() {
        let c = RemoteCommand::new("id -u").sudo();
        assert_eq!(wrap(&c, &Sudo::None, Duration::from_secs(1), None).0, "timeout -k 2 1.000s sh -c 'id -u'");
        assert_eq!(
            wrap(&c, &Sudo::Passwordless, Duration::from_secs(1), None).0,
            "sudo -n -- timeout -k 2 1.000s sh -c 'id -u'"
        );
        let unsudo = RemoteCommand::new("id -u");
        assert_eq!(
            wrap(&unsudo, &Sudo::Passwordless, Duration::from_secs(1), None).0,
            "timeout -k 2 1.000s sh -c 'id -u'"
        );
    }

    #[test]
    fn sudo_password_goes_to_stdin_never_the_command_line() {
        let c = RemoteCommand::new("cat").sudo().stdin(b"data".to_vec());
        let (line, stdin) = wrap(&c, &Sudo::PasswordEnv("PW".into()), Duration::from_secs(1), Some("s3cret"));
        assert!(!line.contains("s3cret"), "{line}");
        assert_eq!(stdin.as_deref(), Some(&b"s3cret\ndata"[..]));
    }

    #[test]
    fn the_wrapped_line_runs_in_a_real_shell() {
        let (line, _) =
            wrap(&RemoteCommand::new("printf '%s' \"$((1+2))\"; exit 3"), &Sudo::None, Duration::from_secs(5), None);
        let out = std::process::Command::new("sh").arg("-c").arg(&line).output().expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "3");
        assert_eq!(out.status.code(), Some(3));
        let (line, _) = wrap(&RemoteCommand::new("sleep 5"), &Sudo::None, Duration::from_millis(200), None);
        let out = std::process::Command::new("sh").arg("-c").arg(&line).output().expect("sh runs");
        assert!(is_remote_timeout(out.status.code().unwrap_or(-1)));
    }
}
