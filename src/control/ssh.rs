//! `SshRemote`: one node reached through the system `ssh` with a multiplexed master connection
//! (the `openssh` crate, native mux), and files moved with SFTP over that same connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openssh::{Session, Stdio};
use openssh_sftp_client::{Sftp, SftpOptions};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, Semaphore};
use tracing::{debug, warn};

use super::command::{is_remote_timeout, split_status, wrap, CmdOutput, RemoteCommand};
use super::error::{tail, ControlError};
use super::escape::quote;
use super::master::{self, MasterError};
use super::target::{SshTarget, Sudo};
use super::Remote;

/// Concurrent channels per connection. OpenSSH's sshd allows 10 sessions per connection
/// (`MaxSessions`) and closes them asynchronously, so stay below it (Jepsen uses 6).
pub const MAX_CHANNELS: usize = 8;
/// Connection attempts before giving up (a command is only re-sent when it never started).
const CONNECT_ATTEMPTS: u32 = 3;
/// Time the local side waits past the remote `timeout` for the command's exit to arrive.
const LOCAL_GRACE: Duration = Duration::from_secs(4);

/// A node reached over SSH. Cheap to share (`Arc`); commands from many tasks are multiplexed over
/// one connection, reconnecting when it breaks.
pub struct SshRemote {
    target: SshTarget,
    /// The current master connection, replaced after it breaks. A mutex, not a lock-free slot,
    /// so that concurrent callers that find it broken reconnect once, not once each.
    session: Mutex<Option<Arc<Session>>>,
    /// Caps concurrent channels on the connection; see `MAX_CHANNELS`.
    channels: Semaphore,
}

impl SshRemote {
    /// A remote for `target`; nothing is connected until the first command or `connect`.
    pub fn new(target: SshTarget) -> Self {
        SshRemote { target, session: Mutex::new(None), channels: Semaphore::new(MAX_CHANNELS) }
    }

    /// The settings this remote connects with.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// `user@host:port`, for messages.
    pub fn addr(&self) -> String {
        let t = &self.target;
        let user = t.user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
        let port = t.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{user}{}{port}", t.host)
    }

    /// Opens the master connection now (idempotent), retrying transient failures.
    pub async fn connect(&self) -> Result<(), ControlError> {
        self.session().await.map(|_| ())
    }

    /// The live session, connecting first when there is none.
    async fn session(&self) -> Result<Arc<Session>, ControlError> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        // Retries end at the node's connect timeout: an unreachable node fails within it.
        let deadline = Instant::now() + self.target.connect_timeout;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let reason = match master::open(&self.target).await {
                Ok(s) => {
                    debug!(node = %self.target.name, elapsed_ms = started.elapsed().as_millis() as u64, "connected");
                    let s = Arc::new(s);
                    *slot = Some(s.clone());
                    return Ok(s);
                }
                Err(MasterError::HostKey(reason)) => {
                    return Err(ControlError::HostKey {
                        node: self.target.name.clone(),
                        addr: self.addr(),
                        host: self.target.host.clone(),
                        reason,
                    });
                }
                Err(MasterError::Auth(reason)) => {
                    return Err(ControlError::Connect { node: self.target.name.clone(), addr: self.addr(), reason });
                }
                Err(MasterError::Other(reason)) => reason,
            };
            warn!(node = %self.target.name, attempt, %reason, "ssh connect failed");
            let pause = Duration::from_millis(100 * u64::from(attempt));
            if attempt >= CONNECT_ATTEMPTS || Instant::now() + pause >= deadline {
                return Err(ControlError::Connect { node: self.target.name.clone(), addr: self.addr(), reason });
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Forgets `broken` so the next command reconnects (unless another task already did).
    async fn invalidate(&self, broken: &Arc<Session>) {
        let mut slot = self.session.lock().await;
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, broken)) {
            *slot = None;
            master::forget(&self.target).await;
        }
    }

    fn password(&self) -> Result<Option<String>, ControlError> {
        match &self.target.sudo {
            Sudo::PasswordEnv(var) => std::env::var(var)
                .map(Some)
                .map_err(|_| ControlError::SudoPassword { node: self.target.name.clone(), var: var.clone() }),
            _ => Ok(None),
        }
    }

    /// One attempt: `Ok(Err(..))` means the command never started and may be sent again.
    async fn exec_once(
        &self,
        session: &Arc<Session>,
        cmd: &RemoteCommand,
        limit: Duration,
    ) -> Result<Result<CmdOutput, String>, ControlError> {
        let password = self.password()?;
        let (line, stdin) = wrap(cmd, &self.target.sudo, limit, password.as_deref());
        let mut c = session.raw_command(&line);
        c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = match c.spawn().await {
            Ok(child) => child,
            Err(e) => return Ok(Err(error_chain(&e))),
        };
        let node = &self.target.name;
        let indeterminate =
            |reason: String| ControlError::Indeterminate { node: node.clone(), cmd: cmd.script.clone(), reason };
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin().take()) {
            pipe.write_all(&bytes).await.map_err(|e| indeterminate(e.to_string()))?;
            pipe.shutdown().await.map_err(|e| indeterminate(e.to_string()))?;
        }
        let waited = tokio::time::timeout(limit + LOCAL_GRACE, child.wait_with_output()).await;
        let out = match waited {
            Err(_) => return Err(ControlError::Timeout { node: node.clone(), cmd: cmd.script.clone(), after: limit }),
            Ok(Err(e)) => return Err(indeterminate(error_chain(&e))),
            Ok(Ok(out)) => out,
        };
        let duration = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let Some((status, stderr)) = split_status(&stderr) else {
            // A login shell that exits by itself (e.g. nologin) is an answer; a shell that
            // vanished without a status (killed, or the connection died) is not.
            let Some(code) = out.status.code() else {
                return Err(indeterminate(format!(
                    "the command's shell ended without reporting a status ({})",
                    out.status
                )));
            };
            return Ok(Ok(CmdOutput {
                status: code,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: format!("{} (the login shell exited with {code} before running the command)", stderr.trim()),
                duration,
            }));
        };
        if is_remote_timeout(status) && duration >= limit {
            return Err(ControlError::Timeout { node: node.clone(), cmd: cmd.script.clone(), after: limit });
        }
        Ok(Ok(CmdOutput {
            status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: stderr.to_string(),
            duration,
        }))
    }

    async fn sftp(&self) -> Result<Sftp, String> {
        let session = self.session().await.map_err(|e| e.to_string())?;
        Sftp::from_clonable_session(session, SftpOptions::default()).await.map_err(|e| error_chain(&e))
    }

    fn transfer_error(&self, direction: &'static str, path: &str, reason: String) -> ControlError {
        ControlError::Transfer { node: self.target.name.clone(), direction, path: path.to_string(), reason }
    }

    /// True when commands must go through sudo to act as root.
    fn needs_sudo(&self) -> bool {
        !matches!(self.target.sudo, Sudo::None)
    }
}

#[async_trait]
impl Remote for SshRemote {
    fn name(&self) -> &str {
        &self.target.name
    }

    fn host(&self) -> &str {
        &self.target.host
    }

    async fn exec(&self, cmd: &RemoteCommand) -> Result<CmdOutput, ControlError> {
        let limit = cmd.timeout.unwrap_or(self.target.command_timeout);
        let _permit = self.channels.acquire().await.expect("the channel semaphore is never closed");
        let mut attempt = 0;
        loop {
            attempt += 1;
            let session = self.session().await?;
            let result = self.exec_once(&session, cmd, limit).await;
            let retry_reason = match result {
                Ok(Ok(out)) => {
                    debug!(node = %self.target.name, cmd = %cmd.script, status = out.status,
                        elapsed_ms = out.duration.as_millis() as u64, "ran");
                    if cmd.check && !out.success() {
                        return Err(ControlError::Exec {
                            node: self.target.name.clone(),
                            cmd: cmd.script.clone(),
                            status: out.status,
                            stderr: tail(&out.stderr),
                        });
                    }
                    return Ok(out);
                }
                // Never started: safe to send again on a fresh connection.
                Ok(Err(reason)) => reason,
                Err(ControlError::Indeterminate { reason, .. }) if cmd.idempotent => reason,
                Err(e) => {
                    if matches!(e, ControlError::Indeterminate { .. }) {
                        self.invalidate(&session).await;
                    }
                    return Err(e);
                }
            };
            self.invalidate(&session).await;
            warn!(node = %self.target.name, cmd = %cmd.script, attempt, reason = %retry_reason, "connection broke; reconnecting");
            if attempt >= CONNECT_ATTEMPTS {
                return Err(ControlError::Connect {
                    node: self.target.name.clone(),
                    addr: self.addr(),
                    reason: retry_reason,
                });
            }
            tokio::time::sleep(Duration::from_millis(50 + 50 * u64::from(attempt))).await;
        }
    }

    async fn upload(&self, data: &[u8], path: &str, mode: u32) -> Result<(), ControlError> {
        let started = Instant::now();
        // A non-root user writes a staging file and moves it into place as root.
        let staged = if self.needs_sudo() {
            format!("/tmp/.brawl-upload-{}", std::process::id()) + &rand_suffix()
        } else {
            path.to_string()
        };
        let sftp = self.sftp().await.map_err(|r| self.transfer_error("upload", path, r))?;
        let result = async {
            let mut file = sftp.options().write(true).create(true).truncate(true).open(&staged).await?;
            file.write_all(data).await?;
            file.close().await
        }
        .await;
        let closed = sftp.close().await;
        result.map_err(|e| self.transfer_error("upload", path, error_chain(&e)))?;
        closed.map_err(|e| self.transfer_error("upload", path, error_chain(&e)))?;
        let finish = if self.needs_sudo() {
            format!("install -m {mode:o} {} {} && rm -f {}", quote(&staged), quote(path), quote(&staged))
        } else {
            format!("chmod {mode:o} {}", quote(path))
        };
        self.exec(&RemoteCommand::new(finish).sudo().idempotent()).await?;
        debug!(node = %self.target.name, path, bytes = data.len(), elapsed_ms = started.elapsed().as_millis() as u64, "uploaded");
        Ok(())
    }

    async fn download(&self, path: &str) -> Result<Vec<u8>, ControlError> {
        let started = Instant::now();
        // Files only root can read are copied to a readable staging file first.
        let source = if self.needs_sudo() {
            let staged = format!("/tmp/.brawl-download-{}{}", std::process::id(), rand_suffix());
            let user = self.target.user.clone().unwrap_or_else(|| "$(id -un)".into());
            let cp = format!("cp {} {s} && chown {user} {s}", quote(path), s = quote(&staged));
            self.exec(&RemoteCommand::new(cp).sudo().idempotent()).await?;
            staged
        } else {
            path.to_string()
        };
        let sftp = self.sftp().await.map_err(|r| self.transfer_error("download", path, r))?;
        let result = sftp.fs().read(&source).await;
        let _ = sftp.close().await;
        if source != path {
            let _ = self.exec(&RemoteCommand::new(format!("rm -f {}", quote(&source))).sudo().unchecked()).await;
        }
        let bytes = result.map_err(|e| self.transfer_error("download", path, error_chain(&e)))?;
        debug!(node = %self.target.name, path, bytes = bytes.len(), elapsed_ms = started.elapsed().as_millis() as u64, "downloaded");
        Ok(bytes.to_vec())
    }
}

/// A short random suffix for staging files (no RNG crate needed: time and a counter).
fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("-{nanos:x}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let msg = src.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        cur = src.source();
    }
    s.replace('\n', " ").trim().to_string()
}
