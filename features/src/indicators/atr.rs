//! Average true range with Wilder smoothing, following `ta` 0.11.
//!
//! True range is `max(high - low, |high - prev close|, |low - prev close|)`, with the first
//! bar's range `high - low`. The average is seeded with the mean of the first `n` true ranges
//! (bar 0 included) and then smoothed as `(prev * (n - 1) + tr) / n`. `ta` reports 0.0 before
//! the seed; this reports not-ready, deliberately: a 0.0 volatility would look like a real one.

use super::{Hlc, Indicator, params::bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// Average true range; inputs `[high, low, close]`, output `["value"]`, ready after `period`
/// bars.
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    /// `1 / period`, computed once: a division per update would cost more than the rest.
    inv_period: f64,
    prev_close: f64,
    seen: usize,
    /// The average (the running sum of true ranges until the seed).
    value: f64,
}

impl Atr {
    /// Checks `period >= 1` (the smoothing length in bars).
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 1, period)
    }

    /// Returns an ATR over `period` bars, assumed valid (see [`Atr::validate`]).
    ///
    /// ```
    /// use features::indicators::{Atr, Hlc};
    /// let mut atr = Atr::new(2);
    /// assert_eq!(atr.update(Hlc { high: 11.0, low: 9.0, close: 10.0 }), None);
    /// // The gap up to 13 makes this true range 13 - 10 = 3: the seed is (2 + 3) / 2.
    /// assert_eq!(atr.update(Hlc { high: 13.0, low: 12.0, close: 12.5 }), Some(2.5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(period: usize) -> Self {
        Self {
            period: period.max(1),
            inv_period: 1.0 / period.max(1) as f64,
            prev_close: 0.0,
            seen: 0,
            value: 0.0,
        }
    }

    /// Validates `period`, then returns an ATR.
    ///
    /// # Errors
    /// Returns the range error of [`Atr::validate`].
    pub fn try_new(period: usize) -> Result<Self, RangeError> {
        Self::validate(period).map(|()| Self::new(period))
    }

    /// Adds a bar and returns the average once `period` bars have been seen.
    #[inline(always)]
    pub fn update(&mut self, bar: Hlc) -> Option<f64> {
        // Every update after the seed: the smoothing alone (`seen` stops at `period`).
        if self.seen >= self.period {
            let tr = true_range(bar, Some(self.prev_close));
            self.prev_close = bar.close;
            // `(v (n - 1) + tr) / n` as `v + (tr - v) / n`: the division by the constant `n`
            // becomes a multiply, which keeps it off the bar-to-bar dependency chain.
            self.value += (tr - self.value) * self.inv_period;
            return Some(self.value);
        }
        self.seen += 1;
        let tr = true_range(bar, (self.seen > 1).then_some(self.prev_close));
        self.prev_close = bar.close;
        self.value += tr;
        if self.seen < self.period {
            return None;
        }
        self.value /= self.period as f64;
        Some(self.value)
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.seen = 0;
        self.value = 0.0;
    }
}

/// Returns the true range of `bar` given the previous close, if any.
#[inline(always)]
fn true_range(bar: Hlc, prev_close: Option<f64>) -> f64 {
    let range = bar.high - bar.low;
    prev_close.map_or(range, |c| {
        larger(larger(range, (bar.high - c).abs()), (bar.low - c).abs())
    })
}

/// The larger of two finite values (inputs are finite, as every indicator assumes): one
/// compare, where `f64::max` also sorts out NaN on every bar, a few instructions more.
#[inline(always)]
fn larger(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

impl Indicator for Atr {
    fn inputs(&self) -> usize {
        3
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = Atr::update(self, Hlc::from_slice(input)).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        Atr::reset(self);
    }

    fn warmup(&self) -> usize {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{bars, check_against_naive};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn prop_atr_matches_naive(xs in bars(1..200), noise in bars(0..30), n in 1usize..30) {
            let mut atr = Atr::new(n);
            check_against_naive(&mut atr, &xs, &noise, |h| {
                let t = h.len();
                if t < n {
                    return vec![f64::NAN];
                }
                let tr: Vec<f64> = (0..t)
                    .map(|i| {
                        let (hi, lo) = (h[i][0], h[i][1]);
                        if i == 0 {
                            return hi - lo;
                        }
                        let c = h[i - 1][2];
                        (hi - lo).max((hi - c).abs()).max((lo - c).abs())
                    })
                    .collect();
                let mut atr = tr[..n].iter().sum::<f64>() / n as f64;
                for x in &tr[n..] {
                    atr = (atr * (n as f64 - 1.0) + x) / n as f64;
                }
                vec![atr]
            })?;
        }
    }
}
