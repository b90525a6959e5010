//! `brawl campaign merge OUT_DIR SHARD_DIR...`: the shards of one campaign, run on different
//! CI runners, joined into one `campaign.html`, one `junit.xml` and one `campaign.json`.
//!
//! Shards must come from the same campaign file: the same name, repetitions, schedules, shard
//! count and matrix (every cell's test, file and schedule), or [`merge`] refuses them. Every
//! run directory a shard lists is copied into `OUT_DIR/shard-K/`, so `OUT_DIR` is one
//! self-contained tree to publish (and a reports tree that `brawl serve` indexes); nothing links
//! outside it. A run of the matrix that no shard holds (its shard was not given, or stopped
//! early) becomes a [`RunOutcome`] marked `missing` with exit code 255: shown on the page, an
//! error case in JUnit, and counted in the exit code.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{exit_code, page, CampaignResult, RunOutcome, Shard, CAMPAIGNS_DIR};

/// What a merge records about each shard (`merged` in `campaign.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergeRecord {
    /// N, the number of shards.
    pub count: u32,
    /// Every shard from 1 to N, given or missing.
    pub shards: Vec<MergedShard>,
}

/// One shard of a merge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergedShard {
    /// K.
    pub index: u32,
    /// The cells it owns (positions in the matrix).
    pub cells: Vec<usize>,
    /// The directory it was read from, as given; `None` when missing.
    pub source: Option<String>,
    /// No directory held this shard.
    pub missing: bool,
    /// Its runs.
    pub runs: usize,
    /// Its exit code (255 when missing).
    pub exit_code: u8,
    /// It was stopped before its last run.
    pub interrupted: bool,
}

/// Why shards could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No shard directories.
    #[error("no shard directories given")]
    NoShards,
    /// Neither `DIR/campaign.json` nor one `DIR/_campaigns/*/*/campaign.json`.
    #[error("{dir}: no campaign.json here (expected a campaign directory, or a reports directory with one campaign under {CAMPAIGNS_DIR}/)")]
    NotFound {
        /// The directory given.
        dir: PathBuf,
    },
    /// Several campaigns under one reports directory.
    #[error("{dir}: {count} campaigns under {CAMPAIGNS_DIR}/; give the shard's campaign directory itself")]
    Ambiguous {
        /// The directory given.
        dir: PathBuf,
        /// How many `campaign.json` were found.
        count: usize,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `campaign.json` is not one.
    #[error("{path}: not a campaign.json: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A campaign that ran its whole matrix.
    #[error("{path}: not a shard: the campaign ran without --shard K/N")]
    NotAShard {
        /// Its `campaign.json`.
        path: PathBuf,
    },
    /// Shards of different campaigns or matrices.
    #[error("{path}: its {what} is {found}, but {first} has {expected}: shards of different campaigns or matrices cannot be merged")]
    Mismatch {
        /// The shard's `campaign.json`.
        path: PathBuf,
        /// The first shard's `campaign.json`.
        first: PathBuf,
        /// What differs.
        what: &'static str,
        /// The first shard's value.
        expected: String,
        /// This shard's value.
        found: String,
    },
    /// The same shard twice.
    #[error("{path}: shard {shard} is given twice (also {other})")]
    Duplicate {
        /// The second `campaign.json`.
        path: PathBuf,
        /// The first.
        other: PathBuf,
        /// K/N.
        shard: Shard,
    },
    /// A shard whose runs or cells do not fit its place in the matrix.
    #[error("{path}: {why}")]
    BadShard {
        /// The shard's `campaign.json`.
        path: PathBuf,
        /// What does not fit.
        why: String,
    },
    /// The output directory holds something already.
    #[error("{dir}: the output directory exists and is not empty")]
    OutNotEmpty {
        /// `OUT_DIR`.
        dir: PathBuf,
    },
    /// Writing or copying into the output failed.
    #[error("{path}: {source}")]
    Write {
        /// The path written.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl MergeError {
    /// Bad input (exit 254) rather than a failure to write (255).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, MergeError::Write { .. })
    }
}

/// A shard as read: its `campaign.json`, and the reports directory its run dirs are under.
struct Loaded {
    json: PathBuf,
    source: String,
    reports: PathBuf,
    result: CampaignResult,
    shard: Shard,
}

/// Finds and reads the shard in `dir`.
fn load(dir: &Path) -> Result<Loaded, MergeError> {
    let (json, reports) = if dir.join("campaign.json").is_file() {
        // reports/_campaigns/<name>/<stamp>/campaign.json
        (dir.join("campaign.json"), dir.join("../../.."))
    } else {
        let mut found = Vec::new();
        for name in read_dir(&dir.join(CAMPAIGNS_DIR)).unwrap_or_default() {
            for stamp in read_dir(&name).unwrap_or_default() {
                if stamp.join("campaign.json").is_file() {
                    found.push(stamp.join("campaign.json"));
                }
            }
        }
        match found.len() {
            0 => return Err(MergeError::NotFound { dir: dir.to_path_buf() }),
            1 => (found.remove(0), dir.to_path_buf()),
            count => return Err(MergeError::Ambiguous { dir: dir.to_path_buf(), count }),
        }
    };
    let bytes = std::fs::read(&json).map_err(|source| MergeError::Read { path: json.clone(), source })?;
    let result: CampaignResult =
        serde_json::from_slice(&bytes).map_err(|source| MergeError::Parse { path: json.clone(), source })?;
    let shard = result.shard.as_ref().map(|s| s.shard()).ok_or_else(|| MergeError::NotAShard { path: json.clone() })?;
    Ok(Loaded { json, source: dir.display().to_string(), reports, result, shard })
}

/// The subdirectories of `dir`, sorted.
fn read_dir(dir: &Path) -> Option<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    v.sort();
    Some(v)
}

/// Refuses a shard that is not of the first shard's campaign, or does not fit its place.
fn check(first: &Loaded, s: &Loaded) -> Result<(), MergeError> {
    let mismatch = |what, expected: String, found: String| {
        if expected == found {
            return Ok(());
        }
        Err(MergeError::Mismatch { path: s.json.clone(), first: first.json.clone(), what, expected, found })
    };
    let (a, b) = (&first.result, &s.result);
    mismatch("campaign name", a.name.clone(), b.name.clone())?;
    mismatch("shard count", first.shard.count.to_string(), s.shard.count.to_string())?;
    mismatch("repetitions", a.repetitions.to_string(), b.repetitions.to_string())?;
    mismatch("schedules", a.schedules.join(", "), b.schedules.join(", "))?;
    let cells = |r: &CampaignResult| {
        r.matrix.iter().map(|c| format!("{} ({}) × {}", c.test, c.file, c.schedule)).collect::<Vec<_>>().join(", ")
    };
    mismatch("matrix", cells(a), cells(b))?;
    let bad = |why: String| Err(MergeError::BadShard { path: s.json.clone(), why });
    if b.matrix.is_empty() {
        return bad("the campaign records no matrix (run by an older brawl?)".into());
    }
    let owned = s.shard.cells(b.matrix.len());
    if b.shard.as_ref().map(|r| &r.cells) != Some(&owned) {
        return bad(format!(
            "shard {} records other cells than the {} it owns in a {}-cell matrix",
            s.shard,
            owned.len(),
            b.matrix.len()
        ));
    }
    for (i, r) in b.runs.iter().enumerate() {
        match r.cell {
            Some(c) if owned.contains(&c) && (1..=b.repetitions).contains(&r.repetition) => {}
            _ => {
                return bad(format!(
                    "runs[{i}] ({} × {} #{}) is not a run of shard {}",
                    r.test, r.schedule, r.repetition, s.shard
                ))
            }
        }
    }
    Ok(())
}

/// A run directory as `campaign.json` names it, if it stays inside the reports directory.
fn safe_relative(dir: &str) -> Option<&Path> {
    let p = Path::new(dir);
    (p.components().count() > 0 && p.components().all(|c| matches!(c, Component::Normal(_)))).then_some(p)
}

/// Copies a directory tree; symbolic links are left out (a run dir has none of its own).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Merges the shards in `shard_dirs` into `out` (created; must be empty if it exists) and
/// returns the merged campaign, whose `exit_code` is the worst run's, missing runs counting 255.
pub fn merge(out: &Path, shard_dirs: &[PathBuf]) -> Result<CampaignResult, MergeError> {
    let mut loaded = Vec::new();
    for dir in shard_dirs {
        loaded.push(load(dir)?);
    }
    let first = loaded.first().ok_or(MergeError::NoShards)?;
    for (i, s) in loaded.iter().enumerate() {
        check(first, s)?;
        if let Some(other) = loaded[..i].iter().find(|o| o.shard == s.shard) {
            return Err(MergeError::Duplicate { path: s.json.clone(), other: other.json.clone(), shard: s.shard });
        }
    }
    if std::fs::read_dir(out).map(|mut d| d.next().is_some()).unwrap_or(false) {
        return Err(MergeError::OutNotEmpty { dir: out.to_path_buf() });
    }
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MergeError::Write { path, source }
    };
    std::fs::create_dir_all(out).map_err(write_err(out))?;

    let (matrix, repetitions, count) = (first.result.matrix.clone(), first.result.repetitions, first.shard.count);
    let mut runs = Vec::new();
    let mut shards = Vec::new();
    for index in 1..=count {
        let shard = Shard { index, count };
        let cells = shard.cells(matrix.len());
        let given = loaded.iter().find(|l| l.shard == shard);
        shards.push(MergedShard {
            index,
            cells: cells.clone(),
            source: given.map(|g| g.source.clone()),
            missing: given.is_none(),
            runs: given.map(|g| g.result.runs.len()).unwrap_or(0),
            exit_code: given.map(|g| g.result.exit_code).unwrap_or(255),
            interrupted: given.is_some_and(|g| g.result.interrupted),
        });
        let mut have = Vec::new();
        if let Some(s) = given {
            for r in &s.result.runs {
                let mut r = r.clone();
                have.push((r.cell, r.repetition));
                r.run_dir = match r.run_dir.as_deref().and_then(safe_relative) {
                    Some(d) if s.reports.join(d).is_dir() => {
                        let to = Path::new(&format!("shard-{index}")).join(d);
                        copy_tree(&s.reports.join(d), &out.join(&to)).map_err(write_err(&out.join(&to)))?;
                        Some(to.display().to_string())
                    }
                    Some(d) => {
                        let note = format!("run directory {} is not in shard {shard}'s directory", d.display());
                        r.message = Some(r.message.map(|m| format!("{m}; {note}")).unwrap_or(note));
                        None
                    }
                    None => None,
                };
                runs.push(r);
            }
        }
        for &cell in &cells {
            for repetition in 1..=repetitions {
                if have.contains(&(Some(cell), repetition)) {
                    continue;
                }
                let why = match given {
                    None => {
                        format!("shard {shard} was not given to the merge (its job failed or its artifact is missing)")
                    }
                    Some(g) if g.result.interrupted => format!("not run: shard {shard} was stopped early"),
                    Some(_) => format!("not run by shard {shard}"),
                };
                runs.push(RunOutcome {
                    test: matrix[cell].test.clone(),
                    schedule: matrix[cell].schedule.clone(),
                    repetition,
                    verdict: None,
                    exit_code: 255,
                    run_dir: None,
                    message: Some(why),
                    seed: None,
                    duration_s: 0.0,
                    cell: Some(cell),
                    missing: true,
                });
            }
        }
    }
    // The merged page reads like the unsharded one: cells in matrix order.
    runs.sort_by_key(|r| (r.cell, r.repetition));
    let result = CampaignResult {
        name: first.result.name.clone(),
        start: loaded.iter().map(|l| l.result.start.clone()).min().unwrap_or_default(),
        duration_s: loaded.iter().map(|l| l.result.duration_s).fold(0.0, f64::max),
        schedules: first.result.schedules.clone(),
        repetitions,
        exit_code: exit_code(&runs),
        runs,
        interrupted: loaded.iter().any(|l| l.result.interrupted),
        matrix,
        shard: None,
        merged: Some(MergeRecord { count, shards }),
    };
    let json = serde_json::to_string_pretty(&result)
        .map_err(|e| MergeError::Write { path: out.join("campaign.json"), source: std::io::Error::other(e) })?;
    for (name, text) in
        [("campaign.json", json), ("campaign.html", page::html(&result, "")), ("junit.xml", page::junit(&result, ""))]
    {
        std::fs::write(out.join(name), text).map_err(write_err(&out.join(name)))?;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::{MatrixCell, ShardRecord};
    use crate::checker::Validity;

    fn matrix() -> Vec<MatrixCell> {
        let cell = |t: &str, s: &str| MatrixCell { test: t.into(), file: format!("{t}.yaml"), schedule: s.into() };
        vec![cell("a", "own"), cell("a", "kill"), cell("b", "own"), cell("b", "kill")]
    }

    /// Shard k of 2 with one repetition per cell, its runs ending with `codes` (in cell order),
    /// written as `root/_campaigns/c/<stamp>/campaign.json` with a run dir per run.
    fn shard(root: &Path, k: u32, codes: &[u8]) -> CampaignResult {
        let s = Shard { index: k, count: 2 };
        let m = matrix();
        let runs: Vec<RunOutcome> = s
            .cells(m.len())
            .into_iter()
            .zip(codes)
            .map(|(cell, &code)| {
                let run_dir = format!("{}/2026120{k}T00000{cell}.000Z", m[cell].test);
                std::fs::create_dir_all(root.join(&run_dir)).expect("run dir");
                std::fs::write(root.join(&run_dir).join("report.html"), format!("run {cell}")).expect("report");
                RunOutcome {
                    test: m[cell].test.clone(),
                    schedule: m[cell].schedule.clone(),
                    repetition: 1,
                    verdict: [Some(Validity::Valid), Some(Validity::Invalid), Some(Validity::Unknown)]
                        .get(code as usize)
                        .copied()
                        .flatten(),
                    exit_code: code,
                    run_dir: Some(run_dir),
                    message: None,
                    seed: Some(cell as u64),
                    duration_s: 1.0,
                    cell: Some(cell),
                    missing: false,
                }
            })
            .collect();
        let result = CampaignResult {
            name: "c".into(),
            start: format!("2026-12-02T05:00:0{k}+00:00"),
            duration_s: 10.0 * k as f64,
            schedules: vec!["own".into(), "kill".into()],
            repetitions: 1,
            exit_code: exit_code(&runs),
            runs,
            interrupted: false,
            shard: Some(ShardRecord::new(s, m.len())),
            matrix: m,
            merged: None,
        };
        let dir = root.join(CAMPAIGNS_DIR).join("c").join(format!("stamp-{k}"));
        std::fs::create_dir_all(&dir).expect("campaign dir");
        std::fs::write(dir.join("campaign.json"), serde_json::to_string(&result).expect("json")).expect("write");
        result
    }

    #[test]
    fn two_shards_merge_into_the_whole_matrix_in_order_with_their_runs_copied() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (one, two, out) = (tmp.path().join("one"), tmp.path().join("two"), tmp.path().join("out"));
        shard(&one, 1, &[0, 2]);
        shard(&two, 2, &[0, 0]);
        // The second shard given as its campaign directory, the first as its reports directory.
        let r = merge(&out, &[two.join("_campaigns/c/stamp-2"), one.clone()]).expect("merges");
        let cells: Vec<_> = r.runs.iter().map(|r| (r.cell, r.exit_code, r.missing)).collect();
        assert_eq!(cells, vec![(Some(0), 0, false), (Some(1), 0, false), (Some(2), 2, false), (Some(3), 0, false)]);
        assert_eq!(r.exit_code, 2);
        assert_eq!(r.start, "2026-12-02T05:00:01+00:00");
        assert_eq!(r.duration_s, 20.0);
        let m = r.merged.as_ref().expect("merged");
        assert!(m.shards.iter().all(|s| !s.missing) && m.shards.len() == 2);
        for run in &r.runs {
            let d = run.run_dir.as_ref().expect("linked");
            let cell = run.cell.expect("cell");
            assert!(d.starts_with(&format!("shard-{}/", cell % 2 + 1)), "{d}");
            assert_eq!(
                std::fs::read_to_string(out.join(d).join("report.html")).expect("copied"),
                format!("run {cell}")
            );
        }
        let page = std::fs::read_to_string(out.join("campaign.html")).expect("page");
        assert!(page.contains("href=\"shard-2/a/20261202T000001.000Z/report.html\""), "{page}");
        assert!(page.contains("Merged from 2 of 2 shards."), "{page}");
        let back: CampaignResult =
            serde_json::from_slice(&std::fs::read(out.join("campaign.json")).expect("json")).expect("parses");
        assert_eq!(back.runs, r.runs);
        assert!(std::fs::read_to_string(out.join("junit.xml")).expect("junit").contains("run: shard-1/a/"));
    }

    #[test]
    fn a_missing_shard_is_shown_missing_and_fails_the_merge() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (one, out) = (tmp.path().join("one"), tmp.path().join("out"));
        shard(&one, 1, &[0, 0]);
        let r = merge(&out, &[one]).expect("merges");
        assert_eq!(r.exit_code, 255);
        assert_eq!(r.runs.len(), 4);
        let missing: Vec<_> = r.runs.iter().filter(|r| r.missing).map(|r| r.cell).collect();
        assert_eq!(missing, vec![Some(1), Some(3)]);
        assert!(r.runs[1].message.as_deref().is_some_and(|m| m.contains("shard 2/2 was not given")), "{:?}", r.runs[1]);
        let m = r.merged.as_ref().expect("merged");
        assert!(m.shards[1].missing && m.shards[1].exit_code == 255 && m.shards[1].cells == vec![1, 3]);
        let page = std::fs::read_to_string(out.join("campaign.html")).expect("page");
        assert!(page.contains("1 missing") && page.contains("title=\"missing\""), "{page}");
        assert!(page.contains("some runs failed or are missing (exit code 255)"), "{page}");
        let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit");
        assert_eq!(junit.matches("type=\"missing\"").count(), 2, "{junit}");
        assert!(junit.contains("errors=\"2\""), "{junit}");
    }

    #[test]
    fn shards_of_different_matrices_twice_the_same_shard_or_no_shard_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (one, two, out) = (tmp.path().join("one"), tmp.path().join("two"), tmp.path().join("out"));
        shard(&one, 1, &[0, 0]);
        let mut other = shard(&two, 2, &[0, 0]);
        other.matrix[3].schedule = "partition".into();
        let json = two.join("_campaigns/c/stamp-2/campaign.json");
        std::fs::write(&json, serde_json::to_string(&other).expect("json")).expect("write");
        let e = merge(&out, &[one.clone(), two.clone()]).expect_err("other matrix");
        assert!(matches!(e, MergeError::Mismatch { what: "matrix", .. }) && e.is_bad_input(), "{e}");
        assert!(e.to_string().contains("b (b.yaml) × partition"), "{e}");
        assert!(!out.exists(), "nothing written for a refused merge");

        let e = merge(&out, &[one.clone(), one.clone()]).expect_err("twice");
        assert!(matches!(e, MergeError::Duplicate { .. }), "{e}");

        other.shard = None;
        std::fs::write(&json, serde_json::to_string(&other).expect("json")).expect("write");
        assert!(matches!(merge(&out, &[two.clone()]), Err(MergeError::NotAShard { .. })));
        std::fs::write(&json, "{\"name\": 3}").expect("write");
        assert!(matches!(merge(&out, &[two]), Err(MergeError::Parse { .. })));
        let e = merge(&out, &[tmp.path().to_path_buf()]).expect_err("no campaign here");
        assert!(matches!(e, MergeError::NotFound { .. }), "{e}");
    }

    #[test]
    fn a_run_dir_outside_the_shard_is_not_copied_and_a_full_out_dir_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (one, out) = (tmp.path().join("one"), tmp.path().join("out"));
        let mut r = shard(&one, 1, &[0, 0]);
        std::fs::write(tmp.path().join("secret"), "x").expect("write");
        r.runs[0].run_dir = Some("../..".into());
        r.runs[1].run_dir = Some("/etc".into());
        let json = one.join("_campaigns/c/stamp-1/campaign.json");
        std::fs::write(&json, serde_json::to_string(&r).expect("json")).expect("write");
        let m = merge(&out, &[one.clone()]).expect("merges");
        assert!(m.runs.iter().all(|r| r.run_dir.is_none()), "{:?}", m.runs);
        let copied: Vec<_> = std::fs::read_dir(&out).expect("out").flatten().map(|e| e.file_name()).collect();
        assert_eq!(copied.len(), 3, "only the campaign's own files: {copied:?}");
        let e = merge(&out, &[one]).expect_err("out is full");
        assert!(matches!(e, MergeError::OutNotEmpty { .. }), "{e}");
    }
}
