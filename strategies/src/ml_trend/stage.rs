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

use crate::features::{FeatureFrame, PipelineRunner, PipelineSpec, compute_batch};
use crate::ml::{LoadedModel, MlError, Windows};
use engine::FeatureSource;
use market_data::{Bar, BarSeries, InstrumentIdx};
use std::sync::Arc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Windows per model call when predicting ahead of a backtest: large enough to amortise the
/// call, small enough to keep the input tensor in cache-friendly sizes.
const PRECOMPUTE_BATCH: usize = 4096;

/// A trained model and where its inputs and outputs sit among the feature columns.
#[derive(Debug, Clone)]
pub struct ModelInput {
    /// The model with its metadata (standardisation, window, classes).
    pub loaded: Arc<LoadedModel>,
    /// Output columns are `<prefix>_<class>`.
    pub prefix: String,
    /// Pipeline column of each model input, in the model's order.
    inputs: Vec<usize>,
}

impl ModelInput {
    /// Places `loaded` after `pipeline`.
    ///
    /// # Errors
    /// Names a model input column the pipeline does not compute.
    pub fn new(
        loaded: Arc<LoadedModel>,
        prefix: &str,
        pipeline: &PipelineSpec,
    ) -> Result<Self, MlError> {
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
            prefix: prefix.to_string(),
            inputs,
        })
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
    fn standardised(&self, row: &[f64], out: &mut [f32]) -> bool {
        let s = &self.loaded.metadata.standardizer;
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
    mode: Mode,
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
    /// time step for all instruments.
    pub fn streaming(
        pipeline: Arc<PipelineSpec>,
        models: Vec<ModelInput>,
        instruments: usize,
    ) -> Self {
        let columns = columns_of(&pipeline, &models);
        let history = models
            .iter()
            .map(|m| vec![History::new(m.window(), m.inputs.len()); instruments])
            .collect();
        Self {
            rows: vec![vec![f64::NAN; columns.len()]; instruments],
            pipeline_width: pipeline.columns().len(),
            columns,
            mode: Mode::Streaming {
                pipeline: PipelineRunner::new(pipeline, instruments),
                history,
                batch: Vec::new(),
                owners: Vec::with_capacity(instruments),
            },
            models,
        }
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
        Ok(Self {
            rows: vec![vec![f64::NAN; columns.len()]; data.len()],
            pipeline_width: pipeline.columns().len(),
            columns,
            mode: Mode::Precomputed(replays),
            models,
        })
    }
}

impl ModelFeatures {
    /// Hides the model outputs of precomputed rows stamped before `first` (NaN, as if not
    /// ready), so a strategy trades only from there: an out-of-sample test that still computes
    /// features and windows from the bars before it.
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
    for model in models {
        let f = model.inputs.len();
        let mut inputs = vec![0.0f64; n * f];
        for (t, row) in inputs.chunks_exact_mut(f).enumerate() {
            for (slot, &column) in row.iter_mut().zip(&model.inputs) {
                *slot = frame.columns[column][t];
            }
        }
        model.loaded.metadata.standardizer.apply(&mut inputs)?;
        let windows = match Windows::build(&inputs, f, model.window(), 0..n) {
            Ok(w) => Some(w),
            // A series shorter than one window, or still warming up: no prediction, not a failure.
            Err(MlError::TooLittleData { .. } | MlError::NoSamples { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(windows) = windows {
            let (size, classes) = (model.window() * f, model.classes());
            for (chunk, decision) in windows
                .x
                .chunks(PRECOMPUTE_BATCH * size)
                .zip(windows.rows.chunks(PRECOMPUTE_BATCH))
            {
                let probs = model.loaded.model.predict_proba(chunk, decision.len())?;
                for (&t, p) in decision.iter().zip(probs.chunks_exact(classes)) {
                    for (k, &v) in p.iter().enumerate() {
                        rows[t * width + first_output + k] = f64::from(v);
                    }
                }
            }
        }
        first_output += model.classes();
    }
    Ok(Replay {
        rows,
        ts: frame.ts.clone(),
        cursor: 0,
    })
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
            } => {
                pipeline.update_step(bars)?;
                for (instrument, _) in bars {
                    let i = instrument.get();
                    self.rows[i][..self.pipeline_width]
                        .copy_from_slice(pipeline.values(*instrument));
                }
                let mut first_output = self.pipeline_width;
                for (model, histories) in self.models.iter().zip(history.iter_mut()) {
                    batch.clear();
                    owners.clear();
                    for (instrument, _) in bars {
                        let i = instrument.get();
                        let h = &mut histories[i];
                        let (from, to) = (h.next * h.features, (h.next + 1) * h.features);
                        let finite = model.standardised(&self.rows[i], &mut h.rows[from..to]);
                        h.next = (h.next + 1) % h.window();
                        h.finite_run = if finite { h.finite_run + 1 } else { 0 };
                        let outputs =
                            &mut self.rows[i][first_output..first_output + model.classes()];
                        outputs.fill(f64::NAN);
                        if h.finite_run >= h.window() {
                            h.append_to(batch);
                            owners.push(i);
                        }
                    }
                    if !owners.is_empty() {
                        let probs = model.loaded.model.predict_proba(batch, owners.len())?;
                        for (&i, p) in owners.iter().zip(probs.chunks_exact(model.classes())) {
                            let outputs = &mut self.rows[i][first_output..];
                            for (slot, &v) in outputs.iter_mut().zip(p) {
                                *slot = f64::from(v);
                            }
                        }
                    }
                    first_output += model.classes();
                }
            }
        }
        Ok(())
    }

    fn values(&self, instrument: InstrumentIdx) -> &[f64] {
        &self.rows[instrument.get()]
    }
}
