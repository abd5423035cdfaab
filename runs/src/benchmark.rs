//! A benchmark read from a file (`[output] benchmark = { path = "data/SPY.csv" }`): a series
//! the run compares itself with but never trades.
//!
//! It is read with the readers of `[data]` (CSV, Parquet, Arrow IPC, chosen by extension) and
//! valued on the run's steps as buy and hold of its closes ([`report::analysis::buy_and_hold`]),
//! each step taking the last close stamped at or before it, so no step sees a later price.

use crate::config::{BenchmarkConfig, LoadedConfig};
use anyhow::Result;
use engine::RangeError;
use market_data::columnar::{TimeRange, read_bar_file};
use market_data::csv::{OnInvalid, read_bars};
use market_data::{BarSeries, InstrumentId, Timestamp};

/// Reads the config's benchmark file, if `[output] benchmark` names one, and checks that its
/// bars overlap `span` (the run's first and last step) when given.
///
/// # Errors
/// Names `output.benchmark` and what is wrong: a missing or unreadable file, a file holding
/// several instruments without `name` choosing one, or bars that never meet the run.
pub(crate) fn external(
    loaded: &LoadedConfig,
    span: Option<(Timestamp, Timestamp)>,
) -> Result<Option<BarSeries>> {
    let Some(BenchmarkConfig::File(file)) = &loaded.config.output.benchmark else {
        return Ok(None);
    };
    let path = loaded.resolve(&file.path.to_string_lossy());
    crate::config::require_exists(loaded, "output.benchmark.path", &path)?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let name = InstrumentId::new(file.name.clone().or(stem).unwrap_or_default());
    let extension = (path.extension().and_then(|e| e.to_str()))
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let read = if extension == "csv" {
        read_bars(&path, name.clone(), OnInvalid::Error).map(|(bars, _)| vec![bars])
    } else {
        read_bar_file(&path, name.clone(), TimeRange::ALL)
    };
    let invalid = |expected: String| loaded.range(RangeError::new("output.benchmark", expected));
    let mut series = read.map_err(|e| invalid(format!("a readable file of bars: {e}")))?;
    let series = match series.len() {
        1 => series.remove(0),
        _ => match series.iter().position(|s| s.instrument == name) {
            Some(i) => series.remove(i),
            None => {
                let names: Vec<String> = series.iter().map(|s| s.instrument.to_string()).collect();
                return Err(invalid(format!(
                    "`name` choosing one of the instruments in {} ({})",
                    path.display(),
                    names.join(", ")
                )));
            }
        },
    };
    if let (Some((first, last)), Some(b0), Some(b1)) =
        (span, series.bars.first(), series.bars.last())
        && (b0.ts > last || b1.ts < first)
    {
        return Err(invalid(format!(
            "bars overlapping the run ({first} to {last}), but {} holds bars from {} to {} only",
            path.display(),
            b0.ts,
            b1.ts
        )));
    }
    Ok(Some(series))
}

/// Returns the first and last timestamps of `series` together, if any has bars.
pub(crate) fn span_of(series: &[BarSeries]) -> Option<(Timestamp, Timestamp)> {
    let first = series
        .iter()
        .filter_map(|s| s.bars.first())
        .map(|b| b.ts)
        .min()?;
    let last = series
        .iter()
        .filter_map(|s| s.bars.last())
        .map(|b| b.ts)
        .max()?;
    Some((first, last))
}
