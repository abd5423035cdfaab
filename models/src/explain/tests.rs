//! Explanations on data with a planted signal: only feature `x0` decides the label, so it must
//! rank first in permutation importance and in per-decision occlusion; with the labels shuffled
//! nothing may stand out. Plus model ids, drift and calibration on known inputs.

use super::*;
use crate::labels::{DOWN, FLAT, UP};
use crate::{
    Dataset, ModelConfig, ModelKind, ModelMetadata, Target, TrainingConfig, TrendModel, Windows,
    argmax, model_id, predict, split_validation, train, walk_forward,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

const FEATURES: usize = 4;
const WINDOW: usize = 4;

fn names() -> Vec<String> {
    (0..FEATURES).map(|j| format!("x{j}")).collect()
}

/// Standard normal features; the label of row t is the tercile of x0 at t (the decision bar):
/// down below -0.43, up above 0.43, flat between. `shuffle` permutes the labels instead.
fn planted(rows: usize, seed: u64, shuffle: bool) -> crate::Result<Dataset> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let values: Vec<f64> = (0..rows * FEATURES)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let mut labels: Vec<Option<u32>> = (0..rows)
        .map(|t| {
            let s = values[t * FEATURES];
            Some(if s > 0.43 {
                UP
            } else if s < -0.43 {
                DOWN
            } else {
                FLAT
            })
        })
        .collect();
    if shuffle {
        for i in (1..rows).rev() {
            labels.swap(i, rng.random_range(0..=i));
        }
    }
    let windows = Windows::build(&values, FEATURES, WINDOW, 0..rows)?;
    Dataset::from_windows(&windows, &labels, 0)
}

fn configs() -> (ModelConfig, TrainingConfig) {
    let mc = ModelConfig {
        kind: ModelKind::Mlp,
        hidden: vec![16],
        dropout: 0.0,
        window: WINDOW,
        horizon: 1,
        ..ModelConfig::default()
    };
    let tc = TrainingConfig {
        epochs: 15,
        batch: 64,
        learning_rate: 5e-3,
        patience: 5,
        folds: 4,
        seed: 3,
        ..TrainingConfig::default()
    };
    (mc, tc)
}

/// Trains one model per walk-forward fold; returns each with its test samples.
fn walk(ds: &Dataset) -> crate::Result<Vec<(TrendModel, Dataset)>> {
    let (mc, tc) = configs();
    let rows = ds.rows.last().map_or(0, |r| r + 1);
    let mut out = Vec::new();
    for fold in walk_forward(rows, &tc, mc.horizon)? {
        let (fit, valid) = split_validation(fold.train.clone(), tc.validation, mc.horizon)?;
        let train_ds = ds.filter(|_, r| fit.contains(&r));
        let valid_ds = ds.filter(|_, r| valid.contains(&r));
        let (model, _) = train(&mc, &tc, &train_ds, &valid_ds, &mut |_| {})?;
        out.push((model, ds.filter(|_, r| fold.test.contains(&r))));
    }
    Ok(out)
}

fn importance(folds: &[(TrendModel, Dataset)]) -> crate::Result<Vec<ImportanceSummary>> {
    let groups = groups(&names(), WINDOW, 2);
    let scored = (folds.iter())
        .map(|(model, test)| permutation_importance(test, &groups, 2, 11, |ds| predict(model, ds)))
        .collect::<crate::Result<Vec<_>>>()?;
    Ok(summarise(&groups, &scored))
}

#[test]
fn the_planted_feature_ranks_first_in_importance_and_in_attribution() -> TestResult {
    let ds = planted(2400, 1, false)?;
    let folds = walk(&ds)?;
    let summary = importance(&folds)?;
    let features: Vec<&ImportanceSummary> = (summary.iter())
        .filter(|s| s.kind == GroupKind::Feature)
        .collect();
    assert_eq!(features[0].name, "x0", "{summary:#?}");
    assert!(features[0].stands_out, "{summary:#?}");
    assert!(features[0].accuracy_drop_mean > 0.2, "{summary:#?}");
    assert!(features[1..].iter().all(|s| !s.stands_out), "{summary:#?}");
    // Only lag 0 carries the label: the block holding it matters, the older one does not.
    let lags: Vec<&ImportanceSummary> = (summary.iter())
        .filter(|s| s.kind == GroupKind::Lags)
        .collect();
    assert_eq!(lags[0].name, "lags 0-1", "{summary:#?}");
    assert!(lags[0].stands_out && !lags[1].stands_out, "{summary:#?}");

    // Per decision to trade (an up or down prediction): x0 has the largest |contribution| to
    // the predicted class. Flat predictions are left out: there x0 sits near its mean, where
    // occluding it changes little by construction.
    let (mut first, mut decisions) = (0, 0);
    for (model, test) in &folds {
        for i in 0..test.n {
            let probs = model.predict_proba(test.sample(i), 1)?;
            let class = argmax(&probs);
            if class == FLAT as usize {
                continue;
            }
            let o = occlude(model, test.sample(i), class)?;
            // The unoccluded row is the plain prediction.
            assert!((o.probabilities[class] - probs[class]).abs() < 1e-5);
            decisions += 1;
            first += usize::from(top_features(&o.contributions, 1) == [0]);
        }
    }
    let share = first as f64 / decisions as f64;
    assert!(share > 0.9, "x0 first in {first} of {decisions} decisions");
    Ok(())
}

#[test]
fn with_shuffled_labels_no_feature_stands_out() -> TestResult {
    let ds = planted(2400, 1, true)?;
    let summary = importance(&walk(&ds)?)?;
    for s in &summary {
        assert!(
            !s.stands_out,
            "{} stands out on noise: {summary:#?}",
            s.name
        );
        // Shuffling any input barely moves the score when nothing was learnt.
        assert!(s.accuracy_drop_mean.abs() < 0.03, "{summary:#?}");
    }
    Ok(())
}

#[test]
fn permutation_importance_is_deterministic_for_a_seed() -> TestResult {
    let ds = planted(900, 2, false)?;
    let (mc, tc) = configs();
    let model = TrendModel::new(&mc, FEATURES, 3, tc.seed)?;
    let groups = groups(&names(), WINDOW, 2);
    let run = |seed| permutation_importance(&ds, &groups, 2, seed, |d| predict(&model, d));
    let (a, b, c) = (run(5)?, run(5)?, run(6)?);
    assert_eq!(a, b);
    assert_ne!(a, c);
    Ok(())
}

#[test]
fn lag_blocks_cover_the_window_once() {
    let g = groups(&names(), 6, 4);
    let lags: Vec<&Group> = g.iter().filter(|g| g.kind == GroupKind::Lags).collect();
    let names: Vec<&str> = lags.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["lags 0-0", "lags 1-2", "lags 3-3", "lags 4-5"]);
    let mut cells: Vec<usize> = lags.iter().flat_map(|g| g.cells.clone()).collect();
    cells.sort_unstable();
    assert_eq!(cells, (0..6 * FEATURES).collect::<Vec<_>>());
}

#[test]
fn the_model_id_changes_with_weights_or_metadata_and_only_then() -> TestResult {
    let (mc, tc) = configs();
    let model = TrendModel::new(&mc, FEATURES, 3, 1)?;
    let std = crate::Standardizer {
        mean: vec![0.0; FEATURES],
        std: vec![1.0; FEATURES],
    };
    let meta = ModelMetadata::new(Target::Trend, &mc, &tc, &names(), &[], &std, None);
    let id = model_id(&model, &meta)?;
    assert_eq!(
        id,
        model_id(&model, &meta.clone())?,
        "stable for the same inputs"
    );
    // The same weights rebuilt from the same seed: the same id.
    assert_eq!(id, model_id(&TrendModel::new(&mc, FEATURES, 3, 1)?, &meta)?);
    let other_weights = TrendModel::new(&mc, FEATURES, 3, 2)?;
    assert_ne!(id, model_id(&other_weights, &meta)?, "weights changed");
    let mut other_meta = meta.clone();
    other_meta.standardizer.mean[2] = 0.5;
    assert_ne!(id, model_id(&model, &other_meta)?, "metadata changed");
    Ok(())
}

#[test]
fn drift_fires_on_a_shifted_copy_and_not_on_the_training_data() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let train: Vec<f64> = (0..4000 * 2)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let names = ["a".to_string(), "b".to_string()];
    let profile = DriftProfile::fit(&names, &[(&train, 0..4000)]);
    let threshold = ExplainConfig::default().drift_threshold;
    let same = profile.psi_of(&[(&train, 0..4000)]);
    assert!(same.iter().all(|&p| p < 1e-9), "{same:?}");
    // A fresh sample of the same law: noise only, far below the threshold.
    let fresh: Vec<f64> = (0..4000 * 2)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    assert!(
        profile
            .psi_of(&[(&fresh, 0..4000)])
            .iter()
            .all(|&p| p < 0.05)
    );
    // Feature a shifted by half a standard deviation: drifted; b untouched: not.
    let shifted: Vec<f64> = (train.iter().enumerate())
        .map(|(i, v)| if i % 2 == 0 { v + 0.5 } else { *v })
        .collect();
    let psi = profile.psi_of(&[(&shifted, 0..4000)]);
    assert!(psi[0] > threshold && psi[1] < 1e-9, "{psi:?}");
    // Discrete values merge tied edges instead of making empty bins.
    let flags: Vec<f64> = (0..100).map(|i| f64::from(u8::from(i % 4 == 0))).collect();
    let p = DriftProfile::fit(&["f".into()], &[(&flags, 0..100)]);
    assert_eq!(p.features[0].edges, [0.0, 1.0]);
    assert!((p.features[0].expected[1] - 0.25).abs() < 1e-12);
}

#[test]
fn calibration_of_known_probabilities() {
    // Two samples at 0.95 confidence, one right and one wrong; one at 0.5, right.
    let probs = [0.95f32, 0.025, 0.025, 0.95, 0.025, 0.025, 0.25, 0.25, 0.5];
    let c = Calibration::new(&[0, 2, 2], &probs, 3);
    let bin9 = &c.bins[9];
    assert_eq!(bin9.count, 2);
    assert!((bin9.accuracy - 0.5).abs() < 1e-12 && (bin9.confidence - 0.95).abs() < 1e-6);
    assert_eq!(c.bins[5].count, 1);
    let brier = (0.00375 + (0.9025 + 0.000625 + 0.950625) + (0.0625 * 2.0 + 0.25)) / 3.0;
    assert!((c.brier - brier).abs() < 1e-6, "{} vs {brier}", c.brier);
    let ece = (2.0 * 0.45 + 0.5) / 3.0;
    assert!((c.ece - ece).abs() < 1e-6, "{} vs {ece}", c.ece);
}

#[test]
fn explain_config_names_a_bad_key() {
    let err = toml::from_str::<ExplainConfig>("drift_treshold = 0.3").expect_err("a typo");
    assert!(err.to_string().contains("drift_treshold"), "{err}");
    let cfg: ExplainConfig = toml::from_str("").expect("every key has a default");
    assert_eq!(cfg.drift_threshold, 0.2);
    let bad = ExplainConfig {
        drift_threshold: -1.0,
        ..cfg
    };
    let err = bad.validate().expect_err("negative");
    assert!(err.to_string().contains("explain.drift_threshold"), "{err}");
}

/// Every shape the MLP shortcut pads or splits: features in one block of rows or several,
/// hidden widths off the group size, one to three hidden layers, two or three classes.
#[test]
fn the_mlp_shortcut_equals_running_the_occluded_copies() -> TestResult {
    let shapes: [(usize, &[usize], usize); 5] = [
        (4, &[8, 6], 3),
        (7, &[32, 16], 3),
        (9, &[12], 2),
        (16, &[10, 7, 5], 3),
        (1, &[3], 3),
    ];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    for (seed, (features, hidden, classes)) in (0..).zip(shapes) {
        let mlp = TrendModel::new(
            &ModelConfig {
                hidden: hidden.to_vec(),
                window: 5,
                ..configs().0
            },
            features,
            classes,
            seed,
        )?;
        let n = 30;
        let size = 5 * features;
        let x: Vec<f32> = (0..n * size)
            .map(|_| {
                let v: f64 = StandardNormal.sample(&mut rng);
                2.0 * v as f32
            })
            .collect();
        let fast = mlp.predict_occluded(&x, n)?;
        // The copies, run through the ordinary forward pass.
        let mut copies = Vec::new();
        for sample in x.chunks_exact(size) {
            copies.extend_from_slice(sample);
            for j in 0..features {
                let from = copies.len();
                copies.extend_from_slice(sample);
                for lag in 0..5 {
                    copies[from + lag * features + j] = 0.0;
                }
            }
        }
        let slow = mlp.predict_proba(&copies, n * (features + 1))?;
        assert_eq!(fast.len(), slow.len(), "{features} features, {hidden:?}");
        for (a, b) in fast.iter().zip(&slow) {
            assert!(
                (a - b).abs() < 1e-5,
                "{features} features, {hidden:?}: {a} vs {b}"
            );
        }
        // Occluding moves the prediction: the comparison is not between constants.
        let moved = (fast.chunks_exact(classes * (features + 1)))
            .filter(|rows| {
                let (given, occluded) = rows.split_at(classes);
                (occluded.chunks_exact(classes))
                    .any(|row| row.iter().zip(given).any(|(o, g)| (o - g).abs() > 1e-3))
            })
            .count();
        assert!(
            moved > n / 2,
            "{features} features, {hidden:?}: {moved} of {n} moved"
        );
    }
    Ok(())
}

#[test]
fn the_inlined_exponential_is_within_a_few_ulps_of_the_library_one() {
    let ulps = |a: f32, b: f32| (a.to_bits() as i64 - b.to_bits() as i64).abs();
    let mut worst = 0;
    for i in -870_000..=880_000 {
        let x = i as f32 * 1e-4;
        let (ours, libm) = (crate::exp_f32(x), x.exp());
        worst = worst.max(ulps(ours, libm));
    }
    assert!(worst <= 3, "{worst} ulps");
    assert_eq!(crate::exp_f32(0.0), 1.0);
    assert!(crate::exp_f32(f32::NAN).is_nan());
    assert!(crate::exp_f32(1000.0).is_finite() && crate::exp_f32(-1000.0) > 0.0);
}

#[test]
fn the_probability_of_one_class_is_its_softmax() {
    let rows: [&[f32]; 5] = [
        &[0.1, -2.0, 3.5],
        &[0.0, 0.0, 0.0],
        &[-40.0, 60.0, 1.0],
        &[1e-3, 2e-3],
        &[88.0, -88.0, 0.5, 7.0],
    ];
    for row in rows {
        let mut probs = row.to_vec();
        crate::softmax_rows(&mut probs, row.len());
        for (class, &p) in probs.iter().enumerate() {
            let q = crate::softmax_of(row, class);
            assert!(
                (p - q).abs() <= 4e-6 * p + 1e-37, // both vanish below f32's normal range
                "{row:?} class {class}: {p} vs {q}"
            );
        }
    }
}

#[test]
fn top_features_rank_by_magnitude_with_the_lower_index_first_on_ties() {
    let c = [0.1f32, -0.3, 0.3, 0.0, -0.05, 0.2];
    assert_eq!(top_features(&c, 3), [1, 2, 5]);
    assert_eq!(top_features(&c, 10), [1, 2, 5, 0, 4, 3]);
    let mut top = [0usize; 2];
    assert_eq!(top_features_into(&c[..1], &mut top), 1);
    assert_eq!(top[0], 0);
}
