//! Live trading: market data feeds over websockets, the paper and venue order routers, sessions
//! that drive the engine one event at a time, and the journal that makes them survive a crash.
//!
//! Owns: the feed client ([`feed`]) and its backfill of gaps ([`backfill`]), the venue connection, router and reconciliation
//! ([`venue`]), the journal ([`journal`]), the session ([`session`]), and the download of
//! Binance's public kline dumps into a catalog ([`dumps`]). The only crate with tokio, and the
//! one place where wall-clock time enters a run (journal syncs, watchdogs).
//! Never depends on: candle (models), report rendering, or any particular strategy.

#![forbid(unsafe_code)]

pub mod backfill;
pub mod dumps;
pub mod feed;
pub mod journal;
pub mod session;
pub mod venue;

pub use market_data::text::{QUOTED_CHARS, printable};

#[cfg(test)]
mod session_tests;
