//! `FakeRemote`: records the commands it is given and answers from a script, for unit tests of
//! command construction. Never used to claim a capability works: that needs a real node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::command::{CmdOutput, RemoteCommand};
use super::error::ControlError;
use super::Remote;

/// A remote that runs nothing. Each command gets the first scripted answer whose key is a
/// substring of it, else exit 0 with empty output.
#[derive(Default)]
pub struct FakeRemote {
    name: String,
    /// Every command's script, in order, with `sudo ` in front when it asked for root.
    log: Mutex<Vec<String>>,
    answers: Mutex<Vec<(String, CmdOutput)>>,
    files: Mutex<HashMap<String, Vec<u8>>>,
}

impl FakeRemote {
    /// A fake node with this name.
    pub fn new(name: &str) -> Self {
        FakeRemote { name: name.to_string(), ..Default::default() }
    }

    /// Commands containing `pattern` exit with `status` and print `stdout`.
    pub fn answer(&self, pattern: &str, status: i32, stdout: &str) {
        let out = CmdOutput { status, stdout: stdout.into(), stderr: String::new(), duration: Duration::ZERO };
        self.answers.lock().expect("fake remote lock").push((pattern.into(), out));
    }

    /// The commands run so far.
    pub fn commands(&self) -> Vec<String> {
        self.log.lock().expect("fake remote lock").clone()
    }

    /// The files uploaded so far.
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.files.lock().expect("fake remote lock").get(path).cloned()
    }
}

#[async_trait]
impl Remote for FakeRemote {
    fn name(&self) -> &str {
        &self.name
    }

    fn host(&self) -> &str {
        &self.name
    }

    async fn exec(&self, cmd: &RemoteCommand) -> Result<CmdOutput, ControlError> {
        let entry = if cmd.sudo { format!("sudo {}", cmd.script) } else { cmd.script.clone() };
        self.log.lock().expect("fake remote lock").push(entry);
        let answers = self.answers.lock().expect("fake remote lock");
        let out =
            answers.iter().find(|(p, _)| cmd.script.contains(p.as_str())).map(|(_, o)| o.clone()).unwrap_or(
                CmdOutput { status: 0, stdout: String::new(), stderr: String::new(), duration: Duration::ZERO },
            );
        if cmd.check && out.status != 0 {
            return Err(ControlError::Exec {
                node: self.name.clone(),
                cmd: cmd.script.clone(),
                status: out.status,
                stderr: out.stderr,
            });
        }
        Ok(out)
    }

    async fn upload(&self, data: &[u8], path: &str, _mode: u32) -> Result<(), ControlError> {
        self.files.lock().expect("fake remote lock").insert(path.into(), data.to_vec());
        Ok(())
    }

    async fn download(&self, path: &str) -> Result<Vec<u8>, ControlError> {
        self.files.lock().expect("fake remote lock").get(path).cloned().ok_or_else(|| ControlError::Transfer {
            node: self.name.clone(),
            direction: "download",
            path: path.into(),
            reason: "no such file".into(),
        })
    }
}
