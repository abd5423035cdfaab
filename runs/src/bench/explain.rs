//! `quant bench explain`: what explaining a model costs: occlusion attribution per decision,
//! permutation importance per walk-forward fold, and the run-time overhead of recording an
//! attribution with every order (and counting input drift) in an `ml_trend` backtest.
//!
//! The model is the shape shipped in `backtests/ml_trend.toml` (an MLP [32, 16] over 16 bars x
//! 7 features) for the first two, and the `bench ml` backtest model for the third. Weights do
//! not change the cost of a forward pass, so the first two use a seeded untrained model.

use crate::bench::median;
use crate::bench::ml::MlTrendBench;
use crate::bench::ml::Unexplained;
use crate::config::LoadedConfig;
use anyhow::Result;
use engine::{FeatureSource, Replay, backtest};
use models::explain::{DriftProfile, groups, occlude, occlude_batch, permutation_importance};
use models::{Dataset, ModelConfig, ModelKind, TrendModel, Windows, predict};
use std::sync::Arc;
use std::time::Instant;
use strategies::ml_trend::stage::ModelFeatures;

const WINDOW: usize = 16;
const FEATURES: usize = 7;

/// `n` random standardised windows with random labels (a fixed-seed LCG).
fn dataset(n: usize) -> Result<Dataset> {
    let rows = n + WINDOW - 1;
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let values: Vec<f64> = (0..rows * FEATURES).map(|_| next() * 4.0 - 2.0).collect();
    let windows = Windows::build(&values, FEATURES, WINDOW, 0..rows)?;
    let labels: Vec<Option<u32>> = (0..rows).map(|_| Some((next() * 3.0) as u32 % 3)).collect();
    Ok(Dataset::from_windows(&windows, &labels, 0)?)
}

/// Runs the explanation benchmarks.
pub(crate) fn run(runs: usize) -> Result<()> {
    let names: Vec<String> = (0..FEATURES).map(|j| format!("f{j}")).collect();
    println!("explanations, median of {runs} runs");
    for (kind, hidden) in [(ModelKind::Mlp, vec![32, 16]), (ModelKind::Gru, vec![32])] {
        let cfg = ModelConfig {
            kind,
            hidden,
            window: WINDOW,
            ..ModelConfig::default()
        };
        let model = TrendModel::new(&cfg, FEATURES, 3, 1)?;
        let samples = dataset(2_000)?;
        let mut per_decision = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            for i in 0..samples.n {
                std::hint::black_box(occlude(&model, samples.sample(i), 2)?);
            }
            per_decision.push(start.elapsed().as_secs_f64() * 1e6 / samples.n as f64);
        }
        let mut fold_ms = Vec::new();
        for n in [500, 5_000] {
            let test = dataset(n)?;
            let g = groups(&names, WINDOW, 4);
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                let start = Instant::now();
                std::hint::black_box(permutation_importance(&test, &g, 3, 1, |ds| {
                    predict(&model, ds)
                })?);
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
            fold_ms.push((n, g.len(), median(&mut times)));
        }
        let classes = vec![2; samples.n];
        let mut batched = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            std::hint::black_box(occlude_batch(&model, &samples.x, &classes)?);
            batched.push(start.elapsed().as_secs_f64() * 1e6 / samples.n as f64);
        }
        println!(
            "  {kind:?} {:?} over {WINDOW} x {FEATURES}: occlusion {:.1} us per decision alone \
             (paper), {:.2} us per decision in a batch of {} (backtest)",
            cfg.hidden,
            median(&mut per_decision),
            median(&mut batched),
            samples.n
        );
        for (n, g, ms) in fold_ms {
            println!(
                "    permutation importance, {g} groups x 3 shuffles, fold of {n} test samples: \
                 {ms:.1} ms"
            );
        }
    }

    // The shipped config, its model trained by `quant train` into a scratch folder.
    let scratch = std::env::temp_dir().join(format!("quant-bench-explain-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let model = scratch.join("model");
    let repo = std::env::current_dir()?;
    let text = std::fs::read_to_string("backtests/ml_trend.toml")?
        .replace("models/ml-trend-goog", &model.display().to_string())
        .replace(
            "backtests/data/GOOG.csv",
            &repo.join("backtests/data/GOOG.csv").display().to_string(),
        );
    let config = scratch.join("ml_trend.toml");
    std::fs::write(&config, text)?;
    println!("training the shipped model (quant train backtests/ml_trend.toml):");
    crate::train::run(&crate::train::TrainArgs::new(config.clone(), model))?;
    let loaded = LoadedConfig::load(&config)?;
    let data = crate::data::load(&loaded)?.series;
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    let mut counts = (0, 0);
    // A run takes well under a millisecond, so many interleaved runs keep the median steady
    // on a shared machine.
    for _ in 0..runs.max(301) {
        for ((explain, drift), slot) in VARIANTS.into_iter().zip(times.iter_mut()) {
            let built = loaded.build_strategy()?;
            let models = (built.models.into_iter())
                .map(|m| if drift { m } else { m.with_drift(None) })
                .collect();
            let start = Instant::now();
            let source = ModelFeatures::precomputed(&built.pipeline, models, &data)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let features: Box<dyn FeatureSource> = if explain {
                Box::new(source)
            } else {
                Box::new(Unexplained(source))
            };
            let outcome = backtest(
                &loaded.engine_spec(),
                Replay::Bars(&data),
                built.strategy,
                Some(features),
            )?;
            slot.push(start.elapsed().as_secs_f64());
            if explain {
                counts = (outcome.orders.len(), outcome.attributions.len());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    report(
        "ml_trend as shipped (backtests/ml_trend.toml on GOOG daily, 2,148 bars)",
        counts,
        &mut times,
    );
    overhead(
        "ml_trend stress case, 16 instruments x 100,000 GBM bars, entry 0.5 with shorts",
        &MlTrendBench::new()?,
        runs,
    )
}

/// Times the synthetic backtest with and without attributions and drift counting.
fn overhead(what: &str, bench: &MlTrendBench, runs: usize) -> Result<()> {
    let names: Vec<String> = bench.loaded.metadata.feature_columns.clone();
    let rows = bench.training_inputs.len() / names.len();
    let profile = Arc::new(DriftProfile::fit(
        &names,
        &[(&bench.training_inputs, 0..rows)],
    ));
    // Interleaved, so a change in the machine's load hits every variant alike.
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    let mut counts = (0, 0);
    for _ in 0..runs {
        for ((explain, drift), slot) in VARIANTS.into_iter().zip(times.iter_mut()) {
            let run = bench.run(explain, drift.then(|| profile.clone()))?;
            slot.push(run.seconds);
            if explain {
                counts = (run.orders, run.attributions);
            }
        }
    }
    report(what, counts, &mut times);
    Ok(())
}

/// (explain orders, count drift) of the timed variants: the run as before explanations, with
/// attributions, with attributions and drift.
const VARIANTS: [(bool, bool); 3] = [(false, false), (true, false), (true, true)];

/// Prints the median run time of each variant and its overhead over the first.
fn report(what: &str, (orders, attributions): (usize, usize), times: &mut [Vec<f64>; 3]) {
    let runs = times[0].len();
    let [plain, explained, drifted] = times;
    let (p, e, d) = (median(plain), median(explained), median(drifted));
    println!("  {what}: {orders} orders ({attributions} explained), median of {runs} runs");
    println!(
        "    without explanations {:.2} ms; with attributions {:.2} ms ({:+.1}%, {:.2} us per \
         order); with attributions and drift {:.2} ms ({:+.1}%)",
        p * 1e3,
        e * 1e3,
        100.0 * (e / p - 1.0),
        (e - p) * 1e6 / attributions.max(1) as f64,
        d * 1e3,
        100.0 * (d / p - 1.0),
    );
}
