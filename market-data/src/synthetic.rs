//! Synthetic bars from seeded geometric Brownian motion.
//!
//! Benchmarks, property tests and strategy smoke tests need any amount of plausible, valid data
//! that is identical on every machine. Each instrument draws from its own generator, seeded from
//! the spec's seed and its index alone, so instrument `k` is the same whether it is generated with
//! one instrument or a thousand, in any order and on any number of threads. The generator is
//! `Xoshiro256PlusPlus`, named by algorithm so a rand upgrade cannot change the data (unlike
//! `StdRng`), and fast enough for ten million bars in a fraction of a second.

use crate::time::{NANOS_PER_DAY, NANOS_PER_SECOND};
use crate::{
    Bar, BarSeries, Error, InstrumentId, Price, Qty, Quote, Result, Side, Timestamp, Trade,
};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Exp1, StandardNormal};

/// Nanoseconds in the year that annual drift and volatility refer to.
const NANOS_PER_YEAR: f64 = 365.25 * NANOS_PER_DAY as f64;
/// Typical volume of a bar; volumes are lognormal around it.
const VOLUME: f64 = 1000.0;
/// Largest total move of the log price, in natural-log units, that keeps prices well inside f64.
const MAX_LOG_MOVE: f64 = 600.0;

/// What to generate: how many instruments and bars, and the GBM parameters shared by all.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    /// Number of instruments, named `SYN000`, `SYN001`, ...
    pub instruments: usize,
    /// Bars per instrument.
    pub bars: usize,
    /// Time between bar opens, in nanoseconds.
    pub interval_ns: i64,
    /// Open time of the first bar.
    pub start: Timestamp,
    /// Annual drift (GBM's `mu`), the expected return; log returns drift by `mu - sigma²/2`.
    pub drift: f64,
    /// Annual volatility (GBM's `sigma`).
    pub volatility: f64,
    /// Open price of the first bar.
    pub initial_price: f64,
    /// Seed of every instrument's random generator.
    pub seed: u64,
}

impl Default for SyntheticSpec {
    /// Returns one instrument of 1000 one-minute bars from 2024-01-01, with no drift, 20% volatility,
    /// a price of 100 and seed 42.
    fn default() -> Self {
        Self {
            instruments: 1,
            bars: 1000,
            interval_ns: 60 * NANOS_PER_SECOND,
            start: Timestamp::from_secs(1_704_067_200),
            drift: 0.0,
            volatility: 0.2,
            initial_price: 100.0,
            seed: 42,
        }
    }
}

impl SyntheticSpec {
    /// Checks that every parameter is in range and that the generated series stays representable.
    ///
    /// # Errors
    ///
    /// [`Error::Synthetic`] naming the first parameter out of range.
    pub fn validate(&self) -> Result<()> {
        let fail = |field, message: String| Err(Error::Synthetic { field, message });
        if self.instruments == 0 {
            return fail("instruments", "must be at least 1".into());
        }
        if self.bars == 0 {
            return fail("bars", "must be at least 1".into());
        }
        if self.interval_ns <= 0 {
            return fail(
                "interval",
                format!("must be positive, got {} ns", self.interval_ns),
            );
        }
        if !self.drift.is_finite() {
            return fail("drift", format!("must be finite, got {}", self.drift));
        }
        if !(self.volatility.is_finite() && self.volatility >= 0.0) {
            return fail(
                "volatility",
                format!("must be finite and >= 0, got {}", self.volatility),
            );
        }
        if !(self.initial_price.is_finite() && self.initial_price > 0.0) {
            let message = format!("must be finite and positive, got {}", self.initial_price);
            return fail("initial_price", message);
        }
        let last = i64::try_from(self.bars - 1)
            .ok()
            .and_then(|steps| steps.checked_mul(self.interval_ns))
            .and_then(|span| span.checked_add(self.start.nanos()));
        if last.is_none() {
            return fail("bars", "the last bar's time is past the year 2262".into());
        }
        // The drift, the variance drag and ten standard deviations bound the log price's move,
        // so prices stay finite; the larger part names the culprit.
        let years = self.bars as f64 * self.interval_ns as f64 / NANOS_PER_YEAR;
        let from_drift = self.drift.abs() * years;
        let from_volatility =
            self.volatility.powi(2) / 2.0 * years + 10.0 * self.volatility * years.sqrt();
        if from_drift + from_volatility > MAX_LOG_MOVE {
            let field = if from_drift > from_volatility {
                "drift"
            } else {
                "volatility"
            };
            let message = format!("too large for {years:.0} years of bars: prices would overflow");
            return fail(field, message);
        }
        Ok(())
    }
}

/// Parses a bar interval such as `30s`, `1m`, `5m`, `1h`, `4h` or `1d` into nanoseconds.
///
/// Units are `ms`, `s`, `m` (minutes), `h`, `d` and `w`, lowercase; the count is a positive
/// integer. Returns `None` for anything else or an interval that overflows.
pub fn parse_interval(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (count, unit) = text.split_at(split);
    let unit = match unit {
        "ms" => 1_000_000,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3600 * NANOS_PER_SECOND,
        "d" => NANOS_PER_DAY,
        "w" => 7 * NANOS_PER_DAY,
        _ => return None,
    };
    let count: i64 = count.parse().ok().filter(|&count| count > 0)?;
    count.checked_mul(unit)
}

/// Returns the name of synthetic instrument `k`: `SYN000`, `SYN001`, ...
pub fn instrument_name(k: usize) -> InstrumentId {
    InstrumentId::new(format!("SYN{k:03}"))
}

/// Generates the bars of instrument `k`, which depend only on the spec's parameters, its seed and
/// `k`, not on `spec.instruments`.
///
/// The spec should have passed [`SyntheticSpec::validate`]; otherwise the series may be empty or
/// hold repeated timestamps or non-finite prices.
pub fn generate_one(spec: &SyntheticSpec, k: usize) -> BarSeries {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(splitmix64(spec.seed) ^ k as u64);
    let dt = spec.interval_ns as f64 / NANOS_PER_YEAR;
    let step_vol = spec.volatility * dt.sqrt();
    let step_drift = (spec.drift - spec.volatility.powi(2) / 2.0) * dt;
    let mut open = spec.initial_price;
    let mut ts = spec.start.nanos();
    let mut bars = Vec::with_capacity(spec.bars);
    for _ in 0..spec.bars {
        let z: f64 = StandardNormal.sample(&mut rng);
        let close = open * (step_drift + step_vol * z).exp();
        // Wicks scale with the step's volatility; dividing for the low keeps it positive.
        let up: f64 = Exp1.sample(&mut rng);
        let down: f64 = Exp1.sample(&mut rng);
        let high = open.max(close) * (1.0 + 0.5 * step_vol * up);
        let low = open.min(close) / (1.0 + 0.5 * step_vol * down);
        let noise: f64 = StandardNormal.sample(&mut rng);
        let volume = VOLUME * (0.5 * noise).exp();
        bars.push(Bar {
            ts: Timestamp(ts),
            open,
            high,
            low,
            close,
            volume,
        });
        open = close;
        ts = ts.saturating_add(spec.interval_ns);
    }
    BarSeries::new(instrument_name(k), bars)
}

/// The ticks of one synthetic instrument: a quote and a trade per tick.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TickSeries {
    /// The instrument's name.
    pub instrument: InstrumentId,
    /// Trade prints, in time order.
    pub trades: Vec<(Timestamp, Trade)>,
    /// The quote in force before each trade, in time order.
    pub quotes: Vec<(Timestamp, Quote)>,
}

/// Generates `spec.bars` ticks of instrument `k`: arrivals at exponential intervals averaging
/// `spec.interval_ns` (several may share a nanosecond-rounded time), a GBM mid price, a quote
/// one basis point wide around it, then a trade at the ask (buyer aggressor) or at the bid.
pub fn generate_ticks(spec: &SyntheticSpec, k: usize) -> TickSeries {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(splitmix64(spec.seed ^ 0x7469_636b) ^ k as u64);
    let dt = spec.interval_ns as f64 / NANOS_PER_YEAR;
    let step_vol = spec.volatility * dt.sqrt();
    let step_drift = (spec.drift - spec.volatility.powi(2) / 2.0) * dt;
    let half_spread = 0.5e-4;
    let mut mid = spec.initial_price;
    let mut ts = spec.start.nanos();
    let mut ticks = TickSeries {
        instrument: instrument_name(k),
        trades: Vec::with_capacity(spec.bars),
        quotes: Vec::with_capacity(spec.bars),
    };
    for _ in 0..spec.bars {
        let z: f64 = StandardNormal.sample(&mut rng);
        mid *= (step_drift + step_vol * z).exp();
        let wait: f64 = Exp1.sample(&mut rng);
        ts = ts.saturating_add((wait * spec.interval_ns as f64) as i64);
        let (bid, ask) = (mid * (1.0 - half_spread), mid * (1.0 + half_spread));
        let size: f64 = StandardNormal.sample(&mut rng);
        let qty = (VOLUME / 100.0) * (0.5 * size).exp();
        let buyer: f64 = Exp1.sample(&mut rng);
        let aggressor = if buyer < std::f64::consts::LN_2 {
            Side::Buy
        } else {
            Side::Sell
        };
        ticks.quotes.push((
            Timestamp(ts),
            Quote {
                bid: Price(bid),
                ask: Price(ask),
                bid_qty: Qty(qty * 2.0),
                ask_qty: Qty(qty * 2.0),
            },
        ));
        let price = if aggressor == Side::Buy { ask } else { bid };
        ticks.trades.push((
            Timestamp(ts),
            Trade {
                price: Price(price),
                qty: Qty(qty),
                aggressor,
            },
        ));
    }
    ticks
}

/// Validates the spec and generates every instrument's bars, in index order.
///
/// # Errors
///
/// [`Error::Synthetic`] if the spec is out of range.
pub fn generate(spec: &SyntheticSpec) -> Result<Vec<BarSeries>> {
    spec.validate()?;
    Ok((0..spec.instruments)
        .map(|k| generate_one(spec, k))
        .collect())
}

/// Scrambles a seed so that nearby seeds give unrelated streams (SplitMix64's finaliser).
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(instruments: usize, bars: usize) -> SyntheticSpec {
        SyntheticSpec {
            instruments,
            bars,
            ..SyntheticSpec::default()
        }
    }

    #[test]
    fn same_spec_same_bars() {
        let spec = spec(3, 500);
        assert_eq!(generate(&spec).unwrap(), generate(&spec).unwrap());
        let other = generate(&SyntheticSpec {
            seed: 43,
            ..spec.clone()
        })
        .unwrap();
        assert_ne!(generate(&spec).unwrap()[0].bars, other[0].bars);
    }

    #[test]
    fn instrument_independent_of_count() {
        let all = generate(&spec(8, 300)).unwrap();
        for (k, series) in all.iter().enumerate() {
            assert_eq!(series.instrument, instrument_name(k));
            assert_eq!(*series, generate(&spec(k + 1, 300)).unwrap()[k]);
            assert_eq!(*series, generate_one(&spec(1, 300), k));
        }
        assert_ne!(all[0].bars, all[1].bars);
        assert_eq!(instrument_name(12).as_str(), "SYN012");
    }

    #[test]
    fn bars_are_valid_and_ordered() {
        let spec = SyntheticSpec {
            volatility: 0.9,
            drift: 0.3,
            ..spec(2, 5000)
        };
        for series in generate(&spec).unwrap() {
            assert_eq!(series.len(), 5000);
            assert_eq!(series.bars[0].ts, spec.start);
            assert_eq!(series.bars[0].open, spec.initial_price);
            for pair in series.bars.windows(2) {
                assert_eq!(pair[1].ts.nanos() - pair[0].ts.nanos(), spec.interval_ns);
                assert_eq!(pair[1].open, pair[0].close);
            }
            for bar in &series.bars {
                assert!(
                    bar.low > 0.0 && bar.volume > 0.0 && bar.high.is_finite(),
                    "{bar:?}"
                );
                assert!(bar.high >= bar.open.max(bar.close), "{bar:?}");
                assert!(bar.low <= bar.open.min(bar.close), "{bar:?}");
            }
        }
    }

    #[test]
    fn log_returns_have_the_requested_volatility() {
        let spec = SyntheticSpec {
            interval_ns: parse_interval("1h").unwrap(),
            ..spec(1, 100_000)
        };
        let returns: Vec<f64> = generate_one(&spec, 0)
            .bars
            .iter()
            .map(|bar| (bar.close / bar.open).ln())
            .collect();
        let n = returns.len() as f64;
        let mean = returns.iter().sum::<f64>() / n;
        let std = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let expected = spec.volatility * (spec.interval_ns as f64 / NANOS_PER_YEAR).sqrt();
        assert!(
            (std / expected - 1.0).abs() < 0.05,
            "std {std}, expected {expected}"
        );
    }

    #[test]
    fn validate_names_the_field() {
        let base = SyntheticSpec::default();
        assert!(base.validate().is_ok());
        let cases = [
            (
                SyntheticSpec {
                    instruments: 0,
                    ..base.clone()
                },
                "instruments",
            ),
            (
                SyntheticSpec {
                    bars: 0,
                    ..base.clone()
                },
                "bars",
            ),
            (
                SyntheticSpec {
                    interval_ns: 0,
                    ..base.clone()
                },
                "interval",
            ),
            (
                SyntheticSpec {
                    volatility: -0.1,
                    ..base.clone()
                },
                "volatility",
            ),
            (
                SyntheticSpec {
                    volatility: f64::NAN,
                    ..base.clone()
                },
                "volatility",
            ),
            (
                SyntheticSpec {
                    volatility: 50.0,
                    bars: 1_000_000,
                    ..base.clone()
                },
                "volatility",
            ),
            (
                SyntheticSpec {
                    drift: f64::INFINITY,
                    ..base.clone()
                },
                "drift",
            ),
            (
                SyntheticSpec {
                    drift: 1e6,
                    ..base.clone()
                },
                "drift",
            ),
            (
                SyntheticSpec {
                    initial_price: 0.0,
                    ..base.clone()
                },
                "initial_price",
            ),
            (
                SyntheticSpec {
                    bars: 10_000_000,
                    interval_ns: NANOS_PER_DAY,
                    ..base.clone()
                },
                "bars",
            ),
        ];
        for (spec, expected) in cases {
            let err = generate(&spec).unwrap_err();
            assert!(
                matches!(err, Error::Synthetic { field, .. } if field == expected),
                "{err}"
            );
            assert!(err.to_string().contains(&format!("`{expected}`")), "{err}");
        }
    }

    #[test]
    fn intervals() {
        let s = NANOS_PER_SECOND;
        for (text, nanos) in [
            ("30s", 30 * s),
            ("1m", 60 * s),
            ("5m", 300 * s),
            ("1h", 3600 * s),
        ] {
            assert_eq!(parse_interval(text), Some(nanos), "{text}");
        }
        assert_eq!(parse_interval("4h"), Some(4 * 3600 * s));
        assert_eq!(parse_interval("1d"), Some(NANOS_PER_DAY));
        assert_eq!(parse_interval("250ms"), Some(250_000_000));
        for bad in [
            "",
            "m",
            "0m",
            "-1m",
            "1",
            "1M",
            "1.5h",
            "1 m",
            "99999999999d",
        ] {
            assert_eq!(parse_interval(bad), None, "{bad}");
        }
    }
}
