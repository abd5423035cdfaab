//! Runs for a program that embeds the engine (the Python package): a config read from a file or
//! given as a table, bars handed over in memory, a strategy object made by the host, and results
//! kept in memory until asked for.
//!
//! Every step is the command line's own: the same config checks and messages, the same
//! `--set` rules for overrides, the same loop, summary, tables and report as `quant backtest`
//! writes; only where the data comes from and where the results go differ.

use crate::backfill::GapLog;
use crate::config::{LoadedConfig, PortfolioMode};
use crate::data::{self, LoadedData};
use crate::output::{self, Results};
pub use crate::paper::{SessionPlan, Stopped};
use crate::run_dir::OutArgs;
use crate::runner;
use anyhow::{Context, Result, bail};
use arrow::record_batch::RecordBatch;
use engine::{BacktestOutcome, RangeError, Replay, SleeveSummary, Strategy};
use features::PipelineSpec;
use market_data::BarSeries;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use strategies::signals::{Flags, Signals};

/// What a config given as a table is called in messages, where a file's path would be.
const TABLE_LABEL: &str = "<config>";

/// A checked config.
#[derive(Debug, Clone)]
pub struct Config {
    loaded: LoadedConfig,
}

impl Config {
    /// Reads and checks the config file at `path`.
    ///
    /// # Errors
    /// As `quant backtest`: names the file, the key and line at fault, and what was expected.
    pub fn load(path: &Path) -> Result<Self> {
        Ok(Self {
            loaded: LoadedConfig::load(path)?,
        })
    }

    /// Checks a config given as a table with the file's schema. `name` and `[data]` may be left
    /// out when the data is handed over in memory (they default to `"run"` and
    /// `[data] kind = "memory"`).
    ///
    /// # Errors
    /// As [`Config::load`], the table named `<config>`.
    pub fn from_table(mut table: toml::Table) -> Result<Self> {
        table
            .entry("name")
            .or_insert_with(|| toml::Value::String("run".into()));
        table.entry("data").or_insert_with(|| {
            toml::Value::Table(toml::Table::from_iter([(
                "kind".to_string(),
                toml::Value::String("memory".into()),
            )]))
        });
        let source = toml::to_string(&table).context("cannot write the config table as TOML")?;
        Ok(Self {
            loaded: LoadedConfig::from_source(Path::new(TABLE_LABEL), source)?,
        })
    }

    /// Returns the config with values put in at dotted keys, checked as `--set KEY=VALUE` is.
    ///
    /// # Errors
    /// A key the config does not have or a value of the wrong type (naming the key and what it
    /// takes), or a value out of range.
    pub fn with_overrides(&self, overrides: Vec<(String, toml::Value)>) -> Result<Self> {
        Ok(Self {
            loaded: crate::overrides::put_in(&self.loaded, overrides)?,
        })
    }

    /// Returns the config with `features` (`[[features]]` tables) added after its own, for a
    /// strategy that declares what it reads.
    ///
    /// # Errors
    /// As [`Config::load`]: a feature's key out of range, named with its index.
    pub fn with_features(&self, features: Vec<toml::Value>) -> Result<Self> {
        if features.is_empty() {
            return Ok(self.clone());
        }
        let mut table = self.loaded.table()?;
        let list = table
            .entry("features")
            .or_insert_with(|| toml::Value::Array(Vec::new()));
        let Some(list) = list.as_array_mut() else {
            bail!("invalid config {}: `features` is not a list", self.path());
        };
        list.extend(features);
        Ok(Self {
            loaded: self.loaded.with_table(table)?,
        })
    }

    /// Returns the config's `name`.
    pub fn name(&self) -> &str {
        &self.loaded.config.name
    }

    /// Returns where the config came from, as messages name it.
    pub fn path(&self) -> String {
        self.loaded.path.display().to_string()
    }

    /// Returns the columns of the config's feature pipeline (its `[[features]]`, plus those its
    /// strategy reads when a run uses the config's strategy), in the order a strategy reads them.
    ///
    /// # Errors
    /// A feature out of range, named with its line.
    pub fn feature_columns(&self, with_strategy: bool) -> Result<Vec<String>> {
        Ok(self.pipeline(with_strategy)?.columns().to_vec())
    }

    fn pipeline(&self, with_strategy: bool) -> Result<Arc<PipelineSpec>> {
        let loaded = &self.loaded;
        if with_strategy && loaded.config.strategy.is_some() {
            return Ok(loaded.build_strategy()?.pipeline);
        }
        Ok(Arc::new(
            PipelineSpec::new(&loaded.config.features).map_err(|e| loaded.feature_error(&e))?,
        ))
    }

    /// Returns the config labelled with a strategy object's name (the summary and the report
    /// name it), and the object with the config's `[[features]]` to read, refusing sleeves
    /// (they would need one copy of it per instrument).
    fn with_object(
        &self,
        strategy: Box<dyn Strategy + Send>,
    ) -> Result<(LoadedConfig, strategies::BuiltStrategy)> {
        let loaded = &self.loaded;
        if loaded.config.portfolio.mode == PortfolioMode::Sleeves {
            bail!(loaded.range(RangeError::new(
                "portfolio.mode",
                "\"shared\" with a strategy object (sleeves would need one copy of it per \
                 instrument)",
            )));
        }
        let mut labelled = loaded.clone();
        labelled.strategy_label = Some(strategy.name().to_string());
        let built = strategies::BuiltStrategy {
            strategy,
            pipeline: self.pipeline(false)?,
            models: Vec::new(),
        };
        Ok((labelled, built))
    }

    /// Returns the instruments of the config's `[live]` streams, in the order a session indexes
    /// them (empty without a `[live]` table).
    pub fn live_instruments(&self) -> Vec<String> {
        let Some(live) = &self.loaded.config.live else {
            return Vec::new();
        };
        let format = crate::paper::feed_format(live);
        (live::feed::instruments_of(format, &live.streams).iter())
            .map(ToString::to_string)
            .collect()
    }

    /// Reads the bars the config's `[data]` names (files, a catalog or the generator).
    ///
    /// # Errors
    /// Names the key, file, row or column at fault.
    pub fn load_bars(&self) -> Result<Vec<BarSeries>> {
        Ok(data::load(&self.loaded)?.series)
    }
}

/// Where a run's bars come from.
#[derive(Debug)]
pub enum Bars {
    /// The config's `[data]` (ticks too, when it names them).
    FromConfig,
    /// Bars handed over, one series per instrument, checked by the caller's reader.
    Given(Vec<BarSeries>),
}

/// Runs a backtest of `config` over `bars`, with the config's strategy or `strategy` in its
/// place (a host's strategy reads the config's `[[features]]`, and runs with shared cash).
///
/// # Errors
/// As `quant backtest`: a config, data, strategy or engine error with the command's message.
pub fn backtest(
    config: &Config,
    bars: Bars,
    strategy: Option<Box<dyn Strategy + Send>>,
) -> Result<Finished> {
    let loaded = &config.loaded;
    if strategy.is_none() {
        // Refused before any data is read, as the command does.
        loaded.strategy()?;
    }
    let data = match bars {
        Bars::Given(series) => data::checked(
            loaded,
            LoadedData {
                series,
                skipped: Vec::new(),
            },
        )?,
        Bars::FromConfig => match data::load_ticks(loaded)? {
            Some(ticks) if strategy.is_none() => {
                let run = runner::run_ticks(loaded, ticks)?;
                return Ok(Finished::new(loaded, run, LoadedData::default()));
            }
            Some(_) => bail!(loaded.range(RangeError::new(
                "data.ticks",
                "bars for a strategy object (resample ticks into bars first)",
            ))),
            None => data::load(loaded)?,
        },
    };
    crate::benchmark::external(loaded, crate::benchmark::span_of(&data.series))?;
    let run = match strategy {
        None => runner::run(loaded, &data.series)?,
        Some(strategy) => {
            let (labelled, built) = config.with_object(strategy)?;
            loaded.check_benchmark(data.series.iter().map(|s| s.instrument.as_str()))?;
            let outcome = built.run(&loaded.engine_spec(), Replay::Bars(&data.series))?;
            let run = runner::Run {
                outcome,
                sleeves: None,
            };
            return Ok(Finished::new(&labelled, run, data));
        }
    };
    Ok(Finished::new(loaded, run, data))
}

/// Runs a paper session of `config` (its `[live]` feed, simulated fills, the journal) with the
/// config's strategy or `strategy` in its place, as `quant paper` does with `--duration`,
/// `--events` and `--out` from `plan`, until `stop()` returns true (polled between events and
/// at least every 100 ms). Returns the results (also written when `plan.out` is given) and why
/// the session stopped; a failure while trading (the strategy raising) stops it with the
/// journal synced and the results kept.
///
/// # Errors
/// As `quant paper`: a config, `[live]`, strategy or journal error with the command's message.
pub fn paper(
    config: &Config,
    strategy: Option<Box<dyn Strategy + Send>>,
    plan: &SessionPlan,
    stop: &mut dyn FnMut() -> bool,
) -> Result<(Finished, Stopped)> {
    crate::paper::check(&config.loaded)?;
    let (loaded, built) = match strategy {
        Some(strategy) => {
            let (labelled, built) = config.with_object(strategy)?;
            (labelled, Some(built))
        }
        None => (config.loaded.clone(), None),
    };
    let ended = crate::paper::run_session(&loaded, built, plan, stop)?;
    let run = runner::Run {
        outcome: ended.outcome,
        sleeves: None,
    };
    let mut finished = Finished::new(&loaded, run, LoadedData::default());
    finished.gaps = Some(ended.gaps);
    Ok((finished, ended.stopped))
}

/// Returns the config's feature pipeline computed over `bars` (in parallel across instruments):
/// a `timestamp` and an `instrument` column, then one per feature output, as `quant features`
/// writes it.
///
/// # Errors
/// A feature out of range, or no features at all.
pub fn features(config: &Config, bars: Bars) -> Result<RecordBatch> {
    let loaded = &config.loaded;
    let series = match bars {
        Bars::Given(series) => series,
        Bars::FromConfig => data::load(loaded)?.series,
    };
    let pipeline = config.pipeline(true)?;
    let table = crate::features_file::table(loaded, &pipeline, &series)?;
    Ok(table.into_record_batch()?)
}

/// A finished backtest, its results in memory.
#[derive(Debug)]
pub struct Finished {
    loaded: LoadedConfig,
    outcome: BacktestOutcome,
    sleeves: Option<Vec<SleeveSummary>>,
    data: LoadedData,
    /// A session's feed gaps (`None` for a backtest), reported beside its results.
    gaps: Option<GapLog>,
    /// The summary and report, computed when first asked for.
    results: OnceLock<Results>,
}

impl Finished {
    fn new(loaded: &LoadedConfig, run: runner::Run, data: LoadedData) -> Self {
        Self {
            loaded: loaded.clone(),
            outcome: run.outcome,
            sleeves: run.sleeves,
            data,
            gaps: None,
            results: OnceLock::new(),
        }
    }

    /// Returns what the run recorded.
    pub fn outcome(&self) -> &BacktestOutcome {
        &self.outcome
    }

    fn results(&self) -> Result<&Results> {
        if let Some(results) = self.results.get() {
            return Ok(results);
        }
        let results = output::results(
            &self.loaded,
            &self.outcome,
            &self.outcome.curve,
            self.sleeves.as_deref(),
            &self.data,
            self.gaps.as_ref(),
        )?;
        Ok(self.results.get_or_init(|| results))
    }

    /// Returns what `summary.json` holds.
    ///
    /// # Errors
    /// The config cannot be serialised.
    pub fn summary(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        let r = self.results()?;
        Ok(report::summary_document(
            &r.summary,
            r.config_json.clone(),
            r.extra.clone(),
        ))
    }

    /// Returns one of the run's tables (`trades`, `fills`, `orders`, `equity`, `positions`,
    /// `returns`, `attributions`) with the columns of its file, or `None` for another name.
    ///
    /// # Errors
    /// Columns of different lengths (a bug).
    pub fn table(&self, name: &str) -> Result<Option<RecordBatch>> {
        report::result_table(&self.outcome, name)
            .map(report::table::Table::into_record_batch)
            .transpose()
            .map_err(Into::into)
    }

    /// Returns the HTML report, or `None` when `[output] report = false`.
    ///
    /// # Errors
    /// As [`Finished::summary`].
    pub fn report_html(&self) -> Result<Option<String>> {
        Ok(self.results()?.analysis.as_ref().map(report::render_report))
    }

    /// Writes the run's files as `quant backtest` does: into `dir` (refused when it holds a
    /// run's results, unless `force`), or a new `<output.dir>/<name>/<run-id>/`. Returns the
    /// folder.
    ///
    /// # Errors
    /// The folder holds results (without `force`), or a file cannot be written.
    pub fn save(&self, dir: Option<PathBuf>, force: bool) -> Result<PathBuf> {
        let out = OutArgs {
            force: force && dir.is_some(),
            out: dir,
        };
        let c = &self.loaded.config;
        let run_dir = out.create(&c.output.dir.join(&c.name))?;
        output::write_into(
            &self.loaded,
            &self.outcome,
            self.sleeves.as_deref(),
            &self.data,
            &run_dir,
            self.gaps.as_ref(),
            None,
        )?;
        Ok(run_dir.dir)
    }
}

/// Runs the vectorbt-style signal backtest: `flags[i]` (one entry and one exit flag per bar)
/// over `series[i]`, with the config's broker, sizing and risk (see `strategies::signals`).
///
/// # Errors
/// Flags that do not match the bars one to one (naming the instrument and the lengths), or as
/// [`backtest`].
pub fn from_signals(
    config: &Config,
    series: Vec<BarSeries>,
    flags: Vec<Flags>,
) -> Result<Finished> {
    if flags.len() != series.len() {
        bail!(
            "signals for {} instruments, but the data has {}",
            flags.len(),
            series.len()
        );
    }
    for (s, f) in series.iter().zip(&flags) {
        for (what, v) in [("entries", &f.entries), ("exits", &f.exits)] {
            if v.len() != s.bars.len() {
                bail!(
                    "{what} for {}: expected one flag per bar ({} bars), found {}",
                    s.instrument,
                    s.bars.len(),
                    v.len()
                );
            }
        }
    }
    backtest(
        config,
        Bars::Given(series),
        Some(Box::new(Signals::new(flags))),
    )
}

/// A command's arguments as the command line reads them, so a host calls `quant sweep` and
/// `quant train` with exactly their options and checks.
#[derive(Debug, clap::Parser)]
#[command(no_binary_name = true)]
struct Command<T: clap::Args> {
    #[command(flatten)]
    args: T,
}

/// Returns the arguments: `config`, then `--KEY VALUE` options, then `--set KEY=VALUE`s.
fn argv(
    config: &Path,
    options: &[(&str, String)],
    overrides: &[(String, toml::Value)],
) -> Vec<String> {
    let mut argv = vec![config.display().to_string()];
    for (key, value) in options {
        argv.extend([format!("--{key}"), value.clone()]);
    }
    for (key, value) in overrides {
        argv.extend(["--set".to_string(), format!("{key}={value}")]);
    }
    argv
}

/// Runs `quant sweep` on the config file at `path` (with `overrides` as `--set`) into `out`
/// (default: the command's, `<output.dir>/<name>-sweep/`): every job of its `[sweep]` table,
/// ranked, the top runs' results and `sweep.parquet` written there. Returns the ranked table.
///
/// # Errors
/// As `quant sweep`: a config, key, job or file error with the command's message.
pub fn sweep(
    path: &Path,
    overrides: &[(String, toml::Value)],
    out: Option<PathBuf>,
) -> Result<RecordBatch> {
    let out = match out {
        Some(out) => out,
        None => crate::sweep::default_out(
            &Config::load(path)?
                .with_overrides(overrides.to_vec())?
                .loaded
                .config,
        ),
    };
    let options = [("out", out.display().to_string())];
    let command: Command<crate::sweep::SweepArgs> =
        clap::Parser::try_parse_from(argv(path, &options, overrides))?;
    crate::sweep::run(&command.args)?;
    read_table(&out.join("sweep.parquet"))
}

/// Runs `quant train` on the config file at `path` (with `overrides` as `--set`): walk-forward
/// evaluation, then the final model saved into `out` (default: the command's, the `ml_trend`
/// strategy's `model` path or `models/<name>/`). `target` is `trend` or `volatility`. Returns
/// the model folder.
///
/// # Errors
/// As `quant train`.
pub fn train(
    path: &Path,
    overrides: &[(String, toml::Value)],
    out: Option<PathBuf>,
    target: &str,
) -> Result<PathBuf> {
    let folder = match out {
        Some(out) => out,
        None => {
            let config = Config::load(path)?.with_overrides(overrides.to_vec())?;
            let target = match target {
                "volatility" => models::Target::Volatility,
                _ => models::Target::Trend,
            };
            crate::train::default_out(&config.loaded, target)
        }
    };
    let options = [
        ("out", folder.display().to_string()),
        ("target", target.to_string()),
    ];
    let command: Command<crate::train::TrainArgs> =
        clap::Parser::try_parse_from(argv(path, &options, overrides))?;
    crate::train::run(&command.args)?;
    Ok(folder)
}

/// Reads a Parquet file written by a command as one record batch.
fn read_table(path: &Path) -> Result<RecordBatch> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?;
    let schema = builder.schema().clone();
    let reader = builder.build()?;
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed_server::{ReplayOptions, ReplayServer};

    /// A folder under the system's temp dir, removed when dropped (the test passed or not).
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("quant-embedded-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }

    const GOOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../backtests/data/GOOG.csv");

    /// The GOOG paper config on the replay at `port`, journaled in `dir`.
    fn config(port: u16, dir: &Path) -> Config {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backtests/paper_sma.toml");
        let mut table: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        table["data"]["path"] = toml::Value::String(GOOG.into());
        let live = table["live"].as_table_mut().unwrap();
        live.insert("url".into(), format!("ws://127.0.0.1:{port}").into());
        live.insert(
            "journal".into(),
            dir.join("journal").display().to_string().into(),
        );
        Config::from_table(table).unwrap()
    }

    /// Enters on every 40th bar and exits 20 bars later (bar 0 first), per the bar count.
    fn flags(bars: usize) -> Vec<Flags> {
        vec![Flags {
            entries: (0..bars).map(|i| i % 40 == 0).collect(),
            exits: (0..bars).map(|i| i % 40 == 20).collect(),
        }]
    }

    #[test]
    fn a_strategy_object_trades_in_paper_as_in_its_backtest_and_stop_ends_the_session() {
        let dir = scratch("paper");
        let server = ReplayServer::start(Path::new(GOOG), ReplayOptions::default()).unwrap();
        assert_eq!(server.streams(), ["goog@kline_1d"]);
        let bars = server.messages();
        assert_eq!(bars, 2148);
        let config = config(server.port(), &dir.0);
        let plan = SessionPlan {
            events: Some(bars),
            duration: Some(std::time::Duration::from_secs(300)),
            ..SessionPlan::default()
        };
        let object = Box::new(Signals::new(flags(bars)));
        let (session, stopped) = paper(&config, Some(object), &plan, &mut || false).unwrap();
        assert_eq!(stopped, Stopped::Events);
        let series = config.load_bars().unwrap();
        let object = Box::new(Signals::new(flags(bars)));
        let backtest = backtest(&config, Bars::Given(series), Some(object)).unwrap();
        let (p, b) = (session.outcome(), backtest.outcome());
        // 54 entries (bars 0, 40, ..., 2120) and 54 exits (20 bars after each, the last on bar
        // 2140), each filled at the next bar's open.
        assert_eq!(p.fills.len(), 108);
        assert_eq!(p.fills, b.fills);
        assert_eq!(p.curve.len(), bars);
        assert_eq!(p.curve, b.curve);

        // A second session on the same journal resumes it (2148 events replayed), then the stop
        // callback ends it on its third poll.
        let mut polls = 0;
        let mut stop = || {
            polls += 1;
            polls >= 3
        };
        let plan = SessionPlan::default();
        let object = Box::new(Signals::new(flags(bars)));
        let (resumed, stopped) = paper(&config, Some(object), &plan, &mut stop).unwrap();
        assert_eq!(stopped, Stopped::Requested);
        assert_eq!(resumed.outcome().fills, b.fills);
    }
}
