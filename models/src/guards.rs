//! Guards before training: a fold with too few samples for the network's size, too few samples
//! at all, or a class missing from its training rows trains quietly into a model that means
//! nothing (monthly bars give about 81 samples for a 4.2k-parameter MLP). Each guard names its
//! `[training]` key and the figures; `guards = "warn"` turns the refusals into warnings.

use super::config::{GuardMode, ModelConfig, TrainingConfig};
use super::dataset::Dataset;
use super::error::{MlError, Result};
use super::labels::{TREND_CLASSES, VOL_CLASSES};
use super::model::TrendModel;
use super::prepare::Target;
use super::train::CLASSES;

/// Default of `min_samples_per_parameter`.
pub(crate) const MIN_SAMPLES_PER_PARAMETER: f64 = 0.1;
/// Default of `min_fold_samples`.
pub(crate) const MIN_FOLD_SAMPLES: usize = 100;

/// Checks the samples one fit (`what`, e.g. "fold 2/4") trains on (`train`), stops early on
/// (`valid`) and is tested on (`test`); returns the warnings to print (with `guards = "warn"`).
///
/// Samples count per network: the pooled training set when one model is pre-trained on every
/// instrument, else each instrument's own (the fewest). Classes are checked wherever a network
/// trains (the pooled set, and each instrument's when per-instrument models are trained or
/// fine-tuned): a class its validation or test rows hold but its training rows lack is one the
/// network is scored on without ever seeing. (A class no row holds, such as `flat` under a
/// threshold of 0, is not a gap.)
///
/// # Errors
/// With `guards = "error"` (the default), the first failed guard, naming the key and figures;
/// also when the model config is invalid.
pub fn check_fold(
    what: &str,
    model_cfg: &ModelConfig,
    training: &TrainingConfig,
    target: Target,
    train: &Dataset,
    valid: &Dataset,
    test: Option<&Dataset>,
) -> Result<Vec<String>> {
    let parameters = TrendModel::new(model_cfg, train.features.max(1), CLASSES, training.seed)?
        .parameter_count();
    let per_instrument = !training.pretrain_pooled || training.fine_tune_epochs > 0;
    let own = |ds: &Dataset, i: u32| ds.filter(|j, _| j == i);
    // The training set of the network with the fewest samples, and who it is.
    let (who, fewest) = if training.pretrain_pooled {
        (String::new(), train.n)
    } else {
        train
            .instruments()
            .into_iter()
            .map(|i| (format!(" of instrument {i}"), own(train, i).n))
            .min_by_key(|(_, n)| *n)
            .unwrap_or_default()
    };
    let mut failed = Vec::new();
    let ratio = training
        .min_samples_per_parameter
        .unwrap_or(MIN_SAMPLES_PER_PARAMETER);
    if (fewest as f64) < ratio * parameters as f64 {
        failed.push((
            "min_samples_per_parameter",
            format!(
                "{what}: {fewest} training samples{who} for a model of {parameters} parameters \
                 ({:.3} a parameter, below min_samples_per_parameter = {ratio}): it can memorise \
                 its training rows; use more bars, a smaller model or a shorter window",
                fewest as f64 / parameters as f64
            ),
        ));
    }
    let min = training.min_fold_samples.unwrap_or(MIN_FOLD_SAMPLES);
    if fewest < min {
        failed.push((
            "min_fold_samples",
            format!(
                "{what}: {fewest} training samples{who}, below min_fold_samples = {min}: use more \
                 bars or fewer folds"
            ),
        ));
    }
    if let Some(test) = test
        && test.n < min
    {
        failed.push((
            "min_fold_samples",
            format!(
                "{what}: {} test samples, below min_fold_samples = {min}: its scores are mostly \
                 noise; use more bars or fewer folds",
                test.n
            ),
        ));
    }
    let names = match target {
        Target::Trend => TREND_CLASSES,
        Target::Volatility => VOL_CLASSES,
    };
    let empty = Dataset::empty(train.window, train.features);
    let test = test.unwrap_or(&empty);
    let mut sets = vec![(String::new(), train.clone(), valid.clone(), test.clone())];
    if per_instrument {
        sets.extend(train.instruments().into_iter().map(|i| {
            let who = format!(" of instrument {i}");
            (who, own(train, i), own(valid, i), own(test, i))
        }));
    }
    for (who, set, valid, test) in &sets {
        let counts = set.class_counts(CLASSES);
        let seen = |c: usize| valid.class_counts(CLASSES)[c] + test.class_counts(CLASSES)[c];
        if let Some(missing) = (0..CLASSES).find(|&c| counts[c] == 0 && seen(c) > 0) {
            let listed: Vec<String> = names
                .iter()
                .zip(&counts)
                .map(|(name, c)| format!("{name} {c}"))
                .collect();
            failed.push((
                "guards",
                format!(
                    "{what}: class `{}` has no training sample{who} ({}) but {} validation or \
                     test samples: the model is scored on a class it never saw; use more bars, \
                     fewer folds or another label threshold",
                    names[missing],
                    listed.join(", "),
                    seen(missing)
                ),
            ));
        }
    }
    match training.guards.unwrap_or_default() {
        GuardMode::Warn => Ok(failed.into_iter().map(|(_, message)| message).collect()),
        GuardMode::Error => match failed.into_iter().next() {
            Some((key, message)) => Err(MlError::Guard { key, message }),
            None => Ok(Vec::new()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelKind;

    /// `n` samples of a `[window x features]` shape, classes cycling through `classes`.
    fn dataset(
        n: usize,
        window: usize,
        features: usize,
        classes: &[u32],
        instrument: u32,
    ) -> Dataset {
        Dataset {
            x: vec![0.0; n * window * features],
            y: (0..n).map(|i| classes[i % classes.len()]).collect(),
            n,
            window,
            features,
            rows: (0..n).collect(),
            instrument: vec![instrument; n],
        }
    }

    fn mlp() -> ModelConfig {
        ModelConfig {
            kind: ModelKind::Mlp,
            hidden: vec![32, 16],
            window: 16,
            ..ModelConfig::default()
        }
    }

    /// Runs the guards of `training` on a fit of `model` with no validation rows.
    fn check(
        model: &ModelConfig,
        training: &TrainingConfig,
        target: Target,
        train: &Dataset,
        test: Option<&Dataset>,
    ) -> Result<Vec<String>> {
        let none = Dataset::empty(train.window, train.features);
        check_fold("fold 1/4", model, training, target, train, &none, test)
    }

    /// Monthly BTC: 81 samples for the shipped MLP (16 x 7 inputs, 32 and 16 hidden): by hand
    /// 112 x 32 + 32 + 32 x 16 + 16 + 16 x 3 + 3 = 4195 parameters, 0.019 samples each.
    #[test]
    fn too_few_samples_per_parameter_is_refused_with_the_figures() {
        let training = TrainingConfig::default();
        let train = dataset(81, 16, 7, &[0, 1, 2], 0);
        let err = check(&mlp(), &training, Target::Trend, &train, None)
            .unwrap_err()
            .to_string();
        for part in [
            "fold 1/4",
            "81 training samples",
            "4195 parameters",
            "0.019 a parameter",
            "`training.min_samples_per_parameter`",
            "guards = \"warn\"",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        // Warned instead: both guards that failed are listed, and training may go on.
        let warn = TrainingConfig {
            guards: Some(GuardMode::Warn),
            ..TrainingConfig::default()
        };
        let warnings = check(&mlp(), &warn, Target::Trend, &train, None).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[1].contains("below min_fold_samples = 100"));
        // 420 samples clear 0.1 x 4195 and 100.
        let enough = dataset(420, 16, 7, &[0, 1, 2], 0);
        let test = dataset(100, 16, 7, &[0, 1, 2], 0);
        let ok = check(&mlp(), &training, Target::Trend, &enough, Some(&test));
        assert_eq!(ok.unwrap(), Vec::<String>::new());
        // ... but 99 test samples do not.
        let short = dataset(99, 16, 7, &[0, 1, 2], 0);
        let err = check(&mlp(), &training, Target::Trend, &enough, Some(&short))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("99 test samples") && err.contains("min_fold_samples"),
            "{err}"
        );
    }

    #[test]
    fn a_class_missing_from_the_training_rows_is_refused() {
        let small = ModelConfig {
            hidden: vec![4],
            window: 2,
            ..mlp()
        };
        let training = TrainingConfig::default();
        let train = dataset(400, 2, 3, &[0, 2], 0);
        // No row anywhere is flat (a threshold of 0): nothing is missing.
        let binary = check(&small, &training, Target::Trend, &train, None);
        assert_eq!(binary.unwrap(), Vec::<String>::new());
        // Seven flat test rows the model never trained on.
        let test = dataset(107, 2, 3, &[1, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2], 0);
        let err = check(&small, &training, Target::Trend, &train, Some(&test))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("class `flat` has no training sample (down 200, flat 0, up 200) but 8")
                && err.contains("`training.guards`"),
            "{err}"
        );
        // Pooled every class is there, but instrument 1, fine-tuned on its own rows, lacks
        // `high` while its validation rows hold some: named.
        let pooled = Dataset::concat(&[
            dataset(300, 2, 3, &[0, 1, 2], 0),
            dataset(300, 2, 3, &[0, 1], 1),
        ])
        .unwrap();
        let valid =
            Dataset::concat(&[dataset(30, 2, 3, &[0, 1, 2], 0), dataset(30, 2, 3, &[2], 1)])
                .unwrap();
        let fold = |cfg: &TrainingConfig, target| {
            check_fold("fold 1/2", &small, cfg, target, &pooled, &valid, None)
        };
        assert!(fold(&training, Target::Trend).is_ok());
        let tuned = TrainingConfig {
            fine_tune_epochs: 2,
            ..TrainingConfig::default()
        };
        let err = fold(&tuned, Target::Volatility).unwrap_err().to_string();
        assert!(
            err.contains("class `high` has no training sample of instrument 1 (low 150, medium 150, high 0) but 30"),
            "{err}"
        );
    }
}
