//! An external client (protocol 1) that answers every op at once with `ok` and the op's own
//! value: `brawl bench interpreter --client-command target/release/examples/instant_client`
//! measures what the JSON lines protocol sustains, with nothing behind it.

use std::io::{BufRead, BufWriter, Write};

use serde_json::{json, Value};

fn main() -> std::io::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        let line = line?;
        let Ok(msg) = serde_json::from_str::<Value>(&line) else { continue };
        let reply = if msg["type"] == "hello" {
            json!({"type": "hello", "protocol": 1})
        } else {
            json!({"id": msg["id"], "type": "ok", "value": msg["value"]})
        };
        serde_json::to_writer(&mut out, &reply)?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    Ok(())
}
