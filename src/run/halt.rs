//! Stopping a run whose history can no longer be written (a full or failing disk): the writer
//! thread ends at the first failed write, and this watcher turns that into the run's stop
//! signal, so the main phase ends at once, every fault is healed, and the run fails with the
//! history's path and the OS error (exit 255) instead of running blind to its time limit.

use std::time::Duration;

use tokio::sync::watch;
use tracing::error;

use crate::generator::interpreter::WeakSink;

/// How often the watcher looks at the writer.
const POLL: Duration = Duration::from_millis(100);

/// A stop signal that follows `outer` (Ctrl-C, SIGTERM) and also turns true when the history
/// writer behind `sink` stops early. The watcher ends by itself once every sink is dropped.
pub fn stop_on_write_failure(mut outer: watch::Receiver<bool>, sink: WeakSink) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(*outer.borrow());
    tokio::spawn(async move {
        let mut outer_open = true;
        loop {
            tokio::select! {
                changed = outer.changed(), if outer_open => match changed {
                    Ok(()) => if *outer.borrow() { let _ = tx.send(true); },
                    Err(_) => outer_open = false,
                },
                _ = tokio::time::sleep(POLL) => match sink.writer_failed() {
                    None => return,
                    Some(true) => {
                        error!("the history can no longer be written; stopping the run and healing every fault");
                        let _ = tx.send(true);
                        return;
                    }
                    Some(false) => {}
                },
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::interpreter::spawn_writer;
    use crate::history::{Header, OpType, Process};
    use std::time::Instant;

    /// A failed write is tested on a full tmpfs (`tests/control_path.rs`): here, that a
    /// working writer never stops the run, that Ctrl-C still does, and that the watcher ends.
    #[tokio::test]
    async fn a_working_writer_does_not_stop_the_run_and_ctrl_c_still_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (sink, writer) = spawn_writer(&dir.path().join("h.jsonl"), &Header::default(), Instant::now()).expect("w");
        let (outer_tx, outer) = watch::channel(false);
        let mut stop = stop_on_write_failure(outer, sink.weak());
        sink.record(OpType::Invoke, Process::Client(0), "read", serde_json::Value::Null, None, None);
        tokio::time::sleep(POLL * 3).await;
        assert!(!*stop.borrow(), "a working writer does not stop the run");
        outer_tx.send(true).expect("send");
        tokio::time::timeout(Duration::from_secs(5), stop.wait_for(|s| *s)).await.expect("follows").expect("open");
        drop(sink);
        assert_eq!(writer.join().expect("thread").expect("written").ops, 1);
    }
}
