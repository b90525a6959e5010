//! `History` (the ops of a run plus the header), its `Header`, and format detection for the two
//! on-disk forms brawl reads: its own JSON Lines, Jepsen's `history.edn` and elle-cli's JSON.

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
    /// Jepsen's `history.edn`: op maps one after another (one per line, as Jepsen writes them),
    /// or one vector or list of every op.
    JepsenEdn,
    /// elle-cli's JSON: one array of op objects, or JSON lines of op objects without a header.
    ElleJson,
}

/// Tells the format of `path` by its extension (`.edn`, `.json`, `.jsonl`) and its first bytes:
/// a first line holding `"brawl-history"` is brawl's JSON Lines; other JSON objects (`{"`, or
/// `[{"` for an array) are elle-cli ops; `{:`, `[{:`, `({:`, `#jepsen` or a `;` comment is Jepsen
/// EDN. A `.jsonl` file without brawl's header is read as elle-cli JSON lines.
pub fn detect_format(path: &Path, first_bytes: &[u8]) -> Result<Format, HistoryError> {
    let start = first_bytes.trim_ascii_start();
    let first_line = start.split(|&b| b == b'\n').next().unwrap_or_default();
    let brawl_header = first_line.windows(15).any(|w| w == b"\"brawl-history\"");
    let json_ops = (start.starts_with(b"{\"") && !brawl_header)
        || after(start, b'[').is_some_and(|rest| rest.starts_with(b"{\"") || rest.starts_with(b"]"));
    match path.extension().and_then(|e| e.to_str()) {
        Some("edn") => return Ok(Format::JepsenEdn),
        Some("json") => return Ok(Format::ElleJson),
        Some("jsonl") if json_ops => return Ok(Format::ElleJson),
        Some("jsonl") => return Ok(Format::Jsonl),
        _ => {}
    }
    if brawl_header {
        return Ok(Format::Jsonl);
    }
    if json_ops {
        return Ok(Format::ElleJson);
    }
    let edn_op = |b: &[u8]| b.starts_with(b"{:") || b.starts_with(b"#jepsen") || b.starts_with(b";");
    if edn_op(start) || [b'[', b'('].iter().any(|&open| after(start, open).is_some_and(edn_op)) {
        return Ok(Format::JepsenEdn);
    }
    Err(HistoryError::UnknownFormat { path: path.to_path_buf() })
}

/// `b` after the byte `open` and any whitespace, when `b` starts with `open`.
fn after(b: &[u8], open: u8) -> Option<&[u8]> {
    b.strip_prefix(&[open]).map(<[u8]>::trim_ascii_start)
}

/// Reads a history in any format, detected with `detect_format`.
pub fn read_history(path: impl AsRef<Path>) -> Result<History, HistoryError> {
    read_history_as(path, None)
}

/// Reads a history as `Op`s, in `format` or, when `None`, the format `detect_format` finds.
pub fn read_history_as(path: impl AsRef<Path>, format: Option<Format>) -> Result<History, HistoryError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| HistoryError::Io { path: path.to_path_buf(), source })?;
    parse_history_as(&bytes, path, format)
}

/// [`read_history_as`] of a file's `bytes` already read, with errors naming `path` (which is not
/// read; its extension still guides detection).
pub fn parse_history_as(bytes: &[u8], path: &Path, format: Option<Format>) -> Result<History, HistoryError> {
    match format.map_or_else(|| detect_format(path, &bytes[..bytes.len().min(256)]), Ok)? {
        Format::Jsonl => super::reader::parse_jsonl_at(bytes, path),
        Format::JepsenEdn => {
            let text = std::str::from_utf8(bytes).map_err(|e| super::edn::utf8_error(path, bytes, &e))?;
            super::edn::parse_edn_ops(text, path)
        }
        Format::ElleJson => super::json::parse_elle_json_at(bytes, path),
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
        Format::JepsenEdn => {
            let bytes = std::fs::read(path).map_err(|source| HistoryError::Io { path: path.to_path_buf(), source })?;
            let text = std::str::from_utf8(&bytes).map_err(|e| super::edn::utf8_error(path, &bytes, &e))?;
            super::edn::parse_edn_compact(text, path)
        }
        Format::ElleJson => Ok(super::CompactHistory::from(&read_history_as(path, Some(format))?)),
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
        assert_eq!(f("h.json", b"garbage"), Some(Format::ElleJson));
        assert_eq!(f("h.jsonl", b"{\"type\":\"ok\"}"), Some(Format::ElleJson));
        assert_eq!(f("h.jsonl", b"{\"brawl-history\": 1}\n{\"type\":\"ok\"}"), Some(Format::Jsonl));
        assert_eq!(f("h", b" [\n {\"type\":\"ok\"}"), Some(Format::ElleJson));
        assert_eq!(f("h", b"{\"type\":\"ok\"}"), Some(Format::ElleJson));
        assert_eq!(f("h", b"; a comment\n{:type :ok}"), Some(Format::JepsenEdn));
        assert_eq!(f("h", b"({:type :ok}"), Some(Format::JepsenEdn));
        assert_eq!(f("h", b"#jepsen.history.Op{:type :ok}"), Some(Format::JepsenEdn));
    }

    #[test]
    fn unknown_format_message_names_the_file() {
        let e = detect_format(Path::new("x/h.txt"), b"hello").unwrap_err();
        assert!(e.to_string().starts_with("x/h.txt: unknown history format"), "{e}");
    }
}
