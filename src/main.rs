//! `quant`: the command-line program. It wires the crates together and holds no trading logic.

mod bench;
mod bench_data;
mod bench_explain;
mod bench_features;
mod bench_feed;
mod bench_ml;
mod bench_paper;
mod bench_parallel;
mod bench_report;
mod browser;
mod config;
mod data;
mod data_cli;
mod feed_server;
mod launch;
mod live;
mod model_card;
mod output;
mod paper;
mod report_cli;
mod runner;
mod sweep;
mod train;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use config::LoadedConfig;
use engine::table::{Column, Table};
use std::path::PathBuf;
use std::process::ExitCode;
use strategies::features::compute_batch;

/// An event-driven backtest and execution engine.
#[derive(Debug, Parser)]
#[command(name = "quant", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Worker threads for sleeves and sweeps (default: RAYON_NUM_THREADS, else every core).
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the backtest a TOML config describes and writes results/<name>/.
    ///
    /// Writes summary.json, trades/fills/orders/equity as CSV and Parquet, and report.html, then
    /// prints the headline figures. Relative paths in the config are read from the current
    /// folder (or else beside the config).
    Backtest {
        /// The config file, e.g. backtests/sma_crossover.toml.
        config: PathBuf,
        /// Write the results into this folder instead of <output.dir>/<name>/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Computes the config's feature pipeline over all its data and writes it.
    ///
    /// The pipeline is the config's [[features]] plus those its strategy reads. The file has a
    /// `timestamp` and an `instrument` column, then one column per feature output (`<name>`, or
    /// `<name>_<output>` for several), empty/null where a feature is not ready. Instruments are
    /// computed in parallel; the values equal those the strategy sees bar by bar.
    Features {
        /// The config file.
        config: PathBuf,
        /// Output file: CSV for `.csv`, Parquet otherwise (default <output.dir>/<name>/features.parquet).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measures the event loop and the CSV reader on synthetic data; prints medians.
    Bench(bench::BenchArgs),
    /// Generates, converts, inspects and resamples market data files (CSV, Parquet, Arrow).
    Data(data_cli::DataArgs),
    /// Trades the config's strategy on a live websocket feed (`[live]`) with simulated fills.
    ///
    /// Every market event, order and fill is journaled (`[live] journal`); a restart resumes
    /// from the journal with the same positions, cash and orders. Stops on Ctrl-C, after
    /// --duration seconds or --events events, and writes results like `quant backtest`.
    Paper(paper::PaperArgs),
    /// Trades the config's strategy with real orders at a venue (`[live] mode = "live"`).
    ///
    /// Orders go to `[live.venue]`'s websocket API, signed with the key and secret read from
    /// the environment variables it names. Positions and open orders are reconciled with the
    /// venue before trading starts and after every reconnect. `[live.safety]` sets the limits;
    /// SIGINT, SIGTERM or the kill file cancel every order and flatten before stopping.
    Live(live::LiveArgs),
    /// Renders a run's HTML report again from its report.json, compares runs side by side, or
    /// renders a model folder's model card.
    ///
    /// `quant report results/a` rewrites results/a/report.html and prints the headline figures;
    /// `quant report results/a --compare results/b results/c` writes results/a/comparison.html:
    /// metrics in columns, equity and drawdowns overlaid; `quant report models/m` writes
    /// models/m/model_card.html.
    Report(report_cli::ReportArgs),
    /// Runs every parameter set of the config's [sweep] table across cores and ranks them.
    ///
    /// Writes <out>/sweep.csv and sweep.parquet (one row per parameter set with every summary
    /// metric, best first by rank_by) and the top runs' full results in <out>/top/. Finished
    /// jobs are journaled, so re-running an interrupted sweep resumes it. `--shard K/N` (or
    /// `--shards N` under a batch scheduler) runs one slice; `quant sweep merge DIR` combines
    /// the slices.
    Sweep(sweep::SweepArgs),
    /// Measures how a many-instrument sleeves backtest and a sweep scale from 1 thread to every
    /// core: medians, speed-up, jobs per second, per-job overhead.
    BenchParallel(bench_parallel::BenchParallelArgs),
    /// Trains the config's [model] with walk-forward evaluation, then saves the final model.
    ///
    /// Prints per fold and overall: accuracy, macro-F1, log loss, the majority-class and
    /// last-return-sign baselines, and (trend models) the out-of-sample return of `ml_trend`
    /// over the test folds, then the permutation importance ranking and calibration. Writes
    /// weights.safetensors, model.json (pipeline, standardisation, scores), explain.json
    /// (importance, calibration and drift per fold, the training drift profile) and
    /// oos_equity.csv into the model folder.
    Train(train::TrainArgs),
    /// Serves market data files as websocket feeds on 127.0.0.1, for paper trading offline.
    Feed(feed_server::FeedArgs),
    /// Opens an HTML report in headless Chromium and checks it: no console errors, exceptions or
    /// network requests, and every chart drew something. Prints the load time; fails on any
    /// problem. Needs Debian's chromium package.
    #[command(hide = true)]
    ReportCheck(browser::ReportCheckArgs),
}

fn main() -> ExitCode {
    if let Some(code) = launch::relaunch() {
        return code;
    }
    let cli = Cli::parse();
    if let Some(threads) = cli.threads
        && let Err(error) = rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(threads))
            .build_global()
    {
        eprintln!("error: cannot start {threads} threads: {error}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Backtest { config, out } => backtest(&config, out),
        Command::Features { config, out } => features(&config, out),
        Command::Bench(args) => bench::run(&args),
        Command::Data(args) => data_cli::run(&args),
        Command::Paper(args) => paper::run(&args),
        Command::Live(args) => live::run(&args),
        Command::Report(args) => report_cli::run(&args),
        Command::Sweep(args) => sweep::run(&args),
        Command::BenchParallel(args) => bench_parallel::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Feed(args) => feed_server::run(&args),
        Command::ReportCheck(args) => browser::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn backtest(path: &std::path::Path, out: Option<PathBuf>) -> Result<()> {
    let loaded = LoadedConfig::load(path)?;
    let c = &loaded.config;
    let streamed = match c.portfolio.mode {
        _ if c.data.ticks.is_some() => None,
        config::PortfolioMode::Shared => data::open_stream(&loaded)?,
        config::PortfolioMode::Sleeves => None,
    };
    let (runner::Run { outcome, sleeves }, data) = match (data::load_ticks(&loaded)?, streamed) {
        (Some(ticks), _) => (
            runner::run_ticks(&loaded, ticks)?,
            data::LoadedData::default(),
        ),
        (None, Some(stream)) => (
            runner::run_stream(&loaded, stream)?,
            data::LoadedData::default(),
        ),
        (None, None) => {
            let data = data::load(&loaded)?;
            (runner::run(&loaded, &data.series)?, data)
        }
    };
    let unit = if c.data.ticks.is_some() {
        "ticks"
    } else {
        "bars"
    };
    output::write_run(&loaded, &outcome, sleeves.as_deref(), &data, out, unit)
}

fn features(path: &std::path::Path, out: Option<PathBuf>) -> Result<()> {
    let loaded = LoadedConfig::load(path)?;
    let data = data::load(&loaded)?;
    let c = &loaded.config;
    let built = loaded.build_strategy()?;
    let start = std::time::Instant::now();
    let frames =
        compute_batch(&built.pipeline, &data.series).map_err(|e| loaded.feature_error(&e))?;
    let seconds = start.elapsed().as_secs_f64();
    let rows: usize = frames.iter().map(|f| f.ts.len()).sum();
    let mut columns = vec![
        Column::time(
            "timestamp",
            frames
                .iter()
                .flat_map(|f| f.ts.iter().map(|t| Some(*t)))
                .collect(),
        ),
        Column::text(
            "instrument",
            frames
                .iter()
                .flat_map(|f| f.ts.iter().map(|_| f.instrument.to_string()))
                .collect(),
        ),
    ];
    for (i, name) in built.pipeline.columns().iter().enumerate() {
        columns.push(Column::float(
            name.clone(),
            frames
                .iter()
                .flat_map(|f| f.columns[i].iter().copied())
                .collect(),
        ));
    }
    let file = out.unwrap_or_else(|| c.output.dir.join(&c.name).join("features.parquet"));
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    Table {
        name: "features".into(),
        columns,
    }
    .write(&file)?;
    println!(
        "{} features x {rows} bars of {} instruments in {seconds:.3} s -> {}",
        built.pipeline.columns().len(),
        frames.len(),
        file.display()
    );
    println!("  columns: {}", built.pipeline);
    Ok(())
}
