//! Property tests of tick replay: random trade and quote streams (several events may share a
//! timestamp) under the random trader of the bar property tests. After every event the ledger
//! balances; no order fills on or before the timestamp it was placed at; every fill price is one
//! the rules allow for an event stamped at the fill.

use crate::config::EngineSpec;
use crate::engine::Engine;
use crate::outcome::BacktestOutcome;
use crate::property_tests::{Act, CASES, RandomTrader, Snapshot, act, check_step, spec_strategy};
use crate::test_support::day_ts;
use market_data::{
    InstrumentId, InstrumentIdx, MarketEvent, MarketKind, NANOS_PER_SECOND, Price, Qty, Quote,
    Side, Timestamp, Trade,
};
use proptest::prelude::*;

/// One random tick relative to its instrument's previous price.
#[derive(Debug, Clone, Copy)]
struct TickShape {
    instrument: u32,
    /// Seconds after the previous event; 0 shares its timestamp.
    gap: i64,
    trade: bool,
    ret: f64,
    /// Half the spread of a quote, as a fraction of the price.
    half_spread: f64,
    qty: f64,
}

fn tick_shape(instruments: u32) -> impl Strategy<Value = TickShape> {
    (
        0..instruments,
        prop_oneof![2 => Just(0i64), 3 => 1i64..3, 1 => Just(86_400i64)],
        any::<bool>(),
        -0.01..0.01f64,
        0.0..0.003f64,
        prop_oneof![Just(0.0), 1.0..200.0f64],
    )
        .prop_map(
            |(instrument, gap, trade, ret, half_spread, qty)| TickShape {
                instrument,
                gap,
                trade,
                ret,
                half_spread,
                qty,
            },
        )
}

/// Turns shapes into a stream sorted by (timestamp, instrument), prices starting at 100.
fn build_ticks(instruments: u32, shapes: &[TickShape]) -> Vec<MarketEvent> {
    let mut price = vec![100.0; instruments as usize];
    let mut ts = day_ts(0);
    let mut last_instrument = 0;
    shapes
        .iter()
        .map(|s| {
            ts = Timestamp(ts.0 + s.gap * NANOS_PER_SECOND);
            // Within one timestamp, instruments must not go down.
            let instrument = if s.gap == 0 {
                s.instrument.max(last_instrument)
            } else {
                s.instrument
            };
            last_instrument = instrument;
            let p = &mut price[instrument as usize];
            *p *= 1.0 + s.ret;
            let kind = if s.trade {
                MarketKind::Trade(Trade {
                    price: Price(*p),
                    qty: Qty(s.qty),
                    aggressor: Side::Buy,
                })
            } else {
                MarketKind::Quote(Quote {
                    bid: Price(*p * (1.0 - s.half_spread)),
                    ask: Price(*p * (1.0 + s.half_spread)),
                    bid_qty: Qty(s.qty),
                    ask_qty: Qty(s.qty * 0.5),
                })
            };
            MarketEvent {
                ts_event: ts,
                ts_recv: ts,
                instrument: InstrumentIdx(instrument),
                kind,
            }
        })
        .collect()
}

/// A random tick market and a plan for the random trader.
#[derive(Debug, Clone)]
struct TickMarket {
    instruments: u32,
    events: Vec<MarketEvent>,
    plan: Vec<Vec<Vec<Act>>>,
}

fn tick_market() -> impl Strategy<Value = TickMarket> {
    (1u32..=2, 5usize..80).prop_flat_map(|(instruments, len)| {
        let shapes = prop::collection::vec(tick_shape(instruments), len);
        let plan = prop::collection::vec(
            prop::collection::vec(prop::collection::vec(act(), 0..3), len),
            instruments as usize,
        );
        (shapes, plan).prop_map(move |(shapes, plan)| TickMarket {
            instruments,
            events: build_ticks(instruments, &shapes),
            plan,
        })
    })
}

/// Drives the engine event by event, checking the ledger after each event.
fn drive(spec: &EngineSpec, market: &TickMarket) -> Result<BacktestOutcome, TestCaseError> {
    let names = (0..market.instruments)
        .map(|i| InstrumentId::new(format!("I{i}")))
        .collect();
    let trader = RandomTrader::new(market.plan.clone());
    let mut engine = Engine::new(spec.clone(), names, trader, market.events.len());
    let initial = spec.broker.initial_cash;
    let mut prev = Snapshot::of(engine.portfolio());
    let fail = |e: crate::error::Error| TestCaseError::fail(e.to_string());
    for (i, event) in market.events.iter().enumerate() {
        engine.on_event(event).map_err(fail)?;
        let now = Snapshot::of(engine.portfolio());
        check_step(&prev, &now, initial, i)?;
        prev = now;
        let ts = event.ts_event;
        if market.events.get(i + 1).is_none_or(|n| n.ts_event != ts) {
            engine.end_step(ts).map_err(fail)?;
            let now = Snapshot::of(engine.portfolio());
            check_step(&prev, &now, initial, i)?;
            prop_assert_eq!(engine.curve().ts.last().copied(), Some(ts));
            prop_assert_eq!(engine.curve().equity.last().copied(), Some(now.equity));
            prev = now;
        }
    }
    Ok(engine.finish())
}

/// Returns true when `price` is one a fill on `side` may get from `event` with no slippage: the
/// trade price or the quoted side, or, for an order with limit `limit`, the limit itself when the
/// event's price reached it.
fn allowed(event: &MarketEvent, side: Side, price: f64, limit: Option<f64>) -> bool {
    let at = match (event.kind, side) {
        (MarketKind::Trade(t), _) => t.price.0,
        (MarketKind::Quote(q), Side::Buy) => q.ask.0,
        (MarketKind::Quote(q), Side::Sell) => q.bid.0,
        (MarketKind::Bar(_), _) => return false,
    };
    let reached = |l: f64| match side {
        Side::Buy => at <= l,
        Side::Sell => at >= l,
    };
    price == at || limit.is_some_and(|l| price == l && reached(l))
}

fn check_outcome(
    spec: &EngineSpec,
    market: &TickMarket,
    out: &BacktestOutcome,
) -> Result<(), TestCaseError> {
    let last = market.events.last().map(|e| e.ts_event);
    for fill in &out.fills {
        let order = &out.orders[fill.order_id.0 as usize - 1];
        let liquidation = spec.broker.close_at_end && Some(fill.ts) == last;
        prop_assert!(
            fill.ts > order.created || (liquidation && fill.ts == order.created),
            "fill {fill:?} not after its order {order:?}"
        );
        if let Some(limit) = order.request.kind.limit_price() {
            let ok = match fill.side {
                Side::Buy => fill.price <= limit.0,
                Side::Sell => fill.price >= limit.0,
            };
            prop_assert!(ok, "fill {fill:?} beyond the limit of {order:?}");
        }
        if spec.broker.slippage_bps == 0.0 && !(liquidation && fill.ts == order.created) {
            let limit = order.request.kind.limit_price().map(|p| p.0);
            let ok = market
                .events
                .iter()
                .filter(|e| e.ts_event == fill.ts && e.instrument == fill.instrument)
                .any(|e| allowed(e, fill.side, fill.price, limit));
            prop_assert!(
                ok,
                "fill {fill:?} of {order:?} matches no event at its time"
            );
        }
    }
    let mut held = vec![0.0; market.instruments as usize];
    for fill in &out.fills {
        held[fill.instrument.get()] += fill.side.sign() * fill.qty;
    }
    for (pos, sum) in out.positions.iter().zip(&held) {
        prop_assert!(
            (pos.qty - sum).abs() <= 1e-9 * sum.abs().max(1.0),
            "position {} != sum of fills {sum}",
            pos.qty
        );
    }
    let steps = market
        .events
        .windows(2)
        .filter(|w| w[0].ts_event != w[1].ts_event)
        .count()
        + 1;
    prop_assert_eq!(out.curve.len(), steps);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// After every tick the ledger balances, and what the run recorded obeys the tick rules.
    #[test]
    fn tick_replay_balances_and_never_fills_early(
        spec in spec_strategy(),
        market in tick_market(),
    ) {
        let out = drive(&spec, &market)?;
        check_outcome(&spec, &market, &out)?;
    }

    /// The driver gives the same outcome as feeding the engine by hand.
    #[test]
    fn tick_driver_matches_the_engine_fed_by_hand(
        spec in spec_strategy(),
        market in tick_market(),
    ) {
        let by_hand = drive(&spec, &market)?;
        let names = (0..market.instruments)
            .map(|i| InstrumentId::new(format!("I{i}")))
            .collect();
        let trader = RandomTrader::new(market.plan.clone());
        let driven = crate::engine::backtest(&spec, crate::test_support::ticks(names, &market.events), trader, None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(format!("{:?}", by_hand.fills), format!("{:?}", driven.fills));
        prop_assert_eq!(format!("{:?}", by_hand.orders), format!("{:?}", driven.orders));
        prop_assert_eq!(&by_hand.curve, &driven.curve);
    }
}
