//! Returns over `n` bars: simple (`x / x[t-n] - 1`, the rate of change) or log.
//!
//! Both are fractions, not percent. A ring of the last `n` values hands back `x[t-n]` as it is
//! evicted, so one update is O(1) whatever `n`. The two kinds share one type, generic over a
//! const flag, so the kind costs no branch per update. Inputs are prices, assumed positive: a
//! zero base gives an infinite return, a negative one a NaN log return.

use super::{Indicator, params::bars_at_least, ring::Ring};
use engine::RangeError;
use market_data::Timestamp;

/// Return over `period` bars, log when `LOG`; input `[price]`, output `["value"]`, ready after
/// `period + 1` updates. Use it through [`SimpleReturn`] (alias [`Roc`]) or [`LogReturn`].
#[derive(Debug, Clone)]
pub struct PeriodReturn<const LOG: bool> {
    ring: Ring,
}

/// Simple return `x / x[t-n] - 1` over `n` bars.
pub type SimpleReturn = PeriodReturn<false>;

/// Rate of change: the same number as [`SimpleReturn`], as a fraction (not percent).
pub type Roc = SimpleReturn;

/// Log return `ln(x / x[t-n])` over `n` bars.
pub type LogReturn = PeriodReturn<true>;

impl<const LOG: bool> PeriodReturn<LOG> {
    /// Checks `period >= 1` (bars between the two prices; 1 = bar to bar).
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 1, period)
    }

    /// Returns the return over `period` bars, assumed valid (see [`PeriodReturn::validate`]).
    ///
    /// ```
    /// use strategies::indicators::{LogReturn, Roc};
    /// let mut roc = Roc::new(2);
    /// assert_eq!(roc.update(4.0), None);
    /// assert_eq!(roc.update(9.0), None);
    /// assert_eq!(roc.update(5.0), Some(0.25)); // 5 / 4 - 1
    /// let mut log = LogReturn::new(1);
    /// log.update(1.0);
    /// assert_eq!(log.update(1.0), Some(0.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(period: usize) -> Self {
        Self {
            ring: Ring::new(period),
        }
    }

    /// Validates `period`, then returns the indicator.
    ///
    /// # Errors
    /// Returns the range error of [`PeriodReturn::validate`].
    pub fn try_new(period: usize) -> Result<Self, RangeError> {
        Self::validate(period).map(|()| Self::new(period))
    }

    /// Adds a price and returns the return against the price `period` bars back, once known.
    pub fn update(&mut self, price: f64) -> Option<f64> {
        let base = self.ring.push(price)?;
        Some(if LOG {
            (price / base).ln()
        } else {
            price / base - 1.0
        })
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.ring.clear();
    }
}

impl<const LOG: bool> Indicator for PeriodReturn<LOG> {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = PeriodReturn::update(self, input[0]).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        PeriodReturn::reset(self);
    }

    fn warmup(&self) -> usize {
        self.ring.capacity() + 1
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, close, prices, singles};
    use proptest::prelude::*;

    #[test]
    fn log_return_of_a_doubling() {
        let mut r = LogReturn::new(1);
        assert_eq!(r.update(10.0), None);
        assert!(close(r.update(20.0).unwrap(), std::f64::consts::LN_2));
        assert!(Roc::validate(0).is_err() && Roc::try_new(1).is_ok());
    }

    fn naive(h: &[Vec<f64>], n: usize, log: bool) -> Vec<f64> {
        let t = h.len() - 1;
        if t < n {
            return vec![f64::NAN];
        }
        let (x, base) = (h[t][0], h[t - n][0]);
        vec![if log {
            x.ln() - base.ln()
        } else {
            (x - base) / base
        }]
    }

    proptest! {
        #[test]
        fn prop_returns_match_naive(xs in prices(1..200), noise in prices(0..30), n in 1usize..30) {
            let (rows, noise) = (singles(&xs), singles(&noise));
            check_against_naive(&mut SimpleReturn::new(n), &rows, &noise, |h| naive(h, n, false))?;
            check_against_naive(&mut LogReturn::new(n), &rows, &noise, |h| naive(h, n, true))?;
        }
    }
}
