//! The cost of each indicator per streaming update, alone (its kernel) and as a one-feature
//! pipeline (with the pipeline's input reads, readiness checks and dispatch). `cargo bench -p
//! features`; end-to-end pipeline figures are `quant bench features`.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use features::indicators::Indicator;
use features::{FeatureConfig, FeatureKind, PipelineSpec, PipelineState};
use market_data::synthetic::{SyntheticSpec, generate_one};
use std::hint::black_box;

/// Bars per measured iteration.
const BARS: usize = 10_000;

/// One feature of every kind, with typical parameters.
fn every_kind() -> Vec<FeatureConfig> {
    use FeatureKind::*;
    let kinds = [
        Sma { period: 20 },
        Ema {
            period: 20,
            seed: Default::default(),
        },
        Wma { period: 20 },
        Rsi {
            period: 14,
            smoothing: Default::default(),
        },
        Macd {
            fast: 12,
            slow: 26,
            signal: 9,
        },
        Bollinger {
            period: 20,
            width: 2.0,
        },
        Atr { period: 14 },
        Stochastic {
            period: 14,
            signal: 3,
        },
        Roc { period: 20 },
        Returns {
            period: 1,
            log: true,
        },
        Volatility { period: 20 },
        ZScore { period: 20 },
        Min { period: 20 },
        Max { period: 20 },
        Vwap {
            rolling: None,
            zone: market_data::Zone::UTC,
        },
        Obv,
        Correlation { period: 20 },
        Lag { period: 20 },
        Diff { period: 1 },
        Clip {
            min: -1.0,
            max: f64::INFINITY,
        },
        Standardize { period: 20 },
    ];
    kinds
        .into_iter()
        .map(|kind| {
            let mut config = FeatureConfig::of(kind.name(), "close", kind);
            if kind.default_inputs() != ["close"] {
                config.input = None;
            }
            if let Correlation { .. } = kind {
                config.inputs = Some(vec!["close".into(), "volume".into()]);
            }
            config
        })
        .collect()
}

fn indicators(c: &mut Criterion) {
    let bars = generate_one(
        &SyntheticSpec {
            bars: BARS,
            ..SyntheticSpec::default()
        },
        0,
    )
    .bars;
    let mut group = c.benchmark_group("update");
    group.throughput(Throughput::Elements(BARS as u64));
    for config in every_kind() {
        let mut kernel = FeatureKind::parse(&config).unwrap().build().unwrap();
        let width = kernel.inputs();
        let mut out = vec![0.0; kernel.outputs().len()];
        group.bench_function(BenchmarkId::new("kernel", &config.kind), |b| {
            b.iter(|| {
                kernel.reset();
                for bar in &bars {
                    let input = match width {
                        1 => [bar.close, 0.0, 0.0],
                        2 => [bar.close, bar.volume, 0.0],
                        _ => [bar.high, bar.low, bar.close],
                    };
                    kernel.update(bar.ts, &input[..width], &mut out);
                }
                black_box(&out);
            });
        });
        let spec = PipelineSpec::new(std::slice::from_ref(&config)).unwrap();
        group.bench_function(BenchmarkId::new("pipeline", &config.kind), |b| {
            b.iter(|| {
                let mut state = PipelineState::new(&spec);
                for bar in &bars {
                    state.update(&spec, bar).unwrap();
                }
                black_box(&state);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, indicators);
criterion_main!(benches);
