//! Reading `history.jsonl`: the header line, then one op per line, parsed in parallel chunks
//! (order preserved) for large files. A last line cut mid-write is dropped and flagged.
//! `read_jsonl` gives `Op`s; `read_jsonl_compact` gives a `CompactHistory`, reading the file a
//! block at a time and taking the fast path (`fast.rs`) for the lines brawl writes.

use std::io::Read;
use std::path::Path;

use serde_json::error::Category;

use super::compact::CompactHistory;
use super::fast::Piece;
use super::{Header, History, HistoryError, Op, FORMAT_VERSION};

/// Below this many bytes of ops, parsing on one thread beats spawning more.
const PARALLEL_MIN_BYTES: usize = 1 << 20;

/// `read_jsonl_compact` reads and parses this many bytes at a time, so the file is never held
/// whole in memory.
const BLOCK: usize = 16 << 20;

/// Reads a JSON Lines history from `path`.
pub fn read_jsonl(path: impl AsRef<Path>) -> Result<History, HistoryError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| HistoryError::Io { path: path.to_path_buf(), source })?;
    parse_jsonl_at(&bytes, path)
}

/// Parses a JSON Lines history held in memory; errors name the file `<input>`.
pub fn parse_jsonl(bytes: &[u8]) -> Result<History, HistoryError> {
    parse_jsonl_at(bytes, Path::new("<input>"))
}

pub(crate) fn parse_jsonl_at(bytes: &[u8], path: &Path) -> Result<History, HistoryError> {
    let (header_line, body) = match bytes.iter().position(|&b| b == b'\n') {
        Some(newline) => (&bytes[..newline], &bytes[newline + 1..]),
        // No newline: a header line without one, or the run died while writing it.
        None if serde_json::from_slice::<serde_json::Value>(bytes).is_ok() => (bytes, &[][..]),
        None => return Err(HistoryError::Empty { path: path.to_path_buf() }),
    };
    let header = parse_header(header_line, path)?;
    let chunks = split_chunks(body, parallelism(body.len()));
    let results: Vec<Result<Chunk, ChunkError>> = if chunks.len() == 1 {
        vec![parse_chunk(body, true)]
    } else {
        let last = chunks.len() - 1;
        std::thread::scope(|s| {
            let handles: Vec<_> =
                chunks.iter().enumerate().map(|(i, c)| s.spawn(move || parse_chunk(c, i == last))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        })
    };
    let total: usize = results.iter().map(|r| r.as_ref().map_or(0, |c| c.ops.len())).sum();
    let mut ops: Vec<Op> = Vec::new();
    let mut truncated = false;
    // Line 1 is the header; each chunk counts its lines from 1.
    let mut lines_before = 1;
    for result in results {
        match result {
            Ok(chunk) if ops.is_empty() => {
                // Grow the first chunk's vector rather than copy it (large reallocs are remaps).
                ops = chunk.ops;
                ops.reserve_exact(total - ops.len());
                truncated |= chunk.truncated;
                lines_before += chunk.lines;
            }
            Ok(chunk) => {
                ops.extend(chunk.ops);
                truncated |= chunk.truncated;
                lines_before += chunk.lines;
            }
            Err(e) => {
                return Err(HistoryError::BadOp { path: path.to_path_buf(), line: lines_before + e.line, msg: e.msg });
            }
        }
    }
    Ok(History { header, ops, truncated })
}

/// Reads a JSON Lines history from `path` into a `CompactHistory`: the same ops, and the same
/// errors, as `read_jsonl`, in a fraction of the memory and time.
pub fn read_jsonl_compact(path: impl AsRef<Path>) -> Result<CompactHistory, HistoryError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| HistoryError::Io { path: path.to_path_buf(), source })?;
    parse_jsonl_compact_from(file, path, BLOCK)
}

/// Parses a JSON Lines history from `input`, `block` bytes at a time (more than 0); errors name
/// the file `path`. `read_jsonl_compact` with the input and block size in the caller's hands.
pub fn parse_jsonl_compact_from(
    mut input: impl Read,
    path: &Path,
    block: usize,
) -> Result<CompactHistory, HistoryError> {
    let io = |source| HistoryError::Io { path: path.to_path_buf(), source };
    // A block of 0 bytes would never reach the end.
    let block = block.max(1);
    let mut buf: Vec<u8> = Vec::new();
    // Read until the header's newline (or the end).
    let mut eof = false;
    let mut newline = None;
    while newline.is_none() && !eof {
        let from = buf.len();
        eof = fill(&mut input, &mut buf, block).map_err(io)?;
        newline = buf[from..].iter().position(|&b| b == b'\n').map(|p| from + p);
    }
    let (header, mut start) = match newline {
        Some(nl) => (parse_header(&buf[..nl], path)?, nl + 1),
        // No newline: a header line without one, or the run died while writing it.
        None if serde_json::from_slice::<serde_json::Value>(&buf).is_ok() => (parse_header(&buf, path)?, buf.len()),
        None => return Err(HistoryError::Empty { path: path.to_path_buf() }),
    };
    let mut history = CompactHistory { header, ..CompactHistory::default() };
    // Line 1 is the header.
    let mut lines_before = 1;
    loop {
        // Whole lines only, unless this is the end of the file.
        let end = if eof {
            buf.len()
        } else {
            buf[start..].iter().rposition(|&b| b == b'\n').map_or(start, |p| start + p + 1)
        };
        lines_before = parse_block(&buf[start..end], eof, &mut history, lines_before, path)?;
        if eof {
            return Ok(history);
        }
        buf.drain(..end);
        start = 0;
        eof = fill(&mut input, &mut buf, block).map_err(io)?;
    }
}

/// Appends up to `more` bytes of `input` to `buf`; true at the end of the input.
fn fill(input: &mut impl Read, buf: &mut Vec<u8>, more: usize) -> std::io::Result<bool> {
    buf.reserve_exact(more);
    let want = more as u64;
    Ok(input.by_ref().take(want).read_to_end(buf)? < more)
}

/// Parses whole lines (`block`), in parallel pieces, into `history`; returns the number of the
/// block's last line.
fn parse_block(
    block: &[u8],
    is_last: bool,
    history: &mut CompactHistory,
    mut lines_before: usize,
    path: &Path,
) -> Result<usize, HistoryError> {
    let chunks = split_chunks(block, parallelism(block.len()));
    let last = chunks.len() - 1;
    let results: Vec<Result<(Piece, usize, bool), ChunkError>> = if chunks.len() == 1 {
        vec![parse_piece(chunks[0], is_last)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .iter()
                .enumerate()
                .map(|(i, &c)| s.spawn(move || parse_piece(c, is_last && i == last)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        })
    };
    for result in results {
        match result {
            Ok((piece, lines, truncated)) => {
                let strings: Vec<u32> = piece.strings.iter().map(|s| history.strings.id(s)).collect();
                let values = i64::try_from(history.values.len()).expect("fewer than 2^63 values");
                history.values.extend(piece.values);
                history.ops.extend(piece.ops.into_iter().map(|mut op| {
                    op.relocate(&strings, values);
                    op
                }));
                history.truncated |= truncated;
                lines_before += lines;
            }
            Err(e) => {
                return Err(HistoryError::BadOp { path: path.to_path_buf(), line: lines_before + e.line, msg: e.msg });
            }
        }
    }
    Ok(lines_before)
}

/// `parse_chunk` for a `CompactHistory`: the fast path, else serde. Returns the piece, its
/// number of lines and whether its last line was cut short.
fn parse_piece(chunk: &[u8], is_last: bool) -> Result<(Piece<'_>, usize, bool), ChunkError> {
    let mut piece = Piece::default();
    piece.ops.reserve(chunk.len() / 80);
    let mut truncated = false;
    let mut lines = 0;
    for (line, terminated) in Lines(chunk) {
        lines += 1;
        if piece.push_line(line) || line.trim_ascii().is_empty() {
            continue;
        }
        match serde_json::from_slice::<Op>(line) {
            Ok(op) => piece.push_op(op),
            Err(e) if is_last && !terminated && e.classify() == Category::Eof => truncated = true,
            Err(e) => return Err(ChunkError { line: lines, msg: describe(&e) }),
        }
    }
    Ok((piece, lines, truncated))
}

/// The lines of a chunk, each with whether a newline ended it.
struct Lines<'a>(&'a [u8]);

impl<'a> Iterator for Lines<'a> {
    type Item = (&'a [u8], bool);
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        match self.0.iter().position(|&b| b == b'\n') {
            Some(nl) => {
                let line = &self.0[..nl];
                self.0 = &self.0[nl + 1..];
                Some((line, true))
            }
            None => Some((std::mem::take(&mut self.0), false)),
        }
    }
}

fn parse_header(line: &[u8], path: &Path) -> Result<Header, HistoryError> {
    let bad = |msg: String| HistoryError::BadHeader { path: path.to_path_buf(), line: 1, msg };
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| bad(describe(&e)))?;
    let Some(version) = value.get("brawl-history") else {
        return Err(bad("no \"brawl-history\" version field: not a brawl history.jsonl".into()));
    };
    let version = version.as_u64().ok_or_else(|| bad(format!("\"brawl-history\" is {version}, not a number")))?;
    if version != u64::from(FORMAT_VERSION) {
        return Err(HistoryError::UnknownVersion { path: path.to_path_buf(), version, supported: FORMAT_VERSION });
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

fn parallelism(body_len: usize) -> usize {
    if body_len < PARALLEL_MIN_BYTES {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(body_len / PARALLEL_MIN_BYTES).clamp(1, 16)
}

/// Splits `body` into about `n` pieces, each ending just after a newline (the last at the end).
fn split_chunks(body: &[u8], n: usize) -> Vec<&[u8]> {
    let mut chunks = Vec::with_capacity(n);
    let mut rest = body;
    for i in (1..n).rev() {
        let target = rest.len() / (i + 1);
        let Some(nl) = rest[target..].iter().position(|&b| b == b'\n') else { break };
        let (chunk, tail) = rest.split_at(target + nl + 1);
        chunks.push(chunk);
        rest = tail;
    }
    chunks.push(rest);
    chunks
}

struct Chunk {
    ops: Vec<Op>,
    lines: usize,
    truncated: bool,
}

struct ChunkError {
    /// 1-based line within the chunk.
    line: usize,
    msg: String,
}

/// Parses one op per line. In the last chunk, a last line with no newline that ends early (EOF
/// inside the JSON) is a write cut short by a crash: dropped and flagged, not an error.
fn parse_chunk(chunk: &[u8], is_last: bool) -> Result<Chunk, ChunkError> {
    let mut ops = Vec::with_capacity(chunk.len() / 96);
    let mut truncated = false;
    let mut lines = 0;
    for (line, terminated) in Lines(chunk) {
        lines += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        match serde_json::from_slice::<Op>(line) {
            Ok(op) => ops.push(op),
            Err(e) if is_last && !terminated && e.classify() == Category::Eof => truncated = true,
            Err(e) => return Err(ChunkError { line: lines, msg: describe(&e) }),
        }
    }
    Ok(Chunk { ops, lines, truncated })
}

/// serde_json's message, with "line 1 column N" (we parse one line at a time) as "column N".
fn describe(e: &serde_json::Error) -> String {
    e.to_string().replace(" at line 1 column ", " at column ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::history::{HistoryWriter, OpType, Process};

    fn ops(n: u64) -> Vec<Op> {
        (0..n)
            .map(|i| Op {
                index: i,
                time: i * 1000,
                kind: if i % 2 == 0 { OpType::Invoke } else { OpType::Ok },
                process: if i % 10 == 9 { Process::Nemesis } else { Process::Client(i % 5) },
                f: ["read", "write", "cas"][(i % 3) as usize].into(),
                value: json!([i % 7, if i % 3 == 2 { json!([1, 2]) } else { json!(i) }]),
                node: (i % 4 == 0).then(|| format!("n{}", i % 5)),
                error: (i % 11 == 0).then(|| "timeout".into()),
            })
            .collect()
    }

    fn write(ops: &[Op]) -> Vec<u8> {
        let mut w = HistoryWriter::new(Vec::new(), &Header::new(Some("t".into()), Some(7))).unwrap();
        w.append_batch(ops.iter().cloned()).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn round_trips_small_and_parallel_sized_histories() {
        for n in [0, 1, 1000, 40_000] {
            let ops = ops(n);
            let h = parse_jsonl(&write(&ops)).unwrap();
            assert_eq!(h.ops, ops, "n = {n}");
            assert_eq!(h.header, Header::new(Some("t".into()), Some(7)));
            assert!(!h.truncated);
        }
    }

    #[test]
    fn truncated_last_line_is_dropped_and_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let ops = ops(1000);
        let bytes = write(&ops);
        // Cut in the middle of the last line, as a SIGKILL during a write would.
        let last_line_start = bytes[..bytes.len() - 1].iter().rposition(|&b| b == b'\n').unwrap() + 1;
        let cut = last_line_start + (bytes.len() - last_line_start) / 2;
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let h = read_jsonl(&path).unwrap();
        assert_eq!(h.ops.len(), 999);
        assert_eq!(h.ops[..], ops[..999]);
        assert!(h.truncated);
    }

    #[test]
    fn truncated_last_line_in_a_large_history() {
        let ops = ops(40_000);
        let bytes = write(&ops);
        let h = parse_jsonl(&bytes[..bytes.len() - 10]).unwrap();
        assert_eq!(h.ops.len(), 39_999);
        assert!(h.truncated);
    }

    #[test]
    fn bad_middle_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let mut text = String::from_utf8(write(&ops(5))).unwrap();
        text = text.replacen(r#""f":"cas""#, r#""f":"cas"#, 1);
        std::fs::write(&path, text).unwrap();
        let e = read_jsonl(&path).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:4: bad op: ", path.display())), "{e}");
        assert!(e.contains("column"), "{e}");
    }

    #[test]
    fn bad_line_in_a_later_parallel_chunk_gets_its_absolute_line_number() {
        let mut bytes = write(&ops(40_000));
        let line_start = bytes.iter().enumerate().filter(|(_, &b)| b == b'\n').nth(35_000).unwrap().0 + 1;
        bytes[line_start] = b'x';
        let e = parse_jsonl(&bytes).unwrap_err().to_string();
        assert!(e.starts_with("<input>:35002: bad op: expected value at column 1"), "{e}");
    }

    #[test]
    fn missing_field_and_bad_type_are_errors() {
        let h = "{\"brawl-history\":1}\n{\"index\":0,\"time\":0,\"type\":\"invoke\",\"process\":0}\n";
        let e = parse_jsonl(h.as_bytes()).unwrap_err().to_string();
        assert_eq!(e, "<input>:2: bad op: missing field `f` at column 48");
        let h = "{\"brawl-history\":1}\n{\"index\":0,\"time\":0,\"type\":\"maybe\",\"process\":0,\"f\":\"r\"}\n";
        let e = parse_jsonl(h.as_bytes()).unwrap_err().to_string();
        assert!(e.starts_with("<input>:2: bad op: unknown variant `maybe`"), "{e}");
    }

    fn compact(bytes: &[u8], block: usize) -> Result<CompactHistory, HistoryError> {
        parse_jsonl_compact_from(bytes, Path::new("<input>"), block)
    }

    /// The compact reader must give what `parse_jsonl` gives, ops and errors alike, whatever
    /// the block size.
    fn assert_same(bytes: &[u8]) {
        let expected = parse_jsonl(bytes).map_err(|e| e.to_string());
        for block in [7, 100, 4096, BLOCK] {
            let got = compact(bytes, block).map(|h| History {
                header: h.header.clone(),
                ops: h.to_ops(),
                truncated: h.truncated,
            });
            assert_eq!(got.map_err(|e| e.to_string()), expected, "block {block}");
        }
    }

    /// Found while writing the `history_jsonl` fuzz target: a block of 0 bytes never reached
    /// the end of the input. It now reads a byte at a time.
    #[test]
    fn fuzz_zero_block_reaches_the_end() {
        let bytes = write(&ops(3));
        let h = compact(&bytes, 0).unwrap();
        assert_eq!(h.to_ops(), ops(3));
    }

    #[test]
    fn compact_reader_reads_what_read_jsonl_reads() {
        for n in [0, 1, 1000, 40_000] {
            let bytes = write(&ops(n));
            assert_same(&bytes);
            assert_same(&bytes[..bytes.len() - 10]);
            assert_eq!(compact(&bytes, 4096).unwrap().to_ops(), ops(n));
        }
        assert_same(b"{\"brawl-history\":1,\"seed\":3}");
        assert_same(
            b"{\"brawl-history\":1}\n\n{\"index\":0,\"time\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"r\\u0041\"}\n",
        );
    }

    #[test]
    fn compact_reader_errors_are_read_jsonl_errors() {
        let mut bytes = write(&ops(40_000));
        let line_start = bytes.iter().enumerate().filter(|(_, &b)| b == b'\n').nth(35_000).unwrap().0 + 1;
        bytes[line_start] = b'x';
        assert_same(&bytes);
        assert_same(b"");
        assert_same(b"{\"brawl-hist");
        assert_same(b"{\"brawl-history\":2}\n");
        assert_same(b"{\"index\":0}\n");
        assert_same(b"{\"brawl-history\":1}\n{\"index\":0,\"time\":0,\"type\":\"invoke\",\"process\":0}\n");
        assert_same(b"{\"brawl-history\":1}\n{\"index\":0,\"time\":0,\"type\":\"maybe\",\"process\":0,\"f\":\"r\"}\n");
        let text = String::from_utf8(write(&ops(5))).unwrap().replacen(r#""f":"cas""#, r#""f":"cas"#, 1);
        assert_same(text.as_bytes());
        let e = compact(text.as_bytes(), BLOCK).unwrap_err().to_string();
        assert!(e.starts_with("<input>:4: bad op: "), "{e}");
    }

    #[test]
    fn header_errors() {
        let e = |s: &str| parse_jsonl(s.as_bytes()).unwrap_err().to_string();
        assert_eq!(e(""), "<input>: empty history: no complete header line");
        assert_eq!(e("{\"brawl-hist"), "<input>: empty history: no complete header line");
        assert_eq!(
            e("{\"brawl-history\":2}\n"),
            "<input>: unknown history format version 2 (this brawl reads version 1)"
        );
        assert_eq!(
            e("{\"index\":0}\n"),
            "<input>:1: bad header: no \"brawl-history\" version field: not a brawl history.jsonl"
        );
        let ok = parse_jsonl(b"{\"brawl-history\":1,\"future\":true}\n").unwrap();
        assert!(ok.ops.is_empty() && !ok.truncated);
        assert_eq!(parse_jsonl(b"{\"brawl-history\":1,\"seed\":3}").unwrap().header.seed, Some(3));
    }
}
