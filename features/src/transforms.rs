//! Transforms used by models: lag, difference, clipping, and standardisation (online, or with
//! statistics fitted on a training window and then frozen). They are `Indicator`s like any other,
//! so they chain in the pipeline and run identically streaming and batch.

use crate::indicators::{Indicator, bars_at_least};
use engine::RangeError;
use market_data::Timestamp;

/// The value `period` bars ago.
#[derive(Debug, Clone)]
pub struct Lag {
    ring: Vec<f64>,
    next: usize,
    seen: usize,
}

impl Lag {
    /// Checks `period`: at least 1 bar.
    ///
    /// # Errors
    /// Names `period` and what was expected.
    pub fn validate(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 1, period)
    }

    /// Returns a lag, or why `period` is out of range.
    ///
    /// # Errors
    /// As [`Lag::validate`].
    pub fn try_new(period: usize) -> Result<Self, RangeError> {
        Self::validate(period).map(|()| Self::new(period))
    }

    /// Returns a lag of `period` bars, assumed valid (see [`Lag::validate`]).
    pub fn new(period: usize) -> Self {
        Self {
            ring: vec![0.0; period.max(1)],
            next: 0,
            seen: 0,
        }
    }

    /// Adds a value and returns the one `period` bars ago, once there is one.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        let old = std::mem::replace(&mut self.ring[self.next], x);
        // A compare rather than `%`: an integer division per update cost more than the rest.
        self.next += 1;
        if self.next == self.ring.len() {
            self.next = 0;
        }
        self.seen = self.seen.saturating_add(1);
        (self.seen > self.ring.len()).then_some(old)
    }

    /// Forgets every value, keeping the allocation.
    fn clear(&mut self) {
        self.next = 0;
        self.seen = 0;
    }
}

impl Indicator for Lag {
    fn inputs(&self) -> usize {
        1
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }
    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = Lag::update(self, input[0]).unwrap_or(f64::NAN);
    }
    fn reset(&mut self) {
        self.clear();
    }
    fn warmup(&self) -> usize {
        self.ring.len() + 1
    }
}

/// `x[t] - x[t - period]`.
#[derive(Debug, Clone)]
pub struct Diff {
    lag: Lag,
}

impl Diff {
    /// Returns a difference, or why `period` is out of range.
    ///
    /// # Errors
    /// As [`Lag::validate`].
    pub fn try_new(period: usize) -> Result<Self, RangeError> {
        Lag::validate(period).map(|()| Self::new(period))
    }

    /// Returns a difference over `period` bars, assumed valid (see [`Lag::validate`]).
    pub fn new(period: usize) -> Self {
        Self {
            lag: Lag::new(period),
        }
    }
}

impl Indicator for Diff {
    fn inputs(&self) -> usize {
        1
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }
    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = self
            .lag
            .update(input[0])
            .map_or(f64::NAN, |old| input[0] - old);
    }
    fn reset(&mut self) {
        self.lag.clear();
    }
    fn warmup(&self) -> usize {
        self.lag.ring.len() + 1
    }
}

/// The input limited to [min, max].
#[derive(Debug, Clone)]
pub struct Clip {
    min: f64,
    max: f64,
}

impl Clip {
    /// Checks the bounds: numbers (either may be infinite), `min` at most `max`.
    ///
    /// # Errors
    /// Names `min` and what was expected.
    pub fn validate(min: f64, max: f64) -> Result<(), RangeError> {
        if min <= max {
            Ok(())
        } else {
            Err(RangeError::new(
                "min",
                format!("a number at most max ({max:?}), found {min:?}"),
            ))
        }
    }

    /// Returns a clip, or why its bounds are out of range.
    ///
    /// # Errors
    /// As [`Clip::validate`].
    pub fn try_new(min: f64, max: f64) -> Result<Self, RangeError> {
        Self::validate(min, max).map(|()| Self::new(min, max))
    }

    /// Returns a clip to [min, max], assumed valid (see [`Clip::validate`]).
    pub fn new(min: f64, max: f64) -> Self {
        Self { min, max }
    }
}

impl Indicator for Clip {
    fn inputs(&self) -> usize {
        1
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }
    #[inline(always)]
    fn update(&mut self, _ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = input[0].clamp(self.min, self.max);
    }
    fn reset(&mut self) {}
    fn warmup(&self) -> usize {
        1
    }
}

/// (x - mean) / std, with the sample statistics of the values seen so far (online), or of the
/// values before `fit_until` (frozen: not ready until then, fixed afterwards, so nothing after
/// the training window ever shapes them).
#[derive(Debug, Clone)]
pub struct Standardize {
    min_count: usize,
    fit_until: Option<Timestamp>,
    count: usize,
    /// `1 / (count - 1)`: the sample variance's divisor, kept from the previous update's
    /// `1 / count` so the online path divides twice per update rather than three times.
    inv_ddof: f64,
    inv_count: f64,
    mean: f64,
    m2: f64,
    frozen: Option<(f64, f64)>,
}

impl Standardize {
    /// Returns an online standardiser, or why `min_count` is out of range (1 bar up to the
    /// longest window).
    ///
    /// # Errors
    /// Names `period` and what was expected.
    pub fn try_online(min_count: usize) -> Result<Self, RangeError> {
        bars_at_least("period", 1, min_count).map(|()| Self::online(min_count))
    }

    /// Returns an online standardiser, ready after `min_count` values.
    pub fn online(min_count: usize) -> Self {
        Self {
            min_count: min_count.max(2),
            fit_until: None,
            count: 0,
            inv_ddof: f64::NAN,
            inv_count: f64::NAN,
            mean: 0.0,
            m2: 0.0,
            frozen: None,
        }
    }

    /// Returns a standardiser fitted on values stamped before `fit_until`, then frozen.
    pub fn frozen(fit_until: Timestamp) -> Self {
        Self {
            fit_until: Some(fit_until),
            ..Self::online(2)
        }
    }

    /// Returns the frozen (mean, std), once fitted.
    pub fn statistics(&self) -> Option<(f64, f64)> {
        self.frozen
    }

    fn observe(&mut self, x: f64) {
        // Welford's update: stable for long series.
        self.count += 1;
        let delta = x - self.mean;
        // A reciprocal of the count (independent of the data) keeps the division off the
        // bar-to-bar dependency chain through `mean`.
        self.inv_ddof = self.inv_count;
        self.inv_count = 1.0 / self.count as f64;
        self.mean += delta * self.inv_count;
        self.m2 += delta * (x - self.mean);
    }

    fn std(&self) -> f64 {
        (self.m2 / (self.count - 1) as f64).sqrt()
    }
}

impl Indicator for Standardize {
    fn inputs(&self) -> usize {
        1
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }
    #[inline(always)]
    fn update(&mut self, ts: Timestamp, input: &[f64], out: &mut [f64]) {
        let x = input[0];
        out[0] = match self.fit_until {
            None => {
                self.observe(x);
                if self.count >= self.min_count && self.m2 > 0.0 {
                    (x - self.mean) / (self.m2 * self.inv_ddof).sqrt()
                } else {
                    f64::NAN
                }
            }
            Some(until) => {
                if self.frozen.is_none() {
                    if ts < until {
                        self.observe(x);
                    } else if self.count >= 2 && self.m2 > 0.0 {
                        self.frozen = Some((self.mean, self.std()));
                    }
                }
                self.frozen.map_or(f64::NAN, |(mean, std)| (x - mean) / std)
            }
        };
    }
    fn reset(&mut self) {
        // Frozen statistics belong to the training window and survive later gaps.
        if self.frozen.is_none() {
            *self = Self {
                count: 0,
                inv_ddof: f64::NAN,
                inv_count: f64::NAN,
                mean: 0.0,
                m2: 0.0,
                ..self.clone()
            };
        }
    }
    fn warmup(&self) -> usize {
        self.min_count
    }
}
