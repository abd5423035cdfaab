//! The calendar figures of quantstats' full metrics: trailing returns (MTD to 5 years), the best
//! and worst day, month and year, and the share of winning months and quarters.
//!
//! Calendar periods are UTC, as the monthly table's. A period's return chains its last equity
//! from the previous period's (the first from the initial capital), so the periods compound to
//! the total return. A trailing window starts at midnight of the last step's date moved back by
//! its length (quantstats' `today - relativedelta(...)`) and is measured from the last equity
//! of that date, so a year holds a year of returns; a month or year to date from the last equity
//! before the period began. A window longer than the run is undefined rather than shortened.

use super::Unit;
use super::calendar::{civil_from_days, days_from_civil};
use super::figures::Row;
use market_data::NANOS_PER_DAY;

/// Returns the trailing-return and calendar rows of a curve (`ts` UTC ns, ascending).
pub(crate) fn calendar_rows(ts: &[i64], equity: &[f64], initial: f64) -> Vec<Row> {
    let mut rows = trailing(ts, equity, initial);
    rows.extend(best_and_worst(ts, equity, initial));
    rows
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

fn trailing(ts: &[i64], equity: &[f64], initial: f64) -> Vec<Row> {
    let last = ts.last().zip(equity.last());
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
            let Some((&t, &end)) = last else {
                return row(f64::NAN, Some("the run recorded no equity".into()));
            };
            let (y, m, d) = civil_from_days(t.div_euclid(NANOS_PER_DAY));
            let start_day = match w.start {
                Start::Inception => return row(end / initial - 1.0, None),
                Start::ThisMonth => days_from_civil(y, m, 1),
                Start::ThisYear => days_from_civil(y, 1, 1),
                // The window's base is the last equity on that date: exactly k months of
                // returns (quantstats would also take that date's own return).
                Start::MonthsBack(k) => months_back(y, m, d, k) + 1,
            };
            let start = start_day.saturating_mul(NANOS_PER_DAY);
            // The last equity before the window; a month or year to date that began within the
            // run's first period counts from the initial capital.
            let base = match ts.partition_point(|&x| x < start) {
                0 if matches!(w.start, Start::ThisMonth | Start::ThisYear) => initial,
                0 => {
                    return row(
                        f64::NAN,
                        Some(format!("the run spans less than {}", span_text(w.start))),
                    );
                }
                i => equity[i - 1],
            };
            let total = end / base - 1.0;
            let value = w
                .years
                .map_or(total, |years| (1.0 + total).powf(1.0 / years) - 1.0);
            row(value, None)
        })
        .collect()
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

/// A calendar period: its key of a UTC instant, its name and its plural.
struct Period {
    name: &'static str,
    plural: &'static str,
    key: fn(i64) -> i64,
}

const DAY: Period = Period {
    name: "day",
    plural: "days",
    key: |t| t.div_euclid(NANOS_PER_DAY),
};
const MONTH: Period = Period {
    name: "month",
    plural: "months",
    key: |t| {
        let (y, m, _) = civil_from_days(t.div_euclid(NANOS_PER_DAY));
        y * 12 + i64::from(m)
    },
};
const QUARTER: Period = Period {
    name: "quarter",
    plural: "quarters",
    key: |t| {
        let (y, m, _) = civil_from_days(t.div_euclid(NANOS_PER_DAY));
        y * 4 + i64::from((m - 1) / 3)
    },
};
const YEAR: Period = Period {
    name: "year",
    plural: "years",
    key: |t| civil_from_days(t.div_euclid(NANOS_PER_DAY)).0,
};

fn best_and_worst(ts: &[i64], equity: &[f64], initial: f64) -> Vec<Row> {
    let mut rows = Vec::new();
    let keys: [(&Period, [&'static str; 4]); 3] = [
        (&DAY, ["best_day", "Best day", "worst_day", "Worst day"]),
        (
            &MONTH,
            ["best_month", "Best month", "worst_month", "Worst month"],
        ),
        (
            &YEAR,
            ["best_year", "Best year", "worst_year", "Worst year"],
        ),
    ];
    let row = |key, label, value: f64, reason: Option<String>| Row {
        key,
        label,
        value,
        unit: Unit::Percent,
        group: "Calendar",
        reason,
    };
    let none = || Some("the run recorded no equity".to_string());
    for (period, [best, best_label, worst, worst_label]) in keys {
        let r = period_returns(ts, equity, initial, period.key);
        let finite = r.iter().copied().filter(|x| x.is_finite());
        let (hi, lo) = finite.fold((f64::NAN, f64::NAN), |(hi, lo), x| (x.max(hi), x.min(lo)));
        let reason = r.is_empty().then(none).flatten();
        rows.push(row(best, best_label, hi, reason.clone()));
        rows.push(row(worst, worst_label, lo, reason));
    }
    for (period, key, label) in [
        (&MONTH, "winning_months", "Winning months"),
        (&QUARTER, "winning_quarters", "Winning quarters"),
    ] {
        let r = period_returns(ts, equity, initial, period.key);
        let moved = r.iter().filter(|x| **x != 0.0 && x.is_finite()).count();
        let won = r.iter().filter(|x| **x > 0.0 && x.is_finite()).count();
        let (value, reason) = if moved == 0 {
            let why = format!(
                "no {} gained or lost ({} {})",
                period.name,
                r.len(),
                period.plural
            );
            (f64::NAN, Some(why))
        } else {
            (won as f64 / moved as f64, None)
        };
        rows.push(row(key, label, value, reason));
    }
    rows
}

/// Returns each calendar period's return, from its last equity over the previous period's
/// last (the first period's over `initial`), oldest first.
pub(crate) fn period_returns(
    ts: &[i64],
    equity: &[f64],
    initial: f64,
    key: fn(i64) -> i64,
) -> Vec<f64> {
    let mut base = initial;
    let mut end = 0;
    ts.chunk_by(|a, b| key(*a) == key(*b))
        .map(|period| {
            end += period.len();
            let e = equity[end - 1];
            let r = e / base - 1.0;
            base = e;
            r
        })
        .collect()
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
}
