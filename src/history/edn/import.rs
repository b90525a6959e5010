//! Reading Jepsen's `history.edn` into brawl ops: one EDN map per line, or one vector of maps.

use std::path::Path;

use super::parser::{line_col, Parser, SyntaxError};
use super::value::Edn;
use crate::history::{Header, History, HistoryError, Op, OpType, Process};

/// Reads a Jepsen `history.edn`.
pub fn read_edn(path: impl AsRef<Path>) -> Result<History, HistoryError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| HistoryError::Io { path: path.to_path_buf(), source })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| utf8_error(path, &bytes, &e))?;
    super::fast::parse_edn_ops(text, path)
}

/// Parses a Jepsen history held in memory; errors name the file `<input>`.
pub fn parse_edn(text: &str) -> Result<History, HistoryError> {
    super::fast::parse_edn_ops(text, Path::new("<input>"))
}

/// [`parse_edn`] through the general reader alone (no fast path): the reference the fast path
/// must agree with, op for op and error for error (the `history_edn` fuzz target checks it).
pub fn parse_edn_general(text: &str) -> Result<History, HistoryError> {
    parse_edn_at(text, Path::new("<input>"))
}

/// The error for a file that is not UTF-8, at the first bad byte.
pub(crate) fn utf8_error(path: &Path, bytes: &[u8], e: &std::str::Utf8Error) -> HistoryError {
    let valid = &bytes[..e.valid_up_to()];
    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
    let column =
        String::from_utf8_lossy(&valid[valid.iter().rposition(|&b| b == b'\n').map_or(0, |n| n + 1)..]).chars().count()
            + 1;
    HistoryError::Edn { path: path.to_path_buf(), line, column, msg: "invalid utf-8".into() }
}

/// The general reader: every op through `Parser` and `op_from_edn` (the reference that the fast
/// path in `fast.rs` must agree with).
pub(crate) fn parse_edn_at(text: &str, path: &Path) -> Result<History, HistoryError> {
    let syntax = |e: SyntaxError| syntax_error(text, path, e);
    let bad_op = |offset: usize, msg: String| HistoryError::BadOp {
        path: path.to_path_buf(),
        line: line_col(text, offset).0,
        msg,
    };
    let mut p = Parser::new(text);
    let mut ops = Vec::new();
    let mut missing = Vec::new();
    let push = |p: &mut Parser, ops: &mut Vec<Op>, missing: &mut Vec<(usize, u8)>| -> Result<(), HistoryError> {
        let start = p.pos();
        let form = p.value().map_err(syntax)?;
        let (op, lacks) = op_from_edn(form).map_err(|msg| bad_op(start, msg))?;
        if lacks != 0 {
            missing.push((ops.len(), lacks));
        }
        ops.push(op);
        Ok(())
    };
    if let Some(open @ (b'[' | b'(')) = p.peek().map_err(syntax)? {
        // The whole history as one vector (or list) of maps.
        let close = if open == b'[' { b']' } else { b')' };
        let at = p.pos();
        p.bump();
        loop {
            match p.peek().map_err(syntax)? {
                Some(b) if b == close => break p.bump(),
                Some(_) => push(&mut p, &mut ops, &mut missing)?,
                None => {
                    let msg = format!("unclosed `{}`", open as char);
                    return Err(syntax(SyntaxError { offset: at, msg }));
                }
            }
        }
        if p.peek().map_err(syntax)?.is_some() {
            let msg = "expected the end of the file after the history vector".into();
            return Err(syntax(SyntaxError { offset: p.pos(), msg }));
        }
    } else {
        while p.peek().map_err(syntax)?.is_some() {
            push(&mut p, &mut ops, &mut missing)?;
        }
    }
    fill_missing(&mut ops, &missing);
    Ok(History::new(Header::default(), ops))
}

pub(super) fn syntax_error(text: &str, path: &Path, e: SyntaxError) -> HistoryError {
    let (line, column) = line_col(text, e.offset);
    HistoryError::Edn { path: path.to_path_buf(), line, column, msg: e.msg }
}

/// `op_from_edn`'s flags for the fields an op map lacks.
pub(crate) const NO_INDEX: u8 = 1;
pub(crate) const NO_TIME: u8 = 2;
pub(crate) const NO_PROCESS: u8 = 4;

/// Gives the ops that lacked fields (`(position, flags)`, in order) their stand-ins: the op's
/// position for a missing `:index` and a missing `:time`, and for a missing `:process` a process
/// of its own, numbered on from the largest client process in the history.
pub(crate) fn fill_missing(ops: &mut [Op], missing: &[(usize, u8)]) {
    let mut next = next_free_process(ops.iter().map(|o| o.process), missing);
    for &(at, lacks) in missing {
        let op = &mut ops[at];
        if lacks & NO_INDEX != 0 {
            op.index = at as u64;
        }
        if lacks & NO_TIME != 0 {
            op.time = at as u64;
        }
        if lacks & NO_PROCESS != 0 {
            op.process = Process::Client(next);
            next += 1;
        }
    }
}

/// One more than the largest client process among `processes` (0 when there is none), not
/// counting the positions that `missing` (sorted) says have no process yet.
pub(super) fn next_free_process(processes: impl Iterator<Item = Process>, missing: &[(usize, u8)]) -> u64 {
    let mut unset = missing.iter().filter(|m| m.1 & NO_PROCESS != 0).map(|m| m.0).peekable();
    let mut next = 0;
    for (at, p) in processes.enumerate() {
        if unset.peek() == Some(&at) {
            unset.next();
            continue;
        }
        if let Process::Client(p) = p {
            next = next.max(p + 1);
        }
    }
    next
}

/// One Jepsen op map as an `Op`, with the `NO_*` flags of the fields it lacks (those are left 0
/// for `fill_missing`). Keys may be keywords or strings (`:type` or `"type"`); other keys are
/// ignored.
pub(super) fn op_from_edn(form: Edn) -> Result<(Op, u8), String> {
    let entries = match form {
        Edn::Map(entries) => entries,
        Edn::Tagged(_, inner) if matches!(*inner, Edn::Map(_)) => return op_from_edn(*inner),
        other => return Err(format!("expected an op map, got `{}`", abbreviate(&other))),
    };
    let (mut kind, mut process, mut f, mut value) = (None, None, None, serde_json::Value::Null);
    let (mut index, mut time, mut error, mut node) = (None, None, None, None);
    for (k, v) in entries {
        let (Edn::Keyword(k) | Edn::Str(k)) = k else { continue };
        match k.as_str() {
            "type" => kind = Some(op_type(v)?),
            "process" => process = op_process(v)?,
            "f" => f = Some(name(v).ok_or("`:f` must be a keyword or a string")?),
            "value" => value = v.into_json(),
            "index" => index = Some(natural(v, ":index")?),
            "time" => time = Some(natural(v, ":time")?),
            "error" => error = (v != Edn::Nil).then(|| v.into_error_text()),
            "node" => node = if let Edn::Str(s) = v { Some(s) } else { None },
            _ => {}
        }
    }
    let fields = OpFields { index, time, process, node, error };
    fields.into_op(kind.ok_or("missing `:type`")?, f.ok_or("missing `:f`")?, value)
}

/// The optional fields of an op as an importer read them (EDN or elle-cli JSON).
pub(crate) struct OpFields {
    pub(crate) index: Option<u64>,
    pub(crate) time: Option<u64>,
    pub(crate) process: Option<Process>,
    pub(crate) node: Option<String>,
    pub(crate) error: Option<String>,
}

impl OpFields {
    /// The op, with the `NO_*` flags of what it lacks (filled in later by `fill_missing`).
    pub(crate) fn into_op(self, kind: OpType, f: String, value: serde_json::Value) -> Result<(Op, u8), String> {
        let lacks = if self.index.is_none() { NO_INDEX } else { 0 }
            | if self.time.is_none() { NO_TIME } else { 0 }
            | if self.process.is_none() { NO_PROCESS } else { 0 };
        let op = Op {
            index: self.index.unwrap_or(0),
            time: self.time.unwrap_or(0),
            kind,
            process: self.process.unwrap_or(Process::Client(0)),
            f,
            value,
            node: self.node,
            error: self.error,
        };
        Ok((op, lacks))
    }
}

fn op_type(v: Edn) -> Result<OpType, String> {
    match &v {
        Edn::Keyword(k) | Edn::Str(k) if k == "invoke" => Ok(OpType::Invoke),
        Edn::Keyword(k) | Edn::Str(k) if k == "ok" => Ok(OpType::Ok),
        Edn::Keyword(k) | Edn::Str(k) if k == "fail" => Ok(OpType::Fail),
        Edn::Keyword(k) | Edn::Str(k) if k == "info" => Ok(OpType::Info),
        _ => Err(format!("`:type` must be :invoke, :ok, :fail or :info, got `{}`", abbreviate(&v))),
    }
}

/// A process number, `:nemesis` (or `"nemesis"`), or `nil` (then `None`: no process given).
fn op_process(v: Edn) -> Result<Option<Process>, String> {
    match v {
        Edn::Nil => Ok(None),
        Edn::Keyword(k) | Edn::Str(k) if k == "nemesis" => Ok(Some(Process::Nemesis)),
        Edn::Int(_) => natural(v, ":process").map(|p| Some(Process::Client(p))),
        other => Err(format!("`:process` must be a number or :nemesis, got `{}`", abbreviate(&other))),
    }
}

fn name(v: Edn) -> Option<String> {
    match v {
        Edn::Keyword(s) | Edn::Str(s) | Edn::Symbol(s) => Some(s),
        _ => None,
    }
}

fn natural(v: Edn, key: &str) -> Result<u64, String> {
    match v {
        Edn::Int(i) => u64::try_from(i).map_err(|_| format!("`{key}` must not be negative, got {i}")),
        other => Err(format!("`{key}` must be an integer, got `{}`", abbreviate(&other))),
    }
}

/// EDN text cut to a length that fits in an error message.
fn abbreviate(v: &Edn) -> String {
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
    use crate::history::{pair, read_history, validate_well_formed};

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories").join(name)
    }

    /// `(index, time, type, process, f, value, error)` of each op.
    type Row = (u64, u64, OpType, Process, String, serde_json::Value, Option<String>);

    fn rows(h: &History) -> Vec<Row> {
        h.ops
            .iter()
            .map(|o| (o.index, o.time, o.kind, o.process, o.f.clone(), o.value.clone(), o.error.clone()))
            .collect()
    }

    fn row(index: u64, time: u64, kind: OpType, p: u64, f: &str, value: serde_json::Value) -> Row {
        (index, time, kind, Process::Client(p), f.into(), value, None)
    }

    #[test]
    fn single_register_history_without_indices() {
        let h = read_edn(fixture("jepsen-register.edn")).unwrap();
        assert_eq!(h.ops.len(), 10);
        let r = rows(&h);
        assert_eq!(r[0], row(0, 13456108, OpType::Invoke, 0, "read", json!(null)));
        assert_eq!(r[2], row(2, 13779842, OpType::Invoke, 2, "cas", json!([2, 4])));
        let mut failed = row(5, 18012961, OpType::Fail, 2, "cas", json!([2, 4]));
        failed.6 = Some(":precondition-failed".into());
        assert_eq!(r[5], failed);
        assert_eq!(r[9], row(9, 225049788, OpType::Ok, 1, "read", json!(1)));
        validate_well_formed(&h.ops).unwrap();
    }

    #[test]
    fn independent_keys_history_as_one_vector() {
        let h = read_history(fixture("jepsen-independent.edn")).unwrap();
        let r = rows(&h);
        assert_eq!(r.len(), 8);
        assert_eq!(r[1], row(1, 9912375, OpType::Invoke, 1, "read", json!([0, null])));
        assert_eq!(r[2], row(2, 10293311, OpType::Invoke, 2, "cas", json!([1, [0, 4]])));
        assert_eq!(r[4], row(4, 15002841, OpType::Ok, 1, "read", json!([0, 2])));
        assert_eq!(h.ops[5].error.as_deref(), Some(":cas-failed"));
        validate_well_formed(&h.ops).unwrap();
    }

    #[test]
    fn info_ops_errors_new_processes_and_nemesis() {
        let h = read_edn(fixture("jepsen-info-nemesis.edn")).unwrap();
        assert_eq!(h.ops.len(), 12);
        assert_eq!(h.ops[2].node.as_deref(), Some("n5"));
        let nemesis = &h.ops[4];
        assert_eq!((nemesis.kind, nemesis.process, nemesis.f.as_str()), (OpType::Info, Process::Nemesis, "start"));
        assert_eq!(
            nemesis.value,
            json!(["isolated", {"n1": ["n4", "n5"], "n2": ["n4", "n5"], "n4": ["n1", "n2", "n3"]}])
        );
        assert_eq!(h.ops[11].value, json!("network-healed"));
        let errors: Vec<Option<&str>> = h.ops.iter().map(|o| o.error.as_deref()).collect();
        assert_eq!(errors[5], Some(":jepsen.client/timeout"));
        assert_eq!(errors[7], Some(":no-client connection refused to n1:2379"));
        assert_eq!(errors[9], Some("indeterminate: leader changed"));
        let processes: Vec<Process> = h.ops.iter().map(|o| o.process).collect();
        assert_eq!(processes[6], Process::Client(8));
        assert_eq!(processes[8], Process::Client(13));
        validate_well_formed(&h.ops).unwrap();
        let pairs = pair(&h.ops);
        assert_eq!(
            pairs.iter().map(|p| (p.invoke, p.complete)).collect::<Vec<_>>()[..3],
            [(0, Some(5)), (1, Some(2)), (3, Some(4))]
        );
    }

    #[test]
    fn every_edn_value_kind_maps_to_json() {
        let text = r#"{:type :ok, :f :txn, :process 1, :time 2, :index 0, :node :n1,
          :value [nil true false -7 12N 1.5 2.5M 1/4 ##Inf "s\t\"\u00e9" \a \newline :ns/kw sym
                  (1 2) #{3} {:a 1, "b" 2, 3 4, [5] 6} #inst "2024-01-02T03:04:05Z" #uuid "abc" #_ 99 0x1F -0x10
                  #jepsen.Rec{:x 1} 18446744073709551615] ; trailing comment
          , :extra #object[java.lang.Object 0x1f "x"]}"#;
        let h = parse_edn(text).unwrap();
        let expected = json!([null, true, false, -7, 12, 1.5, 2.5, 0.25, null, "s\t\"é", "a", "\n", "ns/kw", "sym",
            [1, 2], [3], {"a": 1, "b": 2, "3": 4, "[5]": 6}, "2024-01-02T03:04:05Z", "abc", 31, -16, {"x": 1},
            u64::MAX]);
        assert_eq!(h.ops[0].value, expected);
        assert_eq!(h.ops[0].node, None, "a keyword :node is ignored");
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let e = |s: &str| parse_edn(s).unwrap_err().to_string();
        let ok = "{:type :invoke, :f :read, :value nil, :process 0, :time 1}\n";
        assert_eq!(
            e(&format!("{ok}{{:type :ok, :value [1 2}}\n")),
            "<input>:2:24: bad edn: mismatched `}`: expected `]`"
        );
        assert_eq!(e(&format!("{ok}{ok}{{:f :read, :value \"abc}}\n")), "<input>:3:19: bad edn: unclosed string");
        assert_eq!(
            e("{:type :ok :f}"),
            "<input>:1:1: bad edn: map with an odd number of forms (a key without a value)"
        );
        assert_eq!(e("[{:type :ok, :f :r, :process 0}"), "<input>:1:1: bad edn: unclosed `[`");
        assert_eq!(e("{:value 12abc}"), "<input>:1:9: bad edn: bad number `12abc`");
        assert_eq!(e("{:value \\bogus}"), "<input>:1:9: bad edn: unknown character name `\\bogus`");
        assert_eq!(e(&"[".repeat(1000)), "<input>:1:258: bad edn: nested too deeply");
    }

    #[test]
    fn op_errors_name_the_line() {
        let e = |s: &str| parse_edn(s).unwrap_err().to_string();
        let ok = "{:type :invoke, :f :read, :value nil, :process 0, :time 1}\n";
        assert_eq!(
            e(&format!("{ok}{{:type :done, :f :read, :process 0}}")),
            "<input>:2: bad op: `:type` must be :invoke, :ok, :fail or :info, got `:done`"
        );
        assert_eq!(e(&format!("{ok}\n{{:type :ok, :process 0}}")), "<input>:3: bad op: missing `:f`");
        assert_eq!(e("{:type :ok, :f :r, :process -1}"), "<input>:1: bad op: `:process` must not be negative, got -1");
        assert_eq!(
            e("{:type :ok, :f :r, :process \"p\"}"),
            "<input>:1: bad op: `:process` must be a number or :nemesis, got `\"p\"`"
        );
        assert_eq!(e("[1 2]"), "<input>:1: bad op: expected an op map, got `1`");
    }

    #[test]
    fn missing_process_is_a_process_of_its_own() {
        let h =
            parse_edn("{:type :ok, :f :r, :process 4}\n{:type :ok, :f :r}\n[:x]".trim_end_matches("\n[:x]")).unwrap();
        assert_eq!(h.ops[1].process, Process::Client(5));
        let h =
            parse_edn("[{:type :ok, :f :r} {:type :ok, :f :r, :process nil} {\"type\" \"ok\" \"f\" \"r\"}]").unwrap();
        let ps: Vec<Process> = h.ops.iter().map(|o| o.process).collect();
        assert_eq!(ps, [Process::Client(0), Process::Client(1), Process::Client(2)]);
    }

    #[test]
    fn missing_time_uses_the_index() {
        let h =
            parse_edn("{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :process 0, :value 5}").unwrap();
        assert_eq!((h.ops[1].index, h.ops[1].time, h.ops[1].value.clone()), (1, 1, json!(5)));
        assert!(parse_edn("").unwrap().ops.is_empty());
        assert!(parse_edn("[]").unwrap().ops.is_empty());
    }
}
