//! Stochastic oscillator: where the close sits in the recent high-low range, and its average.
//!
//! `%K = 100 * (close - lowest low) / (highest high - lowest low)` over `k` bars, `%D` = SMA of
//! `%K` over `d` bars, as in `ta` 0.11. The extremes come from block-wise running extremes, so each update
//! is O(1) amortized. A range of exactly zero (a flat window) gives `%K = 50`: the close is the
//! whole range, so it sits at its middle; `ta` would return NaN and stall `%D` for `d` bars.

use super::{Hlc, Indicator, RollingMean, extrema::BlockExtreme, params::bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// One reading, both lines in [0, 100].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochasticValue {
    /// `%K`.
    pub k: f64,
    /// `%D`, once `d` values of `%K` have been seen.
    pub d: Option<f64>,
}

/// Stochastic oscillator; inputs `[high, low, close]`, outputs `["k", "d"]`. `warmup()` is `k`
/// (the `%K` line); `%D` follows after `k + d - 1` bars.
#[derive(Debug, Clone)]
pub struct Stochastic {
    highs: BlockExtreme<true>,
    lows: BlockExtreme<false>,
    d_period: usize,
    d: RollingMean,
}

impl Stochastic {
    /// Checks `k >= 1` and `d >= 1`.
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(k: usize, d: usize) -> Result<(), RangeError> {
        bars_at_least("k", 1, k)?;
        bars_at_least("d", 1, d)
    }

    /// Returns an oscillator with a `k`-bar high-low window and a `d`-bar SMA for `%D` (14 and
    /// 3 classically), assumed valid (see [`Stochastic::validate`]).
    ///
    /// ```
    /// use features::indicators::{Hlc, Stochastic};
    /// let mut st = Stochastic::new(2, 1);
    /// assert_eq!(st.update(Hlc { high: 12.0, low: 8.0, close: 10.0 }), None);
    /// let v = st.update(Hlc { high: 11.0, low: 9.0, close: 11.0 }).expect("ready");
    /// assert_eq!((v.k, v.d), (75.0, Some(75.0))); // (11 - 8) / (12 - 8)
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(k: usize, d: usize) -> Self {
        Self {
            highs: BlockExtreme::new(k),
            lows: BlockExtreme::new(k),
            d_period: d,
            d: RollingMean::new(d),
        }
    }

    /// Validates the periods, then returns an oscillator.
    ///
    /// # Errors
    /// Returns the range error of [`Stochastic::validate`].
    pub fn try_new(k: usize, d: usize) -> Result<Self, RangeError> {
        Self::validate(k, d).map(|()| Self::new(k, d))
    }

    /// Adds a bar and returns the reading once `k` bars have been seen.
    #[inline(always)]
    pub fn update(&mut self, bar: Hlc) -> Option<StochasticValue> {
        let high = self.highs.push(bar.high);
        let low = self.lows.push(bar.low)?;
        let high = high?;
        let k = if high == low {
            50.0
        } else {
            100.0 * (bar.close - low) / (high - low)
        };
        Some(StochasticValue {
            k,
            d: self.d.update(k),
        })
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.highs.clear();
        self.lows.clear();
        self.d = RollingMean::new(self.d_period);
    }
}

impl Indicator for Stochastic {
    fn inputs(&self) -> usize {
        3
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["k", "d"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        let v = Stochastic::update(self, Hlc::from_slice(input));
        out[0] = v.map_or(f64::NAN, |v| v.k);
        out[1] = v.and_then(|v| v.d).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        Stochastic::reset(self);
    }

    fn warmup(&self) -> usize {
        self.highs.period()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{bars, check_against_naive};
    use proptest::prelude::*;

    #[test]
    fn flat_range_is_the_middle() {
        let mut st = Stochastic::new(2, 2);
        let bar = Hlc {
            high: 5.0,
            low: 5.0,
            close: 5.0,
        };
        assert_eq!(st.update(bar), None);
        assert_eq!(st.update(bar), Some(StochasticValue { k: 50.0, d: None }));
        assert_eq!(
            st.update(bar),
            Some(StochasticValue {
                k: 50.0,
                d: Some(50.0)
            })
        );
    }

    fn naive(h: &[Vec<f64>], k: usize, d: usize) -> Vec<f64> {
        let pct_k = |t: usize| {
            let w = &h[t + 1 - k..=t];
            let high = w.iter().map(|r| r[0]).fold(f64::MIN, f64::max);
            let low = w.iter().map(|r| r[1]).fold(f64::MAX, f64::min);
            if high == low {
                50.0
            } else {
                100.0 * (h[t][2] - low) / (high - low)
            }
        };
        let t = h.len() - 1;
        if t + 1 < k {
            return vec![f64::NAN, f64::NAN];
        }
        let dv = if t + 2 < k + d {
            f64::NAN
        } else {
            (t + 1 - d..=t).map(pct_k).sum::<f64>() / d as f64
        };
        vec![pct_k(t), dv]
    }

    proptest! {
        #[test]
        fn prop_stochastic_matches_naive(
            xs in bars(1..200),
            noise in bars(0..30),
            k in 1usize..20,
            d in 1usize..6,
        ) {
            let mut st = Stochastic::new(k, d);
            check_against_naive(&mut st, &xs, &noise, |h| naive(h, k, d))?;
        }
    }
}
