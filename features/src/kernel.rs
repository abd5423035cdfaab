//! [`Kernel`]: every indicator in one enum, so the pipeline's hot loop dispatches with a `match`
//! (inlinable) instead of through a vtable.

use super::transforms::{Clip, Diff, Lag, Standardize};
use crate::indicators::{self as ind, Indicator};

/// Runs one kernel of `N` inputs and `OUT` outputs on the value row (see [`Kernel::step`]).
/// The counts are constants, so the loads, checks and slices compile to straight-line code.
#[inline(always)]
fn step_with<const N: usize, const OUT: usize, K: Indicator>(
    kernel: &mut K,
    ts: market_data::Timestamp,
    inputs: &[usize; super::runner::MAX_INPUTS],
    row: &mut [f64],
    first: usize,
) -> bool {
    let mut input = [0.0; N];
    let mut finite = true;
    for (x, &at) in input.iter_mut().zip(inputs) {
        *x = row[at];
        finite &= x.is_finite();
    }
    if finite {
        kernel.update(ts, &input, &mut row[first..first + OUT]);
    }
    finite
}

/// Declares `Kernel`, an enum of every indicator with its input and output counts, and
/// forwards `Indicator` to the variant with a `match`: the pipeline's hot loop then calls
/// kernels directly (inlinable) instead of through a vtable, one jump per feature per bar.
macro_rules! kernels {
    ($($variant:ident($ty:ty, $inputs:literal, $outputs:literal)),* $(,)?) => {
        /// One feature's indicator, any kind.
        ///
        /// `repr(u8)`: an explicit tag byte, so the hot loop's `match` is one byte load and a
        /// jump table; without it the tag hides in a niche of a variant's field and takes a
        /// dozen instructions to decode per feature per bar.
        #[derive(Debug, Clone)]
        #[repr(u8)]
        pub enum Kernel {
            $(
                #[doc = concat!("A [`", stringify!($ty), "`].")]
                $variant($ty),
            )*
            /// A `bollinger` and a `zscore` feature over the same input and window, fused by
            /// the pipeline (never built from a config on its own), with the value-row slot of
            /// the z-score's column.
            BandsAndZScore(ind::BandsAndZScore, usize),
        }

        impl Kernel {
            /// Reads the kernel's inputs from `row` at the slots `inputs` and, when they are all
            /// finite, updates it and writes its outputs to `row[first..]`, returning true. A
            /// non-finite input leaves everything untouched and returns false.
            #[inline(always)]
            pub(crate) fn step(
                &mut self,
                ts: market_data::Timestamp,
                inputs: &[usize; super::runner::MAX_INPUTS],
                row: &mut [f64],
                first: usize,
            ) -> bool {
                match self {
                    // Fused bands and z-score: the bands' columns at `first`, the z-score's
                    // column elsewhere.
                    Kernel::BandsAndZScore(k, zscore_slot) => {
                        let x = row[inputs[0]];
                        if !x.is_finite() {
                            return false;
                        }
                        let ([mid, upper, lower, percent_b, width], z) = k
                            .update(x)
                            .map_or(([f64::NAN; 5], f64::NAN), |(b, z)| {
                                ([b.mid, b.upper, b.lower, b.percent_b, b.width], z)
                            });
                        row[first..first + 5].copy_from_slice(&[mid, upper, lower, percent_b, width]);
                        row[*zscore_slot] = z;
                        true
                    }
                    $(Kernel::$variant(k) => {
                        step_with::<$inputs, $outputs, _>(k, ts, inputs, row, first)
                    })*
                }
            }

            /// Returns the slot of a fused z-score's column (outside `first..`), if any.
            pub(crate) fn zscore_slot(&self) -> Option<usize> {
                match self {
                    Kernel::BandsAndZScore(_, slot) => Some(*slot),
                    _ => None,
                }
            }

            /// Returns the input and output counts the hot loop assumes for this kind.
            #[cfg(test)]
            pub(crate) fn declared_arity(&self) -> (usize, usize) {
                match self {
                    $(Kernel::$variant(_) => ($inputs, $outputs),)*
                    Kernel::BandsAndZScore(..) => (1, 6),
                }
            }
        }

        impl Indicator for Kernel {
            #[inline]
            fn inputs(&self) -> usize {
                match self { $(Kernel::$variant(k) => Indicator::inputs(k),)* Kernel::BandsAndZScore(k, _) => Indicator::inputs(k) }
            }
            #[inline]
            fn outputs(&self) -> &'static [&'static str] {
                match self { $(Kernel::$variant(k) => Indicator::outputs(k),)* Kernel::BandsAndZScore(k, _) => Indicator::outputs(k) }
            }
            #[inline]
            fn update(&mut self, ts: market_data::Timestamp, input: &[f64], out: &mut [f64]) {
                match self { $(Kernel::$variant(k) => Indicator::update(k, ts, input, out),)* Kernel::BandsAndZScore(k, _) => Indicator::update(k, ts, input, out) }
            }
            fn reset(&mut self) {
                match self { $(Kernel::$variant(k) => Indicator::reset(k),)* Kernel::BandsAndZScore(k, _) => Indicator::reset(k) }
            }
            fn warmup(&self) -> usize {
                match self { $(Kernel::$variant(k) => Indicator::warmup(k),)* Kernel::BandsAndZScore(k, _) => Indicator::warmup(k) }
            }
        }
    };
}

// Each kind with its input and output counts (a test checks them against the indicators).
kernels!(
    Sma(ind::Sma, 1, 1),
    Ema(ind::Ema, 1, 1),
    Wma(ind::Wma, 1, 1),
    Rsi(ind::Rsi, 1, 1),
    Macd(ind::Macd, 1, 3),
    Bollinger(ind::Bollinger, 1, 5),
    Atr(ind::Atr, 3, 1),
    Stochastic(ind::Stochastic, 3, 2),
    SimpleReturn(ind::SimpleReturn, 1, 1),
    LogReturn(ind::LogReturn, 1, 1),
    Volatility(ind::Volatility, 1, 1),
    ZScore(ind::ZScore, 1, 1),
    Min(ind::RollingMin, 1, 1),
    Max(ind::RollingMax, 1, 1),
    Vwap(ind::Vwap, 2, 1),
    Obv(ind::Obv, 2, 1),
    Correlation(ind::Correlation, 2, 1),
    Lag(Lag, 1, 1),
    Diff(Diff, 1, 1),
    Clip(Clip, 1, 1),
    Standardize(Standardize, 1, 1),
);
