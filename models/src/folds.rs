//! Walk-forward splits in time order with an embargo: a training sample at row t has a label
//! reading the close of row t + horizon, so `horizon` bars separate the last training decision
//! row from the first test (or validation) row. Without them, the last training labels would
//! be computed from test-period prices.

use super::config::{Scheme, TrainingConfig};
use super::error::{Result, config_error};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// One walk-forward fold: the decision rows to train on and to test on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    /// Training decision rows; their labels end before `test.start`.
    pub train: Range<usize>,
    /// Test decision rows.
    pub test: Range<usize>,
}

/// Returns the walk-forward folds over `rows` rows for labels `horizon` bars ahead: test
/// blocks of `test_bars` one after another, each preceded by an embargo of `horizon` bars and
/// by its training window (from row 0 when expanding, the last `train_bars` rows when rolling).
///
/// Defaults: `train_bars` is half the rows; `test_bars` splits the rest (after the first
/// training window and its embargo) evenly across the folds.
///
/// # Errors
/// Returns a config error naming the setting that does not fit the data.
pub fn walk_forward(rows: usize, cfg: &TrainingConfig, horizon: usize) -> Result<Vec<Fold>> {
    folds_with_embargo(rows, cfg, horizon)
}

/// As [`walk_forward`] with any embargo (tests show what an embargo of 0 would leak).
pub(crate) fn folds_with_embargo(
    rows: usize,
    cfg: &TrainingConfig,
    embargo: usize,
) -> Result<Vec<Fold>> {
    let folds = cfg.folds.max(1);
    let train_bars = cfg.train_bars.unwrap_or(rows / 2);
    let after_first = rows.saturating_sub(train_bars + embargo);
    let test_bars = cfg.test_bars.unwrap_or(after_first / folds);
    if train_bars < 2 || test_bars == 0 || train_bars + embargo + folds * test_bars > rows {
        return Err(config_error(
            "train_bars",
            format!(
                "{folds} folds of train_bars {train_bars} + an embargo of {embargo} + test_bars \
                 {test_bars} each to fit in the {rows} rows (train_bars >= 2, test_bars >= 1)"
            ),
        ));
    }
    Ok((0..folds)
        .map(|k| {
            let test_start = train_bars + embargo + k * test_bars;
            let train_end = test_start - embargo;
            let train_start = match cfg.scheme {
                Scheme::Expanding => 0,
                Scheme::Rolling => train_end - train_bars,
            };
            Fold {
                train: train_start..train_end,
                test: test_start..test_start + test_bars,
            }
        })
        .collect())
}

/// Splits a training window into a fitting part and a validation part (its last `fraction`),
/// with an embargo of `horizon` bars between them for the same reason as between train and
/// test.
///
/// # Errors
/// Returns a config error when either part would be empty.
pub fn split_validation(
    train: Range<usize>,
    fraction: f64,
    horizon: usize,
) -> Result<(Range<usize>, Range<usize>)> {
    let len = train.len();
    let valid_len = ((len as f64) * fraction).round() as usize;
    let fit_len = len.saturating_sub(valid_len + horizon);
    if valid_len == 0 || fit_len == 0 {
        return Err(config_error(
            "validation",
            format!(
                "a split of the {len} training rows into fitting and validation rows, with \
                 {horizon} rows of embargo between; fraction {fraction} leaves {fit_len} \
                 fitting and {valid_len} validation rows"
            ),
        ));
    }
    let valid_start = train.end - valid_len;
    Ok((train.start..train.start + fit_len, valid_start..train.end))
}
