//! Loads the bars a config's `[data]` table names: CSV, Parquet or Arrow files (a file, a folder
//! or a glob), a catalog folder, or the synthetic generator; or opens a catalog as a stream.

use crate::config::{DataKind, Instruments, LoadedConfig, TickKind, require_exists};
use anyhow::{Result, bail};
use engine::RangeError;
use market_data::catalog::{InstrumentFiles, PartsReader, scan};
use market_data::columnar::{
    DEFAULT_BATCH_ROWS, RecordKind, RecordReader, TimeRange, read_bar_file, rows_within_at_least,
};
use market_data::csv::{parse_timestamp, read_bars};
use market_data::merge::{BarSource, StepMerger};
use market_data::synthetic::{SyntheticSpec, generate, parse_interval};
use market_data::{
    BarSeries, InstrumentId, InstrumentIdx, MarketEvent, MarketKind, SkipReport, Timestamp,
};
use std::path::PathBuf;

/// The loaded series, one per instrument, with what was skipped per file.
#[derive(Debug, Default)]
pub(crate) struct LoadedData {
    /// One series per instrument.
    pub(crate) series: Vec<BarSeries>,
    /// Skipped rows per instrument (CSV with `on_invalid = "skip"`).
    pub(crate) skipped: Vec<(String, SkipReport)>,
}

/// Loads the data of a config into memory.
///
/// # Errors
/// Names the config key or the file (with line and column, or row and column) at fault.
pub(crate) fn load(loaded: &LoadedConfig) -> Result<LoadedData> {
    let data = &loaded.config.data;
    if data.ticks.is_some() {
        bail!(loaded.range(RangeError::new(
            "data.ticks",
            "bars here: ticks are replayed by `quant backtest` only (resample them into bars \
             with `quant data resample` for this command)",
        )));
    }
    let range = time_range(loaded)?;
    let series = match data.kind {
        DataKind::Memory => bail!(loaded.range(RangeError::new(
            "data.kind",
            "files, a catalog or \"synthetic\" here: kind = \"memory\" is for bars handed over \
             in memory (the Python package's data=)",
        ))),
        DataKind::Csv => {
            let files = data_files(loaded, &["csv"])?;
            let names = file_names(loaded, &files)?;
            let mut series = Vec::with_capacity(files.len());
            let mut skipped = Vec::new();
            for (file, name) in files.iter().zip(names) {
                let (mut bars, report) = read_bars(file, name.clone(), data.on_invalid)?;
                if report.skipped > 0 {
                    skipped.push((name.to_string(), report));
                }
                bars.bars
                    .retain(|b| b.ts.0 >= range.start && b.ts.0 < range.end);
                series.push(bars);
            }
            return checked(loaded, LoadedData { series, skipped });
        }
        DataKind::Parquet | DataKind::Arrow => {
            let files = data_files(loaded, columnar_extensions(data.kind))?;
            let names = file_names(loaded, &files)?;
            let mut series = Vec::with_capacity(files.len());
            for (file, name) in files.iter().zip(names) {
                series.extend(read_bar_file(file, name, range)?);
            }
            series
        }
        DataKind::Catalog => catalog(loaded, range)?
            .into_iter()
            .map(|files| {
                let mut reader = PartsReader::new(files.files, range, DEFAULT_BATCH_ROWS);
                let (mut bars, mut chunk) = (Vec::new(), Vec::new());
                while reader.next_chunk(&mut chunk)? {
                    bars.extend_from_slice(&chunk);
                }
                Ok(BarSeries::new(files.instrument, bars))
            })
            .collect::<Result<Vec<_>>>()?,
        DataKind::Synthetic => {
            let mut spec = SyntheticSpec {
                seed: loaded.config.seed,
                ..SyntheticSpec::default()
            };
            match &data.instruments {
                Some(Instruments::Count(n)) => spec.instruments = *n,
                Some(Instruments::Names(_)) => {
                    bail!(loaded.range(RangeError::new(
                        "data.instruments",
                        "a count for kind = \"synthetic\""
                    )))
                }
                None => {}
            }
            if let Some(bars) = data.bars {
                spec.bars = bars;
            }
            if let Some(text) = &data.interval {
                spec.interval_ns = parse_interval(text).ok_or_else(|| {
                    loaded.range(RangeError::new(
                        "data.interval",
                        format!(
                            "a duration such as \"30s\", \"1m\", \"1h\" or \"1d\", found {text:?}"
                        ),
                    ))
                })?;
            }
            if let Some(text) = &data.start {
                spec.start = parse_timestamp(text).ok_or_else(|| {
                    loaded.range(RangeError::new(
                        "data.start",
                        format!("a date or datetime such as \"2024-01-01\", found {text:?}"),
                    ))
                })?;
            }
            spec.drift = data.drift.unwrap_or(spec.drift);
            spec.volatility = data.volatility.unwrap_or(spec.volatility);
            spec.initial_price = data.initial_price.unwrap_or(spec.initial_price);
            generate(&spec).map_err(|e| match e {
                market_data::Error::Synthetic { field, message } => {
                    loaded.range(RangeError::new(format!("data.{field}"), message))
                }
                other => other.into(),
            })?
        }
    };
    checked(
        loaded,
        LoadedData {
            series,
            skipped: Vec::new(),
        },
    )
}

/// A catalog opened for streaming: its instruments and the merged stream of their bars.
pub(crate) struct Stream {
    /// The instruments, in merger order.
    pub(crate) instruments: Vec<InstrumentId>,
    /// Their bars, merged into time steps.
    pub(crate) merger: StepMerger,
    /// Time steps the run will have at least: the most bars any instrument certainly has in
    /// the run's time range, from the files' footers (0 when they do not tell).
    pub(crate) steps_at_least: usize,
}

/// The file extensions of a columnar kind of data.
fn columnar_extensions(kind: DataKind) -> &'static [&'static str] {
    if kind == DataKind::Parquet {
        &["parquet", "pq"]
    } else {
        &["arrow", "arrows", "feather", "ipc"]
    }
}

/// Whether Parquet and Arrow files are streamed: `[data] stream`, by default unless a model
/// trades (`ml_trend` stitches its walk-forward folds' predictions over bars in memory).
fn streams_files(loaded: &LoadedConfig) -> bool {
    (loaded.config.data.stream).unwrap_or(loaded.strategy_name() != "ml_trend")
}

/// Opens the config's data as a stream when it is a catalog, or Parquet or Arrow files of one
/// instrument each when [`streams_files`] (only decoded chunks are held, so the data may be
/// larger than memory); other kinds, and files holding several instruments (split by their
/// instrument column), are loaded with [`load`].
///
/// # Errors
/// As [`load`].
pub(crate) fn open_stream(loaded: &LoadedConfig) -> Result<Option<Stream>> {
    let Some(sources) = open_sleeves(loaded)? else {
        return Ok(None);
    };
    let rows = chunk_rows(sources.len());
    let mut steps_at_least = 0;
    for source in &sources {
        steps_at_least = steps_at_least.max(source.bars_at_least()?);
    }
    let (instruments, readers): (Vec<InstrumentId>, Vec<Box<dyn BarSource>>) = sources
        .into_iter()
        .map(|s| -> (InstrumentId, Box<dyn BarSource>) {
            let reader = PartsReader::new(s.files, s.range, rows);
            (s.instrument, Box::new(reader))
        })
        .unzip();
    // Decoding runs ahead on its own threads: one per core, as the event loop is one thread.
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    Ok(Some(Stream {
        instruments,
        merger: StepMerger::new(readers, threads, rows),
        steps_at_least,
    }))
}

/// One instrument's files, read as a stream when its run starts: a sleeve's input.
#[derive(Debug, Clone)]
pub(crate) struct SleeveSource {
    /// The instrument.
    pub(crate) instrument: InstrumentId,
    /// Its files (a catalog's parts), in time order.
    files: Vec<PathBuf>,
    /// The bars kept.
    range: TimeRange,
}

impl SleeveSource {
    /// Returns how many bars it certainly has within the run's range (see
    /// [`market_data::columnar::rows_within_at_least`]).
    ///
    /// # Errors
    /// A file whose footer cannot be read, naming it.
    fn bars_at_least(&self) -> Result<usize> {
        let mut bars = 0;
        for file in &self.files {
            bars += rows_within_at_least(file, RecordKind::Bars, self.range)?;
        }
        Ok(usize::try_from(bars).unwrap_or(usize::MAX))
    }

    /// Returns the stream of this instrument's bars, decoded on the caller's thread: a sleeve
    /// runs on one worker of a pool that keeps every core busy with sleeves.
    pub(crate) fn open(&self) -> StepMerger {
        let rows = chunk_rows(1);
        let reader = PartsReader::new(self.files.clone(), self.range, rows);
        StepMerger::new(vec![Box::new(reader)], 0, rows)
    }
}

/// Lists the config's data as one source per instrument when it streams (as [`open_stream`]
/// says), without reading any bars; `None` for data that is loaded.
///
/// # Errors
/// As [`load`].
pub(crate) fn open_sleeves(loaded: &LoadedConfig) -> Result<Option<Vec<SleeveSource>>> {
    let data = &loaded.config.data;
    let range = time_range(loaded)?;
    let (instruments, files): (Vec<InstrumentId>, Vec<Vec<PathBuf>>) = match data.kind {
        DataKind::Catalog => (catalog(loaded, range)?.into_iter())
            .map(|p| (p.instrument, p.files))
            .unzip(),
        DataKind::Parquet | DataKind::Arrow if streams_files(loaded) => {
            let files = data_files(loaded, columnar_extensions(data.kind))?;
            for file in &files {
                let reader = RecordReader::open(file, RecordKind::Bars, range, 1)?;
                if reader.has_instrument_column() {
                    return Ok(None);
                }
            }
            let names = file_names(loaded, &files)?;
            one_source_each(loaded, names.iter().map(InstrumentId::as_str))?;
            (names, files.into_iter().map(|f| vec![f]).collect())
        }
        _ => return Ok(None),
    };
    Ok(Some(
        (instruments.into_iter().zip(files))
            .map(|(instrument, files)| SleeveSource {
                instrument,
                files,
                range,
            })
            .collect(),
    ))
}

/// Rows per decoded chunk when `instruments` stream side by side: large chunks (less work per
/// row in the readers) while the chunks decoded ahead stay within
/// [`market_data::merge::PREFETCH_ROWS`], never below [`DEFAULT_BATCH_ROWS`].
fn chunk_rows(instruments: usize) -> usize {
    const LARGEST: usize = 65_536;
    (market_data::merge::PREFETCH_ROWS / (4 * instruments.max(1)))
        .clamp(DEFAULT_BATCH_ROWS, LARGEST)
}

/// Ticks of every instrument, merged into one time-ordered stream.
pub(crate) struct Ticks {
    /// The instruments, by index.
    pub(crate) instruments: Vec<InstrumentId>,
    /// Quotes and trades sorted by (time, instrument); at one time and instrument, quotes come
    /// before trades and each keeps its file order.
    pub(crate) events: Vec<MarketEvent>,
}

/// Loads the config's ticks when `[data] ticks` is set.
///
/// # Errors
/// As [`load`]; a tick that goes back in time across two parts names both.
pub(crate) fn load_ticks(loaded: &LoadedConfig) -> Result<Option<Ticks>> {
    let data = &loaded.config.data;
    let Some(kinds) = &data.ticks else {
        return Ok(None);
    };
    let range = time_range(loaded)?;
    // Per instrument name: its quote files and its trade files, in time order.
    let mut files: std::collections::BTreeMap<String, [Vec<PathBuf>; 2]> = Default::default();
    for &kind in kinds {
        let (record, slot) = match kind {
            TickKind::Quotes => (RecordKind::Quotes, 0),
            TickKind::Trades => (RecordKind::Trades, 1),
        };
        if data.kind == DataKind::Catalog {
            let root = loaded.resolve(data.path.as_deref().unwrap_or_default());
            require_exists(loaded, "data.path", &root)?;
            let names = match &data.instruments {
                Some(Instruments::Names(names)) => Some(names.as_slice()),
                _ => None,
            };
            for part in scan(&root, record, names, range)? {
                files.entry(part.instrument.to_string()).or_default()[slot] = part.files;
            }
        } else {
            let extensions: &[&str] = if data.kind == DataKind::Parquet {
                &["parquet", "pq"]
            } else {
                &["arrow", "arrows", "feather", "ipc"]
            };
            let paths = data_files(loaded, extensions)?;
            for (path, name) in paths.iter().zip(file_names(loaded, &paths)?) {
                files.entry(name.to_string()).or_default()[slot] = vec![path.clone()];
            }
        }
    }
    let mut instruments = Vec::with_capacity(files.len());
    let mut events = Vec::new();
    for (index, (name, [quotes, trades])) in files.into_iter().enumerate() {
        let instrument = InstrumentIdx(index as u32);
        let event = |ts: Timestamp, kind| MarketEvent {
            ts_event: ts,
            ts_recv: ts,
            instrument,
            kind,
        };
        for (ts, quote) in read_ticks(
            &quotes,
            range,
            RecordKind::Quotes,
            RecordReader::next_quotes,
        )? {
            events.push(event(ts, MarketKind::Quote(quote)));
        }
        for (ts, trade) in read_ticks(
            &trades,
            range,
            RecordKind::Trades,
            RecordReader::next_trades,
        )? {
            events.push(event(ts, MarketKind::Trade(trade)));
        }
        instruments.push(InstrumentId::new(name));
    }
    // Stable: quotes stay before trades at equal (time, instrument), as they were pushed.
    events.sort_by_key(|e| (e.ts_event, e.instrument));
    if events.is_empty() {
        bail!(loaded.range(RangeError::new(
            "data",
            "ticks within start/end, but the files hold none",
        )));
    }
    Ok(Some(Ticks {
        instruments,
        events,
    }))
}

/// Reads the next batch of ticks of one kind (`RecordReader::next_trades` or `next_quotes`).
type NextTicks<T> = fn(&mut RecordReader, &mut Vec<(Timestamp, T)>) -> market_data::Result<bool>;

/// Reads the ticks of one instrument's parts in order, checking time never goes back from one
/// part to the next.
fn read_ticks<T>(
    parts: &[PathBuf],
    range: TimeRange,
    kind: RecordKind,
    next: NextTicks<T>,
) -> Result<Vec<(Timestamp, T)>> {
    let mut ticks: Vec<(Timestamp, T)> = Vec::new();
    let mut previous: Option<(&PathBuf, Timestamp)> = None;
    for part in parts {
        let mut reader = RecordReader::open(part, kind, range, 65_536)?;
        let start = ticks.len();
        while next(&mut reader, &mut ticks)? {}
        if let (Some((earlier, end)), Some((first, _))) = (previous, ticks.get(start))
            && first < &end
        {
            bail!(market_data::Error::Overlap {
                first: earlier.clone(),
                first_end: end,
                second: part.clone(),
                second_start: *first,
            });
        }
        if let Some((last, _)) = ticks.last() {
            previous = Some((part, *last));
        }
    }
    Ok(ticks)
}

/// Lists the catalog's instruments and parts within `range`.
fn catalog(loaded: &LoadedConfig, range: TimeRange) -> Result<Vec<InstrumentFiles>> {
    let data = &loaded.config.data;
    let written = data.path.as_deref().unwrap_or_default();
    let root = loaded.resolve(written);
    require_exists(loaded, "data.path", &root)?;
    let names = match &data.instruments {
        Some(Instruments::Names(names)) => Some(names.as_slice()),
        _ => None,
    };
    Ok(scan(&root, RecordKind::Bars, names, range)?)
}

/// Returns `[data] start, end` as a time range (everything when absent).
fn time_range(loaded: &LoadedConfig) -> Result<TimeRange> {
    let data = &loaded.config.data;
    if data.kind == DataKind::Synthetic {
        return Ok(TimeRange::ALL);
    }
    let parse = |key: &str, text: &Option<String>, default: i64| -> Result<i64> {
        let Some(text) = text else {
            return Ok(default);
        };
        parse_timestamp(text).map(|t| t.0).ok_or_else(|| {
            loaded.range(RangeError::new(
                format!("data.{key}"),
                format!("a date or datetime such as \"2024-01-01\", found {text:?}"),
            ))
        })
    };
    let range = TimeRange {
        start: parse("start", &data.start, i64::MIN)?,
        end: parse("end", &data.end, i64::MAX)?,
    };
    if range.start >= range.end {
        bail!(loaded.range(RangeError::new(
            "data.end",
            format!(
                "an end after start ({}), found {}",
                data.start.as_deref().unwrap_or_default(),
                data.end.as_deref().unwrap_or_default()
            ),
        )));
    }
    Ok(range)
}

/// Rejects loaded data where two series share an instrument or a series is empty.
pub(crate) fn checked(loaded: &LoadedConfig, data: LoadedData) -> Result<LoadedData> {
    one_source_each(loaded, data.series.iter().map(|s| s.instrument.as_str()))?;
    warn_of_jumps(loaded, &data.series);
    if let Some(empty) = data.series.iter().find(|s| s.bars.is_empty()) {
        bail!(loaded.range(RangeError::new(
            "data",
            format!(
                "bars for every instrument, but {} has none within start/end",
                empty.instrument
            ),
        )));
    }
    Ok(data)
}

/// Rejects two sources of one instrument name.
fn one_source_each<'a>(loaded: &LoadedConfig, names: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!(loaded.range(RangeError::new(
            "data.path",
            format!(
                "one source per instrument, but {} comes from two files (name them with \
                 `instruments`)",
                pair[0]
            ),
        )));
    }
    Ok(())
}

/// Prints a data-quality warning for each implausible jump in the bars (a few per instrument):
/// such a bar passes every check, yet one shifted decimal point can buy a billion shares.
fn warn_of_jumps(loaded: &LoadedConfig, series: &[BarSeries]) {
    let multiple = loaded.config.data.jump_warning;
    if multiple <= 0.0 {
        return;
    }
    for s in series {
        let jumps = market_data::quality::implausible_jumps(&s.bars, multiple);
        for j in jumps.iter().take(3) {
            eprintln!(
                "data-quality warning: {} at {}: close {} after {} moves {:.0}x the recent bars' \
                 range (`data.jump_warning` = {multiple}; a shifted decimal point, a split?)",
                s.instrument, j.ts, j.close, j.previous, j.multiple
            );
        }
        if jumps.len() > 3 {
            eprintln!(
                "data-quality warning: {} has {} such jumps in all",
                s.instrument,
                jumps.len()
            );
        }
    }
}

/// Returns the instrument name of each file: `[data] instruments` in file order, or the stems.
fn file_names(loaded: &LoadedConfig, files: &[PathBuf]) -> Result<Vec<InstrumentId>> {
    match &loaded.config.data.instruments {
        Some(Instruments::Names(names)) => {
            if names.len() != files.len() {
                bail!(loaded.range(RangeError::new(
                    "data.instruments",
                    format!(
                        "one name per file: {} files match, {} names given",
                        files.len(),
                        names.len()
                    ),
                )));
            }
            Ok(names.iter().map(InstrumentId::new).collect())
        }
        _ => Ok(files
            .iter()
            .map(|f| {
                InstrumentId::new(
                    f.file_stem()
                        .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
                )
            })
            .collect()),
    }
}

/// Returns the files `data.path` names (a file, a glob, or a folder's files with one of
/// `extensions`), sorted by name.
fn data_files(loaded: &LoadedConfig, extensions: &[&str]) -> Result<Vec<PathBuf>> {
    let written = loaded.config.data.path.as_deref().unwrap_or_default();
    let path = loaded.resolve(written);
    let text = path.to_string_lossy().into_owned();
    let mut files: Vec<PathBuf> = if text.contains(['*', '?', '[']) {
        let pattern = glob::glob(&text).map_err(|e| {
            loaded.range(RangeError::new(
                "data.path",
                format!("a valid glob pattern ({e}), found {written:?}"),
            ))
        })?;
        pattern
            .filter_map(std::result::Result::ok)
            .filter(|p| p.is_file())
            .collect()
    } else {
        require_exists(loaded, "data.path", &path)?;
        if path.is_dir() {
            std::fs::read_dir(&path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| extensions.iter().any(|e| x.eq_ignore_ascii_case(e)))
                })
                .collect()
        } else {
            vec![path]
        }
    };
    files.sort();
    if files.is_empty() {
        bail!(loaded.range(RangeError::new(
            "data.path",
            format!(
                "at least one .{} file, but {written:?} matches none",
                extensions.join(" or .")
            )
        )));
    }
    Ok(files)
}
