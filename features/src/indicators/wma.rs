//! Linearly weighted moving average: weights 1..n, the newest value weighing n.
//!
//! O(1) per update from two running sums: when the window slides, every weight drops by one,
//! which subtracts the plain sum from the weighted sum, and the new value enters with weight n.
//! Both sums are recomputed exactly once per lap of the ring so rounding cannot accumulate.

use super::{Indicator, params::bars_at_least, ring::Ring};
use engine::RangeError;
use market_data::Timestamp;

/// Weighted moving average; input `[x]`, output `["value"]`, ready after `period` updates.
#[derive(Debug, Clone)]
pub struct Wma {
    ring: Ring,
    sum: f64,
    weighted: f64,
    /// `n (n + 1) / 2`, the sum of the weights.
    norm: f64,
}

impl Wma {
    /// Checks `period >= 1`.
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 1, period)
    }

    /// Returns a WMA over `period` bars, assumed valid (see [`Wma::validate`]).
    ///
    /// ```
    /// use features::indicators::Wma;
    /// let mut wma = Wma::new(2);
    /// assert_eq!(wma.update(3.0), None);
    /// assert_eq!(wma.update(6.0), Some(5.0)); // (1 * 3 + 2 * 6) / 3
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(period: usize) -> Self {
        let n = period.max(1) as f64;
        Self {
            ring: Ring::new(period),
            sum: 0.0,
            weighted: 0.0,
            norm: n * (n + 1.0) / 2.0,
        }
    }

    /// Validates `period`, then returns a WMA.
    ///
    /// # Errors
    /// Returns the range error of [`Wma::validate`].
    pub fn try_new(period: usize) -> Result<Self, RangeError> {
        Self::validate(period).map(|()| Self::new(period))
    }

    /// Adds `x` and returns the average once `period` values have been seen.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        match self.ring.push(x) {
            None => {
                // Filling up: earlier weights stay, the new value takes the next weight.
                self.weighted += self.ring.len() as f64 * x;
                self.sum += x;
            }
            Some(old) => {
                let n = self.ring.capacity() as f64;
                self.weighted += n * x - self.sum;
                self.sum += x - old;
            }
        }
        if self.ring.lap_done() {
            self.resum();
        }
        self.ring.is_full().then(|| self.weighted / self.norm)
    }

    /// Recomputes both sums exactly, once per lap. Out of line: the hot path stays small.
    #[inline(never)]
    fn resum(&mut self) {
        self.sum = self.ring.iter().sum();
        self.weighted = (self.ring.iter().enumerate())
            .map(|(i, v)| (i + 1) as f64 * v)
            .sum();
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.ring.clear();
        self.sum = 0.0;
        self.weighted = 0.0;
    }
}

impl Indicator for Wma {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = Wma::update(self, input[0]).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        Wma::reset(self);
    }

    fn warmup(&self) -> usize {
        self.ring.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, prices, singles};
    use proptest::prelude::*;

    #[test]
    fn weights_the_newest_most() {
        let mut wma = Wma::new(3);
        assert_eq!(wma.update(1.0), None);
        assert_eq!(wma.update(2.0), None);
        assert_eq!(wma.update(3.0), Some(14.0 / 6.0)); // (1 + 4 + 9) / 6
        assert_eq!(wma.update(6.0), Some(26.0 / 6.0)); // (2 + 6 + 18) / 6
    }

    proptest! {
        #[test]
        fn prop_wma_matches_naive(xs in prices(1..200), noise in prices(0..30), n in 1usize..30) {
            let mut wma = Wma::new(n);
            check_against_naive(&mut wma, &singles(&xs), &singles(&noise), |h| {
                let t = h.len();
                if t < n {
                    return vec![f64::NAN];
                }
                let w = h[t - n..].iter().enumerate();
                let num: f64 = w.map(|(i, r)| (i + 1) as f64 * r[0]).sum();
                vec![num / (n * (n + 1) / 2) as f64]
            })?;
        }
    }
}
