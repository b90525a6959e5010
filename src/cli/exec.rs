//! `brawl exec`: one shell command on many nodes at once.

use std::time::{Duration, Instant};

use clap::Args;

use super::{CliError, NodeArgs, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INVALID, EXIT_OK};
use crate::cluster::Cluster;
use crate::control::{ControlError, RemoteCommand};

/// Arguments of `brawl exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    nodes: NodeArgs,
    /// Time limit of the command on each node: seconds (20, 0.5) or with a unit (250ms, 30s, 5m).
    #[arg(long, default_value = "60s", value_parser = crate::config::duration::parse_flag)]
    timeout: Duration,
    /// Run the command as root through sudo (for nodes that log in as another user).
    #[arg(long)]
    sudo: bool,
    /// The command, after `--`; its words are joined by spaces and run by `sh -c` on each node.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// Runs the command everywhere; exit 0 when it succeeded on every node, 1 when it failed on some,
/// 254 when a node could not be reached or its host key is not trusted, 255 otherwise.
pub async fn run(args: ExecArgs) -> Result<u8, CliError> {
    let targets = args.nodes.targets()?;
    let (cluster, _) = Cluster::ssh(targets);
    let mut cmd = RemoteCommand::new(args.command.join(" ")).timeout(args.timeout).unchecked();
    if args.sudo {
        cmd = cmd.sudo();
    }
    let started = Instant::now();
    let results = cluster.exec_all(&cmd).await;
    let mut code = EXIT_OK;
    for (node, result) in results {
        match result {
            Ok(out) => {
                println!("== {node}: exit {} ({} ms)", out.status, out.duration.as_millis());
                print!("{}", out.stdout);
                if !out.stdout.is_empty() && !out.stdout.ends_with('\n') {
                    println!();
                }
                for line in out.stderr.lines() {
                    println!("{node} stderr: {line}");
                }
                if !out.success() {
                    code = code.max(EXIT_INVALID);
                }
            }
            Err(e) => {
                println!("== {node}: error: {e}");
                code = code.max(match e {
                    ControlError::Connect { .. } | ControlError::HostKey { .. } | ControlError::SudoPassword { .. } => {
                        EXIT_BAD_INPUT
                    }
                    ControlError::Timeout { .. } | ControlError::Exec { .. } => EXIT_INVALID,
                    _ => EXIT_INTERNAL,
                });
            }
        }
    }
    tracing::info!(nodes = cluster.len(), elapsed_ms = started.elapsed().as_millis() as u64, "exec done");
    Ok(code)
}
