//! Reading elle-cli's JSON histories: one JSON array of op objects
//! (`[{"type":"ok","f":"txn","value":[["append","x",1]],"process":0,"index":3}, ...]`, over as
//! many lines as it likes), or JSON lines of such objects without brawl's header. The fields are
//! `Op`'s; `type` and `f` may carry Clojure's colon (`":ok"`); `index`, `time` and `process` may
//! be missing (then as in Jepsen EDN: the position, the position, and a process of its own).

use std::path::Path;

use serde_json::Value;

use super::edn::{fill_missing, OpFields};
use super::{Header, History, HistoryError, Op, OpType, Process};

/// Parses an elle-cli JSON history held in memory; errors name `path`.
pub(crate) fn parse_elle_json_at(bytes: &[u8], path: &Path) -> Result<History, HistoryError> {
    let start = bytes.len() - bytes.trim_ascii_start().len();
    let mut ops = Vec::new();
    let mut missing = Vec::new();
    let bad_op = |offset: usize, msg: String| HistoryError::BadOp {
        path: path.to_path_buf(),
        line: line_of(bytes, offset),
        msg,
    };
    let mut push = |v: Value, offset: usize, ops: &mut Vec<Op>| -> Result<(), HistoryError> {
        let (op, lacks) = op_from_json(v).map_err(|msg| bad_op(offset, msg))?;
        if lacks != 0 {
            missing.push((ops.len(), lacks));
        }
        ops.push(op);
        Ok(())
    };
    if bytes.get(start) == Some(&b'[') {
        // One array of ops: read element by element, to know where each one is.
        let mut pos = start + 1;
        loop {
            pos = skip_ws(bytes, pos);
            match bytes.get(pos) {
                Some(b']') if ops.is_empty() || bytes[..pos].trim_ascii_end().last() != Some(&b',') => {
                    pos = skip_ws(bytes, pos + 1);
                    if pos < bytes.len() {
                        return Err(json_error(
                            bytes,
                            path,
                            pos,
                            "expected the end of the file after the array of ops",
                        ));
                    }
                    break;
                }
                None => return Err(json_error(bytes, path, start, "unclosed `[`")),
                _ => {}
            }
            let mut stream = serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<Value>();
            match stream.next() {
                Some(Ok(v)) => push(v, pos, &mut ops)?,
                Some(Err(e)) => return Err(serde_error(bytes, path, pos, &e)),
                None => return Err(json_error(bytes, path, pos, "expected an op object")),
            }
            let at = pos;
            pos = skip_ws(bytes, pos + stream.byte_offset());
            match bytes.get(pos) {
                Some(b',') => pos += 1,
                Some(b']') => {}
                _ => return Err(json_error(bytes, path, pos.max(at), "expected `,` or `]` after an op")),
            }
        }
    } else {
        // JSON lines.
        let mut offset = 0;
        for line in bytes.split(|&b| b == b'\n') {
            if !line.trim_ascii().is_empty() {
                match serde_json::from_slice::<Value>(line) {
                    Ok(v) => push(v, offset, &mut ops)?,
                    Err(e) => return Err(serde_error(bytes, path, offset, &e)),
                }
            }
            offset += line.len() + 1;
        }
    }
    fill_missing(&mut ops, &missing);
    Ok(History::new(Header::default(), ops))
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while b.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

/// 1-based line of byte `offset`.
fn line_of(b: &[u8], offset: usize) -> usize {
    b[..offset.min(b.len())].iter().filter(|&&x| x == b'\n').count() + 1
}

fn json_error(b: &[u8], path: &Path, offset: usize, msg: &str) -> HistoryError {
    let offset = offset.min(b.len());
    let line_start = b[..offset].iter().rposition(|&x| x == b'\n').map_or(0, |n| n + 1);
    HistoryError::Json {
        path: path.to_path_buf(),
        line: line_of(b, offset),
        column: offset - line_start + 1,
        msg: msg.into(),
    }
}

/// A serde_json error in the text that starts at byte `base`, placed in the whole file.
fn serde_error(b: &[u8], path: &Path, base: usize, e: &serde_json::Error) -> HistoryError {
    let base_line = line_of(b, base);
    let base_col = base - b[..base].iter().rposition(|&x| x == b'\n').map_or(0, |n| n + 1) + 1;
    let (line, column) = if e.line() <= 1 {
        (base_line, base_col + e.column().saturating_sub(1))
    } else {
        (base_line + e.line() - 1, e.column())
    };
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    HistoryError::Json { path: path.to_path_buf(), line, column, msg }
}

/// One op object as an `Op`, with the `NO_*` flags of the fields it lacks.
fn op_from_json(v: Value) -> Result<(Op, u8), String> {
    let Value::Object(map) = v else { return Err(format!("expected an op object, got `{}`", abbreviate(&v))) };
    let (mut kind, mut process, mut f, mut value) = (None, None, None, Value::Null);
    let (mut index, mut time, mut node, mut error) = (None, None, None, None);
    for (k, v) in map {
        match k.trim_start_matches(':') {
            "type" => {
                kind = Some(match v.as_str().map(|s| s.trim_start_matches(':')) {
                    Some("invoke") => OpType::Invoke,
                    Some("ok") => OpType::Ok,
                    Some("fail") => OpType::Fail,
                    Some("info") => OpType::Info,
                    _ => {
                        return Err(format!(
                            "\"type\" must be \"invoke\", \"ok\", \"fail\" or \"info\", got `{}`",
                            abbreviate(&v)
                        ))
                    }
                })
            }
            "process" => {
                process = match &v {
                    Value::Null => None,
                    Value::String(s) if s.trim_start_matches(':') == "nemesis" => Some(Process::Nemesis),
                    _ => Some(Process::Client(natural(&v, "process")?)),
                }
            }
            "f" => match v {
                Value::String(s) => f = Some(s.trim_start_matches(':').to_string()),
                other => return Err(format!("\"f\" must be a string, got `{}`", abbreviate(&other))),
            },
            "value" => value = v,
            "index" => index = Some(natural(&v, "index")?),
            "time" => time = Some(natural(&v, "time")?),
            "node" => node = v.as_str().map(str::to_string),
            "error" => {
                error = match v {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                }
            }
            _ => {}
        }
    }
    let fields = OpFields { index, time, process, node, error };
    fields.into_op(kind.ok_or("missing \"type\"")?, f.ok_or("missing \"f\"")?, value)
}

fn natural(v: &Value, key: &str) -> Result<u64, String> {
    v.as_u64().ok_or_else(|| format!("\"{key}\" must be a non-negative integer, got `{}`", abbreviate(v)))
}

fn abbreviate(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(s: &str) -> Result<History, String> {
        parse_elle_json_at(s.as_bytes(), Path::new("h.json")).map_err(|e| e.to_string())
    }

    #[test]
    fn an_array_over_many_lines_and_json_lines_read_alike() {
        let array = r#"[
  {"type": "invoke", "f": "txn", "value": [["append", "x", 1], ["r", "y", null]], "process": 0},
  {"type": "ok", "f": "txn", "value": [["append", "x", 1], ["r", "y", [1, 2]]], "process": 0,
   "index": 1, "time": 50},
  {"type": ":info", "f": ":start", "value": null, "process": "nemesis", "error": ["a", 1]},
  {"type": "ok", "f": "txn", "value": [["w", 3, 4]]}
]"#;
        let h = parse(array).unwrap();
        assert_eq!(h.ops.len(), 4);
        assert_eq!((h.ops[0].index, h.ops[0].time, h.ops[0].process), (0, 0, Process::Client(0)));
        assert_eq!(h.ops[1].value, json!([["append", "x", 1], ["r", "y", [1, 2]]]));
        assert_eq!((h.ops[1].index, h.ops[1].time), (1, 50));
        assert_eq!((h.ops[2].kind, h.ops[2].process, h.ops[2].f.as_str()), (OpType::Info, Process::Nemesis, "start"));
        assert_eq!(h.ops[2].error.as_deref(), Some(r#"["a",1]"#));
        assert_eq!((h.ops[3].index, h.ops[3].process), (3, Process::Client(1)), "a process of its own");
        let lines: Vec<String> =
            serde_json::from_str::<Vec<Value>>(array).unwrap().iter().map(|v| v.to_string()).collect();
        assert_eq!(parse(&lines.join("\n")).unwrap().ops, h.ops);
        assert!(parse("[]").unwrap().ops.is_empty());
        assert!(parse(" \n").unwrap().ops.is_empty());
    }

    #[test]
    fn errors_name_file_line_and_column() {
        assert_eq!(
            parse("[\n{\"type\": \"ok\", \"f\": \"txn\"},\n{\"type\": \"ok\" \"f\": 1}]").unwrap_err(),
            "h.json:3:15: bad json: expected `,` or `}`"
        );
        assert_eq!(
            parse("[\n{\"type\": \"ok\", \"f\": \"txn\"}\n{}]").unwrap_err(),
            "h.json:3:1: bad json: expected `,` or `]` after an op"
        );
        assert_eq!(
            parse("[{\"type\": \"ok\", \"f\": \"txn\"},]").unwrap_err(),
            "h.json:1:29: bad json: expected value"
        );
        assert_eq!(
            parse("[\n{\"type\": \"ok\", \"f\": \"txn\"}").unwrap_err(),
            "h.json:2:27: bad json: expected `,` or `]` after an op"
        );
        assert_eq!(
            parse("[\n\n  {\"type\": \"done\", \"f\": \"txn\"}]").unwrap_err(),
            "h.json:3: bad op: \"type\" must be \"invoke\", \"ok\", \"fail\" or \"info\", got `\"done\"`"
        );
        assert_eq!(
            parse("{\"type\": \"ok\", \"f\": \"txn\"}\n{\"f\": \"txn\"}").unwrap_err(),
            "h.json:2: bad op: missing \"type\""
        );
        assert_eq!(
            parse("{\"type\": \"ok\", \"f\": \"txn\"}\n{\"type\": \"ok\", x}").unwrap_err(),
            "h.json:2:16: bad json: key must be a string"
        );
        assert_eq!(parse("[1]").unwrap_err(), "h.json:1: bad op: expected an op object, got `1`");
        assert_eq!(
            parse("[{\"type\": \"ok\", \"f\": \"r\", \"process\": -2}]").unwrap_err(),
            "h.json:1: bad op: \"process\" must be a non-negative integer, got `-2`"
        );
        assert_eq!(parse("[\n").unwrap_err(), "h.json:1:1: bad json: unclosed `[`");
        assert_eq!(
            parse("[] 3").unwrap_err(),
            "h.json:1:4: bad json: expected the end of the file after the array of ops"
        );
    }
}
