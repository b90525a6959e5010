//! `Cluster`: the test's nodes, each a `Remote`, and fan-out of work over them in parallel.

use std::sync::Arc;
use std::time::Instant;

use futures::future::join_all;
use tracing::debug;

use crate::control::{CmdOutput, ControlError, Remote, RemoteCommand, SshRemote, SshTarget};

/// One node of the cluster.
#[derive(Clone)]
pub struct Node {
    /// The node's name (`n1`).
    pub name: String,
    /// How to run commands on it.
    pub remote: Arc<dyn Remote>,
}

/// The nodes a test runs against, in the order the test lists them.
#[derive(Clone, Default)]
pub struct Cluster {
    nodes: Vec<Node>,
}

impl Cluster {
    /// A cluster of the given remotes.
    pub fn new(remotes: Vec<Arc<dyn Remote>>) -> Self {
        Cluster { nodes: remotes.into_iter().map(|remote| Node { name: remote.name().to_string(), remote }).collect() }
    }

    /// SSH remotes for `targets`, not yet connected.
    pub fn ssh(targets: Vec<SshTarget>) -> (Self, Vec<Arc<SshRemote>>) {
        let ssh: Vec<Arc<SshRemote>> = targets.into_iter().map(|t| Arc::new(SshRemote::new(t))).collect();
        let remotes = ssh.iter().map(|r| r.clone() as Arc<dyn Remote>).collect();
        (Cluster::new(remotes), ssh)
    }

    /// Connects to every target in parallel; fails with every node's error if any fails.
    pub async fn connect(targets: Vec<SshTarget>) -> Result<Self, Vec<ControlError>> {
        let (cluster, ssh) = Cluster::ssh(targets);
        let started = Instant::now();
        let results = join_all(ssh.iter().map(|r| r.connect())).await;
        let errors: Vec<ControlError> = results.into_iter().filter_map(Result::err).collect();
        debug!(nodes = cluster.len(), elapsed_ms = started.elapsed().as_millis() as u64, "connected to cluster");
        if errors.is_empty() {
            Ok(cluster)
        } else {
            Err(errors)
        }
    }

    /// The nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// A cluster of just the named nodes (in this cluster's order); unknown names are returned.
    pub fn subset(&self, names: &[String]) -> Result<Cluster, Vec<String>> {
        let unknown: Vec<String> = names.iter().filter(|n| self.node(n).is_none()).cloned().collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        Ok(Cluster { nodes: self.nodes.iter().filter(|n| names.contains(&n.name)).cloned().collect() })
    }

    /// Runs `f` on every node at once and returns each node's result, in node order.
    pub async fn on_nodes<'a, F, Fut, T>(&'a self, f: F) -> Vec<(String, T)>
    where
        F: Fn(&'a Node) -> Fut,
        Fut: std::future::Future<Output = T> + 'a,
    {
        let results = join_all(self.nodes.iter().map(&f)).await;
        self.nodes.iter().map(|n| n.name.clone()).zip(results).collect()
    }

    /// Runs one command on every node at once.
    pub async fn exec_all(&self, cmd: &RemoteCommand) -> Vec<(String, Result<CmdOutput, ControlError>)> {
        self.on_nodes(|node| node.remote.exec(cmd)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::FakeRemote;

    #[tokio::test]
    async fn exec_all_reaches_every_node_in_order() {
        let fakes: Vec<Arc<FakeRemote>> = ["n1", "n2", "n3"].iter().map(|n| Arc::new(FakeRemote::new(n))).collect();
        fakes[1].answer("hostname", 0, "n2\n");
        let cluster = Cluster::new(fakes.iter().map(|f| f.clone() as Arc<dyn Remote>).collect());
        let results = cluster.exec_all(&RemoteCommand::new("hostname")).await;
        let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["n1", "n2", "n3"]);
        assert_eq!(results[1].1.as_ref().map(|o| o.stdout.as_str()).ok(), Some("n2\n"));
        assert!(fakes.iter().all(|f| f.commands() == ["hostname"]));
    }

    #[test]
    fn subset_rejects_unknown_names() {
        let cluster = Cluster::new(vec![Arc::new(FakeRemote::new("n1")) as Arc<dyn Remote>]);
        assert_eq!(cluster.subset(&["n1".into(), "n9".into()]).err(), Some(vec!["n9".to_string()]));
        assert_eq!(cluster.subset(&["n1".into()]).map(|c| c.len()).ok(), Some(1));
    }
}
