//! Jepsen EDN import and export: `read_edn` / `parse_edn` turn a Jepsen `history.edn` into brawl
//! ops, `write_edn` writes brawl ops the way Jepsen does. The EDN reader is our own small one
//! (`parser.rs`), which keeps line and column in its errors and reads tagged literals as plain
//! values. `fast.rs` reads the common op maps byte by byte, on several threads for large files,
//! and hands everything else to that reader.

mod export;
mod fast;
mod import;
mod parser;
mod value;

pub use export::write_edn;
pub use fast::parse_edn_compact_str;
pub(crate) use fast::{parse_edn_compact, parse_edn_ops};
pub(crate) use import::{fill_missing, utf8_error, OpFields};
pub use import::{parse_edn, parse_edn_general, read_edn};
