//! Input drift: the population stability index (PSI) of each model input between the training
//! window and later use.
//!
//! The training window's values of a feature are cut at their deciles (ties merged, so a
//! discrete feature gets fewer bins); later values are counted in the same bins, and
//! PSI = sum over bins of (a - e) ln(a / e), with e and a the training and later shares (each
//! floored at 1e-4 so an empty bin counts as rare, not infinitely surprising). PSI does not
//! change under a monotone transform, so raw and standardised inputs give the same figure.

use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Bins per feature before ties are merged.
const BINS: usize = 10;
/// The share an empty bin counts as.
const FLOOR: f64 = 1e-4;

/// One feature's training bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBins {
    /// The input column.
    pub name: String,
    /// Upper edges of every bin but the last (a value equal to an edge falls in its bin).
    pub edges: Vec<f64>,
    /// Share of the training values in each bin (`edges.len() + 1` bins).
    pub expected: Vec<f64>,
}

impl FeatureBins {
    /// Returns the bin of `v` (a finite value).
    pub fn bin(&self, v: f64) -> usize {
        self.edges.partition_point(|e| *e < v)
    }
}

/// The training window's distribution of every model input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftProfile {
    /// One per input column, in the model's order.
    pub features: Vec<FeatureBins>,
}

impl DriftProfile {
    /// Fits the bins on rows `rows` of each row-major matrix in `parts` (one per instrument,
    /// pooled), skipping non-finite values (warm-up). A feature without a finite value gets one
    /// bin.
    pub fn fit(names: &[String], parts: &[(&[f64], Range<usize>)]) -> Self {
        let f = names.len().max(1);
        let features = (names.iter().enumerate())
            .map(|(j, name)| {
                let mut values: Vec<f64> = column(parts, f, j).collect();
                values.sort_by(f64::total_cmp);
                let mut edges: Vec<f64> = (1..BINS)
                    .filter_map(|q| values.get(q * values.len() / BINS).copied())
                    .collect();
                edges.dedup();
                let mut bins = FeatureBins {
                    name: name.clone(),
                    edges,
                    expected: Vec::new(),
                };
                bins.expected = shares(&bins, &values);
                bins
            })
            .collect();
        Self { features }
    }

    /// Returns the PSI of each feature over rows `rows` of `parts` against the training bins.
    pub fn psi_of(&self, parts: &[(&[f64], Range<usize>)]) -> Vec<f64> {
        let f = self.features.len().max(1);
        (self.features.iter().enumerate())
            .map(|(j, bins)| {
                let values: Vec<f64> = column(parts, f, j).collect();
                psi(&bins.expected, &shares(bins, &values))
            })
            .collect()
    }
}

/// The finite values of column `j` over the given rows.
fn column<'a>(
    parts: &'a [(&'a [f64], Range<usize>)],
    f: usize,
    j: usize,
) -> impl Iterator<Item = f64> + 'a {
    parts.iter().flat_map(move |(values, rows)| {
        let end = rows.end.min(values.len() / f);
        (rows.start.min(end)..end)
            .map(move |t| values[t * f + j])
            .filter(|v| v.is_finite())
    })
}

/// Share of `values` in each bin (all zero without values).
fn shares(bins: &FeatureBins, values: &[f64]) -> Vec<f64> {
    let mut counts = vec![0u64; bins.edges.len() + 1];
    for &v in values {
        counts[bins.bin(v)] += 1;
    }
    let n = values.len().max(1) as f64;
    counts.iter().map(|&c| c as f64 / n).collect()
}

/// Returns the PSI of `actual` shares against `expected` shares, bin by bin; NaN when nothing
/// was observed.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    if actual.iter().sum::<f64>() == 0.0 {
        return f64::NAN;
    }
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(FLOOR), a.max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}
