//! Issue 10, part 3: a campaign of 2 tests × 2 schedules split 2 ways, the two shards run at
//! the same time on two local clusters, merged; the merge holds exactly the cells, verdicts and
//! seeds of the same campaign run unsharded, and a merge with a shard missing shows it missing.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::{brawl_bin, text, TestCluster};
use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn write_campaign(dir: &Path) -> PathBuf {
    for (name, keys) in [("shard-a", 3), ("shard-b", 2)] {
        let yaml = format!(
            "name: {name}\ncluster: local\ndb: {{ etcd: {{}} }}\n\
             workload: {{ register: {{ keys: {keys}, op-timeout: 1s }} }}\n\
             time-limit: 30s\nrecovery-time: 1s\nconcurrency: 4\nrate: 100\n"
        );
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).expect("write test");
    }
    let campaign = format!(
        "name: ci-shards\ntests: [shard-a.yaml, shard-b.yaml]\nnemeses:\n  - {}\n  - {}\n\
         repetitions: 1\ntime-limit: 4s\ncluster: b-one\nseed: 7\n",
        repo().join("nemeses/partition.yaml").display(),
        repo().join("nemeses/kill.yaml").display()
    );
    let file = dir.join("campaign.yaml");
    std::fs::write(&file, campaign).expect("write campaign");
    file
}

fn campaign(file: &Path, reports: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(brawl_bin());
    cmd.args(["campaign", file.to_str().expect("utf8"), "--reports", reports.to_str().expect("utf8")]).args(extra);
    cmd
}

/// The one campaign directory under `reports`.
fn campaign_dir(reports: &Path) -> PathBuf {
    let dirs: Vec<_> =
        std::fs::read_dir(reports.join("_campaigns/ci-shards")).expect("campaign dir").flatten().collect();
    assert_eq!(dirs.len(), 1, "one campaign in {}", reports.display());
    dirs[0].path()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("json")
}

/// (test, schedule, repetition, verdict, exit code, seed) of every run.
fn runs(c: &Value) -> Vec<String> {
    c["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            format!(
                "{} {} #{} {} {} seed {}",
                r["test"], r["schedule"], r["repetition"], r["verdict"], r["exit_code"], r["seed"]
            )
        })
        .collect()
}

/// (suite, case, classname, status) of every JUnit test case.
fn junit_cases(xml: &str) -> BTreeSet<String> {
    let attr = |s: &str, name: &str| {
        s.split_once(&format!(" {name}=\"")).and_then(|(_, v)| v.split_once('"')).map(|(v, _)| v.to_string())
    };
    let mut cases = BTreeSet::new();
    for suite in xml.split("<testsuite ").skip(1) {
        let suite_name = attr(&format!(" {suite}"), "name").expect("suite name");
        for case in suite.split("<testcase ").skip(1) {
            let case = format!(" {case}");
            let status = if case.contains("<failure") {
                "failure".to_string()
            } else if case.contains("<error") {
                format!("error {}", attr(case.split("<error").nth(1).unwrap_or(""), "type").unwrap_or_default())
            } else {
                "ok".into()
            };
            let (name, class) = (attr(&case, "name").expect("name"), attr(&case, "classname").expect("class"));
            cases.insert(format!("{suite_name} / {name} / {class} / {status}"));
        }
    }
    cases
}

/// The page's matrix table without its links (run directories differ between the trees).
fn matrix_table(page: &str) -> String {
    let table = page.split("<table id=\"matrix\">").nth(1).and_then(|t| t.split("</table>").next()).expect("matrix");
    table
        .split("href=\"")
        .enumerate()
        .map(|(i, s)| if i == 0 { s } else { s.split_once('"').map_or(s, |x| x.1) })
        .collect()
}

fn xmllint(file: &Path) {
    let schema = repo().join("tests/fixtures/junit/junit-10.xsd");
    let lint = Command::new("xmllint")
        .args(["--noout", "--schema", schema.to_str().expect("utf8"), file.to_str().expect("utf8")])
        .output()
        .expect("xmllint runs (libxml2-utils)");
    assert!(lint.status.success(), "{} does not validate: {}", file.display(), text(&lint));
}

fn merge(out: &Path, shards: &[&Path]) -> Output {
    Command::new(brawl_bin())
        .args(["campaign", "merge", out.to_str().expect("utf8")])
        .args(shards.iter().map(|s| s.to_str().expect("utf8")))
        .output()
        .expect("merge runs")
}

#[test]
fn issue_10_campaign_shards_run_at_once_on_two_clusters_and_merge_into_the_unsharded_matrix() {
    let t0 = Instant::now();
    let _one = TestCluster::up("b-one", 3);
    let _two = TestCluster::up("b-two", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_campaign(dir.path());
    let (r0, r1, r2) = (dir.path().join("r0"), dir.path().join("r1"), dir.path().join("r2"));

    // Both shards at the same time, each on its own cluster.
    let t_shards = Instant::now();
    let s1 = campaign(&file, &r1, &["--shard", "1/2", "--cluster", "b-one"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("shard 1 starts");
    let s2 = campaign(&file, &r2, &["--shard", "2/2", "--cluster", "b-two"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("shard 2 starts");
    let (o1, o2) = (s1.wait_with_output().expect("shard 1"), s2.wait_with_output().expect("shard 2"));
    let shards_s = t_shards.elapsed().as_secs_f64();
    let t_whole = Instant::now();
    let o0 = campaign(&file, &r0, &[]).output().expect("unsharded campaign");
    let whole_s = t_whole.elapsed().as_secs_f64();
    assert!(o0.status.code().is_some_and(|c| c < 3), "{}", text(&o0));
    let (c0, c1, c2) = (campaign_dir(&r0), campaign_dir(&r1), campaign_dir(&r2));

    // Each shard records its place and the whole matrix, and ran on its own cluster.
    for (c, k, cluster) in [(&c1, 1, "b-one"), (&c2, 2, "b-two")] {
        let j = json(&c.join("campaign.json"));
        assert_eq!(j["shard"]["index"], k, "{j}");
        assert_eq!(j["shard"]["count"], 2, "{j}");
        let cells = if k == 1 { [0, 2] } else { [1, 3] };
        assert_eq!(j["shard"]["cells"], serde_json::json!(cells), "{j}");
        assert_eq!(j["matrix"], json(&c0.join("campaign.json"))["matrix"], "the same matrix on every shard");
        assert_eq!(j["runs"].as_array().map(Vec::len), Some(2), "{j}");
        for r in j["runs"].as_array().expect("runs") {
            let reports = if k == 1 { &r1 } else { &r2 };
            let yaml = std::fs::read_to_string(reports.join(r["run_dir"].as_str().expect("run dir")).join("test.yaml"))
                .expect("test.yaml");
            assert!(yaml.contains(&format!("cluster: {cluster}")), "shard {k} ran elsewhere:\n{yaml}");
        }
    }
    let whole = json(&c0.join("campaign.json"));
    assert_eq!(whole["matrix"].as_array().map(Vec::len), Some(4));
    assert!(whole.get("shard").is_none(), "{whole}");

    // The merge: exactly the unsharded campaign's runs, verdicts, seeds, page cells and cases.
    let out = dir.path().join("merged");
    let m = merge(&out, &[&r1, &c2]);
    let merged = json(&out.join("campaign.json"));
    assert_eq!(runs(&merged), runs(&whole), "{}", text(&m));
    assert_eq!(m.status.code(), o0.status.code(), "merge: {}\nunsharded: {}", text(&m), text(&o0));
    assert_eq!(merged["exit_code"], whole["exit_code"]);
    assert_eq!(merged["merged"]["shards"].as_array().map(|s| s.iter().all(|s| s["missing"] == false)), Some(true));
    let page = std::fs::read_to_string(out.join("campaign.html")).expect("page");
    let page0 = std::fs::read_to_string(c0.join("campaign.html")).expect("page");
    assert_eq!(matrix_table(&page), matrix_table(&page0));
    assert!(page.contains("Merged from 2 of 2 shards."), "{page}");
    for r in merged["runs"].as_array().expect("runs") {
        let d = r["run_dir"].as_str().expect("every run linked");
        assert!(out.join(d).join("report.html").is_file(), "{d} copied");
        assert!(page.contains(&format!("href=\"{d}/report.html\"")), "{d} linked");
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit");
    let junit0 = std::fs::read_to_string(c0.join("junit.xml")).expect("junit");
    assert_eq!(junit_cases(&junit), junit_cases(&junit0));
    assert_eq!(junit_cases(&junit).len(), 4);
    xmllint(&out.join("junit.xml"));

    // Shard 2 missing: shown, an error case per run, in campaign.json, and a failing exit code.
    let out = dir.path().join("merged-missing");
    let m = merge(&out, &[&c1]);
    assert_eq!(m.status.code(), Some(255), "{}", text(&m));
    assert!(String::from_utf8_lossy(&m.stdout).contains("merged 1 of 2 shards"), "{}", text(&m));
    let merged = json(&out.join("campaign.json"));
    assert_eq!(merged["merged"]["shards"][1]["missing"], true, "{merged}");
    let missing: Vec<_> = merged["runs"].as_array().expect("runs").iter().filter(|r| r["missing"] == true).collect();
    assert_eq!(missing.len(), 2, "{merged}");
    let page = std::fs::read_to_string(out.join("campaign.html")).expect("page");
    assert!(page.contains("1 missing") && page.matches("title=\"missing\"").count() == 2, "{page}");
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit");
    assert_eq!(junit_cases(&junit).len(), 4, "{junit}");
    assert_eq!(junit.matches("type=\"missing\"").count(), 2, "{junit}");
    xmllint(&out.join("junit.xml"));

    // A shard of another matrix is refused with 254, and nothing is written.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).expect("dir");
    let mut j = json(&c2.join("campaign.json"));
    j["matrix"][3]["schedule"] = "pause".into();
    std::fs::write(other.join("campaign.json"), j.to_string()).expect("write");
    let out = dir.path().join("merged-other");
    let m = merge(&out, &[&c1, &other]);
    assert_eq!(m.status.code(), Some(254), "{}", text(&m));
    assert!(String::from_utf8_lossy(&m.stderr).contains("matrices cannot be merged"), "{}", text(&m));
    assert!(!out.exists());

    assert!(o1.status.code().is_some_and(|c| c < 3), "{}", text(&o1));
    assert!(o2.status.code().is_some_and(|c| c < 3), "{}", text(&o2));
    println!(
        "shards at once: {shards_s:.0} s; unsharded: {whole_s:.0} s; whole test: {:.0} s",
        t0.elapsed().as_secs_f64()
    );
}
