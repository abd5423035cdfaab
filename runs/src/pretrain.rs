//! `quant train CONFIG --pretrain`: one model pre-trained on a universe of related instruments,
//! saved as an artifact that targets start from (`[training] init_from`).
//!
//! The instruments need not share a calendar or a length (a 24/7 coin beside weekday equities,
//! ten years beside two): each one's feature windows are built on its own bars, and each keeps
//! the last `validation` share of its labelled bars (after an embargo of `horizon` bars) for early
//! stopping; the standardisation is fitted on every instrument's fitting bars. There is no
//! walk-forward test here: the pre-trained model is judged out of sample when a target is
//! fine-tuned from it. Each instrument's validation scores beside its majority class are saved
//! and printed.

use crate::config::LoadedConfig;
use anyhow::{Context, Result, anyhow};
use features::compute_batch;
use models::{
    EpochReport, MajorityBaseline, Metrics, ModelConfig, ModelMetadata, Series, Target,
    TrainingConfig, TrainingPeriod, check_fold, predict, prepare_universe, save, train,
};
use serde_json::json;
use std::path::Path;

/// Pre-trains `model_cfg` on every instrument of `loaded`'s data and saves it into `out`.
///
/// # Errors
/// Names the config key, instrument or file at fault.
pub(crate) fn run(
    loaded: &LoadedConfig,
    model_cfg: &ModelConfig,
    training: &TrainingConfig,
    target: Target,
    out: &Path,
) -> Result<()> {
    let c = &loaded.config;
    let invalid = |e: models::MlError| anyhow!("invalid config {}: {e}", loaded.path.display());
    if training.init_from.is_some() {
        anyhow::bail!(
            "invalid config {}: `training.init_from` with --pretrain: a universe is pre-trained \
             from scratch; fine-tune a target from it instead",
            loaded.path.display()
        );
    }
    let crate::train::ModelData {
        data,
        spec,
        columns,
        indices,
    } = crate::train::model_data(loaded, model_cfg)?;
    let frames = compute_batch(&spec, &data.series)?;
    // Each instrument on its own bars: no common calendar, no common length.
    let matrices: Vec<Vec<f64>> = frames
        .iter()
        .zip(&data.series)
        .map(|(f, s)| {
            (0..s.bars.len())
                .flat_map(|t| indices.iter().map(move |&c| f.columns[c][t]))
                .collect()
        })
        .collect();
    let closes: Vec<Vec<f64>> = (data.series.iter())
        .map(|s| s.bars.iter().map(|b| b.close).collect())
        .collect();
    let series: Vec<Series<'_>> = (matrices.iter().zip(&closes).enumerate())
        .map(|(i, (features, close))| Series {
            instrument: i as u32,
            features,
            close,
        })
        .collect();
    let fd = prepare_universe(&series, columns.len(), model_cfg, training, target)
        .map_err(|e| named(e, &data.series))
        .map_err(|e| anyhow!("invalid config {}: {e}", loaded.path.display()))?;
    let warnings = check_fold(
        "universe", model_cfg, training, target, &fd.train, &fd.valid, None,
    );
    for warning in warnings.map_err(invalid)? {
        eprintln!("warning: {warning}");
    }
    let progress = crate::sweep::progress_bar(training.epochs as u64, "epochs");
    let (model, report) = train(
        model_cfg,
        training,
        &fd.train,
        &fd.valid,
        &mut |e: &EpochReport| {
            progress.inc(1);
            progress.set_message(format!(
                "universe epoch {} loss {:.4} valid loss {:.4}",
                e.epoch, e.train_loss, e.valid_loss
            ));
        },
    )?;
    progress.finish_and_clear();

    let mut instruments = Vec::new();
    let mut first_ns = i64::MAX;
    let (mut last_ns, mut seen_until_ns) = (i64::MIN, i64::MIN);
    for (i, s) in data.series.iter().enumerate() {
        let i32 = i as u32;
        let own_train = fd.train.filter(|j, _| j == i32);
        let own_valid = fd.valid.filter(|j, _| j == i32);
        let scores = Metrics::from_proba(&own_valid.y, &predict(&model, &own_valid)?)?;
        let majority = MajorityBaseline::fit(&own_train)?.evaluate(&own_valid)?;
        let last_row = own_valid.rows.last().copied().unwrap_or(0);
        let bar = |row: usize| s.bars.get(row).map(|b| b.ts.0);
        first_ns = first_ns.min(bar(0).unwrap_or(i64::MAX));
        last_ns = last_ns.max(bar(last_row).unwrap_or(i64::MIN));
        seen_until_ns = seen_until_ns.max(bar(last_row + model_cfg.horizon).unwrap_or(i64::MIN));
        instruments.push(json!({
            "instrument": s.instrument.as_str(),
            "bars": s.bars.len(),
            "first": bar(0).map(|t| market_data::Timestamp(t).to_string()),
            "last": s.bars.last().map(|b| b.ts.to_string()),
            "train_samples": own_train.n,
            "valid_samples": own_valid.n,
            "valid": scores,
            "majority": majority,
        }));
    }
    let mut metadata = ModelMetadata::new(
        target,
        model_cfg,
        training,
        &columns,
        &c.features,
        &fd.standardizer,
        fd.vol_terciles,
    );
    metadata.training_period = (first_ns <= last_ns).then_some(TrainingPeriod {
        first_ns,
        last_ns,
        seen_until_ns: (seen_until_ns > i64::MIN).then_some(seen_until_ns),
    });
    let (train_loss, valid_loss): (Vec<f64>, Vec<f64>) = (report.epochs.iter())
        .map(|e| (e.train_loss, e.valid_loss))
        .unzip();
    metadata.metrics = json!({
        "pretrained": { "instruments": instruments },
        "final_model": {
            "best_epoch": report.best_epoch,
            "epochs_run": report.epochs.len(),
            "train_samples": report.train_samples,
            "valid_samples": report.valid_samples,
            "best_valid_loss": report.best_valid_loss,
            "curve": { "train_loss": train_loss, "valid_loss": valid_loss },
        },
    });
    // A folder that held a walk-forward model keeps none of its files: a backtest must not
    // trade a stale fold model beside the pre-trained one.
    for stale in [
        strategies::ml_trend::WALK_FORWARD_DIR,
        strategies::ml_trend::INSTRUMENTS_DIR,
    ] {
        let _ = std::fs::remove_dir_all(out.join(stale));
    }
    for stale in [models::explain::EXPLAIN_FILE, "oos_equity.csv"] {
        let _ = std::fs::remove_file(out.join(stale));
    }
    let id = save(out, &model, &metadata)
        .with_context(|| format!("cannot save the pre-trained model into {}", out.display()))?;
    println!(
        "{:<12} {:>7} {:>8} {:>8} {:>10} {:>10}",
        "instrument", "bars", "train", "valid", "valid acc", "majority"
    );
    for row in &instruments {
        let pct = |v: &serde_json::Value| {
            v.as_f64()
                .map_or("-".into(), |x| format!("{:.1}%", 100.0 * x))
        };
        println!(
            "{:<12} {:>7} {:>8} {:>8} {:>10} {:>10}",
            row["instrument"].as_str().unwrap_or("?"),
            row["bars"].as_u64().unwrap_or(0),
            row["train_samples"].as_u64().unwrap_or(0),
            row["valid_samples"].as_u64().unwrap_or(0),
            pct(&row["valid"]["accuracy"]),
            pct(&row["majority"]["accuracy"]),
        );
    }
    println!(
        "pre-trained model {id} ({} instruments, best epoch {} of {}) saved to {}; fine-tune a \
         target from it with [training] init_from = {:?}",
        data.series.len(),
        report.best_epoch,
        report.epochs.len(),
        out.display(),
        out.display().to_string()
    );
    Ok(())
}

/// Names the instrument behind an error's dense index.
fn named(e: models::MlError, series: &[market_data::BarSeries]) -> String {
    let mut text = e.to_string();
    for (i, s) in series.iter().enumerate().rev() {
        for after in [' ', ','] {
            text = text.replace(
                &format!("instrument {i}{after}"),
                &format!("instrument {}{after}", s.instrument),
            );
        }
    }
    text
}

/// Loads the model `[training] init_from` names, checked against this config's inputs, or
/// `None` without one. Warns when it saw bars at or after `first_test` (the target's first test
/// bar): if the universe moves with the target, the target's scores are then optimistic.
///
/// # Errors
/// Names `training.init_from` when the folder holds no intact model or one with other inputs.
pub(crate) fn load_init(
    loaded: &LoadedConfig,
    training: &TrainingConfig,
    target: Target,
    model_cfg: &ModelConfig,
    columns: &[String],
    first_test: Option<market_data::Timestamp>,
) -> Result<Option<models::TrendModel>> {
    let Some(written) = &training.init_from else {
        return Ok(None);
    };
    let dir = loaded.resolve(written);
    let start = models::load_saved_columns(&dir).map_err(|e| {
        anyhow!(
            "invalid config {}: `training.init_from` = {written:?}: {e} (train one with `quant \
             train UNIVERSE.toml --pretrain --out {written}`)",
            loaded.path.display()
        )
    })?;
    let m = &start.metadata;
    models::check_init(&dir, m, target, model_cfg, columns, &loaded.config.features)
        .map_err(|e| anyhow!("invalid config {}: {e}", loaded.path.display()))?;
    let seen = m.training_period.and_then(|p| p.seen_until_ns);
    if let (Some(seen), Some(first)) = (seen, first_test)
        && seen >= first.0
    {
        eprintln!(
            "warning: `training.init_from` {}: the pre-trained model saw bars up to {}, after the \
             first test bar {first}: if its instruments move with this one, the out-of-sample \
             scores are optimistic",
            dir.display(),
            market_data::Timestamp(seen)
        );
    }
    Ok(Some(start.model))
}
