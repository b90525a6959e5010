//! A small recursive-descent EDN reader, enough for Jepsen's `history.edn`: nil, booleans,
//! numbers (ints, `N` big ints, floats, `M` decimals, ratios, `##Inf`), strings with escapes,
//! chars, keywords, symbols, lists, vectors, maps, sets, tagged literals (`#inst "..."`, records
//! like `#jepsen.history.Op{...}`), `;` comments, `#_` discards, and commas as whitespace.
//! Errors carry a byte offset; `line_col` turns it into a line and column.

use super::value::Edn;

/// Deepest nesting accepted, so that hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 256;

/// A syntax error at byte `offset`.
#[derive(Debug)]
pub(super) struct SyntaxError {
    pub offset: usize,
    pub msg: String,
}

/// Reads EDN values one after another from a string.
pub(super) struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

type Result<T> = std::result::Result<T, SyntaxError>;

impl<'a> Parser<'a> {
    pub fn new(src: &'a str) -> Self {
        Parser { src, pos: 0, depth: 0 }
    }

    /// A parser that starts reading at byte `pos` of `src` (a char boundary).
    pub fn at(src: &'a str, pos: usize) -> Self {
        Parser { src, pos, depth: 0 }
    }

    /// Byte offset of the next unread character.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The next byte after whitespace, commas, comments and `#_` discards, or `None` at the end.
    pub fn peek(&mut self) -> Result<Option<u8>> {
        self.skip_ws()?;
        Ok(self.byte())
    }

    /// Consumes `b`, which the caller has just peeked.
    pub fn bump(&mut self) {
        self.pos += 1;
    }

    /// Reads the next value.
    pub fn value(&mut self) -> Result<Edn> {
        self.skip_ws()?;
        let start = self.pos;
        let Some(b) = self.byte() else { return Err(self.err(start, "unexpected end of input")) };
        if self.depth >= MAX_DEPTH {
            return Err(self.err(start, "nested too deeply"));
        }
        self.depth += 1;
        let v = match b {
            b'(' => self.seq(b')').map(Edn::List),
            b'[' => self.seq(b']').map(Edn::Vector),
            b'{' => self.map(),
            b'"' => self.string().map(Edn::Str),
            b'\\' => self.char(),
            b'#' => self.dispatch(),
            b')' | b']' | b'}' => Err(self.err(start, &format!("unexpected `{}`", b as char))),
            _ => self.atom(),
        };
        self.depth -= 1;
        v
    }

    fn byte(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn err(&self, offset: usize, msg: &str) -> SyntaxError {
        SyntaxError { offset, msg: msg.to_string() }
    }

    fn skip_ws(&mut self) -> Result<()> {
        let bytes = self.src.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | b',' | 0x0c => self.pos += 1,
                b';' => {
                    self.pos = bytes[self.pos..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| self.pos + n);
                }
                b'#' if bytes.get(self.pos + 1) == Some(&b'_') => {
                    self.pos += 2;
                    self.value()?;
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Elements up to `close`; the opening delimiter is at `pos`.
    fn seq(&mut self, close: u8) -> Result<Vec<Edn>> {
        let open = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            match self.peek()? {
                None => return Err(self.err(open, &format!("unclosed `{}`", self.src.as_bytes()[open] as char))),
                Some(b) if b == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(b @ (b')' | b']' | b'}')) => {
                    let msg = format!("mismatched `{}`: expected `{}`", b as char, close as char);
                    return Err(self.err(self.pos, &msg));
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }

    fn map(&mut self) -> Result<Edn> {
        let open = self.pos;
        let items = self.seq(b'}')?;
        if items.len() % 2 != 0 {
            return Err(self.err(open, "map with an odd number of forms (a key without a value)"));
        }
        let mut entries = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            entries.push((k, v));
        }
        Ok(Edn::Map(entries))
    }

    fn string(&mut self) -> Result<String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.pos..];
            let Some(n) = rest.find(['"', '\\']) else { return Err(self.err(open, "unclosed string")) };
            out.push_str(&rest[..n]);
            self.pos += n;
            if rest.as_bytes()[n] == b'"' {
                self.pos += 1;
                return Ok(out);
            }
            let esc = self.pos;
            self.pos += 1;
            let Some(c) = self.byte() else { return Err(self.err(open, "unclosed string")) };
            self.pos += 1;
            out.push(match c {
                b'n' => '\n',
                b't' => '\t',
                b'r' => '\r',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'"' => '"',
                b'\\' => '\\',
                b'\'' => '\'',
                b'u' => self.unicode_escape(esc)?,
                _ => return Err(self.err(esc, "unknown escape in string")),
            });
        }
    }

    /// The `XXXX` of `\uXXXX` (at `pos`), joining a UTF-16 surrogate pair.
    fn unicode_escape(&mut self, esc: usize) -> Result<char> {
        let hex4 = |p: &mut Self| -> Result<u32> {
            let digits = p.src.get(p.pos..p.pos + 4).ok_or_else(|| p.err(esc, "short \\u escape"))?;
            let v = u32::from_str_radix(digits, 16).map_err(|_| p.err(esc, "bad \\u escape"))?;
            p.pos += 4;
            Ok(v)
        };
        let hi = hex4(self)?;
        let code = if (0xD800..0xDC00).contains(&hi) && self.src[self.pos..].starts_with("\\u") {
            self.pos += 2;
            let lo = hex4(self)?;
            0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.err(esc, "\\u escape is not a character"))
    }

    /// `\a`, `\newline`, `\u0041`; `pos` is at the backslash.
    fn char(&mut self) -> Result<Edn> {
        let start = self.pos;
        self.pos += 1;
        let Some(first) = self.src[self.pos..].chars().next() else {
            return Err(self.err(start, "unexpected end of input after `\\`"));
        };
        self.pos += first.len_utf8();
        let name = &self.src[start + 1..self.token_end()];
        self.pos = start + 1 + name.len();
        let c = match name {
            _ if name.len() == first.len_utf8() => first,
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "return" => '\r',
            "backspace" => '\u{8}',
            "formfeed" => '\u{c}',
            _ if name.starts_with('u') && name.len() == 5 => u32::from_str_radix(&name[1..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| self.err(start, &format!("bad character `\\{name}`")))?,
            _ => return Err(self.err(start, &format!("unknown character name `\\{name}`"))),
        };
        Ok(Edn::Char(c))
    }

    /// `#{...}`, `##Inf`, `#"regex"` and `#tag value`; `pos` is at the `#`.
    fn dispatch(&mut self) -> Result<Edn> {
        let start = self.pos;
        match self.src.as_bytes().get(start + 1) {
            Some(b'{') => {
                self.pos += 1;
                self.seq(b'}').map(Edn::Set)
            }
            Some(b'#') => {
                self.pos += 2;
                let end = self.token_end();
                let name = &self.src[self.pos..end];
                self.pos = end;
                match name {
                    "Inf" => Ok(Edn::Float(f64::INFINITY)),
                    "-Inf" => Ok(Edn::Float(f64::NEG_INFINITY)),
                    "NaN" => Ok(Edn::Float(f64::NAN)),
                    _ => Err(self.err(start, &format!("unknown symbolic value `##{name}`"))),
                }
            }
            Some(b'"') => {
                self.pos += 1;
                self.string().map(Edn::Str)
            }
            Some(b) if b.is_ascii_alphabetic() => {
                self.pos += 1;
                let end = self.token_end();
                let tag = self.src[self.pos..end].to_string();
                self.pos = end;
                Ok(Edn::Tagged(tag, Box::new(self.value()?)))
            }
            _ => Err(self.err(start, "unreadable `#` form")),
        }
    }

    /// Where the token starting at `pos` ends: at whitespace, a comma or a delimiter.
    fn token_end(&self) -> usize {
        let bytes = self.src.as_bytes();
        let is_end = |b: u8| b.is_ascii_whitespace() || b",()[]{}\";".contains(&b);
        bytes[self.pos..].iter().position(|&b| is_end(b)).map_or(bytes.len(), |n| self.pos + n)
    }

    /// nil, true, false, a number, a keyword or a symbol.
    fn atom(&mut self) -> Result<Edn> {
        let start = self.pos;
        let end = self.token_end();
        let token = &self.src[start..end];
        self.pos = end;
        let b = token.as_bytes();
        if b.is_empty() {
            return Err(self.err(start, "unexpected character"));
        }
        let numeric = b[0].is_ascii_digit() || (b.len() > 1 && b"+-".contains(&b[0]) && b[1].is_ascii_digit());
        Ok(match token {
            "nil" => Edn::Nil,
            "true" => Edn::Bool(true),
            "false" => Edn::Bool(false),
            _ if numeric => number(token).ok_or_else(|| self.err(start, &format!("bad number `{token}`")))?,
            _ if token.starts_with(':') => {
                let name = token.trim_start_matches(':');
                if name.is_empty() || name.starts_with('/') || name.ends_with('/') {
                    return Err(self.err(start, &format!("bad keyword `{token}`")));
                }
                Edn::Keyword(name.to_string())
            }
            _ => Edn::Symbol(token.to_string()),
        })
    }
}

fn number(token: &str) -> Option<Edn> {
    let t = token.strip_prefix('+').unwrap_or(token);
    if let Some(int) = t.strip_suffix('N') {
        return int.parse().ok().map(Edn::Int);
    }
    if let Some(dec) = t.strip_suffix('M') {
        return dec.parse().ok().map(Edn::Float);
    }
    if let Some((n, d)) = t.split_once('/') {
        let (n, d): (f64, f64) = (n.parse::<i128>().ok()? as f64, d.parse::<i128>().ok()? as f64);
        return Some(Edn::Float(n / d));
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i128::from_str_radix(hex, 16).ok().map(Edn::Int);
    }
    if let Some(hex) = t.strip_prefix("-0x").or_else(|| t.strip_prefix("-0X")) {
        return i128::from_str_radix(hex, 16).ok().map(|i| Edn::Int(-i));
    }
    if t.contains(['.', 'e', 'E']) {
        return t.parse().ok().map(Edn::Float);
    }
    t.parse().ok().map(Edn::Int)
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub(super) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src.as_bytes()[..offset.min(src.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |n| n + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    (line, String::from_utf8_lossy(&before[line_start..]).chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Edn {
        Parser::new(s).value().unwrap()
    }

    #[test]
    fn atoms() {
        assert_eq!(one("nil"), Edn::Nil);
        assert_eq!(one("-12"), Edn::Int(-12));
        assert_eq!(one("+3"), Edn::Int(3));
        assert_eq!(one("-"), Edn::Symbol("-".into()));
        assert_eq!(one("-x"), Edn::Symbol("-x".into()));
        assert_eq!(one("1e3"), Edn::Float(1000.0));
        assert_eq!(one("::auto"), Edn::Keyword("auto".into()));
        assert_eq!(one("\\space"), Edn::Char(' '));
        assert_eq!(one("\\u00e9"), Edn::Char('é'));
        assert_eq!(one("\\("), Edn::Char('('));
        assert_eq!(one(r#""\ud83d\ude00 \\ \"""#), Edn::Str("😀 \\ \"".into()));
        assert_eq!(one("é"), Edn::Symbol("é".into()));
    }

    #[test]
    fn whitespace_comments_and_discards_between_forms() {
        let mut p = Parser::new(" ; comment\n ,, #_ [1 2] #_#_ 3 4 5 ; end");
        assert_eq!(p.value().unwrap(), Edn::Int(5));
        assert_eq!(p.peek().unwrap(), None);
    }

    #[test]
    fn errors_point_at_the_offending_form() {
        let err = |s: &str| Parser::new(s).value().map(|_| ()).unwrap_err();
        let e = err("[1 #<Object>]");
        assert_eq!((e.offset, e.msg.as_str()), (3, "unreadable `#` form"));
        let e = err(":");
        assert_eq!((e.offset, e.msg.as_str()), (0, "bad keyword `:`"));
        let e = err("\"\\q\"");
        assert_eq!((e.offset, e.msg.as_str()), (1, "unknown escape in string"));
        assert_eq!(err("##Foo").msg, "unknown symbolic value `##Foo`");
    }

    #[test]
    fn line_and_column_count_characters() {
        let src = "ab\néé x";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 3), (2, 1));
        assert_eq!(line_col(src, src.len() - 1), (2, 4));
    }
}
