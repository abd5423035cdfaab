//! The registry: from a config's `[strategy]` table to a strategy.
//!
//! `StrategyConfig` is read by serde straight from the config file (`name` selects the variant,
//! `params` is its table, unknown keys are refused), so a typo such as `slwo = 3` is reported with
//! its line and the keys that were expected.

use crate::bollinger_reversion::{BollingerParams, BollingerReversion};
use crate::buy_and_hold::BuyAndHold;
use crate::custom::ParamDoc;
use crate::ml_trend::stage::{ModelFeatures, ModelInput, columns_of};
use crate::ml_trend::{MlTrend, MlTrendParams};
use crate::rules::{RuleError, Rules, RulesParams};
use crate::sma_crossover::{SmaCrossover, SmaCrossoverParams};
use engine::{BacktestOutcome, EngineSpec, FeatureSource, RangeError, Replay, Strategy};
use features::{FeatureConfig, FeatureError, PipelineRunner, PipelineSpec, with_required};
use market_data::{BarSeries, InstrumentId};
use models::MlError;
use serde::de::DeserializeSeed as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Every built-in strategy name (user strategies are in [`crate::custom`]).
pub const STRATEGY_NAMES: &[&str] = &[
    "sma_crossover",
    "buy_and_hold",
    "bollinger_reversion",
    "ml_trend",
    "rules",
];

/// A strategy as `quant strategies` lists it and `quant init` writes it.
#[derive(Debug, Clone, Copy)]
pub struct StrategyInfo {
    /// Its name in `[strategy] name = "..."`.
    pub name: &'static str,
    /// One line on what it does.
    pub about: &'static str,
    /// Its parameters.
    pub params: &'static [ParamDoc],
}

/// The built-in strategies, in [`STRATEGY_NAMES`] order.
pub const BUILTINS: &[StrategyInfo] = &[
    StrategyInfo {
        name: "sma_crossover",
        about: crate::sma_crossover::ABOUT,
        params: crate::sma_crossover::PARAMS,
    },
    StrategyInfo {
        name: "buy_and_hold",
        about: crate::buy_and_hold::ABOUT,
        params: &[],
    },
    StrategyInfo {
        name: "bollinger_reversion",
        about: crate::bollinger_reversion::ABOUT,
        params: crate::bollinger_reversion::PARAMS,
    },
    StrategyInfo {
        name: "ml_trend",
        about: crate::ml_trend::ABOUT,
        params: crate::ml_trend::PARAMS,
    },
    StrategyInfo {
        name: "rules",
        about: crate::rules::ABOUT,
        params: crate::rules::PARAMS,
    },
];

/// Returns every strategy a config can name: the built-ins, then those registered.
pub fn catalog() -> Vec<StrategyInfo> {
    let mut all = BUILTINS.to_vec();
    all.extend(crate::custom::registrations().iter().map(|r| StrategyInfo {
        name: r.name(),
        about: r.about(),
        params: r.params(),
    }));
    all
}

/// The `[strategy]` table: a strategy's name and its params.
///
/// Read by hand (see `Deserialize` below) rather than derived, so that a name registered by a
/// user crate at run time is found, while the built-ins' params are still read straight from
/// the file, with the line of a typo.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "name", content = "params", rename_all = "snake_case")]
pub enum StrategyConfig {
    /// Fast/slow moving-average crossover, long only.
    SmaCrossover(SmaCrossoverParams),
    /// Buy on the first bar, hold to the end (no params).
    BuyAndHold,
    /// Limit entry at the lower Bollinger band, exit at the middle band or a stop.
    BollingerReversion(BollingerParams),
    /// Long, short or flat from a trained trend model's class probabilities.
    MlTrend(MlTrendParams),
    /// Entries, exits and risk written as expressions over features.
    Rules(RulesParams),
    /// A strategy a user crate registered ([`crate::custom`]), with its params as written.
    #[serde(untagged)]
    Registered(RegisteredConfig),
}

/// The `[strategy]` table of a registered strategy: its params are read when it is validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisteredConfig {
    /// Its registered name.
    pub name: String,
    /// `[strategy.params]` as written.
    pub params: toml::Table,
}

impl<'de> Deserialize<'de> for StrategyConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StrategyVisitor)
    }
}

/// Reads `name`, then `params` as the type that name selects.
struct StrategyVisitor;

impl<'de> serde::de::Visitor<'de> for StrategyVisitor {
    type Value = StrategyConfig;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a [strategy] table with a `name` and its `params`")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error as _;
        let mut name: Option<String> = None;
        let mut config = None;
        // `params` written before `name` (an inline table first) is read once the name is known.
        let mut early: Option<toml::Table> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" if name.is_some() => return Err(A::Error::duplicate_field("name")),
                "name" => name = Some(map.next_value_seed(KnownName)?),
                "params" if config.is_some() || early.is_some() => {
                    return Err(A::Error::duplicate_field("params"));
                }
                "params" => match &name {
                    Some(name) => config = Some(map.next_value_seed(ParamsOf(name))?),
                    None => early = Some(map.next_value()?),
                },
                other => return Err(A::Error::unknown_field(other, &["name", "params"])),
            }
        }
        let name = name.ok_or_else(|| A::Error::missing_field("name"))?;
        match config {
            Some(config) => Ok(config),
            None => ParamsOf(&name)
                .deserialize(toml::Value::Table(early.unwrap_or_default()))
                .map_err(|e| A::Error::custom(e.message())),
        }
    }
}

/// Reads a strategy name, refusing an unknown one at the value (so the error has its line).
struct KnownName;

impl<'de> serde::de::DeserializeSeed<'de> for KnownName {
    type Value = String;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let name = String::deserialize(d)?;
        known_name(&name).map_err(serde::de::Error::custom)?;
        Ok(name)
    }
}

/// Checks that `name` is a built-in or registered strategy.
fn known_name(name: &str) -> Result<(), String> {
    if STRATEGY_NAMES.contains(&name) || crate::custom::registered(name).is_some() {
        return Ok(());
    }
    let mut all: Vec<String> = STRATEGY_NAMES.iter().map(|n| n.to_string()).collect();
    all.extend(
        crate::custom::registrations()
            .iter()
            .map(|r| r.name().to_string()),
    );
    let hint = market_data::text::did_you_mean(name, all.iter().map(String::as_str));
    Err(format!(
        "unknown strategy {}: expected one of {}{hint}",
        market_data::text::quoted(name),
        all.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Reads `[strategy.params]` as the params type of the named strategy.
struct ParamsOf<'a>(&'a str);

/// The params of a strategy that takes none: any key is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

impl<'de> serde::de::DeserializeSeed<'de> for ParamsOf<'_> {
    type Value = StrategyConfig;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(match self.0 {
            "sma_crossover" => StrategyConfig::SmaCrossover(Deserialize::deserialize(d)?),
            "buy_and_hold" => {
                NoParams::deserialize(d)?;
                StrategyConfig::BuyAndHold
            }
            "bollinger_reversion" => {
                StrategyConfig::BollingerReversion(Deserialize::deserialize(d)?)
            }
            "ml_trend" => StrategyConfig::MlTrend(Deserialize::deserialize(d)?),
            "rules" => StrategyConfig::Rules(Deserialize::deserialize(d)?),
            name => StrategyConfig::Registered(RegisteredConfig {
                name: name.to_string(),
                params: Deserialize::deserialize(d)?,
            }),
        })
    }
}

/// Why a strategy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A feature is invalid or clashes with one the strategy needs.
    #[error(transparent)]
    Feature(#[from] FeatureError),
    /// A model could not be loaded or does not fit the pipeline.
    #[error("model: {0}")]
    Model(#[from] MlError),
    /// A rule does not compile.
    #[error(transparent)]
    Rule(#[from] RuleError),
}

impl StrategyConfig {
    /// Returns the strategy's name.
    pub fn name(&self) -> &str {
        match self {
            StrategyConfig::SmaCrossover(_) => "sma_crossover",
            StrategyConfig::BuyAndHold => "buy_and_hold",
            StrategyConfig::BollingerReversion(_) => "bollinger_reversion",
            StrategyConfig::MlTrend(_) => "ml_trend",
            StrategyConfig::Rules(_) => "rules",
            StrategyConfig::Registered(r) => &r.name,
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
            StrategyConfig::MlTrend(p) => p.validate(),
            StrategyConfig::Rules(p) => p.validate(),
            StrategyConfig::Registered(r) => match crate::custom::registered(&r.name) {
                Some(registration) => registration.validate(&r.params),
                None => Err(RangeError::new(
                    "strategy.name",
                    known_name(&r.name).err().unwrap_or_default(),
                )),
            },
        }
    }

    /// Returns the text of rule `key` of a `rules` strategy, if set.
    pub fn rule_text(&self, key: &str) -> Option<&str> {
        match self {
            StrategyConfig::Rules(p) => p.rule(key),
            _ => None,
        }
    }

    /// Checks that the strategy can act within `bars` bars, the longest series of a run: today
    /// that every rule of a `rules` strategy reads features that are ready by then.
    ///
    /// # Errors
    /// Names the rule and the feature that would never be ready.
    pub fn check_reachable(&self, user: &[FeatureConfig], bars: usize) -> Result<(), BuildError> {
        if let StrategyConfig::Rules(p) = self {
            let pipeline = PipelineSpec::new(user)?;
            Rules::check_reachable(p, &pipeline, bars)?;
        }
        Ok(())
    }

    /// Returns the config with the paths it names (model directories) passed through
    /// `resolve`, e.g. to read them relative to the config file.
    pub fn with_paths_resolved(&self, resolve: impl Fn(&str) -> String) -> Self {
        let mut resolved = self.clone();
        if let StrategyConfig::MlTrend(p) = &mut resolved {
            p.model = resolve(&p.model);
            p.risk_model = p.risk_model.as_deref().map(&resolve);
        }
        resolved
    }

    /// Returns a fresh strategy and the pipeline of `user` features plus those it reads; call
    /// `validate` first.
    ///
    /// # Errors
    /// Names the feature at fault: invalid, or clashing with one the strategy needs.
    pub fn build(&self, user: &[FeatureConfig]) -> Result<BuiltStrategy, BuildError> {
        if let StrategyConfig::Registered(r) = self {
            return match crate::custom::registered(&r.name) {
                Some(registration) => registration.build(&r.params, user),
                None => Err(BuildError::Feature(FeatureError::new(
                    &r.name,
                    None,
                    "a registered strategy (register it before reading the config)",
                ))),
            };
        }
        let loaded = match self {
            StrategyConfig::MlTrend(p) => p.load_models()?,
            _ => Vec::new(),
        };
        let required = match self {
            StrategyConfig::SmaCrossover(p) => SmaCrossover::required_features(p),
            StrategyConfig::BuyAndHold => Vec::new(),
            StrategyConfig::BollingerReversion(p) => BollingerReversion::required_features(p),
            StrategyConfig::MlTrend(_) => crate::ml_trend::required_features(&loaded)?,
            StrategyConfig::Rules(_) | StrategyConfig::Registered(_) => Vec::new(),
        };
        let pipeline = Arc::new(PipelineSpec::new(&with_required(user, required)?)?);
        let in_sample = matches!(self, StrategyConfig::MlTrend(p) if p.in_sample);
        let models = crate::ml_trend::model_inputs(&loaded, &pipeline, in_sample)?;
        let strategy: Box<dyn Strategy + Send> = match self {
            StrategyConfig::SmaCrossover(_) => Box::new(SmaCrossover::new(&pipeline)?),
            StrategyConfig::BuyAndHold => Box::new(BuyAndHold::new()),
            StrategyConfig::BollingerReversion(p) => {
                Box::new(BollingerReversion::new(p, &pipeline)?)
            }
            StrategyConfig::MlTrend(p) => {
                Box::new(MlTrend::with_columns(p, &columns_of(&pipeline, &models))?)
            }
            StrategyConfig::Rules(p) => Box::new(Rules::new(p, &pipeline)?),
            StrategyConfig::Registered(_) => unreachable!("built above"),
        };
        Ok(BuiltStrategy {
            strategy,
            pipeline,
            models,
        })
    }
}

/// Returns the features (and model outputs) computed bar by bar, for runs whose bars are not all
/// in memory.
fn streaming_source(
    pipeline: &Arc<PipelineSpec>,
    models: Vec<ModelInput>,
    instruments: &[InstrumentId],
) -> engine::Result<Option<Box<dyn FeatureSource>>> {
    if !models.is_empty() {
        let source =
            ModelFeatures::streaming(pipeline.clone(), models, instruments).map_err(|source| {
                engine::Error::Feature {
                    ts: market_data::Timestamp(0),
                    source: Box::new(source),
                }
            })?;
        return Ok(Some(Box::new(source)));
    }
    if pipeline.is_empty() {
        return Ok(None);
    }
    Ok(Some(Box::new(PipelineRunner::new(
        pipeline.clone(),
        instruments.len(),
    ))))
}

/// A strategy and the features it reads, computed bar by bar.
pub type StrategyParts = (Box<dyn Strategy + Send>, Option<Box<dyn FeatureSource>>);

/// A strategy ready to run, with the feature pipeline it reads.
pub struct BuiltStrategy {
    /// The strategy.
    pub strategy: Box<dyn Strategy + Send>,
    /// Its features (the user's plus its own).
    pub pipeline: Arc<PipelineSpec>,
    /// Trained models after the pipeline, whose outputs are more feature columns.
    pub models: Vec<ModelInput>,
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
    /// Splits the strategy from its features (and model outputs), computed bar by bar, for a
    /// session driven event by event.
    ///
    /// # Errors
    /// Names an instrument no model serves.
    pub fn into_parts(self, instruments: &[InstrumentId]) -> engine::Result<StrategyParts> {
        let features = streaming_source(&self.pipeline, self.models, instruments)?;
        Ok((self.strategy, features))
    }

    /// Runs a backtest of the strategy over `replay` with its pipeline: bars in memory get
    /// their features and model outputs computed ahead in large causal batches, streamed bars
    /// and ticks bar by bar.
    ///
    /// # Errors
    /// Names an instrument no model serves, else returns the engine's error.
    pub fn run(self, spec: &EngineSpec, replay: Replay<'_>) -> engine::Result<BacktestOutcome> {
        self.run_into(spec, replay, None)
    }

    /// Runs a backtest as [`BuiltStrategy::run`] does, handing each full chunk of steps to
    /// `sink` when one is given (see [`engine::backtest_into`]).
    ///
    /// # Errors
    /// As [`BuiltStrategy::run`], and the sink's error.
    pub fn run_into(
        self,
        spec: &EngineSpec,
        replay: Replay<'_>,
        sink: Option<Box<dyn engine::StepSink>>,
    ) -> engine::Result<BacktestOutcome> {
        let features = match &replay {
            Replay::Bars(data) => batch_source(&self.pipeline, self.models, data)?,
            Replay::Merged { instruments, .. } | Replay::Ticks { instruments, .. } => {
                streaming_source(&self.pipeline, self.models, instruments)?
            }
        };
        engine::backtest_into(spec, replay, self.strategy, features, sink)
    }

    /// Returns a feature source that computes features and model outputs bar by bar, for feeds
    /// that deliver one bar at a time (paper and live trading), or `None` without features.
    ///
    /// # Errors
    /// Names an instrument no model serves.
    pub fn streaming_features(
        &self,
        instruments: &[market_data::InstrumentId],
    ) -> Result<Option<Box<dyn FeatureSource>>, MlError> {
        Ok(if !self.models.is_empty() {
            Some(Box::new(ModelFeatures::streaming(
                self.pipeline.clone(),
                self.models.clone(),
                instruments,
            )?))
        } else if !self.pipeline.is_empty() {
            Some(Box::new(PipelineRunner::new(
                self.pipeline.clone(),
                instruments.len(),
            )))
        } else {
            None
        })
    }
}

/// Returns the feature source of a run over `data`, all in memory: model outputs predicted
/// ahead in large causal batches, or the pipeline alone, or `None` without features.
fn batch_source(
    pipeline: &Arc<PipelineSpec>,
    models: Vec<ModelInput>,
    data: &[BarSeries],
) -> engine::Result<Option<Box<dyn FeatureSource>>> {
    Ok(if !models.is_empty() {
        // Every bar is in memory: predict ahead in large causal batches.
        let source = ModelFeatures::precomputed(pipeline, models, data).map_err(|source| {
            engine::Error::Feature {
                ts: data
                    .iter()
                    .filter_map(|s| s.bars.first())
                    .map(|b| b.ts)
                    .min()
                    .unwrap_or(market_data::Timestamp(0)),
                source,
            }
        })?;
        Some(Box::new(source))
    } else if !pipeline.is_empty() {
        Some(Box::new(PipelineRunner::new(pipeline.clone(), data.len())))
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Serialize)]
    struct Doc {
        strategy: StrategyConfig,
    }

    #[test]
    fn reads_each_registered_name() {
        for name in STRATEGY_NAMES {
            let params = match *name {
                "sma_crossover" => "[strategy.params]\nfast = 5\nslow = 10\n",
                "bollinger_reversion" => "[strategy.params]\nperiod = 10\n",
                "ml_trend" => "[strategy.params]\nmodel = \"models/x\"\n",
                "rules" => "[strategy.params]\nentry_long = \"close > open\"\n",
                _ => "",
            };
            let doc: Doc =
                toml::from_str(&format!("[strategy]\nname = \"{name}\"\n{params}")).unwrap();
            assert_eq!(doc.strategy.name(), *name);
            doc.strategy.validate().unwrap();
        }
    }

    #[test]
    fn the_listed_params_are_the_params_types_fields_with_their_defaults() {
        assert_eq!(
            BUILTINS.iter().map(|b| b.name).collect::<Vec<_>>(),
            STRATEGY_NAMES
        );
        // Each strategy read with only its required params, then written back: every field,
        // with its default, must be what the listing says.
        let required = |info: &StrategyInfo| {
            info.params
                .iter()
                .filter(|p| p.default.is_none())
                .map(|p| match p.ty {
                    "integer" => {
                        format!("{} = {}\n", p.name, if p.name == "fast" { 5 } else { 10 })
                    }
                    "condition" => format!("{} = \"close > open\"\n", p.name),
                    "number" if info.name == "rules" => String::new(),
                    _ => format!("{} = \"x\"\n", p.name),
                })
                .collect::<String>()
        };
        for info in BUILTINS {
            let doc: Doc = toml::from_str(&format!(
                "[strategy]\nname = \"{}\"\n[strategy.params]\n{}",
                info.name,
                required(info)
            ))
            .unwrap();
            let written = toml::Value::try_from(&doc.strategy).unwrap();
            let params = written
                .get("params")
                .and_then(|p| p.as_table())
                .cloned()
                .unwrap_or_default();
            for p in info.params {
                if let Some(default) = p.default {
                    let listed: toml::Value =
                        toml::from_str::<toml::Table>(&format!("v = {default}")).unwrap()["v"]
                            .clone();
                    assert_eq!(
                        params.get(p.name),
                        Some(&listed),
                        "{}.{}",
                        info.name,
                        p.name
                    );
                }
            }
            let listed: Vec<&str> = info.params.iter().map(|p| p.name).collect();
            for key in params.keys() {
                assert!(
                    listed.contains(&key.as_str()),
                    "{}.{key} is not listed",
                    info.name
                );
            }
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
