//! Per-decision attribution by occlusion against the training mean.
//!
//! Inputs are standardised with the training window's mean and standard deviation, so 0 is the
//! training mean. The contribution of feature j to class c is p_c(x) - p_c(x with feature j set
//! to 0 at every lag of the window): how far the prediction would move if that feature were
//! average. This is chosen over gradient x input because it is exact for that question rather
//! than a first-order estimate (a softmax over ReLU layers saturates, where gradients vanish),
//! it works for any architecture without autograd at inference. Its cost is `1 + features`
//! forward passes, batched together (and, in a backtest, across orders); for an MLP, whose first
//! layer is linear, about two first-layer products (see [`TrendModel::predict_occluded`]).

use crate::{MlError, Occluder, Result, TrendModel, softmax_of, softmax_rows};

/// Features recorded with each order: enough to name what drove it, short enough to read.
pub const TOP_K: usize = 3;
/// Most windows per forward pass when explaining in a batch (memory bound only).
const BATCH: usize = 4096;

/// The probabilities of one sample and the occlusion contribution of each feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Occlusion {
    /// Class probabilities of the sample as given.
    pub probabilities: Vec<f32>,
    /// Per feature, p_class(sample) - p_class(sample with that feature at its training mean).
    pub contributions: Vec<f32>,
}

/// Explains `class` of one standardised sample, `[window x features]` row-major.
///
/// # Errors
/// Returns a shape error when the sample is not shaped as the model's input or `class` is not
/// one of its classes.
pub fn occlude(model: &TrendModel, sample: &[f32], class: usize) -> Result<Occlusion> {
    Ok(occlude_batch(model, sample, &[class])?.remove(0))
}

/// Explains many samples at once (`samples` holds one `[window x features]` sample per entry
/// of `classes`), in forward passes of up to 4,096 windows: the cost per decision falls
/// several-fold against one pass per decision, so a backtest explains its orders in a batch.
///
/// # Errors
/// As [`occlude`].
pub fn occlude_batch(
    model: &TrendModel,
    samples: &[f32],
    classes: &[usize],
) -> Result<Vec<Occlusion>> {
    let (features, n_classes) = (model.features(), model.classes());
    let mut contributions = Vec::new();
    let mut probabilities = Vec::new();
    occlude_into(
        &model.occluder()?,
        samples,
        classes,
        &mut contributions,
        Some(&mut probabilities),
    )?;
    Ok((probabilities.chunks_exact(n_classes))
        .zip(contributions.chunks_exact(features))
        .map(|(p, c)| Occlusion {
            probabilities: p.to_vec(),
            contributions: c.to_vec(),
        })
        .collect())
}

/// As [`occlude_batch`], flat: appends each sample's contributions (`features` values) to
/// `contributions` and, if given, its probabilities (`classes` values) to `probabilities`,
/// with no allocation per sample. The occluder ([`TrendModel::occluder`]) is prepared once
/// for many calls.
///
/// # Errors
/// As [`occlude`].
pub fn occlude_into(
    occluder: &Occluder<'_>,
    samples: &[f32],
    classes: &[usize],
    contributions: &mut Vec<f32>,
    mut probabilities: Option<&mut Vec<f32>>,
) -> Result<()> {
    let model = occluder.model();
    let (window, features) = (model.config().window, model.features());
    let size = window * features;
    let n_classes = model.classes();
    if samples.len() != classes.len() * size || classes.iter().any(|&c| c >= n_classes) {
        return Err(MlError::Shape {
            what: "occlusion samples",
            expected: format!(
                "{} samples of {window} x {features} values and classes below {n_classes}",
                classes.len()
            ),
            got: format!("{} values, classes {classes:?}", samples.len()),
        });
    }
    let per = features + 1;
    let chunk = (BATCH / per).max(1);
    contributions.reserve(classes.len() * features);
    for (block, block_classes) in samples.chunks(chunk * size).zip(classes.chunks(chunk)) {
        // Only the explained class's probability of each occluded row is needed.
        let logits = occluder.logits(block, block_classes.len())?;
        for (l, &class) in logits.chunks_exact(per * n_classes).zip(block_classes) {
            let mut rows = l.chunks_exact(n_classes);
            let base = rows.next().map_or(0.0, |row| softmax_of(row, class));
            contributions.extend(rows.map(|row| base - softmax_of(row, class)));
            if let Some(out) = probabilities.as_deref_mut() {
                let from = out.len();
                out.extend_from_slice(&l[..n_classes]);
                softmax_rows(&mut out[from..], n_classes);
            }
        }
    }
    Ok(())
}

/// Returns the indices of the `k` largest |contributions|, largest first (lower index on ties).
pub fn top_features(contributions: &[f32], k: usize) -> Vec<usize> {
    let mut top = vec![0; k.min(contributions.len())];
    let n = top_features_into(contributions, &mut top);
    top.truncate(n);
    top
}

/// Writes the indices of the `top.len()` largest |contributions| to `top`, largest first (lower
/// index on ties), without allocating; returns how many were written (fewer when there are
/// fewer contributions).
pub fn top_features_into(contributions: &[f32], top: &mut [usize]) -> usize {
    let k = top.len().min(contributions.len());
    // The order as a key, larger first: |c| (the bits of a non-negative f32 order as
    // `total_cmp` does), then the lower index.
    let key = |j: usize| (contributions[j].abs().to_bits(), std::cmp::Reverse(j));
    // One pass, keeping the best `n` so far in order (an order explains a handful of inputs).
    let mut n = 0;
    for j in 0..contributions.len() {
        let at = top[..n].iter().position(|&t| key(j) > key(t)).unwrap_or(n);
        if at < k {
            n = (n + 1).min(k);
            top.copy_within(at..n - 1, at + 1);
            top[at] = j;
        }
    }
    k
}
