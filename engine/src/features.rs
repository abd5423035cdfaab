//! How the engine sees a feature pipeline: per instrument, one row of named values, updated with
//! each bar before the strategy decides. The pipeline itself lives in `strategies`; the engine
//! only drives it, so the same features reach a strategy in backtests and live.
//!
//! A source whose columns come from a model may also explain itself: why its prediction stood
//! where it did when an order was placed ([`Attribution`]), and how far the inputs it saw
//! drifted from the model's training window ([`InputDrift`]). All default to nothing, so plain
//! pipelines pay one empty virtual call per order and no more.

use crate::order::OrderId;
use market_data::{Bar, InstrumentIdx, Side, Timestamp};
use serde::Serialize;
use std::sync::Arc;

/// Why a model-driven source predicted what it did on the bar an order was placed.
///
/// Names are shared (`Arc<str>`) with the source's model, so recording one per order costs no
/// string copies; they are formatted only when written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// The model's id (hash of its weights and metadata).
    pub model_id: Arc<str>,
    /// The class whose probability is explained (the order's direction, e.g. `up` for a buy).
    pub class: Arc<str>,
    /// Every class's predicted probability, by class name.
    pub probabilities: Vec<(Arc<str>, f64)>,
    /// The features that moved the explained probability most, largest |contribution| first:
    /// (input column, contribution in probability points).
    pub top: Vec<(Arc<str>, f64)>,
}

/// An order's attribution, keyed by the order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderAttribution {
    /// The order explained.
    pub order: OrderId,
    /// When it was placed.
    pub ts: Timestamp,
    /// Its instrument.
    pub instrument: InstrumentIdx,
    /// Why.
    pub attribution: Attribution,
}

/// How far one model input's distribution during a run moved from the training window's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputDrift {
    /// The model's id.
    pub model_id: String,
    /// The input column.
    pub feature: String,
    /// Population stability index of the run's values against the training bins.
    pub psi: f64,
    /// Finite values seen during the run.
    pub observations: u64,
}

/// A source of per-instrument feature values, updated bar by bar.
pub trait FeatureSource: Send + std::fmt::Debug {
    /// Returns the column names, in the order of `values`.
    fn columns(&self) -> &[String];

    /// Feeds one completed bar of one instrument.
    ///
    /// # Errors
    /// Returns an error when a feature refuses its input (e.g. a NaN with `on_nan = "error"`).
    fn update(
        &mut self,
        instrument: InstrumentIdx,
        bar: &Bar,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// Feeds the bars of one time step, at most one per instrument. Each instrument's features
    /// depend on its own bars only, so a source may spread instruments over threads; the
    /// default feeds them one by one.
    ///
    /// # Errors
    /// As [`FeatureSource::update`].
    fn update_step(
        &mut self,
        bars: &[(InstrumentIdx, Bar)],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        for (instrument, bar) in bars {
            self.update(*instrument, bar)?;
        }
        Ok(())
    }

    /// Returns the instrument's current values (NaN where a feature is not ready).
    fn values(&self, instrument: InstrumentIdx) -> &[f64];

    /// Notes that `order` was placed on `side` for `instrument` at its current bar (stamped
    /// `ts`), to be explained from the prediction the strategy read. A source may explain it at
    /// once or keep what it needs and explain many orders later in one batch; a source without a
    /// model, or without a prediction at this bar, ignores it.
    fn explain(
        &mut self,
        _order: OrderId,
        _instrument: InstrumentIdx,
        _side: Side,
        _ts: Timestamp,
    ) {
    }

    /// Returns the explanations of the orders noted since the last call, in order, computing
    /// any still pending.
    fn attributions(&mut self) -> Vec<OrderAttribution> {
        Vec::new()
    }

    /// Returns the drift of each model input over the bars seen so far (empty without a model
    /// or without a training profile to compare with).
    fn drift(&self) -> Vec<InputDrift> {
        Vec::new()
    }
}
