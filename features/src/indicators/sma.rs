//! Simple moving average as an [`Indicator`]: the mean of the last `period` values.
//!
//! A thin wrapper over [`RollingMean`], so strategies that use the rolling mean directly and
//! feature pipelines that use this see the same numbers.

use super::{Indicator, RollingMean, params::bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// Simple moving average; input `[x]`, output `["value"]`, ready after `period` updates.
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    mean: RollingMean,
}

impl Sma {
    /// Checks `period >= 1`.
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 1, period)
    }

    /// Returns an SMA over `period` bars, assumed valid (see [`Sma::validate`]).
    ///
    /// ```
    /// use features::indicators::Sma;
    /// let mut sma = Sma::new(2);
    /// assert_eq!(sma.update(1.0), None);
    /// assert_eq!(sma.update(3.0), Some(2.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(period: usize) -> Self {
        Self {
            period: period.max(1),
            mean: RollingMean::new(period),
        }
    }

    /// Validates `period`, then returns an SMA.
    ///
    /// # Errors
    /// Returns the range error of [`Sma::validate`].
    pub fn try_new(period: usize) -> Result<Self, RangeError> {
        Self::validate(period).map(|()| Self::new(period))
    }

    /// Adds `x` and returns the mean once `period` values have been seen.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.mean.update(x)
    }
}

impl Indicator for Sma {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = Sma::update(self, input[0]).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        self.mean = RollingMean::new(self.period);
    }

    fn warmup(&self) -> usize {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, prices, singles};
    use proptest::prelude::*;

    #[test]
    fn rejects_a_zero_period() {
        assert!(Sma::validate(0).is_err());
        assert!(Sma::try_new(1).is_ok());
    }

    proptest! {
        #[test]
        fn prop_sma_matches_naive(xs in prices(1..200), noise in prices(0..30), n in 1usize..30) {
            let mut sma = Sma::new(n);
            check_against_naive(&mut sma, &singles(&xs), &singles(&noise), |h| {
                let t = h.len();
                if t < n {
                    return vec![f64::NAN];
                }
                vec![h[t - n..].iter().map(|r| r[0]).sum::<f64>() / n as f64]
            })?;
        }
    }
}
