//! The `brawl` binary: parse the command line, set up logging, run, map the outcome to an exit
//! code (Jepsen's: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or config, 255 internal).

use clap::Parser;
use tracing_subscriber::Layer;

fn main() {
    // Die quietly on a closed pipe (`brawl ... | head`), as command-line tools do.
    // SAFETY: setting a signal's disposition to the default has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match brawl::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { brawl::cli::EXIT_BAD_INPUT } else { 0 };
            let _ = e.print();
            std::process::exit(i32::from(code));
        }
    };
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let env_filter = tracing_subscriber::EnvFilter::try_from_env("BRAWL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let terminal = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(env_filter);
    // Each run's brawl.log gets the info-level log whatever the terminal shows.
    let run_log = tracing_subscriber::fmt::layer()
        .with_writer(brawl::cli::runlog::RunLog)
        .with_ansi(false)
        .with_filter(tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry().with(terminal).with(run_log).init();
    let code = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt.block_on(brawl::cli::run(cli)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            brawl::cli::EXIT_INTERNAL
        }
    };
    std::process::exit(i32::from(code));
}
