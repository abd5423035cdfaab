//! Decoders of live market data messages: Binance combined streams and Coinbase Advanced Trade
//! channels, turned into [`FeedEvent`]s.
//!
//! A feed delivers hundreds of thousands of messages a second at peak, so decoding borrows the
//! symbol from the message text and parses numbers in place: nothing is allocated per message
//! beyond what the caller's reused output vector already holds. A message that cannot be decoded
//! is an error the caller logs with the raw text and skips; it never stops the feed.

pub mod binance;
pub mod coinbase;

use crate::{Bar, Quote, Timestamp, Trade};
use std::fmt;

/// One market event decoded from a feed message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeedEvent<'a> {
    /// A trade print.
    Trade {
        /// The venue's symbol, as written in the message.
        symbol: &'a str,
        /// When the trade happened.
        ts: Timestamp,
        /// Price, size and aggressor.
        trade: Trade,
        /// The venue's trade id, increasing by one per trade where the venue numbers them
        /// densely (gap detection), else `None`.
        id: Option<u64>,
    },
    /// A bar (kline, candle) update.
    Bar {
        /// The venue's symbol.
        symbol: &'a str,
        /// The bar, stamped with its open time.
        bar: Bar,
        /// True once the bar is final: only final bars reach strategies.
        closed: bool,
    },
    /// A top-of-book update.
    Quote {
        /// The venue's symbol.
        symbol: &'a str,
        /// When the venue stamped it, if the message says.
        ts: Option<Timestamp>,
        /// Best bid and ask.
        quote: Quote,
    },
    /// A keep-alive with no market data.
    Heartbeat {
        /// The venue's time, if the message says.
        ts: Option<Timestamp>,
    },
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What was wrong, naming the field where there is one.
    pub message: String,
}

impl DecodeError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

impl From<serde_json::Error> for DecodeError {
    fn from(error: serde_json::Error) -> Self {
        Self::new(format!("malformed JSON: {error}"))
    }
}

/// Parses a decimal number sent as a string (as venues do, to keep every digit).
pub(crate) fn number(field: &str, text: &str) -> Result<f64, DecodeError> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(DecodeError::new(format!(
            "field `{field}`: expected a decimal number, found {text:?}"
        ))),
    }
}

/// Milliseconds since the epoch to a timestamp.
pub(crate) fn millis(ms: i64) -> Timestamp {
    Timestamp(ms.saturating_mul(1_000_000))
}
