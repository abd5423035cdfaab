//! `quant data`: generate, convert, inspect, resample and fetch market data files.

use crate::sweep::progress_bar;
use anyhow::{Context, Result, bail};
use market_data::binance;
use market_data::columnar::{Codec, FileFormat, RecordKind, RecordReader, RecordWriter, TimeRange};
use market_data::csv::{OnInvalid, parse_timestamp, read_bars};
use market_data::csv_write::{write_bars_csv, write_quotes_csv, write_trades_csv};
use market_data::inspect::inspect;
use market_data::resample::{BarRule, Resampler};
use market_data::synthetic::{SyntheticSpec, generate_one, generate_ticks, parse_interval};
use market_data::{Bar, InstrumentId, Quote, Timestamp, Trade};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `quant data`.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DataCommand {
    /// Generates synthetic bars or ticks (GBM) for many instruments, as a catalog or files.
    ///
    /// The catalog layout is OUT/<kind>/<instrument>/<first time>.parquet, one part per
    /// --part-rows rows, which `[data] kind = "catalog"` reads; `--layout files` writes
    /// OUT/<instrument>.<format> instead.
    Synth(SynthArgs),
    /// Converts bars, trades or quotes between CSV, Parquet and Arrow IPC, checking every row.
    ///
    /// Formats follow the extensions (.csv, .parquet, .arrow for the IPC file format, .arrows for
    /// the stream format). CSV input is a bar file, or a Binance dump with --from.
    Convert(ConvertArgs),
    /// Prints a file's schema, rows, time span, instruments, spacing, gaps, duplicates and bad
    /// rows, without stopping at the first problem.
    Inspect(InspectArgs),
    /// Resamples trades into time, tick, volume or dollar bars, or bars into coarser bars.
    Resample(ResampleArgs),
    /// Downloads public market data into a catalog that `[data] kind = "catalog"` reads.
    Fetch(FetchArgs),
}

#[derive(Debug, clap::Args)]
struct FetchArgs {
    #[command(subcommand)]
    source: FetchSource,
}

#[derive(Debug, clap::Subcommand)]
enum FetchSource {
    /// Binance spot klines from the public monthly and daily dumps (data.binance.vision).
    ///
    /// Months wholly inside [--start, --end) come as monthly files, the other days as daily
    /// files. Each file is checked against its published SHA-256 and kept under OUT/downloads/:
    /// a rerun skips verified files and resumes an interrupted download. Bars go to
    /// OUT/bars/<SYMBOL>/, one part per file.
    Binance(BinanceFetchArgs),
}

#[derive(Debug, clap::Args)]
struct BinanceFetchArgs {
    /// The symbol, e.g. BTCUSDT.
    #[arg(long)]
    symbol: String,
    /// The kline interval: 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w, 1mo.
    #[arg(long)]
    interval: String,
    /// The first month (2024-01) or day (2024-01-15).
    #[arg(long)]
    start: String,
    /// The month or day the data ends before (excluded): 2024-06 ends with May.
    #[arg(long)]
    end: String,
    /// The catalog folder.
    #[arg(long)]
    out: PathBuf,
    /// Where the dumps are served from.
    #[arg(long, default_value = live::dumps::DEFAULT_BASE_URL)]
    base_url: String,
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    Bars,
    Trades,
    Quotes,
}

impl Kind {
    fn record(self) -> RecordKind {
        match self {
            Kind::Bars => RecordKind::Bars,
            Kind::Trades => RecordKind::Trades,
            Kind::Quotes => RecordKind::Quotes,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Layout {
    Catalog,
    Files,
}

#[derive(Debug, clap::Args)]
struct SynthArgs {
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Number of instruments (SYN000, SYN001, ...).
    #[arg(long, default_value_t = 10)]
    instruments: usize,
    /// Bars (or ticks) per instrument.
    #[arg(long, default_value_t = 100_000)]
    bars: usize,
    /// Bar spacing, or the mean time between ticks: 1s, 1m, 1h, 1d...
    #[arg(long, default_value = "1m")]
    interval: String,
    /// First bar's time.
    #[arg(long, default_value = "2024-01-01")]
    start: String,
    /// Seed: the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Annual volatility.
    #[arg(long, default_value_t = 0.2)]
    volatility: f64,
    /// What to generate.
    #[arg(long, value_enum, default_value_t = Kind::Bars)]
    kind: Kind,
    /// File format: parquet, arrow (IPC file), arrows (IPC stream) or csv.
    #[arg(long, default_value = "parquet")]
    format: String,
    /// Catalog folders or one file per instrument.
    #[arg(long, value_enum, default_value_t = Layout::Catalog)]
    layout: Layout,
    /// Rows per part file in the catalog layout.
    #[arg(long, default_value_t = 1 << 20)]
    part_rows: usize,
    /// Parquet compression: zstd, zstd:<level>, snappy or none.
    #[arg(long, default_value = "zstd")]
    compression: Codec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Foreign {
    /// data.binance.vision kline dumps.
    BinanceKlines,
    /// data.binance.vision trade dumps.
    BinanceTrades,
}

#[derive(Debug, clap::Args)]
struct ConvertArgs {
    /// Input file.
    input: PathBuf,
    /// Output file.
    output: PathBuf,
    /// What the file holds (columnar input); CSV input is bars unless --from says otherwise.
    #[arg(long, value_enum, default_value_t = Kind::Bars)]
    kind: Kind,
    /// The layout of a CSV input from elsewhere.
    #[arg(long, value_enum)]
    from: Option<Foreign>,
    /// Add an `instrument` column with this name to the output.
    #[arg(long)]
    instrument: Option<String>,
    /// Parquet compression: zstd, zstd:<level>, snappy or none.
    #[arg(long, default_value = "zstd")]
    compression: Codec,
}

#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// The file.
    file: PathBuf,
    /// What the file holds.
    #[arg(long, value_enum, default_value_t = Kind::Bars)]
    kind: Kind,
    /// The trading calendar bars are checked against for gaps: 24/7, weekdays or us_equity
    /// (default: 24/7 when bars fall on weekends, else us_equity).
    #[arg(long, value_parser = market_data::Calendar::parse)]
    calendar: Option<market_data::Calendar>,
    /// The IANA time zone intraday bars are read in (default: the calendar's, New York for
    /// us_equity).
    #[arg(long, value_parser = market_data::Zone::parse)]
    timezone: Option<market_data::Zone>,
}

#[derive(Debug, clap::Args)]
struct ResampleArgs {
    /// Input file: trades (Parquet, Arrow, or a Binance trades CSV) or bars.
    input: PathBuf,
    /// Output bar file (.parquet, .arrow, .arrows or .csv).
    output: PathBuf,
    /// The bar rule: an interval (1m, 1h, 1d), ticks:N, volume:X or dollar:X.
    #[arg(long)]
    rule: String,
    /// What the input holds.
    #[arg(long, value_enum, default_value_t = Kind::Trades)]
    kind: Kind,
    /// The layout of a CSV input.
    #[arg(long, value_enum)]
    from: Option<Foreign>,
}

/// Runs a `quant data` command.
pub fn run(args: &DataArgs) -> Result<()> {
    match &args.command {
        DataCommand::Synth(a) => synth(a),
        DataCommand::Convert(a) => convert(a),
        DataCommand::Inspect(a) => print_inspection(a),
        DataCommand::Resample(a) => resample(a),
        DataCommand::Fetch(FetchArgs {
            source: FetchSource::Binance(a),
        }) => fetch_binance(a),
    }
}

fn fetch_binance(a: &BinanceFetchArgs) -> Result<()> {
    let request = live::dumps::Request {
        base_url: a.base_url.clone(),
        symbol: a.symbol.clone(),
        interval: a.interval.clone(),
        start: a.start.clone(),
        end: a.end.clone(),
        out: a.out.clone(),
    };
    let fetched =
        live::dumps::fetch(&request, |line| println!("{line}")).map_err(anyhow::Error::msg)?;
    println!(
        "{} bars in {} parts -> {}",
        fetched.bars,
        fetched.parts,
        fetched.folder.display()
    );
    Ok(())
}

fn synth(a: &SynthArgs) -> Result<()> {
    let spec = SyntheticSpec {
        instruments: a.instruments,
        bars: a.bars,
        interval_ns: parse_interval(&a.interval).with_context(|| {
            format!(
                "--interval: expected 1s, 1m, 1h, 1d..., found {:?}",
                a.interval
            )
        })?,
        start: parse_timestamp(&a.start).with_context(|| {
            format!("--start: expected a date or datetime, found {:?}", a.start)
        })?,
        volatility: a.volatility,
        seed: a.seed,
        ..SyntheticSpec::default()
    };
    spec.validate()?;
    if !["parquet", "arrow", "arrows", "csv"].contains(&a.format.as_str()) {
        bail!(
            "--format: expected parquet, arrow, arrows or csv, found {:?}",
            a.format
        );
    }
    if a.part_rows == 0 {
        bail!("--part-rows: expected at least 1");
    }
    let started = Instant::now();
    let progress = progress_bar((a.instruments * a.bars) as u64, "rows");
    let written: Vec<u64> = (0..a.instruments)
        .into_par_iter()
        .map(|k| -> Result<u64> {
            let name = market_data::synthetic::instrument_name(k);
            let parts = match a.layout {
                Layout::Catalog => a.part_rows,
                Layout::Files => usize::MAX,
            };
            let path_of = |first: Timestamp| -> Result<PathBuf> {
                let path = match a.layout {
                    Layout::Catalog => {
                        let path = market_data::catalog::part_path(
                            &a.out,
                            a.kind.record(),
                            name.as_str(),
                            first,
                            &a.format,
                        );
                        let folder = path.parent().unwrap_or(&a.out);
                        std::fs::create_dir_all(folder)
                            .with_context(|| format!("cannot create {}", folder.display()))?;
                        path
                    }
                    Layout::Files => {
                        std::fs::create_dir_all(&a.out)
                            .with_context(|| format!("cannot create {}", a.out.display()))?;
                        a.out.join(format!("{name}.{}", a.format))
                    }
                };
                Ok(path)
            };
            let rows = match a.kind {
                Kind::Bars => {
                    let series = generate_one(&spec, k);
                    for part in series.bars.chunks(parts) {
                        write_part(
                            &path_of(part[0].ts)?,
                            a.compression,
                            part,
                            write_bars_csv,
                            |w, p| w.write_bars(p),
                            RecordKind::Bars,
                        )?;
                        progress.inc(part.len() as u64);
                    }
                    series.bars.len()
                }
                Kind::Trades | Kind::Quotes => {
                    let ticks = generate_ticks(&spec, k);
                    if a.kind == Kind::Trades {
                        for part in ticks.trades.chunks(parts) {
                            write_part(
                                &path_of(part[0].0)?,
                                a.compression,
                                part,
                                write_trades_csv,
                                |w, p| w.write_trades(p),
                                RecordKind::Trades,
                            )?;
                            progress.inc(part.len() as u64);
                        }
                    } else {
                        for part in ticks.quotes.chunks(parts) {
                            write_part(
                                &path_of(part[0].0)?,
                                a.compression,
                                part,
                                write_quotes_csv,
                                |w, p| w.write_quotes(p),
                                RecordKind::Quotes,
                            )?;
                            progress.inc(part.len() as u64);
                        }
                    }
                    ticks.trades.len()
                }
            };
            Ok(rows as u64)
        })
        .collect::<Result<_>>()?;
    progress.finish_and_clear();
    let rows: u64 = written.iter().sum();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{rows} {} rows of {} instruments in {seconds:.1} s ({:.2} M rows/s) -> {}",
        a.kind.record().as_str(),
        a.instruments,
        rows as f64 / seconds / 1e6,
        a.out.display()
    );
    Ok(())
}

/// Writes `rows` to `path` as CSV with `csv`, or as columnar data with `columnar`.
fn write_part<T>(
    path: &Path,
    codec: Codec,
    rows: &[T],
    csv: fn(&Path, &[T]) -> market_data::Result<()>,
    columnar: impl Fn(&mut RecordWriter, &[T]) -> market_data::Result<()>,
    kind: RecordKind,
) -> Result<()> {
    if FileFormat::of(path) == Some(FileFormat::Csv) {
        return Ok(csv(path, rows)?);
    }
    let mut writer = RecordWriter::create_with(path, kind, None, codec)?;
    for chunk in rows.chunks(market_data::columnar::WRITE_BATCH_ROWS) {
        columnar(&mut writer, chunk)?;
    }
    writer.finish()?;
    Ok(())
}

fn stem(path: &Path) -> InstrumentId {
    InstrumentId::new(
        path.file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
    )
}

/// Every record a file can hold, read whole (CSV) or batch by batch (columnar).
enum Records {
    Bars(Vec<Bar>),
    Trades(Vec<(Timestamp, Trade)>),
    Quotes(Vec<(Timestamp, Quote)>),
}

impl Records {
    fn len(&self) -> usize {
        match self {
            Records::Bars(v) => v.len(),
            Records::Trades(v) => v.len(),
            Records::Quotes(v) => v.len(),
        }
    }
}

/// Reads a CSV input whole: bars, or a Binance dump.
fn read_csv(path: &Path, from: Option<Foreign>) -> Result<Records> {
    let name = stem(path);
    Ok(match from {
        None => Records::Bars(read_bars(path, name, OnInvalid::Error)?.0.bars),
        Some(Foreign::BinanceKlines) => {
            Records::Bars(binance::read_klines(path, name, OnInvalid::Error)?.0.bars)
        }
        Some(Foreign::BinanceTrades) => {
            Records::Trades(binance::read_trades(path, name, OnInvalid::Error)?.0.trades)
        }
    })
}

/// Reads the next batch of a columnar input into `into` (cleared); false at the end.
fn next_batch(reader: &mut RecordReader, into: &mut Records) -> Result<bool> {
    Ok(match into {
        Records::Bars(v) => {
            v.clear();
            reader.next_bars(v)?
        }
        Records::Trades(v) => {
            v.clear();
            reader.next_trades(v)?
        }
        Records::Quotes(v) => {
            v.clear();
            reader.next_quotes(v)?
        }
    })
}

fn empty(kind: Kind) -> Records {
    match kind {
        Kind::Bars => Records::Bars(Vec::new()),
        Kind::Trades => Records::Trades(Vec::new()),
        Kind::Quotes => Records::Quotes(Vec::new()),
    }
}

/// Writes records to a columnar writer, or whole to CSV.
fn write_records(writer: &mut RecordWriter, records: &Records) -> Result<()> {
    match records {
        Records::Bars(v) => writer.write_bars(v)?,
        Records::Trades(v) => writer.write_trades(v)?,
        Records::Quotes(v) => writer.write_quotes(v)?,
    }
    Ok(())
}

fn write_csv(path: &Path, records: &Records) -> Result<()> {
    match records {
        Records::Bars(v) => write_bars_csv(path, v)?,
        Records::Trades(v) => write_trades_csv(path, v)?,
        Records::Quotes(v) => write_quotes_csv(path, v)?,
    }
    Ok(())
}

fn convert(a: &ConvertArgs) -> Result<()> {
    let started = Instant::now();
    let input = FileFormat::of(&a.input).with_context(|| {
        format!(
            "{}: unknown extension (expected .csv, .parquet, .arrow or .arrows)",
            a.input.display()
        )
    })?;
    let output = FileFormat::of(&a.output).with_context(|| {
        format!(
            "{}: unknown extension (expected .csv, .parquet, .arrow or .arrows)",
            a.output.display()
        )
    })?;
    if a.from.is_some() && input != FileFormat::Csv {
        bail!("--from applies to CSV input only");
    }
    let rows = if input == FileFormat::Csv {
        let records = read_csv(&a.input, a.from)?;
        write_all(
            &a.output,
            output,
            &records,
            a.instrument.as_deref(),
            a.compression,
        )?;
        records.len() as u64
    } else {
        let mut reader = RecordReader::open(&a.input, a.kind.record(), TimeRange::ALL, 65_536)?;
        let mut batch = empty(a.kind);
        if output == FileFormat::Csv {
            // CSV is written whole: gather the batches.
            let mut all = empty(a.kind);
            while next_batch(&mut reader, &mut batch)? {
                match (&mut all, &batch) {
                    (Records::Bars(to), Records::Bars(from)) => to.extend_from_slice(from),
                    (Records::Trades(to), Records::Trades(from)) => to.extend_from_slice(from),
                    (Records::Quotes(to), Records::Quotes(from)) => to.extend_from_slice(from),
                    _ => {}
                }
            }
            write_csv(&a.output, &all)?;
            all.len() as u64
        } else {
            let progress = progress_bar(0, "rows");
            let mut writer = RecordWriter::create_with(
                &a.output,
                a.kind.record(),
                a.instrument.as_deref(),
                a.compression,
            )?;
            let mut rows = 0;
            while next_batch(&mut reader, &mut batch)? {
                write_records(&mut writer, &batch)?;
                rows += batch.len() as u64;
                progress.inc(batch.len() as u64);
            }
            writer.finish()?;
            progress.finish_and_clear();
            rows
        }
    };
    println!(
        "{rows} rows {} -> {} in {:.2} s",
        a.input.display(),
        a.output.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes whole records to `path` in `format`.
fn write_all(
    path: &Path,
    format: FileFormat,
    records: &Records,
    instrument: Option<&str>,
    codec: Codec,
) -> Result<()> {
    if format == FileFormat::Csv {
        return write_csv(path, records);
    }
    let kind = match records {
        Records::Bars(_) => RecordKind::Bars,
        Records::Trades(_) => RecordKind::Trades,
        Records::Quotes(_) => RecordKind::Quotes,
    };
    let mut writer = RecordWriter::create_with(path, kind, instrument, codec)?;
    write_records(&mut writer, records)?;
    writer.finish()?;
    Ok(())
}

fn print_inspection(a: &InspectArgs) -> Result<()> {
    let report = inspect(&a.file, a.kind.record(), a.calendar, a.timezone)?;
    println!("{} ({})", a.file.display(), report.format);
    if !report.columns.is_empty() {
        let columns: Vec<String> = report
            .columns
            .iter()
            .map(|(name, ty)| format!("{name}: {ty}"))
            .collect();
        println!("  columns      {}", columns.join(", "));
    }
    println!("  rows         {}", report.rows);
    println!("  instruments  {}", report.instruments.len());
    for (name, s) in &report.instruments {
        let span = s
            .span
            .map_or_else(|| "-".into(), |(a, b)| format!("{a} .. {b}"));
        let spacing = s.typical_spacing_ns.map_or_else(|| "-".into(), humanize);
        println!(
            "  {name}: {} rows, {span}, spacing {spacing}, {} gaps, {} duplicates, {} out of order",
            s.rows, s.gaps, s.duplicates, s.out_of_order
        );
        if let Some((calendar, inferred)) = s.calendar {
            let why = if inferred {
                match calendar {
                    market_data::Calendar::AlwaysOpen => ", inferred: bars on weekends",
                    _ => ", inferred: no bars on weekends (--calendar to choose)",
                }
            } else {
                ""
            };
            println!("      gaps counted against the {calendar} calendar{why}");
        }
        for (from, to) in &s.largest_gaps {
            println!("      gap {from} -> {to} ({})", humanize(to.0 - from.0));
        }
        if s.jumps > 0 {
            println!(
                "      {} implausible jumps (a close moving over {}x the recent bars' range: a \
                 shifted decimal point, a split?)",
                s.jumps,
                market_data::quality::DEFAULT_JUMP_MULTIPLE
            );
            for j in &s.jump_examples {
                println!(
                    "      jump at {}: close {} after {} ({:.0}x)",
                    j.ts, j.close, j.previous, j.multiple
                );
            }
        }
    }
    println!("  invalid rows {}", report.invalid_rows);
    for example in &report.invalid_examples {
        println!("      {example}");
    }
    Ok(())
}

/// Formats a duration in nanoseconds as the largest whole unit it fits: `1m`, `1.5h`, `3d`.
fn humanize(ns: i64) -> String {
    let units = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ];
    for (size, unit) in units {
        if ns >= size {
            let value = ns as f64 / size as f64;
            return format!("{}{unit}", (value * 100.0).round() / 100.0);
        }
    }
    format!("{ns}ns")
}

fn resample(a: &ResampleArgs) -> Result<()> {
    let rule: BarRule = a
        .rule
        .parse()
        .with_context(|| format!("--rule {:?}", a.rule))?;
    let mut resampler = Resampler::try_new(rule).with_context(|| format!("--rule {:?}", a.rule))?;
    let started = Instant::now();
    let input = FileFormat::of(&a.input)
        .with_context(|| format!("{}: unknown extension", a.input.display()))?;
    let mut bars = Vec::new();
    let mut rows = 0u64;
    let mut feed = |records: &Records, bars: &mut Vec<Bar>| -> Result<()> {
        match records {
            Records::Bars(v) => {
                for bar in v {
                    bars.extend(resampler.push_bar(bar)?);
                }
            }
            Records::Trades(v) => {
                for (ts, trade) in v {
                    bars.extend(resampler.push_trade(*ts, trade)?);
                }
            }
            Records::Quotes(_) => bail!("--kind quotes: resample trades or bars"),
        }
        Ok(())
    };
    if input == FileFormat::Csv {
        let records = read_csv(&a.input, a.from)?;
        rows += records.len() as u64;
        feed(&records, &mut bars)?;
    } else {
        let mut reader = RecordReader::open(&a.input, a.kind.record(), TimeRange::ALL, 65_536)?;
        let mut batch = empty(a.kind);
        while next_batch(&mut reader, &mut batch)? {
            rows += batch.len() as u64;
            feed(&batch, &mut bars)?;
        }
    }
    bars.extend(resampler.finish());
    let format = FileFormat::of(&a.output)
        .with_context(|| format!("{}: unknown extension", a.output.display()))?;
    let rows_out = bars.len();
    write_all(
        &a.output,
        format,
        &Records::Bars(bars),
        None,
        Codec::Zstd(1),
    )?;
    println!(
        "{rows} input rows -> {} bars ({rule}) in {:.2} s -> {}",
        rows_out,
        started.elapsed().as_secs_f64(),
        a.output.display()
    );
    Ok(())
}
