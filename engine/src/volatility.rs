//! Rolling realized volatility of closes, annualised by calendar time, for volatility targeting.
//!
//! Annualising by the mean spacing of the bars (a year over the average gap) gives about 252
//! periods for daily equity bars with weekends and 525,960 for 24/7 minute bars, with no setting.

use market_data::Timestamp;

const YEAR_NS: f64 = 365.25 * 86_400e9;

/// Sample standard deviation of the last `n` log returns, in O(1) per update.
#[derive(Debug, Clone)]
pub struct RollingVolatility {
    returns: Vec<f64>,
    next: usize,
    count: usize,
    sum: f64,
    sum_sq: f64,
    first_ts: Option<Timestamp>,
    last: Option<(Timestamp, f64)>,
    observed: usize,
}

impl RollingVolatility {
    /// Returns an estimator over the last `lookback` returns.
    pub fn new(lookback: usize) -> Self {
        Self {
            returns: vec![0.0; lookback.max(2)],
            next: 0,
            count: 0,
            sum: 0.0,
            sum_sq: 0.0,
            first_ts: None,
            last: None,
            observed: 0,
        }
    }

    /// Adds a close.
    pub fn push(&mut self, ts: Timestamp, close: f64) {
        if let Some((_, previous)) = self.last {
            let r = (close / previous).ln();
            let full = self.count == self.returns.len();
            let slot = &mut self.returns[self.next];
            if full {
                self.sum -= *slot;
                self.sum_sq -= *slot * *slot;
            } else {
                self.count += 1;
            }
            *slot = r;
            self.sum += r;
            self.sum_sq += r * r;
            self.next = (self.next + 1) % self.returns.len();
        }
        self.first_ts.get_or_insert(ts);
        self.last = Some((ts, close));
        self.observed += 1;
    }

    /// Returns the annualised volatility once the window is full, else NaN.
    pub fn annualized(&self) -> f64 {
        let (Some(first), Some((last, _))) = (self.first_ts, self.last) else {
            return f64::NAN;
        };
        if self.count < self.returns.len() || last <= first {
            return f64::NAN;
        }
        let n = self.count as f64;
        let var = ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0);
        let mean_gap = (last.0 - first.0) as f64 / (self.observed - 1) as f64;
        (var * YEAR_NS / mean_gap).sqrt()
    }
}
