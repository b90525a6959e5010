//! `RemoteCommand` (what to run on a node, and how) and `CmdOutput` (what came back), plus the
//! one function that turns a command into the line ssh sends: sudo and a remote time limit.

use std::time::Duration;

use super::escape::quote;
use super::target::Sudo;

/// Extra time the remote `timeout` gives a command after SIGTERM before SIGKILL.
const KILL_AFTER_SECS: u64 = 2;
/// Marks the line, at the end of stderr, that carries the command's exit status. The ssh mux
/// protocol cannot tell a signal-killed command from a broken connection and turns status 127 into
/// an error that loses the output; the status printed by the login shell has neither problem.
pub const EXIT_MARKER: &str = "__brawl_exit__";

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
    let line = format!("{line}; printf '\\n{EXIT_MARKER}%d\\n' \"$?\" >&2");
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

/// Splits the exit-status line off `stderr`: `(status, stderr without it)`, or `None` when the
/// line is missing (the command's shell did not finish: the connection or the session died).
pub fn split_status(stderr: &str) -> Option<(i32, &str)> {
    let body = stderr.strip_suffix('\n')?;
    let at = body.rfind(EXIT_MARKER)?;
    let status = body[at + EXIT_MARKER.len()..].parse().ok()?;
    let rest = body[..at].strip_suffix('\n')?;
    Some((status, rest))
}

/// True when an exit status means the remote `timeout` killed the script (124: TERM, 137: KILL).
pub fn is_remote_timeout(status: i32) -> bool {
    status == 124 || status == 137
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(c: &RemoteCommand, sudo: &Sudo) -> String {
        wrap(c, sudo, Duration::from_secs(1), None).0
    }

    #[test]
    fn plain_command_runs_under_timeout() {
        let (line, stdin) = wrap(&RemoteCommand::new("echo 'hi'"), &Sudo::None, Duration::from_secs(5), None);
        assert!(line.starts_with(r"timeout -k 2 5.000s sh -c 'echo '\''hi'\'''; printf"), "{line}");
        assert_eq!(stdin, None);
    }

    #[test]
    fn sudo_is_applied_only_when_asked_and_needed() {
        let c = RemoteCommand::new("id -u").sudo();
        assert!(line(&c, &Sudo::None).starts_with("timeout -k 2 1.000s sh -c 'id -u'; "));
        assert!(line(&c, &Sudo::Passwordless).starts_with("sudo -n -- timeout -k 2 1.000s sh -c 'id -u'; "));
        let unsudo = RemoteCommand::new("id -u");
        assert!(line(&unsudo, &Sudo::Passwordless).starts_with("timeout -k 2 1.000s sh -c 'id -u'; "));
    }

    #[test]
    fn sudo_password_goes_to_stdin_never_the_command_line() {
        let c = RemoteCommand::new("cat").sudo().stdin(b"data".to_vec());
        let (line, stdin) = wrap(&c, &Sudo::PasswordEnv("PW".into()), Duration::from_secs(1), Some("s3cret"));
        assert!(!line.contains("s3cret"), "{line}");
        assert_eq!(stdin.as_deref(), Some(&b"s3cret\ndata"[..]));
    }

    /// Runs the wrapped line in a local shell, as sshd would on a node.
    fn run(script: &str, limit: Duration) -> (String, i32, String) {
        let (line, _) = wrap(&RemoteCommand::new(script), &Sudo::None, limit, None);
        let out = std::process::Command::new("sh").arg("-c").arg(&line).output().expect("sh runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let (status, rest) = split_status(&stderr).expect("the status line is there");
        (String::from_utf8_lossy(&out.stdout).into_owned(), status, rest.to_string())
    }

    #[test]
    fn the_wrapped_line_reports_status_and_output_in_a_real_shell() {
        assert_eq!(
            run("printf '%s' \"$((1+2))\"; echo err >&2; exit 3", Duration::from_secs(5)),
            ("3".into(), 3, "err\n".into())
        );
        assert_eq!(run("printf 'no newline' >&2", Duration::from_secs(5)).2, "no newline");
        assert_eq!(run("no-such-command-brawl 2>/dev/null", Duration::from_secs(5)).1, 127);
        assert_eq!(run("kill -9 $$", Duration::from_secs(5)).1, 137);
        assert!(is_remote_timeout(run("sleep 5", Duration::from_millis(200)).1));
    }

    #[test]
    fn a_missing_status_line_is_detected() {
        assert_eq!(split_status("partial output"), None);
        assert_eq!(split_status(""), None);
        assert_eq!(split_status("x\n__brawl_exit__0\n"), Some((0, "x")));
    }
}
