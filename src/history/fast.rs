//! A fast path for reading JSON Lines ops into a `CompactHistory`: a hand-rolled parser for the
//! lines brawl itself writes (`{"index":..,"time":..,"type":..,"process":..,"f":..,"value":..}`
//! with optional `node` and `error`, fields in any order, strings without escapes, values null,
//! integers, `[a, b]` or `[a, [b, c]]`), borrowing strings from the input. It gives up
//! (`None`) on anything else, and the caller then parses the line with serde as an `Op`, so
//! every line means the same and every error reads the same as on the general path.

use std::borrow::Cow;

use serde_json::Value;

use super::compact::{split_value, CompactOp, RawAtom, RawOp, RawValue};
use super::{Op, OpType, Process};
use crate::checker::fx::FxHashMap;

/// The ops of one piece of a file, with their own string and value tables.
#[derive(Debug, Default)]
pub(crate) struct Piece<'a> {
    pub ops: Vec<CompactOp>,
    pub strings: Vec<Cow<'a, str>>,
    ids: FxHashMap<Cow<'a, str>, u32>,
    pub values: Vec<Value>,
}

impl<'a> Piece<'a> {
    /// Interns `s` in this piece's string table.
    pub(crate) fn string(&mut self, s: Cow<'a, str>) -> u32 {
        if let Some(&id) = self.ids.get(s.as_ref()) {
            return id;
        }
        let id = u32::try_from(self.strings.len()).expect("fewer than 2^32 distinct strings in a history");
        self.strings.push(s.clone());
        self.ids.insert(s, id);
        id
    }

    /// Parses one line with the fast path; `false` when the line needs the general parser.
    pub fn push_line(&mut self, line: &'a [u8]) -> bool {
        match parse(line, self) {
            Some(raw) => {
                self.ops.push(CompactOp::new(raw));
                true
            }
            None => false,
        }
    }

    /// Adds an op parsed by the general parser.
    pub fn push_op(&mut self, op: Op) {
        let values = &mut self.values;
        let value = split_value(&op.value, &mut |v| {
            values.push(v.clone());
            u32::try_from(values.len() - 1).expect("fewer than 2^32 large values in a history")
        });
        let raw = RawOp {
            index: op.index,
            time: op.time,
            kind: op.kind,
            process: op.process,
            f: self.string(Cow::Owned(op.f)),
            value,
            node: op.node.map(|s| self.string(Cow::Owned(s))),
            error: op.error.map(|s| self.string(Cow::Owned(s))),
        };
        self.ops.push(CompactOp::new(raw));
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let rest = &self.b[self.i..];
        let len = rest.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        self.i += len + 1;
        std::str::from_utf8(&rest[..len]).ok()
    }

    /// Digits of a JSON integer (no leading zero, no fraction or exponent).
    fn digits(&mut self) -> Option<u64> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
            n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0 || (len > 1 && self.b[start] == b'0') || matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(n)
    }

    fn u64(&mut self) -> Option<u64> {
        self.peek()?;
        self.digits()
    }

    fn null(&mut self) -> Option<()> {
        self.peek()?;
        self.b[self.i..].starts_with(b"null").then(|| self.i += 4)
    }

    fn atom(&mut self) -> Option<RawAtom> {
        match self.peek()? {
            b'n' => self.null().map(|()| RawAtom::Null),
            b'-' => {
                self.i += 1;
                // `-0` is a float to serde_json; leave it to the general path.
                let n = self.digits().filter(|&n| n != 0)?;
                0i64.checked_sub_unsigned(n).map(RawAtom::Int)
            }
            b'0'..=b'9' => i64::try_from(self.digits()?).ok().map(RawAtom::Int),
            _ => None,
        }
    }

    fn value(&mut self) -> Option<RawValue> {
        if self.peek()? != b'[' {
            return self.atom().map(RawValue::One);
        }
        self.i += 1;
        let a = self.atom()?;
        self.eat(b',')?;
        if self.peek()? == b'[' {
            self.i += 1;
            let b = self.atom()?;
            self.eat(b',')?;
            let c = self.atom()?;
            self.eat(b']')?;
            self.eat(b']')?;
            return Some(RawValue::Nested(a, b, c));
        }
        let b = self.atom()?;
        self.eat(b']')?;
        Some(RawValue::Pair(a, b))
    }

    /// `null` (then `None`) or a string.
    fn optional_string(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            return self.null().map(|()| None);
        }
        self.string().map(Some)
    }
}

/// Parses a line of the common shape; `None` for anything else, valid or not.
fn parse<'a>(line: &'a [u8], piece: &mut Piece<'a>) -> Option<RawOp> {
    let mut c = Cursor { b: line, i: 0 };
    c.eat(b'{')?;
    let mut seen = 0u8;
    let mut op = RawOp {
        index: 0,
        time: 0,
        kind: OpType::Invoke,
        process: Process::Nemesis,
        f: 0,
        value: RawValue::One(RawAtom::Null),
        node: None,
        error: None,
    };
    loop {
        let key = c.string()?;
        c.eat(b':')?;
        let bit = match key {
            "index" => 0,
            "time" => 1,
            "type" => 2,
            "process" => 3,
            "f" => 4,
            "value" => 5,
            "node" => 6,
            "error" => 7,
            _ => return None,
        };
        if seen & (1 << bit) != 0 {
            return None;
        }
        seen |= 1 << bit;
        match bit {
            0 => op.index = c.u64()?,
            1 => op.time = c.u64()?,
            2 => {
                op.kind = match c.string()? {
                    "invoke" => OpType::Invoke,
                    "ok" => OpType::Ok,
                    "fail" => OpType::Fail,
                    "info" => OpType::Info,
                    _ => return None,
                }
            }
            3 if c.peek()? == b'"' => {
                (c.string()? == "nemesis").then_some(())?;
                op.process = Process::Nemesis;
            }
            3 => op.process = Process::Client(c.u64()?),
            4 => op.f = piece.string(Cow::Borrowed(c.string()?)),
            5 => op.value = c.value()?,
            6 => op.node = c.optional_string()?.map(|s| piece.string(Cow::Borrowed(s))),
            _ => op.error = c.optional_string()?.map(|s| piece.string(Cow::Borrowed(s))),
        }
        match c.peek()? {
            b',' => c.i += 1,
            b'}' => {
                c.i += 1;
                break;
            }
            _ => return None,
        }
    }
    // Nothing after the object, and every required field present.
    (c.peek().is_none() && seen & 0b1_1111 == 0b1_1111).then_some(op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::compact::CompactHistory;
    use crate::history::Ops;

    /// The fast path's op, or `None`; when it parses a line, serde must agree.
    fn fast(line: &str) -> Option<Op> {
        let mut piece = Piece::default();
        if !piece.push_line(line.as_bytes()) {
            return None;
        }
        let mut h = CompactHistory { ops: piece.ops, values: piece.values, ..CompactHistory::default() };
        for s in &piece.strings {
            h.strings.id(s);
        }
        let op = h.op(0);
        let serde: Op = serde_json::from_str(line).expect("the fast path only takes valid lines");
        assert_eq!(op, serde, "{line}");
        Some(op)
    }

    #[test]
    fn takes_the_common_shapes() {
        for line in [
            r#"{"index":0,"time":9,"type":"invoke","process":88,"f":"read","value":[8,null]}"#,
            r#"{"index":1,"time":12,"type":"ok","process":17,"f":"cas","value":[1,[852917,-3]]}"#,
            r#" { "time" : 2 , "index":1,"type":"info","process":"nemesis","f":"kill","value":null,"node":"n1","error":"x"} "#,
            r#"{"index":3,"time":4,"type":"fail","process":0,"f":"write","value":[-9223372036854775808,7],"node":null}"#,
            r#"{"index":3,"time":4,"type":"fail","process":0,"f":"write"}"#,
        ] {
            assert!(fast(line).is_some(), "{line}");
        }
    }

    #[test]
    fn leaves_everything_else_to_serde() {
        for line in [
            r#"{"index":0,"time":9,"type":"invoke","process":88,"f":"read","value":[8,"a"]}"#,
            r#"{"index":0,"time":9,"type":"invoke","process":88,"f":"re\"ad","value":1}"#,
            r#"{"index":0,"time":9,"type":"invoke","process":88,"f":"read","value":1.5}"#,
            r#"{"index":0,"time":9,"type":"invoke","process":88,"f":"read","value":-0}"#,
            r#"{"index":0,"time":9,"type":"invoke","process":88,"f":"read","value":01}"#,
            r#"{"index":0,"time":9,"type":"invoke","process":88,"f":"read","value":[1,2,3]}"#,
            r#"{"index":0,"time":9,"type":"invoke","process":88,"f":"read","value":9223372036854775808}"#,
            r#"{"index":0,"time":9,"type":"invoke","process":-1,"f":"read"}"#,
            r#"{"index":0,"time":9,"type":"maybe","process":1,"f":"read"}"#,
            r#"{"index":0,"time":9,"type":"ok","process":1,"f":"read","f":"write"}"#,
            r#"{"index":0,"time":9,"type":"ok","process":1,"f":"read","extra":1}"#,
            r#"{"index":0,"time":9,"type":"ok","process":1}"#,
            r#"{"index":0,"time":9,"type":"ok","process":1,"f":"read"} x"#,
            r#"{"index":0,"time":9,"type":"ok","process":1,"f":"read""#,
            r#"{"index":0,"time":9,"type":"ok","process":"nemesi","f":"read"}"#,
            r#"{"index":0,"time":9,"type":"ok","process":1,"f":"read","value":nul}"#,
        ] {
            assert_eq!(fast(line), None, "{line}");
        }
    }
}
