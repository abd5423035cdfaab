//! The column layouts of bar, trade and quote files, and how a file's schema is matched to them.
//!
//! A bar file has `timestamp`, `open`, `high`, `low`, `close` and `volume` columns, and an
//! optional `instrument` column. The timestamp is an Arrow `Timestamp` of any unit (stored as
//! UTC instants, whatever time zone the metadata names), a `Date32`/`Date64`, or an `Int64` of
//! nanoseconds since the epoch; prices and sizes are `Float64`. Other columns are ignored, and
//! the order of columns does not matter. We write `Timestamp(Nanosecond, "UTC")`.

use crate::{Error, Result};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::path::Path;
use std::sync::Arc;

/// The name of the timestamp column; `ts`, `time` and `date` are accepted too when reading.
pub const TIMESTAMP: &str = "timestamp";
/// The name of the optional instrument column.
pub const INSTRUMENT: &str = "instrument";
/// Names accepted for the timestamp column, in order of preference.
const TIME_NAMES: [&str; 4] = [TIMESTAMP, "ts", "time", "date"];

/// What a file holds, which fixes its value columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// OHLCV bars.
    Bars,
    /// Trade prints: price, quantity and (optionally) the aggressor side.
    Trades,
    /// Top-of-book quotes.
    Quotes,
}

impl RecordKind {
    /// The `Float64` columns every file of this kind has, in the order decoders read them.
    pub const fn value_columns(self) -> &'static [&'static str] {
        match self {
            RecordKind::Bars => &["open", "high", "low", "close", "volume"],
            RecordKind::Trades => &["price", "qty"],
            RecordKind::Quotes => &["bid", "ask", "bid_qty", "ask_qty"],
        }
    }

    /// Returns the kind's name as used in folder names and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecordKind::Bars => "bars",
            RecordKind::Trades => "trades",
            RecordKind::Quotes => "quotes",
        }
    }
}

/// The name of the trades' optional aggressor column (`buy` or `sell`).
pub const SIDE: &str = "side";

/// How a file's timestamp column encodes time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeEncoding {
    /// Integers in units of `1 / per_second` seconds since the epoch.
    Int64 { nanos_per_unit: i64 },
    /// `Date32`: days since the epoch.
    Days32,
}

/// Where a file's columns are, resolved once from its schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    /// The timestamp column's index and encoding.
    pub(crate) time: (usize, TimeEncoding),
    /// The name the timestamp column has in this file.
    pub(crate) time_name: String,
    /// Indices of [`RecordKind::value_columns`], in that order.
    pub(crate) values: Vec<usize>,
    /// The instrument column's index, when the file has one.
    pub(crate) instrument: Option<usize>,
    /// The side column's index (trades), when the file has one.
    pub(crate) side: Option<usize>,
}

impl Layout {
    /// Matches `schema` to `kind`'s columns.
    ///
    /// # Errors
    /// [`Error::Schema`] naming the first missing or mistyped column and what was expected.
    pub(crate) fn resolve(schema: &Schema, kind: RecordKind, path: &Path) -> Result<Self> {
        let fail = |message: String| Error::Schema {
            path: path.to_path_buf(),
            message,
        };
        let found = || {
            schema
                .fields()
                .iter()
                .map(|f| format!("{} ({})", f.name(), f.data_type()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let find = |name: &str| {
            schema
                .fields()
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(name))
        };
        let (time_index, time_name) = TIME_NAMES
            .iter()
            .find_map(|name| find(name).map(|i| (i, schema.field(i).name().clone())))
            .ok_or_else(|| {
                fail(format!(
                    "no `{TIMESTAMP}` column (expected Timestamp or Int64 nanoseconds); the file \
                     has: {}",
                    found()
                ))
            })?;
        let encoding = match schema.field(time_index).data_type() {
            DataType::Timestamp(unit, _) => TimeEncoding::Int64 {
                nanos_per_unit: match unit {
                    TimeUnit::Second => 1_000_000_000,
                    TimeUnit::Millisecond => 1_000_000,
                    TimeUnit::Microsecond => 1_000,
                    TimeUnit::Nanosecond => 1,
                },
            },
            DataType::Int64 => TimeEncoding::Int64 { nanos_per_unit: 1 },
            DataType::Date64 => TimeEncoding::Int64 {
                nanos_per_unit: 1_000_000,
            },
            DataType::Date32 => TimeEncoding::Days32,
            other => {
                return Err(fail(format!(
                    "column `{time_name}` has type {other}, expected Timestamp, Date32, Date64 or \
                     Int64 nanoseconds since the epoch"
                )));
            }
        };
        let mut values = Vec::with_capacity(kind.value_columns().len());
        for &name in kind.value_columns() {
            let i = find(name).ok_or_else(|| {
                fail(format!(
                    "no `{name}` column (expected Float64) for {}; the file has: {}",
                    kind.as_str(),
                    found()
                ))
            })?;
            let actual = schema.field(i).data_type();
            if *actual != DataType::Float64 {
                return Err(fail(format!(
                    "column `{name}` has type {actual}, expected Float64"
                )));
            }
            values.push(i);
        }
        let instrument = find(INSTRUMENT);
        if let Some(i) = instrument {
            let actual = schema.field(i).data_type();
            let text = matches!(
                actual,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ) || matches!(actual, DataType::Dictionary(_, v) if **v == DataType::Utf8);
            if !text {
                return Err(fail(format!(
                    "column `{INSTRUMENT}` has type {actual}, expected Utf8"
                )));
            }
        }
        let side = match kind {
            RecordKind::Trades => find(SIDE),
            _ => None,
        };
        if let Some(i) = side
            && *schema.field(i).data_type() != DataType::Utf8
        {
            return Err(fail(format!(
                "column `{SIDE}` has type {}, expected Utf8 (\"buy\" or \"sell\")",
                schema.field(i).data_type()
            )));
        }
        Ok(Self {
            time: (time_index, encoding),
            time_name,
            values,
            instrument,
            side,
        })
    }

    /// The columns a reader needs, in file order (a projection).
    pub(crate) fn projection(&self) -> Vec<usize> {
        let mut columns: Vec<usize> = std::iter::once(self.time.0)
            .chain(self.values.iter().copied())
            .chain(self.instrument)
            .chain(self.side)
            .collect();
        columns.sort_unstable();
        columns
    }

    /// Returns the layout of the projected batch: every index mapped to its position among
    /// `projection`'s columns.
    pub(crate) fn projected(&self) -> Self {
        let projection = self.projection();
        let at = |i: usize| projection.iter().position(|&p| p == i).unwrap_or(i);
        Self {
            time: (at(self.time.0), self.time.1),
            time_name: self.time_name.clone(),
            values: self.values.iter().map(|&i| at(i)).collect(),
            instrument: self.instrument.map(at),
            side: self.side.map(at),
        }
    }
}

/// The schema we write for `kind`: `timestamp` as `Timestamp(Nanosecond, "UTC")`, then the value
/// columns as `Float64`, plus `instrument` when `with_instrument`.
pub fn schema_of(kind: RecordKind, with_instrument: bool) -> SchemaRef {
    let mut fields = vec![Field::new(
        TIMESTAMP,
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        false,
    )];
    if with_instrument {
        fields.push(Field::new(INSTRUMENT, DataType::Utf8, false));
    }
    fields.extend(
        kind.value_columns()
            .iter()
            .map(|name| Field::new(*name, DataType::Float64, false)),
    );
    if kind == RecordKind::Trades {
        fields.push(Field::new(SIDE, DataType::Utf8, false));
    }
    Arc::new(Schema::new(fields))
}
