//! [`SshOverrides`]: an `ssh` section of a test file or a nodes file, converted to runtime
//! types, and the path rules shared by both files (`~` expansion, relative to the file).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Spanned;

use super::load::ConfigError;
use super::raw::{RawSsh, RawSudo, StrictHostKeyChecking};
use crate::control::target::{HostKeyChecking, SshTarget, Sudo};

/// A converted `ssh` section: every field is optional and set ones replace a target's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SshOverrides {
    /// Login user.
    pub user: Option<String>,
    /// TCP port.
    pub port: Option<u16>,
    /// Private key file, `~` expanded and made relative to the config file's directory.
    pub key_file: Option<PathBuf>,
    /// known_hosts file, resolved like `key_file`.
    pub known_hosts: Option<PathBuf>,
    /// Host-key policy.
    pub host_key_checking: Option<HostKeyChecking>,
    /// ssh config file, resolved like `key_file`.
    pub ssh_config: Option<PathBuf>,
    /// How commands get root.
    pub sudo: Option<Sudo>,
    /// Time allowed to connect.
    pub connect_timeout: Option<Duration>,
    /// Default time limit of one command.
    pub command_timeout: Option<Duration>,
}

impl SshOverrides {
    /// Replace `target`'s settings with the ones set here; unset ones are left alone.
    pub fn apply(&self, target: &mut SshTarget) {
        fn set<T: Clone>(field: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *field = v.clone();
            }
        }
        fn set_opt<T: Clone>(field: &mut Option<T>, value: &Option<T>) {
            if value.is_some() {
                field.clone_from(value);
            }
        }
        set_opt(&mut target.user, &self.user);
        set_opt(&mut target.port, &self.port);
        set_opt(&mut target.key_file, &self.key_file);
        set_opt(&mut target.known_hosts, &self.known_hosts);
        set(&mut target.host_key_checking, &self.host_key_checking);
        set_opt(&mut target.ssh_config, &self.ssh_config);
        set(&mut target.sudo, &self.sudo);
        set(&mut target.connect_timeout, &self.connect_timeout);
        set(&mut target.command_timeout, &self.command_timeout);
    }
}

/// Convert an `ssh` section read from `file`: paths get `~` expanded and are resolved against
/// `file`'s directory.
pub(crate) fn ssh_overrides(raw: RawSsh, file: &Path) -> Result<SshOverrides, ConfigError> {
    let path = |p: Option<Spanned<String>>, field: &str| {
        p.map(|p| resolve_path(&p, &format!("ssh.{field}"), file)).transpose()
    };
    Ok(SshOverrides {
        user: raw.user,
        port: raw.port,
        key_file: path(raw.key_file, "key-file")?,
        known_hosts: path(raw.known_hosts, "known-hosts")?,
        host_key_checking: raw.strict_host_key_checking.map(|s| match s {
            StrictHostKeyChecking::Yes => HostKeyChecking::Strict,
            StrictHostKeyChecking::AcceptNew => HostKeyChecking::AcceptNew,
            StrictHostKeyChecking::No => HostKeyChecking::Off,
        }),
        ssh_config: path(raw.ssh_config, "ssh-config")?,
        sudo: raw.sudo.map(|s| match s {
            RawSudo::None => Sudo::None,
            RawSudo::Passwordless => Sudo::Passwordless,
            RawSudo::PasswordEnv(var) => Sudo::PasswordEnv(var),
        }),
        connect_timeout: raw.connect_timeout,
        command_timeout: raw.command_timeout,
    })
}

/// `~` or `~/…` expanded from `$HOME`, then a relative path joined to `file`'s directory.
pub(crate) fn resolve_path(p: &Spanned<String>, field: &str, file: &Path) -> Result<PathBuf, ConfigError> {
    let err = |msg: &str| ConfigError::invalid(file, p.referenced, field, msg);
    let text = p.value.as_str();
    if text.is_empty() {
        return Err(err("is empty: expected a path"));
    }
    let expanded = if text == "~" || text.starts_with("~/") {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| err("cannot expand `~`: HOME is not set"))?;
        PathBuf::from(home).join(text.trim_start_matches('~').trim_start_matches('/'))
    } else {
        PathBuf::from(text)
    };
    Ok(match file.parent() {
        Some(dir) if expanded.is_relative() => dir.join(expanded),
        _ => expanded,
    })
}

#[cfg(test)]
mod tests {
    // Snapshot files are named without the crate name, so they are found from any crate.
    macro_rules! snap {
        ($value:expr) => {
            insta::with_settings!(
                { prepend_module_to_snapshot => false, snapshot_path => "snapshots/ssh" },
                { insta::assert_snapshot!($value) }
            )
        };
    }

    use super::*;
    use crate::config::load::load_str;

    /// An `ssh` section as if read from `tests/test.yaml`.
    fn ssh(text: &str) -> Result<SshOverrides, ConfigError> {
        let file = Path::new("tests/test.yaml");
        ssh_overrides(load_str(text, file)?, file)
    }

    #[test]
    fn sudo_forms() {
        let sudo = |v: &str| ssh(&format!("sudo: {v}\n")).unwrap().sudo;
        assert_eq!(sudo("none"), Some(Sudo::None));
        assert_eq!(sudo("passwordless"), Some(Sudo::Passwordless));
        assert_eq!(sudo("{ password-env: PW }"), Some(Sudo::PasswordEnv("PW".into())));
        snap!(ssh("sudo: always\n").unwrap_err());
    }

    #[test]
    fn timeouts_and_port() {
        let s = ssh("port: 2222\nconnect-timeout: 500ms\ncommand-timeout: 5m\n").unwrap();
        assert_eq!(s.port, Some(2222));
        assert_eq!(s.connect_timeout, Some(Duration::from_millis(500)));
        assert_eq!(s.command_timeout, Some(Duration::from_secs(300)));
        snap!(ssh("port: 70000\n").unwrap_err());
    }

    #[test]
    fn tilde_is_expanded_from_home() {
        let home = PathBuf::from(std::env::var_os("HOME").expect("tests need HOME"));
        let ssh = ssh("key-file: ~/.ssh/id\nknown-hosts: kh\nssh-config: \"~\"\n").unwrap();
        assert_eq!(ssh.key_file, Some(home.join(".ssh/id")));
        assert_eq!(ssh.known_hosts, Some(PathBuf::from("tests/kh")));
        assert_eq!(ssh.ssh_config, Some(home));
    }

    #[test]
    fn strict_host_key_checking_values() {
        let check = |v: &str| ssh(&format!("strict-host-key-checking: {v}\n")).map(|s| s.host_key_checking);
        assert_eq!(check("true").unwrap(), Some(HostKeyChecking::Strict));
        assert_eq!(check("accept-new").unwrap(), Some(HostKeyChecking::AcceptNew));
        assert_eq!(check("false").unwrap(), Some(HostKeyChecking::Off));
        snap!(check("maybe").unwrap_err());
    }

    #[test]
    fn apply_overrides_only_what_is_set() {
        let mut target = SshTarget::new("n1", "10.0.0.1");
        target.port = Some(2201);
        let ssh = SshOverrides {
            user: Some("admin".into()),
            host_key_checking: Some(HostKeyChecking::Off),
            ..SshOverrides::default()
        };
        ssh.apply(&mut target);
        let mut expected = SshTarget::new("n1", "10.0.0.1");
        expected.port = Some(2201);
        expected.user = Some("admin".into());
        expected.host_key_checking = HostKeyChecking::Off;
        assert_eq!(target, expected);
    }
}
