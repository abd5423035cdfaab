//! The registry: from a config's `[strategy]` table to a strategy.
//!
//! `StrategyConfig` is read by serde straight from the config file (`name` selects the variant,
//! `params` is its table, unknown keys are refused), so a typo such as `slwo = 3` is reported with
//! its line and the keys that were expected.

use crate::bollinger_reversion::{BollingerParams, BollingerReversion};
use crate::buy_and_hold::BuyAndHold;
use crate::features::{FeatureConfig, FeatureError, PipelineRunner, PipelineSpec, with_required};
use crate::sma_crossover::{SmaCrossover, SmaCrossoverParams};
use engine::{BacktestOutcome, EngineSpec, FeatureSource, RangeError, Strategy, run_backtest_with};
use market_data::BarSeries;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Every registered strategy name.
pub const STRATEGY_NAMES: &[&str] = &["sma_crossover", "buy_and_hold", "bollinger_reversion"];

/// The `[strategy]` table: a registered name and its params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "name",
    content = "params",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum StrategyConfig {
    /// Fast/slow moving-average crossover, long only.
    SmaCrossover(SmaCrossoverParams),
    /// Buy on the first bar, hold to the end (no params).
    BuyAndHold,
    /// Limit entry at the lower Bollinger band, exit at the middle band or a stop.
    BollingerReversion(BollingerParams),
}

impl StrategyConfig {
    /// Returns the registered name.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::SmaCrossover(_) => "sma_crossover",
            StrategyConfig::BuyAndHold => "buy_and_hold",
            StrategyConfig::BollingerReversion(_) => "bollinger_reversion",
        }
    }

    /// Checks the params' ranges.
    ///
    /// # Errors
    /// Names the param out of range (e.g. `strategy.params.fast`).
    pub fn validate(&self) -> Result<(), RangeError> {
        match self {
            StrategyConfig::SmaCrossover(p) => p.validate(),
            StrategyConfig::BuyAndHold => Ok(()),
            StrategyConfig::BollingerReversion(p) => p.validate(),
        }
    }

    /// Returns a fresh strategy and the pipeline of `user` features plus those it reads; call
    /// `validate` first.
    ///
    /// # Errors
    /// Names the feature at fault: invalid, or clashing with one the strategy needs.
    pub fn build(&self, user: &[FeatureConfig]) -> Result<BuiltStrategy, FeatureError> {
        let required = match self {
            StrategyConfig::SmaCrossover(p) => SmaCrossover::required_features(p),
            StrategyConfig::BuyAndHold => Vec::new(),
            StrategyConfig::BollingerReversion(p) => BollingerReversion::required_features(p),
        };
        let pipeline = Arc::new(PipelineSpec::new(&with_required(user, required)?)?);
        let strategy: Box<dyn Strategy + Send> = match self {
            StrategyConfig::SmaCrossover(_) => Box::new(SmaCrossover::new(&pipeline)?),
            StrategyConfig::BuyAndHold => Box::new(BuyAndHold::new()),
            StrategyConfig::BollingerReversion(p) => {
                Box::new(BollingerReversion::new(p, &pipeline)?)
            }
        };
        Ok(BuiltStrategy { strategy, pipeline })
    }
}

/// A strategy ready to run, with the feature pipeline it reads.
pub struct BuiltStrategy {
    /// The strategy.
    pub strategy: Box<dyn Strategy + Send>,
    /// Its features (the user's plus its own).
    pub pipeline: Arc<PipelineSpec>,
}

impl std::fmt::Debug for BuiltStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltStrategy")
            .field("strategy", &self.strategy.name())
            .field("pipeline", &self.pipeline.columns())
            .finish()
    }
}

impl BuiltStrategy {
    /// Runs a backtest of the strategy over `data` with its pipeline.
    ///
    /// # Errors
    /// Returns the engine's error, if any.
    pub fn run(self, spec: &EngineSpec, data: &[BarSeries]) -> engine::Result<BacktestOutcome> {
        let features: Option<Box<dyn FeatureSource>> = (!self.pipeline.is_empty()).then(|| {
            Box::new(PipelineRunner::new(self.pipeline.clone(), data.len()))
                as Box<dyn FeatureSource>
        });
        run_backtest_with(spec, data, self.strategy, features)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Doc {
        strategy: StrategyConfig,
    }

    #[test]
    fn reads_each_registered_name() {
        for name in STRATEGY_NAMES {
            let params = match *name {
                "sma_crossover" => "[strategy.params]\nfast = 5\nslow = 10\n",
                "bollinger_reversion" => "[strategy.params]\nperiod = 10\n",
                _ => "",
            };
            let doc: Doc =
                toml::from_str(&format!("[strategy]\nname = \"{name}\"\n{params}")).unwrap();
            assert_eq!(doc.strategy.name(), *name);
            doc.strategy.validate().unwrap();
        }
    }

    #[test]
    fn typo_in_params_names_the_key_and_line() {
        let err = toml::from_str::<Doc>(
            "[strategy]\nname = \"sma_crossover\"\n[strategy.params]\nfast = 5\nslwo = 10\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("slwo") && err.contains("line 5"), "{err}");
    }

    #[test]
    fn unknown_name_lists_the_registered_ones() {
        let err = toml::from_str::<Doc>("[strategy]\nname = \"sma_cross\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sma_cross") && err.contains("sma_crossover") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn fast_not_below_slow_is_a_range_error() {
        let doc: Doc = toml::from_str(
            "[strategy]\nname = \"sma_crossover\"\n[strategy.params]\nfast = 20\nslow = 20\n",
        )
        .unwrap();
        let err = doc.strategy.validate().unwrap_err();
        assert_eq!(err.key, "strategy.params.fast");
    }
}
