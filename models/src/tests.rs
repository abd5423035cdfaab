//! Tests of the ML core on synthetic data with a planted signal: learning, no leakage
//! (shuffled labels, permuted future, embargo), reproducibility, artifacts and bad input.
//! Models and data are small so that each test trains in about a second in debug builds.

use super::folds::folds_with_embargo;
use super::labels::{DOWN, Threshold, UP, forward_volatility, trend_labels};
use super::*;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Columns of the synthetic data.
const COLUMNS: [&str; 3] = ["regime", "last_return", "noise"];
/// Leading rows of NaN features, as a pipeline warming up produces.
const WARM_UP: usize = 3;

/// A regime-switching price: the regime s (+1 or -1) flips with probability `p_switch` per bar
/// and each bar's return is `mu` x s plus Gaussian noise. The regime is a visible feature, so
/// the rule that knows the process predicts the next `horizon` bars' direction as s.
struct Synthetic {
    /// Row-major `[rows x 3]`: regime, last 1-bar return, pure noise.
    features: Vec<f64>,
    close: Vec<f64>,
    regime: Vec<f64>,
}

fn synthetic(rows: usize, seed: u64) -> Synthetic {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (p_switch, mu, sigma) = (0.05, 0.006, 0.01);
    let mut s = 1.0;
    let mut price = 100.0;
    let (mut features, mut close, mut regime) = (Vec::new(), Vec::new(), Vec::new());
    for t in 0..rows {
        if rng.random::<f64>() < p_switch {
            s = -s;
        }
        let z: f64 = StandardNormal.sample(&mut rng);
        let r = mu * s + sigma * z;
        price *= 1.0 + r;
        let noise: f64 = StandardNormal.sample(&mut rng);
        if t < WARM_UP {
            features.extend([f64::NAN; 3]);
        } else {
            features.extend([s, r, noise]);
        }
        close.push(price);
        regime.push(s);
    }
    Synthetic {
        features,
        close,
        regime,
    }
}

fn model_cfg(kind: ModelKind) -> ModelConfig {
    ModelConfig {
        kind,
        hidden: vec![16],
        dropout: 0.0,
        window: 4,
        horizon: 5,
        ..ModelConfig::default()
    }
}

fn training_cfg() -> TrainingConfig {
    TrainingConfig {
        epochs: 12,
        batch: 64,
        learning_rate: 5e-3,
        patience: 4,
        folds: 1,
        ..TrainingConfig::default()
    }
}

fn series(data: &Synthetic) -> Series<'_> {
    Series {
        instrument: 0,
        features: &data.features,
        close: &data.close,
    }
}

/// The single fold of `rows` rows: train on the first `train_bars`, test on the rest.
fn one_fold(rows: usize, train_bars: usize, horizon: usize) -> Result<Fold> {
    let cfg = TrainingConfig {
        folds: 1,
        train_bars: Some(train_bars),
        ..TrainingConfig::default()
    };
    Ok(walk_forward(rows, &cfg, horizon)?.remove(0))
}

fn accuracy(truth: &[u32], predicted: &[u32]) -> f64 {
    let hits = truth.iter().zip(predicted).filter(|(a, b)| a == b).count();
    hits as f64 / truth.len() as f64
}

/// The rule that knows the process: up in an up regime, down in a down regime.
fn oracle(data: &Synthetic, ds: &Dataset) -> Vec<u32> {
    ds.rows
        .iter()
        .map(|&t| if data.regime[t] > 0.0 { UP } else { DOWN })
        .collect()
}

fn classes_of(probs: &[f32]) -> Vec<u32> {
    probs
        .chunks_exact(CLASSES)
        .map(|p| argmax(p) as u32)
        .collect()
}

struct Trained {
    fold: FoldData,
    model: TrendModel,
    report: TrainReport,
}

fn fit(data: &Synthetic, fold: &Fold, mc: &ModelConfig, tc: &TrainingConfig) -> Result<Trained> {
    let fold = prepare_fold(&[series(data)], 3, fold, mc, tc, Target::Trend)?;
    let (model, report) = train(mc, tc, &fold.train, &fold.valid, &mut |_| {})?;
    Ok(Trained {
        fold,
        model,
        report,
    })
}

#[test]
fn planted_signal_mlp_reaches_the_oracle_and_beats_the_baselines() -> TestResult {
    let data = synthetic(3000, 1);
    let fold = one_fold(3000, 2000, 5)?;
    let mut epochs_seen = 0;
    let mc = model_cfg(ModelKind::Mlp);
    let tc = TrainingConfig {
        grad_clip: Some(5.0),
        lr_schedule: LrSchedule::Cosine,
        ..training_cfg()
    };
    let prepared = prepare_fold(&[series(&data)], 3, &fold, &mc, &tc, Target::Trend)?;
    let (model, report) = train(&mc, &tc, &prepared.train, &prepared.valid, &mut |e| {
        epochs_seen = e.epoch;
    })?;
    assert_eq!(epochs_seen, report.epochs.len());
    let test = &prepared.test;
    let probs = predict(&model, test)?;
    let model_metrics = Metrics::from_proba(&test.y, &probs)?;
    let oracle_acc = accuracy(&test.y, &oracle(&data, test));
    let majority = MajorityBaseline::fit(&prepared.train)?.evaluate(test)?;
    let last_sign = last_return_sign(test, &[&data.close])?;
    assert!(
        oracle_acc > 0.7,
        "the planted signal is too weak: {oracle_acc}"
    );
    assert!(
        model_metrics.accuracy >= 0.9 * oracle_acc,
        "model {} vs oracle {oracle_acc}",
        model_metrics.accuracy
    );
    for (name, baseline) in [("majority", &majority), ("last-return sign", &last_sign)] {
        assert!(
            model_metrics.accuracy >= baseline.accuracy + 0.08,
            "model {} vs {name} {}",
            model_metrics.accuracy,
            baseline.accuracy
        );
    }
    assert!(model_metrics.log_loss < majority.log_loss);
    Ok(())
}

#[test]
fn planted_signal_gru_lstm_and_tcn_learn_it() -> TestResult {
    // Fewer bars and epochs than the MLP test, so the bound is looser: 85% of the oracle.
    let data = synthetic(1500, 2);
    let fold = one_fold(1500, 1000, 5)?;
    for kind in [ModelKind::Gru, ModelKind::Lstm, ModelKind::Tcn] {
        let mc = ModelConfig {
            hidden: vec![8, 8],
            dropout: 0.1,
            ..model_cfg(kind)
        };
        let tc = TrainingConfig {
            epochs: 8,
            learning_rate: 1e-2,
            ..training_cfg()
        };
        let t = fit(&data, &fold, &mc, &tc)?;
        let acc = accuracy(
            &t.fold.test.y,
            &classes_of(&predict(&t.model, &t.fold.test)?),
        );
        let oracle_acc = accuracy(&t.fold.test.y, &oracle(&data, &t.fold.test));
        assert!(
            acc >= 0.85 * oracle_acc,
            "{kind:?}: {acc} vs oracle {oracle_acc}"
        );
    }
    Ok(())
}

#[test]
fn shuffled_labels_score_at_chance() -> TestResult {
    let data = synthetic(3000, 3);
    let fold = one_fold(3000, 1400, 5)?;
    let mc = model_cfg(ModelKind::Mlp);
    let mut accuracies = Vec::new();
    let mut bounds = (0.0, 0.0);
    // A net fitted to noise is still a random function of an informative input, and may line
    // up with the truth by luck; averaging over a few seeds measures chance, not one draw.
    for seed in 0..4 {
        let tc = TrainingConfig {
            seed: 100 + seed,
            ..training_cfg()
        };
        let mut prepared = prepare_fold(&[series(&data)], 3, &fold, &mc, &tc, Target::Trend)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for ds in [&mut prepared.train, &mut prepared.valid] {
            for i in (1..ds.n).rev() {
                let j = rng.random_range(0..=i);
                ds.y.swap(i, j);
            }
        }
        let (model, _) = train(&mc, &tc, &prepared.train, &prepared.valid, &mut |_| {})?;
        let test = &prepared.test;
        let metrics = Metrics::from_proba(&test.y, &predict(&model, test)?)?;
        let prior = MajorityBaseline::fit(&prepared.train)?.evaluate(test)?;
        // No better calibrated than the class frequencies.
        assert!(
            metrics.log_loss >= prior.log_loss.map(|l| l - 0.01),
            "seed {seed}"
        );
        accuracies.push(metrics.accuracy);
        // Without information a predictor scores between the rarest and the commonest class's
        // share: any mix of constant guesses lands in between.
        let shares: Vec<f64> = test
            .class_counts(CLASSES)
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| c as f64 / test.n as f64)
            .collect();
        bounds = shares
            .iter()
            .fold((1.0f64, 0.0f64), |(lo, hi), &f| (lo.min(f), hi.max(f)));
    }
    // Stated tolerances: each run within 0.08 of the class shares, the mean of the four within
    // 0.03 (over eight seeds, runs here spread over 0.45..0.53 around a mean of 0.50; with true
    // labels the same model scores near the oracle's 0.8).
    let (lo, hi) = bounds;
    for acc in &accuracies {
        assert!(
            *acc > lo - 0.08 && *acc < hi + 0.08,
            "{accuracies:?} vs [{lo}, {hi}]"
        );
    }
    let mean = accuracies.iter().sum::<f64>() / accuracies.len() as f64;
    assert!(
        mean > lo - 0.03 && mean < hi + 0.03,
        "mean {mean} vs [{lo}, {hi}]"
    );
    Ok(())
}

/// Returns `data` with every row from `from` on replaced by a random other row from there.
fn permute_from(data: &Synthetic, from: usize, seed: u64) -> Synthetic {
    let rows = data.close.len();
    let mut order: Vec<usize> = (from..rows).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut out = Synthetic {
        features: data.features[..from * 3].to_vec(),
        close: data.close[..from].to_vec(),
        regime: data.regime[..from].to_vec(),
    };
    for &r in &order {
        out.features
            .extend_from_slice(&data.features[r * 3..(r + 1) * 3]);
        out.close.push(data.close[r]);
        out.regime.push(data.regime[r]);
    }
    out
}

#[test]
fn permuting_bars_after_the_training_window_leaves_the_weights_unchanged() -> TestResult {
    let data = synthetic(900, 4);
    let mc = ModelConfig {
        vol_scaled: Some(0.3),
        vol_window: 10,
        dropout: 0.2,
        ..model_cfg(ModelKind::Mlp)
    };
    let tc = TrainingConfig {
        epochs: 3,
        noise_std: 0.1,
        scale_jitter: 0.1,
        class_weights: ClassWeights::Balanced,
        grad_clip: Some(1.0),
        ..training_cfg()
    };
    let fold = one_fold(900, 600, mc.horizon)?;
    let permuted = permute_from(&data, fold.test.start, 5);
    assert_ne!(permuted.close, data.close);
    let a = fit(&data, &fold, &mc, &tc)?;
    let b = fit(&permuted, &fold, &mc, &tc)?;
    assert_eq!(a.model.weights()?, b.model.weights()?);
    assert_eq!(a.report, b.report);

    // The same with no embargo: the last training labels read permuted test-period prices, so
    // training changes. This is what the embargo prevents.
    let leaky = folds_with_embargo(
        900,
        &TrainingConfig {
            train_bars: Some(600),
            ..tc.clone()
        },
        0,
    )?
    .remove(0);
    let permuted = permute_from(&data, leaky.test.start, 5);
    // Validation already ends `horizon` rows before the test rows; train on the whole window so
    // that its labels reach into them.
    let window = leaky.train.clone();
    let labels_a = trend_labels(&data.close, mc.horizon, Threshold::from_config(&mc));
    let labels_b = trend_labels(&permuted.close, mc.horizon, Threshold::from_config(&mc));
    assert_ne!(labels_a[window.clone()], labels_b[window]);
    Ok(())
}

#[test]
fn the_embargo_keeps_training_labels_off_test_prices() -> TestResult {
    let horizon = 5;
    for scheme in [Scheme::Expanding, Scheme::Rolling] {
        let cfg = TrainingConfig {
            folds: 3,
            scheme,
            train_bars: Some(300),
            ..TrainingConfig::default()
        };
        let folds = walk_forward(1000, &cfg, horizon)?;
        assert_eq!(folds.len(), 3);
        for (k, f) in folds.iter().enumerate() {
            // The last training label reads close[train.end - 1 + horizon]: before the test.
            assert_eq!(f.test.start - f.train.end, horizon);
            assert!(f.train.end - 1 + horizon < f.test.start);
            if let Some(next) = folds.get(k + 1) {
                assert_eq!(f.test.end, next.test.start);
            }
            match scheme {
                Scheme::Expanding => assert_eq!(f.train.start, 0),
                Scheme::Rolling => assert_eq!(f.train.len(), 300),
            }
        }
        let (fit_rows, valid_rows) = split_validation(folds[0].train.clone(), 0.2, horizon)?;
        assert_eq!(valid_rows.start - fit_rows.end, horizon);
        assert_eq!(valid_rows.end, folds[0].train.end);
        // Without the embargo, the last training label reads a test-period price.
        let leaky = folds_with_embargo(1000, &cfg, 0)?;
        assert!(leaky[0].train.end - 1 + horizon >= leaky[0].test.start);
    }
    let too_many = TrainingConfig {
        folds: 10,
        train_bars: Some(900),
        test_bars: Some(50),
        ..TrainingConfig::default()
    };
    let err = walk_forward(1000, &too_many, horizon).expect_err("folds past the data");
    assert!(err.to_string().contains("train_bars"), "{err}");
    Ok(())
}

#[test]
fn the_same_seed_gives_bit_identical_weights() -> TestResult {
    let data = synthetic(600, 6);
    let fold = one_fold(600, 450, 5)?;
    for kind in [
        ModelKind::Mlp,
        ModelKind::Gru,
        ModelKind::Lstm,
        ModelKind::Tcn,
    ] {
        let mc = ModelConfig {
            dropout: 0.3,
            hidden: vec![6],
            ..model_cfg(kind)
        };
        let tc = TrainingConfig {
            epochs: 2,
            noise_std: 0.2,
            scale_jitter: 0.2,
            ..training_cfg()
        };
        let a = fit(&data, &fold, &mc, &tc)?;
        let b = fit(&data, &fold, &mc, &tc)?;
        assert_eq!(a.model.weights()?, b.model.weights()?, "{kind:?}");
        let other_seed = TrainingConfig { seed: 7, ..tc };
        let c = fit(&data, &fold, &mc, &other_seed)?;
        assert_ne!(a.model.weights()?, c.model.weights()?, "{kind:?}");
    }
    Ok(())
}

#[test]
fn save_load_predict_gives_identical_outputs_and_checks_the_pipeline() -> TestResult {
    let data = synthetic(600, 7);
    let fold = one_fold(600, 450, 5)?;
    let mc = ModelConfig {
        features: Some(COLUMNS.iter().map(|c| c.to_string()).collect()),
        ..model_cfg(ModelKind::Gru)
    };
    let tc = TrainingConfig {
        epochs: 2,
        ..training_cfg()
    };
    let t = fit(&data, &fold, &mc, &tc)?;
    let columns: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    let pipeline = vec![features::FeatureConfig::of(
        "regime",
        "close",
        features::FeatureKind::Sma { period: 3 },
    )];
    let mut meta = ModelMetadata::new(
        Target::Trend,
        &mc,
        &tc,
        &columns,
        &pipeline,
        &t.fold.standardizer,
        None,
    );
    meta.training_period = Some(TrainingPeriod {
        first_ns: 0,
        last_ns: 449,
        seen_until_ns: Some(454),
    });
    meta.metrics = serde_json::json!({ "best_valid_loss": t.report.best_valid_loss });
    let dir = std::env::temp_dir().join(format!("quant-ml-artifact-{}", std::process::id()));
    let id = save(&dir, &t.model, &meta)?;
    assert_eq!(id.len(), 16);
    // Saved again over itself: the same id, and only the two files (nothing half-written).
    assert_eq!(save(&dir, &t.model, &meta)?, id);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["model.json", "weights.safetensors"]);
    // A folder where the weights go cannot be replaced: an error naming it, and no partial file.
    let blocked = dir.join("blocked");
    std::fs::create_dir_all(blocked.join(crate::artifact::WEIGHTS_FILE)).unwrap();
    let err = save(&blocked, &t.model, &meta).expect_err("weights path is a folder");
    assert!(err.to_string().contains("weights.safetensors"), "{err}");
    assert_eq!(std::fs::read_dir(&blocked).unwrap().count(), 1);
    std::fs::remove_dir_all(&blocked).unwrap();
    let loaded = load(&dir, &columns)?;
    assert_eq!(loaded.model_id, id);
    assert_eq!(loaded.metadata, meta);
    assert_eq!(loaded.model.weights()?, t.model.weights()?);
    let test = &t.fold.test;
    assert_eq!(predict(&loaded.model, test)?, predict(&t.model, test)?);
    loaded.check_pipeline(&pipeline)?;
    let changed = vec![features::FeatureConfig::of(
        "regime",
        "close",
        features::FeatureKind::Sma { period: 4 },
    )];
    let err = loaded
        .check_pipeline(&changed)
        .expect_err("a changed period");
    assert!(err.to_string().contains("regime"), "{err}");

    let swapped: Vec<String> = ["regime", "noise", "last_return"]
        .map(String::from)
        .to_vec();
    let err = load(&dir, &swapped).expect_err("columns in another order");
    assert!(
        matches!(err, MlError::PipelineMismatch { position: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("`last_return`") && err.to_string().contains("`noise`"));
    let err = load(&dir, &columns[..2]).expect_err("a missing column");
    assert!(err.to_string().contains("no column"), "{err}");

    // A metadata edit after saving is caught.
    let path = dir.join(METADATA_FILE);
    let text = std::fs::read_to_string(&path)?.replace("\"last_ns\": 449", "\"last_ns\": 450");
    std::fs::write(&path, text)?;
    let err = load(&dir, &columns).expect_err("an edited model.json");
    assert!(matches!(err, MlError::ModelIdMismatch { .. }), "{err}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn pooled_training_fine_tunes_a_copy_per_instrument() -> TestResult {
    let (a, b) = (synthetic(500, 8), synthetic(500, 9));
    let fold = one_fold(500, 400, 5)?;
    let mc = model_cfg(ModelKind::Mlp);
    let tc = TrainingConfig {
        epochs: 2,
        fine_tune_epochs: 2,
        ..training_cfg()
    };
    let both = [
        series(&a),
        Series {
            instrument: 1,
            ..series(&b)
        },
    ];
    let prepared = prepare_fold(&both, 3, &fold, &mc, &tc, Target::Trend)?;
    assert_eq!(prepared.train.instruments(), vec![0, 1]);
    let mut fine_tune_epochs = 0;
    let run = train_pooled(&mc, &tc, &prepared.train, &prepared.valid, &mut |e| {
        fine_tune_epochs += usize::from(e.instrument.is_some());
    })?;
    assert_eq!(fine_tune_epochs, 4);
    assert_eq!(run.fine_tuned.len(), 2);
    assert_eq!(run.fine_tuned[1].instrument, 1);
    assert!((run.fine_tuned[0].report.epochs[0].lr - tc.learning_rate / 10.0).abs() < 1e-12);
    assert_ne!(run.fine_tuned[0].model.weights()?, run.pooled.weights()?);
    assert_ne!(
        run.fine_tuned[0].model.weights()?,
        run.fine_tuned[1].model.weights()?
    );
    Ok(())
}

#[test]
fn volatility_labels_use_terciles_fitted_on_training_rows() -> TestResult {
    let data = synthetic(600, 10);
    let fold = one_fold(600, 450, 5)?;
    let mc = model_cfg(ModelKind::Mlp);
    let prepared = prepare_fold(
        &[series(&data)],
        3,
        &fold,
        &mc,
        &training_cfg(),
        Target::Volatility,
    )?;
    let terciles = prepared.vol_terciles.ok_or("terciles")?;
    let counts = prepared.train.class_counts(CLASSES);
    // Terciles of the fitting rows split them into thirds (the dataset drops a few warm-up rows).
    for &c in &counts {
        assert!(
            (c as f64 / prepared.train.n as f64 - 1.0 / 3.0).abs() < 0.05,
            "{counts:?}"
        );
    }
    assert!(terciles.low < terciles.high);
    let fv = forward_volatility(&data.close, 5);
    let t = prepared.test.rows[0];
    assert_eq!(
        Some(prepared.test.y[0]),
        fv[t].map(|v| terciles.classify(v))
    );
    Ok(())
}

#[test]
fn windows_skip_warm_up_and_nan_and_errors_name_the_cause() -> TestResult {
    let data = synthetic(40, 11);
    let w = Windows::build(&data.features, 3, 4, 0..40)?;
    // Rows 0..3 are warm-up, so the first full window ends at row 3 + 4 - 1.
    assert_eq!(w.rows.first(), Some(&(WARM_UP + 3)));
    assert_eq!(
        w.sample(0)[..3],
        [
            data.features[9] as f32,
            data.features[10] as f32,
            data.features[11] as f32
        ]
    );
    // A NaN in the middle (a feature reset by a gap) drops the windows that contain it.
    let mut gapped = data.features.clone();
    gapped[20 * 3 + 1] = f64::NAN;
    let w = Windows::build(&gapped, 3, 4, 0..40)?;
    assert!(w.rows.iter().all(|t| !(20..24).contains(t)));
    assert!(w.rows.contains(&19) && w.rows.contains(&24));

    let err = Windows::build(&[f64::NAN; 30], 3, 4, 0..10).expect_err("all NaN");
    assert!(matches!(err, MlError::NoSamples { .. }), "{err}");
    assert!(err.to_string().contains("non-finite"), "{err}");
    let err = Windows::build(&data.features[..9], 3, 4, 0..3).expect_err("3 rows, window 4");
    assert!(
        matches!(
            err,
            MlError::TooLittleData {
                rows: 3,
                needed: 4,
                ..
            }
        ),
        "{err}"
    );
    let err = Windows::build(&data.features[..10], 3, 4, 0..3).expect_err("10 values, 3 columns");
    assert!(err.to_string().contains("feature matrix"), "{err}");

    // Labels past the end of the data drop samples; none left is an error naming why.
    let w = Windows::build(&data.features, 3, 4, 36..40)?;
    let labels = trend_labels(&data.close, 5, Threshold::Fixed(0.0));
    let err = Dataset::from_windows(&w, &labels, 0).expect_err("no label in the last rows");
    assert!(err.to_string().contains("past the end"), "{err}");

    let err = column_indices(&["a".into(), "b".into()], &["c".into()]).expect_err("no column c");
    assert!(err.to_string().contains("`c`"), "{err}");
    Ok(())
}

#[test]
fn bad_model_input_is_a_clear_error() -> TestResult {
    let mc = model_cfg(ModelKind::Lstm);
    let model = TrendModel::new(&mc, 3, CLASSES, 1)?;
    let err = model
        .predict_proba(&[0.0; 11], 1)
        .expect_err("11 values for a 4 x 3 window");
    assert!(
        err.to_string()
            .contains("1 samples x 4 rows x 3 features = 12 values"),
        "{err}"
    );
    let probs = model.predict_proba(&[0.5; 24], 2)?;
    assert_eq!(probs.len(), 6);
    assert!((probs[..3].iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let x = candle_core::Tensor::zeros(
        (2, 5, 3),
        candle_core::DType::F32,
        &candle_core::Device::Cpu,
    )?;
    let err = model
        .logits(&x, false)
        .expect_err("window 5 for a model of window 4");
    assert!(err.to_string().contains("[batch x 4 x 3]"), "{err}");

    // A dataset shaped unlike the model.
    let data = synthetic(300, 12);
    let fold = one_fold(300, 200, 5)?;
    let prepared = prepare_fold(
        &[series(&data)],
        3,
        &fold,
        &mc,
        &training_cfg(),
        Target::Trend,
    )?;
    let wide = ModelConfig { window: 5, ..mc };
    let err = train(
        &wide,
        &training_cfg(),
        &prepared.train,
        &prepared.valid,
        &mut |_| {},
    )
    .expect_err("window 4 samples, window 5 model");
    assert!(err.to_string().contains("dataset samples"), "{err}");
    Ok(())
}

#[test]
fn models_can_be_shared_across_threads() {
    // Backtests run instruments and sweep jobs on rayon threads with one model behind an `Arc`.
    fn shared<T: Send + Sync>() {}
    shared::<TrendModel>();
    shared::<LoadedModel>();
}

/// The lag-3 task of [`crate::planted::lag3`], its Bayes rule's calls as the regime.
fn lag3(rows: usize, seed: u64) -> Synthetic {
    let p = crate::planted::lag3(rows, seed);
    Synthetic {
        features: p.features,
        close: p.close,
        regime: p.call,
    }
}

/// A small model of `kind` for the lag-3 task: hidden [16] (mlp), or d_model 16 with 2
/// heads, 1 encoder layer and a feed-forward width of 32 (transformer); windows of 6 bars.
fn lag3_cfg(kind: ModelKind) -> ModelConfig {
    let base = ModelConfig {
        kind,
        hidden: vec![16],
        dropout: 0.0,
        window: 6,
        horizon: 1,
        ..ModelConfig::default()
    };
    if kind != ModelKind::Transformer {
        return base;
    }
    ModelConfig {
        d_model: Some(16),
        heads: Some(2),
        encoder_layers: Some(1),
        ff_width: Some(32),
        ..base
    }
}

#[test]
fn planted_lag3_signal_transformer_reaches_90_percent_of_the_bayes_rate() -> TestResult {
    const BAYES: f64 = crate::planted::LAG3_BAYES_RATE;
    // Out of sample over data seeds 21, 31, 41, 51: the transformer 0.656-0.675, the MLP (the
    // reference that the task is learnable at this size) 0.648-0.668; a GRU [16] trained the
    // same way was unreliable (0.50-0.65), so it is not asserted here.
    let data = lag3(3000, 21);
    let fold = one_fold(3000, 2000, 1)?;
    for kind in [ModelKind::Transformer, ModelKind::Mlp] {
        let mc = lag3_cfg(kind);
        let tc = TrainingConfig {
            epochs: 20,
            learning_rate: 5e-3,
            ..training_cfg()
        };
        let t = fit(&data, &fold, &mc, &tc)?;
        let test = &t.fold.test;
        let metrics = Metrics::from_proba(&test.y, &predict(&t.model, test)?)?;
        // The rule that knows the process scores the Bayes rate on these rows, within sampling
        // error (1,000 rows: a standard error of 0.015): the task is as described.
        let oracle_acc = accuracy(&test.y, &oracle(&data, test));
        assert!((oracle_acc - BAYES).abs() < 0.05, "oracle {oracle_acc}");
        let majority = MajorityBaseline::fit(&t.fold.train)?.evaluate(test)?;
        assert!(
            metrics.accuracy >= 0.9 * BAYES,
            "{:?}: {} out of sample, oracle {oracle_acc}",
            mc.kind,
            metrics.accuracy
        );
        assert!(
            metrics.log_loss < majority.log_loss,
            "{:?}: log loss {:?} vs majority {:?}",
            mc.kind,
            metrics.log_loss,
            majority.log_loss
        );
    }
    Ok(())
}

#[test]
fn every_transformer_weight_learns_and_the_same_seed_repeats_it() -> TestResult {
    let data = lag3(600, 22);
    let fold = one_fold(600, 450, 1)?;
    let mc = ModelConfig {
        dropout: 0.2,
        encoder_layers: Some(2),
        ..lag3_cfg(ModelKind::Transformer)
    };
    // No weight decay: only gradients move the weights.
    let tc = TrainingConfig {
        epochs: 2,
        patience: 0,
        weight_decay: 0.0,
        noise_std: 0.1,
        scale_jitter: 0.1,
        ..training_cfg()
    };
    let initial = TrendModel::new(&mc, 3, CLASSES, tc.seed)?.weights()?;
    let a = fit(&data, &fold, &mc, &tc)?;
    // Gradients reach every tensor, the layer norms' scales and shifts included (candle's fused
    // layer norm has no backward pass: used here, they would stay at 1 and 0).
    for ((name, before), (_, after)) in initial.iter().zip(a.model.weights()?) {
        assert_ne!(before, &after, "{name} never changed");
    }
    assert!(initial.iter().any(|(n, _)| n == "block1.ff_norm.weight"));
    let b = fit(&data, &fold, &mc, &tc)?;
    assert_eq!(a.model.weights()?, b.model.weights()?);
    let other = fit(&data, &fold, &mc, &TrainingConfig { seed: 8, ..tc })?;
    assert_ne!(a.model.weights()?, other.model.weights()?);
    Ok(())
}

#[test]
fn a_saved_transformer_loads_and_predicts_the_same() -> TestResult {
    let data = lag3(600, 23);
    let fold = one_fold(600, 450, 1)?;
    let mc = lag3_cfg(ModelKind::Transformer);
    let tc = TrainingConfig {
        epochs: 2,
        ..training_cfg()
    };
    let t = fit(&data, &fold, &mc, &tc)?;
    let columns: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    let meta = ModelMetadata::new(
        Target::Trend,
        &mc,
        &tc,
        &columns,
        &[],
        &t.fold.standardizer,
        None,
    );
    let dir = std::env::temp_dir().join(format!("quant-ml-transformer-{}", std::process::id()));
    let id = save(&dir, &t.model, &meta)?;
    let json = std::fs::read_to_string(dir.join(METADATA_FILE))?;
    assert!(json.contains("\"kind\": \"transformer\"") && json.contains("\"d_model\": 16"));
    let loaded = load(&dir, &columns)?;
    assert_eq!(loaded.model_id, id);
    assert_eq!(loaded.model.weights()?, t.model.weights()?);
    let test = &t.fold.test;
    let (before, after) = (predict(&t.model, test)?, predict(&loaded.model, test)?);
    assert_eq!(before, after);
    // Trained, so the predictions vary from window to window (the check above could fail).
    assert!(
        before
            .chunks_exact(CLASSES)
            .any(|p| p != &before[..CLASSES])
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
