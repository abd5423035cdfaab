//! Price charts with the run's fills on them.

use super::series::MAX_POINTS;
use super::{PriceChart, PriceInput, Series};
use engine::{BacktestOutcome, TradeTally};
use market_data::Side;

/// Instruments that get a price chart; a page of 500 charts would be unreadable and heavy.
pub(crate) const MAX_CHARTS: usize = 8;

/// Fill markers kept per chart: more cannot be told apart at chart width.
pub(crate) const MAX_MARKERS: usize = 500;

/// The fill markers of one chart, picked as the fills pass.
struct Markers {
    /// Which of the instrument's priced fills to keep, in order, and the next to look for.
    kept: Vec<usize>,
    next: usize,
    /// The instrument's priced fills seen so far.
    seen: usize,
    buys: Vec<(i64, f64)>,
    sells: Vec<(i64, f64)>,
}

/// Returns the price charts of the first [`MAX_CHARTS`] of the run's instruments that have
/// bars, and whether any instrument's fills were thinned to [`MAX_MARKERS`]. The fills are read
/// once, in time order, keeping only the markers (`trades` counts each instrument's priced
/// fills, so the thinning is chosen before they pass).
pub(crate) fn price_charts(
    outcome: &BacktestOutcome,
    trades: &TradeTally,
    prices: &[PriceInput<'_>],
) -> (Vec<PriceChart>, bool) {
    let charted: Vec<(usize, &PriceInput<'_>)> = outcome
        .instruments
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            let p = prices.iter().find(|p| p.instrument == id.0)?;
            Some((i, p))
        })
        .filter(|(_, p)| !p.bars.is_empty())
        .take(MAX_CHARTS)
        .collect();
    let mut chart_of = vec![None; outcome.instruments.len()];
    let mut markers: Vec<Markers> = (charted.iter().enumerate())
        .map(|(c, &(i, _))| {
            chart_of[i] = Some(c);
            Markers {
                kept: thin(trades.instrument(i).priced_fills, MAX_MARKERS),
                next: 0,
                seen: 0,
                buys: Vec::new(),
                sells: Vec::new(),
            }
        })
        .collect();
    let thinned = (charted.iter()).any(|&(i, _)| {
        let n = trades.instrument(i).priced_fills;
        thin(n, MAX_MARKERS).len() < n
    });
    // Read only when a chart marks fills: a long run's fills are on disk.
    let marked = markers.iter().any(|m| !m.kept.is_empty());
    let fills = marked.then(|| outcome.every_fill());
    for f in fills.into_iter().flatten().filter(|f| f.price.is_finite()) {
        let Some(m) = chart_of.get(f.instrument.get()).copied().flatten() else {
            continue;
        };
        let m = &mut markers[m];
        if m.kept.get(m.next) == Some(&m.seen) {
            m.next += 1;
            let side = if f.side == Side::Buy {
                &mut m.buys
            } else {
                &mut m.sells
            };
            side.push((f.ts.0, f.price));
        }
        m.seen += 1;
    }
    let charts = (charted.into_iter().zip(markers))
        .map(|((_, p), m)| {
            let ts: Vec<i64> = p.bars.iter().map(|b| b.ts.0).collect();
            let close: Vec<f64> = p.bars.iter().map(|b| b.close).collect();
            PriceChart {
                instrument: p.instrument.to_string(),
                close: Series::downsampled(&ts, &close, MAX_POINTS),
                buys: m.buys,
                sells: m.sells,
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
