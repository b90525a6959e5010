//! A test run from start to verdict, in the order of Jepsen's `run!`:
//!
//! 1. the run directory, `test.yaml` as run, `run.json` (seed, version, command line);
//! 2. SSH to every node (a failure here is the user's: exit 254);
//! 3. the db cycled (torn down, set up, awaited) on every node;
//! 4. workers run the seeded schedule for the time limit, every op journaled to `history.jsonl`
//!    as it completes; then a quiet recovery period and the final reads;
//! 5. node logs downloaded, the db torn down (also after a failure in 3 or 4);
//! 6. the history read back and checked; `results.json`, `report.html` and `junit.xml` written.
//!
//! Ctrl-C or SIGTERM (`stop`) ends the main phase early; the steps after it still run. Each step
//! is a `progress::Phase` sent to the run's `Reporter`, which shows where the run is.

mod guard;
mod halt;
pub mod progress;
pub mod results;
pub mod store;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::checker::{Budget, Validity};
use crate::client::Connector;
use crate::cluster::Cluster;
use crate::config::{DbSpec, TestPlan, WorkloadSpec};
use crate::control::{ControlError, SshTarget};
use crate::db::{self, Db, DbError};
use crate::generator::interpreter::{self, RunSpec};
use crate::generator::Schedule;
use crate::history::{read_jsonl, Header, OpType, Process};
use crate::nemesis::{self, FaultOp, Nemesis, NemesisCtx};
use crate::workload::register::Register;
use crate::workload::{bank::Bank, counter::Counter, set::Set, txn::Txn, Workload};
pub use progress::{Phase, Reporter, RunEvent};
pub use results::Results;
pub use store::RunDir;

/// What can stop a run before it reaches a verdict.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Nodes could not be reached.
    #[error("cannot reach the nodes: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Connect(Vec<ControlError>),
    /// The system under test could not be set up.
    #[error("setting up {db} failed")]
    Db {
        /// Which db.
        db: &'static str,
        /// Why.
        #[source]
        source: DbError,
    },
    /// The database does not serve the workload.
    #[error("{0}")]
    Serves(String),
    /// The client's setup (tables, initial data) failed.
    #[error("setting up the {workload} workload's data in {db} failed: {reason}")]
    ClientSetup {
        /// Which db.
        db: &'static str,
        /// Which workload.
        workload: &'static str,
        /// Why.
        reason: String,
    },
    /// The fault schedule does not fit the cluster (an unknown node, an unsupported fault).
    #[error(transparent)]
    Nemesis(#[from] crate::nemesis::NemesisError),
    /// brawl itself panicked in the middle of the run (after healing every node).
    #[error("brawl panicked during the run: {0}; every fault was healed and the history kept")]
    Panic(String),
    /// A file of the run could not be written or read.
    #[error("{path}: {reason}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// How to run, beyond the plan.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Where runs are stored (`reports/`).
    pub reports: PathBuf,
    /// The test file as run (YAML after overrides).
    pub test_yaml: String,
    /// The command line, to reproduce the run.
    pub argv: Vec<String>,
    /// The checker's budget.
    pub budget: Budget,
    /// The nodes are brawl's local cluster (clocks are shared: no system clock faults).
    pub local_cluster: bool,
    /// Where the live status line goes.
    pub status: progress::StatusOut,
}

/// The db a test names; `env` is added to its processes' environment.
pub fn build_db(spec: &DbSpec, test: &str, env: Vec<(String, String)>) -> Arc<dyn Db> {
    match spec {
        DbSpec::Etcd(s) => Arc::new(db::etcd::Etcd::new(s.clone(), test).with_env(env)),
        DbSpec::Shell(s) => Arc::new(db::shell::Shell::new(s.clone()).with_env(env)),
        DbSpec::Redis(s) => Arc::new(db::redis::Redis::new(s.clone()).with_env(env)),
        DbSpec::Mariadb(s) => Arc::new(db::mariadb::MariaDb::new(s.clone(), test).with_env(env)),
        DbSpec::Postgres(s) => Arc::new(db::postgres::Postgres::new(s.clone()).with_env(env)),
    }
}

/// The workload a test names.
pub fn build_workload(spec: &WorkloadSpec) -> Arc<dyn Workload> {
    match spec {
        WorkloadSpec::Register(s) => Arc::new(Register::new(s)),
        WorkloadSpec::ListAppend(s) => Arc::new(Txn::new(crate::checker::txn::Model::ListAppend, s)),
        WorkloadSpec::RwRegister(s) => Arc::new(Txn::new(crate::checker::txn::Model::RwRegister, s)),
        WorkloadSpec::Set(s) => Arc::new(Set::new(s)),
        WorkloadSpec::Counter(s) => Arc::new(Counter::new(s)),
        WorkloadSpec::Bank(s) => Arc::new(Bank::new(s)),
    }
}

fn io_err(path: &std::path::Path, e: impl std::fmt::Display) -> RunError {
    RunError::Io { path: path.to_path_buf(), reason: e.to_string() }
}

/// Runs `plan` on `targets`. `seed` is the one to use (already chosen and printed).
pub async fn run(
    plan: &TestPlan,
    targets: Vec<SshTarget>,
    seed: u64,
    opts: &RunOptions,
    stop: watch::Receiver<bool>,
) -> Result<(RunDir, Results), RunError> {
    let started_at = chrono::Utc::now();
    let dir = RunDir::create(&opts.reports, &plan.name, started_at).map_err(|e| io_err(&opts.reports, e))?;
    crate::cli::runlog::set(&dir.log());
    let outcome = run_in(plan, targets, seed, opts, stop, &dir, started_at).await;
    if let Err(e) = &outcome {
        warn!(error = %e, "run failed");
    }
    dir.point_latest(&opts.reports, &plan.name);
    crate::cli::runlog::clear();
    outcome.map(|r| (dir, r))
}

async fn run_in(
    plan: &TestPlan,
    targets: Vec<SshTarget>,
    seed: u64,
    opts: &RunOptions,
    stop: watch::Receiver<bool>,
    dir: &RunDir,
    started_at: chrono::DateTime<chrono::Utc>,
) -> Result<Results, RunError> {
    let clock = Instant::now();
    let reporter = Reporter::start(Some(plan.time_limit), opts.status.clone());
    let meta = serde_json::json!({
        "test": plan.name, "seed": seed, "brawl-version": env!("CARGO_PKG_VERSION"),
        "argv": opts.argv, "start": started_at.to_rfc3339(),
        "nodes": targets.iter().map(|t| serde_json::json!({"name": t.name, "host": t.host})).collect::<Vec<_>>(),
    });
    write(&dir.path.join("test.yaml"), opts.test_yaml.as_bytes())?;
    write(&dir.path.join("run.json"), serde_json::to_string_pretty(&meta).unwrap_or_default().as_bytes())?;
    info!(test = %plan.name, seed, dir = %dir.path.display(), "run started");

    let cluster = Cluster::connect(targets).await.map_err(RunError::Connect)?;
    // Under a faketime clock nemesis the system under test starts with libfaketime preloaded.
    let env = if nemesis::uses_faketime(&plan.nemeses, opts.local_cluster) {
        nemesis::clock::faketime_env()
    } else {
        Vec::new()
    };
    let db = build_db(&plan.db, &plan.name, env);
    let workload = build_workload(&plan.workload);
    let connector = crate::client::connector(&plan.db, &plan.workload, plan.client.as_ref(), &plan.name, &cluster)
        .map_err(RunError::Serves)?;
    let names: Vec<String> = cluster.nodes().iter().map(|n| n.name.clone()).collect();
    nemesis::validate(&plan.nemeses, &plan.timeline, &names)?;
    nemesis::check_schedule_size(&plan.nemeses, plan.time_limit)?;
    let ctx = NemesisCtx::new(cluster.clone(), db.clone(), opts.local_cluster)?;
    let mut nem = nemesis::build(&plan.nemeses, seed)?;

    let setup = match db::cycle(db.as_ref(), &cluster).await {
        Ok(()) => match connector.setup(&cluster).await {
            Ok(()) => nem.setup(&ctx).await.map_err(RunError::from),
            Err(reason) => Err(RunError::ClientSetup { db: db.name(), workload: workload.name(), reason }),
        },
        Err(e) => Err(RunError::Db { db: db.name(), source: e }),
    };
    let driven = match setup {
        // A panic while driving must not skip the healing below: catch it, heal, report it.
        Ok(()) => AssertUnwindSafe(drive(
            plan,
            seed,
            &cluster,
            workload.clone(),
            connector.clone(),
            dir,
            stop,
            &mut nem,
            &ctx,
            &reporter,
        ))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(RunError::Panic(panic_message(panic.as_ref())))),
        Err(e) => Err(e),
    };
    // Whatever happened, every fault is healed before the db goes.
    if let Err(e) = nem.teardown(&ctx).await {
        warn!(error = %e, "nemesis teardown failed; `brawl heal` repairs the nodes");
    }
    let (summary, interrupted) = match driven {
        Ok(x) => x,
        Err(e) => {
            finish_db(db.as_ref(), &cluster, dir).await;
            return Err(e);
        }
    };
    reporter.phase(Phase::Teardown);
    let node_logs = finish_db(db.as_ref(), &cluster, dir).await;

    reporter.phase(Phase::Check);
    let history = read_jsonl(dir.history()).map_err(|e| io_err(&dir.history(), e))?;
    let ops = &history.ops;
    // Each checker under catch_unwind: a panic is that checker's `unknown` (see `guard`).
    let (stats_result, stats_panic) = guard::stats_checked(ops);
    let (checked, check_panic) = guard::workload(workload.as_ref(), ops, &opts.budget);
    let mut warnings = results::stats_warnings(&stats_result);
    if interrupted {
        warnings.push("interrupted: the run was stopped before its time limit".into());
    }
    if history.truncated {
        warnings.push("the history's last line was cut off".into());
    }
    let results = Results {
        version: results::RESULTS_VERSION,
        test: plan.name.clone(),
        validity: checked
            .outcomes
            .iter()
            .map(|o| o.validity)
            .chain(checked.linearizable.as_ref().map(|l| l.validity))
            .fold(stats_result.validity, Validity::merge),
        start: started_at.to_rfc3339(),
        duration_s: clock.elapsed().as_secs_f64(),
        seed,
        linearizable: checked.linearizable,
        stats: stats_result,
        // A panicked linearizability checker is listed here; other checkers' outcomes (a
        // panicked one among them) are the workload's own.
        checkers: checked
            .outcomes
            .into_iter()
            .chain(check_panic.filter(|_| workload.kind() == crate::workload::WorkloadKind::Register))
            .chain(stats_panic)
            .collect(),
        warnings,
        history_ops: summary.ops,
        interrupted,
        node_logs,
        faults: results::fault_summary(ops),
    };
    // The report reads the history again from disk; two copies of a large history need not
    // be in memory at once.
    drop(history);
    reporter.phase(Phase::Report);
    let json = serde_json::to_string_pretty(&results).map_err(|e| io_err(&dir.results(), e))?;
    write(&dir.results(), json.as_bytes())?;
    // The verdict stands even when the report cannot be drawn: `brawl report DIR` retries it.
    if let Err(e) = crate::report::write_run(&dir.path) {
        warn!(error = %e, "writing report.html and junit.xml failed");
    }
    reporter.finish().await;
    info!(verdict = ?results.validity, "run done");
    Ok(results)
}

/// The workers' phases: main (time limit, with the fault schedule), final heal, recovery, final
/// reads.
#[allow(clippy::too_many_arguments)]
async fn drive(
    plan: &TestPlan,
    seed: u64,
    cluster: &Cluster,
    workload: Arc<dyn Workload>,
    connector: Arc<dyn Connector>,
    dir: &RunDir,
    stop: watch::Receiver<bool>,
    nem: &mut dyn Nemesis,
    ctx: &NemesisCtx,
    reporter: &Reporter,
) -> Result<(interpreter::WriteSummary, bool), RunError> {
    let schedule = Schedule::new(plan.concurrency, plan.rate, seed);
    let gens = schedule.threads(workload.keys());
    let started = Instant::now();
    let (sink, writer) =
        interpreter::spawn_writer(&dir.history(), &Header::new(Some(plan.name.clone()), Some(seed)), started)
            .map_err(|e| io_err(&dir.history(), e))?;
    // A failed history write (a full disk) stops the run like Ctrl-C; the error comes at the end.
    let mut stop = halt::stop_on_write_failure(stop, sink.weak());
    let spec = RunSpec { concurrency: plan.concurrency, time_limit: plan.time_limit, final_read_attempts: 10 };
    let mut workers = interpreter::start(&spec, workload, connector, cluster.nodes(), gens, &sink, stop.clone());
    reporter.send(RunEvent::Counting(sink.counts()));
    reporter.phase(Phase::Main);
    let faults = nemesis::plan(&plan.nemeses, &plan.timeline, seed, plan.time_limit);
    let runner = async {
        let mut stop = stop.clone();
        for fault in faults {
            tokio::select! {
                _ = tokio::time::sleep_until((started + fault.at).into()) => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            apply(nem, ctx, &sink, &fault.op, reporter).await;
            failpoint("run.after-fault");
        }
    };
    tokio::join!(runner, workers.main_phase_done());
    reporter.phase(Phase::Recovery);
    info!("main phase over; healing every fault");
    for op in nemesis::final_heal_ops(&plan.nemeses) {
        apply(nem, ctx, &sink, &op, reporter).await;
    }
    let interrupted = *stop.borrow();
    if interrupted {
        workers.end().await;
    } else {
        info!(secs = plan.recovery_time.as_secs_f64(), "main phase over; recovery period");
        tokio::select! {
            _ = tokio::time::sleep(plan.recovery_time) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            workers.end().await;
        } else {
            reporter.phase(Phase::FinalReads);
            workers.final_reads().await;
        }
    }
    drop(sink);
    let summary = tokio::task::spawn_blocking(move || interpreter::join_writer(writer))
        .await
        .map_err(|e| io_err(&dir.history(), e))?
        .map_err(|e| io_err(&dir.history(), format!("writing the history failed: {e}; the ops before it are kept")))?;
    Ok((summary, interrupted || *stop.borrow()))
}

/// Performs one fault op and journals it as Jepsen does: `info` from the nemesis when it
/// starts and when it ends, the end carrying what was done.
async fn apply(
    nem: &mut dyn Nemesis,
    ctx: &NemesisCtx,
    sink: &interpreter::HistorySink,
    op: &FaultOp,
    reporter: &Reporter,
) {
    sink.record(OpType::Info, Process::Nemesis, &op.f, op.value.clone(), None, None);
    let record = nem.invoke(ctx, op).await;
    reporter.send(RunEvent::FaultDone { f: op.f.clone(), nodes: record.nodes.clone(), failed: record.error.is_some() });
    if let Some(e) = &record.error {
        warn!(f = %op.f, error = %e, "fault op failed");
    } else {
        info!(f = %op.f, nodes = ?record.nodes, "fault op done");
    }
    let mut value = record.value.clone();
    if let (Some(obj), false) = (value.as_object_mut(), record.nodes.is_empty()) {
        obj.insert("nodes".into(), record.nodes.clone().into());
    }
    sink.record(OpType::Info, Process::Nemesis, &op.f, value, None, record.error.clone());
}

/// Downloads node logs, then tears the db down; never fails (a run's verdict must not be lost
/// to a node that is gone).
async fn finish_db(db: &dyn Db, cluster: &Cluster, dir: &RunDir) -> Vec<String> {
    let logs = db::download_logs(db, cluster, &dir.path).await;
    let done = tokio::time::timeout(Duration::from_secs(120), db::teardown_all(db, cluster)).await;
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "teardown failed"),
        Err(_) => warn!("teardown timed out"),
    }
    logs
}

/// A panic's message.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Panics when `BRAWL_FAILPOINTS` (comma-separated) names `name`: how the tests prove that a
/// panic in the middle of a run still heals every node. Unset in normal use.
fn failpoint(name: &str) {
    if std::env::var("BRAWL_FAILPOINTS").is_ok_and(|v| v.split(',').any(|p| p.trim() == name)) {
        panic!("failpoint {name}");
    }
}

fn write(path: &std::path::Path, bytes: &[u8]) -> Result<(), RunError> {
    std::fs::write(path, bytes).map_err(|e| io_err(path, e))
}

/// The overall verdict's exit code.
pub fn exit_code(v: Validity) -> u8 {
    match v {
        Validity::Valid => 0,
        Validity::Invalid => 1,
        Validity::Unknown => 2,
    }
}
