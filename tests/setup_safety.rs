//! Issue 10, part 1: `.ci/setup` leaves the host's own services alone. A host sshd (with the pid
//! file Debian's `ssh` service uses, so `service ssh stop` would act on it) and a process named
//! `etcd` that brawl did not start both run before setup and still run, same pids, after it.
//!
//! `BRAWL_SETUP_SCRIPT` points the test at another script, e.g. the old one from git, to see it
//! fail. Run that only inside a fresh pid and mount namespace, because the old script kills every
//! `etcd` it can see (other clusters' nodes too):
//! `git show b8dfe7f:.ci/setup > /tmp/old-setup; unshare --pid --fork --mount --mount-proc
//! --propagation private sh -c 'mount -t tmpfs tmpfs /run && BRAWL_SETUP_SCRIPT=/tmp/old-setup
//! target/release/deps/setup_safety-*'` fails: "the host's sshd (pid 7) was stopped".

mod common;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The pid file `/etc/init.d/ssh` (start-stop-daemon --pidfile) and ssh.service use.
const SSHD_PID_FILE: &str = "/run/sshd.pid";
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// What the test started; dropping it stops exactly that, by pid, also when the test panics.
struct Started {
    sshd: Option<Child>,
    etcd: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Drop for Started {
    fn drop(&mut self) {
        for child in [self.sshd.as_mut(), self.etcd.as_mut()].into_iter().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The pid file is removed only if it still names the sshd this test started.
        if let Some(pid) = self.sshd.as_ref().map(Child::id) {
            if read_pid(Path::new(SSHD_PID_FILE)) == Some(pid) {
                let _ = fs::remove_file(SSHD_PID_FILE);
            }
        }
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: u32) -> bool {
    // A zombie is not running: look at the state, not only at /proc/<pid>.
    fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| s.lines().any(|l| l.starts_with("State:") && !l.contains('Z')))
        .unwrap_or(false)
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string()
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    l.local_addr().expect("bound address").port()
}

/// The host's sshd if one runs under Debian's pid file, else one this test starts on loopback.
fn host_sshd(dir: &Path) -> (u32, Option<Child>) {
    if let Some(pid) = read_pid(Path::new(SSHD_PID_FILE)).filter(|p| alive(*p)) {
        return (pid, None);
    }
    let key = dir.join("host_key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen runs");
    assert!(out.status.success(), "ssh-keygen: {}", common::text(&out));
    fs::create_dir_all("/run/sshd").expect("sshd's privilege separation directory");
    let port = free_port().to_string();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-f", "/dev/null", "-p", &port, "-o", "ListenAddress=127.0.0.1"])
        .args(["-o", &format!("PidFile={SSHD_PID_FILE}"), "-h"])
        .arg(&key)
        .stdin(Stdio::null())
        .spawn()
        .expect("/usr/sbin/sshd starts (openssh-server, installed by .ci/setup)");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while read_pid(Path::new(SSHD_PID_FILE)) != Some(pid) {
        assert!(Instant::now() < deadline, "sshd {pid} did not write {SSHD_PID_FILE} within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    (pid, Some(child))
}

/// A copy of `sleep` named `etcd`: `pkill -x etcd` or `killall etcd` would kill it.
fn foreign_etcd(dir: &Path) -> Child {
    let bin = dir.join("etcd");
    fs::copy("/bin/sleep", &bin).expect("copy /bin/sleep");
    Command::new(&bin).arg("600").stdin(Stdio::null()).spawn().expect("the fake etcd starts")
}

fn setup_script() -> PathBuf {
    std::env::var_os("BRAWL_SETUP_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/setup"))
}

#[test]
fn issue_10_setup_leaves_the_host_sshd_and_a_foreign_etcd_running() {
    common::require_root();
    let dir = tempfile::tempdir().expect("temp dir");
    let (sshd_pid, sshd) = host_sshd(dir.path());
    let etcd = foreign_etcd(dir.path());
    let etcd_pid = etcd.id();
    let mut started = Started { sshd, etcd: Some(etcd), _dir: dir };
    // Right after fork the child still carries the test's name; wait for the exec.
    let deadline = Instant::now() + Duration::from_secs(5);
    while comm(etcd_pid) != "etcd" {
        assert!(Instant::now() < deadline, "the fake etcd is named etcd, not {:?}", comm(etcd_pid));
        std::thread::sleep(Duration::from_millis(10));
    }
    let policy_before = fs::read(POLICY_RC_D).ok();

    let script = setup_script();
    let mut run =
        Command::new("bash").arg(&script).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("bash runs");
    // Installing everything on a fresh machine takes minutes; already installed, a second.
    let deadline = Instant::now() + Duration::from_secs(1200);
    while run.try_wait().expect("wait for setup").is_none() {
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("{} did not finish within 20 minutes", script.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run.wait_with_output().expect("setup output");
    assert!(out.status.success(), "{} failed: {}", script.display(), common::text(&out));

    assert!(alive(sshd_pid), "the host's sshd (pid {sshd_pid}) was stopped by {}", script.display());
    assert_eq!(read_pid(Path::new(SSHD_PID_FILE)), Some(sshd_pid), "{SSHD_PID_FILE} names the same sshd");
    let etcd = started.etcd.as_mut().expect("started above");
    assert!(
        etcd.try_wait().expect("poll the fake etcd").is_none() && alive(etcd_pid),
        "a process named etcd that brawl did not start (pid {etcd_pid}) was killed by {}",
        script.display()
    );
    assert_eq!(fs::read(POLICY_RC_D).ok(), policy_before, "{POLICY_RC_D} is as the host had it");
    drop(started);
    assert!(!alive(etcd_pid), "the test stops what it started");
}
