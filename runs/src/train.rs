//! `quant train CONFIG`: walk-forward evaluation of the config's `[model]`, then the final model.
//!
//! For each fold: standardisation (and volatility terciles) fitted on the fold's training rows,
//! training with early stopping on the end of the training window, scores on the test rows
//! beside the majority-class and last-return-sign baselines, and (trend models) the `ml_trend`
//! backtest over the test rows only, so the stitched out-of-sample equity shows what the model
//! would have earned. Then one model is trained on every labelled row and saved with its
//! metadata and the walk-forward scores, and `explain.json` beside it: per fold, permutation
//! importance, calibration and input drift (test rows against training rows), and the final
//! training window's input distribution that later runs are compared with.

use crate::config::LoadedConfig;
use crate::data;
use crate::instrument_scores::OwnScores;
use crate::sweep::grid::StableHash;
use anyhow::{Context, Result, anyhow};
use clap::{Args, ValueEnum};
use engine::{FeatureSource, Replay, backtest};
use features::{PipelineSpec, compute_batch};
use market_data::{BarSeries, Timestamp};
use models::explain::{
    Calibration, DriftProfile, Explanation, FoldExplanation, groups, permutation_importance,
    summarise,
};
use models::{
    CLASSES, Dataset, DieboldMariano, EpochReport, Lineage, LoadedModel, LogisticRegression,
    MajorityBaseline, Metrics, ModelConfig, ModelMetadata, Series, Target, TrainReport,
    TrainingConfig, TrainingPeriod, TrendModel, VolatilityBaselines, apply_temperature, argmax,
    check_fold, column_indices, fit_temperature, last_return_sign, predict, prepare_fold, save,
    train, train_pooled, walk_forward,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use strategies::StrategyConfig;
use strategies::ml_trend::stage::{ModelFeatures, ModelInput, columns_of};
use strategies::ml_trend::{
    INSTRUMENTS_DIR, MlTrend, MlTrendParams, ModelSet, TREND_PREFIX, WALK_FORWARD_DIR, fold_dir,
};

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TargetArg {
    /// Down / flat / up over `horizon` bars (the `ml_trend` signal).
    Trend,
    /// Low / medium / high realised volatility over `horizon` bars (the risk model).
    Volatility,
}

/// `quant train` arguments.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The config file, with `[model]`, `[training]` and `[[features]]`.
    config: PathBuf,
    /// What to predict.
    #[arg(long, value_enum, default_value_t = TargetArg::Trend)]
    target: TargetArg,
    /// Model folder (default: the `ml_trend` strategy's `model` or `risk_model` path, else
    /// `models/<name>/` or `models/<name>-risk/`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Pre-train one model on every instrument of the data (calendars and lengths may differ),
    /// without walk-forward, for targets to fine-tune from with `[training] init_from`.
    #[arg(long)]
    pretrain: bool,
    #[command(flatten)]
    set: crate::overrides::SetArgs,
}

impl TrainArgs {
    /// Returns the arguments that train `config`'s trend model into `out`.
    pub(crate) fn new(config: PathBuf, out: PathBuf) -> Self {
        Self {
            config,
            target: TargetArg::Trend,
            out: Some(out),
            pretrain: false,
            set: crate::overrides::SetArgs::default(),
        }
    }
}

/// One instrument's model inputs and closes, row for row.
struct Inputs {
    matrices: Vec<Vec<f64>>,
    closes: Vec<Vec<f64>>,
    rows: usize,
}

impl Inputs {
    /// Every instrument's raw input matrix over `rows`.
    fn parts(&self, rows: std::ops::Range<usize>) -> Vec<(&[f64], std::ops::Range<usize>)> {
        (self.matrices.iter())
            .map(|m| (m.as_slice(), rows.clone()))
            .collect()
    }

    fn series(&self) -> Vec<Series<'_>> {
        (self.matrices.iter().zip(&self.closes).enumerate())
            .map(|(i, (features, close))| Series {
                instrument: i as u32,
                features,
                close,
            })
            .collect()
    }
}

/// Runs `quant train`.
pub fn run(args: &TrainArgs) -> Result<()> {
    let loaded = args.set.load(&args.config)?;
    let c = &loaded.config;
    let invalid = |e: models::MlError| anyhow!("invalid config {}: {e}", loaded.path.display());
    let model_cfg = c.model.clone().ok_or_else(|| {
        anyhow!(
            "config {}: `quant train` needs a [model] table (kind, hidden, window, horizon, ...)",
            loaded.path.display()
        )
    })?;
    let training = c.training.clone().unwrap_or_default();
    model_cfg.validate().map_err(invalid)?;
    training.validate().map_err(invalid)?;
    let target = match args.target {
        TargetArg::Trend => Target::Trend,
        TargetArg::Volatility => Target::Volatility,
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&loaded, target));
    if args.pretrain {
        return crate::pretrain::run(&loaded, &model_cfg, &training, target, &out);
    }
    walk_forward_and_final(&loaded, &model_cfg, &training, target, &out, false)
}

/// A model's bars, the feature pipeline, and the columns it reads (its `features`, else every
/// pipeline column) with their indices in the pipeline.
pub(crate) struct ModelData {
    pub(crate) data: data::LoadedData,
    pub(crate) spec: PipelineSpec,
    pub(crate) columns: Vec<String>,
    pub(crate) indices: Vec<usize>,
}

/// Loads `loaded`'s bars and resolves the columns `model_cfg` reads.
///
/// # Errors
/// Names the config and the feature or column at fault.
pub(crate) fn model_data(loaded: &LoadedConfig, model_cfg: &ModelConfig) -> Result<ModelData> {
    let data = data::load(loaded)?;
    let spec = PipelineSpec::new(&loaded.config.features).map_err(|e| loaded.feature_error(&e))?;
    let columns = model_cfg
        .features
        .clone()
        .unwrap_or_else(|| spec.columns().to_vec());
    let indices = column_indices(spec.columns(), &columns)
        .map_err(|e| anyhow!("invalid config {}: {e}", loaded.path.display()))?;
    Ok(ModelData {
        data,
        spec,
        columns,
        indices,
    })
}

/// Trains `loaded`'s model as `quant train` does (walk-forward folds, then the final model)
/// into `out`; `quiet` (a sweep's jobs) draws no progress bar and prints nothing.
pub(crate) fn walk_forward_and_final(
    loaded: &LoadedConfig,
    model_cfg: &ModelConfig,
    training: &TrainingConfig,
    target: Target,
    out: &Path,
    quiet: bool,
) -> Result<()> {
    let c = &loaded.config;
    let invalid = |e: models::MlError| anyhow!("invalid config {}: {e}", loaded.path.display());
    let ModelData {
        data,
        spec,
        columns,
        indices,
    } = model_data(loaded, model_cfg)?;
    let inputs = model_inputs(&spec, &indices, &data.series)?;
    let series = inputs.series();
    let folds = walk_forward(inputs.rows, training, model_cfg.horizon).map_err(invalid)?;
    let first_test = (folds.first())
        .and_then(|f| data.series.first()?.bars.get(f.test.start))
        .map(|b| b.ts);
    let init =
        crate::pretrain::load_init(loaded, training, target, model_cfg, &columns, first_test)?;
    let explain = c.explain.clone().unwrap_or_default();
    let groups = groups(&columns, model_cfg.window, explain.lag_blocks);
    let mut explained = Vec::new();

    let per_fit = training.epochs + training.fine_tune_epochs * data.series.len();
    let fits = folds.len() * training.seed_count() + 1;
    let progress = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        crate::sweep::progress_bar((fits * per_fit) as u64, "fits")
    };
    let mut scores = Vec::new();
    let mut pooled = Pooled::default();
    let mut own_scores = OwnScores::default();
    let mut oos_equity: Vec<(Timestamp, f64)> = Vec::new();
    let mut held_equity: Vec<(Timestamp, f64)> = Vec::new();
    // Each fold's model, saved for backtests that trade out of sample; moved into place beside
    // the final model only once every fit succeeded.
    let staged = out.join(format!(".{WALK_FORWARD_DIR}.partial"));
    let _ = std::fs::remove_dir_all(&staged);
    for (k, fold) in folds.iter().enumerate() {
        let fd = prepare_fold(&series, columns.len(), fold, model_cfg, training, target)?;
        let label = format!("fold {}/{}", k + 1, folds.len());
        let test = (fd.test.n > 0).then_some(&fd.test);
        let warnings = check_fold(
            &label, model_cfg, training, target, &fd.train, &fd.valid, test,
        );
        for warning in warnings.map_err(invalid)? {
            progress.suspend(|| eprintln!("warning: {warning}"));
        }
        let fitted = fit(model_cfg, training, &fd, init.as_ref(), &progress, &label)?;
        let report = &fitted.report;
        let (temperature, raw, probs) = fitted.calibrated(&fd)?;
        let scored = FoldScores::new(&fd, &probs, &inputs, target, model_cfg.horizon)?;
        let closes: Vec<&[f64]> = inputs.closes.iter().map(Vec::as_slice).collect();
        own_scores.add_fold(
            k + 1,
            &fitted.own_reports,
            &fd.train,
            &fd.test,
            &probs,
            &closes,
        )?;
        let mut fold_json = json!({
            "fold": k + 1,
            "train_rows": [fold.train.start, fold.train.end],
            "test_rows": [fold.test.start, fold.test.end],
            "best_epoch": report.best_epoch,
            "epochs_run": report.epochs.len(),
            "curve": curve(report),
            "model": scored.model,
            "majority": scored.majority,
            "last_return_sign": scored.sign,
            "logistic_regression": scored.logistic,
            "persistence": scored.persistence.as_ref().map(|(m, _)| m),
            "har": scored.har.as_ref().map(|(m, _)| m),
            "temperature": temperature,
            "ece_raw": Calibration::new(&fd.test.y, &raw, CLASSES).ece,
            "ece_calibrated": Calibration::new(&fd.test.y, &probs, CLASSES).ece,
        });
        if fd.test.n > 0 {
            let seed = training.seed ^ (k as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let importance = permutation_importance(
                &fd.test,
                &groups,
                explain.importance_repeats,
                seed,
                |ds| fitted.predict(ds),
            )?;
            let profile = DriftProfile::fit(&columns, &inputs.parts(fold.train.clone()));
            explained.push(FoldExplanation {
                fold: k + 1,
                importance,
                calibration: Calibration::new(&fd.test.y, &probs, CLASSES),
                drift: profile.psi_of(&inputs.parts(fold.test.clone())),
            });
        }
        let mut metadata = metadata_for(loaded, target, model_cfg, training, &columns, &fd);
        metadata.training_period = training_period(&data.series, &fold.train, model_cfg.horizon);
        metadata.temperature = Some(temperature);
        metadata.lineage = Some(lineage(
            loaded,
            &data.series,
            &inputs,
            &fold.train,
            model_cfg.horizon,
        ));
        metadata.metrics = fold_json.clone();
        fitted.save(&staged.join(fold_dir(k + 1)), &metadata, &data.series, None)?;
        if target == Target::Trend && fd.test.n > 0 {
            let models = fitted.into_loaded(&metadata, &data.series);
            let ret = oos_backtest(loaded, &spec, models, &data.series, fold)?;
            let held = buy_and_hold(&data.series, &fold.test);
            fold_json["oos_return"] = json!(ret.total_return);
            fold_json["oos_sharpe"] = json!(sharpe_of(&ret.curve));
            fold_json["buy_and_hold"] = json!({
                "return": held.total_return,
                "sharpe": sharpe_of(&held.curve),
            });
            stitch(&mut oos_equity, &ret.curve);
            stitch(&mut held_equity, &held.curve);
        }
        pooled.add(&fd.test.y, &probs, &scored);
        scores.push(fold_json);
    }

    // The final model: every row whose label is known.
    let all = models::Fold {
        train: 0..inputs.rows.saturating_sub(model_cfg.horizon),
        test: inputs.rows..inputs.rows,
    };
    let fd = prepare_fold(&series, columns.len(), &all, model_cfg, training, target)?;
    let warnings = check_fold(
        "final model",
        model_cfg,
        training,
        target,
        &fd.train,
        &fd.valid,
        None,
    );
    for warning in warnings.map_err(invalid)? {
        progress.suspend(|| eprintln!("warning: {warning}"));
    }
    let fitted = fit(
        model_cfg,
        training,
        &fd,
        init.as_ref(),
        &progress,
        "final model",
    )?;
    let (final_temperature, _, _) = fitted.calibrated(&fd)?;
    let report = fitted.report.clone();
    let overall = pooled.metrics()?;
    let oos_total = oos_equity.last().map(|(_, e)| e - 1.0);
    let seeds = SeedRun {
        loaded,
        spec: &spec,
        series: &series,
        bars: &data.series,
        folds: &folds,
        model_cfg,
        target,
        columns: columns.len(),
        progress: &progress,
        init: init.as_ref(),
    }
    .spread(training, &overall, oos_total)?;
    progress.finish_and_clear();
    let (verdict, verdict_line) = verdict(&scores, target);
    let dm = pooled.diebold_mariano(model_cfg.horizon);
    let mut metadata = metadata_for(loaded, target, model_cfg, training, &columns, &fd);
    metadata.training_period = training_period(&data.series, &all.train, model_cfg.horizon);
    metadata.temperature = Some(final_temperature);
    metadata.lineage = Some(lineage(
        loaded,
        &data.series,
        &inputs,
        &all.train,
        model_cfg.horizon,
    ));
    let held_total = held_equity.last().map(|(_, e)| e - 1.0);
    metadata.metrics = json!({
        "folds": scores,
        "overall": overall,
        "oos_total_return": oos_total,
        "buy_and_hold_total_return": held_total,
        "verdict": verdict,
        "verdict_line": verdict_line,
        "diebold_mariano": dm,
        "seeds": seeds,
        "final_model": {
            "best_epoch": report.best_epoch,
            "epochs_run": report.epochs.len(),
            "train_samples": report.train_samples,
            "valid_samples": report.valid_samples,
            "best_valid_loss": report.best_valid_loss,
            "curve": curve(&report),
        },
    });
    let id = fitted.save(out, &metadata, &data.series, Some(&own_scores))?;
    let walk_forward = out.join(WALK_FORWARD_DIR);
    let _ = std::fs::remove_dir_all(&walk_forward);
    std::fs::rename(&staged, &walk_forward).with_context(|| {
        format!(
            "cannot move the fold models from {} to {}",
            staged.display(),
            walk_forward.display()
        )
    })?;
    if !oos_equity.is_empty() {
        write_oos_equity(out, &oos_equity)?;
    }
    let fold_importance: Vec<_> = explained.iter().map(|f| f.importance.clone()).collect();
    let explanation = Explanation {
        importance: summarise(&groups, &fold_importance),
        calibration: Calibration::new(&pooled.truth, &pooled.probs, CLASSES),
        drift_profile: DriftProfile::fit(&columns, &inputs.parts(all.train.clone())),
        config: explain,
        features: columns,
        groups,
        folds: explained,
    };
    explanation.save(out)?;
    if quiet {
        return Ok(());
    }
    print_summary(out, &id, &scores, &overall, oos_total, &metadata.classes);
    print_baselines(&metadata.metrics);
    print_explanation(&explanation);
    Ok(())
}

/// The time span of training decision rows `rows` (every instrument is on one calendar), with
/// the last bar their labels read, `horizon` bars past the last row.
fn training_period(
    series: &[BarSeries],
    rows: &std::ops::Range<usize>,
    horizon: usize,
) -> Option<TrainingPeriod> {
    let bars = &series.first()?.bars;
    let last = rows.end.checked_sub(1)?;
    Some(TrainingPeriod {
        first_ns: bars.get(rows.start)?.ts.0,
        last_ns: bars.get(last)?.ts.0,
        seen_until_ns: bars.get(last + horizon).map(|b| b.ts.0),
    })
}

/// Where a model trained on decision rows `rows` came from: the data's sources, hashes of every
/// bar and model input from the first row to the last bar its labels read, and the hash of the
/// config's `[data]`, `[[features]]`, `[model]` and `[training]` tables.
fn lineage(
    loaded: &LoadedConfig,
    series: &[BarSeries],
    inputs: &Inputs,
    rows: &std::ops::Range<usize>,
    horizon: usize,
) -> Lineage {
    let seen = (rows.end + horizon).min(inputs.rows);
    let mut bars = StableHash::default();
    for s in series {
        bars.bytes(s.instrument.as_str().as_bytes());
        for b in &s.bars[..seen] {
            bars.word(b.ts.0 as u64);
            for v in [b.open, b.high, b.low, b.close, b.volume] {
                bars.word(v.to_bits());
            }
        }
    }
    let mut features = StableHash::default();
    for m in &inputs.matrices {
        let width = m.len() / inputs.rows.max(1);
        for v in &m[..seen * width] {
            features.word(v.to_bits());
        }
    }
    let data = &loaded.config.data;
    let source = match &data.path {
        Some(path) => format!("{:?} {}", data.kind, loaded.resolve(path).display()),
        None => serde_json::to_string(data).unwrap_or_default(),
    };
    let data_sources = (series.iter())
        .map(|s| {
            let span = (s.bars.first().zip(s.bars.get(seen.saturating_sub(1))))
                .map_or(String::new(), |(a, b)| format!(", {} to {}", a.ts, b.ts));
            format!("{}: {source} ({seen} bars{span})", s.instrument)
        })
        .collect();
    // The tables training reads: where the model is saved or how it is traded must not change
    // the id of the same model.
    let c = &loaded.config;
    let config = serde_json::json!({
        "data": c.data,
        "features": c.features,
        "model": c.model,
        "training": c.training,
    });
    Lineage {
        data_sources,
        bars_hash: bars.hex(),
        features_hash: features.hex(),
        config_hash: crate::run_info::config_hash(&config),
    }
}

/// The loss per epoch of a training run (its pooled model, or its first instrument's), for the
/// model card.
fn curve(report: &TrainReport) -> serde_json::Value {
    let first = report.epochs.first().and_then(|e| e.instrument);
    let epochs = report.epochs.iter().filter(|e| e.instrument == first);
    let (train, valid): (Vec<f64>, Vec<f64>) = epochs.map(|e| (e.train_loss, e.valid_loss)).unzip();
    json!({ "train_loss": train, "valid_loss": valid })
}

/// Prints the importance ranking and the inputs that drifted in some test fold.
fn print_explanation(e: &Explanation) {
    println!(
        "permutation importance over the test folds (log-loss increase when shuffled, mean +- \
         std; * stands out beyond {} std):",
        models::explain::NOISE_K
    );
    for s in &e.importance {
        println!(
            "  {:<14} {:>8.4} +- {:.4}   accuracy drop {:>6.1}%{}",
            s.name,
            s.log_loss_increase_mean,
            s.log_loss_increase_std,
            100.0 * s.accuracy_drop_mean,
            if s.stands_out { " *" } else { "" }
        );
    }
    println!(
        "calibration over the test folds: Brier {:.4}, expected calibration error {:.4}",
        e.calibration.brier, e.calibration.ece
    );
    let threshold = e.config.drift_threshold;
    for f in &e.folds {
        let drifted: Vec<String> = (e.features.iter().zip(&f.drift))
            .filter(|(_, p)| **p > threshold)
            .map(|(name, p)| format!("{name} ({p:.2})"))
            .collect();
        if !drifted.is_empty() {
            println!(
                "fold {}: inputs drifted past PSI {threshold} against its training rows: {}",
                f.fold,
                drifted.join(", ")
            );
        }
    }
}

/// The networks of one fit: a pooled model, per-instrument models, or both.
struct Fitted {
    pooled: Option<TrendModel>,
    by_instrument: Vec<(u32, TrendModel)>,
    /// The pooled run's report, or the first instrument's without pooling.
    report: TrainReport,
    /// Each per-instrument model's own run (fine-tuning, or training without pooling).
    own_reports: Vec<(u32, TrainReport)>,
}

/// Trains on `fd` as `[training]` says: pooled (`pretrain_pooled = true`, the default), then a
/// fine-tuned copy per instrument when `fine_tune_epochs > 0`; or one model per instrument on
/// its own samples (`pretrain_pooled = false`). With `init` (`init_from`), one model fine-tuned
/// from it on every instrument's samples.
fn fit(
    model_cfg: &ModelConfig,
    training: &TrainingConfig,
    fd: &models::FoldData,
    init: Option<&TrendModel>,
    progress: &indicatif::ProgressBar,
    label: &str,
) -> Result<Fitted> {
    let mut report_epoch = |e: &EpochReport| {
        progress.inc(1);
        let who = e
            .instrument
            .map_or(String::new(), |i| format!(" instrument {i}"));
        progress.set_message(format!(
            "{label}{who} epoch {} loss {:.4} valid loss {:.4} valid acc {:.3}",
            e.epoch, e.train_loss, e.valid_loss, e.valid_accuracy
        ));
    };
    if let Some(start) = init {
        let (model, report) = models::fine_tune(
            start,
            model_cfg,
            training,
            &fd.train,
            &fd.valid,
            &mut report_epoch,
        )?;
        return Ok(Fitted {
            pooled: Some(model),
            by_instrument: Vec::new(),
            report,
            own_reports: Vec::new(),
        });
    }
    if training.pretrain_pooled {
        let run = train_pooled(model_cfg, training, &fd.train, &fd.valid, &mut report_epoch)?;
        let own_reports = (run.fine_tuned.iter())
            .map(|f| (f.instrument, f.report.clone()))
            .collect();
        return Ok(Fitted {
            pooled: Some(run.pooled),
            by_instrument: (run.fine_tuned.into_iter())
                .map(|f| (f.instrument, f.model))
                .collect(),
            report: run.report,
            own_reports,
        });
    }
    let mut by_instrument = Vec::new();
    let mut own_reports = Vec::new();
    for instrument in fd.train.instruments() {
        let own = TrainingConfig {
            // Its own streams, independent of the other instruments.
            seed: training.seed ^ (u64::from(instrument) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ..training.clone()
        };
        let (model, report) = train(
            model_cfg,
            &own,
            &fd.train.filter(|i, _| i == instrument),
            &fd.valid.filter(|i, _| i == instrument),
            &mut report_epoch,
        )?;
        own_reports.push((instrument, report));
        by_instrument.push((instrument, model));
    }
    let (_, report) = own_reports
        .first()
        .cloned()
        .context("no instrument has training samples")?;
    Ok(Fitted {
        pooled: None,
        by_instrument,
        report,
        own_reports,
    })
}

impl Fitted {
    /// Fits a temperature on `fd`'s validation rows and returns it with the test rows' raw and
    /// calibrated probabilities.
    fn calibrated(&self, fd: &models::FoldData) -> Result<(f64, Vec<f32>, Vec<f32>)> {
        let temperature = fit_temperature(&fd.valid.y, &self.predict(&fd.valid)?, CLASSES);
        let raw = self.predict(&fd.test)?;
        let mut calibrated = raw.clone();
        apply_temperature(&mut calibrated, CLASSES, temperature);
        Ok((temperature, raw, calibrated))
    }

    /// Returns the network that serves `instrument`.
    fn model_for(&self, instrument: u32) -> Result<&TrendModel> {
        (self.by_instrument.iter())
            .find(|(i, _)| *i == instrument)
            .map(|(_, m)| m)
            .or(self.pooled.as_ref())
            .with_context(|| format!("no model was trained for instrument {instrument}"))
    }

    /// Class probabilities of every sample of `ds`, each from its instrument's network.
    fn predict(&self, ds: &Dataset) -> Result<Vec<f32>> {
        if self.by_instrument.is_empty()
            && let Some(pooled) = &self.pooled
        {
            return Ok(predict(pooled, ds)?);
        }
        let mut probs = vec![0.0f32; ds.n * CLASSES];
        for instrument in ds.instruments() {
            let own = predict(
                self.model_for(instrument)?,
                &ds.filter(|i, _| i == instrument),
            )?;
            let positions = (ds.instrument.iter().enumerate()).filter(|(_, i)| **i == instrument);
            for ((position, _), p) in positions.zip(own.chunks_exact(CLASSES)) {
                probs[position * CLASSES..(position + 1) * CLASSES].copy_from_slice(p);
            }
        }
        Ok(probs)
    }

    /// The networks as loaded models sharing `metadata`, per-instrument ones by name.
    fn into_loaded(self, metadata: &ModelMetadata, series: &[BarSeries]) -> ModelSet {
        let wrap = |model, instrument: Option<String>| {
            Arc::new(LoadedModel {
                model,
                metadata: ModelMetadata {
                    instrument,
                    ..metadata.clone()
                },
                model_id: "walk-forward fold".into(),
            })
        };
        let by_instrument = (self.by_instrument.into_iter())
            .map(|(i, model)| {
                let name = series[i as usize].instrument.as_str().to_string();
                (name.clone(), wrap(model, Some(name)))
            })
            .collect();
        ModelSet {
            pooled: self.pooled.map(|m| wrap(m, None)),
            by_instrument,
            prefix: TREND_PREFIX,
            drift: None,
            folds: Vec::new(),
        }
    }

    /// Saves the pooled model into `out` and each per-instrument model into
    /// `out/instruments/<NAME>/`, replacing an earlier model there; returns the main model id.
    /// With `own`, each per-instrument model's `model.json` holds its own scores and curves.
    fn save(
        &self,
        out: &Path,
        metadata: &ModelMetadata,
        series: &[BarSeries],
        own: Option<&OwnScores>,
    ) -> Result<String> {
        for stale in [
            models::METADATA_FILE,
            models::WEIGHTS_FILE,
            models::explain::EXPLAIN_FILE,
            "oos_equity.csv",
        ] {
            let _ = std::fs::remove_file(out.join(stale));
        }
        let _ = std::fs::remove_dir_all(out.join(INSTRUMENTS_DIR));
        let mut id = None;
        if let Some(pooled) = &self.pooled {
            id = Some(save(out, pooled, metadata)?);
        }
        for (i, model) in &self.by_instrument {
            let name = series[*i as usize].instrument.as_str();
            let mut own_meta = ModelMetadata {
                instrument: Some(name.to_string()),
                ..metadata.clone()
            };
            if let Some(own) = own {
                let report = (self.own_reports.iter()).find(|(j, _)| j == i);
                own.apply(*i, report.map(|(_, r)| r), &mut own_meta.metrics)?;
            }
            let saved = save(&out.join(INSTRUMENTS_DIR).join(name), model, &own_meta)?;
            id.get_or_insert(saved);
        }
        id.context("no model was trained")
    }
}

/// The default model folder for `target`.
pub(crate) fn default_out(loaded: &LoadedConfig, target: Target) -> PathBuf {
    if let Some(StrategyConfig::MlTrend(p)) = &loaded.config.strategy {
        let written = match target {
            Target::Trend => Some(&p.model),
            Target::Volatility => p.risk_model.as_ref(),
        };
        if let Some(written) = written {
            return loaded.resolve(written);
        }
    }
    let suffix = if target == Target::Volatility {
        "-risk"
    } else {
        ""
    };
    PathBuf::from("models").join(format!("{}{suffix}", loaded.config.name))
}

/// Computes the pipeline and keeps the model's columns, row-major, over the rows every
/// instrument has (folds are by row).
fn model_inputs(spec: &PipelineSpec, indices: &[usize], series: &[BarSeries]) -> Result<Inputs> {
    let frames = compute_batch(spec, series)?;
    let rows = series.iter().map(|s| s.bars.len()).min().unwrap_or(0);
    // Folds are rows: row t must be the same time for every instrument, or one instrument's
    // test rows would overlap another's training rows in time.
    if let Some((first, rest)) = series.split_first() {
        for other in rest {
            let at = (0..rows).find(|&t| other.bars[t].ts != first.bars[t].ts);
            if let Some(t) = at {
                anyhow::bail!(
                    "`quant train` needs every instrument on one calendar: row {t} is {} for {} \
                     but {} for {}",
                    first.bars[t].ts,
                    first.instrument,
                    other.bars[t].ts,
                    other.instrument
                );
            }
        }
    }
    let matrices = frames
        .iter()
        .map(|f| {
            (0..rows)
                .flat_map(|t| indices.iter().map(move |&c| f.columns[c][t]))
                .collect()
        })
        .collect();
    let closes = series
        .iter()
        .map(|s| s.bars[..rows].iter().map(|b| b.close).collect())
        .collect();
    Ok(Inputs {
        matrices,
        closes,
        rows,
    })
}

/// Metadata of a model trained on `fd`'s training rows.
fn metadata_for(
    loaded: &LoadedConfig,
    target: Target,
    model_cfg: &ModelConfig,
    training: &TrainingConfig,
    columns: &[String],
    fd: &models::FoldData,
) -> ModelMetadata {
    ModelMetadata::new(
        target,
        model_cfg,
        training,
        columns,
        &loaded.config.features,
        &fd.standardizer,
        fd.vol_terciles,
    )
}

/// One fold's scores: the model and its baselines, each fitted on the fold's training rows.
struct FoldScores {
    model: Metrics,
    majority: Metrics,
    sign: Metrics,
    majority_class: u32,
    majority_probs: [f32; CLASSES],
    logistic: Metrics,
    logistic_probs: Vec<f32>,
    /// Risk models: the persistence rule and HAR, with their classes per test sample.
    persistence: Option<(Metrics, Vec<u32>)>,
    har: Option<(Metrics, Vec<u32>)>,
}

/// L2 penalty of the logistic-regression baseline (its inputs are standardised).
const LOGISTIC_L2: f64 = 1e-2;

impl FoldScores {
    fn new(
        fd: &models::FoldData,
        probs: &[f32],
        inputs: &Inputs,
        target: Target,
        horizon: usize,
    ) -> Result<Self> {
        let (train, test) = (&fd.train, &fd.test);
        let baseline = MajorityBaseline::fit(train)?;
        let majority_probs = baseline.frequencies.map(|f| f as f32);
        let majority_class = argmax(&majority_probs) as u32;
        let closes: Vec<&[f64]> = inputs.closes.iter().map(Vec::as_slice).collect();
        let logistic = LogisticRegression::fit(train, CLASSES, LOGISTIC_L2)?;
        let logistic_probs = logistic.predict(test);
        let (persistence, har) = match (target, &fd.vol_terciles) {
            (Target::Volatility, Some(terciles)) => {
                let v = VolatilityBaselines::fit(train, test, &closes, horizon, terciles)?;
                (
                    Some((
                        Metrics::from_classes(&test.y, &v.persistence)?,
                        v.persistence,
                    )),
                    Some((Metrics::from_classes(&test.y, &v.har)?, v.har)),
                )
            }
            _ => (None, None),
        };
        Ok(Self {
            model: Metrics::from_proba(&test.y, probs)?,
            majority: baseline.evaluate(test)?,
            sign: last_return_sign(test, &closes)?,
            majority_class,
            majority_probs,
            logistic: Metrics::from_proba(&test.y, &logistic_probs)?,
            logistic_probs,
            persistence,
            har,
        })
    }
}

/// Every fold's test predictions, pooled for the overall scores.
#[derive(Default)]
struct Pooled {
    truth: Vec<u32>,
    probs: Vec<f32>,
    majority: Vec<u32>,
    majority_probs: Vec<f32>,
    logistic_probs: Vec<f32>,
    persistence: Vec<u32>,
    har: Vec<u32>,
    sign: [[u64; CLASSES]; CLASSES],
}

impl Pooled {
    fn add(&mut self, truth: &[u32], probs: &[f32], scores: &FoldScores) {
        self.truth.extend_from_slice(truth);
        self.probs.extend_from_slice(probs);
        self.majority
            .extend(std::iter::repeat_n(scores.majority_class, truth.len()));
        for _ in truth {
            self.majority_probs
                .extend_from_slice(&scores.majority_probs);
        }
        self.logistic_probs
            .extend_from_slice(&scores.logistic_probs);
        if let Some((_, classes)) = &scores.persistence {
            self.persistence.extend_from_slice(classes);
        }
        if let Some((_, classes)) = &scores.har {
            self.har.extend_from_slice(classes);
        }
        for (total, fold) in self.sign.iter_mut().zip(&scores.sign.confusion) {
            for (t, f) in total.iter_mut().zip(fold) {
                *t += f;
            }
        }
    }

    fn metrics(&self) -> Result<serde_json::Value> {
        // The sign baseline's pooled confusion, expanded back into (truth, predicted) pairs.
        let (mut truth, mut predicted) = (Vec::new(), Vec::new());
        for (t, row) in self.sign.iter().enumerate() {
            for (p, &count) in row.iter().enumerate() {
                truth.extend(std::iter::repeat_n(t as u32, count as usize));
                predicted.extend(std::iter::repeat_n(p as u32, count as usize));
            }
        }
        let classes = |c: &[u32]| -> Result<Option<Metrics>> {
            Ok(if c.is_empty() {
                None
            } else {
                Some(Metrics::from_classes(&self.truth, c)?)
            })
        };
        Ok(json!({
            "model": Metrics::from_proba(&self.truth, &self.probs)?,
            "majority": Metrics::from_classes(&self.truth, &self.majority)?,
            "last_return_sign": Metrics::from_classes(&truth, &predicted)?,
            "logistic_regression": Metrics::from_proba(&self.truth, &self.logistic_probs)?,
            "persistence": classes(&self.persistence)?,
            "har": classes(&self.har)?,
        }))
    }

    /// The Diebold-Mariano test of the model against the baseline with the lower pooled test
    /// log loss (majority or logistic regression), `horizon - 1` lags; `None` without test rows.
    fn diebold_mariano(&self, horizon: usize) -> Option<serde_json::Value> {
        let losses = |probs: &[f32]| -> Vec<f64> {
            (self.truth.iter().zip(probs.chunks_exact(CLASSES)))
                .map(|(&t, p)| -f64::from(p[t as usize]).clamp(1e-15, 1.0).ln())
                .collect()
        };
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let model = losses(&self.probs);
        let (name, baseline) = [
            ("majority", losses(&self.majority_probs)),
            ("logistic regression", losses(&self.logistic_probs)),
        ]
        .into_iter()
        .min_by(|a, b| mean(&a.1).total_cmp(&mean(&b.1)))?;
        let dm = DieboldMariano::test(&model, &baseline, horizon.saturating_sub(1))?;
        Some(json!({
            "baseline": name,
            "model_log_loss": mean(&model),
            "baseline_log_loss": mean(&baseline),
            "mean_difference": dm.mean_difference,
            "statistic": dm.statistic,
            "p_value": dm.p_value,
            "lags": dm.lags,
            "n": dm.n,
        }))
    }
}

/// The seeds after the first, trained on the same folds to measure how much the out-of-sample
/// scores owe to the seed.
struct SeedRun<'a> {
    loaded: &'a LoadedConfig,
    spec: &'a PipelineSpec,
    series: &'a [Series<'a>],
    bars: &'a [BarSeries],
    folds: &'a [models::Fold],
    model_cfg: &'a ModelConfig,
    target: Target,
    columns: usize,
    progress: &'a indicatif::ProgressBar,
    init: Option<&'a TrendModel>,
}

/// Seed `k` (from 0) of `seeds = N`: the configured seed first, then seeds derived from it.
fn nth_seed(seed: u64, k: usize) -> u64 {
    if k == 0 {
        seed
    } else {
        seed ^ (k as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
    }
}

impl SeedRun<'_> {
    /// Trains seeds 2..=N on every fold and returns each seed's pooled test log loss, accuracy
    /// and stitched out-of-sample return (seed 1's are `first` and `first_return`), with their
    /// mean and standard deviation; `None` with one seed.
    fn spread(
        &self,
        training: &TrainingConfig,
        first: &serde_json::Value,
        first_return: Option<f64>,
    ) -> Result<Option<serde_json::Value>> {
        let n = training.seed_count();
        if n < 2 {
            return Ok(None);
        }
        let mut runs = vec![(
            training.seed,
            first["model"]["log_loss"].as_f64().unwrap_or(f64::NAN),
            first["model"]["accuracy"].as_f64().unwrap_or(f64::NAN),
            first_return,
        )];
        for k in 1..n {
            let seeded = TrainingConfig {
                seed: nth_seed(training.seed, k),
                ..training.clone()
            };
            let (mut truth, mut probs) = (Vec::new(), Vec::new());
            let mut equity: Vec<(Timestamp, f64)> = Vec::new();
            for (f, fold) in self.folds.iter().enumerate() {
                let fd = prepare_fold(
                    self.series,
                    self.columns,
                    fold,
                    self.model_cfg,
                    &seeded,
                    self.target,
                )?;
                let label = format!("seed {}/{n} fold {}/{}", k + 1, f + 1, self.folds.len());
                let fitted = fit(
                    self.model_cfg,
                    &seeded,
                    &fd,
                    self.init,
                    self.progress,
                    &label,
                )?;
                let (temperature, _, calibrated) = fitted.calibrated(&fd)?;
                truth.extend_from_slice(&fd.test.y);
                probs.extend_from_slice(&calibrated);
                if self.target == Target::Trend && fd.test.n > 0 {
                    let mut metadata = ModelMetadata::new(
                        self.target,
                        self.model_cfg,
                        &seeded,
                        &[],
                        &self.loaded.config.features,
                        &fd.standardizer,
                        fd.vol_terciles,
                    );
                    metadata.temperature = Some(temperature);
                    metadata.feature_columns = fd_columns(self.loaded, self.model_cfg)?;
                    let models = fitted.into_loaded(&metadata, self.bars);
                    let ret = oos_backtest(self.loaded, self.spec, models, self.bars, fold)?;
                    stitch(&mut equity, &ret.curve);
                }
            }
            let m = Metrics::from_proba(&truth, &probs)?;
            let ret = equity.last().map(|(_, e)| e - 1.0);
            runs.push((seeded.seed, m.log_loss.unwrap_or(f64::NAN), m.accuracy, ret));
        }
        let stats = |values: Vec<f64>| {
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            json!({ "mean": mean, "std": var.sqrt(), "values": values })
        };
        let returns: Vec<f64> = runs.iter().filter_map(|r| r.3).collect();
        Ok(Some(json!({
            "n": n,
            "seeds": runs.iter().map(|r| r.0).collect::<Vec<_>>(),
            "log_loss": stats(runs.iter().map(|r| r.1).collect()),
            "accuracy": stats(runs.iter().map(|r| r.2).collect()),
            "oos_return": if returns.is_empty() { serde_json::Value::Null } else { stats(returns) },
        })))
    }
}

/// The model's input columns, as `run` computes them (for a seed's fold model).
fn fd_columns(loaded: &LoadedConfig, model_cfg: &ModelConfig) -> Result<Vec<String>> {
    let spec = PipelineSpec::new(&loaded.config.features).map_err(|e| loaded.feature_error(&e))?;
    Ok(model_cfg
        .features
        .clone()
        .unwrap_or_else(|| spec.columns().to_vec()))
}

/// How the model compares with each baseline, fold by fold: the baseline's name, the figure
/// compared, and whether a lower value is better.
fn baselines_of(target: Target) -> Vec<(&'static str, &'static str, &'static str, bool)> {
    let mut list = vec![
        ("majority", "majority", "log_loss", true),
        (
            "logistic regression",
            "logistic_regression",
            "log_loss",
            true,
        ),
    ];
    match target {
        Target::Trend => {
            list.push(("last return sign", "last_return_sign", "accuracy", false));
            list.push(("buy and hold", "buy_and_hold", "return", false));
        }
        Target::Volatility => {
            list.push(("persistence", "persistence", "accuracy", false));
            list.push(("HAR", "har", "accuracy", false));
        }
    }
    list
}

/// The model's figure and the baseline's for one fold (out-of-sample return against buy and
/// hold's for `buy_and_hold`); `None` when either is missing.
fn compared(fold: &serde_json::Value, key: &str, figure: &str) -> Option<(f64, f64)> {
    if key == "buy_and_hold" {
        return Some((fold["oos_return"].as_f64()?, fold[key]["return"].as_f64()?));
    }
    Some((fold["model"][figure].as_f64()?, fold[key][figure].as_f64()?))
}

/// Per baseline, in how many folds the model did better; and the one-line verdict.
fn verdict(folds: &[serde_json::Value], target: Target) -> (serde_json::Value, String) {
    let mut rows = Vec::new();
    let mut parts = Vec::new();
    for (name, key, figure, lower_better) in baselines_of(target) {
        let pairs: Vec<(f64, f64)> = folds
            .iter()
            .filter_map(|f| compared(f, key, figure))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let better = (pairs.iter())
            .filter(|(m, b)| if lower_better { m < b } else { m > b })
            .count();
        let word = match (2 * better).cmp(&pairs.len()) {
            std::cmp::Ordering::Greater => "better than",
            std::cmp::Ordering::Equal => "no better than",
            std::cmp::Ordering::Less => "worse than",
        };
        let figure_name = figure.replace('_', " ");
        parts.push(format!(
            "{word} {name} ({figure_name}: better in {better} of {} folds)",
            pairs.len()
        ));
        rows.push(json!({
            "baseline": name,
            "figure": figure,
            "better_folds": better,
            "folds": pairs.len(),
        }));
    }
    let mut line = parts.join("; ");
    if let Some(first) = line.get(..1) {
        line = format!(
            "Out of sample, the model is {}{}.",
            first.to_lowercase(),
            &line[1..]
        );
    }
    (json!(rows), line)
}

/// Prints the baselines beside the model, the verdict, the significance test, calibration and
/// the seeds' spread from the saved metrics.
fn print_baselines(metrics: &serde_json::Value) {
    let pct = |v: &serde_json::Value| {
        v.as_f64()
            .map_or("-".into(), |x| format!("{:.1}%", 100.0 * x))
    };
    let num = |v: &serde_json::Value| v.as_f64().map_or("-".into(), |x| format!("{x:.3}"));
    println!(
        "{:<6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "fold",
        "logloss",
        "majority",
        "logit",
        "logit acc",
        "persist",
        "har",
        "oos shrp",
        "b&h ret",
        "b&h shrp"
    );
    for f in metrics["folds"].as_array().into_iter().flatten() {
        println!(
            "{:<6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            f["fold"],
            num(&f["model"]["log_loss"]),
            num(&f["majority"]["log_loss"]),
            num(&f["logistic_regression"]["log_loss"]),
            pct(&f["logistic_regression"]["accuracy"]),
            pct(&f["persistence"]["accuracy"]),
            pct(&f["har"]["accuracy"]),
            num(&f["oos_sharpe"]),
            pct(&f["buy_and_hold"]["return"]),
            num(&f["buy_and_hold"]["sharpe"]),
        );
    }
    if let Some(held) = metrics["buy_and_hold_total_return"].as_f64() {
        println!(
            "stitched out of sample: model {}, buy and hold over the same test windows {}",
            pct(&metrics["oos_total_return"]),
            pct(&json!(held))
        );
    }
    if let Some(line) = metrics["verdict_line"].as_str() {
        println!("{line}");
    }
    let dm = &metrics["diebold_mariano"];
    if let Some(p) = dm["p_value"].as_f64() {
        println!(
            "Diebold-Mariano, model vs {} on test log loss: {} vs {} (difference {:+.4}), DM {:.2}, \
             p = {p:.3} (Newey-West, {} lags, {} samples)",
            dm["baseline"].as_str().unwrap_or_default(),
            num(&dm["model_log_loss"]),
            num(&dm["baseline_log_loss"]),
            dm["mean_difference"].as_f64().unwrap_or(f64::NAN),
            dm["statistic"].as_f64().unwrap_or(f64::NAN),
            dm["lags"],
            dm["n"],
        );
    }
    let folds = metrics["folds"].as_array().cloned().unwrap_or_default();
    let temps: Vec<String> = folds.iter().map(|f| num(&f["temperature"])).collect();
    let ece: Vec<String> = (folds.iter())
        .map(|f| format!("{} -> {}", num(&f["ece_raw"]), num(&f["ece_calibrated"])))
        .collect();
    println!(
        "temperature scaling (fitted on validation rows) per fold: T = {}; test ECE before -> \
         after: {}",
        temps.join(", "),
        ece.join(", ")
    );
    let seeds = &metrics["seeds"];
    if let Some(n) = seeds["n"].as_u64() {
        let spread = |key: &str, f: &dyn Fn(&serde_json::Value) -> String| {
            let s = &seeds[key];
            format!("{} +- {}", f(&s["mean"]), f(&s["std"]))
        };
        let returns: Vec<String> = (seeds["oos_return"]["values"]
            .as_array()
            .into_iter()
            .flatten())
        .map(&pct)
        .collect();
        println!(
            "{n} seeds: test log loss {}, accuracy {}, stitched return {} ({})",
            spread("log_loss", &num),
            spread("accuracy", &pct),
            spread("oos_return", &pct),
            returns.join(", ")
        );
    }
}

/// The equity of an out-of-sample backtest.
struct OosRun {
    total_return: f64,
    curve: Vec<(Timestamp, f64)>,
}

/// Backtests `ml_trend` with the fold's model over the fold's test rows only: features and
/// predictions run causally from the first bar, trading starts at the first test bar.
fn oos_backtest(
    loaded: &LoadedConfig,
    spec: &PipelineSpec,
    models: ModelSet,
    series: &[BarSeries],
    fold: &models::Fold,
) -> Result<OosRun> {
    let sliced: Vec<BarSeries> = series
        .iter()
        .map(|s| {
            let mut one = s.clone();
            one.bars.truncate(fold.test.end);
            one
        })
        .collect();
    let start = (sliced.iter())
        .filter_map(|s| s.bars.get(fold.test.start))
        .map(|b| b.ts)
        .min()
        .context("a test fold starts past the data")?;
    let input =
        ModelInput::with_instruments(models.pooled, models.by_instrument, models.prefix, spec)?;
    let columns = columns_of(spec, std::slice::from_ref(&input));
    let features = ModelFeatures::precomputed(spec, vec![input], &sliced)
        .map_err(|e| anyhow!("{e}"))?
        .predictions_from(start);
    let params = match &loaded.config.strategy {
        // Without the risk model: the saved one saw every row, test rows included.
        Some(StrategyConfig::MlTrend(p)) => MlTrendParams {
            risk_model: None,
            ..p.clone()
        },
        _ => MlTrendParams::with_model(""),
    };
    let strategy = MlTrend::with_columns(&params, &columns)?;
    let mut engine_spec = loaded.engine_spec();
    engine_spec.broker.close_at_end = true;
    let features: Box<dyn FeatureSource> = Box::new(features);
    let outcome = backtest(
        &engine_spec,
        Replay::Bars(&sliced),
        strategy,
        Some(features),
    )?;
    let curve: Vec<(Timestamp, f64)> = (outcome.curve.ts.iter().copied())
        .zip(outcome.curve.equity.iter().copied())
        .filter(|(ts, _)| *ts >= start)
        .collect();
    let total_return = match (curve.first(), curve.last()) {
        (Some((_, a)), Some((_, b))) if *a > 0.0 => b / a - 1.0,
        _ => 0.0,
    };
    Ok(OosRun {
        total_return,
        curve,
    })
}

/// Equal-weighted buy and hold of every instrument over decision rows `rows`: growth of 1 from
/// the first row's close.
fn buy_and_hold(series: &[BarSeries], rows: &std::ops::Range<usize>) -> OosRun {
    let curve: Vec<(Timestamp, f64)> = (rows.clone())
        .filter_map(|t| {
            let growth = (series.iter())
                .map(|s| Some(s.bars.get(t)?.close / s.bars.get(rows.start)?.close))
                .sum::<Option<f64>>()?;
            Some((series.first()?.bars[t].ts, growth / series.len() as f64))
        })
        .collect();
    let total_return = curve.last().map_or(0.0, |(_, e)| e - 1.0);
    OosRun {
        total_return,
        curve,
    }
}

/// The annualised Sharpe ratio (no risk-free rate) of an equity curve, at its bars' frequency.
fn sharpe_of(curve: &[(Timestamp, f64)]) -> f64 {
    let ts: Vec<i64> = curve.iter().map(|(t, _)| t.0).collect();
    let equity: Vec<f64> = curve.iter().map(|(_, e)| *e).collect();
    let periods = engine::metrics::annualisation(&ts).periods_per_year;
    engine::metrics::sharpe_of_equity(&equity, periods, 0.0)
}

/// Appends a fold's equity to the stitched curve (growth of 1), chaining its returns.
fn stitch(stitched: &mut Vec<(Timestamp, f64)>, curve: &[(Timestamp, f64)]) {
    let Some(&(_, first)) = curve.first() else {
        return;
    };
    let base = stitched.last().map_or(1.0, |(_, e)| *e);
    stitched.extend(curve.iter().map(|(ts, e)| (*ts, base * e / first)));
}

fn write_oos_equity(dir: &std::path::Path, curve: &[(Timestamp, f64)]) -> Result<()> {
    let mut text = String::from("timestamp,growth\n");
    for (ts, e) in curve {
        text.push_str(&format!("{ts},{e}\n"));
    }
    let path = dir.join("oos_equity.csv");
    market_data::atomic::write(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn print_summary(
    out: &std::path::Path,
    id: &str,
    folds: &[serde_json::Value],
    overall: &serde_json::Value,
    oos_total: Option<f64>,
    classes: &[String],
) {
    let pct = |v: &serde_json::Value| {
        v.as_f64()
            .map_or("-".into(), |x| format!("{:.1}%", 100.0 * x))
    };
    let num = |v: &serde_json::Value| v.as_f64().map_or("-".into(), |x| format!("{x:.3}"));
    println!(
        "{:<6} {:>8} {:>8} {:>8} {:>10} {:>10} {:>9}",
        "fold", "acc", "f1", "logloss", "majority", "last-sign", "oos ret"
    );
    for f in folds {
        println!(
            "{:<6} {:>8} {:>8} {:>8} {:>10} {:>10} {:>9}",
            f["fold"],
            pct(&f["model"]["accuracy"]),
            num(&f["model"]["macro_f1"]),
            num(&f["model"]["log_loss"]),
            pct(&f["majority"]["accuracy"]),
            pct(&f["last_return_sign"]["accuracy"]),
            pct(&f["oos_return"]),
        );
    }
    println!(
        "{:<6} {:>8} {:>8} {:>8} {:>10} {:>10} {:>9}",
        "all",
        pct(&overall["model"]["accuracy"]),
        num(&overall["model"]["macro_f1"]),
        num(&overall["model"]["log_loss"]),
        pct(&overall["majority"]["accuracy"]),
        pct(&overall["last_return_sign"]["accuracy"]),
        oos_total.map_or("-".into(), |r| format!("{:.1}%", 100.0 * r)),
    );
    // The pooled test confusion matrix: where the model's errors go.
    if let Some(rows) = overall["model"]["confusion"].as_array() {
        println!("confusion over every test fold (rows: true class, columns: predicted)");
        for (name, row) in classes.iter().zip(rows) {
            let cells: Vec<String> = (row.as_array().into_iter().flatten())
                .map(|c| format!("{:>8}", c.as_u64().unwrap_or(0)))
                .collect();
            println!("  {name:<6}{}", cells.join(""));
        }
    }
    println!("model {id} saved to {}", out.display());
}
