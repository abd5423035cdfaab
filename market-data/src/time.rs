//! UTC timestamps in nanoseconds since the Unix epoch.
//!
//! Every event carries a `Timestamp`; chrono appears only when text is parsed or formatted, so the
//! hot loop compares plain integers.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Nanoseconds since 1970-01-01T00:00:00Z.
///
/// Plain bytes (`bytemuck::Pod`): a column of them is written and read back as the integers'
/// own bytes, without a copy into integers and back.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
#[serde(transparent)]
#[repr(transparent)]
pub struct Timestamp(pub i64);

/// Nanoseconds in one second.
pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
/// Nanoseconds in one day.
pub const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;

impl Timestamp {
    /// The nanoseconds of `stamps`: the same memory seen as integers, no copy.
    pub fn all_nanos(stamps: &[Timestamp]) -> &[i64] {
        bytemuck::cast_slice(stamps)
    }

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
        f.write_str(self.text().as_str())
    }
}

/// A timestamp's text as [`Timestamp`]'s `Display` writes it, held on the stack.
#[derive(Debug, Clone, Copy)]
pub struct TimestampText {
    bytes: [u8; 30],
    len: usize,
}

impl TimestampText {
    /// Returns the text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and `-T:.Z` are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// Returns the text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push_digits(&mut self, value: u64, width: usize) {
        let mut v = value;
        for i in (0..width).rev() {
            self.bytes[self.len + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.len += width;
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }
}

impl Timestamp {
    /// Returns the RFC 3339 text of `Display`, computed with integer arithmetic (a result file
    /// writes millions of them; chrono's `format` parses its pattern on every call).
    pub fn text(self) -> TimestampText {
        let (day, nanos) = (
            self.0.div_euclid(NANOS_PER_DAY),
            self.0.rem_euclid(NANOS_PER_DAY),
        );
        let (year, month, day_of_month) = civil_from_days(day);
        let mut t = TimestampText {
            bytes: [0; 30],
            len: 0,
        };
        // Years of an i64 of nanoseconds lie in 1677..=2262: always four digits.
        t.push_digits(year as u64, 4);
        t.push(b'-');
        t.push_digits(month, 2);
        t.push(b'-');
        t.push_digits(day_of_month, 2);
        if nanos == 0 {
            return t;
        }
        let secs = (nanos / NANOS_PER_SECOND) as u64;
        t.push(b'T');
        t.push_digits(secs / 3600, 2);
        t.push(b':');
        t.push_digits(secs / 60 % 60, 2);
        t.push(b':');
        t.push_digits(secs % 60, 2);
        let fraction = (nanos % NANOS_PER_SECOND) as u64;
        if fraction != 0 {
            t.push(b'.');
            t.push_digits(fraction, 9);
        }
        t.push(b'Z');
        t
    }
}

/// Returns the (year, month, day) of a day number since 1970-01-01 in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text chrono's strftime gives, as `Display` wrote it before [`Timestamp::text`].
    fn chrono_text(ts: Timestamp) -> String {
        let dt = ts.to_datetime();
        if ts.0.rem_euclid(NANOS_PER_DAY) == 0 {
            dt.format("%Y-%m-%d").to_string()
        } else if ts.0.rem_euclid(NANOS_PER_SECOND) == 0 {
            dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            dt.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
        }
    }

    #[test]
    fn text_matches_chrono_across_the_whole_range() {
        let mut cases = vec![
            0,
            -1,
            1,
            i64::MIN,
            i64::MAX,
            NANOS_PER_DAY,
            -NANOS_PER_DAY,
            NANOS_PER_SECOND,
            // 2000-02-29, 2100-03-01 (not a leap year), 1900-02-28.
            951_782_400 * NANOS_PER_SECOND,
            4_107_542_400 * NANOS_PER_SECOND,
            -2_203_977_600 * NANOS_PER_SECOND,
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = x as i64;
            cases.push(match i % 4 {
                0 => v,
                1 => (v % 9_000_000_000_000_000) / 1_000_000 * 1_000_000, // whole milliseconds
                2 => (v % 100_000_000) * 60 * NANOS_PER_SECOND,           // whole minutes
                _ => (v % 100_000) * NANOS_PER_DAY,                       // midnights
            });
        }
        for ns in cases {
            let ts = Timestamp(ns);
            assert_eq!(ts.text().as_str(), chrono_text(ts), "{ns}");
            assert_eq!(ts.to_string(), chrono_text(ts), "{ns}");
        }
    }
}
