//! Axes of a chart: how data maps to a fraction of the plot and where the ticks go: calendar
//! ticks on time axes (years down to minutes, chosen by span), 1-2-5 ticks on value axes (also
//! per decade on log axes), one label per category band.

use super::format::{
    MONTHS, NS_PER_DAY, civil_from_days, clock, date, days_from_civil, number, percent,
};
use engine::column::FiniteRange;

/// How tick labels of a value axis are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fmt {
    /// Plain numbers with thousands separators.
    Number,
    /// Fractions as percentages.
    Percent,
}

impl Fmt {
    fn label(self, v: f64, decimals_of: f64) -> String {
        match self {
            Self::Number => number(v, decimals_for(decimals_of)),
            Self::Percent => percent(v, decimals_for(decimals_of * 100.0)),
        }
    }
}

/// One axis of a plot: maps data to a fraction of the plot's extent and names its ticks.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Axis {
    /// UTC nanoseconds; ticks on calendar boundaries.
    Time {
        /// Earliest instant shown.
        lo: i64,
        /// Latest instant shown.
        hi: i64,
    },
    /// Numbers; ticks at multiples of a 1-2-5 step, or at 1-2-5 decades on a log scale.
    Value {
        /// Lowest value shown.
        lo: f64,
        /// Highest value shown.
        hi: f64,
        /// Distance between linear ticks.
        step: f64,
        /// How ticks are labelled.
        fmt: Fmt,
        /// Logarithmic scale (values must be positive).
        log: bool,
    },
    /// Evenly spaced categories; data coordinate `i` is the centre of band `i`.
    Bands(Vec<String>),
}

impl Axis {
    /// Returns a time axis spanning `ts`, or `None` without any.
    pub(super) fn time(ts: impl IntoIterator<Item = i64>) -> Option<Self> {
        let (lo, hi) = ts.into_iter().fold(None, |acc, t| match acc {
            None => Some((t, t)),
            Some((lo, hi)) => Some((t.min(lo), t.max(hi))),
        })?;
        // A single instant gets half a day either side, so it lands mid-chart with a date tick.
        Some(if lo == hi {
            Self::Time {
                lo: lo - NS_PER_DAY / 2,
                hi: hi + NS_PER_DAY / 2,
            }
        } else {
            Self::Time { lo, hi }
        })
    }

    /// Returns a linear axis over the finite `values` (and 0 when `zero`), widened to whole
    /// ticks, or `None` without any finite value.
    pub(super) fn value(
        values: impl IntoIterator<Item = f64>,
        fmt: Fmt,
        zero: bool,
    ) -> Option<Self> {
        let (mut lo, mut hi) = min_max(values)?;
        if zero {
            (lo, hi) = (lo.min(0.0), hi.max(0.0));
        }
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            // A constant series still needs a range; a small one keeps it centred.
            let pad = (lo.abs() * 0.05).max(if fmt == Fmt::Percent { 0.01 } else { 1.0 });
            (lo, hi) = (lo - pad, hi + pad);
        }
        let (lo, hi, step) = nice_scale(lo, hi);
        Some(Self::Value {
            lo,
            hi,
            step,
            fmt,
            log: false,
        })
    }

    /// Returns a log axis over the positive finite `values`, or `None` without any.
    pub(super) fn log(values: impl IntoIterator<Item = f64>, fmt: Fmt) -> Option<Self> {
        let (lo, hi) = min_max(values.into_iter().filter(|v| *v > 0.0))?;
        // A little room above and below (in log space) so the extremes do not touch the frame.
        let pad = ((hi / lo).ln() * 0.04).max(0.02).exp();
        Some(Self::Value {
            lo: lo / pad,
            hi: hi * pad,
            step: 0.0,
            fmt,
            log: true,
        })
    }

    /// Returns the fraction (0..=1) of the axis at data coordinate `v`; NaN when it has none.
    pub(super) fn frac(&self, v: f64) -> f64 {
        match self {
            Self::Time { lo, hi } => (v - *lo as f64) / (hi - lo) as f64,
            Self::Value { lo, hi, log, .. } if *log => (v / lo).ln() / (hi / lo).ln(),
            Self::Value { lo, hi, .. } => (v - lo) / (hi - lo),
            Self::Bands(names) => (v + 0.5) / names.len().max(1) as f64,
        }
    }

    /// Returns the ticks: data coordinate and label, at most about `max_labels` of them.
    pub(super) fn ticks(&self, max_labels: usize) -> Vec<(f64, String)> {
        match self {
            Self::Time { lo, hi } => time_ticks(*lo, *hi),
            Self::Value {
                lo,
                hi,
                fmt,
                log: true,
                ..
            } => {
                let ticks = log_ticks(*lo, *hi);
                let smallest = ticks.first().copied().unwrap_or(1.0);
                ticks
                    .into_iter()
                    .map(|v| (v, fmt.label(v, smallest)))
                    .collect()
            }
            Self::Value {
                lo, hi, step, fmt, ..
            } => {
                let (first, last) = ((lo / step).round() as i64, (hi / step).round() as i64);
                (first..=last)
                    .map(|k| k as f64 * step)
                    .map(|v| (v, fmt.label(v, *step)))
                    .collect()
            }
            Self::Bands(names) => {
                let every = names.len().div_ceil(max_labels.max(1)).max(1);
                names
                    .iter()
                    .enumerate()
                    .step_by(every)
                    .map(|(i, name)| (i as f64, name.clone()))
                    .collect()
            }
        }
    }

    pub(super) fn bands(&self) -> usize {
        match self {
            Self::Bands(names) => names.len(),
            _ => 0,
        }
    }
}

/// Returns the (min, max) of the finite values, or `None` without any.
pub(super) fn min_max(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().collect::<FiniteRange>().bounds()
}

/// Returns a domain widened to whole steps of a 1-2-5 step giving about five intervals, and the
/// step.
fn nice_scale(lo: f64, hi: f64) -> (f64, f64, f64) {
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = magnitude
        * match raw / magnitude {
            f if f < 1.5 => 1.0,
            f if f < 3.0 => 2.0,
            f if f < 7.0 => 5.0,
            _ => 10.0,
        };
    let (first, last) = ((lo / step).floor(), (hi / step).ceil());
    (first * step, last * step, step)
}

/// Decimals needed to tell ticks `step` apart.
fn decimals_for(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) || step >= 1.0 {
        0
    } else {
        (-step.log10() - 1e-9).ceil() as usize
    }
}

/// Returns log-axis ticks within [lo, hi]: 1-2-5 (or sparser) per decade, or linear ticks when
/// the range is too narrow to hold three of those.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let within = |mults: &[f64]| -> Vec<f64> {
        (a..=b)
            .flat_map(|e| mults.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let fine = within(&[1.0, 2.0, 5.0]);
    if fine.len() < 3 {
        let (lo2, hi2, step) = nice_scale(lo, hi);
        let n = ((hi2 - lo2) / step).round() as i64;
        return (0..=n)
            .map(|k| lo2 + k as f64 * step)
            .filter(|v| (lo..=hi).contains(v))
            .collect();
    }
    for ticks in [fine, within(&[1.0, 3.0]), within(&[1.0])] {
        if ticks.len() <= 8 {
            return ticks;
        }
    }
    let decades = within(&[1.0]);
    let every = decades.len().div_ceil(8);
    decades.into_iter().step_by(every).collect()
}

/// Returns date ticks between `lo` and `hi` (UTC ns) at the first calendar step of a ladder
/// (minutes to decades) giving at most eight, labelled at that step's precision.
fn time_ticks(lo: i64, hi: i64) -> Vec<(f64, String)> {
    const MINUTE: i64 = 60_000_000_000;
    const HOUR: i64 = 60 * MINUTE;
    const FIXED: [i64; 12] = [
        MINUTE,
        5 * MINUTE,
        15 * MINUTE,
        30 * MINUTE,
        HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        NS_PER_DAY,
        2 * NS_PER_DAY,
        7 * NS_PER_DAY,
        14 * NS_PER_DAY,
    ];
    const MONTHS_STEPS: [i64; 10] = [1, 3, 6, 12, 24, 60, 120, 240, 600, 1200];
    let span = hi - lo;
    if let Some(&step) = FIXED.iter().find(|&&s| span / s <= 8) {
        // Weeks start on Mondays: the epoch was a Thursday, four days after one.
        let offset = if step % (7 * NS_PER_DAY) == 0 {
            4 * NS_PER_DAY
        } else {
            0
        };
        let first = (lo - offset).div_euclid(step) * step + offset;
        let first = if first < lo { first + step } else { first };
        return (0..)
            .map(|k| first + k * step)
            .take_while(|t| *t <= hi)
            .map(|t| {
                let label = if step >= NS_PER_DAY {
                    date(t)
                } else if span > NS_PER_DAY {
                    format!("{} {}", &date(t)[5..], clock(t))
                } else {
                    clock(t)
                };
                (t as f64, label)
            })
            .collect();
    }
    let month_ns = 30 * NS_PER_DAY + NS_PER_DAY / 2;
    let step = MONTHS_STEPS
        .iter()
        .copied()
        // Year labels are short, so a decade still gets one per year.
        .find(|s| span / (s * month_ns) <= if *s >= 12 { 11 } else { 7 })
        .unwrap_or(1200);
    let (y, m, _) = civil_from_days(lo.div_euclid(NS_PER_DAY));
    let mut index = y * 12 + i64::from(m) - 1;
    let mut ticks = Vec::new();
    loop {
        let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
        let t = days_from_civil(year, month, 1).saturating_mul(NS_PER_DAY);
        if t > hi {
            break;
        }
        if t >= lo && index.rem_euclid(step) == 0 {
            let label = if step >= 12 {
                year.to_string()
            } else {
                format!("{} {year}", MONTHS[month as usize - 1])
            };
            ticks.push((t as f64, label));
        }
        index += 1;
    }
    ticks
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = NS_PER_DAY;

    fn labels(lo: i64, hi: i64) -> Vec<String> {
        time_ticks(lo, hi).into_iter().map(|t| t.1).collect()
    }

    #[test]
    fn time_ticks_follow_the_span() {
        let jan_2004 = days_from_civil(2004, 1, 1) * DAY;
        let ten_years = labels(jan_2004 + 200 * DAY, jan_2004 + 3_300 * DAY);
        assert_eq!(ten_years.first().map(String::as_str), Some("2005"));
        assert!(ten_years.len() <= 12 && ten_years.iter().all(|l| l.len() == 4));
        let months = labels(jan_2004, jan_2004 + 200 * DAY);
        assert_eq!(months.first().map(String::as_str), Some("Jan 2004"));
        let days = labels(jan_2004, jan_2004 + 6 * DAY);
        assert_eq!(days.first().map(String::as_str), Some("2004-01-01"));
        let hours = labels(jan_2004 + 9 * 3_600 * 1_000_000_000, jan_2004 + DAY / 2);
        assert_eq!(hours.first().map(String::as_str), Some("09:00"));
        let minutes = 60_000_000_000;
        let intraday = labels(jan_2004, jan_2004 + 3 * DAY + 7 * minutes);
        assert!(intraday[0].starts_with("01-01 "), "{intraday:?}");
        for span in [1, minutes, DAY, 40 * DAY, 400 * DAY, 20_000 * DAY] {
            let n = time_ticks(jan_2004, jan_2004 + span).len();
            assert!(n <= 12, "{span}: {n} ticks");
        }
    }

    #[test]
    fn value_axes_are_nice_and_percent_aware() {
        let axis = Axis::value([-0.653, -0.01], Fmt::Percent, true).unwrap();
        let ticks = axis.ticks(usize::MAX);
        let text: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            text,
            ["-70%", "-60%", "-50%", "-40%", "-30%", "-20%", "-10%", "0%"]
        );
        let flat = Axis::value([5.0, 5.0], Fmt::Number, false).unwrap();
        assert!(flat.ticks(9).len() >= 2);
        let log = Axis::log([10_000.0, 63_341.0], Fmt::Number).unwrap();
        let text: Vec<String> = log.ticks(9).into_iter().map(|t| t.1).collect();
        assert_eq!(text, ["10,000", "20,000", "50,000"]);
        let narrow = Axis::log([9_000.0, 11_000.0], Fmt::Number).unwrap();
        assert!(narrow.ticks(9).len() >= 3);
        assert!(Axis::value([f64::NAN], Fmt::Number, false).is_none());
        assert!(Axis::log([-1.0, 0.0], Fmt::Number).is_none());
    }
}
