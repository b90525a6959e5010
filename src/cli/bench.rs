//! `brawl bench`: measurements run by hand (never timed tests): the control layer's fan-out.

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
    let BenchCmd::Fanout(args) = cmd;
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
