//! Text of the page: HTML escaping and the formatting of figures, numbers, dates and durations.
//!
//! Every figure goes through [`value`] (or a helper it uses), which prints "n/a" for a missing or
//! non-finite number, so NaN and infinity never reach the page whatever the data holds.

use crate::analysis::Unit;
pub(super) use crate::analysis::calendar::{civil_from_days, days_from_civil};

/// Nanoseconds in a day.
pub(super) const NS_PER_DAY: i64 = 86_400_000_000_000;
const NS_PER_MINUTE: i64 = 60_000_000_000;

/// Escapes the five HTML-significant characters, for text and attribute values alike.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Returns a figure as shown in tables: "n/a" when missing or not finite.
pub(super) fn value(v: Option<f64>, unit: Unit) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return "n/a".into();
    };
    match unit {
        Unit::Percent => percent(v, 2),
        Unit::Ratio => number(v, 3),
        Unit::Money => number(v, 2),
        Unit::Count => number(v.round(), 0),
        Unit::Duration => duration(v as i64),
        Unit::Date => date_time(v as i64),
    }
}

/// Returns the unit of a `summary.json` key (the sweep table's columns), `Ratio` when unknown.
pub(super) fn unit_of(key: &str) -> Unit {
    match key.trim_start_matches('-') {
        "total_return" | "cagr" | "annual_volatility" | "max_drawdown" | "var_95" | "cvar_95"
        | "win_rate" | "exposure" => Unit::Percent,
        "initial_cash" | "final_equity" | "expectancy" | "fees" => Unit::Money,
        "max_drawdown_duration" | "trades" | "open_trades" | "periods" => Unit::Count,
        _ => Unit::Ratio,
    }
}

/// Formats a fraction as a percentage with `decimals` places: 0.1234 -> "12.34%".
pub(super) fn percent(v: f64, decimals: usize) -> String {
    format!("{}%", number(v * 100.0, decimals))
}

/// Formats with `decimals` places and thousands separators, e.g. `-12,345.6`; never "-0".
/// From a quadrillion up, in scientific notation (`6.416e300`): digits beyond a double's 17 are
/// noise, and 300 of them break the page's layout.
pub(super) fn number(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v.abs() >= 1e15 {
        return format!("{v:.3e}");
    }
    let text = format!("{:.*}", decimals, v.abs());
    let (int, frac) = text.split_at(text.find('.').unwrap_or(text.len()));
    let negative = v < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0');
    let mut out = String::from(if negative { "-" } else { "" });
    for (k, digit) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out + frac
}

/// Formats a price or a quantity: enough decimals for its size (2 from 1,000 up, 4 from 10, 5
/// from 1 as for currency pairs, 6 below), trailing zeros dropped down to `min_decimals`.
pub(super) fn amount(v: f64, min_decimals: usize) -> String {
    let decimals = match v.abs() {
        a if a >= 1_000.0 => 2,
        a if a >= 10.0 => 4,
        a if a >= 1.0 => 5,
        _ => 6,
    }
    .max(min_decimals);
    let mut text = number(v, decimals);
    if text.contains('.') {
        let keep = text.find('.').map_or(0, |dot| dot + 1 + min_decimals);
        while text.len() > keep && text.ends_with('0') {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
    }
    text
}

/// Formats nanoseconds as days ("12 days", "2.5 days") or, under a day, hours and minutes.
pub(super) fn duration(ns: i64) -> String {
    let days = ns as f64 / NS_PER_DAY as f64;
    if days >= 10.0 {
        format!("{} days", number(days, 0))
    } else if days >= 1.0 {
        format!("{} days", number(days, 1))
    } else if ns >= 60 * NS_PER_MINUTE {
        let minutes = ns / NS_PER_MINUTE;
        format!("{}h {}m", minutes / 60, minutes % 60)
    } else if ns >= NS_PER_MINUTE {
        format!("{}m", ns / NS_PER_MINUTE)
    } else {
        format!("{}s", ns.max(0) / 1_000_000_000)
    }
}

/// Formats UTC nanoseconds as `YYYY-MM-DD`.
pub(super) fn date(ns: i64) -> String {
    let (y, m, d) = civil_from_days(ns.div_euclid(NS_PER_DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Formats UTC nanoseconds as `YYYY-MM-DD`, plus `HH:MM` when not at midnight.
pub(super) fn date_time(ns: i64) -> String {
    if ns.rem_euclid(NS_PER_DAY) == 0 {
        date(ns)
    } else {
        format!("{} {}", date(ns), clock(ns))
    }
}

/// Formats the time of day of UTC nanoseconds as `HH:MM`.
pub(super) fn clock(ns: i64) -> String {
    let minutes = ns.rem_euclid(NS_PER_DAY) / NS_PER_MINUTE;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Three-letter month names, January first.
pub(super) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = NS_PER_DAY;

    #[test]
    fn figures_follow_their_unit() {
        assert_eq!(value(Some(0.123_456), Unit::Percent), "12.35%");
        assert_eq!(value(Some(-0.5), Unit::Percent), "-50.00%");
        assert_eq!(value(Some(1.234_56), Unit::Ratio), "1.235");
        assert_eq!(value(Some(-1_234_567.891), Unit::Money), "-1,234,567.89");
        assert_eq!(value(Some(63_341.191_36), Unit::Money), "63,341.19");
        assert_eq!(value(Some(12_345.4), Unit::Count), "12,345");
        assert_eq!(value(Some(3.0 * DAY as f64), Unit::Duration), "3.0 days");
        assert_eq!(
            value(Some(1_362_096_000e9), Unit::Date),
            "2013-03-01",
            "midnight shows the date only"
        );
        assert_eq!(
            value(Some(1_362_096_000e9 + 5_400e9), Unit::Date),
            "2013-03-01 01:30"
        );
        for unit in [Unit::Percent, Unit::Ratio, Unit::Money, Unit::Date] {
            assert_eq!(value(None, unit), "n/a");
            assert_eq!(value(Some(f64::NAN), unit), "n/a");
            assert_eq!(value(Some(f64::INFINITY), unit), "n/a");
        }
    }

    #[test]
    fn numbers_have_separators_and_no_negative_zero() {
        assert_eq!(number(-1_234_567.891, 1), "-1,234,567.9");
        assert_eq!(number(-0.004, 2), "0.00");
        assert_eq!(number(999.0, 0), "999");
        assert_eq!(number(1_000.0, 0), "1,000");
        assert_eq!(percent(-0.000_01, 2), "0.00%");
        assert_eq!(amount(1.083_450, 2), "1.08345");
        assert_eq!(amount(150.25, 2), "150.25");
        assert_eq!(amount(12.0, 0), "12");
        assert_eq!(amount(0.000_123_4, 0), "0.000123");
        assert_eq!(amount(52_345.678, 2), "52,345.68");
    }

    #[test]
    fn durations_use_days_or_hours_and_minutes() {
        let (m, h) = (60_000_000_000, 3_600_000_000_000);
        assert_eq!(duration(45 * DAY), "45 days");
        assert_eq!(duration(1_234 * DAY), "1,234 days");
        assert_eq!(duration(DAY + DAY / 2), "1.5 days");
        assert_eq!(duration(5 * h + 30 * m), "5h 30m");
        assert_eq!(duration(12 * m), "12m");
        assert_eq!(duration(30_000_000_000), "30s");
    }

    #[test]
    fn dates_round_trip_the_calendar() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(date(951_782_400 * 1_000_000_000), "2000-02-29");
        assert_eq!(
            date_time(DAY + 9 * 3_600_000_000_000 + 5 * 60_000_000_000),
            "1970-01-02 09:05"
        );
        for days in [-800_000, -1, 0, 59, 11_016, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a&<>\"'z"), "a&amp;&lt;&gt;&quot;&#39;z");
    }

    #[test]
    fn sweep_columns_get_units() {
        assert_eq!(unit_of("sharpe"), Unit::Ratio);
        assert_eq!(unit_of("-max_drawdown"), Unit::Percent);
        assert_eq!(unit_of("final_equity"), Unit::Money);
        assert_eq!(unit_of("trades"), Unit::Count);
    }
}
