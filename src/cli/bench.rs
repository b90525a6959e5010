//! `brawl bench`: measurements run by hand (never timed tests): the control layer's fan-out,
//! the interpreter, fault latency; and `gen-txn`, which writes generated transactional histories.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use super::{CliError, NodeArgs, EXIT_OK};
use crate::cluster::Cluster;
use crate::control::RemoteCommand;

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Time one command on all nodes at once, over warm connections, from inside the library.
    Fanout(FanoutArgs),
    /// Ops/s through the generator, interpreter and history writer with a client that does nothing.
    Interpreter(InterpreterArgs),
    /// Time from a partition's scheduled instant to its iptables rules being in place on every
    /// node (and the same for the heal), through the nemesis the runs use.
    Faults(FaultsArgs),
    /// Write a seeded list-append or rw-register history (serializable, snapshot isolation with
    /// write skew, or lost updates) for benchmarks and tests.
    GenTxn(GenTxnArgs),
}

/// Arguments of `brawl bench gen-txn`.
#[derive(Debug, Args)]
pub struct GenTxnArgs {
    /// list-append or rw-register.
    #[arg(long, default_value = "list-append")]
    model: crate::checker::txn_gen::TxnModel,
    /// Transactions to invoke.
    #[arg(long, default_value_t = 1_000_000)]
    txns: u64,
    /// Client processes at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// serializable (strict), snapshot-isolation (with write skew) or lost-update.
    #[arg(long, default_value = "serializable")]
    isolation: crate::checker::txn_gen::Isolation,
    /// Keys in the active pool.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    keys: u32,
    /// Writes after which a key retires.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    max_writes_per_key: u32,
    /// Micro-ops per transaction, at most (at least 1).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    max_txn_len: u32,
    /// Percentage of transactions that fail without effect.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=50))]
    fail_pct: u32,
    /// Percentage of transactions that end `info`.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=50))]
    info_pct: u32,
    /// End with one transaction reading every key.
    #[arg(long)]
    final_reads: bool,
    /// The seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// edn (Jepsen, one op per line), elle-json or jsonl (brawl's).
    #[arg(long, default_value = "edn")]
    format: crate::checker::txn_gen::OutFormat,
    /// The file to write (`-` for stdout).
    out: std::path::PathBuf,
}

/// Arguments of `brawl bench faults`.
#[derive(Debug, Args)]
pub struct FaultsArgs {
    #[command(flatten)]
    nodes: NodeArgs,
    /// How many partitions to time (after 3 untimed ones).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    iterations: u64,
    /// The partition topology.
    #[arg(long, default_value = "halves")]
    topology: String,
}

/// Arguments of `brawl bench interpreter`.
#[derive(Debug, Args)]
pub struct InterpreterArgs {
    /// Worker threads.
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// How long to run: seconds (20, 0.5) or with a unit (250ms, 30s, 5m).
    #[arg(long, default_value = "5s", value_parser = crate::config::duration::parse_flag)]
    duration: Duration,
    /// Where to write the history (default: a temporary file, removed afterwards).
    #[arg(long)]
    history: Option<std::path::PathBuf>,
    /// Drive an external client instead (the command of a test's `client:` section, one
    /// process per worker, JSON lines protocol): measures the protocol's throughput.
    #[arg(long, value_name = "CMD")]
    client_command: Option<String>,
}

/// Arguments of `brawl bench fanout`.
#[derive(Debug, Args)]
pub struct FanoutArgs {
    #[command(flatten)]
    nodes: NodeArgs,
    /// How many fan-outs to time (after 10 untimed ones that warm the connections).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    iterations: u64,
    /// The command.
    #[arg(long, default_value = "true")]
    command: String,
}

/// Runs a benchmark and prints its figures.
pub async fn run(cmd: BenchCmd) -> Result<u8, CliError> {
    let args = match cmd {
        BenchCmd::Fanout(args) => args,
        BenchCmd::Interpreter(args) => return interpreter(args).await,
        BenchCmd::Faults(args) => return faults(args).await,
        BenchCmd::GenTxn(args) => return gen_txn(args),
    };
    let targets = args.nodes.targets()?;
    let n = targets.len();
    let cluster = Cluster::connect(targets).await.map_err(|errors| {
        CliError::bad_input(anyhow::anyhow!(errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")))
    })?;
    let cmd = RemoteCommand::new(args.command.clone());
    let mut samples: Vec<Duration> = Vec::with_capacity(args.iterations as usize);
    for i in 0..args.iterations + 10 {
        let started = Instant::now();
        for (node, r) in cluster.exec_all(&cmd).await {
            r.map_err(|e| CliError::internal(anyhow::anyhow!("{node}: {e}")))?;
        }
        if i >= 10 {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    let q = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len().max(1) as u32;
    println!(
        "fan-out of `{}` on {n} nodes, {} runs: min {:.2} ms, p50 {:.2} ms, mean {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.command,
        samples.len(),
        ms(q(0.0)),
        ms(q(0.5)),
        ms(mean),
        ms(q(0.9)),
        ms(q(0.99)),
        ms(q(1.0))
    );
    Ok(EXIT_OK)
}

/// min / p50 / p90 / max of `samples`, in ms.
fn quantiles(samples: &mut [Duration]) -> String {
    samples.sort();
    let q = |p: f64| ms(samples[((samples.len() - 1) as f64 * p).round() as usize]);
    format!("min {:.2} ms, p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms", q(0.0), q(0.5), q(0.9), q(1.0))
}

/// Schedules partitions 50 ms ahead, as the fault runner does, and times each from its
/// scheduled instant until `invoke` returned (every node's rules in place), then the heal.
async fn faults(args: FaultsArgs) -> Result<u8, CliError> {
    use crate::nemesis::{FaultOp, Nemesis, NemesisCtx, NemesisSpec};
    let local = args.nodes.nodes_file.is_none() && args.nodes.vagrant.is_none();
    let targets = args.nodes.targets()?;
    let n = targets.len();
    let cluster = Cluster::connect(targets).await.map_err(|errors| {
        CliError::bad_input(anyhow::anyhow!(errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")))
    })?;
    let db = crate::run::build_db(&crate::config::DbSpec::Etcd(Default::default()), "bench", Vec::new());
    let ctx = NemesisCtx::new(cluster, db, local).map_err(CliError::bad_input)?;
    let spec: NemesisSpec =
        serde_json::from_value(serde_json::json!({ "partition": {} })).map_err(CliError::internal)?;
    let mut nem = crate::nemesis::build(&[spec], 1).map_err(CliError::bad_input)?;
    nem.setup(&ctx).await.map_err(CliError::bad_input)?;
    let start = FaultOp::new("start-partition", serde_json::json!({ "topology": args.topology }));
    let stop = FaultOp::new("stop-partition", serde_json::Value::Null);
    let (mut applied, mut healed) = (Vec::new(), Vec::new());
    let mut result = Ok(());
    for i in 0..args.iterations + 3 {
        let mut times = [Duration::ZERO; 2];
        for (k, op) in [&start, &stop].into_iter().enumerate() {
            let at = tokio::time::Instant::now() + Duration::from_millis(50);
            tokio::time::sleep_until(at).await;
            let record = nem.invoke(&ctx, op).await;
            times[k] = at.elapsed();
            if let Some(e) = record.error {
                result = Err(CliError::internal(anyhow::anyhow!("{}: {e}", op.f)));
            }
        }
        if result.is_err() {
            break;
        }
        if i >= 3 {
            applied.push(times[0]);
            healed.push(times[1]);
        }
    }
    let torn = nem.teardown(&ctx).await;
    result?;
    torn.map_err(CliError::internal)?;
    println!(
        "partition ({}) on {n} nodes, {} times: scheduled instant to rules in place: {}",
        args.topology,
        applied.len(),
        quantiles(&mut applied)
    );
    println!("heal: scheduled instant to rules removed: {}", quantiles(&mut healed));
    Ok(EXIT_OK)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the no-op workload for a while and reports history ops written per second.
async fn interpreter(args: InterpreterArgs) -> Result<u8, CliError> {
    use crate::generator::{interpreter as interp, Schedule};
    use std::sync::Arc;
    let tmp = tempfile_path();
    let path = args.history.clone().unwrap_or_else(|| tmp.clone());
    let workload: Arc<dyn crate::workload::Workload> = Arc::new(crate::workload::noop::Noop { keys: 100 });
    let node =
        crate::cluster::Node { name: "local".into(), remote: Arc::new(crate::control::FakeRemote::new("local")) };
    let gens = Schedule::new(args.concurrency, None, 1).threads(workload.keys());
    let header = crate::history::Header::new(Some("bench".into()), Some(1));
    let started = Instant::now();
    let (sink, writer) = interp::spawn_writer(&path, &header, started).map_err(CliError::internal)?;
    let spec = interp::RunSpec { concurrency: args.concurrency, time_limit: args.duration, final_read_attempts: 1 };
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let connector: Arc<dyn crate::client::Connector> = match &args.client_command {
        Some(command) => {
            let spec = crate::client::external::ClientSpec {
                command: command.clone(),
                hello_timeout: None,
                env: Default::default(),
            };
            let cluster = crate::cluster::Cluster::new(vec![node.remote.clone()]);
            let register = crate::config::WorkloadSpec::Register(Default::default());
            let c = crate::client::external::ExternalConnector::new(&spec, &register, "bench", &cluster);
            crate::client::Connector::setup(&c, &cluster).await.map_err(|e| CliError::bad_input(anyhow::anyhow!(e)))?;
            Arc::new(c)
        }
        None => Arc::new(crate::workload::noop::NoopConnector),
    };
    let what = if args.client_command.is_some() { "an external client" } else { "a no-op client" };
    let mut workers = interp::start(&spec, workload, connector, &[node], gens, &sink, stop_rx);
    workers.main_phase_done().await;
    workers.end().await;
    drop(sink);
    let summary = tokio::task::spawn_blocking(move || interp::join_writer(writer))
        .await
        .map_err(CliError::internal)?
        .map_err(CliError::internal)?;
    let secs = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if args.history.is_none() {
        let _ = std::fs::remove_file(&tmp);
    }
    println!(
        "interpreter with {what}, {} threads: {} history ops in {:.2} s = {:.0} ops/s written ({:.0} MB/s), {:.0} client ops/s",
        args.concurrency,
        summary.ops,
        secs,
        summary.ops as f64 / secs,
        bytes as f64 / secs / 1e6,
        summary.ops as f64 / 2.0 / secs
    );
    Ok(EXIT_OK)
}

/// Writes a generated transactional history and prints what it holds.
fn gen_txn(args: GenTxnArgs) -> Result<u8, CliError> {
    use crate::checker::txn_gen::{write, GenSpec};
    let spec = GenSpec {
        model: args.model,
        isolation: args.isolation,
        txns: args.txns,
        concurrency: args.concurrency,
        key_count: args.keys,
        max_writes_per_key: args.max_writes_per_key,
        min_txn_len: 1,
        max_txn_len: args.max_txn_len,
        fail_pct: args.fail_pct,
        info_pct: args.info_pct,
        final_reads: args.final_reads,
        seed: args.seed,
    };
    let started = Instant::now();
    let stats = if args.out.as_os_str() == "-" {
        write(&spec, args.format, std::io::stdout().lock())
    } else {
        let file = std::fs::File::create(&args.out)
            .map_err(|e| CliError::bad_input(anyhow::anyhow!("cannot create {}: {e}", args.out.display())))?;
        write(&spec, args.format, file)
    }
    .map_err(|e| CliError::internal(anyhow::anyhow!("writing {}: {e}", args.out.display())))?;
    eprintln!(
        "{} ops ({} ok, {} fail of which {} first-committer-wins aborts, {} info), {} keys, in {:.2} s",
        stats.ops,
        stats.ok,
        stats.fail,
        stats.fcw_aborts,
        stats.info,
        stats.keys,
        started.elapsed().as_secs_f64()
    );
    Ok(EXIT_OK)
}

fn tempfile_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("brawl-bench-{}.jsonl", std::process::id()))
}
