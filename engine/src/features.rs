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

/// The probabilities and top features of a batch of attributions of one model, in one buffer
/// each: explaining a backtest's orders allocates per batch, not per order.
#[derive(Debug, PartialEq)]
pub struct AttributionValues {
    /// Per attribution, every class's predicted probability, in the order of the classes.
    probabilities: Vec<f64>,
    /// Per attribution, `top_len` (input index, contribution) pairs, largest |contribution|
    /// first.
    top: Vec<(usize, f64)>,
    classes: usize,
    top_len: usize,
}

impl AttributionValues {
    /// An empty batch of attributions over `classes` classes with `top_len` features each.
    pub fn new(classes: usize, top_len: usize) -> Self {
        Self {
            probabilities: Vec::new(),
            top: Vec::new(),
            classes,
            top_len,
        }
    }

    /// Appends one attribution's values and returns its row.
    ///
    /// # Panics
    /// Panics when `probabilities` or `top` do not have the batch's lengths.
    pub fn push(&mut self, probabilities: &[f64], top: &[(usize, f64)]) -> usize {
        assert!(probabilities.len() == self.classes && top.len() == self.top_len);
        self.probabilities.extend_from_slice(probabilities);
        self.top.extend_from_slice(top);
        self.probabilities.len() / self.classes.max(1) - 1
    }
}

/// Why a model-driven source predicted what it did on the bar an order was placed.
///
/// Classes and features are indices into [`ModelNames`], values a row of an
/// [`AttributionValues`] batch; the accessors name and read them. Serialised, it is
/// `{"model_id", "class", "probabilities": [[class, p]...], "top": [[feature, c]...]}`.
#[derive(Debug, Clone)]
pub struct Attribution {
    /// The names of the model explained.
    pub names: Arc<ModelNames>,
    /// The class whose probability is explained (the order's direction, e.g. `up` for a buy).
    pub class: usize,
    values: Arc<AttributionValues>,
    row: usize,
}

impl Attribution {
    /// The attribution in `row` of `values`.
    pub fn new(
        names: Arc<ModelNames>,
        class: usize,
        values: Arc<AttributionValues>,
        row: usize,
    ) -> Self {
        Self {
            names,
            class,
            values,
            row,
        }
    }

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
        let n = self.values.classes;
        let values = &self.values.probabilities[self.row * n..(self.row + 1) * n];
        (self.names.classes.iter().map(String::as_str)).zip(values.iter().copied())
    }

    /// Returns the top features' names and contributions, largest |contribution| first.
    pub fn top(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        let n = self.values.top_len;
        (self.values.top[self.row * n..(self.row + 1) * n].iter())
            .map(|&(j, c)| (self.names.features.get(j).map_or("?", String::as_str), c))
    }

    /// Returns how many top features are listed.
    pub fn top_len(&self) -> usize {
        self.values.top_len
    }
}

/// Equal when they explain the same class of the same model with the same values, whichever
/// batch holds them.
impl PartialEq for Attribution {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names
            && self.class == other.class
            && self.probabilities().eq(other.probabilities())
            && self.top().eq(other.top())
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

    /// Returns whether the source explains orders (it has a model): the run then keeps every
    /// order's record for the report, which lists each explained one.
    fn explains(&self) -> bool {
        false
    }

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
