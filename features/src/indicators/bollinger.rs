//! Bollinger bands: a rolling mean with bands `width` population standard deviations away.
//!
//! Population std (ddof = 0) as in `ta` 0.11. The moments come from a sliding aggregate that
//! never subtracts departed values (see `moments.rs`), so a quiet window after a gap keeps its
//! digits, and a flat window has a std of exactly 0: its %b is defined as 0.5 (the close sits
//! on the mid, which both bands equal) rather than 0/0.

use super::{Indicator, moments::Sliding, params::bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// One reading of the bands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerValue {
    /// Rolling mean.
    pub mid: f64,
    /// `mid + width * std`.
    pub upper: f64,
    /// `mid - width * std`.
    pub lower: f64,
    /// `(x - lower) / (upper - lower)`: 0 at the lower band, 1 at the upper; 0.5 when flat.
    pub percent_b: f64,
    /// Bandwidth `(upper - lower) / mid`, as a fraction (not `ta`'s percent).
    pub width: f64,
}

/// Bollinger bands; input `[close]`, outputs `["mid", "upper", "lower", "percent_b", "width"]`,
/// all ready after `period` updates.
#[derive(Debug, Clone)]
pub struct Bollinger {
    window: Sliding<1>,
    width: f64,
}

impl Bollinger {
    /// Checks `period >= 2` (a band around one value is empty) and `0 < width < inf`.
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate(period: usize, width: f64) -> Result<(), RangeError> {
        bars_at_least("period", 2, period)?;
        if !(width > 0.0 && width.is_finite()) {
            return Err(RangeError::new(
                "width",
                format!("a positive number of standard deviations, found {width:?}"),
            ));
        }
        Ok(())
    }

    /// Returns bands over `period` bars, each `width` standard deviations from the mid (20 and
    /// 2.0 classically), assumed valid (see [`Bollinger::validate`]).
    ///
    /// ```
    /// use features::indicators::Bollinger;
    /// let mut bb = Bollinger::new(2, 2.0);
    /// assert_eq!(bb.update(1.0), None);
    /// let v = bb.update(3.0).expect("ready after two closes");
    /// assert_eq!((v.lower, v.mid, v.upper, v.percent_b), (0.0, 2.0, 4.0, 0.75));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(period: usize, width: f64) -> Self {
        Self {
            window: Sliding::new(period),
            width,
        }
    }

    /// Validates the arguments, then returns bands.
    ///
    /// # Errors
    /// Returns the range error of [`Bollinger::validate`].
    pub fn try_new(period: usize, width: f64) -> Result<Self, RangeError> {
        Self::validate(period, width).map(|()| Self::new(period, width))
    }

    /// Adds a close and returns the bands once `period` closes have been seen.
    #[inline(always)]
    pub fn update(&mut self, close: f64) -> Option<BollingerValue> {
        self.push(close).map(|(bands, _)| bands)
    }

    /// Adds a close and returns the bands with the window's population std.
    #[inline(always)]
    fn push(&mut self, close: f64) -> Option<(BollingerValue, f64)> {
        self.window.push([close]);
        if !self.window.is_full() {
            return None;
        }
        let m = self.window.total();
        let (mid, std) = (m.mean, (m.m2 * self.window.inv_capacity()).sqrt());
        let (upper, lower) = (mid + self.width * std, mid - self.width * std);
        let percent_b = if std == 0.0 {
            0.5
        } else {
            (close - lower) / (upper - lower)
        };
        let bands = BollingerValue {
            mid,
            upper,
            lower,
            percent_b,
            width: (upper - lower) / mid,
        };
        Some((bands, std))
    }

    /// Returns the window length.
    pub fn period(&self) -> usize {
        self.window.capacity()
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.window.clear();
    }
}

impl Indicator for Bollinger {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["mid", "upper", "lower", "percent_b", "width"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        let v = Bollinger::update(self, input[0]);
        let v = v.map_or([f64::NAN; 5], |v| {
            [v.mid, v.upper, v.lower, v.percent_b, v.width]
        });
        out.copy_from_slice(&v);
    }

    fn reset(&mut self) {
        Bollinger::reset(self);
    }

    fn warmup(&self) -> usize {
        self.window.capacity()
    }
}

/// Bollinger bands and the z-score of the same window, from one set of moments. The feature
/// pipeline fuses a `bollinger` and a `zscore` feature that read the same input over the same
/// period into one of these (the z-score is `(x - mid) / std` of the bands' window), which
/// saves a window update and a square root per bar. Values are bit-identical to [`Bollinger`]
/// and [`super::ZScore`] run apart; input `[x]`, outputs the bands' five, then the z-score.
#[derive(Debug, Clone)]
pub struct BandsAndZScore {
    bands: Bollinger,
}

impl BandsAndZScore {
    /// Returns the fused pair for these bands (its window is theirs).
    pub fn new(bands: Bollinger) -> Self {
        Self { bands }
    }

    /// Adds `x` and returns the bands and the z-score once `period` values have been seen.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<(BollingerValue, f64)> {
        let (bands, std) = self.bands.push(x)?;
        // ZScore's own rule: a flat window (no spread at all) gives 0 rather than 0/0.
        let z = if self.bands.window.total().m2 == 0.0 {
            0.0
        } else {
            (x - bands.mid) / std
        };
        Some((bands, z))
    }
}

impl Indicator for BandsAndZScore {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["mid", "upper", "lower", "percent_b", "width", "zscore"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        let v = BandsAndZScore::update(self, input[0]);
        let v = v.map_or([f64::NAN; 6], |(v, z)| {
            [v.mid, v.upper, v.lower, v.percent_b, v.width, z]
        });
        out.copy_from_slice(&v);
    }

    fn reset(&mut self) {
        self.bands.reset();
    }

    fn warmup(&self) -> usize {
        self.bands.period()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, prices, singles};
    use proptest::prelude::*;

    #[test]
    fn flat_window_has_collapsed_bands_and_mid_percent_b() {
        let mut bb = Bollinger::new(3, 2.0);
        for x in [5.0, 9.0, 7.0, 7.0] {
            bb.update(x);
        }
        let v = bb.update(7.0).unwrap();
        assert_eq!((v.lower, v.mid, v.upper), (7.0, 7.0, 7.0));
        assert_eq!((v.percent_b, v.width), (0.5, 0.0));
    }

    #[test]
    fn rejects_a_non_positive_width_and_a_single_bar() {
        assert!(Bollinger::validate(20, 0.0).is_err());
        assert!(Bollinger::validate(20, f64::NAN).is_err());
        assert!(Bollinger::validate(1, 2.0).is_err());
        assert!(Bollinger::try_new(20, 2.0).is_ok());
    }

    proptest! {
        #[test]
        fn prop_bollinger_matches_naive(
            xs in prices(1..200),
            noise in prices(0..30),
            n in 2usize..30,
            width in 0.5f64..3.0,
        ) {
            let mut bb = Bollinger::new(n, width);
            check_against_naive(&mut bb, &singles(&xs), &singles(&noise), |h| {
                let t = h.len();
                if t < n {
                    return vec![f64::NAN; 5];
                }
                let w: Vec<f64> = h[t - n..].iter().map(|r| r[0]).collect();
                let mid = w.iter().sum::<f64>() / n as f64;
                let std = (w.iter().map(|v| (v - mid).powi(2)).sum::<f64>() / n as f64).sqrt();
                let (upper, lower) = (mid + width * std, mid - width * std);
                let pb = if std == 0.0 { 0.5 } else { (w[n - 1] - lower) / (upper - lower) };
                vec![mid, upper, lower, pb, (upper - lower) / mid]
            })?;
        }
    }
}
