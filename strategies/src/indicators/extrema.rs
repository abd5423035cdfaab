//! Rolling minimum and maximum over the last `n` values, O(1) amortized.
//!
//! A monotonic deque keeps only the values that can still become the extreme: a new value
//! evicts every older one it dominates, and the front expires after `n` bars. Each value enters
//! and leaves once, hence O(1) amortized; the deque never holds more than `n` entries, so its
//! ring is allocated once in `new`.

use super::{Indicator, params::bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// The rolling maximum (`MAX = true`) or minimum of the last `period` values.
#[derive(Debug, Clone)]
pub(super) struct MonoDeque<const MAX: bool> {
    /// Update number of each entry, to expire it.
    seq: Vec<u64>,
    val: Vec<f64>,
    head: usize,
    len: usize,
    /// How many values have been pushed.
    count: u64,
}

impl<const MAX: bool> MonoDeque<MAX> {
    /// Returns an empty window of `period` values (0 is treated as 1).
    pub(super) fn new(period: usize) -> Self {
        let cap = period.max(1);
        Self {
            seq: vec![0; cap],
            val: vec![0.0; cap],
            head: 0,
            len: 0,
            count: 0,
        }
    }

    /// Returns the ring slot of the `i`-th entry; a compare beats `%`, an integer division.
    #[inline]
    fn slot(&self, i: usize) -> usize {
        let slot = self.head + i;
        if slot >= self.val.len() {
            slot - self.val.len()
        } else {
            slot
        }
    }

    /// Adds `x` and returns the extreme of the window once it holds `period` values.
    #[inline]
    pub(super) fn push(&mut self, x: f64) -> Option<f64> {
        let now = self.count;
        self.count += 1;
        let period = self.val.len() as u64;
        if self.len > 0 && self.seq[self.head] + period <= now {
            // At most one entry expires per push: entries have distinct, increasing numbers.
            self.head = self.slot(1);
            self.len -= 1;
        }
        while self.len > 0 {
            let back = self.val[self.slot(self.len - 1)];
            let dominated = if MAX { back <= x } else { back >= x };
            if !dominated {
                break;
            }
            self.len -= 1;
        }
        let back = self.slot(self.len);
        (self.seq[back], self.val[back]) = (now, x);
        self.len += 1;
        (self.count >= period).then(|| self.val[self.head])
    }

    /// Forgets all values.
    pub(super) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.count = 0;
    }

    /// Returns the window length.
    pub(super) fn period(&self) -> usize {
        self.val.len()
    }
}

macro_rules! extremum {
    ($name:ident, $max:literal, $what:literal, $example:literal) => {
        #[doc = concat!("Rolling ", $what, " of the last `period` values; input `[x]`, output")]
        /// `["value"]`, ready after `period` updates.
        #[derive(Debug, Clone)]
        pub struct $name {
            deque: MonoDeque<$max>,
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
            #[doc = concat!("use strategies::indicators::", stringify!($name), ";")]
            #[doc = concat!("let mut ind = ", stringify!($name), "::new(2);")]
            /// assert_eq!(ind.update(3.0), None);
            #[doc = concat!("assert_eq!(ind.update(5.0), Some(", $example, "));")]
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn new(period: usize) -> Self {
                Self {
                    deque: MonoDeque::new(period),
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
#[allow(clippy::unwrap_used)]
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
