//! Market data: timestamps, instruments, bars, trades and quotes, and the sources that produce them.
//!
//! This crate knows nothing of orders or portfolios. It turns files and generators into validated,
//! time-ordered series that the engine replays, and it is the only place that parses timestamps.
//!
//! Owns: instrument ids, timestamps, `Bar`, `Trade`, `Quote`, `MarketEvent`; CSV, Parquet,
//! Arrow IPC and catalog readers and writers, synthetic data, merging, resampling, validation
//! and the decoders of feed messages (the websocket connection itself is `live`'s).
//! Never depends on: any other crate of this workspace, tokio, candle or HTML.

// Denied, not forbidden: the merger's cache prefetch hint (`merge::prefetch_ahead`) is the one
// allowed exception.
#![deny(unsafe_code)]

mod error;
mod event;
mod instrument;
mod time;
mod validate;

pub mod atomic;
pub mod binance;
pub mod calendar;
pub mod catalog;
pub mod columnar;
pub mod csv;
pub mod csv_write;
pub mod feed;
pub mod inspect;
pub mod merge;
pub mod quality;
pub mod resample;
pub mod synthetic;
pub mod text;
pub mod zone;

#[cfg(test)]
mod test_support;

pub use calendar::Calendar;
pub use error::{Error, InvalidRecord, InvalidRow, Result, RowProblem, SkipReport};
pub use event::{
    Bar, BarSeries, MarketEvent, MarketKind, Price, Qty, Quote, Side, Trade, TradeSeries,
};
pub use instrument::{InstrumentId, InstrumentIdx};
pub use time::{NANOS_PER_DAY, NANOS_PER_SECOND, Timestamp, TimestampText};
pub use validate::event_problem;
pub use zone::{DayClock, LocalTime, Zone};
