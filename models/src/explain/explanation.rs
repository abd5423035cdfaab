//! `explain.json` in a model folder: what `quant train` measured about the model out of sample
//! (per-fold permutation importance, calibration and input drift, and their summaries) and the
//! training window's input distribution that later runs compare with.
//!
//! It sits beside `model.json` rather than inside it: it describes the model without changing
//! what it computes, so it stays outside the model id.

use super::calibration::Calibration;
use super::config::ExplainConfig;
use super::drift::DriftProfile;
use super::importance::{FoldImportance, Group, ImportanceSummary};
use crate::{MlError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file name.
pub const EXPLAIN_FILE: &str = "explain.json";

/// One walk-forward fold's diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldExplanation {
    /// 1-based fold number.
    pub fold: usize,
    /// Permutation importance on the fold's test samples.
    pub importance: FoldImportance,
    /// Calibration of the fold model's test probabilities.
    pub calibration: Calibration,
    /// PSI of each input over the test rows against the fold's training rows.
    #[serde(deserialize_with = "super::nan::vec")]
    pub drift: Vec<f64>,
}

/// Everything in `explain.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The settings used.
    pub config: ExplainConfig,
    /// The model's input columns, in order.
    pub features: Vec<String>,
    /// The shuffled groups, in the order of each fold's figures.
    pub groups: Vec<Group>,
    /// Per fold.
    pub folds: Vec<FoldExplanation>,
    /// Each group across folds, most important first.
    pub importance: Vec<ImportanceSummary>,
    /// Calibration of every fold's test probabilities pooled.
    pub calibration: Calibration,
    /// The final model's training-window distribution of each input.
    pub drift_profile: DriftProfile,
}

impl Explanation {
    /// Writes `dir/explain.json`.
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(EXPLAIN_FILE);
        let json = serde_json::to_string_pretty(self).map_err(|source| MlError::Metadata {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&path, json).map_err(|source| MlError::Io { path, source })
    }

    /// Reads `dir/explain.json`; `None` when the folder has none (a model trained before
    /// explanations existed).
    ///
    /// # Errors
    /// Names the file when it exists but cannot be read or parsed.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(EXPLAIN_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| MlError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| MlError::Metadata { path, source })
    }
}
