//! `quant bench augmentation`: what the training options `noise_std` and `scale_jitter` do to
//! out-of-sample scores, on the planted lag-3 task (`models::planted`, Bayes rate 2/3) and on a
//! config's real data (by default GOOG as `backtests/ml_trend.toml` trains it, walk-forward).
//!
//! Each setting trains the same models on the same rows with `seeds` training seeds (on the
//! planted task each seed also draws its own data); the table gives the mean and the standard
//! deviation over seeds of the accuracy and log loss on rows the model never trained on, the
//! mean change in log loss from "off" paired by seed with its standard error, and the
//! majority-class baseline of the same rows. Everything else in `[training]` stays as given.

use crate::config::LoadedConfig;
use anyhow::{Context, Result, anyhow};
use features::{PipelineSpec, compute_batch};
use models::planted::{LAG3_BAYES_RATE, LAG3_COLUMNS, lag3};
use models::{
    MajorityBaseline, Metrics, ModelConfig, ModelKind, Series, Target, TrainingConfig,
    column_indices, predict, prepare_fold, train, walk_forward,
};
use std::path::Path;

/// The settings compared: off, then each option alone at several strengths.
const SETTINGS: [(&str, f64, f64); 8] = [
    ("off", 0.0, 0.0),
    ("noise_std 0.05", 0.05, 0.0),
    ("noise_std 0.1", 0.1, 0.0),
    ("noise_std 0.2", 0.2, 0.0),
    ("noise_std 0.5", 0.5, 0.0),
    ("scale_jitter 0.1", 0.0, 0.1),
    ("scale_jitter 0.2", 0.0, 0.2),
    ("scale_jitter 0.5", 0.0, 0.5),
];

/// Rows of the planted task, of which the first `PLANTED_TRAIN` train (validation included).
const PLANTED_ROWS: usize = 3_000;
const PLANTED_TRAIN: usize = 2_000;

/// Out-of-sample scores of one trained run: pooled over its test rows.
#[derive(Debug, Clone, Copy)]
struct Score {
    accuracy: f64,
    log_loss: f64,
}

/// The task a column of the table measures.
struct Task {
    label: String,
    model: ModelConfig,
    training: TrainingConfig,
    data: TaskData,
}

enum TaskData {
    /// The lag-3 task, drawn anew for each seed.
    Planted,
    /// A config's instruments: row-major model inputs and closes, walk-forward folds.
    Config {
        inputs: Vec<f64>,
        close: Vec<f64>,
        columns: usize,
    },
}

impl Task {
    /// Trains with `training` (its seed included) and scores the test rows; also returns the
    /// majority baseline's scores on the same rows.
    fn score(&self, training: &TrainingConfig) -> Result<(Score, Score)> {
        let planted;
        let (features, close, columns, folds) = match &self.data {
            TaskData::Planted => {
                planted = lag3(PLANTED_ROWS, training.seed);
                let cfg = TrainingConfig {
                    folds: 1,
                    train_bars: Some(PLANTED_TRAIN),
                    ..training.clone()
                };
                let folds = walk_forward(PLANTED_ROWS, &cfg, self.model.horizon)?;
                (&planted.features, &planted.close, LAG3_COLUMNS, folds)
            }
            TaskData::Config {
                inputs,
                close,
                columns,
            } => {
                let folds = walk_forward(close.len(), training, self.model.horizon)?;
                (inputs, close, *columns, folds)
            }
        };
        let series = [Series {
            instrument: 0,
            features,
            close,
        }];
        let (mut truth, mut probs, mut majority) = (Vec::new(), Vec::new(), Vec::new());
        for fold in &folds {
            let fd = prepare_fold(&series, columns, fold, &self.model, training, Target::Trend)?;
            let (model, _) = train(&self.model, training, &fd.train, &fd.valid, &mut |_| {})?;
            probs.extend(predict(&model, &fd.test)?);
            truth.extend_from_slice(&fd.test.y);
            // The class shares of each fold's training rows, as `MajorityBaseline` scores them.
            let shares = MajorityBaseline::fit(&fd.train)?
                .frequencies
                .map(|f| f as f32);
            for _ in 0..fd.test.n {
                majority.extend(shares);
            }
        }
        let score = |probs: &[f32]| -> Result<Score> {
            let m = Metrics::from_proba(&truth, probs)?;
            Ok(Score {
                accuracy: m.accuracy,
                log_loss: m.log_loss.ok_or_else(|| anyhow!("no log loss"))?,
            })
        };
        Ok((score(&probs)?, score(&majority)?))
    }
}

/// Reads `config`'s data, pipeline, `[model]` and `[training]` (one instrument: the first).
fn config_task(config: &Path) -> Result<Task> {
    let loaded = LoadedConfig::load(config)?;
    let c = &loaded.config;
    let model = c
        .model
        .clone()
        .with_context(|| format!("{}: no [model] table to train", config.display()))?;
    let training = c.training.clone().unwrap_or_default();
    let data = crate::data::load(&loaded)?.series;
    let first = data
        .first()
        .with_context(|| format!("{}: no data", config.display()))?;
    let spec = PipelineSpec::new(&c.features).map_err(|e| loaded.feature_error(&e))?;
    let names = model
        .features
        .clone()
        .unwrap_or_else(|| spec.columns().to_vec());
    let indices = column_indices(spec.columns(), &names)?;
    let frame = compute_batch(&spec, std::slice::from_ref(first))?.remove(0);
    let rows = first.bars.len();
    let values = &frame.columns;
    let inputs = (0..rows)
        .flat_map(|t| indices.iter().map(move |&c| values[c][t]))
        .collect::<Vec<_>>();
    let close = first.bars.iter().map(|b| b.close).collect();
    Ok(Task {
        label: format!(
            "{} {} ({}, {} folds)",
            first.instrument,
            model.kind.name(),
            config.display(),
            training.folds
        ),
        model,
        training,
        data: TaskData::Config {
            inputs,
            close,
            columns: indices.len(),
        },
    })
}

/// The planted task with a small model of `kind` (the sizes of the models' lag-3 test).
fn planted_task(kind: ModelKind) -> Task {
    let mut model = ModelConfig {
        kind,
        hidden: vec![16],
        dropout: 0.0,
        window: 6,
        horizon: 1,
        ..ModelConfig::default()
    };
    if kind == ModelKind::Transformer {
        model.d_model = Some(16);
        model.heads = Some(2);
        model.encoder_layers = Some(1);
        model.ff_width = Some(32);
    }
    Task {
        label: format!(
            "planted lag-3 {} (Bayes rate {LAG3_BAYES_RATE:.3})",
            kind.name()
        ),
        model,
        training: TrainingConfig {
            epochs: 20,
            batch: 64,
            learning_rate: 5e-3,
            patience: 4,
            ..TrainingConfig::default()
        },
        data: TaskData::Planted,
    }
}

/// Mean and sample standard deviation.
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

/// Runs the comparison over `seeds` seeds (1, 2, ...) and prints one table per task.
pub(crate) fn run(seeds: usize, config: &Path) -> Result<()> {
    if seeds == 0 {
        anyhow::bail!("--seeds: at least 1, got 0");
    }
    let tasks = [
        planted_task(ModelKind::Mlp),
        planted_task(ModelKind::Transformer),
        config_task(config)?,
    ];
    println!(
        "augmentation: out-of-sample accuracy and log loss, mean (sd) over {seeds} training \
         seeds; every other [training] key as the task sets it"
    );
    for task in &tasks {
        println!("\n{}", task.label);
        println!(
            "  {:<18} {:>18} {:>18} {:>24}",
            "setting", "accuracy", "log loss", "log loss - off (se)"
        );
        let (mut base_acc, mut base_loss) = (Vec::new(), Vec::new());
        let mut off_loss: Vec<f64> = Vec::new();
        for (name, noise_std, scale_jitter) in SETTINGS {
            let (mut acc, mut loss) = (Vec::new(), Vec::new());
            for seed in 1..=seeds as u64 {
                let training = TrainingConfig {
                    noise_std,
                    scale_jitter,
                    seed,
                    ..task.training.clone()
                };
                let (score, base) = task.score(&training)?;
                acc.push(score.accuracy);
                loss.push(score.log_loss);
                if noise_std == 0.0 && scale_jitter == 0.0 {
                    base_acc.push(base.accuracy);
                    base_loss.push(base.log_loss);
                }
            }
            if off_loss.is_empty() {
                off_loss = loss.clone();
            }
            // Paired by seed (same data, same initial weights): the spread across seeds cancels,
            // leaving the option's own effect and its standard error.
            let diffs: Vec<f64> = loss.iter().zip(&off_loss).map(|(l, o)| l - o).collect();
            let (d, d_sd) = mean_sd(&diffs);
            let d_se = d_sd / (diffs.len() as f64).sqrt();
            let ((a, a_sd), (l, l_sd)) = (mean_sd(&acc), mean_sd(&loss));
            println!(
                "  {name:<18} {a:>9.4} ({a_sd:.4}) {l:>9.4} ({l_sd:.4}) {d:>+15.4} ({d_se:.4})"
            );
        }
        let ((a, a_sd), (l, l_sd)) = (mean_sd(&base_acc), mean_sd(&base_loss));
        println!(
            "  {:<18} {a:>9.4} ({a_sd:.4}) {l:>9.4} ({l_sd:.4})",
            "majority class"
        );
    }
    Ok(())
}
