//! Issue 2: the command line: help everywhere, bad input gives a clear message and exit 254.

mod common;

use std::path::Path;

use common::{brawl, text};

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write fixture");
    path.display().to_string()
}

const GOOD: &str =
    "name: t\ncluster: local\ndb: { etcd: {} }\nworkload: { register: { keys: 2 } }\ntime-limit: 10s\nconcurrency: 2\n";

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["--help"][..],
        &["cluster", "--help"],
        &["cluster", "up", "--help"],
        &["cluster", "down", "--help"],
        &["cluster", "status", "--help"],
        &["cluster", "list", "--help"],
        &["exec", "--help"],
        &["doctor", "--help"],
        &["validate", "--help"],
    ] {
        let out = brawl(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"), "{args:?}: {}", text(&out));
    }
}

#[test]
fn bad_arguments_exit_254() {
    for args in [&["--no-such-flag"][..], &["cluster", "up", "--nodes", "many"], &["exec"], &["frobnicate"]] {
        let out = brawl(args);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", text(&out));
    }
}

#[test]
fn a_valid_test_file_validates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = brawl(&["validate", &write(dir.path(), "good.yaml", GOOD)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"), "{}", text(&out));
}

/// Each bad file: exit 254 and a message naming file, line and column, the field, and what was expected.
#[test]
fn bad_test_files_name_file_line_column_field_and_expectation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[(&str, String, &[&str])] = &[
        ("syntax.yaml", "name: t\ncluster: [local\nconcurrency: 2\n".into(), &["syntax.yaml:"]),
        (
            "unknown.yaml",
            format!("{GOOD}colour: blue\n"),
            &["unknown.yaml:7:1", "unknown field `colour`", "expected one of"],
        ),
        ("type.yaml", GOOD.replace("concurrency: 2", "concurrency: ten"), &["type.yaml:6:14", "concurrency", "ten"]),
        ("missing.yaml", GOOD.replace("name: t\n", ""), &["missing.yaml:", "missing field `name`"]),
        ("duration.yaml", GOOD.replace("10s", "ten seconds"), &["duration.yaml:5:13", "time-limit", "duration"]),
        (
            "nested.yaml",
            format!("{GOOD}nemeses:\n  - kill: {{ targets: most }}\n"),
            &["nested.yaml:8:", "nemeses[0].kill.targets", "most"],
        ),
    ];
    for (name, body, wanted) in cases {
        let out = brawl(&["validate", &write(dir.path(), name, body)]);
        assert_eq!(out.status.code(), Some(254), "{name}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        for w in *wanted {
            assert!(stderr.contains(w), "{name}: {w:?} missing from: {stderr}");
        }
    }
    let out = brawl(&["validate", &dir.path().join("absent.yaml").display().to_string()]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent.yaml"), "{}", text(&out));
}

#[test]
fn a_nodes_file_naming_an_unknown_host_exits_254() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes = write(
        dir.path(),
        "nodes.yaml",
        "nodes:\n  - { name: n1, host: 127.0.0.1 }\n  - { name: n2, host: no-such-host.invalid }\n",
    );
    for args in [&["exec", "--nodes-file", &nodes, "--", "true"][..], &["doctor", "--nodes-file", &nodes]] {
        let out = brawl(args);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("nodes.yaml:3:") && stderr.contains("no-such-host.invalid"), "{stderr}");
    }
    // A test file that points at it fails validation the same way.
    let test = write(dir.path(), "test.yaml", &GOOD.replace("cluster: local", "nodes-file: nodes.yaml"));
    let out = brawl(&["validate", &test]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-host.invalid"), "{}", text(&out));
}

#[test]
fn a_cluster_that_is_not_up_is_named_with_the_fix() {
    let out = brawl(&["exec", "--cluster", "t-never-up", "--", "true"]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("brawl cluster up --name t-never-up"), "{}", text(&out));
    let out = brawl(&["exec", "--cluster", "Bad Name", "--", "true"]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
}

/// Issue 10: `--time-limit 20` is 20 seconds (as in Jepsen), not "time unit needed".
#[test]
fn issue_10_duration_flags_take_bare_seconds() {
    // Parsing gets past the flag: what stops the run is the cluster that is not up.
    let dir = tempfile::tempdir().expect("tempdir");
    let test = write(dir.path(), "t.yaml", GOOD);
    for limit in ["20", "0.5", "20s", "250ms"] {
        let out = brawl(&["run", &test, "--cluster", "a-never-up", "--time-limit", limit, "--check-time", "30"]);
        assert_eq!(out.status.code(), Some(254), "{limit}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("time unit") && !stderr.contains("invalid duration"), "{limit}: {stderr}");
        assert!(stderr.contains("brawl cluster up --name a-never-up"), "{limit}: {stderr}");
    }
    // A bad value names the flag and the value.
    let out = brawl(&["run", &test, "--cluster", "a-never-up", "--time-limit", "20x"]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--time-limit") && stderr.contains("invalid duration \"20x\""), "{stderr}");
    // `brawl check --time-limit 0.5` runs the check with a half-second budget.
    let out = brawl(&["check", "tests/histories/jepsen-register-info-valid.edn", "--time-limit", "0.5"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // --help says so.
    for sub in ["run", "check", "exec"] {
        let out = brawl(&[sub, "--help"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Seconds (20, 0.5)")
                || String::from_utf8_lossy(&out.stdout).contains("seconds (20, 0.5)"),
            "{sub}: {}",
            text(&out)
        );
    }
}

/// Every preset users copy (workloads/, its examples/) is a valid test file as shipped.
#[test]
fn every_workload_preset_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["workloads", "workloads/examples"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("read workloads") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 30, "only {} presets found", files.len());
    for path in files {
        let out = brawl(&["validate", path.to_str().expect("utf8")]);
        assert!(out.status.success(), "{}: {}", path.display(), text(&out));
    }
}

/// A schedule too big to plan is refused by `validate` as by `run`, naming the file and field.
#[test]
fn validate_refuses_a_fault_schedule_too_big_to_plan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = GOOD.replace("time-limit: 10s", "time-limit: 100h\nnemeses:\n  - kill: { targets: one, interval: 1ms }");
    let out = brawl(&["validate", &write(dir.path(), "huge.yaml", &body)]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("huge.yaml") && stderr.contains("nemeses[0].kill.interval"), "{stderr}");
}
