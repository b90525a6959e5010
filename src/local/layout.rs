//! `Layout`: the names, addresses and paths of one local cluster, all derived from its name, and
//! `State`, what `up` recorded in `<home>/clusters/<name>/state.json`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LocalError;

/// Where local clusters keep their state: `$BRAWL_HOME`, else `/var/lib/brawl`.
pub fn home() -> PathBuf {
    std::env::var_os("BRAWL_HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lib/brawl"))
}

/// Names and paths of one local cluster.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The cluster's name.
    pub name: String,
    /// Six hex digits hashed from the name; prefixes every link (interface names are ≤ 15 bytes).
    pub tag: String,
    /// The cluster's state directory.
    pub dir: PathBuf,
}

impl Layout {
    /// The layout of cluster `name`, after checking the name.
    pub fn new(name: &str) -> Result<Self, LocalError> {
        let ok = !name.is_empty()
            && name.len() <= 20
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-');
        if !ok {
            return Err(LocalError::BadName { name: name.to_string() });
        }
        Ok(Layout {
            name: name.to_string(),
            tag: format!("{:06x}", fnv1a(name) & 0xff_ffff),
            dir: home().join("clusters").join(name),
        })
    }

    /// The network namespace of node `i` (1-based).
    pub fn netns(&self, i: usize) -> String {
        format!("brawl-{}-n{i}", self.name)
    }

    /// The prefix of this cluster's namespaces.
    pub fn netns_prefix(&self) -> String {
        format!("brawl-{}-n", self.name)
    }

    /// The bridge that joins the nodes and the control node.
    pub fn bridge(&self) -> String {
        format!("bw{}", self.tag)
    }

    /// The host end of node `i`'s veth pair.
    pub fn veth(&self, i: usize) -> String {
        format!("bw{}n{i}", self.tag)
    }

    /// The state file.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The nodes file other commands read (`--cluster NAME`).
    pub fn nodes_file(&self) -> PathBuf {
        self.dir.join("nodes.yaml")
    }

    /// Node `name`'s directory (its private directories, sshd config and log).
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.dir.join("nodes").join(node)
    }

    /// Candidate subnets (first three octets), the first derived from the name, then the next ones.
    pub fn subnet_candidates(&self) -> impl Iterator<Item = [u8; 3]> {
        let h = fnv1a(&self.name);
        let second = 100 + (h % 100) as u8;
        let third0 = ((h / 100) % 250) as u8;
        (0..250u16).map(move |k| [10, second, 1 + ((u16::from(third0) + k) % 250) as u8])
    }

    /// Reads the recorded state, if `up` got far enough to write it.
    pub fn read_state(&self) -> Result<Option<State>, LocalError> {
        let path = self.state_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map(Some).map_err(|e| LocalError::BadState { path, reason: e.to_string() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LocalError::Io { path, source }),
        }
    }
}

/// What `up` created, recorded so `status` and `down` need not guess.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// Cluster name.
    pub name: String,
    /// The bridge.
    pub bridge: String,
    /// The control node's address on the bridge.
    pub gateway: Ipv4Addr,
    /// Paths on the nodes that are private to each node.
    pub private_dirs: Vec<String>,
    /// The nodes.
    pub nodes: Vec<NodeState>,
    /// True once every node answered; false while `up` is still working (or died).
    pub complete: bool,
    /// When `up` started (RFC 3339).
    pub created: String,
}

/// One node of a local cluster.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeState {
    /// `n1`..
    pub name: String,
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its network namespace.
    pub netns: String,
    /// The host end of its veth.
    pub veth: String,
}

/// Writes `text` to `path` atomically (write a temporary file, then rename).
pub fn write_atomic(path: &Path, text: &str) -> Result<(), LocalError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|source| LocalError::Io { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, path).map_err(|source| LocalError::Io { path: path.to_path_buf(), source })
}

/// 32-bit FNV-1a: a stable hash (std's hasher is not stable across releases).
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_linux_limits_and_differ_between_clusters() {
        let a = Layout::new("local").expect("valid name");
        let b = Layout::new("ci-two").expect("valid name");
        assert!(a.veth(200).len() <= 15 && a.bridge().len() <= 15);
        assert_ne!(a.bridge(), b.bridge());
        assert_ne!(a.subnet_candidates().next(), b.subnet_candidates().next());
        assert_eq!(a.netns(3), "brawl-local-n3");
        // Stable across runs and releases.
        assert_eq!(Layout::new("local").expect("valid").tag, a.tag);
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", "-x", "Upper", "a b", "x/y", "abcdefghijklmnopqrstu"] {
            assert!(matches!(Layout::new(bad), Err(LocalError::BadName { .. })), "{bad:?}");
        }
    }

    #[test]
    fn subnets_stay_in_10_slash_8_and_never_use_0_or_255() {
        let l = Layout::new("local").expect("valid");
        for [a, b, c] in l.subnet_candidates() {
            assert_eq!(a, 10);
            assert!((100..200).contains(&b));
            assert!((1..=250).contains(&c));
        }
    }
}
