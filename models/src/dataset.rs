//! Samples from a feature matrix: the window of past feature rows that ends at each decision
//! row. Nothing here looks past the decision row; labels, which do, are built in `labels` and
//! attached with [`Dataset::from_windows`].

use super::error::{MlError, Result};
use std::ops::Range;

/// Returns the positions of `wanted` among the pipeline's `columns`, in `wanted`'s order.
///
/// # Errors
/// Names the first wanted column the pipeline does not produce.
pub fn column_indices(columns: &[String], wanted: &[String]) -> Result<Vec<usize>> {
    wanted
        .iter()
        .map(|name| {
            columns
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| MlError::UnknownColumn {
                    name: name.clone(),
                    available: columns.to_vec(),
                })
        })
        .collect()
}

/// Returns the row-major matrix of columns `indices` taken from the row-major `values` of
/// `n_columns` columns.
///
/// # Errors
/// Returns a shape error when `values` is not a whole number of rows or an index is out of range.
pub fn select_columns(values: &[f64], n_columns: usize, indices: &[usize]) -> Result<Vec<f64>> {
    check_matrix(values, n_columns)?;
    if let Some(&bad) = indices.iter().find(|&&i| i >= n_columns) {
        return Err(MlError::Shape {
            what: "selected column",
            expected: format!("an index below {n_columns}"),
            got: bad.to_string(),
        });
    }
    Ok(values
        .chunks_exact(n_columns)
        .flat_map(|row| indices.iter().map(|&i| row[i]))
        .collect())
}

/// Returns the number of rows of a row-major matrix of `n_features` columns.
pub(crate) fn check_matrix(values: &[f64], n_features: usize) -> Result<usize> {
    if n_features == 0 || !values.len().is_multiple_of(n_features) {
        return Err(MlError::Shape {
            what: "feature matrix",
            expected: format!("a whole number of rows of {n_features} features (>= 1)"),
            got: format!("{} values", values.len()),
        });
    }
    Ok(values.len() / n_features)
}

/// Unlabelled samples: the window of feature rows ending at each decision row whose window is
/// entirely finite. What a model sees at inference, and the inputs of a [`Dataset`].
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    /// Samples, row-major `[n x window x features]`.
    pub x: Vec<f32>,
    /// Number of samples.
    pub n: usize,
    /// Rows per sample.
    pub window: usize,
    /// Features per row.
    pub features: usize,
    /// The decision row of each sample (the window's last row).
    pub rows: Vec<usize>,
}

impl Windows {
    /// Builds a sample for every decision row in `rows` whose window (rows
    /// `t - window + 1 ..= t`) holds only finite values. Rows whose window starts before the
    /// first row, or holds a NaN (a feature warming up, or reset by a gap), are skipped.
    ///
    /// # Errors
    /// Returns an error when `values` is not a whole number of rows of `n_features`, `rows`
    /// reaches past the data, the data is shorter than one window, or no window is finite.
    pub fn build(
        values: &[f64],
        n_features: usize,
        window: usize,
        rows: Range<usize>,
    ) -> Result<Self> {
        let n_rows = check_matrix(values, n_features)?;
        if window == 0 {
            return Err(super::error::config_error("window", "a value >= 1, got 0"));
        }
        if rows.end > n_rows || rows.start > rows.end {
            return Err(MlError::Shape {
                what: "decision rows",
                expected: format!("a range within the {n_rows} rows"),
                got: format!("{rows:?}"),
            });
        }
        if n_rows < window {
            return Err(MlError::TooLittleData {
                rows: n_rows,
                needed: window,
                why: format!("a window of {window} rows"),
            });
        }
        let finite: Vec<bool> = values
            .chunks_exact(n_features)
            .map(|row| row.iter().all(|v| v.is_finite()))
            .collect();
        // Finite rows ending at each row, so a window's check is one comparison.
        let mut run = vec![0usize; n_rows];
        let mut count = 0;
        for (r, ok) in finite.iter().enumerate() {
            count = if *ok { count + 1 } else { 0 };
            run[r] = count;
        }
        let decision: Vec<usize> = rows.clone().filter(|&t| run[t] >= window).collect();
        if decision.is_empty() {
            let reason = match finite[rows.clone()].iter().position(|ok| !ok) {
                _ if rows.is_empty() => "the decision row range is empty".to_string(),
                Some(r) => format!(
                    "every window of {window} rows ending in rows {rows:?} holds a non-finite \
                     feature (the first at row {}): the features are still warming up or the \
                     window is longer than the finite stretches",
                    rows.start + r
                ),
                None => format!(
                    "the windows of {window} rows ending in rows {rows:?} reach back into \
                     warm-up rows or before the first row"
                ),
            };
            return Err(MlError::NoSamples { reason });
        }
        let mut x = Vec::with_capacity(decision.len() * window * n_features);
        for &t in &decision {
            let from = (t + 1 - window) * n_features;
            x.extend(values[from..(t + 1) * n_features].iter().map(|&v| v as f32));
        }
        Ok(Self {
            x,
            n: decision.len(),
            window,
            features: n_features,
            rows: decision,
        })
    }

    /// Returns sample `i`, `[window x features]` row-major.
    pub fn sample(&self, i: usize) -> &[f32] {
        let size = self.window * self.features;
        &self.x[i * size..(i + 1) * size]
    }
}

/// Labelled samples of one or several instruments.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Samples, row-major `[n x window x features]`.
    pub x: Vec<f32>,
    /// Class of each sample: 0 down, 1 flat, 2 up (or low, medium, high volatility).
    pub y: Vec<u32>,
    /// Number of samples.
    pub n: usize,
    /// Rows per sample.
    pub window: usize,
    /// Features per row.
    pub features: usize,
    /// The decision row of each sample, in its instrument's rows.
    pub rows: Vec<usize>,
    /// The instrument of each sample.
    pub instrument: Vec<u32>,
}

impl Dataset {
    /// Returns an empty dataset of samples shaped `[window x features]`.
    pub fn empty(window: usize, features: usize) -> Self {
        Self {
            x: Vec::new(),
            y: Vec::new(),
            n: 0,
            window,
            features,
            rows: Vec::new(),
            instrument: Vec::new(),
        }
    }

    /// Attaches `labels` (one per row of the instrument's data, `None` where the label is
    /// unknown, such as near the end of the data) to `windows`, dropping unlabelled samples.
    ///
    /// # Errors
    /// Returns an error when a window's row has no entry in `labels`, or no sample has a label.
    pub fn from_windows(
        windows: &Windows,
        labels: &[Option<u32>],
        instrument: u32,
    ) -> Result<Self> {
        if let Some(&last) = windows.rows.last()
            && last >= labels.len()
        {
            return Err(MlError::Shape {
                what: "labels",
                expected: format!("one label per row, at least {}", last + 1),
                got: labels.len().to_string(),
            });
        }
        let mut out = Self::empty(windows.window, windows.features);
        for (i, &t) in windows.rows.iter().enumerate() {
            if let Some(y) = labels[t] {
                out.push(windows.sample(i), y, t, instrument);
            }
        }
        if out.n == 0 {
            return Err(MlError::NoSamples {
                reason: format!(
                    "none of the {} windows has a label: the label needs bars past the end of \
                     the data or before the first volatility estimate",
                    windows.n
                ),
            });
        }
        Ok(out)
    }

    fn push(&mut self, x: &[f32], y: u32, row: usize, instrument: u32) {
        self.x.extend_from_slice(x);
        self.y.push(y);
        self.rows.push(row);
        self.instrument.push(instrument);
        self.n += 1;
    }

    /// Returns sample `i`, `[window x features]` row-major.
    pub fn sample(&self, i: usize) -> &[f32] {
        let size = self.window * self.features;
        &self.x[i * size..(i + 1) * size]
    }

    /// Returns the datasets joined in order (instruments pooled).
    ///
    /// # Errors
    /// Returns a shape error when the parts' samples differ in shape.
    pub fn concat(parts: &[Dataset]) -> Result<Self> {
        let Some(first) = parts.first() else {
            return Err(MlError::NoSamples {
                reason: "no datasets to join".into(),
            });
        };
        let mut out = Self::empty(first.window, first.features);
        for part in parts {
            if (part.window, part.features) != (out.window, out.features) {
                return Err(MlError::Shape {
                    what: "pooled dataset samples",
                    expected: format!("[{} x {}]", out.window, out.features),
                    got: format!("[{} x {}]", part.window, part.features),
                });
            }
            out.x.extend_from_slice(&part.x);
            out.y.extend_from_slice(&part.y);
            out.rows.extend_from_slice(&part.rows);
            out.instrument.extend_from_slice(&part.instrument);
            out.n += part.n;
        }
        Ok(out)
    }

    /// Returns the samples for which `keep(instrument, row)` holds, in order.
    pub fn filter(&self, mut keep: impl FnMut(u32, usize) -> bool) -> Self {
        let mut out = Self::empty(self.window, self.features);
        for i in 0..self.n {
            if keep(self.instrument[i], self.rows[i]) {
                out.push(self.sample(i), self.y[i], self.rows[i], self.instrument[i]);
            }
        }
        out
    }

    /// Returns the instruments present, ascending.
    pub fn instruments(&self) -> Vec<u32> {
        let mut ids = self.instrument.clone();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Returns how many samples each class has.
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        for &y in &self.y {
            if let Some(c) = counts.get_mut(y as usize) {
                *c += 1;
            }
        }
        counts
    }
}
