//! The buy-and-hold benchmark: what the capital would have become held in the instruments.
//!
//! The benchmark answers "did the strategy beat simply owning the market it traded?", so it
//! uses the run's own instruments and capital, without fees: the capital is split equally
//! among the instruments (or put in one configured instrument), each share buys fractional
//! units at the instrument's first close and is never rebalanced. It is valued on the run's
//! equity timestamps, with each instrument's last close at or before the step (carried forward
//! over gaps in its data); an instrument's share is held as cash until its first bar.

use super::PriceInput;
use engine::BacktestOutcome;
use engine::column::Curve;
use market_data::Bar;
use std::fmt;

/// A buy-and-hold curve on a run's equity timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Benchmark {
    /// The legend text, e.g. `Buy & hold GOOG`.
    pub name: String,
    /// The benchmark's equity at each of the run's equity timestamps.
    pub equity: Vec<f64>,
}

/// Why a run has no benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoBenchmark {
    /// The run recorded no equity to compare with.
    NoEquity,
    /// The run's bars were not kept (or no instrument has a usable close).
    NoBars,
    /// The configured benchmark instrument has no bars among the run's.
    UnknownInstrument(String),
}

impl fmt::Display for NoBenchmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoEquity => write!(f, "the run recorded no equity"),
            Self::NoBars => write!(f, "the run's prices were not available"),
            Self::UnknownInstrument(name) => {
                write!(
                    f,
                    "the benchmark instrument {name} has no prices in this run"
                )
            }
        }
    }
}

impl std::error::Error for NoBenchmark {}

/// Returns the buy-and-hold benchmark of a run: of `instrument` alone when given, else of every
/// instrument of `prices` in equal shares of the initial capital.
///
/// # Errors
/// Returns why there is no benchmark: no equity, no usable prices, or an unknown instrument.
pub fn buy_and_hold(
    outcome: &BacktestOutcome,
    prices: &[PriceInput<'_>],
    instrument: Option<&str>,
) -> Result<Benchmark, NoBenchmark> {
    buy_and_hold_on(&outcome.curve, outcome.initial_cash, prices, instrument)
}

/// As [`buy_and_hold`], on the steps of `curve` (read once) with `initial_cash`: for a run
/// whose curve is not in its outcome.
///
/// # Errors
/// As [`buy_and_hold`].
pub fn buy_and_hold_on(
    curve: &dyn Curve,
    initial_cash: f64,
    prices: &[PriceInput<'_>],
    instrument: Option<&str>,
) -> Result<Benchmark, NoBenchmark> {
    if curve.steps() == 0 {
        return Err(NoBenchmark::NoEquity);
    }
    // Only bars with a positive finite close can be bought or valued.
    let usable = |b: &&Bar| b.close.is_finite() && b.close > 0.0;
    let held: Vec<&PriceInput<'_>> = match instrument {
        Some(name) => {
            let found: Vec<_> = prices
                .iter()
                .filter(|p| p.instrument == name)
                .filter(|p| p.bars.iter().any(|b| usable(&b)))
                .take(1)
                .collect();
            if found.is_empty() {
                return Err(NoBenchmark::UnknownInstrument(name.to_string()));
            }
            found
        }
        None => (prices.iter())
            .filter(|p| p.bars.iter().any(|b| usable(&b)))
            .collect(),
    };
    if held.is_empty() {
        return Err(NoBenchmark::NoBars);
    }
    let share = initial_cash / held.len() as f64;
    // Per instrument: its usable bars, the units bought at its first close, its last close.
    let mut holdings: Vec<_> = (held.iter())
        .map(|p| (p.bars.iter().filter(usable).peekable(), None, 0.0))
        .collect();
    let mut equity = Vec::with_capacity(curve.steps());
    curve.time_chunks(&mut |chunk| {
        for ts in chunk {
            let mut value = 0.0;
            for (bars, units, last_close) in &mut holdings {
                while let Some(bar) = bars.next_if(|b| b.ts <= *ts) {
                    *last_close = bar.close;
                    units.get_or_insert(share / bar.close);
                }
                value += units.map_or(share, |u: f64| u * *last_close);
            }
            equity.push(value);
        }
    });
    let name = match held.as_slice() {
        [one] => format!("Buy & hold {}", one.instrument),
        many => format!("Equal-weight buy & hold ({} instruments)", many.len()),
    };
    Ok(Benchmark { name, equity })
}
