//! What a data file holds and what is wrong with it, found without stopping at the first problem:
//! schema, rows, time span, instruments, spacing, gaps, duplicates, disorder and bad values.

use crate::columnar::read::{FileFormat, RawFile};
use crate::columnar::schema::TimeEncoding;
use crate::columnar::{RecordKind, TimeRange};
use crate::csv::{OnInvalid, read_bars};
use crate::{Bar, Calendar, InstrumentId, NANOS_PER_DAY, Result, Timestamp, Zone};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// How many of the largest gaps a report lists.
const LARGEST_GAPS: usize = 5;
/// A gap is a spacing above this multiple of the typical spacing.
const GAP_FACTOR: i64 = 3;

/// The findings about one instrument's rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeriesReport {
    /// Rows.
    pub rows: u64,
    /// First and last timestamps.
    pub span: Option<(Timestamp, Timestamp)>,
    /// Rows stamped like the previous row.
    pub duplicates: u64,
    /// Rows stamped before the previous row.
    pub out_of_order: u64,
    /// The most common spacing between consecutive rows.
    pub typical_spacing_ns: Option<i64>,
    /// Places where bars are missing: by the calendar for bars (a weekend or a holiday is not
    /// a gap), spacings over 3 times (`GAP_FACTOR`) the typical one for trades and quotes.
    pub gaps: u64,
    /// The calendar bars were checked against, and whether it was inferred from the data.
    pub calendar: Option<(Calendar, bool)>,
    /// The largest gaps: (last time before, first time after).
    pub largest_gaps: Vec<(Timestamp, Timestamp)>,
    /// Bars whose close moves implausibly far (a shifted decimal point, a split): how many.
    pub jumps: u64,
    /// The first few of them.
    pub jump_examples: Vec<crate::quality::Jump>,
    detector: crate::quality::JumpDetector,
    spacings: HashMap<i64, u64>,
    all_gaps: Vec<(i64, Timestamp, Timestamp)>,
    last: Option<i64>,
}

impl SeriesReport {
    /// Watches a valid bar's prices for implausible jumps.
    fn observe_bar(&mut self, bar: &Bar) {
        if let Some(jump) = self.detector.push(bar) {
            self.jumps += 1;
            if self.jump_examples.len() < 3 {
                self.jump_examples.push(jump);
            }
        }
    }

    fn push(&mut self, ts: i64) {
        self.rows += 1;
        let Some(last) = self.last else {
            self.span = Some((Timestamp(ts), Timestamp(ts)));
            self.last = Some(ts);
            return;
        };
        match ts.cmp(&last) {
            std::cmp::Ordering::Equal => self.duplicates += 1,
            std::cmp::Ordering::Less => self.out_of_order += 1,
            std::cmp::Ordering::Greater => {
                *self.spacings.entry(ts - last).or_default() += 1;
                self.all_gaps
                    .push((ts - last, Timestamp(last), Timestamp(ts)));
            }
        }
        if let Some((first, end)) = &mut self.span {
            *first = (*first).min(Timestamp(ts));
            *end = (*end).max(Timestamp(ts));
        }
        self.last = Some(ts);
    }

    /// Works out the typical spacing and the gaps once every row is in: for bars, against
    /// `calendar` in `zone` (inferred from the bars' weekdays when `None`); for trades and
    /// quotes (`bars` false), by spacing.
    fn finish(&mut self, bars: bool, calendar: Option<Calendar>, zone: Option<Zone>) {
        self.typical_spacing_ns = self
            .spacings
            .iter()
            .max_by_key(|&(spacing, count)| (*count, std::cmp::Reverse(*spacing)))
            .map(|(spacing, _)| *spacing);
        let Some(typical) = self.typical_spacing_ns else {
            return;
        };
        let calendar = bars.then(|| match calendar {
            Some(c) => (c, false),
            None => {
                let first = self.span.map(|(first, _)| first);
                let times = first.into_iter().chain(self.all_gaps.iter().map(|g| g.2));
                (Calendar::infer(times), true)
            }
        });
        self.calendar = calendar;
        let is_gap = |&(spacing, from, to): &(i64, Timestamp, Timestamp)| match calendar {
            Some((c, _)) => {
                spacing > typical && c.missing_bars(zone.unwrap_or(c.zone()), from, to, typical) > 0
            }
            None => spacing > typical * GAP_FACTOR,
        };
        let mut gaps: Vec<_> = self.all_gaps.drain(..).filter(is_gap).collect();
        self.gaps = gaps.len() as u64;
        gaps.sort_by_key(|(spacing, from, _)| (std::cmp::Reverse(*spacing), *from));
        self.largest_gaps = gaps
            .into_iter()
            .take(LARGEST_GAPS)
            .map(|(_, from, to)| (from, to))
            .collect();
        self.spacings.clear();
    }
}

/// Everything found in one file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inspection {
    /// The format read.
    pub format: String,
    /// Every column: name and type.
    pub columns: Vec<(String, String)>,
    /// Rows in the file.
    pub rows: u64,
    /// Per instrument (one, named after the file, without an instrument column).
    pub instruments: BTreeMap<String, SeriesReport>,
    /// Rows with a null, non-finite, non-positive price, negative size or broken OHLC relation.
    pub invalid_rows: u64,
    /// The first few invalid rows described.
    pub invalid_examples: Vec<String>,
}

/// Inspects a bar, trade or quote file (Parquet, Arrow IPC or CSV bars).
///
/// # Errors
/// Only when the file cannot be opened, decoded or matched to `kind`'s schema at all; problems
/// in rows are counted in the report instead.
pub fn inspect(
    path: &Path,
    kind: RecordKind,
    calendar: Option<Calendar>,
    zone: Option<Zone>,
) -> Result<Inspection> {
    if FileFormat::of(path) == Some(FileFormat::Csv) {
        return inspect_csv(path, calendar, zone);
    }
    let raw = RawFile::open(path, kind, TimeRange::ALL, 65_536)?;
    let mut report = Inspection {
        format: raw.format.name().into(),
        columns: raw
            .schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect(),
        ..Inspection::default()
    };
    let layout = raw.layout.projected();
    let stem = file_stem(path);
    for batch in raw.batches {
        let batch = batch.map_err(|e| crate::Error::Decode {
            path: path.to_path_buf(),
            format: raw.format.name(),
            message: e.to_string(),
        })?;
        let names = match layout.instrument {
            Some(i) => Some(
                arrow::compute::cast(batch.column(i), &DataType::Utf8).map_err(|e| {
                    crate::Error::Decode {
                        path: path.to_path_buf(),
                        format: raw.format.name(),
                        message: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        let times = batch.column(layout.time.0);
        let scale = match layout.time.1 {
            TimeEncoding::Int64 { nanos_per_unit } => nanos_per_unit,
            TimeEncoding::Days32 => NANOS_PER_DAY,
        };
        let data = times.to_data();
        let time_at = |i: usize| -> Option<i64> {
            if times.is_null(i) {
                return None;
            }
            match layout.time.1 {
                TimeEncoding::Days32 => Some(i64::from(data.buffer::<i32>(0)[i]) * scale),
                TimeEncoding::Int64 { .. } => data.buffer::<i64>(0)[i].checked_mul(scale),
            }
        };
        for i in 0..batch.num_rows() {
            let row = report.rows + 1;
            report.rows = row;
            let instrument = names
                .as_ref()
                .map_or(stem.as_str(), |n| n.as_string::<i32>().value(i));
            let values = row_values(&batch, &layout.values, kind, i);
            let ts = time_at(i);
            let problem = values.as_ref().err().cloned();
            if let Some(problem) = problem.or_else(|| ts.is_none().then(|| "no timestamp".into())) {
                report.invalid_rows += 1;
                if report.invalid_examples.len() < 10 {
                    report
                        .invalid_examples
                        .push(format!("row {row} ({instrument}): {problem}"));
                }
            }
            if let Some(ts) = ts {
                let series = report.instruments.entry(instrument.to_owned()).or_default();
                series.push(ts);
                if let (RecordKind::Bars, Ok([open, high, low, close, volume])) = (kind, values) {
                    series.observe_bar(&Bar {
                        ts: Timestamp(ts),
                        open,
                        high,
                        low,
                        close,
                        volume,
                    });
                }
            }
        }
    }
    let bars = kind == RecordKind::Bars;
    for series in report.instruments.values_mut() {
        series.finish(bars, calendar, zone);
    }
    Ok(report)
}

/// Describes what is wrong with row `i`, if anything.
/// Returns a row's values, or what is wrong with it.
fn row_values(
    batch: &RecordBatch,
    columns: &[usize],
    kind: RecordKind,
    i: usize,
) -> std::result::Result<[f64; 5], String> {
    let names = kind.value_columns();
    let mut values = [0.0; 5];
    for (k, (&c, name)) in columns.iter().zip(names).enumerate() {
        let column = batch.column(c);
        if column.is_null(i) {
            return Err(format!("`{name}` is null"));
        }
        let value = column.as_primitive::<Float64Type>().value(i);
        let is_size = name.contains("qty") || *name == "volume";
        if !value.is_finite() || (is_size && value < 0.0) || (!is_size && value <= 0.0) {
            return Err(format!("`{name}` is {value}"));
        }
        values[k] = value;
    }
    let problem = match kind {
        RecordKind::Bars => {
            let [open, high, low, close, _] = values;
            crate::csv::check_ohlc(open, high, low, close)
                .err()
                .map(|(_, problem)| problem.to_string())
        }
        RecordKind::Quotes => {
            (values[0] > values[1]).then(|| format!("bid {} above ask {}", values[0], values[1]))
        }
        RecordKind::Trades => None,
    };
    problem.map_or(Ok(values), Err)
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

/// Inspects a CSV bar file: invalid rows are counted (and skipped) by the CSV reader.
fn inspect_csv(path: &Path, calendar: Option<Calendar>, zone: Option<Zone>) -> Result<Inspection> {
    let (series, skipped) = read_bars(path, InstrumentId::new(file_stem(path)), OnInvalid::Skip)?;
    let mut per = SeriesReport::default();
    for bar in &series.bars {
        per.push(bar.ts.0);
        per.observe_bar(bar);
    }
    per.finish(true, calendar, zone);
    Ok(Inspection {
        format: "CSV".into(),
        columns: Vec::new(),
        rows: series.bars.len() as u64 + skipped.skipped as u64,
        instruments: BTreeMap::from([(series.instrument.to_string(), per)]),
        invalid_rows: skipped.skipped as u64,
        invalid_examples: skipped.examples.iter().map(ToString::to_string).collect(),
    })
}
