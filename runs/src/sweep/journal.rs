//! The journal of a sweep: a JSON-lines file with a header line, then one line per finished job,
//! appended and flushed as each job ends, so an interrupted sweep resumes where it stopped.
//!
//! An unsharded run writes `jobs.jsonl`, shard K of N `jobs-shard-K-of-N.jsonl` (so shards never
//! share a file, even on one volume). A run reads every journal in its folder and skips the
//! jobs they hold; a journal from another sweep (another config hash) is an error, never mixed
//! in. Numbers are written in full (shortest round-trip form) and read back exactly, so a
//! resumed table equals an uninterrupted one bit for bit. Each job line starts with a checksum
//! of the rest (`{"check":"<16 hex>",...}`): a line edited by hand is refused, never read as a
//! result.

use super::table::{METRICS, Row};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The first line of a journal: which sweep wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    /// Format version.
    pub(crate) quant_sweep: u32,
    /// The sweep's hash (config and data).
    pub(crate) config_hash: String,
    /// Jobs in the whole sweep.
    pub(crate) jobs: usize,
    /// The swept keys.
    pub(crate) keys: Vec<String>,
}

impl Header {
    /// Returns the header of the current format.
    pub(crate) fn new(config_hash: String, jobs: usize, keys: Vec<String>) -> Self {
        Self {
            quant_sweep: 2,
            config_hash,
            jobs,
            keys,
        }
    }
}

/// One finished job.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    job: usize,
    params: serde_json::Map<String, serde_json::Value>,
    metrics: serde_json::Map<String, serde_json::Value>,
    halted_at: Option<i64>,
    /// Absent from the lines of older versions, whose jobs then count in DSR but not PBO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trial: Option<super::overfit::Trial>,
}

/// Returns the journals in `dir`: `jobs.jsonl` and `jobs-shard-*.jsonl`, sorted by name.
fn journals(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("jobs") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads every journal in `dir` and returns the finished jobs they hold.
///
/// A last line without its newline (a write cut short) is ignored.
///
/// # Errors
/// Names a journal written by another sweep, or a line that cannot be read.
pub(crate) fn read_all(dir: &Path, header: &Header) -> Result<BTreeMap<usize, Row>> {
    let mut done = BTreeMap::new();
    for path in journals(dir)? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let mut lines = complete.lines().enumerate();
        let Some((_, first)) = lines.next() else {
            continue;
        };
        let theirs: Header = serde_json::from_str(first)
            .with_context(|| format!("{}: line 1 is not a sweep journal header", path.display()))?;
        if theirs.quant_sweep != header.quant_sweep {
            bail!(
                "{} was written by another version of quant (journal format {}, this one reads \
                 {}): delete it to start over",
                path.display(),
                theirs.quant_sweep,
                header.quant_sweep
            );
        }
        if theirs.config_hash != header.config_hash || theirs.jobs != header.jobs {
            bail!(
                "{} was written by another sweep (config hash {}, {} jobs; this sweep: {}, {} jobs): \
                 the config, its [sweep] grid or the data changed. Use another --out folder, or \
                 delete the journal to start over",
                path.display(),
                theirs.config_hash,
                theirs.jobs,
                header.config_hash,
                header.jobs
            );
        }
        for (n, line) in lines {
            if !checked(line) {
                bail!(
                    "{}: line {} does not match its checksum (edited by hand?): a sweep journal \
                     holds results as quant wrote them; delete the line (the job runs again) or \
                     the journal",
                    path.display(),
                    n + 1
                );
            }
            let entry: Entry = serde_json::from_str(line).with_context(|| {
                format!("{}: line {} is not a job entry", path.display(), n + 1)
            })?;
            if entry.job >= header.jobs {
                bail!(
                    "{}: line {}: job {} is out of range ({} jobs)",
                    path.display(),
                    n + 1,
                    entry.job,
                    header.jobs
                );
            }
            let metrics = METRICS
                .iter()
                .map(|m| (m.key, entry.metrics.get(m.key)))
                .map(|(name, value)| match value {
                    Some(serde_json::Value::Null) => Ok(f64::NAN),
                    Some(v) => v.as_f64().with_context(|| {
                        format!(
                            "{}: line {}: `{name}` is not a number",
                            path.display(),
                            n + 1
                        )
                    }),
                    None => bail!(
                        "{}: line {} lacks `{name}` (written by another version of quant?): \
                         delete the journal to start over",
                        path.display(),
                        n + 1
                    ),
                })
                .collect::<Result<Vec<f64>>>()?;
            done.entry(entry.job).or_insert(Row {
                metrics,
                halted_at: entry.halted_at,
                trial: entry.trial,
            });
        }
    }
    Ok(done)
}

/// How a job line starts: its checksum comes first.
const CHECK: &str = "{\"check\":\"";

/// Returns the checksum of an entry's JSON text.
fn checksum(body: &str) -> String {
    let mut h = super::grid::StableHash::default();
    h.bytes(body.as_bytes());
    h.hex()
}

/// Returns true when a job line carries the checksum of the rest of it.
fn checked(line: &str) -> bool {
    let Some(rest) = line.strip_prefix(CHECK) else {
        return false;
    };
    let Some((check, tail)) = rest.split_once("\",") else {
        return false;
    };
    checksum(&format!("{{{tail}")) == check
}

/// The journal this run appends to.
#[derive(Debug)]
pub(crate) struct Journal {
    file: Mutex<std::fs::File>,
    path: PathBuf,
}

impl Journal {
    /// Opens (or creates, with `header`) the journal at `path` for appending; a last line cut
    /// short by an interruption is removed first.
    ///
    /// # Errors
    /// Names the file that cannot be read or written.
    pub(crate) fn open(path: &Path, header: &Header) -> Result<Self> {
        let cannot = || format!("cannot write the sweep journal {}", path.display());
        let existing = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(cannot),
        };
        let keep = existing
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(cannot)?;
        if keep < existing.len() {
            file.set_len(keep as u64).with_context(cannot)?;
        }
        if keep == 0 {
            let line = serde_json::to_string(header).context("cannot encode the journal header")?;
            file.write_all(format!("{line}\n").as_bytes())
                .with_context(cannot)?;
        }
        Ok(Self {
            file: Mutex::new(file),
            path: path.to_path_buf(),
        })
    }

    /// Appends one finished job and flushes it to the file.
    ///
    /// # Errors
    /// Names the journal when the write fails.
    pub(crate) fn append(
        &self,
        job: usize,
        params: &[(&str, &toml::Value)],
        row: &Row,
    ) -> Result<()> {
        let number = |x: f64| {
            serde_json::Number::from_f64(x)
                .map_or(serde_json::Value::Null, serde_json::Value::Number)
        };
        let entry = Entry {
            job,
            params: params
                .iter()
                .map(|(k, v)| {
                    (
                        (*k).to_string(),
                        serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect(),
            metrics: METRICS
                .iter()
                .zip(&row.metrics)
                .map(|(m, x)| (m.key.to_string(), number(*x)))
                .collect(),
            halted_at: row.halted_at,
            trial: row.trial.clone(),
        };
        let body = serde_json::to_string(&entry).context("cannot encode a journal entry")?;
        let mut line = format!("{CHECK}{}\",{}", checksum(&body), &body[1..]);
        line.push('\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| anyhow::anyhow!("the sweep journal lock is poisoned"))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.flush())
            .with_context(|| format!("cannot write the sweep journal {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_exactly_and_cut_lines_are_dropped() {
        let dir = std::env::temp_dir().join(format!("quant-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let header = Header::new("abc".into(), 10, vec!["k".into()]);
        let tricky = [
            0.1 + 0.2,
            1.0 / 3.0,
            -2.225_073_858_507_201e-308,
            f64::NAN,
            123_456_789.123_456_78,
            5e-324,
            1.797_693_134_862_315_7e308,
            0.8815185699129495,
        ];
        let mut metrics = vec![0.0; METRICS.len()];
        for (i, x) in tricky.iter().enumerate() {
            metrics[i] = *x;
        }
        let row = Row {
            metrics,
            halted_at: Some(42),
            trial: Some(super::super::overfit::Trial {
                sharpe: 0.1 + 0.2,
                skew: f64::NAN,
                kurtosis: 1.0 / 3.0,
                periods: 7,
                blocks: engine::overfitting::block_moments(&[0.1, -0.2, 0.3], 2),
            }),
        };
        let path = dir.join("jobs.jsonl");
        let journal = Journal::open(&path, &header).unwrap();
        let value = toml::Value::Integer(5);
        journal.append(3, &[("k", &value)], &row).unwrap();
        drop(journal);
        // A cut-short write after it.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"job\":4,\"par").unwrap();
        drop(f);
        let done = read_all(&dir, &header).unwrap();
        assert_eq!(done.len(), 1);
        let back = &done[&3];
        for (a, b) in back.metrics.iter().zip(&row.metrics) {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{a} vs {b}"
            );
        }
        assert_eq!(back.halted_at, Some(42));
        let (a, b) = (back.trial.as_ref().unwrap(), row.trial.as_ref().unwrap());
        assert_eq!(
            (a.sharpe.to_bits(), a.periods),
            (b.sharpe.to_bits(), b.periods)
        );
        assert!(a.skew.is_nan() && a.blocks == b.blocks);
        // Reopening drops the cut line, so the next entry starts on its own line.
        let journal = Journal::open(&path, &header).unwrap();
        journal.append(4, &[("k", &value)], &row).unwrap();
        assert_eq!(read_all(&dir, &header).unwrap().len(), 2);
        // Another sweep's journal is refused.
        let other = Header::new("xyz".into(), 10, vec!["k".into()]);
        let err = read_all(&dir, &other).unwrap_err().to_string();
        assert!(err.contains("another sweep"), "{err}");
        // A result edited by hand is refused, naming the line; so is a line without its check.
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = text.replacen("\"halted_at\":42", "\"halted_at\":43", 1);
        assert_ne!(edited, text);
        std::fs::write(&path, &edited).unwrap();
        let err = read_all(&dir, &header).unwrap_err().to_string();
        assert!(err.contains("line 2 does not match its checksum"), "{err}");
        let unchecked = text.replacen("{\"check\":\"", "{\"chek\":\"", 1);
        std::fs::write(&path, unchecked).unwrap();
        assert!(read_all(&dir, &header).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
