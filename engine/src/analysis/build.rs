//! Computing an [`Analysis`] from a run's outcome and, when kept, its bars.

use super::Analysis;
use crate::outcome::BacktestOutcome;
use crate::results::Summary;
use market_data::Bar;

/// One instrument's bars, for the benchmark and the price charts.
#[derive(Debug, Clone, Copy)]
pub struct PriceInput<'a> {
    /// The instrument's name, as in the outcome.
    pub instrument: &'a str,
    /// Its bars, oldest first.
    pub bars: &'a [Bar],
}

/// What an analysis is computed from.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisInput<'a> {
    /// The run's name.
    pub title: &'a str,
    /// The strategy's name.
    pub strategy: &'a str,
    /// What the run recorded.
    pub outcome: &'a BacktestOutcome,
    /// Its headline figures.
    pub summary: &'a Summary,
    /// The bars of the run's instruments (empty when the run kept none, e.g. a streamed
    /// catalog): the benchmark and price charts need them.
    pub prices: &'a [PriceInput<'a>],
    /// The benchmark: buy and hold of this instrument; `None`: of every instrument in equal
    /// shares of the capital.
    pub benchmark: Option<&'a str>,
}

/// Computes every figure of the report.
pub fn analyse(input: &AnalysisInput<'_>) -> Analysis {
    let _ = input;
    unimplemented!("filled in by the analysis work")
}
