//! brawl: a Jepsen-style chaos-testing orchestrator.
//!
//! - `config`: YAML test and nodes files → validated plans (the one place YAML is read).
//! - `control`: running commands and moving files on nodes over SSH (`Remote`, `SshRemote`).
//! - `cluster`: the test's nodes and fan-out over them (`Cluster`, `Node`).
//! - `history`: ops (invoke / ok / fail / info) and the JSON Lines history format.
//! - `local`: brawl's own local cluster: nodes in namespaces on this machine, each with its sshd.
//! - `cli`: the `brawl` command line (clap), its subcommands and exit codes.

pub mod cli;
pub mod cluster;
pub mod config;
pub mod control;
pub mod history;
pub mod local;
