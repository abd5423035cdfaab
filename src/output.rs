//! Writing a finished run: the results folder (summary, tables, report) and the headline figures
//! on the terminal. Backtests and paper sessions end here alike.

use crate::config::LoadedConfig;
use crate::data::LoadedData;
use anyhow::{Context, Result};
use engine::{BacktestOutcome, SleeveSummary, Summary, write_results};
use std::path::PathBuf;

/// Writes `outcome` into `out` (default `<output.dir>/<name>/`) and prints its summary;
/// `unit` names what was replayed (`bars`, `ticks`, `events`).
///
/// # Errors
/// A result file cannot be written.
pub(crate) fn write_run(
    loaded: &LoadedConfig,
    outcome: &BacktestOutcome,
    sleeves: Option<&[SleeveSummary]>,
    data: &LoadedData,
    out: Option<PathBuf>,
    unit: &str,
) -> Result<()> {
    let c = &loaded.config;
    let summary = Summary::new(outcome, c.metrics.periods_per_year);
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
    if let Some(sleeves) = sleeves {
        extra.insert("sleeves".into(), serde_json::to_value(sleeves)?);
    }
    let config_json = serde_json::to_value(c).context("cannot serialise the config")?;
    write_results(
        &dir,
        &c.name,
        outcome,
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
        "{} ({}), {} {unit}, results in {}",
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
