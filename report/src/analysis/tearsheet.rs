//! The calendar figures of quantstats' full metrics: trailing returns (MTD to 5 years), the best
//! and worst day, month and year, and the share of winning months and quarters.
//!
//! Calendar periods are UTC, as the monthly table's. A period's return chains its last equity
//! from the previous period's (the first from the initial capital), so the periods compound to
//! the total return. A trailing window starts at midnight of the last step's date moved back by
//! its length (quantstats' `today - relativedelta(...)`) and is measured from the last equity
//! of that date, so a year holds a year of returns; a month or year to date from the last equity
//! before the period began. A window longer than the run is undefined rather than shortened.
//!
//! The curve is read once, in time order ([`CalendarFigures`]): each period kind keeps its
//! running figures, and the trailing windows the last equity of each of the last five years'
//! days, so the memory does not grow with the run.

use super::Unit;
use super::calendar::{Dates, days_from_civil};
use super::figures::Row;
use market_data::NANOS_PER_DAY;
use std::collections::VecDeque;

/// Returns the trailing-return and calendar rows of a curve (`ts` UTC ns, ascending).
#[cfg(test)]
pub(crate) fn calendar_rows(ts: &[i64], equity: &[f64], initial: f64) -> Vec<Row> {
    let mut figures = CalendarFigures::new(initial);
    for (&t, &e) in ts.iter().zip(equity) {
        figures.push(t, e);
    }
    figures.rows()
}

/// Days of day-end equity kept for the trailing windows: more than the longest window (five
/// years of months, at most 1,827 days, from the day after its start).
const DAYS_KEPT: i64 = 1_900;

/// The trailing-return and calendar figures of a curve read point by point in time order.
pub(crate) struct CalendarFigures {
    initial: f64,
    dates: Dates,
    /// The last point: its stamp, equity and date.
    last: Option<(i64, f64, (i64, u32, u32))>,
    /// (day, stamp, equity) of the last point of each day within [`DAYS_KEPT`] of the last, and
    /// of the latest day before them.
    day_ends: VecDeque<(i64, i64, f64)>,
    /// The returns of days, months, quarters and years.
    periods: [PeriodReturns; 4],
}

impl CalendarFigures {
    /// Returns the figures of an empty curve that started with `initial` capital.
    pub(crate) fn new(initial: f64) -> Self {
        Self {
            initial,
            dates: Dates::default(),
            last: None,
            day_ends: VecDeque::new(),
            periods: std::array::from_fn(|_| PeriodReturns::new(initial)),
        }
    }

    /// Takes the next point of the curve: equity `e` at `ts` (UTC ns).
    pub(crate) fn push(&mut self, ts: i64, e: f64) {
        let (day, date) = self.dates.of(ts);
        let (y, m, _) = date;
        // The equity of the point before: the last of its periods, should this one begin others.
        let before = self.last.map(|(_, e, _)| e);
        self.last = Some((ts, e, date));
        match self.day_ends.back_mut() {
            // The day of the point before, so its month, quarter and year too: they go on.
            Some(end) if end.0 == day => {
                (end.1, end.2) = (ts, e);
                return;
            }
            _ => {
                self.day_ends.push_back((day, ts, e));
                // Keep one day before the oldest window can start: its base.
                while self.day_ends.get(1).is_some_and(|d| d.0 < day - DAYS_KEPT) {
                    self.day_ends.pop_front();
                }
            }
        }
        let keys = [
            day,
            y * 12 + i64::from(m),
            y * 4 + i64::from((m - 1) / 3),
            y,
        ];
        for (period, key) in self.periods.iter_mut().zip(keys) {
            period.enter(key, before);
        }
    }

    /// Returns the trailing-return rows, then the calendar rows.
    pub(crate) fn rows(mut self) -> Vec<Row> {
        let last = self.last.map(|(_, e, _)| e);
        for period in &mut self.periods {
            period.close(last);
        }
        let mut rows = self.trailing();
        rows.extend(self.best_and_worst());
        rows
    }

    /// The last equity stamped before `start` (UTC ns), if any.
    fn last_before(&self, start: i64) -> Option<f64> {
        let i = self.day_ends.partition_point(|d| d.1 < start);
        i.checked_sub(1).map(|i| self.day_ends[i].2)
    }

    fn trailing(&self) -> Vec<Row> {
        WINDOWS
            .iter()
            .map(|w| {
                let row = |value: f64, reason: Option<String>| Row {
                    key: w.key,
                    label: w.label,
                    value,
                    unit: Unit::Percent,
                    group: "Trailing returns",
                    reason,
                };
                let Some((_, end, (y, m, d))) = self.last else {
                    return row(f64::NAN, Some("the run recorded no equity".into()));
                };
                let start_day = match w.start {
                    Start::Inception => return row(end / self.initial - 1.0, None),
                    Start::ThisMonth => days_from_civil(y, m, 1),
                    Start::ThisYear => days_from_civil(y, 1, 1),
                    // The window's base is the last equity on that date: exactly k months of
                    // returns (quantstats would also take that date's own return).
                    Start::MonthsBack(k) => months_back(y, m, d, k) + 1,
                };
                let start = start_day.saturating_mul(NANOS_PER_DAY);
                // The last equity before the window; a month or year to date that began within
                // the run's first period counts from the initial capital.
                let base = match self.last_before(start) {
                    Some(base) => base,
                    None if matches!(w.start, Start::ThisMonth | Start::ThisYear) => self.initial,
                    None => {
                        return row(
                            f64::NAN,
                            Some(format!("the run spans less than {}", span_text(w.start))),
                        );
                    }
                };
                let total = end / base - 1.0;
                let value = w
                    .years
                    .map_or(total, |years| (1.0 + total).powf(1.0 / years) - 1.0);
                row(value, None)
            })
            .collect()
    }

    fn best_and_worst(&self) -> Vec<Row> {
        let [day, month, quarter, year] = &self.periods;
        let mut rows = Vec::new();
        let row = |key, label, value: f64, reason: Option<String>| Row {
            key,
            label,
            value,
            unit: Unit::Percent,
            group: "Calendar",
            reason,
        };
        let none = || Some("the run recorded no equity".to_string());
        for (r, [best, best_label, worst, worst_label]) in [
            (day, ["best_day", "Best day", "worst_day", "Worst day"]),
            (
                month,
                ["best_month", "Best month", "worst_month", "Worst month"],
            ),
            (year, ["best_year", "Best year", "worst_year", "Worst year"]),
        ] {
            let reason = (r.count == 0).then(none).flatten();
            rows.push(row(best, best_label, r.hi, reason.clone()));
            rows.push(row(worst, worst_label, r.lo, reason));
        }
        for (r, name, plural, key, label) in [
            (month, "month", "months", "winning_months", "Winning months"),
            (
                quarter,
                "quarter",
                "quarters",
                "winning_quarters",
                "Winning quarters",
            ),
        ] {
            let (value, reason) = if r.moved == 0 {
                let why = format!("no {name} gained or lost ({} {plural})", r.count);
                (f64::NAN, Some(why))
            } else {
                (r.won as f64 / r.moved as f64, None)
            };
            rows.push(row(key, label, value, reason));
        }
        rows
    }
}

/// The returns of consecutive calendar periods of one kind, each from its last equity over the
/// previous period's last (the first period's over the initial capital), folded as they end.
struct PeriodReturns {
    /// The period in progress.
    current: Option<i64>,
    base: f64,
    /// Periods ended.
    count: usize,
    /// The best and worst finite return (`NaN` without any).
    hi: f64,
    lo: f64,
    /// Finite returns that are not 0, and those above 0.
    moved: usize,
    won: usize,
}

impl PeriodReturns {
    fn new(initial: f64) -> Self {
        Self {
            current: None,
            base: initial,
            count: 0,
            hi: f64::NAN,
            lo: f64::NAN,
            moved: 0,
            won: 0,
        }
    }

    /// Takes a point of period `key` (keys of later periods are different); `before` is the
    /// equity of the point before it, the last of the period in progress if this one ends it.
    fn enter(&mut self, key: i64, before: Option<f64>) {
        if self.current != Some(key) {
            self.close(before);
            self.current = Some(key);
        }
    }

    /// Ends the period in progress, if any, whose last equity is `last`.
    fn close(&mut self, last: Option<f64>) {
        let (Some(_), Some(e)) = (self.current.take(), last) else {
            return;
        };
        let r = e / self.base - 1.0;
        self.base = e;
        self.count += 1;
        if r.is_finite() {
            (self.hi, self.lo) = (r.max(self.hi), r.min(self.lo));
            self.moved += usize::from(r != 0.0);
            self.won += usize::from(r > 0.0);
        }
    }
}

/// A window back from the last step, and the years it is annualised over (if it is).
struct Window {
    key: &'static str,
    label: &'static str,
    start: Start,
    years: Option<f64>,
}

/// Where a window starts.
#[derive(Clone, Copy)]
enum Start {
    /// The first day of the last step's month.
    ThisMonth,
    /// January 1 of the last step's year.
    ThisYear,
    /// The last step's date, this many months earlier.
    MonthsBack(i64),
    /// The run's initial capital.
    Inception,
}

const WINDOWS: [Window; 8] = [
    window("return_mtd", "MTD", Start::ThisMonth, None),
    window("return_3m", "3M", Start::MonthsBack(3), None),
    window("return_6m", "6M", Start::MonthsBack(6), None),
    window("return_ytd", "YTD", Start::ThisYear, None),
    window("return_1y", "1Y", Start::MonthsBack(12), None),
    window(
        "return_3y",
        "3Y (annualised)",
        Start::MonthsBack(36),
        Some(3.0),
    ),
    window(
        "return_5y",
        "5Y (annualised)",
        Start::MonthsBack(60),
        Some(5.0),
    ),
    window("return_all_time", "All-time", Start::Inception, None),
];

const fn window(
    key: &'static str,
    label: &'static str,
    start: Start,
    years: Option<f64>,
) -> Window {
    Window {
        key,
        label,
        start,
        years,
    }
}

/// Days since the epoch of the date `k` months before (y, m, d), the day clamped to the month's
/// length (March 31 less one month is February 28 or 29), as `relativedelta` does.
fn months_back(y: i64, m: u32, d: u32, k: i64) -> i64 {
    let index = y * 12 + i64::from(m) - 1 - k;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
    let next = if month == 12 {
        days_from_civil(year + 1, 1, 1)
    } else {
        days_from_civil(year, month + 1, 1)
    };
    let length = next - days_from_civil(year, month, 1);
    days_from_civil(year, month, d.min(length as u32))
}

fn span_text(start: Start) -> String {
    match start {
        Start::MonthsBack(k) if k % 12 == 0 => {
            let years = k / 12;
            format!("{years} year{}", if years == 1 { "" } else { "s" })
        }
        Start::MonthsBack(k) => format!("{k} months"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_NS: i64 = 86_400_000_000_000;

    fn day(y: i64, m: u32, d: u32) -> i64 {
        days_from_civil(y, m, d) * DAY_NS
    }

    fn get(rows: &[Row], key: &str) -> f64 {
        rows.iter().find(|r| r.key == key).unwrap().value
    }

    #[test]
    fn trailing_windows_by_hand() {
        // Every day from 2019-12-31 to 2021-03-31; equity 100 + 0.1 x the day's index, so a
        // window's return is (100 + 0.1 last) / (100 + 0.1 base) - 1 with base the index of
        // the day before the window starts. 2019-12-31 is index 0, 2021-03-31 index 456.
        let first = days_from_civil(2019, 12, 31);
        let ts: Vec<i64> = (0..=456).map(|i| (first + i) * DAY_NS).collect();
        let equity: Vec<f64> = (0..=456).map(|i| 100.0 + 0.1 * i as f64).collect();
        assert_eq!(*ts.last().unwrap(), day(2021, 3, 31));
        let rows = calendar_rows(&ts, &equity, 100.0);
        let e = |i: f64| 100.0 + 0.1 * i;
        let end = e(456.0);
        // MTD from 2021-02-28 (index 425); 3M from 2020-12-31 (index 366); 6M from 2020-09-30
        // (index 274); YTD from 2020-12-31 (366); 1Y from 2020-03-31 (91); all-time over 100.
        let expected = [
            ("return_mtd", end / e(425.0) - 1.0),
            ("return_3m", end / e(366.0) - 1.0),
            ("return_6m", end / e(274.0) - 1.0),
            ("return_ytd", end / e(366.0) - 1.0),
            ("return_1y", end / e(91.0) - 1.0),
            ("return_all_time", end / 100.0 - 1.0),
        ];
        for (key, value) in expected {
            let got = get(&rows, key);
            assert!((got - value).abs() < 1e-14, "{key}: {got} vs {value}");
        }
        for key in ["return_3y", "return_5y"] {
            let row = rows.iter().find(|r| r.key == key).unwrap();
            assert!(row.value.is_nan());
            assert!(
                row.reason
                    .as_deref()
                    .unwrap()
                    .starts_with("the run spans less than")
            );
        }
        // Best day: the second day, 100.1 / 100 - 1 (the first is 0 against the initial 100).
        assert!((get(&rows, "best_day") - 0.001).abs() < 1e-15);
        assert_eq!(get(&rows, "worst_day"), 0.0);
        // Every month and quarter gains but the first (December 2019, one day at 100: 0).
        assert_eq!(get(&rows, "winning_months"), 1.0);
        assert_eq!(get(&rows, "winning_quarters"), 1.0);
        // Years: 2019 (0), 2020 (to index 366: 136.6 / 100), 2021 (145.6 / 136.6).
        assert!((get(&rows, "best_year") - (e(366.0) / 100.0 - 1.0)).abs() < 1e-14);
        assert_eq!(get(&rows, "worst_year"), 0.0);
    }

    #[test]
    fn three_and_five_years_annualise_and_months_clamp() {
        // Month ends over six years: equity doubles each year, so both windows give 100%.
        let ts: Vec<i64> = (0..=72)
            .map(|k| months_back(2026, 1, 31, 72 - k) * DAY_NS)
            .collect();
        assert_eq!(
            ts[1],
            day(2020, 2, 29),
            "January 31 plus a month in a leap year"
        );
        let equity: Vec<f64> = (0..=72).map(|k| 2f64.powf(k as f64 / 12.0)).collect();
        let rows = calendar_rows(&ts, &equity, 1.0);
        for key in ["return_1y", "return_3y", "return_5y"] {
            let got = get(&rows, key);
            assert!((got - 1.0).abs() < 1e-12, "{key}: {got}");
        }
        // Falling months lose: 0 of 73 won.
        let down: Vec<f64> = (0..=72).map(|k| 0.5f64.powf(k as f64 / 12.0)).collect();
        let rows = calendar_rows(&ts, &down, 1.0);
        assert_eq!(get(&rows, "winning_months"), 0.0);
        // A flat curve has no winning share.
        let rows = calendar_rows(&ts, &[1.0; 73], 1.0);
        let flat = rows.iter().find(|r| r.key == "winning_quarters").unwrap();
        assert!(flat.value.is_nan() && flat.reason.as_deref().unwrap().contains("no quarter"));
    }

    #[test]
    fn a_window_that_starts_in_a_long_gap_is_measured_from_before_the_gap() {
        // Ten days from 2015-01-01 (100..=109), nothing for six years, ten days from
        // 2021-06-01 (200..=209): every window but the all-time one starts within the gap,
        // more days back than the run keeps, so its base is 109, the last equity before it.
        let ts: Vec<i64> = (0..10)
            .map(|i| day(2015, 1, 1) + i * DAY_NS)
            .chain((0..10).map(|i| day(2021, 6, 1) + i * DAY_NS))
            .collect();
        let equity: Vec<f64> = (0..10)
            .map(|i| 100.0 + f64::from(i))
            .chain((0..10).map(|i| 200.0 + f64::from(i)))
            .collect();
        let rows = calendar_rows(&ts, &equity, 100.0);
        let total = 209.0 / 109.0 - 1.0;
        for key in [
            "return_mtd",
            "return_3m",
            "return_6m",
            "return_ytd",
            "return_1y",
        ] {
            assert!((get(&rows, key) - total).abs() < 1e-15, "{key}");
        }
        for (key, years) in [("return_3y", 3.0), ("return_5y", 5.0)] {
            let expected = (209.0f64 / 109.0).powf(1.0 / years) - 1.0;
            assert!((get(&rows, key) - expected).abs() < 1e-15, "{key}");
        }
        assert!((get(&rows, "return_all_time") - 1.09).abs() < 1e-15);
    }
}
