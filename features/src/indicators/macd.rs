//! MACD: the gap between a fast and a slow EMA, its EMA (the signal line) and their difference.
//!
//! Follows `ta` 0.11: both EMAs are seeded with the first close (`adjust=False`) and shown from
//! `slow` closes; the signal EMA is seeded with the first shown MACD, so signal and histogram are
//! shown from `slow + signal - 1` closes.

use super::{Ema, EmaSeed, Indicator, params::bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// One MACD reading; signal and histogram lag the MACD line by `signal - 1` bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdValue {
    /// Fast EMA minus slow EMA.
    pub macd: f64,
    /// EMA of `macd`, once ready.
    pub signal: Option<f64>,
    /// `macd - signal`, once the signal is ready.
    pub hist: Option<f64>,
}

/// MACD; input `[close]`, outputs `["macd", "signal", "hist"]`. `warmup()` is `slow` (the MACD
/// line); signal and hist follow after `slow + signal - 1` updates.
#[derive(Debug, Clone)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
    slow_period: usize,
}

impl Macd {
    /// Checks `1 <= fast < slow` and `signal >= 1` (EMA spans in bars; 12, 26, 9 classically).
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(fast: usize, slow: usize, signal: usize) -> Result<(), RangeError> {
        bars_at_least("fast", 1, fast)?;
        bars_at_least("signal", 1, signal)?;
        if slow <= fast {
            return Err(RangeError::new(
                "slow",
                format!("more bars than fast ({fast}), found {slow}"),
            ));
        }
        bars_at_least("slow", 2, slow)
    }

    /// Returns a MACD from EMAs of spans `fast` and `slow` and a signal EMA of span `signal`,
    /// assumed valid (see [`Macd::validate`]).
    ///
    /// ```
    /// use features::indicators::Macd;
    /// let mut macd = Macd::new(1, 3, 2);
    /// assert_eq!(macd.update(3.0), None);
    /// assert_eq!(macd.update(6.0), None);
    /// let first = macd.update(6.0).expect("shown from the slow-th close");
    /// assert_eq!((first.macd, first.signal), (0.75, None)); // 6 - (6/2 + (6/2 + 3/2)/2)
    /// assert!(macd.update(6.0).expect("ready").signal.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        Self {
            fast: Ema::new(fast, EmaSeed::First),
            slow: Ema::new(slow, EmaSeed::First),
            signal: Ema::new(signal, EmaSeed::First),
            slow_period: slow.max(1),
        }
    }

    /// Validates the spans, then returns a MACD.
    ///
    /// # Errors
    /// Returns the range error of [`Macd::validate`].
    pub fn try_new(fast: usize, slow: usize, signal: usize) -> Result<Self, RangeError> {
        Self::validate(fast, slow, signal).map(|()| Self::new(fast, slow, signal))
    }

    /// Adds a close and returns the reading once the slow EMA is shown.
    #[inline(always)]
    pub fn update(&mut self, close: f64) -> Option<MacdValue> {
        // Both EMAs run from the first close even while hidden, as in `ta`.
        let fast = self.fast.update(close);
        let slow = self.slow.update(close)?;
        // With fast < slow the fast EMA is always shown by now; `?` covers an unvalidated swap.
        let macd = fast? - slow;
        let signal = self.signal.update(macd);
        Some(MacdValue {
            macd,
            signal,
            hist: signal.map(|s| macd - s),
        })
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
    }
}

impl Indicator for Macd {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["macd", "signal", "hist"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        let v = Macd::update(self, input[0]);
        out[0] = v.map_or(f64::NAN, |v| v.macd);
        out[1] = v.and_then(|v| v.signal).unwrap_or(f64::NAN);
        out[2] = v.and_then(|v| v.hist).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        Macd::reset(self);
    }

    fn warmup(&self) -> usize {
        self.slow_period
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, prices, singles};
    use proptest::prelude::*;

    #[test]
    fn requires_fast_below_slow() {
        assert_eq!(
            Macd::validate(26, 12, 9).unwrap_err().to_string(),
            "`slow`: more bars than fast (26), found 12"
        );
        assert!(Macd::try_new(12, 26, 9).is_ok());
    }

    /// pandas `ewm(span, adjust=False, min_periods=span)` over a series with leading NaNs.
    fn ewm(xs: &[f64], span: usize) -> Vec<f64> {
        let alpha = 2.0 / (span as f64 + 1.0);
        let (mut e, mut seen) = (f64::NAN, 0);
        xs.iter()
            .map(|&x| {
                if !x.is_nan() {
                    seen += 1;
                    e = if seen == 1 {
                        x
                    } else {
                        alpha * x + (1.0 - alpha) * e
                    };
                }
                if seen >= span { e } else { f64::NAN }
            })
            .collect()
    }

    proptest! {
        #[test]
        fn prop_macd_matches_naive(
            xs in prices(1..200),
            noise in prices(0..30),
            fast in 1usize..15,
            extra in 1usize..15,
            signal in 1usize..12,
        ) {
            let slow = fast + extra;
            let mut macd = Macd::new(fast, slow, signal);
            check_against_naive(&mut macd, &singles(&xs), &singles(&noise), |h| {
                let closes: Vec<f64> = h.iter().map(|r| r[0]).collect();
                let (f, s) = (ewm(&closes, fast), ewm(&closes, slow));
                let line: Vec<f64> = f.iter().zip(&s).map(|(f, s)| f - s).collect();
                let sig = ewm(&line, signal);
                let (m, g) = (line[h.len() - 1], sig[h.len() - 1]);
                vec![m, g, m - g]
            })?;
        }
    }
}
