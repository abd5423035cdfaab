//! `quant bench data`: how fast Parquet and Arrow IPC files decode into bars, on one thread and
//! across files in parallel; `quant bench catalog`: a streamed `sma_crossover` backtest over a
//! large Parquet catalog, with its bars/s and peak RSS.

use crate::bench::{median, peak_rss_kib};
use anyhow::{Context, Result, bail};
use engine::{EngineSpec, Replay};
use market_data::catalog::{PartsReader, scan};
use market_data::columnar::{DEFAULT_BATCH_ROWS, RecordKind, RecordReader, TimeRange, write_bars};
use market_data::merge::{BarSource, StepMerger};
use market_data::synthetic::{SyntheticSpec, generate_one};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;
use strategies::StrategyConfig;
use strategies::sma_crossover::SmaCrossoverParams;

/// Files decoded by the throughput benchmark, and rows in each.
const FILES: usize = 8;
const ROWS_PER_FILE: usize = 2_500_000;

/// Decodes every bar of `file` in batches, returning the rows and a checksum of closes (so the
/// work cannot be optimised away).
fn decode(file: &Path) -> Result<(usize, f64)> {
    let mut reader =
        RecordReader::open(file, RecordKind::Bars, TimeRange::ALL, DEFAULT_BATCH_ROWS)?;
    let (mut bars, mut rows, mut sum) = (Vec::with_capacity(DEFAULT_BATCH_ROWS), 0, 0.0);
    while reader.next_bars(&mut bars)? {
        rows += bars.len();
        sum += bars.iter().map(|b| b.close).sum::<f64>();
        bars.clear();
    }
    Ok((rows, sum))
}

/// Returns the median rows/s of decoding `files`, sequentially or in parallel.
fn decode_rate(files: &[PathBuf], runs: usize, parallel: bool) -> Result<f64> {
    let mut rates = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let rows: usize = if parallel {
            files
                .par_iter()
                .map(|f| decode(f).map(|(rows, _)| rows))
                .collect::<Result<Vec<_>>>()?
                .iter()
                .sum()
        } else {
            files
                .iter()
                .map(|f| decode(f).map(|(rows, _)| rows))
                .collect::<Result<Vec<_>>>()?
                .iter()
                .sum()
        };
        rates.push(rows as f64 / start.elapsed().as_secs_f64());
    }
    Ok(median(&mut rates))
}

/// Runs the decode benchmarks.
pub(crate) fn run_decode(runs: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("quant-bench-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let spec = SyntheticSpec {
        bars: ROWS_PER_FILE,
        ..SyntheticSpec::default()
    };
    let mut parquet = Vec::new();
    let mut arrow = Vec::new();
    for k in 0..FILES {
        let bars = generate_one(&spec, k).bars;
        let (p, a) = (
            dir.join(format!("{k}.parquet")),
            dir.join(format!("{k}.arrow")),
        );
        write_bars(&p, &bars, None)?;
        write_bars(&a, &bars, None)?;
        parquet.push(p);
        arrow.push(a);
    }
    let size = |files: &[PathBuf]| -> f64 {
        files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len() as f64)
            .sum::<f64>()
            / 1048576.0
    };
    let threads = rayon::current_num_threads();
    println!(
        "decode into bars: {FILES} files x {ROWS_PER_FILE} OHLCV rows, {DEFAULT_BATCH_ROWS}-row batches, \
         median of {runs}"
    );
    for (name, files) in [("parquet (zstd)", &parquet), ("arrow ipc", &arrow)] {
        let one = decode_rate(files, runs, false)?;
        let all = decode_rate(files, runs, true)?;
        println!(
            "  {name:<15} {:>6.0} MiB  1 thread {:>6.1} M rows/s   {threads} threads {:>6.1} M rows/s ({:.2}x)",
            size(files),
            one / 1e6,
            all / 1e6,
            all / one
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Runs `sma_crossover` over the catalog in `dir` (generated first by a child `quant data synth`
/// when missing), streamed, and prints bars/s and this process's peak RSS.
pub(crate) fn run_catalog(dir: &Path, instruments: usize, bars: usize) -> Result<()> {
    if !dir.join("bars").exists() {
        println!(
            "generating the catalog: {instruments} instruments x {bars} one-minute bars -> {}",
            dir.display()
        );
        let exe = std::env::current_exe().context("cannot find the quant executable")?;
        let status = std::process::Command::new(exe)
            .args(["data", "synth", "--out"])
            .arg(dir)
            .args([
                "--instruments",
                &instruments.to_string(),
                "--bars",
                &bars.to_string(),
            ])
            .status()
            .context("cannot run quant data synth")?;
        if !status.success() {
            bail!("quant data synth failed");
        }
    }
    let parts = scan(dir, RecordKind::Bars, None, TimeRange::ALL)?;
    let names = parts
        .iter()
        .map(|p| p.instrument.clone())
        .collect::<Vec<_>>();
    let files: usize = parts.iter().map(|p| p.files.len()).sum();
    let sources: Vec<Box<dyn BarSource>> = parts
        .into_iter()
        .map(|p| -> Box<dyn BarSource> {
            Box::new(PartsReader::new(
                p.files,
                TimeRange::ALL,
                DEFAULT_BATCH_ROWS,
            ))
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut merger = StepMerger::new(sources, threads, DEFAULT_BATCH_ROWS);
    let strategy = StrategyConfig::SmaCrossover(SmaCrossoverParams { fast: 10, slow: 30 });
    let spec = EngineSpec::default();
    let rss_before = peak_rss_kib();
    let start = Instant::now();
    let replay = Replay::Merged {
        merger: &mut merger,
        instruments: names.clone(),
        steps_hint: 0,
    };
    let outcome = strategy.build(&[])?.run(&spec, replay)?;
    let seconds = start.elapsed().as_secs_f64();
    let total: usize = outcome.bars_per_instrument.iter().sum();
    println!(
        "catalog backtest: sma_crossover(10, 30), {} instruments, {files} part files, {total} bars, {} fills",
        names.len(),
        outcome.fills.len()
    );
    println!(
        "  {seconds:.1} s, {:.2} M bars/s; peak RSS {:.0} MiB ({:.0} MiB before the run), {threads} decode threads",
        total as f64 / seconds / 1e6,
        peak_rss_kib() as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    Ok(())
}
