//! Errors of market-data sources, each naming the file, line and column at fault.

use crate::Timestamp;
use std::fmt;
use std::path::PathBuf;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is wrong with one row of input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RowProblem {
    /// A required field is empty.
    #[error("empty field, expected {expected}")]
    Empty {
        /// What the field should hold.
        expected: &'static str,
    },
    /// A field does not parse.
    #[error("cannot parse {value:?}, expected {expected}")]
    Unparsable {
        /// The text found.
        value: String,
        /// What the field should hold.
        expected: &'static str,
    },
    /// A number is NaN or infinite.
    #[error("{value} is not a finite number")]
    NotFinite {
        /// The text found.
        value: String,
    },
    /// A price is zero or negative.
    #[error("price {value} is not positive")]
    NonPositivePrice {
        /// The price found.
        value: f64,
    },
    /// Volume is negative.
    #[error("volume {value} is negative")]
    NegativeVolume {
        /// The volume found.
        value: f64,
    },
    /// A trade's quantity is negative.
    #[error("quantity {value} is negative")]
    NegativeQuantity {
        /// The quantity found.
        value: f64,
    },
    /// High is below open, close or low, or low is above open or close.
    #[error("inconsistent bar: {detail}")]
    Inconsistent {
        /// Which relation fails, with the values.
        detail: String,
    },
    /// The timestamp is not after the previous row's.
    #[error("timestamp {found} is {order} previous row's {previous}")]
    OutOfOrder {
        /// This row's timestamp, formatted.
        found: String,
        /// The previous row's timestamp, formatted.
        previous: String,
        /// `before the` or `equal to the` (a duplicate).
        order: &'static str,
    },
    /// The row has too few fields.
    #[error("expected {expected} fields, found {found}")]
    FieldCount {
        /// Fields the header promises.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
}

/// One rejected row: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidRow {
    /// 1-based line number in the file.
    pub line: usize,
    /// The column's header name, when the problem belongs to one column.
    pub column: Option<String>,
    /// What is wrong.
    pub problem: RowProblem,
}

impl fmt::Display for InvalidRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column:?}: {}", self.line, self.problem),
            None => write!(f, "line {}: {}", self.line, self.problem),
        }
    }
}

/// One rejected record of a columnar file: its row (1-based, counted from the file's start) and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidRecord {
    /// 1-based row number in the file.
    pub row: u64,
    /// The column's name, when the problem belongs to one column.
    pub column: Option<&'static str>,
    /// What is wrong.
    pub problem: RowProblem,
}

impl fmt::Display for InvalidRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "row {}, column {column:?}: {}", self.row, self.problem),
            None => write!(f, "row {}: {}", self.row, self.problem),
        }
    }
}

/// Rows skipped under `on_invalid = "skip"`: how many, and the first few with their reasons.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SkipReport {
    /// Number of rows skipped.
    pub skipped: usize,
    /// The first skipped rows (at most [`SkipReport::KEEP`]), for the user to inspect.
    pub examples: Vec<InvalidRow>,
}

impl SkipReport {
    /// How many skipped rows are kept as examples.
    pub const KEEP: usize = 10;

    /// Records one skipped row.
    pub fn record(&mut self, row: InvalidRow) {
        self.skipped += 1;
        if self.examples.len() < Self::KEEP {
            self.examples.push(row);
        }
    }
}

/// An error of a market-data source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be opened or read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The header lacks a required column or is unusable.
    #[error("{}: line 1: {message}", path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong, and what was expected.
        message: String,
    },
    /// A row is invalid and `on_invalid` is `error`.
    #[error("{}: {row}", path.display())]
    InvalidRow {
        /// The file.
        path: PathBuf,
        /// Where and what.
        row: InvalidRow,
    },
    /// The file holds no valid rows.
    #[error("{}: no data rows", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A columnar file lacks a required column or holds one of the wrong type.
    #[error("{}: {message}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// Which column, what it is and what was expected.
        message: String,
    },
    /// A file cannot be decoded: corrupt, truncated, or not in the format its name says.
    #[error("{}: cannot decode as {format}: {message}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The format it was read as.
        format: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// A record of a columnar file is invalid and `on_invalid` is `error`.
    #[error("{}: {record}", path.display())]
    InvalidRecord {
        /// The file.
        path: PathBuf,
        /// Where and what.
        record: InvalidRecord,
    },
    /// Two files of one instrument overlap in time, so their order is ambiguous.
    #[error(
        "{} ({first_end} is its last time) overlaps {} (starts at {second_start}): one instrument's \
         files must cover disjoint, increasing periods",
        first.display(),
        second.display()
    )]
    Overlap {
        /// The earlier file by name.
        first: PathBuf,
        /// Its last timestamp.
        first_end: Timestamp,
        /// The later file by name.
        second: PathBuf,
        /// Its first timestamp.
        second_start: Timestamp,
    },
    /// A background reader thread stopped.
    #[error("background reader: {message}")]
    Prefetch {
        /// What happened.
        message: String,
    },
    /// A generator's parameter is out of range.
    #[error("invalid synthetic data parameter `{field}`: {message}")]
    Synthetic {
        /// The parameter.
        field: &'static str,
        /// What was expected.
        message: String,
    },
}
