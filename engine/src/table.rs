//! Column tables written both as CSV and as Parquet, so each result file is defined once.

use crate::error::{Error, Result};
use arrow::array::{ArrayRef, Float64Array, StringArray, TimestampNanosecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use market_data::Timestamp;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

/// One named column.
#[derive(Debug, Clone)]
pub(crate) enum Column {
    /// Text.
    Text(&'static str, Vec<String>),
    /// Numbers; NaN is written as an empty cell (CSV) or null (Parquet).
    Float(&'static str, Vec<f64>),
    /// Counts and ids.
    Int(&'static str, Vec<u64>),
    /// UTC timestamps; `None` is empty or null.
    Time(&'static str, Vec<Option<Timestamp>>),
}

impl Column {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Column::Text(n, _) | Column::Float(n, _) | Column::Int(n, _) | Column::Time(n, _) => n,
        }
    }

    fn len(&self) -> usize {
        match self {
            Column::Text(_, v) => v.len(),
            Column::Float(_, v) => v.len(),
            Column::Int(_, v) => v.len(),
            Column::Time(_, v) => v.len(),
        }
    }

    pub(crate) fn write_cell(&self, row: usize, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = match self {
            Column::Text(_, v) => write_escaped(&v[row], out),
            Column::Float(_, v) if v[row].is_nan() => Ok(()),
            Column::Float(_, v) => write!(out, "{}", v[row]),
            Column::Int(_, v) => write!(out, "{}", v[row]),
            Column::Time(_, v) => v[row].map_or(Ok(()), |ts| write!(out, "{ts}")),
        };
    }

    fn to_arrow(&self) -> (Field, ArrayRef) {
        let name = self.name();
        match self {
            Column::Text(_, v) => (
                Field::new(name, DataType::Utf8, false),
                Arc::new(StringArray::from(v.clone())),
            ),
            Column::Float(_, v) => {
                let values: Float64Array = v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
                (Field::new(name, DataType::Float64, true), Arc::new(values))
            }
            Column::Int(_, v) => (
                Field::new(name, DataType::UInt64, false),
                Arc::new(UInt64Array::from(v.clone())),
            ),
            Column::Time(_, v) => {
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
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: Vec<Column>,
}

impl Table {
    fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// Writes `<dir>/<name>.csv` with a header row.
    pub(crate) fn write_csv(&self, dir: &Path) -> Result<()> {
        let path = dir.join(format!("{}.csv", self.name));
        let mut text = String::with_capacity(64 * (self.rows() + 1));
        let header: Vec<&str> = self.columns.iter().map(Column::name).collect();
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
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|source| Error::Write { path, source })
    }

    /// Writes `<dir>/<name>.parquet`, zstd-compressed.
    pub(crate) fn write_parquet(&self, dir: &Path) -> Result<()> {
        let path = dir.join(format!("{}.parquet", self.name));
        let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) =
            self.columns.iter().map(Column::to_arrow).unzip();
        let schema = Arc::new(Schema::new(fields));
        let batch =
            RecordBatch::try_new(schema.clone(), arrays).map_err(|source| Error::Arrow {
                table: self.name,
                source,
            })?;
        let file = std::fs::File::create(&path).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        let level = ZstdLevel::try_new(1).map_err(|source| Error::Parquet {
            path: path.clone(),
            source,
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
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
        writer
            .close()
            .map_err(|source| Error::Parquet { path, source })?;
        Ok(())
    }
}
