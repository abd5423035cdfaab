//! Positions over time, as pyfolio's exposure and concentration sheets show them: long, short,
//! gross and net exposure and the share of equity in the five largest positions, per step.
//!
//! Holdings are rebuilt after the run from the fills (each fill counts from its own step on, as
//! the engine books it), valued at each instrument's last close at or before the step, as the
//! equity curve is; before an instrument's first close, at its fill price. All figures are
//! fractions of the step's equity: gross exposure is the gross leverage, and a short book reads
//! negative. Nothing here runs inside the event loop.

use super::figures::Row;
use super::series::Downsampler;
use super::{PositionSeries, PriceInput, Unit};
use engine::{BacktestOutcome, FillRecord};
use market_data::{Bar, Side, Timestamp};
use std::iter::Peekable;

/// One step's exposures, as fractions of its equity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Exposure {
    pub(crate) long: f64,
    pub(crate) short: f64,
    pub(crate) gross: f64,
    pub(crate) net: f64,
    pub(crate) top5: f64,
}

/// How many of the largest positions the concentration figure adds up.
const TOP: usize = 5;

/// The run's holdings rebuilt step by step from its fills, valued at its closes.
pub(crate) struct StepExposures<'a> {
    bars: Vec<&'a [Bar]>,
    /// Every fill of the run in time order (read from disk for a long run's handed on).
    fills: Peekable<Box<dyn Iterator<Item = FillRecord> + 'a>>,
    qty: Vec<f64>,
    mark: Vec<f64>,
    /// Each instrument's next bar.
    next: Vec<usize>,
    /// The step's |position values|, reused.
    values: Vec<f64>,
}

impl<'a> StepExposures<'a> {
    /// Returns the holdings before the first step of `outcome`, or `None` when a position
    /// cannot be valued because the run's bars were not kept.
    pub(crate) fn new(outcome: &'a BacktestOutcome, prices: &[PriceInput<'a>]) -> Option<Self> {
        let n = outcome.instruments.len();
        if outcome.fill_count() > 0 && prices.iter().all(|p| p.bars.is_empty()) {
            return None;
        }
        let bars = (outcome.instruments.iter())
            .map(|id| {
                (prices.iter().find(|p| p.instrument == id.as_str())).map_or(&[][..], |p| p.bars)
            })
            .collect();
        Some(Self {
            bars,
            fills: outcome.every_fill().peekable(),
            qty: vec![0.0; n],
            mark: vec![f64::NAN; n],
            next: vec![0; n],
            values: Vec::with_capacity(n),
        })
    }

    /// Returns the exposures of the next step, at `ts` with `equity`.
    pub(crate) fn step(&mut self, ts: Timestamp, equity: f64) -> Exposure {
        while let Some(f) = self.fills.next_if(|f| f.ts <= ts) {
            let i = f.instrument.get();
            self.qty[i] += if f.side == Side::Buy { f.qty } else { -f.qty };
            if self.mark[i].is_nan() {
                self.mark[i] = f.price;
            }
        }
        self.values.clear();
        let (mut long, mut short) = (0.0, 0.0);
        for i in 0..self.qty.len() {
            while let Some(bar) = self.bars[i].get(self.next[i]).filter(|b| b.ts <= ts) {
                self.mark[i] = bar.close;
                self.next[i] += 1;
            }
            if self.qty[i] != 0.0 {
                let value = self.qty[i] * self.mark[i];
                if value > 0.0 {
                    long += value;
                } else {
                    short += value;
                }
                self.values.push(value.abs());
            }
        }
        self.values.sort_unstable_by(|a, b| b.total_cmp(a));
        let top: f64 = self.values.iter().take(TOP).sum();
        Exposure {
            long: long / equity,
            short: short / equity,
            gross: (long - short) / equity,
            net: (long + short) / equity,
            top5: top / equity,
        }
    }
}

/// The per-step exposures of a whole run, for tests.
#[cfg(test)]
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Exposures {
    pub(crate) long: Vec<f64>,
    pub(crate) short: Vec<f64>,
    pub(crate) gross: Vec<f64>,
    pub(crate) net: Vec<f64>,
    pub(crate) top5: Vec<f64>,
}

/// Returns the exposures of each step of `outcome`'s curve in memory (see [`StepExposures`]).
#[cfg(test)]
pub(crate) fn exposures(outcome: &BacktestOutcome, prices: &[PriceInput<'_>]) -> Option<Exposures> {
    let mut steps = StepExposures::new(outcome, prices)?;
    let mut out = Exposures::default();
    for (ts, equity) in outcome.curve.ts.iter().zip(&outcome.curve.equity) {
        let e = steps.step(*ts, *equity);
        out.long.push(e.long);
        out.short.push(e.short);
        out.gross.push(e.gross);
        out.net.push(e.net);
        out.top5.push(e.top5);
    }
    Some(out)
}

/// The exposures over a run, downsampled for charts and summed up for the table as the steps
/// come.
pub(crate) struct PositionFigures {
    long: Downsampler,
    short: Downsampler,
    gross: Downsampler,
    net: Downsampler,
    top5: Downsampler,
    /// Sum and count of the finite values of gross, long, short and net.
    sums: [(f64, usize); 4],
    /// The largest finite gross and top-5 value (`NaN` without any).
    gross_max: f64,
    top5_max: f64,
}

impl PositionFigures {
    /// Returns the figures of a run of `steps` steps, before its first.
    pub(crate) fn new(steps: usize, max_points: usize) -> Self {
        let chart = || Downsampler::new(steps, max_points);
        Self {
            long: chart(),
            short: chart(),
            gross: chart(),
            net: chart(),
            top5: chart(),
            sums: [(0.0, 0); 4],
            gross_max: f64::NAN,
            top5_max: f64::NAN,
        }
    }

    /// Takes the exposures of the next step, at `ts` (UTC ns).
    pub(crate) fn push(&mut self, ts: i64, e: &Exposure) {
        self.long.push(ts, e.long);
        self.short.push(ts, e.short);
        self.gross.push(ts, e.gross);
        self.net.push(ts, e.net);
        self.top5.push(ts, e.top5);
        for ((sum, n), x) in self.sums.iter_mut().zip([e.gross, e.long, e.short, e.net]) {
            if x.is_finite() {
                (*sum, *n) = (*sum + x, *n + 1);
            }
        }
        let max = |m: f64, x: f64| if x.is_finite() { m.max(x) } else { m };
        self.gross_max = max(self.gross_max, e.gross);
        self.top5_max = max(self.top5_max, e.top5);
    }

    /// Returns the downsampled series and the rows of the metrics table.
    pub(crate) fn finish(self) -> (PositionSeries, Vec<Row>) {
        // The mean of the finite values (`NaN` without any).
        let [gross, long, short, net] = self.sums.map(|(sum, n)| sum / n as f64);
        let rows = position_rows(Some([
            gross,
            self.gross_max,
            long,
            short,
            net,
            self.top5_max,
        ]));
        let series = PositionSeries {
            long: self.long.finish(),
            short: self.short.finish(),
            gross: self.gross.finish(),
            net: self.net.finish(),
            top5: self.top5.finish(),
        };
        (series, rows)
    }
}

/// Returns the rows of the metrics table's "Positions" group from their values in order (mean
/// and peak gross leverage, mean long, short and net exposure, and the peak top-5
/// concentration), or `None` when positions could not be valued.
pub(crate) fn position_rows(values: Option<[f64; 6]>) -> Vec<Row> {
    let reason = values
        .is_none()
        .then(|| "positions cannot be valued: the run's bars were not kept".to_string());
    let [gross_mean, gross_max, long, short, net, top5] = values.unwrap_or([f64::NAN; 6]);
    let row = |key, label, value| Row {
        key,
        label,
        value,
        unit: Unit::Percent,
        group: "Positions",
        reason: reason.clone(),
    };
    vec![
        row("gross_leverage_mean", "Gross leverage (mean)", gross_mean),
        row("gross_leverage_max", "Gross leverage (max)", gross_max),
        row("long_exposure_mean", "Long exposure (mean)", long),
        row("short_exposure_mean", "Short exposure (mean)", short),
        row("net_exposure_mean", "Net exposure (mean)", net),
        row("top5_concentration_max", "Top-5 concentration (max)", top5),
    ]
}
