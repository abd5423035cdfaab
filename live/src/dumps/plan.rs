//! Which dump files cover a date range: the checked request (symbol, interval, dates) and the
//! list of monthly and daily files it needs, each with its URL path.

use chrono::{Datelike, Months, NaiveDate};

/// The kline intervals Binance publishes dumps of.
pub const INTERVALS: [&str; 16] = [
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1mo",
];

/// One published dump: a whole month or a single day of one symbol's klines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dump {
    /// `monthly` or `daily`: the folder it is published in.
    pub period: &'static str,
    /// The file's name, `BTCUSDT-1m-2024-01.zip`.
    pub file: String,
    /// Its path below the base URL, `data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip`.
    pub path: String,
}

/// Checks a symbol: Binance's are ASCII letters and digits (`BTCUSDT`), upper-cased here as
/// the dumps' paths are. Anything else could not be in a URL path or a folder name safely.
///
/// # Errors
/// A message naming the symbol and what a symbol may hold.
pub fn symbol(text: &str) -> Result<String, String> {
    if text.is_empty() || text.len() > 32 || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "--symbol: expected letters and digits only, like BTCUSDT, found {:?}",
            crate::printable(text, crate::QUOTED_CHARS)
        ));
    }
    Ok(text.to_ascii_uppercase())
}

/// Checks an interval against the ones Binance publishes.
///
/// # Errors
/// A message listing the published intervals.
pub fn interval(text: &str) -> Result<&'static str, String> {
    INTERVALS
        .iter()
        .find(|i| **i == text)
        .copied()
        .ok_or_else(|| {
            format!(
                "--interval: Binance publishes klines of {}, found {:?}",
                INTERVALS.join(", "),
                crate::printable(text, crate::QUOTED_CHARS)
            )
        })
}

/// Reads `YYYY-MM` (the month's first day) or `YYYY-MM-DD`; `flag` names the option in messages.
///
/// # Errors
/// A message naming the flag and the accepted forms.
pub fn date(flag: &str, text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d"))
        .map_err(|_| {
            format!(
                "{flag}: expected a month (2024-01) or a day (2024-01-15), found {:?}",
                crate::printable(text, crate::QUOTED_CHARS)
            )
        })
}

/// The dumps covering the days in `[start, end)`: a monthly file for each month wholly inside,
/// a daily file for each day of a month only partly inside (one request per month where
/// possible, and no bar outside the range).
///
/// # Errors
/// A message if `start` is not before `end`.
pub fn dumps(
    symbol: &str,
    interval: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<Dump>, String> {
    if start >= end {
        return Err(format!(
            "--start {start} must come before --end {end} (the end is excluded)"
        ));
    }
    let mut out = Vec::new();
    let mut day = start;
    while day < end {
        let next_month = (day.day() == 1)
            .then(|| day.checked_add_months(Months::new(1)))
            .flatten();
        let (period, stamp, next) = match next_month {
            Some(next) if next <= end => ("monthly", day.format("%Y-%m").to_string(), next),
            _ => match day.succ_opt() {
                Some(next) => ("daily", day.format("%Y-%m-%d").to_string(), next),
                None => break,
            },
        };
        let file = format!("{symbol}-{interval}-{stamp}.zip");
        let path = format!("data/spot/{period}/klines/{symbol}/{interval}/{file}");
        out.push(Dump { period, file, path });
        day = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        date("--start", text).unwrap()
    }

    #[test]
    fn whole_months_are_monthly_files_and_the_rest_daily() {
        let files: Vec<String> = dumps("BTCUSDT", "1m", d("2024-01-30"), d("2024-03-02"))
            .unwrap()
            .into_iter()
            .map(|f| f.file)
            .collect();
        assert_eq!(
            files,
            [
                "BTCUSDT-1m-2024-01-30.zip",
                "BTCUSDT-1m-2024-01-31.zip",
                "BTCUSDT-1m-2024-02.zip",
                "BTCUSDT-1m-2024-03-01.zip",
            ]
        );
        let months = dumps("ETHBTC", "1h", d("2024-01"), d("2024-06")).unwrap();
        assert_eq!(months.len(), 5);
        assert_eq!(
            months[4].path,
            "data/spot/monthly/klines/ETHBTC/1h/ETHBTC-1h-2024-05.zip"
        );
    }

    #[test]
    fn bad_requests_are_named() {
        assert!(
            dumps("X", "1m", d("2024-06"), d("2024-01"))
                .unwrap_err()
                .contains("before")
        );
        assert!(dumps("X", "1m", d("2024-06"), d("2024-06")).is_err());
        assert!(interval("7m").unwrap_err().contains("1m, 3m"));
        assert!(
            symbol("BTC/USDT")
                .unwrap_err()
                .contains("letters and digits")
        );
        assert!(symbol("../etc").is_err());
        assert_eq!(symbol("btcusdt").unwrap(), "BTCUSDT");
        assert!(date("--end", "2024-13").unwrap_err().starts_with("--end"));
        assert_eq!(d("2024-02"), NaiveDate::from_ymd_opt(2024, 2, 1).unwrap());
    }
}
