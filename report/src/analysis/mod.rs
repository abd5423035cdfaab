//! The figures of a P&L report, computed once from a run and kept as data.
//!
//! [`Analysis`] is what `report.html` shows and what `report.json` stores, so a report can be
//! rendered again, or compared with another run's, without the run's bars. Series are already
//! downsampled for charts (min and max of each bucket kept, so no extreme is lost), which keeps
//! the page small however long the run. A figure that is undefined for a run (Sharpe of a
//! constant equity, payoff without losing trades) is `None`, shown as "n/a" with a note, never
//! NaN or infinity.
//!
//! Conventions beyond DESIGN.md's "Metric conventions" (all figures are per equity step):
//! - skew and kurtosis are scipy's defaults as empyrical and pyfolio use them: biased
//!   (population) moments, kurtosis in excess of the normal's 3 (Fisher);
//! - the benchmark is buy and hold without fees ([`buy_and_hold`]); beta = cov(r, b) / var(b),
//!   alpha = (1 + mean(r - beta b))^P - 1, information ratio = mean(r - b) / std(r - b) x
//!   sqrt(P), tracking error = std(r - b) x sqrt(P), standard deviations with ddof 1;
//! - payoff ratio = mean winning P&L / |mean losing P&L| of closed trades; average holding time
//!   is over closed trades, entry fill to exit fill;
//! - exposure (the series) is net: (equity - cash) / equity, so a hedged book reads near 0;
//!   "time in market" (the metric) is the share of steps with any position;
//! - monthly and yearly returns chain UTC period-end equity, the first from the initial capital;
//!   trailing returns, best and worst periods and winning shares follow quantstats
//!   (`tearsheet.rs`); positions over time follow pyfolio (`positions.rs`);
//! - with `[metrics] risk_free`, Sharpe, Sortino, the probabilistic Sharpe and alpha are of
//!   returns in excess of the per-period rate `(1 + rf)^(1/P) - 1`;
//! - drawdown periods run from a peak to the first point back at its level (equal counts), and
//!   `Unit::Date` values are nanoseconds as `f64` (exact to about 0.3 µs).

mod benchmark;
mod build;
pub(crate) mod calendar;
mod drawdowns;
mod figures;
mod histogram;
mod pass;
mod periodic;
mod positions;
mod prices;
mod series;
mod tearsheet;
mod terminal;
mod trades;

#[cfg(test)]
mod chunked_tests;
#[cfg(test)]
mod tests;

pub use benchmark::{Benchmark, NoBenchmark, buy_and_hold, buy_and_hold_on};
pub use build::{AnalysisInput, Measured, PriceInput, analyse, measure, rolling_window};
pub use series::{MAX_POINTS, downsample_indices};
pub use terminal::terminal_summary;

use serde::{Deserialize, Serialize};

/// How a figure is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A fraction shown as a percentage (0.12 -> 12.00%).
    Percent,
    /// A plain ratio (Sharpe, beta): three decimals.
    Ratio,
    /// An amount of the account currency: two decimals.
    Money,
    /// A whole number.
    Count,
    /// A duration in nanoseconds, shown in days (or hours and minutes when short).
    Duration,
    /// A UTC instant in nanoseconds since the epoch, shown as a date (or date and time).
    Date,
}

impl Unit {
    /// Returns how a summary figure of `unit` is shown.
    pub(crate) fn of(unit: engine::MetricUnit) -> Self {
        match unit {
            engine::MetricUnit::Money => Self::Money,
            engine::MetricUnit::Percent => Self::Percent,
            engine::MetricUnit::Ratio => Self::Ratio,
            engine::MetricUnit::Count => Self::Count,
            engine::MetricUnit::Duration => Self::Duration,
        }
    }
}

/// One named figure of the metrics table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Stable key, as in `summary.json` (`sharpe`, `max_drawdown`...).
    pub key: String,
    /// Label for people.
    pub label: String,
    /// The value; `None` when undefined for this run (see [`Analysis::notes`]).
    pub value: Option<f64>,
    /// How to show it.
    pub unit: Unit,
    /// The table group: `Returns`, `Risk`, `Trades` or `Benchmark`.
    pub group: String,
}

/// A time series for a chart: parallel columns of UTC nanoseconds and values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// UTC nanoseconds since the epoch, increasing.
    pub ts: Vec<i64>,
    /// One value per timestamp (finite; undefined stretches are left out).
    pub values: Vec<f64>,
}

/// Positions over time as fractions of equity, downsampled (see `positions.rs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PositionSeries {
    /// Long positions' value.
    pub long: Series,
    /// Short positions' value (negative).
    pub short: Series,
    /// Long plus |short|: the gross leverage.
    pub gross: Series,
    /// Long plus short.
    pub net: Series,
    /// The five largest positions' |value|.
    pub top5: Series,
}

/// One drawdown: from a peak of equity to its lowest point and back to the peak's level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drawdown {
    /// When equity last stood at the peak.
    pub peak: i64,
    /// When it was lowest.
    pub valley: i64,
    /// When it first regained the peak, or `None` if it had not by the end.
    pub recovery: Option<i64>,
    /// The fall from the peak to the valley, as a negative fraction.
    pub depth: f64,
    /// Equity points from the peak to the recovery (or to the end).
    pub periods: usize,
    /// Time from the peak to the recovery (or to the end), in nanoseconds.
    pub duration_ns: i64,
}

/// One year of monthly returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthlyRow {
    /// The calendar year (UTC).
    pub year: i32,
    /// Return of each month January..December, `None` for months outside the run.
    pub months: [Option<f64>; 12],
    /// Return of the year (of its part within the run).
    pub total: f64,
}

/// A histogram of per-period returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Bin edges, one more than the counts, increasing.
    pub edges: Vec<f64>,
    /// Returns in each bin.
    pub counts: Vec<u64>,
}

/// Per-instrument figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstrumentRow {
    /// The instrument.
    pub name: String,
    /// Realized plus unrealized P&L, after fees.
    pub pnl: f64,
    /// P&L as a fraction of the initial capital.
    pub contribution: f64,
    /// Closed round trips.
    pub trades: usize,
    /// Share of winning round trips, `None` without any.
    pub win_rate: Option<f64>,
    /// Fees paid.
    pub fees: f64,
    /// Traded notional.
    pub turnover: f64,
}

/// One round trip (or an open position at the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeRow {
    /// Its number in the run: the closed trades from 1 in closing order, then the open ones
    /// (0 in a report written before numbers were kept).
    #[serde(default)]
    pub number: usize,
    /// The instrument.
    pub instrument: String,
    /// `long` or `short`.
    pub side: String,
    /// Units.
    pub qty: f64,
    /// Entry time, UTC nanoseconds.
    pub entry_ts: i64,
    /// Average entry price.
    pub entry_price: f64,
    /// Exit time, `None` while open.
    pub exit_ts: Option<i64>,
    /// Average exit price (the last mark while open).
    pub exit_price: f64,
    /// P&L after fees.
    pub pnl: f64,
    /// Return on the entry notional.
    pub ret: f64,
    /// Fees paid.
    pub fees: f64,
    /// The order that opened it, when its decision was explained by a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_order: Option<u64>,
    /// The order that closed it, when its decision was explained by a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_order: Option<u64>,
}

/// One order of a model-driven run and why the model predicted what it did (see
/// `attributions.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRow {
    /// The order's id.
    pub order_id: u64,
    /// When it was placed, UTC nanoseconds.
    pub ts: i64,
    /// The instrument.
    pub instrument: String,
    /// `buy` or `sell`.
    pub side: String,
    /// The model's id.
    pub model_id: String,
    /// The class explained.
    pub class: String,
    /// Class probabilities as text (`down 0.21, flat 0.30, up 0.49`).
    pub probabilities: String,
    /// Top features and their contributions as text (`rsi +0.081, vol -0.034`).
    pub drivers: String,
}

/// One instrument's prices with the run's fills on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceChart {
    /// The instrument.
    pub instrument: String,
    /// Closes, downsampled.
    pub close: Series,
    /// Buy fills: time and price.
    pub buys: Vec<(i64, f64)>,
    /// Sell fills: time and price.
    pub sells: Vec<(i64, f64)>,
}

/// Everything a P&L report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The run's name.
    pub title: String,
    /// Strategy, instruments and period in one line.
    pub subtitle: String,
    /// The metrics table, in display order.
    pub metrics: Vec<Metric>,
    /// Equity, downsampled.
    pub equity: Series,
    /// The benchmark's equity on the same capital, and its name.
    pub benchmark: Option<(String, Series)>,
    /// Drawdown from the running peak (negative fractions), downsampled.
    pub underwater: Series,
    /// Rolling annualised Sharpe ratio over `rolling_window` periods.
    pub rolling_sharpe: Series,
    /// Rolling annualised volatility over `rolling_window` periods.
    pub rolling_volatility: Series,
    /// Rolling beta against the benchmark over `rolling_window` periods (empty without one).
    #[serde(default)]
    pub rolling_beta: Series,
    /// Periods in the rolling window.
    pub rolling_window: usize,
    /// Share of equity held in positions (net, signed), downsampled.
    pub exposure: Series,
    /// Monthly returns, one row per year.
    pub monthly: Vec<MonthlyRow>,
    /// Return of each calendar year.
    pub yearly: Vec<(i32, f64)>,
    /// The benchmark's return of each calendar year (empty without a benchmark).
    #[serde(default)]
    pub yearly_benchmark: Vec<(i32, f64)>,
    /// Long, short, gross and net exposure and top-5 concentration over time (empty when the
    /// run's bars were not kept).
    #[serde(default)]
    pub positions: PositionSeries,
    /// Distribution of per-period returns.
    pub returns: Histogram,
    /// The five worst drawdowns, worst first.
    pub worst_drawdowns: Vec<Drawdown>,
    /// Per-instrument figures, largest P&L first.
    pub instruments: Vec<InstrumentRow>,
    /// The round trips listed: every one, closed then open, up to [`engine::SHOWN_TRADES`];
    /// past that the best, the worst and the latest closed ones, then the open ones.
    pub trades: Vec<TradeRow>,
    /// The run's round trips, closed and open (the rows of its trades table).
    #[serde(default)]
    pub trades_total: usize,
    /// The explained orders of a model-driven run (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<DecisionRow>,
    /// Prices with fills for the first instruments (none when the run kept no bars).
    pub prices: Vec<PriceChart>,
    /// Why figures are undefined or charts are empty (no trades, one bar, constant equity...).
    pub notes: Vec<String>,
}
