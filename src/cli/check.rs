//! `brawl check FILE --model M`: checks a stored history offline (a run directory, brawl's
//! `history.jsonl`, Jepsen's `history.edn` or elle-cli's JSON) against one of brawl's checkers
//! and exits with the verdict: 0 valid, 1 invalid, 2 unknown, 254 bad input (unreadable file,
//! unknown model name, or a history that does not fit the model).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use clap::{Args, ValueEnum};

use super::{CliError, EXIT_INVALID, EXIT_OK, EXIT_UNKNOWN};
use crate::checker::register_shape::check_shape;
use crate::checker::txn;
use crate::checker::{self, check_linearizable_ops, models, stats_ops, Budget, CheckOutcome, ModelKind, Validity};
use crate::history::{self, Format, Op};
use crate::run::progress::{Phase, Reporter, StatusOut};

/// The history formats `brawl check` reads.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum HistoryFormat {
    /// brawl's history.jsonl.
    Jsonl,
    /// Jepsen's history.edn (op maps one per line, or one vector of them).
    #[value(alias = "edn")]
    JepsenEdn,
    /// elle-cli's JSON (an array of op objects, or JSON lines of them).
    #[value(alias = "json")]
    ElleJson,
}

/// The models `brawl check` knows (elle-cli's and Jepsen's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// read / write (linearizability).
    Register,
    /// read / write / cas (linearizability).
    CasRegister,
    /// independent keys, each a cas-register (older runs' name).
    Kv,
    /// acquire / release of one lock (Knossos' mutex, linearizability).
    Mutex,
    /// Elle's list-append transactions.
    ListAppend,
    /// Elle's rw-register transactions.
    RwRegister,
    /// Jepsen's set: adds, then a final read.
    Set,
    /// Jepsen's set-full: adds and reads throughout.
    SetFull,
    /// Jepsen's counter: adds and reads.
    Counter,
    /// Jepsen's bank: transfers and reads of every account.
    Bank,
    /// Jepsen's total-queue: enqueues and dequeues.
    TotalQueue,
    /// Jepsen's unique-ids: generate.
    UniqueIds,
}

impl ModelArg {
    fn linearizable(self) -> Option<ModelKind> {
        match self {
            ModelArg::Register => Some(ModelKind::Register),
            ModelArg::CasRegister => Some(ModelKind::CasRegister),
            ModelArg::Kv => Some(ModelKind::Kv),
            _ => None,
        }
    }

    fn transactional(self) -> bool {
        matches!(self, ModelArg::ListAppend | ModelArg::RwRegister)
    }
}

/// Arguments of `brawl check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A run directory (its history.jsonl) or a history file: brawl's .jsonl, Jepsen's .edn or
    /// elle-cli's .json.
    path: PathBuf,
    /// The model (default: the run's, else cas-register).
    #[arg(long, value_enum)]
    model: Option<ModelArg>,
    /// list-append and rw-register: the consistency models to check, comma-separated (Elle's
    /// names and aliases: read-committed, PL-2, snapshot-isolation, serializable, ...).
    #[arg(long, value_delimiter = ',', value_name = "MODELS")]
    consistency_models: Vec<String>,
    /// list-append and rw-register: extra anomaly classes to look for, comma-separated (G0, G1c,
    /// G-single, G2-item, ...).
    #[arg(long, value_delimiter = ',', value_name = "ANOMALIES")]
    anomalies: Vec<String>,
    /// The file's format (default: guessed from its name and first bytes).
    #[arg(long, value_enum)]
    format: Option<HistoryFormat>,
    /// Time budget of the linearizability search (register, cas-register, kv, mutex); past it
    /// the verdict is unknown.
    /// Seconds (20, 0.5) or with a unit (250ms, 30s, 5m).
    #[arg(long, default_value = "120s", value_parser = crate::config::duration::parse_flag)]
    time_limit: Duration,
    /// Print the whole result as JSON (see docs/results-format.md).
    #[arg(long)]
    json: bool,
}

/// Checks a stored history and exits with the verdict.
pub async fn check(args: CheckArgs) -> Result<u8, CliError> {
    let (file, run_model) = if args.path.is_dir() {
        (args.path.join("history.jsonl"), model_of_run(&args.path))
    } else {
        (args.path.clone(), None)
    };
    let format = args.format.map(|f| match f {
        HistoryFormat::Jsonl => Format::Jsonl,
        HistoryFormat::JepsenEdn => Format::JepsenEdn,
        HistoryFormat::ElleJson => Format::ElleJson,
    });
    let model = args.model.unwrap_or(match run_model {
        Some(ModelKind::Register) => ModelArg::Register,
        Some(ModelKind::Kv) => ModelArg::Kv,
        _ => ModelArg::CasRegister,
    });
    let consistency_models = consistency_models(&args, model)?;
    // `--json` keeps stdout pure JSON: status only as a live line on a terminal.
    let quiet = args.json && !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let reporter = Reporter::start(None, if quiet { StatusOut::Off } else { StatusOut::Auto });
    if let Some(kind) = model.linearizable() {
        let code = check_register(&file, format, kind, &args, &reporter).await;
        reporter.finish().await;
        return code;
    }
    let anomalies: Vec<String> = args.anomalies.iter().map(|a| a.trim().trim_start_matches(':').to_string()).collect();
    let outcome = if model.transactional() && edn(&file, format) {
        // Jepsen EDN goes straight from the file's bytes into the compact transaction form: a
        // million transactions in a few hundred MiB. JSON goes through the strict JSON readers
        // (the transaction scanner is lenient about JSON's separators).
        let txn_model = if model == ModelArg::ListAppend { txn::Model::ListAppend } else { txn::Model::RwRegister };
        let opts = txn::Options { model: txn_model, consistency_models, anomalies, ..txn::Options::default() };
        reporter.phase(Phase::Check);
        let path = file.clone();
        tokio::task::spawn_blocking(move || txn::check_file(&path, &opts))
            .await
            .map_err(CliError::internal)?
            .map_err(CliError::bad_input)?
    } else {
        let read = history::read_history_as(&file, format);
        let history = read.map_err(CliError::bad_input)?;
        reporter.phase(Phase::Check);
        let time_limit = args.time_limit;
        tokio::task::spawn_blocking(move || dispatch(&history.ops, model, consistency_models, anomalies, time_limit))
            .await
            .map_err(CliError::internal)?
            .ok_or_else(|| CliError::internal(anyhow!("no checker for {model:?}")))?
            .map_err(|e| CliError::bad_input(anyhow!("{}: {e}", file.display())))?
    };
    reporter.finish().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome).map_err(CliError::internal)?);
    } else {
        print_outcome(&file, &outcome);
    }
    Ok(exit_code(outcome.validity))
}

/// True when `file` is Jepsen EDN: by `--format`, else by its name and first bytes.
fn edn(file: &Path, format: Option<Format>) -> bool {
    use std::io::Read;
    if let Some(f) = format {
        return f == Format::JepsenEdn;
    }
    let mut head = [0u8; 4096];
    let n = std::fs::File::open(file).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    matches!(history::detect_format(file, &head[..n]), Ok(Format::JepsenEdn))
}

/// The canonical names of `--consistency-models` (default strict-serializable); 254 for an
/// unknown name, or for the flags on a model without transactions.
fn consistency_models(args: &CheckArgs, model: ModelArg) -> Result<Vec<String>, CliError> {
    if !model.transactional() {
        if !args.consistency_models.is_empty() || !args.anomalies.is_empty() {
            return Err(CliError::bad_input(anyhow!(
                "--consistency-models and --anomalies apply to --model list-append and rw-register only"
            )));
        }
        return Ok(Vec::new());
    }
    if let Some(bad) = args.anomalies.iter().find(|a| !models::is_anomaly(a)) {
        let accepted = models::ANOMALIES.join(", ");
        return Err(CliError::bad_input(anyhow!("unknown anomaly `{bad}`; accepted: {accepted}")));
    }
    if args.consistency_models.is_empty() {
        return Ok(vec![models::DEFAULT.to_string()]);
    }
    args.consistency_models
        .iter()
        .map(|name| {
            models::canonical(name).map(str::to_string).ok_or_else(|| {
                CliError::bad_input(anyhow!("unknown consistency model `{name}`; accepted: {}", models::accepted()))
            })
        })
        .collect()
}

/// Runs the checker of `model` on `ops`; `None` for the register models.
fn dispatch(
    ops: &[Op],
    model: ModelArg,
    consistency_models: Vec<String>,
    anomalies: Vec<String>,
    time_limit: Duration,
) -> Option<Result<CheckOutcome, checker::ShapeError>> {
    use checker::{bank, counter, mutex, queue, set, set_full, unique_ids};
    let txn_opts = |model| txn::Options { model, consistency_models, anomalies, ..txn::Options::default() };
    Some(match model {
        ModelArg::ListAppend => txn::check(ops, &txn_opts(txn::Model::ListAppend)),
        ModelArg::RwRegister => txn::check(ops, &txn_opts(txn::Model::RwRegister)),
        ModelArg::Set => set::check(ops, &set::Options::default()),
        ModelArg::SetFull => set_full::check(ops, &set_full::Options::default()),
        ModelArg::Counter => counter::check(ops, &counter::Options::default()),
        ModelArg::Bank => bank::check(ops, &bank::Options::default()),
        ModelArg::TotalQueue => queue::check(ops, &queue::Options::default()),
        ModelArg::UniqueIds => unique_ids::check(ops, &unique_ids::Options::default()),
        ModelArg::Mutex => {
            mutex::check(ops, &mutex::Options { budget: Budget { time: time_limit, ..Budget::default() } })
        }
        // Checked by `check_register`, from a compact history.
        ModelArg::Register | ModelArg::CasRegister | ModelArg::Kv => return None,
    })
}

/// register, cas-register, kv: read compactly, refuse ill-shaped histories, search.
async fn check_register(
    file: &Path,
    format: Option<Format>,
    model: ModelKind,
    args: &CheckArgs,
    reporter: &Reporter,
) -> Result<u8, CliError> {
    // Compact: a million-op history fits in a few hundred MiB.
    let history = history::read_history_compact(file, format).map_err(CliError::bad_input)?;
    check_shape(&history, model).map_err(|e| CliError::bad_input(anyhow!("{}: {e}", file.display())))?;
    reporter.phase(Phase::Check);
    let budget = Budget { time: args.time_limit, ..Budget::default() };
    let (lin, st) = tokio::task::spawn_blocking(move || {
        let lin = check_linearizable_ops(&history, model, &budget);
        (lin, stats_ops(&history))
    })
    .await
    .map_err(CliError::internal)?;
    if args.json {
        let out = serde_json::json!({"linearizable": lin, "stats": st});
        println!("{}", serde_json::to_string_pretty(&out).map_err(CliError::internal)?);
    } else {
        println!(
            "{}: {} ops, {} keys, model {:?}, checked in {:.3} s",
            file.display(),
            lin.ops_checked,
            lin.keys_checked,
            lin.model,
            lin.elapsed.as_secs_f64()
        );
        for f in &lin.failures {
            println!("not linearizable: key {}: {}", f.key, f.message);
        }
        for u in &lin.unknown_keys {
            println!("unknown: key {}: {}", u.key, u.reason);
        }
        println!("verdict: {:?}", lin.validity);
    }
    Ok(exit_code(lin.validity))
}

/// A `CheckOutcome` for people: the summary, each anomaly class with its first few cases.
fn print_outcome(file: &Path, o: &CheckOutcome) {
    println!("{}: {}: {}", file.display(), o.checker, o.summary);
    for class in &o.anomaly_types {
        let list = o.anomalies.get(class).map_or(&[][..], Vec::as_slice);
        println!("{class}: {} found", list.len());
        for a in list.iter().take(3) {
            println!("  {}", a.explanation);
        }
    }
    if !o.not.is_empty() {
        println!("not {}", o.not.join(", "));
    }
    if !o.also_not.is_empty() {
        println!("also not {}", o.also_not.join(", "));
    }
    println!("verdict: {:?}", o.validity);
}

fn exit_code(v: Validity) -> u8 {
    match v {
        Validity::Valid => EXIT_OK,
        Validity::Invalid => EXIT_INVALID,
        Validity::Unknown => EXIT_UNKNOWN,
    }
}

fn model_of_run(dir: &Path) -> Option<ModelKind> {
    let text = std::fs::read_to_string(dir.join("results.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(v.pointer("/linearizable/model")?.clone()).ok()
}
