//! Where a run is, for the person watching it: the [`Reporter`] consumes owned [`RunEvent`]s
//! (phases, faults) and reads the writer's [`OpCounts`], and shows one status line: a live
//! indicatif line when stderr is a terminal, otherwise a plain line on stdout every 10 s and, for
//! a run, at every phase change (CI logs). [`status_line`] formats it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::generator::interpreter::OpCounts;
use crate::nemesis::FaultKind;

/// How often a plain status line is printed off a terminal.
pub const LINE_EVERY: Duration = Duration::from_secs(10);
/// How often the terminal status line is redrawn.
const BAR_EVERY: Duration = Duration::from_millis(500);

/// A step of a run (or of `brawl check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Connecting, cycling the db, setting up the nemesis.
    Setup,
    /// Clients and faults for the time limit.
    Main,
    /// The final heal and the quiet period after it.
    Recovery,
    /// Every key read a last time.
    FinalReads,
    /// Node logs downloaded, the db torn down.
    Teardown,
    /// Reading a history back.
    Reading,
    /// The checkers.
    Check,
    /// `results.json`, `report.html`, `junit.xml`.
    Report,
}

impl Phase {
    /// The phase as shown.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Main => "main",
            Phase::Recovery => "recovery",
            Phase::FinalReads => "final reads",
            Phase::Teardown => "teardown",
            Phase::Reading => "reading",
            Phase::Check => "check",
            Phase::Report => "report",
        }
    }
}

/// What the run tells its reporter.
#[derive(Debug)]
pub enum RunEvent {
    /// A new phase began.
    Phase(Phase),
    /// The writer's counters of client completions, from the main phase on.
    Counting(Arc<OpCounts>),
    /// A fault op finished: `f`, the nodes it touched, and whether it failed.
    FaultDone {
        /// The op's `f`.
        f: String,
        /// The nodes it touched.
        nodes: Vec<String>,
        /// It failed (a failed start puts no fault in effect).
        failed: bool,
    },
}

/// What one status line shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Status {
    /// The phase name.
    pub phase: &'static str,
    /// Since the run began.
    pub elapsed: Duration,
    /// Time into the main phase and the time limit; `None` for `brawl check`.
    pub main: Option<(Duration, Duration)>,
    /// Client completions so far: ok, fail, info; `None` before the main phase.
    pub counts: Option<(u64, u64, u64)>,
    /// Completions per second since the last line.
    pub ops_per_s: Option<f64>,
    /// Faults in effect now: kind and nodes.
    pub faults: Vec<(String, Vec<String>)>,
}

/// Formats one status line, e.g.
/// `[15s] main 12s/30s | ok 1234 fail 5 info 2 | 210 ops/s | faults: partition n3`.
pub fn status_line(s: &Status) -> String {
    let mut l = format!("[{}] {}", secs(s.elapsed), s.phase);
    if let Some((into, limit)) = s.main {
        let _ = write!(l, " {}/{}", secs(into.min(limit)), secs(limit));
    }
    if let Some((ok, fail, info)) = s.counts {
        let _ = write!(l, " | ok {ok} fail {fail} info {info}");
        if let Some(r) = s.ops_per_s {
            let _ = write!(l, " | {r:.0} ops/s");
        }
        if s.faults.is_empty() {
            l.push_str(" | faults: none");
        } else {
            let f: Vec<String> = s
                .faults
                .iter()
                .map(|(k, n)| if n.is_empty() { k.clone() } else { format!("{k} {}", n.join(" ")) })
                .collect();
            let _ = write!(l, " | faults: {}", f.join(", "));
        }
    }
    l
}

fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Where status goes.
#[derive(Clone, Debug, Default)]
pub enum StatusOut {
    /// A live line when stderr is a terminal, else plain lines on stdout.
    #[default]
    Auto,
    /// A live line in this group (the campaign's), or plain lines off a terminal.
    In(MultiProgress),
    /// Nothing (tests, embedding).
    Off,
}

/// The handle a run sends its events through. Dropping it (or [`Reporter::finish`]) ends the
/// reporter task and clears the live line.
pub struct Reporter {
    /// Events to the reporter task; unbounded so a run never waits on its display.
    tx: Option<mpsc::UnboundedSender<RunEvent>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Reporter {
    /// Starts the reporter task; `time_limit` is the main phase's (`None` for `brawl check`).
    pub fn start(time_limit: Option<Duration>, out: StatusOut) -> Reporter {
        let sink = match out {
            StatusOut::Off => return Reporter { tx: None, task: None },
            StatusOut::Auto if std::io::stderr().is_terminal() => Sink::Bar(bar(None)),
            StatusOut::In(m) if std::io::stderr().is_terminal() => Sink::Bar(bar(Some(m))),
            _ => Sink::Lines,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(report(rx, time_limit, sink));
        Reporter { tx: Some(tx), task: Some(task) }
    }

    /// A reporter that shows nothing.
    pub fn off() -> Reporter {
        Reporter { tx: None, task: None }
    }

    /// Sends `e` (dropped when showing nothing).
    pub fn send(&self, e: RunEvent) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(e);
        }
    }

    /// Enters `p`.
    pub fn phase(&self, p: Phase) {
        self.send(RunEvent::Phase(p));
    }

    /// Ends the task and waits until the live line is cleared.
    pub async fn finish(mut self) {
        self.tx = None;
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

enum Sink {
    Bar(ProgressBar),
    Lines,
}

fn bar(group: Option<MultiProgress>) -> ProgressBar {
    let b = ProgressBar::new_spinner();
    b.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
    match group {
        Some(m) => m.add(b),
        None => b,
    }
}

/// What the task knows.
struct State {
    began: Instant,
    time_limit: Option<Duration>,
    phase: Phase,
    main_began: Option<Instant>,
    /// How long the main phase lasted, once it is over.
    main_lasted: Option<Duration>,
    counts: Option<Arc<OpCounts>>,
    faults: BTreeMap<&'static str, Vec<String>>,
    last: (Instant, u64),
}

impl State {
    fn apply(&mut self, e: RunEvent, now: Instant) {
        match e {
            RunEvent::Phase(p) => {
                if p == Phase::Main {
                    self.main_began = Some(now);
                } else if self.phase == Phase::Main {
                    self.main_lasted = self.main_began.map(|b| now.duration_since(b));
                }
                if matches!(p, Phase::Teardown | Phase::Check | Phase::Report) {
                    // The nemesis teardown healed whatever the final heal did not report.
                    self.faults.clear();
                }
                self.phase = p;
            }
            RunEvent::Counting(c) => self.counts = Some(c),
            RunEvent::FaultDone { f, nodes, failed } => {
                let Some(kind) = FaultKind::of(&f) else { return };
                if kind.stop_fs().contains(&f.as_str()) {
                    self.faults.remove(kind.name());
                } else if kind.start_fs().contains(&f.as_str()) && !failed {
                    self.faults.insert(kind.name(), nodes);
                }
            }
        }
    }

    fn status(&mut self, now: Instant) -> Status {
        let counts = self.counts.as_ref().map(|c| c.get());
        let done = counts.map_or(0, |(a, b, c)| a + b + c);
        let dt = now.duration_since(self.last.0).as_secs_f64();
        let ops_per_s = (counts.is_some() && dt > 0.0).then(|| (done - self.last.1) as f64 / dt);
        self.last = (now, done);
        let into = self.main_lasted.or(self.main_began.map(|b| now.duration_since(b))).unwrap_or_default();
        let main = self.time_limit.map(|limit| (into, limit));
        Status {
            phase: self.phase.name(),
            elapsed: now.duration_since(self.began),
            main,
            counts,
            ops_per_s,
            faults: self.faults.iter().map(|(k, n)| (k.to_string(), n.clone())).collect(),
        }
    }
}

/// One plain line on stdout; a closed stdout (`| head`) is not the run's problem.
fn print_line(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

async fn report(mut rx: mpsc::UnboundedReceiver<RunEvent>, time_limit: Option<Duration>, sink: Sink) {
    let began = Instant::now();
    let mut st = State {
        began,
        time_limit,
        phase: if time_limit.is_some() { Phase::Setup } else { Phase::Reading },
        main_began: None,
        main_lasted: None,
        counts: None,
        faults: BTreeMap::new(),
        last: (began, 0),
    };
    let every = match sink {
        Sink::Bar(_) => BAR_EVERY,
        Sink::Lines => LINE_EVERY,
    };
    let mut tick = tokio::time::interval_at(began + every, every);
    match &sink {
        Sink::Bar(b) => b.set_message(status_line(&st.status(began))),
        Sink::Lines if time_limit.is_some() => print_line(&status_line(&st.status(began))),
        Sink::Lines => {}
    }
    loop {
        tokio::select! {
            e = rx.recv() => match e {
                Some(e) => {
                    let phase_change = matches!(e, RunEvent::Phase(_));
                    st.apply(e, Instant::now());
                    // Off a terminal a run's phase change is worth a line of its own (a quick
                    // `brawl check` stays quiet).
                    if phase_change && time_limit.is_some() && matches!(sink, Sink::Lines) {
                        print_line(&status_line(&st.status(Instant::now())));
                    }
                }
                None => break,
            },
            _ = tick.tick() => match &sink {
                Sink::Bar(b) => b.set_message(status_line(&st.status(Instant::now()))),
                Sink::Lines => print_line(&status_line(&st.status(Instant::now()))),
            },
        }
        if let Sink::Bar(b) = &sink {
            b.tick();
        }
    }
    if let Sink::Bar(b) = sink {
        b.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpType;

    fn d(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_main_phase_line_names_everything() {
        let s = Status {
            phase: "main",
            elapsed: d(15),
            main: Some((d(12), d(30))),
            counts: Some((1234, 5, 2)),
            ops_per_s: Some(210.4),
            faults: vec![("kill".into(), vec!["n1".into()]), ("partition".into(), vec!["n2".into(), "n3".into()])],
        };
        assert_eq!(
            status_line(&s),
            "[15s] main 12s/30s | ok 1234 fail 5 info 2 | 210 ops/s | faults: kill n1, partition n2 n3"
        );
    }

    #[test]
    fn setup_and_check_lines_are_short() {
        let setup = Status { phase: "setup", elapsed: d(3), main: Some((d(0), d(300))), ..Status::default() };
        assert_eq!(status_line(&setup), "[3s] setup 0s/5m00s");
        let check = Status { phase: "check", elapsed: d(75), ..Status::default() };
        assert_eq!(status_line(&check), "[1m15s] check");
        let healed = Status {
            phase: "recovery",
            elapsed: d(40),
            main: Some((d(31), d(30))),
            counts: Some((9, 0, 1)),
            ..Status::default()
        };
        assert_eq!(status_line(&healed), "[40s] recovery 30s/30s | ok 9 fail 0 info 1 | faults: none");
    }

    #[test]
    fn faults_come_and_go_and_counts_are_read_live() {
        let t0 = Instant::now();
        let mut st = State {
            began: t0,
            time_limit: Some(d(30)),
            phase: Phase::Setup,
            main_began: None,
            main_lasted: None,
            counts: None,
            faults: BTreeMap::new(),
            last: (t0, 0),
        };
        assert_eq!(st.status(t0).main, Some((d(0), d(30))));
        st.apply(RunEvent::Phase(Phase::Main), t0);
        let counts = Arc::new(OpCounts::default());
        st.apply(RunEvent::Counting(counts.clone()), t0);
        for k in [OpType::Ok, OpType::Invoke, OpType::Ok, OpType::Fail] {
            counts.count(k);
        }
        st.apply(RunEvent::FaultDone { f: "start-partition".into(), nodes: vec!["n3".into()], failed: false }, t0);
        st.apply(RunEvent::FaultDone { f: "kill".into(), nodes: vec!["n1".into()], failed: true }, t0);
        let s = st.status(t0 + d(2));
        assert_eq!(s.counts, Some((2, 1, 0)), "invocations count nothing");
        assert_eq!(s.ops_per_s, Some(1.5));
        assert_eq!(s.main, Some((d(2), d(30))));
        assert_eq!(s.faults, vec![("partition".to_string(), vec!["n3".to_string()])], "a failed kill is not in effect");
        st.apply(RunEvent::FaultDone { f: "stop-partition".into(), nodes: vec![], failed: false }, t0);
        assert!(st.status(t0 + d(2)).faults.is_empty());
        st.apply(RunEvent::FaultDone { f: "start-partition".into(), nodes: vec!["n1".into()], failed: false }, t0);
        st.apply(RunEvent::Phase(Phase::Recovery), t0 + d(2));
        let s = st.status(t0 + d(7));
        assert_eq!(s.main, Some((d(2), d(30))), "the main phase ended (stopped) after 2 s");
        assert_eq!(s.ops_per_s, Some(0.0));
        assert_eq!(s.phase, "recovery");
        st.apply(RunEvent::Phase(Phase::Teardown), t0 + d(8));
        assert!(st.status(t0 + d(8)).faults.is_empty(), "teardown heals everything");
    }
}
