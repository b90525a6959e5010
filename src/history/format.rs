//! `History` (the ops of a run plus the header), its `Header`, and format detection for the two
//! on-disk forms brawl reads: its own JSON Lines and Jepsen's `history.edn`.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{HistoryError, Op};

/// The JSON Lines format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The first line of `history.jsonl`: `{"brawl-history": 1, "test": "...", "seed": 42}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Format version (`FORMAT_VERSION` when written by this build).
    #[serde(rename = "brawl-history")]
    pub version: u32,
    /// The test's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// The seed that drove the run's RNGs, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Header {
    /// A header for the current format version.
    pub fn new(test: Option<String>, seed: Option<u64>) -> Self {
        Header { version: FORMAT_VERSION, test, seed }
    }
}

impl Default for Header {
    fn default() -> Self {
        Header::new(None, None)
    }
}

/// A whole history as read from disk.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The header (for Jepsen EDN imports: the current version, no test name, no seed).
    pub header: Header,
    /// Every op, in history order.
    pub ops: Vec<Op>,
    /// The last line was cut mid-write (the run crashed) and was dropped.
    pub truncated: bool,
}

impl History {
    /// A complete (not truncated) history.
    pub fn new(header: Header, ops: Vec<Op>) -> Self {
        History { header, ops, truncated: false }
    }
}

/// An on-disk history format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// brawl's `history.jsonl`: a header line, then one JSON op per line.
    Jsonl,
    /// Jepsen's `history.edn`: one EDN map per line, or one vector of maps.
    JepsenEdn,
}

/// Tells the format of `path` by its extension (`.jsonl`, `.edn`) or, failing that, by its first
/// bytes: `{"` is JSON Lines, `{:` or `[{:` is Jepsen EDN.
pub fn detect_format(path: &Path, first_bytes: &[u8]) -> Result<Format, HistoryError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => return Ok(Format::Jsonl),
        Some("edn") => return Ok(Format::JepsenEdn),
        _ => {}
    }
    let start = first_bytes.trim_ascii_start();
    if start.starts_with(b"{\"") {
        return Ok(Format::Jsonl);
    }
    let edn_map = |b: &[u8]| b.starts_with(b"{:");
    if edn_map(start) || start.strip_prefix(b"[").is_some_and(|rest| edn_map(rest.trim_ascii_start())) {
        return Ok(Format::JepsenEdn);
    }
    Err(HistoryError::UnknownFormat { path: path.to_path_buf() })
}

/// Reads a history in either format, detected with `detect_format`.
pub fn read_history(path: impl AsRef<Path>) -> Result<History, HistoryError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| HistoryError::Io { path: path.to_path_buf(), source })?;
    match detect_format(path, &bytes[..bytes.len().min(256)])? {
        Format::Jsonl => super::reader::parse_jsonl_at(&bytes, path),
        Format::JepsenEdn => {
            let text = std::str::from_utf8(&bytes).map_err(|e| super::edn::utf8_error(path, &bytes, &e))?;
            super::edn::parse_edn_at(text, path)
        }
    }
}

/// Reads a history as a `CompactHistory` (for checking large histories), in `format` or, when
/// `None`, the format `detect_format` finds. JSON Lines are read a block at a time.
pub fn read_history_compact(
    path: impl AsRef<Path>,
    format: Option<Format>,
) -> Result<super::CompactHistory, HistoryError> {
    let path = path.as_ref();
    let format = match format {
        Some(f) => f,
        None => {
            let io = |source| HistoryError::Io { path: path.to_path_buf(), source };
            let mut first = Vec::with_capacity(256);
            std::fs::File::open(path).and_then(|f| f.take(256).read_to_end(&mut first)).map_err(io)?;
            detect_format(path, &first)?
        }
    };
    match format {
        Format::Jsonl => super::read_jsonl_compact(path),
        Format::JepsenEdn => Ok(super::CompactHistory::from(&super::read_edn(path)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_extension_then_content() {
        let f = |p: &str, b: &[u8]| detect_format(Path::new(p), b).ok();
        assert_eq!(f("h.jsonl", b"garbage"), Some(Format::Jsonl));
        assert_eq!(f("h.edn", b"garbage"), Some(Format::JepsenEdn));
        assert_eq!(f("h.txt", b"{\"brawl-history\": 1}"), Some(Format::Jsonl));
        assert_eq!(f("h", b"{:type :invoke}"), Some(Format::JepsenEdn));
        assert_eq!(f("h", b"\n[{:type :invoke}"), Some(Format::JepsenEdn));
        assert_eq!(f("h", b"[ {:type :invoke}"), Some(Format::JepsenEdn));
        assert_eq!(f("h", b"hello"), None);
    }

    #[test]
    fn unknown_format_message_names_the_file() {
        let e = detect_format(Path::new("x/h.txt"), b"hello").unwrap_err();
        assert!(e.to_string().starts_with("x/h.txt: unknown history format"), "{e}");
    }
}
