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

use crate::ml::{MlError, Result, TrendModel};

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
    let mut out = Vec::with_capacity(classes.len());
    let chunk = (BATCH / per).max(1);
    for (block, block_classes) in samples.chunks(chunk * size).zip(classes.chunks(chunk)) {
        let probs = model.predict_occluded(block, block_classes.len())?;
        for (p, &class) in probs.chunks_exact(per * n_classes).zip(block_classes) {
            let base = p[class];
            out.push(Occlusion {
                probabilities: p[..n_classes].to_vec(),
                contributions: (1..per).map(|j| base - p[j * n_classes + class]).collect(),
            });
        }
    }
    Ok(out)
}

/// Returns the indices of the `k` largest |contributions|, largest first (lower index on ties).
pub fn top_features(contributions: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..contributions.len()).collect();
    order.sort_by(|&a, &b| {
        contributions[b]
            .abs()
            .total_cmp(&contributions[a].abs())
            .then(a.cmp(&b))
    });
    order.truncate(k);
    order
}
