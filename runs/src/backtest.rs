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
/// shared-cash run writes its step tables (equity, positions, returns), orders, fills and trades
/// while it runs. Prints the headline figures.
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
    let last = engine::StepChunk {
        first: 0,
        curve: std::mem::take(&mut outcome.curve),
        holdings: std::mem::take(&mut outcome.holdings),
        // Kept too: the report's decisions read the orders a model explained (a run whose
        // features explain orders hands none on, so they are all here).
        orders: outcome.orders.clone(),
        // The last fills and trades go the way of the others: the outcome keeps their tally.
        fills: std::mem::take(&mut outcome.fills),
        trades: std::mem::take(&mut outcome.trades),
    };
    let streamed = writer.finish(last, outcome.open_trades.clone())?;
    outcome.handed_on = Some(streamed.handed_on.clone());
    let data = data.unwrap_or_default();
    output::write_streamed(
        &loaded,
        &outcome,
        sleeves.as_deref(),
        &data,
        &run_dir,
        unit,
        streamed,
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::record_batch::RecordBatch;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::path::PathBuf;

    /// A crossover of 2 and 5 one-minute bars over 200,000 generated bars: tens of thousands of
    /// round trips, so the run hands its records on in several chunks and the report lists a
    /// sample of its trades.
    const CONFIG: &str = r#"
name = "busy"
seed = 3

[data]
kind = "synthetic"
instruments = 1
bars = 200_000
interval = "1m"
start = "2024-01-01"
model = "gbm"
drift = 0.05
volatility = 0.3

[strategy]
name = "sma_crossover"
[strategy.params]
fast = 2
slow = 5

[broker]
initial_cash = 100_000.0
commission = 0.0001
fractional = true

[output]
formats = ["parquet", "csv"]
"#;

    /// The columns of a Parquet file, each in one array (its metadata names the run: not
    /// compared).
    fn columns(path: &Path) -> Vec<arrow::array::ArrayRef> {
        let file = std::fs::File::open(path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let schema = reader.schema().clone();
        let all: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        let one = arrow::compute::concat_batches(&schema, &all).unwrap();
        one.columns().to_vec()
    }

    fn json(path: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// `quant backtest` streams a trade-heavy run's fills and trades to their files as it goes
    /// (the outcome keeps a tally and a sample); its files, summary and report are those of the
    /// same run kept whole in memory and written after it (as a sweep's or Python's is).
    #[test]
    fn a_streamed_run_writes_the_files_and_figures_of_the_run_kept_whole() {
        /// Removes the folder when the test ends, passed or failed.
        struct Scratch(PathBuf);
        impl Drop for Scratch {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir: PathBuf = std::env::temp_dir().join(format!("quant-busy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let _scratch = Scratch(dir.clone());
        let path = dir.join("busy.toml");
        let text = format!("{CONFIG}dir = \"{}\"\n", dir.join("results").display());
        std::fs::write(&path, text).unwrap();
        let set = SetArgs::default();
        let out = |name: &str| OutArgs {
            out: Some(dir.join(name)),
            force: false,
        };
        run(&path, &set, &out("streamed")).unwrap();

        let loaded = set.load(&path).unwrap();
        let data = data::load(&loaded).unwrap();
        let whole = runner::run(&loaded, &data.series).unwrap().outcome;
        assert!(whole.handed_on.is_none(), "kept whole");
        // Handed on over three chunks of steps and the tail.
        let fills = whole.fills.len();
        assert!(fills > 3 * 10_000, "{fills} fills");
        assert!(whole.trades.len() > 10 * engine::SHOWN_TRADES);
        output::write_run(&loaded, &whole, None, &data, &out("whole"), "bars", None).unwrap();

        let (a, b) = (dir.join("whole"), dir.join("streamed"));
        for table in ["fills", "trades", "orders", "equity"] {
            let csv = format!("{table}.csv");
            let text = |d: &Path| std::fs::read(d.join(&csv)).unwrap();
            assert!(text(&a) == text(&b), "{csv} byte for byte");
        }
        for table in [
            "fills",
            "trades",
            "orders",
            "equity",
            "positions",
            "returns",
        ] {
            let file = format!("{table}.parquet");
            assert!(
                columns(&a.join(&file)) == columns(&b.join(&file)),
                "{file}: the same rows"
            );
        }
        let trades = std::fs::read_to_string(b.join("trades.csv")).unwrap();
        let rows = whole.trades.len() + whole.open_trades.len();
        assert_eq!(trades.lines().count(), 1 + rows);
        // Every figure the same, to the last bit (the report's trade sample included).
        let (sa, sb) = (json(&a.join("summary.json")), json(&b.join("summary.json")));
        assert_eq!(sa, sb);
        assert_eq!(sb["trades"], whole.trades.len());
        let (ra, rb) = (json(&a.join("report.json")), json(&b.join("report.json")));
        assert_eq!(ra, rb);
        let listed = rb["trades"].as_array().unwrap().len();
        assert_eq!(
            (listed, rb["trades_total"].as_u64()),
            (engine::SHOWN_TRADES, Some(rows as u64))
        );
    }
}
