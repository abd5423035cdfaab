//! Property tests of the engine: accounting invariants under random orders, fee-free round trips,
//! no look-ahead, and determinism.
//!
//! Case counts stay modest (the engine itself is compiled without optimisation in tests).

use crate::config::{EngineSpec, SizingMethod};
use crate::engine::Engine;
use crate::order::{Bracket, OrderRequest, Size, TimeInForce};
use crate::outcome::BacktestOutcome;
use crate::portfolio::Portfolio;
use crate::strategy::{Ctx, EngineEvent, Intents, Strategy as TradingStrategy, StrategyError};
use crate::test_support::{bar_at, day_ts, run, series};
use market_data::{
    Bar, BarSeries, InstrumentId, InstrumentIdx, MarketKind, NANOS_PER_DAY, Price, Qty, Side,
    Timestamp,
};
use proptest::prelude::*;

pub(crate) const CASES: u32 = 64;
/// Bars are six hours apart, so DAY orders see day boundaries every four bars.
const STEP: i64 = NANOS_PER_DAY / 4;

fn ts_of(i: usize) -> Timestamp {
    Timestamp(day_ts(0).0 + i as i64 * STEP)
}

/// The shape of one random bar relative to the previous close.
#[derive(Debug, Clone, Copy)]
struct BarShape {
    gap: f64,
    ret: f64,
    up: f64,
    down: f64,
    volume: f64,
}

fn bar_shape() -> impl Strategy<Value = BarShape> {
    (
        -0.02..0.02f64,
        -0.04..0.04f64,
        0.0..0.03f64,
        0.0..0.03f64,
        prop_oneof![Just(0.0), 0.0..3_000.0f64],
    )
        .prop_map(|(gap, ret, up, down, volume)| BarShape {
            gap,
            ret,
            up,
            down,
            volume,
        })
}

/// Turns shapes into a valid OHLC series (low <= open, close <= high, all positive) from `start`.
fn build_bars(start: f64, shapes: &[BarShape], first: usize) -> Vec<Bar> {
    let mut prev = start;
    shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let open = prev * (1.0 + s.gap);
            let close = open * (1.0 + s.ret);
            let high = open.max(close) * (1.0 + s.up);
            let low = open.min(close) * (1.0 - s.down);
            prev = close;
            bar_at(ts_of(first + i), open, high, low, close, s.volume)
        })
        .collect()
}

fn bars_strategy(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Bar>> {
    (20.0..200.0f64, prop::collection::vec(bar_shape(), len))
        .prop_map(|(start, shapes)| build_bars(start, &shapes, 0))
}

/// One random thing the random trader does on a bar.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Act {
    Order(OrderAct),
    CancelOldest,
    CancelAll,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderAct {
    /// 0 market, 1 limit, 2 stop, 3 stop-limit.
    kind: u8,
    buy: bool,
    /// 0 units, 1 auto, 2 close position.
    size: u8,
    qty: f64,
    offset: f64,
    offset2: f64,
    /// 0 GTC, 1 DAY, 2 IOC.
    tif: u8,
    bracket: bool,
    reduce_only: bool,
}

fn order_act() -> impl Strategy<Value = OrderAct> {
    (
        0u8..4,
        any::<bool>(),
        0u8..3,
        prop_oneof![1.0..60.0f64, (1u32..60).prop_map(f64::from)],
        -0.05..0.05f64,
        -0.02..0.02f64,
        0u8..3,
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(kind, buy, size, qty, offset, offset2, tif, bracket, reduce_only)| OrderAct {
                kind,
                buy,
                size,
                qty,
                offset,
                offset2,
                tif,
                bracket,
                reduce_only,
            },
        )
}

pub(crate) fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        8 => order_act().prop_map(Act::Order),
        1 => Just(Act::CancelOldest),
        1 => Just(Act::CancelAll),
    ]
}

/// Returns the request an act stands for, priced off the close the strategy just saw.
fn request(act: &OrderAct, instrument: InstrumentIdx, close: f64) -> OrderRequest {
    let side = if act.buy { Side::Buy } else { Side::Sell };
    let size = match act.size {
        0 => Size::Units(Qty(act.qty)),
        1 => Size::Auto,
        _ => Size::ClosePosition,
    };
    let px = close * (1.0 + act.offset);
    let mut req = match act.kind {
        0 => OrderRequest::market(instrument, side, size),
        1 => OrderRequest::limit(instrument, side, size, Price(px)),
        2 => OrderRequest::stop(instrument, side, size, Price(px)),
        _ => OrderRequest::stop_limit(
            instrument,
            side,
            size,
            Price(px),
            Price(px * (1.0 + act.offset2)),
        ),
    };
    req = req.with_tif(match act.tif {
        0 => TimeInForce::Gtc,
        1 => TimeInForce::Day,
        _ => TimeInForce::Ioc,
    });
    if act.bracket {
        let (tp, sl) = if act.buy {
            (close * 1.05, close * 0.95)
        } else {
            (close * 0.95, close * 1.05)
        };
        req = req.with_bracket(Bracket {
            take_profit: Some(Price(tp)),
            stop_loss: Some(Price(sl)),
        });
    }
    if act.reduce_only {
        req = req.reduce_only();
    }
    req
}

/// A strategy that does what a random plan says: `plan[instrument][event]` lists its acts,
/// priced off the bar's close, the trade's price or the quote's mid.
#[derive(Debug, Clone)]
pub(crate) struct RandomTrader {
    plan: Vec<Vec<Vec<Act>>>,
    seen: Vec<usize>,
}

impl RandomTrader {
    pub(crate) fn new(plan: Vec<Vec<Vec<Act>>>) -> Self {
        let n = plan.len();
        Self {
            plan,
            seen: vec![0; n],
        }
    }
}

impl TradingStrategy for RandomTrader {
    fn name(&self) -> &str {
        "random"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        let EngineEvent::Market(market) = event else {
            return Ok(());
        };
        let price = match market.kind {
            MarketKind::Bar(bar) => bar.close,
            MarketKind::Trade(trade) => trade.price.0,
            MarketKind::Quote(quote) => 0.5 * (quote.bid.0 + quote.ask.0),
        };
        let idx = market.instrument;
        let t = self.seen[idx.get()];
        self.seen[idx.get()] += 1;
        let Some(acts) = self.plan[idx.get()].get(t) else {
            return Ok(());
        };
        for act in acts {
            match act {
                Act::Order(order) => out.submit(request(order, idx, price)),
                Act::CancelOldest => {
                    if let Some(order) = ctx.open_orders(idx).first() {
                        out.cancel(order.id);
                    }
                }
                Act::CancelAll => out.cancel_all(idx),
            }
        }
        Ok(())
    }
}

pub(crate) fn spec_strategy() -> impl Strategy<Value = EngineSpec> {
    let broker = (
        0.0..0.01f64,
        prop_oneof![Just(0.0), 0.0..3.0f64],
        prop_oneof![Just(0.0), 0.0..30.0f64],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(None), (0.05..1.0f64).prop_map(Some)],
        prop::bool::weighted(0.8),
    );
    let sizing = (any::<bool>(), 0.1..1.0f64);
    let risk = (
        prop_oneof![Just(1.0), 0.3..1.0f64],
        prop_oneof![Just(1.0), 0.05..0.5f64],
    );
    (broker, sizing, risk).prop_map(|(b, s, r)| {
        let mut spec = EngineSpec::default();
        spec.broker.commission = b.0;
        spec.broker.commission_fixed = b.1;
        spec.broker.slippage_bps = b.2;
        spec.broker.allow_short = b.3;
        spec.broker.fractional = b.4;
        spec.broker.close_at_end = b.5;
        spec.broker.max_volume_participation = b.6;
        spec.broker.limit_fill_on_touch = b.7;
        spec.sizing.method = if s.0 {
            SizingMethod::AllIn
        } else {
            SizingMethod::FixedFraction
        };
        spec.sizing.fraction = s.1;
        spec.risk.max_position_fraction = r.0;
        spec.risk.max_drawdown = r.1;
        spec
    })
}

/// A random market: one or two instruments on the same timestamps, and a plan for each.
#[derive(Debug, Clone)]
struct Market {
    data: Vec<Vec<Bar>>,
    plan: Vec<Vec<Vec<Act>>>,
}

fn market_strategy() -> impl Strategy<Value = Market> {
    (1usize..=2, 5usize..50).prop_flat_map(|(instruments, len)| {
        let data = prop::collection::vec(bars_strategy(len..len + 1), instruments);
        let plan = prop::collection::vec(
            prop::collection::vec(prop::collection::vec(act(), 0..3), len),
            instruments,
        );
        (data, plan).prop_map(|(data, plan)| Market { data, plan })
    })
}

fn to_series(data: &[Vec<Bar>]) -> Vec<BarSeries> {
    data.iter()
        .enumerate()
        .map(|(i, bars)| series(&format!("I{i}"), bars.clone()))
        .collect()
}

/// What the ledger says at one point, plus the floating-point scale to compare it at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    pub(crate) equity: f64,
    pub(crate) cash: f64,
    valued: f64,
    realized: f64,
    unrealized: f64,
    fees: f64,
    pub(crate) scale: f64,
}

impl Snapshot {
    pub(crate) fn of(p: &Portfolio) -> Self {
        // Summed here, independently of `Portfolio::equity`.
        let mut valued = p.cash();
        let mut unrealized = 0.0;
        for pos in p.positions() {
            valued += pos.qty * pos.mark;
            unrealized += pos.qty * (pos.mark - pos.avg_price);
        }
        let equity = p.equity();
        let scale = equity
            .abs()
            .max(p.cash().abs())
            .max(p.gross_exposure())
            .max(p.initial_cash());
        Self {
            equity,
            cash: p.cash(),
            valued,
            realized: p.realized(),
            unrealized,
            fees: p.fees(),
            scale,
        }
    }
}

/// Checks equity = cash + sum(qty x mark) now, and that the change of equity since `prev` is the
/// change of realized plus unrealized P&L minus fees.
pub(crate) fn check_step(
    prev: &Snapshot,
    now: &Snapshot,
    initial: f64,
    step: usize,
) -> Result<(), TestCaseError> {
    let tol = 1e-9 * prev.scale.max(now.scale);
    prop_assert!(
        (now.equity - now.valued).abs() <= tol,
        "step {step}: equity {} != cash + positions {}",
        now.equity,
        now.valued
    );
    let d_equity = now.equity - prev.equity;
    let d_parts = (now.realized - prev.realized) + (now.unrealized - prev.unrealized)
        - (now.fees - prev.fees);
    prop_assert!(
        (d_equity - d_parts).abs() <= tol,
        "step {step}: equity change {d_equity} != realized + unrealized - fees change {d_parts}"
    );
    let total = now.realized + now.unrealized - now.fees;
    prop_assert!(
        (now.equity - initial - total).abs() <= tol,
        "step {step}: equity - initial {} != realized + unrealized - fees {total}",
        now.equity - initial
    );
    Ok(())
}

/// Drives the engine step by step through its public API, checking the ledger after each step.
fn drive(spec: &EngineSpec, market: &Market) -> Result<BacktestOutcome, TestCaseError> {
    let instruments: Vec<InstrumentId> = (0..market.data.len())
        .map(|i| InstrumentId::new(format!("I{i}")))
        .collect();
    let len = market.data[0].len();
    let trader = RandomTrader::new(market.plan.clone());
    let mut engine = Engine::new(spec.clone(), instruments, trader, len);
    let initial = spec.broker.initial_cash;
    let mut prev = Snapshot::of(engine.portfolio());
    for t in 0..len {
        for (i, bars) in market.data.iter().enumerate() {
            engine
                .on_bar(InstrumentIdx(i as u32), &bars[t])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        engine
            .end_step(ts_of(t))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let now = Snapshot::of(engine.portfolio());
        check_step(&prev, &now, initial, t)?;
        if !spec.broker.allow_short {
            for pos in engine.portfolio().positions() {
                prop_assert!(
                    pos.qty >= 0.0,
                    "step {t}: short {} without allow_short",
                    pos.qty
                );
            }
            if spec.broker.commission_fixed == 0.0 {
                prop_assert!(
                    now.cash >= -1e-9 * now.scale,
                    "step {t}: cash {} < 0 long only",
                    now.cash
                );
            }
        }
        prop_assert_eq!(engine.curve().equity.last().copied(), Some(now.equity));
        prev = now;
    }
    Ok(engine.finish())
}

/// Checks what the finished run recorded against its own ledger and against the bars.
fn check_outcome(
    spec: &EngineSpec,
    market: &Market,
    out: &BacktestOutcome,
) -> Result<(), TestCaseError> {
    let initial = spec.broker.initial_cash;
    let equity = out.final_equity();
    let unrealized: f64 = out
        .positions
        .iter()
        .map(|p| p.qty * (p.mark - p.avg_price))
        .sum();
    let valued: f64 = out.positions.iter().map(|p| p.qty * p.mark).sum::<f64>()
        + out.curve.cash.last().copied().unwrap_or(initial);
    let gross: f64 = out.positions.iter().map(|p| (p.qty * p.mark).abs()).sum();
    let tol = 1e-9 * equity.abs().max(gross).max(initial);
    prop_assert!(
        (equity - valued).abs() <= tol,
        "final equity {equity} != cash + positions {valued}"
    );
    let total = out.realized + unrealized - out.fees;
    prop_assert!(
        (equity - initial - total).abs() <= tol,
        "final equity change {} != {total}",
        equity - initial
    );
    let fees: f64 = out.fills.iter().map(|f| f.fee).sum();
    prop_assert!(
        (fees - out.fees).abs() <= 1e-9 * out.fees.max(1.0),
        "fills' fees {fees} != {}",
        out.fees
    );
    if spec.broker.close_at_end {
        prop_assert!(
            out.positions.iter().all(|p| p.qty == 0.0),
            "close_at_end left {:?}",
            out.positions
        );
        prop_assert!(out.open_trades.is_empty());
    }
    for fill in &out.fills {
        prop_assert!(
            fill.qty > 0.0 && fill.price > 0.0 && fill.fee >= 0.0,
            "bad fill {fill:?}"
        );
        let order = &out.orders[fill.order_id.0 as usize - 1];
        prop_assert!(
            fill.ts > order.created || (order.created == fill.ts && is_liquidation(out, fill.ts)),
            "fill {fill:?} not after its order {order:?}"
        );
        if let Some(limit) = order.request.kind.limit_price() {
            let ok = match fill.side {
                Side::Buy => fill.price <= limit.0,
                Side::Sell => fill.price >= limit.0,
            };
            prop_assert!(ok, "fill {fill:?} beyond the limit of {order:?}");
        }
        if spec.broker.slippage_bps == 0.0 {
            let bars = &market.data[fill.instrument.get()];
            let bar = bars
                .iter()
                .find(|b| b.ts == fill.ts)
                .expect("fill on a bar");
            prop_assert!(
                fill.price >= bar.low && fill.price <= bar.high,
                "fill {fill:?} outside its bar {bar:?}"
            );
        }
    }
    if let Some(cap) = spec.broker.max_volume_participation
        && !spec.broker.close_at_end
    {
        for (i, bars) in market.data.iter().enumerate() {
            for bar in bars {
                let traded: f64 = out
                    .fills
                    .iter()
                    .filter(|f| f.instrument.get() == i && f.ts == bar.ts)
                    .map(|f| f.qty)
                    .sum();
                prop_assert!(
                    traded <= cap * bar.volume * (1.0 + 1e-9),
                    "{traded} > {cap} x {}",
                    bar.volume
                );
            }
        }
    }
    Ok(())
}

/// True when fills at `ts` come from the close-at-end liquidation (submitted and filled at once).
fn is_liquidation(out: &BacktestOutcome, ts: Timestamp) -> bool {
    out.spec.broker.close_at_end && out.curve.ts.last() == Some(&ts)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// After every step: equity = cash + sum(qty x mark), and the change of equity equals the
    /// change of realized plus unrealized P&L minus the change of fees.
    #[test]
    fn accounting_identity_holds_at_every_step(
        spec in spec_strategy(),
        market in market_strategy(),
    ) {
        let out = drive(&spec, &market)?;
        check_outcome(&spec, &market, &out)?;
    }

    /// Buying and selling the same quantity at the same price without fees changes neither cash
    /// nor equity, whatever the position before (long, short or flat).
    #[test]
    fn fee_free_round_trip_leaves_cash_and_equity_unchanged(
        cash in 1_000.0..1_000_000.0f64,
        held in prop_oneof![Just(0.0), -100.0..100.0f64],
        entry in 1.0..500.0f64,
        mark in 1.0..500.0f64,
        qty in 0.001..200.0f64,
        price in 1.0..500.0f64,
        buy_first in any::<bool>(),
    ) {
        let i = InstrumentIdx(0);
        let mut p = Portfolio::new(cash, 1);
        if held != 0.0 {
            let side = if held > 0.0 { Side::Buy } else { Side::Sell };
            p.apply_fill(i, side, held.abs(), entry, 0.0, day_ts(0));
        }
        p.mark(i, mark);
        let (cash0, equity0, qty0) = (p.cash(), p.equity(), p.position(i).qty);
        let (first, second) =
            if buy_first { (Side::Buy, Side::Sell) } else { (Side::Sell, Side::Buy) };
        p.apply_fill(i, first, qty, price, 0.0, day_ts(1));
        p.apply_fill(i, second, qty, price, 0.0, day_ts(1));
        let tol = 1e-9
            * cash0.abs().max(equity0.abs()).max(qty * price).max(held.abs() * entry.max(mark));
        prop_assert!((p.cash() - cash0).abs() <= tol, "cash {} -> {}", cash0, p.cash());
        prop_assert!((p.equity() - equity0).abs() <= tol, "equity {} -> {}", equity0, p.equity());
        prop_assert!((p.position(i).qty - qty0).abs() <= 1e-9 * qty.max(held.abs()).max(1.0));
        prop_assert_eq!(p.fees(), 0.0);
    }

    /// The same round trip through the engine: bought at one open and sold at the next open at the
    /// same price, the account ends where it started.
    #[test]
    fn fee_free_round_trip_through_the_engine(
        price in 1.0..500.0f64,
        fraction in 0.01..1.0f64,
        closes in prop::collection::vec(0.5..1.5f64, 4),
    ) {
        let cash = 10_000.0;
        let qty = (cash * fraction / price).max(0.001);
        let bars: Vec<Bar> = closes
            .iter()
            .enumerate()
            .map(|(d, &c)| {
                let close = price * c;
                bar_at(ts_of(d), price, price.max(close), price.min(close), close, 1_000.0)
            })
            .collect();
        let i = InstrumentIdx(0);
        let script = crate::test_support::Scripted::new()
            .at(0, OrderRequest::market(i, Side::Buy, Size::Units(Qty(qty))))
            .at(1, OrderRequest::market(i, Side::Sell, Size::Units(Qty(qty))));
        let out = run(&EngineSpec::default(), &[series("RT", bars)], script);
        prop_assert_eq!(out.fills.len(), 2);
        prop_assert_eq!(out.positions[0].qty, 0.0);
        let tol = 1e-9 * cash;
        prop_assert!((out.curve.cash[2] - cash).abs() <= tol, "cash {}", out.curve.cash[2]);
        prop_assert!((out.final_equity() - cash).abs() <= tol, "equity {}", out.final_equity());
        prop_assert!(out.realized.abs() <= tol, "realized {}", out.realized);
    }

    /// Changing every bar after k leaves every order, fill and equity value stamped at or before
    /// bar k unchanged.
    #[test]
    fn no_look_ahead(
        (bars, alt, k) in (8usize..50).prop_flat_map(|len| {
            (
                (20.0..200.0f64, prop::collection::vec(bar_shape(), len)),
                (20.0..200.0f64, prop::collection::vec(bar_shape(), len)),
                0..len - 1,
            )
        }).prop_map(|((s, shapes), (alt_start, alt_shapes), k)| {
            (build_bars(s, &shapes, 0), build_bars(alt_start, &alt_shapes, 0), k)
        }),
        spec in spec_strategy(),
    ) {
        let mut changed = bars[..=k].to_vec();
        changed.extend_from_slice(&alt[k + 1..]);
        let a = run(&spec, &[series("A", bars.clone())], Crossover::new());
        let b = run(&spec, &[series("A", changed)], Crossover::new());
        let cut = bars[k].ts;
        let early = |out: &BacktestOutcome| -> Vec<String> {
            out.orders
                .iter()
                .filter(|o| o.created <= cut)
                .map(|o| {
                    if o.closed.is_some_and(|c| c <= cut) {
                        format!("{o:?}")
                    } else {
                        format!("{:?} {:?} {:?}", o.id, o.request, o.created)
                    }
                })
                .collect()
        };
        prop_assert_eq!(early(&a), early(&b));
        let fills = |out: &BacktestOutcome| -> Vec<String> {
            out.fills.iter().filter(|f| f.ts <= cut).map(|f| format!("{f:?}")).collect()
        };
        prop_assert_eq!(fills(&a), fills(&b));
        let curve = |out: &BacktestOutcome| -> Vec<(u64, u64)> {
            out.curve.equity[..=k]
                .iter()
                .zip(&out.curve.cash[..=k])
                .map(|(e, c)| (e.to_bits(), c.to_bits()))
                .collect()
        };
        prop_assert_eq!(curve(&a), curve(&b));
    }

    /// The same inputs give bit-identical outcomes.
    #[test]
    fn deterministic(spec in spec_strategy(), market in market_strategy()) {
        let data = to_series(&market.data);
        let a = run(&spec, &data, RandomTrader::new(market.plan.clone()));
        let b = run(&spec, &data, RandomTrader::new(market.plan.clone()));
        prop_assert_eq!(format!("{:?}", a.orders), format!("{:?}", b.orders));
        prop_assert_eq!(format!("{:?}", a.fills), format!("{:?}", b.fills));
        prop_assert_eq!(format!("{:?}", a.trades), format!("{:?}", b.trades));
        prop_assert_eq!(format!("{:?}", a.open_trades), format!("{:?}", b.open_trades));
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(&a.curve.ts, &b.curve.ts);
        prop_assert_eq!(bits(&a.curve.equity), bits(&b.curve.equity));
        prop_assert_eq!(bits(&a.curve.cash), bits(&b.curve.cash));
        prop_assert_eq!(a.halted_at, b.halted_at);
    }
}

/// A deterministic strategy that trades on the closes it has seen: an SMA(3) / SMA(7) crossover
/// with all-in entries and full exits, plus a resting DAY limit buy below the market whenever the
/// close is under the slow average.
#[derive(Debug, Default)]
struct Crossover {
    closes: Vec<f64>,
}

impl Crossover {
    fn new() -> Self {
        Self::default()
    }

    fn sma(&self, n: usize, back: usize) -> Option<f64> {
        let end = self.closes.len().checked_sub(back)?;
        let start = end.checked_sub(n)?;
        Some(self.closes[start..end].iter().sum::<f64>() / n as f64)
    }
}

impl TradingStrategy for Crossover {
    fn name(&self) -> &str {
        "crossover"
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        let EngineEvent::Market(market) = event else {
            return Ok(());
        };
        let MarketKind::Bar(bar) = market.kind else {
            return Ok(());
        };
        let idx = market.instrument;
        self.closes.push(bar.close);
        let (Some(fast), Some(slow), Some(fast_prev), Some(slow_prev)) = (
            self.sma(3, 0),
            self.sma(7, 0),
            self.sma(3, 1),
            self.sma(7, 1),
        ) else {
            return Ok(());
        };
        let qty = ctx.qty(idx);
        if fast_prev <= slow_prev && fast > slow && qty == 0.0 {
            out.submit(OrderRequest::market(idx, Side::Buy, Size::Auto));
        } else if fast_prev >= slow_prev && fast < slow && qty > 0.0 {
            out.submit(OrderRequest::market(idx, Side::Sell, Size::ClosePosition));
        } else if bar.close < slow && ctx.open_orders(idx).is_empty() {
            let price = Price(bar.close * 0.99);
            out.submit(
                OrderRequest::limit(idx, Side::Buy, Size::Units(Qty(1.0)), price)
                    .with_tif(TimeInForce::Day),
            );
        }
        Ok(())
    }
}
