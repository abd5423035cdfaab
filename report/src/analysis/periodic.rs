//! Calendar returns: each month's and each year's, from period-end equity.
//!
//! A month's return is its last equity over the previous month's last equity, minus 1; the first
//! month (and year) is measured from the initial capital, so the returns compound exactly to
//! the run's total return. Calendar periods are UTC.

use super::MonthlyRow;
use super::calendar::year_month;
use std::collections::BTreeMap;

/// Returns one row per calendar year touched by the curve, oldest first, and the yearly returns.
///
/// Returns that are not finite (a non-positive base) are left out: the month is `None`, and a
/// year whose total is undefined gets no row.
pub(crate) fn calendar_returns(
    ts: &[i64],
    equity: &[f64],
    initial: f64,
) -> (Vec<MonthlyRow>, Vec<(i32, f64)>) {
    let mut month_end: BTreeMap<(i64, u32), f64> = BTreeMap::new();
    for (&t, &e) in ts.iter().zip(equity) {
        month_end.insert(year_month(t), e);
    }
    let mut rows: Vec<MonthlyRow> = Vec::new();
    let mut yearly = Vec::new();
    let (mut prev, mut year_base) = (initial, initial);
    let mut current: Option<(i64, [Option<f64>; 12], f64)> = None;
    let finite = |x: f64| x.is_finite().then_some(x);
    let mut close_year = |row: (i64, [Option<f64>; 12], f64), base: f64| {
        let total = row.2 / base - 1.0;
        if let (Ok(year), true) = (i32::try_from(row.0), total.is_finite()) {
            rows.push(MonthlyRow {
                year,
                months: row.1,
                total,
            });
            yearly.push((year, total));
        }
    };
    for ((year, month), e) in month_end {
        if current.as_ref().is_some_and(|c| c.0 != year) {
            if let Some(done) = current.take() {
                close_year(done, year_base);
            }
            year_base = prev;
        }
        let row = current.get_or_insert((year, [None; 12], e));
        row.1[month as usize - 1] = finite(e / prev - 1.0);
        row.2 = e;
        prev = e;
    }
    if let Some(done) = current {
        close_year(done, year_base);
    }
    (rows, yearly)
}
