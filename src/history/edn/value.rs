//! `Edn`: an EDN value as read from a Jepsen history, its conversion to JSON, and EDN text
//! output (Clojure's printed form) for values, strings and keywords.

use std::fmt::{self, Write};

use serde_json::{Map, Number, Value};

/// An EDN value. Ints are `i128` so that every `i64` and `u64` fits.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Edn {
    Nil,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Char(char),
    /// Without the leading colon, namespace kept: `jepsen.client/timeout`.
    Keyword(String),
    Symbol(String),
    List(Vec<Edn>),
    Vector(Vec<Edn>),
    Set(Vec<Edn>),
    /// Entries in file order.
    Map(Vec<(Edn, Edn)>),
    /// `#tag value`; the tag without `#`.
    Tagged(String, Box<Edn>),
}

/// Writes `s` as an EDN string literal.
pub(super) fn write_str_literal(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// EDN text, as Clojure would print it.
impl fmt::Display for Edn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, open: &str, items: &[Edn], close: &str| {
            f.write_str(open)?;
            for (i, item) in items.iter().enumerate() {
                write!(f, "{}{item}", if i == 0 { "" } else { " " })?;
            }
            f.write_str(close)
        };
        match self {
            Edn::Nil => f.write_str("nil"),
            Edn::Bool(b) => write!(f, "{b}"),
            Edn::Int(i) => write!(f, "{i}"),
            Edn::Float(x) if x.is_nan() => f.write_str("##NaN"),
            Edn::Float(x) if x.is_infinite() => f.write_str(if *x > 0.0 { "##Inf" } else { "##-Inf" }),
            Edn::Float(x) => write!(f, "{x:?}"),
            Edn::Str(s) => {
                let mut out = String::new();
                write_str_literal(&mut out, s);
                f.write_str(&out)
            }
            Edn::Char(c) => write!(f, "\\{c}"),
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::Symbol(s) => f.write_str(s),
            Edn::List(items) => join(f, "(", items, ")"),
            Edn::Vector(items) => join(f, "[", items, "]"),
            Edn::Set(items) => join(f, "#{", items, "}"),
            Edn::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    write!(f, "{}{k} {v}", if i == 0 { "" } else { ", " })?;
                }
                f.write_str("}")
            }
            Edn::Tagged(tag, v) => write!(f, "#{tag} {v}"),
        }
    }
}

impl Edn {
    /// The JSON form brawl keeps in `Op::value`: keywords and symbols become strings without the
    /// colon, vectors, lists and sets become arrays, map keys are stringified, tags are dropped
    /// (`#inst "..."` is its string), and non-finite floats become null.
    pub(super) fn into_json(self) -> Value {
        match self {
            Edn::Nil => Value::Null,
            Edn::Bool(b) => Value::Bool(b),
            Edn::Int(i) => int_to_json(i),
            Edn::Float(x) => Number::from_f64(x).map_or(Value::Null, Value::Number),
            Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => Value::String(s),
            Edn::Char(c) => Value::String(c.to_string()),
            Edn::List(items) | Edn::Vector(items) | Edn::Set(items) => {
                Value::Array(items.into_iter().map(Edn::into_json).collect())
            }
            Edn::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    map.insert(k.into_key(), v.into_json());
                }
                Value::Object(map)
            }
            Edn::Tagged(_, v) => v.into_json(),
        }
    }

    /// A JSON object key: strings, keywords and symbols by name, anything else as EDN text.
    fn into_key(self) -> String {
        match self {
            Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => s,
            other => other.to_string(),
        }
    }

    /// A readable `Op::error`: a string as is, a keyword as `:name`, a vector such as
    /// `[:no-client "msg"]` as its items joined by spaces (`:no-client msg`), else EDN text.
    pub(super) fn into_error_text(self) -> String {
        match self {
            Edn::Str(s) => s,
            Edn::List(items) | Edn::Vector(items) => {
                let parts: Vec<String> = items
                    .into_iter()
                    .map(|item| match item {
                        Edn::Str(s) => s,
                        other => other.to_string(),
                    })
                    .collect();
                parts.join(" ")
            }
            other => other.to_string(),
        }
    }
}

fn int_to_json(i: i128) -> Value {
    if let Ok(i) = i64::try_from(i) {
        Value::from(i)
    } else if let Ok(u) = u64::try_from(i) {
        Value::from(u)
    } else {
        Number::from_f64(i as f64).map_or(Value::Null, Value::Number)
    }
}

/// True when `s` can be written as the keyword `:s` and read back as `s`.
pub(super) fn is_keyword_name(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    let body_ok = s.chars().all(|c| c.is_alphanumeric() || "-_?!*+.<>=/'".contains(c));
    let starts_ok =
        first.is_alphabetic() || ("-_?!*+.<>=".contains(first) && !s[1..].starts_with(|c: char| c.is_ascii_digit()));
    let slash_ok = match s.split_once('/') {
        None => true,
        Some((ns, name)) => !ns.is_empty() && !name.is_empty() && !name.contains('/'),
    };
    body_ok && starts_ok && slash_ok
}

/// Writes a JSON value as EDN: null as nil, arrays as vectors, objects as maps whose keys are
/// keywords when they can be (`{"a": 1}` as `{:a 1}`), else strings.
pub(super) fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_str_literal(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_name(out, k);
                out.push(' ');
                write_json(out, v);
            }
            out.push('}');
        }
    }
}

/// Writes `s` as the keyword `:s` when it round-trips, else as a string.
pub(super) fn write_name(out: &mut String, s: &str) {
    if is_keyword_name(s) {
        out.push(':');
        out.push_str(s);
    } else {
        write_str_literal(out, s);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keyword_names() {
        for ok in ["read", "start-partition", "jepsen.client/timeout", "a?", "-x", "n1"] {
            assert!(is_keyword_name(ok), "{ok}");
        }
        for bad in ["", "1x", "-1", "a b", "a:b", "/x", "x/", "a/b/c", "é\"", "{"] {
            assert!(!is_keyword_name(bad), "{bad}");
        }
    }

    #[test]
    fn prints_as_clojure_would() {
        let v = Edn::Vector(vec![
            Edn::Keyword("no-client".into()),
            Edn::Str("a \"b\"".into()),
            Edn::Set(vec![Edn::Int(1)]),
            Edn::Map(vec![(Edn::Keyword("k".into()), Edn::Float(1.0))]),
            Edn::Char('c'),
            Edn::Tagged("inst".into(), Box::new(Edn::Str("2024".into()))),
        ]);
        assert_eq!(v.to_string(), r#"[:no-client "a \"b\"" #{1} {:k 1.0} \c #inst "2024"]"#);
        assert_eq!(v.into_error_text(), r#":no-client a "b" #{1} {:k 1.0} \c #inst "2024""#);
    }

    #[test]
    fn writes_json_as_edn() {
        let mut out = String::new();
        write_json(&mut out, &json!([null, 1, -2.5, 1e20, "x\ny", {"k": [true], "two words": 1}]));
        assert_eq!(out, r#"[nil 1 -2.5 1e+20 "x\ny" {:k [true], "two words" 1}]"#);
    }
}
