//! Healing a node after a crashed brawl, with no state from the run: remove brawl's iptables
//! chains and netem qdisc, SIGCONT stopped processes, stop clock strobes, zero faketime offsets
//! and, where the system clock strategy left its marker, put the clock back and restart the
//! time service. Everything it changes is printed by the node and returned.

use crate::cluster::{Cluster, Node};
use crate::control::RemoteCommand;

use super::clock::{self, CLOCK_DIR, OFFSET_FILE, SYSTEM_MARKER};
use super::net::{self, PACKET_CHAIN, PARTITION_CHAIN, QDISC_HANDLE};
use super::NemesisError;

/// What healing changed on one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealReport {
    /// The node's name.
    pub node: String,
    /// One line per change (`removed iptables chain BRAWL`, `resumed stopped process 812 (etcd)`);
    /// empty when the node was already clean.
    pub changed: Vec<String>,
}

/// The script `heal_node` runs (as root); each change prints one line.
pub fn heal_script() -> String {
    let chains = [PARTITION_CHAIN, PACKET_CHAIN].map(net::remove_chain).join("; ");
    [
        format!("if command -v iptables >/dev/null; then {chains}; fi"),
        format!(
            "if command -v tc >/dev/null; then for dev in $(ls /sys/class/net); do \
             if tc qdisc show dev $dev 2>/dev/null | grep -q 'qdisc prio {QDISC_HANDLE} root'; then \
             tc qdisc del dev $dev root && echo \"removed brawl netem qdisc on $dev\"; fi; done; fi"
        ),
        "for f in /proc/[0-9]*/status; do if grep -qs '^State:[[:space:]]*T' $f; then p=${f#/proc/}; p=${p%/status}; \
         kill -CONT $p 2>/dev/null && echo \"resumed stopped process $p ($(cat /proc/$p/comm 2>/dev/null))\"; fi; done"
            .to_string(),
        clock::kill_strobe(),
        format!(
            "if [ -f {OFFSET_FILE} ] && [ \"$(cat {OFFSET_FILE})\" != '+0' ]; then old=$(cat {OFFSET_FILE}); \
             printf '+0\\n' > {OFFSET_FILE}.tmp && mv -f {OFFSET_FILE}.tmp {OFFSET_FILE} && echo \"reset faketime offset $old to +0\"; fi"
        ),
        format!("if [ -f {SYSTEM_MARKER} ]; then {}; {}; fi", clock::undo_system_offset(), clock::restore_time_services()),
        format!("rm -f {CLOCK_DIR}/strobe-high; true"),
    ]
    .join("\n")
}

/// Heals one node; needs nothing from the run that made the mess.
pub async fn heal_node(node: &Node) -> Result<HealReport, NemesisError> {
    let out = node.remote.exec(&RemoteCommand::new(heal_script()).sudo().idempotent()).await?;
    let changed = out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    Ok(HealReport { node: node.name.clone(), changed })
}

/// Heals every node at once; a node that fails does not stop the others.
pub async fn heal_cluster(cluster: &Cluster) -> Vec<Result<HealReport, NemesisError>> {
    cluster.on_nodes(heal_node).await.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::testkit;

    #[tokio::test]
    async fn heal_reports_what_the_node_changed() {
        let (ctx, fakes) = testkit::ctx(2);
        fakes[0].answer("iptables", 0, "removed iptables chain BRAWL\nresumed stopped process 42 (etcd)\n");
        let reports = heal_cluster(&ctx.cluster).await;
        let r0 = reports[0].as_ref().expect("healed");
        assert_eq!(r0.changed, ["removed iptables chain BRAWL", "resumed stopped process 42 (etcd)"]);
        assert!(reports[1].as_ref().expect("healed").changed.is_empty());
        insta::assert_snapshot!(testkit::log(&fakes[..1]));
    }
}
