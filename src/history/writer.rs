//! `HistoryWriter`: appends ops to `history.jsonl`, one JSON object per line after a header
//! line, handing every op (or batch) to the OS as soon as it is appended so that a crash, even
//! SIGKILL, leaves a readable prefix.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::path::Path;

use super::{Header, Op};

/// Writes a history as JSON Lines. Used from one task, which owns it: it assigns `index` densely.
///
/// Each op is serialized into a reused buffer and handed to the underlying writer in one
/// `write_all` plus `flush`: the buffer plays the part of a `BufWriter` flushed after every op,
/// without copying each line twice. No `fsync`: a killed process loses nothing the OS already
/// has; only a machine crash can.
#[derive(Debug)]
pub struct HistoryWriter<W: Write = File> {
    out: W,
    /// Serialization buffer reused across appends, so steady-state appends do not allocate.
    buf: Vec<u8>,
    next_index: u64,
}

impl HistoryWriter<File> {
    /// Creates (or truncates) `path` and writes the header line.
    pub fn create(path: impl AsRef<Path>, header: &Header) -> io::Result<Self> {
        HistoryWriter::new(File::create(path)?, header)
    }
}

impl<W: Write> HistoryWriter<W> {
    /// Writes the header line to `out`; the first op appended gets index 0.
    pub fn new(out: W, header: &Header) -> io::Result<Self> {
        let mut w = HistoryWriter { out, buf: Vec::with_capacity(4096), next_index: 0 };
        serde_json::to_writer(&mut w.buf, header)?;
        w.buf.push(b'\n');
        w.write_buf()?;
        Ok(w)
    }

    /// Appends one op, setting its `index` to the next dense index, which it returns. The op has
    /// reached the OS when this returns. After an error the file may end in a partial line, which
    /// readers drop as a truncated last line: stop appending and drop the writer.
    pub fn append(&mut self, mut op: Op) -> io::Result<u64> {
        let index = self.next_index;
        op.index = index;
        self.encode(&op)?;
        self.write_buf()?;
        self.next_index += 1;
        Ok(index)
    }

    /// Appends ops handed over at once with a single write, returning the indices assigned.
    pub fn append_batch(&mut self, ops: impl IntoIterator<Item = Op>) -> io::Result<Range<u64>> {
        let start = self.next_index;
        let mut next = start;
        for mut op in ops {
            op.index = next;
            self.encode(&op)?;
            next += 1;
        }
        self.write_buf()?;
        self.next_index = next;
        Ok(start..next)
    }

    /// The index the next appended op will get (the number of ops written so far).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    fn encode(&mut self, op: &Op) -> io::Result<()> {
        let before = self.buf.len();
        if let Err(e) = serde_json::to_writer(&mut self.buf, op) {
            // Drop the partial line so that later writes stay line-aligned.
            self.buf.truncate(before);
            return Err(e.into());
        }
        self.buf.push(b'\n');
        Ok(())
    }

    fn write_buf(&mut self) -> io::Result<()> {
        let result = self.out.write_all(&self.buf).and_then(|()| self.out.flush());
        self.buf.clear();
        result
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::history::{parse_jsonl, read_jsonl, OpType, Process};

    fn op(kind: OpType, process: u64, time: u64) -> Op {
        Op {
            index: 999,
            time,
            kind,
            process: Process::Client(process),
            f: "write".into(),
            value: json!([process % 3, time]),
            node: Some("n1".into()),
            error: None,
        }
    }

    #[test]
    fn header_then_one_op_per_line_with_dense_indices() {
        let header = Header::new(Some("etcd-register".into()), Some(42));
        let mut w = HistoryWriter::new(Vec::new(), &header).unwrap();
        assert_eq!(w.append(op(OpType::Invoke, 0, 10)).unwrap(), 0);
        assert_eq!(w.append(op(OpType::Ok, 0, 20)).unwrap(), 1);
        assert_eq!(w.append_batch([op(OpType::Invoke, 1, 30), op(OpType::Fail, 1, 40)]).unwrap(), 2..4);
        assert_eq!(w.next_index(), 4);
        let bytes = w.finish().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"brawl-history":1,"test":"etcd-register","seed":42}"#);
        assert_eq!(
            lines[1],
            r#"{"index":0,"time":10,"type":"invoke","process":0,"f":"write","value":[0,10],"node":"n1"}"#
        );
        let h = parse_jsonl(&bytes).unwrap();
        assert_eq!(h.header, header);
        assert_eq!(h.ops.iter().map(|o| o.index).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert!(!h.truncated);
    }

    #[test]
    fn every_append_reaches_the_file_before_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let mut w = HistoryWriter::create(&path, &Header::default()).unwrap();
        for i in 0..10 {
            w.append(op(OpType::Invoke, i, i)).unwrap();
            // Read while the writer is still open, as after a SIGKILL.
            assert_eq!(read_jsonl(&path).unwrap().ops.len() as u64, i + 1);
        }
        drop(w);
    }
}
