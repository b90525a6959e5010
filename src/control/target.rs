//! How to reach one node over SSH: the resolved, validated settings that `control` connects with.
//!
//! These are runtime types built by `config` from a nodes file, a test file or a local cluster;
//! they are not `Deserialize` (see `config` for the raw YAML shapes).

use std::path::PathBuf;
use std::time::Duration;

/// How the SSH client treats the node's host key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HostKeyChecking {
    /// The key must already be in known_hosts and match (the default).
    #[default]
    Strict,
    /// Unknown keys are added on first contact; a changed key is still refused.
    AcceptNew,
    /// Any key is accepted. Only with an explicit opt-out (`strict-host-key-checking: false`).
    Off,
}

/// How commands get root on a node.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Sudo {
    /// Log in as root, or as a user that needs no privilege: commands run as they are.
    #[default]
    None,
    /// `sudo -n`: passwordless sudo for a non-root user.
    Passwordless,
    /// `sudo -S` with the password read from this environment variable on the control node.
    /// The password is written to the command's stdin, never into a command line or a log.
    PasswordEnv(String),
}

/// Everything needed to open an SSH connection to one node and run commands on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshTarget {
    /// The node's name in the test (`n1`); used in logs, errors and the history.
    pub name: String,
    /// Host name or address that ssh connects to (may be an alias from the ssh config).
    pub host: String,
    /// TCP port; `None` lets ssh (and its config) decide.
    pub port: Option<u16>,
    /// Login user; `None` lets ssh (and its config) decide.
    pub user: Option<String>,
    /// Private key file (`ssh -i`).
    pub key_file: Option<PathBuf>,
    /// A known_hosts file used instead of `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    /// Host-key policy; strict unless the user opted out.
    pub host_key_checking: HostKeyChecking,
    /// An ssh config file to read (`ssh -F`); `None` reads the user's default config.
    pub ssh_config: Option<PathBuf>,
    /// How to become root for commands that need it.
    pub sudo: Sudo,
    /// How long to wait for the connection to be established.
    pub connect_timeout: Duration,
    /// Default time limit of one command, unless the caller sets its own.
    pub command_timeout: Duration,
}

impl SshTarget {
    /// A target with brawl's defaults: strict host keys, 10 s to connect, 60 s per command.
    pub fn new(name: impl Into<String>, host: impl Into<String>) -> Self {
        SshTarget {
            name: name.into(),
            host: host.into(),
            port: None,
            user: None,
            key_file: None,
            known_hosts: None,
            host_key_checking: HostKeyChecking::Strict,
            ssh_config: None,
            sudo: Sudo::None,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(60),
        }
    }
}
