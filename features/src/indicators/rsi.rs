//! Wilder's relative strength index, in two conventions that differ only in the seed.
//!
//! `ta` (0.11) smooths up and down moves as an EMA with `alpha = 1/n` seeded at the first bar
//! with a zero move (`d[0] = 0`), so it shows a value from the `n`-th close. The classic Wilder
//! seed averages the first `n` real moves, so it needs `n + 1` closes. Early values differ, the
//! gap decays like `(1 - 1/n)^t`; both are offered so results can match either reference.

use super::{Indicator, params::bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// How an [`Rsi`] seeds its smoothed averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsiSmoothing {
    /// `ta` 0.11: averages seeded with the zero move of bar 0, ready after `period` closes.
    #[default]
    Ta,
    /// Wilder: averages seeded with the mean of the first `period` moves, ready after
    /// `period + 1` closes.
    Classic,
}

/// Relative strength index in [0, 100]; input `[close]`, output `["value"]`.
///
/// When the average down move is exactly 0 the value is 100 (as in `ta`, even on a flat series).
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    /// `1 / period`, computed once: a division per update would cost more than the rest.
    inv_period: f64,
    smoothing: RsiSmoothing,
    prev: f64,
    seen: usize,
    /// Average up and down moves (classic: their sums until the seed).
    up: f64,
    down: f64,
}

impl Rsi {
    /// Checks `period >= 1` (the smoothing length in bars).
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 1, period)
    }

    /// Returns an RSI over `period` bars, assumed valid (see [`Rsi::validate`]).
    ///
    /// ```
    /// use features::indicators::{Rsi, RsiSmoothing};
    /// let mut rsi = Rsi::new(2, RsiSmoothing::Classic);
    /// assert_eq!(rsi.update(10.0), None);
    /// assert_eq!(rsi.update(11.0), None);
    /// assert_eq!(rsi.update(10.0), Some(50.0)); // one up, one down move of 1
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(period: usize, smoothing: RsiSmoothing) -> Self {
        Self {
            period: period.max(1),
            inv_period: 1.0 / period.max(1) as f64,
            smoothing,
            prev: 0.0,
            seen: 0,
            up: 0.0,
            down: 0.0,
        }
    }

    /// Validates `period`, then returns an RSI.
    ///
    /// # Errors
    /// Returns the range error of [`Rsi::validate`].
    pub fn try_new(period: usize, smoothing: RsiSmoothing) -> Result<Self, RangeError> {
        Self::validate(period).map(|()| Self::new(period, smoothing))
    }

    /// Adds a close and returns the RSI once warmed up.
    #[inline(always)]
    pub fn update(&mut self, close: f64) -> Option<f64> {
        // Every update after the warm-up: the move and the smoothing alone.
        if self.seen >= self.warmup_len() {
            return Some(self.step(close));
        }
        self.warm_up(close)
    }

    /// An update after the warm-up, returning the value.
    #[inline(always)]
    fn step(&mut self, close: f64) -> f64 {
        let (up, down) = self.moves(close);
        self.smooth(up, down);
        rsi_of(self.up, self.down)
    }

    /// Returns the up and down move from the previous close.
    #[inline(always)]
    fn moves(&mut self, close: f64) -> (f64, f64) {
        let d = close - self.prev;
        self.prev = close;
        (d.max(0.0), (-d).max(0.0))
    }

    /// Folds one move into the averages once they are seeded.
    #[inline(always)]
    fn smooth(&mut self, up: f64, down: f64) {
        let a = self.inv_period;
        match self.smoothing {
            // pandas ewm(alpha = 1/n, adjust=False).
            RsiSmoothing::Ta => {
                self.up = (1.0 - a) * self.up + a * up;
                self.down = (1.0 - a) * self.down + a * down;
            }
            // Wilder's `(avg (n - 1) + move) / n`, with the division by the constant `n` as a
            // multiply, off the bar-to-bar dependency chain.
            RsiSmoothing::Classic => {
                self.up += (up - self.up) * a;
                self.down += (down - self.down) * a;
            }
        }
    }

    /// Adds a close before the RSI is ready.
    #[inline(never)]
    fn warm_up(&mut self, close: f64) -> Option<f64> {
        self.seen += 1;
        // Bar 0 has no previous close; both conventions treat its move as absent or zero.
        let (up, down) = if self.seen == 1 {
            self.prev = close;
            (0.0, 0.0)
        } else {
            self.moves(close)
        };
        match self.smoothing {
            // `ta` seeds the averages with bar 0's zero move.
            RsiSmoothing::Ta if self.seen == 1 => (self.up, self.down) = (up, down),
            // Classic sums the first `period` moves, then takes their mean.
            RsiSmoothing::Classic if self.seen <= self.period + 1 => {
                self.up += up;
                self.down += down;
                if self.seen == self.period + 1 {
                    let n = self.period as f64;
                    self.up /= n;
                    self.down /= n;
                }
            }
            _ => self.smooth(up, down),
        }
        (self.seen >= self.warmup_len()).then(|| rsi_of(self.up, self.down))
    }

    fn warmup_len(&self) -> usize {
        match self.smoothing {
            RsiSmoothing::Ta => self.period,
            RsiSmoothing::Classic => self.period + 1,
        }
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.seen = 0;
        self.up = 0.0;
        self.down = 0.0;
    }
}

/// Returns the RSI from average up and down moves, with `ta`'s rule of 100 when `down == 0`.
fn rsi_of(up: f64, down: f64) -> f64 {
    if down == 0.0 {
        100.0
    } else {
        // `100 - 100 / (1 + up / down)` with one division instead of two.
        100.0 * up / (up + down)
    }
}

impl Indicator for Rsi {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        // The warmed-up case returns its value straight, not through an `Option`: a few
        // instructions less a bar.
        out[0] = if self.seen >= self.warmup_len() {
            self.step(input[0])
        } else {
            self.warm_up(input[0]).unwrap_or(f64::NAN)
        };
    }

    fn reset(&mut self) {
        Rsi::reset(self);
    }

    fn warmup(&self) -> usize {
        self.warmup_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, close, prices, singles};
    use proptest::prelude::*;

    #[test]
    fn classic_seeds_with_the_mean_of_the_first_moves() {
        // Moves +1, -1, +2, +1. Seed: U = 3/3 = 1, D = 1/3, RSI = 100 - 100/4 = 75.
        // Next: U = (2 * 1 + 1)/3 = 1, D = (2/3 + 0)/3 = 2/9, RS = 4.5, RSI = 100 - 100/5.5.
        let mut rsi = Rsi::new(3, RsiSmoothing::Classic);
        let got: Vec<_> = [10.0, 11.0, 10.0, 12.0, 13.0].map(|x| rsi.update(x)).into();
        assert_eq!(got[..3], [None, None, None]);
        assert!(close(got[3].unwrap(), 75.0));
        assert!(close(got[4].unwrap(), 100.0 - 100.0 / 5.5));
    }

    #[test]
    fn ta_shows_the_nth_close_and_100_without_down_moves() {
        let mut rsi = Rsi::new(3, RsiSmoothing::Ta);
        assert_eq!(rsi.update(10.0), None);
        assert_eq!(rsi.update(11.0), None);
        assert_eq!(rsi.update(12.0), Some(100.0));
    }

    fn naive(h: &[Vec<f64>], n: usize, smoothing: RsiSmoothing) -> Vec<f64> {
        let moves: Vec<f64> = (1..h.len()).map(|t| h[t][0] - h[t - 1][0]).collect();
        let nf = n as f64;
        let (mut up, mut down);
        match smoothing {
            RsiSmoothing::Ta => {
                if h.len() < n {
                    return vec![f64::NAN];
                }
                (up, down) = (0.0, 0.0);
                for d in &moves {
                    up = (1.0 - 1.0 / nf) * up + d.max(0.0) / nf;
                    down = (1.0 - 1.0 / nf) * down + (-d).max(0.0) / nf;
                }
            }
            RsiSmoothing::Classic => {
                if moves.len() < n {
                    return vec![f64::NAN];
                }
                up = moves[..n].iter().map(|d| d.max(0.0)).sum::<f64>() / nf;
                down = moves[..n].iter().map(|d| (-d).max(0.0)).sum::<f64>() / nf;
                for d in &moves[n..] {
                    up = (up * (nf - 1.0) + d.max(0.0)) / nf;
                    down = (down * (nf - 1.0) + (-d).max(0.0)) / nf;
                }
            }
        }
        vec![rsi_of(up, down)]
    }

    proptest! {
        #[test]
        fn prop_rsi_matches_naive(
            xs in prices(1..200),
            noise in prices(0..30),
            n in 1usize..30,
            classic: bool,
        ) {
            let smoothing = if classic { RsiSmoothing::Classic } else { RsiSmoothing::Ta };
            let mut rsi = Rsi::new(n, smoothing);
            let (rows, noise) = (singles(&xs), singles(&noise));
            check_against_naive(&mut rsi, &rows, &noise, |h| naive(h, n, smoothing))?;
        }
    }
}
