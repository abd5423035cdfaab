//! Drawdown periods of an equity curve: peak, valley, recovery.
//!
//! The curve is cut wherever equity stands at (or above) its running peak, so the periods never
//! overlap and each runs from the last peak before a fall to the first point that regains it.
//! The worst of them is the max drawdown that [`engine::metrics::max_drawdown`] measures (the
//! depth is computed the same way, `valley / peak - 1`), and its length in points is what
//! [`engine::metrics::max_drawdown_duration`] counts for the longest one.

use super::Drawdown;

/// Returns every drawdown period of `equity` (stamped by `ts`, same length) in time order; one
/// still open at the end has no recovery and runs to the last point.
pub(crate) fn drawdown_periods(ts: &[i64], equity: &[f64]) -> Vec<Drawdown> {
    let n = ts.len().min(equity.len());
    let mut out = Vec::new();
    // (peak index, valley index) of the period in progress.
    let mut open: Option<(usize, usize)> = None;
    let mut peak_at = 0;
    let period = |peak: usize, valley: usize, end: usize, recovered: bool| Drawdown {
        peak: ts[peak],
        valley: ts[valley],
        recovery: recovered.then_some(ts[end]),
        depth: equity[valley] / equity[peak] - 1.0,
        periods: end - peak,
        duration_ns: ts[end] - ts[peak],
    };
    for t in 0..n {
        if equity[t] >= equity[peak_at] {
            if let Some((peak, valley)) = open.take() {
                out.push(period(peak, valley, t, true));
            }
            peak_at = t;
        } else {
            match &mut open {
                Some((_, valley)) if equity[t] < equity[*valley] => *valley = t,
                Some(_) => {}
                None => open = Some((peak_at, t)),
            }
        }
    }
    if let Some((peak, valley)) = open {
        out.push(period(peak, valley, n - 1, false));
    }
    out
}

/// Returns the `k` deepest periods, deepest first (earlier first among equals).
pub(crate) fn worst(mut periods: Vec<Drawdown>, k: usize) -> Vec<Drawdown> {
    periods.sort_by(|a, b| a.depth.total_cmp(&b.depth));
    periods.truncate(k);
    periods
}
