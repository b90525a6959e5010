//! Where runs live: `reports/<test>/<timestamp>/`, with `reports/latest` and
//! `reports/<test>/latest` pointing at the newest run.

use std::io;
use std::path::{Path, PathBuf};

/// A run's directory and the files in it.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// The directory.
    pub path: PathBuf,
}

/// A run's or campaign's directory name: its UTC start in ISO basic format, with milliseconds
/// (`20261202T051230.123Z`), so names sort by time.
pub fn stamp(start: chrono::DateTime<chrono::Utc>) -> String {
    start.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

impl RunDir {
    /// Creates `reports/<test>/<timestamp>/` ([`stamp`]).
    pub fn create(reports: &Path, test: &str, start: chrono::DateTime<chrono::Utc>) -> io::Result<RunDir> {
        let path = reports.join(test).join(stamp(start));
        std::fs::create_dir_all(&path)?;
        let dir = RunDir { path };
        dir.point_latest(reports, test);
        Ok(dir)
    }

    /// The history file.
    pub fn history(&self) -> PathBuf {
        self.path.join("history.jsonl")
    }

    /// The results file.
    pub fn results(&self) -> PathBuf {
        self.path.join("results.json")
    }

    /// The run's log.
    pub fn log(&self) -> PathBuf {
        self.path.join("brawl.log")
    }

    /// The report.
    pub fn report(&self) -> PathBuf {
        self.path.join("report.html")
    }

    /// Points `reports/latest` and `reports/<test>/latest` at this run (relative links).
    pub fn point_latest(&self, reports: &Path, test: &str) {
        let Some(stamp) = self.path.file_name() else { return };
        let links = [
            (reports.join(test).join("latest"), PathBuf::from(stamp)),
            (reports.join("latest"), Path::new(test).join(stamp)),
        ];
        for (link, target) in links {
            let tmp = link.with_extension("tmp");
            let _ = std::fs::remove_file(&tmp);
            if std::os::unix::fs::symlink(&target, &tmp).is_ok() {
                let _ = std::fs::rename(&tmp, &link);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_get_their_own_directory_and_latest_points_at_the_newest() {
        let reports = tempfile::tempdir().expect("tempdir");
        let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-22T05:00:00.123Z").expect("time").to_utc();
        let a = RunDir::create(reports.path(), "etcd", t0).expect("created");
        assert!(a.path.ends_with("etcd/20261122T050000.123Z"));
        let b = RunDir::create(reports.path(), "etcd", t0 + chrono::Duration::seconds(1)).expect("created");
        let latest = std::fs::canonicalize(reports.path().join("latest")).expect("link");
        assert_eq!(latest, std::fs::canonicalize(&b.path).expect("dir"));
        let test_latest = std::fs::canonicalize(reports.path().join("etcd/latest")).expect("link");
        assert_eq!(test_latest, std::fs::canonicalize(&b.path).expect("dir"));
    }
}
