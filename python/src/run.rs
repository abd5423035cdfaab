//! A finished run as a Python object: its summary, its tables as `pyarrow.Table`s, its report
//! and its files on request.

use crate::convert::error;
use arrow::record_batch::RecordBatch;
use arrow_pyarrow::{PyArrowType, Table};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use runs::embedded::Finished;
use std::path::PathBuf;

/// The results of one run, kept in memory.
#[pyclass(module = "quant._quant", name = "Results", frozen)]
pub(crate) struct Results {
    finished: Finished,
}

impl Results {
    pub(crate) fn new(finished: Finished) -> Self {
        Self { finished }
    }
}

/// Returns a record batch as a one-batch `pyarrow.Table` (its buffers shared, not copied).
pub(crate) fn table_of(batch: RecordBatch) -> PyResult<PyArrowType<Table>> {
    let schema = batch.schema();
    Table::try_new(vec![batch], schema)
        .map(PyArrowType)
        .map_err(|e| error(e.into()))
}

#[pymethods]
impl Results {
    /// `summary.json` as JSON text.
    fn summary_json(&self, py: Python<'_>) -> PyResult<String> {
        py.detach(|| {
            self.finished
                .summary()
                .and_then(|s| serde_json::to_string(&s).map_err(Into::into))
        })
        .map_err(error)
    }

    /// The table `name` (trades, fills, orders, equity, positions, returns, attributions).
    fn table(&self, py: Python<'_>, name: &str) -> PyResult<PyArrowType<Table>> {
        let batch = py.detach(|| self.finished.table(name)).map_err(error)?;
        let batch = batch.ok_or_else(|| {
            PyKeyError::new_err(format!(
                "no table {name:?}: expected trades, fills, orders, equity, positions, returns \
                 or attributions"
            ))
        })?;
        table_of(batch)
    }

    /// The HTML report, or None with `[output] report = false`.
    fn report_html(&self, py: Python<'_>) -> PyResult<Option<String>> {
        py.detach(|| self.finished.report_html()).map_err(error)
    }

    /// Writes the run's files into `dir` (or a new `<output.dir>/<name>/<run-id>/`); returns it.
    #[pyo3(signature = (dir=None, force=false))]
    fn save(&self, py: Python<'_>, dir: Option<PathBuf>, force: bool) -> PyResult<PathBuf> {
        py.detach(|| self.finished.save(dir, force)).map_err(error)
    }
}
