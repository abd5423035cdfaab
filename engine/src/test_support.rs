//! Builders for the engine's unit and property tests: bars on a daily grid, trades and quotes, a
//! scripted strategy that submits given orders at given market events and records every report
//! it receives (and the account after every market event), and helpers that run a backtest and
//! hand back what it recorded.

use crate::config::EngineSpec;
use crate::engine::{Replay, backtest, run_backtest};
use crate::order::{OrderId, OrderRequest};
use crate::outcome::BacktestOutcome;
use crate::strategy::{
    Ctx, EngineEvent, ExecKind, ExecReport, Intents, RejectReason, Strategy, StrategyError,
};
use market_data::{
    Bar, BarSeries, InstrumentId, InstrumentIdx, MarketEvent, MarketKind, NANOS_PER_DAY, Price,
    Qty, Quote, Side, Timestamp, Trade,
};
use std::cell::RefCell;
use std::rc::Rc;

/// Day number (since the Unix epoch) of 2024-01-01, the first day of test series.
pub(crate) const BASE_DAY: i64 = 19_723;

/// Returns midnight UTC of `day` days after 2024-01-01.
pub(crate) fn day_ts(day: i64) -> Timestamp {
    Timestamp((BASE_DAY + day) * NANOS_PER_DAY)
}

/// Returns a daily bar stamped `day` days after 2024-01-01.
pub(crate) fn bar(day: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Bar {
    bar_at(day_ts(day), open, high, low, close, volume)
}

/// Returns a bar with an explicit timestamp.
pub(crate) fn bar_at(
    ts: Timestamp,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
) -> Bar {
    Bar {
        ts,
        open,
        high,
        low,
        close,
        volume,
    }
}

/// Returns a flat daily bar (open = high = low = close = `price`) with volume 1,000.
pub(crate) fn flat(day: i64, price: f64) -> Bar {
    bar(day, price, price, price, price, 1_000.0)
}

/// Returns the series of instrument `name`.
pub(crate) fn series(name: &str, bars: Vec<Bar>) -> BarSeries {
    BarSeries::new(InstrumentId::new(name), bars)
}

/// Returns a trade print of instrument 0 at `ts` (the aggressor does not matter for fills).
pub(crate) fn trade(ts: Timestamp, price: f64, qty: f64) -> MarketEvent {
    tick(
        ts,
        MarketKind::Trade(Trade {
            price: Price(price),
            qty: Qty(qty),
            aggressor: Side::Buy,
        }),
    )
}

/// Returns a quote of instrument 0 at `ts` with 100 units on each side.
pub(crate) fn quote(ts: Timestamp, bid: f64, ask: f64) -> MarketEvent {
    quote_sized(ts, bid, ask, 100.0, 100.0)
}

/// Returns a quote of instrument 0 at `ts` with given sizes.
pub(crate) fn quote_sized(
    ts: Timestamp,
    bid: f64,
    ask: f64,
    bid_qty: f64,
    ask_qty: f64,
) -> MarketEvent {
    tick(
        ts,
        MarketKind::Quote(Quote {
            bid: Price(bid),
            ask: Price(ask),
            bid_qty: Qty(bid_qty),
            ask_qty: Qty(ask_qty),
        }),
    )
}

fn tick(ts: Timestamp, kind: MarketKind) -> MarketEvent {
    MarketEvent {
        ts_event: ts,
        ts_recv: ts,
        instrument: InstrumentIdx(0),
        kind,
    }
}

/// Returns the default spec: 10,000 cash, no costs, long only, all-in sizing, no risk limits.
pub(crate) fn spec() -> EngineSpec {
    EngineSpec::default()
}

/// Runs `strategy` over `data` and returns the outcome; a strategy error fails the test.
pub(crate) fn run<S: Strategy>(
    spec: &EngineSpec,
    data: &[BarSeries],
    strategy: S,
) -> BacktestOutcome {
    spec.validate().expect("test spec is valid");
    run_backtest(spec, data, strategy).expect("backtest runs")
}

/// The account as a strategy saw it while handling one market event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Snapshot {
    /// The event's timestamp.
    pub(crate) ts: Timestamp,
    /// Cash.
    pub(crate) cash: f64,
    /// Equity as the context reports it.
    pub(crate) equity: f64,
    /// Signed quantity of instrument 0.
    pub(crate) qty: f64,
    /// Mark of instrument 0.
    pub(crate) mark: f64,
    /// Realized P&L of instrument 0, before fees.
    pub(crate) realized: f64,
    /// Unrealized P&L of instrument 0 at its mark.
    pub(crate) unrealized: f64,
    /// Fees paid on instrument 0.
    pub(crate) fees: f64,
}

/// A strategy that submits given orders when given market events of their instrument are
/// handled, and records every execution report it receives.
#[derive(Debug, Default)]
pub(crate) struct Scripted {
    /// (event index of the order's instrument, request), in submission order.
    plan: Vec<(usize, OrderRequest)>,
    /// Market events (bars, trades or quotes) seen so far, per instrument.
    seen: Vec<usize>,
    /// Every report received, shared with the test after the strategy is moved into the engine.
    log: Rc<RefCell<Vec<ExecReport>>>,
    /// The account at every market event, shared like `log`.
    snapshots: Rc<RefCell<Vec<Snapshot>>>,
}

impl Scripted {
    /// Returns a strategy that does nothing.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds `request`, submitted while market event `index` (0-based) of its instrument is
    /// handled.
    pub(crate) fn at(mut self, index: usize, request: OrderRequest) -> Self {
        self.plan.push((index, request));
        self
    }

    /// Returns the shared log of reports.
    pub(crate) fn log(&self) -> Rc<RefCell<Vec<ExecReport>>> {
        Rc::clone(&self.log)
    }
}

impl Strategy for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        match event {
            EngineEvent::Exec(report) => self.log.borrow_mut().push(*report),
            EngineEvent::StepEnd(_) => {}
            EngineEvent::Market(market) => {
                let pos = ctx.position(InstrumentIdx(0));
                self.snapshots.borrow_mut().push(Snapshot {
                    ts: market.ts_event,
                    cash: ctx.cash(),
                    equity: ctx.equity(),
                    qty: pos.qty,
                    mark: pos.mark,
                    realized: pos.realized,
                    unrealized: pos.unrealized(),
                    fees: pos.fees,
                });
                let idx = market.instrument.get();
                if self.seen.len() <= idx {
                    self.seen.resize(idx + 1, 0);
                }
                let index = self.seen[idx];
                self.seen[idx] += 1;
                for (at, request) in &self.plan {
                    if *at == index && request.instrument == market.instrument {
                        out.submit(*request);
                    }
                }
            }
        }
        Ok(())
    }
}

/// What a scripted run recorded: the outcome and every report the strategy received.
#[derive(Debug)]
pub(crate) struct Run {
    /// Everything the engine recorded.
    pub(crate) outcome: BacktestOutcome,
    /// Every report the strategy received, in delivery order.
    pub(crate) reports: Vec<ExecReport>,
    /// The account at every market event, in delivery order.
    pub(crate) snapshots: Vec<Snapshot>,
}

impl Run {
    /// Returns the kinds of the reports about `order`, in delivery order.
    pub(crate) fn kinds(&self, order: u64) -> Vec<ExecKind> {
        self.reports
            .iter()
            .filter(|r| r.order_id == OrderId(order))
            .map(|r| r.kind)
            .collect()
    }

    /// Returns the rejection the strategy was told about for `order`, with its time.
    pub(crate) fn rejection(&self, order: u64) -> Option<(Timestamp, RejectReason)> {
        self.reports.iter().find_map(|r| match r.kind {
            ExecKind::Rejected(reason) if r.order_id == OrderId(order) => Some((r.ts, reason)),
            _ => None,
        })
    }
}

/// Runs `script` over one instrument's `bars` and returns the outcome with the reports it saw.
pub(crate) fn run_scripted(spec: &EngineSpec, bars: Vec<Bar>, script: Scripted) -> Run {
    let (log, snapshots) = (script.log(), Rc::clone(&script.snapshots));
    let outcome = run(spec, &[series("TEST", bars)], script);
    let reports = log.borrow().clone();
    let snapshots = snapshots.borrow().clone();
    Run {
        outcome,
        reports,
        snapshots,
    }
}

/// Runs `script` over a tick stream of one instrument and returns the outcome with the reports
/// and snapshots it saw.
pub(crate) fn run_ticks(spec: &EngineSpec, events: &[MarketEvent], script: Scripted) -> Run {
    spec.validate().expect("test spec is valid");
    let (log, snapshots) = (script.log(), Rc::clone(&script.snapshots));
    let outcome = backtest(
        spec,
        ticks(vec![InstrumentId::new("TEST")], events),
        script,
        None,
    )
    .expect("tick backtest runs");
    let reports = log.borrow().clone();
    let snapshots = snapshots.borrow().clone();
    Run {
        outcome,
        reports,
        snapshots,
    }
}

/// Asserts that `actual` equals `expected` within a relative tolerance of 1e-9.
#[track_caller]
pub(crate) fn assert_close(actual: f64, expected: f64) {
    let tol = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tol,
        "expected {expected}, got {actual} (diff {})",
        actual - expected
    );
}

/// The replay of a tick stream, without bars built from it.
pub(crate) fn ticks(instruments: Vec<InstrumentId>, events: &[MarketEvent]) -> Replay<'_> {
    Replay::Ticks {
        events,
        instruments,
        bars: None,
    }
}

/// A column that hands out its values in chunks of `.1`, as a curve read back from disk does.
pub(crate) struct Chunked<T>(pub Vec<T>, pub usize);

impl<T: Copy> crate::column::Column<T> for Chunked<T> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn chunks(&self, visit: &mut dyn FnMut(&[T])) {
        <[T]>::chunks(&self.0, self.1).for_each(visit);
    }
}

/// A curve that hands out its steps in chunks of `.1`, as one read back from disk does.
pub(crate) struct ChunkedCurve<'a>(pub &'a crate::outcome::EquityCurve, pub usize);

impl crate::column::Curve for ChunkedCurve<'_> {
    fn steps(&self) -> usize {
        self.0.len()
    }

    fn chunks(&self, visit: &mut dyn FnMut(crate::column::CurveChunk<'_>)) {
        let c = self.0;
        for start in (0..c.len()).step_by(self.1) {
            let end = (start + self.1).min(c.len());
            visit(crate::column::CurveChunk {
                ts: &c.ts[start..end],
                equity: &c.equity[start..end],
                cash: &c.cash[start..end],
            });
        }
    }
}
