//! `HistoryError`: what can go wrong reading, parsing or validating a history. Messages name the
//! file and line (parsing) or the op index (validation).

use std::path::PathBuf;

use super::Process;

/// An unreadable, malformed or ill-formed history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file could not be read.
    #[error("cannot read history {}: {source}", .path.display())]
    Io {
        /// The history file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON Lines history without a complete header line.
    #[error("{}: empty history: no complete header line", .path.display())]
    Empty {
        /// The history file.
        path: PathBuf,
    },
    /// The header line is not a brawl history header.
    #[error("{}:{line}: bad header: {msg}", .path.display())]
    BadHeader {
        /// The history file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        msg: String,
    },
    /// The header names a format version this build cannot read.
    #[error("{}: unknown history format version {version} (this brawl reads version {supported})", .path.display())]
    UnknownVersion {
        /// The history file.
        path: PathBuf,
        /// The version found in the header.
        version: u64,
        /// The version this build reads.
        supported: u32,
    },
    /// A line that is not a valid op.
    #[error("{}:{line}: bad op: {msg}", .path.display())]
    BadOp {
        /// The history file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        msg: String,
    },
    /// EDN that does not parse.
    #[error("{}:{line}:{column}: bad edn: {msg}", .path.display())]
    Edn {
        /// The history file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What was wrong.
        msg: String,
    },
    /// JSON (an elle-cli history) that does not parse.
    #[error("{}:{line}:{column}: bad json: {msg}", .path.display())]
    Json {
        /// The history file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column (in bytes).
        column: usize,
        /// What was wrong.
        msg: String,
    },
    /// Neither the extension nor the content says which format a file is in.
    #[error(
        "{}: unknown history format: expected a .jsonl, .json or .edn file, or content starting with `{{\"brawl-history\"` \
         (brawl json lines), `{{\"` or `[{{\"` (elle json ops) or `{{:`, `[{{:` or `;` (jepsen edn)",
        .path.display()
    )]
    UnknownFormat {
        /// The history file.
        path: PathBuf,
    },
    /// A process invoked while its previous op was still outstanding.
    #[error("op {index}: process {process} invoked while its op {outstanding} is still outstanding")]
    DoubleInvoke {
        /// The second invocation.
        index: u64,
        /// The process.
        process: Process,
        /// The invocation still waiting for its completion.
        outstanding: u64,
    },
    /// A completion with no outstanding invocation on its process.
    #[error("op {index}: process {process} completed with no outstanding invocation")]
    NotInvoked {
        /// The completion.
        index: u64,
        /// The process.
        process: Process,
    },
    /// A client process invoked again after an `info` completion; Jepsen continues a crashed
    /// process's thread as a new process (`process + concurrency`).
    #[error("op {index}: process {process} invoked again after its op {crashed} completed as info")]
    CrashedProcessReused {
        /// The invocation.
        index: u64,
        /// The process.
        process: Process,
        /// The `info` completion that ended the process.
        crashed: u64,
    },
    /// Indices are not 0, 1, 2, ... in order.
    #[error("op at position {position} has index {index}; indices must be dense from 0")]
    IndexNotDense {
        /// 0-based position in the history.
        position: usize,
        /// The index found there.
        index: u64,
    },
    /// An op's time is before the previous op's time.
    #[error("op {index}: time {time} is before the previous op's time {previous}")]
    TimeBackwards {
        /// The op.
        index: u64,
        /// Its time (ns).
        time: u64,
        /// The previous op's time (ns).
        previous: u64,
    },
}
