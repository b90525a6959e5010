//! `brawl cluster up | down | status | list`: brawl's local cluster; `brawl cluster vagrant`: a
//! nodes file for the machines of a Vagrantfile.

use std::time::Duration;

use clap::Subcommand;

use super::{CliError, EXIT_INVALID, EXIT_OK};
use crate::control::{Remote, RemoteCommand, SshRemote};
use crate::local::{self, Layout, LocalError, UpSpec};

/// The cluster subcommands.
#[derive(Debug, Subcommand)]
pub enum ClusterCmd {
    /// Create nodes n1..nN on this machine (needs root), each with its own network, pid, mount
    /// and uts namespace and its own sshd, and write a nodes file for `--cluster NAME`.
    Up {
        /// Cluster name; the subnet, links and namespaces derive from it.
        #[arg(long, default_value = "local")]
        name: String,
        /// Number of nodes.
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Another path to make private to each node (repeatable), besides /tmp, /var/tmp, /run,
        /// /var/log, /var/lib/etcd, /var/lib/redis, /var/lib/brawl/node, /opt/brawl and /root.
        #[arg(long, value_name = "PATH")]
        private_dir: Vec<String>,
    },
    /// Remove everything the cluster created. Idempotent; works after a crash or a half-done up.
    Down {
        /// Cluster name.
        #[arg(long, default_value = "local")]
        name: String,
    },
    /// Show each node and whether it answers over SSH.
    Status {
        /// Cluster name.
        #[arg(long, default_value = "local")]
        name: String,
    },
    /// List the local clusters on this machine.
    List,
    /// Write a nodes file for the machines of a Vagrantfile (they must be up): user vagrant with
    /// sudo, Vagrant's per-machine keys, each machine's private address, and its host keys
    /// recorded in a known_hosts file so checking stays strict. Then use `--vagrant DIR`.
    Vagrant {
        /// The directory of the Vagrantfile.
        #[arg(long, default_value = "vagrant")]
        dir: std::path::PathBuf,
        /// The private network the tests use, when a machine has several candidate addresses.
        #[arg(long, value_name = "CIDR")]
        network: Option<String>,
    },
}

/// Runs a cluster subcommand.
pub async fn run(cmd: ClusterCmd) -> Result<u8, CliError> {
    match cmd {
        ClusterCmd::Up { name, nodes, private_dir } => {
            let spec = UpSpec { name: name.clone(), nodes, extra_private_dirs: private_dir };
            let state = tokio::task::spawn_blocking(move || local::up(&spec)).await.map_err(CliError::internal)??;
            let layout = Layout::new(&name)?;
            println!(
                "cluster {name} is up: {} nodes on {} (control node {})",
                state.nodes.len(),
                state.bridge,
                state.gateway
            );
            for n in &state.nodes {
                println!("  {}  {}", n.name, n.ip);
            }
            println!("nodes file: {}", layout.nodes_file().display());
            Ok(EXIT_OK)
        }
        ClusterCmd::Down { name } => {
            let report = tokio::task::spawn_blocking(move || local::down(&name).map(|r| (name, r)))
                .await
                .map_err(CliError::internal)??;
            let (name, report) = report;
            if report.is_empty() {
                println!("cluster {name} was not up; nothing to remove");
            } else {
                println!("cluster {name} removed:");
                for line in &report.removed {
                    println!("  {line}");
                }
            }
            Ok(EXIT_OK)
        }
        ClusterCmd::Status { name } => status(&name).await,
        ClusterCmd::Vagrant { dir, network } => vagrant(&dir, network.as_deref()).await,
        ClusterCmd::List => {
            for name in local::list() {
                let layout = Layout::new(&name)?;
                match layout.read_state() {
                    Ok(Some(s)) => println!(
                        "{name}\t{} nodes\t{}\t{}",
                        s.nodes.len(),
                        if s.complete { "up" } else { "incomplete" },
                        s.created
                    ),
                    _ => println!("{name}\t?\tunreadable state: `brawl cluster down --name {name}` removes it"),
                }
            }
            Ok(EXIT_OK)
        }
    }
}

/// Reads the Vagrant machines in `dir` and writes their nodes file.
async fn vagrant(dir: &std::path::Path, network: Option<&str>) -> Result<u8, CliError> {
    let network = network.map(crate::vagrant::Network::parse).transpose().map_err(CliError::bad_input)?;
    let nodes = crate::vagrant::discover(dir, network).await.map_err(CliError::bad_input)?;
    let file = crate::vagrant::write_files(dir, &nodes).map_err(CliError::internal)?;
    println!("{} Vagrant machines in {}:", nodes.len(), dir.display());
    for n in &nodes {
        println!("  {}", crate::vagrant::describe(n));
    }
    println!("nodes file: {}", file.display());
    println!("use it with --vagrant {} (or --nodes-file {})", dir.display(), file.display());
    Ok(EXIT_OK)
}

/// Prints each node: its namespace, its processes, and whether SSH answers with its hostname.
async fn status(name: &str) -> Result<u8, CliError> {
    let layout = Layout::new(name)?;
    let state = layout.read_state()?.ok_or_else(|| LocalError::NotUp { name: name.to_string() })?;
    let targets = crate::config::load_nodes_file(&layout.nodes_file()).map_err(CliError::bad_input);
    println!(
        "cluster {name}: {} nodes, {}, created {}",
        state.nodes.len(),
        if state.complete { "complete" } else { "INCOMPLETE (run `brawl cluster down`)" },
        state.created
    );
    let Ok(targets) = targets else {
        return Ok(EXIT_INVALID);
    };
    let checks = targets.into_iter().map(|mut t| async move {
        t.connect_timeout = Duration::from_secs(3);
        let remote = SshRemote::new(t);
        let answer = remote.exec(&RemoteCommand::new("hostname").timeout(Duration::from_secs(5))).await;
        (remote.name().to_string(), answer)
    });
    let answers = futures::future::join_all(checks).await;
    let mut all = true;
    for (node, answer) in answers {
        let ip = state.nodes.iter().find(|n| n.name == node).map(|n| n.ip.to_string()).unwrap_or_default();
        let procs = state
            .nodes
            .iter()
            .find(|n| n.name == node)
            .map(|n| crate::local::netns_process_count(&n.netns))
            .unwrap_or(0);
        match answer {
            Ok(out) => println!("  {node:<4} {ip:<15} answers (hostname {}, {procs} processes)", out.stdout.trim()),
            Err(e) => {
                all = false;
                println!("  {node:<4} {ip:<15} DOWN: {e}");
            }
        }
    }
    Ok(if all && state.complete { EXIT_OK } else { EXIT_INVALID })
}
