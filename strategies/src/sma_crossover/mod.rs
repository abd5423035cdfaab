//! `sma_crossover`, the reference strategy: long while the fast SMA is above the slow one.
//!
//! Cross up at t: `fast[t-1] <= slow[t-1] and fast[t] > slow[t]`; cross down mirrors it; no signal
//! while either average is warming up. On a cross up while flat: a market buy sized by the
//! config's sizing; on a cross down while long: a market sell of the whole position.

use crate::custom::ParamDoc;
use crate::state_for;
use engine::{Ctx, EngineEvent, Intents, RangeError, Strategy, StrategyError};
use features::{FeatureConfig, FeatureError, FeatureKind, PipelineSpec};
use serde::{Deserialize, Serialize};

/// What `quant strategies` says about it.
pub const ABOUT: &str =
    "Long while the fast SMA of the close is above the slow one (the reference)";

/// Its parameters, as `quant strategies` lists them.
pub const PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "fast",
        ty: "integer",
        default: None,
        example: Some(r#"10"#),
        doc: "bars in the fast average (required)",
    },
    ParamDoc {
        name: "slow",
        ty: "integer",
        default: None,
        example: Some(r#"20"#),
        doc: "bars in the slow average, more than fast (required)",
    },
];

/// `[strategy.params]` of `sma_crossover`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmaCrossoverParams {
    /// Bars in the fast average.
    pub fast: usize,
    /// Bars in the slow average; greater than `fast`.
    pub slow: usize,
}

impl SmaCrossoverParams {
    /// Checks `1 <= fast < slow`.
    ///
    /// # Errors
    /// Names the parameter out of range.
    pub fn validate(&self) -> Result<(), RangeError> {
        if self.fast == 0 {
            return Err(RangeError::new(
                "strategy.params.fast",
                "at least 1 bar, found 0",
            ));
        }
        if self.fast >= self.slow {
            return Err(RangeError::new(
                "strategy.params.fast",
                format!("fewer bars than slow ({}), found {}", self.slow, self.fast),
            ));
        }
        Ok(())
    }
}

/// The strategy: reads a fast and a slow SMA from the feature pipeline for each instrument.
#[derive(Debug, Clone)]
pub struct SmaCrossover {
    fast: usize,
    slow: usize,
    previous: Vec<Option<(f64, f64)>>,
}

impl SmaCrossover {
    /// Returns the features the strategy reads: `sma_fast` and `sma_slow` of the close.
    pub fn required_features(params: &SmaCrossoverParams) -> Vec<FeatureConfig> {
        vec![
            FeatureConfig::of(
                "sma_fast",
                "close",
                FeatureKind::Sma {
                    period: params.fast,
                },
            ),
            FeatureConfig::of(
                "sma_slow",
                "close",
                FeatureKind::Sma {
                    period: params.slow,
                },
            ),
        ]
    }

    /// Returns the strategy reading its averages from `pipeline`, which must hold the
    /// [`required_features`](Self::required_features).
    ///
    /// # Errors
    /// Names a required feature missing from the pipeline.
    pub fn new(pipeline: &PipelineSpec) -> Result<Self, FeatureError> {
        Ok(Self {
            fast: column(pipeline, "sma_fast")?,
            slow: column(pipeline, "sma_slow")?,
            previous: Vec::new(),
        })
    }
}

/// Returns the index of a column the strategy needs.
pub(crate) fn column(pipeline: &PipelineSpec, name: &str) -> Result<usize, FeatureError> {
    pipeline.column(name).ok_or_else(|| {
        FeatureError::new(
            name,
            None,
            "a feature the strategy needs, missing from the pipeline",
        )
    })
}

impl Strategy for SmaCrossover {
    fn name(&self) -> &str {
        "sma_crossover"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        let Some((idx, _)) = event.as_bar() else {
            return Ok(());
        };
        let previous = state_for(&mut self.previous, idx, || None);
        // One read of the row: NaN (not ready) or a missing column means no signal.
        let row = ctx.features(idx);
        let (fast, slow) = (row.get(self.fast).copied(), row.get(self.slow).copied());
        let (Some(fast), Some(slow)) = (fast.filter(|v| !v.is_nan()), slow.filter(|v| !v.is_nan()))
        else {
            *previous = None;
            return Ok(());
        };
        let Some((prev_fast, prev_slow)) = previous.replace((fast, slow)) else {
            return Ok(());
        };
        let cross_up = prev_fast <= prev_slow && fast > slow;
        let cross_down = prev_fast >= prev_slow && fast < slow;
        // Both at once cannot happen (a strict cross one way excludes the other).
        crate::long_only(idx, cross_up, cross_down, ctx, out);
        Ok(())
    }
}
