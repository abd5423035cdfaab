//! `quant bench results`: a user's whole `quant backtest` of one-minute bars from a Parquet file,
//! with every default output, beside the event loop alone over the same bars in memory and the
//! loop over the file streamed as the command reads it (decoded beside the loop, its steps
//! dropped), timed in one run (interleaved): the first gap is what reading the file adds, the
//! second what the results, the summary and the report add.

use super::{median, peak_rss_kib};
use anyhow::{Context, Result, bail};
use engine::Replay;
use market_data::InstrumentId;
use market_data::columnar::{TimeRange, read_bar_file};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The job: SMA(10/20) crossover, all-in, 0.2% commission, as `backtests/sma_crossover.toml`.
fn config(data: &Path, out: &Path, report: bool) -> String {
    format!(
        "name = \"bench-results\"\nseed = 42\n[data]\nkind = \"parquet\"\npath = {data:?}\n\
         [strategy]\nname = \"sma_crossover\"\n[strategy.params]\nfast = 10\nslow = 20\n\
         [broker]\ninitial_cash = 10_000.0\ncommission = 0.002\n[sizing]\nmethod = \"all_in\"\n\
         [output]\ndir = {out:?}\nreport = {report}\n"
    )
}

/// Times `quant backtest` of `bars` one-minute bars (a Parquet file in `dir`, generated first if
/// missing) against the event loop alone, `runs` times each; prints medians, their ratio and
/// the command's peak RSS.
///
/// # Errors
/// When the data cannot be generated or read, or a run fails.
pub(crate) fn run(dir: &Path, bars: usize, report: bool, runs: usize) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the quant executable")?;
    let folder = dir.join(format!("bars-{bars}"));
    let data = folder.join("SYN000.parquet");
    if !data.exists() {
        println!("generating {bars} one-minute bars -> {}", data.display());
        let status = Command::new(&exe)
            .args(["data", "synth", "--instruments", "1", "--layout", "files"])
            .args(["--format", "parquet", "--bars", &bars.to_string(), "--out"])
            .arg(&folder)
            .status()
            .context("cannot run quant data synth")?;
        if !status.success() {
            bail!("quant data synth failed");
        }
        super::mark_layout(&folder)?;
    }
    super::warn_if_other_layout(&folder);
    let out = dir.join("results");
    let config_path = dir.join("bench-results.toml");
    std::fs::write(&config_path, config(&data, &out, report))
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let series = read_bar_file(&data, InstrumentId::new("SYN000"), TimeRange::ALL)?;
    // The loop runs the command's own strategy and rules, from the same config.
    let loaded = crate::config::LoadedConfig::load(&config_path)?;
    let spec = loaded.engine_spec();
    let (mut loop_s, mut command_s, mut rss_kib) = (Vec::new(), Vec::new(), Vec::new());
    let (mut streamed_s, mut cpu_s) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        let outcome = loaded.build_strategy()?.run(&spec, Replay::Bars(&series))?;
        loop_s.push(start.elapsed().as_secs_f64());
        drop(outcome);
        streamed_s.push(streamed_loop(&loaded)?.0);
        let timed = timed_command(&exe, &config_path, &out)?;
        command_s.push(timed.seconds);
        cpu_s.push(timed.cpu_seconds);
        rss_kib.push(timed.peak_kib as f64);
    }
    let (loop_s, command_s) = (median(&mut loop_s), median(&mut command_s));
    let (streamed_s, cpu_s) = (median(&mut streamed_s), median(&mut cpu_s));
    let rate = |s: f64| bars as f64 / s / 1e6;
    println!(
        "results: sma_crossover(10, 20) over {bars} one-minute bars, default outputs{}, \
         medians of {runs}",
        if report {
            " and the report"
        } else {
            ", report off"
        }
    );
    println!(
        "  event loop alone (bars in memory):  {loop_s:.3} s, {:.1} M bars/s",
        rate(loop_s)
    );
    println!(
        "  event loop over the streamed file:  {streamed_s:.3} s, {:.1} M bars/s, {:.2}x the loop's \
         time",
        rate(streamed_s),
        streamed_s / loop_s
    );
    println!(
        "  quant backtest (whole command):     {command_s:.3} s, {:.1} M bars/s, {:.2}x the loop's \
         time, peak RSS {:.0} MiB",
        rate(command_s),
        command_s / loop_s,
        median(&mut rss_kib) / 1024.0
    );
    print_cpu("  its CPU time (user + system):       ", cpu_s, command_s);
    println!(
        "  this process: peak RSS {:.0} MiB (the bars in memory for the loop)",
        peak_rss_kib() as f64 / 1024.0
    );
    std::fs::remove_dir_all(&out).ok();
    Ok(())
}

/// Runs `loaded`'s strategy over its data streamed as `quant backtest` opens it (decoding on
/// worker threads), handing its steps to a sink that drops them; returns the wall time and the
/// bars replayed.
///
/// # Errors
/// When the data does not stream or the run fails.
pub(crate) fn streamed_loop(loaded: &crate::config::LoadedConfig) -> Result<(f64, usize)> {
    let start = Instant::now();
    let Some(stream) = crate::data::open_stream(loaded)? else {
        bail!("the benchmark's data does not stream");
    };
    let replay = Replay::Merged {
        merger: &mut { stream.merger },
        instruments: stream.instruments,
        steps_hint: 0,
    };
    let outcome = (loaded.build_strategy()?).run_into(
        &loaded.engine_spec(),
        replay,
        Some(Box::new(DropSteps)),
    )?;
    let seconds = start.elapsed().as_secs_f64();
    Ok((seconds, outcome.bars_per_instrument.iter().sum()))
}

/// A sink that drops each chunk of steps, as a run that writes them elsewhere holds none.
#[derive(Debug)]
struct DropSteps;

impl engine::StepSink for DropSteps {
    fn steps(
        &mut self,
        chunk: engine::StepChunk,
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        drop(chunk);
        Ok(())
    }
}

/// Prints `label`, then the CPU time `cpu_s` of a command that took `wall_s` and how many of
/// this machine's cores it kept busy on average.
pub(crate) fn print_cpu(label: &str, cpu_s: f64, wall_s: f64) {
    println!(
        "{label}{cpu_s:.2} s: {:.2} of this machine's {} cores busy on average",
        cpu_s / wall_s,
        std::thread::available_parallelism().map_or(1, usize::from)
    );
}

/// What one `quant backtest` cost: its wall time, the CPU time of its threads, and its peak RSS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timed {
    pub(crate) seconds: f64,
    pub(crate) cpu_seconds: f64,
    pub(crate) peak_kib: u64,
}

/// Runs `quant backtest CONFIG` and returns its wall time, its CPU time (user and system, from
/// this process's tally of its waited-for children) and its peak RSS in KiB, read from `/proc`
/// while it runs (the high-water mark only grows, so the last reading is its peak).
pub(crate) fn timed_command(exe: &Path, config: &Path, out: &Path) -> Result<Timed> {
    let cpu_before = children_cpu_seconds();
    let start = Instant::now();
    let mut child = Command::new(exe)
        .arg("backtest")
        .arg(config)
        .args(["--force", "--out"])
        .arg(out.join("run"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("cannot run quant backtest")?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let high_water = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        });
        peak = peak.max(high_water.unwrap_or(0));
        std::thread::sleep(Duration::from_millis(2));
    };
    let seconds = start.elapsed().as_secs_f64();
    if !status.success() {
        bail!("quant backtest {} failed", config.display());
    }
    Ok(Timed {
        seconds,
        cpu_seconds: children_cpu_seconds() - cpu_before,
        peak_kib: peak,
    })
}

/// The user and system CPU time of this process's children that were waited for, from
/// `/proc/self/stat` (`cutime` and `cstime`, in Linux's fixed 1/100 s clock ticks); 0 where
/// it cannot be read.
fn children_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces: the
    // state is the 3rd field of the line, `cutime` and `cstime` its 16th and 17th.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let field = |n: usize| -> f64 {
        (after_name.split_whitespace().nth(n - 3))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0.0, |ticks| ticks as f64 / 100.0)
    };
    field(16) + field(17)
}
