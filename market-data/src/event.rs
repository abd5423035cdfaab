//! Bars, trades, quotes and the event envelope that carries them through the engine.

use crate::{InstrumentId, InstrumentIdx, Timestamp};
use serde::{Deserialize, Serialize};

/// A price in the instrument's quote currency.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Price(pub f64);

/// A quantity in units of the instrument; negative only where a signed position is meant.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Qty(pub f64);

/// The side of an order, a fill or an aggressor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Buying: increases a position.
    Buy,
    /// Selling: decreases a position.
    Sell,
}

impl Side {
    /// Returns +1 for a buy and -1 for a sell.
    pub const fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }

    /// Returns the other side.
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Returns `buy` or `sell`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// One OHLCV bar, stamped with the time it opened. It is known only once complete, so the engine
/// delivers it after its interval has ended and orders placed on it act on a later event.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Bar {
    /// Open time of the bar.
    pub ts: Timestamp,
    /// First traded price.
    pub open: f64,
    /// Highest traded price.
    pub high: f64,
    /// Lowest traded price.
    pub low: f64,
    /// Last traded price.
    pub close: f64,
    /// Traded volume in units.
    pub volume: f64,
}

/// One trade print.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Trade price.
    pub price: Price,
    /// Traded quantity.
    pub qty: Qty,
    /// The side that crossed the spread.
    pub aggressor: Side,
}

/// One top-of-book quote.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// Best bid price.
    pub bid: Price,
    /// Best ask price.
    pub ask: Price,
    /// Quantity at the best bid.
    pub bid_qty: Qty,
    /// Quantity at the best ask.
    pub ask_qty: Qty,
}

/// What a market event carries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MarketKind {
    /// A completed bar.
    Bar(Bar),
    /// A trade print.
    Trade(Trade),
    /// A top-of-book quote.
    Quote(Quote),
}

/// A market event: the shared envelope around what happened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MarketEvent {
    /// When the venue stamped the event (for a bar, its open time).
    pub ts_event: Timestamp,
    /// When this process received it (equal to `ts_event` in backtests).
    pub ts_recv: Timestamp,
    /// Which instrument, as a dense index.
    pub instrument: InstrumentIdx,
    /// The payload.
    pub kind: MarketKind,
}

/// The bars of one instrument in strictly increasing time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarSeries {
    /// The instrument's name.
    pub instrument: InstrumentId,
    /// The bars, oldest first.
    pub bars: Vec<Bar>,
}

impl BarSeries {
    /// Returns a series, without checking the order of `bars`.
    pub fn new(instrument: InstrumentId, bars: Vec<Bar>) -> Self {
        Self { instrument, bars }
    }

    /// Returns the number of bars.
    pub fn len(&self) -> usize {
        self.bars.len()
    }

    /// Returns true when the series has no bars.
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }
}

/// The trades of one instrument in non-decreasing time order: several trades may share a
/// timestamp, as venues stamp them in milliseconds or microseconds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TradeSeries {
    /// The instrument's name.
    pub instrument: InstrumentId,
    /// The trades with their timestamps, oldest first.
    pub trades: Vec<(Timestamp, Trade)>,
}

impl TradeSeries {
    /// Returns a series, without checking the order of `trades`.
    pub fn new(instrument: InstrumentId, trades: Vec<(Timestamp, Trade)>) -> Self {
        Self { instrument, trades }
    }

    /// Returns the number of trades.
    pub fn len(&self) -> usize {
        self.trades.len()
    }

    /// Returns true when the series has no trades.
    pub fn is_empty(&self) -> bool {
        self.trades.is_empty()
    }
}
