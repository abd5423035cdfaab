//! The distribution of per-period returns as equal-width bins.
//!
//! Two passes over the values, neither holding them: one finds their range
//! ([`engine::column::FiniteRange`]; a run's curve on disk has its returns' range worked out as
//! it was written), the next counts them into bins ([`Bins`]).

use super::Histogram;
use engine::column::FiniteRange;

/// Bins of the returns histogram.
pub(crate) const BINS: usize = 40;

/// Returns a histogram of the finite `values` in `BINS` equal bins from the smallest to the
/// largest, numpy's layout: each bin holds `[left, right)` except the last, which also holds its
/// right edge. Equal values (a flat curve) get one bin of width 0.1% around them, so the chart
/// still has a bar to draw; no values give an empty histogram.
#[cfg(test)]
pub(crate) fn histogram(values: &[f64]) -> Histogram {
    let mut bins = Bins::of(values.iter().copied().collect());
    values.iter().for_each(|&v| bins.push(v));
    bins.finish()
}

/// The bins of a histogram, counted in a pass over the values once their range is known.
#[derive(Debug)]
pub(crate) enum Bins {
    /// No finite value.
    Empty,
    /// Equal values, already counted.
    Flat(Histogram),
    /// `BINS` bins from `lo`, `per_unit` of them to a unit of value (the reciprocal of their
    /// width: a multiplication a value instead of a division, as the edges settle the bin).
    Spread {
        lo: f64,
        per_unit: f64,
        histogram: Histogram,
    },
}

impl Bins {
    /// Returns the empty bins of the histogram of values in `range`, to count them into.
    pub(crate) fn of(range: FiniteRange) -> Self {
        let Some((lo, hi)) = range.bounds() else {
            return Self::Empty;
        };
        if hi == lo {
            return Self::Flat(Histogram {
                edges: vec![lo - 0.0005, lo + 0.0005],
                counts: vec![range.finite()],
            });
        }
        let width = (hi - lo) / BINS as f64;
        let edges: Vec<f64> = (0..=BINS)
            .map(|k| if k == BINS { hi } else { lo + width * k as f64 })
            .collect();
        Self::Spread {
            lo,
            per_unit: width.recip(),
            histogram: Histogram {
                edges,
                counts: vec![0; BINS],
            },
        }
    }

    /// Counts the next value.
    pub(crate) fn push(&mut self, v: f64) {
        let Self::Spread {
            lo,
            per_unit,
            histogram: Histogram { edges, counts },
        } = self
        else {
            return;
        };
        if !v.is_finite() {
            return;
        }
        let mut k = (((v - *lo) * *per_unit) as usize).min(BINS - 1);
        // Rounding lands a value a bin off its edges at most (further only when the bins are
        // too narrow for their reciprocal to be finite): settle on the edges.
        while k > 0 && v < edges[k] {
            k -= 1;
        }
        while k + 1 < BINS && v >= edges[k + 1] {
            k += 1;
        }
        counts[k] += 1;
    }

    /// Returns the histogram.
    pub(crate) fn finish(self) -> Histogram {
        match self {
            Self::Empty => Histogram::default(),
            Self::Flat(histogram) | Self::Spread { histogram, .. } => histogram,
        }
    }
}
