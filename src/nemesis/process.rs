//! Process faults through the db's capabilities: `kill`/`start` (SIGKILL and restart, Jepsen's
//! `Kill`) and `pause`/`resume` (SIGSTOP/SIGCONT, Jepsen's `Pause`). Each op value may name
//! `targets`; `start` and `resume` without one act on the nodes this nemesis took down.
//! Crash-stop versus crash-recovery is the schedule's business (`restart: never | after`).

use std::collections::BTreeSet;

use async_trait::async_trait;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::targets::{resolve, Targets};
use super::{join_errors, FaultOp, FaultRecord, Nemesis, NemesisCtx, NemesisError};

/// The ops a kill nemesis handles.
pub const KILL_FS: &[&str] = &["kill", "start"];
/// The ops a pause nemesis handles.
pub const PAUSE_FS: &[&str] = &["pause", "resume"];

/// Kill/start or pause/resume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// SIGKILL, then start.
    Kill,
    /// SIGSTOP, then SIGCONT.
    Pause,
}

/// The kill or pause nemesis.
pub struct ProcessNemesis {
    mode: Mode,
    targets: Targets,
    rng: ChaCha8Rng,
    /// The nodes this nemesis killed or paused and has not brought back yet.
    down: BTreeSet<String>,
}

impl ProcessNemesis {
    /// A nemesis of this mode whose fault without a value hits `targets`; choices from `seed`.
    pub fn new(mode: Mode, targets: Targets, seed: u64) -> Self {
        ProcessNemesis { mode, targets, rng: ChaCha8Rng::seed_from_u64(seed), down: BTreeSet::new() }
    }

    fn names(&self) -> (&'static str, &'static str) {
        match self.mode {
            Mode::Kill => ("kill", "start"),
            Mode::Pause => ("pause", "resume"),
        }
    }

    /// Applies the fault (`fault` true) or undoes it on `nodes`, returning per-node errors.
    async fn apply(&self, ctx: &NemesisCtx, nodes: &[String], fault: bool) -> Vec<(String, String)> {
        let Ok(sub) = ctx.cluster.subset(nodes) else {
            return vec![("*".into(), format!("unknown nodes among {nodes:?}"))];
        };
        let (process, pause) = (ctx.db.as_process(), ctx.db.as_pause());
        let missing = match self.mode {
            Mode::Kill => process.is_none(),
            Mode::Pause => pause.is_none(),
        };
        if missing {
            return vec![("*".into(), format!("the {} db cannot {}", ctx.db.name(), self.names().0))];
        }
        let results = sub
            .on_nodes(|node| async move {
                match (process, pause, fault) {
                    (Some(p), _, true) if self.mode == Mode::Kill => p.kill(node).await,
                    (Some(p), _, false) if self.mode == Mode::Kill => p.start(&ctx.cluster, node).await,
                    (_, Some(p), true) => p.pause(node).await,
                    (_, Some(p), false) => p.resume(node).await,
                    _ => Ok(()),
                }
            })
            .await;
        results.into_iter().filter_map(|(n, r)| r.err().map(|e| (n, e.to_string()))).collect()
    }

    async fn targets_of(&mut self, ctx: &NemesisCtx, value: &serde_json::Value) -> Result<Option<Vec<String>>, String> {
        let Some(t) = value.get("targets") else { return Ok(None) };
        let t: Targets = serde_json::from_value(t.clone()).map_err(|e| format!("invalid targets: {e}"))?;
        let primaries = if t == Targets::Primaries { ctx.primaries().await } else { Vec::new() };
        Ok(Some(resolve(&t, &ctx.node_names(), &primaries, &mut self.rng)))
    }
}

#[async_trait]
impl Nemesis for ProcessNemesis {
    fn fs(&self) -> &'static [&'static str] {
        match self.mode {
            Mode::Kill => KILL_FS,
            Mode::Pause => PAUSE_FS,
        }
    }

    async fn setup(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError> {
        let (db, ok) = (ctx.db.name(), ctx.db.as_process().is_some());
        match self.mode {
            Mode::Kill if !ok => {
                Err(NemesisError::Capability { db, capability: "kill and start processes", nemesis: "kill" })
            }
            Mode::Pause if ctx.db.as_pause().is_none() => {
                Err(NemesisError::Capability { db, capability: "pause and resume processes", nemesis: "pause" })
            }
            _ => Ok(()),
        }
    }

    async fn invoke(&mut self, ctx: &NemesisCtx, op: &FaultOp) -> FaultRecord {
        let (fault_f, heal_f) = self.names();
        let asked = match self.targets_of(ctx, &op.value).await {
            Ok(t) => t,
            Err(e) => return FaultRecord::failed(op, e),
        };
        let (nodes, fault) = if op.f == fault_f {
            let nodes = match asked {
                Some(n) => n,
                None => {
                    let primaries = if self.targets == Targets::Primaries { ctx.primaries().await } else { Vec::new() };
                    resolve(&self.targets, &ctx.node_names(), &primaries, &mut self.rng)
                }
            };
            (nodes, true)
        } else if op.f == heal_f {
            (asked.unwrap_or_else(|| self.down.iter().cloned().collect()), false)
        } else {
            return FaultRecord::failed(op, format!("the {fault_f} nemesis does not handle {:?}", op.f));
        };
        if nodes.is_empty() {
            return FaultRecord { f: op.f.clone(), value: json!({}), nodes, error: None };
        }
        let errors = self.apply(ctx, &nodes, fault).await;
        let failed: BTreeSet<&String> = errors.iter().map(|(n, _)| n).collect();
        let done: Vec<String> = nodes.iter().filter(|n| !failed.contains(n)).cloned().collect();
        for n in &done {
            if fault {
                self.down.insert(n.clone());
            } else {
                self.down.remove(n);
            }
        }
        let key = match (op.f.as_str(), fault) {
            ("kill", _) => "killed",
            ("start", _) => "started",
            (_, true) => "paused",
            (_, false) => "resumed",
        };
        FaultRecord { f: op.f.clone(), value: json!({ key: done }), nodes, error: join_errors(&errors) }
    }

    /// Brings back every node: restarts all for kill (start is a no-op where it runs), resumes
    /// all for pause.
    async fn teardown(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError> {
        let all = ctx.node_names();
        let errors = self.apply(ctx, &all, false).await;
        self.down.clear();
        match join_errors(&errors) {
            None => Ok(()),
            Some(e) => Err(NemesisError::Refused { what: format!("{} teardown", self.names().1), why: e }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::testkit;

    #[tokio::test]
    async fn kill_then_start_brings_back_the_killed_nodes() {
        let (ctx, fakes) = testkit::ctx(5);
        let mut n = ProcessNemesis::new(Mode::Kill, Targets::Minority, 3);
        n.setup(&ctx).await.expect("setup");
        let rec = n.invoke(&ctx, &FaultOp::new("kill", json!(null))).await;
        assert_eq!(rec.nodes.len(), 2);
        assert_eq!(rec.value["killed"], json!(rec.nodes));
        let started = n.invoke(&ctx, &FaultOp::new("start", json!(null))).await;
        assert_eq!(started.nodes, rec.nodes);
        assert_eq!(started.value["started"], json!(rec.nodes));
        let rec = n.invoke(&ctx, &FaultOp::new("kill", json!({"targets": "primaries"}))).await;
        assert_eq!(rec.nodes, ["n1"]);
        n.teardown(&ctx).await.expect("teardown");
        insta::assert_snapshot!(testkit::log(&fakes));
    }

    #[tokio::test]
    async fn pause_and_resume_signal_through_the_db() {
        let (ctx, fakes) = testkit::ctx(3);
        let mut n = ProcessNemesis::new(Mode::Pause, Targets::One, 1);
        let rec = n.invoke(&ctx, &FaultOp::new("pause", json!({"targets": {"nodes": ["n2"]}}))).await;
        assert_eq!((rec.nodes.as_slice(), &rec.value), (&["n2".to_string()][..], &json!({"paused": ["n2"]})));
        let rec = n.invoke(&ctx, &FaultOp::new("resume", json!(null))).await;
        assert_eq!(rec.value, json!({"resumed": ["n2"]}));
        assert_eq!(fakes[1].commands(), ["fake-db pause", "fake-db resume"]);
        assert!(fakes[0].commands().is_empty());
    }
}
