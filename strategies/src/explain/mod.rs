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
mod importance;
mod occlusion;

pub use calibration::{Calibration, ReliabilityBin};
pub use config::{EXPLAIN_FILE, ExplainConfig};
pub use drift::{DriftProfile, FeatureBins, psi};
pub use importance::{
    FoldImportance, Group, GroupKind, ImportanceSummary, NOISE_K, groups, permutation_importance,
    summarise,
};
pub use occlusion::{Occlusion, occlude, top_features};

#[cfg(test)]
mod tests;
