//! Downsampling of long series for charts, keeping the extremes.
//!
//! A chart 1,000 pixels wide cannot show 350,000 points, and a page carrying them all would weigh
//! megabytes. Keeping the min and the max of each bucket (rather than every k-th point) keeps
//! every spike and the bottom of every drawdown, so the picture does not lie about risk.

use super::Series;

/// The most points a chart series keeps.
pub const MAX_POINTS: usize = 2000;

/// Returns the indices of at most `max_points` finite values to draw: all of them when they
/// fit, else the min and the max of each of `max_points / 2` equal buckets, in increasing order.
/// Non-finite values are never kept.
pub fn downsample_indices(values: &[f64], max_points: usize) -> Vec<usize> {
    let finite = |i: &usize| values[*i].is_finite();
    if values.len() <= max_points {
        return (0..values.len()).filter(finite).collect();
    }
    let bucket = values.len().div_ceil((max_points / 2).max(1));
    let mut out = Vec::with_capacity(max_points);
    for start in (0..values.len()).step_by(bucket) {
        let kept = (start..(start + bucket).min(values.len())).filter(finite);
        let lo = kept
            .clone()
            .min_by(|&a, &b| values[a].total_cmp(&values[b]));
        let hi = kept.max_by(|&a, &b| values[a].total_cmp(&values[b]));
        if let (Some(lo), Some(hi)) = (lo, hi) {
            out.push(lo.min(hi));
            if lo != hi {
                out.push(lo.max(hi));
            }
        }
    }
    out
}

impl Series {
    /// Returns the series of `values` at `ts` (parallel columns; a longer one is cut to the
    /// shorter) downsampled to at most `max_points` finite points by [`downsample_indices`].
    pub fn downsampled(ts: &[i64], values: &[f64], max_points: usize) -> Self {
        let n = ts.len().min(values.len());
        let kept = downsample_indices(&values[..n], max_points);
        Self {
            ts: kept.iter().map(|&i| ts[i]).collect(),
            values: kept.iter().map(|&i| values[i]).collect(),
        }
    }
}
