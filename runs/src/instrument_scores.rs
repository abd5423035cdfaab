//! Each instrument's own figures, for the model saved in `instruments/<NAME>/`: when models are
//! fine-tuned (or trained) per instrument, that model's card must show its own loss curves and
//! its own out-of-sample scores, not the pooled model's. Every fold adds, per instrument, the
//! scores of that instrument's model on that instrument's test rows beside its own majority and
//! last-sign baselines; [`OwnScores::apply`] puts them, and the final fit's curve, into the
//! instrument's `model.json` metrics (`folds`, `overall`, `final_model`), keeping the pooled
//! figures under `pooled`.

use anyhow::Result;
use models::{CLASSES, Dataset, MajorityBaseline, Metrics, TrainReport, last_return_sign};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One instrument's test truth and probabilities over the folds, and its fold figures.
#[derive(Default)]
struct Own {
    folds: Vec<Value>,
    truth: Vec<u32>,
    probs: Vec<f32>,
}

/// Every instrument's own figures, by dense instrument index.
#[derive(Default)]
pub(crate) struct OwnScores(BTreeMap<u32, Own>);

/// The figures of a fit: best epoch, epochs run and the loss per epoch.
pub(crate) fn report_json(report: &TrainReport) -> Value {
    let (train, valid): (Vec<f64>, Vec<f64>) = (report.epochs.iter())
        .map(|e| (e.train_loss, e.valid_loss))
        .unzip();
    json!({
        "best_epoch": report.best_epoch,
        "kept_starting_weights": report.best_epoch == 0,
        "epochs_run": report.epochs.len(),
        "train_samples": report.train_samples,
        "valid_samples": report.valid_samples,
        "best_valid_loss": report.best_valid_loss,
        "curve": { "train_loss": train, "valid_loss": valid },
    })
}

impl OwnScores {
    /// Adds fold `fold` (from 1): each instrument of `reports` (its own fit in this fold) scored
    /// on its own rows of `test` (`probs` being every test sample's probabilities, in order).
    ///
    /// # Errors
    /// When a baseline cannot be fitted or scored.
    pub(crate) fn add_fold(
        &mut self,
        fold: usize,
        reports: &[(u32, TrainReport)],
        train: &Dataset,
        test: &Dataset,
        probs: &[f32],
        closes: &[&[f64]],
    ) -> Result<()> {
        for (instrument, report) in reports {
            let i = *instrument;
            let own_test = test.filter(|j, _| j == i);
            if own_test.n == 0 {
                continue;
            }
            let own_probs: Vec<f32> = (0..test.n)
                .filter(|&s| test.instrument[s] == i)
                .flat_map(|s| probs[s * CLASSES..(s + 1) * CLASSES].iter().copied())
                .collect();
            let majority = MajorityBaseline::fit(&train.filter(|j, _| j == i))?;
            let mut figures = report_json(report);
            figures["fold"] = json!(fold);
            figures["model"] = json!(Metrics::from_proba(&own_test.y, &own_probs)?);
            figures["majority"] = json!(majority.evaluate(&own_test)?);
            figures["last_return_sign"] = json!(last_return_sign(&own_test, closes)?);
            let own = self.0.entry(i).or_default();
            own.truth.extend_from_slice(&own_test.y);
            own.probs.extend_from_slice(&own_probs);
            own.folds.push(figures);
        }
        Ok(())
    }

    /// Replaces `metrics` (the pooled model's) with instrument `i`'s own folds, overall scores
    /// and final fit `report`, keeping the pooled figures under `pooled`; leaves them as they
    /// are for an instrument without figures of its own.
    ///
    /// # Errors
    /// When the overall scores cannot be computed.
    pub(crate) fn apply(
        &self,
        i: u32,
        report: Option<&TrainReport>,
        metrics: &mut Value,
    ) -> Result<()> {
        let Some(own) = self.0.get(&i) else {
            return Ok(());
        };
        let pooled = metrics.take();
        let overall = if own.truth.is_empty() {
            Value::Null
        } else {
            json!({ "model": Metrics::from_proba(&own.truth, &own.probs)? })
        };
        *metrics = json!({
            "folds": own.folds,
            "overall": overall,
            "final_model": report.map_or(Value::Null, report_json),
            "pooled": pooled,
        });
        Ok(())
    }
}
