//! Conversions at the border: Python values to TOML, Arrow tables to bars, Rust errors to
//! Python exceptions.

use arrow_pyarrow::{PyArrowType, Table};
use market_data::{BarSeries, InstrumentId};
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use runs::embedded::Config;

pyo3::create_exception!(
    quant,
    QuantError,
    PyException,
    "An error of a config, of data or of the engine, with the command line's message."
);

/// Returns the Python exception of an error, with its whole chain as the command line prints it.
pub(crate) fn error(e: anyhow::Error) -> PyErr {
    QuantError::new_err(format!("{e:#}"))
}

/// Adds `note` to an exception (`add_note` from Python 3.11, `__notes__` before).
pub(crate) fn add_note(py: Python<'_>, error: &PyErr, note: &str) {
    let value = error.value(py);
    if value.call_method1("add_note", (note,)).is_err() {
        let _ = value.setattr("__notes__", vec![note]);
    }
}

/// Reads a config: a path (str or os.PathLike) to a TOML file, or a dict of the same schema.
pub(crate) fn config_of(py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<Config> {
    if let Ok(dict) = config.cast::<PyDict>() {
        let toml::Value::Table(table) = to_toml(dict.as_any(), "config")? else {
            return Err(PyTypeError::new_err("config: expected a dict"));
        };
        return py.detach(|| Config::from_table(table)).map_err(error);
    }
    let path: std::path::PathBuf = config.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "config: expected a path to a TOML file or a dict, found {}",
            type_name(config)
        ))
    })?;
    py.detach(|| Config::load(&path)).map_err(error)
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string())
}

/// Converts (dotted key, value) pairs to TOML values.
pub(crate) fn pairs_to_toml(
    pairs: &[(String, Bound<'_, PyAny>)],
) -> PyResult<Vec<(String, toml::Value)>> {
    pairs
        .iter()
        .map(|(key, value)| Ok((key.clone(), to_toml(value, key)?)))
        .collect()
}

/// Converts a Python value to TOML: bool, int, float, str, list or tuple, dict with str keys
/// (numpy scalars through `__index__` and `__float__`). `key` names the value in errors.
pub(crate) fn to_toml(value: &Bound<'_, PyAny>, key: &str) -> PyResult<toml::Value> {
    if value.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(value.extract()?));
    }
    if value.is_instance_of::<PyInt>() {
        return value
            .extract::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| {
                PyTypeError::new_err(format!(
                    "{key}: an integer beyond 64 bits has no TOML value"
                ))
            });
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(value.extract()?));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(toml::Value::String(text.to_str()?.to_string()));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut table = toml::Table::new();
        for (k, v) in dict.iter() {
            let name: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!("{key}: expected str keys, found {}", type_name(&k)))
            })?;
            let inner = if key == "config" {
                name.clone()
            } else {
                format!("{key}.{name}")
            };
            table.insert(name, to_toml(&v, &inner)?);
        }
        return Ok(toml::Value::Table(table));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items = value
            .try_iter()?
            .enumerate()
            .map(|(i, v)| to_toml(&v?, &format!("{key}.{i}")))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(toml::Value::Array(items));
    }
    if value.hasattr("__index__")? {
        return to_toml(&value.call_method0("__index__")?, key);
    }
    if value.hasattr("__float__")? && !value.is_none() {
        return Ok(toml::Value::Float(
            value.call_method0("__float__")?.extract()?,
        ));
    }
    Err(PyTypeError::new_err(format!(
        "{key}: expected a bool, int, float, str, list or dict, found {} ({})",
        type_name(value),
        value.repr().map_or_else(|_| "?".into(), |r| r.to_string())
    )))
}

/// Decodes (instrument, Arrow table) pairs into bars, checked as a file's rows are; the GIL is
/// released while decoding.
pub(crate) fn bars(
    py: Python<'_>,
    data: Vec<(String, PyArrowType<Table>)>,
) -> PyResult<Vec<BarSeries>> {
    py.detach(|| {
        data.into_iter()
            .map(|(name, PyArrowType(table))| {
                // Rows count from 1, as in files (the first row of the table is row 1).
                let label = format!("data[{name:?}] (rows from 1)");
                market_data::columnar::bars_from_batches(
                    InstrumentId::new(name),
                    &label,
                    table.record_batches(),
                )
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(|e| error(e.into()))
}
