//! Column tables written both as CSV and as Parquet, so each result file is defined once.

use crate::csv_text;
use crate::error::{Error, Result};
use arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, StringArray, TimestampNanosecondArray, UInt32Array,
    UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit, UInt32Type};
use arrow::record_batch::RecordBatch;
use market_data::{InstrumentId, InstrumentIdx, Timestamp};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use rayon::prelude::*;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

/// The values of one column.
#[derive(Debug, Clone)]
pub enum Values {
    /// Text.
    Text(Vec<String>),
    /// Text that may be missing: `None` is an empty cell (CSV) or null (Parquet), so a reader
    /// can tell "no value" from a value.
    OptText(Vec<Option<String>>),
    /// Numbers; NaN is written as an empty cell (CSV) or null (Parquet).
    Float(Vec<f64>),
    /// Counts and ids.
    Int(Vec<u64>),
    /// UTC timestamps.
    Time(Vec<Timestamp>),
    /// UTC timestamps that may be missing: `None` is an empty cell (CSV) or null (Parquet).
    OptTime(Vec<Option<Timestamp>>),
    /// Text drawn from a few names: each row's index into `names`. Written as `Text` is; a
    /// table of millions of rows naming a handful of instruments builds no string per row.
    Labels {
        /// The names.
        names: Vec<String>,
        /// Each row's name, as an index into `names`.
        codes: Vec<u32>,
    },
}

/// One named column.
#[derive(Debug, Clone)]
pub struct Column {
    /// The header.
    pub name: String,
    /// The values.
    pub values: Values,
}

impl Column {
    /// Returns a text column.
    pub fn text(name: impl Into<String>, values: Vec<String>) -> Self {
        Self {
            name: name.into(),
            values: Values::Text(values),
        }
    }

    /// Returns a text column whose missing values are null.
    pub fn opt_text(name: impl Into<String>, values: Vec<Option<String>>) -> Self {
        Self {
            name: name.into(),
            values: Values::OptText(values),
        }
    }

    /// Returns a text column of `names` chosen by `codes` (see [`Values::Labels`]).
    pub fn labels(name: impl Into<String>, names: Vec<String>, codes: Vec<u32>) -> Self {
        Self {
            name: name.into(),
            values: Values::Labels { names, codes },
        }
    }

    /// Returns a text column of a few fixed names (sides, kinds, statuses), each row kept as an
    /// index into the names met so far: no string per row.
    pub fn few<'a>(name: impl Into<String>, values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut names: Vec<&str> = Vec::new();
        let codes = (values.into_iter())
            .map(|v| match names.iter().position(|n| *n == v) {
                Some(code) => code as u32,
                None => {
                    names.push(v);
                    names.len() as u32 - 1
                }
            })
            .collect();
        Self::labels(name, names.into_iter().map(String::from).collect(), codes)
    }

    /// Returns a text column naming, in each row, one of a run's `instruments` by its index
    /// ("?" for an index past them).
    pub fn instruments(
        name: impl Into<String>,
        instruments: &[InstrumentId],
        rows: impl IntoIterator<Item = InstrumentIdx>,
    ) -> Self {
        let codes = (rows.into_iter()).map(|i| i.0).collect();
        Self::labels(
            name,
            instruments.iter().map(ToString::to_string).collect(),
            codes,
        )
    }

    /// Returns a number column.
    pub fn float(name: impl Into<String>, values: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            values: Values::Float(values),
        }
    }

    /// Returns a count column.
    pub fn int(name: impl Into<String>, values: Vec<u64>) -> Self {
        Self {
            name: name.into(),
            values: Values::Int(values),
        }
    }

    /// Returns a timestamp column.
    pub fn time(name: impl Into<String>, values: Vec<Timestamp>) -> Self {
        Self {
            name: name.into(),
            values: Values::Time(values),
        }
    }

    /// Returns a timestamp column whose missing values are null.
    pub fn opt_time(name: impl Into<String>, values: Vec<Option<Timestamp>>) -> Self {
        Self {
            name: name.into(),
            values: Values::OptTime(values),
        }
    }

    fn len(&self) -> usize {
        match &self.values {
            Values::Text(v) => v.len(),
            Values::OptText(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Time(v) => v.len(),
            Values::OptTime(v) => v.len(),
            Values::Labels { codes, .. } => codes.len(),
        }
    }

    /// Appends the CSV text of row `row` to `out`.
    pub fn write_cell(&self, row: usize, out: &mut String) {
        let mut bytes = Vec::new();
        self.push_cell(row, &mut bytes);
        out.push_str(&String::from_utf8_lossy(&bytes));
    }

    /// Appends the CSV bytes of row `row` to `out`: what `Display` writes (see [`csv_text`]).
    fn push_cell(&self, row: usize, out: &mut Vec<u8>) {
        match &self.values {
            Values::Text(v) => push_escaped(&v[row], out),
            Values::Labels { names, codes } => push_escaped(label(names, codes[row]), out),
            Values::OptText(v) => {
                if let Some(text) = v[row].as_deref() {
                    push_escaped(text, out);
                }
            }
            Values::Float(v) if v[row].is_nan() => {}
            Values::Float(v) => csv_text::push_f64(v[row], out),
            Values::Int(v) => csv_text::push_u64(v[row], out),
            Values::Time(v) => out.extend_from_slice(v[row].text().as_bytes()),
            Values::OptTime(v) => {
                if let Some(ts) = v[row] {
                    out.extend_from_slice(ts.text().as_bytes());
                }
            }
        }
    }

    /// The column's field in Arrow and Parquet: its name and type (NaN numbers and missing
    /// times are nulls, times UTC nanoseconds).
    fn field(&self) -> Field {
        let name = self.name.as_str();
        match &self.values {
            Values::Text(_) | Values::Labels { .. } => Field::new(name, DataType::Utf8, false),
            Values::OptText(_) => Field::new(name, DataType::Utf8, true),
            Values::Float(_) => Field::new(name, DataType::Float64, true),
            Values::Int(_) => Field::new(name, DataType::UInt64, false),
            Values::Time(_) | Values::OptTime(_) => Field::new(
                name,
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                true,
            ),
        }
    }

    /// Returns the column as an Arrow array of [`Column::field`]'s type, its numbers moved in
    /// rather than copied (a run's step tables hand over millions of them a part).
    fn into_arrow(self) -> ArrayRef {
        match self.values {
            Values::Text(v) => Arc::new(StringArray::from_iter_values(v)),
            Values::Labels { names, codes } => Arc::new(StringArray::from_iter_values(
                codes.iter().map(|&c| label(&names, c)),
            )),
            Values::OptText(v) => Arc::new(StringArray::from(v)),
            Values::Float(v) => {
                // Without NaN (nearly always), no copy and no validity mask.
                let values: Float64Array = if has_nan(&v) {
                    v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect()
                } else {
                    Float64Array::from(v)
                };
                Arc::new(values)
            }
            Values::Int(v) => Arc::new(UInt64Array::from(v)),
            // The timestamps are their nanoseconds' bytes: the vector is handed over as is.
            Values::Time(v) => Arc::new(
                TimestampNanosecondArray::from(bytemuck::cast_vec::<Timestamp, i64>(v))
                    .with_timezone("UTC"),
            ),
            Values::OptTime(v) => Arc::new(
                v.iter()
                    .map(|t| t.map(|t| t.0))
                    .collect::<TimestampNanosecondArray>()
                    .with_timezone("UTC"),
            ),
        }
    }

    /// Returns the column as [`Column::into_arrow`] does, except labels: an Arrow dictionary of
    /// their names keyed by their codes, moved in rather than spelled out row by row. The
    /// Parquet writer encodes such a column with one lookup of each name instead of copying
    /// and hashing a string per row (a run's positions name one per step).
    ///
    /// # Errors
    /// Never: a code past the names keys an added [`UNKNOWN_LABEL`].
    fn into_coded_arrow(self) -> std::result::Result<ArrayRef, arrow::error::ArrowError> {
        let Values::Labels {
            mut names,
            mut codes,
        } = self.values
        else {
            return Ok(self.into_arrow());
        };
        // Codes past the names key one more name, as `label` reads them.
        let unknown = names.len() as u32;
        if codes.iter().copied().max().is_some_and(|c| c >= unknown) {
            codes.iter_mut().for_each(|c| *c = (*c).min(unknown));
            names.push(UNKNOWN_LABEL.to_string());
        }
        let names = Arc::new(StringArray::from(names));
        Ok(Arc::new(DictionaryArray::<UInt32Type>::try_new(
            UInt32Array::from(codes),
            names,
        )?))
    }
}

/// Whether `values` hold a NaN: tested a block at a time without a branch per value, which the
/// compiler vectorises (the step tables test tens of millions of values, nearly never with one).
fn has_nan(values: &[f64]) -> bool {
    (values.chunks(1_024)).any(|block| block.iter().fold(false, |nan, x| nan | x.is_nan()))
}

/// What a code past a column's names reads as (an instrument index past the run's).
const UNKNOWN_LABEL: &str = "?";

/// The name `code` stands for ([`UNKNOWN_LABEL`] past the names).
fn label(names: &[String], code: u32) -> &str {
    names
        .get(code as usize)
        .map_or(UNKNOWN_LABEL, String::as_str)
}

fn push_escaped(text: &str, out: &mut Vec<u8>) {
    if text.contains([',', '"', '\n']) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// A table: equal-length named columns.
#[derive(Debug, Clone)]
pub struct Table {
    /// Names the table (`trades`, `features`, ...).
    pub name: String,
    /// Its columns, all of one length.
    pub columns: Vec<Column>,
}

impl Table {
    /// Returns the number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// Writes the table as CSV for a `.csv` path and as Parquet otherwise.
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write(self, path: &Path) -> Result<()> {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            self.write_csv(path)
        } else {
            self.write_parquet(path)
        }
    }

    /// Writes the table as CSV with a header row, through a temporary file renamed into place
    /// once complete (see [`CsvWriter`]).
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut writer = CsvWriter::create(path, self)?;
        writer.write(self)?;
        writer.finish()
    }

    /// Returns the CSV text of rows `rows`.
    fn csv_rows(&self, rows: std::ops::Range<usize>) -> Vec<u8> {
        let mut text = Vec::with_capacity(16 * self.columns.len() * rows.len());
        for row in rows {
            for (i, column) in self.columns.iter().enumerate() {
                if i > 0 {
                    text.push(b',');
                }
                column.push_cell(row, &mut text);
            }
            text.push(b'\n');
        }
        text
    }

    /// Returns the Arrow schema of the table's Parquet file.
    fn schema(&self) -> Arc<Schema> {
        Arc::new(Schema::new(
            self.columns.iter().map(Column::field).collect::<Vec<_>>(),
        ))
    }

    /// Returns the table as one Arrow record batch, with the columns and types of its Parquet
    /// file (NaN numbers and missing times as nulls, times as UTC nanoseconds), its numbers
    /// moved into the batch rather than copied.
    ///
    /// # Errors
    /// When the columns differ in length.
    pub fn into_record_batch(self) -> Result<RecordBatch> {
        self.into_batch(|column| Ok(column.into_arrow()))
    }

    /// Returns the table as the record batch its Parquet file is written from: as
    /// [`Table::into_record_batch`], except that labels are Arrow dictionaries of their names
    /// ([`Column::into_coded_arrow`]), which the writer takes for the file's plain text
    /// columns.
    fn into_parquet_batch(self) -> Result<RecordBatch> {
        self.into_batch(Column::into_coded_arrow)
    }

    /// Returns the table as one record batch of the arrays `arrow` makes of its columns, each
    /// field of [`Table::schema`] with its array's type.
    fn into_batch(
        self,
        arrow: impl Fn(Column) -> std::result::Result<ArrayRef, arrow::error::ArrowError>,
    ) -> Result<RecordBatch> {
        let schema = self.schema();
        let arrow_error = |source| Error::Arrow {
            table: self.name.clone(),
            source,
        };
        let arrays = (self.columns.into_iter())
            .map(arrow)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(arrow_error)?;
        let fields = (schema.fields().iter().zip(&arrays))
            .map(|(field, array)| {
                field
                    .as_ref()
                    .clone()
                    .with_data_type(array.data_type().clone())
            })
            .collect::<Vec<_>>();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(arrow_error)
    }

    /// Writes the table as Parquet, zstd-compressed.
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write_parquet(self, path: &Path) -> Result<()> {
        self.write_parquet_with(path, &[])
    }

    /// Writes the table as Parquet, zstd-compressed, with `metadata` as the file's key-value
    /// metadata (in the footer only, not in the Arrow schema, so readers see it once).
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write_parquet_with(self, path: &Path, metadata: &[(String, String)]) -> Result<()> {
        let mut writer = ParquetWriter::create(path, &self, metadata)?;
        writer.write(self)?;
        writer.finish()
    }
}

/// A CSV file written a part of a table at a time, under a temporary name beside its target
/// that is renamed into place by [`CsvWriter::finish`]: an error or a full disk leaves no file
/// that looks complete. Each part's rows are formatted in blocks on every core of the current
/// rayon pool and written in order, so memory holds a few blocks, never the whole text.
#[derive(Debug)]
pub struct CsvWriter {
    path: std::path::PathBuf,
    pending: market_data::atomic::PendingFile,
    file: std::fs::File,
}

impl CsvWriter {
    /// Creates the file with the header row of `table`'s columns.
    ///
    /// # Errors
    /// Names the file that could not be created or written.
    pub fn create(path: &Path, table: &Table) -> Result<Self> {
        let (pending, file) = market_data::atomic::PendingFile::create(path)
            .map_err(|e| write_error(path, market_data::atomic::io_error(e)))?;
        let mut writer = Self {
            path: path.to_path_buf(),
            pending,
            file,
        };
        let header: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        writer.write_bytes(format!("{}\n", header.join(",")).as_bytes())?;
        Ok(writer)
    }

    /// Appends the rows of `table` (the columns of the header).
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write(&mut self, table: &Table) -> Result<()> {
        // Rows per block: large enough to amortise a task, small enough to keep every core busy.
        const BLOCK: usize = 16_384;
        let rows = table.rows();
        let round = BLOCK * 2 * rayon::current_num_threads();
        for start in (0..rows).step_by(round) {
            let end = (start + round).min(rows);
            let blocks: Vec<Vec<u8>> = (start..end)
                .step_by(BLOCK)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|from| table.csv_rows(from..(from + BLOCK).min(end)))
                .collect();
            for block in blocks {
                self.write_bytes(&block)?;
            }
        }
        Ok(())
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .map_err(|source| write_error(&self.path, source))
    }

    /// Moves the complete file into place.
    ///
    /// # Errors
    /// Names the file that could not be renamed.
    pub fn finish(self) -> Result<()> {
        drop(self.file);
        (self.pending.commit())
            .map_err(|e| write_error(&self.path, market_data::atomic::io_error(e)))
    }
}

/// Rows per row group of the Parquet files written here.
pub const PARQUET_ROW_GROUP_ROWS: usize = 65_536;

/// A Parquet file written a part of a table at a time, in row groups of
/// [`PARQUET_ROW_GROUP_ROWS`] rows (the last one shorter),
/// zstd-compressed, under a temporary name renamed into place by [`ParquetWriter::finish`].
pub struct ParquetWriter {
    path: std::path::PathBuf,
    pending: market_data::atomic::PendingFile,
    writer: ArrowWriter<std::fs::File>,
}

impl std::fmt::Debug for ParquetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl ParquetWriter {
    /// Creates the file for tables with `table`'s columns, with `metadata` as its key-value
    /// metadata (in the footer only, not in the Arrow schema, so readers see it once).
    ///
    /// # Errors
    /// Names the file that could not be created.
    pub fn create(path: &Path, table: &Table, metadata: &[(String, String)]) -> Result<Self> {
        let parquet_error = |source| Error::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let schema = table.schema();
        // Written beside the target and renamed into place once complete.
        let (pending, file) = market_data::atomic::PendingFile::create(path)
            .map_err(|e| write_error(path, market_data::atomic::io_error(e)))?;
        let level = ZstdLevel::try_new(1).map_err(parquet_error)?;
        let metadata = (!metadata.is_empty()).then(|| {
            (metadata.iter())
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect()
        });
        // Row groups of at most a part of the step tables: several files are written at once,
        // and each holds its row group in memory until it is full.
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_key_value_metadata(metadata)
            .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
            // Statistics per row group, not per page: a long run's step tables have a page
            // every 20,000 rows, whose index entries the writer holds until the file closes
            // (memory that grew with the run); readers prune time-ordered tables by row group.
            .set_statistics_enabled(EnabledStatistics::Chunk)
            // Dictionaries only for text (names, sizes, reasons): equity, prices and times
            // hardly repeat, and interning millions of them cost more than the rest of the
            // writing.
            .set_dictionary_enabled(false)
            // Version 2 data pages compress a page's values straight into the page. Version 1
            // copied each page (a megabyte) into a buffer of its levels, then compressed it into
            // another, moved by reallocation once zstd's bound passed its size: a tenth of the
            // writing's work went to those copies.
            .set_writer_version(WriterVersion::PARQUET_2_0)
            // Plain values as before, where version 2 would delta-encode integers and text.
            .set_encoding(Encoding::PLAIN);
        for column in &table.columns {
            // Times step regularly: delta-packed, a run's timestamps take a few bits each
            // instead of the most of its step tables' bytes (20 M minutes: 1 MB, not 130 MB).
            if matches!(column.values, Values::Time(_) | Values::OptTime(_)) {
                let path = parquet::schema::types::ColumnPath::from(column.name.as_str());
                props = props.set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
            }
            // No min/max for measured values (equity, prices, P&L): nobody prunes row groups by
            // them, and finding them (NaN-aware) cost more than compressing the column. Nor for
            // a few names repeated (instruments, sides), which prune nothing either.
            if matches!(column.values, Values::Float(_) | Values::Labels { .. }) {
                let path = parquet::schema::types::ColumnPath::from(column.name.as_str());
                props = props.set_column_statistics_enabled(path, EnabledStatistics::None);
            }
            // Text is dictionary-encoded. Labels come as Arrow dictionaries
            // ([`Column::into_coded_arrow`]), whose names the writer hashes once each rather
            // than once per row.
            if matches!(
                column.values,
                Values::Text(_) | Values::OptText(_) | Values::Labels { .. }
            ) {
                let path = parquet::schema::types::ColumnPath::from(column.name.as_str());
                props = props.set_column_dictionary_enabled(path, true);
            }
        }
        let props = props.build();
        let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(parquet_error)?;
        Ok(Self {
            path: path.to_path_buf(),
            pending,
            writer,
        })
    }

    /// Appends the rows of `table` (the columns it was created with).
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write(&mut self, table: Table) -> Result<()> {
        let batch = table.into_parquet_batch()?;
        let parquet_error = |source| Error::Parquet {
            path: self.path.clone(),
            source,
        };
        // A file closed after a failure elsewhere still holds every part written whole:
        // closing writes the rows held.
        self.writer.write(&batch).map_err(parquet_error)
    }

    /// Writes out the rows held as a row group of their own.
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn end_row_group(&mut self) -> Result<()> {
        self.writer.flush().map_err(|source| Error::Parquet {
            path: self.path.clone(),
            source,
        })
    }

    /// Writes the rows held as a last row group and the footer, and keeps the file as
    /// `<name>.partial` beside its target (a readable file that does not look complete), after a
    /// failure elsewhere stopped the writing.
    ///
    /// # Errors
    /// Names the file that could not be closed or renamed; it is then removed.
    pub fn finish_partial(self) -> Result<()> {
        let path = self.path.clone();
        let mut partial = path.clone().into_os_string();
        partial.push(".partial");
        self.writer.close().map_err(|source| Error::Parquet {
            path: path.clone(),
            source,
        })?;
        std::fs::rename(self.pending.path(), &partial)
            .map_err(|source| write_error(std::path::Path::new(&partial), source))
    }

    /// Writes the footer and moves the complete file into place.
    ///
    /// # Errors
    /// Names the file that could not be written or renamed.
    pub fn finish(self) -> Result<()> {
        self.writer.close().map_err(|source| Error::Parquet {
            path: self.path.clone(),
            source,
        })?;
        (self.pending.commit())
            .map_err(|e| write_error(&self.path, market_data::atomic::io_error(e)))
    }
}

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// A timestamp as the CSV writer before [`csv_text`] formatted it, through chrono.
    fn time_text(ts: Timestamp) -> impl std::fmt::Display {
        ts.to_datetime()
            .format(if ts.0.rem_euclid(86_400_000_000_000) == 0 {
                "%Y-%m-%d"
            } else if ts.0.rem_euclid(1_000_000_000) == 0 {
                "%Y-%m-%dT%H:%M:%SZ"
            } else {
                "%Y-%m-%dT%H:%M:%S%.9fZ"
            })
    }

    /// The CSV writer as it was before [`csv_text`]: `Display` through `fmt` for every cell.
    fn display_csv(table: &Table) -> String {
        let mut text = String::new();
        let header: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        text.push_str(&header.join(","));
        text.push('\n');
        let escaped = |t: &str| {
            if t.contains([',', '"', '\n']) {
                format!("\"{}\"", t.replace('"', "\"\""))
            } else {
                t.to_string()
            }
        };
        for row in 0..table.rows() {
            for (i, column) in table.columns.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                let _ = match &column.values {
                    Values::Text(v) => write!(text, "{}", escaped(&v[row])),
                    Values::Labels { names, codes } => {
                        write!(text, "{}", escaped(label(names, codes[row])))
                    }
                    Values::OptText(v) => write!(
                        text,
                        "{}",
                        v[row].as_deref().map_or_else(String::new, escaped)
                    ),
                    Values::Float(v) if v[row].is_nan() => Ok(()),
                    Values::Float(v) => write!(text, "{}", v[row]),
                    Values::Int(v) => write!(text, "{}", v[row]),
                    Values::Time(v) => write!(text, "{}", time_text(v[row])),
                    Values::OptTime(v) => {
                        v[row].map_or(Ok(()), |ts| write!(text, "{}", time_text(ts)))
                    }
                };
            }
            text.push('\n');
        }
        text
    }

    #[test]
    fn a_nan_is_found_in_any_block() {
        assert!(!has_nan(&[]));
        let mut values = vec![1.5; 3_000];
        assert!(!has_nan(&values));
        for at in [0, 1_023, 1_024, 2_999] {
            values[at] = f64::NAN;
            assert!(has_nan(&values), "NaN at {at}");
            values[at] = f64::INFINITY;
            assert!(!has_nan(&values), "infinity at {at}");
            values[at] = 1.5;
        }
    }

    /// What pandas, polars and DuckDB rely on: version 2 data pages, plain numbers,
    /// delta-packed times, dictionaries for text, and a NaN past the first block a null.
    #[test]
    fn parquet_pages_are_version_2_with_plain_values_and_nan_as_null() {
        use parquet::basic::PageType;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let rows = 2_000;
        let mut floats = vec![0.25; rows];
        floats[1_500] = f64::NAN;
        let table = Table {
            name: "t".into(),
            columns: vec![
                Column::time(
                    "time",
                    (0..rows).map(|k| Timestamp(k as i64 * 60)).collect(),
                ),
                Column::float("float", floats),
                Column::int("int", (0..rows as u64).collect()),
                Column::text("text", (0..rows).map(|k| format!("t{}", k % 3)).collect()),
                Column::few("few", (0..rows).map(|k| ["buy", "sell"][k % 2])),
            ],
        };
        table.write_parquet(&path).unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let group = reader.get_row_group(0).unwrap();
        let encodings = |k: usize| {
            let mut e: Vec<Encoding> = group.metadata().column(k).encodings().collect();
            e.retain(|e| *e != Encoding::RLE);
            e
        };
        assert_eq!(encodings(0), [Encoding::DELTA_BINARY_PACKED]);
        for k in [1, 2] {
            assert_eq!(encodings(k), [Encoding::PLAIN], "column {k}");
        }
        for k in [3, 4] {
            assert!(
                encodings(k).contains(&Encoding::RLE_DICTIONARY),
                "column {k}: {:?}",
                encodings(k)
            );
        }
        for k in 0..5 {
            for page in group.get_column_page_reader(k).unwrap() {
                let kind = page.unwrap().page_type();
                assert!(
                    matches!(kind, PageType::DATA_PAGE_V2 | PageType::DICTIONARY_PAGE),
                    "column {k}: {kind:?}"
                );
            }
        }
        let file = std::fs::File::open(&path).unwrap();
        let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, rows)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let float = batch.column(1);
        assert_eq!((float.null_count(), float.is_null(1_500)), (1, true));
    }

    #[test]
    fn few_names_and_instruments_read_as_their_text() {
        let instruments = [InstrumentId::new("AAPL"), InstrumentId::new("MSFT")];
        let coded = Table {
            name: "t".into(),
            columns: vec![
                Column::few("side", ["buy", "sell", "buy", "buy"]),
                Column::instruments("instrument", &instruments, [1, 0, 2, 1].map(InstrumentIdx)),
            ],
        };
        let text = |v: [&str; 4]| v.map(String::from).to_vec();
        let plain = Table {
            name: "t".into(),
            columns: vec![
                Column::text("side", text(["buy", "sell", "buy", "buy"])),
                Column::text("instrument", text(["MSFT", "AAPL", "?", "MSFT"])),
            ],
        };
        assert_eq!(display_csv(&coded), display_csv(&plain));
        assert_eq!(coded.csv_rows(0..4), plain.csv_rows(0..4));
        // In Parquet the codes are written as a dictionary of their names, and read back as
        // the same text columns, "?" included.
        let dir = tempfile::tempdir().unwrap();
        let read = |table: Table| {
            let path = dir
                .path()
                .join(format!("{}.parquet", table.columns[1].name));
            table.write_parquet(&path).unwrap();
            let file = std::fs::File::open(&path).unwrap();
            let mut batches =
                parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 16).unwrap();
            batches.next().unwrap().unwrap()
        };
        let mut renamed = plain.clone();
        renamed.columns[1].name = "plain instrument".into();
        let from_codes = read(coded.clone());
        let from_text = read(renamed);
        assert_eq!(from_codes.columns(), from_text.columns());
        assert_eq!(from_codes.schema().field(1).data_type(), &DataType::Utf8);
        assert_eq!(
            coded.into_record_batch().unwrap(),
            plain.into_record_batch().unwrap()
        );
    }

    /// Labels written a part at a time, as the step tables are: each part with its own names
    /// (a dictionary per part), a part split across row groups, a part with more names than
    /// rows, and codes past the names; every row reads back as its name.
    #[test]
    fn labels_written_in_parts_read_back_as_their_names() {
        let names = |n: usize| (0..n).map(|k| format!("I{k}")).collect::<Vec<_>>();
        let rows = PARQUET_ROW_GROUP_ROWS + 1_000;
        let parts = [
            (
                names(2),
                (0..rows as u32).map(|k| k % 3).collect::<Vec<_>>(),
            ),
            (names(50), vec![49]),
            (names(1), vec![u32::MAX, 0]),
        ];
        let mut expected = Vec::new();
        for (names, codes) in &parts {
            for &code in codes {
                expected.push(
                    names
                        .get(code as usize)
                        .map_or("?", String::as_str)
                        .to_string(),
                );
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.parquet");
        let mut writer = None;
        for (names, codes) in parts {
            let part = Table {
                name: "labels".into(),
                columns: vec![Column::labels("instrument", names, codes)],
            };
            let file =
                writer.get_or_insert_with(|| ParquetWriter::create(&path, &part, &[]).unwrap());
            file.write(part).unwrap();
            file.end_row_group().unwrap();
        }
        writer.unwrap().finish().unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let mut read = Vec::new();
        for batch in
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 4_096).unwrap()
        {
            let batch = batch.unwrap();
            assert_eq!(batch.schema().field(0).data_type(), &DataType::Utf8);
            let text = batch
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            read.extend(text.iter().map(|t| t.unwrap().to_string()));
        }
        assert_eq!(read, expected);
    }

    #[test]
    fn csv_is_byte_identical_to_the_display_writer() {
        let rows = 100_003; // several blocks and a partial one
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let special = [
            0.0,
            -0.0,
            1e-300,
            1e300,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            1e16,
            42.0,
        ];
        let (mut floats, mut prices, mut ints, mut times, mut texts, mut opt) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for i in 0..rows {
            let r = next();
            floats.push(if i % 50 == 0 {
                special[i / 50 % special.len()]
            } else {
                f64::from_bits(r)
            });
            prices.push(100.0 + (r % 1_000_000) as f64 / 7.0 - 5e4);
            ints.push(r >> (r % 64));
            // Midnights, whole seconds and nanoseconds, 1677..2262.
            let ns = (r as i64) >> 1;
            times.push(match i % 4 {
                0 => Some(Timestamp(ns / 86_400_000_000_000 * 86_400_000_000_000)),
                1 => Some(Timestamp(ns / 1_000_000_000 * 1_000_000_000)),
                2 => Some(Timestamp(-ns)),
                _ => None,
            });
            texts.push(["GOOG", "a,b", "say \"hi\"", "line\nbreak", ""][i % 5].to_string());
            opt.push((i % 3 != 0).then(|| format!("r{i}")));
        }
        let table = Table {
            name: "all".into(),
            columns: vec![
                Column::time(
                    "at",
                    times.iter().map(|t| t.unwrap_or(Timestamp(1))).collect(),
                ),
                Column::opt_time("timestamp", times),
                Column::float("value", floats),
                Column::float("price", prices),
                Column::int("count", ints),
                Column::text("name", texts),
                Column::opt_text("reason", opt),
            ],
        };
        let dir = std::env::temp_dir().join(format!("report-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("all.csv");
        table.write_csv(&path).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let want = display_csv(&table);
        assert_eq!(written.len(), want.len());
        for (i, (a, b)) in written.lines().zip(want.lines()).enumerate() {
            assert_eq!(a, b, "line {i}");
        }
        assert_eq!(written, want);
    }

    #[test]
    fn an_unwritable_folder_is_an_error_naming_the_file() {
        let table = Table {
            name: "t".into(),
            columns: vec![Column::int("n", vec![1, 2])],
        };
        let path = Path::new("/nonexistent-folder-of-report-tests/t.csv");
        let e = table.write_csv(path).unwrap_err().to_string();
        assert!(
            e.contains("/nonexistent-folder-of-report-tests/t.csv"),
            "{e}"
        );
    }
}
