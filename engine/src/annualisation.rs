//! How many periods make a year of a run's bars, and why.
//!
//! Sharpe and volatility scale with sqrt(periods per year), so daily crypto bars annualised as
//! exchange sessions (252) would understate both by sqrt(365 / 252). The timestamps say which
//! market the bars come from: exchange sessions leave weekends empty, a 24/7 market does not.
//! The reason is kept as text so the terminal and `summary.json` can say which count was used.

use serde::Serialize;
use std::collections::BTreeMap;

const HOUR: i64 = 3_600_000_000_000;
const DAY: i64 = 24 * HOUR;
use crate::column::{Column, PIECE};
use crate::selection::select;
use market_data::Timestamp;
use market_data::calendar::{ALL_WEEK_SHARE, on_weekend};

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
///
/// Read in passes over the column, in memory that does not grow with it: one counts the
/// spacings, the days and the weekend bars; the medians are exact selections
/// (`crate::selection`) over the spacings and the bars per day, derived as they are read.
pub fn annualisation(timestamps_ns: &(impl Column<i64> + ?Sized)) -> Annualisation {
    let stamps = Stamps::count(timestamps_ns);
    let spacing = median(&Spacings(timestamps_ns, stamps.spacings));
    decide(spacing, stamps.weekend_share(), || {
        median(&BarsPerDay(timestamps_ns, stamps.days))
    })
}

/// The rule of [`annualisation`], from the median spacing (ns, `NaN` for none), the share of
/// bars on weekends and the median bars per UTC day (asked for only when the bars are shorter
/// than a day).
fn decide(spacing: f64, weekend: f64, bars_per_day: impl FnOnce() -> f64) -> Annualisation {
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
    let bars_per_day = bars_per_day();
    Annualisation {
        periods_per_year: days * bars_per_day,
        reason: format!("{days} days x {bars_per_day} bars a day (median), {market} ({share})"),
    }
}

/// [`annualisation`] of timestamps handed over as they come (a run's, chunk by chunk, while it
/// runs), in one pass and no reading back: the spacings and the bars per day are counted by
/// value, of which a run's bars have few. Past [`MAX_DISTINCT`] distinct values of either it
/// gives up (irregular ticks), and the passes over the timestamps decide.
#[derive(Debug, Clone)]
pub struct StampTally {
    all: usize,
    weekend: usize,
    previous: Option<i64>,
    /// The stamps being run through on one UTC day: the day's first and last nanosecond (an
    /// empty range before the first stamp), their number so far, and whether the day is a
    /// Saturday or Sunday.
    day: (i64, i64),
    bars: usize,
    weekend_day: bool,
    spacings: Counts,
    bars_per_day: Counts,
}

impl Default for StampTally {
    fn default() -> Self {
        Self {
            all: 0,
            weekend: 0,
            previous: None,
            day: (1, 0),
            bars: 0,
            weekend_day: false,
            spacings: Counts::default(),
            bars_per_day: Counts::default(),
        }
    }
}

/// Distinct spacings or bars-per-day counts a [`StampTally`] keeps before it gives up.
const MAX_DISTINCT: usize = 4_096;

/// Values counted by value, the latest run of one value held apart (a run's spacings are
/// nearly all the same). `None` once past [`MAX_DISTINCT`] values.
#[derive(Debug, Clone)]
struct Counts {
    counts: Option<BTreeMap<i64, usize>>,
    pending: (i64, usize),
    total: usize,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            counts: Some(BTreeMap::new()),
            pending: (0, 0),
            total: 0,
        }
    }
}

impl Counts {
    fn add(&mut self, value: i64) {
        self.total += 1;
        if self.pending.0 == value {
            self.pending.1 += 1;
        } else {
            self.settle();
            self.pending = (value, 1);
        }
    }

    /// Moves the pending run into the counts.
    fn settle(&mut self) {
        let (value, n) = std::mem::take(&mut self.pending);
        if n == 0 {
            return;
        }
        if let Some(counts) = &mut self.counts {
            *counts.entry(value).or_default() += n;
            if counts.len() > MAX_DISTINCT {
                self.counts = None;
            }
        }
    }

    /// The median as [`median`] selects it (`NaN` for none), or `None` when given up.
    fn median(mut self) -> Option<f64> {
        self.settle();
        let counts = self.counts?;
        let at = |rank: usize| {
            let mut seen = 0;
            for (&value, &n) in &counts {
                seen += n;
                if rank < seen {
                    return value as f64;
                }
            }
            f64::NAN
        };
        Some(middle(self.total, |ranks| {
            ranks.iter().map(|&r| at(r)).collect()
        }))
    }
}

impl StampTally {
    /// Takes the next stamps (UTC ns).
    pub fn push(&mut self, stamps: &[Timestamp]) {
        for &Timestamp(t) in stamps {
            self.all += 1;
            if let Some(p) = self.previous {
                let d = t.saturating_sub(p);
                if d > 0 {
                    self.spacings.add(d);
                }
            }
            self.previous = Some(t);
            // Most stamps fall on the day of the one before: two comparisons, no division.
            if (self.day.0..=self.day.1).contains(&t) {
                self.bars += 1;
            } else {
                self.end_run();
                self.start_run(t);
            }
        }
    }

    /// Counts the run of stamps on one day that ended, if any.
    fn end_run(&mut self) {
        if self.bars > 0 {
            self.bars_per_day.add(self.bars as i64);
            if self.weekend_day {
                self.weekend += self.bars;
            }
        }
    }

    /// Starts a run of stamps on the UTC day of `t`.
    fn start_run(&mut self, t: i64) {
        let first = i128::from(t.div_euclid(DAY)) * i128::from(DAY);
        // The first and last days of the range hold only their part of it.
        let within = |x: i128| i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX });
        self.day = (within(first), within(first + i128::from(DAY) - 1));
        self.bars = 1;
        self.weekend_day = on_weekend(Timestamp(t));
    }

    /// Returns the annualisation of the stamps taken, as [`annualisation`] gives it, or `None`
    /// when they had too many distinct spacings or day lengths to count.
    pub fn finish(mut self) -> Option<Annualisation> {
        self.end_run();
        let spacing = self.spacings.median()?;
        let weekend = share(self.weekend, self.all);
        let bars_per_day = self.bars_per_day.median()?;
        Some(decide(spacing, weekend, || bars_per_day))
    }
}

/// Returns [`annualisation`]'s periods per year.
pub fn infer_periods_per_year(timestamps_ns: &(impl Column<i64> + ?Sized)) -> f64 {
    annualisation(timestamps_ns).periods_per_year
}

/// What one pass over the timestamps counts.
struct Stamps {
    all: usize,
    weekend: usize,
    /// Increasing steps: the values of [`Spacings`].
    spacings: usize,
    /// Runs of stamps on one UTC day: the values of [`BarsPerDay`].
    days: usize,
}

impl Stamps {
    fn count(timestamps_ns: &(impl Column<i64> + ?Sized)) -> Self {
        let mut stamps = Self {
            all: 0,
            weekend: 0,
            spacings: 0,
            days: 0,
        };
        let mut previous: Option<i64> = None;
        Column::each(&timestamps_ns, |t| {
            stamps.all += 1;
            stamps.weekend += usize::from(on_weekend(Timestamp(t)));
            match previous {
                Some(p) => {
                    stamps.spacings += usize::from(t.saturating_sub(p) > 0);
                    stamps.days += usize::from(p.div_euclid(DAY) != t.div_euclid(DAY));
                }
                None => stamps.days = 1,
            }
            previous = Some(t);
        });
        stamps
    }

    /// As [`market_data::calendar::weekend_share`] of the same stamps.
    fn weekend_share(&self) -> f64 {
        share(self.weekend, self.all)
    }
}

/// The increasing steps between consecutive stamps, in ns (repeated stamps carry no spacing,
/// so only increasing steps vote), with their number.
struct Spacings<'a, C: ?Sized>(&'a C, usize);

impl<C: Column<i64> + ?Sized> Column<f64> for Spacings<'_, C> {
    fn len(&self) -> usize {
        self.1
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[f64])) {
        let mut previous: Option<i64> = None;
        let mut buf = Vec::new();
        self.0.chunks(&mut |chunk| {
            buf.clear();
            for &t in chunk {
                if let Some(p) = previous {
                    let d = t.saturating_sub(p);
                    if d > 0 {
                        buf.push(d as f64);
                        if buf.len() == PIECE {
                            visit(&buf);
                            buf.clear();
                        }
                    }
                }
                previous = Some(t);
            }
            if !buf.is_empty() {
                visit(&buf);
            }
        });
    }
}

/// The number of consecutive stamps on each UTC calendar day, with the number of days; a day's
/// run may span chunks.
struct BarsPerDay<'a, C: ?Sized>(&'a C, usize);

impl<C: Column<i64> + ?Sized> Column<f64> for BarsPerDay<'_, C> {
    fn len(&self) -> usize {
        self.1
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[f64])) {
        let mut run: Option<(i64, usize)> = None;
        let mut buf = Vec::new();
        self.0.chunks(&mut |chunk| {
            buf.clear();
            for &t in chunk {
                let day = t.div_euclid(DAY);
                run = match run {
                    Some((d, bars)) if d == day => Some((d, bars + 1)),
                    Some((_, bars)) => {
                        buf.push(bars as f64);
                        if buf.len() == PIECE {
                            visit(&buf);
                            buf.clear();
                        }
                        Some((day, 1))
                    }
                    None => Some((day, 1)),
                };
            }
            if !buf.is_empty() {
                visit(&buf);
            }
        });
        if let Some((_, bars)) = run {
            visit(&[bars as f64]);
        }
    }
}

/// The share of `all` stamps that `weekend` are (0 for none).
fn share(weekend: usize, all: usize) -> f64 {
    if all == 0 {
        0.0
    } else {
        weekend as f64 / all as f64
    }
}

/// The median of a column (`NaN` for none), selected exactly.
fn median(values: &(impl Column<f64> + ?Sized)) -> f64 {
    middle(values.len(), |ranks| select(values, ranks))
}

/// The median of `n` values whose values at given ranks `at` returns: the middle value, or the
/// mean of the middle two (`NaN` for none).
fn middle(n: usize, at: impl FnOnce(&[usize]) -> Vec<f64>) -> f64 {
    match n {
        0 => f64::NAN,
        n if n % 2 == 1 => at(&[n / 2])[0],
        n => {
            let two = at(&[n / 2 - 1, n / 2]);
            (two[0] + two[1]) / 2.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::Chunked;
    use market_data::calendar::weekend_share;
    use proptest::prelude::*;

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

    /// The annualisation as a sort computes it, the medians of sorted copies in memory.
    fn sorted_reference(stamps: &[i64]) -> (f64, String) {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            match v.len() {
                0 => f64::NAN,
                n if n % 2 == 1 => v[n / 2],
                n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            }
        };
        let spacing = median(
            stamps
                .windows(2)
                .map(|w| w[1].saturating_sub(w[0]))
                .filter(|&d| d > 0)
                .map(|d| d as f64)
                .collect(),
        );
        if spacing.is_nan() {
            return (252.0, "fewer than two distinct timestamps".into());
        }
        if spacing >= (5 * DAY) as f64 {
            let monthly = spacing >= (20 * DAY) as f64;
            return if monthly {
                (12.0, "monthly bars".into())
            } else {
                (52.0, "weekly bars".into())
            };
        }
        let weekend = weekend_share(stamps.iter().map(|&t| Timestamp(t)));
        let days = if weekend >= ALL_WEEK_SHARE {
            365.0
        } else {
            252.0
        };
        if spacing >= (20 * HOUR) as f64 {
            return (days, format!("{:.1}% of bars on weekends", weekend * 100.0));
        }
        let per_day = median(
            stamps
                .chunk_by(|a, b| a.div_euclid(DAY) == b.div_euclid(DAY))
                .map(|bars| bars.len() as f64)
                .collect(),
        );
        (
            days * per_day,
            format!("{days} days x {per_day} bars a day"),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn chunked_timestamps_annualise_as_the_sorted_medians_say(
            steps in prop::collection::vec(
                prop_oneof![
                    8 => Just(60_000_000_000i64),
                    2 => Just(0i64),
                    2 => Just(3_600_000_000_000i64),
                    1 => Just(DAY_NS),
                    1 => 0..3 * DAY_NS,
                    1 => Just(-60_000_000_000i64),
                ],
                0..600,
            ),
            scale in prop::sample::select(vec![1i64, 60, 1_440, 10_080]),
        ) {
            let stamps: Vec<i64> = steps
                .iter()
                .scan(MONDAY_NS, |t, s| {
                    *t += s * scale / 60;
                    Some(*t)
                })
                .collect();
            let (periods, reason) = sorted_reference(&stamps);
            for size in [1, 7, 64, stamps.len().max(1)] {
                let a = annualisation(&Chunked(stamps.clone(), size));
                prop_assert!(
                    a.periods_per_year.to_bits() == periods.to_bits(),
                    "chunks of {}: {} vs {} ({})", size, a.periods_per_year, periods, a.reason
                );
                prop_assert!(a.reason.contains(&reason), "{} vs {}", a.reason, reason);
                // Tallied as the stamps are handed over, the same in one pass.
                let tallied = tally(&stamps, size).expect("few distinct spacings");
                prop_assert_eq!(tallied.periods_per_year.to_bits(), periods.to_bits());
                prop_assert_eq!(&tallied.reason, &a.reason);
            }
        }
    }

    #[test]
    fn a_long_minute_series_in_chunks_annualises_as_in_memory() {
        // 400 weekdays of 390 one-minute bars: more spacings than one selection pass gathers.
        let stamps = intraday(400, 390, 870);
        assert!(stamps.len() > 150_000);
        let chunked = annualisation(&Chunked(stamps.clone(), 65_536));
        assert_eq!(chunked.periods_per_year, 98_280.0);
        assert_eq!(chunked, annualisation(&stamps));
        assert_eq!(tally(&stamps, 65_536), Some(chunked));
    }

    /// [`StampTally`]'s annualisation of `stamps` handed over `size` at a time.
    fn tally(stamps: &[i64], size: usize) -> Option<Annualisation> {
        let mut tally = StampTally::default();
        for part in stamps.chunks(size) {
            tally.push(&part.iter().map(|&t| Timestamp(t)).collect::<Vec<_>>());
        }
        tally.finish()
    }

    #[test]
    fn a_tally_of_too_many_distinct_spacings_leaves_the_stamps_to_be_read() {
        // Irregular ticks: every spacing differs.
        let ticks: Vec<i64> = (0..MAX_DISTINCT as i64 + 2)
            .scan(MONDAY_NS, |t, k| {
                *t += 1_000 + k;
                Some(*t)
            })
            .collect();
        assert_eq!(tally(&ticks, 1_000), None);
        assert_eq!(
            tally(&ticks[..MAX_DISTINCT], 1_000),
            Some(annualisation(&ticks[..MAX_DISTINCT]))
        );
        assert_eq!(tally(&[], 1), Some(annualisation(&[])));
    }

    #[test]
    fn a_tally_of_stamps_at_the_ends_of_time_counts_their_days_as_the_passes_do() {
        let hour = DAY_NS / 24;
        let ends = [
            i64::MIN,
            i64::MIN + 1,
            i64::MIN + hour,
            i64::MIN + DAY_NS,
            i64::MAX - DAY_NS,
            i64::MAX - hour,
            i64::MAX - 1,
            i64::MAX,
        ];
        for size in [1, 3, ends.len()] {
            assert_eq!(tally(&ends, size), Some(annualisation(&ends)));
        }
    }
}
