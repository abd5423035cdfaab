//! `quant`: the command-line program. It wires the crates together and holds no trading logic.

mod bench;
mod config;
mod data;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use config::LoadedConfig;
use engine::{Summary, run_backtest, write_results};
use std::path::PathBuf;
use std::process::ExitCode;

/// An event-driven backtest and execution engine.
#[derive(Debug, Parser)]
#[command(name = "quant", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Measures the event loop and the CSV reader on synthetic data; prints medians.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Backtest { config, out } => backtest(&config, out),
        Command::Bench(args) => bench::run(&args),
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
    let data = data::load(&loaded)?;
    let c = &loaded.config;
    let outcome = run_backtest(&loaded.engine_spec(), &data.series, c.strategy.build())?;
    let summary = Summary::new(&outcome, c.metrics.periods_per_year);
    let dir = out.unwrap_or_else(|| c.output.dir.join(&c.name));
    let mut extra = serde_json::Map::new();
    let skipped: serde_json::Map<String, serde_json::Value> = data
        .skipped
        .iter()
        .map(|(name, report)| {
            let examples: Vec<String> = report.examples.iter().map(ToString::to_string).collect();
            (
                name.clone(),
                serde_json::json!({ "rows": report.skipped, "examples": examples }),
            )
        })
        .collect();
    extra.insert("skipped_rows".into(), skipped.into());
    extra.insert("name".into(), c.name.clone().into());
    let config_json = serde_json::to_value(c).context("cannot serialise the config")?;
    write_results(
        &dir,
        &c.name,
        &outcome,
        &summary,
        config_json,
        extra,
        c.output.report,
    )?;
    for (name, report) in &data.skipped {
        eprintln!(
            "warning: {name}: skipped {} invalid rows, first: {}",
            report.skipped, report.examples[0]
        );
    }
    println!(
        "{} ({}), {} bars, results in {}",
        c.name,
        c.strategy.name(),
        outcome.bars_per_instrument.iter().sum::<usize>(),
        dir.display()
    );
    for (label, value) in summary.rows() {
        println!("  {label:<18} {value:>24}");
    }
    Ok(())
}
