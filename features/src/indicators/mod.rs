//! Streaming indicators: O(1) per update, "not ready" until warmed up, never a silent 0.
//!
//! Every indicator implements [`Indicator`], the one interface the feature pipeline drives: a
//! fixed number of inputs in, a fixed number of named outputs out, NaN for "not ready". Each
//! also has a typed `update` for direct use. Batch computation runs the same kernels over a
//! column, so streaming and batch values are bit-identical by construction.
//!
//! Each indicator is built the same way: `validate(args)` checks the arguments and names the
//! one out of range (`engine::RangeError`), `new(args)` assumes them valid and cannot fail, and
//! `try_new(args)` does both. Multi-input indicators read their slice in the documented order
//! (`[high, low, close]`, `[price, volume]`, `[x, y]`); their typed `update` takes named records
//! ([`Hlc`], [`PriceVolume`]) so the order cannot be mixed up.

mod atr;
mod bollinger;
mod correlation;
mod ema;
mod extrema;
mod inputs;
mod macd;
mod moments;
mod obv;
mod params;
mod returns;
mod ring;
mod rolling;
mod rolling_stats;
mod rsi;
mod sma;
mod stochastic;
mod vwap;
mod wma;

#[cfg(test)]
mod tests;

pub use atr::Atr;
pub use bollinger::{BandsAndZScore, Bollinger, BollingerValue};
pub use correlation::Correlation;
pub use ema::{Ema, EmaSeed};
pub use extrema::{RollingMax, RollingMin};
pub use inputs::{Hlc, PriceVolume};
pub use macd::{Macd, MacdValue};
pub use obv::Obv;
pub use params::MAX_WINDOW;
pub(crate) use params::bars_at_least;
pub use returns::{LogReturn, PeriodReturn, Roc, SimpleReturn};
pub use rolling::{RollingMean, RollingStd};
pub use rolling_stats::{Volatility, ZScore};
pub use rsi::{Rsi, RsiSmoothing};
pub use sma::Sma;
pub use stochastic::{Stochastic, StochasticValue};
pub use vwap::Vwap;
pub use wma::Wma;

use market_data::Timestamp;

/// One streaming indicator as the pipeline sees it.
pub trait Indicator: Send + std::fmt::Debug {
    /// Returns how many inputs each update reads (1 for SMA, 3 for ATR: high, low, close).
    fn inputs(&self) -> usize;

    /// Returns the names of its outputs; a single-output indicator returns `&["value"]`.
    fn outputs(&self) -> &'static [&'static str];

    /// Feeds one step at `ts` with `input` (length `inputs()`), writing every output into `out`
    /// (length `outputs().len()`), NaN while not ready. Inputs are finite: the pipeline handles
    /// NaN by calling `reset` instead.
    fn update(&mut self, ts: Timestamp, input: &[f64], out: &mut [f64]);

    /// Forgets all history, as if newly built: the next values warm up afresh.
    fn reset(&mut self);

    /// Returns how many updates it takes until the first output is ready.
    fn warmup(&self) -> usize;
}
