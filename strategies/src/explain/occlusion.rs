//! Per-decision attribution by occlusion against the training mean.
//!
//! Inputs are standardised with the training window's mean and standard deviation, so 0 is the
//! training mean. The contribution of feature j to class c is p_c(x) - p_c(x with feature j set
//! to 0 at every lag of the window): how far the prediction would move if that feature were
//! average. This is chosen over gradient x input because it is exact for that question rather
//! than a first-order estimate (a softmax over ReLU layers saturates, where gradients vanish),
//! it works for any architecture without autograd at inference, and its cost is one forward
//! pass of `1 + features` samples batched together, a few microseconds for the shipped MLP.

use crate::ml::{MlError, Result, TrendModel};

/// Features recorded with each order: enough to name what drove it, short enough to read.
pub const TOP_K: usize = 3;

/// The probabilities of one sample and the occlusion contribution of each feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Occlusion {
    /// Class probabilities of the sample as given.
    pub probabilities: Vec<f32>,
    /// Per feature, p_class(sample) - p_class(sample with that feature at its training mean).
    pub contributions: Vec<f32>,
}

/// Explains `class` of one standardised sample, `[window x features]` row-major; `scratch` is
/// reused between calls so a decision allocates nothing once warm.
///
/// # Errors
/// Returns a shape error when the sample is not shaped as the model's input or `class` is not
/// one of its classes.
pub fn occlude(
    model: &TrendModel,
    sample: &[f32],
    class: usize,
    scratch: &mut Vec<f32>,
) -> Result<Occlusion> {
    let (window, features) = (model.config().window, model.features());
    if sample.len() != window * features || class >= model.classes() {
        return Err(MlError::Shape {
            what: "occlusion sample",
            expected: format!(
                "{window} x {features} values and a class below {}",
                model.classes()
            ),
            got: format!("{} values, class {class}", sample.len()),
        });
    }
    // Row 0 is the sample; row 1 + j has feature j at the training mean (0) at every lag.
    scratch.clear();
    scratch.extend_from_slice(sample);
    for j in 0..features {
        let from = scratch.len();
        scratch.extend_from_slice(sample);
        for lag in 0..window {
            scratch[from + lag * features + j] = 0.0;
        }
    }
    let probs = model.predict_proba(scratch, features + 1)?;
    let classes = model.classes();
    let base = probs[class];
    Ok(Occlusion {
        probabilities: probs[..classes].to_vec(),
        contributions: (0..features)
            .map(|j| base - probs[(j + 1) * classes + class])
            .collect(),
    })
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
