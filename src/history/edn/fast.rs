//! The fast path for Jepsen EDN: a byte-level scanner for the op maps Jepsen writes
//! (`{:type :ok, :f :read, :value [3 nil], :process 1, :time 9, :index 4}`: keyword keys,
//! keyword or plain-string `:f`, integer fields, a value of nil, integers, keywords, plain strings
//! and vectors or lists of those), on two or more threads for large files. An op it does not
//! take (any other shape, valid or not) goes to the general reader (`parser.rs` and
//! `op_from_edn`), so every op means the same on both paths. When anything fails, or a
//! speculative split between threads turns out to fall inside a form, the whole file is read
//! again by the general reader alone, so that every error is exactly the general reader's.
//!
//! Two sinks: `Piece` (a `CompactHistory` in the making, register values inline) and `OpSink`
//! (plain `Op`s, values as JSON).

use std::borrow::Cow;
use std::path::Path;

use serde_json::Value;

use super::import::{next_free_process, op_from_edn, parse_edn_at, NO_INDEX, NO_PROCESS, NO_TIME};
use super::parser::Parser;
use crate::history::compact::{CompactOp, RawAtom, RawOp, RawValue};
use crate::history::fast::Piece;
use crate::history::{CompactHistory, Header, History, HistoryError, Op, OpType, Process};

/// Below this many bytes per thread, one thread reads the whole file.
/// (Small in tests, so that they cover the split.)
const PARALLEL_MIN_BYTES: usize = if cfg!(test) { 64 << 10 } else { 4 << 20 };

/// The fields of an op read by the fast path, its value already in the sink's form.
struct Fields<'a, V> {
    index: Option<u64>,
    time: Option<u64>,
    kind: OpType,
    process: Option<Process>,
    f: &'a str,
    value: V,
    node: Option<&'a str>,
    /// A keyword error keeps its colon (`:timeout`), as `Edn::into_error_text` gives it.
    error: Option<Cow<'a, str>>,
}

/// Where the ops of one piece of the file go.
trait Sink<'a>: Send + Default {
    /// An op's value in this sink's form.
    type Value;
    /// The value of an op without `:value`.
    fn nil(&mut self) -> Self::Value;
    /// Reads a value at the cursor; `None` to leave the op to the general reader.
    fn value(&mut self, c: &mut Cursor<'a>) -> Option<Self::Value>;
    /// Adds an op read by the fast path (missing fields as 0, fixed later).
    fn push_fields(&mut self, f: Fields<'a, Self::Value>);
    /// Adds an op read by the general reader.
    fn push_op(&mut self, op: Op);
    /// Number of ops so far.
    fn len(&self) -> usize;
    /// Makes room for about `n` more ops.
    fn reserve(&mut self, n: usize);
}

/// One thread's share: its ops and the `(position, NO_* flags)` of those that lacked fields.
struct Share<S> {
    sink: S,
    missing: Vec<(usize, u8)>,
}

/// `parse_edn_compact` of a history held in memory; errors name the file `<input>`.
pub fn parse_edn_compact_str(text: &str) -> Result<CompactHistory, HistoryError> {
    parse_edn_compact(text, Path::new("<input>"))
}

/// Reads Jepsen EDN `text` into a `CompactHistory`; errors name `path`.
pub(crate) fn parse_edn_compact(text: &str, path: &Path) -> Result<CompactHistory, HistoryError> {
    let Some(shares) = scan_all::<Piece>(text) else {
        // The general reader's error (or, should it succeed after all, its history).
        return Ok(CompactHistory::from(&parse_edn_at(text, path)?));
    };
    let mut h = CompactHistory { header: Header::default(), ..CompactHistory::default() };
    let total: usize = shares.iter().map(|s| s.sink.ops.len()).sum();
    let mut missing = Vec::new();
    for share in shares {
        let base = h.ops.len();
        missing.extend(share.missing.iter().map(|&(at, lacks)| (base + at, lacks)));
        let mut piece = share.sink;
        let strings: Vec<u32> = piece.strings.iter().map(|s| h.strings.id(s)).collect();
        let values = i64::try_from(h.values.len()).expect("fewer than 2^63 values");
        h.values.append(&mut piece.values);
        for op in &mut piece.ops {
            op.relocate(&strings, values);
        }
        if h.ops.is_empty() {
            // Grow the first share's vector rather than copy it.
            h.ops = piece.ops;
            h.ops.reserve_exact(total - h.ops.len());
        } else {
            h.ops.extend_from_slice(&piece.ops);
        }
    }
    if !missing.is_empty() {
        use crate::history::Ops;
        let mut next = next_free_process((0..h.len()).map(|i| h.process(i)), &missing);
        for (at, lacks) in missing {
            let op = &mut h.ops[at];
            if lacks & NO_INDEX != 0 {
                op.set_index(at as u64);
            }
            if lacks & NO_TIME != 0 {
                op.set_time(at as u64);
            }
            if lacks & NO_PROCESS != 0 {
                op.set_process(Process::Client(next));
                next += 1;
            }
        }
    }
    Ok(h)
}

/// Reads Jepsen EDN `text` into `Op`s; errors name `path`.
pub(crate) fn parse_edn_ops(text: &str, path: &Path) -> Result<History, HistoryError> {
    let Some(shares) = scan_all::<OpSink>(text) else { return parse_edn_at(text, path) };
    let total: usize = shares.iter().map(|s| s.sink.ops.len()).sum();
    let mut ops = Vec::with_capacity(total);
    let mut missing = Vec::new();
    for share in shares {
        let base = ops.len();
        missing.extend(share.missing.iter().map(|&(at, lacks)| (base + at, lacks)));
        ops.extend(share.sink.ops);
    }
    super::import::fill_missing(&mut ops, &missing);
    Ok(History::new(Header::default(), ops))
}

/// Scans the whole file, in parallel shares when it is large; `None` when the general reader
/// must read it (an error somewhere, or a split that fell inside a form).
fn scan_all<'a, S: Sink<'a>>(text: &'a str) -> Option<Vec<Share<S>>> {
    let b = text.as_bytes();
    let mut c = Cursor { b, i: 0 };
    c.ws()?;
    // The layout: one vector or list of every op, or ops one after another.
    let close = match c.peek() {
        Some(b'[') => Some(b']'),
        Some(b'(') => Some(b')'),
        _ => None,
    };
    if close.is_some() {
        c.i += 1;
    }
    let starts = split(b, c.i, parallelism(b.len() - c.i));
    if starts.len() == 1 {
        return Some(vec![scan::<S>(text, c.i, None, close)?]);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = starts
            .iter()
            .enumerate()
            .map(|(k, &start)| {
                let end = starts.get(k + 1).copied();
                s.spawn(move || scan::<S>(text, start, end, close))
            })
            .collect();
        let shares: Vec<Option<Share<S>>> =
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect();
        shares.into_iter().collect()
    })
}

fn parallelism(len: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(len / PARALLEL_MIN_BYTES).clamp(1, 16)
}

/// Where each share starts: `from`, then about evenly spaced points, each at a `{` that starts a
/// line (most likely, but not surely, the start of an op map: `scan` checks).
fn split(b: &[u8], from: usize, n: usize) -> Vec<usize> {
    let mut starts = vec![from];
    let step = (b.len() - from) / n.max(1);
    for k in 1..n {
        let target = (from + k * step).max(starts[starts.len() - 1] + 1);
        let Some(at) = op_line_start(b, target) else { break };
        starts.push(at);
    }
    starts
}

/// The first `{` at or after `from` that starts a line (after spaces or tabs: the vector layout
/// indents its maps).
fn op_line_start(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        i += b.get(i..)?.iter().position(|&x| x == b'\n')? + 1;
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if b.get(i) == Some(&b'{') {
            return Some(i);
        }
    }
}

/// Scans the forms from `start`: up to exactly `end` for a share in the middle, else to the end
/// of the file (past the `close` of the history vector, when there is one). `None` when the
/// general reader must take over.
fn scan<'a, S: Sink<'a>>(text: &'a str, start: usize, end: Option<usize>, close: Option<u8>) -> Option<Share<S>> {
    let b = text.as_bytes();
    let mut share = Share { sink: S::default(), missing: Vec::new() };
    // About 90 bytes an op, as Jepsen writes them.
    share.sink.reserve((end.unwrap_or(b.len()) - start) / 90);
    let mut c = Cursor { b, i: start };
    loop {
        c.ws()?;
        if let Some(end) = end {
            if c.i >= end {
                // A form that ran past `end` means `end` was inside it.
                return (c.i == end).then_some(share);
            }
        }
        match c.peek() {
            None if close.is_none() && end.is_none() => return Some(share),
            None => return None,
            Some(x) if Some(x) == close && end.is_none() => {
                c.i += 1;
                c.ws()?;
                return c.peek().is_none().then_some(share);
            }
            Some(b')' | b']' | b'}') => return None,
            Some(_) => {}
        }
        let at = c.i;
        let lacks = match op(&mut c, &mut share.sink) {
            Some(lacks) => lacks,
            None => {
                let mut p = Parser::at(text, at);
                let form = p.value().ok()?;
                let (op, lacks) = op_from_edn(form).ok()?;
                c.i = p.pos();
                share.sink.push_op(op);
                lacks
            }
        };
        if lacks != 0 {
            share.missing.push((share.sink.len() - 1, lacks));
        }
    }
}

/// Reads one op map at the cursor into `sink` and returns its `NO_*` flags; `None` (the sink
/// untouched) for anything the fast path does not take.
fn op<'a, S: Sink<'a>>(c: &mut Cursor<'a>, sink: &mut S) -> Option<u8> {
    if c.b[c.i..].starts_with(b"#jepsen.history.Op{") {
        c.i += "#jepsen.history.Op".len();
    }
    c.eat(b'{')?;
    let (mut index, mut time, mut kind, mut process, mut f) = (None, None, None, None, None);
    let (mut value, mut node, mut error) = (None, None, None);
    loop {
        c.ws()?;
        if c.peek()? == b'}' {
            c.i += 1;
            break;
        }
        let key = c.keyword_bytes()?;
        c.ws()?;
        match key {
            b"type" if kind.is_none() => {
                kind = Some(match c.keyword_bytes()? {
                    b"invoke" => OpType::Invoke,
                    b"ok" => OpType::Ok,
                    b"fail" => OpType::Fail,
                    b"info" => OpType::Info,
                    _ => return None,
                })
            }
            b"f" if f.is_none() => f = Some(if c.peek()? == b'"' { c.string()? } else { c.keyword()? }),
            b"value" if value.is_none() => value = Some(sink.value(c)?),
            b"process" if process.is_none() => {
                process = Some(if c.peek()? == b':' {
                    (c.keyword()? == "nemesis").then_some(Process::Nemesis)?
                } else {
                    Process::Client(c.natural()?)
                })
            }
            b"time" if time.is_none() => time = Some(c.natural()?),
            b"index" if index.is_none() => index = Some(c.natural()?),
            b"node" if node.is_none() => node = Some(if c.peek()? == b'"' { Some(c.string()?) } else { c.nil()? }),
            b"error" if error.is_none() => {
                error = Some(match c.peek()? {
                    b'"' => Some(Cow::Borrowed(c.string()?)),
                    b':' => Some(Cow::Owned(format!(":{}", c.keyword()?))),
                    _ => c.nil()?,
                })
            }
            _ => return None,
        }
    }
    let value = match value {
        Some(v) => v,
        None => sink.nil(),
    };
    let lacks = if index.is_none() { NO_INDEX } else { 0 }
        | if time.is_none() { NO_TIME } else { 0 }
        | if process.is_none() { NO_PROCESS } else { 0 };
    sink.push_fields(Fields {
        index,
        time,
        kind: kind?,
        process,
        f: f?,
        value,
        node: node.flatten(),
        error: error.flatten(),
    });
    Some(lacks)
}

/// A position in the file's bytes.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

/// Byte classes, looked up rather than searched for on every byte.
const DELIMITER: u8 = 1;
const PLAIN: u8 = 2;

/// `DELIMITER`: ends a token (a number, keyword or symbol), as `Parser::token_end` has it.
/// `PLAIN`: may appear in a keyword the fast path takes.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let delimiters = b" \t\n\r\x0c,()[]{}\";";
    let mut i = 0;
    while i < delimiters.len() {
        t[delimiters[i] as usize] = DELIMITER;
        i += 1;
    }
    let mut c = 0;
    while c < 128 {
        if (c as u8).is_ascii_alphanumeric() {
            t[c] = PLAIN;
        }
        c += 1;
    }
    let extra = b"-_?!*+.<>=";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = PLAIN;
        i += 1;
    }
    t
};

fn ends_token(b: u8) -> bool {
    CLASS[b as usize] == DELIMITER
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, x: u8) -> Option<()> {
        (self.peek()? == x).then(|| self.i += 1)
    }

    /// Skips whitespace, commas and `;` comments; `None` at a `#_` discard (general reader).
    fn ws(&mut self) -> Option<()> {
        while let Some(&x) = self.b.get(self.i) {
            match x {
                b' ' | b'\t' | b'\n' | b'\r' | b',' | 0x0c => self.i += 1,
                b';' => match self.b[self.i..].iter().position(|&x| x == b'\n') {
                    Some(n) => self.i += n,
                    None => self.i = self.b.len(),
                },
                b'#' if self.b.get(self.i + 1) == Some(&b'_') => return None,
                _ => break,
            }
        }
        Some(())
    }

    /// The token at the cursor, which must end at a delimiter or the end of the file.
    fn token(&mut self) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(|x| !ends_token(x)) {
            self.i += 1;
        }
        &self.b[start..self.i]
    }

    /// A plain keyword (`:start-partition`), its name without the colon.
    fn keyword(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.keyword_bytes()?).ok()
    }

    /// `keyword`, as bytes (all of them ASCII).
    fn keyword_bytes(&mut self) -> Option<&'a [u8]> {
        self.eat(b':')?;
        let start = self.i;
        while let Some(&x) = self.b.get(self.i) {
            match CLASS[x as usize] {
                PLAIN => self.i += 1,
                DELIMITER => break,
                _ => return None,
            }
        }
        (self.i > start).then(|| &self.b[start..self.i])
    }

    /// A string without escapes.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let rest = &self.b[self.i..];
        let len = rest.iter().position(|&x| x == b'"' || x == b'\\')?;
        if rest[len] != b'"' {
            return None;
        }
        self.i += len + 1;
        std::str::from_utf8(&rest[..len]).ok()
    }

    fn nil<T>(&mut self) -> Option<Option<T>> {
        (self.token() == b"nil").then_some(None)
    }

    /// An integer that fits `i64`: `-?digits`, no leading zero, no suffix.
    fn int(&mut self) -> Option<i64> {
        let t = self.token();
        let (neg, digits) = match t.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, t),
        };
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut n: i64 = 0;
        for &d in digits {
            n = n.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
        }
        if neg {
            Some(n)
        } else {
            n.checked_neg()
        }
    }

    fn natural(&mut self) -> Option<u64> {
        u64::try_from(self.int()?).ok()
    }

    /// nil or an integer, as a compact atom.
    fn atom(&mut self) -> Option<RawAtom> {
        match self.peek()? {
            b'n' => self.nil().map(|_: Option<()>| RawAtom::Null),
            _ => self.int().map(RawAtom::Int),
        }
    }

    /// A value as JSON: nil, booleans, integers, plain keywords and strings, and vectors or
    /// lists of those.
    fn json(&mut self, depth: usize) -> Option<Value> {
        match self.peek()? {
            open @ (b'[' | b'(') if depth < 64 => {
                let close = if open == b'[' { b']' } else { b')' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws()?;
                    if self.peek()? == close {
                        self.i += 1;
                        return Some(Value::Array(items));
                    }
                    items.push(self.json(depth + 1)?);
                }
            }
            b':' => self.keyword().map(|k| Value::String(k.to_string())),
            b'"' => self.string().map(|s| Value::String(s.to_string())),
            b'n' | b't' | b'f' => match self.token() {
                b"nil" => Some(Value::Null),
                b"true" => Some(Value::Bool(true)),
                b"false" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => self.int().map(Value::from),
        }
    }
}

impl<'a> Sink<'a> for Piece<'a> {
    type Value = RawValue;

    fn nil(&mut self) -> RawValue {
        RawValue::One(RawAtom::Null)
    }

    /// `v`, `[a b]` or `[a [b c]]` with nil or integer parts: the shapes kept inline.
    fn value(&mut self, c: &mut Cursor<'a>) -> Option<RawValue> {
        if c.peek()? != b'[' {
            return c.atom().map(RawValue::One);
        }
        c.i += 1;
        c.ws()?;
        let a = c.atom()?;
        c.ws()?;
        let v = if c.peek()? == b'[' {
            c.i += 1;
            c.ws()?;
            let b = c.atom()?;
            c.ws()?;
            let x = c.atom()?;
            c.ws()?;
            c.eat(b']')?;
            RawValue::Nested(a, b, x)
        } else {
            RawValue::Pair(a, c.atom()?)
        };
        c.ws()?;
        c.eat(b']')?;
        Some(v)
    }

    fn push_fields(&mut self, f: Fields<'a, RawValue>) {
        let raw = RawOp {
            index: f.index.unwrap_or(0),
            time: f.time.unwrap_or(0),
            kind: f.kind,
            process: f.process.unwrap_or(Process::Client(0)),
            f: self.string(Cow::Borrowed(f.f)),
            value: f.value,
            node: f.node.map(|s| self.string(Cow::Borrowed(s))),
            error: f.error.map(|s| self.string(s)),
        };
        self.ops.push(CompactOp::new(raw));
    }

    fn push_op(&mut self, op: Op) {
        Piece::push_op(self, op);
    }

    fn len(&self) -> usize {
        self.ops.len()
    }

    fn reserve(&mut self, n: usize) {
        self.ops.reserve(n);
    }
}

/// Plain `Op`s.
#[derive(Default)]
struct OpSink {
    ops: Vec<Op>,
}

impl<'a> Sink<'a> for OpSink {
    type Value = Value;

    fn nil(&mut self) -> Value {
        Value::Null
    }

    fn value(&mut self, c: &mut Cursor<'a>) -> Option<Value> {
        c.json(0)
    }

    fn push_fields(&mut self, f: Fields<'a, Value>) {
        self.ops.push(Op {
            index: f.index.unwrap_or(0),
            time: f.time.unwrap_or(0),
            kind: f.kind,
            process: f.process.unwrap_or(Process::Client(0)),
            f: f.f.to_string(),
            value: f.value,
            node: f.node.map(str::to_string),
            error: f.error.map(Cow::into_owned),
        });
    }

    fn push_op(&mut self, op: Op) {
        self.ops.push(op);
    }

    fn len(&self) -> usize {
        self.ops.len()
    }

    fn reserve(&mut self, n: usize) {
        self.ops.reserve(n);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::history::{parse_edn, Ops};

    /// Every path must agree with the general reader, in ops and in errors.
    fn agree(text: &str) {
        let path = Path::new("<input>");
        let general = parse_edn_at(text, path);
        let ops = parse_edn_ops(text, path);
        let compact = parse_edn_compact(text, path);
        match general {
            Ok(h) => {
                assert_eq!(ops.as_ref().map(|h| &h.ops).ok(), Some(&h.ops), "ops path on {text:?}");
                let c = compact.unwrap_or_else(|e| panic!("compact path failed with {e} on {text:?}"));
                assert_eq!(c.to_ops(), h.ops, "compact path on {text:?}");
            }
            Err(e) => {
                let e = e.to_string();
                assert_eq!(ops.map(|_| ()).unwrap_err().to_string(), e, "ops path on {text:?}");
                assert_eq!(compact.map(|_| ()).unwrap_err().to_string(), e, "compact path on {text:?}");
            }
        }
    }

    #[test]
    fn fast_and_general_paths_agree_on_examples() {
        for text in [
            "{:type :invoke, :f :read, :value [8 nil], :process 88, :time 9, :index 0}\n",
            "{:type :ok, :f :cas, :value [1 [852917 -3]], :process 17, :time 12, :index 1}",
            "[{:type :invoke, :f :read, :process 0}\n ; comment\n {:type :ok, :f :read, :value 3, :process 0}]",
            "({:type :invoke, :f \"read\" :process 0}) ; trailing",
            "#jepsen.history.Op{:type :info, :f :kill, :value :majority, :process :nemesis, :error :timeout}",
            "{:type :ok, :f :txn, :value [[:append :x 1] [:r \"y\" [1 2]] [:w 3 nil]], :process 1}",
            "{:type :ok, :f :read, :value 01, :process 1}",
            "{:type :ok, :f :read, :value 1N, :process 1}",
            "{:type :ok, :f :read, :value 12abc, :process 1}",
            "{:type :ok, :f :read, :value [1 nil], :process -1}",
            "{:type :ok, :f :read, :value #_ 1 2, :process 1}",
            "{:type :ok, :f :read, :value [1 nil] :process 1 :node \"n1\" :error \"x y\"}",
            "{:type :ok, :f :read, :value {:a 1}, :process 1, :node :n1}",
            "{:type :ok, :type :fail, :f :read, :process 1}",
            "{:type :ok, :f :read, :process nil}\n{:type :invoke, :f :read, :process 4}",
            "{:type :ok :f :read}\n{:type :ok :f :read}\n{:type :ok :f :read :process 2}",
            "[{:type :ok, :f :read, :process 1}",
            "[{:type :ok, :f :read, :process 1}] x",
            "{:type :ok, :f :read, :process 1}]",
            "{:f :read, :process 1}",
            "{\"type\" \"ok\", \"f\" \"read\", \"process\" 1, \"value\" [\"x\" 1]}",
            "{:type :ok, :f :read, :value [-9223372036854775808 9223372036854775807], :process 1}",
            "{:type :ok, :f :read, :value [1 9223372036854775808], :process 1}",
            "",
            "[]",
            "; only a comment",
        ] {
            agree(text);
        }
    }

    #[test]
    fn a_large_file_is_read_in_parallel_shares_like_the_general_reader() {
        let mut text = String::from("[\n");
        let indent = |i: u64| if i % 2 == 0 { " " } else { "" };
        for i in 0..8_000u64 {
            let value = match i % 4 {
                0 => format!("[{} nil]", i % 7),
                1 => format!("[{} [{} {}]]", i % 7, i, i + 1),
                2 => "{:nested\n {:map 1}}".to_string(),
                _ => format!("[[:append {} {i}]]", i % 3),
            };
            text.push_str(&format!(
                "{}{{:type :ok, :f :x, :value {value}, :process {}, :time {i}}}\n",
                indent(i),
                i % 10
            ));
        }
        text.push(']');
        assert!(parallelism(text.len()) > 1 || std::thread::available_parallelism().map_or(1, |n| n.get()) == 1);
        agree(&text);
        // The fast path took it, in more than one share (no fallback to the general reader).
        let shares = scan_all::<OpSink>(&text).expect("the fast path reads it");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(shares.len() > 1 || cores == 1, "{} shares", shares.len());
        let h = parse_edn_compact(&text, Path::new("x")).unwrap();
        assert_eq!(h.len(), 8_000);
        assert_eq!(h.op(7_999).index, 7_999);
        // A split inside a string (a line that starts with `{` inside a multi-line string) must
        // not fool the scanner.
        let tricky = text.replace("{:nested\n {:map 1}}", "\"a\n{:type :ok, :f :x}\"");
        agree(&tricky);
        // An error late in the file names its line, as the general reader does.
        let broken = text.replacen(":time 7000}", ":time 7000", 1);
        agree(&broken);
        assert!(parse_edn(&broken).is_err());
    }

    fn atom() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("nil".to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            Just("007".to_string()),
            Just("1.5".to_string()),
            Just(":kw".to_string()),
            Just("\"s\"".to_string()),
            Just("\"e\\\"sc\"".to_string()),
            Just("true".to_string()),
            Just("#{1}".to_string()),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            atom(),
            (atom(), atom()).prop_map(|(a, b)| format!("[{a} {b}]")),
            (atom(), atom(), atom()).prop_map(|(a, b, c)| format!("[{a}, [{b} {c}]]")),
            (atom(), atom()).prop_map(|(a, b)| format!("([:r {a} [{b}]])")),
        ]
    }

    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            prop_oneof![Just(":invoke"), Just(":ok"), Just(":info"), Just(":done"), Just("\"ok\"")]
                .prop_map(|t| format!(":type {t}")),
            prop_oneof![Just(":read"), Just("\"cas\""), Just("12")].prop_map(|f| format!(":f {f}")),
            value().prop_map(|v| format!(":value {v}")),
            prop_oneof![Just("3"), Just(":nemesis"), Just("-1"), Just("nil")].prop_map(|p| format!(":process {p}")),
            (0u64..1000).prop_map(|t| format!(":time {t}")),
            (0u64..1000).prop_map(|t| format!(":index {t}")),
            prop_oneof![Just("\"n1\""), Just(":n2"), Just("nil")].prop_map(|n| format!(":node {n}")),
            prop_oneof![Just(":timeout"), Just("\"boom\""), Just("[:a \"b\"]")].prop_map(|e| format!(":error {e}")),
            Just(":extra 1".to_string()),
            Just("; comment\n".to_string()),
        ]
    }

    fn op_text() -> impl Strategy<Value = String> {
        let fields = prop::collection::vec(field(), 0..8);
        (fields, any::<bool>()).prop_map(|(mut fields, ok)| {
            if ok {
                fields.insert(0, ":type :ok, :f :read".into());
            }
            format!("{{{}}}", fields.join(", "))
        })
    }

    proptest! {
        #[test]
        fn fast_and_general_paths_agree(ops in prop::collection::vec(op_text(), 0..6), vector in any::<bool>()) {
            let body = ops.join("\n");
            agree(&if vector { format!("[{body}]") } else { body });
        }
    }
}
