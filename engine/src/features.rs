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

/// The names a model's attributions refer to by index: held once per model and shared by
/// every attribution, so recording one per order copies no names and takes one reference.
#[derive(Debug, PartialEq, Eq)]
pub struct ModelNames {
    /// The model's id (hash of its weights and metadata).
    pub model_id: String,
    /// The class names, in the order of the model's outputs.
    pub classes: Vec<String>,
    /// The input columns, in the order of the model's inputs.
    pub features: Vec<String>,
}

/// Why a model-driven source predicted what it did on the bar an order was placed.
///
/// Classes and features are indices into [`ModelNames`]; the accessors name them. Serialised,
/// it is `{"model_id", "class", "probabilities": [[class, p]...], "top": [[feature, c]...]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// The names of the model explained.
    pub names: Arc<ModelNames>,
    /// The class whose probability is explained (the order's direction, e.g. `up` for a buy).
    pub class: usize,
    /// Every class's predicted probability, in the order of `names.classes`.
    pub probabilities: Vec<f64>,
    /// The features that moved the explained probability most, largest |contribution| first:
    /// (input index, contribution in probability points).
    pub top: Vec<(usize, f64)>,
}

impl Attribution {
    /// Returns the model's id.
    pub fn model_id(&self) -> &str {
        &self.names.model_id
    }

    /// Returns the name of the class explained.
    pub fn class_name(&self) -> &str {
        self.names
            .classes
            .get(self.class)
            .map_or("?", String::as_str)
    }

    /// Returns each class's name and predicted probability.
    pub fn probabilities(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        (self.names.classes.iter().map(String::as_str)).zip(self.probabilities.iter().copied())
    }

    /// Returns the top features' names and contributions, largest |contribution| first.
    pub fn top(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        (self.top.iter()).map(|&(j, c)| (self.names.features.get(j).map_or("?", String::as_str), c))
    }
}

impl Serialize for Attribution {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Attribution", 4)?;
        out.serialize_field("model_id", self.model_id())?;
        out.serialize_field("class", self.class_name())?;
        out.serialize_field("probabilities", &Probabilities(self))?;
        out.serialize_field("top", &Top(self))?;
        out.end()
    }
}

/// An attribution's probabilities as `[[class, p]...]`.
struct Probabilities<'a>(&'a Attribution);

impl Serialize for Probabilities<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.probabilities())
    }
}

/// An attribution's top features as `[[feature, contribution]...]`.
struct Top<'a>(&'a Attribution);

impl Serialize for Top<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.top())
    }
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
