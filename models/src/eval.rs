//! Out-of-sample scoring: accuracy, macro-F1, log loss and the confusion matrix, for the model
//! and for naive baselines, so skill shows as the margin over them.

use super::dataset::Dataset;
use super::error::{MlError, Result};
use super::labels::{DOWN, FLAT, UP, bar_returns};
use super::model::TrendModel;
use super::train::CLASSES;
use serde::{Deserialize, Serialize};

/// Samples per forward pass in [`predict`] (memory bound only: results do not depend on it).
const PREDICT_BATCH: usize = 4096;

/// Classification scores of predictions against true classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Samples scored.
    pub n: usize,
    /// Share of samples whose predicted class is the true class.
    pub accuracy: f64,
    /// Unweighted mean of per-class F1 over the classes that occur as truth or prediction
    /// (scikit-learn's `average="macro"` over the labels present).
    pub macro_f1: f64,
    /// Mean negative log-probability of the true class (probabilities clipped at 1e-15);
    /// `None` for predictors that give classes only.
    pub log_loss: Option<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: [[u64; CLASSES]; CLASSES],
}

impl Metrics {
    /// Scores class predictions.
    ///
    /// # Errors
    /// Returns a shape error when the lengths differ or a class is out of range.
    pub fn from_classes(truth: &[u32], predicted: &[u32]) -> Result<Self> {
        if truth.len() != predicted.len() {
            return Err(MlError::Shape {
                what: "predictions",
                expected: format!("{} (one per sample)", truth.len()),
                got: predicted.len().to_string(),
            });
        }
        let mut confusion = [[0u64; CLASSES]; CLASSES];
        for (&t, &p) in truth.iter().zip(predicted) {
            if t as usize >= CLASSES || p as usize >= CLASSES {
                return Err(MlError::Shape {
                    what: "class",
                    expected: format!("a class below {CLASSES}"),
                    got: format!("true {t}, predicted {p}"),
                });
            }
            confusion[t as usize][p as usize] += 1;
        }
        let n = truth.len();
        let correct: u64 = (0..CLASSES).map(|c| confusion[c][c]).sum();
        let mut f1_sum = 0.0;
        let mut present = 0;
        for c in 0..CLASSES {
            let tp = confusion[c][c] as f64;
            let actual: u64 = confusion[c].iter().sum();
            let predicted: u64 = confusion.iter().map(|row| row[c]).sum();
            if actual + predicted == 0 {
                continue;
            }
            present += 1;
            f1_sum += 2.0 * tp / (actual + predicted) as f64;
        }
        Ok(Self {
            n,
            accuracy: if n == 0 {
                f64::NAN
            } else {
                correct as f64 / n as f64
            },
            macro_f1: if present == 0 {
                f64::NAN
            } else {
                f1_sum / f64::from(present)
            },
            log_loss: None,
            confusion,
        })
    }

    /// Scores class probabilities, row-major `[n x 3]`: the most probable class is the
    /// prediction, and the log loss is filled in.
    ///
    /// # Errors
    /// Returns a shape error when `probs` does not hold three per true class.
    pub fn from_proba(truth: &[u32], probs: &[f32]) -> Result<Self> {
        if probs.len() != truth.len() * CLASSES {
            return Err(MlError::Shape {
                what: "class probabilities",
                expected: format!(
                    "{} ({} samples x {CLASSES})",
                    truth.len() * CLASSES,
                    truth.len()
                ),
                got: probs.len().to_string(),
            });
        }
        let predicted: Vec<u32> = probs
            .chunks_exact(CLASSES)
            .map(|p| argmax(p) as u32)
            .collect();
        let mut metrics = Self::from_classes(truth, &predicted)?;
        let nll: f64 = truth
            .iter()
            .zip(probs.chunks_exact(CLASSES))
            .map(|(&t, p)| -f64::from(p[t as usize]).clamp(1e-15, 1.0).ln())
            .sum();
        metrics.log_loss = (!truth.is_empty()).then(|| nll / truth.len() as f64);
        Ok(metrics)
    }
}

/// Returns the index of the largest value (the first on ties).
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Returns the model's class probabilities, row-major `[n x 3]`, for every sample of `ds`.
///
/// # Errors
/// Returns a shape error when the dataset's samples are not shaped as the model's input.
pub fn predict(model: &TrendModel, ds: &Dataset) -> Result<Vec<f32>> {
    let size = ds.window * ds.features;
    let mut out = Vec::with_capacity(ds.n * model.classes());
    for chunk in ds.x.chunks(PREDICT_BATCH * size.max(1)) {
        out.extend(model.predict_proba(chunk, chunk.len() / size.max(1))?);
    }
    Ok(out)
}

/// The majority-class baseline: always the most frequent class of the training set, with the
/// training class frequencies as its probabilities (so it has a log loss too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MajorityBaseline {
    /// Training class frequencies.
    pub frequencies: [f64; CLASSES],
}

impl MajorityBaseline {
    /// Fits the class frequencies of `train`.
    ///
    /// # Errors
    /// Returns an error when `train` is empty.
    pub fn fit(train: &Dataset) -> Result<Self> {
        if train.n == 0 {
            return Err(MlError::NoSamples {
                reason: "the majority baseline needs a non-empty training set".into(),
            });
        }
        let counts = train.class_counts(CLASSES);
        let mut frequencies = [0.0; CLASSES];
        for (f, c) in frequencies.iter_mut().zip(counts) {
            *f = c as f64 / train.n as f64;
        }
        Ok(Self { frequencies })
    }

    /// Scores the baseline on `test`.
    ///
    /// # Errors
    /// Never in practice; as [`Metrics::from_proba`].
    pub fn evaluate(&self, test: &Dataset) -> Result<Metrics> {
        let p = self.frequencies.map(|f| f as f32);
        let probs: Vec<f32> = (0..test.n).flat_map(|_| p).collect();
        Metrics::from_proba(&test.y, &probs)
    }
}

/// The last-return-sign baseline: predicts up when the decision bar's 1-bar return is positive,
/// down when negative and flat when it is exactly zero or unknown. It ignores the label
/// threshold on purpose: the threshold bounds a `horizon`-bar move, which one bar's return does
/// not measure, so the baseline is pure momentum. Gives classes only (no log loss).
///
/// `closes[i]` is the close series of instrument `i`, indexed by the same rows as the dataset.
///
/// # Errors
/// Returns a shape error when a sample's instrument or row has no close.
pub fn last_return_sign(test: &Dataset, closes: &[&[f64]]) -> Result<Metrics> {
    let mut predicted = Vec::with_capacity(test.n);
    let mut returns: Vec<Option<Vec<f64>>> = vec![None; closes.len()];
    for (&instrument, &row) in test.instrument.iter().zip(&test.rows) {
        let i = instrument as usize;
        let Some(close) = closes.get(i) else {
            return Err(MlError::Shape {
                what: "close series",
                expected: format!("one per instrument, including instrument {i}"),
                got: format!("{} series", closes.len()),
            });
        };
        let r = returns[i].get_or_insert_with(|| bar_returns(close));
        let Some(&last) = r.get(row) else {
            return Err(MlError::Shape {
                what: "close series",
                expected: format!("a close at row {row} of instrument {i}"),
                got: format!("{} closes", close.len()),
            });
        };
        predicted.push(if last > 0.0 {
            UP
        } else if last < 0.0 {
            DOWN
        } else {
            FLAT
        });
    }
    Metrics::from_classes(&test.y, &predicted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() -> Result<(), Box<dyn std::error::Error>> {
        let truth = [0, 0, 1, 2, 2, 2];
        let predicted = [0, 2, 1, 2, 2, 0];
        let m = Metrics::from_classes(&truth, &predicted)?;
        assert_eq!(m.confusion, [[1, 0, 1], [0, 1, 0], [1, 0, 2]]);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // F1: class 0 = 2*1/(2+2), class 1 = 1, class 2 = 2*2/(3+3).
        let f1 = (0.5 + 1.0 + 2.0 / 3.0) / 3.0;
        assert!((m.macro_f1 - f1).abs() < 1e-12);
        assert_eq!(m.log_loss, None);
        let probs = [0.5f32, 0.25, 0.25, 0.1, 0.8, 0.1];
        let m = Metrics::from_proba(&[0, 1], &probs)?;
        let expected = -(0.5f64.ln() + f64::from(0.8f32).ln()) / 2.0;
        assert!((m.log_loss.ok_or("log loss")? - expected).abs() < 1e-6);
        assert!(Metrics::from_proba(&[0, 1], &probs[..5]).is_err());
        Ok(())
    }
}
