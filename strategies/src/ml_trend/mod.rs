//! `ml_trend`: trades the class probabilities of a trained trend model.
//!
//! The model's probabilities arrive as feature columns (`trend_down`, `trend_flat`, `trend_up`;
//! see [`stage`]), so the strategy reads them like any indicator. Per instrument and bar:
//! - the wanted side is long when `trend_up >= entry` and beats `trend_down`, short (when
//!   `short = true`) when `trend_down >= entry` and beats `trend_up`, flat otherwise;
//! - a position is held at least `hold` bars; after that it is closed when the wanted side is no
//!   longer its side (a reversal closes first and re-enters on a later bar);
//! - after a close, `cooldown` bars pass before the next entry;
//! - with a risk model (`risk_model`), an entry is sized at the config's sizing scaled by
//!   `medium_scale` or `high_scale` when the most likely volatility class is medium or high.
//!
//! A bar without a prediction (warm-up, or a feature reset by a gap) opens nothing and closes
//! nothing.
//!
//! Out of sample by default: `quant train` saves each walk-forward fold's model beside the final
//! one (`walk_forward/fold-<k>/`), and every bar is predicted by the latest of them whose
//! training labels ended before it (so the embargo holds); bars before the first fold's test
//! window get no prediction and are not traded. `in_sample = true` trades the final model on
//! every bar, the bars it was trained on included, and the run says so.

pub mod stage;

use crate::custom::ParamDoc;
use crate::state_for;
use engine::{Ctx, EngineEvent, Intents, OrderRequest, RangeError, Size, Strategy, StrategyError};
use features::{FeatureConfig, FeatureError, PipelineSpec};
use market_data::Side;
use models::explain::{DriftProfile, Explanation};
use models::{LoadedModel, MlError, load_saved_columns};
use serde::{Deserialize, Serialize};
use stage::{Era, ModelInput};
use std::path::Path;
use std::sync::Arc;

/// Column prefix of the trend model's probabilities.
pub const TREND_PREFIX: &str = "trend";
/// Column prefix of the risk model's probabilities.
pub const RISK_PREFIX: &str = "risk";

/// What `quant strategies` says about it.
pub const ABOUT: &str =
    "Long, short or flat from a trained trend model's class probabilities (train it first)";

/// Its parameters, as `quant strategies` lists them.
pub const PARAMS: &[ParamDoc] = &[
    ParamDoc {
        name: "model",
        ty: "string",
        default: None,
        example: Some(r#""models/NAME""#),
        doc: "folder of the trend model, written by `quant train` (required)",
    },
    ParamDoc {
        name: "risk_model",
        ty: "string",
        default: None,
        example: None,
        doc: "optional folder of a volatility model for risk-aware sizing",
    },
    ParamDoc {
        name: "entry",
        ty: "number",
        default: Some("0.5"),
        example: None,
        doc: "calibrated probability (the model's temperature applied) a side needs to be wanted",
    },
    ParamDoc {
        name: "hold",
        ty: "integer",
        default: Some("5"),
        example: None,
        doc: "minimum bars a position is held",
    },
    ParamDoc {
        name: "cooldown",
        ty: "integer",
        default: Some("0"),
        example: None,
        doc: "bars after a close before the next entry",
    },
    ParamDoc {
        name: "short",
        ty: "boolean",
        default: Some("false"),
        example: None,
        doc: "whether a down prediction opens a short",
    },
    ParamDoc {
        name: "in_sample",
        ty: "boolean",
        default: Some("false"),
        example: None,
        doc: "trade the final model on every bar, its training bars included (labelled in-sample)",
    },
    ParamDoc {
        name: "medium_scale",
        ty: "number",
        default: Some("0.75"),
        example: None,
        doc: "size factor at medium predicted volatility",
    },
    ParamDoc {
        name: "high_scale",
        ty: "number",
        default: Some("0.5"),
        example: None,
        doc: "size factor at high predicted volatility",
    },
];

/// `[strategy.params]` of `ml_trend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlTrendParams {
    /// Directory of the trend model (`quant train` writes `models/<name>/`).
    pub model: String,
    /// Directory of a volatility-class model for risk-aware sizing.
    #[serde(default)]
    pub risk_model: Option<String>,
    /// Calibrated probability a side needs to be wanted. Default 0.5.
    #[serde(default = "default_entry")]
    pub entry: f64,
    /// Minimum bars a position is held. Default 5.
    #[serde(default = "default_hold")]
    pub hold: usize,
    /// Bars after a close before the next entry. Default 0.
    #[serde(default)]
    pub cooldown: usize,
    /// Whether a down prediction opens a short (the broker must allow shorts). Default false.
    #[serde(default)]
    pub short: bool,
    /// Whether the final model trades every bar, the bars it was trained on included, instead
    /// of each bar by a walk-forward model that never saw it. Default false.
    #[serde(default)]
    pub in_sample: bool,
    /// Size factor when the risk model's most likely class is medium volatility. Default 0.75.
    #[serde(default = "default_medium_scale")]
    pub medium_scale: f64,
    /// Size factor when it is high volatility. Default 0.5.
    #[serde(default = "default_high_scale")]
    pub high_scale: f64,
}

impl MlTrendParams {
    /// Returns the default params for the model in `dir`.
    pub fn with_model(dir: &str) -> Self {
        Self {
            model: dir.to_string(),
            risk_model: None,
            entry: default_entry(),
            hold: default_hold(),
            cooldown: 0,
            short: false,
            in_sample: false,
            medium_scale: default_medium_scale(),
            high_scale: default_high_scale(),
        }
    }
}

fn default_entry() -> f64 {
    0.5
}
fn default_hold() -> usize {
    5
}
fn default_medium_scale() -> f64 {
    0.75
}
fn default_high_scale() -> f64 {
    0.5
}

impl MlTrendParams {
    /// Checks the ranges.
    ///
    /// # Errors
    /// Names the param out of range and what was expected.
    pub fn validate(&self) -> Result<(), RangeError> {
        if !(self.entry > 0.0 && self.entry <= 1.0) {
            return Err(RangeError::new(
                "strategy.params.entry",
                format!("a probability in (0, 1], found {:?}", self.entry),
            ));
        }
        for (key, v) in [
            ("strategy.params.medium_scale", self.medium_scale),
            ("strategy.params.high_scale", self.high_scale),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                return Err(RangeError::new(
                    key,
                    format!("a factor in (0, 1], found {v:?}"),
                ));
            }
        }
        Ok(())
    }

    /// Loads the models: the trend model, then the risk model if any.
    ///
    /// # Errors
    /// Returns the loading error, naming the directory.
    pub fn load_models(&self) -> Result<Vec<ModelSet>, MlError> {
        let mut models = vec![ModelSet::load(Path::new(&self.model), TREND_PREFIX)?];
        if let Some(risk) = &self.risk_model {
            models.push(ModelSet::load(Path::new(risk), RISK_PREFIX)?);
        }
        Ok(models)
    }
}

/// Sub-folder of a model folder holding one model per instrument (fine-tuned or trained alone).
pub const INSTRUMENTS_DIR: &str = "instruments";

/// Sub-folder of a model folder holding each walk-forward fold's model, `fold-<k>/`.
pub const WALK_FORWARD_DIR: &str = "walk_forward";

/// The folder of fold `k` (from 1) in [`WALK_FORWARD_DIR`].
pub fn fold_dir(k: usize) -> String {
    format!("fold-{k}")
}

/// The models of one model folder: a pooled model (`model.json` at its top) and per-instrument
/// models (`instruments/<NAME>/`), either or both.
#[derive(Debug, Clone)]
pub struct ModelSet {
    /// The model for every instrument without its own.
    pub pooled: Option<Arc<LoadedModel>>,
    /// Per-instrument models, by instrument name.
    pub by_instrument: Vec<(String, Arc<LoadedModel>)>,
    /// Output column prefix.
    pub prefix: &'static str,
    /// The training window's input distribution (from `explain.json`), if the folder has one.
    pub drift: Option<Arc<DriftProfile>>,
    /// The walk-forward folds' models, in fold order (empty for a folder saved without them).
    pub folds: Vec<ModelSet>,
}

/// Who predicts which bars in a backtest: the models of a folder in turn (out of sample) or its
/// final model on every bar (in sample).
#[derive(Debug, Clone, PartialEq)]
pub struct TradingPlan {
    /// Whether the final model trades bars it was trained on.
    pub in_sample: bool,
    /// The models in turn, oldest first (one turn, from no bar, in sample).
    pub turns: Vec<Turn>,
}

/// One model's turn in a [`TradingPlan`].
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// `fold <k>` or `final`.
    pub role: String,
    /// Its model ids (the pooled one first, then per instrument).
    pub model_ids: Vec<String>,
    /// The last bar it saw in training: it predicts the bars after it (`None` in sample, or
    /// unknown for a model saved without it).
    pub seen_until: Option<market_data::Timestamp>,
}

impl ModelSet {
    /// Loads the models of `dir`.
    ///
    /// # Errors
    /// Returns the loading error, naming the file; a folder with neither a pooled nor an
    /// instrument model reports the missing `model.json`.
    pub fn load(dir: &Path, prefix: &'static str) -> Result<Self, MlError> {
        // Columns are checked when the stage is placed after the pipeline.
        let load_one = |dir: &Path| load_saved_columns(dir).map(Arc::new);
        let per_instrument = dir.join(INSTRUMENTS_DIR);
        let mut by_instrument = Vec::new();
        if per_instrument.is_dir() {
            let entries = std::fs::read_dir(&per_instrument).map_err(|source| MlError::Io {
                path: per_instrument.clone(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| MlError::Io {
                    path: per_instrument.clone(),
                    source,
                })?;
                if !entry.path().is_dir() {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                by_instrument.push((name, load_one(&entry.path())?));
            }
            by_instrument.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let has_pooled = dir.join(models::METADATA_FILE).exists() || by_instrument.is_empty();
        let pooled = if has_pooled {
            Some(load_one(dir)?)
        } else {
            None
        };
        let drift = Explanation::load(dir)?.map(|e| Arc::new(e.drift_profile));
        let mut folds = Vec::new();
        for k in 1.. {
            let fold = dir.join(WALK_FORWARD_DIR).join(fold_dir(k));
            if !fold.is_dir() {
                break;
            }
            folds.push(Self::load(&fold, prefix)?);
        }
        Ok(Self {
            pooled,
            by_instrument,
            prefix,
            drift,
            folds,
        })
    }

    /// Its model ids: the pooled one first, then per instrument.
    pub fn model_ids(&self) -> Vec<String> {
        (self.pooled.iter())
            .chain(self.by_instrument.iter().map(|(_, m)| m))
            .map(|m| m.model_id.clone())
            .collect()
    }

    /// The last bar its models saw in training, if recorded.
    pub fn seen_until(&self) -> Option<market_data::Timestamp> {
        let period = self.any().metadata.training_period?;
        period.seen_until_ns.map(market_data::Timestamp)
    }

    /// Who predicts which bars: in sample, the final model on every bar; out of sample, each
    /// fold's model and then the final one, each after the last bar it saw.
    ///
    /// # Errors
    /// Out of sample, names a model saved without the last bar it saw (retrain it, or trade it
    /// with `in_sample = true`).
    pub fn plan(&self, in_sample: bool) -> Result<TradingPlan, MlError> {
        if in_sample {
            return Ok(TradingPlan {
                in_sample,
                turns: vec![Turn {
                    role: "final".into(),
                    model_ids: self.model_ids(),
                    seen_until: None,
                }],
            });
        }
        let roles = (1..=self.folds.len()).map(|k| format!("fold {k}"));
        let sets = self.folds.iter().chain(std::iter::once(self));
        let turns = (roles.chain(std::iter::once("final".to_string())).zip(sets))
            .map(|(role, set)| {
                let seen_until = set.seen_until().ok_or_else(|| MlError::NoSamples {
                    reason: format!(
                        "the {role} model ({}) does not record the last bar it was trained on \
                         (saved by an older version), so it cannot be traded out of sample: \
                         train it again with `quant train`, or set [strategy.params] \
                         in_sample = true to trade it on its training bars",
                        set.any().model_id
                    ),
                })?;
                Ok(Turn {
                    role,
                    model_ids: set.model_ids(),
                    seen_until: Some(seen_until),
                })
            })
            .collect::<Result<_, MlError>>()?;
        Ok(TradingPlan { in_sample, turns })
    }

    /// Returns one of its models (the pooled one if any), for what all of them share.
    pub fn any(&self) -> &Arc<LoadedModel> {
        match (&self.pooled, self.by_instrument.first()) {
            (Some(pooled), _) => pooled,
            (None, Some((_, first))) => first,
            // `load` never returns an empty set.
            (None, None) => unreachable!("a model set holds at least one model"),
        }
    }
}

/// The features a set of models reads: each model's saved pipeline tables.
///
/// # Errors
/// Names a feature two models saved under the same name with different settings.
pub fn required_features(models: &[ModelSet]) -> Result<Vec<FeatureConfig>, FeatureError> {
    let mut all: Vec<FeatureConfig> = Vec::new();
    for set in models {
        for f in &set.any().metadata.pipeline {
            match all.iter().find(|a| a.name == f.name) {
                Some(a) if a == f => {}
                Some(_) => {
                    return Err(FeatureError::new(
                        &f.name,
                        None,
                        "one definition: the trend and risk models were trained with different \
                         features of this name",
                    ));
                }
                None => all.push(f.clone()),
            }
        }
    }
    Ok(all)
}

/// Per-instrument trading state.
#[derive(Debug, Clone, Copy, Default)]
struct State {
    /// Bars since the position was opened.
    held: usize,
    /// Bars left before a new entry.
    cooldown: usize,
}

/// The strategy.
#[derive(Debug, Clone)]
pub struct MlTrend {
    params: MlTrendParams,
    /// Feature columns of `trend_down`, `trend_flat`, `trend_up`.
    trend: [usize; 3],
    /// Feature columns of `risk_low`, `risk_medium`, `risk_high`, with a risk model.
    risk: Option<[usize; 3]>,
    states: Vec<State>,
}

impl MlTrend {
    /// Returns the strategy given every feature column name, models' included.
    ///
    /// # Errors
    /// Names a model column that is missing.
    pub fn with_columns(params: &MlTrendParams, columns: &[String]) -> Result<Self, FeatureError> {
        let find = |name: String| {
            columns.iter().position(|c| *c == name).ok_or_else(|| {
                FeatureError::new(
                    &name,
                    None,
                    "a model output column, missing from the features",
                )
            })
        };
        let three = |prefix: &str, classes: [&str; 3]| -> Result<[usize; 3], FeatureError> {
            Ok([
                find(format!("{prefix}_{}", classes[0]))?,
                find(format!("{prefix}_{}", classes[1]))?,
                find(format!("{prefix}_{}", classes[2]))?,
            ])
        };
        let trend = three(TREND_PREFIX, models::labels::TREND_CLASSES)?;
        let risk = match params.risk_model {
            Some(_) => Some(three(RISK_PREFIX, models::labels::VOL_CLASSES)?),
            None => None,
        };
        Ok(Self {
            params: params.clone(),
            trend,
            risk,
            states: Vec::new(),
        })
    }

    /// Returns the size of a new entry: the config's sizing, scaled down by predicted risk.
    fn entry_size(&self, row: &[f64]) -> Size {
        let Some([low, medium, high]) = self.risk else {
            return Size::Auto;
        };
        let at = |c: usize| row.get(c).copied().unwrap_or(f64::NAN);
        let (pl, pm, ph) = (at(low), at(medium), at(high));
        if pl.is_nan() || pm.is_nan() || ph.is_nan() {
            return Size::Auto;
        }
        if ph > pm && ph > pl {
            Size::Scaled(self.params.high_scale)
        } else if pm > pl {
            Size::Scaled(self.params.medium_scale)
        } else {
            Size::Auto
        }
    }
}

impl Strategy for MlTrend {
    fn name(&self) -> &str {
        "ml_trend"
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
        let row = ctx.features(idx);
        let qty = ctx.qty(idx);
        let size = self.entry_size(row);
        let [down, _, up] = self.trend.map(|c| row.get(c).copied().unwrap_or(f64::NAN));
        let p = &self.params;
        let state = state_for(&mut self.states, idx, State::default);
        if qty != 0.0 {
            state.held += 1;
        } else if state.cooldown > 0 {
            state.cooldown -= 1;
        }
        if down.is_nan() || up.is_nan() || !ctx.open_orders(idx).is_empty() {
            return Ok(());
        }
        let wanted = if up >= p.entry && up > down {
            1.0
        } else if p.short && down >= p.entry && down > up {
            -1.0
        } else {
            0.0
        };
        let side = qty.signum();
        if qty != 0.0 {
            if state.held >= p.hold && wanted != side {
                let exit = if qty > 0.0 { Side::Sell } else { Side::Buy };
                out.submit(OrderRequest::market(idx, exit, Size::ClosePosition));
                // The close fills on the next bar, which counts down once already.
                state.cooldown = p.cooldown + 1;
            }
        } else if wanted != 0.0 && state.cooldown == 0 {
            let entry = if wanted > 0.0 { Side::Buy } else { Side::Sell };
            out.submit(OrderRequest::market(idx, entry, size));
            state.held = 0;
        }
        Ok(())
    }
}

/// Places the loaded models after the pipeline.
///
/// # Errors
/// Names a model input the pipeline does not compute.
pub fn model_inputs(
    models: &[ModelSet],
    pipeline: &PipelineSpec,
    in_sample: bool,
) -> Result<Vec<ModelInput>, MlError> {
    let place = |set: &ModelSet| {
        ModelInput::with_instruments(
            set.pooled.clone(),
            set.by_instrument.clone(),
            set.prefix,
            pipeline,
        )
    };
    models
        .iter()
        .map(|set| {
            let input = place(set)?.with_drift(set.drift.clone());
            if in_sample {
                return Ok(input);
            }
            // The plan checks every model recorded the last bar it saw.
            let plan = set.plan(false)?;
            let sets = set.folds.iter().chain(std::iter::once(set));
            let eras = (plan.turns.iter().zip(sets))
                .map(|(turn, set)| {
                    Ok(Era {
                        seen_until: turn.seen_until.unwrap_or(market_data::Timestamp(i64::MAX)),
                        input: place(set)?,
                    })
                })
                .collect::<Result<_, MlError>>()?;
            input.out_of_sample(eras)
        })
        .collect()
}

#[cfg(test)]
mod tests;
