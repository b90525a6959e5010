//! `brawl campaign FILE.yaml`: tests × fault schedules × repetitions, one run after another,
//! with a progress bar; then the campaign page, one JUnit file, and the worst outcome's exit code.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::run::{prepare, run_error, stop_on_signals, Overrides, Prepared};
use super::CliError;
use crate::campaign::{self, CampaignResult, RunOutcome, ScheduleRef};
use crate::checker::{Budget, Validity};
use crate::cluster::Cluster;
use crate::config;
use crate::run::progress::StatusOut;
use crate::run::{self as runner, RunOptions};

/// Arguments of `brawl campaign`.
#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// The campaign file (YAML).
    file: PathBuf,
    /// Where runs and the campaign are stored.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
}

/// The first line of what made a run invalid, unknown or fail.
fn message(results: &runner::Results) -> Option<String> {
    match results.validity {
        Validity::Valid => None,
        Validity::Invalid => results
            .linearizable
            .failures
            .first()
            .map(|f| format!("not linearizable: key {}: {}", f.key, f.message))
            .or_else(|| Some("invalid".into())),
        Validity::Unknown => results
            .linearizable
            .unknown_keys
            .first()
            .map(|u| format!("unknown: key {}: {}", u.key, u.reason))
            .or_else(|| results.warnings.first().cloned()),
    }
}

/// Runs the campaign.
pub async fn run(args: CampaignArgs) -> Result<u8, CliError> {
    let c = campaign::load_campaign(&args.file).map_err(CliError::bad_input)?;
    let cells = c.matrix();
    // Every test file and schedule is checked before the first run, so a typo fails in seconds.
    for cell in &cells {
        prepare(&cell.test, &overrides(&c, &cell.schedule, None))?;
    }
    let started_at = chrono::Utc::now();
    let dir = campaign::create_dir(&args.reports, &c.name, started_at)
        .map_err(|e| CliError::internal(anyhow::anyhow!("{}: {e}", args.reports.display())))?;
    println!("brawl campaign {}: {} runs; pages in {}", c.name, cells.len(), dir.display());
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
    };
    for (i, cell) in cells.iter().enumerate() {
        if *stop.borrow() {
            result.interrupted = true;
            break;
        }
        let seed = c.seed.map(|s| s.wrapping_add(i as u64));
        let label = cell.schedule.label();
        let stem = cell.test.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        bar.set_message(format!("{stem} × {label} #{}", cell.repetition));
        bar.println(format!("[{}/{}] {stem} × {label} #{}", i + 1, cells.len(), cell.repetition));
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
