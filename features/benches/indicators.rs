//! The cost of each indicator per streaming update, alone (its kernel) and as a one-feature
//! pipeline (with the pipeline's input reads, readiness checks and dispatch). `cargo bench -p
//! features`; end-to-end pipeline figures are `quant bench features`.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use features::indicators::Indicator;
use features::{FeatureConfig, KINDS, PipelineSpec, PipelineState, build_indicator};
use market_data::synthetic::{SyntheticSpec, generate_one};
use std::hint::black_box;

/// Bars per measured iteration.
const BARS: usize = 10_000;

/// A feature of `kind` with the parameters it needs.
fn config_of(kind: &str, required: &[&str]) -> FeatureConfig {
    let mut config = FeatureConfig {
        name: kind.into(),
        kind: kind.into(),
        ..FeatureConfig::default()
    };
    if required.contains(&"period") || kind == "standardize" {
        config.period = Some(20);
    }
    if kind == "correlation" {
        config.inputs = Some(vec!["close".into(), "volume".into()]);
    }
    if kind == "clip" {
        config.min = Some(-1.0);
    }
    config
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
    for kind in KINDS {
        let config = config_of(kind.name, kind.required);
        let mut kernel = build_indicator(&config).unwrap();
        let width = kernel.inputs();
        let mut out = vec![0.0; kernel.outputs().len()];
        group.bench_function(BenchmarkId::new("kernel", kind.name), |b| {
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
        group.bench_function(BenchmarkId::new("pipeline", kind.name), |b| {
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
