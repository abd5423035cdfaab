//! The exchange's time zone (`[data] timezone`): the local calendar a rule's `hour` or a DAY
//! order's day is read in. Timestamps stay UTC everywhere; only these readings are local.

use crate::time::Timestamp;
use chrono::{Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// An IANA time zone such as `America/New_York`; UTC by default. Written as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zone(Tz);

/// A bar's local calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// Monday 0 to Sunday 6.
    pub weekday: u32,
    /// Day of the month, from 1.
    pub day: u32,
    /// Month, 1 to 12.
    pub month: u32,
}

impl Zone {
    /// UTC.
    pub const UTC: Self = Self(Tz::UTC);

    /// Reads an IANA name (`America/New_York`, `Europe/London`, `UTC`), exactly as the database
    /// spells it.
    ///
    /// # Errors
    /// What was expected, with the closest known names when one is close.
    pub fn parse(name: &str) -> Result<Self, String> {
        if let Ok(tz) = name.parse::<Tz>() {
            return Ok(Self(tz));
        }
        let hint =
            crate::text::did_you_mean(name, chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()));
        Err(format!(
            "an IANA time zone such as \"America/New_York\", \"Europe/London\" or \"UTC\", found \
             {}{hint}",
            crate::text::quoted(name)
        ))
    }

    /// Returns the chrono time zone.
    pub fn as_tz(self) -> Tz {
        self.0
    }

    /// Returns its IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// Returns the local calendar fields of `ts`.
    pub fn local(self, ts: Timestamp) -> LocalTime {
        let t = ts.to_datetime().with_timezone(&self.0);
        LocalTime {
            hour: t.hour(),
            minute: t.minute(),
            weekday: t.weekday().num_days_from_monday(),
            day: t.day(),
            month: t.month(),
        }
    }

    /// Returns the local day holding `ts` as `[start, end)` in UTC nanoseconds.
    pub fn day_bounds(self, ts: Timestamp) -> (i64, i64) {
        let date = self.date(ts);
        let end = date
            .succ_opt()
            .map_or(i64::MAX, |next| self.start_of(next).0);
        (self.start_of(date).0, end)
    }

    /// Returns the local date of `ts`.
    pub fn date(self, ts: Timestamp) -> NaiveDate {
        ts.to_datetime().with_timezone(&self.0).date_naive()
    }

    /// Returns the first instant of local date `date` (midnight, or the first valid time after
    /// it where a clock change skips midnight).
    pub(crate) fn start_of(self, date: NaiveDate) -> Timestamp {
        let mut time = date.and_time(chrono::NaiveTime::MIN);
        // A transition skips at most a few hours; a date beyond chrono's range saturates.
        for _ in 0..48 {
            if let Some(start) = self.0.from_local_datetime(&time).earliest() {
                return Timestamp::from_datetime(start.to_utc());
            }
            time += chrono::Duration::minutes(30);
        }
        Timestamp(i64::MAX)
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Zone {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        Self::parse(&name)
    }
}

impl From<Zone> for String {
    fn from(value: Zone) -> Self {
        value.name().to_owned()
    }
}

/// Local day numbers of a stream of times, for day boundaries (DAY orders): the day's bounds are
/// kept, so an event inside the current day costs two comparisons, not a time zone lookup.
#[derive(Debug, Clone, Copy)]
pub struct DayClock {
    zone: Zone,
    /// The current local day: `[start, end)` in UTC nanoseconds, and its number.
    start: i64,
    end: i64,
    day: i64,
}

impl DayClock {
    /// A clock in `zone`, before any day.
    pub fn new(zone: Zone) -> Self {
        Self {
            zone,
            start: 0,
            end: 0,
            day: 0,
        }
    }

    /// Returns the local day of `ts` as days since 1970-01-01 (the UTC day when the zone is UTC).
    #[inline]
    pub fn day(&mut self, ts: Timestamp) -> i64 {
        if self.zone == Zone::UTC {
            return ts.day();
        }
        if !(self.start..self.end).contains(&ts.0) {
            self.enter(ts);
        }
        self.day
    }

    #[cold]
    fn enter(&mut self, ts: Timestamp) {
        let date = self.zone.date(ts);
        self.day = i64::from(date.num_days_from_ce()) - i64::from(EPOCH_DAYS_FROM_CE);
        (self.start, self.end) = self.zone.day_bounds(ts);
        // Outside chrono's range the bounds cannot hold `ts`: read it alone, every time.
        if !(self.start..self.end).contains(&ts.0) {
            (self.start, self.end) = (0, 0);
        }
    }
}

/// 1970-01-01 counted from 0001-01-01 (day 1), as chrono's `num_days_from_ce`.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        crate::csv::parse_timestamp(text).unwrap()
    }

    #[test]
    fn names_parse_and_typos_get_the_closest_names() {
        assert_eq!(
            Zone::parse("America/New_York").unwrap().name(),
            "America/New_York"
        );
        assert_eq!(Zone::default(), Zone::UTC);
        let err = Zone::parse("America/NewYork").unwrap_err();
        assert!(err.contains("`America/New_York`"), "{err}");
        let err = Zone::parse("america/new_york").unwrap_err();
        assert!(err.contains("did you mean `America/New_York`"), "{err}");
        let err = Zone::parse("Mars/Olympus").unwrap_err();
        assert!(
            err.contains("IANA") && !err.contains("did you mean"),
            "{err}"
        );
    }

    #[test]
    fn local_fields_follow_daylight_saving() {
        let ny = Zone::parse("America/New_York").unwrap();
        // 14:30 UTC is 09:30 in New York in winter (UTC-5) and 10:30 in summer (UTC-4).
        let winter = ny.local(at("2024-01-02T14:30:00Z"));
        assert_eq!((winter.hour, winter.minute, winter.weekday), (9, 30, 1));
        assert_eq!(ny.local(at("2024-07-02T14:30:00Z")).hour, 10);
        // 02:00 UTC on a Saturday is still Friday evening in New York.
        let late = ny.local(at("2024-01-06T02:00:00Z"));
        assert_eq!((late.weekday, late.day, late.hour), (4, 5, 21));
    }

    #[test]
    fn a_day_clock_counts_local_days_across_clock_changes() {
        let ny = Zone::parse("America/New_York").unwrap();
        let mut clock = DayClock::new(ny);
        let utc_day = |text: &str| at(text).day();
        // 2024-03-10 had 23 hours in New York: it starts at 05:00 UTC, the next day at 04:00.
        let day = utc_day("2024-03-10T12:00:00Z");
        assert_eq!(clock.day(at("2024-03-10T05:00:00Z")), day);
        assert_eq!(clock.day(at("2024-03-11T03:59:59Z")), day);
        assert_eq!(clock.day(at("2024-03-11T04:00:00Z")), day + 1);
        assert_eq!(clock.day(at("2024-03-10T04:59:59Z")), day - 1);
        // Far from 1970 and back, and UTC as the UTC day.
        let last = ny.date(Timestamp(i64::MAX));
        let last = i64::from(last.num_days_from_ce() - EPOCH_DAYS_FROM_CE);
        assert_eq!(clock.day(Timestamp(i64::MAX)), last);
        assert_eq!(clock.day(at("2024-03-10T12:00:00Z")), day);
        assert_eq!(
            DayClock::new(Zone::UTC).day(at("2024-03-10T23:00:00Z")),
            day
        );
    }
}
