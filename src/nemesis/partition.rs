//! Network partitions: `start-partition` computes a grudge (from a topology or given
//! explicitly) and makes each node drop inbound packets from the nodes it holds a grudge
//! against, with iptables rules in brawl's own `BRAWL` chain; `stop-partition` flushes that
//! chain. Only traffic between the test's nodes is dropped, never the control node's.

use std::collections::BTreeMap;

use async_trait::async_trait;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::grudge::{self, Grudge, Topology};
use super::net::{self, PARTITION_CHAIN};
use super::spec::PartitionSpec;
use super::{join_errors, FaultOp, FaultRecord, Nemesis, NemesisCtx, NemesisError};

/// The ops a partition nemesis handles.
pub const FS: &[&str] = &["start-partition", "stop-partition"];

/// The partition nemesis (Jepsen's `partitioner`).
pub struct PartitionNemesis {
    spec: PartitionSpec,
    rng: ChaCha8Rng,
}

impl PartitionNemesis {
    /// A nemesis whose `start-partition` without a value uses `spec`'s grudge or topology
    /// (default `one`); random choices come from `seed`.
    pub fn new(spec: PartitionSpec, seed: u64) -> Self {
        PartitionNemesis { spec, rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// The grudge an op asks for: `{"grudge": {...}}`, `{"topology": "..."}`, or the spec's.
    async fn grudge_for(&mut self, ctx: &NemesisCtx, value: &serde_json::Value) -> Result<Grudge, String> {
        let nodes = ctx.node_names();
        let explicit = match value.get("grudge") {
            Some(g) => {
                Some(serde_json::from_value::<BTreeMap<String, Vec<String>>>(g.clone()).map_err(|e| e.to_string())?)
            }
            None if value.get("topology").is_none() => self.spec.grudge.clone(),
            None => None,
        };
        if let Some(g) = explicit {
            grudge::check(&g, &nodes).map_err(|(_, why)| why)?;
            return Ok(g
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect());
        }
        let topology = match value.get("topology") {
            Some(t) => serde_json::from_value::<Topology>(t.clone()).map_err(|e| e.to_string())?,
            None => self.spec.topology.unwrap_or(Topology::One),
        };
        let primaries = if topology == Topology::Primaries { ctx.primaries().await } else { Vec::new() };
        if topology == Topology::Primaries && primaries.is_empty() {
            return Err("the db reports no primaries".into());
        }
        Ok(grudge::topology(topology, &nodes, &primaries, &mut self.rng))
    }

    async fn start(&mut self, ctx: &NemesisCtx, op: &FaultOp) -> FaultRecord {
        let g = match self.grudge_for(ctx, &op.value).await {
            Ok(g) => g,
            Err(e) => return FaultRecord::failed(op, e),
        };
        let results = ctx
            .cluster
            .on_nodes(|node| {
                let mut script = format!("iptables -w -F {PARTITION_CHAIN}");
                if let Some(drops) = g.get(&node.name) {
                    let sources = net::ip_list(&ctx.ips, drops);
                    script.push_str(&format!(" && iptables -w -A {PARTITION_CHAIN} -s {sources} -j DROP"));
                }
                net::run(node, script)
            })
            .await;
        let errors: Vec<(String, String)> =
            results.into_iter().filter_map(|(n, r)| r.err().map(|e| (n, e.to_string()))).collect();
        FaultRecord {
            f: op.f.clone(),
            value: json!({ "grudge": g, "asked": op.value }),
            nodes: g.keys().cloned().collect(),
            error: join_errors(&errors),
        }
    }

    async fn stop(&mut self, ctx: &NemesisCtx, op: &FaultOp) -> FaultRecord {
        let results = ctx.cluster.on_nodes(|node| net::run(node, net::flush_chain(PARTITION_CHAIN))).await;
        let errors: Vec<(String, String)> =
            results.into_iter().filter_map(|(n, r)| r.err().map(|e| (n, e.to_string()))).collect();
        FaultRecord {
            f: op.f.clone(),
            value: json!("network-healed"),
            nodes: ctx.node_names(),
            error: join_errors(&errors),
        }
    }
}

#[async_trait]
impl Nemesis for PartitionNemesis {
    fn fs(&self) -> &'static [&'static str] {
        FS
    }

    async fn setup(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError> {
        for (_, r) in ctx.cluster.on_nodes(|node| net::run(node, net::ensure_chain(PARTITION_CHAIN))).await {
            r?;
        }
        Ok(())
    }

    async fn invoke(&mut self, ctx: &NemesisCtx, op: &FaultOp) -> FaultRecord {
        match op.f.as_str() {
            "start-partition" => self.start(ctx, op).await,
            "stop-partition" => self.stop(ctx, op).await,
            other => FaultRecord::failed(op, format!("the partition nemesis does not handle {other:?}")),
        }
    }

    async fn teardown(&mut self, ctx: &NemesisCtx) -> Result<(), NemesisError> {
        let mut first = Ok(());
        for (_, r) in ctx.cluster.on_nodes(|node| net::run(node, net::remove_chain(PARTITION_CHAIN))).await {
            if let (Err(e), true) = (r, first.is_ok()) {
                first = Err(e);
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::testkit;

    #[tokio::test]
    async fn a_partition_lifecycle_runs_exactly_these_commands() {
        let (ctx, fakes) = testkit::ctx(5);
        let mut n = PartitionNemesis::new(PartitionSpec::default(), 1);
        n.setup(&ctx).await.expect("setup");
        let rec = n.invoke(&ctx, &FaultOp::new("start-partition", json!({"topology": "halves"}))).await;
        assert_eq!(rec.error, None);
        assert_eq!(rec.value["grudge"]["n1"], json!(["n3", "n4", "n5"]));
        n.invoke(&ctx, &FaultOp::new("stop-partition", json!(null))).await;
        n.teardown(&ctx).await.expect("teardown");
        n.teardown(&ctx).await.expect("teardown twice");
        insta::assert_snapshot!(testkit::log(&fakes[..2]));
    }

    #[tokio::test]
    async fn an_explicit_grudge_is_applied_one_way_and_checked() {
        let (ctx, fakes) = testkit::ctx(3);
        let mut n = PartitionNemesis::new(PartitionSpec::default(), 1);
        let rec = n.invoke(&ctx, &FaultOp::new("start-partition", json!({"grudge": {"n1": ["n2", "n3"]}}))).await;
        assert_eq!(rec.nodes, ["n1"]);
        assert_eq!(
            fakes[0].commands(),
            ["sudo iptables -w -F BRAWL && iptables -w -A BRAWL -s 10.0.0.2,10.0.0.3 -j DROP"]
        );
        assert_eq!(fakes[1].commands(), ["sudo iptables -w -F BRAWL"]);
        let rec = n.invoke(&ctx, &FaultOp::new("start-partition", json!({"grudge": {"n1": ["n7"]}}))).await;
        assert!(rec.error.as_deref().unwrap_or_default().contains("unknown node \"n7\""), "{rec:?}");
    }

    #[tokio::test]
    async fn a_failing_node_is_reported_in_the_record() {
        let (ctx, fakes) = testkit::ctx(3);
        fakes[2].answer("iptables", 4, "");
        let mut n = PartitionNemesis::new(PartitionSpec::default(), 1);
        let rec = n.invoke(&ctx, &FaultOp::new("start-partition", json!({"topology": "one"}))).await;
        assert!(rec.error.as_deref().unwrap_or_default().starts_with("n3: command on n3 exited with 4"), "{rec:?}");
    }
}
