//! Healing a node after a crashed brawl, with no state from the run: remove brawl's iptables
//! chains and netem qdisc, SIGCONT stopped processes, stop clock strobes, zero faketime offsets
//! and, where the system clock strategy left its marker, set the clock to the control node's time
//! (`clock::sync`, verified) and restart the time service. Everything it changes is printed by
//! the node and returned.

use crate::cluster::{Cluster, Node};
use crate::control::RemoteCommand;

use super::clock::{self, sync, CLOCK_DIR, OFFSET_FILE, SYSTEM_MARKER};
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

/// The line `heal_script` prints when the system clock strategy's marker is on the node: the
/// clock is then set from the control node, which a script on the node cannot do.
pub const SYSTEM_CLOCK_LINE: &str = "brawl: system clock strategy in use";

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
        format!("if [ -f {SYSTEM_MARKER} ]; then echo '{SYSTEM_CLOCK_LINE}'; fi"),
        format!("{}; rm -f {CLOCK_DIR}/strobe-stop; true", clock::clear_old_records()),
    ]
    .join("\n")
}

/// Heals one node; needs nothing from the run that made the mess.
pub async fn heal_node(node: &Node) -> Result<HealReport, NemesisError> {
    heal_node_with(node, &sync::system_now()).await
}

/// As `heal_node`, with the control node's clock given (tests). The time services are restarted
/// even when the clock could not be set, and the error says so.
pub async fn heal_node_with(node: &Node, now: &sync::Now) -> Result<HealReport, NemesisError> {
    let out = node.remote.exec(&RemoteCommand::new(heal_script()).sudo().idempotent()).await?;
    let mut lines: Vec<String> =
        out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    let system_clock = lines.iter().any(|l| l == SYSTEM_CLOCK_LINE);
    lines.retain(|l| l != SYSTEM_CLOCK_LINE);
    if !system_clock {
        return Ok(HealReport { node: node.name.clone(), changed: lines });
    }
    let synced = sync::sync_node(node, now).await;
    if let Ok(s) = &synced {
        lines.push(s.describe());
    }
    let out = node.remote.exec(&RemoteCommand::new(clock::restore_time_services()).sudo().idempotent()).await?;
    lines.extend(out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from));
    match synced {
        Ok(_) => Ok(HealReport { node: node.name.clone(), changed: lines }),
        Err(reason) => Err(NemesisError::Clock { node: node.name.clone(), reason }),
    }
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

    #[tokio::test]
    async fn issue_10_heal_sets_a_system_clock_from_the_control_node() {
        let (ctx, fakes) = testkit::ctx(1);
        fakes[0].answer("iptables", 0, &format!("removed iptables chain BRAWL\n{SYSTEM_CLOCK_LINE}\n"));
        fakes[0].answer("stopped-services", 0, "restarted chrony\n");
        fakes[0].answer("date +%s.%N", 0, sync::tests::NODE_TIME);
        let now = sync::tests::scripted(vec![(2 * sync::SAMPLES, 1880), (1, 0)]);
        let r = heal_node_with(&ctx.cluster.nodes()[0], &now).await.expect("healed");
        assert_eq!(r.changed.len(), 3, "{:?}", r.changed);
        assert_eq!(r.changed[0], "removed iptables chain BRAWL");
        assert!(r.changed[1].starts_with("set the clock to the control node's time: was +1.880s off, now +0.000s"));
        assert_eq!(r.changed[2], "restarted chrony");
        let log = testkit::log(&fakes);
        assert!(log.contains("; step -1880000000"), "{log}");
        // A clock that stays off is an error, after the time services are back.
        let now = sync::tests::scripted(vec![(1, 1880)]);
        let err = heal_node_with(&ctx.cluster.nodes()[0], &now).await.unwrap_err().to_string();
        assert!(err.starts_with("resetting the clock of n1: n1 is still +1.880s off"), "{err}");
        assert!(fakes[0].commands().last().is_some_and(|c| c.contains("stopped-services")));
    }
}
