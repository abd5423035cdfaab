//! Running a compiled pipeline: one state per instrument, updated one bar at a time (streaming,
//! inside the event loop), or over whole series (batch, in parallel across instruments). Batch
//! drives the same streaming kernels, so the two are bit-identical by construction.

use super::kernel::Kernel;
use super::spec::{BarField, FeatureError, PipelineSpec, Source};
use crate::indicators::BandsAndZScore;
use crate::indicators::Indicator;
use engine::FeatureSource;
use market_data::{Bar, BarSeries, InstrumentId, InstrumentIdx, Timestamp};
use rayon::prelude::*;
use std::sync::Arc;

/// The largest number of inputs a feature reads.
pub(crate) const MAX_INPUTS: usize = 4;

/// Slots before the columns in the value row: the bar's open, high, low, close, volume and
/// typical price, so that every input, bar field or feature, is one indexed load.
const BAR_SLOTS: usize = 6;

/// One feature at run time, with everything the hot loop reads in one place.
#[derive(Debug)]
struct Node {
    kernel: Kernel,
    /// Value-row slots of its inputs (the first `kernel.inputs()` of them).
    inputs: [usize; MAX_INPUTS],
    /// Value-row slots of its outputs: `first..first + outputs`.
    first: usize,
    outputs: usize,
    /// Its position in the spec, for error messages.
    index: usize,
    max_gap_ns: i64,
    nan_is_error: bool,
    /// Updates where an input was not finite. Fewer than the state's `updates` means the
    /// inputs were ready at least once: counted on the (rare) failure path only, so the hot
    /// path stores nothing per feature.
    not_ready: u64,
}

/// Fuses each `zscore` node into a `bollinger` node reading the same input over the same
/// period, with the same NaN and gap rules: one window then serves both (see
/// [`BandsAndZScore`]), with values bit-identical to the two run apart. The fused node runs
/// where the earlier of the two ran, so every reader of either still comes after it.
fn fuse_bands_and_zscores(nodes: &mut Vec<Node>) {
    let mut z = 0;
    while z < nodes.len() {
        let partner = match &nodes[z].kernel {
            Kernel::ZScore(zscore) => nodes.iter().position(|b| {
                matches!(&b.kernel, Kernel::Bollinger(bands) if bands.period() == zscore.period())
                    && b.inputs[0] == nodes[z].inputs[0]
                    && b.max_gap_ns == nodes[z].max_gap_ns
                    && b.nan_is_error == nodes[z].nan_is_error
            }),
            _ => None,
        };
        let Some(b) = partner else {
            z += 1;
            continue;
        };
        let zscore = nodes.remove(z);
        let b = if b > z { b - 1 } else { b };
        let mut fused = nodes.remove(b);
        if let Kernel::Bollinger(bands) = &fused.kernel {
            fused.kernel = Kernel::BandsAndZScore(BandsAndZScore::new(bands.clone()), zscore.first);
        }
        let at = if z < b {
            // Run at the z-score's (earlier) position, under its name for errors.
            fused.index = zscore.index;
            z
        } else {
            b
        };
        nodes.insert(at, fused);
        // Every node before `z` was looked at; the one now at `z` was not.
    }
}

/// The pipeline's state for one instrument.
#[derive(Debug)]
pub struct PipelineState {
    nodes: Vec<Node>,
    /// The bar's fields, then every column.
    row: Vec<f64>,
    /// Bars fed so far (every node is stepped once per bar).
    updates: u64,
    last_ts: Option<Timestamp>,
    /// Whether any feature reads the typical price (a division worth skipping otherwise).
    reads_typical: bool,
    /// Whether any feature resets on gaps.
    watches_gaps: bool,
    /// The shortest `max_gap` of any feature (`i64::MAX` when none watches gaps).
    shortest_max_gap: i64,
}

impl PipelineState {
    /// Returns a fresh state: every feature warming up.
    pub fn new(spec: &PipelineSpec) -> Self {
        let slot = |source: &Source| match *source {
            Source::Bar(field) => field as usize,
            Source::Column(c) => BAR_SLOTS + c,
        };
        let mut nodes = spec
            .nodes()
            .iter()
            .enumerate()
            .map(|(index, n)| {
                let mut inputs = [0; MAX_INPUTS];
                for (to, from) in inputs.iter_mut().zip(&n.inputs) {
                    *to = slot(from);
                }
                Node {
                    kernel: n.kernel.clone(),
                    inputs,
                    first: BAR_SLOTS + n.first_column,
                    outputs: n.outputs,
                    index,
                    max_gap_ns: n.max_gap_ns.unwrap_or(i64::MAX),
                    nan_is_error: n.nan_is_error,
                    not_ready: 0,
                }
            })
            .collect();
        fuse_bands_and_zscores(&mut nodes);
        let reads_typical = spec
            .nodes()
            .iter()
            .any(|n| n.inputs.contains(&Source::Bar(BarField::Typical)));
        let watches_gaps = spec.nodes().iter().any(|n| n.max_gap_ns.is_some());
        let shortest_max_gap = nodes.iter().map(|n| n.max_gap_ns).min().unwrap_or(i64::MAX);
        Self {
            nodes,
            row: vec![f64::NAN; BAR_SLOTS + spec.columns().len()],
            updates: 0,
            last_ts: None,
            reads_typical,
            watches_gaps,
            shortest_max_gap,
        }
    }

    /// Feeds one bar and returns every column's value (NaN where not ready).
    ///
    /// # Errors
    /// Returns an error when a feature with `on_nan = "error"` gets a NaN input after its
    /// inputs were ready.
    // Never inlined: the loop then compiles the same wherever it is called from (inlined next
    // to `new`, the compiler once kept the row length as a constant on the stack instead).
    #[inline(never)]
    pub fn update(&mut self, spec: &PipelineSpec, bar: &Bar) -> Result<&[f64], FeatureError> {
        let mut gap = 0;
        if self.watches_gaps {
            gap = self.last_ts.map_or(0, |last| bar.ts.0 - last.0);
            self.last_ts = Some(bar.ts);
        }
        let typical = if self.reads_typical {
            BarField::Typical.of(bar)
        } else {
            f64::NAN
        };
        // Scalar stores: the loads that follow forward from them, which a vector copy defeats.
        let fields = [bar.open, bar.high, bar.low, bar.close, bar.volume, typical];
        for (slot, value) in self.row.iter_mut().zip(fields) {
            *slot = value;
        }
        // Resets for a gap first, in a pass of their own: the per-feature loop below then has
        // no gap test (a reset only clears the kernel before its update, whatever ran before).
        if gap > self.shortest_max_gap {
            for node in self.nodes.iter_mut().filter(|n| gap > n.max_gap_ns) {
                node.kernel.reset();
            }
        }
        self.updates += 1;
        let mut failed = None;
        // The row as a local slice: its length stays in a register, where through `self` it
        // would be reloaded after every kernel's stores.
        let row = &mut self.row[..];
        for node in &mut self.nodes {
            if node.kernel.step(bar.ts, &node.inputs, row, node.first) {
                continue;
            }
            node.not_ready += 1;
            if node.nan_is_error && node.not_ready < self.updates {
                failed = Some(node.index);
                break;
            }
            node.kernel.reset();
            row[node.first..node.first + node.outputs].fill(f64::NAN);
            if let Some(slot) = node.kernel.zscore_slot() {
                row[slot] = f64::NAN;
            }
        }
        if let Some(index) = failed {
            return Err(self.nan_error(spec, index, bar.ts));
        }
        Ok(self.values())
    }

    /// The error of feature `index` (spec position), which has `on_nan = "error"` and got a
    /// non-finite input at `ts` after its inputs were ready.
    #[cold]
    fn nan_error(&mut self, spec: &PipelineSpec, index: usize, ts: Timestamp) -> FeatureError {
        // The nodes after it miss this bar: count it as not ready for them too, so
        // `not_ready < updates` keeps meaning "was ready at some point".
        if let Some(at) = self.nodes.iter().position(|n| n.index == index) {
            for later in &mut self.nodes[at + 1..] {
                later.not_ready += 1;
            }
        }
        FeatureError::new(
            &spec.nodes()[index].config.name,
            Some("on_nan"),
            format!("finite inputs (on_nan = \"error\"), but an input is not finite at {ts}"),
        )
    }

    /// Returns how many kernels run per bar (fewer than features when some are fused).
    #[cfg(test)]
    pub(crate) fn kernels(&self) -> usize {
        self.nodes.len()
    }

    /// Returns the values of the last update.
    pub fn values(&self) -> &[f64] {
        &self.row[BAR_SLOTS..]
    }
}

/// The pipeline over many instruments, as the engine sees it during a run.
#[derive(Debug)]
pub struct PipelineRunner {
    spec: Arc<PipelineSpec>,
    states: Vec<PipelineState>,
    /// Per instrument, its bar's position in the current step (reused, never reallocated).
    in_step: Vec<Option<usize>>,
}

/// Feature updates per step (instruments x features) from which spreading a step over threads
/// pays for rayon's fork-join (a few microseconds) on features costing ~5-20 ns each.
const PARALLEL_MIN_WORK: usize = 1024;

impl PipelineRunner {
    /// Returns a runner for `instruments` instruments.
    pub fn new(spec: Arc<PipelineSpec>, instruments: usize) -> Self {
        let states = (0..instruments)
            .map(|_| PipelineState::new(&spec))
            .collect();
        Self {
            spec,
            states,
            in_step: vec![None; instruments],
        }
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

    fn update_step(
        &mut self,
        bars: &[(InstrumentIdx, Bar)],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if bars.len() * self.spec.nodes().len() < PARALLEL_MIN_WORK {
            for (instrument, bar) in bars {
                self.states[instrument.get()].update(&self.spec, bar)?;
            }
            return Ok(());
        }
        for (position, (instrument, _)) in bars.iter().enumerate() {
            self.in_step[instrument.get()] = Some(position);
        }
        let (spec, in_step) = (&*self.spec, &self.in_step);
        // Each instrument's state reads only its own bars, so the result is the same on any
        // number of threads.
        let result = self
            .states
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(i, state)| {
                in_step[i].map_or(Ok(()), |p| state.update(spec, &bars[p].1).map(|_| ()))
            });
        for (instrument, _) in bars {
            self.in_step[instrument.get()] = None;
        }
        Ok(result?)
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
