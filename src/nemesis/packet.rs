//! Packet faults: `start-packet` makes the target nodes lose (iptables statistic match in the
//! `BRAWL-PKT` chain, inbound from their peers), delay, duplicate or reorder packets, or limit
//! their rate (tc netem on egress to their peers, Jepsen's prio/netem/u32 layout).
//! `stop-packet` removes both. Netem is probed at setup: a kernel without it is an
//! `Unsupported` error when the spec needs it, and a failed op when only a timeline asks for it,
//! never a silent no-op.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::net::{self, EACH_DEV, NETEM_HANDLE, PACKET_CHAIN, QDISC_HANDLE};
use super::spec::PacketSpec;
use super::targets::{resolve, Targets};
use super::{join_errors, FaultOp, FaultRecord, Nemesis, NemesisCtx, NemesisError};
use crate::cluster::Node;
use crate::control::RemoteCommand;

/// The ops a packet nemesis handles.
pub const FS: &[&str] = &["start-packet", "stop-packet"];

/// Netem's delay when `reorder` is asked without one (reordering needs delayed packets).
const REORDER_DELAY_MS: u64 = 50;

/// What `start-packet` does to the targets' traffic; the op value carries these plus `targets`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Behaviours {
    /// Which nodes (default: a random subset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Targets>,
    /// Probability (0..1) of dropping each inbound packet from a peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Extra latency to peers, in milliseconds (netem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Probability of duplicating a packet (netem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<f64>,
    /// Probability of sending a packet ahead of delayed ones (netem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder: Option<f64>,
    /// Rate limit, in tc's units (`1mbit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
}

impl Behaviours {
    /// The behaviours a spec asks for.
    pub fn from_spec(spec: &PacketSpec) -> Self {
        Behaviours {
            targets: spec.targets.clone(),
            loss: spec.loss,
            delay_ms: spec.delay.map(|d| d.as_millis() as u64),
            duplicate: spec.duplicate,
            reorder: spec.reorder,
            rate: spec.rate.clone(),
        }
    }

    /// netem's arguments (`delay 50ms duplicate 10%`), or `None` when only loss is asked.
    pub fn netem_args(&self) -> Option<String> {
        let mut args = Vec::new();
        let delay = self.delay_ms.or(self.reorder.map(|_| REORDER_DELAY_MS));
        if let Some(d) = delay {
            args.push(format!("delay {d}ms"));
        }
        if let Some(p) = self.duplicate {
            args.push(format!("duplicate {}%", pct(p)));
        }
        if let Some(p) = self.reorder {
            args.push(format!("reorder {}%", pct(p)));
        }
        if let Some(r) = &self.rate {
            args.push(format!("rate {r}"));
        }
        (!args.is_empty()).then(|| args.join(" "))
    }
}

fn pct(p: f64) -> String {
    format!("{}", (p * 1e6).round() / 1e4)
}

/// The packet nemesis.
pub struct PacketNemesis {
    spec: PacketSpec,
    rng: ChaCha8Rng,
    /// Per node: `None` when netem works, else why not (filled at setup).
    netem: BTreeMap<String, Option<String>>,
}

impl PacketNemesis {
    /// A nemesis whose `start-packet` without a value uses `spec`; random choices from `seed`.
    pub fn new(spec: PacketSpec, seed: u64) -> Self {
        PacketNemesis { spec, rng: ChaCha8Rng::seed_from_u64(seed), netem: BTreeMap::new() }
    }

    /// Runs the netem probe on a node: `None` when netem works, else why not.
    async fn probe(node: &Node) -> Result<Option<String>, NemesisError> {
        let out = node.remote.exec(&RemoteCommand::new(net::NETEM_PROBE).sudo().unchecked()).await?;
        Ok(if out.success() { None } else { Some(net::netem_why(&out)) })
    }

    fn shape_script(&self, b: &Behaviours, peers: &[String], ctx: &NemesisCtx) -> String {
        let mut s = format!("iptables -w -F {PACKET_CHAIN}");
        if let Some(p) = b.loss {
            let sources = net::ip_list(&ctx.ips, peers);
            s.push_str(&format!(
                " && iptables -w -A {PACKET_CHAIN} -s {sources} -m statistic --mode random --probability {p} -j DROP"
            ));
        }
        if let Some(args) = b.netem_args() {
            s.push_str(&format!(" && {{ {}; }}", del_all_qdiscs()));
            // Each peer through the interface that routes to it, with one prio + netem per interface.
            for peer in peers.iter().filter_map(|p| ctx.ips.get(p)) {
                s.push_str(&format!(
                    " && dev={} && {{ tc qdisc show dev $dev | grep -q 'qdisc prio {QDISC_HANDLE} root' \
                     || {{ tc qdisc add dev $dev root handle {QDISC_HANDLE} prio bands 4 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1 \
                     && tc qdisc add dev $dev parent {QDISC_HANDLE}4 handle {NETEM_HANDLE} netem {args}; }}; }} \
                     && tc filter add dev $dev parent {QDISC_HANDLE}0 protocol ip prio 1 u32 match ip dst {peer}/32 flowid {QDISC_HANDLE}4",
                    net::route_dev(peer)
                ));
            }
        }
        s
    }

    async fn start(&mut self, ctx: &NemesisCtx, op: &FaultOp) -> FaultRecord {
        let b = if op.value.is_null() {
            Behaviours::from_spec(&self.spec)
        } else {
            match serde_json::from_value::<Behaviours>(op.value.clone()) {
                Ok(b) => b,
                Err(e) => return FaultRecord::failed(op, format!("invalid start-packet value: {e}")),
            }
        };
        let nodes = ctx.node_names();
        let targets =
            resolve(b.targets.as_ref().unwrap_or(&Targets::Random), &nodes, &ctx.primaries().await, &mut self.rng);
        if b.netem_args().is_some() {
            let unsupported: Vec<(String, String)> = targets
                .iter()
                .filter_map(|n| self.netem.get(n).cloned().flatten().map(|why| (n.clone(), why)))
                .collect();
            if let Some(e) = join_errors(&unsupported) {
                return FaultRecord::failed(
                    op,
                    format!("packet delay/duplicate/reorder/rate (tc netem) unsupported: {e}"),
                );
            }
        }
        let scripts: BTreeMap<String, String> = targets
            .iter()
            .map(|t| {
                let peers: Vec<String> = nodes.iter().filter(|n| *n != t).cloned().collect();
                (t.clone(), self.shape_script(&b, &peers, ctx))
            })
            .collect();
        let results = ctx
            .cluster
            .on_nodes(|node| {
                let script = scripts.get(&node.name).cloned();
                async move {
                    match script {
                        Some(s) => net::run(node, s).await.map(|_| ()),
                        None => Ok(()),
                    }
                }
            })
            .await;
        let errors: Vec<(String, String)> =
            results.into_iter().filter_map(|(n, r)| r.err().map(|e| (n, e.to_string()))).collect();
        let mut value = serde_json::to_value(&b).unwrap_or_default();
        value["targets"] = json!(targets);
        FaultRecord { f: op.f.clone(), value, nodes: targets, error: join_errors(&errors) }
    }

    async fn stop(&mut self, ctx: &NemesisCtx, op: &FaultOp) -> FaultRecord {
        let script = format!("{} && {{ {}; }}", net::flush_chain(PACKET_CHAIN), del_all_qdiscs());
        let results = ctx.cluster.on_nodes(|node| net::run(node, script.clone())).await;
        let errors: Vec<(String, String)> =
            results.into_iter().filter_map(|(n, r)| r.err().map(|e| (n, e.to_string()))).collect();
        FaultRecord {
            f: op.f.clone(),
            value: json!("packets-healed"),
            nodes: ctx.node_names(),
            error: join_errors(&errors),
        }
    }
}

/// Deletes brawl's root qdisc from every interface that has one.
fn del_all_qdiscs() -> String {
    format!("{EACH_DEV} {} || exit 1; done", del_qdisc("$dev"))
}

/// Deletes the root qdisc of `dev` only when it is brawl's (handle `b7a:`).
pub fn del_qdisc(dev: &str) -> String {
    format!(
        "! command -v tc >/dev/null || ! tc qdisc show dev {dev} | grep -q 'qdisc prio {QDISC_HANDLE} root' \
         || tc qdisc del dev {dev} root"
    )
}

#[async_trait]
impl Nemesis for PacketNemesis {
    fn fs(&self) -> &'static [&'static str] {
        FS
    }

    async fn setup(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError> {
        for (_, r) in ctx.cluster.on_nodes(|node| net::run(node, net::ensure_chain(PACKET_CHAIN))).await {
            r?;
        }
        let needs = Behaviours::from_spec(&self.spec).netem_args().is_some();
        for (node, r) in ctx.cluster.on_nodes(Self::probe).await {
            let why = r?;
            if let (true, Some(why)) = (needs, &why) {
                return Err(NemesisError::Unsupported {
                    node,
                    what: "packet delay/duplicate/reorder/rate (tc netem)".into(),
                    why: why.clone(),
                });
            }
            self.netem.insert(node, why);
        }
        Ok(())
    }

    async fn invoke(&mut self, ctx: &NemesisCtx, op: &FaultOp) -> FaultRecord {
        match op.f.as_str() {
            "start-packet" => self.start(ctx, op).await,
            "stop-packet" => self.stop(ctx, op).await,
            other => FaultRecord::failed(op, format!("the packet nemesis does not handle {other:?}")),
        }
    }

    async fn teardown(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError> {
        let script = format!("{}; {}", net::remove_chain(PACKET_CHAIN), del_all_qdiscs());
        let mut first = Ok(());
        for (_, r) in ctx.cluster.on_nodes(|node| net::run(node, script.clone())).await {
            if let (Err(e), true) = (r, first.is_ok()) {
                first = Err(e);
            }
        }
        first
    }
}

/// The nodes that lack netem, from a setup probe (for reports).
pub fn without_netem(n: &PacketNemesis) -> BTreeSet<String> {
    n.netem.iter().filter(|(_, why)| why.is_some()).map(|(n, _)| n.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::testkit;
    use std::time::Duration;

    fn spec(loss: Option<f64>, delay: Option<Duration>) -> PacketSpec {
        PacketSpec { targets: Some(Targets::Nodes(vec!["n1".into()])), loss, delay, ..Default::default() }
    }

    #[tokio::test]
    async fn loss_uses_the_statistic_match_from_the_targets_peers() {
        let (ctx, fakes) = testkit::ctx(3);
        let mut n = PacketNemesis::new(spec(Some(0.2), None), 1);
        n.setup(&ctx).await.expect("setup");
        let rec = n.invoke(&ctx, &FaultOp::new("start-packet", json!(null))).await;
        assert_eq!((rec.nodes.as_slice(), rec.error.as_deref()), (&["n1".to_string()][..], None));
        n.invoke(&ctx, &FaultOp::new("stop-packet", json!(null))).await;
        n.teardown(&ctx).await.expect("teardown");
        insta::assert_snapshot!(testkit::log(&fakes[..2]));
    }

    #[tokio::test]
    async fn delay_builds_jepsens_prio_netem_layout() {
        let (ctx, fakes) = testkit::ctx(3);
        let mut n = PacketNemesis::new(spec(None, Some(Duration::from_millis(50))), 1);
        n.setup(&ctx).await.expect("setup");
        let before = testkit::marks(&fakes);
        let v =
            json!({"targets": {"nodes": ["n1"]}, "delay-ms": 50, "duplicate": 0.1, "reorder": 0.25, "rate": "1mbit"});
        let rec = n.invoke(&ctx, &FaultOp::new("start-packet", v)).await;
        assert_eq!(rec.error, None);
        insta::assert_snapshot!(testkit::log_since(&fakes, &before));
    }

    #[tokio::test]
    async fn a_kernel_without_netem_is_a_clear_error_never_a_no_op() {
        let (ctx, fakes) = testkit::ctx(2);
        for f in &fakes {
            f.answer("netem delay 0ms", 2, "Error: Specified qdisc kind is unknown.");
        }
        let err = PacketNemesis::new(spec(None, Some(Duration::from_millis(50))), 1).setup(&ctx).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "packet delay/duplicate/reorder/rate (tc netem) is not supported on n1: this kernel has no netem qdisc \
             (sch_netem); tc said: Error: Specified qdisc kind is unknown."
        );
        // Loss alone needs no netem; a timeline asking for delay then gets a failed op.
        let mut n = PacketNemesis::new(spec(Some(0.1), None), 1);
        n.setup(&ctx).await.expect("loss needs no netem");
        assert_eq!(without_netem(&n).len(), 2);
        let rec = n.invoke(&ctx, &FaultOp::new("start-packet", json!({"targets": "all", "delay-ms": 5}))).await;
        assert!(rec.error.as_deref().unwrap_or_default().contains("no netem qdisc"), "{rec:?}");
    }

    #[test]
    fn netem_args_add_a_delay_for_reorder() {
        let b = Behaviours { reorder: Some(0.2), ..Default::default() };
        assert_eq!(b.netem_args().as_deref(), Some("delay 50ms reorder 20%"));
        assert_eq!(Behaviours { loss: Some(0.5), ..Default::default() }.netem_args(), None);
    }
}
