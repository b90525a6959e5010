//! Choosing nodes on the command line: `--cluster NAME` or `--nodes-file FILE`, then `--nodes`.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::control::SshTarget;

/// Which nodes a command acts on.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// A local cluster made by `brawl cluster up` (default: local).
    #[arg(long, value_name = "NAME", conflicts_with = "nodes_file")]
    pub cluster: Option<String>,
    /// A nodes file (YAML) naming any SSH hosts.
    #[arg(long, value_name = "FILE")]
    pub nodes_file: Option<PathBuf>,
    /// Only these nodes, by name (comma-separated).
    #[arg(long, value_name = "n1,n3", value_delimiter = ',')]
    pub nodes: Vec<String>,
}

impl NodeArgs {
    /// The nodes file these arguments point at.
    pub fn nodes_file_path(&self) -> Result<PathBuf, CliError> {
        if let Some(file) = &self.nodes_file {
            return Ok(file.clone());
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
