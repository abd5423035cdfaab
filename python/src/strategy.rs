//! A Python object as the engine's [`Strategy`]: each bar calls its `on_bar(ctx)` with one
//! reusable [`Ctx`] that holds the bar, the features, the position and the orders asked for.
//!
//! The run keeps the GIL (nearly all of its time is Python's), so each call only re-enters it
//! cheaply. A Python exception stops the run; it is kept and raised again by the caller with the
//! bar's time added as a note.

use engine::{
    Bracket, EngineEvent, Intents, OrderRequest, Size, Strategy, StrategyError, TimeInForce,
};
use market_data::{InstrumentIdx, Price, Qty, Side};
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::{Arc, Mutex};

/// What the strategy sees on one bar, and where it puts the orders it wants.
#[pyclass(module = "quant._quant", name = "Ctx")]
pub(crate) struct Ctx {
    ts: i64,
    instrument: usize,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    qty: f64,
    avg_price: f64,
    cash: f64,
    equity: f64,
    working: usize,
    bar_index: usize,
    /// This bar's feature row (NaN while a feature is not ready).
    row: Vec<f64>,
    /// The feature columns, in row order.
    columns: Vec<String>,
    /// The instruments, by index.
    instruments: Vec<Py<pyo3::types::PyString>>,
    /// Bars seen per instrument.
    seen: Vec<usize>,
    /// Orders asked for on this bar.
    orders: Vec<OrderRequest>,
    /// Whether the strategy asked to cancel the working orders of the bar's instrument.
    cancel_all: bool,
}

/// A `Size` from `size=` (units) and `fraction=` (a share of what sizing allows).
fn size_of(size: Option<f64>, fraction: Option<f64>) -> PyResult<Size> {
    match (size, fraction) {
        (Some(_), Some(_)) => Err(PyValueError::new_err(
            "give size (units) or fraction (of what sizing allows), not both",
        )),
        (Some(units), None) if units.is_finite() && units > 0.0 => Ok(Size::Units(Qty(units))),
        (Some(units), None) => Err(PyValueError::new_err(format!(
            "size: expected a positive number of units, found {units}"
        ))),
        (None, Some(f)) if f > 0.0 && f <= 1.0 => Ok(Size::Scaled(f)),
        (None, Some(f)) => Err(PyValueError::new_err(format!(
            "fraction: expected a number in (0, 1], found {f}"
        ))),
        (None, None) => Ok(Size::Auto),
    }
}

fn tif_of(text: &str) -> PyResult<TimeInForce> {
    match text.to_ascii_lowercase().as_str() {
        "gtc" => Ok(TimeInForce::Gtc),
        "day" => Ok(TimeInForce::Day),
        "ioc" => Ok(TimeInForce::Ioc),
        _ => Err(PyValueError::new_err(format!(
            "tif: expected \"gtc\", \"day\" or \"ioc\", found {text:?}"
        ))),
    }
}

fn price(name: &str, value: Option<f64>) -> PyResult<Option<Price>> {
    match value {
        Some(v) if !(v.is_finite() && v > 0.0) => Err(PyValueError::new_err(format!(
            "{name}: expected a positive price, found {v}"
        ))),
        v => Ok(v.map(Price)),
    }
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    fn order(
        &mut self,
        side: Side,
        size: Option<f64>,
        fraction: Option<f64>,
        limit: Option<f64>,
        stop: Option<f64>,
        take_profit: Option<f64>,
        stop_loss: Option<f64>,
        tif: &str,
        tag: u32,
    ) -> PyResult<()> {
        let idx = InstrumentIdx(self.instrument as u32);
        let size = size_of(size, fraction)?;
        let request = match (price("limit", limit)?, price("stop", stop)?) {
            (None, None) => OrderRequest::market(idx, side, size),
            (Some(l), None) => OrderRequest::limit(idx, side, size, l),
            (None, Some(s)) => OrderRequest::stop(idx, side, size, s),
            (Some(l), Some(s)) => OrderRequest::stop_limit(idx, side, size, s, l),
        };
        let bracket = Bracket {
            take_profit: price("take_profit", take_profit)?,
            stop_loss: price("stop_loss", stop_loss)?,
        };
        self.orders.push(
            request
                .with_tif(tif_of(tif)?)
                .with_bracket(bracket)
                .with_tag(tag),
        );
        Ok(())
    }
}

#[pymethods]
impl Ctx {
    /// The bar's time: nanoseconds since the Unix epoch, UTC.
    #[getter]
    fn ts(&self) -> i64 {
        self.ts
    }

    /// The bar's instrument.
    #[getter]
    fn instrument<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyString> {
        self.instruments[self.instrument].bind(py).clone()
    }

    /// How many bars of this instrument came before this one (0 on its first bar).
    #[getter]
    fn bar_index(&self) -> usize {
        self.bar_index
    }

    #[getter]
    fn open(&self) -> f64 {
        self.open
    }

    #[getter]
    fn high(&self) -> f64 {
        self.high
    }

    #[getter]
    fn low(&self) -> f64 {
        self.low
    }

    #[getter]
    fn close(&self) -> f64 {
        self.close
    }

    #[getter]
    fn volume(&self) -> f64 {
        self.volume
    }

    /// Units held of the bar's instrument (negative when short).
    #[getter]
    fn position(&self) -> f64 {
        self.qty
    }

    /// Average entry price of the units held (0 when flat).
    #[getter]
    fn entry_price(&self) -> f64 {
        self.avg_price
    }

    #[getter]
    fn cash(&self) -> f64 {
        self.cash
    }

    /// Cash plus every position at its last price.
    #[getter]
    fn equity(&self) -> f64 {
        self.equity
    }

    /// Working orders of the bar's instrument.
    #[getter]
    fn open_orders(&self) -> usize {
        self.working
    }

    /// The value of feature column `name` on this bar, or None while it is not ready.
    fn feature(&self, name: &str) -> PyResult<Option<f64>> {
        let Some(i) = self.columns.iter().position(|c| c == name) else {
            let known = if self.columns.is_empty() {
                "the run has none (list them in the strategy's `features`)".to_string()
            } else {
                format!("the run's columns: {}", self.columns.join(", "))
            };
            return Err(PyKeyError::new_err(format!(
                "no feature column {name:?}; {known}"
            )));
        };
        Ok(Some(self.row[i]).filter(|v| !v.is_nan()))
    }

    /// Every feature of this bar as {column: value} (None while not ready), in pipeline order.
    #[getter]
    fn features<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let features = PyDict::new(py);
        for (column, value) in self.columns.iter().zip(&self.row) {
            features.set_item(column, Some(*value).filter(|v| !v.is_nan()))?;
        }
        Ok(features)
    }

    /// Buys: at the next bar's open (market), or with `limit` and/or `stop` prices; `size`
    /// units, or what the config's sizing allows (times `fraction`); `take_profit` and
    /// `stop_loss` attach exits placed when it fills.
    #[pyo3(signature = (size=None, *, fraction=None, limit=None, stop=None, take_profit=None, stop_loss=None, tif="gtc", tag=0))]
    #[allow(clippy::too_many_arguments)]
    fn buy(
        &mut self,
        size: Option<f64>,
        fraction: Option<f64>,
        limit: Option<f64>,
        stop: Option<f64>,
        take_profit: Option<f64>,
        stop_loss: Option<f64>,
        tif: &str,
        tag: u32,
    ) -> PyResult<()> {
        self.order(
            Side::Buy,
            size,
            fraction,
            limit,
            stop,
            take_profit,
            stop_loss,
            tif,
            tag,
        )
    }

    /// Sells (opens a short only with `[broker] allow_short = true`); as `buy`.
    #[pyo3(signature = (size=None, *, fraction=None, limit=None, stop=None, take_profit=None, stop_loss=None, tif="gtc", tag=0))]
    #[allow(clippy::too_many_arguments)]
    fn sell(
        &mut self,
        size: Option<f64>,
        fraction: Option<f64>,
        limit: Option<f64>,
        stop: Option<f64>,
        take_profit: Option<f64>,
        stop_loss: Option<f64>,
        tif: &str,
        tag: u32,
    ) -> PyResult<()> {
        self.order(
            Side::Sell,
            size,
            fraction,
            limit,
            stop,
            take_profit,
            stop_loss,
            tif,
            tag,
        )
    }

    /// Closes the whole position of the bar's instrument at the next bar's open.
    #[pyo3(signature = (*, tag=0))]
    fn close_position(&mut self, tag: u32) {
        let idx = InstrumentIdx(self.instrument as u32);
        let side = if self.qty < 0.0 {
            Side::Buy
        } else {
            Side::Sell
        };
        self.orders.push(
            OrderRequest::market(idx, side, Size::ClosePosition)
                .reduce_only()
                .with_tag(tag),
        );
    }

    /// Cancels every working order of the bar's instrument.
    fn cancel_all(&mut self) {
        self.cancel_all = true;
    }
}

/// A Python exception raised by `on_bar`, with where it happened.
pub(crate) struct Raised {
    pub(crate) error: PyErr,
    pub(crate) at: String,
}

/// The engine's side of a Python strategy.
pub(crate) struct PyStrategy {
    name: String,
    on_bar: Py<PyAny>,
    ctx: Py<Ctx>,
    raised: Arc<Mutex<Option<Raised>>>,
}

impl PyStrategy {
    /// Wraps `strategy` (a `quant.Strategy`), whose `on_bar` reads `columns` by name over
    /// `instruments`; an exception it raises is put in `raised`.
    pub(crate) fn new(
        strategy: &Bound<'_, PyAny>,
        columns: Vec<String>,
        instruments: Vec<String>,
        raised: Arc<Mutex<Option<Raised>>>,
    ) -> PyResult<Self> {
        let py = strategy.py();
        let name = strategy.get_type().name()?.to_string();
        let on_bar = strategy.getattr("on_bar")?.unbind();
        let ctx = Ctx {
            ts: 0,
            instrument: 0,
            open: f64::NAN,
            high: f64::NAN,
            low: f64::NAN,
            close: f64::NAN,
            volume: f64::NAN,
            qty: 0.0,
            avg_price: 0.0,
            cash: 0.0,
            equity: 0.0,
            working: 0,
            bar_index: 0,
            row: vec![f64::NAN; columns.len()],
            seen: vec![0; instruments.len()],
            columns,
            instruments: (instruments.iter())
                .map(|n| pyo3::types::PyString::new(py, n).unbind())
                .collect(),
            orders: Vec::new(),
            cancel_all: false,
        };
        Ok(Self {
            name,
            on_bar,
            ctx: Py::new(py, ctx)?,
            raised,
        })
    }
}

impl Strategy for PyStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &engine::Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        let Some((idx, bar)) = event.as_bar() else {
            return Ok(());
        };
        Python::attach(|py| {
            {
                let mut c = self.ctx.borrow_mut(py);
                let i = idx.get();
                let position = ctx.position(idx);
                c.ts = bar.ts.0;
                c.instrument = i;
                (c.open, c.high, c.low, c.close, c.volume) =
                    (bar.open, bar.high, bar.low, bar.close, bar.volume);
                (c.qty, c.avg_price) = (position.qty, position.avg_price);
                (c.cash, c.equity) = (ctx.cash(), ctx.equity());
                c.working = ctx.open_orders(idx).len();
                if c.seen.len() <= i {
                    c.seen.resize(i + 1, 0);
                }
                c.bar_index = c.seen[i];
                c.seen[i] += 1;
                let row = ctx.features(idx);
                let n = c.row.len().min(row.len());
                c.row[..n].copy_from_slice(&row[..n]);
            }
            if let Err(error) = self.on_bar.call1(py, (self.ctx.bind(py),)) {
                let at = format!("{} of {}", bar.ts, ctx.instrument_id(idx));
                let message = format!("on_bar raised at the bar of {at}: {error}");
                *self.raised.lock().unwrap_or_else(|e| e.into_inner()) = Some(Raised { error, at });
                return Err(StrategyError::Failed(message));
            }
            let mut c = self.ctx.borrow_mut(py);
            if std::mem::take(&mut c.cancel_all) {
                out.cancel_all(idx);
            }
            for request in c.orders.drain(..) {
                out.submit(request);
            }
            Ok(())
        })
    }
}
