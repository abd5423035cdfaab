//! Data-quality warnings for bars that pass every check yet are implausible: a close that moves
//! many times further than the instrument's recent bars range, as a price written with its
//! decimal point shifted does (1e-8 among prices near 100).

use crate::{Bar, Timestamp};

/// Bars whose ranges make up "recent".
const WINDOW: usize = 20;
/// The smallest recent range taken as typical (a flat market is not a reason to flag 0.01%).
const FLOOR: f64 = 1e-3;

/// A close that moved implausibly far from the previous one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jump {
    /// The bar.
    pub ts: Timestamp,
    /// The previous close.
    pub previous: f64,
    /// This close.
    pub close: f64,
    /// The move, in multiples of the recent bars' typical range.
    pub multiple: f64,
}

/// The multiple of the recent range above which a move is flagged, unless told otherwise.
pub const DEFAULT_JUMP_MULTIPLE: f64 = 20.0;

/// Watches one instrument's bars as they come and flags implausible jumps (see
/// [`implausible_jumps`]).
#[derive(Debug, Clone, PartialEq)]
pub struct JumpDetector {
    multiple: f64,
    ranges: [f64; WINDOW],
    filled: usize,
    next: usize,
    sum: f64,
    previous: Option<f64>,
}

impl Default for JumpDetector {
    fn default() -> Self {
        Self::new(DEFAULT_JUMP_MULTIPLE)
    }
}

impl JumpDetector {
    /// Returns a detector flagging moves over `multiple` times the recent range.
    pub fn new(multiple: f64) -> Self {
        Self {
            multiple,
            ranges: [0.0; WINDOW],
            filled: 0,
            next: 0,
            sum: 0.0,
            previous: None,
        }
    }

    /// Takes the next bar; returns the jump it makes, if implausible.
    pub fn push(&mut self, bar: &Bar) -> Option<Jump> {
        let previous = self.previous.replace(bar.close);
        if let Some(prev) = previous
            && self.filled == WINDOW
        {
            let typical = (self.sum / WINDOW as f64).max(FLOOR);
            let moved = (bar.close / prev).ln().abs();
            if moved > self.multiple * typical {
                // Kept out of the recent range, so one bad price does not hide the next.
                return Some(Jump {
                    ts: bar.ts,
                    previous: prev,
                    close: bar.close,
                    multiple: moved / typical,
                });
            }
        }
        let range = (bar.high / bar.low).ln();
        if range.is_finite() {
            self.sum += range - self.ranges[self.next];
            self.ranges[self.next] = range;
            self.next = (self.next + 1) % WINDOW;
            self.filled = (self.filled + 1).min(WINDOW);
        }
        None
    }
}

/// Returns the closes that move more than `multiple` times the mean `ln(high / low)` of the
/// previous 20 bars (at least 0.1%), measured as `|ln(close / previous close)|`. Flagged bars
/// stay out of the mean, so one bad price does not hide the next.
pub fn implausible_jumps(bars: &[Bar], multiple: f64) -> Vec<Jump> {
    let mut detector = JumpDetector::new(multiple);
    bars.iter().filter_map(|b| detector.push(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(closes: &[f64]) -> Vec<Bar> {
        closes
            .iter()
            .enumerate()
            .map(|(i, &c)| Bar {
                ts: Timestamp::from_secs(86_400 * i as i64),
                open: c,
                high: c * 1.01,
                low: c * 0.99,
                close: c,
                volume: 100.0,
            })
            .collect()
    }

    #[test]
    fn a_decimal_shifted_close_is_flagged_and_ordinary_moves_are_not() {
        let mut closes: Vec<f64> = (0..40).map(|i| 100.0 + (i % 5) as f64 * 0.5).collect();
        closes[30] = 100.0e-8;
        let jumps = implausible_jumps(&bars(&closes), 10.0);
        // Into the bad price and back out of it.
        assert_eq!(jumps.len(), 2, "{jumps:?}");
        assert_eq!(jumps[0].ts, Timestamp::from_secs(86_400 * 30));
        assert!(jumps[0].multiple > 100.0, "{jumps:?}");
        assert_eq!(jumps[1].ts, Timestamp::from_secs(86_400 * 31));
        // A 3% day among 2%-range bars is ordinary.
        let mut calm: Vec<f64> = vec![100.0; 40];
        calm[30] = 103.0;
        assert!(implausible_jumps(&bars(&calm), 10.0).is_empty());
    }
}
