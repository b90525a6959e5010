//! Issue 5: a campaign of two tests × two fault schedules × two repetitions on the local
//! cluster; its page, its JUnit file; `brawl serve` over the runs; and headless Chromium
//! opening a real run's report.html and the serve index.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::webdriver::Browser;
use common::{brawl_bin, text, TestCluster};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn write_tests(dir: &Path) -> PathBuf {
    for (name, keys) in [("camp-a", 4), ("camp-b", 2)] {
        let yaml = format!(
            "name: {name}\ncluster: local\ndb: {{ etcd: {{}} }}\n\
             workload: {{ register: {{ keys: {keys}, op-timeout: 1s }} }}\n\
             time-limit: 30s\nrecovery-time: 1s\nconcurrency: 4\nrate: 100\n"
        );
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).expect("write test");
    }
    let campaign = format!(
        "name: ci-campaign\ntests: [camp-a.yaml, camp-b.yaml]\nnemeses:\n  - {}\n  - {}\n\
         repetitions: 2\ntime-limit: 4s\ncluster: t-camp\nseed: 100\n",
        repo().join("nemeses/partition.yaml").display(),
        repo().join("nemeses/kill.yaml").display()
    );
    let file = dir.join("campaign.yaml");
    std::fs::write(&file, campaign).expect("write campaign");
    file
}

/// A raw HTTP/1.1 GET (no URL normalisation, so `..` reaches the server as sent).
fn raw_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_runs_its_matrix_and_its_runs_are_served_and_render_in_chromium() {
    let _c = TestCluster::up("t-camp", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    let file = write_tests(dir.path());

    let out = Command::new(brawl_bin())
        .args(["campaign", file.to_str().expect("utf8"), "--reports", reports.to_str().expect("utf8")])
        .output()
        .expect("campaign runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("8/8 runs valid"), "{}", text(&out));

    let campaigns = reports.join("_campaigns/ci-campaign");
    let stamp = std::fs::read_dir(&campaigns).expect("campaign dir").flatten().next().expect("one").path();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stamp.join("campaign.json")).expect("campaign.json")).expect("json");
    let runs = summary["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 8);
    let mut cells = std::collections::BTreeMap::new();
    for r in runs {
        let run_dir = reports.join(r["run_dir"].as_str().expect("run dir"));
        assert!(run_dir.join("results.json").is_file(), "{r}");
        assert!(run_dir.join("report.html").is_file(), "{r}");
        assert_eq!(r["verdict"], "valid", "{r}");
        *cells.entry((r["test"].to_string(), r["schedule"].to_string())).or_insert(0) += 1;
        // The schedule the cell names is the one that ran.
        let yaml = std::fs::read_to_string(run_dir.join("test.yaml")).expect("test.yaml");
        let kind = if r["schedule"] == "partition" { "partition" } else { "kill" };
        assert!(yaml.contains(kind), "{kind} not in the run's test.yaml:\n{yaml}");
        brawl::config::load_test(&run_dir.join("test.yaml")).expect("the test as run is a valid test file");
    }
    assert_eq!(cells.len(), 4, "{cells:?}");
    assert!(cells.values().all(|n| *n == 2), "{cells:?}");
    let page = std::fs::read_to_string(stamp.join("campaign.html")).expect("page");
    assert_eq!(page.matches("2/2 valid").count(), 4, "{page}");
    let junit = std::fs::read_to_string(stamp.join("junit.xml")).expect("junit");
    assert_eq!(junit.matches("<testcase ").count(), 8, "{junit}");
    assert_eq!(junit.matches("<testsuite ").count(), 4, "{junit}");
    let schema = repo().join("tests/fixtures/junit/junit-10.xsd");
    let lint = Command::new("xmllint")
        .args(["--noout", "--schema", schema.to_str().expect("utf8"), stamp.join("junit.xml").to_str().expect("utf8")])
        .output()
        .expect("xmllint runs (libxml2-utils)");
    assert!(lint.status.success(), "the campaign's junit.xml does not validate: {}", text(&lint));

    // brawl serve: the index lists every run, filters, and refuses paths outside reports/.
    let mut server = Command::new(brawl_bin())
        .args(["serve", "--addr", "127.0.0.1:0", "--reports", reports.to_str().expect("utf8")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    let addr = line.split("http://").nth(1).and_then(|s| s.split('/').next()).expect("address").to_string();
    let (code, index) = raw_get(&addr, "/");
    assert_eq!(code, 200, "{index}");
    assert!(index.contains("8 of 8 runs"), "{index}");
    assert!(index.contains("ci-campaign"), "{index}");
    let (_, filtered) = raw_get(&addr, "/?test=camp-a&verdict=valid");
    assert!(filtered.contains("4 of 8 runs"), "{filtered}");
    let (_, none) = raw_get(&addr, "/?verdict=invalid");
    assert!(none.contains("0 of 8 runs"), "{none}");
    let first_run = runs[0]["run_dir"].as_str().expect("dir").to_string();
    let (code, report) = raw_get(&addr, &format!("/{first_run}/report.html"));
    assert_eq!(code, 200);
    assert!(report.contains("text/html"), "{report}");
    for bad in ["/../campaign.yaml", "/camp-a/../../campaign.yaml", "/%2e%2e/campaign.yaml"] {
        let (code, body) = raw_get(&addr, bad);
        assert!(code == 403 || code == 400 || code == 404, "{bad}: {body}");
        assert!(!body.contains("ci-campaign\ntests"), "{bad} leaked a file outside reports/: {body}");
    }

    // Headless Chromium: the report from disk and the index over HTTP.
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let browser = Browser::start().await;
    let report_file = std::fs::canonicalize(reports.join(&first_run).join("report.html")).expect("report");
    browser.open(&format!("file://{}", report_file.display())).await;
    let verdict = browser.eval("return document.querySelector('#verdict').innerText").await;
    assert!(verdict.as_str().is_some_and(|v| v.contains("valid")), "no verdict on the report: {verdict}");
    for chart in ["#availability-chart svg", "#latency-scatter svg", "#throughput svg"] {
        assert_eq!(browser.count(chart).await, 1, "the report has no {chart}");
    }
    // The charts really drew something: the scatter has a point per sampled op.
    let points =
        browser.count("#latency-scatter svg circle, #latency-scatter svg rect, #latency-scatter svg polygon").await;
    assert!(points > 10, "the latency scatter has {points} marks");
    browser.screenshot(&shots.join("report.png")).await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors on report.html: {errors:?}");

    browser.open(&format!("http://{addr}/")).await;
    assert_eq!(browser.count("#runs tr").await, 9, "header + 8 runs in the index");
    assert!(browser.count("#filter select").await == 2, "the index has its test and verdict filters");
    assert!(browser.text().await.contains("8 of 8 runs"));
    browser.screenshot(&shots.join("index.png")).await;
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "console errors on the index: {errors:?}");
    println!("screenshots in {}", shots.display());
    drop(browser);
    let _ = server.kill();
    let _ = server.wait();
}
