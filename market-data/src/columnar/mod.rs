//! Columnar market data: bars, trades and quotes in Parquet and Arrow IPC files.
//!
//! Readers stream one record batch at a time with only the columns they need, check every row
//! (nulls, non-finite or non-positive prices, inconsistent OHLC, time order) and name the file,
//! row and column of the first bad one. Writers produce the layout the readers expect, described
//! in [`schema`].

mod decode;
mod memory;
pub(crate) mod read;
pub mod schema;
mod split;
mod write;

pub use decode::TimeRange;
pub use memory::{bars_from_batches, bars_to_batch};
pub use read::{
    DEFAULT_BATCH_ROWS, FileFormat, RecordReader, parquet_time_span, read_bar_file,
    rows_within_at_least,
};
pub use schema::RecordKind;
pub use write::{
    Codec, DEFAULT_ROW_GROUP_ROWS, PARQUET_LAYOUT, RecordWriter, WRITE_BATCH_ROWS, write_bars,
};

#[cfg(test)]
mod tests;
