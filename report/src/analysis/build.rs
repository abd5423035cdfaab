//! Computing an [`Analysis`] from a run's outcome and, when kept, its bars.

use super::benchmark::buy_and_hold;
use super::calendar::format_instant;
use super::drawdowns::{drawdown_periods, worst};
use super::figures::{Facts, metric_table};
use super::histogram::histogram;
use super::periodic::calendar_returns;
use super::positions::{exposures, position_rows};
use super::prices::{MAX_CHARTS, MAX_MARKERS, price_charts};
use super::series::MAX_POINTS;
use super::tearsheet::calendar_rows;
use super::trades::{decision_rows, instrument_rows, trade_rows};
use super::{Analysis, PositionSeries, Series};
use engine::BacktestOutcome;
use engine::Summary;
use engine::metrics::{
    RelativeMetrics, drawdown_series, per_period_rate, rolling_beta, rolling_sharpe,
    rolling_volatility, simple_returns,
};
use market_data::Bar;

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
    /// A series that is not traded to benchmark against instead (`[output] benchmark = {
    /// path = ... }`): buy and hold of its closes.
    pub external_benchmark: Option<PriceInput<'a>>,
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
/// from `input.summary`, so both agree; alpha, beta, information ratio and tracking error are
/// measured against the benchmark built here ([`super::buy_and_hold`]), which gives the same
/// numbers as [`Summary::with_benchmark`] on that benchmark.
pub fn analyse(input: &AnalysisInput<'_>) -> Analysis {
    let outcome = input.outcome;
    let summary = input.summary;
    let curve = &outcome.curve;
    let ts: Vec<i64> = curve.ts.iter().map(|t| t.0).collect();
    let equity = &curve.equity;
    let returns = simple_returns(equity);
    let return_ts = ts.get(1..).unwrap_or_default();
    let ppy = summary.periods_per_year;

    let periods = drawdown_periods(&ts, equity);
    let worst_drawdowns = worst(periods, WORST_DRAWDOWNS);
    let benchmark = match &input.external_benchmark {
        Some(ext) => buy_and_hold(outcome, std::slice::from_ref(ext), Some(ext.instrument)),
        None => buy_and_hold(outcome, input.prices, input.benchmark),
    };
    let rf = per_period_rate(summary.risk_free, ppy);
    let bench_returns = benchmark
        .as_ref()
        .map_or_else(|_| Vec::new(), |b| simple_returns(&b.equity));
    let relative = RelativeMetrics::with_risk_free(&returns, &bench_returns, ppy, rf);
    let window = rolling_window(ppy);
    let exposures = exposures(outcome, input.prices);
    let mut extra = calendar_rows(&ts, equity, outcome.initial_cash);
    extra.extend(position_rows(exposures.as_ref()));
    let trade_pnls: Vec<f64> = outcome.trades.iter().map(|t| t.pnl).collect();
    let (metrics, undefined) = metric_table(&Facts {
        summary,
        ts: &ts,
        returns: &returns,
        worst: worst_drawdowns.first(),
        trade_pnls: &trade_pnls,
        benchmark: benchmark.as_ref(),
        relative,
        extra,
    });

    let mut notes = Vec::new();
    match equity.len() {
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

    if returns.len() >= 2 && returns.len() < window {
        notes.push(format!(
            "Rolling Sharpe and volatility need {window} periods; the run has {} returns.",
            returns.len()
        ));
    }
    let (monthly, yearly) = calendar_returns(&ts, equity, outcome.initial_cash);
    let yearly_benchmark = benchmark.as_ref().map_or_else(
        |_| Vec::new(),
        |b| calendar_returns(&ts, &b.equity, outcome.initial_cash).1,
    );
    if exposures.is_none() {
        notes.push(
            "No positions over time: the run's bars were not kept to value its holdings."
                .to_string(),
        );
    }
    // Each long series is downsampled as soon as it is computed, so a long run holds one of
    // them at a time beside the curve, not all of them until the end.
    let exposure: Vec<f64> = equity
        .iter()
        .zip(&curve.cash)
        .map(|(e, c)| (e - c) / e)
        .collect();
    let exposure = Series::downsampled(&ts, &exposure, MAX_POINTS);
    let underwater = Series::downsampled(&ts, &drawdown_series(equity), MAX_POINTS);
    let rolling_sharpe = Series::downsampled(
        return_ts,
        &rolling_sharpe(&returns, window, ppy),
        MAX_POINTS,
    );
    let rolling_volatility = Series::downsampled(
        return_ts,
        &rolling_volatility(&returns, window, ppy),
        MAX_POINTS,
    );
    let rolling_beta = Series::downsampled(
        return_ts,
        &rolling_beta(&returns, &bench_returns, window),
        MAX_POINTS,
    );
    let (prices, thinned) = price_charts(outcome, input.prices);
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

    Analysis {
        title: input.title.to_string(),
        subtitle: subtitle(input, &ts),
        metrics,
        equity: Series::downsampled(&ts, equity, MAX_POINTS),
        benchmark: benchmark
            .ok()
            .map(|b| (b.name, Series::downsampled(&ts, &b.equity, MAX_POINTS))),
        underwater,
        rolling_sharpe,
        rolling_volatility,
        rolling_beta,
        rolling_window: window,
        exposure,
        monthly,
        yearly,
        yearly_benchmark,
        positions: exposures.map_or_else(PositionSeries::default, |e| {
            PositionSeries::of(&ts, &e, MAX_POINTS)
        }),
        returns: histogram(&returns),
        worst_drawdowns,
        instruments: instrument_rows(outcome, summary),
        trades: trade_rows(outcome),
        decisions: decision_rows(outcome),
        prices,
        notes,
    }
}

/// "strategy · instruments · period", naming at most three instruments.
fn subtitle(input: &AnalysisInput<'_>, ts: &[i64]) -> String {
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
    let period = match (ts.first(), ts.last()) {
        (Some(&a), Some(&b)) => format!(
            "{} to {} ({} period{})",
            format_instant(a),
            format_instant(b),
            ts.len(),
            if ts.len() == 1 { "" } else { "s" }
        ),
        _ => "no data".to_string(),
    };
    format!("{} · {instruments} · {period}", input.strategy)
}
