//! A system under test defined in the test file: its lifecycle as shell commands
//! (`db: { shell: { install, setup, start, ready, stop, teardown, logs, primary } }`), so a
//! team can test its own system without writing Rust.
//!
//! Every command is a minijinja template, rendered per node with strict undefined variables:
//! `node` (`name`, `address`, `index` from 0), `nodes` (every node, the same fields),
//! `data_dir` (a directory private to the node, `/var/lib/brawl/node/shell`, emptied by teardown)
//! and `vars` (the section's own variables). Templates are rendered once at validation for a
//! sample cluster, so an unknown variable is refused before anything runs (exit 254, with the
//! file, line and step).
//!
//! `start` runs as a daemon (`db::daemon_command`): in its own session, its output appended to
//! `/var/log/brawl-shell.log`, its process group's leader recorded in `/run/brawl-shell.pid`.
//! kill, pause and the clock fault act on that process group: `kill -9 -PGID`, `SIGSTOP` /
//! `SIGCONT`, libfaketime in its environment. The default `stop` is SIGTERM to the group, then
//! SIGKILL after 10 s. Every command has a timeout (`timeout`, default 60 s; `install` 10 min);
//! a command that fails stops setup with the tail of its output, naming the node and the step.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::{node_ip, Db, DbError, Pause, Primary, Process};
use crate::cluster::{Cluster, Node};
use crate::config::raw::duration;
use crate::control::RemoteCommand;

/// The node's private data directory.
pub const DATA_DIR: &str = "/var/lib/brawl/node/shell";
/// Where the started process's output goes.
pub const LOG_FILE: &str = "/var/log/brawl-shell.log";
/// The started process group's leader.
pub const PID_FILE: &str = "/run/brawl-shell.pid";
/// The timeout of a step when the section does not give one.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The timeout of `install`.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the default stop waits after SIGTERM before SIGKILL.
const STOP_GRACE_S: u32 = 10;
/// How many bytes of a failing command's output an error shows.
const TAIL: usize = 1500;

/// A command, or a command with its own timeout.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Step {
    /// `start: "..."`.
    Plain(String),
    /// `ready: { command: "...", timeout: 30s }`.
    Timed {
        /// The command.
        command: String,
        /// Its timeout.
        #[serde(default, deserialize_with = "duration::option")]
        timeout: Option<Duration>,
    },
}

impl Step {
    fn command(&self) -> &str {
        match self {
            Step::Plain(c) | Step::Timed { command: c, .. } => c,
        }
    }

    fn timeout(&self) -> Option<Duration> {
        match self {
            Step::Plain(_) => None,
            Step::Timed { timeout, .. } => *timeout,
        }
    }
}

/// The test file's `db: { shell: { ... } }` section.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ShellSpec {
    /// Once per node, idempotent (`apt-get install -y ...`).
    pub install: Option<Spanned<Step>>,
    /// Writes this node's configuration.
    pub setup: Option<Spanned<Step>>,
    /// Runs the system in the foreground; brawl daemonizes it and records its pid.
    pub start: Option<Spanned<Step>>,
    /// Succeeds once the node's system answers (polled until its timeout, default 30 s).
    pub ready: Option<Spanned<Step>>,
    /// Stops the system (default: SIGTERM to the recorded process group, then SIGKILL).
    pub stop: Option<Spanned<Step>>,
    /// Removes what setup made (brawl also empties `data_dir`).
    pub teardown: Option<Spanned<Step>>,
    /// Files on each node to keep with the run.
    #[serde(default)]
    pub logs: Vec<String>,
    /// Prints whether this node is primary (`true`, `yes`, `1`, `primary`, `leader`).
    pub primary: Option<Spanned<Step>>,
    /// The test's own template variables (`{{ vars.port }}`).
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, serde_json::Value>,
    /// The timeout of every step that gives none (default 60 s).
    #[serde(default, deserialize_with = "duration::option")]
    pub timeout: Option<Duration>,
    /// The test file the section came from, set at validation (for error messages).
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// The steps, by name, in lifecycle order.
fn steps(spec: &ShellSpec) -> [(&'static str, Option<&Spanned<Step>>); 7] {
    [
        ("install", spec.install.as_ref()),
        ("setup", spec.setup.as_ref()),
        ("start", spec.start.as_ref()),
        ("ready", spec.ready.as_ref()),
        ("stop", spec.stop.as_ref()),
        ("teardown", spec.teardown.as_ref()),
        ("primary", spec.primary.as_ref()),
    ]
}

/// A node as templates see it.
#[derive(Clone, Debug, serde::Serialize)]
struct NodeVars {
    name: String,
    address: String,
    index: usize,
}

/// What is wrong with a `shell:` section: the step, where it is, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError {
    /// `db.shell.start`.
    pub path: String,
    /// Where in the file.
    pub at: Location,
    /// Why.
    pub message: String,
}

/// Checks a section before anything runs: `start` is there and every template renders for a
/// sample three-node cluster (no unknown variable, no syntax error).
pub fn validate(spec: &ShellSpec, section: Location) -> Result<(), SpecError> {
    if spec.start.is_none() {
        return Err(SpecError {
            path: "db.shell.start".into(),
            at: section,
            message: "is missing: the command that runs the system in the foreground (brawl records its pid)".into(),
        });
    }
    let nodes: Vec<NodeVars> = (0..3)
        .map(|i| NodeVars { name: format!("n{}", i + 1), address: format!("10.0.0.{}", i + 1), index: i })
        .collect();
    for (i, template) in spec.logs.iter().enumerate() {
        render(spec, template, &nodes[0], &nodes).map_err(|message| SpecError {
            path: format!("db.shell.logs[{i}]"),
            at: section,
            message,
        })?;
    }
    for (name, step) in steps(spec) {
        let Some(step) = step else { continue };
        render(spec, step.value.command(), &nodes[0], &nodes).map_err(|message| SpecError {
            path: format!("db.shell.{name}"),
            at: step.referenced,
            message,
        })?;
    }
    Ok(())
}

/// Renders `template` for `node` of `nodes`.
fn render(spec: &ShellSpec, template: &str, node: &NodeVars, nodes: &[NodeVars]) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let ctx = minijinja::context! {
        node => minijinja::Value::from_serialize(node),
        nodes => minijinja::Value::from_serialize(nodes),
        data_dir => DATA_DIR,
        vars => minijinja::Value::from_serialize(&spec.vars),
    };
    env.render_str(template, ctx).map_err(|e| {
        let mut msg = e.to_string();
        if let Some(detail) = e.detail() {
            if !msg.contains(detail) {
                msg = format!("{msg}: {detail}");
            }
        }
        format!("{msg}; templates see node.name, node.address, node.index, nodes, data_dir and vars")
    })
}

/// The system the test file defines.
pub struct Shell {
    spec: ShellSpec,
    env: Vec<(String, String)>,
    /// Every node as templates see it, once `Db::bind` named the cluster.
    nodes: std::sync::OnceLock<Vec<NodeVars>>,
}

impl Shell {
    /// The system of `spec`.
    pub fn new(spec: ShellSpec) -> Self {
        Shell { spec, env: Vec::new(), nodes: std::sync::OnceLock::new() }
    }

    /// The same system, started with `env` added (libfaketime's, under a faketime clock fault).
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    fn cluster_vars(cluster: &Cluster) -> Result<Vec<NodeVars>, DbError> {
        cluster
            .nodes()
            .iter()
            .enumerate()
            .map(|(index, n)| Ok(NodeVars { name: n.name.clone(), address: node_ip(n)?.to_string(), index }))
            .collect()
    }

    /// `node` and every node, as templates see them.
    fn vars(&self, node: &Node) -> Result<(NodeVars, Vec<NodeVars>), DbError> {
        let nodes = match self.nodes.get() {
            Some(n) => n.clone(),
            None => vec![NodeVars { name: node.name.clone(), address: node_ip(node)?.to_string(), index: 0 }],
        };
        let me = nodes.iter().find(|n| n.name == node.name).cloned().ok_or_else(|| DbError::Address {
            node: node.name.clone(),
            host: node.remote.host().to_string(),
            reason: "not a node of the cluster".into(),
        })?;
        Ok((me, nodes))
    }

    /// Where step `name` is in the test file, for messages: `file:line: db.shell.NAME`.
    fn place(&self, name: &str, step: &Spanned<Step>) -> String {
        let file = self.spec.file.as_ref().map(|f| format!("{}:", f.display())).unwrap_or_default();
        let line = step.referenced.line();
        if line > 0 {
            format!("{file}{line}: db.shell.{name}")
        } else {
            format!("{file} db.shell.{name}")
        }
    }

    /// Runs step `name` on `node`; a non-zero exit is a `Step` error with the output's tail.
    async fn run(&self, node: &Node, name: &str, fallback: Duration) -> Result<(), DbError> {
        let Some(step) = steps(&self.spec).into_iter().find(|(n, _)| *n == name).and_then(|(_, s)| s) else {
            return Ok(());
        };
        let out = self.exec(node, name, step, fallback).await?;
        if out.success() {
            return Ok(());
        }
        Err(DbError::Step {
            place: self.place(name, step),
            node: node.name.clone(),
            status: out.status,
            tail: tail(&format!("{}{}", out.stdout, out.stderr)),
        })
    }

    async fn exec(
        &self,
        node: &Node,
        name: &str,
        step: &Spanned<Step>,
        fallback: Duration,
    ) -> Result<crate::control::CmdOutput, DbError> {
        let (me, nodes) = self.vars(node)?;
        let script = render(&self.spec, step.value.command(), &me, &nodes).map_err(|message| DbError::Step {
            place: self.place(name, step),
            node: node.name.clone(),
            status: -1,
            tail: message,
        })?;
        let limit = step.value.timeout().or(self.spec.timeout).unwrap_or(fallback);
        let script = format!("mkdir -p {DATA_DIR} && cd {DATA_DIR} && {script}");
        Ok(node.remote.exec(&RemoteCommand::new(script).sudo().timeout(limit).unchecked()).await?)
    }

    /// Starts the system on `node` as a daemon.
    async fn start_node(&self, node: &Node) -> Result<(), DbError> {
        let Some(step) = &self.spec.start else { return Ok(()) };
        let (me, nodes) = self.vars(node)?;
        let script = render(&self.spec, step.value.command(), &me, &nodes).map_err(|message| DbError::Step {
            place: self.place("start", step),
            node: node.name.clone(),
            status: -1,
            tail: message,
        })?;
        let exec = format!("sh -c {}", crate::control::quote(&script));
        let cmd = super::daemon_command(&exec, DATA_DIR, PID_FILE, LOG_FILE, &self.env);
        node.remote.exec(&RemoteCommand::new(cmd).sudo().timeout(DEFAULT_TIMEOUT)).await?;
        Ok(())
    }

    /// Sends `signal` to the recorded process group, if it lives. (`kill -SIG -PGID`, no `--`:
    /// dash's built-in `kill`, Debian's `sh`, refuses `--` as "Illegal number".)
    async fn signal(&self, node: &Node, signal: &str) -> Result<(), DbError> {
        let cmd = format!("test -f {PID_FILE} && kill -{signal} -\"$(cat {PID_FILE})\" 2>/dev/null || true");
        node.remote.exec(&RemoteCommand::new(cmd).sudo().idempotent()).await?;
        Ok(())
    }

    /// The default stop: SIGTERM to the group, SIGKILL after the grace period.
    async fn default_stop(&self, node: &Node) -> Result<(), DbError> {
        let cmd = format!(
            "test -f {PID_FILE} || exit 0; p=\"$(cat {PID_FILE})\"; kill -TERM -\"$p\" 2>/dev/null; \
             i=0; while kill -0 -\"$p\" 2>/dev/null && [ $i -lt {} ]; do sleep 0.1; i=$((i+1)); done; \
             kill -KILL -\"$p\" 2>/dev/null; rm -f {PID_FILE}; true",
            STOP_GRACE_S * 10
        );
        let limit = Duration::from_secs(u64::from(STOP_GRACE_S) + 20);
        node.remote.exec(&RemoteCommand::new(cmd).sudo().timeout(limit).idempotent()).await?;
        Ok(())
    }

    /// Waits until `ready` succeeds on `node`.
    async fn await_node(&self, node: &Node) -> Result<(), DbError> {
        let Some(step) = &self.spec.ready else { return Ok(()) };
        let limit = step.value.timeout().unwrap_or(Duration::from_secs(30));
        let deadline = Instant::now() + limit;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
            match self.exec(node, "ready", step, left.min(Duration::from_secs(10))).await {
                Ok(out) if out.success() => return Ok(()),
                Ok(out) => last = tail(&format!("exit {}: {}{}", out.status, out.stdout, out.stderr)),
                Err(e @ DbError::Step { .. }) => return Err(e),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let log = node
            .remote
            .exec(&RemoteCommand::new(format!("tail -n 10 {LOG_FILE}")).sudo().unchecked())
            .await
            .map(|o| o.stdout)
            .unwrap_or_default();
        Err(DbError::NotHealthy {
            db: "shell",
            node: node.name.clone(),
            after: limit,
            reason: format!("{}: {last}; log: {}", self.place("ready", step), log.trim()),
        })
    }
}

/// The last `TAIL` bytes of `s`, on a character boundary.
fn tail(s: &str) -> String {
    let s = s.trim();
    if s.len() <= TAIL {
        return s.to_string();
    }
    let mut at = s.len() - TAIL;
    while !s.is_char_boundary(at) {
        at += 1;
    }
    format!("...{}", &s[at..])
}

#[async_trait]
impl Db for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }

    fn bind(&self, cluster: &Cluster) {
        if self.nodes.get().is_none() {
            match Self::cluster_vars(cluster) {
                Ok(nodes) => {
                    let _ = self.nodes.set(nodes);
                }
                Err(e) => tracing::warn!(error = %e, "cannot resolve the nodes' addresses for the shell templates"),
            }
        }
    }

    async fn setup(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        self.bind(cluster);
        self.run(node, "install", INSTALL_TIMEOUT).await?;
        self.run(node, "setup", DEFAULT_TIMEOUT).await?;
        self.start_node(node).await
    }

    async fn teardown(&self, node: &Node) -> Result<(), DbError> {
        match &self.spec.stop {
            Some(_) => {
                if let Err(e) = self.run(node, "stop", DEFAULT_TIMEOUT).await {
                    tracing::warn!(node = %node.name, error = %e, "the test's stop command failed; stopping the recorded process group");
                }
                self.default_stop(node).await?;
            }
            None => self.default_stop(node).await?,
        }
        self.run(node, "teardown", DEFAULT_TIMEOUT).await?;
        let clean = format!("rm -rf {DATA_DIR} {PID_FILE}");
        node.remote.exec(&RemoteCommand::new(clean).sudo().idempotent()).await?;
        Ok(())
    }

    async fn await_ready(&self, cluster: &Cluster) -> Result<(), DbError> {
        self.bind(cluster);
        for (_, r) in cluster.on_nodes(|node| self.await_node(node)).await {
            r?;
        }
        Ok(())
    }

    fn log_files(&self) -> Vec<(String, String)> {
        let mut files = vec![(LOG_FILE.to_string(), "brawl-shell.log".to_string())];
        // Paths are templates too; they are the same on every node (the first node's view).
        let first = self.nodes.get().and_then(|n| n.first().cloned()).unwrap_or(NodeVars {
            name: String::new(),
            address: String::new(),
            index: 0,
        });
        let nodes = self.nodes.get().cloned().unwrap_or_default();
        for template in &self.spec.logs {
            let path = match render(&self.spec, template, &first, &nodes) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(log = %template, error = %e, "cannot render a log path");
                    continue;
                }
            };
            let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("log").to_string();
            files.push((path, name));
        }
        files
    }

    fn as_process(&self) -> Option<&dyn Process> {
        Some(self)
    }

    fn as_pause(&self) -> Option<&dyn Pause> {
        Some(self)
    }

    fn as_primary(&self) -> Option<&dyn Primary> {
        self.spec.primary.as_ref().map(|_| self as &dyn Primary)
    }
}

#[async_trait]
impl Process for Shell {
    async fn start(&self, cluster: &Cluster, node: &Node) -> Result<(), DbError> {
        self.bind(cluster);
        let probe = format!("test -f {PID_FILE} && kill -0 \"$(cat {PID_FILE})\" 2>/dev/null");
        if node.remote.exec(&RemoteCommand::new(probe).sudo().unchecked()).await?.success() {
            return Ok(());
        }
        self.start_node(node).await
    }

    async fn kill(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "KILL").await
    }
}

#[async_trait]
impl Pause for Shell {
    async fn pause(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "STOP").await
    }

    async fn resume(&self, node: &Node) -> Result<(), DbError> {
        self.signal(node, "CONT").await
    }
}

#[async_trait]
impl Primary for Shell {
    async fn primaries(&self, cluster: &Cluster) -> Vec<String> {
        let Some(step) = &self.spec.primary else { return Vec::new() };
        self.bind(cluster);
        let answers = cluster.on_nodes(|node| self.exec(node, "primary", step, Duration::from_secs(10))).await;
        answers
            .into_iter()
            .filter_map(|(name, out)| {
                let out = out.ok().filter(|o| o.success())?;
                let word = out.stdout.trim().to_ascii_lowercase();
                matches!(word.as_str(), "true" | "yes" | "1" | "primary" | "leader").then_some(name)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> ShellSpec {
        serde_saphyr::from_str(yaml).expect("parses")
    }

    #[test]
    fn a_missing_start_and_unknown_variables_are_refused_with_the_step() {
        let s = spec("setup: \"echo {{ node.name }}\"\n");
        let e = validate(&s, Location::UNKNOWN).unwrap_err();
        assert_eq!(e.path, "db.shell.start");
        let s = spec("start: \"run --id {{ node.idx }}\"\nready: { command: \"true\", timeout: 5s }\n");
        let e = validate(&s, Location::UNKNOWN).unwrap_err();
        assert_eq!(e.path, "db.shell.start");
        assert_eq!(e.at.line(), 1, "{e:?}");
        assert!(e.message.contains("undefined"), "{}", e.message);
        let s = spec("start: \"x\"\nteardown: \"rm {{ nope }}\"\n");
        let e = validate(&s, Location::UNKNOWN).unwrap_err();
        assert_eq!((e.path.as_str(), e.at.line()), ("db.shell.teardown", 2));
        let s = spec("start: \"x {% if %}\"\n");
        assert!(validate(&s, Location::UNKNOWN).is_err(), "a syntax error is refused");
    }

    #[test]
    fn templates_see_the_node_every_node_the_data_dir_and_vars() {
        let s = spec("start: \"x\"\nvars: { port: 2181 }\n");
        let nodes: Vec<NodeVars> = (0..3)
            .map(|i| NodeVars { name: format!("n{}", i + 1), address: format!("10.1.1.{}", i + 1), index: i })
            .collect();
        let t = "{{ node.name }} {{ node.index + 1 }} {{ data_dir }} {{ vars.port }} \
                 {% for n in nodes %}{{ n.address }}{% if not loop.last %},{% endif %}{% endfor %}";
        assert_eq!(
            render(&s, t, &nodes[1], &nodes).expect("renders"),
            "n2 2 /var/lib/brawl/node/shell 2181 10.1.1.1,10.1.1.2,10.1.1.3"
        );
        assert!(validate(&s, Location::UNKNOWN).is_ok());
    }

    #[test]
    fn steps_take_their_own_timeout_and_tails_are_bounded() {
        let s = spec("start: \"x\"\nready: { command: \"y\", timeout: 7s }\n");
        assert_eq!(s.ready.as_ref().and_then(|r| r.value.timeout()), Some(Duration::from_secs(7)));
        assert_eq!(s.start.as_ref().map(|r| r.value.command()), Some("x"));
        let long = "é".repeat(2000);
        assert!(tail(&long).len() <= TAIL + 4);
    }
}
