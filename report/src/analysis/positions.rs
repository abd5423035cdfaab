//! Positions over time, as pyfolio's exposure and concentration sheets show them: long, short,
//! gross and net exposure and the share of equity in the five largest positions, per step.
//!
//! Holdings are rebuilt after the run from the fills (each fill counts from its own step on, as
//! the engine books it), valued at each instrument's last close at or before the step, as the
//! equity curve is; before an instrument's first close, at its fill price. All figures are
//! fractions of the step's equity: gross exposure is the gross leverage, and a short book reads
//! negative. Nothing here runs inside the event loop.

use super::figures::Row;
use super::{PositionSeries, PriceInput, Series, Unit};
use engine::BacktestOutcome;
use market_data::Side;

/// The per-step exposures, full length (downsampled by the caller).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Exposures {
    pub(crate) long: Vec<f64>,
    pub(crate) short: Vec<f64>,
    pub(crate) gross: Vec<f64>,
    pub(crate) net: Vec<f64>,
    pub(crate) top5: Vec<f64>,
}

/// How many of the largest positions the concentration figure adds up.
const TOP: usize = 5;

/// Returns the exposures of each step of `outcome`, or `None` when a position cannot be valued
/// because the run's bars were not kept.
pub(crate) fn exposures(outcome: &BacktestOutcome, prices: &[PriceInput<'_>]) -> Option<Exposures> {
    let n = outcome.instruments.len();
    if !outcome.fills.is_empty() && prices.iter().all(|p| p.bars.is_empty()) {
        return None;
    }
    let bars: Vec<&[market_data::Bar]> = (outcome.instruments.iter())
        .map(|id| (prices.iter().find(|p| p.instrument == id.as_str())).map_or(&[][..], |p| p.bars))
        .collect();
    let (mut qty, mut mark, mut next) = (vec![0.0; n], vec![f64::NAN; n], vec![0; n]);
    let mut values = Vec::with_capacity(n);
    let mut fills = outcome.fills.iter().peekable();
    let mut out = Exposures::default();
    for (ts, equity) in outcome.curve.ts.iter().zip(&outcome.curve.equity) {
        while let Some(f) = fills.next_if(|f| f.ts <= *ts) {
            let i = f.instrument.get();
            qty[i] += if f.side == Side::Buy { f.qty } else { -f.qty };
            if mark[i].is_nan() {
                mark[i] = f.price;
            }
        }
        values.clear();
        let (mut long, mut short) = (0.0, 0.0);
        for i in 0..n {
            while let Some(bar) = bars[i].get(next[i]).filter(|b| b.ts <= *ts) {
                mark[i] = bar.close;
                next[i] += 1;
            }
            if qty[i] != 0.0 {
                let value = qty[i] * mark[i];
                if value > 0.0 {
                    long += value;
                } else {
                    short += value;
                }
                values.push(value.abs());
            }
        }
        values.sort_unstable_by(|a, b| b.total_cmp(a));
        let top: f64 = values.iter().take(TOP).sum();
        out.long.push(long / equity);
        out.short.push(short / equity);
        out.gross.push((long - short) / equity);
        out.net.push((long + short) / equity);
        out.top5.push(top / equity);
    }
    Some(out)
}

impl PositionSeries {
    /// Returns the exposures downsampled for charts on the run's timestamps.
    pub(crate) fn of(ts: &[i64], e: &Exposures, max_points: usize) -> Self {
        Self {
            long: Series::downsampled(ts, &e.long, max_points),
            short: Series::downsampled(ts, &e.short, max_points),
            gross: Series::downsampled(ts, &e.gross, max_points),
            net: Series::downsampled(ts, &e.net, max_points),
            top5: Series::downsampled(ts, &e.top5, max_points),
        }
    }
}

/// Returns the rows of the metrics table's "Positions" group: mean and peak gross leverage,
/// mean long, short and net exposure, and the peak top-5 concentration.
pub(crate) fn position_rows(e: Option<&Exposures>) -> Vec<Row> {
    let reason = e
        .is_none()
        .then(|| "positions cannot be valued: the run's bars were not kept".to_string());
    let mean = |pick: fn(&Exposures) -> &Vec<f64>| e.map_or(f64::NAN, |e| mean_of(pick(e)));
    let max = |pick: fn(&Exposures) -> &Vec<f64>| {
        e.map_or(f64::NAN, |e| {
            pick(e)
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .fold(f64::NAN, f64::max)
        })
    };
    let row = |key, label, value| Row {
        key,
        label,
        value,
        unit: Unit::Percent,
        group: "Positions",
        reason: reason.clone(),
    };
    vec![
        row(
            "gross_leverage_mean",
            "Gross leverage (mean)",
            mean(|e| &e.gross),
        ),
        row(
            "gross_leverage_max",
            "Gross leverage (max)",
            max(|e| &e.gross),
        ),
        row(
            "long_exposure_mean",
            "Long exposure (mean)",
            mean(|e| &e.long),
        ),
        row(
            "short_exposure_mean",
            "Short exposure (mean)",
            mean(|e| &e.short),
        ),
        row("net_exposure_mean", "Net exposure (mean)", mean(|e| &e.net)),
        row(
            "top5_concentration_max",
            "Top-5 concentration (max)",
            max(|e| &e.top5),
        ),
    ]
}

/// The mean of the finite values (`NaN` without any).
fn mean_of(values: &[f64]) -> f64 {
    let (sum, n) = (values.iter())
        .filter(|x| x.is_finite())
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    sum / n as f64
}
