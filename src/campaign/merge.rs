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
