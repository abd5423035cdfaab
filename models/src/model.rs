//! The trend classifier: an MLP, a GRU, an LSTM, a temporal convolution network or a
//! transformer encoder (`crate::transformer`) over a window of standardised feature rows, ending
//! in a linear layer whose softmax gives class probabilities.
//!
//! Seeding: candle's CPU random generator cannot be seeded per model, so every weight is drawn
//! here from a `Xoshiro256PlusPlus` seeded with the training seed (PyTorch's default uniform
//! ranges) and placed in the `VarMap` before the candle layers look their weights up, and
//! dropout masks come from a second seeded stream. The same config and seed therefore give
//! bit-identical weights and training runs.
//!
//! Threading: see [`candle_threads_configured`].

use super::config::{ModelConfig, ModelKind};
use super::error::{MlError, Result};
use super::occluder::Occluder;
use super::transformer::{self, Encoder};
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::rnn::{GRU, GRUConfig, LSTM, LSTMConfig, RNN};
use candle_nn::{Conv1d, Conv1dConfig, Linear, VarBuilder, VarMap};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::sync::{Mutex, PoisonError};

/// Returns whether `RAYON_NUM_THREADS` fixes candle's CPU thread count, so that callers can warn
/// or set it before starting.
///
/// Threading, as measured with candle 0.11.1 on a 2-core machine:
/// - candle takes its thread count from `RAYON_NUM_THREADS`. When that is unset it re-reads
///   `/proc/cpuinfo` on every matrix product, about 30 us each: one MLP sample took 95 us
///   instead of 3.5 us. Processes that run models should start with it set.
/// - With more than one thread, products above gemm's work threshold (a batch of 100 MLP
///   samples already) are split through rayon, which from outside a rayon pool costs a
///   hand-off to the global pool: 60-135 us instead of 32 us for that batch. Inside a rayon
///   worker the split runs on the caller's pool. `RAYON_NUM_THREADS=1`, with parallel work on
///   explicit `rayon::ThreadPool`s, as STACK.md advises, was fastest here for inference and
///   training alike.
/// - `predict_proba` computes its softmax itself because candle's goes through rayon for a few
///   exponentials; the TCN's convolutions still do.
/// - Results do not depend on the thread count: trained weights were bit-identical with 1, 2
///   and 4 threads.
pub fn candle_threads_configured() -> bool {
    std::env::var_os("RAYON_NUM_THREADS").is_some_and(|v| !v.is_empty())
}

/// Random streams derived from one seed, so that, for example, changing the dropout rate does
/// not change the initial weights or the shuffling order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Init = 1,
    Dropout = 2,
    Shuffle = 3,
    Augment = 4,
}

/// Returns a generator for `stream` of `seed` (SplitMix64 of the pair, so nearby seeds give
/// unrelated streams).
pub(crate) fn rng_for(seed: u64, stream: Stream) -> Xoshiro256PlusPlus {
    let mut z = seed ^ (stream as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Xoshiro256PlusPlus::seed_from_u64(z ^ (z >> 31))
}

/// The layers between the input window and the output layer.
enum Body {
    Mlp(Vec<Linear>),
    Gru(Vec<GRU>),
    Lstm(Vec<LSTM>),
    Tcn(Vec<Conv1d>),
    Transformer(Encoder),
}

/// A trend (or volatility) classifier over windows of `[window x features]`.
pub struct TrendModel {
    cfg: ModelConfig,
    features: usize,
    classes: usize,
    varmap: VarMap,
    /// The weights sorted by name: a fixed order for the optimiser, the gradient norm, hashing
    /// and comparisons (the `VarMap` is a `HashMap`).
    vars: Vec<(String, Var)>,
    body: Body,
    out: Linear,
    dropout_rng: Mutex<Xoshiro256PlusPlus>,
}

impl std::fmt::Debug for TrendModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrendModel")
            .field("kind", &self.cfg.kind)
            .field("window", &self.cfg.window)
            .field("features", &self.features)
            .field("classes", &self.classes)
            .field("parameters", &self.parameter_count())
            .finish()
    }
}

/// One weight tensor to create: name, shape, and how its values start.
pub(crate) struct ParamSpec {
    name: String,
    shape: Vec<usize>,
    init: Init,
}

/// A weight's initial values.
enum Init {
    /// Uniform in [-bound, bound], drawn from the seeded stream.
    Uniform(f64),
    /// Every value the same (a layer norm's scale 1 and shift 0).
    Const(f32),
}

/// Returns a weight drawn uniformly in [-`bound`, `bound`].
pub(crate) fn param(name: String, shape: &[usize], bound: f64) -> ParamSpec {
    ParamSpec {
        name,
        shape: shape.to_vec(),
        init: Init::Uniform(bound),
    }
}

/// Returns a weight whose values all start at `value`.
pub(crate) fn constant(name: String, shape: &[usize], value: f32) -> ParamSpec {
    ParamSpec {
        name,
        shape: shape.to_vec(),
        init: Init::Const(value),
    }
}

/// Returns every weight the architecture needs, named as the candle layers look them up.
fn param_specs(cfg: &ModelConfig, features: usize, classes: usize) -> Vec<ParamSpec> {
    let mut specs = Vec::new();
    let mut width = match cfg.kind {
        ModelKind::Mlp => cfg.window * features,
        _ => features,
    };
    if cfg.kind == ModelKind::Transformer {
        let shape = cfg.transformer();
        specs = transformer::param_specs(&shape, features);
        width = shape.d_model;
    }
    let hidden: &[usize] = match cfg.kind {
        ModelKind::Transformer => &[],
        _ => &cfg.hidden,
    };
    for (i, &h) in hidden.iter().enumerate() {
        match cfg.kind {
            ModelKind::Mlp => {
                let b = 1.0 / (width as f64).sqrt();
                specs.push(param(format!("hidden{i}.weight"), &[h, width], b));
                specs.push(param(format!("hidden{i}.bias"), &[h], b));
            }
            ModelKind::Gru | ModelKind::Lstm => {
                let gates = if cfg.kind == ModelKind::Gru { 3 } else { 4 };
                let b = 1.0 / (h as f64).sqrt();
                specs.push(param(
                    format!("rnn{i}.weight_ih_l0"),
                    &[gates * h, width],
                    b,
                ));
                specs.push(param(format!("rnn{i}.weight_hh_l0"), &[gates * h, h], b));
                specs.push(param(format!("rnn{i}.bias_ih_l0"), &[gates * h], b));
                specs.push(param(format!("rnn{i}.bias_hh_l0"), &[gates * h], b));
            }
            ModelKind::Tcn => {
                let b = 1.0 / ((width * cfg.kernel) as f64).sqrt();
                specs.push(param(format!("conv{i}.weight"), &[h, width, cfg.kernel], b));
                specs.push(param(format!("conv{i}.bias"), &[h], b));
            }
            ModelKind::Transformer => {}
        }
        width = h;
    }
    let b = 1.0 / (width as f64).sqrt();
    specs.push(param("out.weight".into(), &[classes, width], b));
    specs.push(param("out.bias".into(), &[classes], b));
    specs
}

impl TrendModel {
    /// Returns a freshly initialised model for windows of `features` columns and `classes`
    /// output classes, its weights drawn from `seed`.
    ///
    /// # Errors
    /// Returns an error when the config is invalid or `features` or `classes` is 0.
    pub fn new(cfg: &ModelConfig, features: usize, classes: usize, seed: u64) -> Result<Self> {
        cfg.validate()?;
        if features == 0 || classes < 2 {
            return Err(MlError::Shape {
                what: "model",
                expected: "at least 1 feature and 2 classes".into(),
                got: format!("{features} features, {classes} classes"),
            });
        }
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let specs = param_specs(cfg, features, classes);
        let mut rng = rng_for(seed, Stream::Init);
        {
            let mut data = varmap.data().lock().unwrap_or_else(PoisonError::into_inner);
            for spec in &specs {
                let len = spec.shape.iter().product();
                let values: Vec<f32> = match spec.init {
                    Init::Uniform(bound) => (0..len)
                        .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
                        .collect(),
                    Init::Const(value) => vec![value; len],
                };
                let tensor = Tensor::from_vec(values, spec.shape.as_slice(), &device)?;
                data.insert(spec.name.clone(), Var::from_tensor(&tensor)?);
            }
        }
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let hidden = &cfg.hidden;
        let mut width = features;
        let body = match cfg.kind {
            ModelKind::Mlp => {
                width = cfg.window * features;
                let mut layers = Vec::new();
                for (i, &h) in hidden.iter().enumerate() {
                    layers.push(candle_nn::linear(width, h, vb.pp(format!("hidden{i}")))?);
                    width = h;
                }
                Body::Mlp(layers)
            }
            ModelKind::Gru => {
                let mut layers = Vec::new();
                for (i, &h) in hidden.iter().enumerate() {
                    let c = GRUConfig::default();
                    layers.push(candle_nn::rnn::gru(width, h, c, vb.pp(format!("rnn{i}")))?);
                    width = h;
                }
                Body::Gru(layers)
            }
            ModelKind::Lstm => {
                let mut layers = Vec::new();
                for (i, &h) in hidden.iter().enumerate() {
                    let c = LSTMConfig::default();
                    layers.push(candle_nn::rnn::lstm(width, h, c, vb.pp(format!("rnn{i}")))?);
                    width = h;
                }
                Body::Lstm(layers)
            }
            ModelKind::Tcn => {
                let mut layers = Vec::new();
                for (i, &h) in hidden.iter().enumerate() {
                    // Dilations 1, 2, 4, ...: the receptive field grows exponentially with
                    // depth, as in WaveNet-style temporal convolution networks.
                    let c = Conv1dConfig {
                        dilation: 1 << i.min(16),
                        ..Conv1dConfig::default()
                    };
                    let vb = vb.pp(format!("conv{i}"));
                    layers.push(candle_nn::conv1d(width, h, cfg.kernel, c, vb)?);
                    width = h;
                }
                Body::Tcn(layers)
            }
            ModelKind::Transformer => {
                let shape = cfg.transformer();
                width = shape.d_model;
                Body::Transformer(Encoder::new(&shape, cfg.window, features, &vb)?)
            }
        };
        let out = candle_nn::linear(width, classes, vb.pp("out"))?;
        let mut vars: Vec<(String, Var)> = varmap
            .data()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // A layer asking for a weight not created above would get candle's unseeded
        // initialisation and break reproducibility: refuse instead.
        if vars.len() != specs.len() {
            return Err(MlError::Shape {
                what: "model weights",
                expected: format!("the {} seeded tensors", specs.len()),
                got: format!("{} tensors", vars.len()),
            });
        }
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self {
            cfg: cfg.clone(),
            features,
            classes,
            varmap,
            vars,
            body,
            out,
            dropout_rng: Mutex::new(rng_for(seed, Stream::Dropout)),
        })
    }

    /// Returns the model config.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Returns the number of features per window row.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Returns the number of output classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Returns the number of trainable scalars.
    pub fn parameter_count(&self) -> usize {
        self.vars.iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// Returns the trainable weights sorted by name, for the optimiser.
    pub(crate) fn vars(&self) -> Vec<Var> {
        self.vars.iter().map(|(_, v)| v.clone()).collect()
    }

    pub(crate) fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Returns every weight tensor's name and values, sorted by name.
    ///
    /// # Errors
    /// Returns an error when a tensor cannot be read.
    pub fn weights(&self) -> Result<Vec<(String, Vec<f32>)>> {
        self.vars
            .iter()
            .map(|(name, v)| Ok((name.clone(), v.as_tensor().flatten_all()?.to_vec1()?)))
            .collect()
    }

    /// Returns a copy of every weight, to restore later (the best epoch of early stopping).
    pub(crate) fn snapshot(&self) -> Result<Vec<Tensor>> {
        Ok(self
            .vars
            .iter()
            .map(|(_, v)| v.as_tensor().copy())
            .collect::<candle_core::Result<_>>()?)
    }

    /// Sets every weight from a snapshot of a model of the same architecture.
    pub(crate) fn restore(&self, snapshot: &[Tensor]) -> Result<()> {
        for ((_, var), value) in self.vars.iter().zip(snapshot) {
            var.set(value)?;
        }
        Ok(())
    }

    /// Restarts the dropout stream from `seed` (fine-tuning copies get their own).
    pub(crate) fn reseed_dropout(&self, seed: u64) {
        *self
            .dropout_rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = rng_for(seed, Stream::Dropout);
    }

    /// Returns the unnormalised class scores `[batch x classes]` of `x`, `[batch x window x
    /// features]`. With `train`, dropout is applied with masks from the model's seeded dropout
    /// stream; without, the model is deterministic.
    ///
    /// # Errors
    /// Returns a shape error when `x` is not `[batch x window x features]`.
    pub fn logits(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let dims = x.dims();
        if dims.len() != 3 || dims[1] != self.cfg.window || dims[2] != self.features {
            return Err(MlError::Shape {
                what: "model input",
                expected: format!("[batch x {} x {}]", self.cfg.window, self.features),
                got: format!("{dims:?}"),
            });
        }
        let p = if train { self.cfg.dropout } else { 0.0 };
        let hidden = match &self.body {
            Body::Mlp(layers) => {
                let mut h = x.flatten_from(1)?;
                for layer in layers {
                    h = self.dropout(&layer.forward(&h)?.relu()?, p)?;
                }
                h
            }
            Body::Gru(layers) => {
                let mut seq = x.clone();
                for layer in layers {
                    let states = layer.seq(&seq)?;
                    let (b, t) = (seq.dim(0)?, seq.dim(1)?);
                    // GRU's `states_to_tensor` concatenates to [b, t * h]; restore the time axis.
                    seq = layer.states_to_tensor(&states)?.reshape((b, t, ()))?;
                    seq = self.dropout(&seq, p)?;
                }
                last_step(&seq)?
            }
            Body::Lstm(layers) => {
                let mut seq = x.clone();
                for layer in layers {
                    let states = layer.seq(&seq)?;
                    seq = self.dropout(&layer.states_to_tensor(&states)?, p)?;
                }
                last_step(&seq)?
            }
            Body::Tcn(layers) => {
                let mut h = x.transpose(1, 2)?.contiguous()?;
                for layer in layers {
                    // Left padding only: the output at step s sees steps <= s (causal).
                    let reach = (layer.weight().dim(2)? - 1) * layer.config().dilation;
                    let padded = h.pad_with_zeros(2, reach, 0)?;
                    h = self.dropout(&layer.forward(&padded)?.relu()?, p)?;
                }
                let steps = h.dim(2)?;
                h.narrow(2, steps - 1, 1)?.squeeze(2)?
            }
            Body::Transformer(encoder) => encoder.forward(x, &|t| self.dropout(t, p))?,
        };
        Ok(self.out.forward(&hidden)?)
    }

    /// Returns `x` with each element zeroed with probability `p` and the rest scaled by
    /// 1 / (1 - p) (inverted dropout: nothing to rescale at inference).
    fn dropout(&self, x: &Tensor, p: f64) -> Result<Tensor> {
        if p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - p;
        let scale = (1.0 / keep) as f32;
        let mask: Vec<f32> = {
            let mut rng = self
                .dropout_rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            (0..x.elem_count())
                .map(|_| {
                    if rng.random::<f64>() < keep {
                        scale
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?;
        Ok((x * mask)?)
    }

    /// Returns class probabilities, row-major `[batch x classes]`, of `batch` samples given
    /// row-major `[batch x window x features]`.
    ///
    /// # Errors
    /// Returns a shape error when `x` does not hold `batch` samples of this model's shape.
    pub fn predict_proba(&self, x: &[f32], batch: usize) -> Result<Vec<f32>> {
        let size = self.cfg.window * self.features;
        if x.len() != batch * size {
            return Err(MlError::Shape {
                what: "predict_proba input",
                expected: format!(
                    "{batch} samples x {} rows x {} features = {} values",
                    self.cfg.window,
                    self.features,
                    batch * size
                ),
                got: format!("{} values", x.len()),
            });
        }
        if batch == 0 {
            return Ok(Vec::new());
        }
        let x = Tensor::from_slice(x, (batch, self.cfg.window, self.features), &Device::Cpu)?;
        self.softmax(&self.logits(&x, false)?)
    }

    /// Returns class probabilities `[batch x (features + 1) x classes]` of `batch` samples
    /// (row-major `[batch x window x features]`): of each sample as given, then of the sample
    /// with feature j set to 0 at every lag, for each j (0 is the training mean of
    /// standardised inputs: occlusion, see `crate::explain`).
    ///
    /// An MLP's first layer is linear, so feature j's share of each sample's pre-activation is
    /// subtracted instead of running a copy: exact, and about two first-layer products instead
    /// of `features + 1` forward passes. Other kinds run the copies. To explain many batches,
    /// prepare the weights once with [`TrendModel::occluder`].
    ///
    /// # Errors
    /// As [`TrendModel::predict_proba`].
    pub fn predict_occluded(&self, x: &[f32], batch: usize) -> Result<Vec<f32>> {
        self.occluder()?.predict(x, batch)
    }

    /// Returns the weights [`TrendModel::predict_occluded`] needs, arranged once: a backtest
    /// explains its orders in many batches of one model.
    ///
    /// # Errors
    /// Returns an error when a weight tensor cannot be read.
    pub fn occluder(&self) -> Result<Occluder<'_>> {
        let mlp = match &self.body {
            Body::Mlp(layers) => Some((&layers[..], &self.out)),
            _ => None,
        };
        Occluder::new(self, mlp)
    }

    /// Returns the row-wise softmax of `logits` `[n x classes]`, row-major.
    fn softmax(&self, logits: &Tensor) -> Result<Vec<f32>> {
        let mut probs: Vec<f32> = logits.flatten_all()?.to_vec1()?;
        softmax_rows(&mut probs, self.classes);
        Ok(probs)
    }
}

/// Returns the probability of `class` given one row of logits, as `1 / sum over k of
/// exp(l_k - l_class)`: one exponential fewer than the softmax of the whole row, as the class's
/// own term is exp(0) = 1, and each by [`exp_f32`], inlined. Explaining an order takes this for
/// each of its occluded rows, where the library `expf` calls had cost as much as a tenth of the
/// forward passes.
pub(crate) fn softmax_of(logits: &[f32], class: usize) -> f32 {
    let own = logits[class];
    let others = (logits.iter().enumerate()).filter(|&(k, _)| k != class);
    1.0 / others.fold(1.0, |sum, (_, &l)| sum + exp_f32(l - own))
}

/// e^x to within a few ulps for x in [-87, 88], the range whose result is a normal f32; x is
/// clamped to it, so a larger x gives 1.65e38 rather than infinity (NaN stays NaN).
///
/// Cody and Waite's reduction: x = n ln 2 + r with n an integer and |r| <= ln 2 / 2, ln 2
/// split so that n times its leading part is exact; e^r by its Taylor series to r^7 (truncation
/// below 6e-9 relative), times 2^n built from the exponent bits.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and taking away 1.5 * 2^23 rounds to the nearest integer, ties to even, as
    // `round_ties_even` does, but without the library call it is on baseline x86-64.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    // n is in [-126, 127] here: a normal exponent.
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Turns each row of `classes` logits into probabilities, in place.
pub(crate) fn softmax_rows(probs: &mut [f32], classes: usize) {
    // Softmax here rather than candle's, whose rows go through rayon: from outside a rayon
    // pool that is a hand-off to the global pool (~50 us for 100 samples, measured) for a
    // few exponentials.
    for row in probs.chunks_exact_mut(classes) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}

/// Returns the last time step of `[b, t, h]` as `[b, h]`.
fn last_step(seq: &Tensor) -> Result<Tensor> {
    let t = seq.dim(1)?;
    Ok(seq.narrow(1, t - 1, 1)?.squeeze(1)?)
}
