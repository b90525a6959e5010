//! `brawl run TEST.yaml`: one test, end to end, exiting with its verdict.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use tokio::sync::watch;

use super::{CliError, NodeArgs};
use crate::checker::Budget;
use crate::config::{self, NodeSource, TestPlan};
use crate::control::SshTarget;
use crate::run::progress::StatusOut;
use crate::run::{self, RunError, RunOptions};

/// Arguments of `brawl run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The test file (YAML).
    file: PathBuf,
    /// Run on this local cluster instead of the test's nodes.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["nodes_file", "vagrant"])]
    cluster: Option<String>,
    /// Run on the nodes of this nodes file instead of the test's nodes.
    #[arg(long, value_name = "FILE", conflicts_with = "vagrant")]
    nodes_file: Option<PathBuf>,
    /// Run on the machines of the Vagrantfile in DIR instead of the test's nodes (through the
    /// nodes file `brawl cluster vagrant` writes).
    #[arg(long, value_name = "DIR")]
    vagrant: Option<PathBuf>,
    /// Override the test's time limit: seconds (20, 0.5) or with a unit (250ms, 30s, 5m).
    #[arg(long, value_parser = config::duration::parse_flag)]
    time_limit: Option<Duration>,
    /// Override the number of client processes.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: Option<u64>,
    /// Override the target rate (ops/s over all clients).
    #[arg(long)]
    rate: Option<f64>,
    /// Override the seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Run with the fault schedule of this file (`nemeses:` and `timeline:`, as in `nemeses/`)
    /// instead of the test's own.
    #[arg(long, value_name = "FILE")]
    nemesis: Option<PathBuf>,
    /// Where runs are stored.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Time budget of the linearizability check; past it the verdict is unknown. Seconds (20,
    /// 0.5) or with a unit (250ms, 30s, 5m).
    #[arg(long, default_value = "120s", value_parser = config::duration::parse_flag)]
    check_time: Duration,
}

/// What the command line (or a campaign) changes in a test file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// A local cluster instead of the test's nodes.
    pub cluster: Option<String>,
    /// A nodes file instead of the test's nodes.
    pub nodes_file: Option<PathBuf>,
    /// The time limit.
    pub time_limit: Option<Duration>,
    /// The number of client processes.
    pub concurrency: Option<u64>,
    /// The target rate.
    pub rate: Option<f64>,
    /// The seed.
    pub seed: Option<u64>,
    /// A nemesis file whose schedule replaces the test's.
    pub nemesis: Option<PathBuf>,
}

/// A test file with its overrides applied, ready to run.
pub struct Prepared {
    /// The plan.
    pub plan: TestPlan,
    /// The test as run (YAML after overrides, with the seed).
    pub raw: serde_json::Value,
    /// The seed.
    pub seed: u64,
    /// The nodes.
    pub targets: Vec<SshTarget>,
    /// The nodes are a local cluster.
    pub local_cluster: bool,
}

/// Loads `file`, applies `o` and resolves the nodes. Errors are the user's (exit 254).
pub fn prepare(file: &Path, o: &Overrides) -> Result<Prepared, CliError> {
    let mut plan = config::load_test(file).map_err(CliError::bad_input)?;
    let mut raw = config::load_value(file).map_err(CliError::bad_input)?;
    if let Some(t) = o.time_limit {
        plan.time_limit = t;
        raw["time-limit"] = humantime::format_duration(t).to_string().into();
    }
    if let Some(c) = o.concurrency {
        plan.concurrency = c as usize;
        raw["concurrency"] = c.into();
    }
    if let Some(r) = o.rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(CliError::bad_input(anyhow::anyhow!("--rate must be a positive number of ops/s, not {r}")));
        }
        plan.rate = Some(r);
        raw["rate"] = r.into();
    }
    let seed = o.seed.or(plan.seed).unwrap_or_else(rand::random);
    raw["seed"] = seed.into();
    if let Some(file) = &o.nemesis {
        let swap = config::load_nemesis_file(file).map_err(CliError::bad_input)?;
        let text = config::load_value(file).map_err(CliError::bad_input)?;
        // The test as run holds the swapped-in schedule exactly (no `null` for what the file lacks).
        if let Some(obj) = raw.as_object_mut() {
            for key in ["nemeses", "timeline"] {
                match text.get(key) {
                    Some(v) if !v.is_null() => obj.insert(key.into(), v.clone()),
                    _ => obj.remove(key),
                };
            }
        }
        plan.nemeses = swap.nemeses;
        plan.timeline = swap.timeline;
    }
    let local_cluster = o.nodes_file.is_none() && (o.cluster.is_some() || matches!(plan.nodes, NodeSource::Cluster(_)));
    let targets = targets(&plan, o)?;
    if let Some(obj) = raw.as_object_mut() {
        if let Some(c) = &o.cluster {
            obj.remove("nodes");
            obj.remove("nodes-file");
            obj.insert("cluster".into(), c.clone().into());
        } else if let Some(f) = &o.nodes_file {
            obj.remove("nodes");
            obj.remove("cluster");
            obj.insert("nodes-file".into(), f.display().to_string().into());
        }
    }
    Ok(Prepared { plan, raw, seed, targets, local_cluster })
}

/// A flag set on the first Ctrl-C or SIGTERM (the run then ends its main phase early and still
/// heals, saves and checks); a second Ctrl-C exits at once with 130.
pub fn stop_on_signals() -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
        eprintln!("stopping: finishing the run (healing, logs, checks); press Ctrl-C again to abort");
        let _ = stop_tx.send(true);
        let _ = tokio::signal::ctrl_c().await;
        std::process::exit(130);
    });
    stop_rx
}

/// How a failed run maps to an exit code: the user's configuration (254) or brawl (255).
pub fn run_error(e: RunError) -> CliError {
    match e {
        RunError::Connect(_) | RunError::Nemesis(_) | RunError::Serves(_) => CliError::bad_input(e),
        _ => CliError::internal(e),
    }
}

/// Runs the test and exits with its verdict: 0 valid, 1 invalid, 2 unknown.
pub async fn run(args: RunArgs) -> Result<u8, CliError> {
    let nodes_file = match &args.vagrant {
        Some(dir) => Some(crate::vagrant::nodes_file(dir).map_err(CliError::bad_input)?),
        None => args.nodes_file.clone(),
    };
    let o = Overrides {
        cluster: args.cluster.clone(),
        nodes_file,
        time_limit: args.time_limit,
        concurrency: args.concurrency,
        rate: args.rate,
        seed: args.seed,
        nemesis: args.nemesis.clone(),
    };
    let Prepared { plan, raw, seed, targets, local_cluster } = prepare(&args.file, &o)?;
    println!(
        "brawl run {}: seed {seed}, {} nodes, {} clients, {}",
        plan.name,
        targets.len(),
        plan.concurrency,
        humantime::format_duration(plan.time_limit)
    );
    let stop_rx = stop_on_signals();
    let opts = RunOptions {
        reports: args.reports.clone(),
        test_yaml: config::to_yaml(&raw),
        argv: std::env::args().collect(),
        budget: Budget { time: args.check_time, ..Budget::default() },
        local_cluster,
        status: StatusOut::Auto,
    };
    let (dir, results) = run::run(&plan, targets, seed, &opts, stop_rx).await.map_err(run_error)?;
    let s = &results.stats.total;
    println!("{} ok, {} fail, {} info ops; {} history ops", s.ok, s.fail, s.info, results.history_ops);
    for w in &results.warnings {
        println!("warning: {w}");
    }
    for f in results.linearizable.iter().flat_map(|l| &l.failures) {
        println!("not linearizable: key {}: {}", f.key, f.message);
    }
    for o in results.checkers.iter().filter(|o| o.validity != crate::checker::Validity::Valid) {
        println!("{}: {:?}: {}", o.checker, o.validity, o.summary);
    }
    println!("verdict: {:?}", results.validity);
    println!("report: {}", dir.report().display());
    Ok(results.exit_code())
}

/// The nodes a run uses: the command line's, else the test's; with the test's ssh overrides.
fn targets(plan: &TestPlan, args: &Overrides) -> Result<Vec<SshTarget>, CliError> {
    let nodes = NodeArgs::new(args.cluster.clone(), args.nodes_file.clone(), None);
    let mut targets = if args.cluster.is_some() || args.nodes_file.is_some() {
        nodes.targets()?
    } else {
        match &plan.nodes {
            NodeSource::Cluster(name) => NodeArgs::new(Some(name.clone()), None, None).targets()?,
            NodeSource::NodesFile(path) => config::load_nodes_file(path).map_err(CliError::bad_input)?,
            NodeSource::Hosts(hosts) => hosts.iter().map(|h| SshTarget::new(h.clone(), h.clone())).collect(),
        }
    };
    for t in &mut targets {
        plan.ssh.apply(t);
    }
    Ok(targets)
}
