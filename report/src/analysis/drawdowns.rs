//! Drawdown periods of an equity curve: peak, valley, recovery.
//!
//! The curve is cut wherever equity stands at (or above) its running peak, so the periods never
//! overlap and each runs from the last peak before a fall to the first point that regains it.
//! The worst of them is the max drawdown that [`engine::metrics::max_drawdown`] measures (the
//! depth is computed the same way, `valley / peak - 1`), and its length in points is what
//! [`engine::metrics::max_drawdown_duration`] counts for the longest one.
//!
//! The periods are found as the curve is read, and only the worst few are kept: a long run has
//! thousands of small ones that no table shows.

use super::Drawdown;

/// A point of the curve: its position, stamp and equity.
#[derive(Clone, Copy)]
struct Point {
    at: usize,
    ts: i64,
    equity: f64,
}

/// The `k` deepest drawdown periods of a curve read point by point in time order.
pub(crate) struct WorstDrawdowns {
    k: usize,
    /// The deepest periods closed so far, deepest first (earlier first among equals).
    worst: Vec<Drawdown>,
    seen: usize,
    /// The running peak.
    peak: Option<Point>,
    /// (peak, valley) of the period in progress.
    open: Option<(Point, Point)>,
    last: Option<Point>,
}

impl WorstDrawdowns {
    /// Returns an empty list that keeps the `k` deepest periods.
    pub(crate) fn new(k: usize) -> Self {
        Self {
            k,
            worst: Vec::with_capacity(k + 1),
            seen: 0,
            peak: None,
            open: None,
            last: None,
        }
    }

    /// Takes the next point of the curve.
    pub(crate) fn push(&mut self, ts: i64, equity: f64) {
        let p = Point {
            at: self.seen,
            ts,
            equity,
        };
        self.seen += 1;
        self.last = Some(p);
        let peak = *self.peak.get_or_insert(p);
        if equity >= peak.equity {
            if let Some((peak, valley)) = self.open.take() {
                self.close(peak, valley, p, true);
            }
            self.peak = Some(p);
        } else {
            match &mut self.open {
                Some((_, valley)) if equity < valley.equity => *valley = p,
                Some(_) => {}
                None => self.open = Some((peak, p)),
            }
        }
    }

    /// Returns the `k` deepest periods, deepest first (earlier first among equals); one still
    /// open at the end has no recovery and runs to the last point.
    pub(crate) fn finish(mut self) -> Vec<Drawdown> {
        if let (Some((peak, valley)), Some(last)) = (self.open.take(), self.last) {
            self.close(peak, valley, last, false);
        }
        self.worst
    }

    fn close(&mut self, peak: Point, valley: Point, end: Point, recovered: bool) {
        let period = Drawdown {
            peak: peak.ts,
            valley: valley.ts,
            recovery: recovered.then_some(end.ts),
            depth: valley.equity / peak.equity - 1.0,
            periods: end.at - peak.at,
            duration_ns: end.ts - peak.ts,
        };
        // After every period at least as deep: a stable sort of the periods in time order.
        let at = (self.worst).partition_point(|w| w.depth.total_cmp(&period.depth).is_le());
        if at < self.k {
            self.worst.insert(at, period);
            self.worst.truncate(self.k);
        }
    }
}
