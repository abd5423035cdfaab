//! Rolling mean and standard deviation over the last `n` values.
//!
//! Running sums make each update O(1); the sums are recomputed from the window once per lap of
//! the ring so rounding error cannot accumulate over millions of updates.

/// A fixed window of the last `n` values with a running sum (and sum of squares when `SQUARES`).
#[derive(Debug, Clone)]
struct Window<const SQUARES: bool> {
    values: Vec<f64>,
    next: usize,
    full: bool,
    sum: f64,
    sum_sq: f64,
}

impl<const SQUARES: bool> Window<SQUARES> {
    fn new(period: usize) -> Self {
        Self {
            values: vec![0.0; period.max(1)],
            next: 0,
            full: false,
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    #[inline(always)]
    fn push(&mut self, x: f64) {
        let old = self.values[self.next];
        self.values[self.next] = x;
        // Before the window fills, the slots hold 0.0, so subtracting them changes nothing.
        self.sum += x - old;
        if SQUARES {
            self.sum_sq += x * x - old * old;
        }
        self.next += 1;
        if self.next == self.values.len() {
            self.lap();
        }
    }

    /// Once per lap: exact sums, in window order, so drift never builds up. Out of line: the
    /// hot path stays small.
    #[inline(never)]
    fn lap(&mut self) {
        self.next = 0;
        self.full = true;
        self.sum = self.values.iter().sum();
        if SQUARES {
            self.sum_sq = self.values.iter().map(|v| v * v).sum();
        }
    }

    fn period(&self) -> f64 {
        self.values.len() as f64
    }
}

/// Simple moving average: the mean of the last `period` values, including the newest.
#[derive(Debug, Clone)]
pub struct RollingMean {
    window: Window<false>,
    inv_period: f64,
}

impl RollingMean {
    /// Returns an SMA over `period` values (a period of 0 is treated as 1).
    pub fn new(period: usize) -> Self {
        Self {
            window: Window::new(period),
            inv_period: 1.0 / period.max(1) as f64,
        }
    }

    /// Adds a value and returns the mean once `period` values have been seen.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        self.value()
    }

    /// Returns the current mean, if ready.
    #[inline]
    pub fn value(&self) -> Option<f64> {
        // A multiply by the stored reciprocal (within 1 ulp of sum / period): a division's
        // latency sat on the event loop's critical path.
        self.window
            .full
            .then_some(self.window.sum * self.inv_period)
    }
}

/// Rolling mean and population standard deviation (ddof = 0, as Bollinger bands use).
#[derive(Debug, Clone)]
pub struct RollingStd {
    window: Window<true>,
}

impl RollingStd {
    /// Returns an estimator over `period` values.
    pub fn new(period: usize) -> Self {
        Self {
            window: Window::new(period),
        }
    }

    /// Adds a value and returns (mean, std) once `period` values have been seen.
    #[inline(always)]
    pub fn update(&mut self, x: f64) -> Option<(f64, f64)> {
        self.window.push(x);
        self.value()
    }

    /// Returns the current (mean, std), if ready.
    pub fn value(&self) -> Option<(f64, f64)> {
        if !self.window.full {
            return None;
        }
        let n = self.window.period();
        let mean = self.window.sum / n;
        let var = (self.window.sum_sq / n - mean * mean).max(0.0);
        Some((mean, var.sqrt()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mean_is_not_ready_until_warm() {
        let mut sma = RollingMean::new(3);
        assert_eq!(sma.update(1.0), None);
        assert_eq!(sma.update(2.0), None);
        assert_eq!(sma.update(3.0), Some(2.0));
        assert_eq!(sma.update(7.0), Some(4.0));
    }

    #[test]
    fn std_matches_population_formula() {
        let mut sd = RollingStd::new(4);
        for x in [2.0, 4.0, 4.0, 4.0] {
            sd.update(x);
        }
        let (mean, std) = sd.update(5.0).unwrap(); // window 4,4,4,5
        assert_eq!(mean, 4.25);
        assert!((std - (0.1875f64).sqrt()).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn prop_rolling_mean_matches_naive(xs in proptest::collection::vec(1.0f64..1000.0, 1..300), n in 1usize..30) {
            let mut sma = RollingMean::new(n);
            for (t, &x) in xs.iter().enumerate() {
                let got = sma.update(x);
                if t + 1 < n {
                    prop_assert!(got.is_none());
                } else {
                    let naive: f64 = xs[t + 1 - n..=t].iter().sum::<f64>() / n as f64;
                    prop_assert!((got.unwrap() - naive).abs() <= 1e-9 * naive.abs());
                }
            }
        }
    }
}
