//! Rolling Pearson correlation of two inputs over the last `n` bars.
//!
//! Variances and co-moment come from a sliding aggregate that never subtracts departed pairs
//! (see `moments.rs`), so a correlation right after an outlier leaves the window is as precise
//! as a two-pass one. When either input is flat over the window (spread exactly 0) the
//! correlation is undefined, and it reports not-ready (NaN / `None`) rather than a 0 that
//! would read as "uncorrelated".

use super::{Indicator, moments::Sliding, params::bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// Rolling correlation in [-1, 1]; inputs `[x, y]`, output `["value"]`, ready after `period`
/// updates unless either input is flat over the window.
#[derive(Debug, Clone)]
pub struct Correlation {
    window: Sliding<2>,
}

impl Correlation {
    /// Checks `period >= 2`.
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 2, period)
    }

    /// Returns the correlation over `period` bars, assumed valid (see
    /// [`Correlation::validate`]).
    ///
    /// ```
    /// use features::indicators::Correlation;
    /// let mut corr = Correlation::new(3);
    /// assert_eq!(corr.update(1.0, 5.0), None);
    /// assert_eq!(corr.update(2.0, 3.0), None);
    /// assert_eq!(corr.update(3.0, 1.0), Some(-1.0));
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
    /// Returns the range error of [`Correlation::validate`].
    pub fn try_new(period: usize) -> Result<Self, RangeError> {
        Self::validate(period).map(|()| Self::new(period))
    }

    /// Adds a pair and returns the correlation once `period` pairs have been seen.
    #[inline(always)]
    pub fn update(&mut self, x: f64, y: f64) -> Option<f64> {
        self.window.push([x, y]);
        let m = self.window.total();
        if !self.window.is_full() || m.cxx == 0.0 || m.cyy == 0.0 {
            return None;
        }
        // Rounding can put a perfect correlation a hair outside [-1, 1].
        Some((m.cxy / (m.cxx * m.cyy).sqrt()).clamp(-1.0, 1.0))
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.window.clear();
    }
}

impl Indicator for Correlation {
    fn inputs(&self) -> usize {
        2
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = Correlation::update(self, input[0], input[1]).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        Correlation::reset(self);
    }

    fn warmup(&self) -> usize {
        self.window.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, prices};
    use proptest::prelude::*;

    #[test]
    fn flat_input_is_undefined() {
        let mut corr = Correlation::new(2);
        corr.update(1.0, 4.0);
        assert_eq!(corr.update(2.0, 4.0), None);
        assert_eq!(corr.update(3.0, 5.0), Some(1.0));
    }

    proptest! {
        #[test]
        fn prop_correlation_matches_naive(
            xs in prices(1..200),
            ys in prices(200..201),
            noise in prices(0..30),
            n in 2usize..30,
        ) {
            let rows: Vec<Vec<f64>> = xs.iter().zip(&ys).map(|(&x, &y)| vec![x, y]).collect();
            let noise: Vec<Vec<f64>> = noise.iter().map(|&x| vec![x, 1000.0 - x]).collect();
            let mut corr = Correlation::new(n);
            check_against_naive(&mut corr, &rows, &noise, |h| {
                let t = h.len();
                if t < n {
                    return vec![f64::NAN];
                }
                let w = &h[t - n..];
                let mx = w.iter().map(|r| r[0]).sum::<f64>() / n as f64;
                let my = w.iter().map(|r| r[1]).sum::<f64>() / n as f64;
                let c: f64 = w.iter().map(|r| (r[0] - mx) * (r[1] - my)).sum();
                let vx: f64 = w.iter().map(|r| (r[0] - mx).powi(2)).sum();
                let vy: f64 = w.iter().map(|r| (r[1] - my).powi(2)).sum();
                vec![c / (vx * vy).sqrt()]
            })?;
        }
    }
}
