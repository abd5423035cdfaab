//! `quant bench features`: the cost of a 20-feature pipeline per bar, the pipeline's own cost
//! per feature, and batch throughput of that pipeline on 1 thread and on all cores. Each
//! indicator's own cost per update is a micro-benchmark: `cargo bench -p features`.

use crate::bench::{median, thread_cpu_ns};
use anyhow::Result;
use features::indicators::{EmaSeed, RsiSmoothing};
use features::{FeatureConfig, FeatureKind, PipelineSpec, PipelineState, compute_batch};
use market_data::Bar;
use market_data::synthetic::{SyntheticSpec, generate, generate_one};
use std::time::Instant;

/// Twenty features of the kinds quants use most, some reading others.
fn twenty_features() -> Vec<FeatureConfig> {
    use FeatureKind::*;
    let f = FeatureConfig::of;
    let with_default_inputs = |name: &str, kind: FeatureKind| FeatureConfig {
        input: None,
        ..f(name, "", kind)
    };
    vec![
        f("sma10", "close", Sma { period: 10 }),
        f("sma50", "close", Sma { period: 50 }),
        f(
            "ema20",
            "close",
            Ema {
                period: 20,
                seed: EmaSeed::First,
            },
        ),
        f("wma20", "close", Wma { period: 20 }),
        f(
            "rsi14",
            "close",
            Rsi {
                period: 14,
                smoothing: RsiSmoothing::Ta,
            },
        ),
        f(
            "ema_rsi",
            "rsi14",
            Ema {
                period: 5,
                seed: EmaSeed::First,
            },
        ),
        with_default_inputs("atr14", Atr { period: 14 }),
        f("roc10", "close", Roc { period: 10 }),
        f(
            "ret",
            "close",
            Returns {
                period: 1,
                log: false,
            },
        ),
        f("vol20", "close", Volatility { period: 20 }),
        f("z20", "close", ZScore { period: 20 }),
        f("lo20", "low", Min { period: 20 }),
        f("hi20", "high", Max { period: 20 }),
        with_default_inputs("obv", Obv),
        f("lag_ret", "ret", Lag { period: 1 }),
        f("dsma", "sma10", Diff { period: 1 }),
        f("zs", "ret", Standardize { period: 50 }),
        f(
            "macd",
            "close",
            Macd {
                fast: 12,
                slow: 26,
                signal: 9,
            },
        ),
        f(
            "bb",
            "close",
            Bollinger {
                period: 20,
                width: 2.0,
            },
        ),
        FeatureConfig {
            inputs: Some(vec!["close".into(), "volume".into()]),
            input: None,
            ..f("corr", "", Correlation { period: 20 })
        },
    ]
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
            .map(|i| {
                let clip = FeatureKind::Clip {
                    min: -1.0,
                    max: f64::INFINITY,
                };
                FeatureConfig::of(&format!("clip{i}"), "close", clip)
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
