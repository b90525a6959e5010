//! The SSH master connection of one node: a `ssh -M` process with a control socket at a stable
//! path, so that later brawl commands (and later `brawl` processes, within `PERSIST`) reuse a
//! warm connection instead of paying for a new handshake.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use openssh::Session;
use tokio::process::Command;

use super::target::{HostKeyChecking, SshTarget};

/// How long an idle master stays up after its last command. Long enough for a `brawl exec`
/// right after another to find it warm; short enough that a crashed brawl leaves nothing for long.
pub const PERSIST: Duration = Duration::from_secs(60);

/// Why a master could not be started.
pub enum MasterError {
    /// The host key is unknown or changed: never retried.
    HostKey(String),
    /// Authentication was refused: never retried.
    Auth(String),
    /// Anything else (refused, unreachable, timed out): may be retried.
    Other(String),
}

/// The directory of brawl's control sockets: private to this user.
fn socket_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    std::env::temp_dir().join(format!("brawl-ssh-{uid}"))
}

/// The control socket for `target`: one per distinct set of connection settings, so a changed
/// key file or known_hosts file never reuses a connection made under the old settings.
pub fn control_path(target: &SshTarget) -> PathBuf {
    let key = format!(
        "{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}",
        target.user,
        target.port,
        target.host,
        target.key_file,
        target.known_hosts,
        target.host_key_checking,
        target.ssh_config,
        target.name
    );
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    socket_dir().join(format!("{h:016x}"))
}

/// A session over a live master for `target`: reuses a warm one, else starts one.
pub async fn open(target: &SshTarget) -> Result<Session, MasterError> {
    let path = control_path(target);
    if path.exists() {
        let session = Session::resume_mux(path.clone().into_boxed_path(), None);
        if session.check().await.is_ok() {
            return Ok(session);
        }
        let _ = std::fs::remove_file(&path);
    }
    launch(target, &path).await?;
    Ok(Session::resume_mux(path.into_boxed_path(), None))
}

/// Stops the master for `target`, if any (used when the connection is known to be broken).
pub async fn forget(target: &SshTarget) {
    let path = control_path(target);
    let _ = Command::new("ssh")
        .arg("-S")
        .arg(&path)
        .args(["-O", "exit", "brawl-node"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    let _ = std::fs::remove_file(&path);
}

/// The `ssh` arguments (before the destination) that set up how to reach `target`.
pub fn ssh_args(target: &SshTarget) -> Vec<String> {
    let mut args = vec!["-o".into(), "BatchMode=yes".into()];
    let checking = match target.host_key_checking {
        HostKeyChecking::Strict => "yes",
        HostKeyChecking::AcceptNew => "accept-new",
        HostKeyChecking::Off => "no",
    };
    args.push("-o".into());
    args.push(format!("StrictHostKeyChecking={checking}"));
    match (&target.known_hosts, target.host_key_checking) {
        (_, HostKeyChecking::Off) => args.extend(["-o".into(), "UserKnownHostsFile=/dev/null".into()]),
        (Some(kh), _) => args.extend(["-o".into(), format!("UserKnownHostsFile={}", kh.display())]),
        (None, _) => {}
    }
    args.extend(["-o".into(), format!("ConnectTimeout={}", target.connect_timeout.as_secs().max(1))]);
    args.extend(["-o".into(), "ServerAliveInterval=5".into(), "-o".into(), "ServerAliveCountMax=3".into()]);
    if let Some(port) = target.port {
        args.extend(["-p".into(), port.to_string()]);
    }
    if let Some(user) = &target.user {
        args.extend(["-l".into(), user.clone()]);
    }
    if let Some(key) = &target.key_file {
        args.extend(["-o".into(), "IdentitiesOnly=yes".into(), "-i".into(), key.display().to_string()]);
    }
    if let Some(cfg) = &target.ssh_config {
        args.extend(["-F".into(), cfg.display().to_string()]);
    }
    args
}

async fn launch(target: &SshTarget, path: &Path) -> Result<(), MasterError> {
    let dir = socket_dir();
    std::fs::create_dir_all(&dir).map_err(|e| MasterError::Other(format!("{}: {e}", dir.display())))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    let log = path.with_extension("log");
    let mut cmd = Command::new("ssh");
    cmd.arg("-E").arg(&log).arg("-S").arg(path).args(["-M", "-f", "-N"]);
    cmd.args(["-o".to_string(), format!("ControlPersist={}s", PERSIST.as_secs())]);
    cmd.args(ssh_args(target)).arg(&target.host);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true);
    let limit = target.connect_timeout + Duration::from_secs(2);
    let status = match tokio::time::timeout(limit, cmd.status()).await {
        Err(_) => return Err(MasterError::Other(format!("no answer within {}", humantime::format_duration(limit)))),
        Ok(Err(e)) => return Err(MasterError::Other(format!("cannot run ssh: {e}"))),
        Ok(Ok(status)) => status,
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    if status.success() {
        return Ok(());
    }
    let reason = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('@'))
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string();
    let reason = if reason.is_empty() { format!("ssh exited with {status}") } else { reason };
    if text.contains("Host key verification failed")
        || text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || text.contains("host key is known")
    {
        Err(MasterError::HostKey(if text.contains("HAS CHANGED") {
            format!("the host key has changed since it was recorded ({reason})")
        } else {
            reason
        }))
    } else if text.contains("Permission denied") {
        Err(MasterError::Auth(reason))
    } else {
        Err(MasterError::Other(reason))
    }
}
