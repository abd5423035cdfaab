//! CSV bar reader for the files quants actually have: Yahoo and Backtesting.py exports, matplotlib's
//! sample data, exchange dumps with epoch times.
//!
//! Such files agree on little beyond one bar per line, so the header is matched loosely (any case,
//! quoted or not, an unnamed date index) and timestamps come in many formats. Every row is checked
//! before the engine sees it, and a bad row is reported by line and column. The reader is also on
//! the path of every backtest, so it reads the file once and splits it by hand, without allocating
//! per row; only the rejected rows pay for messages.

use crate::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use crate::{
    Bar, BarSeries, Error, InstrumentId, InvalidRow, Result, RowProblem, SkipReport, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What the reader does with an invalid row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnInvalid {
    /// Stop at the first invalid row with [`Error::InvalidRow`].
    #[default]
    Error,
    /// Drop invalid rows and count them in the [`SkipReport`].
    Skip,
}

const NUMBER: &str = "a number";
const TIME: &str = "a date, datetime or Unix timestamp";
const TIME_NAMES: [&str; 5] = ["date", "datetime", "time", "timestamp", "ts"];
/// The fields a row yields, in this order; volume is optional.
const ROLES: [&str; 6] = ["time", "open", "high", "low", "close", "volume"];
const VOLUME: usize = 5;
const UNUSED: u8 = u8::MAX;

/// Reads the bars of one instrument from a CSV file.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read, and otherwise as [`parse_bars`].
pub fn read_bars(
    path: &Path,
    instrument: InstrumentId,
    on_invalid: OnInvalid,
) -> Result<(BarSeries, SkipReport)> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_bars(&text, path, instrument, on_invalid)
}

/// Parses the bars of one instrument from CSV text; `path` is used only in messages.
///
/// The header names a time column (`date`, `datetime`, `time`, `timestamp`, `ts`, or an unnamed
/// first column), `open`, `high`, `low`, `close` and optionally `volume` (0 when absent), in any
/// case; other columns are ignored. Fields are plain: surrounding double quotes are stripped, but a
/// quoted field may not contain a comma. Rows must be in strictly increasing time order.
///
/// # Errors
///
/// [`Error::Header`] if a required column is missing, [`Error::InvalidRow`] for the first invalid
/// row under [`OnInvalid::Error`], and [`Error::Empty`] if no valid row remains.
pub fn parse_bars(
    text: &str,
    path: &Path,
    instrument: InstrumentId,
    on_invalid: OnInvalid,
) -> Result<(BarSeries, SkipReport)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_ascii().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    };
    let layout = Layout::from_header(header).map_err(|message| Error::Header {
        path: path.to_path_buf(),
        message,
    })?;

    let mut bars = Vec::with_capacity(count_lines(text));
    let mut skipped = SkipReport::default();
    for (index, line) in lines {
        let row = layout
            .parse_row(line, index + 1)
            .and_then(|bar| match bars.last() {
                Some(last) => layout.check_order(bar, last, index + 1),
                None => Ok(bar),
            });
        accept(&mut bars, row, on_invalid, &mut skipped, path)?;
    }
    Ok((BarSeries::new(instrument, non_empty(bars, path)?), skipped))
}

/// Keeps a parsed row, or, when it is invalid, counts it (`Skip`) or stops with it (`Error`).
pub(crate) fn accept<T>(
    rows: &mut Vec<T>,
    row: std::result::Result<T, InvalidRow>,
    on_invalid: OnInvalid,
    skipped: &mut SkipReport,
    path: &Path,
) -> Result<()> {
    match row {
        Ok(row) => rows.push(row),
        Err(row) if on_invalid == OnInvalid::Skip => skipped.record(row),
        Err(row) => {
            return Err(Error::InvalidRow {
                path: path.to_path_buf(),
                row,
            });
        }
    }
    Ok(())
}

/// Returns the rows of a file, or [`Error::Empty`] when none is left.
pub(crate) fn non_empty<T>(rows: Vec<T>, path: &Path) -> Result<Vec<T>> {
    if rows.is_empty() {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(rows)
}

/// Where the fields of a row sit, as found in the header.
struct Layout {
    /// The header's column names, trimmed and unquoted but otherwise as written.
    names: Vec<String>,
    /// For each column, the index into [`ROLES`] it fills, or [`UNUSED`].
    role_of: Vec<u8>,
    /// For each role, its column, if present.
    column_of: [Option<usize>; 6],
}

impl Layout {
    /// Matches the header's names to roles, or explains what is missing.
    fn from_header(header: &str) -> Result<Self, String> {
        let names: Vec<String> = header
            .split(',')
            .map(|name| unquote(name).to_owned())
            .collect();
        let mut column_of = [None; 6];
        for (column, name) in names.iter().enumerate() {
            let name = name.to_ascii_lowercase();
            let role = if TIME_NAMES.contains(&name.as_str()) {
                Some(0)
            } else {
                ROLES[1..]
                    .iter()
                    .position(|&role| role == name)
                    .map(|i| i + 1)
            };
            if let Some(role) = role {
                column_of[role].get_or_insert(column);
            }
        }
        // Pandas writes its index unnamed: `,Open,High,...` as from Yahoo via Backtesting.py.
        if column_of[0].is_none() && names[0].is_empty() {
            column_of[0] = Some(0);
        }

        let missing: Vec<String> = (0..VOLUME)
            .filter(|&role| column_of[role].is_none())
            .map(|role| match role {
                0 => "a time column (date, datetime, time, timestamp, ts or unnamed first)".into(),
                _ => format!("{:?}", ROLES[role]),
            })
            .collect();
        if !missing.is_empty() {
            let found: Vec<String> = names.iter().map(|name| format!("{name:?}")).collect();
            let plural = if missing.len() > 1 { "s" } else { "" };
            return Err(format!(
                "missing column{plural} {}; found columns {}",
                missing.join(", "),
                found.join(", ")
            ));
        }
        let mut role_of = vec![UNUSED; names.len()];
        for (role, column) in column_of.iter().enumerate() {
            if let Some(column) = *column {
                role_of[column] = role as u8;
            }
        }
        Ok(Self {
            names,
            role_of,
            column_of,
        })
    }

    /// Returns the header name of a role's column, for messages; none for an unnamed column.
    fn column(&self, role: usize) -> Option<String> {
        let name = &self.names[self.column_of[role]?];
        (!name.is_empty()).then(|| name.clone())
    }

    /// Parses and checks one row on its own.
    fn parse_row(&self, line: &str, line_no: usize) -> Result<Bar, InvalidRow> {
        let invalid = |role: Option<usize>, problem| InvalidRow {
            line: line_no,
            column: role.and_then(|role| self.column(role)),
            problem,
        };
        // A byte scan: `str::split(',')` costs a memchr and a memcmp call per field.
        let mut fields = [""; 6];
        let (mut found, mut start) = (0, 0);
        let commas = line
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b',')
            .map(|(end, _)| end);
        for end in commas.chain([line.len()]).take(self.names.len()) {
            if let Some(&role) = self.role_of.get(found).filter(|&&role| role != UNUSED) {
                fields[role as usize] = unquote(&line[start..end]);
            }
            found += 1;
            start = end + 1;
        }
        if found < self.names.len() {
            let problem = RowProblem::FieldCount {
                expected: self.names.len(),
                found,
            };
            return Err(invalid(None, problem));
        }

        let ts = match fields[0] {
            "" => Err(RowProblem::Empty { expected: TIME }),
            text => parse_timestamp(text).ok_or_else(|| RowProblem::Unparsable {
                value: text.to_owned(),
                expected: TIME,
            }),
        }
        .map_err(|problem| invalid(Some(0), problem))?;
        let mut values = [0.0; 6];
        for role in 1..=VOLUME {
            if role == VOLUME && self.column_of[VOLUME].is_none() {
                break;
            }
            let value =
                parse_number(fields[role]).map_err(|problem| invalid(Some(role), problem))?;
            if role < VOLUME && value <= 0.0 {
                return Err(invalid(Some(role), RowProblem::NonPositivePrice { value }));
            }
            if role == VOLUME && value < 0.0 {
                return Err(invalid(Some(role), RowProblem::NegativeVolume { value }));
            }
            values[role] = value;
        }
        let [_, open, high, low, close, volume] = values;

        let bar = Bar {
            ts,
            open,
            high,
            low,
            close,
            volume,
        };
        check_ohlc(open, high, low, close)
            .map(|()| bar)
            .map_err(|(role, problem)| invalid(Some(role), problem))
    }

    /// Accepts `bar` only if it is strictly after the last accepted bar.
    fn check_order(&self, bar: Bar, last: &Bar, line_no: usize) -> Result<Bar, InvalidRow> {
        if bar.ts > last.ts {
            return Ok(bar);
        }
        Err(InvalidRow {
            line: line_no,
            column: self.column(0),
            problem: out_of_order(bar.ts, last.ts),
        })
    }
}

/// Checks that high and low bound open and close; otherwise returns the first relation that
/// fails, with the index of the field to blame in (time, open, high, low, close) order: 2 for
/// high, 3 for low.
pub(crate) fn check_ohlc(
    open: f64,
    high: f64,
    low: f64,
    close: f64,
) -> Result<(), (usize, RowProblem)> {
    if high >= open.max(close) && low <= open.min(close) {
        return Ok(());
    }
    // Name the first relation that fails, blaming the high or low column.
    let checks = [
        (high < low, 2, "high", high, "below low", low),
        (high < open, 2, "high", high, "below open", open),
        (high < close, 2, "high", high, "below close", close),
        (low > open, 3, "low", low, "above open", open),
        (low > close, 3, "low", low, "above close", close),
    ];
    let (_, role, what, value, relation, other) = checks
        .into_iter()
        .find(|check| check.0)
        .unwrap_or(checks[0]); // one fails
    let detail = format!("{what} {value} is {relation} {other}");
    Err((role, RowProblem::Inconsistent { detail }))
}

/// Returns the problem of a timestamp `found` that is not after the `previous` one.
pub(crate) fn out_of_order(found: Timestamp, previous: Timestamp) -> RowProblem {
    RowProblem::OutOfOrder {
        found: found.to_string(),
        previous: previous.to_string(),
        order: if found == previous {
            "equal to the"
        } else {
            "before the"
        },
    }
}

/// Returns an upper bound on the rows of `text`, to allocate the bars once.
pub(crate) fn count_lines(text: &str) -> usize {
    // Byte sums over chunks of 255 cannot overflow a `u8`, so they vectorise: ten times faster
    // than `filter(..).count()`, which widens every byte to a `usize`.
    let chunk_lines = |chunk: &[u8]| chunk.iter().map(|&b| u8::from(b == b'\n')).sum::<u8>();
    text.as_bytes()
        .chunks(255)
        .map(|chunk| usize::from(chunk_lines(chunk)))
        .sum::<usize>()
        + 1
}

/// Trims a field or header name and strips one pair of surrounding double quotes.
pub(crate) fn unquote(field: &str) -> &str {
    let field = field.trim_ascii();
    field
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(field)
}

/// Parses a finite number; std's parser is correctly rounded, so `{}`-formatted values round-trip.
pub(crate) fn parse_number(text: &str) -> Result<f64, RowProblem> {
    match text.parse::<f64>() {
        // std also accepts `nan`, `inf` and `infinity`, and overflows `1e999` to infinity.
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(RowProblem::NotFinite {
            value: text.to_owned(),
        }),
        Err(_) if text.is_empty() => Err(RowProblem::Empty { expected: NUMBER }),
        Err(_) => Err(RowProblem::Unparsable {
            value: text.to_owned(),
            expected: NUMBER,
        }),
    }
}

/// Parses a timestamp as found in bar files, returning `None` if no format fits or the instant is
/// outside the years 1677–2262 that nanoseconds in an `i64` can hold.
///
/// Accepted: `2004-08-19` and `2004/08/19` (midnight UTC); `19-Sep-03` and `19-Sep-2003` (two-digit
/// years 69–99 are 19xx, 00–68 are 20xx, as strptime reads them); `2024-01-02T09:30`,
/// `2024-01-02 09:30:00.250` (UTC) and with a `Z` or `±HH:MM` offset; Unix epoch numbers, read as
/// seconds below 1e11, milliseconds below 1e14, microseconds below 1e17 and nanoseconds above,
/// with an optional fraction of that unit (`1700000000.5`). Eight digits that form a date of the
/// years 1900–2099 (`20240102`) are read as that date: as epoch seconds they would fall in 1970–73,
/// which no bar file of that layout means.
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    let nanos = if bytes.len() >= 10 && matches!(bytes[4], b'-' | b'/') && bytes[7] == bytes[4] {
        let day = days_from_ymd(
            digits(&bytes[0..4])?,
            digits(&bytes[5..7])?,
            digits(&bytes[8..10])?,
        )?;
        let time = match bytes.get(10) {
            None => 0,
            Some(b'T' | b't' | b' ') => time_of_day(&bytes[11..])?,
            Some(_) => return None,
        };
        // In i128, as a time of day can bring the day before 1677-09-22 back into range.
        i64::try_from(i128::from(day) * i128::from(NANOS_PER_DAY) + i128::from(time)).ok()?
    } else if let Some(day) = compact_date(bytes) {
        day * NANOS_PER_DAY
    } else if let Some(nanos) = epoch(text) {
        nanos
    } else {
        days_from_dmy(text)?.checked_mul(NANOS_PER_DAY)?
    };
    Some(Timestamp(nanos))
}

/// Returns the day number of a compact `YYYYMMDD` date of the years 1900–2099.
fn compact_date(bytes: &[u8]) -> Option<i64> {
    if bytes.len() != 8 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    if !(1900..2100).contains(&year) {
        return None;
    }
    days_from_ymd(year, digits(&bytes[4..6])?, digits(&bytes[6..8])?)
}

/// Parses `HH:MM[:SS[.fraction]][Z|±HH:MM]` into nanoseconds after midnight UTC, which may be
/// negative or past a day once the offset is applied.
fn time_of_day(bytes: &[u8]) -> Option<i64> {
    let (hour, minute, mut rest) = match bytes {
        [h0, h1, b':', m0, m1, rest @ ..] => (digits(&[*h0, *h1])?, digits(&[*m0, *m1])?, rest),
        _ => return None,
    };
    let mut second = 0;
    if let [b':', s0, s1, tail @ ..] = rest {
        second = digits(&[*s0, *s1])?;
        rest = tail;
    }
    let mut fraction = 0;
    if let [b'.', tail @ ..] = rest {
        let len = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        // Nanoseconds are the finest unit; further digits are truncated, as chrono does.
        fraction = scale_fraction(&tail[..len])?;
        rest = &tail[len..];
    }
    let offset = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h0, h1, b':', m0, m1] => {
            let (hours, minutes) = (digits(&[*h0, *h1])?, digits(&[*m0, *m1])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = (hours * 3600 + minutes * 60) * NANOS_PER_SECOND;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some((hour * 3600 + minute * 60 + second) * NANOS_PER_SECOND + fraction - offset)
}

/// Returns the nanoseconds in a second's decimal fraction: `25` gives 250 000 000.
fn scale_fraction(text: &[u8]) -> Option<i64> {
    if !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let kept = &text[..text.len().min(9)];
    Some(digits(kept)? * 10_i64.pow(9 - kept.len() as u32))
}

/// Parses `DD-Mon-YY` or `DD-Mon-YYYY` (day may have one digit) into days since the epoch.
fn days_from_dmy(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mut parts = text.split('-');
    let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !(1..=2).contains(&day.len()) || month.len() != 3 {
        return None;
    }
    let month = 1 + MONTHS
        .iter()
        .position(|name| name.eq_ignore_ascii_case(month))? as i64;
    let year = match (year.len(), digits(year.as_bytes())?) {
        (2, short) if short >= 69 => 1900 + short,
        (2, short) => 2000 + short,
        (4, year) => year,
        _ => return None,
    };
    days_from_ymd(year, month, digits(day.as_bytes())?)
}

/// Returns days since 1970-01-01 for a valid proleptic Gregorian date.
fn days_from_ymd(year: i64, month: i64, day: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=month_days).contains(&day) {
        return None;
    }
    // Howard Hinnant's days_from_civil: years start in March, so the leap day falls last.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// Parses a Unix epoch number, choosing its unit from its magnitude.
fn epoch(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes() {
        [b'-', body @ ..] => (true, body),
        [b'+', body @ ..] => (false, body),
        body => (false, body),
    };
    let dot = body.iter().position(|&b| b == b'.').unwrap_or(body.len());
    let whole = digits(&body[..dot])?;
    let unit = if whole < 100_000_000_000 {
        NANOS_PER_SECOND
    } else if whole < 100_000_000_000_000 {
        1_000_000
    } else if whole < 100_000_000_000_000_000 {
        1_000
    } else {
        1
    };
    let fraction = match body.get(dot + 1..) {
        Some(fraction) => scale_fraction(fraction)? * unit / NANOS_PER_SECOND,
        None => 0,
    };
    let nanos = whole.checked_mul(unit)?.checked_add(fraction)?;
    Some(if negative { -nanos } else { nanos })
}

/// Parses a non-empty run of ASCII digits that fits an `i64`.
pub(crate) fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0_i64, |value, &b| {
        let digit = b.is_ascii_digit().then(|| i64::from(b - b'0'))?;
        value.checked_mul(10)?.checked_add(digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str = "Date,Open,High,Low,Close,Volume\n";

    fn ts(text: &str) -> i64 {
        parse_timestamp(text).unwrap().nanos()
    }

    fn parse(text: &str, on_invalid: OnInvalid) -> Result<(BarSeries, SkipReport)> {
        parse_bars(
            text,
            Path::new("test.csv"),
            InstrumentId::new("X"),
            on_invalid,
        )
    }

    /// Returns the invalid row of `rows` (after [`HEADER`]) under `OnInvalid::Error`.
    fn invalid(rows: &str) -> InvalidRow {
        match parse(&format!("{HEADER}{rows}"), OnInvalid::Error) {
            Err(Error::InvalidRow { row, .. }) => row,
            other => panic!("expected an invalid row, got {other:?}"),
        }
    }

    fn fixture(path: &str) -> (BarSeries, SkipReport) {
        read_bars(Path::new(path), InstrumentId::new("X"), OnInvalid::Error).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(ts("1970-01-01"), 0);
        assert_eq!(ts("2004-08-19"), 1_092_873_600 * NANOS_PER_SECOND);
        assert_eq!(ts("2004/08/19"), ts("2004-08-19"));
        assert_eq!(ts("1969-12-31"), -NANOS_PER_DAY);
        assert_eq!(ts("2024-02-29"), ts("2024-03-01") - NANOS_PER_DAY);
        assert_eq!(ts("2000-02-29"), ts("2000-03-01") - NANOS_PER_DAY);
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-1-01",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn day_month_year() {
        assert_eq!(ts("19-Sep-03"), ts("2003-09-19"));
        assert_eq!(ts("19-sep-2003"), ts("2003-09-19"));
        assert_eq!(ts("5-Mar-21"), ts("2021-03-05"));
        assert_eq!(ts("01-Jan-69"), ts("1969-01-01"));
        assert_eq!(ts("31-Dec-68"), ts("2068-12-31"));
        assert_eq!(ts("01-Jan-00"), ts("2000-01-01"));
        for bad in [
            "31-Sep-03",
            "19-Sept-03",
            "19-Sep-003",
            "19-Sep",
            "x-Sep-03",
            "19-Sep-03-1",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn datetimes_and_offsets() {
        let day = ts("2024-01-02");
        let hm = |h: i64, m: i64| day + (h * 3600 + m * 60) * NANOS_PER_SECOND;
        assert_eq!(ts("2024-01-02T09:30"), hm(9, 30));
        assert_eq!(ts("2024-01-02 09:30:15"), hm(9, 30) + 15 * NANOS_PER_SECOND);
        assert_eq!(ts("2024-01-02T09:30:00.25"), hm(9, 30) + 250_000_000);
        assert_eq!(ts("2024-01-02T09:30:00.123456789"), hm(9, 30) + 123_456_789);
        assert_eq!(
            ts("2024-01-02T09:30:00.1234567891"),
            hm(9, 30) + 123_456_789
        );
        assert_eq!(ts("2024-01-02T09:30:00Z"), hm(9, 30));
        assert_eq!(ts("2024-01-02t09:30:00z"), hm(9, 30));
        assert_eq!(ts("2024-01-02T09:30:00+02:00"), hm(7, 30));
        assert_eq!(ts("2024-01-02T09:30:00.5-05:30"), hm(15, 0) + 500_000_000);
        assert_eq!(ts("2024-01-02T01:00:00+02:00"), hm(-1, 0));
        for extreme in [i64::MIN, i64::MAX] {
            assert_eq!(ts(&Timestamp(extreme).to_string()), extreme);
        }
        for bad in [
            "1677-09-21T00:12:43.145224191Z",
            "2262-04-11T23:47:16.854775808Z",
            "2024-01-02T24:00",
            "2024-01-02T09:60",
            "2024-01-02T09:30:61",
            "2024-01-02T9:30",
            "2024-01-02T09:30:00.",
            "2024-01-02T09:30:00+2:00",
            "2024-01-02T09:30:00+24:00",
            "2024-01-02T09:30:00 UTC",
            "2024-01-02X09:30",
            "2024-01-02T",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn epochs_by_magnitude() {
        let s = 1_700_000_000 * NANOS_PER_SECOND;
        assert_eq!(ts("1700000000"), s);
        assert_eq!(ts("1700000000000"), s);
        assert_eq!(ts("1700000000000000"), s);
        assert_eq!(ts("1700000000000000000"), s);
        assert_eq!(ts("1700000000.5"), s + 500_000_000);
        assert_eq!(ts("1700000000000.25"), s + 250_000);
        assert_eq!(ts("9000000000"), 9_000_000_000 * NANOS_PER_SECOND);
        assert_eq!(ts("100000000000"), 100_000_000_000 * 1_000_000);
        assert_eq!(ts("0"), 0);
        assert_eq!(ts("-86400"), -NANOS_PER_DAY);
        assert_eq!(ts("-1.5"), -1_500_000_000);
        // Eight digits forming a date are a compact date; others stay epoch seconds.
        assert_eq!(ts("20240102"), ts("2024-01-02"));
        assert_eq!(ts("20241302"), 20_241_302 * NANOS_PER_SECOND);
        assert_eq!(ts("18991231"), 18_991_231 * NANOS_PER_SECOND);
        for bad in [
            "",
            "abc",
            "1e9",
            "1700000000.5.5",
            "1.1234567890x",
            "5.",
            "-",
            ".5",
            "99999999999999999999",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        // Seconds from 2262 on overflow i64 nanoseconds.
        assert_eq!(parse_timestamp("9999999999"), None);
        assert_eq!(parse_timestamp("99999999999"), None);
    }

    #[test]
    fn header_variants() {
        let row = "2024-01-02,1,2,0.5,1.5,10";
        for (header, row) in [
            ("Date,Open,High,Low,Close,Volume", row),
            ("\u{feff}date,open,high,low,close,volume", row),
            (" \"Datetime\" , \"OPEN\",High ,Low,Close,Volume", row),
            (",Open,High,Low,Close,Volume", row),
            (
                "Timestamp,Close,Low,High,Open,Volume",
                "2024-01-02,1.5,0.5,2,1,10",
            ),
            (
                "ts,open,high,low,adj close,close,volume",
                "2024-01-02,1,2,0.5,9,1.5,10",
            ),
        ] {
            let (series, _) = parse(&format!("{header}\n{row}\n"), OnInvalid::Error).unwrap();
            let bar = Bar {
                ts: Timestamp(ts("2024-01-02")),
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: 10.0,
            };
            assert_eq!(series.bars, [bar], "{header}");
        }
        let (series, _) = parse(
            "Time,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5",
            OnInvalid::Error,
        )
        .unwrap();
        assert_eq!(series.bars[0].volume, 0.0);
    }

    #[test]
    fn missing_column_is_named() {
        let err = parse(
            "Date,Open,High,Low,Adj Close\n2024-01-02,1,2,0.5,1.5\n",
            OnInvalid::Error,
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::Header { .. }), "{message}");
        assert!(message.contains("test.csv: line 1"), "{message}");
        assert!(message.contains("missing column \"close\""), "{message}");
        assert!(message.contains("\"Adj Close\""), "{message}");
        let err = parse("Open,High,Low,Close\n1,2,0.5,1.5\n", OnInvalid::Error).unwrap_err();
        assert!(err.to_string().contains("a time column"), "{err}");
        let err = parse("Date,Open,Low\n2024-01-02,1,1\n", OnInvalid::Error).unwrap_err();
        assert!(
            err.to_string().contains("columns \"high\", \"close\";"),
            "{err}"
        );
    }

    #[test]
    fn tolerates_crlf_quotes_and_blank_lines() {
        let text = "\r\nDate,Open,High,Low,Close,Volume\r\n\"2024-01-02\",\"1\",2,0.5,1.5,10\r\n\r\n  \n\
                    2024-01-03,1.5,2,1,1.75,0\r\n";
        let (series, skipped) = parse(text, OnInvalid::Error).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(skipped, SkipReport::default());
        assert_eq!(series.bars[1].close, 1.75);
        assert_eq!(series.instrument, InstrumentId::new("X"));
    }

    #[test]
    fn each_problem_names_line_and_column() {
        // Epoch-second times keep rows short; "" is a problem with no single column.
        let cases = [
            ("2,10,11,9,,100", "Close", "empty field, expected a number"),
            (
                ",10,11,9,10,100",
                "Date",
                "empty field, expected a date, datetime or Unix",
            ),
            (
                "2,10,11,9,1O,100",
                "Close",
                "cannot parse \"1O\", expected a number",
            ),
            (
                "2024-13-03,10,11,9,10,100",
                "Date",
                "cannot parse \"2024-13-03\", expected a date",
            ),
            ("2,10,NaN,9,10,100", "High", "NaN is not a finite number"),
            ("2,10,11,9,10,inf", "Volume", "inf is not a finite number"),
            ("2,0,11,9,10,100", "Open", "price 0 is not positive"),
            ("2,10,11,-9,10,100", "Low", "price -9 is not positive"),
            ("2,10,11,9,10,-1", "Volume", "volume -1 is negative"),
            ("2,10,9.5,9,10,100", "High", "high 9.5 is below open 10"),
            ("2,10,11,10.5,10,100", "Low", "low 10.5 is above open 10"),
            (
                "1,10,11,9,10,100",
                "Date",
                "is equal to the previous row's 1970-01-01T00:00:01Z",
            ),
            ("2,10,11,9,10", "", "expected 6 fields, found 5"),
        ];
        for (row, column, problem) in cases {
            let found = invalid(&format!("1,10,11,9,10,100\n\n{row}\n"));
            let message = found.to_string();
            assert_eq!(found.line, 4, "{row}: {message}");
            assert_eq!(
                found.column.as_deref(),
                Some(column).filter(|c| !c.is_empty()),
                "{row}"
            );
            assert!(message.starts_with("line 4"), "{message}");
            assert!(message.contains(problem), "{row}: {message}");
            assert!(
                message.contains(&format!("{column:?}")) || column.is_empty(),
                "{message}"
            );
        }
        let close = invalid("2024-01-02,10,11,9,9.5,1\n2024-01-03,10,10.5,9,11,1\n");
        assert_eq!(close.line, 3);
        assert_eq!(
            close.to_string(),
            "line 3, column \"High\": inconsistent bar: high 10.5 is below close 11"
        );
        let earlier = invalid("2024-01-02,10,11,9,10,1\n2024-01-01,10,11,9,10,1\n");
        assert!(matches!(
            earlier.problem,
            RowProblem::OutOfOrder {
                order: "before the",
                ..
            }
        ));
        // An unnamed time column has no name to show.
        let err = parse(",Open,High,Low,Close\nx,1,1,1,1\n", OnInvalid::Error).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.csv: line 2: cannot parse \"x\", expected a date, datetime or Unix timestamp"
        );
    }

    #[test]
    fn skip_mode_counts_and_keeps_examples() {
        let mut text = String::from(HEADER);
        for day in 1..=28 {
            // Every third row has an empty close; out-of-order rows are judged against the last kept.
            let close = if day % 3 == 0 { "" } else { "10" };
            text.push_str(&format!("2024-02-{day:02},10,11,9,{close},1\n"));
        }
        text.push_str("2024-02-27,10,11,9,10,1\n2024-03-01,10,11,9,10,1\n");
        let (series, report) = parse(&text, OnInvalid::Skip).unwrap();
        assert_eq!(series.len(), 28 - 9 + 1);
        assert_eq!(report.skipped, 10);
        assert_eq!(report.examples.len(), SkipReport::KEEP);
        assert_eq!(report.examples[0].line, 4);
        assert!(matches!(
            report.examples[9].problem,
            RowProblem::OutOfOrder { .. }
        ));
        assert!(series.bars.windows(2).all(|pair| pair[0].ts < pair[1].ts));
        let err = parse(&format!("{HEADER}x,1,1,1,1,1\n"), OnInvalid::Skip).unwrap_err();
        assert!(matches!(err, Error::Empty { .. }), "{err}");
        assert!(matches!(
            parse(HEADER, OnInvalid::Error),
            Err(Error::Empty { .. })
        ));
        assert!(matches!(
            parse("", OnInvalid::Error),
            Err(Error::Empty { .. })
        ));
    }

    #[test]
    fn goog() {
        let (series, skipped) = fixture(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../backtests/data/GOOG.csv"
        ));
        assert_eq!(skipped.skipped, 0);
        assert_eq!(series.len(), 2148);
        let first = Bar {
            ts: parse_timestamp("2004-08-19").unwrap(),
            open: 100.0,
            high: 104.06,
            low: 95.96,
            close: 100.34,
            volume: 22_351_900.0,
        };
        assert_eq!(series.bars[0], first);
        assert_eq!(series.bars[2147].ts.to_string(), "2013-03-01");
        assert_eq!(series.bars[2147].close, 806.19);
    }

    #[test]
    fn btcusd_has_fractional_volume() {
        let (series, _) = fixture(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/data/BTCUSD.csv"
        ));
        assert_eq!(series.len(), 156);
        assert_eq!(series.bars[0].volume, 2012.25343589);
        assert!(series.bars.iter().any(|bar| bar.volume.fract() != 0.0));
    }

    #[test]
    fn newest_first_file_is_out_of_order() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/data/matplotlib_msft.csv"
        ));
        let err = read_bars(path, InstrumentId::new("MSFT"), OnInvalid::Error).unwrap_err();
        let Error::InvalidRow { row, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(row.line, 3);
        assert_eq!(row.column.as_deref(), Some("Date"));
        assert!(
            err.to_string()
                .contains("timestamp 2003-09-18 is before the previous row's 2003-09-19"),
            "{err}"
        );
        let (series, report) = read_bars(path, InstrumentId::new("MSFT"), OnInvalid::Skip).unwrap();
        assert_eq!((series.len(), report.skipped), (1, 64));
        let missing = read_bars(
            Path::new("no/such.csv"),
            InstrumentId::new("X"),
            OnInvalid::Skip,
        );
        assert!(matches!(missing, Err(Error::Io { .. })));
    }

    fn bar_strategy() -> impl Strategy<Value = (i64, Bar)> {
        let price = 1e-4..1e6_f64;
        let step = prop_oneof![
            (1..1000_i64).prop_map(|days| days * NANOS_PER_DAY),
            (1..1_000_000_i64).prop_map(|secs| secs * NANOS_PER_SECOND),
            1..1_000_000_000_000_i64,
        ];
        (
            step,
            price.clone(),
            price,
            0.0..1.0_f64,
            0.0..1.0_f64,
            0.0..1e12_f64,
        )
            .prop_map(|(step, open, close, up, down, volume)| {
                let high = open.max(close) * (1.0 + up);
                let low = open.min(close) * (1.0 - 0.999 * down);
                (
                    step,
                    Bar {
                        ts: Timestamp(0),
                        open,
                        high,
                        low,
                        close,
                        volume,
                    },
                )
            })
    }

    proptest! {
        #[test]
        fn prop_round_trip(start in -2_000_000_000_i64..2_000_000_000, rows in prop::collection::vec(bar_strategy(), 1..50)) {
            let mut text = String::from(HEADER);
            let mut bars = Vec::new();
            let mut now = start * NANOS_PER_SECOND;
            for (step, mut bar) in rows {
                now += step;
                bar.ts = Timestamp(now);
                text.push_str(&format!("{},{},{},{},{},{}\n", bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume));
                bars.push(bar);
            }
            let (series, _) = parse(&text, OnInvalid::Error).unwrap();
            prop_assert_eq!(series.bars, bars);
        }

        #[test]
        fn prop_datetime_matches_chrono(nanos in -6_000_000_000_000_000_000_i64..6_000_000_000_000_000_000) {
            let formatted = Timestamp(nanos).to_datetime().format("%Y-%m-%d %H:%M:%S%.f").to_string();
            prop_assert_eq!(parse_timestamp(&formatted), Some(Timestamp(nanos)));
            let day = Timestamp(nanos).to_datetime().format("%d-%b-%Y").to_string();
            prop_assert_eq!(parse_timestamp(&day).map(Timestamp::day), Some(Timestamp(nanos).day()));
        }
    }
}
