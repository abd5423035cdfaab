//! `quant sweep`: runs every parameter set of a config's `[sweep]` table as an independent job
//! across cores, and writes one ranked table with the best runs' full results.
//!
//! The data is loaded once and shared read-only by every job (rayon's scoped parallelism borrows
//! it; nothing is copied). Each job is exactly `quant backtest` of its config, which is the file
//! with the job's values put in and checked like a file. Results never depend on the thread
//! count: rows are keyed by job id and ranked with a stable tie-break on it. Finished jobs are
//! journaled as they end, so an interrupted sweep resumes, and `--shard K/N` runs a stable slice
//! (job id mod N = K) for batch schedulers, merged afterwards by `quant sweep merge`.

pub(crate) mod grid;
pub(crate) mod journal;
mod overfit;
pub(crate) mod spec;
pub(crate) mod table;
mod walk_forward;

use crate::config::LoadedConfig;
use crate::{data, runner};
use anyhow::{Context, Result, bail};
use engine::Summary;
use grid::{Grid, Shard};
use journal::{Header, Journal};
use market_data::BarSeries;
use rayon::prelude::*;
use report::table::{Column, Table};
use report::write_results;
use serde::{Deserialize, Serialize};
use spec::{RankBy, SweepSpec};
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use table::Row;

/// Options of `quant sweep`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    action: Option<SweepAction>,
    /// The config file with a [sweep] table.
    #[arg(required = true)]
    config: Option<PathBuf>,
    /// Run only shard K of N (0-based K): the jobs whose id modulo N is K.
    #[arg(long, value_name = "K/N", conflicts_with = "shards")]
    shard: Option<String>,
    /// Run one of N shards, its index read from JOB_COMPLETION_INDEX (Kubernetes indexed Job)
    /// or SLURM_ARRAY_TASK_ID (Slurm array).
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
    /// Output folder (default `<output.dir>/<name>-sweep/`).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    set: crate::overrides::SetArgs,
}

#[derive(Debug, clap::Subcommand)]
enum SweepAction {
    /// Combines the shard tables in DIR into sweep.csv and sweep.parquet, the table an unsharded
    /// run writes.
    Merge {
        /// The folder holding every sweep-shard-K-of-N.{json,parquet}.
        dir: PathBuf,
    },
}

/// The folder a sweep writes into without `--out`: `<output.dir>/<name>-sweep/`.
pub(crate) fn default_out(c: &crate::config::BacktestConfig) -> PathBuf {
    c.output.dir.join(format!("{}-sweep", c.name))
}

/// Runs `quant sweep`.
///
/// # Errors
/// Names the config key, shard or file at fault.
pub fn run(args: &SweepArgs) -> Result<()> {
    if let Some(SweepAction::Merge { dir }) = &args.action {
        return merge(dir);
    }
    let path = args
        .config
        .as_deref()
        .context("a config file is required")?;
    let loaded = args.set.load(path)?;
    loaded.strategy()?;
    let mut plan = Plan::new(&loaded)?;
    let shard = match (&args.shard, args.shards) {
        (Some(text), _) => Some(Shard::parse(text)?),
        (None, Some(n)) => Some(Shard::from_env(n, |k| std::env::var(k).ok())?),
        (None, None) => None,
    };
    let data = data::load(&loaded)?;
    // A benchmark file that misses the data is refused before any job runs.
    crate::benchmark::external(&loaded, crate::benchmark::span_of(&data.series))?;
    for (name, report) in &data.skipped {
        eprintln!(
            "warning: {name}: skipped {} invalid rows, first: {}",
            report.skipped, report.examples[0]
        );
    }
    let c = &loaded.config;
    let out = args.out.clone().unwrap_or_else(|| default_out(c));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    plan.models = Some(out.join(MODELS_DIR));
    if let Some(windows) = plan.spec.walk_forward {
        if shard.is_some() {
            bail!("walk-forward sweeps cannot be sharded yet: run them without --shard/--shards");
        }
        return walk_forward::run(&plan, windows, &data.series, &out);
    }
    plan.sweep(&data.series, shard, &out)
}

/// A sweep ready to run: its config, typed `[sweep]` table and jobs.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// The config file.
    pub(crate) loaded: &'a LoadedConfig,
    /// Its `[sweep]` table.
    pub(crate) spec: SweepSpec,
    /// The jobs.
    pub(crate) grid: Grid,
    /// Where each job trains its model (`<out>/models/job-<id>/`) when the sweep varies
    /// `model.*` or `training.*` keys.
    pub(crate) models: Option<PathBuf>,
}

/// The folder of a sweep's per-job models.
const MODELS_DIR: &str = "models";

/// One finished job.
#[derive(Debug)]
pub(crate) struct Done {
    /// Its id.
    pub(crate) job: usize,
    /// Its figures.
    pub(crate) row: Row,
    /// Seconds spent in the backtest itself (for the benchmark's overhead figure).
    pub(crate) backtest_seconds: f64,
    /// Seconds spent computing its summary metrics.
    pub(crate) metrics_seconds: f64,
}

impl<'a> Plan<'a> {
    /// Reads and checks the `[sweep]` table of `loaded` and numbers its jobs.
    ///
    /// # Errors
    /// Names the `[sweep]` key at fault.
    pub(crate) fn new(loaded: &'a LoadedConfig) -> Result<Self> {
        let spec = SweepSpec::parse(loaded)?;
        let grid = Grid::new(loaded, &spec)?;
        grid.check_keys(loaded)?;
        Ok(Self {
            loaded,
            spec,
            grid,
            models: None,
        })
    }

    /// Returns job `job`'s config; when the sweep varies `model.*` or `training.*` keys, its
    /// strategy trades the job's own model, which `train` trains first (walk-forward folds and
    /// final model, as `quant train`), so its backtest trades out of sample.
    ///
    /// # Errors
    /// Names the job when its config is invalid or its training fails.
    pub(crate) fn job_config(&self, job: usize, train: bool) -> Result<LoadedConfig> {
        let mut config = self.grid.config(self.loaded, job)?;
        if !self.spec.axes.iter().any(|a| spec::retrains(&a.key)) {
            return Ok(config);
        }
        let dir = self
            .models
            .as_ref()
            .context("a sweep of model or training keys needs a folder for its models")?
            .join(format!("job-{job}"));
        let c = &config.config;
        let failed = || {
            format!(
                "sweep job {job} ({}): training failed",
                self.grid.describe(job)
            )
        };
        if train {
            let model = c.model.clone().with_context(|| {
                format!(
                    "{}: sweeping model or training keys needs a [model] table",
                    failed()
                )
            })?;
            let training = c.training.clone().unwrap_or_default();
            crate::train::walk_forward_and_final(
                &config,
                &model,
                &training,
                models::Target::Trend,
                &dir,
                true,
            )
            .with_context(failed)?;
        }
        if let Some(strategies::StrategyConfig::MlTrend(p)) = &mut config.config.strategy {
            p.model = dir.to_string_lossy().into_owned();
        }
        Ok(config)
    }

    /// Checks every job's config before any runs, reporting the first invalid job.
    ///
    /// # Errors
    /// Names the job, its values and the key at fault.
    pub(crate) fn check_jobs(&self, jobs: &[usize]) -> Result<()> {
        let bad = jobs
            .par_iter()
            .find_first(|&&job| self.grid.config(self.loaded, job).is_err());
        match bad {
            Some(&job) => self.grid.config(self.loaded, job).map(drop),
            None => Ok(()),
        }
    }

    /// Runs `jobs` across the current rayon pool over `series`, journaling each as it ends.
    ///
    /// # Errors
    /// Names a job whose config is invalid or whose run failed.
    pub(crate) fn run_jobs(
        &self,
        series: &[BarSeries],
        jobs: &[usize],
        journal: Option<&Journal>,
        progress: &indicatif::ProgressBar,
    ) -> Result<Vec<Done>> {
        jobs.par_iter()
            .map(|&job| {
                if let Some(signal) = crate::stop::requested() {
                    bail!(
                        "{} received: stopped before job {job}; finished jobs are journaled, \
                         so running the same command again resumes the sweep",
                        signal.name()
                    );
                }
                let config = self.job_config(job, true)?;
                let start = Instant::now();
                let run = runner::run(&config, series).with_context(|| {
                    format!("sweep job {job} ({}) failed", self.grid.describe(job))
                })?;
                let backtest_seconds = start.elapsed().as_secs_f64();
                let start = Instant::now();
                let summary = Summary::measured(&run.outcome, config.config.metrics.spec());
                let mut row = Row::new(&summary, run.outcome.halted_at);
                row.trial = Some(overfit::Trial::of(
                    &run.outcome,
                    summary.periods_per_year,
                    summary.risk_free,
                ));
                let metrics_seconds = start.elapsed().as_secs_f64();
                if let Some(journal) = journal {
                    let params: Vec<(&str, &toml::Value)> = self
                        .grid
                        .axes
                        .iter()
                        .map(|a| a.key.as_str())
                        .zip(self.grid.values(job))
                        .collect();
                    journal.append(job, &params, &row)?;
                }
                progress.inc(1);
                Ok(Done {
                    job,
                    row,
                    backtest_seconds,
                    metrics_seconds,
                })
            })
            .collect()
    }

    /// Returns the ranked table of finished jobs (keyed by id).
    ///
    /// # Errors
    /// Only on an internal inconsistency (a missing column).
    pub(crate) fn table(&self, rows: &BTreeMap<usize, Row>, rank_by: &RankBy) -> Result<Table> {
        let rows: Vec<(usize, Vec<&toml::Value>, &Row)> = rows
            .iter()
            .map(|(job, row)| (*job, self.grid.values(*job), row))
            .collect();
        table::ranked(&table::unranked(&self.grid.axes, &rows), rank_by)
    }

    /// Runs the sweep (or one shard of it) into `out`, resuming from the journals there.
    fn sweep(&self, series: &[BarSeries], shard: Option<Shard>, out: &Path) -> Result<()> {
        let started = Instant::now();
        let hash = grid::sweep_hash(self.loaded, series)?;
        let header = Header::new(hash.clone(), self.grid.len(), self.spec.keys());
        let owns = |job: &usize| shard.is_none_or(|s| s.owns(*job));
        let mut rows = journal::read_all(out, &header)?;
        rows.retain(|job, _| owns(job));
        let pending: Vec<usize> = (0..self.grid.len())
            .filter(|j| owns(j) && !rows.contains_key(j))
            .collect();
        self.check_jobs(&pending)?;
        let journal_name = match shard {
            Some(s) => format!("jobs-shard-{}-of-{}.jsonl", s.index, s.count),
            None => "jobs.jsonl".to_string(),
        };
        let journal = Journal::open(&out.join(journal_name), &header)?;
        let progress = progress_bar(pending.len() as u64, "jobs");
        let resumed = rows.len();
        let done = self.run_jobs(series, &pending, Some(&journal), &progress)?;
        progress.finish_and_clear();
        for d in done {
            rows.insert(d.job, d.row);
        }
        let table = self.table(&rows, &self.spec.rank_by)?;
        // Every file is written before anything is printed, so a closed stdout loses nothing.
        let mut verdict = None;
        let notes = match shard {
            Some(s) => {
                table::write(&table, out, &s.stem())?;
                let manifest = Manifest {
                    config_hash: hash,
                    jobs: self.grid.len(),
                    shard: s.index,
                    shards: s.count,
                    rank_by: self.spec.rank_by.text(),
                    keys: self.spec.keys(),
                    rows: rows.len(),
                };
                let path = out.join(format!("{}.json", s.stem()));
                let text = serde_json::to_string_pretty(&manifest)?;
                market_data::atomic::write(&path, (text + "\n").as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                vec![format!(
                    "shard table: {} (.csv); merge every shard with `quant sweep merge {}`",
                    out.join(format!("{}.parquet", s.stem())).display(),
                    out.display()
                )]
            }
            None => {
                table::write(&table, out, "sweep")?;
                verdict = table::jobs(&table)?
                    .first()
                    .and_then(|winner| overfit::Verdict::of(&rows, *winner as usize));
                if let Some(v) = &verdict {
                    let path = out.join("overfitting.json");
                    let text = serde_json::to_string_pretty(v)?;
                    market_data::atomic::write(&path, (text + "\n").as_bytes())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                let page = table::write_html(
                    &table,
                    &self.loaded.config.name,
                    &self.spec.keys(),
                    &self.spec.rank_by,
                    verdict.as_ref().map_or(&[], |v| &v.sentences),
                    out,
                )?;
                let top = self.write_top(&table, series, out)?;
                let mut notes = vec![format!(
                    "table: {} (.csv), ranked by {}; report: {}",
                    out.join("sweep.parquet").display(),
                    self.spec.rank_by.text(),
                    page.display()
                )];
                if !top.is_empty() {
                    notes.push(format!(
                        "full results of the top {}: {}",
                        top.len(),
                        out.join("top").display()
                    ));
                }
                notes
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "sweep {}: {} of {} jobs{}: {} run now, {resumed} from the journal, on {} threads in {seconds:.2} s ({:.1} jobs/s)",
            self.loaded.config.name,
            rows.len(),
            self.grid.len(),
            shard.map_or(String::new(), |s| format!(
                " (shard {} of {})",
                s.index, s.count
            )),
            pending.len(),
            rayon::current_num_threads(),
            pending.len() as f64 / seconds.max(1e-9),
        );
        for note in notes {
            println!("  {note}");
        }
        print_top(&table, &self.spec.keys(), &self.spec.rank_by, 10);
        for sentence in verdict.iter().flat_map(|v| &v.sentences) {
            println!("  {sentence}");
        }
        Ok(())
    }

    /// Re-runs the best `keep` jobs of a ranked table and writes their full results into
    /// `<out>/top/<rank>-job<id>/`; returns those folders.
    ///
    /// # Errors
    /// Names the job or file at fault.
    pub(crate) fn write_top(
        &self,
        table: &Table,
        series: &[BarSeries],
        out: &Path,
    ) -> Result<Vec<PathBuf>> {
        let top = out.join("top");
        if top.exists() {
            std::fs::remove_dir_all(&top)
                .with_context(|| format!("cannot replace {}", top.display()))?;
        }
        let jobs = table::jobs(table)?;
        let best: Vec<(usize, usize)> = jobs
            .iter()
            .take(self.spec.keep)
            .enumerate()
            .map(|(r, job)| (r + 1, *job as usize))
            .collect();
        best.par_iter()
            .map(|&(rank, job)| {
                let config = self.job_config(job, false)?;
                let run = runner::run(&config, series)?;
                let c = &config.config;
                let dir = top.join(format!("{rank}-job{job}"));
                let mut extra = serde_json::Map::new();
                extra.insert("name".into(), c.name.clone().into());
                extra.insert("sweep_job".into(), job.into());
                extra.insert("sweep_rank".into(), rank.into());
                let params: serde_json::Map<String, serde_json::Value> = self
                    .grid
                    .axes
                    .iter()
                    .zip(self.grid.values(job))
                    .map(|(a, v)| (a.key.clone(), serde_json::to_value(v).unwrap_or_default()))
                    .collect();
                extra.insert("sweep_params".into(), params.into());
                if let Some(sleeves) = &run.sleeves {
                    extra.insert("sleeves".into(), serde_json::to_value(sleeves)?);
                }
                let config_json = serde_json::to_value(c).context("cannot serialise the config")?;
                let title = format!("{} (sweep rank {rank}, job {job})", c.name);
                let (summary, analysis) = crate::output::summarise(
                    &config,
                    &title,
                    &run.outcome,
                    &run.outcome.curve,
                    series,
                );
                // A kept job's id is its folder's name: deterministic, so a sweep's files are too.
                let info = crate::run_info::run_info(
                    &config,
                    &config_json,
                    format!("{}/{rank}-job{job}", c.name),
                );
                write_results(
                    &dir,
                    &run.outcome,
                    &summary,
                    config_json,
                    extra,
                    analysis.as_ref(),
                    &info,
                )?;
                Ok(dir)
            })
            .collect()
    }
}

/// What a shard wrote, beside its table: enough to check shards against each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    config_hash: String,
    jobs: usize,
    shard: usize,
    shards: usize,
    rank_by: String,
    keys: Vec<String>,
    rows: usize,
}

/// Returns a progress bar with an ETA on stderr, or a hidden one when stderr is not a terminal.
pub(crate) fn progress_bar(len: u64, unit: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {unit}, {{per_sec}}, eta {{eta}}"
    )) {
        bar.set_style(style);
    }
    bar
}

/// Prints the best `n` rows: rank, job, the swept values and a few headline metrics.
pub(crate) fn print_top(table: &Table, keys: &[String], rank_by: &RankBy, n: usize) {
    let mut names: Vec<&str> = vec!["rank", "job"];
    names.extend(keys.iter().map(String::as_str));
    for m in [
        rank_by.metric.as_str(),
        "total_return",
        "max_drawdown",
        "trades",
    ] {
        if !names.contains(&m) {
            names.push(m);
        }
    }
    let columns: Vec<&Column> = names
        .iter()
        .filter_map(|n| table.columns.iter().find(|c| c.name == *n))
        .collect();
    let rows = table.rows().min(n);
    let cells: Vec<Vec<String>> = (0..rows)
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    let mut s = String::new();
                    c.write_cell(r, &mut s);
                    match s.parse::<f64>() {
                        Ok(x) if s.contains('.') => format!("{x:.4}"),
                        _ if s.is_empty() => "n/a".into(),
                        _ => s,
                    }
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].len())
                .fold(c.name.len(), usize::max)
        })
        .collect();
    let line = |items: Vec<&str>| {
        items
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:>w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!(
        "  {}",
        line(columns.iter().map(|c| c.name.as_str()).collect())
    );
    for row in &cells {
        println!("  {}", line(row.iter().map(String::as_str).collect()));
    }
}

/// `quant sweep merge DIR`: checks that every shard is present, complete and of one sweep, then
/// writes the table an unsharded run writes.
fn merge(dir: &Path) -> Result<()> {
    let mut manifests: Vec<(PathBuf, Manifest)> = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("sweep-shard-") && name.ends_with(".json") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let manifest: Manifest = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a sweep shard manifest", path.display()))?;
            manifests.push((path, manifest));
        }
    }
    manifests.sort_by_key(|(_, m)| (m.shards, m.shard));
    let Some((first_path, first)) = manifests.first().cloned() else {
        bail!(
            "no shards in {}: expected sweep-shard-K-of-N.json and .parquet files from \
             `quant sweep CONFIG --shard K/N --out {}`",
            dir.display(),
            dir.display()
        );
    };
    for (path, m) in &manifests {
        let differs = if m.shards != first.shards {
            Some(format!("{} shards, not {}", m.shards, first.shards))
        } else if m.config_hash != first.config_hash || m.jobs != first.jobs {
            Some(format!(
                "config hash {} ({} jobs), not {} ({} jobs)",
                m.config_hash, m.jobs, first.config_hash, first.jobs
            ))
        } else if m.keys != first.keys || m.rank_by != first.rank_by {
            Some("other swept keys or rank_by".to_string())
        } else {
            None
        };
        if let Some(why) = differs {
            bail!(
                "{} and {} are shards of different sweeps: {} has {why}",
                first_path.display(),
                path.display(),
                path.display()
            );
        }
    }
    let count = first.shards;
    let mut tables = Vec::with_capacity(count);
    for index in 0..count {
        let shard = Shard { index, count };
        if !manifests.iter().any(|(_, m)| m.shard == index) {
            bail!(
                "shard {index} of {count} is missing from {}: no {}.json (run `quant sweep CONFIG --shard {index}/{count} --out {}`)",
                dir.display(),
                shard.stem(),
                dir.display()
            );
        }
        let path = dir.join(format!("{}.parquet", shard.stem()));
        let t = table::read_parquet(&path)?;
        let jobs = table::jobs(&t)?;
        if let Some(stray) = jobs
            .iter()
            .find(|j| !shard.owns(**j as usize) || **j as usize >= first.jobs)
        {
            bail!(
                "{} holds job {stray}, which is not one of shard {index} of {count}",
                path.display()
            );
        }
        let expected = (index..first.jobs).step_by(count).count();
        if jobs.len() != expected {
            bail!(
                "shard {index} of {count} is incomplete: {} holds {} of its {expected} jobs \
                 (re-run it; it resumes from its journal)",
                path.display(),
                jobs.len()
            );
        }
        if let Some(t0) = tables.first() {
            check_same_columns(t0, &t, &path)?;
        }
        tables.push(t);
    }
    let table = concat_by_job(tables)?;
    let rank_by = RankBy {
        metric: first.rank_by.trim_start_matches('-').to_string(),
        descending: !first.rank_by.starts_with('-'),
    };
    let table = table::ranked(&table, &rank_by)?;
    table::write(&table, dir, "sweep")?;
    let title = dir
        .file_name()
        .map_or_else(|| "sweep".to_string(), |n| n.to_string_lossy().into_owned());
    let notes = [
        "The deflated Sharpe ratio and the probability of backtest overfitting are \
                  judged by unsharded sweeps only: shard tables keep no returns."
            .to_string(),
    ];
    table::write_html(&table, &title, &first.keys, &rank_by, &notes, dir)?;
    println!(
        "merged {count} shards, {} jobs: {} (.csv), ranked by {}",
        first.jobs,
        dir.join("sweep.parquet").display(),
        first.rank_by
    );
    print_top(&table, &first.keys, &rank_by, 10);
    Ok(())
}

fn check_same_columns(a: &Table, b: &Table, path: &Path) -> Result<()> {
    let describe = |t: &Table| {
        t.columns
            .iter()
            .map(|c| format!("{} ({})", c.name, table::kind(&c.values)))
            .collect::<Vec<_>>()
    };
    if describe(a) != describe(b) {
        bail!(
            "{} has other columns than shard 0: {:?} vs {:?}",
            path.display(),
            describe(b),
            describe(a)
        );
    }
    Ok(())
}

/// Concatenates tables with the same columns and sorts the rows by job id.
fn concat_by_job(tables: Vec<Table>) -> Result<Table> {
    let mut all = tables.into_iter();
    let mut table = all.next().context("no shard tables")?;
    for t in all {
        for (into, from) in table.columns.iter_mut().zip(t.columns) {
            use report::table::Values;
            match (&mut into.values, from.values) {
                (Values::Text(a), Values::Text(b)) => a.extend(b),
                (Values::Float(a), Values::Float(b)) => a.extend(b),
                (Values::Int(a), Values::Int(b)) => a.extend(b),
                (Values::Time(a), Values::Time(b)) => a.extend(b),
                (Values::OptTime(a), Values::OptTime(b)) => a.extend(b),
                _ => bail!("column `{}` changes type between shards", into.name),
            }
        }
    }
    let jobs = table::jobs(&table)?;
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| jobs[i]);
    for c in &mut table.columns {
        c.values = table::take(&c.values, &order);
    }
    Ok(table)
}
