//! `quant bench features`: the cost of a 20-feature pipeline per bar, the pipeline's own cost
//! per feature, and batch throughput of that pipeline on 1 thread and on all cores. Each
//! indicator's own cost per update is a micro-benchmark: `cargo bench -p features`.

use crate::bench::{median, thread_cpu_ns};
use anyhow::Result;
use features::{FeatureConfig, PipelineSpec, PipelineState, compute_batch};
use market_data::Bar;
use market_data::synthetic::{SyntheticSpec, generate, generate_one};
use std::time::Instant;

/// Twenty features of the kinds quants use most, some reading others.
fn twenty_features() -> Vec<FeatureConfig> {
    let f = |name: &str, kind: &str, input: &str, period: usize| {
        FeatureConfig::new(name, kind, input, period)
    };
    let mut v = vec![
        f("sma10", "sma", "close", 10),
        f("sma50", "sma", "close", 50),
        f("ema20", "ema", "close", 20),
        f("wma20", "wma", "close", 20),
        f("rsi14", "rsi", "close", 14),
        f("ema_rsi", "ema", "rsi14", 5),
        f("atr14", "atr", "close", 14),
        f("roc10", "roc", "close", 10),
        f("ret", "returns", "close", 1),
        f("vol20", "volatility", "close", 20),
        f("z20", "zscore", "close", 20),
        f("lo20", "min", "low", 20),
        f("hi20", "max", "high", 20),
        f("obv", "obv", "close", 1),
        f("lag_ret", "lag", "ret", 1),
        f("dsma", "diff", "sma10", 1),
        f("zs", "standardize", "ret", 50),
    ];
    v[6].input = None;
    v[6].period = Some(14);
    v[13].input = None;
    v[13].period = None;
    v.push(FeatureConfig {
        fast: Some(12),
        slow: Some(26),
        signal: Some(9),
        period: None,
        ..f("macd", "macd", "close", 0)
    });
    v.push(FeatureConfig {
        width: Some(2.0),
        ..f("bb", "bollinger", "close", 20)
    });
    v.push(FeatureConfig {
        inputs: Some(vec!["close".into(), "volume".into()]),
        input: None,
        ..f("corr", "correlation", "", 20)
    });
    v
}

/// Runs the feature benchmarks.
pub(crate) fn run(runs: usize) -> Result<()> {
    let runs = runs.max(1);
    let bars = generate_one(
        &SyntheticSpec {
            bars: 1_000_000,
            ..SyntheticSpec::default()
        },
        0,
    )
    .bars;

    // The pipeline's own cost per feature (reading inputs, the readiness check, dispatch):
    // twenty clips, the cheapest kind, against one.
    let clips = |n: usize| -> Vec<FeatureConfig> {
        (0..n)
            .map(|i| FeatureConfig {
                min: Some(-1.0),
                period: None,
                ..FeatureConfig::new(&format!("clip{i}"), "clip", "close", 0)
            })
            .collect()
    };
    let one = stream_per_bar(&PipelineSpec::new(&clips(1))?, &bars, runs)?;
    let twenty = stream_per_bar(&PipelineSpec::new(&clips(20))?, &bars, runs)?;
    println!(
        "pipeline overhead per feature (20 clips vs 1, on the CPU): {:.1} ns",
        (twenty.1 - one.1) / 19.0
    );

    let spec = PipelineSpec::new(&twenty_features())?;
    let (wall, cpu) = stream_per_bar(&spec, &bars, runs)?;
    println!(
        "20-feature pipeline ({} columns), streaming: median {wall:.1} ns per bar (wall), {cpu:.1} ns on the CPU",
        spec.columns().len(),
    );

    let data = generate(&SyntheticSpec {
        instruments: 100,
        bars: 100_000,
        ..SyntheticSpec::default()
    })?;
    let rows = 100.0 * 100_000.0;
    let mut rates = Vec::new();
    for threads in [
        1,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    ] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        let mut rate = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let frames = pool.install(|| compute_batch(&spec, &data))?;
            rate.push(rows / start.elapsed().as_secs_f64());
            drop(frames);
        }
        let m = median(&mut rate);
        println!(
            "batch, 100 instruments x 100,000 bars, {threads} thread(s): median {:.2} M rows/s",
            m / 1e6
        );
        rates.push(m);
    }
    if let [one, all] = rates[..] {
        println!("batch speed-up, all cores vs 1 thread: {:.2}x", all / one);
    }
    Ok(())
}

/// Streams `bars` through a fresh pipeline `runs` times; returns the median ns per bar of wall
/// time and of time on the CPU (wall time when the platform does not tell).
fn stream_per_bar(spec: &PipelineSpec, bars: &[Bar], runs: usize) -> Result<(f64, f64)> {
    let (mut wall, mut on_cpu) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        let mut state = PipelineState::new(spec);
        let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
        for bar in bars {
            state.update(spec, bar)?;
        }
        let elapsed = start.elapsed().as_nanos() as f64;
        wall.push(elapsed / bars.len() as f64);
        let cpu = match (cpu_start, thread_cpu_ns()) {
            (Some(from), Some(to)) => to.saturating_sub(from) as f64,
            _ => elapsed,
        };
        on_cpu.push(cpu / bars.len() as f64);
    }
    Ok((median(&mut wall), median(&mut on_cpu)))
}
