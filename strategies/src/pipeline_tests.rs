//! A strategy's feature pipeline inside the engine: parallel across instruments equals one thread
//! and bar-by-bar driving.

use features::{FeatureConfig, PipelineRunner};

/// One feature of every kind (the features crate's own test set).
fn every_kind() -> Vec<FeatureConfig> {
    #[derive(serde::Deserialize)]
    struct Doc {
        features: Vec<FeatureConfig>,
    }
    toml::from_str::<Doc>(include_str!("../../features/tests/every_kind.toml"))
        .unwrap()
        .features
}

#[test]
fn shared_portfolio_features_in_parallel_equal_one_thread_and_bar_by_bar() {
    use crate::StrategyConfig;
    use crate::sma_crossover::SmaCrossoverParams;
    use engine::{BrokerConfig, Engine, EngineSpec, FeatureSource, SizingConfig, SizingMethod};
    use market_data::synthetic::{SyntheticSpec, generate};
    use std::sync::Arc;

    // 64 instruments x 24 features: enough work per step for the pipeline to go parallel.
    let data = generate(&SyntheticSpec {
        instruments: 64,
        bars: 300,
        ..SyntheticSpec::default()
    })
    .unwrap();
    let user = every_kind();
    let strategy = StrategyConfig::SmaCrossover(SmaCrossoverParams { fast: 5, slow: 20 });
    let spec = EngineSpec {
        broker: BrokerConfig {
            initial_cash: 1e6,
            commission: 0.001,
            fractional: true,
            ..BrokerConfig::default()
        },
        sizing: SizingConfig {
            method: SizingMethod::FixedFraction,
            fraction: 1.0 / 64.0,
            ..SizingConfig::default()
        },
        ..EngineSpec::default()
    };
    let run_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            strategy
                .build(&user)
                .unwrap()
                .run(&spec, engine::Replay::Bars(&data))
                .unwrap()
        })
    };
    let (one, two) = (run_on(1), run_on(2));
    assert_eq!(one.curve, two.curve);
    assert_eq!(one.fills, two.fills);
    assert!(!one.fills.is_empty());

    // The same run driven one bar at a time, features updated bar by bar.
    let built = strategy.build(&user).unwrap();
    let runner: Box<dyn FeatureSource> =
        Box::new(PipelineRunner::new(Arc::clone(&built.pipeline), data.len()));
    let names = data.iter().map(|s| s.instrument.clone()).collect();
    let mut engine = Engine::new(spec.clone(), names, built.strategy, 300).with_features(runner);
    for t in 0..300 {
        for (i, series) in data.iter().enumerate() {
            engine
                .on_bar(market_data::InstrumentIdx(i as u32), &series.bars[t])
                .unwrap();
        }
        engine.end_step(data[0].bars[t].ts).unwrap();
    }
    let by_bar = engine.finish();
    assert_eq!(one.curve, by_bar.curve);
    assert_eq!(one.fills, by_bar.fills);
}
