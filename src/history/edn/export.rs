//! Writing brawl ops as Jepsen's `history.edn`: one map per line, in the shape Jepsen writes.

use std::io::{self, Write};

use super::value::{is_keyword_name, write_json, write_name, write_str_literal};
use crate::history::{History, Op, Process};

/// Writes `history` as Jepsen EDN, one op map per line:
/// `{:type :invoke, :f :read, :value nil, :process 0, :time 123, :index 0}`, plus `:node` and
/// `:error` when set. The header is not written (Jepsen histories have none).
pub fn write_edn(history: &History, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let mut line = String::with_capacity(256);
    for op in &history.ops {
        line.clear();
        op_to_edn(&mut line, op);
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}

fn op_to_edn(out: &mut String, op: &Op) {
    out.push_str("{:type :");
    out.push_str(&op.kind.to_string());
    out.push_str(", :f ");
    write_name(out, &op.f);
    out.push_str(", :value ");
    write_json(out, &op.value);
    out.push_str(", :process ");
    match op.process {
        Process::Client(p) => out.push_str(&p.to_string()),
        Process::Nemesis => out.push_str(":nemesis"),
    }
    out.push_str(&format!(", :time {}, :index {}", op.time, op.index));
    if let Some(node) = &op.node {
        out.push_str(", :node ");
        write_str_literal(out, node);
    }
    if let Some(error) = &op.error {
        out.push_str(", :error ");
        // A keyword error read from Jepsen (`:jepsen.client/timeout`) goes back as a keyword.
        match error.strip_prefix(':') {
            Some(k) if is_keyword_name(k) => out.push_str(error),
            _ => write_str_literal(out, error),
        }
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::history::{parse_edn, parse_jsonl, Header, HistoryWriter, OpType};

    fn op(kind: OpType, process: Process, f: &str, value: serde_json::Value) -> Op {
        Op { index: 0, time: 0, kind, process, f: f.into(), value, node: None, error: None }
    }

    /// A register history as brawl writes it: `[k v]` values, cas pairs, nil reads, info ops with
    /// errors, nemesis ops, odd strings and numbers.
    fn register_history() -> Vec<Op> {
        let c = Process::Client;
        let mut ops = vec![
            op(OpType::Invoke, c(0), "write", json!([1, 3])),
            op(OpType::Invoke, c(1), "read", json!([1, null])),
            op(OpType::Ok, c(0), "write", json!([1, 3])),
            op(OpType::Ok, c(1), "read", json!([1, 3])),
            op(OpType::Invoke, c(2), "cas", json!([0, [1, 2]])),
            op(OpType::Fail, c(2), "cas", json!([0, [1, 2]])),
            op(OpType::Info, Process::Nemesis, "start-partition", json!("majority")),
            op(OpType::Invoke, c(3), "write", json!([2, -4])),
            op(OpType::Info, c(3), "write", json!([2, -4])),
            op(OpType::Info, Process::Nemesis, "start-partition", json!({"n1": ["n2", "n3"], "n2": ["n1"]})),
            op(OpType::Invoke, c(8), "read", json!([u64::MAX, 1.5])),
            op(OpType::Info, c(8), "read", json!([2, null])),
            op(OpType::Info, Process::Nemesis, "stop-partition", json!(null)),
            op(OpType::Info, Process::Nemesis, "stop-partition", json!({"healed": true, "1x": "q\"uote\\ \n tab\t é"})),
        ];
        ops[1].node = Some("n2".into());
        ops[5].error = Some("precondition failed".into());
        ops[8].error = Some("timeout: no response in 5s".into());
        ops[11].error = Some(":jepsen.client/timeout".into());
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
            op.time = 1_000_000 * i as u64 + 17;
        }
        ops
    }

    #[test]
    fn jsonl_to_edn_to_jsonl_is_the_identity() {
        let mut w = HistoryWriter::new(Vec::new(), &Header::default()).unwrap();
        w.append_batch(register_history()).unwrap();
        let jsonl = w.finish().unwrap();
        let history = parse_jsonl(&jsonl).unwrap();
        let mut edn = Vec::new();
        write_edn(&history, &mut edn).unwrap();
        let back = parse_edn(std::str::from_utf8(&edn).unwrap()).unwrap();
        assert_eq!(back.ops, history.ops);
        let mut w = HistoryWriter::new(Vec::new(), &back.header).unwrap();
        w.append_batch(back.ops).unwrap();
        assert_eq!(w.finish().unwrap(), jsonl);
    }

    #[test]
    fn writes_the_shape_jepsen_writes() {
        let ops = register_history();
        let mut edn = Vec::new();
        write_edn(&History::new(Header::default(), ops), &mut edn).unwrap();
        let text = String::from_utf8(edn).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            r#"{:type :invoke, :f :read, :value [1 nil], :process 1, :time 1000017, :index 1, :node "n2"}"#
        );
        assert_eq!(lines[4], "{:type :invoke, :f :cas, :value [0 [1 2]], :process 2, :time 4000017, :index 4}");
        assert_eq!(
            lines[9],
            r#"{:type :info, :f :start-partition, :value {:n1 ["n2" "n3"], :n2 ["n1"]}, :process :nemesis, :time 9000017, :index 9}"#
        );
        assert!(lines[11].ends_with(":error :jepsen.client/timeout}"), "{}", lines[11]);
        assert!(lines[13].contains(r#"{"1x" "q\"uote\\ \n tab\t é", :healed true}"#), "{}", lines[13]);
    }
}
