//! `quant backtest`: runs the backtest a config describes and writes its results.

use crate::config;
use crate::overrides::SetArgs;
use crate::run_dir::OutArgs;
use crate::{data, output, runner};
use anyhow::Result;
use std::path::Path;

/// Runs the backtest the config at `path` (with `set` put in) describes and writes a new
/// `results/<name>/<run-id>/` (or `out`): bars streamed from a catalog or columnar files in
/// shared mode, loaded otherwise, ticks when the config names them. Prints the headline figures.
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
            // A benchmark file that misses the data is refused before the run, not after it.
            crate::benchmark::external(&loaded, crate::benchmark::span_of(&data.series))?;
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
