//! Readers for Binance's public data dumps (data.binance.vision): kline and trade CSV files.
//!
//! The dumps come zipped, one CSV per symbol and day or month; unzip them first (this crate reads
//! plain CSV and takes no zip dependency), or let `quant data fetch binance` download, verify and
//! unzip them (`live::dumps`, which parses them here). Their columns are fixed by position. Older spot dumps
//! have no header row, futures dumps and newer spot dumps do; both are read, and a header, when
//! present, must name the expected columns, so a trade file passed as klines fails at once.
//!
//! Times are Unix milliseconds, except in spot dumps from 2025 on, which use microseconds. The
//! unit is chosen per value by magnitude, as [`crate::csv::parse_timestamp`] does: 1e14 or more
//! is microseconds (1e14 µs is in 1973, 1e14 ms in the year 5138), anything less milliseconds.
//!
//! Rows are checked like [`crate::csv`] checks bars, and a bad row is named by file, line and
//! column. As trade files run to millions of rows a day, rows are split by hand without
//! allocating.

use crate::csv::{
    OnInvalid, accept, check_ohlc, count_lines, digits, non_empty, out_of_order, parse_number,
    unquote,
};
use crate::{
    Bar, BarSeries, Error, InstrumentId, InvalidRow, Price, Qty, Result, RowProblem, Side,
    SkipReport, Timestamp, Trade, TradeSeries,
};
use std::path::Path;

/// The columns of a kline file, in order.
pub const KLINE_COLUMNS: [&str; 12] = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_asset_volume",
    "number_of_trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
    "ignore",
];

/// The columns of a trade file, in order; spot dumps add the seventh, futures dumps lack it.
pub const TRADE_COLUMNS: [&str; 7] = [
    "id",
    "price",
    "qty",
    "quote_qty",
    "time",
    "is_buyer_maker",
    "is_best_match",
];

/// Times from this value on are microseconds, below it milliseconds.
const MICROS_FROM: i64 = 100_000_000_000_000;
const TIME: &str = "a Unix time in milliseconds or microseconds, before the year 2262";
const BOOL: &str = "true or false";

/// What a file holds: its columns, which of them a header must name, and how many a row has.
struct Layout {
    /// `kline` or `trade`, for messages.
    what: &'static str,
    columns: &'static [&'static str],
    /// Columns whose header names are checked: the ones read, which Binance names stably
    /// (futures kline headers say `quote_volume` and `count` for later columns).
    named: &'static [usize],
    /// Fewest and most fields in a row.
    fields: (usize, usize),
}

const KLINES: Layout = Layout {
    what: "kline",
    columns: &KLINE_COLUMNS,
    named: &[0, 1, 2, 3, 4, 5],
    fields: (12, 12),
};

const TRADES: Layout = Layout {
    what: "trade",
    columns: &TRADE_COLUMNS,
    named: &[0, 1, 2, 4, 5],
    fields: (6, 7),
};

/// Reads a Binance kline CSV file into bars stamped with their open time.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read, and otherwise as [`parse_klines`].
pub fn read_klines(
    path: &Path,
    instrument: InstrumentId,
    on_invalid: OnInvalid,
) -> Result<(BarSeries, SkipReport)> {
    parse_klines(&read(path)?, path, instrument, on_invalid)
}

/// Parses Binance kline CSV text into bars stamped with their open time; `path` is used only in
/// messages.
///
/// Rows have the twelve [`KLINE_COLUMNS`], with or without a header row; the bar takes
/// `open_time`, `open`, `high`, `low`, `close` and `volume` (in the base asset). Prices must be
/// positive, the volume non-negative, high and low must bound open and close, and open times
/// must strictly increase.
///
/// # Errors
///
/// [`Error::Header`] if a header row does not name the kline columns, [`Error::InvalidRow`] for
/// the first invalid row under [`OnInvalid::Error`], and [`Error::Empty`] if no valid row remains.
pub fn parse_klines(
    text: &str,
    path: &Path,
    instrument: InstrumentId,
    on_invalid: OnInvalid,
) -> Result<(BarSeries, SkipReport)> {
    let (bars, skipped) = parse_rows(text, path, &KLINES, on_invalid, kline_row)?;
    Ok((BarSeries::new(instrument, bars), skipped))
}

/// Reads a Binance trade CSV file into trades.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read, and otherwise as [`parse_trades`].
pub fn read_trades(
    path: &Path,
    instrument: InstrumentId,
    on_invalid: OnInvalid,
) -> Result<(TradeSeries, SkipReport)> {
    parse_trades(&read(path)?, path, instrument, on_invalid)
}

/// Parses Binance trade CSV text into trades; `path` is used only in messages.
///
/// Rows have the [`TRADE_COLUMNS`], the last one optional, with or without a header row; a trade
/// takes `price`, `qty`, `time` and `is_buyer_maker` (`true` or `false` in any case). A buyer
/// that made the market means the seller crossed the spread, so `is_buyer_maker = true` gives an
/// aggressor of [`Side::Sell`]. Prices must be positive, quantities non-negative, and times must
/// not decrease (trades often share a millisecond).
///
/// # Errors
///
/// [`Error::Header`] if a header row does not name the trade columns, [`Error::InvalidRow`] for
/// the first invalid row under [`OnInvalid::Error`], and [`Error::Empty`] if no valid row remains.
pub fn parse_trades(
    text: &str,
    path: &Path,
    instrument: InstrumentId,
    on_invalid: OnInvalid,
) -> Result<(TradeSeries, SkipReport)> {
    let (trades, skipped) = parse_rows(text, path, &TRADES, on_invalid, trade_row)?;
    Ok((TradeSeries::new(instrument, trades), skipped))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Checks the header if there is one, then parses each row with `parse_row`, which also gets the
/// last accepted row to check order against.
fn parse_rows<T>(
    text: &str,
    path: &Path,
    layout: &Layout,
    on_invalid: OnInvalid,
    parse_row: impl Fn(&[&str], usize, Option<&T>) -> Result<T, InvalidRow>,
) -> Result<(Vec<T>, SkipReport)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_ascii().is_empty())
        .peekable();
    let Some(&(_, first)) = lines.peek() else {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    };
    // Data rows start with a time or trade id, all digits; anything else is a header.
    let first_field = unquote(first.split(',').next().unwrap_or_default());
    if digits(first_field.as_bytes()).is_none() {
        layout
            .check_header(first)
            .map_err(|message| Error::Header {
                path: path.to_path_buf(),
                message,
            })?;
        lines.next();
    }

    let mut rows = Vec::with_capacity(count_lines(text));
    let mut skipped = SkipReport::default();
    let mut fields = [""; 12];
    for (index, line) in lines {
        let line_no = index + 1;
        let found = split_fields(line, &mut fields);
        let (fewest, most) = layout.fields;
        let row = if found < fewest || found > most {
            let expected = if found < fewest { fewest } else { most };
            Err(InvalidRow {
                line: line_no,
                column: None,
                problem: RowProblem::FieldCount { expected, found },
            })
        } else {
            parse_row(&fields[..found], line_no, rows.last())
        };
        accept(&mut rows, row, on_invalid, &mut skipped, path)?;
    }
    Ok((non_empty(rows, path)?, skipped))
}

impl Layout {
    /// Accepts a header that names the columns read where expected, in any case.
    fn check_header(&self, header: &str) -> Result<(), String> {
        let names: Vec<&str> = header.split(',').map(unquote).collect();
        let matches = self.named.iter().all(|&column| {
            names
                .get(column)
                .is_some_and(|name| name.eq_ignore_ascii_case(self.columns[column]))
        });
        if matches {
            return Ok(());
        }
        let found: Vec<String> = names.iter().map(|name| format!("{name:?}")).collect();
        Err(format!(
            "not a Binance {} header: expected columns {}; found {}",
            self.what,
            self.columns.join(", "),
            found.join(", ")
        ))
    }
}

/// Splits a row at commas into `fields`, unquoted, and returns how many fields it has (which may
/// exceed `fields.len()`; the excess is not stored).
fn split_fields<'a>(line: &'a str, fields: &mut [&'a str]) -> usize {
    // A byte scan, as in the CSV bar reader: `str::split(',')` costs a memchr and a memcmp call
    // per field.
    let (mut found, mut start) = (0, 0);
    let commas = line
        .bytes()
        .enumerate()
        .filter(|&(_, b)| b == b',')
        .map(|(end, _)| end);
    for end in commas.chain([line.len()]) {
        if let Some(slot) = fields.get_mut(found) {
            *slot = unquote(&line[start..end]);
        }
        found += 1;
        start = end + 1;
    }
    found
}

/// Parses one kline row of twelve fields.
fn kline_row(fields: &[&str], line: usize, last: Option<&Bar>) -> Result<Bar, InvalidRow> {
    let invalid = |column: usize, problem| InvalidRow {
        line,
        column: Some(KLINE_COLUMNS[column].to_owned()),
        problem,
    };
    let ts = parse_time(fields[0]).map_err(|problem| invalid(0, problem))?;
    let mut prices = [0.0; 4];
    for (column, price) in (1..=4).zip(&mut prices) {
        *price = parse_price(fields[column]).map_err(|problem| invalid(column, problem))?;
    }
    let volume = parse_number(fields[5])
        .and_then(|value| match value {
            value if value < 0.0 => Err(RowProblem::NegativeVolume { value }),
            value => Ok(value),
        })
        .map_err(|problem| invalid(5, problem))?;
    let [open, high, low, close] = prices;
    // The checker names fields in (time, open, high, low, close) order, as these columns are.
    check_ohlc(open, high, low, close).map_err(|(column, problem)| invalid(column, problem))?;
    if let Some(previous) = last.map(|bar| bar.ts).filter(|&previous| ts <= previous) {
        return Err(invalid(0, out_of_order(ts, previous)));
    }
    Ok(Bar {
        ts,
        open,
        high,
        low,
        close,
        volume,
    })
}

/// Parses one trade row of six or seven fields.
fn trade_row(
    fields: &[&str],
    line: usize,
    last: Option<&(Timestamp, Trade)>,
) -> Result<(Timestamp, Trade), InvalidRow> {
    let invalid = |column: usize, problem| InvalidRow {
        line,
        column: Some(TRADE_COLUMNS[column].to_owned()),
        problem,
    };
    let price = parse_price(fields[1]).map_err(|problem| invalid(1, problem))?;
    let qty = parse_number(fields[2])
        .and_then(|value| match value {
            value if value < 0.0 => Err(RowProblem::NegativeQuantity { value }),
            value => Ok(value),
        })
        .map_err(|problem| invalid(2, problem))?;
    let ts = parse_time(fields[4]).map_err(|problem| invalid(4, problem))?;
    let buyer_is_maker = match fields[5] {
        text if text.eq_ignore_ascii_case("true") => true,
        text if text.eq_ignore_ascii_case("false") => false,
        "" => return Err(invalid(5, RowProblem::Empty { expected: BOOL })),
        text => {
            let problem = RowProblem::Unparsable {
                value: text.to_owned(),
                expected: BOOL,
            };
            return Err(invalid(5, problem));
        }
    };
    if let Some(previous) = last.map(|trade| trade.0).filter(|&previous| ts < previous) {
        return Err(invalid(4, out_of_order(ts, previous)));
    }
    let trade = Trade {
        price: Price(price),
        qty: Qty(qty),
        aggressor: if buyer_is_maker {
            Side::Sell
        } else {
            Side::Buy
        },
    };
    Ok((ts, trade))
}

/// Parses a finite, positive price.
fn parse_price(text: &str) -> Result<f64, RowProblem> {
    match parse_number(text)? {
        value if value <= 0.0 => Err(RowProblem::NonPositivePrice { value }),
        value => Ok(value),
    }
}

/// Parses a Unix time in milliseconds, or in microseconds from [`MICROS_FROM`] on.
fn parse_time(text: &str) -> Result<Timestamp, RowProblem> {
    if text.is_empty() {
        return Err(RowProblem::Empty { expected: TIME });
    }
    let unparsable = || RowProblem::Unparsable {
        value: text.to_owned(),
        expected: TIME,
    };
    let value = digits(text.as_bytes()).ok_or_else(unparsable)?;
    let nanos_per_unit = if value >= MICROS_FROM {
        1_000
    } else {
        1_000_000
    };
    value
        .checked_mul(nanos_per_unit)
        .map(Timestamp)
        .ok_or_else(unparsable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resample::{BarRule, resample_trades};
    use crate::{NANOS_PER_DAY, NANOS_PER_SECOND};

    /// 2024-01-01T00:00:00Z in milliseconds.
    const JAN_2024_MS: i64 = 1_704_067_200_000;
    const KLINE_HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,\
                                count,taker_buy_volume,taker_buy_quote_volume,ignore\n";
    const TRADE_HEADER: &str = "id,price,qty,quote_qty,time,is_buyer_maker\n";

    fn klines(text: &str, on_invalid: OnInvalid) -> Result<(BarSeries, SkipReport)> {
        parse_klines(
            text,
            Path::new("BTCUSDT-1m-2024-01-01.csv"),
            InstrumentId::new("BTCUSDT"),
            on_invalid,
        )
    }

    fn trades(text: &str, on_invalid: OnInvalid) -> Result<(TradeSeries, SkipReport)> {
        parse_trades(
            text,
            Path::new("BTCUSDT-trades-2024-01-01.csv"),
            InstrumentId::new("BTCUSDT"),
            on_invalid,
        )
    }

    /// A kline row opening `minute` minutes after 2024-01-01, in the given time unit.
    fn kline(minute: i64, micros: bool, ohlcv: &str) -> String {
        let open_ms = JAN_2024_MS + minute * 60_000;
        let (open, close) = if micros {
            (open_ms * 1000, (open_ms + 59_999) * 1000 + 999)
        } else {
            (open_ms, open_ms + 59_999)
        };
        format!("{open},{ohlcv},{close},1234.5,42,1.5,100.25,0\n")
    }

    fn minute(m: i64) -> Timestamp {
        Timestamp((JAN_2024_MS + m * 60_000) * 1_000_000)
    }

    fn expected_bars() -> Vec<Bar> {
        vec![
            Bar {
                ts: minute(0),
                open: 42283.58,
                high: 42298.62,
                low: 42261.02,
                close: 42298.61,
                volume: 35.92724,
            },
            Bar {
                ts: minute(1),
                open: 42298.62,
                high: 42320.0,
                low: 42298.61,
                close: 42320.0,
                volume: 21.0,
            },
        ]
    }

    fn kline_rows(micros: bool) -> String {
        kline(0, micros, "42283.58,42298.62,42261.02,42298.61,35.92724")
            + &kline(1, micros, "42298.62,42320.00,42298.61,42320.00,21")
    }

    fn invalid(result: Result<impl std::fmt::Debug>) -> (InvalidRow, String) {
        match result {
            Err(err @ Error::InvalidRow { .. }) => {
                let message = err.to_string();
                let Error::InvalidRow { row, .. } = err else {
                    unreachable!()
                };
                (row, message)
            }
            other => panic!("expected an invalid row, got {other:?}"),
        }
    }

    #[test]
    fn klines_with_and_without_header() {
        for text in [
            kline_rows(false),
            format!("{KLINE_HEADER}{}", kline_rows(false)),
        ] {
            let (series, skipped) = klines(&text, OnInvalid::Error).unwrap();
            assert_eq!(series.bars, expected_bars(), "{text}");
            assert_eq!(series.instrument.as_str(), "BTCUSDT");
            assert_eq!(skipped, SkipReport::default());
        }
        assert_eq!(expected_bars()[0].ts.to_string(), "2024-01-01");
        // The spot header spelling is accepted too, as are CRLF, a BOM and blank lines.
        let spot = KLINE_COLUMNS.join(",");
        let text = format!(
            "\u{feff}{spot}\r\n\r\n{}",
            kline_rows(false).replace('\n', "\r\n")
        );
        assert_eq!(
            klines(&text, OnInvalid::Error).unwrap().0.bars,
            expected_bars()
        );
    }

    #[test]
    fn klines_in_microseconds() {
        let (series, _) = klines(&kline_rows(true), OnInvalid::Error).unwrap();
        assert_eq!(series.bars, expected_bars());
        // The same instant either way, chosen by magnitude.
        assert_eq!(parse_time("1735689600000"), parse_time("1735689600000000"));
        assert_eq!(
            parse_time("1735689600000").unwrap().to_string(),
            "2025-01-01"
        );
        // Milliseconds stop fitting in nanoseconds in 2262, well below the microsecond switch.
        assert_eq!(
            parse_time("9223372036854").unwrap().nanos(),
            9_223_372_036_854 * 1_000_000
        );
        assert!(parse_time("9223372036855").is_err());
        assert!(parse_time("99999999999999").is_err());
        assert_eq!(
            parse_time("100000000000000").unwrap().nanos(),
            100_000_000_000_000 * 1_000
        );
        assert_eq!(parse_time("0").unwrap(), Timestamp(0));
        for bad in ["", "-1", "1.5", "1e12", "x", "9999999999999999999"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        // The largest microsecond count that fits, and one past it.
        assert!(parse_time("9223372036854775").is_ok());
        assert!(parse_time("9223372036854776").is_err());
    }

    #[test]
    fn kline_problems_name_file_line_and_column() {
        let first = kline(0, false, "10,11,9,10,5");
        let cases = [
            (
                kline(1, false, "10,1l,9,10,5"),
                Some("high"),
                "cannot parse \"1l\", expected a number",
            ),
            (
                kline(1, false, "10,11,9,,5"),
                Some("close"),
                "empty field, expected a number",
            ),
            (
                kline(1, false, "0,11,9,10,5"),
                Some("open"),
                "price 0 is not positive",
            ),
            (
                kline(1, false, "10,11,9,10,NaN"),
                Some("volume"),
                "NaN is not a finite number",
            ),
            (
                kline(1, false, "10,11,9,10,-5"),
                Some("volume"),
                "volume -5 is negative",
            ),
            (
                kline(1, false, "10,9.5,9,10,5"),
                Some("high"),
                "high 9.5 is below open 10",
            ),
            (
                kline(1, false, "10,11,10.5,10,5"),
                Some("low"),
                "low 10.5 is above open 10",
            ),
            (
                kline(0, false, "10,11,9,10,5"),
                Some("open_time"),
                "is equal to the previous row's",
            ),
            (
                kline(-1, false, "10,11,9,10,5"),
                Some("open_time"),
                "is before the previous row's",
            ),
            (
                "x,10,11,9,10,5,0,0,0,0,0,0\n".into(),
                Some("open_time"),
                "expected a Unix time",
            ),
            ("1,2,3\n".into(), None, "expected 12 fields, found 3"),
            (
                format!("{},extra\n", kline(1, false, "10,11,9,10,5").trim_end()),
                None,
                "expected 12 fields, found 13",
            ),
        ];
        for (row, column, problem) in cases {
            let (found, message) = invalid(klines(&format!("{first}\n{row}"), OnInvalid::Error));
            assert_eq!(found.line, 3, "{message}");
            assert_eq!(found.column.as_deref(), column, "{message}");
            assert!(
                message.starts_with("BTCUSDT-1m-2024-01-01.csv: line 3"),
                "{message}"
            );
            assert!(message.contains(problem), "{message}");
            if let Some(column) = column {
                assert!(message.contains(&format!("column {column:?}")), "{message}");
            }
        }
        let (_, message) = invalid(klines(
            &format!(
                "{}{}",
                kline(5, false, "10,11,9,10,5"),
                kline(4, false, "10,11,9,10,5")
            ),
            OnInvalid::Error,
        ));
        assert_eq!(
            message,
            "BTCUSDT-1m-2024-01-01.csv: line 2, column \"open_time\": timestamp \
             2024-01-01T00:04:00Z is before the previous row's 2024-01-01T00:05:00Z"
        );
    }

    #[test]
    fn klines_skip_mode_and_empty_files() {
        let text = kline(0, false, "10,11,9,10,5")
            + &kline(1, false, "10,11,9,10,-5")
            + &kline(2, false, "10,11,9,10,5")
            + &kline(1, false, "10,11,9,10,5")
            + &kline(3, false, "10,11,9,10,5");
        let (series, report) = klines(&text, OnInvalid::Skip).unwrap();
        let times: Vec<_> = series.bars.iter().map(|bar| bar.ts).collect();
        assert_eq!(times, [minute(0), minute(2), minute(3)]);
        assert_eq!(report.skipped, 2);
        assert_eq!(report.examples[0].line, 2);
        assert!(matches!(
            report.examples[1].problem,
            RowProblem::OutOfOrder { .. }
        ));
        for empty in ["", "\n\n", KLINE_HEADER] {
            assert!(matches!(
                klines(empty, OnInvalid::Error),
                Err(Error::Empty { .. })
            ));
        }
        let all_bad = kline(0, false, "10,11,9,10,-5");
        assert!(matches!(
            klines(&all_bad, OnInvalid::Skip),
            Err(Error::Empty { .. })
        ));
    }

    #[test]
    fn wrong_header_is_named() {
        let err = klines(&format!("{TRADE_HEADER}1,2,3\n"), OnInvalid::Error).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::Header { .. }), "{message}");
        assert!(
            message.starts_with(
                "BTCUSDT-1m-2024-01-01.csv: line 1: not a Binance kline header: expected columns \
                 open_time, open, high"
            ),
            "{message}"
        );
        assert!(message.contains("found \"id\", \"price\""), "{message}");
        let err = trades(&format!("{KLINE_HEADER}1,2,3\n"), OnInvalid::Error).unwrap_err();
        assert!(
            err.to_string().contains("not a Binance trade header"),
            "{err}"
        );
    }

    #[test]
    fn spot_trades_without_header() {
        // Spot dumps: seven columns, no header, capitalised booleans.
        let text = "3351510500,42283.58,0.00100000,42.28358000,1704067200000,True,True\n\
                    3351510501,42283.59,0.01500000,634.25385000,1704067200000,False,True\n\
                    3351510502,42284.00,0.5,21142.0,1704067201250,false,true\n";
        let (series, skipped) = trades(text, OnInvalid::Error).unwrap();
        assert_eq!(skipped.skipped, 0);
        let second = Timestamp(JAN_2024_MS * 1_000_000);
        let expected = [
            (second, Price(42283.58), Qty(0.001), Side::Sell),
            (second, Price(42283.59), Qty(0.015), Side::Buy),
            (
                Timestamp(second.nanos() + 1_250_000_000),
                Price(42284.0),
                Qty(0.5),
                Side::Buy,
            ),
        ];
        let found: Vec<_> = series
            .trades
            .iter()
            .map(|(ts, trade)| (*ts, trade.price, trade.qty, trade.aggressor))
            .collect();
        assert_eq!(found, expected);
        assert_eq!(series.len(), 3);
    }

    #[test]
    fn futures_trades_with_header_and_microseconds() {
        let ms = format!(
            "{TRADE_HEADER}1,100.5,2,201,1704067200123,true\n2,101,1,101,1704067200124,false\n"
        );
        let us = "1,100.5,2,201,1704067200123000,true\n2,101,1,101,1704067200124000,false\n";
        let (from_ms, _) = trades(&ms, OnInvalid::Error).unwrap();
        let (from_us, _) = trades(us, OnInvalid::Error).unwrap();
        assert_eq!(from_ms, from_us);
        assert_eq!(from_ms.trades[0].0.nanos(), (JAN_2024_MS + 123) * 1_000_000);
        assert_eq!(from_ms.trades[0].1.aggressor, Side::Sell);
        assert_eq!(from_ms.trades[1].1.aggressor, Side::Buy);
    }

    #[test]
    fn trade_problems_name_line_and_column() {
        let first = "1,100,1,100,1704067200000,true\n";
        let cases = [
            (
                "2,100,1,100,1704067199999,true",
                Some("time"),
                "is before the previous row's",
            ),
            (
                "2,-100,1,100,1704067200000,true",
                Some("price"),
                "price -100 is not positive",
            ),
            (
                "2,100,-1,100,1704067200000,true",
                Some("qty"),
                "quantity -1 is negative",
            ),
            (
                "2,100,1,100,1704067200000,yes",
                Some("is_buyer_maker"),
                "cannot parse \"yes\", expected true or false",
            ),
            (
                "2,100,1,100,1704067200000,",
                Some("is_buyer_maker"),
                "empty field, expected true or false",
            ),
            (
                "2,100,1,100,,true",
                Some("time"),
                "empty field, expected a Unix time",
            ),
            (
                "2,100,1,100,1704067200000",
                None,
                "expected 6 fields, found 5",
            ),
            (
                "2,100,1,100,1704067200000,true,true,x",
                None,
                "expected 7 fields, found 8",
            ),
        ];
        for (row, column, problem) in cases {
            let (found, message) = invalid(trades(&format!("{first}{row}\n"), OnInvalid::Error));
            assert_eq!(found.line, 2, "{message}");
            assert_eq!(found.column.as_deref(), column, "{message}");
            assert!(
                message.starts_with("BTCUSDT-trades-2024-01-01.csv: line 2"),
                "{message}"
            );
            assert!(message.contains(problem), "{message}");
        }
        let (series, report) = trades(
            &format!("{first}2,0,1,0,1704067200001,true\n3,100,1,100,1704067200002,true\n"),
            OnInvalid::Skip,
        )
        .unwrap();
        assert_eq!((series.len(), report.skipped), (2, 1));
    }

    #[test]
    fn files_on_disk() {
        let dir = std::env::temp_dir();
        let unique = format!("quant-binance-{}", std::process::id());
        let kline_path = dir.join(format!("{unique}-klines.csv"));
        let trade_path = dir.join(format!("{unique}-trades.csv"));
        std::fs::write(&kline_path, kline_rows(false)).unwrap();
        std::fs::write(&trade_path, "1,100,1,100,1704067200000,true\n").unwrap();
        let bars = read_klines(&kline_path, InstrumentId::new("BTCUSDT"), OnInvalid::Error);
        let ticks = read_trades(&trade_path, InstrumentId::new("BTCUSDT"), OnInvalid::Error);
        std::fs::remove_file(&kline_path).unwrap();
        std::fs::remove_file(&trade_path).unwrap();
        assert_eq!(bars.unwrap().0.bars, expected_bars());
        assert_eq!(ticks.unwrap().0.len(), 1);
        let missing = read_trades(&kline_path, InstrumentId::new("X"), OnInvalid::Skip);
        assert!(matches!(missing, Err(Error::Io { .. })));
    }

    #[test]
    fn trades_resample_to_bars() {
        let text = "1,100,1,100,1704067200000,true\n\
                    2,102,2,204,1704067230000,false\n\
                    3,99,1,99,1704067260000,true\n";
        let (series, _) = trades(text, OnInvalid::Error).unwrap();
        let bars = resample_trades(&series.trades, "1m".parse::<BarRule>().unwrap()).unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(
            (bars[0].open, bars[0].high, bars[0].close, bars[0].volume),
            (100.0, 102.0, 102.0, 3.0)
        );
        assert_eq!(
            bars[1].ts.nanos() - bars[0].ts.nanos(),
            60 * NANOS_PER_SECOND
        );
        assert_eq!(bars[0].ts.day(), JAN_2024_MS * 1_000_000 / NANOS_PER_DAY);
    }
}
