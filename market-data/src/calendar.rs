//! Trading calendars: which days an exchange opens, and when, so a weekend or a holiday is not
//! mistaken for missing data (`[data] calendar`, `quant data inspect --calendar`).
//!
//! - `24/7`: every day, all day (crypto).
//! - `weekdays`: Monday to Friday, all day, no holidays (spot FX, roughly).
//! - `us_equity`: NYSE and Nasdaq regular sessions, 09:30 to 16:00 New York time (13:00 on the
//!   early closes around Independence Day, Thanksgiving and Christmas), without the exchange
//!   holidays since 1990 and the unscheduled closures (9/11, state funerals, Hurricane Sandy).

use crate::time::{NANOS_PER_DAY, Timestamp};
use crate::zone::Zone;
use chrono::{Datelike, Days, NaiveDate, NaiveTime, TimeZone, Weekday};
use serde::{Deserialize, Serialize};

/// A trading calendar, written as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Calendar {
    /// Every day, all day.
    AlwaysOpen,
    /// Monday to Friday, all day.
    Weekdays,
    /// The US equity exchanges' regular sessions.
    UsEquity,
}

/// The names a config or a flag may use, each with what it means.
pub const CALENDARS: &[(&str, Calendar)] = &[
    ("24/7", Calendar::AlwaysOpen),
    ("weekdays", Calendar::Weekdays),
    ("us_equity", Calendar::UsEquity),
];

/// Share of bars on Saturdays and Sundays (UTC) from which data counts as a 24/7 market. Such a
/// market has 2/7 (29%) of its bars there; exchange data none, or a sliver (futures reopening on
/// Sunday evening, about 2% of an hourly week), so half the 24/7 share separates them widely.
pub const ALL_WEEK_SHARE: f64 = 1.0 / 7.0;

/// Returns whether `ts` falls on a Saturday or Sunday in UTC.
pub fn on_weekend(ts: Timestamp) -> bool {
    // 1970-01-01 was a Thursday: day + 3 counts from Monday.
    ts.day().wrapping_add(3).rem_euclid(7) >= 5
}

/// Returns the share of `times` on a Saturday or Sunday in UTC (0 for none).
pub fn weekend_share(times: impl Iterator<Item = Timestamp>) -> f64 {
    let (mut all, mut weekend) = (0usize, 0usize);
    for ts in times {
        all += 1;
        weekend += usize::from(on_weekend(ts));
    }
    if all == 0 {
        0.0
    } else {
        weekend as f64 / all as f64
    }
}

/// Days the US equity exchanges closed outside their holiday rules.
const US_UNSCHEDULED: &[(i32, u32, u32)] = &[
    (1994, 4, 27), // President Nixon's funeral
    (2001, 9, 11), // the attacks on the World Trade Center, through the 14th
    (2001, 9, 12),
    (2001, 9, 13),
    (2001, 9, 14),
    (2004, 6, 11),  // President Reagan's funeral
    (2007, 1, 2),   // President Ford's funeral
    (2012, 10, 29), // Hurricane Sandy, two days
    (2012, 10, 30),
    (2018, 12, 5), // President George H. W. Bush's funeral
    (2025, 1, 9),  // President Carter's funeral
];

impl Calendar {
    /// Reads a calendar's name.
    ///
    /// # Errors
    /// What was expected: the known names.
    pub fn parse(name: &str) -> Result<Self, String> {
        CALENDARS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                let names: Vec<String> = CALENDARS.iter().map(|(n, _)| format!("{n:?}")).collect();
                format!(
                    "a calendar ({}), found {}",
                    names.join(", "),
                    crate::text::quoted(name)
                )
            })
    }

    /// Returns its name.
    pub fn name(self) -> &'static str {
        CALENDARS
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("24/7", |(n, _)| n)
    }

    /// Returns the zone its sessions are written in.
    pub fn zone(self) -> Zone {
        match self {
            Calendar::UsEquity => Zone::parse("America/New_York").unwrap_or_default(),
            Calendar::AlwaysOpen | Calendar::Weekdays => Zone::UTC,
        }
    }

    /// Guesses the calendar of bars stamped `times`: at least [`ALL_WEEK_SHARE`] of them on
    /// weekends mean 24/7; intraday bars outside New York's regular hours, weekdays; otherwise a
    /// US equity market (the data's most common case). A few stray stamps (a vendor's
    /// adjustment rows) change nothing; `calendar` says otherwise.
    pub fn infer(times: impl Iterator<Item = Timestamp> + Clone) -> Self {
        if weekend_share(times.clone()) >= ALL_WEEK_SHARE {
            return Calendar::AlwaysOpen;
        }
        let ny = Calendar::UsEquity.zone();
        let (open, close) = (9 * 60 + 30, 16 * 60);
        let (mut all, mut off_hours) = (0usize, 0usize);
        for ts in times {
            all += 1;
            if ts.0.rem_euclid(NANOS_PER_DAY) != 0 {
                let t = ny.local(ts);
                off_hours += usize::from(!(open..close).contains(&(t.hour * 60 + t.minute)));
            }
        }
        if off_hours * 100 > all {
            Calendar::Weekdays
        } else {
            Calendar::UsEquity
        }
    }

    /// Returns the local opening and closing time of `date` (no closing time: open to the end
    /// of the day), or `None` when closed all day.
    pub fn session(self, date: NaiveDate) -> Option<(NaiveTime, Option<NaiveTime>)> {
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let time = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        match self {
            Calendar::AlwaysOpen => Some((NaiveTime::MIN, None)),
            Calendar::Weekdays if weekend => None,
            Calendar::Weekdays => Some((NaiveTime::MIN, None)),
            Calendar::UsEquity if weekend || us_holiday(date) => None,
            Calendar::UsEquity if us_early_close(date) => Some((time(9, 30)?, time(13, 0))),
            Calendar::UsEquity => Some((time(9, 30)?, time(16, 0))),
        }
    }

    /// Returns how many bars of `interval_ns` the calendar expects strictly between two bars
    /// stamped `from` and `to` (bars stamped at the start of their interval), read in `zone`:
    /// 0 when nothing is missing. Daily bars expect one bar per session day; intraday bars one
    /// per interval inside each session, counted from its open.
    pub fn missing_bars(self, zone: Zone, from: Timestamp, to: Timestamp, interval_ns: i64) -> u64 {
        if to.0 <= from.0 || interval_ns <= 0 {
            return 0;
        }
        let (first, last) = (day_of(from, zone), day_of(to, zone));
        let days = || first.iter_days().skip(1).take_while(move |d| *d < last);
        if interval_ns >= NANOS_PER_DAY {
            let open_days = days().filter(|d| self.session(*d).is_some()).count() as u64;
            // Bars of several days: one per `interval` of session days.
            return open_days / (interval_ns / NANOS_PER_DAY) as u64;
        }
        let mut missing = 0;
        for date in std::iter::once(first)
            .chain(days())
            .chain((last > first).then_some(last))
        {
            let Some((open, close)) = self.session(date) else {
                continue;
            };
            let instant = |t: NaiveTime| {
                zone.as_tz()
                    .from_local_datetime(&date.and_time(t))
                    .earliest()
                    .map(|t| Timestamp::from_datetime(t.to_utc()).0)
            };
            let close = match close {
                Some(close) => instant(close),
                None => date.succ_opt().map(|next| zone.start_of(next).0),
            };
            let (Some(open), Some(close)) = (instant(open), close) else {
                continue;
            };
            // Slots k: open + k * interval in (from, to) and before the close.
            let lo = (from.0 + 1).max(open);
            let hi = (to.0 - 1).min(close - 1);
            if lo > hi {
                continue;
            }
            let first_slot = (lo - open + interval_ns - 1).div_euclid(interval_ns);
            let last_slot = (hi - open).div_euclid(interval_ns);
            missing += (last_slot - first_slot + 1).max(0) as u64;
        }
        missing
    }
}

impl std::fmt::Display for Calendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Calendar {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        Self::parse(&name)
    }
}

impl From<Calendar> for String {
    fn from(value: Calendar) -> Self {
        value.name().to_owned()
    }
}

/// The day a bar belongs to: a stamp at midnight UTC is a date label (daily bars are written
/// `2024-01-08`), any other stamp an instant read in `zone`.
fn day_of(ts: Timestamp, zone: Zone) -> NaiveDate {
    if ts.0.rem_euclid(NANOS_PER_DAY) == 0 {
        ts.to_datetime().date_naive()
    } else {
        zone.date(ts)
    }
}

/// The `n`th (1-based) `weekday` of a month, or its last with `n = 0`.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u32) -> Option<NaiveDate> {
    if n == 0 {
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        }?;
        let mut day = next.pred_opt()?;
        while day.weekday() != weekday {
            day = day.pred_opt()?;
        }
        return Some(day);
    }
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n as u8)
}

/// Easter Sunday (the Gregorian computus, Meeus/Jones/Butcher).
fn easter(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

/// A fixed-date holiday as observed: on a Saturday the Friday before, on a Sunday the Monday
/// after.
fn observed(date: NaiveDate) -> NaiveDate {
    match date.weekday() {
        Weekday::Sat => date.pred_opt().unwrap_or(date),
        Weekday::Sun => date.succ_opt().unwrap_or(date),
        _ => date,
    }
}

/// Whether the US equity exchanges close on `date` (a weekday) for a holiday.
fn us_holiday(date: NaiveDate) -> bool {
    let year = date.year();
    let ymd = |m, d| NaiveDate::from_ymd_opt(year, m, d);
    if US_UNSCHEDULED.contains(&(year, date.month(), date.day())) {
        return true;
    }
    // New Year's Day on a Saturday is not observed on the Friday before (that Friday ends the
    // previous year's books), only a Sunday one on the Monday.
    let new_year = ymd(1, 1)
        .filter(|d| d.weekday() != Weekday::Sat)
        .map(observed);
    let mut holidays = vec![
        new_year,
        nth_weekday(year, 2, Weekday::Mon, 3), // Washington's Birthday
        easter(year).and_then(|e| e.checked_sub_days(Days::new(2))), // Good Friday
        nth_weekday(year, 5, Weekday::Mon, 0), // Memorial Day
        ymd(7, 4).map(observed),               // Independence Day
        nth_weekday(year, 9, Weekday::Mon, 1), // Labor Day
        nth_weekday(year, 11, Weekday::Thu, 4), // Thanksgiving
        ymd(12, 25).map(observed),             // Christmas
    ];
    if year >= 1998 {
        holidays.push(nth_weekday(year, 1, Weekday::Mon, 3)); // Martin Luther King Jr. Day
    }
    if year >= 2022 {
        holidays.push(ymd(6, 19).map(observed)); // Juneteenth
    }
    holidays.into_iter().flatten().any(|h| h == date)
}

/// Whether the US equity exchanges close at 13:00 on `date`: the day after Thanksgiving, and
/// Christmas Eve and the eve of Independence Day when those fall on a weekday that is open.
fn us_early_close(date: NaiveDate) -> bool {
    let year = date.year();
    let after_thanksgiving = nth_weekday(year, 11, Weekday::Thu, 4).and_then(|d| d.succ_opt());
    let eve = |m, d| {
        date.month() == m
            && date.day() == d
            && !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
            && !us_holiday(date)
    };
    Some(date) == after_thanksgiving || eve(12, 24) || (eve(7, 3) && year >= 1995)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn at(text: &str) -> Timestamp {
        crate::csv::parse_timestamp(text).unwrap()
    }

    #[test]
    fn the_us_equity_calendar_knows_the_holidays_and_closures() {
        let closed = [
            "2024-01-01",
            "2024-01-15",
            "2024-02-19",
            "2024-03-29",
            "2024-05-27",
            "2024-06-19",
            "2024-07-04",
            "2024-09-02",
            "2024-11-28",
            "2024-12-25", // every 2024 holiday
            "2021-12-24", // Christmas on a Saturday: the Friday before
            "2023-01-02", // New Year on a Sunday: the Monday after
            "2012-10-29",
            "2012-10-30",
            "2007-01-02",
            "2025-01-09",
        ];
        for d in closed {
            assert_eq!(Calendar::UsEquity.session(date(d)), None, "{d}");
        }
        // New Year 2022 fell on a Saturday: the Friday before traded.
        assert!(Calendar::UsEquity.session(date("2021-12-31")).is_some());
        let early = Calendar::UsEquity.session(date("2024-11-29")).unwrap();
        assert_eq!(early.1, NaiveTime::from_hms_opt(13, 0, 0));
        assert!(Calendar::Weekdays.session(date("2024-12-25")).is_some());
        assert_eq!(Calendar::Weekdays.session(date("2024-12-28")), None);
        assert!(Calendar::AlwaysOpen.session(date("2024-12-28")).is_some());
    }

    #[test]
    fn missing_bars_skip_closed_days_and_hours() {
        let us = Calendar::UsEquity;
        let ny = us.zone();
        let day = NANOS_PER_DAY;
        // Daily bars stamped at midnight UTC: Friday to Monday misses nothing, Friday
        // 2024-01-12 to Tuesday 2024-01-16 neither (Monday was a holiday), to Wednesday one.
        assert_eq!(
            us.missing_bars(ny, at("2024-01-05"), at("2024-01-08"), day),
            0
        );
        assert_eq!(
            us.missing_bars(ny, at("2024-01-12"), at("2024-01-16"), day),
            0
        );
        assert_eq!(
            us.missing_bars(ny, at("2024-01-12"), at("2024-01-17"), day),
            1
        );
        assert_eq!(
            Calendar::AlwaysOpen.missing_bars(Zone::UTC, at("2024-01-05"), at("2024-01-08"), day),
            2
        );
        // Minute bars: Friday's close to Monday's open misses nothing; 10:00 to 10:05 misses 4.
        let minute = 60_000_000_000;
        let (fri, mon) = (at("2024-01-05T20:59:00Z"), at("2024-01-08T14:30:00Z"));
        assert_eq!(us.missing_bars(ny, fri, mon, minute), 0);
        let (a, b) = (at("2024-01-08T15:00:00Z"), at("2024-01-08T15:05:00Z"));
        assert_eq!(us.missing_bars(ny, a, b, minute), 4);
        // The last bar of a day to the second bar of the next: the open's bar is missing.
        assert_eq!(
            us.missing_bars(ny, fri, at("2024-01-08T14:31:00Z"), minute),
            1
        );
        // 24/7 hourly bars across midnight.
        let hour = 3_600_000_000_000;
        let (x, y) = (at("2024-01-05T22:00:00Z"), at("2024-01-06T02:00:00Z"));
        assert_eq!(Calendar::AlwaysOpen.missing_bars(Zone::UTC, x, y, hour), 3);
    }

    #[test]
    fn names_parse_and_the_calendar_is_inferred_from_weekend_bars() {
        assert_eq!(Calendar::parse("us_equity"), Ok(Calendar::UsEquity));
        assert!(
            Calendar::parse("nyse")
                .unwrap_err()
                .contains("\"us_equity\"")
        );
        let days = |n: i64| (0..n).map(|d| Timestamp(at("2024-01-01").0 + d * NANOS_PER_DAY));
        assert_eq!(Calendar::infer(days(30)), Calendar::AlwaysOpen);
        // Daily bars stamped at midnight UTC are dates: Monday's bar is Monday's.
        let weekdays = days(30).filter(|t| Zone::UTC.local(*t).weekday < 5);
        assert_eq!(Calendar::infer(weekdays.clone()), Calendar::UsEquity);
        // Minute bars around the clock on weekdays: not a US equity session.
        let evening = weekdays.map(|t| Timestamp(t.0 + 3_600_000_000_000));
        assert_eq!(Calendar::infer(evening), Calendar::Weekdays);
    }
}
