//! The model stage: streaming and precomputed give the same predictions, and a prediction at t
//! depends on no bar after t.

use super::stage::{ModelFeatures, ModelInput};
use engine::FeatureSource;
use features::{FeatureConfig, FeatureKind, PipelineSpec};
use market_data::synthetic::{SyntheticSpec, generate};
use market_data::{BarSeries, InstrumentIdx};
use models::{
    LoadedModel, ModelConfig, ModelKind, ModelMetadata, Standardizer, Target, TrainingConfig,
    TrendModel,
};
use std::sync::Arc;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn pipeline() -> Vec<FeatureConfig> {
    vec![
        FeatureConfig::of(
            "ret",
            "close",
            FeatureKind::Returns {
                period: 1,
                log: false,
            },
        ),
        FeatureConfig::of(
            "rsi",
            "close",
            FeatureKind::Rsi {
                period: 14,
                smoothing: Default::default(),
            },
        ),
        FeatureConfig::of("z", "close", FeatureKind::ZScore { period: 20 }),
    ]
}

/// An untrained (seeded) model: enough to compare how predictions are computed.
fn model(spec: &PipelineSpec, kind: ModelKind) -> Result<ModelInput, Box<dyn std::error::Error>> {
    Ok(ModelInput::new(network(spec, kind, 11)?, "trend", spec)?)
}

fn network(
    spec: &PipelineSpec,
    kind: ModelKind,
    seed: u64,
) -> Result<Arc<LoadedModel>, Box<dyn std::error::Error>> {
    let cfg = ModelConfig {
        kind,
        hidden: vec![8],
        window: 6,
        ..ModelConfig::default()
    };
    let columns = spec.columns().to_vec();
    let standardizer = Standardizer {
        mean: vec![0.0, 50.0, 0.0],
        std: vec![0.01, 10.0, 1.0],
    };
    let metadata = ModelMetadata::new(
        Target::Trend,
        &cfg,
        &TrainingConfig::default(),
        &columns,
        &pipeline(),
        &standardizer,
        None,
    );
    Ok(Arc::new(LoadedModel {
        model: TrendModel::new(&cfg, columns.len(), 3, seed)?,
        metadata,
        model_id: "test".into(),
    }))
}

fn data(bars: usize) -> Result<Vec<BarSeries>, Box<dyn std::error::Error>> {
    Ok(generate(&SyntheticSpec {
        instruments: 3,
        bars,
        ..SyntheticSpec::default()
    })?)
}

/// Every instrument's row after each time step of a streaming run.
fn streamed(spec: &Arc<PipelineSpec>, input: ModelInput, data: &[BarSeries]) -> Vec<Vec<f64>> {
    let ids: Vec<_> = data.iter().map(|s| s.instrument.clone()).collect();
    let mut source =
        ModelFeatures::streaming(spec.clone(), vec![input], &ids).expect("every instrument served");
    let mut rows = Vec::new();
    for t in 0..data[0].bars.len() {
        let step: Vec<_> = (data.iter().enumerate())
            .map(|(i, s)| (InstrumentIdx(i as u32), s.bars[t]))
            .collect();
        source.update_step(&step).expect("streaming update");
        for i in 0..data.len() {
            rows.push(source.values(InstrumentIdx(i as u32)).to_vec());
        }
    }
    rows
}

/// The same, replaying precomputed rows.
fn replayed(spec: &PipelineSpec, input: ModelInput, data: &[BarSeries]) -> Vec<Vec<f64>> {
    let mut source = ModelFeatures::precomputed(spec, vec![input], data).expect("precompute");
    let mut rows = Vec::new();
    for t in 0..data[0].bars.len() {
        let step: Vec<_> = (data.iter().enumerate())
            .map(|(i, s)| (InstrumentIdx(i as u32), s.bars[t]))
            .collect();
        source.update_step(&step).expect("replay");
        for i in 0..data.len() {
            rows.push(source.values(InstrumentIdx(i as u32)).to_vec());
        }
    }
    rows
}

/// Values equal, NaN (not ready) in the same places.
fn same(a: &[f64], b: &[f64], tolerance: f64) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (x.is_nan() && y.is_nan()) || (x - y).abs() <= tolerance * x.abs().max(1.0)
        })
}

#[test]
fn streaming_and_precomputed_predictions_agree() -> TestResult {
    let spec = Arc::new(PipelineSpec::new(&pipeline())?);
    let data = data(300)?;
    for kind in [
        ModelKind::Mlp,
        ModelKind::Gru,
        ModelKind::Tcn,
        ModelKind::Transformer,
    ] {
        let a = streamed(&spec, model(&spec, kind)?, &data);
        let b = replayed(&spec, model(&spec, kind)?, &data);
        // A batch of 3 windows per step versus batches of thousands: the matrix products may
        // sum in another order, so f32 rounding can differ in the last bits.
        for (t, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(same(x, y, 1e-5), "{kind:?} step-row {t}: {x:?} vs {y:?}");
        }
        // Warm-up: no prediction until the features and the window are complete.
        let ready = a.iter().position(|r| !r[3].is_nan()).expect("predictions");
        assert!(ready >= 3 * (20 - 1 + 6 - 1), "ready at {ready}");
        assert!(
            a[ready..]
                .iter()
                .all(|r| (r[3] + r[4] + r[5] - 1.0).abs() < 1e-5)
        );
    }
    Ok(())
}

#[test]
fn changing_future_bars_never_changes_past_predictions() -> TestResult {
    let spec = Arc::new(PipelineSpec::new(&pipeline())?);
    let original = data(200)?;
    let cut = 120;
    let mut changed = original.clone();
    for series in &mut changed {
        for bar in &mut series.bars[cut..] {
            bar.close *= 1.5;
            bar.high = bar.high.max(bar.close) * 1.5;
            bar.open *= 1.5;
            bar.low *= 1.5;
        }
    }
    // Every kind: the transformer's attention reads its whole window in both directions, and
    // the window must still end at the decision bar.
    for kind in [
        ModelKind::Mlp,
        ModelKind::Gru,
        ModelKind::Lstm,
        ModelKind::Tcn,
        ModelKind::Transformer,
    ] {
        let a = replayed(&spec, model(&spec, kind)?, &original);
        let b = replayed(&spec, model(&spec, kind)?, &changed);
        let per_step = original.len();
        for (row, (x, y)) in a.iter().zip(&b).enumerate().take(cut * per_step) {
            assert!(same(x, y, 0.0), "{kind:?}: row {row} changed");
        }
        // And the change is visible from the cut on, so the test could fail.
        assert!((cut * per_step..a.len()).any(|r| !same(&a[r], &b[r], 0.0)));
    }
    Ok(())
}

#[test]
fn per_instrument_networks_serve_their_instruments_in_both_modes() -> TestResult {
    let spec = Arc::new(PipelineSpec::new(&pipeline())?);
    let data = data(120)?;
    let own = |seeds: [u64; 2]| -> Result<ModelInput, Box<dyn std::error::Error>> {
        // SYN002 has no network of its own: the pooled one serves it.
        let by_instrument = vec![
            (
                "SYN000".to_string(),
                network(&spec, ModelKind::Mlp, seeds[0])?,
            ),
            (
                "SYN001".to_string(),
                network(&spec, ModelKind::Mlp, seeds[1])?,
            ),
        ];
        let pooled = network(&spec, ModelKind::Mlp, 11)?;
        Ok(ModelInput::with_instruments(
            Some(pooled),
            by_instrument,
            "trend",
            &spec,
        )?)
    };
    let a = streamed(&spec, own([1, 2])?, &data);
    let b = replayed(&spec, own([1, 2])?, &data);
    for (x, y) in a.iter().zip(&b) {
        assert!(same(x, y, 1e-5), "{x:?} vs {y:?}");
    }
    // Each network's outputs differ, and the pooled one still serves SYN002.
    let pooled_only = replayed(&spec, model(&spec, ModelKind::Mlp)?, &data);
    let last = a.len() - 3;
    assert!(!same(&a[last], &pooled_only[last], 1e-5));
    assert!(!same(&a[last + 1], &pooled_only[last + 1], 1e-5));
    assert!(same(&a[last + 2], &pooled_only[last + 2], 1e-5));
    // Without a pooled network, an instrument without its own is a clear error.
    let partial = ModelInput::with_instruments(
        None,
        vec![("SYN000".to_string(), network(&spec, ModelKind::Mlp, 1)?)],
        "trend",
        &spec,
    )?;
    let err =
        ModelFeatures::precomputed(&spec, vec![partial], &data).expect_err("SYN001 has no network");
    assert!(err.to_string().contains("SYN001"), "{err}");
    Ok(())
}

/// Feeds every bar and notes a buy on every fifth step of each instrument; returns the
/// explanations.
fn explained(source: &mut ModelFeatures, data: &[BarSeries]) -> Vec<engine::OrderAttribution> {
    let mut order = 0;
    for t in 0..data[0].bars.len() {
        let step: Vec<_> = (data.iter().enumerate())
            .map(|(i, s)| (InstrumentIdx(i as u32), s.bars[t]))
            .collect();
        source.update_step(&step).expect("update");
        if t % 5 == 0 {
            for (i, s) in data.iter().enumerate() {
                order += 1;
                let side = if order % 2 == 0 {
                    market_data::Side::Buy
                } else {
                    market_data::Side::Sell
                };
                source.explain(
                    engine::OrderId(order),
                    InstrumentIdx(i as u32),
                    side,
                    s.bars[t].ts,
                );
            }
        }
    }
    source.attributions()
}

#[test]
fn streaming_and_precomputed_explain_orders_alike() -> TestResult {
    let data = data(300)?;
    let spec = Arc::new(PipelineSpec::new(&pipeline())?);
    let ids: Vec<_> = data.iter().map(|s| s.instrument.clone()).collect();
    let input = model(&spec, ModelKind::Mlp)?;
    let mut streaming = ModelFeatures::streaming(spec.clone(), vec![input.clone()], &ids)?;
    let mut precomputed =
        ModelFeatures::precomputed(&spec, vec![input], &data).map_err(|e| e.to_string())?;
    let a = explained(&mut streaming, &data);
    let b = explained(&mut precomputed, &data);
    // Orders before the first complete window have no prediction and are not explained.
    assert!(!a.is_empty() && a.len() < 3 * 60, "{}", a.len());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.order, x.instrument, x.ts), (y.order, y.instrument, y.ts));
        let (x, y) = (&x.attribution, &y.attribution);
        assert_eq!(x.class, y.class);
        // Three inputs and TOP_K = 3: every feature is listed; compare them by name.
        for (name, v) in x.top() {
            let w = y.top().find(|&(n, _)| n == name).map(|t| t.1);
            assert!(
                w.is_some_and(|w| (v - w).abs() < 1e-4),
                "{name}: {v} vs {w:?}"
            );
        }
        for ((c, p), (d, q)) in x.probabilities().zip(y.probabilities()) {
            assert!(c == d && (p - q).abs() < 1e-5);
        }
    }
    Ok(())
}

#[test]
fn streaming_and_precomputed_count_drift_alike() -> TestResult {
    let data = data(300)?;
    let spec = Arc::new(PipelineSpec::new(&pipeline())?);
    let ids: Vec<_> = data.iter().map(|s| s.instrument.clone()).collect();
    // The profile of the first instrument's first 150 bars.
    let frame = features::compute_batch(&spec, &data[..1])?.remove(0);
    let values: Vec<f64> = (0..150)
        .flat_map(|t| frame.columns.iter().map(move |c| c[t]))
        .collect();
    let names = spec.columns().to_vec();
    let profile = Arc::new(models::explain::DriftProfile::fit(
        &names,
        &[(&values, 0..150)],
    ));
    let input = model(&spec, ModelKind::Mlp)?.with_drift(Some(profile));
    let mut streaming = ModelFeatures::streaming(spec.clone(), vec![input.clone()], &ids)?;
    let mut precomputed =
        ModelFeatures::precomputed(&spec, vec![input], &data).map_err(|e| e.to_string())?;
    for t in 0..data[0].bars.len() {
        let step: Vec<_> = (data.iter().enumerate())
            .map(|(i, s)| (InstrumentIdx(i as u32), s.bars[t]))
            .collect();
        streaming.update_step(&step).expect("update");
        precomputed.update_step(&step).map_err(|e| e.to_string())?;
        if t == 120 || t + 1 == data[0].bars.len() {
            let (a, b) = (streaming.drift(), precomputed.drift());
            assert_eq!(a.len(), 3);
            assert!(a.iter().all(|d| d.observations > 0), "{a:?}");
            assert_eq!(a, b, "after bar {t}");
        }
    }
    Ok(())
}

// See: issue 21, item 1.
#[test]
fn out_of_sample_each_bar_is_predicted_by_the_latest_model_that_never_saw_it() -> TestResult {
    let spec = Arc::new(PipelineSpec::new(&pipeline())?);
    let data = data(400)?;
    let ts = |t: usize| data[0].bars[t].ts;
    let alone = |seed| -> Result<ModelInput, Box<dyn std::error::Error>> {
        Ok(ModelInput::new(
            network(&spec, ModelKind::Mlp, seed)?,
            "trend",
            &spec,
        )?)
    };
    // Two walk-forward models that saw bars up to 100 and 200, then the final one up to 300.
    let schedule = || -> Result<ModelInput, Box<dyn std::error::Error>> {
        let eras = vec![
            super::stage::Era {
                seen_until: ts(100),
                input: alone(12)?,
            },
            super::stage::Era {
                seen_until: ts(200),
                input: alone(13)?,
            },
            super::stage::Era {
                seen_until: ts(300),
                input: alone(11)?,
            },
        ];
        Ok(alone(11)?.out_of_sample(eras)?)
    };
    let out_of_sample = replayed(&spec, schedule()?, &data);
    let streamed_oos = streamed(&spec, schedule()?, &data);
    let each: Vec<Vec<Vec<f64>>> = [12, 13, 11]
        .into_iter()
        .map(|seed| Ok(replayed(&spec, alone(seed)?, &data)))
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    let width = spec.columns().len();
    // The three networks differ, so the test tells them apart.
    let at = |k: usize| each[k][350 * data.len()][width..].to_vec();
    assert!(at(0) != at(2) && at(1) != at(2) && at(0) != at(1));
    for t in 0..400 {
        for i in 0..data.len() {
            let row = &out_of_sample[t * data.len() + i];
            let expected = match t {
                0..=100 => None,
                101..=200 => Some(&each[0]),
                201..=300 => Some(&each[1]),
                _ => Some(&each[2]),
            };
            match expected {
                None => assert!(row[width..].iter().all(|p| p.is_nan()), "bar {t}: {row:?}"),
                Some(rows) => assert_eq!(row, &rows[t * data.len() + i], "bar {t}"),
            }
            // Fed bar by bar, the final model predicts only after the last bar it saw.
            let streamed_row = &streamed_oos[t * data.len() + i];
            if t <= 300 {
                assert!(streamed_row[width..].iter().all(|p| p.is_nan()), "bar {t}");
            } else {
                assert!(
                    same(streamed_row, &each[2][t * data.len() + i], 1e-5),
                    "bar {t}"
                );
            }
        }
    }
    // Eras out of order are refused.
    let backwards = vec![
        super::stage::Era {
            seen_until: ts(200),
            input: alone(12)?,
        },
        super::stage::Era {
            seen_until: ts(100),
            input: alone(13)?,
        },
    ];
    assert!(alone(11)?.out_of_sample(backwards).is_err());
    Ok(())
}
