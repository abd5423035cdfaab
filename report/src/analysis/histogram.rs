//! The distribution of per-period returns as equal-width bins.

use super::Histogram;

/// Bins of the returns histogram.
pub(crate) const BINS: usize = 40;

/// Returns a histogram of the finite `values` in `BINS` equal bins from the smallest to the
/// largest, numpy's layout: each bin holds `[left, right)` except the last, which also holds its
/// right edge. Equal values (a flat curve) get one bin of width 0.1% around them, so the chart
/// still has a bar to draw; no values give an empty histogram.
pub(crate) fn histogram(values: &[f64]) -> Histogram {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let Some((lo, hi)) = finite.iter().fold(None, |acc: Option<(f64, f64)>, &v| {
        Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
    }) else {
        return Histogram::default();
    };
    if hi == lo {
        return Histogram {
            edges: vec![lo - 0.0005, lo + 0.0005],
            counts: vec![finite.len() as u64],
        };
    }
    let width = (hi - lo) / BINS as f64;
    let edges: Vec<f64> = (0..=BINS)
        .map(|k| if k == BINS { hi } else { lo + width * k as f64 })
        .collect();
    let mut counts = vec![0u64; BINS];
    for v in finite {
        let k = (((v - lo) / width) as usize).min(BINS - 1);
        // Rounding in the division can land a value one bin off its edges; settle on the edges.
        let k = if v < edges[k] {
            k.saturating_sub(1)
        } else if k + 1 < BINS && v >= edges[k + 1] {
            k + 1
        } else {
            k
        };
        counts[k] += 1;
    }
    Histogram { edges, counts }
}
