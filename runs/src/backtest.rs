//! `quant backtest`: runs the backtest a config describes and writes its results.

use crate::config::{self, LoadedConfig};
use crate::{data, output, runner};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Runs the backtest the config at `path` describes and writes `results/<name>/` (or `out`):
/// bars streamed from a catalog or columnar files in shared mode, loaded otherwise, ticks when
/// the config names them. Prints the headline figures.
///
/// # Errors
/// A config, data, strategy or output error, naming the file, line or field.
pub fn run(path: &Path, out: Option<PathBuf>) -> Result<()> {
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
    output::write_run(
        &loaded,
        &outcome,
        sleeves.as_deref(),
        &data,
        out,
        unit,
        None,
    )
}
