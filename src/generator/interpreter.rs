//! The interpreter: one task per worker thread runs its `ThreadGen` against its client, and one
//! writer thread appends every invocation and completion to the history as it happens.
//!
//! Jepsen's semantics: a thread is one process at a time with at most one op outstanding; after
//! an `info` completion it continues as a new process (`process + concurrency`) with a fresh
//! client. An op's invocation is sent to the history before the client is called and its
//! completion after the client returns, so real-time order is never inverted in the history
//! (two ops may only look more concurrent than they were). Times are nanoseconds since the test
//! began, made monotonic in index order by the writer.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::ThreadGen;
use crate::client::{Client, Connector};
use crate::cluster::Node;
use crate::history::{Header, HistoryWriter, Op, OpType, Process};
use crate::workload::{Completion, FinalReaders, Invocation, Workload};

/// Where ops go: the writer thread's channel.
#[derive(Clone)]
pub struct HistorySink {
    tx: mpsc::UnboundedSender<Op>,
    start: Instant,
    /// Client completions so far, shared with the run's status line (`run::progress`).
    counts: Arc<OpCounts>,
}

/// Client completions so far by type, counted as they are sent to the writer.
#[derive(Debug, Default)]
pub struct OpCounts {
    ok: AtomicU64,
    fail: AtomicU64,
    info: AtomicU64,
}

impl OpCounts {
    /// Counts one completion (an invocation counts nothing).
    pub fn count(&self, kind: OpType) {
        let c = match kind {
            OpType::Ok => &self.ok,
            OpType::Fail => &self.fail,
            OpType::Info => &self.info,
            OpType::Invoke => return,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// `(ok, fail, info)` so far.
    pub fn get(&self) -> (u64, u64, u64) {
        (self.ok.load(Ordering::Relaxed), self.fail.load(Ordering::Relaxed), self.info.load(Ordering::Relaxed))
    }
}

impl HistorySink {
    /// Nanoseconds since the test began.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// The counters of client completions recorded through this sink (and its clones).
    pub fn counts(&self) -> Arc<OpCounts> {
        self.counts.clone()
    }

    /// Records an op (its index and time are fixed by the writer). Dropped silently once the
    /// writer is gone, which only happens when the run is over.
    pub fn record(
        &self,
        kind: OpType,
        process: Process,
        f: &str,
        value: Value,
        node: Option<&str>,
        error: Option<String>,
    ) {
        if matches!(process, Process::Client(_)) {
            self.counts.count(kind);
        }
        let op = Op {
            index: 0,
            time: self.now(),
            kind,
            process,
            f: f.to_string(),
            value,
            node: node.map(str::to_string),
            error,
        };
        let _ = self.tx.send(op);
    }
}

impl HistorySink {
    /// A handle that tells whether the writer thread has stopped, without keeping it alive.
    pub fn weak(&self) -> WeakSink {
        WeakSink(self.tx.downgrade())
    }
}

/// See `HistorySink::weak`: how a run notices that a write failed (a full disk) and stops.
#[derive(Clone)]
pub struct WeakSink(mpsc::WeakUnboundedSender<Op>);

impl WeakSink {
    /// `Some(true)` once the writer has stopped (only after a failed write) while sinks remain,
    /// `Some(false)` while it runs, `None` once every sink is dropped (the normal end).
    pub fn writer_failed(&self) -> Option<bool> {
        self.0.upgrade().map(|tx| tx.is_closed())
    }
}

/// Counts of what the writer wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Ops written.
    pub ops: u64,
}

/// Starts the writer thread for `path`. It ends, returning what it wrote, when every sink
/// clone is dropped.
pub fn spawn_writer(
    path: &Path,
    header: &Header,
    start: Instant,
) -> std::io::Result<(HistorySink, std::thread::JoinHandle<std::io::Result<WriteSummary>>)> {
    let mut writer = HistoryWriter::create(path, header)?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Op>();
    let handle = std::thread::Builder::new().name("brawl-history".into()).spawn(move || {
        let mut summary = WriteSummary::default();
        let mut last_time = 0u64;
        let mut batch = Vec::with_capacity(1024);
        while let Some(op) = rx.blocking_recv() {
            batch.push(op);
            // Whatever else is already waiting goes out in the same write and flush.
            while batch.len() < 4096 {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            for op in batch.iter_mut() {
                op.time = op.time.max(last_time);
                last_time = op.time;
            }
            summary.ops += batch.len() as u64;
            writer.append_batch(batch.drain(..))?;
        }
        writer.finish()?;
        Ok(summary)
    })?;
    Ok((HistorySink { tx, start, counts: Arc::default() }, handle))
}

/// How the worker threads run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Number of worker threads (processes at the start).
    pub concurrency: usize,
    /// The main phase ends this long after it starts.
    pub time_limit: Duration,
    /// Attempts per key in the final reads.
    pub final_read_attempts: u32,
}

/// The worker threads of a run, between phases.
pub struct Workers {
    tasks: tokio::task::JoinSet<()>,
    phase: watch::Sender<Phase>,
    main_done: mpsc::Receiver<()>,
    concurrency: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Main,
    FinalReads,
    Done,
}

/// Starts one worker per thread generator; thread `i` works against `nodes[i % n]`. The main
/// phase ends at the time limit, or early when `stop` turns true.
pub fn start(
    spec: &RunSpec,
    workload: Arc<dyn Workload>,
    connector: Arc<dyn Connector>,
    nodes: &[Node],
    gens: Vec<ThreadGen>,
    sink: &HistorySink,
    stop: watch::Receiver<bool>,
) -> Workers {
    let (phase, phase_rx) = watch::channel(Phase::Main);
    let (done_tx, main_done) = mpsc::channel(gens.len().max(1));
    let mut tasks = tokio::task::JoinSet::new();
    let deadline = Instant::now() + spec.time_limit;
    for (thread, gen) in gens.into_iter().enumerate() {
        let w = Worker {
            thread,
            process: thread as u64,
            concurrency: spec.concurrency as u64,
            node: nodes[thread % nodes.len()].clone(),
            nodes: nodes.len(),
            workload: workload.clone(),
            connector: connector.clone(),
            client: None,
            sink: sink.clone(),
            attempts: spec.final_read_attempts,
        };
        let (stop, phase_rx, done_tx) = (stop.clone(), phase_rx.clone(), done_tx.clone());
        tasks.spawn(w.run(gen, deadline, stop, phase_rx, done_tx));
    }
    Workers { tasks, phase, main_done, concurrency: spec.concurrency }
}

impl Workers {
    /// Waits until every worker has finished the main phase.
    pub async fn main_phase_done(&mut self) {
        for _ in 0..self.concurrency {
            if self.main_done.recv().await.is_none() {
                break;
            }
        }
    }

    /// Runs the final reads (each key read until ok by one thread of its group), then ends.
    pub async fn final_reads(mut self) {
        let _ = self.phase.send(Phase::FinalReads);
        while self.tasks.join_next().await.is_some() {}
    }

    /// Ends the workers without final reads (the run was interrupted).
    pub async fn end(mut self) {
        let _ = self.phase.send(Phase::Done);
        while self.tasks.join_next().await.is_some() {}
    }
}

struct Worker {
    thread: usize,
    process: u64,
    concurrency: u64,
    node: Node,
    /// How many nodes there are (a `OnePerNode` final read is done by threads `0..nodes`).
    nodes: usize,
    workload: Arc<dyn Workload>,
    connector: Arc<dyn Connector>,
    client: Option<Box<dyn Client>>,
    sink: HistorySink,
    attempts: u32,
}

impl Worker {
    async fn run(
        mut self,
        mut gen: ThreadGen,
        deadline: Instant,
        mut stop: watch::Receiver<bool>,
        mut phase: watch::Receiver<Phase>,
        done: mpsc::Sender<()>,
    ) {
        let mut next_at = Instant::now();
        loop {
            let planned = gen.next(self.workload.as_ref());
            next_at += planned.gap;
            let now = Instant::now();
            if next_at < now {
                next_at = now; // behind schedule: go now, without a burst to catch up
            }
            if next_at >= deadline || *stop.borrow() {
                break;
            }
            if next_at > now {
                tokio::select! {
                    _ = tokio::time::sleep_until(next_at.into()) => {}
                    _ = stop.changed() => break,
                }
            }
            self.perform(&planned.op).await;
        }
        let _ = done.send(()).await;
        while *phase.borrow() == Phase::Main {
            if phase.changed().await.is_err() {
                return;
            }
        }
        if *phase.borrow() != Phase::FinalReads {
            return;
        }
        let keys = match self.workload.final_readers() {
            FinalReaders::Nobody => Vec::new(),
            // One thread per group reads the group's keys.
            FinalReaders::GroupLeaders if (self.thread as u32) < gen.groups => gen.group_keys(),
            FinalReaders::GroupLeaders => Vec::new(),
            // Threads 0..nodes are bound to nodes 0..nodes: each reads once.
            FinalReaders::OnePerNode if self.thread < self.nodes => vec![0],
            FinalReaders::OnePerNode => Vec::new(),
        };
        for key in keys {
            let op = self.workload.final_read(key);
            for _ in 0..self.attempts {
                if self.perform(&op).await == OpType::Ok {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Invokes one op and records it; returns how it completed.
    async fn perform(&mut self, op: &Invocation) -> OpType {
        let node = Some(self.node.name.as_str());
        let process = Process::Client(self.process);
        if self.client.is_none() {
            match self.connector.open(&self.node).await {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    // Jepsen's [:no-client ...]: the op definitely did not happen.
                    self.sink.record(OpType::Invoke, process, op.f, op.value.clone(), node, None);
                    self.sink.record(
                        OpType::Fail,
                        process,
                        op.f,
                        op.value.clone(),
                        node,
                        Some(format!("no-client: {e}")),
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return OpType::Fail;
                }
            }
        }
        let Some(client) = self.client.as_mut() else { return OpType::Fail };
        self.sink.record(OpType::Invoke, process, op.f, op.value.clone(), node, None);
        // The client has its own timeouts; this one only catches a client that hangs anyway.
        let limit = self.workload.op_timeout() * 2 + Duration::from_secs(1);
        let completion = tokio::time::timeout(limit, client.invoke(op)).await.unwrap_or_else(|_| Completion::Info {
            value: op.value.clone(),
            error: "timeout (client did not return)".into(),
        });
        match completion {
            Completion::Ok(v) => {
                self.sink.record(OpType::Ok, process, op.f, v, node, None);
                OpType::Ok
            }
            Completion::Fail { value, error } => {
                self.sink.record(OpType::Fail, process, op.f, value, node, Some(error));
                OpType::Fail
            }
            Completion::Info { value, error } => {
                self.sink.record(OpType::Info, process, op.f, value, node, Some(error));
                // The process may still be acting: continue as a new one, with a new client.
                self.process += self.concurrency;
                self.client = None;
                debug!(thread = self.thread, process = self.process, "new process after info");
                OpType::Info
            }
        }
    }
}

/// Waits for the writer thread and returns what it wrote.
pub fn join_writer(handle: std::thread::JoinHandle<std::io::Result<WriteSummary>>) -> std::io::Result<WriteSummary> {
    handle.join().unwrap_or_else(|_| {
        warn!("the history writer panicked");
        Err(std::io::Error::other("the history writer panicked"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::FakeRemote;
    use crate::generator::Schedule;
    use crate::history::{read_jsonl, validate_well_formed};
    use async_trait::async_trait;
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    /// Every third op of a client is indeterminate; every fifth fails.
    struct Flaky;
    struct FlakyClient(u64);

    #[async_trait]
    impl Client for FlakyClient {
        async fn invoke(&mut self, op: &Invocation) -> Completion {
            self.0 += 1;
            match self.0 {
                n if n % 3 == 0 => Completion::Info { value: op.value.clone(), error: "timeout".into() },
                n if n % 5 == 0 => Completion::Fail { value: op.value.clone(), error: "refused".into() },
                _ => Completion::Ok(op.value.clone()),
            }
        }
    }

    #[async_trait]
    impl Connector for Flaky {
        async fn open(&self, _node: &Node) -> Result<Box<dyn Client>, String> {
            Ok(Box::new(FlakyClient(0)))
        }
    }

    impl Workload for Flaky {
        fn kind(&self) -> crate::workload::WorkloadKind {
            crate::workload::WorkloadKind::Register
        }
        fn keys(&self) -> u32 {
            4
        }
        fn op(&self, _rng: &mut ChaCha8Rng, key: u32) -> Invocation {
            Invocation { f: "write", value: json!([key, 1]) }
        }
        fn final_readers(&self) -> FinalReaders {
            FinalReaders::GroupLeaders
        }
        fn final_read(&self, key: u32) -> Invocation {
            Invocation { f: "read", value: json!([key, null]) }
        }
        fn op_timeout(&self) -> Duration {
            Duration::from_secs(1)
        }
        fn check(&self, _ops: &[Op], _budget: &crate::checker::Budget) -> crate::workload::Checked {
            crate::workload::Checked::default()
        }
    }

    #[tokio::test]
    async fn after_info_a_thread_continues_as_a_new_process_and_the_history_is_well_formed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.jsonl");
        let nodes: Vec<Node> =
            ["n1", "n2"].iter().map(|n| Node { name: n.to_string(), remote: Arc::new(FakeRemote::new(n)) }).collect();
        let (sink, writer) = spawn_writer(&path, &Header::new(None, Some(1)), Instant::now()).expect("writer");
        let spec = RunSpec { concurrency: 3, time_limit: Duration::from_millis(200), final_read_attempts: 3 };
        let gens = Schedule::new(3, Some(300.0), 1).threads(4);
        let (_stop, stop_rx) = watch::channel(false);
        let mut workers = start(&spec, Arc::new(Flaky), Arc::new(Flaky), &nodes, gens, &sink, stop_rx);
        workers.main_phase_done().await;
        workers.final_reads().await;
        drop(sink);
        let summary = join_writer(writer).expect("written");
        let h = read_jsonl(&path).expect("reads");
        assert_eq!(summary.ops, h.ops.len() as u64);
        validate_well_formed(&h.ops).expect("well formed: one op per process at a time, dense indices, monotonic time");
        let infos: Vec<&Op> = h.ops.iter().filter(|o| o.kind == OpType::Info).collect();
        assert!(!infos.is_empty());
        // The process after an info is the old one plus the concurrency.
        let Process::Client(p) = infos[0].process else { panic!("client op") };
        let later: Vec<u64> = h
            .ops
            .iter()
            .filter_map(|o| match o.process {
                Process::Client(q) if q % 3 == p % 3 && o.index > infos[0].index => Some(q),
                _ => None,
            })
            .collect();
        assert!(later.iter().all(|&q| q >= p + 3), "{p} then {later:?}");
        assert!(h.ops.iter().any(|o| o.f == "read"), "final reads happened");
        assert!(h.ops.iter().all(|o| o.node.is_some()));
    }

    #[tokio::test]
    async fn stop_ends_the_main_phase_early() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.jsonl");
        let nodes = vec![Node { name: "n1".into(), remote: Arc::new(FakeRemote::new("n1")) }];
        let (sink, writer) = spawn_writer(&path, &Header::default(), Instant::now()).expect("writer");
        let spec = RunSpec { concurrency: 2, time_limit: Duration::from_secs(600), final_read_attempts: 1 };
        let (stop, stop_rx) = watch::channel(false);
        let mut workers = start(
            &spec,
            Arc::new(Flaky),
            Arc::new(Flaky),
            &nodes,
            Schedule::new(2, Some(100.0), 2).threads(4),
            &sink,
            stop_rx,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(true).expect("send");
        tokio::time::timeout(Duration::from_secs(5), workers.main_phase_done()).await.expect("stops within 5 s");
        workers.end().await;
        drop(sink);
        assert!(join_writer(writer).expect("written").ops > 0);
    }
}
