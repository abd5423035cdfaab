//! `quant._quant`: the Python package's native module, glue between Python and the `runs`
//! library. Everything a run does is `runs::embedded`'s (the command line's own steps); this
//! crate only converts arguments (dicts to TOML, Arrow tables to bars, byte masks to flags),
//! releases the GIL around pure Rust work (and a paper session's waits on its feed), and turns
//! errors into Python exceptions.
//!
//! The pure-Python half of the package (`python/quant/`) turns DataFrames into Arrow tables and
//! wraps these functions with documented signatures.

// PyO3's macros (`#[pyclass]`, `#[pymethods]`, `#[pymodule]`) expand to unsafe FFI code; this
// crate writes none itself. Every other crate forbids unsafe code.
#![allow(unsafe_code)]

mod convert;
mod run;
mod session;
mod strategy;

use arrow_pyarrow::{PyArrowType, Table};
use convert::{QuantError, bars, config_of, error, pairs_to_toml, to_toml};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use run::Results;
use runs::embedded::{self, Bars};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Runs a backtest: `config` a path or a dict; `data` (name, Arrow table) pairs or None for the
/// config's `[data]`; `overrides` (dotted key, value) pairs; `strategy` a `quant.Strategy` in
/// place of the config's, reading `features` (`[[features]]` dicts) besides the config's own.
#[pyfunction]
#[pyo3(signature = (config, data=None, overrides=Vec::new(), strategy=None, features=Vec::new()))]
fn backtest(
    py: Python<'_>,
    config: &Bound<'_, PyAny>,
    data: Option<Vec<(String, PyArrowType<Table>)>>,
    overrides: Vec<(String, Bound<'_, PyAny>)>,
    strategy: Option<Bound<'_, PyAny>>,
    features: Vec<Bound<'_, PyAny>>,
) -> PyResult<Results> {
    let mut config = config_of(py, config)?;
    if !overrides.is_empty() {
        let pairs = pairs_to_toml(&overrides)?;
        config = py.detach(|| config.with_overrides(pairs)).map_err(error)?;
    }
    let Some(strategy) = strategy else {
        let bars = match data {
            Some(data) => Bars::Given(bars(py, data)?),
            None => Bars::FromConfig,
        };
        let finished = py
            .detach(|| embedded::backtest(&config, bars, None))
            .map_err(error)?;
        return Ok(Results::new(finished));
    };
    let features = (features.iter().enumerate())
        .map(|(i, f)| to_toml(f, &format!("features[{i}]")))
        .collect::<PyResult<Vec<_>>>()?;
    let config = config.with_features(features).map_err(error)?;
    let series = match data {
        Some(data) => bars(py, data)?,
        None => py.detach(|| config.load_bars()).map_err(error)?,
    };
    let columns = config.feature_columns(false).map_err(error)?;
    let instruments = series.iter().map(|s| s.instrument.to_string()).collect();
    let raised = Arc::new(Mutex::new(None));
    let wrapped = strategy::PyStrategy::new(&strategy, columns, instruments, raised.clone())?;
    // The GIL stays held: the strategy's Python runs on every bar.
    let result = embedded::backtest(&config, Bars::Given(series), Some(Box::new(wrapped)));
    let taken = raised.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(strategy::Raised { error, at }) = taken {
        convert::add_note(py, &error, &format!("raised by on_bar at the bar of {at}"));
        return Err(error);
    }
    Ok(Results::new(result.map_err(error)?))
}

/// Runs entry and exit flags (bytes, one 0/1 per bar, per instrument in `data`'s order) with the
/// broker settings of `config` (a dict).
#[pyfunction]
fn from_signals(
    py: Python<'_>,
    config: &Bound<'_, PyAny>,
    data: Vec<(String, PyArrowType<Table>)>,
    flags: Vec<(Bound<'_, PyBytes>, Bound<'_, PyBytes>)>,
) -> PyResult<Results> {
    let config = config_of(py, config)?;
    let series = bars(py, data)?;
    let to_flags = |b: &Bound<'_, PyBytes>| b.as_bytes().iter().map(|&x| x != 0).collect();
    let flags = (flags.iter())
        .map(|(entries, exits)| strategies::signals::Flags {
            entries: to_flags(entries),
            exits: to_flags(exits),
        })
        .collect();
    let finished = py
        .detach(|| embedded::from_signals(&config, series, flags))
        .map_err(error)?;
    Ok(Results::new(finished))
}

/// Computes `config`'s feature pipeline over `data` (or the config's `[data]`): a table with a
/// `timestamp` and an `instrument` column, then one per feature output.
#[pyfunction]
#[pyo3(signature = (config, data=None))]
fn features(
    py: Python<'_>,
    config: &Bound<'_, PyAny>,
    data: Option<Vec<(String, PyArrowType<Table>)>>,
) -> PyResult<PyArrowType<Table>> {
    let config = config_of(py, config)?;
    let bars = match data {
        Some(data) => Bars::Given(bars(py, data)?),
        None => Bars::FromConfig,
    };
    let batch = py
        .detach(|| embedded::features(&config, bars))
        .map_err(error)?;
    run::table_of(batch)
}

/// Reads the bars `config`'s `[data]` names (files, a catalog, the generator): (instrument,
/// table) pairs with `timestamp`, `open`, `high`, `low`, `close`, `volume`.
#[pyfunction]
fn load_bars(
    py: Python<'_>,
    config: &Bound<'_, PyAny>,
) -> PyResult<Vec<(String, PyArrowType<Table>)>> {
    let config = config_of(py, config)?;
    let series = py.detach(|| config.load_bars()).map_err(error)?;
    series
        .into_iter()
        .map(|s| {
            let batch =
                market_data::columnar::bars_to_batch(&s.bars).map_err(|e| error(e.into()))?;
            Ok((s.instrument.to_string(), run::table_of(batch)?))
        })
        .collect()
}

/// Runs `quant sweep` on the config file `config` into `out`; returns the ranked table.
#[pyfunction]
#[pyo3(signature = (config, out=None, overrides=Vec::new()))]
fn sweep(
    py: Python<'_>,
    config: PathBuf,
    out: Option<PathBuf>,
    overrides: Vec<(String, Bound<'_, PyAny>)>,
) -> PyResult<PyArrowType<Table>> {
    let pairs = pairs_to_toml(&overrides)?;
    let batch = py
        .detach(|| embedded::sweep(&config, &pairs, out))
        .map_err(error)?;
    run::table_of(batch)
}

/// Runs `quant train` on the config file `config`; returns the model folder.
#[pyfunction]
#[pyo3(signature = (config, out=None, target="trend", overrides=Vec::new()))]
fn train(
    py: Python<'_>,
    config: PathBuf,
    out: Option<PathBuf>,
    target: &str,
    overrides: Vec<(String, Bound<'_, PyAny>)>,
) -> PyResult<PathBuf> {
    let pairs = pairs_to_toml(&overrides)?;
    py.detach(|| embedded::train(&config, &pairs, out, target))
        .map_err(error)
}

#[pymodule]
fn _quant(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("QuantError", m.py().get_type::<QuantError>())?;
    m.add_class::<Results>()?;
    m.add_class::<strategy::Ctx>()?;
    m.add_class::<session::ReplayFeed>()?;
    m.add_function(wrap_pyfunction!(backtest, m)?)?;
    m.add_function(wrap_pyfunction!(from_signals, m)?)?;
    m.add_function(wrap_pyfunction!(session::paper, m)?)?;
    m.add_function(wrap_pyfunction!(features, m)?)?;
    m.add_function(wrap_pyfunction!(load_bars, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    Ok(())
}
