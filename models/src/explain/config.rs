//! `[explain]`: how models are explained. Every key has a default, so the table is optional;
//! an unknown key is an error that names it.

use crate::{MlError, Result};
use serde::{Deserialize, Serialize};

/// `[explain]` of a config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExplainConfig {
    /// PSI above which an input counts as drifted. Default 0.2 (the usual "significant shift";
    /// 0.1 to 0.2 is usually read as moderate).
    pub drift_threshold: f64,
    /// Shuffles per group and fold in permutation importance, averaged. Default 3.
    pub importance_repeats: usize,
    /// Contiguous lag blocks the window is cut into for lag-block importance. Default 4.
    pub lag_blocks: usize,
}

impl Default for ExplainConfig {
    fn default() -> Self {
        Self {
            drift_threshold: 0.2,
            importance_repeats: 3,
            lag_blocks: 4,
        }
    }
}

impl ExplainConfig {
    /// Checks the ranges.
    ///
    /// # Errors
    /// Names the key out of range.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, expected: String| Err(MlError::Config { field, expected });
        if !(self.drift_threshold > 0.0 && self.drift_threshold.is_finite()) {
            return bad(
                "explain.drift_threshold",
                format!("a positive PSI, found {}", self.drift_threshold),
            );
        }
        if self.importance_repeats == 0 {
            return bad("explain.importance_repeats", "at least 1, found 0".into());
        }
        if self.lag_blocks == 0 {
            return bad("explain.lag_blocks", "at least 1, found 0".into());
        }
        Ok(())
    }
}
