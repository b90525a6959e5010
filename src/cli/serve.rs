//! `brawl serve`: the runs under `reports/` in a browser; `--write-index` writes the same index
//! as `reports/index.html` instead (for CI artifacts gathered from several runners).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{CliError, EXIT_OK};

/// Arguments of `brawl serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; another address exposes your runs).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The reports directory.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Write `index.html` into the reports directory and exit, instead of serving.
    #[arg(long)]
    write_index: bool,
}

/// Serves until Ctrl-C.
pub async fn run(args: ServeArgs) -> Result<u8, CliError> {
    if !args.reports.is_dir() {
        return Err(CliError::bad_input(anyhow::anyhow!(
            "{} is not a directory: give --reports the directory `brawl run` stores runs in",
            args.reports.display()
        )));
    }
    if args.write_index {
        let path = args.reports.join("index.html");
        let page = crate::serve::index_page(&args.reports, &Default::default());
        std::fs::write(&path, page).map_err(|e| CliError::internal(anyhow::anyhow!("{}: {e}", path.display())))?;
        println!("index: {}", path.display());
        return Ok(EXIT_OK);
    }
    if !args.addr.ip().is_loopback() {
        eprintln!("warning: serving on {}, not loopback: anyone who can reach it can read your runs", args.addr);
    }
    let (addr, server) = crate::serve::bind(args.reports.clone(), args.addr)
        .await
        .map_err(|e| CliError::bad_input(anyhow::anyhow!("cannot listen on {}: {e}", args.addr)))?;
    println!("serving {} at http://{addr}/ (Ctrl-C to stop)", args.reports.display());
    tokio::select! {
        r = server => r.map_err(CliError::internal)?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(EXIT_OK)
}
