//! UTC calendar arithmetic on nanosecond timestamps, without a date crate.
//!
//! Monthly and yearly returns, and date labels, need only the civil date of an instant; the
//! engine keeps chrono out of its dependencies, so the conversion is done here once.

use market_data::NANOS_PER_DAY;

/// Returns (year, month 1..=12, day) of a count of days since 1970-01-01, in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        yoe + era * 400 + i64::from(month <= 2),
        month as u32,
        day as u32,
    )
}

/// The UTC dates of instants read in time order, converted once per day: a minute-bar run has
/// 1,440 steps a day, and the civil date of each would cost more than the figures that need it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dates {
    day: i64,
    date: (i64, u32, u32),
}

impl Default for Dates {
    fn default() -> Self {
        // No instant falls on this day: its nanoseconds would be below i64::MIN.
        Self {
            day: i64::MIN,
            date: (0, 0, 0),
        }
    }
}

impl Dates {
    /// Returns (days since 1970-01-01, (year, month 1..=12, day)) of an instant in nanoseconds.
    pub(crate) fn of(&mut self, ns: i64) -> (i64, (i64, u32, u32)) {
        let day = ns.div_euclid(NANOS_PER_DAY);
        if day != self.day {
            self.day = day;
            self.date = civil_from_days(day);
        }
        (day, self.date)
    }
}

/// Formats an instant as `YYYY-MM-DD`, plus ` HH:MM` when it is not midnight UTC (intraday
/// runs need the time to tell bars apart).
pub(crate) fn format_instant(ns: i64) -> String {
    let (y, m, d) = civil_from_days(ns.div_euclid(NANOS_PER_DAY));
    let minutes = ns.rem_euclid(NANOS_PER_DAY) / 60_000_000_000;
    if ns.rem_euclid(NANOS_PER_DAY) == 0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}",
            minutes / 60,
            minutes % 60
        )
    }
}

/// Formats a span of nanoseconds for people: days with one decimal from a day up, else hours
/// and minutes.
pub(crate) fn format_span(ns: f64) -> String {
    let day = NANOS_PER_DAY as f64;
    if ns.abs() >= day {
        format!("{:.1} days", ns / day)
    } else {
        let minutes = (ns / 60e9).round() as i64;
        format!("{}h {:02}m", minutes / 60, minutes % 60)
    }
}

/// Returns the days since 1970-01-01 of a civil date, the inverse of [`civil_from_days`].
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
