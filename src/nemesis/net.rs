//! The iptables and tc command lines brawl's network faults share. Brawl writes rules only into
//! chains of its own (`BRAWL` for partitions, `BRAWL-PKT` for packet loss), hooked into INPUT,
//! so healing never touches rules brawl did not write.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::cluster::Node;
use crate::control::{CmdOutput, RemoteCommand};

use super::NemesisError;

/// The chain that holds partition drops.
pub const PARTITION_CHAIN: &str = "BRAWL";
/// The chain that holds packet-loss drops.
pub const PACKET_CHAIN: &str = "BRAWL-PKT";
/// Handle of the root `prio` qdisc brawl adds for netem; heal removes a root qdisc only with it.
pub const QDISC_HANDLE: &str = "b7a:";
/// Handle of brawl's netem qdisc, under band 4 of the prio qdisc.
pub const NETEM_HANDLE: &str = "b7b:";

/// Creates `chain` if missing, hooks it into INPUT once, and empties it.
pub fn ensure_chain(chain: &str) -> String {
    format!(
        "iptables -w -N {chain} 2>/dev/null || true; \
         iptables -w -C INPUT -j {chain} 2>/dev/null || iptables -w -I INPUT -j {chain}; \
         iptables -w -F {chain}"
    )
}

/// Empties `chain` when it exists (a heal: only brawl's own rules go).
pub fn flush_chain(chain: &str) -> String {
    format!("! iptables -w -n -L {chain} >/dev/null 2>&1 || iptables -w -F {chain}")
}

/// Empties `chain`, unhooks it from INPUT (every copy of the hook) and deletes it; prints
/// `removed iptables chain <chain>` when there was one.
pub fn remove_chain(chain: &str) -> String {
    format!(
        "if iptables -w -n -L {chain} >/dev/null 2>&1; then \
         iptables -w -F {chain}; \
         while iptables -w -D INPUT -j {chain} 2>/dev/null; do :; done; \
         iptables -w -X {chain} && echo 'removed iptables chain {chain}'; fi"
    )
}

/// `ip1,ip2` for these nodes, in the given order; unknown nodes are skipped.
pub fn ip_list<'a>(ips: &BTreeMap<String, IpAddr>, nodes: impl IntoIterator<Item = &'a String>) -> String {
    nodes.into_iter().filter_map(|n| ips.get(n)).map(|ip| ip.to_string()).collect::<Vec<_>>().join(",")
}

/// The shell expression for the interface the node reaches `ip` through. Not simply the first
/// one: a Vagrant VM has its management NIC first and the network between the nodes second.
pub fn route_dev(ip: &IpAddr) -> String {
    format!("$(ip -o route get {ip} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')")
}

/// The shell loop head over every interface of the node (`$dev`).
pub const EACH_DEV: &str = "for dev in $(ls /sys/class/net); do";

/// Runs a root shell command on a node, checked and safe to retry.
pub async fn run(node: &Node, script: String) -> Result<CmdOutput, NemesisError> {
    Ok(node.remote.exec(&RemoteCommand::new(script).sudo().idempotent()).await?)
}

/// The probe for netem: add a netem root qdisc on `lo` and remove it again. Prints `netem ok`,
/// or tc's complaint (`Error: Specified qdisc kind is unknown.` on kernels without netem).
pub const NETEM_PROBE: &str =
    "command -v tc >/dev/null || { echo 'tc is not installed (Debian package iproute2)'; exit 3; }; \
     if out=$(tc qdisc add dev lo root handle b7c: netem delay 0ms 2>&1); then \
     tc qdisc del dev lo root handle b7c: && echo 'netem ok'; else echo \"$out\"; exit 2; fi";

/// Why the probe's output means netem is missing, in words for users.
pub fn netem_why(out: &CmdOutput) -> String {
    let said = format!("{} {}", out.stdout.trim(), out.stderr.trim()).trim().to_string();
    if said.contains("qdisc kind is unknown") || said.contains("Unknown qdisc") {
        format!("this kernel has no netem qdisc (sch_netem); tc said: {said}")
    } else {
        format!("adding a netem qdisc failed: {said}")
    }
}
