//! The summary of a run: its headline metrics, overall and per instrument (`summary.json`).

use crate::column::{Curve, EquityColumn, TimeColumn};
use crate::handed_on::TradeTally;
use crate::metrics::{
    Annualisation, CurveFigures, RelativeMetrics, annualisation, per_period_rate,
};
use crate::outcome::BacktestOutcome;
use serde::Serialize;

/// How a figure reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUnit {
    /// An amount of the account's currency.
    Money,
    /// A fraction, shown as a percentage.
    Percent,
    /// A plain number.
    Ratio,
    /// A whole number.
    Count,
    /// Nanoseconds, shown as a duration.
    Duration,
}

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// More is better (Sharpe, a drawdown closer to 0).
    Higher,
    /// Less is better (volatility, fees).
    Lower,
    /// Neither: a fact about the run (its trades, its exposure).
    Neither,
}

/// One scalar figure of a [`Summary`], declared once: its key (in `summary.json`, the sweep
/// table and `rank_by`), its label and unit (the report, the sweep page), which way is better,
/// and how it is read from a summary.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// The key, as in `summary.json`.
    pub key: &'static str,
    /// The label people read.
    pub label: &'static str,
    /// How it reads.
    pub unit: MetricUnit,
    /// Which way is better.
    pub better: Better,
    /// Whether it is a column of the sweep table. The sweep journal's format fixes these: a
    /// new column would keep old journals from resuming.
    pub in_sweep: bool,
    /// Reads it from a summary.
    pub value: Reading,
}

/// How a figure is read from a summary: a real number, or a whole one (a count).
#[derive(Debug, Clone, Copy)]
pub enum Reading {
    /// A real number.
    Real(fn(&Summary) -> f64),
    /// A whole number.
    Whole(fn(&Summary) -> usize),
}

impl MetricDef {
    /// Returns the figure of `summary`.
    pub fn of(&self, summary: &Summary) -> f64 {
        match self.value {
            Reading::Real(read) => read(summary),
            Reading::Whole(read) => read(summary) as f64,
        }
    }

    /// Returns whether the figure is a whole number (written as an integer in tables).
    pub fn is_whole(&self) -> bool {
        matches!(self.value, Reading::Whole(_))
    }
}

/// Every scalar figure of a summary; the sweep table's columns first, in their order.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        key: "initial_cash",
        label: "Initial capital",
        unit: MetricUnit::Money,
        better: Better::Neither,
        in_sweep: true,
        value: Reading::Real(|s| s.initial_cash),
    },
    MetricDef {
        key: "final_equity",
        label: "Final equity",
        unit: MetricUnit::Money,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.final_equity),
    },
    MetricDef {
        key: "total_return",
        label: "Total return",
        unit: MetricUnit::Percent,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.total_return),
    },
    MetricDef {
        key: "cagr",
        label: "CAGR",
        unit: MetricUnit::Percent,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.cagr),
    },
    MetricDef {
        key: "annual_volatility",
        label: "Annual volatility",
        unit: MetricUnit::Percent,
        better: Better::Lower,
        in_sweep: true,
        value: Reading::Real(|s| s.annual_volatility),
    },
    MetricDef {
        key: "sharpe",
        label: "Sharpe ratio",
        unit: MetricUnit::Ratio,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.sharpe),
    },
    MetricDef {
        key: "sortino",
        label: "Sortino ratio",
        unit: MetricUnit::Ratio,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.sortino),
    },
    MetricDef {
        key: "max_drawdown",
        label: "Max drawdown",
        unit: MetricUnit::Percent,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.max_drawdown),
    },
    MetricDef {
        key: "max_drawdown_duration",
        label: "Longest drawdown (periods)",
        unit: MetricUnit::Count,
        better: Better::Lower,
        in_sweep: true,
        value: Reading::Whole(|s| s.max_drawdown_duration),
    },
    MetricDef {
        key: "calmar",
        label: "Calmar ratio",
        unit: MetricUnit::Ratio,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.calmar),
    },
    MetricDef {
        key: "var_95",
        label: "VaR 95% (per period)",
        unit: MetricUnit::Percent,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.var_95),
    },
    MetricDef {
        key: "cvar_95",
        label: "CVaR 95% (per period)",
        unit: MetricUnit::Percent,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.cvar_95),
    },
    MetricDef {
        key: "trades",
        label: "Closed trades",
        unit: MetricUnit::Count,
        better: Better::Neither,
        in_sweep: true,
        value: Reading::Whole(|s| s.trades),
    },
    MetricDef {
        key: "open_trades",
        label: "Open trades",
        unit: MetricUnit::Count,
        better: Better::Neither,
        in_sweep: true,
        value: Reading::Whole(|s| s.open_trades),
    },
    MetricDef {
        key: "win_rate",
        label: "Win rate",
        unit: MetricUnit::Percent,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.win_rate),
    },
    MetricDef {
        key: "profit_factor",
        label: "Profit factor",
        unit: MetricUnit::Ratio,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.profit_factor),
    },
    MetricDef {
        key: "expectancy",
        label: "Expectancy",
        unit: MetricUnit::Money,
        better: Better::Higher,
        in_sweep: true,
        value: Reading::Real(|s| s.expectancy),
    },
    MetricDef {
        key: "fees",
        label: "Total fees",
        unit: MetricUnit::Money,
        better: Better::Lower,
        in_sweep: true,
        value: Reading::Real(|s| s.fees),
    },
    MetricDef {
        key: "exposure",
        label: "Time in market",
        unit: MetricUnit::Percent,
        better: Better::Neither,
        in_sweep: true,
        value: Reading::Real(|s| s.exposure),
    },
    MetricDef {
        key: "turnover",
        label: "Turnover (x mean equity)",
        unit: MetricUnit::Ratio,
        better: Better::Neither,
        in_sweep: true,
        value: Reading::Real(|s| s.turnover),
    },
    MetricDef {
        key: "periods_per_year",
        label: "Periods per year",
        unit: MetricUnit::Count,
        better: Better::Neither,
        in_sweep: true,
        value: Reading::Real(|s| s.periods_per_year),
    },
    MetricDef {
        key: "periods",
        label: "Periods",
        unit: MetricUnit::Count,
        better: Better::Neither,
        in_sweep: true,
        value: Reading::Whole(|s| s.periods),
    },
    MetricDef {
        key: "skew",
        label: "Skew",
        unit: MetricUnit::Ratio,
        better: Better::Neither,
        in_sweep: false,
        value: Reading::Real(|s| s.skew),
    },
    MetricDef {
        key: "kurtosis",
        label: "Excess kurtosis",
        unit: MetricUnit::Ratio,
        better: Better::Neither,
        in_sweep: false,
        value: Reading::Real(|s| s.kurtosis),
    },
    MetricDef {
        key: "omega",
        label: "Omega ratio",
        unit: MetricUnit::Ratio,
        better: Better::Higher,
        in_sweep: false,
        value: Reading::Real(|s| s.omega),
    },
    MetricDef {
        key: "tail_ratio",
        label: "Tail ratio",
        unit: MetricUnit::Ratio,
        better: Better::Higher,
        in_sweep: false,
        value: Reading::Real(|s| s.tail_ratio),
    },
    MetricDef {
        key: "stability",
        label: "Stability",
        unit: MetricUnit::Ratio,
        better: Better::Higher,
        in_sweep: false,
        value: Reading::Real(|s| s.stability),
    },
    MetricDef {
        key: "payoff_ratio",
        label: "Payoff ratio",
        unit: MetricUnit::Ratio,
        better: Better::Higher,
        in_sweep: false,
        value: Reading::Real(|s| s.payoff_ratio),
    },
    MetricDef {
        key: "avg_holding_time_ns",
        label: "Average holding time",
        unit: MetricUnit::Duration,
        better: Better::Neither,
        in_sweep: false,
        value: Reading::Real(|s| s.avg_holding_time_ns),
    },
    MetricDef {
        key: "risk_free",
        label: "Risk-free rate (annual)",
        unit: MetricUnit::Percent,
        better: Better::Neither,
        in_sweep: false,
        value: Reading::Real(|s| s.risk_free),
    },
    MetricDef {
        key: "probabilistic_sharpe",
        label: "Probabilistic Sharpe (SR > 0)",
        unit: MetricUnit::Percent,
        better: Better::Higher,
        in_sweep: false,
        value: Reading::Real(|s| s.probabilistic_sharpe),
    },
    MetricDef {
        key: "ulcer_index",
        label: "Ulcer index",
        unit: MetricUnit::Percent,
        better: Better::Lower,
        in_sweep: false,
        value: Reading::Real(|s| s.ulcer_index),
    },
    MetricDef {
        key: "kelly",
        label: "Kelly fraction",
        unit: MetricUnit::Percent,
        better: Better::Higher,
        in_sweep: false,
        value: Reading::Real(|s| s.kelly),
    },
    MetricDef {
        key: "longest_win_streak",
        label: "Longest winning streak (periods)",
        unit: MetricUnit::Count,
        better: Better::Higher,
        in_sweep: false,
        value: Reading::Whole(|s| s.longest_win_streak),
    },
    MetricDef {
        key: "longest_loss_streak",
        label: "Longest losing streak (periods)",
        unit: MetricUnit::Count,
        better: Better::Lower,
        in_sweep: false,
        value: Reading::Whole(|s| s.longest_loss_streak),
    },
    MetricDef {
        key: "alpha",
        label: "Alpha (annualised)",
        unit: MetricUnit::Percent,
        better: Better::Higher,
        in_sweep: false,
        value: Reading::Real(|s| s.alpha),
    },
    MetricDef {
        key: "beta",
        label: "Beta",
        unit: MetricUnit::Ratio,
        better: Better::Neither,
        in_sweep: false,
        value: Reading::Real(|s| s.beta),
    },
    MetricDef {
        key: "information_ratio",
        label: "Information ratio",
        unit: MetricUnit::Ratio,
        better: Better::Higher,
        in_sweep: false,
        value: Reading::Real(|s| s.information_ratio),
    },
    MetricDef {
        key: "tracking_error",
        label: "Tracking error",
        unit: MetricUnit::Percent,
        better: Better::Lower,
        in_sweep: false,
        value: Reading::Real(|s| s.tracking_error),
    },
];

/// Returns the figure `key` of [`METRICS`].
pub fn metric(key: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.key == key)
}

/// Figures of one instrument within a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentSummary {
    /// The instrument's name.
    pub instrument: String,
    /// Bars processed.
    pub bars: usize,
    /// Closed round trips.
    pub trades: usize,
    /// Realized P&L minus fees of closed trades, plus the open trade at its mark.
    pub pnl: f64,
    /// Commission paid.
    pub fees: f64,
    /// Units held at the end.
    pub final_qty: f64,
    /// The last price seen.
    pub last_price: f64,
}

/// The headline figures of a run; `summary.json` holds these plus the config it ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Starting cash.
    pub initial_cash: f64,
    /// Equity after the last step.
    pub final_equity: f64,
    /// final / initial - 1.
    pub total_return: f64,
    /// Compound annual growth rate over the periods of the curve.
    pub cagr: f64,
    /// Standard deviation of per-period returns, annualised.
    pub annual_volatility: f64,
    /// Annualised Sharpe ratio, risk-free 0.
    pub sharpe: f64,
    /// Annualised Sortino ratio, downside below 0 over all periods.
    pub sortino: f64,
    /// Worst peak-to-trough fall of equity (negative fraction).
    pub max_drawdown: f64,
    /// Longest stretch from a peak to its recovery, in periods.
    pub max_drawdown_duration: usize,
    /// CAGR over |max drawdown|.
    pub calmar: f64,
    /// 5th percentile of per-period returns.
    pub var_95: f64,
    /// Mean of the worst 5% of per-period returns.
    pub cvar_95: f64,
    /// Skewness of per-period returns (biased, scipy's default).
    pub skew: f64,
    /// Excess (Fisher) kurtosis of per-period returns (biased, scipy's default).
    pub kurtosis: f64,
    /// Sum of gains over sum of losses of per-period returns (threshold 0).
    pub omega: f64,
    /// |95th percentile| over |5th percentile| of per-period returns.
    pub tail_ratio: f64,
    /// R² of a linear fit to cumulative log returns.
    pub stability: f64,
    /// Probability that the true Sharpe ratio exceeds 0 (Bailey and López de Prado).
    pub probabilistic_sharpe: f64,
    /// Root mean square of the drawdowns, as fractions.
    pub ulcer_index: f64,
    /// Kelly fraction of per-period returns: win rate - loss rate / payoff.
    pub kelly: f64,
    /// Most consecutive periods that gained.
    pub longest_win_streak: usize,
    /// Most consecutive periods that lost.
    pub longest_loss_streak: usize,
    /// Closed round trips.
    pub trades: usize,
    /// Round trips still open at the end.
    pub open_trades: usize,
    /// Share of closed trades with positive P&L.
    pub win_rate: f64,
    /// Gross profit over gross loss of closed trades.
    pub profit_factor: f64,
    /// Mean P&L per closed trade.
    pub expectancy: f64,
    /// Mean winning P&L over |mean losing P&L| of closed trades.
    pub payoff_ratio: f64,
    /// Mean time from entry to exit of closed trades, in nanoseconds.
    pub avg_holding_time_ns: f64,
    /// Commission paid.
    pub fees: f64,
    /// Share of periods in which a position was held at any time.
    pub exposure: f64,
    /// Traded notional over mean equity.
    pub turnover: f64,
    /// Annualised alpha against the benchmark (set by [`Summary::with_benchmark`]).
    pub alpha: f64,
    /// Beta against the benchmark (set by [`Summary::with_benchmark`]).
    pub beta: f64,
    /// Information ratio against the benchmark (set by [`Summary::with_benchmark`]).
    pub information_ratio: f64,
    /// Annualised tracking error against the benchmark (set by [`Summary::with_benchmark`]).
    pub tracking_error: f64,
    /// The annual risk-free rate behind Sharpe, Sortino, alpha and the probabilistic Sharpe.
    pub risk_free: f64,
    /// The annualisation used.
    pub periods_per_year: f64,
    /// Why that annualisation (inferred from the bars, or set in the config).
    pub annualisation: String,
    /// Number of periods (time steps) in the equity curve.
    pub periods: usize,
    /// When the drawdown kill switch fired, if it did.
    pub halted_at: Option<String>,
    /// Figures per instrument.
    pub instruments: Vec<InstrumentSummary>,
}

/// How a run's figures are measured: `[metrics]` of the config.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MetricsSpec {
    /// Periods per year; inferred from the timestamps when `None`.
    pub periods_per_year: Option<f64>,
    /// Annual risk-free rate (0.04 for 4%).
    pub risk_free: f64,
}

impl MetricsSpec {
    /// Returns the annualisation of a run whose curve is `curve`: the configured one, else the
    /// one its timestamps show (worked out as they were written, or read now).
    pub fn annualisation_of(&self, curve: &dyn Curve) -> Annualisation {
        self.periods_per_year.map_or_else(
            || {
                curve
                    .annualisation()
                    .unwrap_or_else(|| annualisation(&TimeColumn(curve)))
            },
            Annualisation::configured,
        )
    }
}

impl Summary {
    /// Computes the summary of a run with a risk-free rate of 0; `periods_per_year` overrides
    /// the one inferred from the timestamps.
    ///
    /// Figures against a benchmark are `NaN` (null in `summary.json`) until
    /// [`Summary::with_benchmark`] sets them.
    pub fn new(outcome: &BacktestOutcome, periods_per_year: Option<f64>) -> Self {
        Self::measured(
            outcome,
            MetricsSpec {
                periods_per_year,
                risk_free: 0.0,
            },
        )
    }

    /// Computes the summary of a run as `spec` says, from the curve it holds in memory.
    pub fn measured(outcome: &BacktestOutcome, spec: MetricsSpec) -> Self {
        Self::measured_over(outcome, &outcome.curve, spec)
    }

    /// Computes the summary of a run as `spec` says, every figure of its curve read from
    /// `curve` in passes over its chunks (a long run's curve, kept on disk, need not be in
    /// `outcome`, whose own curve is then ignored). The trades and instruments come from
    /// `outcome`. The same figures as [`Summary::measured`] on the same curve in memory.
    pub fn measured_over(outcome: &BacktestOutcome, curve: &dyn Curve, spec: MetricsSpec) -> Self {
        Self::measured_with(outcome, curve, spec, spec.annualisation_of(curve))
    }

    /// As [`Summary::measured_over`], annualised with `annual` (which
    /// [`MetricsSpec::annualisation_of`] gives for `curve`): figures that need only the
    /// annualisation can then be worked out beside the summary.
    pub fn measured_with(
        outcome: &BacktestOutcome,
        curve: &dyn Curve,
        spec: MetricsSpec,
        annual: Annualisation,
    ) -> Self {
        let ppy = annual.periods_per_year;
        let figures = CurveFigures::of(&EquityColumn(curve), ppy, spec.risk_free);
        let m = figures.metrics;
        let (longest_win_streak, longest_loss_streak) = figures.longest_streaks;
        let steps = figures.points;
        let final_equity = figures.last.unwrap_or(outcome.initial_cash);
        // Every closed trade and fill, those handed on included, summed up.
        let trades = TradeTally::of(outcome);
        let mean_equity = figures.equity_sum / steps.max(1) as f64;
        let instruments = outcome
            .instruments
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let closed = trades.instrument(i);
                let open = outcome
                    .open_trades
                    .iter()
                    .filter(|t| t.instrument.get() == i);
                let pos = &outcome.positions[i];
                InstrumentSummary {
                    instrument: id.to_string(),
                    bars: outcome.bars_per_instrument[i],
                    trades: closed.closed,
                    // The closed trades' sum, then the open one's, as one sum over both.
                    pnl: open.fold(closed.pnl, |sum, t| sum + t.pnl),
                    fees: pos.fees,
                    final_qty: pos.qty,
                    last_price: pos.mark,
                }
            })
            .collect();
        Self {
            initial_cash: outcome.initial_cash,
            final_equity,
            total_return: final_equity / outcome.initial_cash - 1.0,
            cagr: m.cagr,
            annual_volatility: m.annual_volatility,
            sharpe: m.sharpe,
            sortino: m.sortino,
            max_drawdown: m.max_drawdown,
            max_drawdown_duration: m.max_drawdown_duration,
            calmar: m.calmar,
            var_95: m.var_95,
            cvar_95: m.cvar_95,
            skew: m.skew,
            kurtosis: m.kurtosis,
            omega: m.omega,
            tail_ratio: m.tail_ratio,
            stability: m.stability,
            probabilistic_sharpe: figures.probabilistic_sharpe,
            ulcer_index: figures.ulcer_index,
            kelly: figures.kelly,
            longest_win_streak,
            longest_loss_streak,
            trades: trades.closed(),
            open_trades: outcome.open_trades.len(),
            win_rate: trades.win_rate(),
            profit_factor: trades.profit_factor(),
            expectancy: trades.expectancy(),
            payoff_ratio: trades.payoff_ratio(),
            avg_holding_time_ns: trades.avg_holding_time_ns(),
            fees: outcome.fees,
            exposure: outcome.exposed_steps as f64 / steps.max(1) as f64,
            turnover: outcome.traded_notional / mean_equity,
            alpha: f64::NAN,
            beta: f64::NAN,
            information_ratio: f64::NAN,
            tracking_error: f64::NAN,
            risk_free: spec.risk_free,
            periods_per_year: ppy,
            annualisation: annual.reason,
            periods: steps,
            halted_at: outcome.halted_at.map(|t| {
                // A kill before any event has no market time.
                if t.0 == i64::MIN {
                    "before the first market event".to_string()
                } else {
                    t.to_string()
                }
            }),
            instruments,
        }
    }

    /// Returns the summary with its figures against `benchmark`: the benchmark's equity on the
    /// run's steps (e.g. the report's buy and hold), so `summary.json` carries the
    /// same alpha, beta, information ratio and tracking error as the report.
    pub fn with_benchmark(self, outcome: &BacktestOutcome, benchmark: &[f64]) -> Self {
        self.with_benchmark_over(&outcome.curve, benchmark)
    }

    /// As [`Summary::with_benchmark`], the run's equity read from `curve` in chunks (a long
    /// run's, kept on disk, as [`Summary::measured_over`]).
    pub fn with_benchmark_over(mut self, curve: &dyn Curve, benchmark: &[f64]) -> Self {
        let m = RelativeMetrics::of_equity(
            &EquityColumn(curve),
            benchmark,
            self.periods_per_year,
            per_period_rate(self.risk_free, self.periods_per_year),
        );
        self.alpha = m.alpha;
        self.beta = m.beta;
        self.information_ratio = m.information_ratio;
        self.tracking_error = m.tracking_error;
        self
    }

    /// Returns the rows of the console and report summary: label and formatted value.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let pct = |x: f64| {
            if x.is_nan() {
                "n/a".to_string()
            } else {
                format!("{:.2}%", x * 100.0)
            }
        };
        let num = |x: f64| {
            if x.is_nan() {
                "n/a".to_string()
            } else {
                format!("{x:.3}")
            }
        };
        // Scientific from a quadrillion up, where more digits are noise (see the report's format).
        let money = |x: f64| {
            if x.abs() >= 1e15 {
                format!("{x:.6e}")
            } else {
                format!("{x:.2}")
            }
        };
        vec![
            ("Final equity", money(self.final_equity)),
            ("Total return", pct(self.total_return)),
            ("CAGR", pct(self.cagr)),
            ("Annual volatility", pct(self.annual_volatility)),
            ("Sharpe", num(self.sharpe)),
            ("Sortino", num(self.sortino)),
            ("Max drawdown", pct(self.max_drawdown)),
            ("Calmar", num(self.calmar)),
            (
                "Trades",
                format!("{} closed, {} open", self.trades, self.open_trades),
            ),
            ("Win rate", pct(self.win_rate)),
            ("Profit factor", num(self.profit_factor)),
            ("Fees", money(self.fees)),
            ("Exposure", pct(self.exposure)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scalar_field_of_the_summary_is_declared_once_with_its_value() {
        let json = serde_json::to_value(from_json(&serde_json::json!({}))).unwrap();
        let keys: Vec<&String> = json
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !matches!(k.as_str(), "halted_at" | "instruments" | "annualisation"))
            .collect();
        assert_eq!(keys.len(), METRICS.len(), "{keys:?}");
        for (i, m) in METRICS.iter().enumerate() {
            assert_eq!(
                METRICS.iter().filter(|o| o.key == m.key).count(),
                1,
                "{}",
                m.key
            );
            // Only this field set: a getter reading another one sees NaN or 0.
            let mut probe = json.clone();
            probe[m.key] = serde_json::json!(1000.0 + i as f64);
            assert_eq!(m.of(&from_json(&probe)), 1000.0 + i as f64, "{}", m.key);
        }
    }

    /// Reads the scalar fields back (the summary is only ever written, so it has no
    /// deserializer); a missing field is NaN, or 0 for a count.
    fn from_json(v: &serde_json::Value) -> Summary {
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        let n = |k: &str| v[k].as_f64().unwrap_or(0.0) as usize;
        Summary {
            initial_cash: f("initial_cash"),
            final_equity: f("final_equity"),
            total_return: f("total_return"),
            cagr: f("cagr"),
            annual_volatility: f("annual_volatility"),
            sharpe: f("sharpe"),
            sortino: f("sortino"),
            max_drawdown: f("max_drawdown"),
            max_drawdown_duration: n("max_drawdown_duration"),
            calmar: f("calmar"),
            var_95: f("var_95"),
            cvar_95: f("cvar_95"),
            skew: f("skew"),
            kurtosis: f("kurtosis"),
            omega: f("omega"),
            tail_ratio: f("tail_ratio"),
            stability: f("stability"),
            probabilistic_sharpe: f("probabilistic_sharpe"),
            ulcer_index: f("ulcer_index"),
            kelly: f("kelly"),
            longest_win_streak: n("longest_win_streak"),
            longest_loss_streak: n("longest_loss_streak"),
            trades: n("trades"),
            open_trades: n("open_trades"),
            win_rate: f("win_rate"),
            profit_factor: f("profit_factor"),
            expectancy: f("expectancy"),
            payoff_ratio: f("payoff_ratio"),
            avg_holding_time_ns: f("avg_holding_time_ns"),
            fees: f("fees"),
            exposure: f("exposure"),
            turnover: f("turnover"),
            alpha: f("alpha"),
            beta: f("beta"),
            information_ratio: f("information_ratio"),
            tracking_error: f("tracking_error"),
            risk_free: f("risk_free"),
            periods_per_year: f("periods_per_year"),
            annualisation: String::new(),
            periods: n("periods"),
            halted_at: None,
            instruments: Vec::new(),
        }
    }

    use crate::outcome::EquityCurve;
    use crate::test_support::{ChunkedCurve, Scripted, flat, run, series, spec};
    use market_data::Timestamp;
    use proptest::prelude::*;

    /// A run's outcome with `curve` in place of the one it recorded.
    fn outcome_with(curve: EquityCurve) -> BacktestOutcome {
        let bars = vec![flat(0, 100.0), flat(1, 101.0)];
        let mut outcome = run(&spec(), &[series("A", bars)], Scripted::new());
        outcome.curve = curve;
        outcome
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn a_summary_over_a_curve_in_chunks_equals_the_one_in_memory(
            returns in prop::collection::vec(
                prop_oneof![
                    12 => -0.05..0.05f64,
                    3 => Just(0.0),
                    1 => Just(-1.0),
                    1 => Just(f64::NAN),
                    1 => Just(f64::INFINITY),
                ],
                0..300,
            ),
            spacing in prop::sample::select(vec![60i64, 3_600, 86_400, 7 * 86_400]),
            periods_per_year in prop_oneof![Just(None), Just(Some(252.0))],
            risk_free in prop_oneof![Just(0.0), Just(0.04)],
        ) {
            let mut curve = EquityCurve::default();
            let mut e = 1_000.0;
            for (i, r) in returns.iter().enumerate() {
                e *= 1.0 + r;
                let ts = Timestamp(1_578_268_800_000_000_000 + i as i64 * spacing * 1_000_000_000);
                curve.push(ts, e, e / 2.0);
            }
            let benchmark: Vec<f64> = (curve.equity.iter().enumerate())
                .map(|(i, e)| 100.0 + (i as f64).sin() + e.abs().min(1e6) * 1e-4)
                .collect();
            let spec = MetricsSpec { periods_per_year, risk_free };
            let outcome = outcome_with(curve.clone());
            let in_memory = Summary::measured(&outcome, spec).with_benchmark(&outcome, &benchmark);
            let emptied = outcome_with(EquityCurve::default());
            for size in [1, 7, 64, curve.len().max(1)] {
                let chunks = ChunkedCurve(&curve, size);
                let over = Summary::measured_over(&emptied, &chunks, spec)
                    .with_benchmark_over(&chunks, &benchmark);
                for m in METRICS {
                    let (a, b) = (m.of(&over), m.of(&in_memory));
                    prop_assert!(same(a, b), "{} in chunks of {}: {} vs {}", m.key, size, a, b);
                }
                prop_assert_eq!(&over.annualisation, &in_memory.annualisation);
            }
        }
    }
}
