//! `brawl.log`: while a run is going, the log also goes to a file in the run's directory.
//! `main.rs` adds `RunLog` as a tracing layer's writer; `run` points it at the file.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

/// The current run's log file, if a run is going. A mutex because every tracing event, from
/// any thread, writes through it.
static FILE: Mutex<Option<File>> = Mutex::new(None);

/// Starts copying the log to `path`.
pub fn set(path: &Path) {
    if let Ok(f) = File::create(path) {
        if let Ok(mut slot) = FILE.lock() {
            *slot = Some(f);
        }
    }
}

/// Stops copying the log.
pub fn clear() {
    if let Ok(mut slot) = FILE.lock() {
        *slot = None;
    }
}

/// A `MakeWriter` for the run log; writes nowhere when no run is going.
#[derive(Clone, Copy, Default)]
pub struct RunLog;

impl Write for RunLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut slot) = FILE.lock() {
            if let Some(f) = slot.as_mut() {
                f.write_all(buf)?;
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RunLog {
    type Writer = RunLog;
    fn make_writer(&'a self) -> Self::Writer {
        RunLog
    }
}
