//! The `quant` command line as a library: argument parsing, process set-up (allocator, threads,
//! signals) and dispatch to the `runs` library, which holds what each command does.
//!
//! The `quant` binary is `cli::main()`. A user crate with its own Rust strategies calls
//! [`main_with`] with their registrations and gets every command (`backtest`, `sweep`, `paper`,
//! `live`, `features`, `train`, `report`, ...) with its strategies selectable by name.
//!
//! Owns: the command-line surface and the process set-up.
//! Never depends on: anything a command does (that is `runs`'); no logic of its own.
//!
//! Unsafe code: two calls at the start of `main`, before any thread exists (glibc's `mallopt`
//! and setting `RAYON_NUM_THREADS`), each with its safety argument.

#![deny(unsafe_code)]

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "quant", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Worker threads for sleeves and sweeps (default: RAYON_NUM_THREADS, else every core).
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// More detail in the log of paper and live sessions: -v debug, -vv trace.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Only warnings and errors in the log.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// How log lines are written on stderr: text, or json (one object a line, for a log
    /// collector). RUST_LOG, when set, chooses levels per module over -v and -q.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// `2026-12-06T22:30:03.123456Z  INFO feed: connected to ...`
    Text,
    /// `{"timestamp":"...","level":"INFO","message":"feed: connected to ...","url":"..."}`
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the backtest a TOML config describes and writes results/<name>/<run-id>/.
    ///
    /// Writes summary.json, trades/fills/orders/equity as CSV and Parquet, and report.html into
    /// a new folder per run (results/<name>/latest points at the newest), then prints the
    /// headline figures. Relative paths in the config are read from the current folder (or else
    /// beside the config).
    Backtest {
        /// The config file, e.g. backtests/sma_crossover.toml.
        config: PathBuf,
        #[command(flatten)]
        set: runs::overrides::SetArgs,
        #[command(flatten)]
        out: runs::run_dir::OutArgs,
    },
    /// Computes the config's feature pipeline over all its data and writes it.
    ///
    /// The pipeline is the config's [[features]] plus those its strategy reads (a config without
    /// [strategy] computes its [[features]] alone). The file has a
    /// `timestamp` and an `instrument` column, then one column per feature output (`<name>`, or
    /// `<name>_<output>` for several), empty/null where a feature is not ready. Instruments are
    /// computed in parallel; the values equal those the strategy sees bar by bar.
    Features {
        /// The config file.
        config: PathBuf,
        #[command(flatten)]
        set: runs::overrides::SetArgs,
        /// Output file: CSV for `.csv`, Parquet otherwise (default <output.dir>/<name>/features.parquet).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measures end-to-end figures on synthetic data (event loop, features, models,
    /// explanations, data, catalog, report, paper, parallel scaling); prints medians.
    Bench(runs::bench::BenchArgs),
    /// Generates, converts, inspects and resamples market data files (CSV, Parquet, Arrow).
    Data(runs::data_tools::DataArgs),
    /// Trades the config's strategy on a live websocket feed (`[live]`) with simulated fills.
    ///
    /// Every market event, order and fill is journaled (`[live] journal`); a restart resumes
    /// from the journal with the same positions, cash and orders. Stops on Ctrl-C, after
    /// --duration seconds or --events events, and writes results like `quant backtest`.
    Paper(runs::paper::PaperArgs),
    /// Trades the config's strategy with real orders at a venue (`[live] mode = "live"`).
    ///
    /// Orders go to `[live.venue]`'s websocket API, signed with the key and secret read from
    /// the environment variables it names. Positions and open orders are reconciled with the
    /// venue before trading starts and after every reconnect. `[live.safety]` sets the limits;
    /// SIGINT, SIGTERM or the kill file cancel every order and flatten before stopping.
    Live(runs::live::LiveArgs),
    /// Renders a run's HTML report again from its report.json, compares runs side by side, or
    /// renders a model folder's model card.
    ///
    /// `quant report results/a` rewrites results/a/report.html and prints the headline figures;
    /// `quant report results/a --compare results/b results/c` writes results/a/comparison.html:
    /// metrics in columns, equity and drawdowns overlaid; `quant report models/m` writes
    /// models/m/model_card.html.
    Report(runs::report_pages::ReportArgs),
    /// Runs every parameter set of the config's [sweep] table across cores and ranks them.
    ///
    /// Writes <out>/sweep.csv and sweep.parquet (one row per parameter set with every summary
    /// metric, best first by rank_by) and the top runs' full results in <out>/top/. Finished
    /// jobs are journaled, so re-running an interrupted sweep resumes it. `--shard K/N` (or
    /// `--shards N` under a batch scheduler) runs one slice; `quant sweep merge DIR` combines
    /// the slices.
    Sweep(runs::sweep::SweepArgs),
    /// Trains the config's [model] with walk-forward evaluation, then saves the final model.
    ///
    /// Prints per fold and overall: accuracy, macro-F1, log loss, the majority-class and
    /// last-return-sign baselines, and (trend models) the out-of-sample return of `ml_trend`
    /// over the test folds, then the permutation importance ranking and calibration. Writes
    /// weights.safetensors, model.json (pipeline, standardisation, scores), explain.json
    /// (importance, calibration and drift per fold, the training drift profile) and
    /// oos_equity.csv into the model folder.
    Train(runs::train::TrainArgs),
    /// Lists every strategy a config can name (built-in and registered) with its parameters:
    /// type, default and what each does.
    Strategies,
    /// Writes a commented starter config, backtests/<name>.toml, for a strategy.
    Init(runs::starter::InitArgs),
    /// Serves market data files as websocket feeds on 127.0.0.1, for paper trading offline.
    Feed(runs::feed_server::FeedArgs),
    /// Opens an HTML report in headless Chromium and checks it: no console errors, exceptions or
    /// network requests, and every chart drew something. Prints the load time; fails on any
    /// problem. Needs Debian's chromium package.
    #[command(hide = true)]
    ReportCheck(runs::browser::ReportCheckArgs),
}

/// Runs the command line with the built-in strategies.
pub fn main() -> ExitCode {
    main_with(Vec::new())
}

/// Runs the command line with `strategies` registered beside the built-ins, so configs can name
/// them. A name taken twice (or a built-in's) stops the program before anything runs.
pub fn main_with(strategies: Vec<strategies::custom::Registration>) -> ExitCode {
    keep_freed_memory();
    for registration in strategies {
        if let Err(error) = strategies::custom::register(registration) {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    }
    let cli = Cli::parse();
    start_logs(&cli);
    // Commands that print and hold no socket end quietly when their reader goes away
    // (`quant report DIR | head`), as any Unix filter does.
    if !matches!(
        cli.command,
        Command::Paper(_)
            | Command::Live(_)
            | Command::Feed(_)
            | Command::Bench(_)
            | Command::ReportCheck(_)
    ) {
        end_quietly_on_closed_pipe();
    }
    cap_malloc_arenas();
    // Before any other thread exists: candle reads its thread count from the environment.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        set_rayon_threads_env(cores);
    }
    // Started here, named: a pool started by its first user would take that thread's name (a
    // run's results writer), which profilers and `top` then show for every worker.
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("quant-worker-{i}"))
        .num_threads(cli.threads.map_or(0, usize::from));
    if let Err(error) = pool.build_global() {
        match cli.threads {
            Some(threads) => eprintln!("error: cannot start {threads} threads: {error}"),
            None => eprintln!("error: cannot start the worker threads: {error}"),
        }
        return ExitCode::FAILURE;
    }
    // Commands with something to save stop at a safe point; the others end at once. Sessions and
    // the feed server run until stopped, so a signal is their normal end (exit 0 once their
    // results are written); a sweep stopped early is unfinished (exit 128 + the signal).
    let unfinished_if_stopped = matches!(cli.command, Command::Sweep(_));
    let on_repeat = match &cli.command {
        Command::Live(_) => Some(runs::stop::OnRepeat::Ignore),
        Command::Paper(_) | Command::Sweep(_) | Command::Feed(_) => {
            Some(runs::stop::OnRepeat::Exit)
        }
        _ => None,
    };
    if let Some(on_repeat) = on_repeat
        && let Err(error) = runs::stop::install(on_repeat)
    {
        eprintln!("error: cannot watch for SIGINT, SIGTERM and SIGHUP: {error}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Backtest { config, set, out } => runs::backtest::run(&config, &set, &out),
        Command::Features { config, set, out } => runs::features_file::run(&config, &set, out),
        Command::Bench(args) => runs::bench::run(&args),
        Command::Data(args) => runs::data_tools::run(&args),
        Command::Paper(args) => runs::paper::run(&args),
        Command::Live(args) => runs::live::run(&args),
        Command::Report(args) => runs::report_pages::run(&args),
        Command::Sweep(args) => runs::sweep::run(&args),
        Command::Train(args) => runs::train::run(&args),
        Command::Feed(args) => runs::feed_server::run(&args),
        Command::Strategies => {
            runs::starter::list();
            Ok(())
        }
        Command::Init(args) => runs::starter::init(&args),
        Command::ReportCheck(args) => runs::browser::run(&args),
    };
    if let Some(signal) = runs::stop::requested().filter(|_| unfinished_if_stopped) {
        if let Err(error) = &result {
            eprintln!("error: {error:#}");
        }
        eprintln!("stopped by {}", signal.name());
        return ExitCode::from(signal.exit_status());
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sends the log (`tracing` events: the sessions' notices and status) to stderr, with
/// timestamps and levels, at the level -v/-q ask for (info by default), RUST_LOG's directives
/// over it. Colours only on a terminal, so a file or a log collector gets plain text.
fn start_logs(cli: &Cli) {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => LevelFilter::WARN,
        (false, 0) => LevelFilter::INFO,
        (false, 1) => LevelFilter::DEBUG,
        (false, _) => LevelFilter::TRACE,
    };
    // A malformed RUST_LOG directive is skipped (with a note on stderr), never fatal.
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    // Another subscriber already set (a user's binary that made its own) is kept.
    let _ = match cli.log_format {
        LogFormat::Text => logs.try_init(),
        // The event's fields beside timestamp and level, not nested under "fields".
        LogFormat::Json => logs.json().flatten_event(true).try_init(),
    };
}

/// Asks glibc to keep freed memory for reuse instead of returning it to the kernel, so a sweep's
/// or sleeves' next backtest finds its result buffers already faulted in (the settings the
/// program used to re-execute itself with, as `GLIBC_TUNABLES`). Measured against jemalloc in
/// the README: jemalloc's default purges after 10 s (the event loop's warm runs 17 instead of
/// 26 M bars/s), and with purging off batch features ran at a third of the speed on one thread.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // Blocks up to 256 MiB come from the heaps rather than fresh mappings, and the heaps are
    // never trimmed (up to 2 GiB free at their top, the most mallopt takes).
    const MMAP_THRESHOLD: libc::c_int = 256 << 20;
    const TRIM_THRESHOLD: libc::c_int = libc::c_int::MAX;
    // SAFETY: called first thing in `main`, before any other thread exists; mallopt only sets
    // allocator parameters, and a refused value leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

/// Elsewhere the system allocator keeps its defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// Restores the default action of SIGPIPE (end the process without a word), which Rust's
/// runtime sets to "ignore" so that printing to a closed pipe panics instead.
#[cfg(unix)]
#[allow(unsafe_code)]
fn end_quietly_on_closed_pipe() {
    // SAFETY: called at the start of `main`, before this process has started any other thread;
    // `signal` only sets the disposition of SIGPIPE. Commands holding sockets never call it, so a
    // peer closing a connection stays an error they handle.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Elsewhere there is no SIGPIPE.
#[cfg(not(unix))]
fn end_quietly_on_closed_pipe() {}

/// Caps glibc's malloc at 2 arenas unless `MALLOC_ARENA_MAX` says otherwise. By default each
/// thread that allocates may get an arena of its own (up to 8 per core), which keeps what that
/// thread freed: a 100-instrument catalog backtest's decoders and result writer held about 90 MB
/// more that way (peak 523 MiB, 436 MiB with 2 arenas, the same speed). The event loop does not
/// allocate, so the threads hardly ever wait on a shared arena.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn cap_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets a parameter of glibc's malloc; called at the start of
        // `main`, before this process has started any other thread.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    }
}

/// Other allocators manage their own arenas.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn cap_malloc_arenas() {}

/// Sets `RAYON_NUM_THREADS`, which candle reads on every matrix product (unset, it re-reads
/// `/proc/cpuinfo` each time, about 30 us a call).
#[allow(unsafe_code)]
fn set_rayon_threads_env(threads: usize) {
    // SAFETY: called at the start of `main`, before this process has started any other thread,
    // so nothing can read or write the environment concurrently.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
}
