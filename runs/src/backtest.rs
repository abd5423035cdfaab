//! `quant backtest`: runs the backtest a config describes and writes its results.

use crate::config::{self, LoadedConfig};
use crate::data::{LoadedData, Stream, Ticks};
use crate::overrides::SetArgs;
use crate::run_dir::{OutArgs, RunDir};
use crate::{data, output, runner};
use anyhow::Result;
use engine::StepSink;
use market_data::InstrumentId;
use report::{StepTables, StepWriter};
use std::path::Path;

/// What a backtest replays.
enum Input {
    Ticks(Ticks),
    Stream(Stream),
    Bars(LoadedData),
}

/// Runs the backtest the config at `path` (with `set` put in) describes and writes a new
/// `results/<name>/<run-id>/` (or `out`): bars streamed from a catalog or columnar files (in
/// sleeves mode, each sleeve's own), loaded otherwise, ticks when the config names them. A
/// shared-cash run writes its step tables (equity, positions, returns) and orders while it runs. Prints
/// the headline figures.
///
/// # Errors
/// A config, data, strategy or output error, naming the file, line or field; an `--out` folder
/// holding a run's results without `--force`.
pub fn run(path: &Path, set: &SetArgs, out: &OutArgs) -> Result<()> {
    let loaded = set.load(path)?;
    // Refused before any data is read.
    loaded.strategy()?;
    out.check()?;
    let c = &loaded.config;
    if c.portfolio.mode == config::PortfolioMode::Sleeves
        && c.data.ticks.is_none()
        && let Some(sources) = data::open_sleeves(&loaded)?
    {
        // Each sleeve streams its own files when its worker starts it.
        let runner::Run { outcome, sleeves } = runner::run_sleeve_streams(&loaded, &sources)?;
        let data = LoadedData::default();
        return output::write_run(
            &loaded,
            &outcome,
            sleeves.as_deref(),
            &data,
            out,
            "bars",
            None,
        );
    }
    let streamed = match c.portfolio.mode {
        _ if c.data.ticks.is_some() => None,
        config::PortfolioMode::Shared => data::open_stream(&loaded)?,
        config::PortfolioMode::Sleeves => None,
    };
    let input = match (data::load_ticks(&loaded)?, streamed) {
        (Some(ticks), _) => Input::Ticks(ticks),
        (None, Some(stream)) => Input::Stream(stream),
        (None, None) => {
            let data = data::load(&loaded)?;
            // A benchmark file that misses the data is refused before the run, not after it.
            crate::benchmark::external(&loaded, crate::benchmark::span_of(&data.series))?;
            Input::Bars(data)
        }
    };
    let unit = if c.data.ticks.is_some() {
        "ticks"
    } else {
        "bars"
    };
    if let (Input::Bars(data), config::PortfolioMode::Sleeves) = (&input, c.portfolio.mode) {
        // Sleeves keep their steps: combining them needs every sleeve's.
        let runner::Run { outcome, sleeves } = runner::run(&loaded, &data.series)?;
        return output::write_run(&loaded, &outcome, sleeves.as_deref(), data, out, unit, None);
    }
    if let Input::Bars(data) = &input {
        // Refused before the run's folder is made (the run checks it again, for other callers).
        loaded.check_reachable(data.series.iter().map(|s| s.len()).max().unwrap_or(0))?;
    }
    // An --out folder's old results stay until the run has succeeded.
    let run_dir = out.open(&c.output.dir.join(&c.name))?;
    let (instruments, steps) = match &input {
        Input::Ticks(ticks) => (ticks.instruments.clone(), None),
        Input::Stream(stream) => (stream.instruments.clone(), Some(stream.steps_at_least)),
        // A step per bar at least: steps merge the instruments' bars.
        Input::Bars(data) => (
            data.series.iter().map(|s| s.instrument.clone()).collect(),
            data.series.iter().map(|s| s.len()).max(),
        ),
    };
    let (writer, sender) = step_writer(&loaded, &run_dir, instruments, steps)?;
    let sink: Option<Box<dyn StepSink>> = Some(Box::new(sender));
    let (run, data) = match input {
        Input::Ticks(ticks) => (runner::run_ticks_into(&loaded, ticks, sink), None),
        Input::Stream(stream) => (runner::run_stream(&loaded, stream, sink), None),
        Input::Bars(data) => (runner::run_into(&loaded, &data.series, sink), Some(data)),
    };
    // A failed run drops the writer, which keeps what it wrote as `*.parquet.partial`.
    let runner::Run {
        mut outcome,
        sleeves,
    } = run?;
    run_dir.replace_old()?;
    let (tail, held, orders) = (
        std::mem::take(&mut outcome.curve),
        std::mem::take(&mut outcome.holdings),
        // Kept too: the report's decisions read the orders a model explained (a run whose
        // features explain orders hands none on, so they are all here).
        outcome.orders.clone(),
    );
    let streamed = writer.finish(tail, held, orders)?;
    let data = data.unwrap_or_default();
    output::write_streamed(
        &loaded,
        &outcome,
        sleeves.as_deref(),
        &data,
        &run_dir,
        unit,
        &streamed,
    )
}

/// Starts the writer of the step tables and orders of `loaded`'s run into `run_dir` (see
/// [`report::StepWriter`]); it keeps the curve on disk, for the summary and the report.
fn step_writer(
    loaded: &LoadedConfig,
    run_dir: &RunDir,
    instruments: Vec<InstrumentId>,
    steps: Option<usize>,
) -> Result<(StepWriter, report::StepSender)> {
    let config_json = serde_json::to_value(&loaded.config)?;
    let run = crate::run_info::run_info(loaded, &config_json, run_dir.id.clone());
    let tables = StepTables::new(
        &run_dir.dir,
        instruments,
        loaded.config.broker.initial_cash,
        run.formats,
        run.metadata(),
        steps,
        true,
    );
    Ok(StepWriter::start(tables.spilling())?)
}
