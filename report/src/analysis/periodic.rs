//! Calendar returns: each month's and each year's, from period-end equity.
//!
//! A month's return is its last equity over the previous month's last equity, minus 1; the first
//! month (and year) is measured from the initial capital, so the returns compound exactly to
//! the run's total return. Calendar periods are UTC. The curve is read once, in time order,
//! holding one month at a time.

use super::MonthlyRow;
use super::calendar::Dates;

/// Monthly and yearly returns of a curve read point by point in time order.
pub(crate) struct CalendarReturns {
    dates: Dates,
    /// The month in progress, (year, month), and its last equity so far.
    month: Option<((i64, u32), f64)>,
    /// The last equity of the previous month (the initial capital before the first).
    prev: f64,
    /// The last equity before the year in progress.
    year_base: f64,
    /// The year in progress: its year, monthly returns and last equity.
    year: Option<(i64, [Option<f64>; 12], f64)>,
    rows: Vec<MonthlyRow>,
    yearly: Vec<(i32, f64)>,
}

impl CalendarReturns {
    /// Returns the calendar returns of an empty curve that started with `initial` capital.
    pub(crate) fn new(initial: f64) -> Self {
        Self {
            dates: Dates::default(),
            month: None,
            prev: initial,
            year_base: initial,
            year: None,
            rows: Vec::new(),
            yearly: Vec::new(),
        }
    }

    /// Takes the next point of the curve: equity `e` at `ts` (UTC ns).
    pub(crate) fn push(&mut self, ts: i64, e: f64) {
        let (_, (y, m, _)) = self.dates.of(ts);
        match &mut self.month {
            Some((key, last)) if *key == (y, m) => *last = e,
            _ => {
                if let Some((key, last)) = self.month.replace(((y, m), e)) {
                    self.month_end(key, last);
                }
            }
        }
    }

    /// Returns one row per calendar year touched by the curve, oldest first, and the yearly
    /// returns.
    ///
    /// Returns that are not finite (a non-positive base) are left out: the month is `None`, and
    /// a year whose total is undefined gets no row.
    pub(crate) fn finish(mut self) -> (Vec<MonthlyRow>, Vec<(i32, f64)>) {
        if let Some((key, last)) = self.month.take() {
            self.month_end(key, last);
        }
        if let Some(done) = self.year.take() {
            self.close_year(done);
        }
        (self.rows, self.yearly)
    }

    fn month_end(&mut self, (year, month): (i64, u32), e: f64) {
        if self.year.as_ref().is_some_and(|c| c.0 != year) {
            if let Some(done) = self.year.take() {
                self.close_year(done);
            }
            self.year_base = self.prev;
        }
        let row = self.year.get_or_insert((year, [None; 12], e));
        let r = e / self.prev - 1.0;
        row.1[month as usize - 1] = r.is_finite().then_some(r);
        row.2 = e;
        self.prev = e;
    }

    fn close_year(&mut self, (year, months, end): (i64, [Option<f64>; 12], f64)) {
        let total = end / self.year_base - 1.0;
        if let (Ok(year), true) = (i32::try_from(year), total.is_finite()) {
            self.rows.push(MonthlyRow {
                year,
                months,
                total,
            });
            self.yearly.push((year, total));
        }
    }
}
