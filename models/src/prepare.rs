//! One walk-forward fold's datasets, built so that nothing fitted sees past the training
//! window: standardisation statistics and volatility terciles are fitted on the training rows,
//! labels of training and validation rows end before the test rows (the embargo), and the same
//! frozen transforms are then applied to the test rows.

use super::config::{ModelConfig, TrainingConfig};
use super::dataset::{Dataset, Windows, check_matrix};
use super::error::{MlError, Result};
use super::folds::{Fold, split_validation};
use super::labels::{Threshold, VolTerciles, forward_volatility, trend_labels};
use super::standardize::Standardizer;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// One instrument's data: its feature matrix (the model's columns) and closes, row for row.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The instrument's dense index, carried into the samples.
    pub instrument: u32,
    /// Row-major `[rows x features]`, NaN where a feature is not ready.
    pub features: &'a [f64],
    /// One close per row.
    pub close: &'a [f64],
}

/// What the labels predict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Down, flat or up over `horizon` bars.
    #[default]
    Trend,
    /// Low, medium or high realised volatility over `horizon` bars (a risk model).
    Volatility,
}

/// The datasets of one fold and the transforms fitted on its training window.
#[derive(Debug, Clone)]
pub struct FoldData {
    /// Fitted on the training window; travels with the model.
    pub standardizer: Standardizer,
    /// Fitted on the training rows (volatility target only).
    pub vol_terciles: Option<VolTerciles>,
    /// Samples to fit on.
    pub train: Dataset,
    /// Samples for early stopping: the end of the training window, after an embargo.
    pub valid: Dataset,
    /// Out-of-sample samples (empty when the fold has no labelled test row).
    pub test: Dataset,
}

/// Builds a fold's datasets from every instrument's series, pooled.
///
/// # Errors
/// Returns an error when a series is malformed, the fold does not fit its data, or a split has
/// no sample (naming the instrument and rows).
pub fn prepare_fold(
    series: &[Series<'_>],
    n_features: usize,
    fold: &Fold,
    model_cfg: &ModelConfig,
    training_cfg: &TrainingConfig,
    target: Target,
) -> Result<FoldData> {
    model_cfg.validate()?;
    training_cfg.validate()?;
    let (fit_rows, valid_rows) = split_validation(
        fold.train.clone(),
        training_cfg.validation,
        model_cfg.horizon,
    )?;
    let rows = Rows {
        standardize: fold.train.clone(),
        fit: fit_rows,
        valid: valid_rows,
        test: fold.test.clone(),
    };
    let rows = vec![rows; series.len()];
    prepare_rows(series, n_features, &rows, model_cfg, target)
}

/// Builds the datasets to pre-train one model on a universe of instruments whose calendars and
/// lengths differ: each instrument's windows are built on its own rows, each keeps the last
/// `validation` share of its labelled rows (after an embargo of `horizon` rows) for early
/// stopping, and the standardisation is fitted on every instrument's fitting rows. No test set:
/// the pre-trained model is judged out of sample when a target is fine-tuned from it.
///
/// # Errors
/// As [`prepare_fold`], naming the instrument whose rows are too few.
pub fn prepare_universe(
    series: &[Series<'_>],
    n_features: usize,
    model_cfg: &ModelConfig,
    training_cfg: &TrainingConfig,
    target: Target,
) -> Result<FoldData> {
    model_cfg.validate()?;
    training_cfg.validate()?;
    let horizon = model_cfg.horizon;
    let rows = series
        .iter()
        .map(|s| {
            let n = check_matrix(s.features, n_features)?;
            if n < model_cfg.window + horizon {
                return Err(MlError::NoSamples {
                    reason: format!(
                        "instrument {} ({n} rows): one sample needs a window of {} rows and {horizon} \
                         more for its label",
                        s.instrument, model_cfg.window
                    ),
                });
            }
            let labelled = 0..n.saturating_sub(horizon);
            let (fit, valid) = split_validation(labelled, training_cfg.validation, horizon)
                .map_err(|e| MlError::NoSamples {
                    reason: format!("instrument {} ({n} rows): {e}", s.instrument),
                })?;
            Ok(Rows {
                standardize: fit.clone(),
                fit,
                valid,
                test: n..n,
            })
        })
        .collect::<Result<Vec<Rows>>>()?;
    prepare_rows(series, n_features, &rows, model_cfg, target)
}

/// One instrument's rows of each part.
#[derive(Debug, Clone)]
struct Rows {
    /// Fits the standardisation.
    standardize: Range<usize>,
    /// Training decision rows.
    fit: Range<usize>,
    /// Early-stopping decision rows.
    valid: Range<usize>,
    /// Test decision rows.
    test: Range<usize>,
}

/// Builds the datasets of `series`, each split at its own `rows`.
fn prepare_rows(
    series: &[Series<'_>],
    n_features: usize,
    rows: &[Rows],
    model_cfg: &ModelConfig,
    target: Target,
) -> Result<FoldData> {
    let horizon = model_cfg.horizon;
    for (s, r) in series.iter().zip(rows) {
        let n = check_matrix(s.features, n_features)?;
        if n != s.close.len() || r.test.end > n {
            return Err(MlError::Shape {
                what: "series",
                expected: format!(
                    "one close per feature row and at least {} rows (instrument {})",
                    r.test.end, s.instrument
                ),
                got: format!("{n} feature rows, {} closes", s.close.len()),
            });
        }
    }
    let parts: Vec<(&[f64], Range<usize>)> = series
        .iter()
        .zip(rows)
        .map(|(s, r)| (s.features, r.standardize.clone()))
        .collect();
    let standardizer = Standardizer::fit(&parts, n_features)?;
    let labels: Vec<Vec<Option<u32>>>;
    let mut vol_terciles = None;
    match target {
        Target::Trend => {
            let threshold = Threshold::from_config(model_cfg);
            labels = series
                .iter()
                .map(|s| trend_labels(s.close, horizon, threshold))
                .collect();
        }
        Target::Volatility => {
            let forward: Vec<Vec<Option<f64>>> = series
                .iter()
                .map(|s| forward_volatility(s.close, horizon))
                .collect();
            let fitted: Vec<f64> = forward
                .iter()
                .zip(rows)
                .flat_map(|(f, r)| f[r.fit.clone()].iter().flatten().copied())
                .collect();
            let terciles = VolTerciles::fit(&fitted)?;
            labels = forward.iter().map(|f| terciles.labels(f)).collect();
            vol_terciles = Some(terciles);
        }
    }
    let mut splits: [Vec<Dataset>; 3] = Default::default();
    for ((s, labels), r) in series.iter().zip(&labels).zip(rows) {
        let mut values = s.features.to_vec();
        standardizer.apply(&mut values)?;
        for ((name, rows), out) in [
            ("training", &r.fit),
            ("validation", &r.valid),
            ("test", &r.test),
        ]
        .into_iter()
        .zip(splits.iter_mut())
        {
            let built = Windows::build(&values, n_features, model_cfg.window, rows.clone())
                .and_then(|w| Dataset::from_windows(&w, labels, s.instrument));
            match built {
                Ok(ds) => out.push(ds),
                // The last test rows may have no label yet; an empty test set is reported, not
                // an error.
                Err(MlError::NoSamples { .. }) if name == "test" => {}
                Err(MlError::NoSamples { reason }) => {
                    return Err(MlError::NoSamples {
                        reason: format!(
                            "instrument {}, {name} rows {rows:?}: {reason}",
                            s.instrument
                        ),
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }
    let [train, valid, test] = splits;
    let join = |parts: Vec<Dataset>| {
        if parts.is_empty() {
            Ok(Dataset::empty(model_cfg.window, n_features))
        } else {
            Dataset::concat(&parts)
        }
    };
    Ok(FoldData {
        standardizer,
        vol_terciles,
        train: join(train)?,
        valid: join(valid)?,
        test: join(test)?,
    })
}
