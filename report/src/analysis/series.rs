//! Downsampling of long series for charts, keeping the extremes.
//!
//! A chart 1,000 pixels wide cannot show 350,000 points, and a page carrying them all would weigh
//! megabytes. Keeping the min and the max of each bucket (rather than every k-th point) keeps
//! every spike and the bottom of every drawdown, so the picture does not lie about risk.
//!
//! The points are chosen as the values arrive ([`Downsampler`]): the bucket size follows from
//! the series' length, known before it is read, so a long run's series is never held whole.

use super::Series;
use engine::order_key;

/// The most points a chart series keeps.
pub const MAX_POINTS: usize = 2000;

/// Returns the indices of at most `max_points` finite values to draw: all of them when they
/// fit, else the min and the max of each of `max_points / 2` equal buckets, in increasing order
/// (the first of equal minima, the last of equal maxima). Non-finite values are never kept.
pub fn downsample_indices(values: &[f64], max_points: usize) -> Vec<usize> {
    let mut kept = Downsampler::new(values.len(), max_points);
    kept.extend(values, |i| i as i64);
    kept.finish().ts.into_iter().map(|i| i as usize).collect()
}

impl Series {
    /// Returns the series of `values` at `ts` (parallel columns; a longer one is cut to the
    /// shorter) downsampled to at most `max_points` finite points by [`downsample_indices`].
    pub fn downsampled(ts: &[i64], values: &[f64], max_points: usize) -> Self {
        let len = ts.len().min(values.len());
        let mut kept = Downsampler::new(len, max_points);
        kept.extend(&values[..len], |k| ts[k]);
        kept.finish()
    }
}

/// A value seen, with its position in the series and its stamp.
#[derive(Clone, Copy)]
struct Point {
    at: usize,
    ts: i64,
    value: f64,
}

/// The points [`downsample_indices`] keeps of a series of known length, chosen as its values
/// arrive in order: each bucket's min and max, emitted when the bucket ends.
pub(crate) struct Downsampler {
    /// Values the series has; any beyond are ignored.
    len: usize,
    /// Values per bucket (1 when every value fits).
    bucket: usize,
    /// Values seen so far, and values left in the current bucket (a count down, not a division
    /// per value: a run's every step feeds several charts).
    seen: usize,
    left: usize,
    /// The current bucket's first minimum and last maximum.
    lo: Option<Point>,
    hi: Option<Point>,
    out: Series,
}

impl Downsampler {
    /// Returns a downsampler of a series of `len` values to at most `max_points`.
    pub(crate) fn new(len: usize, max_points: usize) -> Self {
        let bucket = if len <= max_points {
            1
        } else {
            len.div_ceil((max_points / 2).max(1))
        };
        let kept = max_points.min(len);
        Self {
            len,
            bucket,
            seen: 0,
            left: bucket,
            lo: None,
            hi: None,
            out: Series {
                ts: Vec::with_capacity(kept),
                values: Vec::with_capacity(kept),
            },
        }
    }

    /// Takes the next value of the series, stamped `ts`.
    pub(crate) fn push(&mut self, ts: i64, value: f64) {
        self.extend(std::slice::from_ref(&value), |_| ts);
    }

    /// Takes the next values of the series, `values[k]` stamped `stamp(k)`, as many
    /// [`Downsampler::push`]es would: each bucket's stretch of them is scanned in a tight loop,
    /// and only the points kept are stamped (a long run's charts take millions of values each).
    pub(crate) fn extend(&mut self, values: &[f64], stamp: impl Fn(usize) -> i64) {
        let mut from = 0;
        while from < values.len() && self.seen < self.len {
            let take = (self.left)
                .min(values.len() - from)
                .min(self.len - self.seen);
            // The stretch's first minimum and last maximum, compared by their keys: no finite
            // value has the greatest key (+NaN's) nor the least (-NaN's), so the first finite
            // value replaces both.
            let stretch = &values[from..from + take];
            let (mut lo, mut hi) = ((usize::MAX, u64::MAX), (usize::MAX, 0));
            for (k, &v) in stretch.iter().enumerate() {
                if v.is_finite() {
                    let key = order_key(v);
                    if key < lo.1 {
                        lo = (k, key);
                    }
                    if key >= hi.1 {
                        hi = (k, key);
                    }
                }
            }
            let point = |k: usize| Point {
                at: self.seen + k,
                ts: stamp(from + k),
                value: stretch[k],
            };
            // The bucket's values before the stretch keep a tied minimum; the stretch's, a tied
            // maximum.
            if lo.0 != usize::MAX && self.lo.is_none_or(|p| lo.1 < order_key(p.value)) {
                self.lo = Some(point(lo.0));
            }
            if hi.0 != usize::MAX && self.hi.is_none_or(|p| hi.1 >= order_key(p.value)) {
                self.hi = Some(point(hi.0));
            }
            self.seen += take;
            self.left -= take;
            from += take;
            if self.left == 0 || self.seen == self.len {
                self.end_bucket();
                self.left = self.bucket;
            }
        }
    }

    /// Returns the kept points.
    pub(crate) fn finish(mut self) -> Series {
        self.end_bucket();
        self.out
    }

    fn end_bucket(&mut self) {
        if let (Some(lo), Some(hi)) = (self.lo.take(), self.hi.take()) {
            let (first, second) = if lo.at <= hi.at { (lo, hi) } else { (hi, lo) };
            self.out.ts.push(first.ts);
            self.out.values.push(first.value);
            if first.at != second.at {
                self.out.ts.push(second.ts);
                self.out.values.push(second.value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bucket's min and max by whole-slice scans, as the points were chosen before they
    /// were chosen on the fly.
    fn reference(values: &[f64], max_points: usize) -> Vec<usize> {
        let finite = |i: &usize| values[*i].is_finite();
        if values.len() <= max_points {
            return (0..values.len()).filter(finite).collect();
        }
        let bucket = values.len().div_ceil((max_points / 2).max(1));
        let mut out = Vec::new();
        for start in (0..values.len()).step_by(bucket) {
            let kept = (start..(start + bucket).min(values.len())).filter(finite);
            let lo = (kept.clone()).min_by(|&a, &b| values[a].total_cmp(&values[b]));
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

    #[test]
    fn points_chosen_on_the_fly_are_the_extremes_of_each_bucket() {
        let mut seed = 7u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in [0, 1, 2, 5, 999, 1_000, 1_001, 2_000, 2_001, 4_001, 10_007] {
            // Few distinct levels so buckets hold ties, NaN and infinities now and then, and
            // -0.0 beside 0.0.
            let values: Vec<f64> = (0..len)
                .map(|_| match next() % 50 {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => f64::NEG_INFINITY,
                    3 => -0.0,
                    k => (k % 7) as f64 - 3.0,
                })
                .collect();
            for max_points in [0, 1, 2, 3, 10, 1_000, 2_000] {
                let want = reference(&values, max_points);
                assert_eq!(
                    downsample_indices(&values, max_points),
                    want,
                    "{len} values to {max_points}"
                );
                let ts: Vec<i64> = (0..len as i64).map(|i| 1_000 + 3 * i).collect();
                let series = Series::downsampled(&ts, &values, max_points);
                assert_eq!(series.ts, want.iter().map(|&i| ts[i]).collect::<Vec<_>>());
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                let kept: Vec<f64> = want.iter().map(|&i| values[i]).collect();
                assert_eq!(bits(&series.values), bits(&kept));
                // Fed one value at a time, or in stretches that straddle the buckets.
                for piece in [1, 2, 7, 1_000] {
                    let mut fed = Downsampler::new(len, max_points);
                    for (k, stretch) in values.chunks(piece).enumerate() {
                        fed.extend(stretch, |i| ts[k * piece + i]);
                    }
                    let fed = fed.finish();
                    assert_eq!(fed.ts, series.ts, "{len} values to {max_points} by {piece}");
                    assert_eq!(bits(&fed.values), bits(&series.values));
                }
            }
        }
        // A NaN-only bucket keeps nothing; a longer column is cut to the shorter.
        assert!(downsample_indices(&[f64::NAN; 5_000], 10).is_empty());
        let cut = Series::downsampled(&[1, 2, 3], &[5.0, 6.0], 10);
        assert_eq!((cut.ts, cut.values), (vec![1, 2], vec![5.0, 6.0]));
    }
}
