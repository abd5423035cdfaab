//! Price charts with the run's fills on them.

use super::series::MAX_POINTS;
use super::{PriceChart, PriceInput, Series};
use engine::BacktestOutcome;
use market_data::Side;

/// Instruments that get a price chart; a page of 500 charts would be unreadable and heavy.
pub(crate) const MAX_CHARTS: usize = 8;

/// Fill markers kept per chart: more cannot be told apart at chart width.
pub(crate) const MAX_MARKERS: usize = 500;

/// Returns the price charts of the first [`MAX_CHARTS`] of the run's instruments that have
/// bars, and whether any instrument's fills were thinned to [`MAX_MARKERS`].
pub(crate) fn price_charts(
    outcome: &BacktestOutcome,
    prices: &[PriceInput<'_>],
) -> (Vec<PriceChart>, bool) {
    let mut thinned = false;
    let charts = outcome
        .instruments
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            let p = prices.iter().find(|p| p.instrument == id.0)?;
            Some((i, p))
        })
        .filter(|(_, p)| !p.bars.is_empty())
        .take(MAX_CHARTS)
        .map(|(i, p)| {
            let ts: Vec<i64> = p.bars.iter().map(|b| b.ts.0).collect();
            let close: Vec<f64> = p.bars.iter().map(|b| b.close).collect();
            let fills: Vec<(Side, i64, f64)> = outcome
                .fills
                .iter()
                .filter(|f| f.instrument.get() == i && f.price.is_finite())
                .map(|f| (f.side, f.ts.0, f.price))
                .collect();
            let kept = thin(fills.len(), MAX_MARKERS);
            thinned |= kept.len() < fills.len();
            let pick = |side: Side| {
                kept.iter()
                    .map(|&k| fills[k])
                    .filter(|f| f.0 == side)
                    .map(|f| (f.1, f.2))
                    .collect()
            };
            PriceChart {
                instrument: p.instrument.to_string(),
                close: Series::downsampled(&ts, &close, MAX_POINTS),
                buys: pick(Side::Buy),
                sells: pick(Side::Sell),
            }
        })
        .collect();
    (charts, thinned)
}

/// Returns at most `max` indices of `0..n` spread evenly, always keeping the first and the last.
pub(crate) fn thin(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    if max < 2 {
        return (0..max.min(n)).collect();
    }
    // k * (n - 1) / (max - 1) runs from 0 to n - 1 in `max` strictly increasing steps (n > max).
    (0..max).map(|k| k * (n - 1) / (max - 1)).collect()
}
