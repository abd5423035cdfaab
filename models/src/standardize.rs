//! Per-feature standardisation, fitted on training rows only and then frozen: the same
//! statistics transform validation, test and live rows, and travel with the saved model so
//! inference reproduces training's preprocessing exactly.

use super::dataset::check_matrix;
use super::error::{MlError, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Frozen per-feature means and standard deviations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each feature over the fitting rows.
    pub mean: Vec<f64>,
    /// Population standard deviation of each feature over the fitting rows (1 where it is 0,
    /// so a constant feature maps to 0 instead of dividing by zero).
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Fits the statistics on rows `rows` of each row-major matrix in `parts` (one per
    /// instrument, pooled), skipping non-finite values (warm-up).
    ///
    /// # Errors
    /// Returns an error when a matrix is not a whole number of rows, a range reaches past its
    /// matrix, or a feature has no finite value in the fitting rows.
    pub fn fit(parts: &[(&[f64], Range<usize>)], n_features: usize) -> Result<Self> {
        let mut count = vec![0usize; n_features];
        let mut sum = vec![0.0f64; n_features];
        for (values, rows) in parts {
            for row in fitting_rows(values, n_features, rows)? {
                for (j, &v) in row.iter().enumerate() {
                    if v.is_finite() {
                        count[j] += 1;
                        sum[j] += v;
                    }
                }
            }
        }
        if let Some(j) = count.iter().position(|&c| c == 0) {
            return Err(MlError::NoSamples {
                reason: format!(
                    "feature {j} has no finite value in the training rows, so it cannot be \
                     standardised"
                ),
            });
        }
        let mean: Vec<f64> = sum.iter().zip(&count).map(|(s, &c)| s / c as f64).collect();
        // Second pass around the mean: exact enough where one-pass sums of squares cancel.
        let mut ss = vec![0.0f64; n_features];
        for (values, rows) in parts {
            for row in fitting_rows(values, n_features, rows)? {
                for (j, &v) in row.iter().enumerate() {
                    if v.is_finite() {
                        ss[j] += (v - mean[j]).powi(2);
                    }
                }
            }
        }
        let std = ss
            .iter()
            .zip(&count)
            .map(|(s, &c)| {
                let sd = (s / c as f64).sqrt();
                if sd > 0.0 && sd.is_finite() { sd } else { 1.0 }
            })
            .collect();
        Ok(Self { mean, std })
    }

    /// Returns the number of features.
    pub fn features(&self) -> usize {
        self.mean.len()
    }

    /// Standardises one row in place (NaN stays NaN).
    ///
    /// # Errors
    /// Returns a shape error when the row's length is not the number of features.
    pub fn apply_row(&self, row: &mut [f64]) -> Result<()> {
        if row.len() != self.features() {
            return Err(MlError::Shape {
                what: "feature row",
                expected: format!("{} features", self.features()),
                got: row.len().to_string(),
            });
        }
        for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *v = (*v - m) / s;
        }
        Ok(())
    }

    /// Standardises every row of a row-major matrix in place.
    ///
    /// # Errors
    /// Returns a shape error when `values` is not a whole number of rows.
    pub fn apply(&self, values: &mut [f64]) -> Result<()> {
        check_matrix(values, self.features())?;
        for row in values.chunks_exact_mut(self.features()) {
            self.apply_row(row)?;
        }
        Ok(())
    }
}

fn fitting_rows<'a>(
    values: &'a [f64],
    n_features: usize,
    rows: &Range<usize>,
) -> Result<std::slice::ChunksExact<'a, f64>> {
    let n_rows = check_matrix(values, n_features)?;
    if rows.end > n_rows || rows.start > rows.end {
        return Err(MlError::Shape {
            what: "standardisation rows",
            expected: format!("a range within the {n_rows} rows"),
            got: format!("{rows:?}"),
        });
    }
    Ok(values[rows.start * n_features..rows.end * n_features].chunks_exact(n_features))
}
