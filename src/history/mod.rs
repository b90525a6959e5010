//! The history: every op of a run, in order (invocations and completions). brawl writes it as
//! JSON Lines (`HistoryWriter`, read back by `read_jsonl`), imports and exports Jepsen's
//! `history.edn` (`read_edn`, `write_edn`), reads elle-cli's JSON (`read_history` detects all three), pairs invocations with completions (`pair`) and checks
//! that a history is well formed (`validate_well_formed`). `CompactHistory` (read with
//! `read_jsonl_compact`) holds a large history in a fraction of the memory, for checking; the
//! `Ops` trait reads it and a `[Op]` alike. The format is described in `docs/history-format.md`.

mod compact;
mod edn;
mod error;
mod fast;
mod format;
mod json;
mod op;
mod pairs;
mod reader;
mod writer;

pub use compact::{Atom, CompactHistory, Ops, ValueRef};
pub use edn::{parse_edn, parse_edn_compact_str, parse_edn_general, read_edn, write_edn};
pub use error::HistoryError;
pub use format::{
    detect_format, parse_history_as, read_history, read_history_as, read_history_compact, Format, Header, History,
    FORMAT_VERSION,
};
pub use op::{Op, OpType, Process};
pub use pairs::{pair, validate_well_formed, Pair};
pub(crate) use reader::parse_jsonl_at;
pub use reader::{parse_jsonl, parse_jsonl_compact_from, read_jsonl, read_jsonl_compact};
pub use writer::HistoryWriter;
