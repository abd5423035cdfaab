//! Computing an [`Analysis`] from a run's outcome, its curve and, when kept, its bars.
//!
//! The curve is read a fixed number of times whatever its length: three passes at once feed
//! every figure (`pass.rs`), the returns counted into the histogram's bins by the third (their
//! range was worked out as a spilled curve was written, or is read first from one in memory);
//! with a benchmark, one more reads the stamps to value it and three the equity against it.

use super::benchmark::{Benchmark, NoBenchmark, buy_and_hold_on};
use super::calendar::format_instant;
use super::figures::{Facts, metric_table};
use super::histogram::Bins;
use super::pass::{CurveFigures, CurvePass, PassSpec};
use super::positions::{StepExposures, position_rows};
use super::prices::{MAX_CHARTS, MAX_MARKERS, price_charts};
use super::trades::{decision_rows, instrument_rows, trade_rows};
use super::{Analysis, PositionSeries, PriceChart};
use engine::Summary;
use engine::column::{Curve, EquityColumn};
use engine::metrics::{RelativeMetrics, per_period_rate};
use engine::{BacktestOutcome, TradeTally};
use market_data::Bar;
use std::fmt;

/// Drawdowns listed in the worst-drawdowns table.
const WORST_DRAWDOWNS: usize = 5;

/// One instrument's bars, for the benchmark and the price charts.
#[derive(Debug, Clone, Copy)]
pub struct PriceInput<'a> {
    /// The instrument's name, as in the outcome.
    pub instrument: &'a str,
    /// Its bars, oldest first.
    pub bars: &'a [Bar],
}

/// What an analysis is computed from.
#[derive(Clone, Copy)]
pub struct AnalysisInput<'a> {
    /// The run's name.
    pub title: &'a str,
    /// The strategy's name.
    pub strategy: &'a str,
    /// What the run recorded (its curve is read from `curve`).
    pub outcome: &'a BacktestOutcome,
    /// The run's equity curve: `&outcome.curve` when the run kept it in memory, else the one
    /// its writer kept on disk.
    pub curve: &'a dyn Curve,
    /// The bars of the run's instruments (empty when the run kept none, e.g. a streamed
    /// catalog): the benchmark and price charts need them.
    pub prices: &'a [PriceInput<'a>],
    /// The benchmark: buy and hold of this instrument; `None`: of every instrument in equal
    /// shares of the capital.
    pub benchmark: Option<&'a str>,
    /// A series that is not traded to benchmark against instead (`[output] benchmark = {
    /// path = ... }`): buy and hold of its closes.
    pub external_benchmark: Option<PriceInput<'a>>,
}

impl fmt::Debug for AnalysisInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnalysisInput")
            .field("title", &self.title)
            .field("strategy", &self.strategy)
            .field("outcome", &self.outcome)
            .field("steps", &self.curve.steps())
            .field("prices", &self.prices)
            .field("benchmark", &self.benchmark)
            .field("external_benchmark", &self.external_benchmark)
            .finish()
    }
}

/// Returns the periods of the rolling Sharpe and volatility windows for a bar frequency.
///
/// Half a year of bars up to daily frequency (126 for 252 bars a year, 26 for weekly bars), so
/// the line reacts within a season but is not noise; one month of bars for intraday frequencies
/// (8,190 for 390 one-minute bars a day), as half a year of minutes would flatten the line. Never
/// fewer than 2, the least a standard deviation needs.
pub fn rolling_window(periods_per_year: f64) -> usize {
    let periods = if periods_per_year <= 400.0 {
        periods_per_year / 2.0
    } else {
        periods_per_year / 12.0
    };
    if periods.is_finite() {
        (periods.round() as usize).max(2)
    } else {
        2
    }
}

/// Computes every figure of the report.
///
/// Never panics and never yields NaN or infinity: figures that are undefined for the run are
/// `None` with an explanation in [`Analysis::notes`]. Figures also in `summary.json` are taken
/// from `summary`, so both agree; alpha, beta, information ratio and tracking error are
/// measured against the benchmark built here ([`super::buy_and_hold`]), which gives the same
/// numbers as [`Summary::with_benchmark`] on that benchmark.
pub fn analyse(input: &AnalysisInput<'_>, summary: &Summary) -> Analysis {
    measure(input, summary.periods_per_year, summary.risk_free).finish(summary)
}

/// The figures of the report that do not need the run's summary (every pass over its curve,
/// bars and fills), so that they can be worked out beside it; [`Measured::finish`] completes
/// the analysis with it.
pub struct Measured<'a> {
    input: AnalysisInput<'a>,
    window: usize,
    benchmark: Result<Benchmark, NoBenchmark>,
    figures: CurveFigures,
    relative: RelativeMetrics,
    trades: TradeTally,
    prices: Vec<PriceChart>,
    /// The notes that follow those of the metric table.
    notes: Vec<String>,
}

impl fmt::Debug for Measured<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Measured")
            .field("input", &self.input)
            .finish_non_exhaustive()
    }
}

/// Works out the figures of the report that do not need the run's summary, annualised with `periods_per_year` over the annual `risk_free` rate: those the summary has
/// (or will have).
pub fn measure<'a>(
    input: &AnalysisInput<'a>,
    periods_per_year: f64,
    risk_free: f64,
) -> Measured<'a> {
    let outcome = input.outcome;
    let curve = input.curve;
    let steps = curve.steps();
    let ppy = periods_per_year;
    let initial = outcome.initial_cash;

    let benchmark = match &input.external_benchmark {
        Some(ext) => buy_and_hold_on(
            curve,
            initial,
            std::slice::from_ref(ext),
            Some(ext.instrument),
        ),
        None => buy_and_hold_on(curve, initial, input.prices, input.benchmark),
    };
    let bench_equity = benchmark.as_ref().map_or(&[][..], |b| &b.equity);
    let window = rolling_window(ppy);
    // Every closed trade and fill, those handed on included, summed up.
    let trades = TradeTally::of(outcome);
    let positions = StepExposures::new(outcome, input.prices);
    let valued = positions.is_some();
    let pass = CurvePass::new(PassSpec {
        steps,
        initial_cash: initial,
        periods_per_year: ppy,
        window,
        bench: bench_equity,
        positions,
        worst: WORST_DRAWDOWNS,
        bins: Bins::of(curve.return_range()),
    });
    let figures = pass.run(curve);
    let rf = per_period_rate(risk_free, ppy);
    let relative = RelativeMetrics::of_equity(&EquityColumn(curve), bench_equity, ppy, rf);

    let mut notes = Vec::new();
    let facts = figures.facts;
    if facts.returns >= 2 && facts.returns < window {
        notes.push(format!(
            "Rolling Sharpe and volatility need {window} periods; the run has {} returns.",
            facts.returns
        ));
    }
    if !valued {
        notes.push(
            "No positions over time: the run's bars were not kept to value its holdings."
                .to_string(),
        );
    }
    let (prices, thinned) = price_charts(outcome, &trades, input.prices);
    if input.prices.iter().all(|p| p.bars.is_empty()) {
        notes.push("No price charts: the run's bars were not kept.".to_string());
    } else if outcome.instruments.len() > MAX_CHARTS {
        notes.push(format!(
            "Price charts show the first {MAX_CHARTS} of {} instruments.",
            outcome.instruments.len()
        ));
    }
    if thinned {
        notes.push(format!(
            "Fill markers are thinned to at most {MAX_MARKERS} per price chart (first and last kept)."
        ));
    }
    if let Some(at) = outcome.halted_at {
        // A kill before any event has no market time to name.
        let when = if at.0 == i64::MIN {
            "before the first market event".to_string()
        } else {
            format!("at {}", format_instant(at.0))
        };
        notes.push(if outcome.killed {
            format!("An operator's kill switch (a signal or the kill file) stopped trading {when}.")
        } else {
            format!("The drawdown kill switch stopped trading {when}.")
        });
    }
    Measured {
        input: *input,
        window,
        benchmark,
        figures,
        relative,
        trades,
        prices,
        notes,
    }
}

impl Measured<'_> {
    /// Completes the analysis with the run's `summary` (annualised as these figures were).
    pub fn finish(self, summary: &Summary) -> Analysis {
        let (input, figures, trades) = (self.input, self.figures, self.trades);
        let outcome = input.outcome;
        let steps = input.curve.steps();
        let facts = figures.facts;
        let (positions, position_rows) = figures
            .positions
            .unwrap_or_else(|| (PositionSeries::default(), position_rows(None)));
        let mut extra = figures.calendar_rows;
        extra.extend(position_rows);
        let (metrics, undefined) = metric_table(&Facts {
            summary,
            curve: facts,
            worst: figures.worst.first(),
            trades: &trades,
            benchmark: self.benchmark.as_ref(),
            relative: self.relative,
            extra,
        });

        let mut notes = Vec::new();
        match steps {
            0 => notes.push(
                "The run recorded no equity (no bars were processed): there is nothing to chart."
                    .to_string(),
            ),
            1 => notes.push(
                "The run has a single equity point: returns, risk and charts need at least two."
                    .to_string(),
            ),
            _ => {}
        }
        notes.extend(undefined);
        notes.extend(self.notes);

        Analysis {
            title: input.title.to_string(),
            subtitle: subtitle(&input, steps, facts.first.zip(facts.last)),
            metrics,
            equity: figures.equity,
            benchmark: self.benchmark.ok().map(|b| (b.name, figures.bench)),
            underwater: figures.underwater,
            rolling_sharpe: figures.rolling_sharpe,
            rolling_volatility: figures.rolling_volatility,
            rolling_beta: figures.rolling_beta,
            rolling_window: self.window,
            exposure: figures.exposure,
            monthly: figures.monthly,
            yearly: figures.yearly,
            yearly_benchmark: figures.yearly_bench,
            positions,
            returns: figures.returns,
            worst_drawdowns: figures.worst,
            instruments: instrument_rows(outcome, &trades, summary),
            trades: trade_rows(outcome),
            trades_total: outcome.closed_trades() + outcome.open_trades.len(),
            decisions: decision_rows(outcome),
            prices: self.prices,
            notes,
        }
    }
}

/// "strategy · instruments · period", naming at most three instruments; `span` is the first
/// and last of the run's `steps` stamps.
fn subtitle(input: &AnalysisInput<'_>, steps: usize, span: Option<(i64, i64)>) -> String {
    let names: Vec<String> = input
        .outcome
        .instruments
        .iter()
        .map(ToString::to_string)
        .collect();
    let instruments = match names.len() {
        0 => "no instruments".to_string(),
        1..=3 => names.join(", "),
        n => format!("{} and {} more", names[..3].join(", "), n - 3),
    };
    let period = match span {
        Some((a, b)) => format!(
            "{} to {} ({steps} period{})",
            format_instant(a),
            format_instant(b),
            if steps == 1 { "" } else { "s" }
        ),
        _ => "no data".to_string(),
    };
    format!("{} · {instruments} · {period}", input.strategy)
}
