//! The registry: from a config's `[strategy]` table to a strategy.
//!
//! `StrategyConfig` is read by serde straight from the config file (`name` selects the variant,
//! `params` is its table, unknown keys are refused), so a typo such as `slwo = 3` is reported with
//! its line and the keys that were expected.

use crate::bollinger_reversion::{BollingerParams, BollingerReversion};
use crate::buy_and_hold::BuyAndHold;
use crate::sma_crossover::{SmaCrossover, SmaCrossoverParams};
use engine::{RangeError, Strategy};
use serde::{Deserialize, Serialize};

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

    /// Returns a fresh strategy; call `validate` first.
    pub fn build(&self) -> Box<dyn Strategy + Send> {
        match self {
            StrategyConfig::SmaCrossover(p) => Box::new(SmaCrossover::new(p.clone())),
            StrategyConfig::BuyAndHold => Box::new(BuyAndHold::new()),
            StrategyConfig::BollingerReversion(p) => Box::new(BollingerReversion::new(p.clone())),
        }
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
