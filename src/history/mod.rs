//! The history: every op of a run, in order (invocations and completions). brawl writes it as
//! JSON Lines (`HistoryWriter`, read back by `read_jsonl`), imports and exports Jepsen's
//! `history.edn` (`read_edn`, `write_edn`), pairs invocations with completions (`pair`) and checks
//! that a history is well formed (`validate_well_formed`). The format is described in
//! `docs/history-format.md`.

mod edn;
mod error;
mod format;
mod op;
mod pairs;
mod reader;
mod writer;

pub use edn::{parse_edn, read_edn, write_edn};
pub use error::HistoryError;
pub use format::{detect_format, read_history, Format, Header, History, FORMAT_VERSION};
pub use op::{Op, OpType, Process};
pub use pairs::{pair, validate_well_formed, Pair};
pub use reader::{parse_jsonl, read_jsonl};
pub use writer::HistoryWriter;
