//! Loads the bars a config's `[data]` table names: CSV files (a file, a folder or a glob) or the
//! synthetic generator.

use crate::config::{DataKind, Instruments, LoadedConfig, require_exists};
use anyhow::{Result, bail};
use engine::RangeError;
use market_data::csv::{parse_timestamp, read_bars};
use market_data::synthetic::{SyntheticSpec, generate, parse_interval};
use market_data::{BarSeries, InstrumentId, SkipReport};
use std::path::PathBuf;

/// The loaded series, one per instrument, with what was skipped per file.
#[derive(Debug)]
pub(crate) struct LoadedData {
    /// One series per instrument.
    pub(crate) series: Vec<BarSeries>,
    /// Skipped rows per instrument (CSV with `on_invalid = "skip"`).
    pub(crate) skipped: Vec<(String, SkipReport)>,
}

/// Loads the data of a config.
///
/// # Errors
/// Names the config key or the file (with line and column) at fault.
pub(crate) fn load(loaded: &LoadedConfig) -> Result<LoadedData> {
    let data = &loaded.config.data;
    match data.kind {
        DataKind::Csv => {
            let files = csv_files(loaded)?;
            let names: Vec<InstrumentId> = match &data.instruments {
                Some(Instruments::Names(names)) => {
                    if names.len() != files.len() {
                        bail!(loaded.range(RangeError::new(
                            "data.instruments",
                            format!(
                                "one name per file: {} files match, {} names given",
                                files.len(),
                                names.len()
                            ),
                        )));
                    }
                    names.iter().map(InstrumentId::new).collect()
                }
                _ => files
                    .iter()
                    .map(|f| {
                        InstrumentId::new(
                            f.file_stem()
                                .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
                        )
                    })
                    .collect(),
            };
            let mut series = Vec::with_capacity(files.len());
            let mut skipped = Vec::new();
            for (file, name) in files.iter().zip(names) {
                let (bars, report) = read_bars(file, name.clone(), data.on_invalid)?;
                if report.skipped > 0 {
                    skipped.push((name.to_string(), report));
                }
                series.push(bars);
            }
            Ok(LoadedData { series, skipped })
        }
        DataKind::Synthetic => {
            let mut spec = SyntheticSpec {
                seed: loaded.config.seed,
                ..SyntheticSpec::default()
            };
            match &data.instruments {
                Some(Instruments::Count(n)) => spec.instruments = *n,
                Some(Instruments::Names(_)) => {
                    bail!(loaded.range(RangeError::new(
                        "data.instruments",
                        "a count for kind = \"synthetic\""
                    )))
                }
                None => {}
            }
            if let Some(bars) = data.bars {
                spec.bars = bars;
            }
            if let Some(text) = &data.interval {
                spec.interval_ns = parse_interval(text).ok_or_else(|| {
                    loaded.range(RangeError::new(
                        "data.interval",
                        format!(
                            "a duration such as \"30s\", \"1m\", \"1h\" or \"1d\", found {text:?}"
                        ),
                    ))
                })?;
            }
            if let Some(text) = &data.start {
                spec.start = parse_timestamp(text).ok_or_else(|| {
                    loaded.range(RangeError::new(
                        "data.start",
                        format!("a date or datetime such as \"2024-01-01\", found {text:?}"),
                    ))
                })?;
            }
            spec.drift = data.drift.unwrap_or(spec.drift);
            spec.volatility = data.volatility.unwrap_or(spec.volatility);
            spec.initial_price = data.initial_price.unwrap_or(spec.initial_price);
            let series = generate(&spec).map_err(|e| match e {
                market_data::Error::Synthetic { field, message } => {
                    loaded.range(RangeError::new(format!("data.{field}"), message))
                }
                other => other.into(),
            })?;
            Ok(LoadedData {
                series,
                skipped: Vec::new(),
            })
        }
    }
}

/// Returns the CSV files `data.path` names, sorted by name.
fn csv_files(loaded: &LoadedConfig) -> Result<Vec<PathBuf>> {
    let written = loaded.config.data.path.as_deref().unwrap_or_default();
    let path = loaded.resolve(written);
    let text = path.to_string_lossy().into_owned();
    let mut files: Vec<PathBuf> = if text.contains(['*', '?', '[']) {
        let pattern = glob::glob(&text).map_err(|e| {
            loaded.range(RangeError::new(
                "data.path",
                format!("a valid glob pattern ({e}), found {written:?}"),
            ))
        })?;
        pattern
            .filter_map(std::result::Result::ok)
            .filter(|p| p.is_file())
            .collect()
    } else {
        require_exists(loaded, "data.path", &path)?;
        if path.is_dir() {
            std::fs::read_dir(&path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
                .collect()
        } else {
            vec![path]
        }
    };
    files.sort();
    if files.is_empty() {
        bail!(loaded.range(RangeError::new(
            "data.path",
            format!("at least one CSV file, but {written:?} matches none")
        )));
    }
    Ok(files)
}
