//! Training: weighted cross-entropy, AdamW over seeded shuffled mini-batches, Gaussian-noise and
//! scaling augmentation of training batches, gradient clipping by global norm, a learning-rate
//! schedule and early stopping on the validation loss that keeps the best epoch's weights. Plus
//! pooled pre-training with per-instrument fine-tuning.

use super::config::{ClassWeights, ModelConfig, TrainingConfig};
use super::dataset::Dataset;
use super::error::{MlError, Result};
use super::model::{Stream, TrendModel, rng_for};
use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Classes of every label: down/flat/up, or low/medium/high volatility.
pub const CLASSES: usize = 3;

/// Samples per forward pass when evaluating (memory bound only: results do not depend on it).
const EVAL_BATCH: usize = 4096;

/// One epoch's figures, passed to the progress callback as training goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean (class-weighted) cross-entropy over the epoch's training batches, with dropout and
    /// augmentation on.
    pub train_loss: f64,
    /// Mean (class-weighted) cross-entropy on the validation set, the early-stopping criterion.
    pub valid_loss: f64,
    /// Share of validation samples whose most probable class is right.
    pub valid_accuracy: f64,
    /// Learning rate of the epoch.
    pub lr: f64,
    /// The instrument being fine-tuned; `None` for pooled or single-model training.
    pub instrument: Option<u32>,
}

/// What a training run did: the learning curves and the epoch whose weights were kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Every epoch run, in order.
    pub epochs: Vec<EpochReport>,
    /// The epoch (from 1) with the lowest validation loss, whose weights the model holds; 0 when
    /// fine-tuning kept the starting weights because no epoch improved on them.
    pub best_epoch: usize,
    /// Its validation loss.
    pub best_valid_loss: f64,
    /// Whether early stopping ended training before the last epoch.
    pub stopped_early: bool,
    /// Training samples.
    pub train_samples: usize,
    /// Validation samples.
    pub valid_samples: usize,
}

/// Trains a new model of `model_cfg` on `train`, stopping early on `valid`, and calls
/// `progress` after every epoch.
///
/// # Errors
/// Returns an error when a config is invalid, a dataset is empty or shaped unlike the model, or
/// a tensor operation fails.
pub fn train(
    model_cfg: &ModelConfig,
    training_cfg: &TrainingConfig,
    train: &Dataset,
    valid: &Dataset,
    progress: &mut dyn FnMut(&EpochReport),
) -> Result<(TrendModel, TrainReport)> {
    training_cfg.validate()?;
    let model = TrendModel::new(model_cfg, train.features, CLASSES, training_cfg.seed)?;
    let report = fit(&model, training_cfg, train, valid, None, false, progress)?;
    Ok((model, report))
}

/// Fine-tunes a copy of `start` (a pre-trained model of the same shape) on `train` for
/// `training_cfg.epochs` at `fine_tune_lr` (default `learning_rate` / 10), stopping early on
/// `valid`; the pre-trained weights are kept when no epoch improves on their validation loss
/// (`best_epoch` 0).
///
/// # Errors
/// As [`train`]; also when `start` differs in shape from `model_cfg`.
pub fn fine_tune(
    start: &TrendModel,
    model_cfg: &ModelConfig,
    training_cfg: &TrainingConfig,
    train: &Dataset,
    valid: &Dataset,
    progress: &mut dyn FnMut(&EpochReport),
) -> Result<(TrendModel, TrainReport)> {
    training_cfg.validate()?;
    let cfg = TrainingConfig {
        learning_rate: training_cfg
            .fine_tune_lr
            .unwrap_or(training_cfg.learning_rate / 10.0),
        ..training_cfg.clone()
    };
    let model = TrendModel::new(model_cfg, start.features(), CLASSES, cfg.seed)?;
    model.restore(&start.snapshot()?)?;
    let report = fit(&model, &cfg, train, valid, None, true, progress)?;
    Ok((model, report))
}

/// A model fine-tuned on one instrument.
#[derive(Debug)]
pub struct FineTuned {
    /// The instrument.
    pub instrument: u32,
    /// The pooled model after fine-tuning on the instrument's samples.
    pub model: TrendModel,
    /// The fine-tuning run.
    pub report: TrainReport,
}

/// A pooled model and its per-instrument fine-tuned copies.
#[derive(Debug)]
pub struct PooledTraining {
    /// The model trained on every instrument's samples.
    pub pooled: TrendModel,
    /// The pooled run.
    pub report: TrainReport,
    /// One copy per instrument of `train`, fine-tuned for `fine_tune_epochs` at `fine_tune_lr`
    /// (ascending instrument; empty when `fine_tune_epochs` is 0).
    pub fine_tuned: Vec<FineTuned>,
}

/// Trains one model on every instrument of `train` pooled, then fine-tunes a copy per
/// instrument on that instrument's samples (early stopping on its validation samples).
///
/// # Errors
/// As [`train`]; also when an instrument has no validation samples to fine-tune against.
pub fn train_pooled(
    model_cfg: &ModelConfig,
    training_cfg: &TrainingConfig,
    train_set: &Dataset,
    valid: &Dataset,
    progress: &mut dyn FnMut(&EpochReport),
) -> Result<PooledTraining> {
    let (pooled, report) = train(model_cfg, training_cfg, train_set, valid, progress)?;
    let mut fine_tuned = Vec::new();
    if training_cfg.fine_tune_epochs == 0 {
        return Ok(PooledTraining {
            pooled,
            report,
            fine_tuned,
        });
    }
    let weights = pooled.snapshot()?;
    for instrument in train_set.instruments() {
        let own_train = train_set.filter(|i, _| i == instrument);
        let own_valid = valid.filter(|i, _| i == instrument);
        let cfg = TrainingConfig {
            epochs: training_cfg.fine_tune_epochs,
            learning_rate: training_cfg
                .fine_tune_lr
                .unwrap_or(training_cfg.learning_rate / 10.0),
            // Each copy gets its own streams, independent of the other instruments.
            seed: training_cfg.seed
                ^ (u64::from(instrument) + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93),
            ..training_cfg.clone()
        };
        let model = TrendModel::new(model_cfg, train_set.features, CLASSES, cfg.seed)?;
        model.restore(&weights)?;
        let report = fit(
            &model,
            &cfg,
            &own_train,
            &own_valid,
            Some(instrument),
            true,
            progress,
        )?;
        fine_tuned.push(FineTuned {
            instrument,
            model,
            report,
        });
    }
    Ok(PooledTraining {
        pooled,
        report,
        fine_tuned,
    })
}

/// Runs the training loop on `model`, leaving it with the best validation epoch's weights.
/// With `keep_initial` (fine-tuning), the starting weights compete as epoch 0: when no epoch
/// improves on their validation loss they are kept, and the report's `best_epoch` is 0.
fn fit(
    model: &TrendModel,
    cfg: &TrainingConfig,
    train: &Dataset,
    valid: &Dataset,
    instrument: Option<u32>,
    keep_initial: bool,
    progress: &mut dyn FnMut(&EpochReport),
) -> Result<TrainReport> {
    for (what, ds) in [("training", train), ("validation", valid)] {
        if ds.n == 0 {
            return Err(MlError::NoSamples {
                reason: match instrument {
                    Some(i) => format!("the {what} set of instrument {i} is empty"),
                    None => format!("the {what} set is empty"),
                },
            });
        }
        let expected = (model.config().window, model.features());
        if (ds.window, ds.features) != expected {
            return Err(MlError::Shape {
                what: "dataset samples",
                expected: format!("[{} x {}] as the model", expected.0, expected.1),
                got: format!("[{} x {}] in the {what} set", ds.window, ds.features),
            });
        }
    }
    model.reseed_dropout(cfg.seed);
    let class_weights = class_weights(&cfg.class_weights, train);
    let mut optimizer = AdamW::new(
        model.vars(),
        ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: cfg.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let mut shuffle_rng = rng_for(cfg.seed, Stream::Shuffle);
    let mut augment_rng = rng_for(cfg.seed, Stream::Augment);
    let mut order: Vec<usize> = (0..train.n).collect();
    let mut epochs = Vec::new();
    let initial_loss = if keep_initial {
        validation_loss(model, valid, &class_weights)?.0
    } else {
        f64::INFINITY
    };
    let mut best = (0, initial_loss, model.snapshot()?);
    let mut stale = 0;
    let mut stopped_early = false;
    for epoch in 0..cfg.epochs {
        let lr = cfg.lr_at(epoch);
        optimizer.set_learning_rate(lr);
        shuffle(&mut order, &mut shuffle_rng);
        let (mut loss_sum, mut weight_sum) = (0.0f64, 0.0f64);
        for chunk in order.chunks(cfg.batch) {
            let batch = Batch::gather(train, chunk, &class_weights)?;
            if batch.weight_sum <= 0.0 {
                // Only zero-weight classes: nothing to learn, and the loss would be 0/0.
                continue;
            }
            let mut x = batch.x;
            augment(&mut x, train.window * train.features, cfg, &mut augment_rng);
            let x = Tensor::from_vec(x, (chunk.len(), train.window, train.features), &Device::Cpu)?;
            let loss = weighted_cross_entropy(&model.logits(&x, true)?, &batch.y, &batch.w)?;
            let mut grads = loss.backward()?;
            if let Some(max_norm) = cfg.grad_clip {
                clip_global_norm(model, &mut grads, max_norm)?;
            }
            optimizer.step(&grads)?;
            loss_sum += f64::from(loss.to_scalar::<f32>()?) * batch.weight_sum;
            weight_sum += batch.weight_sum;
        }
        let (valid_loss, valid_accuracy) = validation_loss(model, valid, &class_weights)?;
        let report = EpochReport {
            epoch: epoch + 1,
            train_loss: loss_sum / weight_sum,
            valid_loss,
            valid_accuracy,
            lr,
            instrument,
        };
        progress(&report);
        epochs.push(report);
        if valid_loss < best.1 {
            best = (epoch + 1, valid_loss, model.snapshot()?);
            stale = 0;
        } else {
            stale += 1;
            if cfg.patience > 0 && stale >= cfg.patience && epoch + 1 < cfg.epochs {
                stopped_early = true;
                break;
            }
        }
    }
    model.restore(&best.2)?;
    Ok(TrainReport {
        epochs,
        best_epoch: best.0,
        best_valid_loss: best.1,
        stopped_early,
        train_samples: train.n,
        valid_samples: valid.n,
    })
}

/// Returns each class's loss weight.
fn class_weights(mode: &ClassWeights, train: &Dataset) -> [f32; CLASSES] {
    match mode {
        ClassWeights::None => [1.0; CLASSES],
        ClassWeights::Explicit(w) => w.map(|v| v as f32),
        ClassWeights::Balanced => {
            let counts = train.class_counts(CLASSES);
            let mut w = [0.0; CLASSES];
            for (w, &c) in w.iter_mut().zip(&counts) {
                if c > 0 {
                    *w = (train.n as f64 / (CLASSES * c) as f64) as f32;
                }
            }
            w
        }
    }
}

/// One mini-batch gathered from a dataset.
struct Batch {
    x: Vec<f32>,
    y: Tensor,
    w: Tensor,
    weight_sum: f64,
}

impl Batch {
    fn gather(ds: &Dataset, indices: &[usize], class_weights: &[f32; CLASSES]) -> Result<Self> {
        let mut x = Vec::with_capacity(indices.len() * ds.window * ds.features);
        let mut y = Vec::with_capacity(indices.len());
        let mut w = Vec::with_capacity(indices.len());
        for &i in indices {
            x.extend_from_slice(ds.sample(i));
            y.push(ds.y[i]);
            w.push(class_weights.get(ds.y[i] as usize).copied().unwrap_or(0.0));
        }
        let weight_sum = w.iter().map(|&v| f64::from(v)).sum();
        let n = indices.len();
        Ok(Self {
            x,
            y: Tensor::from_vec(y, n, &Device::Cpu)?,
            w: Tensor::from_vec(w, n, &Device::Cpu)?,
            weight_sum,
        })
    }
}

/// Returns sum(w_i x -log p_i(y_i)) / sum(w_i), PyTorch's weighted mean.
fn weighted_cross_entropy(logits: &Tensor, y: &Tensor, w: &Tensor) -> Result<Tensor> {
    let log_p = candle_nn::ops::log_softmax(logits, 1)?;
    let picked = log_p.gather(&y.unsqueeze(1)?, 1)?.squeeze(1)?;
    let total = (picked * w)?.sum_all()?.neg()?;
    Ok(total.broadcast_div(&w.sum_all()?)?)
}

/// Scales the gradients so that their global L2 norm is at most `max_norm`.
fn clip_global_norm(
    model: &TrendModel,
    grads: &mut candle_core::backprop::GradStore,
    max_norm: f64,
) -> Result<()> {
    let vars = model.vars();
    // Summed in the weights' name order, so the norm is the same bit for bit on every run.
    let mut squares = 0.0f64;
    for var in &vars {
        if let Some(g) = grads.get(var) {
            squares += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
        }
    }
    let norm = squares.sqrt();
    if norm > max_norm {
        let scale = max_norm / norm;
        for var in &vars {
            if let Some(g) = grads.remove(var) {
                grads.insert(var, (g * scale)?);
            }
        }
    }
    Ok(())
}

/// Returns the class-weighted mean cross-entropy and the accuracy of `model` on `ds`.
fn validation_loss(
    model: &TrendModel,
    ds: &Dataset,
    class_weights: &[f32; CLASSES],
) -> Result<(f64, f64)> {
    let (mut loss_sum, mut weight_sum, mut correct) = (0.0f64, 0.0f64, 0usize);
    let size = ds.window * ds.features;
    let indices: Vec<usize> = (0..ds.n).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        let probs = model.predict_proba(
            &ds.x[chunk[0] * size..(chunk[0] + chunk.len()) * size],
            chunk.len(),
        )?;
        for (&i, p) in chunk.iter().zip(probs.chunks_exact(CLASSES)) {
            let y = ds.y[i] as usize;
            let w = f64::from(class_weights.get(y).copied().unwrap_or(0.0));
            let p_true = f64::from(p.get(y).copied().unwrap_or(0.0)).max(1e-12);
            loss_sum -= w * p_true.ln();
            weight_sum += w;
            if super::eval::argmax(p) == y {
                correct += 1;
            }
        }
    }
    let loss = if weight_sum > 0.0 {
        loss_sum / weight_sum
    } else {
        f64::NAN
    };
    Ok((loss, correct as f64 / ds.n as f64))
}

/// Fisher-Yates shuffle, written out so the order depends only on the generator's stream.
fn shuffle(order: &mut [usize], rng: &mut Xoshiro256PlusPlus) {
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
}

/// Adds Gaussian noise and multiplies each sample by a random factor, per the config.
fn augment(x: &mut [f32], sample_size: usize, cfg: &TrainingConfig, rng: &mut Xoshiro256PlusPlus) {
    if cfg.scale_jitter > 0.0 {
        for sample in x.chunks_exact_mut(sample_size) {
            let factor = 1.0 + cfg.scale_jitter * (rng.random::<f64>() * 2.0 - 1.0);
            for v in sample {
                *v = (f64::from(*v) * factor) as f32;
            }
        }
    }
    if cfg.noise_std > 0.0 {
        for v in x.iter_mut() {
            let z: f64 = StandardNormal.sample(rng);
            *v += (z * cfg.noise_std) as f32;
        }
    }
}
