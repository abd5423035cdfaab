//! Exponential moving average with `alpha = 2 / (period + 1)` and a choice of seed.
//!
//! Libraries disagree on the first value, and the difference lingers for a few periods, so the
//! seed is a parameter rather than a hidden choice: `first` matches `ta`/pandas
//! (`ewm(span, adjust=False)`: `e[0] = x[0]`, shown from the `period`-th value), `sma` is the
//! textbook seed (the first value is the SMA of the first `period` values).

use super::{Indicator, params::bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// How an [`Ema`] gets its first value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmaSeed {
    /// `e[0] = x[0]`, recursion from the first value, hidden until `period` values are seen
    /// (`ta` 0.11 and pandas `ewm(span=period, adjust=False, min_periods=period)`).
    #[default]
    First,
    /// `e[period-1]` = mean of the first `period` values, recursion after that.
    Sma,
}

/// Exponential moving average; input `[x]`, output `["value"]`, ready after `period` updates
/// with either seed.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    seed: EmaSeed,
    alpha: f64,
    /// `1 - alpha`, computed once (the same value the recursion would compute each time).
    decay: f64,
    seen: usize,
    /// The running average (with the `sma` seed: the running sum until `period` values).
    value: f64,
}

impl Ema {
    /// Checks `period >= 1` (the span in bars; `alpha = 2 / (period + 1)`).
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 1, period)
    }

    /// Returns an EMA of span `period`, assumed valid (see [`Ema::validate`]), seeded by `seed`.
    ///
    /// ```
    /// use features::indicators::{Ema, EmaSeed};
    /// let mut ema = Ema::new(3, EmaSeed::Sma);
    /// assert_eq!(ema.update(1.0), None);
    /// assert_eq!(ema.update(2.0), None);
    /// assert_eq!(ema.update(3.0), Some(2.0)); // the SMA of the first three
    /// assert_eq!(ema.update(4.0), Some(3.0)); // alpha = 0.5
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(period: usize, seed: EmaSeed) -> Self {
        let period = period.max(1);
        let alpha = 2.0 / (period as f64 + 1.0);
        Self {
            period,
            seed,
            alpha,
            decay: 1.0 - alpha,
            seen: 0,
            value: 0.0,
        }
    }

    /// Validates `period`, then returns an EMA.
    ///
    /// # Errors
    /// Returns the range error of [`Ema::validate`].
    pub fn try_new(period: usize, seed: EmaSeed) -> Result<Self, RangeError> {
        Self::validate(period).map(|()| Self::new(period, seed))
    }

    /// Adds `x` and returns the average once `period` values have been seen.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        // Every update after the warm-up is the recursion alone (`seen` stops at `period`).
        if self.seen >= self.period {
            self.value = self.recursion(x);
            return Some(self.value);
        }
        self.warm_up(x)
    }

    /// The form pandas' adjust=False recursion uses, so values agree to the last bits.
    #[inline(always)]
    fn recursion(&self, x: f64) -> f64 {
        self.alpha * x + self.decay * self.value
    }

    /// Adds `x` before the average is ready.
    #[inline(never)]
    fn warm_up(&mut self, x: f64) -> Option<f64> {
        self.seen += 1;
        match self.seed {
            EmaSeed::First if self.seen == 1 => self.value = x,
            EmaSeed::Sma if self.seen < self.period => self.value += x,
            EmaSeed::Sma if self.seen == self.period => {
                self.value = (self.value + x) / self.period as f64;
            }
            _ => self.value = self.recursion(x),
        }
        (self.seen >= self.period).then_some(self.value)
    }

    /// Returns the current average, if ready.
    pub fn value(&self) -> Option<f64> {
        (self.seen >= self.period).then_some(self.value)
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.seen = 0;
        self.value = 0.0;
    }
}

impl Indicator for Ema {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = Ema::update(self, input[0]).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        Ema::reset(self);
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
    fn first_seed_hides_but_keeps_the_early_values() {
        // alpha = 0.5: e = 1, 1.5, 2.25, 3.125, 4.0625, shown from the third value.
        let mut ema = Ema::new(3, EmaSeed::First);
        let got: Vec<_> = [1.0, 2.0, 3.0, 4.0, 5.0].map(|x| ema.update(x)).into();
        assert_eq!(got, [None, None, Some(2.25), Some(3.125), Some(4.0625)]);
    }

    #[test]
    fn sma_seed_starts_from_the_mean() {
        // Seed 2 = mean(1, 2, 3); then 0.5 * 4 + 0.5 * 2 = 3 and 0.5 * 5 + 0.5 * 3 = 4.
        let mut ema = Ema::new(3, EmaSeed::Sma);
        let got: Vec<_> = [1.0, 2.0, 3.0, 4.0, 5.0].map(|x| ema.update(x)).into();
        assert_eq!(got, [None, None, Some(2.0), Some(3.0), Some(4.0)]);
    }

    fn naive(h: &[Vec<f64>], n: usize, seed: EmaSeed) -> Vec<f64> {
        let t = h.len();
        if t < n {
            return vec![f64::NAN];
        }
        let alpha = 2.0 / (n as f64 + 1.0);
        let (mut e, start) = match seed {
            EmaSeed::First => (h[0][0], 1),
            EmaSeed::Sma => (h[..n].iter().map(|r| r[0]).sum::<f64>() / n as f64, n),
        };
        for r in &h[start..] {
            e = alpha * r[0] + (1.0 - alpha) * e;
        }
        vec![e]
    }

    proptest! {
        #[test]
        fn prop_ema_matches_naive(
            xs in prices(1..200),
            noise in prices(0..30),
            n in 1usize..30,
            sma_seed: bool,
        ) {
            let seed = if sma_seed { EmaSeed::Sma } else { EmaSeed::First };
            let mut ema = Ema::new(n, seed);
            check_against_naive(&mut ema, &singles(&xs), &singles(&noise), |h| naive(h, n, seed))?;
        }
    }
}
