//! Running a compiled pipeline: one state per instrument, updated one bar at a time (streaming,
//! inside the event loop), or over whole series (batch, in parallel across instruments). Batch
//! drives the same streaming kernels, so the two are bit-identical by construction.

use super::kinds::build_indicator;
use super::spec::{FeatureError, PipelineSpec, Source};
use crate::indicators::Indicator;
use engine::FeatureSource;
use market_data::{Bar, BarSeries, InstrumentId, InstrumentIdx, Timestamp};
use rayon::prelude::*;
use std::sync::Arc;

/// The largest number of inputs a feature reads.
const MAX_INPUTS: usize = 4;

/// The pipeline's state for one instrument.
#[derive(Debug)]
pub struct PipelineState {
    nodes: Vec<Box<dyn Indicator>>,
    inputs_seen_ready: Vec<bool>,
    values: Vec<f64>,
    last_ts: Option<Timestamp>,
}

impl PipelineState {
    /// Returns a fresh state: every feature warming up.
    pub fn new(spec: &PipelineSpec) -> Self {
        let nodes = spec
            .nodes()
            .iter()
            // The spec was built from these configs, so building again cannot fail.
            .filter_map(|n| build_indicator(&n.config).ok())
            .collect();
        Self {
            nodes,
            inputs_seen_ready: vec![false; spec.nodes().len()],
            values: vec![f64::NAN; spec.columns().len()],
            last_ts: None,
        }
    }

    /// Feeds one bar and returns every column's value (NaN where not ready).
    ///
    /// # Errors
    /// Returns an error when a feature with `on_nan = "error"` gets a NaN input after its
    /// inputs were ready.
    pub fn update(&mut self, spec: &PipelineSpec, bar: &Bar) -> Result<&[f64], FeatureError> {
        let gap = self.last_ts.map_or(0, |last| bar.ts.0 - last.0);
        self.last_ts = Some(bar.ts);
        let mut input = [0.0; MAX_INPUTS];
        for (i, node) in spec.nodes().iter().enumerate() {
            let mut any_nan = false;
            for (slot, source) in input.iter_mut().zip(&node.inputs) {
                *slot = match *source {
                    Source::Bar(field) => field.of(bar),
                    Source::Column(c) => self.values[c],
                };
                any_nan |= !slot.is_finite();
            }
            let out = &mut self.values[node.first_column..node.first_column + node.outputs];
            let indicator = &mut self.nodes[i];
            if node.max_gap_ns.is_some_and(|max| gap > max) {
                indicator.reset();
            }
            if any_nan {
                if node.nan_is_error && self.inputs_seen_ready[i] {
                    return Err(FeatureError::new(
                        &node.config.name,
                        Some("on_nan"),
                        format!(
                            "finite inputs (on_nan = \"error\"), but an input is not finite at {}",
                            bar.ts
                        ),
                    ));
                }
                indicator.reset();
                out.fill(f64::NAN);
            } else {
                self.inputs_seen_ready[i] = true;
                indicator.update(bar.ts, &input[..node.inputs.len()], out);
            }
        }
        Ok(&self.values)
    }

    /// Returns the values of the last update.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// The pipeline over many instruments, as the engine sees it during a run.
#[derive(Debug)]
pub struct PipelineRunner {
    spec: Arc<PipelineSpec>,
    states: Vec<PipelineState>,
}

impl PipelineRunner {
    /// Returns a runner for `instruments` instruments.
    pub fn new(spec: Arc<PipelineSpec>, instruments: usize) -> Self {
        let states = (0..instruments)
            .map(|_| PipelineState::new(&spec))
            .collect();
        Self { spec, states }
    }
}

impl FeatureSource for PipelineRunner {
    fn columns(&self) -> &[String] {
        self.spec.columns()
    }

    fn update(
        &mut self,
        instrument: InstrumentIdx,
        bar: &Bar,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.states[instrument.get()].update(&self.spec, bar)?;
        Ok(())
    }

    fn values(&self, instrument: InstrumentIdx) -> &[f64] {
        self.states[instrument.get()].values()
    }
}

/// Every feature of one instrument over its whole series, as columns.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureFrame {
    /// The instrument.
    pub instrument: InstrumentId,
    /// One timestamp per bar.
    pub ts: Vec<Timestamp>,
    /// One column per pipeline column, each one value per bar (NaN where not ready).
    pub columns: Vec<Vec<f64>>,
}

/// Computes the pipeline over every series, in parallel across instruments.
///
/// # Errors
/// Returns the first error (in instrument order) of a feature with `on_nan = "error"`.
pub fn compute_batch(
    spec: &PipelineSpec,
    data: &[BarSeries],
) -> Result<Vec<FeatureFrame>, FeatureError> {
    data.par_iter()
        .map(|series| compute_one(spec, series))
        .collect()
}

/// Computes the pipeline over one series.
///
/// # Errors
/// As [`compute_batch`].
pub fn compute_one(spec: &PipelineSpec, series: &BarSeries) -> Result<FeatureFrame, FeatureError> {
    let n = series.bars.len();
    let mut columns: Vec<Vec<f64>> = (0..spec.columns().len())
        .map(|_| Vec::with_capacity(n))
        .collect();
    let mut state = PipelineState::new(spec);
    for bar in &series.bars {
        for (column, value) in columns.iter_mut().zip(state.update(spec, bar)?) {
            column.push(*value);
        }
    }
    Ok(FeatureFrame {
        instrument: series.instrument.clone(),
        ts: series.bars.iter().map(|b| b.ts).collect(),
        columns,
    })
}
