//! `brawl report RUN_DIR`: re-renders a run's `report.html` and `junit.xml` from the files in
//! its directory. The verdicts come from `results.json`; nothing is re-checked.

use std::path::PathBuf;

use clap::Args;

use super::{CliError, EXIT_OK};

/// Arguments of `brawl report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run directory (`reports/<test>/<timestamp>`, or a `latest` link).
    pub run_dir: PathBuf,
}

/// Writes the report files and prints their paths; exits 0 whatever the run's verdict was.
pub fn run(args: ReportArgs) -> Result<u8, CliError> {
    if !args.run_dir.join("results.json").is_file() {
        let msg = format!("{}: not a run directory (no results.json)", args.run_dir.display());
        return Err(CliError::bad_input(anyhow::anyhow!(msg)));
    }
    let paths = crate::report::write_run(&args.run_dir).map_err(CliError::bad_input)?;
    println!("report: {}", paths.report.display());
    println!("junit: {}", paths.junit.display());
    Ok(EXIT_OK)
}
