//! `quant report MODEL_DIR`: the model card of a saved model folder, built from its
//! `model.json` (checked against its weights: the model id must match), `explain.json` and
//! `oos_equity.csv`, rendered by the report module.

use anyhow::{Context, Result};
use market_data::Timestamp;
use market_data::csv::parse_timestamp;
use models::explain::{Calibration, Explanation, NOISE_K};
use report::analysis::Series;
use report::{FoldRow, ImportanceRow, ModelCard, Reliability, TrainingCurve, render_model_card};
use serde_json::Value;
use std::path::Path;
use strategies::ml_trend::{ModelSet, TREND_PREFIX};

/// Returns true when `dir` holds a saved model rather than a run's results.
pub(crate) fn is_model_dir(dir: &Path) -> bool {
    dir.join(models::METADATA_FILE).exists()
        || dir.join(strategies::ml_trend::INSTRUMENTS_DIR).is_dir()
}

/// Returns the model card page of the model in `dir`.
///
/// # Errors
/// The model cannot be loaded (missing or changed files), or `explain.json` or
/// `oos_equity.csv` exists but cannot be read.
pub(crate) fn render(dir: &Path) -> Result<String> {
    let set = ModelSet::load(dir, TREND_PREFIX)
        .with_context(|| format!("cannot load the model in {}", dir.display()))?;
    let loaded = set.any();
    let m = &loaded.metadata;
    let explanation = Explanation::load(dir)?;
    let mut notes = baseline_notes(&m.metrics);
    if explanation.is_none() {
        notes.push(format!(
            "{} has no explain.json (trained before explanations existed): importance, \
             calibration and drift are empty; train again with `quant train` to fill them.",
            dir.display()
        ));
    }
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let day = |ns: i64| Timestamp(ns).to_string();
    let period = m.training_period.map_or("n/a".into(), |p| {
        format!("{} to {}", day(p.first_ns), day(p.last_ns))
    });
    let instruments = if set.by_instrument.is_empty() {
        "one pooled model for every instrument".to_string()
    } else {
        let names: Vec<&str> = set.by_instrument.iter().map(|(n, _)| n.as_str()).collect();
        format!("per-instrument models: {}", names.join(", "))
    };
    let mut facts = vec![
        ("Model id".into(), loaded.model_id.clone()),
        (
            "Target".into(),
            format!("{:?}, classes {}", m.target, m.classes.join(" / ")),
        ),
        ("Training period (final model)".into(), period),
        ("Models".into(), instruments),
        ("Inputs".into(), m.feature_columns.join(", ")),
        (
            "Trained by".into(),
            format!("quant {} with seed {}", m.crate_version, m.seed),
        ),
    ];
    if let Some(lineage) = &m.lineage {
        facts.push(("Data".into(), lineage.data_sources.join("; ")));
        facts.push((
            "Content hashes".into(),
            format!(
                "bars {}, inputs {}, config {}",
                lineage.bars_hash, lineage.features_hash, lineage.config_hash
            ),
        ));
    }
    let pipeline = (m.pipeline.iter())
        .map(|f| (f.name.clone(), serde_json::to_string(f).unwrap_or_default()))
        .collect();
    let mut architecture = key_values("model", &serde_json::to_value(&m.model)?);
    architecture.extend(key_values("training", &serde_json::to_value(&m.training)?));
    architecture.push((
        "parameters".into(),
        loaded.model.parameter_count().to_string(),
    ));
    let metric_folds = m.metrics["folds"].as_array().cloned().unwrap_or_default();
    let e = explanation.as_ref();
    let folds = (metric_folds.iter().enumerate())
        .map(|(k, f)| fold_row(f, e.and_then(|e| e.folds.iter().find(|x| x.fold == k + 1))))
        .collect();
    let mut curves = vec![curve("final model", &m.metrics["final_model"]["curve"])];
    curves.extend(
        (metric_folds.iter().enumerate())
            .map(|(k, f)| curve(&format!("fold {}", k + 1), &f["curve"])),
    );
    curves.retain(|c| !c.train_loss.is_empty());
    let card = ModelCard {
        title: format!("Model card: {name}"),
        subtitle: format!(
            "{:?} model {} over {} inputs x {} bars, horizon {} bars",
            m.model.kind,
            loaded.model_id,
            m.feature_columns.len(),
            m.model.window,
            m.model.horizon
        ),
        notes,
        facts,
        pipeline,
        architecture,
        curves,
        classes: m.classes.clone(),
        folds,
        importance: e.map_or_else(Vec::new, |e| {
            (e.importance.iter())
                .map(|s| ImportanceRow {
                    name: s.name.clone(),
                    mean: s.log_loss_increase_mean,
                    std: s.log_loss_increase_std,
                    accuracy_drop: s.accuracy_drop_mean,
                    per_fold: s.log_loss_increase.clone(),
                    stands_out: s.stands_out,
                })
                .collect()
        }),
        importance_rule: format!(
            "Each input (a feature at every lag, or a block of lags of every feature) is shuffled \
             across a fold's test samples; the damage to log loss and accuracy is how much the \
             model relies on it. An input stands out when its mean log-loss increase is positive \
             and above {NOISE_K} standard deviations across folds."
        ),
        reliability: e.map_or_else(Vec::new, |e| {
            let mut all = vec![reliability("all folds", &e.calibration)];
            all.extend(
                (e.folds.iter()).map(|f| reliability(&format!("fold {}", f.fold), &f.calibration)),
            );
            all
        }),
        drift_inputs: e.map_or_else(Vec::new, |e| e.features.clone()),
        drift: e.map_or_else(Vec::new, |e| {
            e.folds.iter().map(|f| f.drift.clone()).collect()
        }),
        drift_threshold: e.map_or(0.2, |e| e.config.drift_threshold),
        equity: oos_equity(&dir.join("oos_equity.csv"))?,
    };
    Ok(render_model_card(&card))
}

/// The card's opening lines: the verdict against each baseline, the significance of the model's
/// log loss against the best baseline's, and the spread over seeds (models trained before these
/// were recorded have none).
fn baseline_notes(metrics: &Value) -> Vec<String> {
    let mut notes: Vec<String> = metrics["verdict_line"]
        .as_str()
        .map(String::from)
        .into_iter()
        .collect();
    let dm = &metrics["diebold_mariano"];
    if let (Some(p), Some(name)) = (dm["p_value"].as_f64(), dm["baseline"].as_str()) {
        notes.push(format!(
            "Diebold-Mariano test of the test log loss against {name} (the best baseline): \
             {:.3} vs {:.3}, DM {:.2}, p = {p:.3} (Newey-West, {} lags).",
            dm["model_log_loss"].as_f64().unwrap_or(f64::NAN),
            dm["baseline_log_loss"].as_f64().unwrap_or(f64::NAN),
            dm["statistic"].as_f64().unwrap_or(f64::NAN),
            dm["lags"],
        ));
    }
    if let (Some(model), Some(held)) = (
        metrics["oos_total_return"].as_f64(),
        metrics["buy_and_hold_total_return"].as_f64(),
    ) {
        notes.push(format!(
            "Stitched out-of-sample return {:.1}% against {:.1}% for buy and hold over the same \
             test windows.",
            100.0 * model,
            100.0 * held
        ));
    }
    let seeds = &metrics["seeds"];
    if let Some(n) = seeds["n"].as_u64() {
        let stat = |key: &str, scale: f64| {
            format!(
                "{:.3} +- {:.3}",
                scale * seeds[key]["mean"].as_f64().unwrap_or(f64::NAN),
                scale * seeds[key]["std"].as_f64().unwrap_or(f64::NAN)
            )
        };
        notes.push(format!(
            "Over {n} seeds: test log loss {}, accuracy {}, stitched return {} (%).",
            stat("log_loss", 1.0),
            stat("accuracy", 1.0),
            stat("oos_return", 100.0)
        ));
    }
    notes
}

/// The fields of a JSON object as (`prefix.key`, value) text pairs.
fn key_values(prefix: &str, v: &Value) -> Vec<(String, String)> {
    (v.as_object().into_iter().flatten())
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (format!("{prefix}.{k}"), text)
        })
        .collect()
}

fn fold_row(f: &Value, e: Option<&models::explain::FoldExplanation>) -> FoldRow {
    let rows = |v: &Value| match (v[0].as_u64(), v[1].as_u64()) {
        (Some(a), Some(b)) if b > a => format!("{a} to {}", b - 1),
        _ => "none".into(),
    };
    let confusion = (f["model"]["confusion"].as_array().into_iter().flatten())
        .map(|row| {
            (row.as_array().into_iter().flatten())
                .map(|c| c.as_u64().unwrap_or(0))
                .collect()
        })
        .collect();
    FoldRow {
        train: rows(&f["train_rows"]),
        test: rows(&f["test_rows"]),
        accuracy: f["model"]["accuracy"].as_f64(),
        macro_f1: f["model"]["macro_f1"].as_f64(),
        log_loss: f["model"]["log_loss"].as_f64(),
        majority: f["majority"]["accuracy"].as_f64(),
        last_sign: f["last_return_sign"]["accuracy"].as_f64(),
        brier: e.map(|e| e.calibration.brier),
        oos_return: f["oos_return"].as_f64(),
        majority_log_loss: f["majority"]["log_loss"].as_f64(),
        logistic: f["logistic_regression"]["accuracy"].as_f64(),
        logistic_log_loss: f["logistic_regression"]["log_loss"].as_f64(),
        persistence: f["persistence"]["accuracy"].as_f64(),
        har: f["har"]["accuracy"].as_f64(),
        buy_and_hold: f["buy_and_hold"]["return"].as_f64(),
        confusion,
    }
}

fn curve(name: &str, v: &Value) -> TrainingCurve {
    let numbers = |v: &Value| -> Vec<f64> {
        (v.as_array().into_iter().flatten())
            .map(|x| x.as_f64().unwrap_or(f64::NAN))
            .collect()
    };
    TrainingCurve {
        name: name.to_string(),
        train_loss: numbers(&v["train_loss"]),
        valid_loss: numbers(&v["valid_loss"]),
    }
}

fn reliability(name: &str, c: &Calibration) -> Reliability {
    Reliability {
        name: name.to_string(),
        bins: (c.bins.iter())
            .filter(|b| b.count > 0)
            .map(|b| (b.confidence, b.accuracy, b.count))
            .collect(),
    }
}

/// Reads `oos_equity.csv` (`timestamp,growth`); empty when the file is absent.
fn oos_equity(path: &Path) -> Result<Series> {
    let mut series = Series::default();
    if !path.exists() {
        return Ok(series);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    for (n, line) in text.lines().enumerate().skip(1) {
        let parsed = line
            .split_once(',')
            .and_then(|(ts, g)| Some((parse_timestamp(ts)?, g.trim().parse::<f64>().ok()?)));
        let (ts, growth) = parsed.with_context(|| {
            format!(
                "{} line {}: expected `timestamp,growth`, found {line:?}",
                path.display(),
                n + 1
            )
        })?;
        series.ts.push(ts.0);
        series.values.push(growth);
    }
    Ok(series)
}
