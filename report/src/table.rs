//! Column tables written both as CSV and as Parquet, so each result file is defined once.

use crate::error::{Error, Result};
use arrow::array::{ArrayRef, Float64Array, StringArray, TimestampNanosecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use market_data::Timestamp;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::fmt::Write as _;
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
    /// UTC timestamps; `None` is empty or null.
    Time(Vec<Option<Timestamp>>),
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
    pub fn time(name: impl Into<String>, values: Vec<Option<Timestamp>>) -> Self {
        Self {
            name: name.into(),
            values: Values::Time(values),
        }
    }

    fn len(&self) -> usize {
        match &self.values {
            Values::Text(v) => v.len(),
            Values::OptText(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Time(v) => v.len(),
        }
    }

    /// Appends the CSV text of row `row` to `out`.
    pub fn write_cell(&self, row: usize, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = match &self.values {
            Values::Text(v) => write_escaped(&v[row], out),
            Values::OptText(v) => v[row].as_deref().map_or(Ok(()), |t| write_escaped(t, out)),
            Values::Float(v) if v[row].is_nan() => Ok(()),
            Values::Float(v) => write!(out, "{}", v[row]),
            Values::Int(v) => write!(out, "{}", v[row]),
            Values::Time(v) => v[row].map_or(Ok(()), |ts| write!(out, "{ts}")),
        };
    }

    fn to_arrow(&self) -> (Field, ArrayRef) {
        let name = self.name.as_str();
        match &self.values {
            Values::Text(v) => (
                Field::new(name, DataType::Utf8, false),
                Arc::new(StringArray::from(v.clone())),
            ),
            Values::OptText(v) => (
                Field::new(name, DataType::Utf8, true),
                Arc::new(StringArray::from(v.clone())),
            ),
            Values::Float(v) => {
                let values: Float64Array = v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
                (Field::new(name, DataType::Float64, true), Arc::new(values))
            }
            Values::Int(v) => (
                Field::new(name, DataType::UInt64, false),
                Arc::new(UInt64Array::from(v.clone())),
            ),
            Values::Time(v) => {
                let values: TimestampNanosecondArray = v.iter().map(|t| t.map(|t| t.0)).collect();
                let values = values.with_timezone("UTC");
                let field = Field::new(
                    name,
                    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                    true,
                );
                (field, Arc::new(values))
            }
        }
    }
}

fn write_escaped(text: &str, out: &mut String) -> std::fmt::Result {
    if text.contains([',', '"', '\n']) {
        write!(out, "\"{}\"", text.replace('"', "\"\""))
    } else {
        out.write_str(text)
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
    pub fn write(&self, path: &Path) -> Result<()> {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            self.write_csv(path)
        } else {
            self.write_parquet(path)
        }
    }

    /// Writes the table as CSV with a header row.
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let path = path.to_path_buf();
        let mut text = String::with_capacity(64 * (self.rows() + 1));
        let header: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        text.push_str(&header.join(","));
        text.push('\n');
        for row in 0..self.rows() {
            for (i, column) in self.columns.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                column.write_cell(row, &mut text);
            }
            text.push('\n');
        }
        market_data::atomic::write(&path, text.as_bytes())
            .map_err(|source| Error::Write { path, source })
    }

    /// Writes the table as Parquet, zstd-compressed.
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write_parquet(&self, path: &Path) -> Result<()> {
        self.write_parquet_with(path, &[])
    }

    /// Writes the table as Parquet, zstd-compressed, with `metadata` as the file's key-value
    /// metadata (in the footer only, not in the Arrow schema, so readers see it once).
    ///
    /// # Errors
    /// Names the file that could not be written.
    pub fn write_parquet_with(&self, path: &Path, metadata: &[(String, String)]) -> Result<()> {
        let path = path.to_path_buf();
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) =
            self.columns.iter().map(Column::to_arrow).unzip();
        let schema = Arc::new(Schema::new(fields));
        let batch =
            RecordBatch::try_new(schema.clone(), arrays).map_err(|source| Error::Arrow {
                table: self.name.clone(),
                source,
            })?;
        // Written beside the target and renamed into place once complete.
        let (pending, file) =
            market_data::atomic::PendingFile::create(&path).map_err(|e| Error::Write {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let level = ZstdLevel::try_new(1).map_err(|source| Error::Parquet {
            path: path.clone(),
            source,
        })?;
        let metadata = (!metadata.is_empty()).then(|| {
            (metadata.iter())
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                .collect()
        });
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_key_value_metadata(metadata)
            .build();
        let mut writer =
            ArrowWriter::try_new(file, schema, Some(props)).map_err(|source| Error::Parquet {
                path: path.clone(),
                source,
            })?;
        writer.write(&batch).map_err(|source| Error::Parquet {
            path: path.clone(),
            source,
        })?;
        writer.close().map_err(|source| Error::Parquet {
            path: path.clone(),
            source,
        })?;
        pending.commit().map_err(|e| Error::Write {
            path,
            source: std::io::Error::other(e.to_string()),
        })
    }
}
