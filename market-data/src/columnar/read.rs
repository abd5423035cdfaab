//! Streaming readers of Parquet and Arrow IPC (file and stream) files: only the needed columns,
//! one record batch at a time, so a file of any size is read in bounded memory.

use super::decode::{Decoder, TimeRange};
use super::schema::{INSTRUMENT, Layout, RecordKind, TimeEncoding};
use super::split;
use crate::{
    Bar, BarSeries, Error, InstrumentId, InvalidRecord, Quote, Result, RowProblem, Timestamp, Trade,
};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per record batch read: 8192 bars are 384 KiB, so a hundred instruments with a batch in
/// hand and one in flight stay under 100 MiB.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

/// The file formats market data comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file format (random access, with a footer; `.arrow`, `.feather`).
    ArrowFile,
    /// Arrow IPC streaming format (`.arrows`, or an `.arrow` file without the file magic).
    ArrowStream,
    /// Comma-separated text.
    Csv,
}

impl FileFormat {
    /// Returns the format a file's extension names: `.parquet`/`.pq`, `.arrow`/`.feather`/`.ipc`
    /// (the file or the stream format, told apart by the file's first bytes when it exists),
    /// `.arrows`, `.csv`.
    pub fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" | "pq" => Some(Self::Parquet),
            "arrows" => Some(Self::ArrowStream),
            "arrow" | "feather" | "ipc" => {
                let mut magic = [0u8; 6];
                let stream = File::open(path)
                    .and_then(|mut f| f.read_exact(&mut magic))
                    .is_ok_and(|()| &magic != b"ARROW1");
                Some(if stream {
                    Self::ArrowStream
                } else {
                    Self::ArrowFile
                })
            }
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }

    /// Returns the format's name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Parquet => "Parquet",
            Self::ArrowFile => "Arrow IPC file",
            Self::ArrowStream => "Arrow IPC stream",
            Self::Csv => "CSV",
        }
    }
}

pub(crate) type Batches =
    Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>> + Send>;

/// An open file's undecoded batches (projected to the columns `kind` needs), with its schema.
pub(crate) struct RawFile {
    pub(crate) batches: Batches,
    /// The whole schema, before projection.
    pub(crate) schema: SchemaRef,
    /// The layout in the whole schema (see [`Layout::projected`] for the batches').
    pub(crate) layout: Layout,
    /// Rows of the file skipped before the first batch.
    pub(crate) rows_before: u64,
    /// Whether row groups were skipped as outside the time range.
    pub(crate) skipped_groups: bool,
    pub(crate) format: FileFormat,
}

impl RawFile {
    /// Opens `path` as [`RecordReader::open`] does, without decoding.
    ///
    /// # Errors
    /// As [`RecordReader::open`].
    pub(crate) fn open(
        path: &Path,
        kind: RecordKind,
        range: TimeRange,
        batch_rows: usize,
    ) -> Result<Self> {
        let format = FileFormat::of(path).ok_or_else(|| Error::Schema {
            path: path.to_path_buf(),
            message: "unknown extension: expected .parquet, .arrow, .arrows, .feather or .ipc"
                .into(),
        })?;
        let bad = |m: String| decode_error(path, format)(m);
        let file = File::open(path).map_err(io(path))?;
        let mut skipped_groups = false;
        let (batches, schema, layout, rows_before): (Batches, SchemaRef, Layout, u64) = match format
        {
            FileFormat::Parquet => {
                let split_file = file.try_clone().map_err(io(path))?;
                let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                    .map_err(|e| bad(e.to_string()))?;
                let schema = builder.schema().clone();
                let layout = Layout::resolve(&schema, kind, path)?;
                let roots = layout.projection();
                let (groups, rows_before) = row_groups_in_range(builder.metadata(), &layout, range);
                skipped_groups = groups.len() < builder.metadata().num_row_groups();
                let meta = Arc::clone(builder.metadata());
                let split = split::split_columns(&meta, &schema, &roots, &groups);
                // Prices and sizes split into byte streams are decoded a page at a time beside
                // parquet's reader of the other columns (see [`split`]).
                let rest: Vec<usize> = (roots.iter().copied())
                    .filter(|c| !split.contains(c))
                    .collect();
                // Parquet's reader sets each batch's rows: with no other column, it reads all.
                let splits = !split.is_empty() && !rest.is_empty();
                let mask = ProjectionMask::roots(
                    builder.parquet_schema(),
                    if splits { rest } else { roots.clone() },
                );
                // Whole row groups, no row selection, filter, offset or limit: the split
                // columns pair their values with these rows one for one.
                let reader = builder
                    .with_projection(mask)
                    .with_batch_size(batch_rows.max(1))
                    .with_row_groups(groups.clone())
                    .build()
                    .map_err(|e| bad(e.to_string()))?;
                let batches: Batches = if !splits {
                    Box::new(reader)
                } else {
                    let projected =
                        Arc::new(schema.project(&roots).map_err(|e| bad(e.to_string()))?);
                    Box::new(split::SplitBatches::new(
                        split_file, meta, projected, &roots, &split, groups, reader,
                    ))
                };
                (batches, schema, layout, rows_before)
            }
            FileFormat::ArrowFile => ipc(path, kind, format, |f, p| {
                arrow::ipc::reader::FileReader::try_new_buffered(f, p)
            })?,
            FileFormat::ArrowStream => ipc(path, kind, format, |f, p| {
                arrow::ipc::reader::StreamReader::try_new_buffered(f, p)
            })?,
            FileFormat::Csv => {
                return Err(Error::Schema {
                    path: path.to_path_buf(),
                    message: "a CSV file is read by the CSV reader, not as columnar data".into(),
                });
            }
        };
        Ok(Self {
            batches,
            schema,
            layout,
            rows_before,
            skipped_groups,
            format,
        })
    }
}

/// One open columnar file, read batch by batch.
pub struct RecordReader {
    batches: Batches,
    decoder: Decoder,
    format: FileFormat,
    path: PathBuf,
    schema: SchemaRef,
    layout: Layout,
    skipped_groups: bool,
}

impl std::fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn decode_error(path: &Path, format: FileFormat) -> impl FnOnce(String) -> Error + '_ {
    move |message| Error::Decode {
        path: path.to_path_buf(),
        format: format.name(),
        message,
    }
}

impl RecordReader {
    /// Opens `path` (Parquet or Arrow IPC) holding `kind` records, keeping rows within `range`.
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be opened, [`Error::Decode`] if it is not a valid file of its
    /// format, [`Error::Schema`] if a column is missing or mistyped.
    pub fn open(
        path: &Path,
        kind: RecordKind,
        range: TimeRange,
        batch_rows: usize,
    ) -> Result<Self> {
        let RawFile {
            batches,
            schema,
            layout,
            rows_before,
            skipped_groups,
            format,
        } = RawFile::open(path, kind, range, batch_rows)?;
        let decoder = Decoder::new(
            layout.projected(),
            kind,
            path.to_path_buf(),
            range,
            rows_before,
        );
        Ok(Self {
            batches,
            decoder,
            format,
            path: path.to_path_buf(),
            schema,
            layout,
            skipped_groups,
        })
    }

    /// Returns the file's schema (every column, before projection).
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Returns the file's format.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// Returns true when the file has an instrument column.
    pub fn has_instrument_column(&self) -> bool {
        self.layout.instrument.is_some()
    }

    /// Returns the last timestamp read so far.
    pub fn last(&self) -> Option<Timestamp> {
        self.decoder.last()
    }

    /// Returns true when row groups of the file were skipped as outside the time range, so a
    /// reader that yields nothing may still be reading a file with rows.
    pub(crate) fn skipped_row_groups(&self) -> bool {
        self.skipped_groups
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.decoder.past_end() {
            return Ok(None);
        }
        self.batches
            .next()
            .transpose()
            .map_err(|e| decode_error(&self.path, self.format)(e.to_string()))
    }

    /// Appends the bars of the next batch to `out`; returns false at the end of the file.
    ///
    /// # Errors
    /// [`Error::Decode`] for a corrupt batch, [`Error::InvalidRecord`] for a bad row.
    pub fn next_bars(&mut self, out: &mut Vec<Bar>) -> Result<bool> {
        match self.next_batch()? {
            Some(batch) => self.decoder.bars(&batch, out).map(|()| true),
            None => Ok(false),
        }
    }

    /// Appends the trades of the next batch to `out`; returns false at the end of the file.
    ///
    /// # Errors
    /// As [`RecordReader::next_bars`].
    pub fn next_trades(&mut self, out: &mut Vec<(Timestamp, Trade)>) -> Result<bool> {
        match self.next_batch()? {
            Some(batch) => self.decoder.trades(&batch, out).map(|()| true),
            None => Ok(false),
        }
    }

    /// Appends the quotes of the next batch to `out`; returns false at the end of the file.
    ///
    /// # Errors
    /// As [`RecordReader::next_bars`].
    pub fn next_quotes(&mut self, out: &mut Vec<(Timestamp, Quote)>) -> Result<bool> {
        match self.next_batch()? {
            Some(batch) => self.decoder.quotes(&batch, out).map(|()| true),
            None => Ok(false),
        }
    }
}

/// Returns the Parquet leaf column of an integer timestamp (whose statistics bound the times)
/// and its unit in nanoseconds. The layout's index counts Arrow's top-level columns, which is the
/// leaf's index only while no nested column comes before it.
fn time_leaf(meta: &ParquetMetaData, layout: &Layout) -> Option<(usize, i64)> {
    let (root, TimeEncoding::Int64 { nanos_per_unit }) = layout.time else {
        return None;
    };
    let schema = meta.file_metadata().schema_descr();
    let leaf = (0..schema.num_columns()).find(|&i| schema.get_column_root_idx(i) == root)?;
    Some((leaf, nanos_per_unit))
}

/// Opens an Arrow IPC file (either format) twice: once for its schema, then projected to the
/// columns `kind` needs.
fn ipc<R>(
    path: &Path,
    kind: RecordKind,
    format: FileFormat,
    open: impl Fn(File, Option<Vec<usize>>) -> std::result::Result<R, ArrowError>,
) -> Result<(Batches, SchemaRef, Layout, u64)>
where
    R: arrow::record_batch::RecordBatchReader + Send + 'static,
{
    let bad = |e: ArrowError| decode_error(path, format)(e.to_string());
    let schema = open(File::open(path).map_err(io(path))?, None)
        .map_err(bad)?
        .schema();
    let layout = Layout::resolve(&schema, kind, path)?;
    let reader = open(
        File::open(path).map_err(io(path))?,
        Some(layout.projection()),
    )
    .map_err(bad)?;
    Ok((Box::new(reader), schema, layout, 0))
}

/// Returns the row groups that may hold rows within `range` (by the timestamp column's
/// statistics) and the number of rows before the first of them. Row groups after the range are
/// dropped too; without statistics every group is kept.
fn row_groups_in_range(
    meta: &ParquetMetaData,
    layout: &Layout,
    range: TimeRange,
) -> (Vec<usize>, u64) {
    let all: Vec<usize> = (0..meta.num_row_groups()).collect();
    if range.is_all() {
        return (all, 0);
    }
    let Some((column, nanos_per_unit)) = time_leaf(meta, layout) else {
        return (all, 0);
    };
    let span = |g: usize| group_span(meta, column, nanos_per_unit, g);
    // Leading groups wholly before the range are skipped, counting their rows so that error
    // messages still give the row number in the file.
    let mut first = 0;
    let mut rows_before = 0;
    while first < all.len() && span(first).is_some_and(|(_, hi)| hi < range.start) {
        rows_before += meta.row_group(first).num_rows().max(0) as u64;
        first += 1;
    }
    let mut end = first;
    while end < all.len() && span(end).is_none_or(|(lo, _)| lo < range.end) {
        end += 1;
    }
    (all[first..end].to_vec(), rows_before)
}

/// Returns the first and last instants of row group `g` (nanoseconds) by the statistics of its
/// time column (leaf `column`, in units of `nanos_per_unit`), if it has them.
fn group_span(
    meta: &ParquetMetaData,
    column: usize,
    nanos_per_unit: i64,
    g: usize,
) -> Option<(i64, i64)> {
    let Some(Statistics::Int64(s)) = meta.row_group(g).column(column).statistics() else {
        return None;
    };
    let (&lo, &hi) = (s.min_opt()?, s.max_opt()?);
    Some((
        lo.saturating_mul(nanos_per_unit),
        hi.saturating_mul(nanos_per_unit),
    ))
}

/// A Parquet file's metadata and its time column's leaf and unit (see [`time_leaf`]).
type Footer = (Arc<ParquetMetaData>, Option<(usize, i64)>);

/// Reads the [`Footer`] of a Parquet file of `kind` records; `None` for a file of another
/// format.
fn parquet_footer(path: &Path, kind: RecordKind) -> Result<Option<Footer>> {
    if FileFormat::of(path) != Some(FileFormat::Parquet) {
        return Ok(None);
    }
    let file = File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| decode_error(path, FileFormat::Parquet)(e.to_string()))?;
    let layout = Layout::resolve(builder.schema(), kind, path)?;
    let meta = builder.metadata().clone();
    let leaf = time_leaf(&meta, &layout);
    Ok(Some((meta, leaf)))
}

/// Returns the first and last timestamps of a Parquet file from its footer statistics, without
/// reading data, or `None` when it has no usable statistics (or is not Parquet).
pub fn parquet_time_span(path: &Path, kind: RecordKind) -> Result<Option<(Timestamp, Timestamp)>> {
    let Some((meta, Some((column, nanos_per_unit)))) = parquet_footer(path, kind)? else {
        return Ok(None);
    };
    let mut span: Option<(i64, i64)> = None;
    for g in 0..meta.num_row_groups() {
        let Some((lo, hi)) = group_span(&meta, column, nanos_per_unit, g) else {
            return Ok(None);
        };
        span = Some(span.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    }
    Ok(span.map(|(a, b)| (Timestamp(a), Timestamp(b))))
}

/// Returns a number of rows of a file that certainly lie within `range`, from a Parquet file's
/// footer alone: every row when the range holds every instant, else the rows of the row groups
/// wholly inside it by their time statistics (a group across its edge counts none); 0 for a
/// file of another format. A lower bound on what a reader of the file within `range` yields.
pub fn rows_within_at_least(path: &Path, kind: RecordKind, range: TimeRange) -> Result<u64> {
    let Some((meta, leaf)) = parquet_footer(path, kind)? else {
        return Ok(0);
    };
    let rows = |g: usize| meta.row_group(g).num_rows().max(0) as u64;
    if range.is_all() {
        return Ok((0..meta.num_row_groups()).map(rows).sum());
    }
    let Some((column, nanos_per_unit)) = leaf else {
        return Ok(0);
    };
    Ok((0..meta.num_row_groups())
        .filter(|&g| {
            group_span(&meta, column, nanos_per_unit, g)
                .is_some_and(|(lo, hi)| lo >= range.start && hi < range.end)
        })
        .map(rows)
        .sum())
}

/// Reads a whole bar file into series: one series named `instrument` for a file without an
/// instrument column, else one series per instrument found in the column (in order of first
/// appearance), each in strictly increasing time order.
///
/// # Errors
/// As [`RecordReader::open`] and [`RecordReader::next_bars`], and [`Error::Empty`] when no bar
/// is left.
pub fn read_bar_file(
    path: &Path,
    instrument: InstrumentId,
    range: TimeRange,
) -> Result<Vec<BarSeries>> {
    let mut reader = RecordReader::open(path, RecordKind::Bars, range, 65_536)?;
    if !reader.has_instrument_column() {
        let mut bars = Vec::new();
        while reader.next_bars(&mut bars)? {}
        if bars.is_empty() {
            return Err(Error::Empty {
                path: path.to_path_buf(),
            });
        }
        return Ok(vec![BarSeries::new(instrument, bars)]);
    }
    read_multi_instrument(reader, path, range)
}

/// Splits a file with an instrument column into one series per instrument.
fn read_multi_instrument(
    mut reader: RecordReader,
    path: &Path,
    range: TimeRange,
) -> Result<Vec<BarSeries>> {
    let projected = reader.layout.projected();
    let Some(column) = projected.instrument else {
        return Ok(Vec::new());
    };
    // One decoder per instrument, so each checks its own time order. A decoder sees only its
    // instrument's rows, so its errors are mapped back to rows of the file.
    let mut decoders: Vec<(String, Decoder, Vec<Bar>)> = Vec::new();
    // Rows of the file before the current batch, skipped row groups included.
    let mut file_rows = reader.decoder.rows();
    while let Some(batch) = reader.next_batch()? {
        let names = arrow::compute::cast(batch.column(column), &arrow::datatypes::DataType::Utf8)
            .map_err(|e| decode_error(path, reader.format)(e.to_string()))?;
        let names = names.as_string::<i32>();
        if let Some(row) = (0..names.len()).find(|&i| names.is_null(i)) {
            // A null would otherwise read as an instrument named "".
            return Err(Error::InvalidRecord {
                path: path.to_path_buf(),
                record: InvalidRecord {
                    row: file_rows + row as u64 + 1,
                    column: Some(INSTRUMENT),
                    problem: RowProblem::Empty {
                        expected: "an instrument name (the column holds a null)",
                    },
                },
            });
        }
        let mut distinct: Vec<&str> = Vec::new();
        for i in 0..names.len() {
            let name = names.value(i);
            if !distinct.contains(&name) {
                distinct.push(name);
            }
        }
        for name in distinct {
            let mask = arrow::array::BooleanArray::from_iter(
                (0..names.len()).map(|i| Some(names.value(i) == name)),
            );
            let rows = filter_record_batch(&batch, &mask)
                .map_err(|e| decode_error(path, reader.format)(e.to_string()))?;
            let at = match decoders.iter().position(|(n, ..)| n == name) {
                Some(at) => at,
                None => {
                    let decoder = Decoder::new(
                        projected.clone(),
                        RecordKind::Bars,
                        path.to_path_buf(),
                        range,
                        0,
                    );
                    decoders.push((name.to_owned(), decoder, Vec::new()));
                    decoders.len() - 1
                }
            };
            let (_, decoder, bars) = &mut decoders[at];
            let before = decoder.rows();
            decoder.bars(&rows, bars).map_err(|error| match error {
                Error::InvalidRecord { path, mut record } => {
                    // The decoder's row `before + k + 1` is the k-th row of `name` in the batch.
                    let k = (record.row - before - 1) as usize;
                    let at = (0..names.len()).filter(|&i| names.value(i) == name).nth(k);
                    record.row = file_rows + at.unwrap_or(k) as u64 + 1;
                    Error::InvalidRecord { path, record }
                }
                other => other,
            })?;
        }
        file_rows += batch.num_rows() as u64;
    }
    let series: Vec<BarSeries> = decoders
        .into_iter()
        .filter(|(_, _, bars)| !bars.is_empty())
        .map(|(name, _, bars)| BarSeries::new(InstrumentId::new(name), bars))
        .collect();
    if series.is_empty() {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(series)
}
