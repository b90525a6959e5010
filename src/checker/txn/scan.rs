//! A byte scanner for transactional histories on disk, straight into `Txns` (no `Op`, no
//! `serde_json::Value`). It reads Jepsen EDN (one op map per line, or one vector or list of
//! them, `;` comments), elle-cli JSON (one array of op objects) and brawl's `history.jsonl`
//! (its header line is skipped) with one grammar: op maps, separated by whitespace and commas,
//! optionally inside one top-level `[`/`(`. Keys may be `:keyword`s or `"strings"`. The file is
//! read in blocks, so memory holds one block, not the file. Errors name the file, the line and
//! what was expected.

use std::io::Read;
use std::path::Path;

use super::history::{Builder, MopKind, Status, Txns, NONE};
use super::{Model, TxnError};
use crate::checker::fx::FxHashMap;
use crate::checker::ShapeError;

const BLOCK: usize = 8 << 20;

/// Reads `path` into the compact representation.
pub(crate) fn read(path: &Path, model: Model) -> Result<Txns, TxnError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| TxnError::Io { path: shown.clone(), source })?;
    // Reserve from the file's size (about 100 bytes per op and 40 per micro-op at the least):
    // no copying as the vectors grow; pages not used are never touched, so cost no memory.
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let mut s = Scanner {
        src: file,
        buf: Vec::with_capacity(BLOCK),
        block: BLOCK,
        pos: 0,
        eof: false,
        line_base: 1,
        path: shown,
        model,
        in_vector: false,
    };
    s.run(size)
}

/// Reads a history held in memory, as `read` reads a file; `path` only names it in errors.
pub(crate) fn read_bytes(bytes: &[u8], path: &Path, model: Model) -> Result<Txns, TxnError> {
    // One block holds it all: the first read takes every byte and sees the end.
    let block = bytes.len() + 1;
    let buf = Vec::with_capacity(block);
    let mut s = Scanner {
        src: bytes,
        buf,
        block,
        pos: 0,
        eof: false,
        line_base: 1,
        path: path.display().to_string(),
        model,
        in_vector: false,
    };
    s.run(bytes.len())
}

/// Scans one part of a split input (`src`, `len` bytes of a file of `whole` bytes) without
/// adding the micro-ops of the invokes still open at its end. The second part starts between
/// two ops, inside the enclosing vector if `in_vector`.
pub(crate) fn scan_part<R: Read>(
    src: R,
    len: usize,
    whole: usize,
    path: &str,
    model: Model,
    second: Option<bool>,
) -> Result<Scanned, TxnError> {
    let in_vector = second.unwrap_or(false);
    let block = BLOCK.min(len + 1);
    let mut s = Scanner {
        src,
        buf: Vec::with_capacity(block),
        block,
        pos: 0,
        eof: false,
        line_base: 1,
        path: path.to_string(),
        model,
        in_vector,
    };
    s.scan(len, whole, second.is_some())
}

/// Skips what may come before the first op (whitespace, commas, comments); `None` if `s`
/// ends first.
pub(crate) fn skip_leading(s: &[u8]) -> Option<usize> {
    let i = skip_ws(s, 0);
    (i < s.len()).then_some(i)
}

struct Scanner<R> {
    src: R,
    buf: Vec<u8>,
    /// Bytes read at a time (`BLOCK` from a file; the whole input from memory).
    block: usize,
    pos: usize,
    eof: bool,
    /// Line number of `buf[0]`.
    line_base: u64,
    path: String,
    model: Model,
    /// Whether the ops start inside the file's one enclosing vector (the second part of a
    /// split file whose first part opened it).
    in_vector: bool,
}

/// What one scan of a file (or of a part of it) leaves: the txns built so far, and the
/// invokes still open at its end, whose micro-ops `finish` adds.
pub(crate) struct Scanned {
    pub b: Builder,
    /// Per process, its open invoke (`NONE`: none) with its micro-ops and their lists.
    pub invokes: FxHashMap<u64, (u32, Vec<Smop>, Vec<i64>)>,
    /// History positions used (ops that are neither the header nor the nemesis's).
    pub ordinal: u64,
    /// Inside the enclosing vector at the end.
    pub in_vector: bool,
    /// Per process, its first op: the txn of a completion that had no invoke before it, or
    /// `NONE` for an invoke (how a second part's completions find their first part's invokes).
    pub first: FxHashMap<u64, u32>,
    /// Some op had no `:index` (its index is its ordinal, which only a whole scan knows).
    pub missing_index: bool,
}

/// Why parsing an op stopped.
enum Stop {
    /// The block ended inside the op: read more and parse it again.
    More,
    /// Bad input at this offset of the buffer.
    Bad(usize, String),
}

/// A micro-op as parsed, before the op's type is known.
#[derive(Clone, Copy)]
pub(crate) struct Smop {
    pub f: F,
    pub key: u32,
    pub val: Sval,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum F {
    Append,
    Read,
    Write,
    Other,
}

#[derive(Clone, Copy)]
pub(crate) enum Sval {
    Nil,
    Int(i64),
    /// A list: `start..end` in the scratch list arena.
    List(u32, u32),
    /// Something no model accepts here (a map, a float ...), described at this buffer offset.
    Bad,
}

/// One op's fields.
#[derive(Default)]
struct Parsed {
    kind: Option<Status>,
    invoke: bool,
    process: Option<u64>,
    nemesis: bool,
    index: Option<u64>,
    has_value: bool,
    /// The value was not a list of micro-ops: what was found.
    bad_value: Option<String>,
    header: bool,
}

impl<R: Read> Scanner<R> {
    fn run(&mut self, size: usize) -> Result<Txns, TxnError> {
        let part = self.scan(size, size, false)?;
        finish(part, self.model, &self.path)
    }

    /// Scans every op; `size` is this input's length, `reserve` the whole file's (what the
    /// vectors are reserved for), `second` whether this is the second part of a split file.
    fn scan(&mut self, size: usize, reserve: usize, second: bool) -> Result<Scanned, TxnError> {
        let mut b = Builder::default();
        b.t.txns.reserve(reserve / 200);
        b.t.mops.reserve(reserve.max(size) / 80);
        let mut mops: Vec<Smop> = Vec::new();
        let mut lists: Vec<i64> = Vec::new();
        // Per process, the micro-ops of its open invoke (used if it never completes).
        let mut invokes: FxHashMap<u64, (u32, Vec<Smop>, Vec<i64>)> = FxHashMap::default();
        let mut first: FxHashMap<u64, u32> = FxHashMap::default();
        let mut missing_index = false;
        let mut ordinal: u64 = 0;
        let mut in_vector = self.in_vector;
        let mut started = second;
        self.fill()?;
        loop {
            // Between ops: whitespace, commas, comments, and the one enclosing vector.
            let mut i = self.pos;
            loop {
                i = skip_ws(&self.buf, i);
                if i < self.buf.len() || self.eof {
                    break;
                }
                self.pos = i;
                self.refill()?;
                i = self.pos;
            }
            self.pos = i;
            let Some(&c) = self.buf.get(i) else { break };
            match c {
                b'[' | b'(' if !started => {
                    in_vector = true;
                    started = true;
                    self.pos += 1;
                    continue;
                }
                b']' | b')' if in_vector => {
                    in_vector = false;
                    self.pos += 1;
                    continue;
                }
                b'{' => {}
                _ => return Err(self.parse_err(i, "an op map ({...})".into())),
            }
            started = true;
            mops.clear();
            lists.clear();
            let mut p = Parsed::default();
            let end = match parse_op(&self.buf, i, &mut b, &mut mops, &mut lists, &mut p) {
                Ok(end) => end,
                Err(Stop::More) if !self.eof => {
                    self.refill()?;
                    continue;
                }
                Err(Stop::More) => {
                    return Err(self.parse_err(self.buf.len(), "the rest of the op (the file ends inside one)".into()))
                }
                Err(Stop::Bad(at, what)) => return Err(self.parse_err(at, what)),
            };
            let start = i;
            self.pos = end;
            if p.header || p.nemesis {
                continue;
            }
            let pos = ordinal + 1;
            ordinal += 1;
            missing_index |= p.index.is_none();
            let index = p.index.unwrap_or(ordinal - 1);
            let Some(process) = p.process else {
                return Err(self.parse_err(start, "a :process in the op".into()));
            };
            if !p.invoke && p.kind.is_none() {
                return Err(self.parse_err(start, "a :type (invoke, ok, fail or info) in the op".into()));
            }
            let shape = |expected: String| ShapeError { index, model: self.model.name().to_string(), expected };
            if let Some(bad) = &p.bad_value {
                return Err(self.shape_err(start, shape(format!("a transaction (an array of micro-ops), found {bad}"))));
            }
            if !p.has_value {
                return Err(
                    self.shape_err(start, shape("a transaction (an array of micro-ops), found no :value".into()))
                );
            }
            if p.invoke {
                check_shape(self.model, &mops, &lists, false, true).map_err(|e| self.shape_err(start, shape(e)))?;
                b.invoke(process, pos, index);
                let id = b.t.txns.len() as u32 - 1;
                if second {
                    first.entry(process).or_insert(NONE);
                }
                let slot = invokes.entry(process).or_insert_with(|| (NONE, Vec::new(), Vec::new()));
                slot.0 = id;
                slot.1.clone_from(&mops);
                slot.2.clone_from(&lists);
                continue;
            }
            let status = p.kind.unwrap_or(Status::Info);
            // Keep the slot (and its buffers) for the process's next invoke.
            if let Some(slot) = invokes.get_mut(&process) {
                slot.0 = NONE;
            }
            let id = b.complete(process, pos, index, status);
            if second {
                first.entry(process).or_insert(id);
            }
            feed(&mut b, self.model, &mops, &lists, status).map_err(|e| self.shape_err(start, shape(e)))?;
            b.end();
        }
        Ok(Scanned { b, invokes, ordinal, in_vector, first, missing_index })
    }

    /// Reads the next block onto the end of the buffer, reusing its capacity (no fresh block
    /// allocation, so no fresh page faults, per block).
    fn fill(&mut self) -> Result<(), TxnError> {
        let old = self.buf.len();
        self.buf.resize(old + self.block, 0);
        let n = read_full(&mut self.src, &mut self.buf[old..])
            .map_err(|source| TxnError::Io { path: self.path.clone(), source })?;
        self.buf.truncate(old + n);
        if n < self.block {
            self.eof = true;
        }
        Ok(())
    }

    /// Drops what was consumed and reads the next block (growing the buffer for a huge op).
    fn refill(&mut self) -> Result<(), TxnError> {
        self.line_base += count_lines(&self.buf[..self.pos]);
        self.buf.drain(..self.pos);
        self.pos = 0;
        self.fill()
    }

    fn line_at(&self, at: usize) -> u64 {
        self.line_base + count_lines(&self.buf[..at.min(self.buf.len())])
    }

    fn parse_err(&self, at: usize, expected: String) -> TxnError {
        TxnError::Parse { path: self.path.clone(), line: self.line_at(at), expected }
    }

    fn shape_err(&self, at: usize, source: ShapeError) -> TxnError {
        TxnError::Shape { path: self.path.clone(), line: self.line_at(at), source }
    }
}

/// Adds the micro-ops of the invokes still open at the end, as info, in txn order.
fn finish(part: Scanned, model: Model, path: &str) -> Result<Txns, TxnError> {
    let Scanned { mut b, invokes, .. } = part;
    let open = b.take_open();
    let mut left: Vec<(u32, Vec<Smop>, Vec<i64>)> = invokes.into_values().collect();
    left.sort_by_key(|x| x.0);
    for (id, ms, ls) in left {
        if id != NONE && open.contains(&id) {
            b.reopen(id);
            feed(&mut b, model, &ms, &ls, Status::Info).map_err(|e| TxnError::Parse {
                path: path.to_string(),
                line: 0,
                expected: e,
            })?;
            b.end();
        }
    }
    Ok(b.finish())
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn count_lines(b: &[u8]) -> u64 {
    b.iter().filter(|c| **c == b'\n').count() as u64
}

/// Skips whitespace, commas and `;` comments.
#[inline]
fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() {
        match s[i] {
            b' ' | b'\n' | b'\r' | b'\t' | b',' => i += 1,
            b';' => {
                while i < s.len() && s[i] != b'\n' {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    i
}

/// The bytes that end a token, as a table (one load per byte); `colon` says whether `:` is one
/// of them (it ends a keyword, but not a value being skipped).
const fn delims(colon: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let d = b" \n\r\t,}])[({\";:";
    let mut i = 0;
    while i < d.len() {
        t[d[i] as usize] = true;
        i += 1;
    }
    t[b':' as usize] = colon;
    t
}

static DELIM: [bool; 256] = delims(true);
static DELIM_NO_COLON: [bool; 256] = delims(false);

#[inline]
fn is_delim(c: u8) -> bool {
    DELIM[c as usize]
}

/// Parses one op map starting at `s[i] == '{'`; returns the offset after it.
fn parse_op(
    s: &[u8],
    mut i: usize,
    b: &mut Builder,
    mops: &mut Vec<Smop>,
    lists: &mut Vec<i64>,
    p: &mut Parsed,
) -> Result<usize, Stop> {
    i += 1;
    loop {
        i = skip_ws(s, i);
        let c = *s.get(i).ok_or(Stop::More)?;
        if c == b'}' {
            return Ok(i + 1);
        }
        let (key, next) = atom(s, i)?;
        i = skip_ws(s, next);
        // JSON: "key": value.
        if s.get(i) == Some(&b':') && s[next - 1] == b'"' {
            i = skip_ws(s, i + 1);
        }
        if i >= s.len() {
            return Err(Stop::More);
        }
        match key {
            b"type" => {
                let (v, n) = atom(s, i)?;
                match v {
                    b"invoke" => p.invoke = true,
                    b"ok" => p.kind = Some(Status::Ok),
                    b"fail" => p.kind = Some(Status::Fail),
                    b"info" => p.kind = Some(Status::Info),
                    _ => return Err(Stop::Bad(i, "a :type of invoke, ok, fail or info".into())),
                }
                i = n;
            }
            b"process" => {
                if s[i] == b'-' || s[i].is_ascii_digit() {
                    let (v, n) = int(s, i)?;
                    p.process =
                        Some(u64::try_from(v).map_err(|_| Stop::Bad(i, "a process number of 0 or more".into()))?);
                    i = n;
                } else {
                    // The nemesis (or another non-client process): not a transaction.
                    p.nemesis = true;
                    i = skip_value(s, i)?;
                }
            }
            b"index" => {
                let (v, n) = int(s, i)?;
                p.index = Some(u64::try_from(v).map_err(|_| Stop::Bad(i, "an :index of 0 or more".into()))?);
                i = n;
            }
            b"value" => {
                p.has_value = true;
                match txn_value(s, i, b, mops, lists)? {
                    Ok(n) => i = n,
                    Err(what) => {
                        p.bad_value = Some(what);
                        i = skip_value(s, i)?;
                    }
                }
            }
            b"brawl-history" => {
                p.header = true;
                i = skip_value(s, i)?;
            }
            _ => i = skip_value(s, i)?,
        }
    }
}

/// A keyword (`:foo` -> `foo`), a string (`"foo"` -> `foo`, escapes kept raw) or a bare
/// symbol (`nil`, `true`); returns it and the offset after it.
#[inline]
fn atom(s: &[u8], i: usize) -> Result<(&[u8], usize), Stop> {
    match s.get(i) {
        None => Err(Stop::More),
        Some(b'"') => {
            let mut j = i + 1;
            while j < s.len() {
                match s[j] {
                    b'"' => return Ok((&s[i + 1..j], j + 1)),
                    b'\\' => j += 2,
                    _ => j += 1,
                }
            }
            Err(Stop::More)
        }
        Some(c) => {
            let start = if *c == b':' { i + 1 } else { i };
            let mut j = start;
            while j < s.len() && !is_delim(s[j]) {
                j += 1;
            }
            if j == s.len() {
                return Err(Stop::More);
            }
            if j == start {
                return Err(Stop::Bad(i, "a keyword or string".into()));
            }
            Ok((&s[start..j], j))
        }
    }
}

#[inline]
fn int(s: &[u8], i: usize) -> Result<(i64, usize), Stop> {
    let mut j = i;
    let neg = s.get(j) == Some(&b'-');
    if neg {
        j += 1;
    }
    let start = j;
    // Eighteen digits cannot overflow: no checks for them.
    let mut v: i64 = 0;
    let fast = s.len().min(j + 18);
    while j < fast {
        let d = s[j].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v * 10 + d as i64;
        j += 1;
    }
    while j < s.len() && s[j].is_ascii_digit() {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((s[j] - b'0') as i64))
            .ok_or_else(|| Stop::Bad(i, "an integer that fits in 64 bits".into()))?;
        j += 1;
    }
    if j == s.len() {
        return Err(Stop::More);
    }
    if j == start || !is_delim(s[j]) {
        return Err(Stop::Bad(i, "an integer".into()));
    }
    Ok((if neg { -v } else { v }, j))
}

/// Skips any EDN or JSON value.
fn skip_value(s: &[u8], mut i: usize) -> Result<usize, Stop> {
    let mut depth = 0usize;
    loop {
        i = skip_ws(s, i);
        let c = *s.get(i).ok_or(Stop::More)?;
        match c {
            b'{' | b'[' | b'(' => {
                depth += 1;
                i += 1;
            }
            b'#' if s.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 2;
            }
            b'}' | b']' | b')' => {
                if depth == 0 {
                    return Err(Stop::Bad(i, "a value".into()));
                }
                depth -= 1;
                i += 1;
            }
            b'"' => i = atom(s, i)?.1,
            b'\\' => i += 2,
            _ => {
                let mut j = i + 1;
                while j < s.len() && !DELIM_NO_COLON[s[j] as usize] {
                    j += 1;
                }
                if j == s.len() {
                    return Err(Stop::More);
                }
                i = j;
            }
        }
        if depth == 0 {
            return Ok(i);
        }
    }
}

/// Parses a txn value `[[f k v] ...]` into `mops`. The inner `Err` says what was found instead
/// of a list of micro-ops (the op may be a nemesis op whose value is anything).
fn txn_value(
    s: &[u8],
    mut i: usize,
    b: &mut Builder,
    mops: &mut Vec<Smop>,
    lists: &mut Vec<i64>,
) -> Result<Result<usize, String>, Stop> {
    if !matches!(s[i], b'[' | b'(') {
        return Ok(Err(found_at(s, i)));
    }
    i += 1;
    loop {
        i = skip_ws(s, i);
        let c = *s.get(i).ok_or(Stop::More)?;
        if c == b']' || c == b')' {
            return Ok(Ok(i + 1));
        }
        if c != b'[' && c != b'(' {
            return Ok(Err(format!("a micro-op that is not [f key value]: {}", found_at(s, i))));
        }
        i = skip_ws(s, i + 1);
        let (f, n) = atom(s, i)?;
        let f = match f {
            b"append" => F::Append,
            b"r" => F::Read,
            b"w" => F::Write,
            _ => F::Other,
        };
        i = skip_ws(s, n);
        let key = match s.get(i) {
            None => return Err(Stop::More),
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let (k, n) = int(s, i)?;
                i = n;
                b.int_key(k)
            }
            Some(_) => {
                let (k, n) = atom(s, i)?;
                i = n;
                b.str_key(&String::from_utf8_lossy(k))
            }
        };
        i = skip_ws(s, i);
        let val = match s.get(i) {
            None => return Err(Stop::More),
            Some(b'[') | Some(b'(') => {
                let start = lists.len() as u32;
                i += 1;
                loop {
                    i = skip_ws(s, i);
                    match s.get(i) {
                        None => return Err(Stop::More),
                        Some(b']') | Some(b')') => {
                            i += 1;
                            break;
                        }
                        Some(_) => {
                            let (v, n) = scalar(s, i, b)?;
                            i = n;
                            match v {
                                Some(v) => lists.push(v),
                                None => {
                                    return Ok(Err(format!(
                                        "a list element that is not an integer or string: {}",
                                        found_at(s, i)
                                    )))
                                }
                            }
                        }
                    }
                }
                Sval::List(start, lists.len() as u32)
            }
            Some(_) => {
                let (v, n) = scalar(s, i, b)?;
                let nil = &s[i..n] == b"nil" || &s[i..n] == b"null";
                i = n;
                match v {
                    Some(v) => Sval::Int(v),
                    None if nil => Sval::Nil,
                    None => Sval::Bad,
                }
            }
        };
        i = skip_ws(s, i);
        match s.get(i) {
            None => return Err(Stop::More),
            Some(b']') | Some(b')') => i += 1,
            Some(_) => return Ok(Err(format!("a micro-op with more than 3 elements: {}", found_at(s, i)))),
        }
        mops.push(Smop { f, key, val });
    }
}

/// An integer, keyword or string value (interned); `None` for anything else (skipped).
#[inline]
fn scalar(s: &[u8], i: usize, b: &mut Builder) -> Result<(Option<i64>, usize), Stop> {
    match s.get(i) {
        None => Err(Stop::More),
        Some(c) if *c == b'-' || c.is_ascii_digit() => {
            let (v, n) = int(s, i)?;
            Ok((b.int_val(v), n))
        }
        Some(b'"') | Some(b':') => {
            let (a, n) = atom(s, i)?;
            Ok((Some(b.str_val(&String::from_utf8_lossy(a))), n))
        }
        Some(_) => Ok((None, skip_value(s, i)?)),
    }
}

fn found_at(s: &[u8], i: usize) -> String {
    let end = (i + 40).min(s.len());
    let text = String::from_utf8_lossy(&s[i..end]);
    let line = text.lines().next().unwrap_or("");
    format!("`{line}`")
}

/// Checks the micro-ops against the model without adding them.
fn check_shape(model: Model, mops: &[Smop], lists: &[i64], ok: bool, invoke: bool) -> Result<(), String> {
    let _ = (lists, invoke);
    for (i, m) in mops.iter().enumerate() {
        shape_of(model, m, ok).map_err(|e| format!("micro-op {i}: {e}"))?;
    }
    Ok(())
}

fn shape_of(model: Model, m: &Smop, ok: bool) -> Result<MopKind, String> {
    Ok(match (model, m.f, m.val) {
        (Model::ListAppend, F::Append, Sval::Int(_)) => MopKind::Append,
        (Model::ListAppend, F::Read, Sval::List(..)) => MopKind::ReadPrefix,
        (Model::ListAppend, F::Read, Sval::Nil) if !ok => MopKind::ReadNil,
        (Model::ListAppend, F::Read, _) => return Err("an ok read of a list".into()),
        (Model::RwRegister, F::Write, Sval::Int(_)) => MopKind::Write,
        (Model::RwRegister, F::Read, Sval::Int(_)) => MopKind::ReadReg,
        (Model::RwRegister, F::Read, Sval::Nil) => {
            if ok {
                MopKind::ReadInit
            } else {
                MopKind::ReadNil
            }
        }
        (Model::RwRegister, F::Read, _) => return Err("a read of one value (or nil)".into()),
        (_, F::Append, _) | (_, F::Write, _) if model_f_ok(model, m.f) => {
            return Err("an integer or string to write".into())
        }
        (Model::ListAppend, ..) => return Err("f :append or :r".into()),
        (Model::RwRegister, ..) => return Err("f :w or :r".into()),
    })
}

fn model_f_ok(model: Model, f: F) -> bool {
    matches!((model, f), (Model::ListAppend, F::Append) | (Model::RwRegister, F::Write))
}

/// Adds the micro-ops of a completion to the current txn.
pub(crate) fn feed(b: &mut Builder, model: Model, mops: &[Smop], lists: &[i64], status: Status) -> Result<(), String> {
    let ok = status == Status::Ok;
    let counts = status != Status::Fail;
    for (i, m) in mops.iter().enumerate() {
        let kind = shape_of(model, m, ok).map_err(|e| format!("micro-op {i}: {e}"))?;
        match (kind, m.val) {
            (MopKind::Append | MopKind::Write, Sval::Int(v)) => b.write(kind, m.key, v),
            (MopKind::ReadPrefix, Sval::List(s, e)) => b.read_list(m.key, &lists[s as usize..e as usize], counts),
            (MopKind::ReadReg, Sval::Int(v)) => b.read_scalar(kind, m.key, v),
            (kind, _) => b.read_scalar(kind, m.key, 0),
        }
    }
    Ok(())
}
