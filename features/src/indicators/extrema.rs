//! Rolling minimum and maximum over the last `n` values, O(1) amortized and branch-light.
//!
//! The stream is cut into blocks of `n` values (van Herk / Gil-Werman). The window always
//! spans the tail of the previous block and the head of the current one, so its extreme is the
//! extreme of two precomputed parts: the previous block's suffix extreme at the current offset,
//! and the running extreme of the current block. The suffix extremes are rebuilt once per block
//! in one backward scan. Unlike a monotonic deque, an update has no data-dependent loop, which
//! on noisy prices costs a branch misprediction every few bars. Both arrays are allocated once.

use super::{Indicator, params::bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// The rolling maximum (`MAX = true`) or minimum of the last `period` values.
#[derive(Debug, Clone)]
pub(super) struct BlockExtreme<const MAX: bool> {
    /// The current block's values so far, by offset.
    block: Vec<f64>,
    /// `suffix[i]`: the extreme of the previous block's values from offset `i` to its end.
    suffix: Vec<f64>,
    /// Offset of the next value in the current block.
    offset: usize,
    /// The extreme of the current block's values so far.
    running: f64,
    /// Whether a whole block has been seen (the window is full).
    ready: bool,
}

impl<const MAX: bool> BlockExtreme<MAX> {
    /// The extreme of no values: every value beats it.
    const NONE: f64 = if MAX {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };

    /// Returns an empty window of `period` values (0 is treated as 1).
    pub(super) fn new(period: usize) -> Self {
        let cap = period.max(1);
        Self {
            block: vec![0.0; cap],
            suffix: vec![Self::NONE; cap],
            offset: 0,
            running: Self::NONE,
            ready: false,
        }
    }

    #[inline]
    fn pick(a: f64, b: f64) -> f64 {
        if MAX { a.max(b) } else { a.min(b) }
    }

    /// Adds `x` and returns the extreme of the window once it holds `period` values.
    #[inline(always)]
    pub(super) fn push(&mut self, x: f64) -> Option<f64> {
        self.block[self.offset] = x;
        self.running = Self::pick(self.running, x);
        self.offset += 1;
        if self.offset == self.block.len() {
            // The window is exactly the block just completed.
            let extreme = self.running;
            self.rebuild_suffix();
            self.ready = true;
            return Some(extreme);
        }
        let extreme = Self::pick(self.suffix[self.offset], self.running);
        self.ready.then_some(extreme)
    }

    /// Starts a new block, the completed one becoming the previous block.
    fn rebuild_suffix(&mut self) {
        let mut acc = Self::NONE;
        for (s, &v) in self.suffix.iter_mut().zip(&self.block).rev() {
            acc = Self::pick(acc, v);
            *s = acc;
        }
        self.offset = 0;
        self.running = Self::NONE;
    }

    /// Forgets all values.
    pub(super) fn clear(&mut self) {
        self.suffix.fill(Self::NONE);
        self.offset = 0;
        self.running = Self::NONE;
        self.ready = false;
    }

    /// Returns the window length.
    pub(super) fn period(&self) -> usize {
        self.block.len()
    }
}

macro_rules! extremum {
    ($name:ident, $max:literal, $what:literal, $example:literal) => {
        #[doc = concat!("Rolling ", $what, " of the last `period` values; input `[x]`, output")]
        /// `["value"]`, ready after `period` updates.
        #[derive(Debug, Clone)]
        pub struct $name {
            deque: BlockExtreme<$max>,
        }

        impl $name {
            /// Checks `period >= 1`.
            ///
            /// # Errors
            /// Names the argument out of range and what was expected.
            pub fn validate(period: usize) -> Result<(), RangeError> {
                bars_at_least("period", 1, period)
            }

            #[doc = concat!("Returns a rolling ", $what, " over `period` bars, assumed valid")]
            #[doc = concat!("(see [`", stringify!($name), "::validate`]).")]
            ///
            /// ```
            #[doc = concat!("use features::indicators::", stringify!($name), ";")]
            #[doc = concat!("let mut ind = ", stringify!($name), "::new(2);")]
            /// assert_eq!(ind.update(3.0), None);
            #[doc = concat!("assert_eq!(ind.update(5.0), Some(", $example, "));")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn new(period: usize) -> Self {
                Self {
                    deque: BlockExtreme::new(period),
                }
            }

            #[doc = concat!("Validates `period`, then returns a rolling ", $what, ".")]
            ///
            /// # Errors
            #[doc = concat!("Returns the range error of [`", stringify!($name), "::validate`].")]
            pub fn try_new(period: usize) -> Result<Self, RangeError> {
                Self::validate(period).map(|()| Self::new(period))
            }

            #[doc = concat!("Adds `x` and returns the ", $what, " once `period` values are in.")]
            #[inline(always)]
            pub fn update(&mut self, x: f64) -> Option<f64> {
                self.deque.push(x)
            }
        }

        impl Indicator for $name {
            fn inputs(&self) -> usize {
                1
            }

            fn outputs(&self) -> &'static [&'static str] {
                &["value"]
            }

            #[inline(always)]
            fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
                out[0] = self.deque.push(input[0]).unwrap_or(f64::NAN);
            }

            fn reset(&mut self) {
                self.deque.clear();
            }

            fn warmup(&self) -> usize {
                self.deque.period()
            }
        }
    };
}

extremum!(RollingMin, false, "minimum", "3.0");
extremum!(RollingMax, true, "maximum", "5.0");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, prices, singles};
    use proptest::prelude::*;

    #[test]
    fn expires_the_old_extreme() {
        let mut max = RollingMax::new(3);
        let got: Vec<_> = [9.0, 1.0, 2.0, 3.0, 1.0, 1.0].map(|x| max.update(x)).into();
        assert_eq!(
            got,
            [None, None, Some(9.0), Some(3.0), Some(3.0), Some(3.0)]
        );
    }

    proptest! {
        #[test]
        fn prop_extrema_match_naive(
            // Few distinct values, so ties and long runs are exercised.
            xs in proptest::collection::vec(1u8..6, 1..200),
            noise in prices(0..30),
            n in 1usize..30,
        ) {
            let xs: Vec<f64> = xs.into_iter().map(f64::from).collect();
            let naive = |h: &[Vec<f64>], max: bool| {
                let t = h.len();
                if t < n {
                    return vec![f64::NAN];
                }
                let w = h[t - n..].iter().map(|r| r[0]);
                vec![if max { w.fold(f64::MIN, f64::max) } else { w.fold(f64::MAX, f64::min) }]
            };
            let (rows, noise) = (singles(&xs), singles(&noise));
            let mut max = RollingMax::new(n);
            check_against_naive(&mut max, &rows, &noise, |h| naive(h, true))?;
            let mut min = RollingMin::new(n);
            check_against_naive(&mut min, &rows, &noise, |h| naive(h, false))?;
        }
    }
}
