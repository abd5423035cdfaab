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
    if outcome.curve.is_empty() {
        return Err(NoBenchmark::NoEquity);
    }
    // Only bars with a positive finite close can be bought or valued.
    let usable = |p: &&PriceInput<'_>| p.bars.iter().any(|b| b.close.is_finite() && b.close > 0.0);
    let held: Vec<&PriceInput<'_>> = match instrument {
        Some(name) => {
            let found: Vec<_> = prices
                .iter()
                .filter(|p| p.instrument == name)
                .filter(usable)
                .take(1)
                .collect();
            if found.is_empty() {
                return Err(NoBenchmark::UnknownInstrument(name.to_string()));
            }
            found
        }
        None => prices.iter().filter(usable).collect(),
    };
    if held.is_empty() {
        return Err(NoBenchmark::NoBars);
    }
    let share = outcome.initial_cash / held.len() as f64;
    let mut equity = vec![0.0; outcome.curve.len()];
    for p in &held {
        let mut bars = p
            .bars
            .iter()
            .filter(|b| b.close.is_finite() && b.close > 0.0)
            .peekable();
        let mut units = None;
        let mut last_close = 0.0;
        for (value, ts) in equity.iter_mut().zip(&outcome.curve.ts) {
            while let Some(bar) = bars.next_if(|b| b.ts <= *ts) {
                last_close = bar.close;
                units.get_or_insert(share / bar.close);
            }
            *value += units.map_or(share, |u| u * last_close);
        }
    }
    let name = match held.as_slice() {
        [one] => format!("Buy & hold {}", one.instrument),
        many => format!("Equal-weight buy & hold ({} instruments)", many.len()),
    };
    Ok(Benchmark { name, equity })
}
