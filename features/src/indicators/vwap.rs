//! Volume-weighted average price, per session (a day in a time zone, UTC by default) or over a
//! rolling window of bars.
//!
//! `sum(price * volume) / sum(volume)`. The session variant restarts when the day of `ts`
//! changes; the day's bounds are kept, so a bar within it tests two integers (no time zone
//! lookup on the hot path). The rolling
//! variant keeps both sums over the last `n` bars with an exact recompute once per lap. Until
//! some volume has traded in the window there is no average: not ready, rather than 0.

use super::{Indicator, PriceVolume, params::bars_at_least, ring::Ring};
use engine::RangeError;
use market_data::{NANOS_PER_DAY, Timestamp, Zone};

/// An empty day range: the first bar always starts a session.
const NO_DAY: (i64, i64) = (i64::MAX, i64::MIN);

/// VWAP; inputs `[price, volume]`, output `["value"]`. Ready on the first bar with volume
/// (session) or after `period` bars with some volume among them (rolling).
#[derive(Debug, Clone)]
pub struct Vwap {
    session: bool,
    /// Session only: the zone whose midnight starts a session.
    zone: Zone,
    /// Session only: the current UTC day as `[start, end)` in nanoseconds (empty until the
    /// first bar), so a bar tests two bounds instead of dividing its timestamp into days.
    day: (i64, i64),
    sum_pv: f64,
    sum_v: f64,
    /// Rolling only: bars in the window with non-zero volume, to know exactly when it is empty.
    active: usize,
    pv: Ring,
    v: Ring,
}

impl Vwap {
    /// Returns a VWAP of each UTC session (every bar since the day of `ts` last changed).
    ///
    /// ```
    /// use market_data::Timestamp;
    /// use features::indicators::{PriceVolume, Vwap};
    /// let mut vwap = Vwap::session();
    /// let t = Timestamp::from_secs(0);
    /// assert_eq!(vwap.update(t, PriceVolume { price: 10.0, volume: 0.0 }), None);
    /// assert_eq!(vwap.update(t, PriceVolume { price: 10.0, volume: 1.0 }), Some(10.0));
    /// assert_eq!(vwap.update(t, PriceVolume { price: 13.0, volume: 2.0 }), Some(12.0));
    /// let next_day = Timestamp::from_secs(86_400);
    /// assert_eq!(vwap.update(next_day, PriceVolume { price: 20.0, volume: 5.0 }), Some(20.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session() -> Self {
        Self::session_in(Zone::UTC)
    }

    /// Returns a VWAP of each day in `zone` (sessions start at its midnight).
    pub fn session_in(zone: Zone) -> Self {
        Self {
            zone,
            ..Self::with_window(true, 1)
        }
    }

    /// Checks `period >= 1` for [`Vwap::rolling`].
    ///
    /// # Errors
    /// Names the argument out of range and what was expected.
    pub fn validate_rolling(period: usize) -> Result<(), RangeError> {
        bars_at_least("period", 1, period)
    }

    /// Returns a VWAP of the last `period` bars, assumed valid (see [`Vwap::validate_rolling`]).
    ///
    /// ```
    /// use market_data::Timestamp;
    /// use features::indicators::{PriceVolume, Vwap};
    /// let mut vwap = Vwap::rolling(2);
    /// let t = Timestamp::from_secs(0);
    /// assert_eq!(vwap.update(t, PriceVolume { price: 10.0, volume: 1.0 }), None);
    /// assert_eq!(vwap.update(t, PriceVolume { price: 13.0, volume: 2.0 }), Some(12.0));
    /// assert_eq!(vwap.update(t, PriceVolume { price: 10.0, volume: 2.0 }), Some(11.5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rolling(period: usize) -> Self {
        Self::with_window(false, period)
    }

    /// Validates `period`, then returns a rolling VWAP.
    ///
    /// # Errors
    /// Returns the range error of [`Vwap::validate_rolling`].
    pub fn try_rolling(period: usize) -> Result<Self, RangeError> {
        Self::validate_rolling(period).map(|()| Self::rolling(period))
    }

    fn with_window(session: bool, period: usize) -> Self {
        Self {
            session,
            zone: Zone::UTC,
            day: NO_DAY,
            sum_pv: 0.0,
            sum_v: 0.0,
            active: 0,
            pv: Ring::new(period),
            v: Ring::new(period),
        }
    }

    /// Adds a bar at `ts` and returns the average once volume has traded in the window.
    #[inline(always)]
    pub fn update(&mut self, ts: Timestamp, bar: PriceVolume) -> Option<f64> {
        let pv = bar.price * bar.volume;
        if self.session {
            if !(self.day.0..self.day.1).contains(&ts.0) {
                self.start_session(ts);
            }
            self.sum_pv += pv;
            self.sum_v += bar.volume;
            return (self.sum_v > 0.0).then(|| self.sum_pv / self.sum_v);
        }
        let old_pv = self.pv.push(pv).unwrap_or(0.0);
        let old_v = self.v.push(bar.volume);
        self.active += usize::from(bar.volume != 0.0);
        self.active -= usize::from(old_v.is_some_and(|v| v != 0.0));
        self.sum_pv += pv - old_pv;
        self.sum_v += bar.volume - old_v.unwrap_or(0.0);
        if self.v.lap_done() {
            self.sum_pv = self.pv.iter().sum();
            self.sum_v = self.v.iter().sum();
        }
        (self.v.is_full() && self.active > 0).then(|| self.sum_pv / self.sum_v)
    }

    /// Starts the session of `ts`'s day. Out of line: inlined, the compiler computes the day of
    /// every bar ahead of the test, in every pipeline, even one without a VWAP.
    #[cold]
    #[inline(never)]
    fn start_session(&mut self, ts: Timestamp) {
        self.day = if self.zone == Zone::UTC {
            let start = ts.day() * NANOS_PER_DAY;
            (start, start.saturating_add(NANOS_PER_DAY))
        } else {
            self.zone.day_bounds(ts)
        };
        (self.sum_pv, self.sum_v) = (0.0, 0.0);
    }

    /// Forgets all history.
    pub fn reset(&mut self) {
        self.day = NO_DAY;
        (self.sum_pv, self.sum_v, self.active) = (0.0, 0.0, 0);
        self.pv.clear();
        self.v.clear();
    }
}

impl Indicator for Vwap {
    fn inputs(&self) -> usize {
        2
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["value"]
    }

    #[inline(always)]
    fn update(&mut self, ts: Timestamp, input: &[f64], out: &mut [f64]) {
        out[0] = Vwap::update(self, ts, PriceVolume::from_slice(input)).unwrap_or(f64::NAN);
    }

    fn reset(&mut self) {
        Vwap::reset(self);
    }

    fn warmup(&self) -> usize {
        if self.session { 1 } else { self.v.capacity() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::tests::{check_against_naive, step_ts, volumes};
    use proptest::prelude::*;

    #[test]
    fn a_session_starts_at_midnight_in_its_zone() {
        let ny = Zone::parse("America/New_York").unwrap();
        let mut vwap = Vwap::session_in(ny);
        let bar = |price| PriceVolume { price, volume: 1.0 };
        // 2024-01-02 in New York (UTC-5): 04:00 UTC is still the 1st, 05:00 UTC the 2nd.
        let at = |h: i64| Timestamp::from_secs(1_704_153_600 + h * 3_600);
        assert_eq!(vwap.update(at(3), bar(10.0)), Some(10.0));
        assert_eq!(
            vwap.update(at(4), bar(20.0)),
            Some(15.0),
            "the same New York day"
        );
        assert_eq!(
            vwap.update(at(5), bar(40.0)),
            Some(40.0),
            "a new New York day"
        );
        // In UTC the session broke at midnight UTC, before all three.
        let mut utc = Vwap::session();
        utc.update(at(3), bar(10.0));
        assert_eq!(utc.update(at(5), bar(40.0)), Some(25.0));
    }

    #[test]
    fn rolling_needs_a_period() {
        assert!(Vwap::validate_rolling(0).is_err());
        assert!(Vwap::try_rolling(1).is_ok());
    }

    #[test]
    fn rolling_window_without_volume_is_not_ready() {
        let mut vwap = Vwap::rolling(2);
        let bar = |volume| PriceVolume {
            price: 10.0,
            volume,
        };
        let t = Timestamp::from_secs(0);
        assert_eq!(vwap.update(t, bar(1.0)), None);
        assert_eq!(vwap.update(t, bar(0.0)), Some(10.0));
        assert_eq!(vwap.update(t, bar(0.0)), None);
    }

    /// Recomputes from the history: the session's bars, or the last `period` (`Some`).
    fn naive(h: &[Vec<f64>], period: Option<usize>) -> Vec<f64> {
        let t = h.len() - 1;
        let start = match period {
            None => (0..=t)
                .rev()
                .find(|&i| i == 0 || step_ts(i - 1).day() != step_ts(i).day())
                .unwrap(),
            Some(period) if t + 1 >= period => t + 1 - period,
            Some(_) => return vec![f64::NAN],
        };
        let w = &h[start..];
        let v: f64 = w.iter().map(|r| r[1]).sum();
        if w.iter().all(|r| r[1] == 0.0) {
            return vec![f64::NAN];
        }
        vec![w.iter().map(|r| r[0] * r[1]).sum::<f64>() / v]
    }

    proptest! {
        #[test]
        fn prop_vwap_matches_naive(
            xs in volumes(1..200),
            noise in volumes(0..30),
            n in 1usize..30,
            session: bool,
        ) {
            let period = (!session).then_some(n);
            let mut vwap = if session { Vwap::session() } else { Vwap::rolling(n) };
            check_against_naive(&mut vwap, &xs, &noise, |h| naive(h, period))?;
        }
    }
}
