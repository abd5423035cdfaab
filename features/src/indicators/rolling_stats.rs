//! Rolling volatility of log returns and rolling z-score.
//!
//! Both stand on running moments that recompute themselves when a departed value would cost
//! them digits (see `moments.rs`), so a quiet window after a jump keeps its precision and a flat
//! window has a spread of exactly 0.
//!
//! - Volatility: sample std (ddof = 1) of the last `n` one-bar log returns, per bar, not
//!   annualised (the bar length is the caller's to know), ready after `n + 1` prices.
//! - Z-score: `(x - mean) / std` over the last `n` values including `x`, with the population
//!   std (ddof = 0) so that it agrees with Bollinger bands: `z = (2 %b - 1) * width`. A flat
//!   window gives 0 (`x` equals the mean exactly) rather than 0/0.

use super::{Indicator, moments::Sliding, params::bars_at_least, returns::ln_ratio};
use engine::RangeError;
use market_data::Timestamp;

/// Rolling volatility of log returns; input `[price]`, output `["value"]`, ready after
/// `period + 1` updates.
#[derive(Debug, Clone)]
pub struct Volatility {
    prev: Option<f64>,
    /// `1 / (period - 1)`: the sample variance's divisor, as a multiply.
    inv_ddof: f64,
    window: Sliding<1>,
}

impl Volatility {
    /// Checks `period >= 2`: the window holds `period` log returns, and a sample std needs two.
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 2, period)
    }

    /// Returns the volatility of the last `period` log returns, assumed valid (see
    /// [`Volatility::validate`]).
    ///
    /// ```
    /// use features::indicators::Volatility;
    /// let mut vol = Volatility::new(2);
    /// assert_eq!(vol.update(1.0), None);
    /// assert_eq!(vol.update(2.0), None);
    /// assert_eq!(vol.update(4.0), Some(0.0)); // two equal log returns, ln 2
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(period: usize) -> Self {
        Self {
            prev: None,
            inv_ddof: 1.0 / (period.max(2) - 1) as f64,
            window: Sliding::new(period.max(2)),
        }
    }

    /// Validates `period`, then returns the indicator.
    ///
    /// # Errors
    /// Returns the range error of [`Volatility::validate`].
    pub fn try_new(period: usize) -> Result<Self, RangeError> {
        Self::validate(period).map(|()| Self::new(period))
    }

    /// Adds a price and returns the volatility once `period` returns have been seen.
    #[inline(always)]
    pub fn update(&mut self, price: f64) -> Option<f64> {
        let prev = self.prev.replace(price)?;
        self.window.push([ln_ratio(price, prev)]);
        let m = self.window.total();
        self.window.is_full().then(|| (m.m2 * self.inv_ddof).sqrt())
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.prev = None;
        self.window.clear();
    }
}

impl Indicator for Volatility {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = Volatility::update(self, input[0]).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        Volatility::reset(self);
    }

    fn warmup(&self) -> usize {
        self.window.capacity() + 1
    }
}

/// Rolling z-score with the population std; input `[x]`, output `["value"]`, ready after
/// `period` updates.
#[derive(Debug, Clone)]
pub struct ZScore {
    window: Sliding<1>,
}

impl ZScore {
    /// Checks `period >= 2` (one value is always its own mean).
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 2, period)
    }

    /// Returns the z-score over `period` bars, assumed valid (see [`ZScore::validate`]).
    ///
    /// ```
    /// use features::indicators::ZScore;
    /// let mut z = ZScore::new(2);
    /// assert_eq!(z.update(1.0), None);
    /// assert_eq!(z.update(3.0), Some(1.0)); // mean 2, population std 1
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(period: usize) -> Self {
        Self {
            window: Sliding::new(period.max(2)),
        }
    }

    /// Validates `period`, then returns the indicator.
    ///
    /// # Errors
    /// Returns the range error of [`ZScore::validate`].
    pub fn try_new(period: usize) -> Result<Self, RangeError> {
        Self::validate(period).map(|()| Self::new(period))
    }

    /// Returns the window length.
    pub fn period(&self) -> usize {
        self.window.capacity()
    }

    /// Adds `x` and returns its z-score once `period` values have been seen.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.window.push([x]);
        if !self.window.is_full() {
            return None;
        }
        let m = self.window.total();
        if m.m2 == 0.0 {
            return Some(0.0);
        }
        Some((x - m.mean) / (m.m2 * self.window.inv_capacity()).sqrt())
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.window.clear();
    }
}

impl Indicator for ZScore {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = ZScore::update(self, input[0]).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        ZScore::reset(self);
    }

    fn warmup(&self) -> usize {
        self.window.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, prices, singles};
    use proptest::prelude::*;

    #[test]
    fn flat_window_scores_zero_and_periods_below_two_are_refused() {
        let mut z = ZScore::new(2);
        z.update(3.0);
        assert_eq!(z.update(3.0), Some(0.0));
        assert!(ZScore::validate(1).is_err());
        assert!(Volatility::validate(1).is_err());
        assert!(ZScore::try_new(2).is_ok() && Volatility::try_new(2).is_ok());
    }

    fn mean_m2(w: &[f64]) -> (f64, f64) {
        let mean = w.iter().sum::<f64>() / w.len() as f64;
        (mean, w.iter().map(|v| (v - mean).powi(2)).sum())
    }

    proptest! {
        #[test]
        fn prop_volatility_matches_naive(
            xs in prices(1..200),
            noise in prices(0..30),
            n in 2usize..30,
        ) {
            let mut vol = Volatility::new(n);
            check_against_naive(&mut vol, &singles(&xs), &singles(&noise), |h| {
                let t = h.len() - 1;
                if t < n {
                    return vec![f64::NAN];
                }
                let r: Vec<f64> = (t + 1 - n..=t).map(|i| (h[i][0] / h[i - 1][0]).ln()).collect();
                vec![(mean_m2(&r).1 / (n - 1) as f64).sqrt()]
            })?;
        }

        #[test]
        fn prop_zscore_matches_naive(
            xs in prices(1..200),
            noise in prices(0..30),
            n in 2usize..30,
        ) {
            let mut z = ZScore::new(n);
            check_against_naive(&mut z, &singles(&xs), &singles(&noise), |h| {
                let t = h.len();
                if t < n {
                    return vec![f64::NAN];
                }
                let w: Vec<f64> = h[t - n..].iter().map(|r| r[0]).collect();
                let (mean, m2) = mean_m2(&w);
                vec![if m2 == 0.0 { 0.0 } else { (w[n - 1] - mean) / (m2 / n as f64).sqrt() }]
            })?;
        }
    }
}
