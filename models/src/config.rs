//! `[model]` and `[training]` tables as serde reads them. Every key has a default, so a config
//! names only what it changes; `validate` checks ranges and names the offending key.

use super::error::{Result, config_error};
use serde::{Deserialize, Serialize};

/// The network architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// A multi-layer perceptron over the flattened window.
    #[default]
    Mlp,
    /// Stacked GRU layers over the window's rows; the last hidden state feeds the output layer.
    Gru,
    /// Stacked LSTM layers, used like the GRU.
    Lstm,
    /// Causal dilated 1-D convolutions over time; the last time step feeds the output layer.
    Tcn,
    /// A transformer encoder over the window's rows (positional encoding, multi-head
    /// self-attention, feed-forward, layer norm); the mean over time feeds the output layer.
    Transformer,
}

/// The `[model]` table: architecture, sample shape and label definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// `mlp` (default), `gru`, `lstm`, `tcn` or `transformer`.
    pub kind: ModelKind,
    /// Hidden layer sizes: dense layers (mlp), stacked recurrent layers (gru, lstm) or
    /// convolution channels, one layer per entry with dilation 1, 2, 4, ... (tcn); the
    /// transformer takes its sizes from `d_model`, `heads`, `encoder_layers` and `ff_width`
    /// instead. Default `[64, 32]`. Also read as `layers`.
    #[serde(alias = "layers")]
    pub hidden: Vec<usize>,
    /// Dropout probability after each hidden layer, in training only. Default 0.1.
    pub dropout: f64,
    /// Bars per sample, ending at the decision bar. Default 16.
    pub window: usize,
    /// Bars ahead the label looks. Default 5.
    pub horizon: usize,
    /// Forward return above `threshold` is up, below `-threshold` down, else flat. Default 0.0
    /// (the sign of the return); must stay 0 when `vol_scaled` is set. Also read as
    /// `class_threshold`.
    #[serde(alias = "class_threshold")]
    pub threshold: f64,
    /// Scales the threshold with volatility: `vol_scaled` x the standard deviation of the last
    /// `vol_window` 1-bar returns (up to and including the decision bar) x sqrt(`horizon`).
    pub vol_scaled: Option<f64>,
    /// Returns in the rolling volatility of `vol_scaled`. Default 20.
    pub vol_window: usize,
    /// Pipeline columns fed to the model, in this order. Default: every column.
    pub features: Option<Vec<String>>,
    /// Convolution kernel size (tcn). Default 3.
    pub kernel: usize,
    /// Width of each time step's vector inside the encoder (transformer only). Default 32.
    /// Unset keys are left out of `model.json`, so other kinds' model ids stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d_model: Option<usize>,
    /// Attention heads per encoder layer, dividing `d_model` (transformer only). Default 4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heads: Option<usize>,
    /// Stacked encoder layers (transformer only). Default 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoder_layers: Option<usize>,
    /// Hidden width of each encoder layer's feed-forward block (transformer only). Default
    /// 2 x `d_model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ff_width: Option<usize>,
}

/// The transformer's sizes, with defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformerShape {
    /// Width of each time step's vector.
    pub d_model: usize,
    /// Attention heads per layer.
    pub heads: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Feed-forward hidden width.
    pub ff_width: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::Mlp,
            hidden: vec![64, 32],
            dropout: 0.1,
            window: 16,
            horizon: 5,
            threshold: 0.0,
            vol_scaled: None,
            vol_window: 20,
            features: None,
            kernel: 3,
            d_model: None,
            heads: None,
            encoder_layers: None,
            ff_width: None,
        }
    }
}

impl ModelConfig {
    /// Returns the transformer's sizes: the `d_model`, `heads`, `encoder_layers` and
    /// `ff_width` given, or their defaults (32, 4, 2 and 2 x `d_model`).
    pub fn transformer(&self) -> TransformerShape {
        let d_model = self.d_model.unwrap_or(32);
        TransformerShape {
            d_model,
            heads: self.heads.unwrap_or(4),
            layers: self.encoder_layers.unwrap_or(2),
            ff_width: self.ff_width.unwrap_or(2 * d_model),
        }
    }

    /// Checks every value's range.
    ///
    /// # Errors
    /// Names the first key out of range and what was expected.
    pub fn validate(&self) -> Result<()> {
        if self.hidden.is_empty()
            || self.hidden.len() > MAX_LAYERS
            || self.hidden.iter().any(|&n| !(1..=MAX_UNITS).contains(&n))
        {
            return Err(config_error(
                "hidden",
                format!(
                    "1 to {MAX_LAYERS} layers, each of 1 to {MAX_UNITS} units, got {:?}",
                    self.hidden
                ),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(config_error(
                "dropout",
                format!("a probability in [0, 1), got {:?}", self.dropout),
            ));
        }
        check_between("window", self.window, 1, MAX_BARS)?;
        check_between("horizon", self.horizon, 1, MAX_BARS)?;
        check_between("kernel", self.kernel, 1, MAX_BARS)?;
        if !(self.threshold.is_finite() && self.threshold >= 0.0) {
            return Err(config_error(
                "threshold",
                format!("a finite value >= 0, got {:?}", self.threshold),
            ));
        }
        if let Some(k) = self.vol_scaled {
            if !(k.is_finite() && k > 0.0) {
                return Err(config_error(
                    "vol_scaled",
                    format!("a finite value > 0, got {k:?}"),
                ));
            }
            if self.threshold != 0.0 {
                return Err(config_error(
                    "threshold",
                    "0 when `vol_scaled` is set (the two are alternatives)",
                ));
            }
            check_between("vol_window", self.vol_window, 2, MAX_BARS)?;
        }
        self.validate_transformer()?;
        if let Some(features) = &self.features {
            if features.is_empty() {
                return Err(config_error("features", "at least one column name"));
            }
            for (i, name) in features.iter().enumerate() {
                if features[..i].contains(name) {
                    return Err(config_error(
                        "features",
                        format!("distinct column names, got `{name}` twice"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl ModelConfig {
    /// Checks the transformer's keys: given only with `kind = "transformer"`, and sizes that
    /// fit together (`heads` divides `d_model`).
    fn validate_transformer(&self) -> Result<()> {
        let given = [
            ("d_model", self.d_model),
            ("heads", self.heads),
            ("encoder_layers", self.encoder_layers),
            ("ff_width", self.ff_width),
        ];
        if self.kind != ModelKind::Transformer {
            if let Some(&(key, _)) = given.iter().find(|(_, v)| v.is_some()) {
                return Err(config_error(
                    key,
                    format!(
                        "no `{key}` with kind = \"{}\" (it sizes kind = \"transformer\")",
                        self.kind.name()
                    ),
                ));
            }
            return Ok(());
        }
        let shape = self.transformer();
        check_between("d_model", shape.d_model, 1, MAX_UNITS)?;
        check_between("heads", shape.heads, 1, MAX_UNITS)?;
        if !shape.d_model.is_multiple_of(shape.heads) {
            let divisors: Vec<String> = (1..=shape.d_model)
                .filter(|&h| shape.d_model.is_multiple_of(h))
                .take(8)
                .map(|h| h.to_string())
                .collect();
            return Err(config_error(
                "heads",
                format!(
                    "a divisor of d_model = {} (each head takes d_model / heads of its width), \
                     such as {}, got {}",
                    shape.d_model,
                    divisors.join(", "),
                    shape.heads
                ),
            ));
        }
        check_between("encoder_layers", shape.layers, 1, MAX_LAYERS)?;
        check_between("ff_width", shape.ff_width, 1, MAX_UNITS)?;
        if self.window > MAX_ATTENTION_WINDOW {
            return Err(config_error(
                "window",
                format!(
                    "at most {MAX_ATTENTION_WINDOW} bars with kind = \"transformer\" (attention \
                     holds window x window scores per head and sample), got {}",
                    self.window
                ),
            ));
        }
        Ok(())
    }
}

impl ModelKind {
    /// Returns the kind as a config names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mlp => "mlp",
            Self::Gru => "gru",
            Self::Lstm => "lstm",
            Self::Tcn => "tcn",
            Self::Transformer => "transformer",
        }
    }
}

/// How the learning rate changes over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// `learning_rate` throughout.
    #[default]
    Constant,
    /// Cosine decay from `learning_rate` towards 0 over `epochs`.
    Cosine,
    /// `learning_rate` x `lr_step_gamma` ^ (epoch / `lr_step_every`).
    Step,
}

/// How the walk-forward training window moves from fold to fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Every fold trains from the first bar: the window grows.
    #[default]
    Expanding,
    /// Every fold trains on the `train_bars` bars before its embargo: the window slides.
    Rolling,
}

/// Per-class weights of the cross-entropy loss.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "ClassWeightsRaw", into = "ClassWeightsRaw")]
pub enum ClassWeights {
    /// Every class weighs 1 (`"none"`).
    #[default]
    None,
    /// Weights inverse to the class frequencies of the training set (`"balanced"`):
    /// n / (3 x count); an absent class weighs 0.
    Balanced,
    /// Explicit weights for down, flat and up (`[1.0, 0.5, 1.0]`).
    Explicit([f64; 3]),
}

/// What a TOML `class_weights` value can be before it is checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum ClassWeightsRaw {
    Name(String),
    Values(Vec<f64>),
}

impl TryFrom<ClassWeightsRaw> for ClassWeights {
    type Error = String;

    fn try_from(raw: ClassWeightsRaw) -> Result<Self, String> {
        match raw {
            ClassWeightsRaw::Name(name) if name == "none" => Ok(Self::None),
            ClassWeightsRaw::Name(name) if name == "balanced" => Ok(Self::Balanced),
            ClassWeightsRaw::Name(name) => Err(format!(
                "class_weights: expected \"none\", \"balanced\" or [down, flat, up], got \"{name}\""
            )),
            ClassWeightsRaw::Values(v) => match <[f64; 3]>::try_from(v.as_slice()) {
                Ok(w) if w.iter().all(|x| x.is_finite() && *x >= 0.0) => Ok(Self::Explicit(w)),
                _ => Err(format!(
                    "class_weights: expected three finite weights >= 0 [down, flat, up], got {v:?}"
                )),
            },
        }
    }
}

impl From<ClassWeights> for ClassWeightsRaw {
    fn from(w: ClassWeights) -> Self {
        match w {
            ClassWeights::None => Self::Name("none".into()),
            ClassWeights::Balanced => Self::Name("balanced".into()),
            ClassWeights::Explicit(w) => Self::Values(w.to_vec()),
        }
    }
}

/// The `[training]` table: optimisation, augmentation, pooling and walk-forward evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training set (an upper bound with early stopping). Default 30.
    pub epochs: usize,
    /// Samples per mini-batch. Default 256.
    pub batch: usize,
    /// AdamW step size. Default 1e-3.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay. Default 0.01.
    pub weight_decay: f64,
    /// Seeds weight initialisation, shuffling, dropout and augmentation. Default 42.
    pub seed: u64,
    /// Epochs without a better validation loss before training stops; 0 never stops early.
    /// Either way the weights of the best validation epoch are kept. Default 5.
    pub patience: usize,
    /// `constant` (default), `cosine` or `step`.
    pub lr_schedule: LrSchedule,
    /// Epochs between steps of the `step` schedule. Default 10.
    pub lr_step_every: usize,
    /// Factor per step of the `step` schedule. Default 0.5.
    pub lr_step_gamma: f64,
    /// Rescales the gradients when their global L2 norm exceeds this. Default: no clipping.
    pub grad_clip: Option<f64>,
    /// `"none"` (default), `"balanced"` or `[down, flat, up]`.
    pub class_weights: ClassWeights,
    /// Standard deviation of Gaussian noise added to training inputs (standardised units).
    /// Default 0.
    pub noise_std: f64,
    /// Training samples are multiplied by a factor drawn uniformly from
    /// [1 - `scale_jitter`, 1 + `scale_jitter`]. Default 0.
    pub scale_jitter: f64,
    /// The last fraction of each training window that is held out (after an embargo of
    /// `horizon` bars) for early stopping. Default 0.2.
    pub validation: f64,
    /// Trains one model on every instrument pooled (default true); otherwise the caller trains
    /// one model per instrument.
    pub pretrain_pooled: bool,
    /// After pooled training, fine-tunes a copy per instrument for this many epochs; 0 (the
    /// default) keeps the pooled model only.
    pub fine_tune_epochs: usize,
    /// Learning rate of fine-tuning. Default: `learning_rate` / 10.
    pub fine_tune_lr: Option<f64>,
    /// Walk-forward folds. Default 4.
    pub folds: usize,
    /// Seeds trained per fold, to measure the spread of the out-of-sample scores: `seed` and
    /// `seeds - 1` seeds derived from it; the saved models are `seed`'s. Default 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seeds: Option<usize>,
    /// `expanding` (default) or `rolling`.
    pub scheme: Scheme,
    /// Bars in the first fold's training window (every fold's, when rolling). Default: half the
    /// bars.
    pub train_bars: Option<usize>,
    /// Bars per test fold. Default: the bars after the first training window and its embargo,
    /// split evenly across the folds.
    pub test_bars: Option<usize>,
    /// What a failed guard does (too few samples per parameter or per fold, a class missing from
    /// a fold's training rows): `"error"` (the default) refuses to train, `"warn"` trains and
    /// says so. Unset keys are left out of `model.json`, so model ids stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guards: Option<GuardMode>,
    /// Training samples each fold needs per trainable parameter. Default 0.1: fewer, and a
    /// network can memorise its training rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_samples_per_parameter: Option<f64>,
    /// Training samples and test samples each fold needs. Default 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_fold_samples: Option<usize>,
    /// A model folder (`quant train --pretrain` of a universe) whose weights start every fit,
    /// which then fine-tunes at `fine_tune_lr` for up to `epochs`, keeping the pre-trained
    /// weights when no epoch improves validation. Its inputs must be this config's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_from: Option<String>,
}

/// What a failed training guard does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardMode {
    /// Refuse to train, naming the key and the figures.
    #[default]
    Error,
    /// Train anyway and print the warning.
    Warn,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            batch: 256,
            learning_rate: 1e-3,
            weight_decay: 0.01,
            seed: 42,
            patience: 5,
            lr_schedule: LrSchedule::Constant,
            lr_step_every: 10,
            lr_step_gamma: 0.5,
            grad_clip: None,
            class_weights: ClassWeights::None,
            noise_std: 0.0,
            scale_jitter: 0.0,
            validation: 0.2,
            pretrain_pooled: true,
            fine_tune_epochs: 0,
            fine_tune_lr: None,
            folds: 4,
            seeds: None,
            scheme: Scheme::Expanding,
            train_bars: None,
            test_bars: None,
            guards: None,
            min_samples_per_parameter: None,
            min_fold_samples: None,
            init_from: None,
        }
    }
}

impl TrainingConfig {
    /// Seeds trained per fold (`seeds`, default 1).
    pub fn seed_count(&self) -> usize {
        self.seeds.unwrap_or(1)
    }

    /// Checks every value's range.
    ///
    /// # Errors
    /// Names the first key out of range and what was expected.
    pub fn validate(&self) -> Result<()> {
        check_between("epochs", self.epochs, 1, MAX_STEPS)?;
        if let Some(seeds) = self.seeds {
            check_between("seeds", seeds, 1, 1000)?;
        }
        check_between("batch", self.batch, 1, MAX_STEPS)?;
        check_positive("learning_rate", self.learning_rate)?;
        check_non_negative("weight_decay", self.weight_decay)?;
        check_between("lr_step_every", self.lr_step_every, 1, MAX_STEPS)?;
        check_positive("lr_step_gamma", self.lr_step_gamma)?;
        if let Some(clip) = self.grad_clip {
            check_positive("grad_clip", clip)?;
        }
        check_non_negative("noise_std", self.noise_std)?;
        if !(0.0..1.0).contains(&self.scale_jitter) {
            return Err(config_error(
                "scale_jitter",
                format!("a value in [0, 1), got {:?}", self.scale_jitter),
            ));
        }
        if !(self.validation > 0.0 && self.validation < 1.0) {
            return Err(config_error(
                "validation",
                format!(
                    "a fraction strictly between 0 and 1, got {:?}",
                    self.validation
                ),
            ));
        }
        if let Some(lr) = self.fine_tune_lr {
            check_positive("fine_tune_lr", lr)?;
        }
        check_between("folds", self.folds, 1, MAX_FOLDS)?;
        if let Some(bars) = self.train_bars {
            check_between("train_bars", bars, 2, usize::MAX)?;
        }
        if let Some(bars) = self.test_bars {
            check_between("test_bars", bars, 1, usize::MAX)?;
        }
        if let Some(ratio) = self.min_samples_per_parameter {
            check_non_negative("min_samples_per_parameter", ratio)?;
        }
        if self
            .init_from
            .as_deref()
            .is_some_and(|p| p.trim().is_empty())
        {
            return Err(config_error(
                "init_from",
                "the folder of a pre-trained model, e.g. \"models/universe\", got \"\"",
            ));
        }
        Ok(())
    }

    /// Returns the learning rate of `epoch` (0-based) under the schedule.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.lr_schedule {
            LrSchedule::Constant => self.learning_rate,
            LrSchedule::Cosine => {
                let progress = epoch as f64 / self.epochs.max(1) as f64;
                self.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
            LrSchedule::Step => {
                let steps = (epoch / self.lr_step_every.max(1)) as i32;
                self.learning_rate * self.lr_step_gamma.powi(steps)
            }
        }
    }
}

/// Checks a count against its documented range (README, "Models"): the upper bounds keep an
/// absurd value from asking for more memory than any machine has, or a run that never ends.
fn check_between(field: &'static str, value: usize, min: usize, max: usize) -> Result<()> {
    if !(min..=max).contains(&value) {
        return Err(config_error(
            field,
            format!("a whole number from {min} to {max}, got {value}"),
        ));
    }
    Ok(())
}

/// Most hidden layers a model may have.
const MAX_LAYERS: usize = 64;
/// Most units in one hidden layer.
const MAX_UNITS: usize = 65_536;
/// Longest input window, horizon, kernel or volatility window, in bars.
const MAX_BARS: usize = 100_000;
/// Most epochs, batch size, or epochs between learning-rate steps.
const MAX_STEPS: usize = 1_000_000;
/// Most walk-forward folds.
const MAX_FOLDS: usize = 1_000;
/// Longest transformer window: its attention scores grow with the window's square.
const MAX_ATTENTION_WINDOW: usize = 4_096;

fn check_positive(field: &'static str, value: f64) -> Result<()> {
    if !(value.is_finite() && value > 0.0) {
        return Err(config_error(
            field,
            format!("a finite value > 0, got {value:?}"),
        ));
    }
    Ok(())
}

fn check_non_negative(field: &'static str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(config_error(
            field,
            format!("a finite value >= 0, got {value:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_names_layers_and_class_threshold_are_accepted() {
        let cfg: ModelConfig =
            toml::from_str("layers = [16, 8]\nclass_threshold = 0.01\n").expect("aliases parse");
        assert_eq!(cfg.hidden, vec![16, 8]);
        assert_eq!(cfg.threshold, 0.01);
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        model: ModelConfig,
        #[serde(default)]
        training: TrainingConfig,
    }

    #[test]
    fn configs_parse_from_toml_and_errors_name_the_key() -> Result<(), Box<dyn std::error::Error>> {
        let doc: Doc = toml::from_str(
            "[model]\nkind = \"tcn\"\nhidden = [8, 8]\nvol_scaled = 0.5\n\
             [training]\nlr_schedule = \"step\"\nclass_weights = [1.0, 0.5, 1.0]\nscheme = \"rolling\"\n",
        )?;
        assert_eq!(doc.model.kind, ModelKind::Tcn);
        assert_eq!(
            doc.training.class_weights,
            ClassWeights::Explicit([1.0, 0.5, 1.0])
        );
        doc.model.validate()?;
        doc.training.validate()?;
        let doc: Doc = toml::from_str("[training]\nclass_weights = \"balanced\"\n")?;
        assert_eq!(doc.training.class_weights, ClassWeights::Balanced);

        let err = toml::from_str::<Doc>("[model]\nkind = \"attention\"\n").expect_err("kind");
        let msg = err.to_string();
        for kind in ["attention", "mlp", "gru", "lstm", "tcn", "transformer"] {
            assert!(msg.contains(kind), "{msg}");
        }
        let err = toml::from_str::<Doc>("[model]\nwindwo = 3\n").expect_err("a typo");
        assert!(err.to_string().contains("windwo"), "{err}");
        let err = toml::from_str::<Doc>("[training]\nclass_weights = [1.0, 2.0]\n").expect_err("2");
        assert!(err.to_string().contains("three finite weights"), "{err}");

        let bad_model = [
            (
                ModelConfig {
                    window: 0,
                    ..ModelConfig::default()
                },
                "`window`",
            ),
            (
                ModelConfig {
                    horizon: 0,
                    ..ModelConfig::default()
                },
                "`horizon`",
            ),
            (
                ModelConfig {
                    hidden: vec![],
                    ..ModelConfig::default()
                },
                "`hidden`",
            ),
            (
                ModelConfig {
                    dropout: 1.0,
                    ..ModelConfig::default()
                },
                "`dropout`",
            ),
            // Absurd sizes are refused before anything is allocated.
            (
                ModelConfig {
                    hidden: vec![1_000_000_000_000],
                    ..ModelConfig::default()
                },
                "`hidden`",
            ),
            (
                ModelConfig {
                    window: 1 << 62,
                    ..ModelConfig::default()
                },
                "`window`",
            ),
            (
                ModelConfig {
                    threshold: 0.01,
                    vol_scaled: Some(1.0),
                    ..ModelConfig::default()
                },
                "`threshold`",
            ),
        ];
        for (cfg, field) in bad_model {
            let err = cfg.validate().expect_err(field);
            assert!(err.to_string().contains(field), "{err}");
        }
        let bad_training = [
            (
                TrainingConfig {
                    batch: 0,
                    ..TrainingConfig::default()
                },
                "`batch`",
            ),
            (
                TrainingConfig {
                    epochs: usize::MAX,
                    ..TrainingConfig::default()
                },
                "`epochs`",
            ),
            (
                TrainingConfig {
                    learning_rate: 0.0,
                    ..TrainingConfig::default()
                },
                "`learning_rate`",
            ),
            (
                TrainingConfig {
                    validation: 0.0,
                    ..TrainingConfig::default()
                },
                "`validation`",
            ),
            (
                TrainingConfig {
                    scale_jitter: 1.5,
                    ..TrainingConfig::default()
                },
                "`scale_jitter`",
            ),
        ];
        for (cfg, field) in bad_training {
            let err = cfg.validate().expect_err(field);
            assert!(err.to_string().contains(field), "{err}");
        }
        let step = TrainingConfig {
            lr_schedule: LrSchedule::Step,
            lr_step_every: 2,
            ..TrainingConfig::default()
        };
        assert_eq!((step.lr_at(1), step.lr_at(2)), (1e-3, 5e-4));
        Ok(())
    }

    #[test]
    fn transformer_keys_parse_default_and_are_checked() -> Result<(), Box<dyn std::error::Error>> {
        let doc: Doc = toml::from_str(
            "[model]\nkind = \"transformer\"\nd_model = 24\nheads = 3\nencoder_layers = 1\n",
        )?;
        doc.model.validate()?;
        let shape = doc.model.transformer();
        assert_eq!(
            (shape.d_model, shape.heads, shape.layers, shape.ff_width),
            (24, 3, 1, 48)
        );
        let defaults = ModelConfig {
            kind: ModelKind::Transformer,
            ..ModelConfig::default()
        };
        defaults.validate()?;
        assert_eq!(
            defaults.transformer(),
            TransformerShape {
                d_model: 32,
                heads: 4,
                layers: 2,
                ff_width: 64
            }
        );
        // Other kinds serialise as before the transformer existed (their model ids hash this).
        let json = serde_json::to_string(&ModelConfig::default())?;
        assert!(
            !json.contains("d_model") && !json.contains("heads"),
            "{json}"
        );

        let bad = [
            (
                "d_model = 30\nheads = 4",
                "`heads`",
                "a divisor of d_model = 30",
            ),
            ("d_model = 0", "`d_model`", "from 1 to"),
            ("heads = 0", "`heads`", "from 1 to"),
            ("encoder_layers = 0", "`encoder_layers`", "from 1 to"),
            ("ff_width = 0", "`ff_width`", "from 1 to"),
            ("window = 5000", "`window`", "at most 4096 bars"),
        ];
        for (keys, field, expected) in bad {
            let text = format!("[model]\nkind = \"transformer\"\n{keys}\n");
            let doc: Doc = toml::from_str(&text)?;
            let err = doc.model.validate().expect_err(keys).to_string();
            assert!(
                err.contains(field) && err.contains(expected),
                "{keys}: {err}"
            );
        }
        let doc: Doc = toml::from_str("[model]\nkind = \"gru\"\nheads = 4\n")?;
        let err = doc
            .model
            .validate()
            .expect_err("heads on a GRU")
            .to_string();
        assert!(
            err.contains("`heads`") && err.contains("\"gru\"") && err.contains("transformer"),
            "{err}"
        );
        Ok(())
    }
}
