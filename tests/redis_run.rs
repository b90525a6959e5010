//! Issue 12, Redis: the main workloads under partitions and kills on a primary with replicas and
//! Sentinel; a partition of the primary fails over and the client follows; acknowledged set
//! elements lost after a kill without persistence (and kept with `appendfsync always`); a bad
//! option fails setup with the log's tail.

mod common;

use std::time::{Duration, Instant};

use brawl::client::Client;
use brawl::config::{DbSpec, WorkloadSpec};
use brawl::nemesis::{FaultOp, Nemesis, NemesisCtx, NemesisSpec};
use brawl::workload::{Completion, Invocation};
use common::{brawl, free_port, sh, squat_port, text, TestCluster};
use serde_json::json;

/// One Redis test at a time: a failover's timing must not depend on another test's load.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs a test file (YAML body after the cluster line) and returns (exit code, run dir, results).
fn run(
    dir: &std::path::Path,
    cluster: &str,
    name: &str,
    body: &str,
) -> (Option<i32>, std::path::PathBuf, serde_json::Value, String) {
    let yaml = format!("name: {name}\ncluster: {cluster}\n{body}");
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).expect("write test file");
    run_file(dir, path.to_str().expect("utf8"), &[])
}

/// Runs the preset `workloads/{preset}.yaml` on `cluster` for `time_limit`.
fn run_preset(
    dir: &std::path::Path,
    cluster: &str,
    preset: &str,
    time_limit: &str,
) -> (Option<i32>, std::path::PathBuf, serde_json::Value, String) {
    let file = format!("{}/workloads/{preset}.yaml", env!("CARGO_MANIFEST_DIR"));
    run_file(dir, &file, &["--cluster", cluster, "--time-limit", time_limit])
}

fn run_file(
    dir: &std::path::Path,
    file: &str,
    args: &[&str],
) -> (Option<i32>, std::path::PathBuf, serde_json::Value, String) {
    let reports = dir.join("reports");
    let mut all = vec!["run", file, "--reports", reports.to_str().expect("utf8"), "--seed", "7"];
    all.extend_from_slice(args);
    let out = brawl(&all);
    let run = std::fs::canonicalize(reports.join("latest")).unwrap_or_default();
    let results = std::fs::read(run.join("results.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (out.status.code(), run, results, text(&out))
}

async fn nothing_left(c: &TestCluster, nodes: &[&str]) {
    for n in nodes {
        let r = c.remote(n);
        assert_eq!(sh(r.as_ref(), "pgrep -a redis || echo none").await.trim(), "none", "redis left running on {n}");
        assert_eq!(
            sh(r.as_ref(), "test -e /var/lib/brawl/node/redis && echo left || echo gone").await.trim(),
            "gone",
            "data left on {n}"
        );
    }
}

fn anomalies(results: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in results["checkers"].as_array().into_iter().flatten() {
        for a in c["anomaly_types"].as_array().into_iter().flatten() {
            out.extend(a.as_str().map(String::from));
        }
    }
    out
}

async fn write(client: &mut Box<dyn Client>, key: u64, v: u64) -> Completion {
    client.invoke(&Invocation { f: "write", value: json!([key, v]) }).await
}

#[tokio::test]
async fn sentinel_fails_over_the_client_follows_and_the_main_workloads_run_under_partitions_and_kills() {
    let _serial = SERIAL.lock().await;
    let c = TestCluster::up("rd1", 3);
    let cluster = c.cluster();

    // A failover, driven by hand: partition the primary, Sentinel promotes a replica.
    let spec: DbSpec = serde_json::from_value(json!({"redis": {
        "sentinel": true, "password": "hunter2",
        "options": {"min-replicas-to-write": "1", "min-replicas-max-lag": "2"}}}))
    .expect("db spec");
    let workload: WorkloadSpec =
        serde_json::from_value(json!({"register": {"keys": 1, "op-timeout": "1s"}})).expect("workload");
    let db = brawl::run::build_db(&spec, "rd-failover", vec![]);
    let started = Instant::now();
    brawl::db::cycle(db.as_ref(), &cluster).await.expect("redis with sentinel comes up");
    eprintln!("redis with sentinel up in {:?}", started.elapsed());
    let primary = db.as_primary().expect("primary capability");
    assert_eq!(primary.primaries(&cluster).await, ["n1"], "n1 starts as the primary");
    let connector = brawl::client::connector(&spec, &workload, None, "t-redis", &cluster).expect("connector");
    let mut client = connector.open(&cluster.nodes()[1]).await.expect("a client on n2 opens");
    // A write before the partition (retried briefly: the replicas' first acks may lag setup).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let done = write(&mut client, 0, 1).await;
        if matches!(done, Completion::Ok(_)) {
            break;
        }
        assert!(Instant::now() < deadline, "no write before the partition: {done:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let ctx = NemesisCtx::new(cluster.clone(), db.clone(), true).expect("ctx");
    let nspec: NemesisSpec = serde_json::from_value(json!({"partition": {}})).expect("nemesis spec");
    let mut nem = brawl::nemesis::build(&[nspec], 1).expect("nemesis");
    nem.setup(&ctx).await.expect("nemesis setup");
    let grudge = json!({"grudge": {"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]}});
    let rec = nem.invoke(&ctx, &FaultOp::new("start-partition", grudge)).await;
    assert!(rec.error.is_none(), "{rec:?}");
    let cut = Instant::now();
    let deadline = cut + Duration::from_secs(30);
    let new = loop {
        let now = primary.primaries(&cluster).await;
        if now.len() == 1 && now[0] != "n1" {
            break now[0].clone();
        }
        assert!(Instant::now() < deadline, "no failover within 30 s of the partition; sentinel says {now:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    eprintln!("failed over to {new} in {:?}", cut.elapsed());
    // The old primary takes writes until it sees its replicas are gone (min-replicas-max-lag),
    // then refuses them (NOREPLICAS): the client asks Sentinel again and writes to the new one.
    let ip: std::net::IpAddr = c.ip(&new).parse().expect("ip");
    let mut direct = brawl::db::redis::connect(ip, 6379, Some("hunter2"), Duration::from_secs(2))
        .await
        .expect("connects to the new primary");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut v = 100;
    loop {
        v += 1;
        let done = write(&mut client, 0, v).await;
        if matches!(done, Completion::Ok(_)) {
            let stored: Option<String> =
                redis::cmd("GET").arg("brawl:r:0").query_async(&mut direct).await.expect("GET");
            if stored == Some(v.to_string()) {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the client never wrote to the new primary {new}; last {done:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("the client follows to {new} {:?} after the partition", cut.elapsed());
    let read = client.invoke(&Invocation { f: "read", value: json!([0, null]) }).await;
    assert_eq!(read, Completion::Ok(json!([0, v])), "the client reads its write back from the new primary");
    nem.teardown(&ctx).await.expect("heals");
    // Healed, the old primary rejoins as a replica of the new one (Sentinel reconfigures it).
    let n1: std::net::IpAddr = c.ip("n1").parse().expect("ip");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let role = match brawl::db::redis::connect(n1, 6379, Some("hunter2"), Duration::from_secs(2)).await {
            Ok(mut conn) => redis::cmd("INFO").arg("replication").query_async::<String>(&mut conn).await.ok(),
            Err(_) => None,
        }
        .unwrap_or_default();
        if role.contains("role:slave") && role.contains(&format!("master_host:{ip}")) {
            break;
        }
        assert!(Instant::now() < deadline, "n1 did not rejoin as a replica of {new}: {role}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("n1 rejoined as a replica of {new}");
    brawl::db::teardown_all(db.as_ref(), &cluster).await.expect("teardown");
    nothing_left(&c, &["n1", "n2", "n3"]).await;

    // The main workloads, each with partitions and kills on one timeline.
    let dir = tempfile::tempdir().expect("tempdir");
    let nemeses =
        "nemeses:\n  - partition: { topology: one, interval: 4s }\n  - kill: { targets: one, interval: 4s }\n\
         \x20 - pause: { targets: one, interval: 4s }\n";
    let db = "db: { redis: { sentinel: true, password: hunter2 } }\n";
    for (name, w, fs) in [
        ("rd-register", "register: { keys: 4, op-timeout: 1s }", &["read", "write", "cas"][..]),
        ("rd-set", "set: { op-timeout: 1s }", &["add", "read"][..]),
        ("rd-counter", "counter: { op-timeout: 1s }", &["add", "read"][..]),
        ("rd-list-append", "list-append: { keys: 4, op-timeout: 1s }", &["txn"][..]),
    ] {
        let started = Instant::now();
        let body = format!(
            "{db}workload: {{ {w} }}\n{nemeses}time-limit: 10s\nrecovery-time: 3s\nconcurrency: 6\nrate: 100\n"
        );
        let (code, run, results, out) = run(dir.path(), "rd1", name, &body);
        eprintln!("{name}: exit {code:?}, {} in {:?}", results["validity"], started.elapsed());
        assert!(matches!(code, Some(0..=2)), "{name} ended without a verdict: {out}");
        assert!(["valid", "invalid", "unknown"].contains(&results["validity"].as_str().unwrap_or("")), "{results:#}");
        for f in fs {
            assert!(results["stats"]["by_f"][f]["ok"].as_u64().unwrap_or(0) > 0, "{name}: no ok {f}: {results:#}");
        }
        for f in ["n1/redis.log", "n2/redis.log", "n3/redis-sentinel.log"] {
            assert!(run.join(f).exists(), "{f} missing from {}", run.display());
        }
        let log = std::fs::read_to_string(run.join("brawl.log")).unwrap_or_default();
        assert!(!log.contains("hunter2") && !out.contains("hunter2"), "{name}: the password is in a log");
        nothing_left(&c, &["n1", "n2", "n3"]).await;
    }
}

#[tokio::test]
async fn acknowledged_adds_are_lost_after_a_kill_without_persistence_kept_with_fsync_and_a_bad_option_fails_setup() {
    let _serial = SERIAL.lock().await;
    let c = TestCluster::up("rd2", 3);
    let dir = tempfile::tempdir().expect("tempdir");

    // The documented anomaly and its twin, from their presets (they differ in persistence only).
    let started = Instant::now();
    let (code, run_dir, results, out) = run_preset(dir.path(), "rd2", "redis-set-anomaly", "10s");
    eprintln!("anomaly: exit {code:?} in {:?}", started.elapsed());
    assert_eq!(code, Some(1), "persistence off loses acknowledged adds: {out}");
    assert_eq!(results["validity"], "invalid", "{results:#}");
    assert!(anomalies(&results).iter().any(|a| a == "lost"), "`lost` not named: {results:#}");
    let report = std::fs::read_to_string(run_dir.join("report.html")).expect("report.html");
    assert!(
        report.contains("<li class=anomaly>") && report.contains("but lost: last seen"),
        "report.html does not explain it"
    );

    let started = Instant::now();
    let (code, run_dir, results, out) = run_preset(dir.path(), "rd2", "redis-set-safe", "10s");
    eprintln!("safe: exit {code:?} in {:?}", started.elapsed());
    assert_eq!(code, Some(0), "appendfsync always keeps every acknowledged add: {out}");
    assert_eq!(results["validity"], "valid", "{results:#}");
    assert!(results["stats"]["by_f"]["add"]["ok"].as_u64().unwrap_or(0) > 0, "{results:#}");
    assert!(run_dir.join("n1/redis.log").exists());

    let started = Instant::now();
    let body =
        "db: { redis: { options: { appendonly: maybe } } }\nworkload: { set: {} }\ntime-limit: 5s\nconcurrency: 2\n";
    let (code, _, _, out) = run(dir.path(), "rd2", "rd-bad-option", body);
    eprintln!("bad option: exit {code:?} in {:?}", started.elapsed());
    assert_eq!(code, Some(255), "{out}");
    assert!(out.contains("appendonly"), "the log's tail names the bad option: {out}");
    nothing_left(&c, &["n1", "n2", "n3"]).await;

    // Its port in use: the server cannot bind; setup fails the same way.
    let n1 = c.remote("n1");
    squat_port(n1.as_ref(), &c.ip("n1"), 6379).await;
    let body = "db: { redis: {} }\nworkload: { set: {} }\ntime-limit: 5s\nconcurrency: 2\n";
    let (code, _, _, out) = run(dir.path(), "rd2", "rd-port-in-use", body);
    free_port(n1.as_ref(), 6379).await;
    assert_eq!(code, Some(255), "{out}");
    assert!(out.contains("already in use"), "the log's tail says why: {out}");
    nothing_left(&c, &["n1", "n2", "n3"]).await;
}
