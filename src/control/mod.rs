//! The control layer: running commands on nodes and moving files to and from them.
//!
//! Only this module knows SSH exists. `Remote` is the trait the rest of brawl uses; `SshRemote`
//! is the real one (system `ssh`, one multiplexed connection per node, SFTP for files) and
//! `FakeRemote` records commands for unit tests of command construction.

mod command;
mod error;
pub mod escape;
mod fake;
mod master;
mod ssh;
pub mod target;

use async_trait::async_trait;

pub use command::{wrap, CmdOutput, RemoteCommand};
pub use error::ControlError;
pub use escape::{join, quote};
pub use fake::FakeRemote;
pub use master::{control_path, ssh_args};
pub use ssh::{SshRemote, MAX_CHANNELS};
pub use target::{HostKeyChecking, SshTarget, Sudo};

/// A node that runs commands. Implementations trace every command with node and duration.
#[async_trait]
pub trait Remote: Send + Sync {
    /// The node's name (`n1`).
    fn name(&self) -> &str;
    /// The host ssh connects to (an address or a name), which clients of the system use too.
    fn host(&self) -> &str;
    /// Runs `cmd`; a non-zero exit is an error only when `cmd.check` is set.
    async fn exec(&self, cmd: &RemoteCommand) -> Result<CmdOutput, ControlError>;
    /// Writes `data` to `path` on the node (as root where sudo is configured), with `mode`.
    async fn upload(&self, data: &[u8], path: &str, mode: u32) -> Result<(), ControlError>;
    /// Reads the file at `path` on the node.
    async fn download(&self, path: &str) -> Result<Vec<u8>, ControlError>;
}
