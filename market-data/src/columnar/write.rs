//! Writers of bars, trades and quotes as Parquet (zstd) or Arrow IPC, in the layout the readers
//! expect, batch by batch so that generating or converting any amount of data stays in bounded
//! memory.

use super::read::FileFormat;
use super::schema::{INSTRUMENT, RecordKind, SIDE, TIMESTAMP, schema_of};
use crate::{Bar, Error, Quote, Result, Side, Timestamp, Trade};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per Parquet row group: large enough for fast scans, small enough that a date-range read
/// skips most of a file by the groups' statistics.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 1 << 17;

/// Bytes per Parquet data page (the crate's default is 1 MiB).
const DATA_PAGE_BYTES: usize = 128 * 1024;

/// Names how [`RecordWriter`] lays out Parquet files (encodings, row groups, pages): changed
/// with any change to them, so data generated for a benchmark by an older quant is regenerated
/// instead of measured.
pub const PARQUET_LAYOUT: &str =
    "2: byte-stream-split numbers, delta-packed times, dictionary names, 128 Ki-row groups";

/// Rows per record batch handed to a writer: an Arrow IPC file keeps batches as written, and
/// batches of a few MiB decode within the CPU caches, where one of a million rows does not.
pub const WRITE_BATCH_ROWS: usize = 1 << 16;

enum Sink {
    Parquet(Box<ArrowWriter<File>>),
    ArrowFile(arrow::ipc::writer::FileWriter<BufWriter<File>>),
    ArrowStream(arrow::ipc::writer::StreamWriter<BufWriter<File>>),
}

/// A file being written, one batch at a time; [`RecordWriter::finish`] completes it.
pub struct RecordWriter {
    sink: Sink,
    schema: SchemaRef,
    kind: RecordKind,
    instrument: Option<String>,
    path: PathBuf,
    format: FileFormat,
    rows: u64,
    /// The file is written beside `path` and renamed into place by `finish`.
    pending: crate::atomic::PendingFile,
}

impl std::fmt::Debug for RecordWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordWriter")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

/// The compression of Parquet files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Zstandard at a level (1 by default: the smallest files per unit of write time here).
    Zstd(i32),
    /// Snappy: larger files, less memory and CPU to read.
    Snappy,
    /// No compression.
    Uncompressed,
}

impl std::str::FromStr for Codec {
    type Err = String;

    /// Parses `zstd`, `zstd:<level>`, `snappy` or `none`.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let expected = || format!("zstd, zstd:<level 1-22>, snappy or none, found {text:?}");
        match text {
            "zstd" => Ok(Codec::Zstd(1)),
            "snappy" => Ok(Codec::Snappy),
            "none" | "uncompressed" => Ok(Codec::Uncompressed),
            _ => match text.strip_prefix("zstd:").map(str::parse::<i32>) {
                Some(Ok(level)) if (1..=22).contains(&level) => Ok(Codec::Zstd(level)),
                _ => Err(expected()),
            },
        }
    }
}

impl Codec {
    fn parquet(self) -> std::result::Result<Compression, String> {
        Ok(match self {
            Codec::Zstd(level) => {
                Compression::ZSTD(ZstdLevel::try_new(level).map_err(|e| e.to_string())?)
            }
            Codec::Snappy => Compression::SNAPPY,
            Codec::Uncompressed => Compression::UNCOMPRESSED,
        })
    }
}

/// How Parquet files of `kind` are laid out ([`PARQUET_LAYOUT`] names it).
///
/// Prices and sizes are split into byte streams (`BYTE_STREAM_SPLIT`: every value's first byte,
/// then every second byte, ...): a price series' sign, exponent and leading mantissa bytes barely
/// change from row to row, so they compress to almost nothing, and the trailing bytes, which are
/// noise, pass through the codec as they are. Timestamps are delta-packed: regular bars are one
/// delta repeated. The README gives the sizes and speeds measured.
fn parquet_properties(kind: RecordKind, compression: Compression) -> WriterProperties {
    let column = |name: &str| ColumnPath::from(name);
    let mut props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(DEFAULT_ROW_GROUP_ROWS))
        // A reader holds about one compressed and one decoded page per column: small pages keep
        // a hundred instruments read side by side within memory bounds.
        .set_data_page_size_limit(DATA_PAGE_BYTES)
        // Prices, sizes and times rarely repeat: a dictionary would not shrink them, and a
        // reader keeps each column's dictionary for a whole row group. Instrument names and
        // trade sides repeat on every row, so they are the exception.
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled(column(INSTRUMENT), true)
        .set_column_dictionary_enabled(column(SIDE), true)
        .set_column_encoding(column(TIMESTAMP), Encoding::DELTA_BINARY_PACKED);
    for name in kind.value_columns() {
        props = props.set_column_encoding(column(name), Encoding::BYTE_STREAM_SPLIT);
    }
    props.build()
}

impl RecordWriter {
    /// Creates `path` (format by extension: Parquet, or Arrow IPC file/stream) for `kind`
    /// records, with an `instrument` column holding `instrument` when it is given; Parquet is
    /// zstd-compressed.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be created, [`Error::Schema`] for an unknown extension.
    pub fn create(path: &Path, kind: RecordKind, instrument: Option<&str>) -> Result<Self> {
        Self::create_with(path, kind, instrument, Codec::Zstd(1))
    }

    /// Creates a file as [`RecordWriter::create`] does, compressing Parquet with `codec`.
    ///
    /// # Errors
    /// As [`RecordWriter::create`].
    pub fn create_with(
        path: &Path,
        kind: RecordKind,
        instrument: Option<&str>,
        codec: Codec,
    ) -> Result<Self> {
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("arrow" | "feather" | "ipc") => FileFormat::ArrowFile,
            Some("arrows") => FileFormat::ArrowStream,
            Some("parquet" | "pq") => FileFormat::Parquet,
            _ => {
                return Err(Error::Schema {
                    path: path.to_path_buf(),
                    message: "unknown extension: expected .parquet, .arrow or .arrows".into(),
                });
            }
        };
        let schema = schema_of(kind, instrument.is_some());
        let (pending, file) = crate::atomic::PendingFile::create(path)?;
        let failed = |message: String| Error::Decode {
            path: path.to_path_buf(),
            format: format.name(),
            message,
        };
        let sink = match format {
            FileFormat::Parquet => {
                let props = parquet_properties(kind, codec.parquet().map_err(failed)?);
                let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
                    .map_err(|e| failed(e.to_string()))?;
                Sink::Parquet(Box::new(writer))
            }
            FileFormat::ArrowStream => Sink::ArrowStream(
                arrow::ipc::writer::StreamWriter::try_new(BufWriter::new(file), &schema)
                    .map_err(|e| failed(e.to_string()))?,
            ),
            _ => Sink::ArrowFile(
                arrow::ipc::writer::FileWriter::try_new(BufWriter::new(file), &schema)
                    .map_err(|e| failed(e.to_string()))?,
            ),
        };
        Ok(Self {
            sink,
            schema,
            kind,
            instrument: instrument.map(str::to_owned),
            path: path.to_path_buf(),
            format,
            rows: 0,
            pending,
        })
    }

    fn failed(&self, message: String) -> Error {
        Error::Decode {
            path: self.path.clone(),
            format: self.format.name(),
            message,
        }
    }

    fn columns(&self, times: impl Iterator<Item = Timestamp>, rows: usize) -> Vec<ArrayRef> {
        let times = TimestampNanosecondArray::from_iter_values(times.map(|t| t.0));
        let mut columns: Vec<ArrayRef> = vec![Arc::new(times.with_timezone("UTC"))];
        if let Some(name) = &self.instrument {
            columns.push(Arc::new(StringArray::from_iter_values(
                std::iter::repeat_n(name.as_str(), rows),
            )));
        }
        columns
    }

    fn write(&mut self, columns: Vec<ArrayRef>) -> Result<()> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| self.failed(e.to_string()))?;
        self.rows += batch.num_rows() as u64;
        let result = match &mut self.sink {
            Sink::Parquet(w) => w.write(&batch).map_err(|e| e.to_string()),
            Sink::ArrowFile(w) => w.write(&batch).map_err(|e| e.to_string()),
            Sink::ArrowStream(w) => w.write(&batch).map_err(|e| e.to_string()),
        };
        result.map_err(|m| self.failed(m))
    }

    fn expect(&self, kind: RecordKind) -> Result<()> {
        if self.kind == kind {
            return Ok(());
        }
        Err(Error::Schema {
            path: self.path.clone(),
            message: format!(
                "the file was created for {}, not {}",
                self.kind.as_str(),
                kind.as_str()
            ),
        })
    }

    /// Appends bars.
    ///
    /// # Errors
    /// [`Error::Schema`] if the file is not a bar file, [`Error::Decode`] if writing fails.
    pub fn write_bars(&mut self, bars: &[Bar]) -> Result<()> {
        self.expect(RecordKind::Bars)?;
        let mut columns = self.columns(bars.iter().map(|b| b.ts), bars.len());
        let field = |f: fn(&Bar) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(bars.iter().map(f)))
        };
        columns.extend([
            field(|b| b.open),
            field(|b| b.high),
            field(|b| b.low),
            field(|b| b.close),
            field(|b| b.volume),
        ]);
        self.write(columns)
    }

    /// Appends trades.
    ///
    /// # Errors
    /// As [`RecordWriter::write_bars`].
    pub fn write_trades(&mut self, trades: &[(Timestamp, Trade)]) -> Result<()> {
        self.expect(RecordKind::Trades)?;
        let mut columns = self.columns(trades.iter().map(|t| t.0), trades.len());
        columns.push(Arc::new(Float64Array::from_iter_values(
            trades.iter().map(|t| t.1.price.0),
        )));
        columns.push(Arc::new(Float64Array::from_iter_values(
            trades.iter().map(|t| t.1.qty.0),
        )));
        columns.push(Arc::new(StringArray::from_iter_values(trades.iter().map(
            |t| match t.1.aggressor {
                Side::Buy => "buy",
                Side::Sell => "sell",
            },
        ))));
        self.write(columns)
    }

    /// Appends quotes.
    ///
    /// # Errors
    /// As [`RecordWriter::write_bars`].
    pub fn write_quotes(&mut self, quotes: &[(Timestamp, Quote)]) -> Result<()> {
        self.expect(RecordKind::Quotes)?;
        let mut columns = self.columns(quotes.iter().map(|q| q.0), quotes.len());
        let field = |f: fn(&Quote) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(
                quotes.iter().map(|q| f(&q.1)),
            ))
        };
        columns.extend([
            field(|q| q.bid.0),
            field(|q| q.ask.0),
            field(|q| q.bid_qty.0),
            field(|q| q.ask_qty.0),
        ]);
        self.write(columns)
    }

    /// Completes the file (footer, flush) and returns the rows written.
    ///
    /// # Errors
    /// [`Error::Decode`] if the file cannot be completed.
    pub fn finish(self) -> Result<u64> {
        let failed = |m: String| Error::Decode {
            path: self.path.clone(),
            format: self.format.name(),
            message: m,
        };
        let buffered = match self.sink {
            Sink::Parquet(w) => {
                w.close().map_err(|e| failed(e.to_string()))?;
                None
            }
            Sink::ArrowFile(mut w) => {
                w.finish().map_err(|e| failed(e.to_string()))?;
                Some(w.into_inner().map_err(|e| failed(e.to_string()))?)
            }
            Sink::ArrowStream(mut w) => {
                w.finish().map_err(|e| failed(e.to_string()))?;
                Some(w.into_inner().map_err(|e| failed(e.to_string()))?)
            }
        };
        // The IPC writers buffer: flushed and closed before the file is renamed into place.
        if let Some(buffered) = buffered {
            buffered.into_inner().map_err(|e| failed(e.to_string()))?;
        }
        self.pending.commit()?;
        Ok(self.rows)
    }
}

/// Writes `bars` to `path` in one go (format by extension), with an instrument column when
/// `instrument` is given.
///
/// # Errors
/// As [`RecordWriter::create`] and [`RecordWriter::write_bars`].
pub fn write_bars(path: &Path, bars: &[Bar], instrument: Option<&str>) -> Result<()> {
    let mut writer = RecordWriter::create(path, RecordKind::Bars, instrument)?;
    for chunk in bars.chunks(WRITE_BATCH_ROWS) {
        writer.write_bars(chunk)?;
    }
    writer.finish().map(|_| ())
}
