//! `quant bench parallel`: how sleeves and sweeps scale with threads. Times a many-instrument
//! sleeves backtest and a sweep of independent jobs on rayon pools of 1 thread up to every core,
//! and reports medians, the speed-up over 1 thread, jobs per second and the per-job overhead
//! beyond the backtests themselves.

use crate::bench::median;
use crate::config::LoadedConfig;
use crate::sweep::Plan;
use crate::sweep::journal::{Header, Journal};
use anyhow::{Context, Result};
use engine::{EngineSpec, Replay};
use market_data::synthetic::{SyntheticSpec, generate};
use std::time::Instant;
use strategies::StrategyConfig;
use strategies::sma_crossover::SmaCrossoverParams;

/// Options of `quant bench parallel`.
#[derive(Debug, clap::Args)]
pub(crate) struct ParallelArgs {
    /// Instruments of the sleeves backtest.
    #[arg(long, default_value_t = 64)]
    instruments: usize,
    /// One-minute bars per instrument of the sleeves backtest.
    #[arg(long, default_value_t = 100_000)]
    bars: usize,
    /// Jobs of the sweep (a random sample of a 28 x 100 grid of SMA lengths).
    #[arg(long, default_value_t = 200)]
    jobs: usize,
    /// One-minute bars of the sweep's one instrument.
    #[arg(long, default_value_t = 50_000)]
    sweep_bars: usize,
}

/// Runs the scaling benchmarks and prints their figures.
///
/// # Errors
/// When a thread pool cannot start or a run fails.
pub(crate) fn run(args: &ParallelArgs, runs: usize) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut counts: Vec<usize> = std::iter::successors(Some(1usize), |n| Some(n * 2))
        .take_while(|n| *n < cores)
        .collect();
    counts.push(cores);
    println!("{cores} cores; thread counts {counts:?}; median of {runs} runs each");
    sleeves(args, &counts, runs)?;
    sweep(args, &counts, runs)
}

fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start a thread pool")
}

fn sleeves(args: &ParallelArgs, counts: &[usize], runs: usize) -> Result<()> {
    let spec = SyntheticSpec {
        instruments: args.instruments,
        bars: args.bars,
        interval_ns: 60_000_000_000,
        ..SyntheticSpec::default()
    };
    let data = generate(&spec)?;
    let strategy = StrategyConfig::SmaCrossover(SmaCrossoverParams { fast: 10, slow: 30 });
    let engine_spec = EngineSpec::default();
    let weights = vec![1.0 / data.len() as f64; data.len()];
    let bars = args.instruments * args.bars;
    println!(
        "sleeves: sma_crossover(10, 30) on {} instruments x {} one-minute bars ({bars} bars)",
        args.instruments, args.bars
    );
    let mut base = None;
    for &threads in counts {
        let pool = pool(threads)?;
        let mut walls = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let outcome = pool.install(|| {
                engine::run_sleeves(
                    &engine_spec,
                    &data,
                    &weights,
                    Default::default(),
                    |spec, one| {
                        let one = std::slice::from_ref(one);
                        Ok::<_, anyhow::Error>(strategy.build(&[])?.run(spec, Replay::Bars(one))?)
                    },
                )
            })?;
            walls.push(start.elapsed().as_secs_f64());
            std::hint::black_box(outcome.combined.final_equity());
        }
        let wall = median(&mut walls);
        let base = *base.get_or_insert(wall);
        println!(
            "  {threads:>3} threads: {:>8.1} ms, {:>6.1} M bars/s, speed-up {:.2}x",
            wall * 1e3,
            bars as f64 / wall / 1e6,
            base / wall
        );
    }
    Ok(())
}

fn sweep(args: &ParallelArgs, counts: &[usize], runs: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("quant-bench-parallel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("sweep.toml");
    let text = format!(
        "name = \"bench-sweep\"\nseed = 1\n\n[data]\nkind = \"synthetic\"\ninstruments = 1\n\
         bars = {}\ninterval = \"1m\"\n\n[strategy]\nname = \"sma_crossover\"\n\
         [strategy.params]\nfast = 10\nslow = 30\n\n[broker]\ncommission = 0.0005\n\n\
         [output]\nreport = false\n\n[sweep]\n\"strategy.params.fast\" = {{ from = 2, to = 29 }}\n\
         \"strategy.params.slow\" = {{ from = 30, to = 129 }}\nsamples = {}\n",
        args.sweep_bars, args.jobs
    );
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    let loaded = LoadedConfig::load(&path)?;
    let plan = Plan::new(&loaded)?;
    let data = crate::data::load(&loaded)?;
    let jobs: Vec<usize> = (0..plan.grid.len()).collect();
    println!(
        "sweep: {} jobs of sma_crossover on {} one-minute bars, each journaled",
        jobs.len(),
        args.sweep_bars
    );
    let hidden = indicatif::ProgressBar::hidden();
    let header = Header::new("bench".into(), jobs.len(), plan.spec.keys());
    let mut base = None;
    for &threads in counts {
        let pool = pool(threads)?;
        let (mut walls, mut overheads) = (Vec::new(), Vec::new());
        let (mut backtest, mut metrics) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let journal_path = dir.join("jobs.jsonl");
            let _ = std::fs::remove_file(&journal_path);
            let journal = Journal::open(&journal_path, &header)?;
            let start = Instant::now();
            let done =
                pool.install(|| plan.run_jobs(&data.series, &jobs, Some(&journal), &hidden))?;
            let wall = start.elapsed().as_secs_f64();
            let backtests: f64 = done.iter().map(|d| d.backtest_seconds).sum();
            let summaries: f64 = done.iter().map(|d| d.metrics_seconds).sum();
            walls.push(wall);
            // Thread-seconds spent neither in a backtest nor in its metrics, per job: building
            // the job's config, journaling, scheduling, idle threads.
            let n = jobs.len() as f64;
            overheads.push((wall * threads as f64 - backtests - summaries) / n);
            metrics.push(summaries / n);
            backtest.push(backtests / n);
        }
        let wall = median(&mut walls);
        let base = *base.get_or_insert(wall);
        println!(
            "  {threads:>3} threads: {:>8.1} ms, {:>7.1} jobs/s, speed-up {:.2}x; per job: \
             backtest {:.3} ms, metrics {:.3} ms, sweep overhead {:.3} ms",
            wall * 1e3,
            jobs.len() as f64 / wall,
            base / wall,
            median(&mut backtest) * 1e3,
            median(&mut metrics) * 1e3,
            median(&mut overheads) * 1e3
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
