//! `quant bench`: throughput of the event loop with the simulated broker, and of the CSV reader,
//! on synthetic data held in memory. Reports medians, since machines here are shared and noisy.

use ::features::{FeatureConfig, FeatureKind};
use anyhow::{Context, Result};
use engine::{EngineSpec, Replay};
use market_data::csv::{OnInvalid, read_bars};
use market_data::synthetic::{SyntheticSpec, generate_one};
use market_data::{Bar, InstrumentId};
use std::fmt::Write as _;
use std::time::Instant;
use strategies::StrategyConfig;
use strategies::rules::RulesParams;
use strategies::sma_crossover::SmaCrossoverParams;

mod augmentation;
mod data;
mod explain;
mod features;
mod ml;
mod paper;
mod parallel;
mod report;
mod results;

/// Options of `quant bench`: which end-to-end figure to measure.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: Bench,
    /// Timed repetitions of each measurement; the median is reported.
    #[arg(long, global = true, default_value_t = 5)]
    runs: usize,
}

#[derive(Debug, clap::Subcommand)]
enum Bench {
    /// The event loop with the simulated broker on one-minute bars in memory, and the CSV reader.
    Loop {
        /// One-minute bars replayed by the event loop.
        #[arg(long, default_value_t = 10_000_000)]
        bars: usize,
        /// Rows in the CSV file the reader parses.
        #[arg(long, default_value_t = 2_000_000)]
        csv_rows: usize,
        /// Times only the cases whose label contains this text (to profile one with `perf`);
        /// ratios are then to the first case timed.
        #[arg(long)]
        only: Option<String>,
    },
    /// The feature pipeline: a 20-feature pipeline streaming, and batch throughput on 1 thread
    /// vs all cores (each indicator's own cost: `cargo bench -p features`).
    Features,
    /// The models: training samples/s per kind, inference latency for 1 and 100 samples, and an
    /// `ml_trend` backtest's bars/s.
    Ml,
    /// Out-of-sample accuracy and log loss with and without the training options `noise_std`
    /// and `scale_jitter`, on the planted lag-3 task and on a config's data, over several seeds.
    Augmentation {
        /// Training seeds per setting (the table gives mean and standard deviation).
        #[arg(long, default_value_t = 5)]
        seeds: usize,
        /// The config whose data, pipeline, [model] and [training] make the real-data column.
        #[arg(long, default_value = "backtests/ml_trend.toml")]
        config: std::path::PathBuf,
    },
    /// Explanations: occlusion cost per decision, permutation importance per fold, and the
    /// overhead of explaining every order of an `ml_trend` backtest.
    Explain,
    /// Market data: Parquet and Arrow IPC decode into bars, on one thread and across files on
    /// every core.
    Data,
    /// A streamed sma_crossover backtest over a Parquet catalog (generated first if missing):
    /// the event loop over the streamed catalog and the whole `quant backtest`, bars/s and peak
    /// RSS.
    Catalog {
        /// The catalog folder.
        #[arg(long, default_value = "data/bench-catalog")]
        dir: std::path::PathBuf,
        /// Instruments in a generated catalog.
        #[arg(long, default_value_t = 100)]
        instruments: usize,
        /// One-minute bars per instrument in a generated catalog.
        #[arg(long, default_value_t = 1_000_000)]
        bars: usize,
    },
    /// A user's whole `quant backtest` of one-minute bars from a Parquet file (generated first
    /// if missing), default outputs, beside the event loop alone over the same bars: seconds,
    /// bars/s, their ratio, and the command's peak RSS.
    Results {
        /// The folder of the data, the config and the results.
        #[arg(long, default_value = "data/bench-results")]
        dir: std::path::PathBuf,
        /// One-minute bars.
        #[arg(long, default_value_t = 5_000_000)]
        bars: usize,
        /// Writes the report too (`[output] report = true`).
        #[arg(long)]
        report: bool,
    },
    /// The P&L report: compute and render time, page size and Chromium load time for a 10-year
    /// daily and a 1-year minute-bar backtest.
    Report,
    /// A paper session: tick-to-order latency (p50, p99, max) over 100,000 trades served on
    /// loopback by quant feed replay.
    Paper,
    /// How a many-instrument sleeves backtest and a sweep scale from 1 thread to every core:
    /// medians, speed-up, jobs per second, per-job overhead.
    Parallel(parallel::ParallelArgs),
}

/// Runs the chosen benchmark and prints its figures.
///
/// # Errors
/// When a run fails or a file cannot be written.
pub fn run(args: &BenchArgs) -> Result<()> {
    let runs = args.runs.max(1);
    match &args.what {
        Bench::Loop {
            bars,
            csv_rows,
            only,
        } => event_loop(*bars, *csv_rows, only.as_deref(), runs),
        Bench::Features => features::run(runs),
        Bench::Ml => ml::run(runs),
        Bench::Explain => explain::run(runs),
        Bench::Augmentation { seeds, config } => augmentation::run(*seeds, config),
        Bench::Data => data::run_decode(runs),
        Bench::Catalog {
            dir,
            instruments,
            bars,
        } => data::run_catalog(dir, *instruments, *bars, runs),
        Bench::Results { dir, bars, report } => results::run(dir, *bars, *report, runs),
        Bench::Report => report::run(runs),
        Bench::Paper => paper::run(),
        Bench::Parallel(parallel) => parallel::run(parallel, runs),
    }
}

/// The event loop over `bars` one-minute bars, then the CSV reader over `csv_rows` rows.
fn event_loop(bars: usize, csv_rows: usize, only: Option<&str>, runs: usize) -> Result<()> {
    let spec = SyntheticSpec {
        bars,
        interval_ns: 60_000_000_000,
        ..SyntheticSpec::default()
    };
    let series = [generate_one(&spec, 0)];
    let data_bytes = std::mem::size_of_val(series[0].bars.as_slice());
    let rss_data = peak_rss_kib();
    let engine_spec = EngineSpec::default();
    let mut cases = loop_cases();
    cases.retain(|(label, _, _)| only.is_none_or(|text| label.contains(text)));
    if cases.is_empty() {
        anyhow::bail!("--only {:?} matches no case", only.unwrap_or_default());
    }
    // Interleaved, so a busy spell on a shared machine slows every case alike.
    let mut rates = vec![Vec::with_capacity(runs); cases.len()];
    let mut fills = vec![0; cases.len()];
    for _ in 0..runs {
        for (i, (_, strategy, features)) in cases.iter().enumerate() {
            let start = Instant::now();
            let outcome = strategy
                .build(features)?
                .run(&engine_spec, Replay::Bars(&series))?;
            let seconds = start.elapsed().as_secs_f64();
            fills[i] = outcome.fills.len();
            rates[i].push(bars as f64 / seconds);
        }
    }
    let rss_loop = peak_rss_kib();
    println!(
        "event loop: simulated broker, {bars} one-minute bars in memory, features computed in \
         the run"
    );
    let medians: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
    for (i, (label, _, _)) in cases.iter().enumerate() {
        println!(
            "  {label}: median {:.1} M bars/s over {runs} runs (min {:.1}, max {:.1}), {} fills, \
             {:.2}x the first case's time per bar",
            medians[i] / 1e6,
            rates[i][0] / 1e6,
            rates[i][runs - 1] / 1e6,
            fills[i],
            medians[0] / medians[i],
        );
    }
    println!(
        "  bar data {:.0} MiB; peak RSS {:.0} MiB after generating, {:.0} MiB after the runs ({:.1} bytes per bar of results kept)",
        data_bytes as f64 / 1048576.0,
        rss_data as f64 / 1024.0,
        rss_loop as f64 / 1024.0,
        (rss_loop.saturating_sub(rss_data) as f64 * 1024.0) / bars as f64,
    );

    let path = std::env::temp_dir().join(format!("quant-bench-{}.csv", std::process::id()));
    let csv_spec = SyntheticSpec {
        bars: csv_rows,
        ..spec
    };
    write_csv(&path, &generate_one(&csv_spec, 1).bars)?;
    let mut csv_rates = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let (series, _) = read_bars(&path, InstrumentId::new("BENCH"), OnInvalid::Error)?;
        csv_rates.push(series.len() as f64 / start.elapsed().as_secs_f64());
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&path);
    println!(
        "csv reader: {} rows (RFC 3339 timestamps, 4-decimal prices, {:.0} MiB)",
        csv_rows,
        size as f64 / 1048576.0
    );
    println!(
        "  median {:.2} M rows/s over {runs} runs",
        median(&mut csv_rates) / 1e6
    );
    Ok(())
}

/// The strategies `quant bench loop` times: the built-in crossover first (the baseline), the
/// same crossover written as rules, and a typical four-rule strategy over five features.
fn loop_cases() -> Vec<(&'static str, StrategyConfig, Vec<FeatureConfig>)> {
    use FeatureKind::{Atr, Rsi, Sma};
    let sma = |name: &str, period| FeatureConfig::of(name, "close", Sma { period });
    let crossover = vec![sma("sma_fast", 10), sma("sma_slow", 30)];
    let mut five = crossover.clone();
    // The built-in names its averages the same way, so it shares them with these.
    five.extend([
        FeatureConfig::of(
            "rsi",
            "close",
            Rsi {
                period: 14,
                smoothing: Default::default(),
            },
        ),
        FeatureConfig {
            input: None,
            ..FeatureConfig::of("atr", "", Atr { period: 14 })
        },
        sma("trend", 200),
    ]);
    let rule = |text: &str| Some(text.to_string());
    vec![
        (
            "sma_crossover(10, 30), built in",
            StrategyConfig::SmaCrossover(SmaCrossoverParams { fast: 10, slow: 30 }),
            Vec::new(),
        ),
        (
            "sma_crossover(10, 30), built in, computing the 5 features below too",
            StrategyConfig::SmaCrossover(SmaCrossoverParams { fast: 10, slow: 30 }),
            five.clone(),
        ),
        (
            "the same crossover as rules",
            StrategyConfig::Rules(RulesParams {
                entry_long: rule("crosses_above(sma_fast, sma_slow)"),
                exit_long: rule("crosses_below(sma_fast, sma_slow)"),
                ..RulesParams::default()
            }),
            crossover,
        ),
        (
            "4 rules over 5 features",
            StrategyConfig::Rules(RulesParams {
                entry_long: rule(
                    "crosses_above(sma_fast, sma_slow) and rsi < 70 and close > trend",
                ),
                exit_long: rule("crosses_below(sma_fast, sma_slow) or bars_held >= 500"),
                stop_loss: rule("3 * atr"),
                take_profit: rule("6 * atr"),
                ..RulesParams::default()
            }),
            five,
        ),
    ]
}

/// Returns the time this thread has spent on a CPU, in nanoseconds (Linux; `None` elsewhere).
/// Unlike wall time it excludes time descheduled by other work on a shared machine, so
/// single-threaded figures stay comparable between a quiet and a busy machine.
pub(crate) fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// The file beside data a benchmark generated, naming the Parquet layout it was written in.
const LAYOUT_FILE: &str = "parquet-layout.txt";

/// Records that the data in `dir` was just generated in this quant's Parquet layout.
pub(crate) fn mark_layout(dir: &std::path::Path) -> Result<()> {
    let path = dir.join(LAYOUT_FILE);
    std::fs::write(&path, market_data::columnar::PARQUET_LAYOUT)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Warns when the data in `dir` was not generated in this quant's Parquet layout (an older
/// quant's, or data of the user's own), so the figures that follow are not taken for today's.
/// The data is never removed: the folder may be the user's.
pub(crate) fn warn_if_other_layout(dir: &std::path::Path) {
    let written = std::fs::read_to_string(dir.join(LAYOUT_FILE)).ok();
    if written.as_deref() != Some(market_data::columnar::PARQUET_LAYOUT) {
        println!(
            "note: {} was not generated in this quant's Parquet layout ({}): the figures are \
             for its files as they are; delete the folder to have it generated again",
            dir.display(),
            market_data::columnar::PARQUET_LAYOUT
        );
    }
}

/// Returns the median, sorting `values` in place.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn write_csv(path: &std::path::Path, bars: &[Bar]) -> Result<()> {
    let mut text = String::with_capacity(bars.len() * 80 + 64);
    text.push_str("timestamp,open,high,low,close,volume\n");
    for b in bars {
        let _ = writeln!(
            text,
            "{},{},{},{},{},{}",
            b.ts, b.open, b.high, b.low, b.close, b.volume
        );
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Returns the peak resident set size of this process in KiB (0 where /proc is unavailable).
pub(crate) fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
