//! Config files: YAML -> `Raw*` serde types -> `validate()` -> [`TestPlan`] or [`SshTarget`]s.
//!
//! [`load`] is the only YAML parser in brawl; every mistake in a file becomes a [`ConfigError`]
//! that names the file, line, column and field (`test.yaml:4:23: nemeses[0].kill: …`).
//! [`load_test`] reads a test file, [`load_nodes_file`] a nodes file, and [`nodes_file_yaml`]
//! writes one. [`duration`] is the one duration parser: a bare number means seconds.
//!
//! [`SshTarget`]: crate::control::target::SshTarget

pub mod duration;
mod load;
mod nodes_file;
mod plan;
pub mod raw;
mod ssh;

pub use load::{load, load_nemesis_file, load_nemesis_str, load_str, load_value, to_yaml, ConfigError, NemesisFile};
pub use nodes_file::{load_nodes_file, nodes_file_yaml, parse_nodes_file_unresolved, validate_nodes, NodeEntry};
pub(crate) use plan::is_valid_name;
pub use plan::{load_test, load_test_str, validate, NodeSource, Slo, TestPlan};
pub use raw::{
    DbSpec, EtcdSpec, KillSpec, NemesisSpec, PartitionSpec, PauseSpec, RegisterSpec, Targets, TimelineEntry, Topology,
    WorkloadSpec,
};
pub use ssh::SshOverrides;
