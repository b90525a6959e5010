//! Issue 10, part 3: the CI examples in docs/ci/ (included in docs/nightly-ci.md) pass yamllint
//! with the committed config, parse, and name the build, shard and merge jobs, with as many
//! shard jobs as their `--shard K/N` says.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> (String, Value) {
    let path = repo().join("docs/ci").join(name);
    let text = std::fs::read_to_string(&path).expect("the example exists");
    let value = brawl::config::load_value(&path).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
    (text, value)
}

/// Every string in a value, joined (the jobs' shell lines).
fn strings(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(strings).collect::<Vec<_>>().join("\n"),
        Value::Object(o) => o.values().map(strings).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

/// N of the `--shard K/N` in `script` (after the `K` placeholder `before`).
fn shard_count(script: &str, before: &str) -> String {
    let at =
        script.find(&format!("--shard {before}/")).unwrap_or_else(|| panic!("no --shard {before}/N in:\n{script}"));
    script[at + "--shard ".len() + before.len() + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '$' || *c == '_')
        .collect()
}

#[test]
fn issue_10_the_ci_examples_pass_yamllint() {
    let dir = repo().join("docs/ci");
    let out = Command::new("yamllint")
        .args(["--strict", "-c"])
        .arg(dir.join("yamllint.yaml"))
        .args([dir.join("github-actions.yml"), dir.join("gitlab-ci.yml")])
        .output()
        .expect("yamllint runs (.ci/setup installs it)");
    assert!(
        out.status.success(),
        "yamllint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn issue_10_the_github_workflow_builds_once_shards_and_merges() {
    let (_, w) = load("github-actions.yml");
    let jobs = &w["jobs"];
    for job in ["build", "shard", "merge"] {
        assert!(jobs.get(job).is_some(), "no {job} job");
    }
    let shards: Vec<u64> = jobs["shard"]["strategy"]["matrix"]["shard"]
        .as_array()
        .expect("a shard matrix")
        .iter()
        .map(|v| v.as_u64().expect("a shard number"))
        .collect();
    assert_eq!(shards, (1..=shards.len() as u64).collect::<Vec<_>>(), "shards are 1..=N");
    let script = strings(&jobs["shard"]["steps"]);
    assert_eq!(shard_count(&script, "${{ matrix.shard }}"), shards.len().to_string(), "the matrix size is N");
    assert!(script.contains("brawl cluster up"), "each shard brings up its own cluster");
    assert!(strings(&jobs["build"]).contains("cargo build --release"));
    assert!(strings(&jobs["build"]).contains("upload-artifact"));
    assert!(strings(&jobs["shard"]["needs"]).contains("build"));
    let merge = &jobs["merge"];
    assert!(strings(&merge["needs"]).contains("shard"));
    assert!(merge["if"].as_str().is_some_and(|c| c.contains("always()")), "the merge runs when a shard failed");
    assert!(strings(merge).contains("brawl campaign merge"));
    assert!(strings(merge).contains("reports-shard-*"));
    assert!(
        strings(&jobs["shard"]).contains("reports-shard-${{ matrix.shard }}"),
        "artifacts named as the merge expects"
    );
}

#[test]
fn issue_10_the_gitlab_pipeline_builds_once_shards_and_merges() {
    let (_, p) = load("gitlab-ci.yml");
    for job in ["build", "shard", "merge"] {
        assert!(p.get(job).is_some(), "no {job} job");
    }
    let n = p["shard"]["parallel"].as_u64().expect("parallel: N");
    let script = strings(&p["shard"]["script"]);
    // GitLab sets CI_NODE_TOTAL to `parallel`, so N is the job count by construction.
    assert_eq!(shard_count(&script, "\"$CI_NODE_INDEX"), "$CI_NODE_TOTAL", "{script}");
    assert!(n >= 2, "a real split");
    assert!(script.contains("brawl cluster up"));
    assert!(strings(&p["build"]).contains("cargo build --release"));
    assert!(strings(&p["merge"]["needs"]).contains("shard"));
    assert_eq!(p["merge"]["when"], "always");
    assert!(strings(&p["merge"]["script"]).contains("brawl campaign merge public shards/*"));
    assert!(strings(&p["shard"]["artifacts"]).contains("shards/$CI_NODE_INDEX/"));
}

#[test]
fn issue_10_nightly_ci_md_includes_the_examples_as_they_are() {
    let doc = std::fs::read_to_string(repo().join("docs/nightly-ci.md")).expect("doc");
    for name in ["github-actions.yml", "gitlab-ci.yml"] {
        let (text, _) = load(name);
        assert!(doc.contains(&text), "docs/nightly-ci.md does not hold docs/ci/{name} verbatim");
    }
    // The campaign file the examples run exists.
    assert!(Path::new(&repo().join("campaigns/etcd-nightly.yaml")).is_file());
}
