//! Paper sessions from Python (`runs::embedded::paper`, the loop `quant paper` runs) and the
//! in-process replay feed to try them on.
//!
//! The session runs with the GIL released: a Python strategy takes it back for each bar, and the
//! stop check takes it every [`SIGNAL_CHECK`] to run Python's signal handlers, so Ctrl-C in a
//! notebook (KeyboardInterrupt) stops the session as it stops `quant paper`.

use crate::convert::{self, error};
use crate::run::Results;
use crate::strategy::{PyStrategy, Raised};
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use runs::embedded::{self, Config, SessionPlan, Stopped};
use runs::feed_server::{ReplayOptions, ReplayServer};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a session waiting on its feed runs Python's signal handlers.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// What stopped a session, as `Run.stopped` tells it.
fn stopped_text(stopped: &Stopped) -> &'static str {
    match stopped {
        Stopped::Requested => "interrupted",
        Stopped::Duration => "duration",
        Stopped::Events => "events",
        Stopped::FeedEnded => "feed ended",
        Stopped::Failed(_) => "failed",
    }
}

/// Runs a paper session of `config` (a path or a dict with a `[live]` table) with its strategy
/// or `strategy` (a `quant.Strategy` reading `features` besides the config's); `duration`
/// seconds, `events` and `out` as `quant paper`'s options. Returns the results and why it
/// stopped.
#[pyfunction]
#[pyo3(signature = (config, overrides=Vec::new(), strategy=None, features=Vec::new(), duration=None, events=None, out=None, force=false))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn paper(
    py: Python<'_>,
    config: &Bound<'_, PyAny>,
    overrides: Vec<(String, Bound<'_, PyAny>)>,
    strategy: Option<Bound<'_, PyAny>>,
    features: Vec<Bound<'_, PyAny>>,
    duration: Option<f64>,
    events: Option<usize>,
    out: Option<PathBuf>,
    force: bool,
) -> PyResult<(Results, &'static str)> {
    let duration = duration
        .map(runs::paper::session_duration)
        .transpose()
        .map_err(|e| PyValueError::new_err(format!("duration: {e}")))?;
    let mut config = convert::config_of(py, config)?;
    if !overrides.is_empty() {
        let pairs = convert::pairs_to_toml(&overrides)?;
        config = py.detach(|| config.with_overrides(pairs)).map_err(error)?;
    }
    let mut plan = SessionPlan {
        duration,
        events,
        out: None,
        redraw_status: false,
    };
    if let Some(dir) = out {
        plan = plan.writing_into(dir, force);
    }
    let raised = Arc::new(Mutex::new(None));
    let (config, wrapped) = match strategy {
        None => (config, None),
        Some(strategy) => {
            let (config, wrapped) = wrap(&config, &strategy, &features, raised.clone())?;
            (config, Some(wrapped))
        }
    };
    let signalled: Arc<Mutex<Option<PyErr>>> = Arc::new(Mutex::new(None));
    let mut last_check = Instant::now();
    let mut stop = {
        let signalled = signalled.clone();
        move || {
            if last_check.elapsed() < SIGNAL_CHECK {
                return false;
            }
            last_check = Instant::now();
            Python::attach(|py| match py.check_signals() {
                Ok(()) => false,
                Err(e) => {
                    *signalled.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    true
                }
            })
        }
    };
    let result = py.detach(|| embedded::paper(&config, wrapped, &plan, &mut stop));
    // Ctrl-C is how a session is stopped, as with `quant paper`: its results are returned. It
    // arrives in the stop check, or inside `on_bar` when Python was running then.
    let mut interrupted = false;
    if let Some(Raised { error, at }) = raised.lock().unwrap_or_else(|p| p.into_inner()).take() {
        if !error.is_instance_of::<PyKeyboardInterrupt>(py) {
            convert::add_note(py, &error, &format!("raised by on_bar at the bar of {at}"));
            return Err(error);
        }
        interrupted = true;
    }
    let (finished, mut stopped) = result.map_err(error)?;
    if let Some(e) = signalled.lock().unwrap_or_else(|p| p.into_inner()).take() {
        // Any other exception from a signal handler (SystemExit, ...) goes on.
        if !e.is_instance_of::<PyKeyboardInterrupt>(py) {
            return Err(e);
        }
    }
    if interrupted {
        stopped = Stopped::Requested;
    }
    if let Stopped::Failed(message) = &stopped {
        return Err(convert::QuantError::new_err(format!(
            "the paper session stopped: {message} (the journal keeps every event used)"
        )));
    }
    Ok((Results::new(finished), stopped_text(&stopped)))
}

/// Returns `config` with the strategy's `features`, and the strategy wrapped for the engine over
/// the instruments of the config's `[live]` streams.
fn wrap(
    config: &Config,
    strategy: &Bound<'_, PyAny>,
    features: &[Bound<'_, PyAny>],
    raised: Arc<Mutex<Option<Raised>>>,
) -> PyResult<(Config, Box<dyn engine::Strategy + Send>)> {
    let features = (features.iter().enumerate())
        .map(|(i, f)| convert::to_toml(f, &format!("features[{i}]")))
        .collect::<PyResult<Vec<_>>>()?;
    let config = config.with_features(features).map_err(error)?;
    let columns = config.feature_columns(false).map_err(error)?;
    let wrapped = PyStrategy::new(strategy, columns, config.live_instruments(), raised)?;
    Ok((config, Box::new(wrapped)))
}

/// `quant feed replay` in this process: a bar (or trade) file served as a Binance-format
/// websocket feed on 127.0.0.1 until closed.
#[pyclass(module = "quant._quant", name = "ReplayFeed")]
pub(crate) struct ReplayFeed {
    server: Option<ReplayServer>,
    port: u16,
    streams: Vec<String>,
    messages: usize,
}

#[pymethods]
impl ReplayFeed {
    #[new]
    #[pyo3(signature = (data, speed=0.0, interval=None, symbol=None, trades=false))]
    fn new(
        py: Python<'_>,
        data: PathBuf,
        speed: f64,
        interval: Option<String>,
        symbol: Option<String>,
        trades: bool,
    ) -> PyResult<Self> {
        let options = ReplayOptions {
            speed,
            interval,
            symbol,
            trades,
        };
        let server = py
            .detach(|| ReplayServer::start(&data, options))
            .map_err(error)?;
        Ok(Self {
            port: server.port(),
            streams: server.streams().to_vec(),
            messages: server.messages(),
            server: Some(server),
        })
    }

    /// The feed's address, as `[live] url` takes it.
    #[getter]
    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// The streams served (`goog@kline_1d`), as `[live] streams` lists them.
    #[getter]
    fn streams(&self) -> Vec<String> {
        self.streams.clone()
    }

    /// Messages the replay sends; then it only pings, as a live feed never ends.
    #[getter]
    fn messages(&self) -> usize {
        self.messages
    }

    /// Whether it still serves.
    #[getter]
    fn serving(&self) -> bool {
        self.server.is_some()
    }

    /// Stops serving and closes every connection.
    fn close(&mut self, py: Python<'_>) {
        if let Some(server) = self.server.take() {
            py.detach(|| drop(server));
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &mut self,
        py: Python<'_>,
        _kind: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "ReplayFeed({}, streams={:?}, messages={}{})",
            self.url(),
            self.streams,
            self.messages,
            if self.server.is_some() {
                ""
            } else {
                ", closed"
            }
        )
    }
}
