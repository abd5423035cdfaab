//! `quant bench ml`: training throughput of each model kind, inference latency for one sample
//! and for a batch of 100 instruments, and the throughput of an `ml_trend` backtest with
//! predictions computed ahead in causal batches.
//!
//! Weights do not change the cost of a forward or backward pass, so the latency figures use seeded
//! untrained models and training runs on synthetic windows with random labels; the backtest
//! trades a model trained on the start of its own data.

use crate::bench::median;
use anyhow::Result;
use engine::{EngineSpec, FeatureSource, Replay, SizingMethod};
use features::{FeatureConfig, FeatureKind, PipelineSpec, compute_batch};
use market_data::synthetic::{SyntheticSpec, generate};
use models::labels::{Threshold, trend_labels};
use models::{
    Dataset, LoadedModel, ModelConfig, ModelKind, ModelMetadata, Standardizer, Target,
    TrainingConfig, TrendModel, Windows, train,
};
use std::sync::Arc;
use std::time::Instant;
use strategies::ml_trend::stage::{ModelFeatures, ModelInput, columns_of};
use strategies::ml_trend::{MlTrend, MlTrendParams, TREND_PREFIX};

const WINDOW: usize = 16;
const FEATURES: usize = 8;

/// Hidden [64, 32] for the MLP, GRU, LSTM and TCN; the transformer at its defaults (d_model 32,
/// 4 heads, 2 encoder layers, feed-forward 64).
fn model_config(kind: ModelKind) -> ModelConfig {
    ModelConfig {
        kind,
        hidden: vec![64, 32],
        window: WINDOW,
        ..ModelConfig::default()
    }
}

/// A dataset of `n` random windows with random labels (a fixed-seed LCG: no extra dependency).
fn dataset(n: usize) -> Result<Dataset> {
    let rows = n + WINDOW - 1;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let values: Vec<f64> = (0..rows * FEATURES).map(|_| next() * 2.0 - 1.0).collect();
    let windows = Windows::build(&values, FEATURES, WINDOW, 0..rows)?;
    let labels: Vec<Option<u32>> = (0..rows).map(|_| Some((next() * 3.0) as u32 % 3)).collect();
    Ok(Dataset::from_windows(&windows, &labels, 0)?)
}

/// Runs the ML benchmarks.
pub(crate) fn run(runs: usize) -> Result<()> {
    if !models::candle_threads_configured() {
        println!(
            "note: RAYON_NUM_THREADS is unset, so candle re-reads the CPU count on every matrix \
             product; set it (e.g. RAYON_NUM_THREADS=1) for representative figures"
        );
    }
    println!(
        "models: window {WINDOW} x {FEATURES} features, hidden [64, 32] (transformer: d_model 32, \
         4 heads, 2 layers, feed-forward 64), 3 classes, batch 256, the same data for every kind \
         (median of {runs})"
    );
    println!(
        "  {:<11} {:>16} {:>14} {:>18}",
        "kind", "train samples/s", "1 sample (us)", "100 samples (us)"
    );
    for kind in [
        ModelKind::Mlp,
        ModelKind::Gru,
        ModelKind::Lstm,
        ModelKind::Tcn,
        ModelKind::Transformer,
    ] {
        let samples = match kind {
            ModelKind::Mlp => 20_000,
            ModelKind::Tcn | ModelKind::Transformer => 2_000,
            ModelKind::Gru | ModelKind::Lstm => 1_000,
        };
        let (train_set, valid_set) = (dataset(samples)?, dataset(256)?);
        let training = TrainingConfig {
            epochs: 2,
            patience: 0,
            ..TrainingConfig::default()
        };
        let mut rates = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            train(
                &model_config(kind),
                &training,
                &train_set,
                &valid_set,
                &mut |_| {},
            )?;
            rates.push((samples * training.epochs) as f64 / start.elapsed().as_secs_f64());
        }
        let model = TrendModel::new(&model_config(kind), FEATURES, 3, 1)?;
        let latency = |batch: usize, calls: usize| -> Result<f64> {
            let x = &train_set.x[..batch * WINDOW * FEATURES];
            let mut times = Vec::with_capacity(calls);
            for _ in 0..calls {
                let start = Instant::now();
                std::hint::black_box(model.predict_proba(x, batch)?);
                times.push(start.elapsed().as_secs_f64() * 1e6);
            }
            Ok(median(&mut times))
        };
        println!(
            "  {:<11} {:>16.0} {:>14.1} {:>18.1}",
            kind.name(),
            median(&mut rates),
            latency(1, 200)?,
            latency(100, 50)?
        );
    }
    backtest(runs)
}

/// The `ml_trend` benchmark's data, pipeline and model: 16 instruments x 100,000 GBM bars, an
/// MLP over 4 features trained on the start of the first instrument.
pub(crate) struct MlTrendBench {
    pub(crate) data: Vec<market_data::BarSeries>,
    pub(crate) spec: PipelineSpec,
    pub(crate) loaded: Arc<LoadedModel>,
    pub(crate) engine_spec: EngineSpec,
    /// The training rows' raw model inputs, row-major.
    pub(crate) training_inputs: Vec<f64>,
    pub(crate) bars: usize,
    params: MlTrendParams,
}

/// The outcome of one timed `ml_trend` run.
pub(crate) struct MlTrendRun {
    pub(crate) seconds: f64,
    pub(crate) fills: usize,
    pub(crate) orders: usize,
    pub(crate) attributions: usize,
}

impl MlTrendBench {
    /// Generates the data and trains the model.
    pub(crate) fn new() -> Result<Self> {
        let data = generate(&SyntheticSpec {
            instruments: 16,
            bars: 100_000,
            ..SyntheticSpec::default()
        })?;
        let features = vec![
            FeatureConfig::of(
                "ret",
                "close",
                FeatureKind::Returns {
                    period: 1,
                    log: false,
                },
            ),
            FeatureConfig::of("roc", "close", FeatureKind::Roc { period: 5 }),
            FeatureConfig::of(
                "rsi",
                "close",
                FeatureKind::Rsi {
                    period: 14,
                    smoothing: Default::default(),
                },
            ),
            FeatureConfig::of("z", "close", FeatureKind::ZScore { period: 20 }),
        ];
        // GBM has nothing to predict, so probabilities stay near the class shares: an entry
        // just above 1/2 (up and down are near even) makes it trade.
        let params = MlTrendParams {
            entry: 0.5,
            short: true,
            ..MlTrendParams::with_model("")
        };
        Self::with_data(data, &features, 20_000, params)
    }

    /// Trains an MLP [32, 16] over windows of 16 bars of every pipeline column on the first
    /// `fit_rows` bars of the first instrument (a few epochs, so its probabilities move with
    /// the features as a trained model's do), traded with `params`.
    fn with_data(
        data: Vec<market_data::BarSeries>,
        features: &[FeatureConfig],
        fit_rows: usize,
        params: MlTrendParams,
    ) -> Result<Self> {
        let bars: usize = data.iter().map(|s| s.bars.len()).sum();
        let spec = PipelineSpec::new(features)?;
        let cfg = ModelConfig {
            hidden: vec![32, 16],
            ..model_config(ModelKind::Mlp)
        };
        let columns = spec.columns().to_vec();
        let frame = compute_batch(&spec, &data[..1])?.remove(0);
        let values: Vec<f64> = (0..fit_rows)
            .flat_map(|t| frame.columns.iter().map(move |c| c[t]))
            .collect();
        let standardizer = Standardizer::fit(&[(&values, 0..fit_rows)], columns.len())?;
        let mut scaled = values.clone();
        standardizer.apply(&mut scaled)?;
        let close: Vec<f64> = data[0].bars[..fit_rows].iter().map(|b| b.close).collect();
        let labels = trend_labels(&close, cfg.horizon, Threshold::Fixed(0.0));
        let windows = Windows::build(
            &scaled,
            columns.len(),
            cfg.window,
            0..fit_rows - cfg.horizon,
        )?;
        let samples = Dataset::from_windows(&windows, &labels, 0)?;
        let training = TrainingConfig {
            epochs: 3,
            patience: 0,
            ..TrainingConfig::default()
        };
        let (model, _) = train(&cfg, &training, &samples, &samples, &mut |_| {})?;
        let metadata = ModelMetadata::new(
            Target::Trend,
            &cfg,
            &TrainingConfig::default(),
            &columns,
            features,
            &standardizer,
            None,
        );
        let loaded = Arc::new(LoadedModel {
            model,
            metadata,
            model_id: "bench".into(),
        });
        // A sixteenth of equity per entry, so every instrument can hold a position.
        let mut engine_spec = EngineSpec::default();
        engine_spec.broker.allow_short = params.short;
        engine_spec.sizing.method = SizingMethod::FixedFraction;
        engine_spec.sizing.fraction = 1.0 / data.len() as f64;
        Ok(Self {
            data,
            spec,
            loaded,
            engine_spec,
            training_inputs: values,
            bars,
            params,
        })
    }

    /// Runs the backtest once: pipeline, predictions ahead, event loop; `explain` records an
    /// attribution per order, `drift` counts the inputs against a training profile.
    pub(crate) fn run(
        &self,
        explain: bool,
        drift: Option<Arc<models::explain::DriftProfile>>,
    ) -> Result<MlTrendRun> {
        let start = Instant::now();
        let input =
            ModelInput::new(self.loaded.clone(), TREND_PREFIX, &self.spec)?.with_drift(drift);
        let all = columns_of(&self.spec, std::slice::from_ref(&input));
        let source = ModelFeatures::precomputed(&self.spec, vec![input], &self.data)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let strategy = MlTrend::with_columns(&self.params, &all)?;
        let features: Box<dyn FeatureSource> = if explain {
            Box::new(source)
        } else {
            Box::new(Unexplained(source))
        };
        let outcome = engine::backtest(
            &self.engine_spec,
            Replay::Bars(&self.data),
            strategy,
            Some(features),
        )?;
        Ok(MlTrendRun {
            seconds: start.elapsed().as_secs_f64(),
            fills: outcome.fills.len(),
            orders: outcome.orders.len(),
            attributions: outcome.attributions.len(),
        })
    }
}

/// The model features with explanations switched off (the default `explain`): the run as it
/// was before orders were explained.
#[derive(Debug)]
pub(crate) struct Unexplained(pub(crate) ModelFeatures);

impl FeatureSource for Unexplained {
    fn columns(&self) -> &[String] {
        self.0.columns()
    }

    fn update(
        &mut self,
        instrument: market_data::InstrumentIdx,
        bar: &market_data::Bar,
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.update(instrument, bar)
    }

    fn update_step(
        &mut self,
        bars: &[(market_data::InstrumentIdx, market_data::Bar)],
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.update_step(bars)
    }

    fn values(&self, instrument: market_data::InstrumentIdx) -> &[f64] {
        self.0.values(instrument)
    }
}

/// `ml_trend` over 16 instruments x 100,000 bars with an MLP over 4 features.
fn backtest(runs: usize) -> Result<()> {
    let bench = MlTrendBench::new()?;
    let mut rates = Vec::with_capacity(runs);
    let mut fills = 0;
    for _ in 0..runs {
        let run = bench.run(true, None)?;
        fills = run.fills;
        rates.push(bench.bars as f64 / run.seconds);
    }
    println!(
        "ml_trend backtest: 16 instruments x 100,000 bars, MLP [32, 16] over 16 x 4 features \
         (trained on 20,000 bars), predictions in causal batches ahead of the loop, every order \
         explained, {fills} fills"
    );
    println!(
        "  median {:.2} M bars/s over {runs} runs (pipeline + inference + event loop)",
        median(&mut rates) / 1e6
    );
    Ok(())
}
