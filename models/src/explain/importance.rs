//! Permutation importance on out-of-sample rows: how much worse the model scores when one
//! feature (at every lag), or one block of lags (every feature), is shuffled across the test
//! samples, which breaks its link with the label while keeping its distribution.
//!
//! Scored on each walk-forward test fold, so the spread across folds shows which features the
//! model leans on consistently and which only in some periods.

use crate::{Dataset, Metrics, MlError};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// A group "stands out" when its mean log-loss increase exceeds this many standard deviations
/// across folds (and is positive): consistently useful, not one lucky fold.
pub const NOISE_K: f64 = 2.0;

/// What a group shuffles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// One feature at every lag of the window.
    Feature,
    /// Every feature at a contiguous block of lags.
    Lags,
}

/// A set of input cells shuffled together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The feature's column name, or `lags a-b` (lag 0 is the decision bar).
    pub name: String,
    /// Feature or lag block.
    pub kind: GroupKind,
    /// Offsets of its cells within a `[window x features]` sample.
    #[serde(skip)]
    pub(super) cells: Vec<usize>,
}

/// Returns one group per feature, then `lag_blocks` groups of contiguous lags (fewer when the
/// window is shorter).
pub fn groups(feature_names: &[String], window: usize, lag_blocks: usize) -> Vec<Group> {
    let features = feature_names.len();
    let mut out: Vec<Group> = (feature_names.iter().enumerate())
        .map(|(j, name)| Group {
            name: name.clone(),
            kind: GroupKind::Feature,
            cells: (0..window).map(|row| row * features + j).collect(),
        })
        .collect();
    let blocks = lag_blocks.clamp(1, window.max(1));
    for b in 0..blocks {
        // Lags [lo, hi); lag l sits in window row window - 1 - l.
        let (lo, hi) = (b * window / blocks, (b + 1) * window / blocks);
        out.push(Group {
            name: format!("lags {lo}-{}", hi - 1),
            kind: GroupKind::Lags,
            cells: (lo..hi)
                .flat_map(|lag| {
                    let row = window - 1 - lag;
                    (0..features).map(move |j| row * features + j)
                })
                .collect(),
        });
    }
    out
}

/// One fold's scores and each group's damage when shuffled (means over the repeats).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldImportance {
    /// Accuracy on the fold's test samples as they are.
    #[serde(deserialize_with = "super::nan::f64")]
    pub accuracy: f64,
    /// Log loss as they are.
    #[serde(deserialize_with = "super::nan::f64")]
    pub log_loss: f64,
    /// Per group: accuracy minus the accuracy with the group shuffled.
    #[serde(deserialize_with = "super::nan::vec")]
    pub accuracy_drop: Vec<f64>,
    /// Per group: log loss with the group shuffled minus the log loss.
    #[serde(deserialize_with = "super::nan::vec")]
    pub log_loss_increase: Vec<f64>,
}

/// Scores the predictions of `predict` (class probabilities, row-major, of every sample of a
/// dataset) on `test` with each group shuffled `repeats` times; shuffle r of group g is drawn
/// from a stream of (`seed`, g, r), so the figures are reproducible. `predict` may route
/// samples to per-instrument models: the shuffled copy keeps each sample's instrument and row.
///
/// # Errors
/// Returns the predictor's error, or a shape error when it returns the wrong number of values.
pub fn permutation_importance<E: From<MlError>>(
    test: &Dataset,
    groups: &[Group],
    repeats: usize,
    seed: u64,
    mut predict: impl FnMut(&Dataset) -> Result<Vec<f32>, E>,
) -> Result<FoldImportance, E> {
    let base = Metrics::from_proba(&test.y, &predict(test)?)?;
    let size = test.window * test.features;
    let mut shuffled = test.clone();
    let mut order: Vec<usize> = (0..test.n).collect();
    let (mut accuracy_drop, mut log_loss_increase) = (Vec::new(), Vec::new());
    for (g, group) in groups.iter().enumerate() {
        let (mut acc, mut ll) = (0.0, 0.0);
        for r in 0..repeats.max(1) {
            let mut rng = stream(seed, g, r);
            for i in (1..order.len()).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
            for (i, &from) in order.iter().enumerate() {
                for &c in &group.cells {
                    shuffled.x[i * size + c] = test.x[from * size + c];
                }
            }
            let m = Metrics::from_proba(&test.y, &predict(&shuffled)?)?;
            acc += base.accuracy - m.accuracy;
            ll += m.log_loss.unwrap_or(f64::NAN) - base.log_loss.unwrap_or(f64::NAN);
            // Restore the group's cells for the next group.
            for i in 0..test.n {
                for &c in &group.cells {
                    shuffled.x[i * size + c] = test.x[i * size + c];
                }
            }
        }
        let n = repeats.max(1) as f64;
        accuracy_drop.push(acc / n);
        log_loss_increase.push(ll / n);
    }
    Ok(FoldImportance {
        accuracy: base.accuracy,
        log_loss: base.log_loss.unwrap_or(f64::NAN),
        accuracy_drop,
        log_loss_increase,
    })
}

/// A generator for shuffle `repeat` of group `group` (SplitMix64 of the triple).
fn stream(seed: u64, group: usize, repeat: usize) -> Xoshiro256PlusPlus {
    let mut z = seed
        ^ (group as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (repeat as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Xoshiro256PlusPlus::seed_from_u64(z ^ (z >> 31))
}

/// One group's importance across folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportanceSummary {
    /// The group's name.
    pub name: String,
    /// Feature or lag block.
    pub kind: GroupKind,
    /// Mean accuracy drop over folds.
    #[serde(deserialize_with = "super::nan::f64")]
    pub accuracy_drop_mean: f64,
    /// Sample standard deviation of the accuracy drop over folds (0 with one fold).
    #[serde(deserialize_with = "super::nan::f64")]
    pub accuracy_drop_std: f64,
    /// Mean log-loss increase over folds.
    #[serde(deserialize_with = "super::nan::f64")]
    pub log_loss_increase_mean: f64,
    /// Sample standard deviation of the log-loss increase over folds.
    #[serde(deserialize_with = "super::nan::f64")]
    pub log_loss_increase_std: f64,
    /// The log-loss increase of each fold.
    #[serde(deserialize_with = "super::nan::vec")]
    pub log_loss_increase: Vec<f64>,
    /// Whether the mean log-loss increase is positive and above [`NOISE_K`] standard
    /// deviations across folds (needs two folds or more).
    pub stands_out: bool,
}

/// Summarises each group over `folds`, most important (largest mean log-loss increase) first.
pub fn summarise(groups: &[Group], folds: &[FoldImportance]) -> Vec<ImportanceSummary> {
    let mut out: Vec<ImportanceSummary> = (groups.iter().enumerate())
        .map(|(g, group)| {
            let acc: Vec<f64> = folds.iter().map(|f| f.accuracy_drop[g]).collect();
            let ll: Vec<f64> = folds.iter().map(|f| f.log_loss_increase[g]).collect();
            let (ll_mean, ll_std) = mean_std(&ll);
            let (acc_mean, acc_std) = mean_std(&acc);
            ImportanceSummary {
                name: group.name.clone(),
                kind: group.kind,
                accuracy_drop_mean: acc_mean,
                accuracy_drop_std: acc_std,
                log_loss_increase_mean: ll_mean,
                log_loss_increase_std: ll_std,
                stands_out: folds.len() >= 2 && ll_mean > 0.0 && ll_mean > NOISE_K * ll_std,
                log_loss_increase: ll,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.kind == GroupKind::Lags)
            .cmp(&(b.kind == GroupKind::Lags))
            .then(
                b.log_loss_increase_mean
                    .total_cmp(&a.log_loss_increase_mean),
            )
    });
    out
}

/// Mean and sample standard deviation (0 for fewer than two values).
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}
