//! Tick-to-bar resampling: time, tick-count, volume and dollar bars, streaming and batch.
//!
//! One streaming [`Resampler`] does the work and the batch functions only drive it, so a live feed
//! and a backtest over the same trades build identical bars by construction. A tick costs a few
//! comparisons and additions on fixed-size state: nothing allocates per tick.
//!
//! Choices every rule shares, so that no bar carries information from after it closed:
//!
//! - A tick is never split across bars. The tick that reaches a count, volume or dollar threshold
//!   belongs to the bar it closes, even if it overshoots; the next bar starts empty.
//! - A time bar is emitted only once complete, that is when a tick of a later interval arrives.
//!   Empty intervals produce no bar (no forward fill): a bar always holds at least one trade.
//! - At the end of data, [`Resampler::finish`] emits the last partial bar as if complete, since no
//!   further tick can come to complete it.

use crate::csv::{check_ohlc, out_of_order};
use crate::synthetic::parse_interval;
use crate::{Bar, Price, Qty, RowProblem, Timestamp, Trade};
use std::fmt;
use std::str::FromStr;

/// How ticks are grouped into bars.
///
/// Parsed from text by [`FromStr`]: `5s`, `1m`, `1h`, `1d` (any interval
/// [`parse_interval`] reads, optionally written `time:1m`), `ticks:100`, `volume:5000` or
/// `dollar:1e6`. [`fmt::Display`] writes the same forms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BarRule {
    /// Bars of a fixed duration, aligned to multiples of the interval since the Unix epoch and
    /// stamped with their open time: 1h bars open on the hour, 1d bars at midnight UTC.
    Time {
        /// The bar duration in nanoseconds.
        interval_ns: i64,
    },
    /// Bars of whole weeks ending on `end`, as pandas' `W-SUN` (`1w`, the default) or `W-FRI`:
    /// each opens at midnight UTC the day after `end` and is stamped with that open time.
    Weeks {
        /// Weeks per bar (more than one only for weeks ending on Sunday: `2w`).
        weeks: u32,
        /// The last day of each bar's week.
        end: chrono::Weekday,
    },
    /// A bar every N trades.
    Ticks(u64),
    /// A bar closes once its cumulative traded quantity reaches the threshold.
    Volume(f64),
    /// A bar closes once its cumulative notional, price x quantity, reaches the threshold.
    Dollar(f64),
}

const EXPECTED_RULE: &str =
    "an interval such as 5s, 1m, 1h or 1d, or ticks:N, volume:X or dollar:X";
const EXPECTED_INTERVAL: &str = "a positive interval such as 250ms, 5s, 1m, 1h, 1d or 1w";
const EXPECTED_TICKS: &str = "a positive whole number of trades, as in ticks:100";
const EXPECTED_VOLUME: &str = "a positive finite quantity, as in volume:5000";
const EXPECTED_DOLLAR: &str = "a positive finite notional, as in dollar:1e6";

impl BarRule {
    /// Checks that the rule's parameter is positive and finite.
    ///
    /// # Errors
    ///
    /// [`ResampleError::InvalidRule`] naming the rule and what its parameter should be.
    pub fn validate(&self) -> Result<(), ResampleError> {
        let expected = match *self {
            BarRule::Time { interval_ns } if interval_ns <= 0 => EXPECTED_INTERVAL,
            BarRule::Weeks { weeks: 0, .. } => EXPECTED_INTERVAL,
            BarRule::Ticks(0) => EXPECTED_TICKS,
            BarRule::Volume(threshold) if !is_positive(threshold) => EXPECTED_VOLUME,
            BarRule::Dollar(threshold) if !is_positive(threshold) => EXPECTED_DOLLAR,
            _ => return Ok(()),
        };
        Err(ResampleError::InvalidRule {
            rule: self.to_string(),
            expected,
        })
    }
}

impl FromStr for BarRule {
    type Err = ResampleError;

    /// Parses and validates a rule such as `1m`, `ticks:100`, `volume:5000` or `dollar:1e6`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim_ascii();
        let invalid = |expected| ResampleError::InvalidRule {
            rule: text.to_owned(),
            expected,
        };
        let rule = match text.split_once(':') {
            None => time_rule(text).ok_or_else(|| invalid(EXPECTED_RULE))?,
            Some(("time", interval)) => {
                time_rule(interval).ok_or_else(|| invalid(EXPECTED_INTERVAL))?
            }
            Some(("ticks", count)) => count
                .parse()
                .map(BarRule::Ticks)
                .map_err(|_| invalid(EXPECTED_TICKS))?,
            Some(("volume", threshold)) => threshold
                .parse()
                .map(BarRule::Volume)
                .map_err(|_| invalid(EXPECTED_VOLUME))?,
            Some(("dollar", threshold)) => threshold
                .parse()
                .map(BarRule::Dollar)
                .map_err(|_| invalid(EXPECTED_DOLLAR))?,
            Some(_) => return Err(invalid(EXPECTED_RULE)),
        };
        // Name the text as written, not as re-formatted, in a range error.
        rule.validate()
            .map_err(|err| match err {
                ResampleError::InvalidRule { expected, .. } => invalid(expected),
                other => other,
            })
            .map(|()| rule)
    }
}

/// Reads a time rule: an interval (`1m`, `1d`), whole weeks ending on Sunday (`1w`, `2w`), or one
/// week ending on a given day, pandas' way (`W-FRI`).
fn time_rule(text: &str) -> Option<BarRule> {
    let week = 7 * crate::NANOS_PER_DAY;
    if let Some(day) = text.strip_prefix("W-").or_else(|| text.strip_prefix("w-")) {
        let end = day.parse::<chrono::Weekday>().ok()?;
        return Some(BarRule::Weeks { weeks: 1, end });
    }
    let interval_ns = parse_interval(text)?;
    if text.ends_with('w') && interval_ns % week == 0 {
        let weeks = u32::try_from(interval_ns / week).ok()?;
        return Some(BarRule::Weeks {
            weeks,
            end: chrono::Weekday::Sun,
        });
    }
    Some(BarRule::Time { interval_ns })
}

impl BarRule {
    /// For a time or week rule: the bucket of `ts` and the bucket's open time.
    fn bucket(self, ts: Timestamp) -> Option<(i64, Timestamp)> {
        let (period, offset) = match self {
            BarRule::Time { interval_ns } => (interval_ns, 0),
            BarRule::Weeks { weeks, end } => {
                // 1970-01-01 was a Thursday: weeks open `offset` days later, mod 7.
                let open = end.succ().num_days_from_monday();
                let offset = i64::from((open + 7 - 3) % 7) * crate::NANOS_PER_DAY;
                (i64::from(weeks) * 7 * crate::NANOS_PER_DAY, offset)
            }
            BarRule::Ticks(_) | BarRule::Volume(_) | BarRule::Dollar(_) => return None,
        };
        // div_euclid floors, so times before 1970 fall into the interval that holds them.
        let bucket = ts.nanos().saturating_sub(offset).div_euclid(period);
        Some((
            bucket,
            Timestamp(bucket.saturating_mul(period).saturating_add(offset)),
        ))
    }
}

impl fmt::Display for BarRule {
    /// Writes the rule as [`FromStr`] reads it; time intervals in the largest unit that divides
    /// them (`90s`, `4h`), or in nanoseconds (`1500ns`, which does not parse back) when none does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BarRule::Time { interval_ns } => {
                const UNITS: [(i64, &str); 6] = [
                    (7 * crate::NANOS_PER_DAY, "w"),
                    (crate::NANOS_PER_DAY, "d"),
                    (3600 * crate::NANOS_PER_SECOND, "h"),
                    (60 * crate::NANOS_PER_SECOND, "m"),
                    (crate::NANOS_PER_SECOND, "s"),
                    (1_000_000, "ms"),
                ];
                let unit = UNITS
                    .iter()
                    .find(|(nanos, _)| interval_ns > 0 && interval_ns % nanos == 0);
                match unit {
                    Some((nanos, name)) => write!(f, "{}{name}", interval_ns / nanos),
                    None => write!(f, "{interval_ns}ns"),
                }
            }
            BarRule::Weeks {
                weeks,
                end: chrono::Weekday::Sun,
            } => write!(f, "{weeks}w"),
            BarRule::Weeks { end, .. } => write!(f, "W-{}", end.to_string().to_uppercase()),
            BarRule::Ticks(count) => write!(f, "ticks:{count}"),
            BarRule::Volume(threshold) => write!(f, "volume:{threshold}"),
            BarRule::Dollar(threshold) => write!(f, "dollar:{threshold}"),
        }
    }
}

/// An error of resampling: a bad rule or a bad input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResampleError {
    /// A rule does not parse, or its parameter is zero, negative or not finite.
    #[error("invalid bar rule {rule:?}: expected {expected}")]
    InvalidRule {
        /// The rule as written.
        rule: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A tick or bar is invalid; it was not used and the resampler's state is unchanged.
    #[error("{input} at index {index}, {field}: {problem}")]
    InvalidInput {
        /// `tick` or `bar`.
        input: &'static str,
        /// 0-based position among all inputs pushed (the slice index in the batch functions).
        index: u64,
        /// The offending field: `ts`, `price` or `qty` of a tick; `ts`, `open`, `high`, `low`,
        /// `close` or `volume` of a bar.
        field: &'static str,
        /// What is wrong.
        problem: RowProblem,
    },
    /// Bars were pushed to a resampler whose rule is not a time rule.
    #[error("bars can be resampled only to a time interval, not by {rule}")]
    BarsNeedTimeRule {
        /// The resampler's rule.
        rule: BarRule,
    },
    /// A resampler fed ticks was pushed a bar, or the other way round.
    #[error("{input} at index {index}: one resampler takes either ticks or bars, not both")]
    MixedInput {
        /// `tick` or `bar`: the input that came second.
        input: &'static str,
        /// 0-based position among all inputs pushed.
        index: u64,
    },
}

/// Builds bars from a stream of ticks (or of finer bars), one push at a time.
///
/// Each push returns the bar that the input completes, if any; [`Resampler::finish`] returns the
/// last partial bar at the end of data. Time bars are stamped with their interval's open time,
/// tick, volume and dollar bars with their first tick's timestamp. Several tick, volume or dollar
/// bars may share a stamp when they fill up within one timestamp (many trades in one
/// millisecond); they still come out in order.
///
/// ```
/// use market_data::resample::Resampler;
/// use market_data::{Price, Qty, Timestamp};
///
/// let mut resampler = Resampler::try_new("1m".parse()?)?;
/// assert_eq!(resampler.push(Timestamp::from_secs(5), Price(10.0), Qty(1.0))?, None);
/// assert_eq!(resampler.push(Timestamp::from_secs(30), Price(12.0), Qty(2.0))?, None);
/// // A tick of the next minute completes the first bar.
/// let bar = resampler.push(Timestamp::from_secs(61), Price(11.0), Qty(1.0))?;
/// let bar = bar.ok_or("the first minute is complete")?;
/// assert_eq!((bar.ts, bar.open, bar.high, bar.low), (Timestamp(0), 10.0, 12.0, 10.0));
/// assert_eq!((bar.close, bar.volume), (12.0, 3.0));
/// // At the end of data, the second minute's bar is emitted as it stands.
/// assert_eq!(resampler.finish().map(|bar| bar.ts), Some(Timestamp::from_secs(60)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Resampler {
    rule: BarRule,
    /// The bar being built, if it has received an input.
    open: Option<OpenBar>,
    /// The last accepted input's timestamp, for the order check.
    last_ts: Option<Timestamp>,
    /// Inputs pushed so far, accepted or not, to name a bad one by its position.
    pushed: u64,
    /// What this resampler has been fed, fixed by the first accepted input.
    input: Option<Input>,
}

/// The two kinds of input a resampler takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Tick,
    Bar,
}

impl Input {
    const fn name(self) -> &'static str {
        match self {
            Input::Tick => "tick",
            Input::Bar => "bar",
        }
    }
}

/// A bar under construction with the running totals that decide when it closes.
#[derive(Debug, Clone, Copy)]
struct OpenBar {
    /// OHLC so far; `volume` is filled in from `volume` when the bar is emitted.
    bar: Bar,
    /// The time-bucket index (open time / interval) for time rules, 0 otherwise.
    bucket: i64,
    /// Inputs merged.
    count: u64,
    /// Quantity merged.
    volume: Sum,
    /// Price x quantity merged, for dollar bars.
    notional: Sum,
}

impl OpenBar {
    fn start(ts: Timestamp, bucket: i64, piece: Piece) -> Self {
        let mut open = Self {
            bar: Bar {
                ts,
                open: piece.open,
                high: piece.high,
                low: piece.low,
                close: piece.close,
                volume: 0.0,
            },
            bucket,
            count: 0,
            volume: Sum::default(),
            notional: Sum::default(),
        };
        open.merge(piece);
        open
    }

    fn merge(&mut self, piece: Piece) {
        self.bar.high = self.bar.high.max(piece.high);
        self.bar.low = self.bar.low.min(piece.low);
        self.bar.close = piece.close;
        self.count += 1;
        self.volume.add(piece.volume);
        self.notional.add(piece.notional);
    }

    fn done(self) -> Bar {
        Bar {
            volume: self.volume.value(),
            ..self.bar
        }
    }
}

/// What one input adds to a bar: a tick is a bar whose four prices are equal.
#[derive(Debug, Clone, Copy)]
struct Piece {
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
    notional: f64,
}

/// A compensated (Neumaier) running sum. Volume and dollar thresholds compare against it, so ten
/// trades of 0.1 reach a threshold of 1 as a reader expects; a plain sum gives 0.9999999999999999.
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    fn add(&mut self, value: f64) {
        let total = self.sum + value;
        self.compensation += if self.sum.abs() >= value.abs() {
            (self.sum - total) + value
        } else {
            (value - total) + self.sum
        };
        self.sum = total;
    }

    fn value(self) -> f64 {
        // Past f64's range the compensation is NaN (inf - inf); the infinite sum is the answer.
        if self.sum.is_finite() {
            self.sum + self.compensation
        } else {
            self.sum
        }
    }
}

impl Resampler {
    /// Returns a resampler for a rule, with no bar open.
    ///
    /// # Errors
    ///
    /// [`ResampleError::InvalidRule`] if the rule's parameter is zero, negative or not finite.
    pub fn try_new(rule: BarRule) -> Result<Self, ResampleError> {
        rule.validate()?;
        Ok(Self {
            rule,
            open: None,
            last_ts: None,
            pushed: 0,
            input: None,
        })
    }

    /// Returns the rule.
    pub fn rule(&self) -> BarRule {
        self.rule
    }

    /// Returns the bar built so far, which is not complete: later inputs may still change it.
    pub fn partial(&self) -> Option<Bar> {
        self.open.map(OpenBar::done)
    }

    /// Adds one trade and returns the bar it completes, if any.
    ///
    /// For a time rule that is the previous interval's bar, completed by this tick of a later
    /// interval (this tick opens the next bar). For the other rules it is the bar this tick
    /// brings to the threshold, this tick included.
    ///
    /// # Errors
    ///
    /// [`ResampleError::InvalidInput`] if the timestamp is before the previous tick's, the price
    /// is not positive and finite or the quantity is negative or not finite; the tick is then
    /// ignored. [`ResampleError::MixedInput`] if this resampler was fed bars.
    pub fn push(
        &mut self,
        ts: Timestamp,
        price: Price,
        qty: Qty,
    ) -> Result<Option<Bar>, ResampleError> {
        let index = self.next_index(Input::Tick)?;
        let invalid = |field, problem| ResampleError::InvalidInput {
            input: "tick",
            index,
            field,
            problem,
        };
        if let Some(previous) = self.last_ts.filter(|&previous| ts < previous) {
            return Err(invalid("ts", out_of_order(ts, previous)));
        }
        let (price, qty) = (price.0, qty.0);
        check_price(price).map_err(|problem| invalid("price", problem))?;
        if !qty.is_finite() {
            let value = qty.to_string();
            return Err(invalid("qty", RowProblem::NotFinite { value }));
        }
        if qty < 0.0 {
            return Err(invalid("qty", RowProblem::NegativeQuantity { value: qty }));
        }
        let piece = Piece {
            open: price,
            high: price,
            low: price,
            close: price,
            volume: qty,
            notional: price * qty,
        };
        Ok(self.accept(ts, Input::Tick, piece))
    }

    /// Adds one trade; see [`Resampler::push`].
    ///
    /// # Errors
    ///
    /// As [`Resampler::push`].
    pub fn push_trade(
        &mut self,
        ts: Timestamp,
        trade: &Trade,
    ) -> Result<Option<Bar>, ResampleError> {
        self.push(ts, trade.price, trade.qty)
    }

    /// Adds one finer bar, for a coarser time rule, and returns the bar it completes, if any.
    ///
    /// The result takes the first bar's open, the highest high, the lowest low, the last close
    /// and the summed volume. Each input bar goes wholly into the interval its open time falls
    /// in, so the input bars should lie on a grid that divides the target interval (1m into 1h,
    /// not 40m into 1h); otherwise a bar straddling a boundary would bring later prices into an
    /// earlier bar.
    ///
    /// # Errors
    ///
    /// [`ResampleError::BarsNeedTimeRule`] unless the rule is a time rule;
    /// [`ResampleError::InvalidInput`] if the bar is not after the previous one, a price is not
    /// positive and finite, the volume is negative or not finite, or high and low do not bound
    /// open and close; [`ResampleError::MixedInput`] if this resampler was fed ticks.
    pub fn push_bar(&mut self, bar: &Bar) -> Result<Option<Bar>, ResampleError> {
        if !matches!(self.rule, BarRule::Time { .. } | BarRule::Weeks { .. }) {
            return Err(ResampleError::BarsNeedTimeRule { rule: self.rule });
        }
        let index = self.next_index(Input::Bar)?;
        let invalid = |field, problem| ResampleError::InvalidInput {
            input: "bar",
            index,
            field,
            problem,
        };
        // Bars, unlike ticks, must be strictly increasing: two bars at one time are a duplicate.
        if let Some(previous) = self.last_ts.filter(|&previous| bar.ts <= previous) {
            return Err(invalid("ts", out_of_order(bar.ts, previous)));
        }
        let prices = [
            ("open", bar.open),
            ("high", bar.high),
            ("low", bar.low),
            ("close", bar.close),
        ];
        for (field, price) in prices {
            check_price(price).map_err(|problem| invalid(field, problem))?;
        }
        if !bar.volume.is_finite() {
            let value = bar.volume.to_string();
            return Err(invalid("volume", RowProblem::NotFinite { value }));
        }
        if bar.volume < 0.0 {
            let problem = RowProblem::NegativeVolume { value: bar.volume };
            return Err(invalid("volume", problem));
        }
        check_ohlc(bar.open, bar.high, bar.low, bar.close)
            .map_err(|(role, problem)| invalid(if role == 2 { "high" } else { "low" }, problem))?;
        let piece = Piece {
            open: bar.open,
            high: bar.high,
            low: bar.low,
            close: bar.close,
            volume: bar.volume,
            notional: 0.0,
        };
        Ok(self.accept(bar.ts, Input::Bar, piece))
    }

    /// Returns the last partial bar, at the end of data, as complete; none if no input is
    /// pending.
    ///
    /// The resampler then starts a new bar with the next input but keeps checking order against
    /// the last input: call it once, at the end of the data (a time-rule tick of the interval just
    /// flushed would start a second bar with the same stamp).
    pub fn finish(&mut self) -> Option<Bar> {
        self.open.take().map(OpenBar::done)
    }

    /// Counts an input and checks that it is of the kind this resampler takes; returns its index.
    fn next_index(&mut self, input: Input) -> Result<u64, ResampleError> {
        let index = self.pushed;
        self.pushed += 1;
        match self.input {
            Some(taken) if taken != input => Err(ResampleError::MixedInput {
                input: input.name(),
                index,
            }),
            _ => Ok(index),
        }
    }

    /// Merges a checked input and returns the bar it completes, if any.
    fn accept(&mut self, ts: Timestamp, input: Input, piece: Piece) -> Option<Bar> {
        self.input = Some(input);
        self.last_ts = Some(ts);
        let threshold_reached = |open: &OpenBar| match self.rule {
            BarRule::Time { .. } | BarRule::Weeks { .. } => false,
            BarRule::Ticks(count) => open.count >= count,
            BarRule::Volume(threshold) => open.volume.value() >= threshold,
            BarRule::Dollar(threshold) => open.notional.value() >= threshold,
        };
        match self.rule {
            BarRule::Time { .. } | BarRule::Weeks { .. } => {
                let (bucket, stamp) = self.rule.bucket(ts)?;
                match &mut self.open {
                    Some(open) if open.bucket == bucket => {
                        open.merge(piece);
                        None
                    }
                    // Inputs are in order, so a different bucket is a later one.
                    _ => {
                        let done = self.open.replace(OpenBar::start(stamp, bucket, piece));
                        done.map(OpenBar::done)
                    }
                }
            }
            BarRule::Ticks(_) | BarRule::Volume(_) | BarRule::Dollar(_) => {
                let open = match &mut self.open {
                    Some(open) => {
                        open.merge(piece);
                        *open
                    }
                    None => *self.open.insert(OpenBar::start(ts, 0, piece)),
                };
                if threshold_reached(&open) {
                    self.open = None;
                    Some(open.done())
                } else {
                    None
                }
            }
        }
    }
}

/// Resamples trades, in time order, into bars; the last partial bar is included.
///
/// # Errors
///
/// [`ResampleError::InvalidRule`] for an out-of-range rule, and [`ResampleError::InvalidInput`]
/// for the first invalid trade, named by its index in `trades`.
pub fn resample_trades(
    trades: &[(Timestamp, Trade)],
    rule: BarRule,
) -> Result<Vec<Bar>, ResampleError> {
    let mut resampler = Resampler::try_new(rule)?;
    let mut bars = Vec::new();
    for (ts, trade) in trades {
        bars.extend(resampler.push_trade(*ts, trade)?);
    }
    bars.extend(resampler.finish());
    Ok(bars)
}

/// Resamples bars, in strictly increasing time order, to a coarser interval, such as 1m bars to
/// 1h; the last partial bar is included. See [`Resampler::push_bar`] for how bars combine.
///
/// # Errors
///
/// [`ResampleError::InvalidRule`] if `interval_ns` is not positive, and
/// [`ResampleError::InvalidInput`] for the first invalid bar, named by its index in `bars`.
pub fn resample_bars(bars: &[Bar], interval_ns: i64) -> Result<Vec<Bar>, ResampleError> {
    let mut resampler = Resampler::try_new(BarRule::Time { interval_ns })?;
    let mut out = Vec::new();
    for bar in bars {
        out.extend(resampler.push_bar(bar)?);
    }
    out.extend(resampler.finish());
    Ok(out)
}

/// Returns true for a finite number above zero (false for NaN).
fn is_positive(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

/// Checks that a price is finite and positive.
fn check_price(price: f64) -> Result<(), RowProblem> {
    if !price.is_finite() {
        let value = price.to_string();
        return Err(RowProblem::NotFinite { value });
    }
    if price <= 0.0 {
        return Err(RowProblem::NonPositivePrice { value: price });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
