//! brawl: a Jepsen-style chaos-testing orchestrator.
//!
//! - `config`: YAML test and nodes files → validated plans (the one place YAML is read).
//! - `control`: running commands and moving files on nodes over SSH (`Remote`, `SshRemote`).
//! - `cluster`: the test's nodes and fan-out over them (`Cluster`, `Node`).
//! - `db`: the system under test (`Db` and its capabilities); `etcd`.
//! - `generator`: seeded per-thread op schedules and the interpreter that runs them.
//! - `history`: ops (invoke / ok / fail / info) and the JSON Lines history format.
//! - `nemesis`: fault injection (`Nemesis`, `Compose`): partitions, packets, kill/pause, clocks; schedules.
//! - `checker`: pure verdicts over a history: linearizability (register, cas, kv) and stats.
//! - `local`: brawl's own local cluster: nodes in namespaces on this machine, each with its sshd.
//! - `vagrant`: clusters of Vagrant machines: `vagrant ssh-config` → a nodes file with recorded host keys.
//! - `run`: one test run from setup to verdict, stored in `reports/<test>/<timestamp>/`.
//! - `report`: `report.html` from a run's results.
//! - `campaign`: tests × fault schedules × repetitions, a campaign page and one JUnit file.
//! - `serve`: `brawl serve`, an index of the runs under `reports/` and their files, over HTTP.
//! - `workload`: clients and op generation (`Workload`, `Client`); `register`, `noop`.
//! - `cli`: the `brawl` command line (clap), its subcommands and exit codes.

pub mod campaign;
pub mod checker;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod control;
pub mod db;
pub mod generator;
pub mod history;
pub mod local;
pub mod nemesis;
pub mod report;
pub mod run;
pub mod serve;
pub mod vagrant;
pub mod workload;
