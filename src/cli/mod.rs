//! The `brawl` command line: clap definitions, dispatch, and how errors become exit codes.
//!
//! Exit codes follow Jepsen's `cli.clj`: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or
//! configuration, 255 internal error.

mod bench;
mod campaign;
mod check;
mod cluster;
mod doctor;
mod exec;
mod nodes;
mod report;
mod run;
pub mod runlog;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use nodes::NodeArgs;

/// Everything checked out (the verdict was valid; every command succeeded).
pub const EXIT_OK: u8 = 0;
/// The verdict was invalid, or a check or command failed.
pub const EXIT_INVALID: u8 = 1;
/// The verdict could not be determined.
pub const EXIT_UNKNOWN: u8 = 2;
/// Bad arguments or configuration (including unreachable nodes and untrusted host keys).
pub const EXIT_BAD_INPUT: u8 = 254;
/// brawl itself failed.
pub const EXIT_INTERNAL: u8 = 255;

/// brawl: a Jepsen-style chaos-testing orchestrator.
#[derive(Debug, Parser)]
#[command(name = "brawl", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More log on stderr (-v info, -vv debug); BRAWL_LOG overrides with a tracing filter.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create, inspect and remove local clusters: nodes in namespaces on this machine.
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
    /// Run a shell command on nodes in parallel and print each node's output and status.
    Exec(exec::ExecArgs),
    /// Check that nodes are ready for tests: reachable, trusted host key, root, iptables, tools.
    Doctor(doctor::DoctorArgs),
    /// Measurements to run by hand (control-layer fan-out latency).
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Run a test: deploy the system, drive the workload, record and check the history.
    Run(run::RunArgs),
    /// Re-render a run directory's report.html and junit.xml from its files (never re-checks).
    Report(report::ReportArgs),
    /// Check a stored history offline (a run directory, brawl's history.jsonl, Jepsen's
    /// history.edn or elle-cli's JSON) against a model: register, list-append, set, bank, ...
    Check(check::CheckArgs),
    /// Run a matrix of tests × fault schedules × repetitions; write a campaign page and one
    /// JUnit file; exit with the worst outcome's code.
    Campaign(campaign::CampaignArgs),
    /// Serve `reports/` over HTTP: an index of runs (filterable by test and verdict) and their reports.
    Serve(serve::ServeArgs),
    /// Heal every node after a brawl that was killed: remove brawl's iptables chains and netem
    /// qdisc, resume stopped processes, stop clock strobes and reset clock offsets.
    Heal {
        #[command(flatten)]
        nodes: NodeArgs,
    },
    /// Check a test file without running anything.
    Validate {
        /// The test file (YAML).
        file: PathBuf,
    },
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: u8,
    /// What went wrong.
    pub error: anyhow::Error,
}

impl CliError {
    /// Bad arguments or configuration: exit 254.
    pub fn bad_input(error: impl Into<anyhow::Error>) -> Self {
        CliError { code: EXIT_BAD_INPUT, error: error.into() }
    }
    /// brawl failed: exit 255.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        CliError { code: EXIT_INTERNAL, error: error.into() }
    }
}

/// Runs the parsed command line and returns the exit code; errors are printed here.
pub async fn run(cli: Cli) -> u8 {
    let result = match cli.command {
        Cmd::Cluster(cmd) => cluster::run(cmd).await,
        Cmd::Exec(args) => exec::run(args).await,
        Cmd::Doctor(args) => doctor::run(args).await,
        Cmd::Validate { file } => validate(&file),
        Cmd::Bench(cmd) => bench::run(cmd).await,
        Cmd::Run(args) => run::run(args).await,
        Cmd::Heal { nodes } => heal(nodes).await,
        Cmd::Check(args) => check::check(args).await,
        Cmd::Campaign(args) => campaign::run(args).await,
        Cmd::Serve(args) => serve::run(args).await,
        Cmd::Report(args) => report::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // The chain of causes, each once (many messages already quote their source).
            let mut msg = e.error.to_string();
            for cause in e.error.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg = format!("{msg}: {c}");
                }
            }
            eprintln!("error: {msg}");
            if let Some(snippet) = e.error.downcast_ref::<crate::config::ConfigError>().and_then(|c| c.snippet()) {
                eprintln!("{snippet}");
            }
            e.code
        }
    }
}

async fn heal(nodes: NodeArgs) -> Result<u8, CliError> {
    let (cluster, _) = crate::cluster::Cluster::ssh(nodes.targets()?);
    let mut code = EXIT_OK;
    for (node, report) in cluster.nodes().iter().zip(crate::nemesis::heal_cluster(&cluster).await) {
        match report {
            Ok(r) if r.changed.is_empty() => println!("{}: nothing to heal", node.name),
            Ok(r) => {
                for line in &r.changed {
                    println!("{}: {line}", node.name);
                }
            }
            Err(e) => {
                println!("{}: error: {e}", node.name);
                code = EXIT_INTERNAL;
            }
        }
    }
    Ok(code)
}

fn validate(file: &std::path::Path) -> Result<u8, CliError> {
    let plan = crate::config::load_test(file).map_err(CliError::bad_input)?;
    // What `run` refuses before it touches a node, `validate` refuses too.
    crate::nemesis::check_schedule_size(&plan.nemeses, plan.time_limit)
        .map_err(|e| CliError::bad_input(anyhow::anyhow!("{}: {e}", file.display())))?;
    let nodes = match &plan.nodes {
        crate::config::NodeSource::Cluster(name) => format!("local cluster {name}"),
        crate::config::NodeSource::NodesFile(path) => {
            let nodes = crate::config::load_nodes_file(path).map_err(CliError::bad_input)?;
            format!("{} nodes from {}", nodes.len(), path.display())
        }
        crate::config::NodeSource::Hosts(hosts) => format!("nodes {}", hosts.join(", ")),
    };
    println!(
        "{}: valid: test {} on {nodes}, {} nemeses, time limit {}, concurrency {}",
        file.display(),
        plan.name,
        plan.nemeses.len(),
        humantime::format_duration(plan.time_limit),
        plan.concurrency
    );
    Ok(EXIT_OK)
}

/// The local cluster layer's errors: the user's mistakes are 254, the machine's are 255.
impl From<crate::local::LocalError> for CliError {
    fn from(e: crate::local::LocalError) -> Self {
        use crate::local::LocalError as L;
        match e {
            L::NotRoot { .. }
            | L::BadName { .. }
            | L::BadCount { .. }
            | L::BadPrivateDir { .. }
            | L::AlreadyUp { .. }
            | L::NotUp { .. }
            | L::MissingTool { .. } => CliError::bad_input(e),
            _ => CliError::internal(e),
        }
    }
}
