//! Runs one validated config over loaded bars: one time-ordered loop with shared cash, or one
//! independent sleeve per instrument in parallel (`[portfolio] mode = "sleeves"`), combined.
//!
//! `quant backtest` and every `quant sweep` job go through here, so a sweep job is exactly the
//! backtest of its config.

use crate::config::{LoadedConfig, PortfolioMode};
use crate::data::{SleeveSource, Stream, Ticks};
use anyhow::Result;
use engine::{BacktestOutcome, RangeError, Replay, SleeveSummary, StepSink};
use market_data::{BarSeries, InstrumentId};

/// What one run recorded.
#[derive(Debug)]
pub(crate) struct Run {
    /// The whole book, as one run.
    pub(crate) outcome: BacktestOutcome,
    /// Per-sleeve figures in sleeves mode.
    pub(crate) sleeves: Option<Vec<SleeveSummary>>,
}

/// Runs `loaded` over `series` on the current rayon pool.
///
/// # Errors
/// Names the feature or weight at fault in the config, or returns the engine's error.
pub(crate) fn run(loaded: &LoadedConfig, series: &[BarSeries]) -> Result<Run> {
    run_into(loaded, series, None)
}

/// Runs `loaded` over `series` as [`run`] does; with shared cash, each full chunk of steps goes
/// to `sink` (sleeves keep theirs, which their combination needs).
///
/// # Errors
/// As [`run`], and the sink's error.
pub(crate) fn run_into(
    loaded: &LoadedConfig,
    series: &[BarSeries],
    sink: Option<Box<dyn StepSink>>,
) -> Result<Run> {
    let c = &loaded.config;
    loaded.check_benchmark(series.iter().map(|s| s.instrument.as_str()))?;
    loaded.check_reachable(series.iter().map(BarSeries::len).max().unwrap_or(0))?;
    let spec = loaded.engine_spec();
    let build = || loaded.build_strategy();
    match c.portfolio.mode {
        PortfolioMode::Shared => shared(loaded, Replay::Bars(series), sink),
        PortfolioMode::Sleeves => {
            let weights = weights(loaded, series.iter().map(|s| s.instrument.as_str()))?;
            let sleeves =
                engine::run_sleeves(&spec, series, &weights, c.metrics.spec(), |spec, one| {
                    let one = std::slice::from_ref(one);
                    Ok::<_, anyhow::Error>(build()?.run(spec, Replay::Bars(one))?)
                })?;
            Ok(Run {
                outcome: sleeves.combined,
                sleeves: Some(sleeves.sleeves),
            })
        }
    }
}

/// Runs `loaded` in sleeves mode over streamed files: each worker of the current rayon pool
/// opens one sleeve's files when it starts that sleeve and holds only its decoded chunks, so no
/// instrument's bars are loaded up front. The result is the loaded run's, bar for bar.
///
/// # Errors
/// As [`run`], and names the file and row of bad data met during a sleeve.
pub(crate) fn run_sleeve_streams(loaded: &LoadedConfig, sources: &[SleeveSource]) -> Result<Run> {
    let names = || sources.iter().map(|s| s.instrument.as_str());
    loaded.check_benchmark(names())?;
    let weights = weights(loaded, names())?;
    let spec = loaded.engine_spec();
    let sleeves = engine::run_sleeves(
        &spec,
        sources,
        &weights,
        loaded.config.metrics.spec(),
        |spec, source| {
            let mut merger = source.open();
            let replay = Replay::Merged {
                merger: &mut merger,
                instruments: vec![source.instrument.clone()],
                steps_hint: 0,
            };
            let outcome = loaded.build_strategy()?.run(spec, replay)?;
            if outcome.bars_per_instrument.iter().sum::<usize>() == 0 {
                // As the loaded data's check says it, only found at the end of the stream.
                return Err(loaded.range(RangeError::new(
                    "data",
                    format!(
                        "bars for every instrument, but {} has none within start/end",
                        source.instrument
                    ),
                )));
            }
            Ok(outcome)
        },
    )?;
    Ok(Run {
        outcome: sleeves.combined,
        sleeves: Some(sleeves.sleeves),
    })
}

/// Runs `loaded` (shared cash) over a streamed catalog, in bounded memory.
///
/// # Errors
/// As [`run`], and names the file and row of bad data met during the run.
pub(crate) fn run_stream(
    loaded: &LoadedConfig,
    stream: Stream,
    sink: Option<Box<dyn StepSink>>,
) -> Result<Run> {
    loaded.check_benchmark(stream.instruments.iter().map(InstrumentId::as_str))?;
    let Stream {
        instruments,
        mut merger,
        ..
    } = stream;
    let replay = Replay::Merged {
        merger: &mut merger,
        instruments,
        steps_hint: 0,
    };
    shared(loaded, replay, sink)
}

/// Runs `loaded` (shared cash) over ticks, with bars built from trades when `[data] resample`
/// asks for them.
///
/// # Errors
/// As [`run`]; sleeves are refused (ticks replay as one book).
pub(crate) fn run_ticks(loaded: &LoadedConfig, ticks: Ticks) -> Result<Run> {
    run_ticks_into(loaded, ticks, None)
}

/// Runs `loaded` over ticks as [`run_ticks`] does, handing each full chunk of steps to `sink`.
///
/// # Errors
/// As [`run_ticks`], and the sink's error.
pub(crate) fn run_ticks_into(
    loaded: &LoadedConfig,
    ticks: Ticks,
    sink: Option<Box<dyn StepSink>>,
) -> Result<Run> {
    loaded.check_benchmark(ticks.instruments.iter().map(InstrumentId::as_str))?;
    if loaded.config.portfolio.mode == PortfolioMode::Sleeves {
        return Err(loaded.range(RangeError::new(
            "portfolio.mode",
            "\"shared\" with `[data] ticks` (ticks replay as one book)",
        )));
    }
    let bars = match &loaded.config.data.resample {
        Some(rule) => Some(
            rule.parse()
                .map_err(|e| loaded.range(RangeError::new("data.resample", format!("{e}"))))?,
        ),
        None => None,
    };
    let replay = Replay::Ticks {
        events: &ticks.events,
        instruments: ticks.instruments,
        bars,
    };
    shared(loaded, replay, sink)
}

/// Returns each instrument's share of the capital: `[portfolio] weights` normalised by their
/// sum, or equal shares.
///
/// # Errors
/// Names a weight for an instrument the data lacks, or an instrument without a weight.
fn weights<'a>(loaded: &LoadedConfig, names: impl Iterator<Item = &'a str>) -> Result<Vec<f64>> {
    let names: Vec<&str> = names.collect();
    let Some(given) = &loaded.config.portfolio.weights else {
        return Ok(vec![1.0 / names.len() as f64; names.len()]);
    };
    if let Some(unknown) = given.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(loaded.range(RangeError::new(
            format!("portfolio.weights.{unknown}"),
            format!(
                "an instrument of the data ({}), found {unknown:?}",
                names.join(", ")
            ),
        )));
    }
    let raw = names
        .iter()
        .map(|name| {
            given.get(*name).copied().ok_or_else(|| {
                loaded.range(RangeError::new(
                    "portfolio.weights",
                    format!(
                        "a weight for every instrument when weights are given, but {name} has none"
                    ),
                ))
            })
        })
        .collect::<Result<Vec<f64>>>()?;
    let total: f64 = raw.iter().sum();
    Ok(raw.iter().map(|w| w / total).collect())
}

/// Runs `loaded` with shared cash over `replay`, handing full chunks of steps to `sink`.
fn shared(
    loaded: &LoadedConfig,
    replay: Replay<'_>,
    sink: Option<Box<dyn StepSink>>,
) -> Result<Run> {
    let outcome = loaded
        .build_strategy()?
        .run_into(&loaded.engine_spec(), replay, sink)?;
    Ok(Run {
        outcome,
        sleeves: None,
    })
}
