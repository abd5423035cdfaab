//! The jobs of a sweep: grid points numbered in a stable order, random samples of them, each
//! job's config (the file's TOML with the job's values put in), shard slices and the hash that
//! ties a journal or shard to the sweep that wrote it.

use super::spec::{Axis, SweepSpec};
use crate::config::LoadedConfig;
use crate::overrides::{check_key, set};
use anyhow::{Context, Result, bail};
use market_data::BarSeries;

/// The most jobs a sweep may have; larger grids need `samples`.
const MAX_JOBS: u128 = 50_000_000;

/// The jobs of a sweep.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// The varied keys and their values.
    pub(crate) axes: Vec<Axis>,
    /// The config file's table, without `[sweep]`.
    base: toml::Table,
    /// Grid point of each job, when sampled (else job id = grid point).
    sampled: Option<Vec<u64>>,
    /// Number of grid points.
    points: u64,
}

impl Grid {
    /// Returns the jobs of `spec` over `loaded`'s file: every grid point in order (the last key
    /// varies fastest), or `samples` distinct points drawn with the config's seed, in grid order.
    ///
    /// # Errors
    /// When the grid is too large to run in full, or the file cannot be re-read as TOML.
    pub(crate) fn new(loaded: &LoadedConfig, spec: &SweepSpec) -> Result<Self> {
        let mut base = loaded.table()?;
        base.remove("sweep");
        let points = spec
            .axes
            .iter()
            .try_fold(1u128, |n, a| n.checked_mul(a.values.len() as u128))
            .unwrap_or(u128::MAX);
        if points > u128::from(u64::MAX) {
            bail!(
                "invalid sweep in {}: the grid has more than 2^64 combinations: use fewer values",
                loaded.path.display()
            );
        }
        let sampled = match spec.samples {
            Some(k) if k as u128 > MAX_JOBS => bail!(
                "invalid sweep in {}: `sweep.samples` = {k} is more than {MAX_JOBS} jobs",
                loaded.path.display()
            ),
            Some(k) if (k as u128) < points => Some(sample(points as u64, k, loaded.config.seed)),
            _ if points > MAX_JOBS => bail!(
                "invalid sweep in {}: the grid has {points} combinations, more than {MAX_JOBS}: \
                 set `samples` for a random search, or use fewer values",
                loaded.path.display()
            ),
            _ => None,
        };
        Ok(Self {
            axes: spec.axes.clone(),
            base,
            sampled,
            points: points as u64,
        })
    }

    /// Returns the number of jobs.
    pub(crate) fn len(&self) -> usize {
        self.sampled.as_ref().map_or(self.points as usize, Vec::len)
    }

    /// Returns the value of each axis for `job`.
    pub(crate) fn values(&self, job: usize) -> Vec<&toml::Value> {
        let mut point = self.sampled.as_ref().map_or(job as u64, |s| s[job]);
        let mut values = vec![&self.axes[0].values[0]; self.axes.len()];
        for (a, axis) in self.axes.iter().enumerate().rev() {
            let n = axis.values.len() as u64;
            values[a] = &axis.values[(point % n) as usize];
            point /= n;
        }
        values
    }

    /// Returns `job`'s parameters as `key = value` text, for messages.
    pub(crate) fn describe(&self, job: usize) -> String {
        self.axes
            .iter()
            .zip(self.values(job))
            .map(|(a, v)| format!("{} = {v}", a.key))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Returns `job`'s config: the file's values with the job's put in, checked like a file.
    ///
    /// # Errors
    /// Names the job, its values, and the key at fault.
    pub(crate) fn config(&self, loaded: &LoadedConfig, job: usize) -> Result<LoadedConfig> {
        let mut table = self.base.clone();
        for (axis, value) in self.axes.iter().zip(self.values(job)) {
            set(&mut table, &axis.key, value.clone())?;
        }
        loaded
            .with_table(table)
            .with_context(|| format!("sweep job {job} ({}) is invalid", self.describe(job)))
    }

    /// Checks each axis on its own: its key must be one the config has, and its first value of
    /// the right type.
    ///
    /// # Errors
    /// Names the `[sweep]` key and its line.
    pub(crate) fn check_keys(&self, loaded: &LoadedConfig) -> Result<()> {
        for axis in &self.axes {
            if let Err(why) = check_key(&self.base, &axis.key, &axis.values[0]) {
                return Err(super::spec::error(
                    loaded,
                    &axis.written,
                    &axis.key,
                    format!(
                        "a config key taking values like {}, but {why}",
                        axis.values[0]
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Returns `k` distinct points of `0..n`, ascending, drawn with `seed` (Floyd's algorithm on a
/// SplitMix64 stream: stable across platforms and library versions).
fn sample(n: u64, k: usize, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64(seed ^ 0x5157_4545_5053_4545);
    let mut chosen = std::collections::BTreeSet::new();
    for j in (n - k as u64)..n {
        let t = rng.below(j + 1);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen.into_iter().collect()
}

/// A tiny, fixed pseudo-random generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Returns a uniform draw from `0..n` (`n` > 0), without modulo bias.
    fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next();
            if x < zone {
                return x % n;
            }
        }
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stable 64-bit hash (FNV-1a over bytes, SplitMix-finished words): the same on every machine
/// and build, unlike `std`'s `DefaultHasher`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StableHash(u64);

impl Default for StableHash {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl StableHash {
    /// Adds bytes.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = mix(self.0 ^ bytes.len() as u64);
    }

    /// Adds one word.
    pub(crate) fn word(&mut self, w: u64) {
        self.0 = mix(self.0 ^ w).wrapping_add(w.rotate_left(17));
    }

    /// Returns the hash as 16 hex digits.
    pub(crate) fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// Returns the hash of what determines a sweep's results: the config (less its name, output
/// and ranking settings, which change no job's figures) and every bar of the data.
pub(crate) fn sweep_hash(loaded: &LoadedConfig, series: &[BarSeries]) -> Result<String> {
    let mut table = loaded.table()?;
    for key in ["name", "output"] {
        table.remove(key);
    }
    if let Some(toml::Value::Table(sweep)) = table.get_mut("sweep") {
        sweep.remove("rank_by");
        sweep.remove("keep");
    }
    let mut text = String::new();
    canonical(&toml::Value::Table(table), &mut text);
    let mut h = StableHash::default();
    h.bytes(text.as_bytes());
    for s in series {
        h.bytes(s.instrument.as_str().as_bytes());
        h.word(s.bars.len() as u64);
        for b in &s.bars {
            h.word(b.ts.0 as u64);
            for x in [b.open, b.high, b.low, b.close, b.volume] {
                h.word(x.to_bits());
            }
        }
    }
    Ok(h.hex())
}

/// Writes `value` with sorted table keys, so equal configs give equal text.
fn canonical(value: &toml::Value, out: &mut String) {
    match value {
        toml::Value::Table(t) => {
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort();
            out.push('{');
            for k in keys {
                out.push_str(&format!("{k:?}="));
                canonical(&t[k.as_str()], out);
                out.push(',');
            }
            out.push('}');
        }
        toml::Value::Array(items) => {
            out.push('[');
            for item in items {
                canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        toml::Value::Float(x) => out.push_str(&format!("f{:016x}", x.to_bits())),
        other => out.push_str(&other.to_string()),
    }
}

/// One slice of a sharded sweep: jobs whose id modulo `count` is `index` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    /// 0-based index, below `count`.
    pub(crate) index: usize,
    /// Number of shards.
    pub(crate) count: usize,
}

impl Shard {
    /// Returns whether `job` belongs to this shard.
    pub(crate) fn owns(self, job: usize) -> bool {
        job % self.count == self.index
    }

    /// Returns the file stem of this shard's outputs, `sweep-shard-K-of-N`.
    pub(crate) fn stem(self) -> String {
        format!("sweep-shard-{}-of-{}", self.index, self.count)
    }

    /// Returns a checked shard.
    ///
    /// # Errors
    /// When there are no shards or the index is out of range; `source` names where they came from.
    pub(crate) fn try_new(index: usize, count: usize, source: &str) -> Result<Self> {
        if count == 0 {
            bail!("{source}: the shard count must be at least 1, found 0");
        }
        if index >= count {
            bail!(
                "{source}: shard index {index} is out of range for {count} shards \
                 (indices are 0-based: 0 to {})",
                count - 1
            );
        }
        Ok(Self { index, count })
    }

    /// Parses `--shard K/N` (0-based K).
    ///
    /// # Errors
    /// When the text is not `K/N` or K is out of range.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let source = format!("--shard {text}");
        let parsed = text
            .split_once('/')
            .and_then(|(k, n)| Some((k.trim().parse().ok()?, n.trim().parse().ok()?)));
        let Some((index, count)) = parsed else {
            bail!("{source}: expected K/N, the 0-based shard index and the shard count, e.g. 0/4");
        };
        Self::try_new(index, count, &source)
    }

    /// Returns shard `index` of `count` with the index a batch scheduler sets:
    /// `JOB_COMPLETION_INDEX` (Kubernetes indexed Jobs) or `SLURM_ARRAY_TASK_ID` (Slurm arrays,
    /// less `SLURM_ARRAY_TASK_MIN` so `--array=1-N` works too).
    ///
    /// # Errors
    /// When neither is set, or the index is not a number or out of range.
    pub(crate) fn from_env(count: usize, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let number = |name: &str| -> Result<Option<usize>> {
            env(name)
                .map(|v| {
                    v.trim().parse::<usize>().map_err(|_| {
                        anyhow::anyhow!("--shards {count}: {name} = {v:?} is not a shard index")
                    })
                })
                .transpose()
        };
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            return Self::try_new(
                index,
                count,
                &format!("--shards {count} with JOB_COMPLETION_INDEX = {index}"),
            );
        }
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).with_context(|| {
                format!("--shards {count}: SLURM_ARRAY_TASK_ID = {id} is below SLURM_ARRAY_TASK_MIN = {min}")
            })?;
            return Self::try_new(
                index,
                count,
                &format!(
                    "--shards {count} with SLURM_ARRAY_TASK_ID = {id} (less SLURM_ARRAY_TASK_MIN = {min})"
                ),
            );
        }
        bail!(
            "--shards {count} needs the shard index from the batch scheduler: set \
             JOB_COMPLETION_INDEX (Kubernetes indexed Job) or SLURM_ARRAY_TASK_ID (Slurm array), \
             or pass --shard K/{count}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_sorted_and_seeded() {
        let a = sample(1000, 50, 7);
        assert_eq!(a.len(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert!(a.iter().all(|p| *p < 1000));
        assert_eq!(a, sample(1000, 50, 7));
        assert_ne!(a, sample(1000, 50, 8));
        assert_eq!(sample(5, 5, 1), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn shards_parse_and_check_their_range() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        let err = Shard::parse("3/3").unwrap_err().to_string();
        assert!(
            err.contains("shard index 3 is out of range for 3 shards"),
            "{err}"
        );
        let err = Shard::parse("1-3").unwrap_err().to_string();
        assert!(err.contains("expected K/N"), "{err}");
        let err = Shard::parse("0/0").unwrap_err().to_string();
        assert!(err.contains("at least 1"), "{err}");
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        assert_eq!(
            Shard::from_env(4, env(&[("JOB_COMPLETION_INDEX", "3")])).unwrap(),
            Shard { index: 3, count: 4 }
        );
        assert_eq!(
            Shard::from_env(
                4,
                env(&[("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_MIN", "1")])
            )
            .unwrap(),
            Shard { index: 3, count: 4 }
        );
        let err = Shard::from_env(4, env(&[("SLURM_ARRAY_TASK_ID", "4")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("out of range"), "{err}");
        let err = Shard::from_env(4, env(&[])).unwrap_err().to_string();
        assert!(err.contains("JOB_COMPLETION_INDEX"), "{err}");
    }
}
