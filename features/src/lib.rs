//! Features: streaming indicators and the pipelines built from them.
//!
//! `[[features]]` tables compile into a small DAG of streaming indicators and transforms, run bar
//! by bar inside the event loop or over whole series for research and training, with identical
//! values either way.
//!
//! Owns: the indicators ([`indicators`]), feature configs and their validation, the pipeline
//! spec, its streaming runner (an [`engine::FeatureSource`]) and batch computation.
//! Never depends on: candle (models), tokio (live), report rendering, or any strategy.

#![forbid(unsafe_code)]

pub mod indicators;

mod config;
mod kernel;
mod kind;
mod runner;
mod spec;
mod transforms;

pub use config::FeatureConfig;
pub use kernel::Kernel;
pub use kind::{FeatureKind, KINDS};
pub use runner::{FeatureFrame, PipelineRunner, PipelineState, compute_batch, compute_one};
pub use spec::{BarField, FeatureError, NodeSpec, PipelineSpec, Source};
pub use transforms::{Clip, Diff, Lag, Standardize};

/// Adds the features a strategy needs to the user's, reusing a user feature of the same name only
/// when it is the same feature.
///
/// # Errors
/// Names a user feature that takes a name the strategy needs for something else.
pub fn with_required(
    user: &[FeatureConfig],
    required: Vec<FeatureConfig>,
) -> Result<Vec<FeatureConfig>, FeatureError> {
    let mut all = user.to_vec();
    for feature in required {
        match user.iter().find(|u| u.name == feature.name) {
            Some(existing) if *existing == feature => {}
            Some(_) => {
                return Err(FeatureError::new(
                    &feature.name,
                    Some("name"),
                    "another name: the strategy computes a feature of this name itself",
                ));
            }
            None => all.push(feature),
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests;
