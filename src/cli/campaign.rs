//! `brawl campaign FILE.yaml`: tests × fault schedules × repetitions, one run after another,
//! with a progress bar; then the campaign page, one JUnit file, and the worst outcome's exit code.
//! `--shard K/N` runs one shard of the matrix; `brawl campaign merge OUT SHARD...` joins shards.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::run::{prepare, run_error, stop_on_signals, Overrides, Prepared};
use super::CliError;
use crate::campaign::{self, CampaignResult, MatrixCell, RunOutcome, ScheduleRef, Shard, ShardRecord};
use crate::checker::{Budget, Validity};
use crate::cluster::Cluster;
use crate::config;
use crate::run::progress::StatusOut;
use crate::run::{self as runner, RunOptions};

/// Arguments of `brawl campaign`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CampaignArgs {
    /// `merge`; without it, run the campaign FILE.
    #[command(subcommand)]
    cmd: Option<CampaignCmd>,
    /// The campaign file (YAML).
    #[arg(required = true)]
    file: Option<PathBuf>,
    /// Where runs and the campaign are stored.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Run only shard K of N (1-based): cell i of the matrix (a test × schedule, with all its
    /// repetitions; 0-based in matrix order) belongs to shard i % N + 1, as nextest's
    /// `--partition count:K/N`. Merge the shards with `brawl campaign merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Run on this local cluster instead of the campaign file's `cluster`/`nodes-file`.
    #[arg(long, conflicts_with = "nodes_file")]
    cluster: Option<String>,
    /// Run on the nodes of this nodes file instead of the campaign file's `cluster`/`nodes-file`.
    #[arg(long)]
    nodes_file: Option<PathBuf>,
}

/// Subcommands of `brawl campaign`.
#[derive(Debug, Subcommand)]
enum CampaignCmd {
    /// Join the shards of one campaign (`--shard K/N` runs) into one campaign.html, junit.xml
    /// and campaign.json in OUT_DIR, copying every run directory into OUT_DIR/shard-K/. A shard
    /// not given is shown as missing; the exit code is the worst of all runs (missing: 255).
    Merge {
        /// Where the merged campaign goes (created; must be empty if it exists).
        out_dir: PathBuf,
        /// Each shard: its campaign directory (holding campaign.json), or the reports directory
        /// it ran into (holding one campaign under _campaigns/).
        #[arg(required = true)]
        shard_dirs: Vec<PathBuf>,
    },
}

/// The first line of what made a run invalid, unknown or fail.
fn message(results: &runner::Results) -> Option<String> {
    match results.validity {
        Validity::Valid => None,
        Validity::Invalid => results
            .linearizable
            .as_ref()
            .and_then(|l| l.failures.first())
            .map(|f| format!("not linearizable: key {}: {}", f.key, f.message))
            .or_else(|| {
                let o = results.checkers.iter().find(|c| c.validity == Validity::Invalid)?;
                Some(format!("{}: {}", o.checker, o.summary))
            })
            .or_else(|| Some("invalid".into())),
        Validity::Unknown => results
            .linearizable
            .as_ref()
            .and_then(|l| l.unknown_keys.first())
            .map(|u| format!("unknown: key {}: {}", u.key, u.reason))
            .or_else(|| {
                let o = results.checkers.iter().find(|c| c.validity == Validity::Unknown)?;
                Some(format!("{}: {}", o.checker, o.summary))
            })
            .or_else(|| results.warnings.first().cloned()),
    }
}

/// Runs the campaign, or merges shards.
pub async fn run(args: CampaignArgs) -> Result<u8, CliError> {
    if let Some(CampaignCmd::Merge { out_dir, shard_dirs }) = &args.cmd {
        return merge(out_dir, shard_dirs);
    }
    let file = args.file.clone().ok_or_else(|| CliError::bad_input(anyhow::anyhow!("no campaign file given")))?;
    let mut c = campaign::load_campaign(&file).map_err(CliError::bad_input)?;
    if let Some(cluster) = &args.cluster {
        c.cluster = Some(cluster.clone());
        c.nodes_file = None;
    } else if let Some(nodes) = &args.nodes_file {
        c.nodes_file = Some(nodes.clone());
        c.cluster = None;
    }
    // Every test file and schedule is checked before the first run, so a typo fails in seconds
    // (on every shard: they all check the whole matrix, and record it for the merge).
    let mut matrix = Vec::new();
    for (test, written) in c.tests.iter().zip(&c.test_files) {
        for schedule in &c.schedules {
            let p = prepare(test, &overrides(&c, schedule, None))?;
            matrix.push(MatrixCell { test: p.plan.name, file: written.clone(), schedule: schedule.label() });
        }
    }
    // Run i of the matrix is cell i / repetitions; its seed is the same on any shard.
    let reps = c.repetitions as usize;
    let cells: Vec<(usize, campaign::Cell)> =
        c.matrix().into_iter().enumerate().filter(|(i, _)| args.shard.is_none_or(|s| s.owns(i / reps))).collect();
    let started_at = chrono::Utc::now();
    let dir = campaign::create_dir(&args.reports, &c.name, started_at)
        .map_err(|e| CliError::internal(anyhow::anyhow!("{}: {e}", args.reports.display())))?;
    let of_shard =
        args.shard.map(|s| format!(" (shard {s} of a {}-run matrix)", reps * matrix.len())).unwrap_or_default();
    println!("brawl campaign {}: {} runs{of_shard}; pages in {}", c.name, cells.len(), dir.display());
    // The campaign's bar and each run's status line share the terminal.
    let multi = MultiProgress::new();
    let bar = multi.add(ProgressBar::new(cells.len() as u64));
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let stop = stop_on_signals();
    let clock = Instant::now();
    let mut result = CampaignResult {
        name: c.name.clone(),
        start: started_at.to_rfc3339(),
        duration_s: 0.0,
        schedules: c.schedules.iter().map(ScheduleRef::label).collect(),
        repetitions: c.repetitions,
        runs: Vec::new(),
        exit_code: 0,
        interrupted: false,
        shard: args.shard.map(|s| ShardRecord::new(s, matrix.len())),
        matrix,
        merged: None,
    };
    // Written before the first run, so a shard that dies early still says which cells it owned.
    campaign::write(&dir, &result).map_err(|e| CliError::internal(anyhow::anyhow!("{}: {e}", dir.display())))?;
    for (n, (i, cell)) in cells.iter().enumerate() {
        let i = *i;
        if *stop.borrow() {
            result.interrupted = true;
            break;
        }
        let seed = c.seed.map(|s| s.wrapping_add(i as u64));
        let label = cell.schedule.label();
        let stem = cell.test.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        bar.set_message(format!("{stem} × {label} #{}", cell.repetition));
        bar.println(format!("[{}/{}] {stem} × {label} #{}", n + 1, cells.len(), cell.repetition));
        let t0 = Instant::now();
        let mut outcome = RunOutcome {
            test: stem,
            schedule: label,
            repetition: cell.repetition,
            verdict: None,
            exit_code: 255,
            run_dir: None,
            message: None,
            seed,
            duration_s: 0.0,
            cell: Some(i / reps),
            missing: false,
        };
        match one_run(&c, cell, seed, &args, stop.clone(), &StatusOut::In(multi.clone())).await {
            Ok((run_dir, results)) => {
                outcome.test = results.test.clone();
                outcome.verdict = Some(results.validity);
                outcome.exit_code = results.exit_code();
                outcome.message = message(&results);
                outcome.seed = Some(results.seed);
                outcome.run_dir = run_dir
                    .strip_prefix(&args.reports)
                    .ok()
                    .map(|p| p.display().to_string())
                    .or_else(|| Some(run_dir.display().to_string()));
            }
            Err((e, run_dir)) => {
                outcome.exit_code = e.code;
                outcome.message = Some(format!("{:#}", e.error));
                outcome.run_dir =
                    run_dir.and_then(|d| d.strip_prefix(&args.reports).ok().map(|p| p.display().to_string()));
            }
        }
        outcome.duration_s = t0.elapsed().as_secs_f64();
        bar.println(format!(
            "    {} in {:.0} s{}",
            outcome.verdict.map(|v| format!("{v:?}").to_lowercase()).unwrap_or_else(|| "failed".into()),
            outcome.duration_s,
            outcome.message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
        ));
        result.runs.push(outcome);
        result.exit_code = campaign::exit_code(&result.runs);
        result.duration_s = clock.elapsed().as_secs_f64();
        // Written after every run, so a campaign cut short still has its page.
        campaign::write(&dir, &result).map_err(|e| CliError::internal(anyhow::anyhow!("{}: {e}", dir.display())))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    result.interrupted |= *stop.borrow() && result.runs.len() < cells.len();
    result.duration_s = clock.elapsed().as_secs_f64();
    campaign::write(&dir, &result).map_err(|e| CliError::internal(anyhow::anyhow!("{}: {e}", dir.display())))?;
    let valid = result.runs.iter().filter(|r| r.verdict == Some(Validity::Valid)).count();
    println!(
        "campaign {}: {valid}/{} runs valid in {}; exit code {}",
        c.name,
        result.runs.len(),
        humantime::format_duration(Duration::from_secs(result.duration_s.round() as u64)),
        result.exit_code
    );
    println!("page: {}", dir.join("campaign.html").display());
    println!("junit: {}", dir.join("junit.xml").display());
    Ok(result.exit_code)
}

/// `brawl campaign merge`.
fn merge(out_dir: &std::path::Path, shard_dirs: &[PathBuf]) -> Result<u8, CliError> {
    let result = campaign::merge(out_dir, shard_dirs).map_err(|e| {
        if e.is_bad_input() {
            CliError::bad_input(e)
        } else {
            CliError::internal(e)
        }
    })?;
    let merged = result.merged.as_ref().map(|m| (m.shards.iter().filter(|s| !s.missing).count(), m.count));
    let (given, count) = merged.unwrap_or((0, 0));
    let valid = result.runs.iter().filter(|r| r.verdict == Some(Validity::Valid)).count();
    let missing = result.runs.iter().filter(|r| r.missing).count();
    println!(
        "campaign {}: merged {given} of {count} shards; {valid}/{} runs valid, {missing} missing; exit code {}",
        result.name,
        result.runs.len(),
        result.exit_code
    );
    println!("page: {}", out_dir.join("campaign.html").display());
    println!("junit: {}", out_dir.join("junit.xml").display());
    Ok(result.exit_code)
}

fn overrides(c: &campaign::Campaign, schedule: &ScheduleRef, seed: Option<u64>) -> Overrides {
    Overrides {
        cluster: c.cluster.clone(),
        nodes_file: c.nodes_file.clone(),
        time_limit: c.time_limit,
        concurrency: c.concurrency,
        rate: c.rate,
        seed,
        nemesis: match schedule {
            ScheduleRef::Own => None,
            ScheduleRef::File(p) => Some(p.clone()),
        },
    }
}

/// One run of the matrix, after healing the nodes (the cluster is reset between runs: faults
/// healed here, the db torn down and set up again by the run itself).
async fn one_run(
    c: &campaign::Campaign,
    cell: &campaign::Cell,
    seed: Option<u64>,
    args: &CampaignArgs,
    stop: tokio::sync::watch::Receiver<bool>,
    status: &StatusOut,
) -> Result<(PathBuf, runner::Results), (CliError, Option<PathBuf>)> {
    let Prepared { plan, raw, seed, targets, local_cluster } =
        prepare(&cell.test, &overrides(c, &cell.schedule, seed)).map_err(|e| (e, None))?;
    let (cluster, _) = Cluster::ssh(targets.clone());
    for r in crate::nemesis::heal_cluster(&cluster).await {
        if let Err(e) = r {
            tracing::warn!(error = %e, "healing before the run failed");
        }
    }
    let opts = RunOptions {
        reports: args.reports.clone(),
        test_yaml: config::to_yaml(&raw),
        argv: vec!["brawl".into(), "run".into(), cell.test.display().to_string(), "--seed".into(), seed.to_string()]
            .into_iter()
            .chain(c.time_limit.map(|t| format!("--time-limit={}", humantime::format_duration(t))))
            .chain(match &cell.schedule {
                ScheduleRef::Own => None,
                ScheduleRef::File(p) => Some(format!("--nemesis={}", p.display())),
            })
            .collect(),
        budget: Budget { time: c.check_time.unwrap_or(Duration::from_secs(120)), ..Budget::default() },
        local_cluster,
        status: status.clone(),
    };
    let before = latest(&args.reports, &plan.name);
    match runner::run(&plan, targets, seed, &opts, stop).await {
        Ok((dir, results)) => Ok((dir.path, results)),
        Err(e) => {
            let after = latest(&args.reports, &plan.name);
            Err((run_error(e), after.filter(|a| Some(a) != before.as_ref())))
        }
    }
}

/// Where `reports/<test>/latest` points now.
fn latest(reports: &std::path::Path, test: &str) -> Option<PathBuf> {
    std::fs::canonicalize(reports.join(test).join("latest")).ok().map(|p| {
        let base = std::fs::canonicalize(reports).unwrap_or_else(|_| reports.to_path_buf());
        reports.join(p.strip_prefix(&base).unwrap_or(&p))
    })
}
