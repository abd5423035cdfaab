//! Trained models as a stage after the feature pipeline: each model's class probabilities become
//! feature columns (`<prefix>_<class>`, e.g. `trend_up`, `risk_high`), so a strategy reads a
//! prediction exactly as it reads an indicator and never knows how it was computed.
//!
//! Two ways to fill the columns, with the same values:
//! - streaming ([`ModelFeatures::streaming`]): each instrument keeps a rolling window of its
//!   standardised model inputs; at every time step the windows of all instruments that have one
//!   go through the model in one batch. This is what a live or paper feed needs.
//! - precomputed ([`ModelFeatures::precomputed`]): a backtest has every bar in memory, so the
//!   pipeline runs over whole series and the model over every window in large batches before the
//!   loop; the loop then replays the rows. Each window ends at its decision bar, so the
//!   prediction at t still reads only bars up to t (tested by changing future bars).

use engine::{
    Attribution, AttributionValues, FeatureSource, InputDrift, ModelNames, OrderAttribution,
    OrderId,
};
use features::{FeatureFrame, PipelineRunner, PipelineSpec, compute_batch};
use market_data::{Bar, BarSeries, InstrumentId, InstrumentIdx, Side, Timestamp};
use models::explain::{DriftProfile, TOP_K, occlude_into, psi, top_features_into};
use models::{LoadedModel, MlError, Windows};
use std::sync::Arc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Windows per model call when predicting ahead of a backtest: large enough to amortise the
/// call, small enough to keep the input tensor in cache-friendly sizes.
const PRECOMPUTE_BATCH: usize = 4096;

/// A trained model (a pooled one, and optionally one fine-tuned per instrument) and where its
/// inputs and outputs sit among the feature columns.
#[derive(Debug, Clone)]
pub struct ModelInput {
    /// The model with its metadata (standardisation, window, classes): the pooled model, or the
    /// first per-instrument one when there is no pooled model.
    pub loaded: Arc<LoadedModel>,
    /// Models fine-tuned (or trained) for one instrument, by instrument name; an instrument
    /// without one uses the pooled model.
    by_instrument: Vec<(String, Arc<LoadedModel>)>,
    /// Whether `loaded` may serve instruments without their own model.
    pooled: bool,
    /// Output columns are `<prefix>_<class>`.
    pub prefix: String,
    /// Pipeline column of each model input, in the model's order.
    inputs: Vec<usize>,
    /// The training window's input distribution, when the model folder has one.
    drift: Option<Arc<DriftProfile>>,
    /// Out of sample: the models that take turns, oldest first, each serving the bars after the
    /// last one it saw. `None`: this model serves every bar (in sample where it was trained).
    schedule: Option<Vec<Era>>,
}

/// One turn of an out-of-sample schedule: a model (a walk-forward fold's, or the final one)
/// and the last bar it saw in training; it serves the bars after that one until the next era's
/// model may.
#[derive(Debug, Clone)]
pub struct Era {
    /// The last bar its training labels read.
    pub seen_until: Timestamp,
    /// Its models, reading the same inputs as the input they serve.
    pub input: ModelInput,
}

impl ModelInput {
    /// Places `loaded` after `pipeline`, for every instrument.
    ///
    /// # Errors
    /// Names a model input column the pipeline does not compute.
    pub fn new(
        loaded: Arc<LoadedModel>,
        prefix: &str,
        pipeline: &PipelineSpec,
    ) -> Result<Self, MlError> {
        Self::with_instruments(Some(loaded), Vec::new(), prefix, pipeline)
    }

    /// Places a pooled model (if any) and per-instrument models after `pipeline`.
    ///
    /// # Errors
    /// Names a model input column the pipeline does not compute, or a per-instrument model
    /// whose inputs, window or classes differ from the others'.
    pub fn with_instruments(
        pooled: Option<Arc<LoadedModel>>,
        by_instrument: Vec<(String, Arc<LoadedModel>)>,
        prefix: &str,
        pipeline: &PipelineSpec,
    ) -> Result<Self, MlError> {
        let has_pooled = pooled.is_some();
        for m in pooled.iter().chain(by_instrument.iter().map(|(_, m)| m)) {
            if m.metadata.model.window == 0 || m.metadata.feature_columns.is_empty() {
                return Err(MlError::Shape {
                    what: "saved model",
                    expected: "a window of at least 1 bar over at least 1 feature column".into(),
                    got: format!(
                        "window {} over {} columns",
                        m.metadata.model.window,
                        m.metadata.feature_columns.len()
                    ),
                });
            }
        }
        let Some(loaded) = pooled.or_else(|| by_instrument.first().map(|(_, m)| m.clone())) else {
            return Err(MlError::NoSamples {
                reason: "no model to load: neither a pooled nor a per-instrument model".into(),
            });
        };
        for (name, m) in &by_instrument {
            let (a, b) = (&m.metadata, &loaded.metadata);
            if a.feature_columns != b.feature_columns
                || a.model.window != b.model.window
                || a.classes != b.classes
            {
                return Err(MlError::PipelineMismatch {
                    position: 0,
                    expected: format!(
                        "instrument {name}'s model to read {:?} over {} bars into {:?}",
                        b.feature_columns, b.model.window, b.classes
                    ),
                    found: format!(
                        "{:?} over {} bars into {:?}",
                        a.feature_columns, a.model.window, a.classes
                    ),
                });
            }
        }
        let inputs = loaded
            .metadata
            .feature_columns
            .iter()
            .enumerate()
            .map(|(position, name)| {
                pipeline
                    .column(name)
                    .ok_or_else(|| MlError::PipelineMismatch {
                        position,
                        expected: format!("column `{name}` computed by the feature pipeline"),
                        found: format!("columns {:?}", pipeline.columns()),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            loaded,
            by_instrument,
            pooled: has_pooled,
            prefix: prefix.to_string(),
            inputs,
            drift: None,
            schedule: None,
        })
    }

    /// Returns the input served out of sample by `eras` (oldest first, each seeing more bars
    /// than the one before): at each bar the latest era whose model saw only earlier bars
    /// predicts; before the first era's, no model does (no prediction, so no trade).
    ///
    /// # Errors
    /// Names an era whose model reads other inputs, another window or other classes, or eras
    /// out of order.
    pub fn out_of_sample(mut self, eras: Vec<Era>) -> Result<Self, MlError> {
        let b = &self.loaded.metadata;
        for (k, era) in eras.iter().enumerate() {
            let a = &era.input.loaded.metadata;
            if a.feature_columns != b.feature_columns
                || a.model.window != b.model.window
                || a.classes != b.classes
            {
                return Err(MlError::PipelineMismatch {
                    position: k,
                    expected: format!(
                        "walk-forward model {} to read {:?} over {} bars into {:?}",
                        k + 1,
                        b.feature_columns,
                        b.model.window,
                        b.classes
                    ),
                    found: format!(
                        "{:?} over {} bars into {:?}",
                        a.feature_columns, a.model.window, a.classes
                    ),
                });
            }
            if k > 0 && eras[k - 1].seen_until >= era.seen_until {
                return Err(MlError::NoSamples {
                    reason: format!(
                        "walk-forward models must each have seen more bars than the one                          before; model {} saw up to {}, model {} up to {}",
                        k,
                        eras[k - 1].seen_until,
                        k + 1,
                        era.seen_until
                    ),
                });
            }
        }
        self.schedule = Some(eras);
        Ok(self)
    }

    /// Returns the schedule, `None` when this model serves every bar.
    pub fn schedule(&self) -> Option<&[Era]> {
        self.schedule.as_deref()
    }

    /// The decision rows each era serves among bars stamped `ts`, with its input: every row for
    /// an input without a schedule.
    fn eras_over(&self, ts: &[Timestamp]) -> Vec<(std::ops::Range<usize>, &ModelInput)> {
        let Some(eras) = &self.schedule else {
            return vec![(0..ts.len(), self)];
        };
        let starts: Vec<usize> = (eras.iter())
            .map(|e| ts.partition_point(|t| *t <= e.seen_until))
            .collect();
        (eras.iter().enumerate())
            .map(|(k, e)| {
                let end = starts.get(k + 1).copied().unwrap_or(ts.len());
                (starts[k]..end.max(starts[k]), &e.input)
            })
            .collect()
    }

    /// The last bar the serving model saw, for a source that cannot switch models bar by bar:
    /// bars up to it get no prediction. `None` without a schedule.
    fn hidden_until(&self) -> Option<Timestamp> {
        self.schedule.as_ref()?.last().map(|e| e.seen_until)
    }

    /// Returns the input compared, bar by bar, with the training window's distribution.
    #[must_use]
    pub fn with_drift(mut self, profile: Option<Arc<DriftProfile>>) -> Self {
        self.drift = profile.filter(|p| p.features.len() == self.inputs.len());
        self
    }

    /// Returns the model that serves `instrument`: its own, else the pooled one.
    ///
    /// # Errors
    /// Names an instrument that has no model of its own when there is no pooled model.
    fn model_for(&self, instrument: &str) -> Result<&Arc<LoadedModel>, MlError> {
        match self
            .by_instrument
            .iter()
            .find(|(name, _)| name == instrument)
        {
            Some((_, model)) => Ok(model),
            None if self.pooled => Ok(&self.loaded),
            None => Err(MlError::NoSamples {
                reason: format!(
                    "instrument {instrument} has no model of its own and there is no pooled \
                     model (models exist for {:?})",
                    self.by_instrument
                        .iter()
                        .map(|(n, _)| n)
                        .collect::<Vec<_>>()
                ),
            }),
        }
    }

    /// Returns the output column names.
    pub fn columns(&self) -> Vec<String> {
        (self.loaded.metadata.classes.iter())
            .map(|class| format!("{}_{class}", self.prefix))
            .collect()
    }

    fn window(&self) -> usize {
        self.loaded.metadata.model.window
    }

    fn classes(&self) -> usize {
        self.loaded.metadata.classes.len()
    }

    /// Writes the standardised model inputs of one pipeline row to `out`; false if any is not
    /// finite (the feature is warming up or was reset).
    fn standardised(&self, model: &LoadedModel, row: &[f64], out: &mut [f32]) -> bool {
        let s = &model.metadata.standardizer;
        let mut finite = true;
        for (k, (&column, slot)) in self.inputs.iter().zip(out.iter_mut()).enumerate() {
            // The same f64 arithmetic, then rounding to f32, as training's datasets.
            let v = (row[column] - s.mean[k]) / s.std[k];
            finite &= v.is_finite();
            *slot = v as f32;
        }
        finite
    }
}

/// The last `window` standardised input rows of one instrument, for one model.
#[derive(Debug, Clone)]
struct History {
    /// A ring of `window` rows of `features` values.
    rows: Vec<f32>,
    features: usize,
    /// Ring slot of the next row.
    next: usize,
    /// Consecutive finite rows pushed (a non-finite row restarts the count).
    finite_run: usize,
}

impl History {
    fn new(window: usize, features: usize) -> Self {
        Self {
            rows: vec![0.0; window * features],
            features,
            next: 0,
            finite_run: 0,
        }
    }

    fn window(&self) -> usize {
        self.rows.len() / self.features
    }

    /// Appends the window, oldest row first, to `batch`.
    fn append_to(&self, batch: &mut Vec<f32>) {
        let split = self.next * self.features;
        batch.extend_from_slice(&self.rows[split..]);
        batch.extend_from_slice(&self.rows[..split]);
    }
}

/// Precomputed rows of one instrument: pipeline columns then model columns, row-major.
#[derive(Debug)]
struct Replay {
    rows: Vec<f64>,
    ts: Vec<market_data::Timestamp>,
    /// The next row to serve.
    cursor: usize,
    /// The first model's standardised inputs, one segment per era it serves, to explain its
    /// decisions.
    segments: Vec<Segment>,
}

/// The first model's standardised inputs over the decision rows one era serves, from the
/// window's first row before them: each era standardises with its own statistics.
#[derive(Debug)]
struct Segment {
    /// The era of the schedule (0 without one).
    era: usize,
    /// Its decision rows.
    rows: std::ops::Range<usize>,
    /// The row `values` start at.
    first: usize,
    /// Standardised inputs, row-major, rounded to f32 as the windows are.
    values: Vec<f32>,
}

impl Segment {
    /// The standardised window of `window` rows ending at decision row `t`, if this segment
    /// serves `t`.
    fn window(&self, t: usize, window: usize, features: usize) -> Option<&[f32]> {
        if !self.rows.contains(&t) {
            return None;
        }
        let from = (t + 1).checked_sub(window)?.checked_sub(self.first)?;
        let to = t + 1 - self.first;
        self.values.get(from * features..to * features)
    }
}

#[derive(Debug)]
enum Mode {
    Streaming {
        pipeline: PipelineRunner,
        /// Per model, per instrument.
        history: Vec<Vec<History>>,
        /// Reused model input and its owners.
        batch: Vec<f32>,
        owners: Vec<usize>,
        /// The owners one network call serves (reused).
        served: Vec<usize>,
    },
    Precomputed(Vec<Replay>),
}

/// The feature pipeline followed by models, as the engine's feature source.
#[derive(Debug)]
pub struct ModelFeatures {
    columns: Vec<String>,
    pipeline_width: usize,
    models: Vec<ModelInput>,
    /// Per instrument: its current row (pipeline columns, then model columns).
    rows: Vec<Vec<f64>>,
    /// Per model, per instrument: the network that serves it (streaming, and every bar of a
    /// model without a schedule).
    serving: Vec<Vec<Arc<LoadedModel>>>,
    /// The first model's networks, per era of its schedule (one era without), per instrument:
    /// the network that made a prediction, to explain it.
    explaining: Vec<Vec<Arc<LoadedModel>>>,
    /// Per model: its inputs' drift bin counts (`None` for a model without a profile).
    drift_counts: Vec<Option<DriftCounter>>,
    /// Orders noted for explanation, explained in a batch on request.
    pending: Vec<Pending>,
    /// Streaming: the first model's input window of each pending order, back to back (a
    /// precomputed source reads them from its replay rows when explaining).
    pending_windows: Vec<f32>,
    /// The prediction of each pending order (one value per class), back to back.
    pending_probabilities: Vec<f64>,
    mode: Mode,
}

/// An order to explain; its prediction is in the pending buffer, at its position.
#[derive(Debug, Clone, Copy)]
struct Pending {
    order: OrderId,
    instrument: InstrumentIdx,
    ts: Timestamp,
    class: usize,
    /// The era whose network predicted (0 without a schedule, and when streaming).
    era: usize,
    /// Where its window is: the replay row it ends at (precomputed), or its position in
    /// `pending_windows` (streaming).
    window: usize,
}

/// Windows gathered per occlusion call when explaining: a few hundred kilobytes, so a
/// backtest's orders are explained without holding every window at once.
const EXPLAIN_CHUNK: usize = 512;

/// Most bin edges a drift counter looks up without a search: [`DriftProfile::fit`] cuts at
/// deciles, so 9.
const DRIFT_EDGES: usize = 9;

/// One model's drift bin counts, bumped with every bar: a branchless lookup (how many edges lie
/// below the value, the same bin as [`models::explain::FeatureBins::bin`]) into flat counters.
#[derive(Debug, Clone)]
struct DriftCounter {
    /// Per input: its edges padded with +inf, which no finite value passes; `None` when a
    /// profile (read from a file) has more edges than that, which are then searched.
    edges: Option<Vec<[f64; DRIFT_EDGES]>>,
    /// Per input: the counts of its bins.
    counts: Vec<[u64; DRIFT_EDGES + 1]>,
    /// Counts of a profile with more edges, per input.
    wide: Vec<Vec<u64>>,
}

impl DriftCounter {
    fn new(profile: &DriftProfile) -> Self {
        let fits = profile
            .features
            .iter()
            .all(|f| f.edges.len() <= DRIFT_EDGES);
        let edges = fits.then(|| {
            (profile.features.iter())
                .map(|f| {
                    let mut padded = [f64::INFINITY; DRIFT_EDGES];
                    padded[..f.edges.len()].copy_from_slice(&f.edges);
                    padded
                })
                .collect()
        });
        let wide = if fits {
            Vec::new()
        } else {
            (profile.features.iter())
                .map(|f| vec![0; f.expected.len()])
                .collect()
        };
        Self {
            edges,
            counts: vec![[0; DRIFT_EDGES + 1]; profile.features.len()],
            wide,
        }
    }

    /// Counts one row's inputs (`row[column]` for each input column); non-finite values are
    /// skipped.
    fn count(&mut self, profile: &DriftProfile, inputs: &[usize], row: &[f64]) {
        match &self.edges {
            Some(edges) => {
                for ((&column, edges), counts) in inputs.iter().zip(edges).zip(&mut self.counts) {
                    let v = row[column];
                    let bin: usize = edges.iter().map(|&e| usize::from(e < v)).sum();
                    counts[bin] += u64::from(v.is_finite());
                }
            }
            None => {
                for ((&column, bins), counts) in
                    inputs.iter().zip(&profile.features).zip(&mut self.wide)
                {
                    let v = row[column];
                    if v.is_finite() {
                        counts[bins.bin(v)] += 1;
                    }
                }
            }
        }
    }

    /// Returns input `j`'s counts, one per bin of the profile.
    fn of(&self, j: usize, bins: usize) -> &[u64] {
        match self.edges {
            Some(_) => &self.counts[j][..bins.min(DRIFT_EDGES + 1)],
            None => &self.wide[j],
        }
    }
}

/// Returns every column of a pipeline followed by models: the pipeline's, then each model's.
pub fn columns_of(pipeline: &PipelineSpec, models: &[ModelInput]) -> Vec<String> {
    let mut columns = pipeline.columns().to_vec();
    for model in models {
        columns.extend(model.columns());
    }
    columns
}

impl ModelFeatures {
    /// Returns a source that runs the pipeline and the models bar by bar, one model call per
    /// time step for all instruments a network serves.
    ///
    /// # Errors
    /// Names an instrument no model serves.
    pub fn streaming(
        pipeline: Arc<PipelineSpec>,
        models: Vec<ModelInput>,
        instruments: &[InstrumentId],
    ) -> Result<Self, MlError> {
        let columns = columns_of(&pipeline, &models);
        let history = models
            .iter()
            .map(|m| vec![History::new(m.window(), m.inputs.len()); instruments.len()])
            .collect();
        let serving = models
            .iter()
            .map(|m| {
                (instruments.iter())
                    .map(|id| m.model_for(id.as_str()).cloned())
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let instruments = instruments.len();
        Ok(Self {
            explaining: serving.first().cloned().into_iter().collect(),
            rows: vec![vec![f64::NAN; columns.len()]; instruments],
            pipeline_width: pipeline.columns().len(),
            columns,
            drift_counts: drift_counts(&models),
            pending: Vec::new(),
            pending_windows: Vec::new(),
            pending_probabilities: Vec::new(),
            mode: Mode::Streaming {
                pipeline: PipelineRunner::new(pipeline, instruments),
                history,
                batch: Vec::new(),
                owners: Vec::with_capacity(instruments),
                served: Vec::with_capacity(instruments),
            },
            serving,
            models,
        })
    }

    /// Returns a source that computes every row of `data` ahead (pipeline in parallel across
    /// instruments, models in large batches) and replays them in the loop.
    ///
    /// # Errors
    /// Returns a feature error (`on_nan = "error"`) or a model error.
    pub fn precomputed(
        pipeline: &PipelineSpec,
        models: Vec<ModelInput>,
        data: &[BarSeries],
    ) -> Result<Self, BoxError> {
        let columns = columns_of(pipeline, &models);
        let frames = compute_batch(pipeline, data)?;
        let replays = frames
            .iter()
            .map(|frame| replay_rows(frame, &models, columns.len()))
            .collect::<Result<Vec<_>, _>>()?;
        let serving = (models.iter())
            .map(|m| {
                (frames.iter())
                    .map(|f| m.model_for(f.instrument.as_str()).cloned())
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let explaining = match models.first() {
            Some(first) => match first.schedule() {
                Some(eras) => (eras.iter())
                    .map(|era| {
                        (frames.iter())
                            .map(|f| era.input.model_for(f.instrument.as_str()).cloned())
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                None => serving.first().cloned().into_iter().collect(),
            },
            None => Vec::new(),
        };
        Ok(Self {
            explaining,
            rows: vec![vec![f64::NAN; columns.len()]; data.len()],
            pipeline_width: pipeline.columns().len(),
            columns,
            drift_counts: drift_counts(&models),
            pending: Vec::new(),
            pending_windows: Vec::new(),
            pending_probabilities: Vec::new(),
            serving,
            mode: Mode::Precomputed(replays),
            models,
        })
    }
}

impl ModelFeatures {
    /// Hides the model outputs of precomputed rows stamped before `first` (NaN, as if not
    /// ready), so a strategy trades only from there: an out-of-sample test that still computes
    /// features and windows from the bars before it. A streaming source is returned unchanged:
    /// it has no rows ahead to hide.
    #[must_use]
    pub fn predictions_from(mut self, first: market_data::Timestamp) -> Self {
        let width = self.columns.len();
        if let Mode::Precomputed(replays) = &mut self.mode {
            for replay in replays {
                for (row, ts) in replay.rows.chunks_exact_mut(width).zip(&replay.ts) {
                    if *ts < first {
                        row[self.pipeline_width..].fill(f64::NAN);
                    }
                }
            }
        }
        self
    }
}

/// Computes one instrument's rows: its pipeline frame, then each model's probabilities at every
/// bar whose window is complete (NaN elsewhere).
fn replay_rows(
    frame: &FeatureFrame,
    models: &[ModelInput],
    width: usize,
) -> Result<Replay, BoxError> {
    let n = frame.ts.len();
    let mut rows = vec![f64::NAN; n * width];
    for (c, column) in frame.columns.iter().enumerate() {
        for (t, v) in column.iter().enumerate() {
            rows[t * width + c] = *v;
        }
    }
    let mut first_output = frame.columns.len();
    let mut segments = Vec::new();
    for (m, input) in models.iter().enumerate() {
        let (window, f, classes) = (input.window(), input.inputs.len(), input.classes());
        for (era, (decisions, served_by)) in input.eras_over(&frame.ts).into_iter().enumerate() {
            if decisions.is_empty() {
                continue;
            }
            let model = served_by.model_for(frame.instrument.as_str())?;
            // The rows the era's windows read, standardised with its own statistics.
            let first = decisions.start.saturating_sub(window - 1);
            let mut inputs = vec![0.0f64; (decisions.end - first) * f];
            for (t, row) in (first..).zip(inputs.chunks_exact_mut(f)) {
                for (slot, &column) in row.iter_mut().zip(&input.inputs) {
                    *slot = frame.columns[column][t];
                }
            }
            model.metadata.standardizer.apply(&mut inputs)?;
            if m == 0 {
                // Rounded to f32 as the windows are, so an explanation sees the model's input.
                segments.push(Segment {
                    era,
                    rows: decisions.clone(),
                    first,
                    values: inputs.iter().map(|&v| v as f32).collect(),
                });
            }
            let local = decisions.start - first..decisions.end - first;
            let windows = match Windows::build(&inputs, f, window, local) {
                Ok(w) => w,
                // Too few bars, or still warming up: no prediction, not a failure.
                Err(MlError::TooLittleData { .. } | MlError::NoSamples { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let size = window * f;
            for (chunk, decision) in windows
                .x
                .chunks(PRECOMPUTE_BATCH * size)
                .zip(windows.rows.chunks(PRECOMPUTE_BATCH))
            {
                let mut probs = model.model.predict_proba(chunk, decision.len())?;
                model.calibrate(&mut probs);
                for (&local_t, p) in decision.iter().zip(probs.chunks_exact(classes)) {
                    let t = first + local_t;
                    for (k, &v) in p.iter().enumerate() {
                        rows[t * width + first_output + k] = f64::from(v);
                    }
                }
            }
        }
        first_output += classes;
    }
    Ok(Replay {
        rows,
        ts: frame.ts.clone(),
        cursor: 0,
        segments,
    })
}

/// Empty drift counters for each model with a profile.
fn drift_counts(models: &[ModelInput]) -> Vec<Option<DriftCounter>> {
    (models.iter())
        .map(|m| m.drift.as_deref().map(DriftCounter::new))
        .collect()
}

impl ModelFeatures {
    /// Counts the model inputs of the instruments just updated in their drift bins.
    fn count_drift(&mut self, bars: &[(InstrumentIdx, Bar)]) {
        for (input, counter) in self.models.iter().zip(&mut self.drift_counts) {
            let (Some(profile), Some(counter)) = (&input.drift, counter) else {
                continue;
            };
            for (instrument, _) in bars {
                counter.count(profile, &input.inputs, &self.rows[instrument.get()]);
            }
        }
    }

    /// Notes the first model's standardised window ending at the instrument's current bar for
    /// [`ModelFeatures::append_window`]: returns its replay row (precomputed; the rows are kept)
    /// or, copied to `pending_windows`, its position there (streaming); `None` without a
    /// complete, finite one.
    fn note_window(&mut self, i: usize) -> Option<(usize, usize)> {
        let input = self.models.first()?;
        let (w, f) = (input.window(), input.inputs.len());
        match &self.mode {
            Mode::Precomputed(replays) => {
                let replay = &replays[i];
                let t = replay.cursor.checked_sub(1)?;
                let (era, window) =
                    (replay.segments.iter()).find_map(|s| Some((s.era, s.window(t, w, f)?)))?;
                // Not short-circuited, so that it vectorises: a window is usually finite.
                let finite = window.iter().fold(true, |ok, v| ok & v.is_finite());
                finite.then_some((t, era))
            }
            Mode::Streaming { history, .. } => {
                let h = &history[0][i];
                if h.finite_run < h.window() {
                    return None;
                }
                h.append_to(&mut self.pending_windows);
                Some((self.pending_windows.len() / (w * f) - 1, 0))
            }
        }
    }

    /// Appends the window noted for `p` to `out`.
    fn append_window(&self, p: &Pending, out: &mut Vec<f32>) {
        let Some(input) = self.models.first() else {
            return;
        };
        let (w, f) = (input.window(), input.inputs.len());
        match &self.mode {
            Mode::Precomputed(replays) => {
                let segments = &replays[p.instrument.get()].segments;
                let window = (segments.iter())
                    .filter(|s| s.era == p.era)
                    .find_map(|s| s.window(p.window, w, f));
                // Noted only when its segment held it.
                out.extend_from_slice(window.unwrap_or_default());
            }
            Mode::Streaming { .. } => {
                out.extend_from_slice(
                    &self.pending_windows[p.window * w * f..(p.window + 1) * w * f],
                );
            }
        }
    }
}

impl FeatureSource for ModelFeatures {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn update(&mut self, instrument: InstrumentIdx, bar: &Bar) -> Result<(), BoxError> {
        self.update_step(&[(instrument, *bar)])
    }

    fn update_step(&mut self, bars: &[(InstrumentIdx, Bar)]) -> Result<(), BoxError> {
        let width = self.columns.len();
        match &mut self.mode {
            Mode::Precomputed(replays) => {
                for (instrument, bar) in bars {
                    let i = instrument.get();
                    let replay = &mut replays[i];
                    let t = replay.cursor;
                    if replay.ts.get(t) != Some(&bar.ts) {
                        return Err(format!(
                            "precomputed features of instrument {i} are out of step with the \
                             bars: expected a bar at {:?}, got one at {}",
                            replay.ts.get(t),
                            bar.ts
                        )
                        .into());
                    }
                    replay.cursor += 1;
                    self.rows[i].copy_from_slice(&replay.rows[t * width..(t + 1) * width]);
                }
            }
            Mode::Streaming {
                pipeline,
                history,
                batch,
                owners,
                served,
            } => {
                pipeline.update_step(bars)?;
                for (instrument, _) in bars {
                    let i = instrument.get();
                    self.rows[i][..self.pipeline_width]
                        .copy_from_slice(pipeline.values(*instrument));
                }
                let mut first_output = self.pipeline_width;
                for ((input, histories), serving) in self
                    .models
                    .iter()
                    .zip(history.iter_mut())
                    .zip(self.serving.iter())
                {
                    let classes = input.classes();
                    // Bars the model saw in training get no prediction out of sample.
                    let hidden_until = input.hidden_until();
                    owners.clear();
                    for (instrument, bar) in bars {
                        let i = instrument.get();
                        let h = &mut histories[i];
                        let (from, to) = (h.next * h.features, (h.next + 1) * h.features);
                        let finite =
                            input.standardised(&serving[i], &self.rows[i], &mut h.rows[from..to]);
                        h.next = (h.next + 1) % h.window();
                        h.finite_run = if finite { h.finite_run + 1 } else { 0 };
                        self.rows[i][first_output..first_output + classes].fill(f64::NAN);
                        let seen = hidden_until.is_some_and(|until| bar.ts <= until);
                        if h.finite_run >= h.window() && !seen {
                            owners.push(i);
                        }
                    }
                    // One call per network: all instruments of a pooled model in one batch.
                    while let Some(&first) = owners.first() {
                        let net = serving[first].clone();
                        batch.clear();
                        served.clear();
                        owners.retain(|&i| {
                            let same = Arc::ptr_eq(&serving[i], &net);
                            if same {
                                histories[i].append_to(batch);
                                served.push(i);
                            }
                            !same
                        });
                        let mut probs = net.model.predict_proba(batch, served.len())?;
                        net.calibrate(&mut probs);
                        for (&i, p) in served.iter().zip(probs.chunks_exact(classes)) {
                            let outputs = &mut self.rows[i][first_output..];
                            for (slot, &v) in outputs.iter_mut().zip(p) {
                                *slot = f64::from(v);
                            }
                        }
                    }
                    first_output += classes;
                }
            }
        }
        // A backtest's rows are all in memory: their drift is counted when asked, in one pass.
        let streaming = matches!(self.mode, Mode::Streaming { .. });
        if streaming && self.drift_counts.iter().any(Option::is_some) {
            self.count_drift(bars);
        }
        Ok(())
    }

    fn values(&self, instrument: InstrumentIdx) -> &[f64] {
        &self.rows[instrument.get()]
    }

    fn explains(&self) -> bool {
        !self.explaining.is_empty()
    }

    /// Keeps the first model's window and prediction for the order; they are explained (by
    /// occlusion, see [`models::explain`]) in one batch when the engine asks for attributions.
    /// The class explained is the order's direction: `up` for a buy, `down` for a sell (else
    /// the most likely class).
    fn explain(&mut self, order: OrderId, instrument: InstrumentIdx, side: Side, ts: Timestamp) {
        let i = instrument.get();
        let (Some(input), Some(net)) = (
            self.models.first(),
            self.explaining.first().and_then(|s| s.get(i)),
        ) else {
            return;
        };
        let first_output = self.pipeline_width;
        let shown = &self.rows[i][first_output..first_output + input.classes()];
        if shown.iter().any(|p| p.is_nan()) {
            return;
        }
        let classes = &net.metadata.classes;
        let wanted = if side == Side::Buy { "up" } else { "down" };
        let class = (classes.iter().position(|c| c == wanted)).unwrap_or_else(|| {
            models::argmax(&shown.iter().map(|&p| p as f32).collect::<Vec<_>>())
        });
        let n_classes = input.classes();
        if let Some((window, era)) = self.note_window(i) {
            let shown = &self.rows[i][first_output..first_output + n_classes];
            self.pending_probabilities.extend_from_slice(shown);
            self.pending.push(Pending {
                order,
                instrument,
                ts,
                class,
                era,
                window,
            });
        }
    }

    fn attributions(&mut self) -> Vec<OrderAttribution> {
        let pending = std::mem::take(&mut self.pending);
        let probabilities = std::mem::take(&mut self.pending_probabilities);
        let out = self.explain_pending(&pending, &probabilities);
        self.pending_windows.clear();
        out
    }

    fn drift(&self) -> Vec<InputDrift> {
        let mut out = Vec::new();
        for (input, counter) in self.models.iter().zip(&self.drift_counts) {
            let (Some(profile), Some(counter)) = (&input.drift, counter) else {
                continue;
            };
            let replayed = match &self.mode {
                Mode::Precomputed(replays) => Some(replayed_counts(
                    replays,
                    self.columns.len(),
                    profile,
                    &input.inputs,
                )),
                Mode::Streaming { .. } => None,
            };
            for (j, bins) in profile.features.iter().enumerate() {
                let count = match &replayed {
                    Some(counts) => &counts[j][..],
                    None => counter.of(j, bins.expected.len()),
                };
                let n: u64 = count.iter().sum();
                let actual: Vec<f64> = count.iter().map(|&c| c as f64 / n.max(1) as f64).collect();
                out.push(InputDrift {
                    model_id: input.loaded.model_id.clone(),
                    feature: bins.name.clone(),
                    psi: psi(&bins.expected, &actual),
                    observations: n,
                });
            }
        }
        out
    }
}

impl ModelFeatures {
    /// Explains `pending` orders (their predictions back to back in `probabilities`), in one
    /// batch per network.
    fn explain_pending(&self, pending: &[Pending], probabilities: &[f64]) -> Vec<OrderAttribution> {
        let Some(input) = self.models.first() else {
            return Vec::new();
        };
        let n_classes = input.classes();
        let net_of = |p: &Pending| &self.explaining[p.era][p.instrument.get()];
        let mut out = Vec::with_capacity(pending.len());
        let mut done = vec![false; pending.len()];
        let (mut members, mut samples, mut classes, mut contributions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // One batch per network (a pooled model serves every instrument in one).
        for first in 0..pending.len() {
            if done[first] {
                continue;
            }
            let net = net_of(&pending[first]);
            members.clear();
            for (k, p) in pending.iter().enumerate().skip(first) {
                if !done[k] && Arc::ptr_eq(net_of(p), net) {
                    done[k] = true;
                    members.push(k);
                }
            }
            // The windows were complete and finite when noted, so only a broken model fails here;
            // such orders stay unexplained rather than stopping the run.
            contributions.clear();
            let explained = net.model.occluder().and_then(|occluder| {
                for chunk in members.chunks(EXPLAIN_CHUNK) {
                    samples.clear();
                    classes.clear();
                    for &k in chunk {
                        self.append_window(&pending[k], &mut samples);
                        classes.push(pending[k].class);
                    }
                    occlude_into(&occluder, &samples, &classes, &mut contributions, None)?;
                }
                Ok(())
            });
            if explained.is_err() {
                continue;
            }
            // Names shared by every attribution of the network, looked up only when written.
            let names = Arc::new(ModelNames {
                model_id: net.model_id.clone(),
                classes: net.metadata.classes.clone(),
                features: net.metadata.feature_columns.clone(),
            });
            let features = names.features.len().max(1);
            let top_len = TOP_K.min(names.features.len());
            let mut values = AttributionValues::new(n_classes, top_len);
            let mut top = [0usize; TOP_K];
            let mut ranked = [(0, 0.0); TOP_K];
            // Row r of the batch's values is members[r]'s.
            for (&k, c) in members.iter().zip(contributions.chunks_exact(features)) {
                top_features_into(c, &mut top[..top_len]);
                for (slot, &j) in ranked.iter_mut().zip(&top[..top_len]) {
                    *slot = (j, f64::from(c[j]));
                }
                values.push(
                    &probabilities[k * n_classes..(k + 1) * n_classes],
                    &ranked[..top_len],
                );
            }
            let values = Arc::new(values);
            for (row, &k) in members.iter().enumerate() {
                let p = &pending[k];
                out.push(OrderAttribution {
                    order: p.order,
                    ts: p.ts,
                    instrument: p.instrument,
                    attribution: Attribution::new(names.clone(), p.class, values.clone(), row),
                });
            }
        }
        out.sort_by_key(|a| a.order);
        out
    }
}

/// Rows per block when counting replayed rows: a block's rows stay in cache while each input
/// is counted.
const DRIFT_BLOCK: usize = 256;

/// Returns, per input, the bin counts of its finite values in the rows replayed so far (those
/// before each replay's cursor): the counts the streaming path bumps bar by bar, computed in one
/// pass. A value's bin is the number of edges below it, so bin m holds the values above edge
/// m - 1 less those above edge m; each of those is a compare-and-count over a block of values.
fn replayed_counts(
    replays: &[Replay],
    width: usize,
    profile: &DriftProfile,
    inputs: &[usize],
) -> Vec<Vec<u64>> {
    // above[j][0]: finite values of input j; above[j][m + 1]: those above edge m.
    let mut above: Vec<Vec<u64>> = (profile.features.iter())
        .map(|f| vec![0; f.edges.len() + 1])
        .collect();
    let mut block = [0.0f64; DRIFT_BLOCK];
    for replay in replays {
        let rows = &replay.rows[..(replay.cursor * width).min(replay.rows.len())];
        for chunk in rows.chunks(DRIFT_BLOCK * width) {
            let n = chunk.len() / width.max(1);
            for ((&column, bins), above) in inputs.iter().zip(&profile.features).zip(&mut above) {
                // Non-finite values become NaN, which no comparison counts.
                for (slot, row) in block.iter_mut().zip(chunk.chunks_exact(width)) {
                    let v = row[column];
                    *slot = if v.is_finite() { v } else { f64::NAN };
                }
                let values = &block[..n];
                above[0] += values.iter().filter(|v| !v.is_nan()).count() as u64;
                for (slot, &edge) in above[1..].iter_mut().zip(&bins.edges) {
                    *slot += values.iter().filter(|&&v| v > edge).count() as u64;
                }
            }
        }
    }
    (above.iter())
        .map(|above| {
            (0..above.len())
                .map(|m| above[m] - above.get(m + 1).copied().unwrap_or(0))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drift_counter_bins_as_the_profile_does() {
        let names: Vec<String> = vec!["a".into(), "b".into()];
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // A few repeated values, so edges fall on ties.
            ((state >> 33) % 40) as f64 / 4.0 - 5.0
        };
        let training: Vec<f64> = (0..2_000).map(|_| next()).collect();
        let profile = DriftProfile::fit(&names, &[(&training, 0..1_000)]);
        let mut counter = DriftCounter::new(&profile);
        assert!(counter.edges.is_some());
        let mut expected = vec![vec![0u64; 10]; 2];
        let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -100.0, 100.0];
        for t in 0..3_000 {
            let row = [
                next(),
                specials.get(t % 50).copied().unwrap_or_else(&mut next),
            ];
            counter.count(&profile, &[0, 1], &row);
            for (j, bins) in profile.features.iter().enumerate() {
                if row[j].is_finite() {
                    expected[j][bins.bin(row[j])] += 1;
                }
            }
        }
        for (j, bins) in profile.features.iter().enumerate() {
            let n = bins.expected.len();
            assert_eq!(counter.of(j, n), &expected[j][..n]);
        }
    }
}
