//! Issue 13: a system defined by shell commands and a client in any language, over the JSON
//! lines protocol, on the real local cluster. Clients that crash, print garbage, answer late,
//! answer twice, never answer an op or never answer their hello: each run completes (or fails its setup clearly),
//! the affected ops are `info` with the reason, and the history stays well-formed. Bad `shell:`
//! sections are refused with the file, line and step.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use brawl::history::{read_jsonl, validate_well_formed, OpType, Process};
use common::{brawl, text, TestCluster};

const CLUSTER: &str = "lc-xc";

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/misbehave.py")
}

/// A test file: a shell-defined system (a `sleep` per node, its pid recorded) and the
/// misbehaving client in `mode`.
fn test_file(dir: &Path, name: &str, mode: &str, store: &Path, nemeses: &str) -> PathBuf {
    let yaml = format!(
        r#"name: {name}
cluster: {CLUSTER}
db:
  shell:
    setup: "echo {{{{ node.name }}}} {{{{ node.index }}}} {{{{ vars.greeting }}}} > {{{{ data_dir }}}}/who"
    start: "exec sleep 100000"
    ready: {{ command: "test -f {{{{ data_dir }}}}/who", timeout: 10s }}
    teardown: "true"
    logs: ["{{{{ data_dir }}}}/who"]
    vars: {{ greeting: hello }}
client:
  command: "python3 {script}"
  hello-timeout: 5s
  env: {{ MODE: "{mode}", MODE_AT: "10", BRAWL_SET_FILE: "{store}" }}
workload:
  set: {{ read-fraction: 0.2, op-timeout: 1s }}
{nemeses}time-limit: 4s
recovery-time: 1s
concurrency: 3
rate: 60
"#,
        script = client_script().display(),
        store = store.display(),
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).expect("write test file");
    path
}

struct Run {
    code: Option<i32>,
    out: String,
    dir: Option<PathBuf>,
}

fn run(dir: &Path, name: &str, mode: &str, nemeses: &str) -> Run {
    let store = dir.join(format!("{name}.set"));
    let file = test_file(dir, name, mode, &store, nemeses);
    let reports = dir.join("reports");
    let out =
        brawl(&["run", file.to_str().expect("utf8"), "--reports", reports.to_str().expect("utf8"), "--seed", "7"]);
    let run_dir =
        std::fs::read_dir(reports.join(name)).ok().and_then(|mut d| d.next()).and_then(|e| e.ok()).map(|e| e.path());
    Run { code: out.status.code(), out: text(&out), dir: run_dir }
}

/// The infos of a run's history, which must be well-formed; each reason must contain `reason`.
fn infos_with(r: &Run, reason: &str) -> usize {
    let dir = r.dir.as_ref().unwrap_or_else(|| panic!("no run directory: {}", r.out));
    let h = read_jsonl(dir.join("history.jsonl")).expect("history reads");
    validate_well_formed(&h.ops).unwrap_or_else(|e| panic!("history not well-formed: {e}"));
    let infos: Vec<_> =
        h.ops.iter().filter(|o| o.kind == OpType::Info && matches!(o.process, Process::Client(_))).collect();
    let matching = infos.iter().filter(|o| o.error.as_deref().is_some_and(|e| e.contains(reason))).count();
    assert!(
        matching > 0,
        "no info op says {reason:?}; infos: {:?}\n{}",
        infos.iter().map(|o| &o.error).collect::<Vec<_>>(),
        r.out
    );
    // After an info the thread goes on as a new process (process + concurrency).
    assert!(h.ops.iter().any(|o| matches!(o.process, Process::Client(p) if p >= 3)), "no new process after an info");
    assert!(h.ops.iter().any(|o| o.kind == OpType::Ok), "ok ops too: {}", r.out);
    matching
}

#[test]
fn issue_13_misbehaving_clients_make_info_ops_and_the_run_goes_on() {
    let _c = TestCluster::up(CLUSTER, 3);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();

    // A good client, with kills and pauses of the recorded process: a valid set, logs kept.
    let good = run(
        dir,
        "xc-good",
        "good",
        "nemeses:\n  - kill: { targets: one, interval: 2s, restart: after }\n  - pause: { targets: one, interval: 2s }\n",
    );
    assert_eq!(good.code, Some(0), "{}", good.out);
    let gdir = good.dir.clone().expect("run dir");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(gdir.join("results.json")).expect("results")).expect("json");
    assert_eq!(results["validity"], "valid", "{results:#}");
    assert!(results["stats"]["by_f"]["add"]["ok"].as_u64() > Some(10), "{results:#}");
    assert!(results["faults"]["kill"]["count"].as_u64() >= Some(1), "kills happened: {results:#}");
    let who = std::fs::read_to_string(gdir.join("n2/who"));
    assert_eq!(
        who.expect("the shell system's log file was downloaded").trim(),
        "n2 1 hello",
        "templates rendered per node"
    );
    let log = std::fs::read_to_string(gdir.join("brawl.log")).unwrap_or_default();
    assert!(log.contains("client for set on n"), "the client's stderr is in the run log");

    for (mode, reason) in [
        ("crash", "the client exited"),
        ("garbage", "malformed reply"),
        ("late", "no reply within"),
        ("twice", "reply for id"),
        ("silent", "no reply within"),
    ] {
        let r = run(dir, &format!("xc-{mode}"), mode, "");
        assert!(matches!(r.code, Some(0..=2)), "{mode}: the run reaches a verdict: {}", r.out);
        infos_with(&r, reason);
    }

    // A client that never answers its hello fails the run's setup, within the hello timeout.
    let started = Instant::now();
    let r = run(dir, "xc-silent", "silent-hello", "");
    assert_eq!(r.code, Some(255), "{}", r.out);
    assert!(r.out.contains("did not answer its hello"), "{}", r.out);
    assert!(started.elapsed() < Duration::from_secs(90), "no hang: {:?}", started.elapsed());
}

#[test]
fn issue_13_bad_shell_sections_name_the_file_line_and_step() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, shell: &str| {
        let yaml = format!(
            "name: {name}\ncluster: {CLUSTER}-bad\ndb:\n  shell:\n{shell}client: {{ command: \"true\" }}\n\
             workload: {{ set: {{}} }}\ntime-limit: 2s\nconcurrency: 1\n"
        );
        let p = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(&p, yaml).expect("write");
        p
    };
    let missing = write("no-start", "    setup: \"true\"\n");
    let out = brawl(&["validate", missing.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("no-start.yaml:4") && t.contains("db.shell.start") && t.contains("missing"), "{t}");

    let unknown = write("unknown-var", "    start: \"sleep 1\"\n    setup: \"echo {{ node.nmae }}\"\n");
    let out = brawl(&["validate", unknown.to_str().expect("utf8")]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(254), "{t}");
    assert!(t.contains("unknown-var.yaml:6") && t.contains("db.shell.setup") && t.contains("undefined"), "{t}");

    let no_client = tmp.path().join("no-client.yaml");
    std::fs::write(
        &no_client,
        format!("name: no-client\ncluster: {CLUSTER}-bad\ndb:\n  shell: {{ start: \"sleep 9\" }}\nworkload: {{ set: {{}} }}\ntime-limit: 2s\nconcurrency: 1\n"),
    )
    .expect("write");
    let out = brawl(&["validate", no_client.to_str().expect("utf8")]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(254), "{t}");
    assert!(t.contains("no built-in client"), "{t}");
}

#[test]
fn issue_13_a_failing_step_fails_setup_naming_the_step_and_leaves_nothing_running() {
    let c = TestCluster::up("lc-xf", 2);
    let tmp = tempfile::tempdir().expect("tempdir");
    let yaml = "name: xf\ncluster: lc-xf\ndb:\n  shell:\n    start: \"exec sleep 100000\"\n    setup: \"echo broken config >&2; exit 3\"\n\
                client: { command: \"true\" }\nworkload: { set: {} }\ntime-limit: 2s\nconcurrency: 1\n";
    let file = tmp.path().join("xf.yaml");
    std::fs::write(&file, yaml).expect("write");
    let reports = tmp.path().join("reports");
    let out = brawl(&["run", file.to_str().expect("utf8"), "--reports", reports.to_str().expect("utf8")]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(255), "{t}");
    assert!(
        t.contains("xf.yaml:6: db.shell.setup failed on n") && t.contains("exit 3") && t.contains("broken config"),
        "{t}"
    );
    // Nothing of the system is left on the nodes.
    let ps = brawl(&[
        "exec",
        "--cluster",
        "lc-xf",
        "--",
        "pgrep -f 'slee[p] 100000' || echo none-running; ls /var/lib/brawl/node",
    ]);
    let t = text(&ps);
    assert_eq!(t.matches("none-running").count(), 2, "no process left on either node: {t}");
    assert!(!t.contains("shell"), "data dir removed: {t}");
    drop(c);
}

/// Every workload brawl has goes through the protocol: a Python client over one atomic store
/// (tests/clients/filestore.py) serves each, and each run is valid with ok ops in every f. The
/// bank client opens its accounts from the hello's `options`.
#[test]
fn issue_13_every_workload_runs_through_an_external_client() {
    let _c = TestCluster::up("lc-xw", 1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/filestore.py");
    let reports = tmp.path().join("reports");
    for (name, workload, fs) in [
        ("xw-register", "register: { keys: 3 }", &["read", "write", "cas"][..]),
        ("xw-set", "set: { read-fraction: 0.2 }", &["add", "read"][..]),
        ("xw-counter", "counter: {}", &["add", "read"][..]),
        ("xw-bank", "bank: { accounts: 4, total: 40 }", &["transfer", "read"][..]),
        ("xw-list-append", "list-append: { keys: 4, max-writes-per-key: 8 }", &["txn"][..]),
        ("xw-rw-register", "rw-register: { keys: 4, max-writes-per-key: 8 }", &["txn"][..]),
    ] {
        let store = tmp.path().join(format!("{name}.json"));
        let yaml = format!(
            "name: {name}\ncluster: lc-xw\ndb:\n  shell: {{ start: \"exec sleep 100000\" }}\n\
             client:\n  command: \"python3 {}\"\n  env: {{ BRAWL_STORE: \"{}\" }}\n\
             workload: {{ {workload} }}\ntime-limit: 3s\nrecovery-time: 1s\nconcurrency: 3\nrate: 100\n",
            script.display(),
            store.display()
        );
        let file = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(&file, yaml).expect("write");
        let out = brawl(&["run", file.to_str().expect("utf8"), "--reports", reports.to_str().expect("utf8")]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out));
        let dir = std::fs::canonicalize(reports.join(name).join("latest")).expect("run dir");
        let results: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("results.json")).expect("results")).expect("json");
        assert_eq!(results["validity"], "valid", "{name}: {results:#}");
        for f in fs {
            assert!(results["stats"]["by_f"][f]["ok"].as_u64() > Some(0), "{name}: no ok {f}: {results:#}");
        }
    }
}
