//! On-balance volume: the running sum of volume signed by the direction of the close.
//!
//! Starts at 0 on the first bar, which has no direction, and is shown from the second bar so
//! that a reading always reflects at least one move. (`ta` instead counts the first bar's
//! volume as positive, an arbitrary offset; OBV is read through its changes, so either works.)

use super::{Indicator, PriceVolume};
use market_data::Timestamp;

/// On-balance volume; inputs `[close, volume]`, output `["value"]`, ready after 2 updates.
/// It takes no parameters, so it has no `validate`.
#[derive(Debug, Clone, Default)]
pub struct Obv {
    prev_close: Option<f64>,
    value: f64,
}

impl Obv {
    /// Returns an OBV at 0.
    ///
    /// ```
    /// use features::indicators::{Obv, PriceVolume};
    /// let mut obv = Obv::new();
    /// let bar = |price, volume| PriceVolume { price, volume };
    /// assert_eq!(obv.update(bar(10.0, 5.0)), None);
    /// assert_eq!(obv.update(bar(11.0, 3.0)), Some(3.0));
    /// assert_eq!(obv.update(bar(10.5, 2.0)), Some(1.0));
    /// assert_eq!(obv.update(bar(10.5, 9.0)), Some(1.0)); // unchanged close: no sign
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a bar (its close and volume) and returns the OBV from the second bar on.
    #[inline(always)]
    pub fn update(&mut self, bar: PriceVolume) -> Option<f64> {
        let prev = self.prev_close.replace(bar.price)?;
        // Branch-free: the direction of a close is a coin flip the predictor cannot learn.
        let sign = f64::from(u8::from(bar.price > prev)) - f64::from(u8::from(bar.price < prev));
        self.value += sign * bar.volume;
        Some(self.value)
    }

    /// Forgets all history: the next bar starts again at 0.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

impl Indicator for Obv {
    fn inputs(&self) -> usize {
        2
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = Obv::update(self, PriceVolume::from_slice(input)).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        Obv::reset(self);
    }

    fn warmup(&self) -> usize {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, volumes};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn prop_obv_matches_naive(xs in volumes(1..200), noise in volumes(0..30)) {
            let mut obv = Obv::new();
            check_against_naive(&mut obv, &xs, &noise, |h| {
                if h.len() < 2 {
                    return vec![f64::NAN];
                }
                let signed = |i: usize| match h[i][0].partial_cmp(&h[i - 1][0]) {
                    Some(std::cmp::Ordering::Greater) => h[i][1],
                    Some(std::cmp::Ordering::Less) => -h[i][1],
                    _ => 0.0,
                };
                vec![(1..h.len()).map(signed).sum()]
            })?;
        }
    }
}
