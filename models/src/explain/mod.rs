//! Why a trained model predicts what it does, in terms a risk reviewer can check: which inputs
//! matter out of sample (permutation importance per walk-forward fold), which inputs drove one
//! decision (occlusion against the training mean), whether the inputs still look like the
//! training window (population stability index), and whether the probabilities mean what they
//! say (reliability bins and Brier score).
//!
//! Everything here is computed from a model and samples; nothing trains, and every random
//! stream is seeded, so the same model and data give the same figures.

mod calibration;
mod config;
mod drift;
mod explanation;
mod importance;
mod occlusion;

pub use calibration::{Calibration, ReliabilityBin};
pub use config::ExplainConfig;
pub use drift::{DriftProfile, FeatureBins, psi};
pub use explanation::{EXPLAIN_FILE, Explanation, FoldExplanation};
pub use importance::{
    FoldImportance, Group, GroupKind, ImportanceSummary, NOISE_K, groups, permutation_importance,
    summarise,
};
pub use occlusion::{
    Occlusion, TOP_K, occlude, occlude_batch, occlude_into, top_features, top_features_into,
};

/// Reads numbers JSON wrote as `null` (serde_json writes NaN, an undefined figure, so) back as
/// NaN.
mod nan {
    use serde::{Deserialize, Deserializer};

    pub(super) fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    pub(super) fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let values = Vec::<Option<f64>>::deserialize(d)?;
        Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
}

#[cfg(test)]
mod tests;
