//! Named input records for the indicators that read more than one value per bar.
//!
//! Named fields make `atr.update(Hlc { high, low, close })` impossible to call with the high and
//! the close swapped, which positional `f64` arguments would allow silently.

/// One bar's high, low and close.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hlc {
    /// Highest price of the bar.
    pub high: f64,
    /// Lowest price of the bar.
    pub low: f64,
    /// Last price of the bar.
    pub close: f64,
}

impl Hlc {
    /// Returns the record from an `Indicator` input slice ordered high, low, close.
    pub(super) fn from_slice(input: &[f64]) -> Self {
        Self {
            high: input[0],
            low: input[1],
            close: input[2],
        }
    }
}

/// A price with the volume traded at it (a bar's close or typical price and its volume).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceVolume {
    /// Price of the bar.
    pub price: f64,
    /// Volume of the bar, non-negative.
    pub volume: f64,
}

impl PriceVolume {
    /// Returns the record from an `Indicator` input slice ordered price, volume.
    pub(super) fn from_slice(input: &[f64]) -> Self {
        Self {
            price: input[0],
            volume: input[1],
        }
    }
}
