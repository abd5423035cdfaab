//! Returns over `n` bars: simple (`x / x[t-n] - 1`, the rate of change) or log.
//!
//! Both are fractions, not percent. A ring of the last `n` values hands back `x[t-n]` as it is
//! evicted, so one update is O(1) whatever `n`. The two kinds share one type, generic over a
//! const flag, so the kind costs no branch per update. Inputs are prices, assumed positive: a
//! zero base gives an infinite return, a negative one a NaN log return.

use super::{Indicator, params::bars_at_least, ring::Ring};
use engine::RangeError;
use market_data::Timestamp;

/// `ln(p / q)`, the log return from `q` to `p`.
///
/// Bar-to-bar moves are small, and there `ln(p / q) = 2 atanh(u)` with `u = (p - q) / (p + q)`
/// is a short odd series: six terms reach double precision for `|u| <= 1/32` (a move of about
/// 6%; the first term left out is below `2^-60` of the sum). `p - q` is exact for such close
/// prices, so this is more accurate than `(p / q).ln()`, whose rounding of `p / q` costs
/// `eps / |p / q - 1|` of relative precision on small moves, and it takes a division and a
/// few multiply-adds instead of a division and a libm call, in the pipeline's costliest
/// kernel. Larger moves, and inputs with no such `u` (zero, negative or non-finite sums), take
/// libm's `ln` as before.
#[inline(always)]
pub(super) fn ln_ratio(p: f64, q: f64) -> f64 {
    let u = (p - q) / (p + q);
    // NaN fails the comparison, so it takes the libm path too.
    if u.abs() <= 1.0 / 32.0 {
        let u2 = u * u;
        let odd = 1.0 / 11.0;
        let odd = 1.0 / 9.0 + u2 * odd;
        let odd = 1.0 / 7.0 + u2 * odd;
        let odd = 1.0 / 5.0 + u2 * odd;
        let odd = 1.0 / 3.0 + u2 * odd;
        2.0 * u + 2.0 * u * (u2 * odd)
    } else {
        (p / q).ln()
    }
}

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
    /// use features::indicators::{LogReturn, Roc};
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
    #[inline(always)]
    pub fn update(&mut self, price: f64) -> Option<f64> {
        let base = self.ring.push(price)?;
        Some(if LOG {
            ln_ratio(price, base)
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

    #[inline(always)]
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

    /// `ln(p / q)` to about an ulp, from `ln_1p` of the exact difference (`p - q` is exact
    /// for prices within a factor of two, so the only roundings are one division and libm's).
    fn reference_ln_ratio(p: f64, q: f64) -> f64 {
        ((p - q) / q).ln_1p()
    }

    #[test]
    fn ln_ratio_takes_libm_beyond_the_series_and_for_bad_prices() {
        assert_eq!(ln_ratio(20.0, 10.0), 2f64.ln());
        assert_eq!(ln_ratio(5.0, 5.0), 0.0);
        assert!(ln_ratio(-1.0, 1.0).is_nan() && ln_ratio(f64::NAN, 1.0).is_nan());
        assert_eq!(ln_ratio(1.0, 0.0), f64::INFINITY);
        assert_eq!(ln_ratio(0.0, 1.0), f64::NEG_INFINITY);
    }

    proptest! {
        #[test]
        fn prop_ln_ratio_is_within_a_few_ulps_of_the_exact_log_return(
            q in 1e-3f64..1e6,
            // Moves inside the series' range (|u| <= 1/32, moves up to about 6%).
            m in -0.06f64..0.06,
        ) {
            let p = q * (1.0 + m);
            let (got, want) = (ln_ratio(p, q), reference_ln_ratio(p, q));
            prop_assert!((got - want).abs() <= 4.0 * f64::EPSILON * want.abs(), "{got} vs {want}");
        }

        #[test]
        fn prop_ln_ratio_of_larger_moves_is_libms(
            q in 1e-3f64..1e6,
            m in prop_oneof![-0.9f64..-0.07, 0.07f64..10.0],
        ) {
            let p = q * (1.0 + m);
            prop_assert_eq!(ln_ratio(p, q), (p / q).ln());
        }

        #[test]
        fn prop_returns_match_naive(xs in prices(1..200), noise in prices(0..30), n in 1usize..30) {
            let (rows, noise) = (singles(&xs), singles(&noise));
            check_against_naive(&mut SimpleReturn::new(n), &rows, &noise, |h| naive(h, n, false))?;
            check_against_naive(&mut LogReturn::new(n), &rows, &noise, |h| naive(h, n, true))?;
        }
    }
}
