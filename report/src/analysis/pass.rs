//! The figures read from a run's equity curve, fed by three passes over its steps read at once:
//! the charts of its levels, its other figures of levels, and those of its returns.
//!
//! A long run's curve lives on disk and is read back in chunks; every figure of the report that
//! needs it (charts, drawdowns, calendar returns, rolling windows, the histogram's bins, the
//! positions over time) takes each step as it comes and keeps only what it shows, so the
//! analysis holds no vector as long as the run. Only the buy-and-hold benchmark is a full
//! column: it is computed from the bars, which a run that has it holds anyway.

use super::drawdowns::WorstDrawdowns;
use super::figures::CurveFacts;
use super::figures::Row;
use super::histogram::Bins;
use super::periodic::CalendarReturns;
use super::positions::{PositionFigures, StepExposures};
use super::series::{Downsampler, MAX_POINTS};
use super::tearsheet::CalendarFigures;
use super::{Drawdown, Histogram, MonthlyRow, PositionSeries, Series};
use engine::column::{Curve, CurveChunk};
use engine::metrics::{
    RollingBeta, RollingMeanVar, RunningDrawdown, window_sharpe, window_volatility,
};
use market_data::Timestamp;

/// What the passes over the curve gather ([`CurvePass::run`]): the charts of its levels, the
/// other figures of its levels, and those of its returns, each read by a pass of its own, all
/// at once.
pub(crate) struct CurvePass<'a> {
    charts: ChartPass,
    levels: LevelPass<'a>,
    returns: ReturnPass<'a>,
}

/// The charts of the curve's levels: equity and exposure (the drawdown's is the levels' pass:
/// the passes then take about as long each).
struct ChartPass {
    equity: Downsampler,
    exposure: Downsampler,
    /// A chunk's exposures, for their chart.
    column: Vec<f64>,
}

/// The other figures of the curve's levels (equity, the benchmark's equity), step by step.
struct LevelPass<'a> {
    /// The benchmark's equity at each step (empty without one).
    bench: &'a [f64],
    /// Steps seen.
    at: usize,
    facts: CurveFacts,
    bench_chart: Downsampler,
    drawdown: RunningDrawdown,
    underwater: Downsampler,
    /// A piece's drawdowns, for their chart.
    column: Vec<f64>,
    worst: WorstDrawdowns,
    calendar: CalendarReturns,
    bench_calendar: CalendarReturns,
    tearsheet: CalendarFigures,
    positions: Option<(StepExposures<'a>, PositionFigures)>,
}

/// The figures of the curve's returns, and of the benchmark's beside them.
struct ReturnPass<'a> {
    periods_per_year: f64,
    bench: &'a [f64],
    /// Steps seen, and the last one's equity.
    at: usize,
    prev: Option<f64>,
    facts: CurveFacts,
    window: RollingMeanVar,
    sharpe: Downsampler,
    volatility: Downsampler,
    /// A chunk's rolling Sharpe ratios and volatilities, for their charts.
    sharpe_column: Vec<f64>,
    volatility_column: Vec<f64>,
    beta_window: RollingBeta,
    beta: Downsampler,
    /// The returns' histogram, its range known before the pass.
    bins: Bins,
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
    /// The returns' histogram.
    pub(crate) returns: Histogram,
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
    /// The histogram's bins, to count the returns into.
    pub(crate) bins: Bins,
}

impl<'a> CurvePass<'a> {
    /// Returns the figures before the first step.
    pub(crate) fn new(spec: PassSpec<'a>) -> Self {
        let steps = spec.steps;
        let returns = steps.saturating_sub(1);
        let bench_steps = steps.min(spec.bench.len());
        let chart = |len| Downsampler::new(len, MAX_POINTS);
        Self {
            charts: ChartPass {
                equity: chart(steps),
                exposure: chart(steps),
                column: Vec::new(),
            },
            levels: LevelPass {
                bench: spec.bench,
                at: 0,
                facts: CurveFacts::default(),
                bench_chart: chart(bench_steps),
                drawdown: RunningDrawdown::default(),
                underwater: chart(steps),
                column: Vec::new(),
                worst: WorstDrawdowns::new(spec.worst),
                calendar: CalendarReturns::new(spec.initial_cash),
                bench_calendar: CalendarReturns::new(spec.initial_cash),
                tearsheet: CalendarFigures::new(spec.initial_cash),
                positions: (spec.positions).map(|p| (p, PositionFigures::new(steps, MAX_POINTS))),
            },
            returns: ReturnPass {
                periods_per_year: spec.periods_per_year,
                bench: spec.bench,
                at: 0,
                prev: None,
                facts: CurveFacts::default(),
                window: RollingMeanVar::new(spec.window),
                sharpe: chart(returns),
                volatility: chart(returns),
                sharpe_column: Vec::new(),
                volatility_column: Vec::new(),
                beta_window: RollingBeta::new(spec.window),
                beta: chart(bench_steps.saturating_sub(1)),
                bins: spec.bins,
            },
        }
    }

    /// Reads every chunk of `curve` in three passes at once (each reads the curve), and returns
    /// the figures.
    pub(crate) fn run(self, curve: &dyn Curve) -> CurveFigures {
        let Self {
            mut charts,
            mut levels,
            mut returns,
        } = self;
        // The levels' positions read the fills through an iterator bound to this thread, so
        // that pass runs here. The pool's other thread is busy with the summary's passes when
        // this starts, and steals the oldest job once it is done: the charts are spawned first
        // so that this thread, taking the newest first, runs the returns next. The passes then
        // end about together: the summary's two threads of passes, then the charts, on one
        // thread; the levels (with the drawdown's chart), then the returns, on this one.
        rayon::in_place_scope(|s| {
            s.spawn(|_| curve.chunks(&mut |c| charts.chunk(c)));
            s.spawn(|_| curve.stamped_equity_chunks(&mut |ts, e| returns.chunk(ts, e)));
            curve.stamped_equity_chunks(&mut |ts, e| levels.chunk(ts, e));
        });
        Self {
            charts,
            levels,
            returns,
        }
        .finish()
    }

    /// Returns the figures of the steps seen.
    fn finish(self) -> CurveFigures {
        let (charts, levels, returns) = (self.charts, self.levels, self.returns);
        let (monthly, yearly) = levels.calendar.finish();
        CurveFigures {
            facts: CurveFacts {
                first: levels.facts.first,
                last: levels.facts.last,
                ..returns.facts
            },
            equity: charts.equity.finish(),
            bench: levels.bench_chart.finish(),
            exposure: charts.exposure.finish(),
            underwater: levels.underwater.finish(),
            rolling_sharpe: returns.sharpe.finish(),
            rolling_volatility: returns.volatility.finish(),
            rolling_beta: returns.beta.finish(),
            worst: levels.worst.finish(),
            monthly,
            yearly,
            yearly_bench: levels.bench_calendar.finish().1,
            calendar_rows: levels.tearsheet.rows(),
            returns: returns.bins.finish(),
            positions: levels.positions.map(|(_, figures)| figures.finish()),
        }
    }
}

/// Steps the passes take at a time: the columns their charts take whole (see
/// [`Downsampler::extend`]) stay small and in cache, however long the curve's chunks (a curve in
/// memory is one).
const PIECE: usize = 4_096;

/// The ranges of `steps` steps in pieces of at most [`PIECE`].
fn pieces(steps: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..steps)
        .step_by(PIECE)
        .map(move |start| start..(start + PIECE).min(steps))
}

impl ChartPass {
    fn chunk(&mut self, c: CurveChunk<'_>) {
        let steps = c.ts.len().min(c.equity.len()).min(c.cash.len());
        for r in pieces(steps) {
            self.piece(CurveChunk {
                ts: &c.ts[r.clone()],
                equity: &c.equity[r.clone()],
                cash: &c.cash[r],
            });
        }
    }

    fn piece(&mut self, c: CurveChunk<'_>) {
        let stamp = |k: usize| c.ts[k].0;
        self.equity.extend(c.equity, stamp);
        self.column.clear();
        (self.column).extend(c.equity.iter().zip(c.cash).map(|(e, cash)| (e - cash) / e));
        self.exposure.extend(&self.column, stamp);
    }
}

/// Hands `piece` the timestamps and equity of a chunk's steps, in pieces (see [`pieces`]).
fn each_piece(ts: &[Timestamp], equity: &[f64], mut piece: impl FnMut(&[Timestamp], &[f64])) {
    for r in pieces(ts.len().min(equity.len())) {
        piece(&ts[r.clone()], &equity[r]);
    }
}

impl LevelPass<'_> {
    fn chunk(&mut self, ts: &[Timestamp], equity: &[f64]) {
        each_piece(ts, equity, |ts, equity| self.piece(ts, equity));
    }

    fn piece(&mut self, stamps: &[Timestamp], equity: &[f64]) {
        self.column.clear();
        (self.column).extend(equity.iter().map(|&e| self.drawdown.push(e)));
        self.underwater.extend(&self.column, |k| stamps[k].0);
        for (&ts, &e) in stamps.iter().zip(equity) {
            let t = ts.0;
            self.facts.step(t);
            self.worst.push(t, e);
            self.calendar.push(t, e);
            self.tearsheet.push(t, e);
            if let Some(&b) = self.bench.get(self.at) {
                self.bench_chart.push(t, b);
                self.bench_calendar.push(t, b);
            }
            if let Some((steps, figures)) = &mut self.positions {
                figures.push(t, &steps.step(ts, e));
            }
            self.at += 1;
        }
    }
}

impl ReturnPass<'_> {
    fn chunk(&mut self, ts: &[Timestamp], equity: &[f64]) {
        each_piece(ts, equity, |ts, equity| self.piece(ts, equity));
    }

    fn piece(&mut self, stamps: &[Timestamp], equity: &[f64]) {
        // The steps with a return: all but the run's first.
        let first = usize::from(self.prev.is_none());
        self.sharpe_column.clear();
        self.volatility_column.clear();
        for (&ts, &e) in stamps.iter().zip(equity) {
            let t = ts.0;
            if let Some(p) = self.prev {
                let r = e / p - 1.0;
                self.facts.ret(r);
                self.bins.push(r);
                let w = self.window.push(r);
                (self.sharpe_column).push(window_sharpe(w, self.periods_per_year));
                (self.volatility_column).push(window_volatility(w, self.periods_per_year));
                let bench = self.bench.get(self.at).copied();
                if let (Some(b), Some(&before)) = (bench, self.bench.get(self.at - 1)) {
                    self.beta
                        .push(t, self.beta_window.push(r, b / before - 1.0));
                }
            }
            self.prev = Some(e);
            self.at += 1;
        }
        let stamp = |k: usize| stamps[first + k].0;
        self.sharpe.extend(&self.sharpe_column, stamp);
        self.volatility.extend(&self.volatility_column, stamp);
    }
}
