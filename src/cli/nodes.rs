//! Choosing nodes on the command line: `--cluster NAME`, `--nodes-file FILE` or `--vagrant DIR`,
//! then `--nodes`.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::control::SshTarget;

/// Which nodes a command acts on.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// A local cluster made by `brawl cluster up` (default: local).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["nodes_file", "vagrant"])]
    pub cluster: Option<String>,
    /// A nodes file (YAML) naming any SSH hosts.
    #[arg(long, value_name = "FILE", conflicts_with = "vagrant")]
    pub nodes_file: Option<PathBuf>,
    /// The machines of the Vagrantfile in DIR (its nodes file is written by `brawl cluster
    /// vagrant`, and again whenever Vagrant recreated a machine).
    #[arg(long, value_name = "DIR")]
    pub vagrant: Option<PathBuf>,
    /// Only these nodes, by name (comma-separated).
    #[arg(long, value_name = "n1,n3", value_delimiter = ',')]
    pub nodes: Vec<String>,
}

impl NodeArgs {
    /// Arguments naming a local cluster, a nodes file or a Vagrant directory, with all nodes.
    pub fn new(cluster: Option<String>, nodes_file: Option<PathBuf>, vagrant: Option<PathBuf>) -> Self {
        NodeArgs { cluster, nodes_file, vagrant, nodes: Vec::new() }
    }

    /// The nodes file these arguments point at.
    pub fn nodes_file_path(&self) -> Result<PathBuf, CliError> {
        if let Some(file) = &self.nodes_file {
            return Ok(file.clone());
        }
        if let Some(dir) = &self.vagrant {
            return crate::vagrant::nodes_file(dir).map_err(CliError::bad_input);
        }
        let name = self.cluster.as_deref().unwrap_or("local");
        let layout = crate::local::Layout::new(name)?;
        let path = layout.nodes_file();
        if !path.exists() {
            return Err(crate::local::LocalError::NotUp { name: name.to_string() }.into());
        }
        Ok(path)
    }

    /// The SSH targets, filtered by `--nodes`.
    pub fn targets(&self) -> Result<Vec<SshTarget>, CliError> {
        let path = self.nodes_file_path()?;
        let all = crate::config::load_nodes_file(&path).map_err(CliError::bad_input)?;
        if self.nodes.is_empty() {
            return Ok(all);
        }
        let unknown: Vec<&String> = self.nodes.iter().filter(|n| !all.iter().any(|t| &t.name == *n)).collect();
        if !unknown.is_empty() {
            let known: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
            return Err(CliError::bad_input(anyhow::anyhow!(
                "--nodes names {} not in {} (its nodes are {})",
                unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                path.display(),
                known.join(", ")
            )));
        }
        Ok(all.into_iter().filter(|t| self.nodes.contains(&t.name)).collect())
    }
}
