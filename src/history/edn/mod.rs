//! Jepsen EDN import and export: `read_edn` / `parse_edn` turn a Jepsen `history.edn` into brawl
//! ops, `write_edn` writes brawl ops the way Jepsen does. The EDN reader is our own small one
//! (`parser.rs`), which keeps line and column in its errors and reads tagged literals as plain
//! values.

mod export;
mod import;
mod parser;
mod value;

pub use export::write_edn;
pub use import::{parse_edn, read_edn};
pub(crate) use import::{parse_edn_at, utf8_error};
