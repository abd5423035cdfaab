//! The figures read from a run's equity curve, all fed by one pass over its steps.
//!
//! A long run's curve lives on disk and is read back in chunks; every figure of the report that
//! needs it (charts, drawdowns, calendar returns, rolling windows, the histogram's range, the
//! positions over time) takes each step as it comes and keeps only what it shows, so the
//! analysis holds no vector as long as the run. Only the buy-and-hold benchmark is a full
//! column: it is computed from the bars, which a run that has it holds anyway.

use super::drawdowns::WorstDrawdowns;
use super::figures::CurveFacts;
use super::figures::Row;
use super::histogram::Range;
use super::periodic::CalendarReturns;
use super::positions::{PositionFigures, StepExposures};
use super::series::{Downsampler, MAX_POINTS};
use super::tearsheet::CalendarFigures;
use super::{Drawdown, MonthlyRow, PositionSeries, Series};
use engine::column::CurveChunk;
use engine::metrics::{
    RollingBeta, RollingMeanVar, RunningDrawdown, window_sharpe, window_volatility,
};

/// What one pass over the curve gathers, then hands over with [`CurvePass::finish`].
pub(crate) struct CurvePass<'a> {
    periods_per_year: f64,
    /// The benchmark's equity at each step (empty without one).
    bench: &'a [f64],
    /// Steps seen, and the last one's equity.
    at: usize,
    prev: Option<f64>,
    facts: CurveFacts,
    equity: Downsampler,
    bench_chart: Downsampler,
    exposure: Downsampler,
    drawdown: RunningDrawdown,
    underwater: Downsampler,
    window: RollingMeanVar,
    sharpe: Downsampler,
    volatility: Downsampler,
    beta_window: RollingBeta,
    beta: Downsampler,
    worst: WorstDrawdowns,
    calendar: CalendarReturns,
    bench_calendar: CalendarReturns,
    tearsheet: CalendarFigures,
    range: Range,
    positions: Option<(StepExposures<'a>, PositionFigures)>,
}

/// The figures of the pass.
pub(crate) struct CurveFigures {
    pub(crate) facts: CurveFacts,
    pub(crate) equity: Series,
    pub(crate) bench: Series,
    pub(crate) exposure: Series,
    pub(crate) underwater: Series,
    pub(crate) rolling_sharpe: Series,
    pub(crate) rolling_volatility: Series,
    pub(crate) rolling_beta: Series,
    /// The deepest drawdown periods, deepest first.
    pub(crate) worst: Vec<Drawdown>,
    pub(crate) monthly: Vec<MonthlyRow>,
    pub(crate) yearly: Vec<(i32, f64)>,
    pub(crate) yearly_bench: Vec<(i32, f64)>,
    /// Trailing-return and calendar rows of the metrics table.
    pub(crate) calendar_rows: Vec<Row>,
    /// The returns' range, for the histogram's bins.
    pub(crate) range: Range,
    /// Positions over time and their rows, when they could be valued.
    pub(crate) positions: Option<(PositionSeries, Vec<Row>)>,
}

/// What the pass needs besides the curve.
pub(crate) struct PassSpec<'a> {
    /// Steps of the curve.
    pub(crate) steps: usize,
    pub(crate) initial_cash: f64,
    pub(crate) periods_per_year: f64,
    /// Returns in each rolling window.
    pub(crate) window: usize,
    /// The benchmark's equity at each step (empty without one).
    pub(crate) bench: &'a [f64],
    /// How to value the positions step by step, when the bars were kept.
    pub(crate) positions: Option<StepExposures<'a>>,
    /// How many of the deepest drawdowns to keep.
    pub(crate) worst: usize,
}

impl<'a> CurvePass<'a> {
    /// Returns the figures before the first step.
    pub(crate) fn new(spec: PassSpec<'a>) -> Self {
        let steps = spec.steps;
        let returns = steps.saturating_sub(1);
        let bench_steps = steps.min(spec.bench.len());
        let chart = |len| Downsampler::new(len, MAX_POINTS);
        Self {
            periods_per_year: spec.periods_per_year,
            bench: spec.bench,
            at: 0,
            prev: None,
            facts: CurveFacts::default(),
            equity: chart(steps),
            bench_chart: chart(bench_steps),
            exposure: chart(steps),
            drawdown: RunningDrawdown::default(),
            underwater: chart(steps),
            window: RollingMeanVar::new(spec.window),
            sharpe: chart(returns),
            volatility: chart(returns),
            beta_window: RollingBeta::new(spec.window),
            beta: chart(bench_steps.saturating_sub(1)),
            worst: WorstDrawdowns::new(spec.worst),
            calendar: CalendarReturns::new(spec.initial_cash),
            bench_calendar: CalendarReturns::new(spec.initial_cash),
            tearsheet: CalendarFigures::new(spec.initial_cash),
            range: Range::default(),
            positions: (spec.positions).map(|p| (p, PositionFigures::new(steps, MAX_POINTS))),
        }
    }

    /// Takes the next chunk of the curve.
    pub(crate) fn chunk(&mut self, c: CurveChunk<'_>) {
        for ((&ts, &e), &cash) in c.ts.iter().zip(c.equity).zip(c.cash) {
            let t = ts.0;
            self.facts.step(t);
            self.equity.push(t, e);
            self.exposure.push(t, (e - cash) / e);
            self.underwater.push(t, self.drawdown.push(e));
            self.worst.push(t, e);
            self.calendar.push(t, e);
            self.tearsheet.push(t, e);
            let bench = self.bench.get(self.at).copied();
            if let Some(b) = bench {
                self.bench_chart.push(t, b);
                self.bench_calendar.push(t, b);
            }
            if let Some(p) = self.prev {
                let r = e / p - 1.0;
                self.facts.ret(r);
                self.range.push(r);
                let w = self.window.push(r);
                self.sharpe.push(t, window_sharpe(w, self.periods_per_year));
                self.volatility
                    .push(t, window_volatility(w, self.periods_per_year));
                if let (Some(b), Some(&before)) = (bench, self.bench.get(self.at - 1)) {
                    self.beta
                        .push(t, self.beta_window.push(r, b / before - 1.0));
                }
            }
            if let Some((steps, figures)) = &mut self.positions {
                figures.push(t, &steps.step(ts, e));
            }
            self.prev = Some(e);
            self.at += 1;
        }
    }

    /// Returns the figures of the steps seen.
    pub(crate) fn finish(self) -> CurveFigures {
        let (monthly, yearly) = self.calendar.finish();
        CurveFigures {
            facts: self.facts,
            equity: self.equity.finish(),
            bench: self.bench_chart.finish(),
            exposure: self.exposure.finish(),
            underwater: self.underwater.finish(),
            rolling_sharpe: self.sharpe.finish(),
            rolling_volatility: self.volatility.finish(),
            rolling_beta: self.beta.finish(),
            worst: self.worst.finish(),
            monthly,
            yearly,
            yearly_bench: self.bench_calendar.finish().1,
            calendar_rows: self.tearsheet.rows(),
            range: self.range,
            positions: self.positions.map(|(_, figures)| figures.finish()),
        }
    }
}
