//! `quant bench data`: how fast Parquet and Arrow IPC files decode into bars, on one thread and
//! across files in parallel; `quant bench catalog`: a streamed `sma_crossover` backtest over a
//! large Parquet catalog, with its bars/s and peak RSS.

use crate::bench::results::{print_cpu, streamed_loop, timed_command};
use crate::bench::{median, peak_rss_kib};
use anyhow::{Context, Result, bail};
use market_data::catalog::scan;
use market_data::columnar::{DEFAULT_BATCH_ROWS, RecordKind, RecordReader, TimeRange, write_bars};
use market_data::synthetic::{SyntheticSpec, generate_one};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

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

/// Runs `sma_crossover(10, 30)` over the catalog in `dir` (generated first by a child `quant
/// data synth` when missing), `runs` times, interleaved: the event loop over the streamed
/// catalog in this process (decoding and merging beside the loop, steps handed to a sink that
/// drops them, as the command writes them out), then the whole `quant backtest` of it with its
/// default outputs (report off). Prints medians of bars/s and each one's peak RSS.
pub(crate) fn run_catalog(dir: &Path, instruments: usize, bars: usize, runs: usize) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the quant executable")?;
    if !dir.join("bars").exists() {
        println!(
            "generating the catalog: {instruments} instruments x {bars} one-minute bars -> {}",
            dir.display()
        );
        let status = std::process::Command::new(&exe)
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
        super::mark_layout(dir)?;
    }
    super::warn_if_other_layout(dir);
    let out = dir.join("results");
    let config_path = dir.join("bench-catalog.toml");
    let config = format!(
        "name = \"bench-catalog\"\nseed = 42\n[data]\nkind = \"catalog\"\npath = {dir:?}\n\
         [strategy]\nname = \"sma_crossover\"\n[strategy.params]\nfast = 10\nslow = 30\n\
         [output]\ndir = {out:?}\nreport = false\n"
    );
    std::fs::write(&config_path, config)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let loaded = crate::config::LoadedConfig::load(&config_path)?;
    let parts = scan(dir, RecordKind::Bars, None, TimeRange::ALL)?;
    let files: usize = parts.iter().map(|p| p.files.len()).sum();
    // The catalog's own count: one generated earlier may differ from --instruments.
    let instruments = parts.len();
    let (mut loop_s, mut command_s, mut rss_kib) = (Vec::new(), Vec::new(), Vec::new());
    let mut cpu_s = Vec::new();
    let mut total = 0;
    for _ in 0..runs {
        let (seconds, replayed) = streamed_loop(&loaded)?;
        loop_s.push(seconds);
        total = replayed;
        let timed = timed_command(&exe, &config_path, &out)?;
        command_s.push(timed.seconds);
        cpu_s.push(timed.cpu_seconds);
        rss_kib.push(timed.peak_kib as f64);
    }
    std::fs::remove_dir_all(&out).ok();
    let (loop_s, command_s) = (median(&mut loop_s), median(&mut command_s));
    let cpu_s = median(&mut cpu_s);
    let rate = |s: f64| total as f64 / s / 1e6;
    println!(
        "catalog: sma_crossover(10, 30) over {instruments} instruments ({files} part files, \
         {total} bars), medians of {runs}"
    );
    println!(
        "  event loop over the streamed catalog: {loop_s:.2} s, {:.2} M bars/s, this process's \
         peak RSS {:.0} MiB",
        rate(loop_s),
        peak_rss_kib() as f64 / 1024.0
    );
    println!(
        "  quant backtest (whole command):       {command_s:.2} s, {:.2} M bars/s, {:.2}x the \
         loop's time, peak RSS {:.0} MiB",
        rate(command_s),
        command_s / loop_s,
        median(&mut rss_kib) / 1024.0
    );
    print_cpu("  its CPU time (user + system):         ", cpu_s, command_s);
    Ok(())
}
