//! UTC timestamps in nanoseconds since the Unix epoch.
//!
//! Every event carries a `Timestamp`; chrono appears only when text is parsed or formatted, so the
//! hot loop compares plain integers.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Nanoseconds since 1970-01-01T00:00:00Z.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// Nanoseconds in one second.
pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
/// Nanoseconds in one day.
pub const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;

impl Timestamp {
    /// Returns the timestamp for whole seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs * NANOS_PER_SECOND)
    }

    /// Returns the nanoseconds since the epoch.
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Returns the UTC calendar day number (days since the epoch), used for day boundaries.
    pub const fn day(self) -> i64 {
        self.0.div_euclid(NANOS_PER_DAY)
    }

    /// Returns the timestamp as a chrono UTC datetime.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }

    /// Returns the timestamp of a date at midnight UTC.
    pub fn from_date(date: NaiveDate) -> Self {
        Self::from_naive(date.and_time(chrono::NaiveTime::MIN))
    }

    /// Returns the timestamp of a naive datetime read as UTC.
    pub fn from_naive(datetime: NaiveDateTime) -> Self {
        Self::from_datetime(datetime.and_utc())
    }

    /// Returns the timestamp of a UTC datetime; instants outside ±292 years of 1970 saturate.
    pub fn from_datetime(datetime: DateTime<Utc>) -> Self {
        Self(
            datetime
                .timestamp_nanos_opt()
                .unwrap_or(if datetime.timestamp() < 0 {
                    i64::MIN
                } else {
                    i64::MAX
                }),
        )
    }
}

impl fmt::Display for Timestamp {
    /// Formats as RFC 3339 in UTC, as short as the value allows: `2004-08-19` for midnight,
    /// `2024-01-02T09:30:00Z` for whole seconds, nanoseconds otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dt = self.to_datetime();
        if self.0.rem_euclid(NANOS_PER_DAY) == 0 {
            write!(f, "{}", dt.format("%Y-%m-%d"))
        } else if self.0.rem_euclid(NANOS_PER_SECOND) == 0 {
            write!(f, "{}", dt.format("%Y-%m-%dT%H:%M:%SZ"))
        } else {
            write!(f, "{}", dt.format("%Y-%m-%dT%H:%M:%S%.9fZ"))
        }
    }
}
