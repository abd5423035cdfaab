//! One test per tick fill rule (module docs of `broker.rs`, DESIGN.md "Fill semantics"), and the
//! tick-replay driver. Every expected price, quantity and fee is a literal computed by hand in the
//! comment next to it, never by the engine's own arithmetic.
//!
//! Streams are trades and quotes of one instrument, `t(s)` seconds after 2024-01-01; a scripted
//! strategy submits orders while given events are handled, so an order "at 0" is placed on event
//! 0 and can fill from the first event stamped later on.

use crate::engine::backtest;
use crate::error::Error;
use crate::order::{Bracket, OrderKind, OrderRequest, OrderStatus, Size, TimeInForce};
use crate::strategy::ExecKind;
use crate::test_support::ticks;
use crate::test_support::{
    Run, Scripted, assert_close, bar_at, day_ts, quote, quote_sized, run_ticks, spec, trade,
};
use market_data::{
    InstrumentId, InstrumentIdx, MarketEvent, MarketKind, NANOS_PER_DAY, NANOS_PER_SECOND, Price,
    Qty, Side, Timestamp,
};

const I: InstrumentIdx = InstrumentIdx(0);

/// Returns 2024-01-01 plus `s` seconds.
fn t(s: i64) -> Timestamp {
    Timestamp(day_ts(0).0 + s * NANOS_PER_SECOND)
}

fn units(q: f64) -> Size {
    Size::Units(Qty(q))
}

fn market(side: Side, q: f64) -> OrderRequest {
    OrderRequest::market(I, side, units(q))
}

fn limit(side: Side, q: f64, price: f64) -> OrderRequest {
    OrderRequest::limit(I, side, units(q), Price(price))
}

fn stop(side: Side, q: f64, trigger: f64) -> OrderRequest {
    OrderRequest::stop(I, side, units(q), Price(trigger))
}

fn stop_limit(side: Side, q: f64, trigger: f64, lim: f64) -> OrderRequest {
    OrderRequest::stop_limit(I, side, units(q), Price(trigger), Price(lim))
}

/// Returns trades at 1-second steps from t(0), one per price.
fn trades(prices: &[f64]) -> Vec<MarketEvent> {
    prices
        .iter()
        .enumerate()
        .map(|(i, &p)| trade(t(i as i64), p, 1_000.0))
        .collect()
}

/// Returns quotes at 1-second steps from t(0), one per (bid, ask).
fn quotes(sides: &[(f64, f64)]) -> Vec<MarketEvent> {
    sides
        .iter()
        .enumerate()
        .map(|(i, &(bid, ask))| quote(t(i as i64), bid, ask))
        .collect()
}

/// Asserts the run's fills, as (second, side, qty, price, fee), in order.
#[track_caller]
fn assert_fills(run: &Run, expected: &[(i64, Side, f64, f64, f64)]) {
    let fills = &run.outcome.fills;
    assert_eq!(fills.len(), expected.len(), "fills: {fills:#?}");
    for (fill, &(second, side, qty, price, fee)) in fills.iter().zip(expected) {
        assert_eq!(fill.ts, t(second), "fill time of {fill:?}");
        assert_eq!(fill.side, side, "fill side of {fill:?}");
        assert_close(fill.qty, qty);
        assert_close(fill.price, price);
        assert_close(fill.fee, fee);
    }
}

/// Returns the status of order `id` (ids start at 1).
fn status(run: &Run, id: u64) -> OrderStatus {
    run.outcome.orders[id as usize - 1].status
}

/// Asserts the accounting identities at every market event the strategy saw: equity is cash plus
/// the position at its mark, and equals the initial cash plus realized and unrealized P&L minus
/// fees; and the mark is the event's price (the trade price, or the quote's mid).
#[track_caller]
fn assert_books_balance(run: &Run, events: &[MarketEvent]) {
    assert_eq!(run.snapshots.len(), events.len());
    let initial = run.outcome.initial_cash;
    for (snap, event) in run.snapshots.iter().zip(events) {
        assert_eq!(snap.ts, event.ts_event);
        assert_eq!(snap.equity, snap.cash + snap.qty * snap.mark, "{snap:?}");
        assert_close(
            snap.equity,
            initial + snap.realized + snap.unrealized - snap.fees,
        );
        let price = match event.kind {
            MarketKind::Trade(trade) => trade.price.0,
            MarketKind::Quote(q) => 0.5 * (q.bid.0 + q.ask.0),
            MarketKind::Bar(_) => unreachable!("tick streams only"),
        };
        assert_eq!(snap.mark, price, "{snap:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Market orders: the next ask / bid (quotes) or the next trade price
// ---------------------------------------------------------------------------------------------

#[test]
fn market_buy_on_quotes_fills_at_the_next_ask_not_the_quote_it_was_decided_on() {
    let events = quotes(&[(99.9, 100.1), (100.4, 100.6), (100.8, 101.0)]);
    let run = run_ticks(
        &spec(),
        &events,
        Scripted::new().at(0, market(Side::Buy, 10.0)),
    );
    // Decided on quote 0 (ask 100.1), filled at quote 1's ask 100.6.
    assert_fills(&run, &[(1, Side::Buy, 10.0, 100.6, 0.0)]);
    let order = &run.outcome.orders[0];
    assert_eq!(order.created, t(0));
    assert_eq!(order.closed, Some(t(1)));
    // Marked at the mid: t1 cash 10,000 - 1,006 = 8,994, + 10 x 100.5 = 9,999;
    // t2 8,994 + 10 x 100.9 = 10,003.
    assert_eq!(run.outcome.curve.ts, vec![t(0), t(1), t(2)]);
    assert_close(run.outcome.curve.cash[1], 8_994.0);
    assert_close(run.outcome.curve.cash[2], 8_994.0);
    assert_close(run.outcome.curve.equity[1], 9_999.0);
    assert_close(run.outcome.curve.equity[2], 10_003.0);
    assert_books_balance(&run, &events);
}

#[test]
fn market_sell_on_quotes_fills_at_the_next_bid() {
    let events = quotes(&[(100.0, 100.2), (101.0, 101.2), (102.0, 102.2)]);
    let script = Scripted::new()
        .at(0, market(Side::Buy, 10.0))
        .at(1, market(Side::Sell, 10.0));
    let run = run_ticks(&spec(), &events, script);
    // Buy at quote 1's ask 101.2, sell at quote 2's bid 102: realized (102 - 101.2) x 10 = 8.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 101.2, 0.0),
            (2, Side::Sell, 10.0, 102.0, 0.0),
        ],
    );
    assert_close(run.outcome.realized, 8.0);
    assert_close(run.outcome.final_equity(), 10_008.0);
    assert_books_balance(&run, &events);
}

#[test]
fn market_order_on_trades_only_fills_at_the_next_trade_price() {
    let events = trades(&[100.0, 101.0, 102.0, 103.0]);
    let script = Scripted::new()
        .at(0, market(Side::Buy, 10.0))
        .at(2, market(Side::Sell, 10.0));
    let run = run_ticks(&spec(), &events, script);
    // Buy decided on the print at 100, filled at the next print 101; sell decided at 102, filled
    // at 103: realized (103 - 101) x 10 = 20.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 101.0, 0.0),
            (3, Side::Sell, 10.0, 103.0, 0.0),
        ],
    );
    assert_close(run.outcome.realized, 20.0);
    assert_books_balance(&run, &events);
}

#[test]
fn market_order_with_no_later_tick_is_never_filled() {
    let events = trades(&[100.0, 101.0]);
    let run = run_ticks(
        &spec(),
        &events,
        Scripted::new().at(1, market(Side::Buy, 10.0)),
    );
    assert_fills(&run, &[]);
    assert_eq!(status(&run, 1), OrderStatus::Working);
}

#[test]
fn tick_slippage_moves_market_fills_against_the_trader() {
    let mut spec = spec();
    spec.broker.slippage_bps = 50.0; // 0.5 %
    let events = vec![
        quote(t(0), 99.0, 99.5),
        quote(t(1), 99.8, 100.0),
        trade(t(2), 105.0, 1_000.0),
        trade(t(3), 110.0, 1_000.0),
    ];
    let script = Scripted::new()
        .at(0, market(Side::Buy, 10.0))
        .at(2, market(Side::Sell, 10.0));
    let run = run_ticks(&spec, &events, script);
    // Buy at the ask 100 x 1.005 = 100.5; sell at the print 110 x 0.995 = 109.45.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.5, 0.0),
            (3, Side::Sell, 10.0, 109.45, 0.0),
        ],
    );
    assert_close(run.outcome.realized, 89.5); // (109.45 - 100.5) x 10
    assert_books_balance(&run, &events);
}

// ---------------------------------------------------------------------------------------------
// Limit orders
// ---------------------------------------------------------------------------------------------

#[test]
fn limit_buy_on_trades_fills_at_the_limit_when_a_print_touches_it() {
    // Placed on the print at 100 with a limit of 99.
    let events = trades(&[100.0, 99.5, 99.0, 98.0]);
    let run = run_ticks(
        &spec(),
        &events,
        Scripted::new().at(0, limit(Side::Buy, 10.0, 99.0)),
    );
    // 99.5 > 99: no fill; 99.0 touches the limit: fills at 99 (touch fills by default).
    assert_fills(&run, &[(2, Side::Buy, 10.0, 99.0, 0.0)]);
    assert_eq!(status(&run, 1), OrderStatus::Filled);
    assert_books_balance(&run, &events);
}

#[test]
fn limit_buy_on_trades_through_the_limit_fills_at_the_limit_not_the_print() {
    let events = trades(&[100.0, 99.5, 98.0]);
    let run = run_ticks(
        &spec(),
        &events,
        Scripted::new().at(0, limit(Side::Buy, 10.0, 99.0)),
    );
    // The order rests from the print at 99.5 on; a print at 98 went through its bid at 99, which
    // would have been hit first, at 99.
    assert_fills(&run, &[(2, Side::Buy, 10.0, 99.0, 0.0)]);
}

#[test]
fn marketable_limit_on_trades_takes_the_better_print_on_arrival() {
    let events = trades(&[100.0, 100.5, 100.2]);
    let run = run_ticks(
        &spec(),
        &events,
        Scripted::new().at(0, limit(Side::Buy, 10.0, 101.0)),
    );
    // The first print it can act on, 100.5, is below its limit 101: it takes that print, like a
    // market order capped at 101, rather than paying its limit.
    assert_fills(&run, &[(1, Side::Buy, 10.0, 100.5, 0.0)]);
}

#[test]
fn limit_fill_on_touch_false_needs_a_print_through_the_limit() {
    let mut spec = spec();
    spec.broker.limit_fill_on_touch = false;
    let events = trades(&[100.0, 99.0, 99.0, 98.9]);
    let run = run_ticks(
        &spec,
        &events,
        Scripted::new().at(0, limit(Side::Buy, 10.0, 99.0)),
    );
    // Two prints at 99 only touch it; 98.9 goes through: fills at the limit 99.
    assert_fills(&run, &[(3, Side::Buy, 10.0, 99.0, 0.0)]);

    // A quote whose ask is the limit still fills: it is a price someone shows.
    let events = quotes(&[(99.8, 100.0), (98.8, 99.0)]);
    let run = run_ticks(
        &spec,
        &events,
        Scripted::new().at(0, limit(Side::Buy, 10.0, 99.0)),
    );
    assert_fills(&run, &[(1, Side::Buy, 10.0, 99.0, 0.0)]);
}

#[test]
fn latency_delays_an_order_until_events_stamped_after_it_reaches_the_market() {
    // Trades one second apart; the order is decided on the first.
    let events = trades(&[100.0, 101.0, 102.0, 103.0]);
    let mut spec = spec();
    spec.broker.latency_ms = 1_500.0;
    let run = run_ticks(
        &spec,
        &events,
        Scripted::new().at(0, market(Side::Buy, 10.0)),
    );
    // Live 1.5 s after t(0): the print at t(1) is too early, t(2) is the first it can take.
    assert_fills(&run, &[(2, Side::Buy, 10.0, 102.0, 0.0)]);

    // Exactly 2 s: a print stamped at the instant it arrives is not later than it, so t(3).
    spec.broker.latency_ms = 2_000.0;
    let run = run_ticks(
        &spec,
        &events,
        Scripted::new().at(0, market(Side::Buy, 10.0)),
    );
    assert_fills(&run, &[(3, Side::Buy, 10.0, 103.0, 0.0)]);

    // Longer than the data: nothing fills, and the order is still working at the end.
    spec.broker.latency_ms = 60_000.0;
    let run = run_ticks(
        &spec,
        &events,
        Scripted::new().at(0, market(Side::Buy, 10.0)),
    );
    assert_fills(&run, &[]);
    assert_eq!(run.outcome.orders[0].status, OrderStatus::Working);
}

#[test]
fn latency_out_of_range_is_refused_naming_the_key() {
    for bad in [-1.0, f64::NAN, 86_400_001.0] {
        let mut spec = spec();
        spec.broker.latency_ms = bad;
        let err = spec.broker.validate().unwrap_err();
        assert_eq!(err.key, "broker.latency_ms", "{bad}");
    }
}

#[test]
fn limit_buy_on_quotes_fills_at_an_ask_at_or_below_the_limit() {
    let events = quotes(&[(99.8, 100.0), (99.4, 99.6), (99.2, 99.4), (99.0, 99.2)]);
    let run = run_ticks(
        &spec(),
        &events,
        Scripted::new().at(0, limit(Side::Buy, 10.0, 99.5)),
    );
    // Ask 99.6 > 99.5: no fill; ask 99.4 <= 99.5: fills at the ask 99.4, better than the limit.
    assert_fills(&run, &[(2, Side::Buy, 10.0, 99.4, 0.0)]);
    assert_books_balance(&run, &events);
}

#[test]
fn limit_sell_on_quotes_and_trades_mirrors_the_buy() {
    // Long 10 at the ask 100.2, then a limit sell at 105 placed on quote 1.
    let script = || {
        Scripted::new()
            .at(0, market(Side::Buy, 10.0))
            .at(1, limit(Side::Sell, 10.0, 105.0))
    };
    let events = quotes(&[
        (100.0, 100.2),
        (101.0, 101.2),
        (104.9, 105.1),
        (105.3, 105.5),
    ]);
    let run = run_ticks(&spec(), &events, script());
    // Bid 104.9 < 105: no fill; bid 105.3 >= 105: fills at the bid 105.3.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 101.2, 0.0),
            (3, Side::Sell, 10.0, 105.3, 0.0),
        ],
    );
    assert_close(run.outcome.realized, 41.0); // (105.3 - 101.2) x 10
    assert_books_balance(&run, &events);

    let events = trades(&[100.0, 101.0, 104.0, 106.0]);
    let run = run_ticks(&spec(), &events, script());
    // Bought at 101; the print at 106 goes through the resting offer at 105: fills at 105.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 101.0, 0.0),
            (3, Side::Sell, 10.0, 105.0, 0.0),
        ],
    );
    assert_close(run.outcome.realized, 40.0); // (105 - 101) x 10
}

// ---------------------------------------------------------------------------------------------
// Stop and stop-limit orders
// ---------------------------------------------------------------------------------------------

#[test]
fn stop_buy_on_trades_triggers_at_or_above_and_fills_at_the_print() {
    let events = trades(&[100.0, 104.9, 105.3, 106.0]);
    let run = run_ticks(
        &spec(),
        &events,
        Scripted::new().at(0, stop(Side::Buy, 10.0, 105.0)),
    );
    // 104.9 < 105: not triggered; 105.3 >= 105: fills at that print.
    assert_fills(&run, &[(2, Side::Buy, 10.0, 105.3, 0.0)]);

    let mut slipped = spec();
    slipped.broker.slippage_bps = 100.0; // 1 %
    let run = run_ticks(
        &slipped,
        &events,
        Scripted::new().at(0, stop(Side::Buy, 10.0, 105.0)),
    );
    assert_fills(&run, &[(2, Side::Buy, 10.0, 106.353, 0.0)]); // 105.3 x 1.01
}

#[test]
fn stop_buy_on_quotes_triggers_on_the_ask_and_fills_at_it() {
    let events = quotes(&[(100.0, 100.2), (104.6, 104.8), (104.9, 105.1)]);
    let run = run_ticks(
        &spec(),
        &events,
        Scripted::new().at(0, stop(Side::Buy, 10.0, 105.0)),
    );
    // Ask 104.8 < 105: not triggered; ask 105.1 >= 105 (the bid 104.9 is not): fills at 105.1.
    assert_fills(&run, &[(2, Side::Buy, 10.0, 105.1, 0.0)]);
}

#[test]
fn stop_sell_on_quotes_triggers_on_the_bid_and_fills_at_it() {
    let events = quotes(&[(100.0, 100.2), (99.0, 99.2), (95.1, 95.3), (94.7, 94.9)]);
    let script = Scripted::new()
        .at(0, market(Side::Buy, 10.0))
        .at(1, stop(Side::Sell, 10.0, 95.0));
    let run = run_ticks(&spec(), &events, script);
    // Bought at the ask 99.2; bid 95.1 > 95: not triggered; bid 94.7 <= 95: sells at 94.7.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 99.2, 0.0),
            (3, Side::Sell, 10.0, 94.7, 0.0),
        ],
    );
    assert_close(run.outcome.realized, -45.0); // (94.7 - 99.2) x 10
    assert_books_balance(&run, &events);
}

#[test]
fn stop_limit_on_trades_fills_within_the_limit_or_rests_at_it() {
    // Trigger 105, limit 105.5.
    let order = || Scripted::new().at(0, stop_limit(Side::Buy, 10.0, 105.0, 105.5));
    // The print that triggers it, 105.2, is within the limit: fills there.
    let run = run_ticks(&spec(), &trades(&[100.0, 104.0, 105.2]), order());
    assert_fills(&run, &[(2, Side::Buy, 10.0, 105.2, 0.0)]);

    // 106 triggers it above the limit: no fill; 105.8 is above the resting limit: no fill; 105.2
    // goes through the resting bid at 105.5: fills at 105.5.
    let run = run_ticks(&spec(), &trades(&[100.0, 106.0, 105.8, 105.2]), order());
    assert_fills(&run, &[(3, Side::Buy, 10.0, 105.5, 0.0)]);
    let record = &run.outcome.orders[0];
    assert_eq!(record.status, OrderStatus::Filled);
    assert_eq!(record.closed, Some(t(3)));
}

#[test]
fn stop_limit_on_quotes_triggers_on_the_ask_then_takes_an_ask_within_the_limit() {
    let events = quotes(&[
        (100.0, 100.2),
        (105.6, 105.8),
        (105.5, 105.7),
        (105.2, 105.4),
    ]);
    let run = run_ticks(
        &spec(),
        &events,
        Scripted::new().at(0, stop_limit(Side::Buy, 10.0, 105.0, 105.5)),
    );
    // Ask 105.8 triggers it, above the limit 105.5; ask 105.7 still above; ask 105.4 fills there.
    assert_fills(&run, &[(3, Side::Buy, 10.0, 105.4, 0.0)]);
}

// ---------------------------------------------------------------------------------------------
// Time in force, brackets, volume cap
// ---------------------------------------------------------------------------------------------

#[test]
fn ioc_expires_when_the_next_tick_does_not_fill_it() {
    let events = quotes(&[(99.8, 100.0), (99.3, 99.5), (97.8, 98.0)]);
    let ioc = limit(Side::Buy, 10.0, 99.0).with_tif(TimeInForce::Ioc);
    let run = run_ticks(&spec(), &events, Scripted::new().at(0, ioc));
    // Ask 99.5 > 99 on its first event: expires there; the ask 98 after it would have filled.
    assert_fills(&run, &[]);
    assert_eq!(status(&run, 1), OrderStatus::Expired);
    assert_eq!(run.outcome.orders[0].closed, Some(t(1)));
    assert_eq!(run.kinds(1), vec![ExecKind::Accepted, ExecKind::Expired]);
}

#[test]
fn day_order_on_ticks_expires_on_the_first_tick_of_the_next_utc_day() {
    const HOUR: i64 = NANOS_PER_DAY / 24;
    let at = |hour: i64| Timestamp(day_ts(0).0 + hour * HOUR);
    let events = vec![
        trade(at(10), 100.0, 1_000.0),
        trade(at(12), 99.5, 1_000.0),
        trade(at(25), 98.0, 1_000.0), // next UTC day
    ];
    let day = limit(Side::Buy, 10.0, 99.0).with_tif(TimeInForce::Day);
    let gtc = limit(Side::Buy, 10.0, 99.0);
    let log_run = run_ticks(&spec(), &events, Scripted::new().at(0, day).at(0, gtc));
    assert_eq!(status(&log_run, 1), OrderStatus::Expired);
    assert_eq!(log_run.outcome.orders[0].closed, Some(at(25)));
    // The GTC rests from 12:00 on and the print at 98 goes through it: fills at 99.
    assert_eq!(status(&log_run, 2), OrderStatus::Filled);
    assert_eq!(log_run.outcome.fills.len(), 1);
    assert_close(log_run.outcome.fills[0].price, 99.0);
}

/// A long entry of 10 on trades with TP 110 and SL 95, filled at the print 100 at t(1).
fn bracket_entry() -> Scripted {
    let entry = market(Side::Buy, 10.0).with_bracket(Bracket {
        take_profit: Some(Price(110.0)),
        stop_loss: Some(Price(95.0)),
    });
    Scripted::new().at(0, entry)
}

/// Returns the ids of the bracket's (take-profit, stop-loss) exits.
fn exits(run: &Run) -> (u64, u64) {
    let find = |want: fn(&OrderKind) -> bool| {
        run.outcome
            .orders
            .iter()
            .find(|o| want(&o.request.kind))
            .map(|o| o.id.0)
            .expect("exit placed")
    };
    (
        find(|k| matches!(k, OrderKind::Limit { .. })),
        find(|k| matches!(k, OrderKind::Stop { .. })),
    )
}

#[test]
fn bracket_on_trades_take_profit_fills_at_its_limit_and_cancels_the_stop() {
    let events = trades(&[99.0, 100.0, 104.0, 110.2]);
    let run = run_ticks(&spec(), &events, bracket_entry());
    // Entry at 100 (t1); exits rest from t2; the print 110.2 goes through the TP at 110.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (3, Side::Sell, 10.0, 110.0, 0.0),
        ],
    );
    let (tp, sl) = exits(&run);
    assert_eq!(status(&run, tp), OrderStatus::Filled);
    assert_eq!(status(&run, sl), OrderStatus::Canceled);
    assert_eq!(run.outcome.orders[sl as usize - 1].closed, Some(t(3)));
    assert_close(run.outcome.realized, 100.0); // (110 - 100) x 10
    assert_eq!(run.outcome.positions[0].qty, 0.0);
    assert_books_balance(&run, &events);
}

#[test]
fn bracket_on_trades_stop_loss_fills_at_the_print_and_cancels_the_take_profit() {
    let events = trades(&[99.0, 100.0, 97.0, 94.5]);
    let run = run_ticks(&spec(), &events, bracket_entry());
    // The print 94.5 <= 95 triggers the SL: sells at 94.5.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (3, Side::Sell, 10.0, 94.5, 0.0),
        ],
    );
    let (tp, sl) = exits(&run);
    assert_eq!(status(&run, sl), OrderStatus::Filled);
    assert_eq!(status(&run, tp), OrderStatus::Canceled);
    assert!(run.kinds(tp).contains(&ExecKind::Canceled));
    assert_close(run.outcome.realized, -55.0); // (94.5 - 100) x 10
}

#[test]
fn volume_cap_on_quotes_uses_the_size_on_the_side_taken() {
    let mut spec = spec();
    spec.broker.max_volume_participation = Some(0.5);
    let events = vec![
        quote(t(0), 99.8, 100.0),
        quote_sized(t(1), 99.8, 100.0, 1_000.0, 20.0), // 0.5 x ask size 20 = 10 units
        quote_sized(t(2), 99.8, 100.0, 1_000.0, 40.0), // 0.5 x 40 = 20 units, the rest
    ];
    let run = run_ticks(
        &spec,
        &events,
        Scripted::new().at(0, market(Side::Buy, 30.0)),
    );
    // The large bid size does not help a buy.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (2, Side::Buy, 20.0, 100.0, 0.0),
        ],
    );
    assert_eq!(status(&run, 1), OrderStatus::Filled);
}

#[test]
fn volume_cap_on_trades_uses_the_print_size() {
    let mut spec = spec();
    spec.broker.max_volume_participation = Some(0.5);
    let events = vec![
        trade(t(0), 100.0, 1_000.0),
        trade(t(1), 100.0, 8.0),  // 0.5 x 8 = 4 units
        trade(t(2), 101.0, 30.0), // 0.5 x 30 = 15 >= the 6 left
    ];
    let run = run_ticks(
        &spec,
        &events,
        Scripted::new().at(0, market(Side::Buy, 10.0)),
    );
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 4.0, 100.0, 0.0),
            (2, Side::Buy, 6.0, 101.0, 0.0),
        ],
    );
    assert_close(run.outcome.orders[0].avg_price, 100.6); // (400 + 606) / 10
}

// ---------------------------------------------------------------------------------------------
// No look-ahead, equity steps, end of data
// ---------------------------------------------------------------------------------------------

#[test]
fn an_order_never_fills_on_its_own_event_nor_on_a_later_one_with_the_same_timestamp() {
    let events = vec![
        quote(t(0), 99.8, 100.0),
        quote(t(0), 100.8, 101.0), // same timestamp as the decision: too soon
        quote(t(1), 101.8, 102.0),
    ];
    let script = Scripted::new()
        .at(0, market(Side::Buy, 10.0))
        .at(1, market(Side::Buy, 5.0));
    let run = run_ticks(&spec(), &events, script);
    // Both orders (decided on the two events at t0) fill on the first later timestamp, at 102.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 102.0, 0.0),
            (1, Side::Buy, 5.0, 102.0, 0.0),
        ],
    );
    // One equity point per distinct timestamp, after its last event: t0 at the mid 100.9 with no
    // position; t1 cash 10,000 - 1,530 = 8,470 + 15 x 101.9 = 9,998.5.
    assert_eq!(run.outcome.curve.ts, vec![t(0), t(1)]);
    assert_eq!(run.outcome.curve.equity[0], 10_000.0);
    assert_close(run.outcome.curve.equity[1], 9_998.5);
    assert_books_balance(&run, &events);
}

#[test]
fn books_balance_after_every_tick_with_commission_and_shorts() {
    let mut spec = spec();
    spec.broker.commission = 0.001;
    spec.broker.commission_fixed = 1.0;
    spec.broker.allow_short = true;
    let events = vec![
        quote(t(0), 99.8, 100.0),
        trade(t(1), 100.1, 1_000.0),
        quote(t(1), 100.0, 100.2),
        quote(t(2), 101.0, 101.4),
        trade(t(3), 101.2, 1_000.0),
        quote(t(4), 99.0, 99.4),
        trade(t(5), 98.0, 1_000.0),
        quote(t(6), 97.6, 97.8),
    ];
    let script = Scripted::new()
        .at(0, market(Side::Buy, 10.0))
        .at(3, market(Side::Sell, 25.0))
        .at(5, market(Side::Buy, 15.0));
    let run = run_ticks(&spec, &events, script);
    // Buy 10 at the print 100.1 (t1): fee 0.001 x 1,001 + 1 = 2.001.
    // Sell 25 at the print 101.2 (t3): fee 0.001 x 2,530 + 1 = 3.53; realizes (101.2 - 100.1)
    //   x 10 = 11 and opens 15 short at 101.2.
    // Buy 15 at the print 98 (t5): fee 0.001 x 1,470 + 1 = 2.47; realizes (101.2 - 98) x 15 = 48.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.1, 2.001),
            (3, Side::Sell, 25.0, 101.2, 3.53),
            (5, Side::Buy, 15.0, 98.0, 2.47),
        ],
    );
    assert_close(run.outcome.realized, 59.0);
    // 10,000 + 59 - 8.001 = 10,050.999, flat at the end.
    assert_close(run.outcome.final_equity(), 10_050.999);
    assert_books_balance(&run, &events);
    // The curve records the last snapshot of each timestamp.
    let last_of_step: Vec<f64> = [0, 2, 3, 4, 5, 6, 7]
        .iter()
        .map(|&i| run.snapshots[i].equity)
        .collect();
    assert_eq!(run.outcome.curve.equity, last_of_step);
}

#[test]
fn close_at_end_on_ticks_closes_at_the_last_mid() {
    let mut spec = spec();
    spec.broker.close_at_end = true;
    let events = quotes(&[(99.8, 100.0), (100.8, 101.0), (103.9, 104.1)]);
    let run = run_ticks(
        &spec,
        &events,
        Scripted::new().at(0, market(Side::Buy, 10.0)),
    );
    // Bought at the ask 101; closed at the last mark, the mid 104.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 101.0, 0.0),
            (2, Side::Sell, 10.0, 104.0, 0.0),
        ],
    );
    assert_close(run.outcome.final_equity(), 10_030.0);
}

// ---------------------------------------------------------------------------------------------
// The driver refuses streams it cannot replay faithfully, before anything runs
// ---------------------------------------------------------------------------------------------

fn driver_error(events: &[MarketEvent], instruments: usize) -> Error {
    let names = (0..instruments)
        .map(|i| InstrumentId::new(format!("I{i}")))
        .collect();
    let script = Scripted::new().at(0, market(Side::Buy, 1.0));
    backtest(&spec(), ticks(names, events), script, None).expect_err("stream is refused")
}

fn on(instrument: u32, mut event: MarketEvent) -> MarketEvent {
    event.instrument = InstrumentIdx(instrument);
    event
}

#[test]
fn out_of_order_ticks_are_an_error_naming_the_position_and_times() {
    let events = vec![
        trade(t(0), 100.0, 1.0),
        trade(t(2), 100.0, 1.0),
        trade(t(1), 100.0, 1.0),
    ];
    let err = driver_error(&events, 1);
    let Error::OutOfOrder {
        index,
        ts,
        previous_ts,
        ..
    } = err
    else {
        panic!("expected OutOfOrder, got {err:?}");
    };
    assert_eq!((index, ts, previous_ts), (2, t(1), t(2)));
    assert!(err.to_string().contains("event 2"), "{err}");

    // One timestamp, instruments descending: out of (timestamp, instrument) order too.
    let events = vec![
        on(1, trade(t(0), 100.0, 1.0)),
        on(0, trade(t(0), 50.0, 1.0)),
    ];
    let err = driver_error(&events, 2);
    assert!(
        matches!(
            err,
            Error::OutOfOrder {
                index: 1,
                instrument: InstrumentIdx(0),
                previous_instrument: InstrumentIdx(1),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn unknown_instruments_and_bars_are_refused_by_the_tick_driver() {
    let err = driver_error(&[on(3, trade(t(0), 100.0, 1.0))], 2);
    assert!(
        matches!(
            err,
            Error::UnknownInstrument {
                index: 0,
                instruments: 2,
                ..
            }
        ),
        "{err:?}"
    );

    let bar = bar_at(t(1), 100.0, 101.0, 99.0, 100.5, 1_000.0);
    let events = vec![
        trade(t(0), 100.0, 1.0),
        MarketEvent {
            ts_event: t(1),
            ts_recv: t(1),
            instrument: I,
            kind: MarketKind::Bar(bar),
        },
    ];
    let err = driver_error(&events, 1);
    assert!(
        matches!(err, Error::BarInTicks { index: 1, ts } if ts == t(1)),
        "{err:?}"
    );
}

#[test]
fn ticks_of_several_instruments_share_cash_and_steps() {
    let events = vec![
        on(0, quote(t(0), 99.8, 100.0)),
        on(1, trade(t(0), 50.0, 1_000.0)),
        on(0, quote(t(1), 100.8, 101.0)),
        on(1, trade(t(1), 51.0, 1_000.0)),
    ];
    let a = OrderRequest::market(InstrumentIdx(0), Side::Buy, units(10.0));
    let b = OrderRequest::market(InstrumentIdx(1), Side::Buy, units(20.0));
    let names = vec![InstrumentId::new("A"), InstrumentId::new("B")];
    let script = Scripted::new().at(0, a).at(0, b);
    let outcome = backtest(&spec(), ticks(names, &events), script, None).unwrap();
    // A at the ask 101, B at the print 51: cash 10,000 - 1,010 - 1,020 = 7,970; marked at A's
    // mid 100.9 and B's print 51: 7,970 + 1,009 + 1,020 = 9,999.
    let prices: Vec<f64> = outcome.fills.iter().map(|f| f.price).collect();
    assert_eq!(prices, vec![101.0, 51.0]);
    assert_eq!(outcome.curve.ts, vec![t(0), t(1)]);
    assert_close(outcome.curve.cash[1], 7_970.0);
    assert_close(outcome.final_equity(), 9_999.0);
    assert_eq!(outcome.bars_per_instrument, vec![2, 2]);
}
