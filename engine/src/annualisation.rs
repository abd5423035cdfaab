//! How many periods make a year of a run's bars, and why.
//!
//! Sharpe and volatility scale with sqrt(periods per year), so daily crypto bars annualised as
//! exchange sessions (252) would understate both by sqrt(365 / 252). The timestamps say which
//! market the bars come from: exchange sessions leave weekends empty, a 24/7 market does not.
//! The reason is kept as text so the terminal and `summary.json` can say which count was used.

use serde::Serialize;

const HOUR: i64 = 3_600_000_000_000;
const DAY: i64 = 24 * HOUR;
use market_data::Timestamp;
use market_data::calendar::{ALL_WEEK_SHARE, weekend_share};

/// The annualisation of a run: periods per year and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annualisation {
    /// Periods (bars) per year.
    pub periods_per_year: f64,
    /// Why, e.g. "daily bars on every day of the week (28.6% on weekends)".
    pub reason: String,
}

impl Annualisation {
    /// Returns the annualisation set in the config.
    pub fn configured(periods_per_year: f64) -> Self {
        Self {
            periods_per_year,
            reason: "set by [metrics] periods_per_year".to_string(),
        }
    }

    /// Returns "annualised with N periods: reason", the line printed at the end of a run.
    pub fn describe(&self) -> String {
        format!(
            "annualised with {} periods: {}",
            self.periods_per_year, self.reason
        )
    }
}

/// Returns the bars per year implied by the median spacing of `timestamps_ns` (UTC ns,
/// ascending) and by whether the bars cover weekends.
///
/// A median spacing of at least 20 days means monthly bars (12), at least 5 days weekly (52), at
/// least 20 hours daily: 365 when at least 1/7 of the bars fall on a Saturday or Sunday (a 24/7
/// market), else 252 (exchange sessions). Shorter bars give 365 or 252 times the median number of
/// bars per UTC calendar day. Medians shrug off holidays and gaps in the data.
/// Fewer than 2 timestamps (or no increasing pair) gives 252.
pub fn annualisation(timestamps_ns: &[i64]) -> Annualisation {
    // Repeated stamps carry no spacing, so only increasing steps vote.
    let steps: Vec<f64> = timestamps_ns
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .filter(|&d| d > 0)
        .map(|d| d as f64)
        .collect();
    let spacing = median(&steps);
    let fixed = |periods_per_year: f64, reason: &str| Annualisation {
        periods_per_year,
        reason: reason.to_string(),
    };
    if spacing.is_nan() {
        return fixed(252.0, "fewer than two distinct timestamps (252 by default)");
    }
    if spacing >= (20 * DAY) as f64 {
        return fixed(12.0, "monthly bars");
    }
    if spacing >= (5 * DAY) as f64 {
        return fixed(52.0, "weekly bars");
    }
    let weekend = weekend_share(timestamps_ns.iter().map(|&t| Timestamp(t)));
    let all_week = weekend >= ALL_WEEK_SHARE;
    let (days, market) = if all_week {
        (365.0, "on every day of the week")
    } else {
        (252.0, "on exchange sessions")
    };
    let share = format!("{:.1}% of bars on weekends", weekend * 100.0);
    if spacing >= (20 * HOUR) as f64 {
        return Annualisation {
            periods_per_year: days,
            reason: format!("daily bars {market} ({share})"),
        };
    }
    let per_day: Vec<f64> = timestamps_ns
        .chunk_by(|a, b| a.div_euclid(DAY) == b.div_euclid(DAY))
        .map(|bars| bars.len() as f64)
        .collect();
    let bars_per_day = median(&per_day);
    Annualisation {
        periods_per_year: days * bars_per_day,
        reason: format!("{days} days x {bars_per_day} bars a day (median), {market} ({share})"),
    }
}

/// Returns [`annualisation`]'s periods per year.
pub fn infer_periods_per_year(timestamps_ns: &[i64]) -> f64 {
    annualisation(timestamps_ns).periods_per_year
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_NS: i64 = 86_400_000_000_000;
    // 2020-01-06, a Monday, 00:00 UTC.
    const MONDAY_NS: i64 = 1_578_268_800 * 1_000_000_000;

    /// Stamps of `per_day` bars one minute apart from `start_minute` on `days` weekdays.
    fn intraday(days: i64, per_day: i64, start_minute: i64) -> Vec<i64> {
        (0..days + days / 5 * 2)
            .filter(|d| d % 7 < 5)
            .flat_map(|d| {
                (0..per_day)
                    .map(move |m| MONDAY_NS + d * DAY_NS + (start_minute + m) * 60_000_000_000)
            })
            .collect()
    }

    #[test]
    fn infers_bar_frequency() {
        // Weekdays only: the weekend gaps do not move the median spacing.
        let daily: Vec<i64> = (0..400)
            .filter(|d| d % 7 < 5)
            .map(|d| MONDAY_NS + d * DAY_NS)
            .collect();
        assert_eq!(infer_periods_per_year(&daily), 252.0);
        assert_eq!(infer_periods_per_year(&intraday(10, 390, 870)), 98_280.0);
        assert_eq!(infer_periods_per_year(&intraday(5, 1440, 0)), 362_880.0);
        let weekly: Vec<i64> = (0..60).map(|w| MONDAY_NS + w * 7 * DAY_NS).collect();
        assert_eq!(infer_periods_per_year(&weekly), 52.0);
        let month_lengths = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let monthly: Vec<i64> = month_lengths
            .iter()
            .scan(MONDAY_NS, |t, days| {
                *t += days * DAY_NS;
                Some(*t)
            })
            .collect();
        assert_eq!(infer_periods_per_year(&monthly), 12.0);
        assert_eq!(infer_periods_per_year(&[]), 252.0);
        assert_eq!(infer_periods_per_year(&[MONDAY_NS]), 252.0);
        assert_eq!(infer_periods_per_year(&[MONDAY_NS, MONDAY_NS]), 252.0);
    }

    #[test]
    fn bars_on_every_day_of_the_week_are_a_24_7_market() {
        // 70 consecutive days from a Monday: 20 of 70 on a weekend (2/7).
        let daily: Vec<i64> = (0..70).map(|d| MONDAY_NS + d * DAY_NS).collect();
        let a = annualisation(&daily);
        assert_eq!(a.periods_per_year, 365.0);
        assert_eq!(
            a.describe(),
            "annualised with 365 periods: daily bars on every day of the week \
             (28.6% of bars on weekends)"
        );
        // Hourly bars around the clock: 365 x 24.
        let hourly: Vec<i64> = (0..24 * 28)
            .map(|h| MONDAY_NS + h * 3_600 * 1_000_000_000)
            .collect();
        assert_eq!(infer_periods_per_year(&hourly), 8_760.0);
        // Weekday sessions plus a Sunday-evening reopening (futures): 2 of 117 hourly bars a
        // week on a weekend stay exchange sessions.
        let mut futures = Vec::new();
        for week in 0..8 {
            let sunday = MONDAY_NS + (week * 7 - 1) * DAY_NS;
            futures.extend([22, 23].map(|h| sunday + h * 3_600 * 1_000_000_000));
            for d in 0..5 {
                let day = MONDAY_NS + (week * 7 + d) * DAY_NS;
                futures.extend((0..23).map(|h| day + h * 3_600 * 1_000_000_000));
            }
        }
        let a = annualisation(&futures);
        assert_eq!(a.periods_per_year, 252.0 * 23.0, "{}", a.reason);
        assert!(a.reason.contains("exchange sessions"), "{}", a.reason);
        assert_eq!(
            Annualisation::configured(365.0).describe(),
            "annualised with 365 periods: set by [metrics] periods_per_year"
        );
    }
}
