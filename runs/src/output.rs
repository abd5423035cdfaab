//! Writing a finished run: the results folder (summary, tables, report) and the headline figures
//! on the terminal. Backtests and paper sessions end here alike.

use crate::backfill::GapLog;
use crate::config::LoadedConfig;
use crate::data::LoadedData;
use crate::run_dir::{OutArgs, RunDir};
use anyhow::{Context, Result};
use engine::column::Curve;
use engine::{BacktestOutcome, SleeveSummary, Summary};
use market_data::BarSeries;
use report::analysis::{Analysis, AnalysisInput, PriceInput, buy_and_hold_on, measure};
use report::{Streamed, write_results};

/// Returns the run's summary, measured against its benchmark when the bars allow one, and its
/// report's figures when `[output] report` asks for them, from its `curve` (the outcome's own,
/// or the one a streamed run kept on disk).
pub(crate) fn summarise(
    loaded: &LoadedConfig,
    title: &str,
    outcome: &BacktestOutcome,
    curve: &dyn Curve,
    series: &[BarSeries],
) -> (Summary, Option<Analysis>) {
    let c = &loaded.config;
    let prices: Vec<PriceInput<'_>> = series
        .iter()
        .map(|s| PriceInput {
            instrument: s.instrument.as_str(),
            bars: &s.bars,
        })
        .collect();
    let span = curve.span();
    // A backtest checked its benchmark before running and a session when it started; one that
    // fails only now (bars that never meet a session, a file changed meanwhile) must not cost
    // the results, which are written without it.
    let external = crate::benchmark::external(loaded, span).unwrap_or_else(|e| {
        eprintln!("warning: results compared without the benchmark file: {e:#}");
        None
    });
    let external = external.as_ref().map(|s| PriceInput {
        instrument: s.instrument.as_str(),
        bars: &s.bars,
    });
    let benchmark = c.output.benchmark.as_ref().and_then(|b| b.instrument());
    let spec = c.metrics.spec();
    let annual = spec.annualisation_of(curve);
    let periods_per_year = annual.periods_per_year;
    let input = AnalysisInput {
        title,
        strategy: loaded.strategy_name(),
        outcome,
        curve,
        prices: &prices,
        benchmark,
        external_benchmark: external,
    };
    // The summary and the report's figures read the curve in passes of their own: on two
    // threads, the report's completed with the summary once both are done.
    let (summary, measured) = rayon::join(
        || {
            let summary = Summary::measured_with(outcome, curve, spec, annual);
            let cash = outcome.initial_cash;
            let held = match external {
                Some(ext) => buy_and_hold_on(
                    curve,
                    cash,
                    std::slice::from_ref(&ext),
                    Some(ext.instrument),
                ),
                None => buy_and_hold_on(curve, cash, &prices, benchmark),
            };
            match held {
                Ok(b) => summary.with_benchmark_over(curve, &b.equity),
                Err(_) => summary,
            }
        },
        || (c.output.report).then(|| measure(&input, periods_per_year, spec.risk_free)),
    );
    let analysis = measured.map(|m| m.finish(&summary));
    (summary, analysis)
}

/// Writes `outcome` into `out` (default a new `<output.dir>/<name>/<run-id>/`, then pointed at
/// by `<output.dir>/<name>/latest`) and prints its summary;
/// `unit` names what was replayed (`bars`, `ticks`, `events`); a session's feed `gaps` go to
/// `summary.json` and the report's notes.
///
/// # Errors
/// A result file cannot be written.
pub(crate) fn write_run(
    loaded: &LoadedConfig,
    outcome: &BacktestOutcome,
    sleeves: Option<&[SleeveSummary]>,
    data: &LoadedData,
    out: &OutArgs,
    unit: &str,
    gaps: Option<&GapLog>,
) -> Result<()> {
    let run_dir = out.create(&loaded.config.output.dir.join(&loaded.config.name))?;
    write_into(loaded, outcome, sleeves, data, &run_dir, gaps, Some(unit))
}

/// Writes `outcome` into `run_dir` (made by [`OutArgs::create`]), points `latest` at it, and
/// prints the summary when `unit` is given. A session's refresh passes `None`: its files are
/// rewritten in place (each through a temporary file and a rename), and nothing is printed.
///
/// # Errors
/// A result file cannot be written.
pub(crate) fn write_into(
    loaded: &LoadedConfig,
    outcome: &BacktestOutcome,
    sleeves: Option<&[SleeveSummary]>,
    data: &LoadedData,
    run_dir: &RunDir,
    gaps: Option<&GapLog>,
    unit: Option<&str>,
) -> Result<()> {
    write_files(loaded, outcome, sleeves, data, run_dir, gaps, unit, None)
}

/// Writes the rest of a backtest's results into `run_dir` as [`write_into`] does, once its step
/// tables, orders, fills and trades were written while it ran (by a `report::StepWriter`, which
/// kept its curve and fills on disk for the figures and left the CSVs `csv_left_out` out), and
/// prints the summary.
///
/// # Errors
/// A result file cannot be written.
pub(crate) fn write_streamed(
    loaded: &LoadedConfig,
    outcome: &BacktestOutcome,
    sleeves: Option<&[SleeveSummary]>,
    data: &LoadedData,
    run_dir: &RunDir,
    unit: &str,
    streamed: Streamed,
) -> Result<()> {
    write_files(
        loaded,
        outcome,
        sleeves,
        data,
        run_dir,
        None,
        Some(unit),
        Some(streamed),
    )
}

#[allow(clippy::too_many_arguments)]
fn write_files(
    loaded: &LoadedConfig,
    outcome: &BacktestOutcome,
    sleeves: Option<&[SleeveSummary]>,
    data: &LoadedData,
    run_dir: &RunDir,
    gaps: Option<&GapLog>,
    unit: Option<&str>,
    streamed: Option<Streamed>,
) -> Result<()> {
    let c = &loaded.config;
    let curve: &dyn Curve = streamed.as_ref().map_or(&outcome.curve, |s| &s.curve);
    let Results {
        summary,
        analysis,
        extra,
        config_json,
        drift_threshold: threshold,
    } = results(loaded, outcome, curve, sleeves, data, gaps)?;
    // The tables a streamed run's writer left without their CSV twin.
    let streamed_left_out = match streamed {
        Some(streamed) => {
            // Figures from a curve or fills that could not be read back whole are not written.
            streamed.check()?;
            let left_out = streamed.csv_left_out.clone();
            // Read for the last time: the curve's files are closed on the pool while the
            // results are written (freeing a long run's pages takes milliseconds).
            rayon::spawn(move || drop(streamed));
            Some(left_out)
        }
        None => None,
    };
    let dir = &run_dir.dir;
    // Which models traded, for the terminal.
    let model = extra.get("model").cloned().unwrap_or_default();
    let run = report::RunInfo {
        streamed: streamed_left_out.is_some(),
        ..crate::run_info::run_info(loaded, &config_json, run_dir.id.clone())
    };
    write_results(
        dir,
        outcome,
        &summary,
        config_json,
        extra,
        analysis.as_ref(),
        &run,
    )?;
    write_drift(dir, outcome, threshold, unit.is_some())?;
    run_dir.finish()?;
    let Some(unit) = unit else {
        return Ok(());
    };
    for (name, report) in &data.skipped {
        eprintln!(
            "warning: {name}: skipped {} invalid rows, first: {}",
            report.skipped, report.examples[0]
        );
    }
    let mode = model["label"]
        .as_str()
        .map_or(String::new(), |label| format!(", {label}"));
    println!(
        "{} ({}{mode}), {} {unit}, results in {}",
        c.name,
        loaded.strategy_name(),
        outcome.bars_per_instrument.iter().sum::<usize>(),
        dir.display()
    );
    for (label, value) in summary.rows() {
        println!("  {label:<18} {value:>24}");
    }
    let formats = c.output.formats();
    // A streamed run's writer counted its steps and records; the outcome has the other tables.
    let mut left_out = report::csv_left_out(outcome, formats);
    if let Some(streamed) = streamed_left_out {
        left_out.retain(|(table, _)| !["equity", "orders", "fills", "trades"].contains(table));
        left_out.extend(streamed);
    }
    for (table, rows) in left_out {
        println!(
            "  note: {table}.csv not written ({rows} rows, more than {}): {table}.parquet has \
             them; [output] formats = [\"parquet\", \"csv\"] writes both",
            formats.csv_max_rows
        );
    }
    // Which annualisation stands behind Sharpe and volatility, and why (inferred or set).
    println!(
        "  {}",
        engine::metrics::Annualisation {
            periods_per_year: summary.periods_per_year,
            reason: summary.annualisation.clone(),
        }
        .describe()
    );
    if let Some(analysis) = &analysis {
        if let Some((name, _)) = &analysis.benchmark {
            let figure = |key: &str| {
                analysis
                    .metrics
                    .iter()
                    .find(|m| m.key == key)
                    .and_then(|m| m.value)
            };
            let pct = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{:.2}%", v * 100.0));
            println!(
                "  {:<18} {:>24}",
                "Benchmark",
                format!("{} ({name})", pct(figure("benchmark_return")))
            );
            println!("  {:<18} {:>24}", "Alpha", pct(figure("alpha")));
            println!(
                "  {:<18} {:>24}",
                "Beta",
                figure("beta").map_or("n/a".into(), |v| format!("{v:.3}"))
            );
        }
        for note in &analysis.notes {
            println!("  note: {note}");
        }
    } else {
        for note in model["notes"].as_array().into_iter().flatten() {
            println!("  note: {}", note.as_str().unwrap_or_default());
        }
    }
    Ok(())
}

/// What a finished run's files say, before they are written: the summary and the report's
/// figures, `summary.json`'s other fields, and the config as JSON.
#[derive(Debug)]
pub(crate) struct Results {
    /// The headline figures.
    pub(crate) summary: Summary,
    /// The report's figures, when `[output] report` asks for them.
    pub(crate) analysis: Option<Analysis>,
    /// `summary.json`'s fields beside the figures and the config.
    pub(crate) extra: serde_json::Map<String, serde_json::Value>,
    /// The config the run came from.
    pub(crate) config_json: serde_json::Value,
    /// PSI past which a model input counts as drifted.
    pub(crate) drift_threshold: f64,
}

/// Returns what a finished run's files say (see [`Results`]); a session's feed `gaps` go to its
/// notes.
///
/// # Errors
/// The config cannot be serialised.
pub(crate) fn results(
    loaded: &LoadedConfig,
    outcome: &BacktestOutcome,
    curve: &dyn Curve,
    sleeves: Option<&[SleeveSummary]>,
    data: &LoadedData,
    gaps: Option<&GapLog>,
) -> Result<Results> {
    let c = &loaded.config;
    let (summary, mut analysis) = summarise(loaded, &c.name, outcome, curve, &data.series);
    let mut extra = serde_json::Map::new();
    // The run loaded these models already: failing to read them again (a file changed since)
    // must not cost the results.
    let plan = crate::model_plan::of(loaded).unwrap_or_else(|e| {
        eprintln!("warning: cannot say which models traded: {e:#}");
        None
    });
    if let Some(plan) = &plan {
        extra.insert(
            "model".into(),
            crate::model_plan::json(plan, curve, &data.series),
        );
        if let Some(analysis) = &mut analysis {
            let notes = crate::model_plan::notes(plan, curve, &data.series);
            analysis.notes.splice(0..0, notes);
        }
    }
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
    if let Some(gaps) = gaps {
        extra.insert("gaps".into(), gaps.json());
        if let Some(analysis) = &mut analysis {
            analysis.notes.extend(gaps.notes());
        }
    }
    if let Some(sleeves) = sleeves {
        extra.insert("sleeves".into(), serde_json::to_value(sleeves)?);
    }
    if let Some(analysis) = &analysis {
        // The report's calendar and position figures, so scripts need not parse report.json.
        let tear_sheet: serde_json::Map<String, serde_json::Value> = (analysis.metrics.iter())
            .filter(|m| {
                matches!(
                    m.group.as_str(),
                    "Trailing returns" | "Calendar" | "Positions"
                )
            })
            .map(|m| (m.key.clone(), m.value.into()))
            .collect();
        extra.insert("tear_sheet".into(), tear_sheet.into());
    }
    let threshold = (c.explain.as_ref()).map_or_else(
        || models::explain::ExplainConfig::default().drift_threshold,
        |e| e.drift_threshold,
    );
    if !outcome.drift.is_empty() {
        let rows: Vec<serde_json::Value> = (outcome.drift.iter())
            .map(|d| {
                serde_json::json!({
                    "model_id": d.model_id,
                    "feature": d.feature,
                    "psi": d.psi,
                    "observations": d.observations,
                    "drifted": d.psi > threshold,
                })
            })
            .collect();
        extra.insert(
            "drift".into(),
            serde_json::json!({ "threshold": threshold, "inputs": rows }),
        );
    }
    let config_json = serde_json::to_value(c).context("cannot serialise the config")?;
    Ok(Results {
        summary,
        analysis,
        extra,
        config_json,
        drift_threshold: threshold,
    })
}

/// Writes `drift.csv` (model inputs against the training window, flagged past `threshold`) for
/// a model-driven run, and warns about each drifted input (unless `warn` is false: a session's
/// refresh, which would repeat them every time).
fn write_drift(
    dir: &std::path::Path,
    outcome: &BacktestOutcome,
    threshold: f64,
    warn: bool,
) -> Result<()> {
    use report::table::{Column, Table};
    let d = &outcome.drift;
    if d.is_empty() {
        return Ok(());
    }
    let table = Table {
        name: "drift".into(),
        columns: vec![
            Column::text("model_id", d.iter().map(|x| x.model_id.clone()).collect()),
            Column::text("feature", d.iter().map(|x| x.feature.clone()).collect()),
            Column::float("psi", d.iter().map(|x| x.psi).collect()),
            Column::int("observations", d.iter().map(|x| x.observations).collect()),
            Column::text(
                "drifted",
                d.iter().map(|x| (x.psi > threshold).to_string()).collect(),
            ),
        ],
    };
    table.write_csv(&dir.join("drift.csv"))?;
    for x in d.iter().filter(|x| warn && x.psi > threshold) {
        eprintln!(
            "warning: model input `{}` drifted from the training window: PSI {:.3} > {threshold} \
             ([explain] drift_threshold)",
            x.feature, x.psi
        );
    }
    Ok(())
}
