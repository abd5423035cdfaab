//! One test per fill rule of DESIGN.md ("Fill semantics", "Accounting"). Every expected price,
//! quantity and fee is a literal computed by hand in the comment next to it, never by the engine's
//! own arithmetic.
//!
//! Series are daily bars from 2024-01-01 (`bar(day, open, high, low, close, volume)`); a scripted
//! strategy submits orders while given bars are handled, so an order "at 0" is placed on bar 0 and
//! can fill from bar 1 on.

use crate::config::{EngineSpec, SizingMethod};
use crate::order::{Bracket, OrderKind, OrderRequest, OrderStatus, Size, TimeInForce};
use crate::strategy::{ExecKind, RejectReason};
use crate::test_support::{
    BASE_DAY, Run, Scripted, assert_close, bar, bar_at, day_ts, flat, run_scripted, spec,
};
use market_data::{InstrumentIdx, NANOS_PER_DAY, Price, Qty, Side, Timestamp};

const I: InstrumentIdx = InstrumentIdx(0);

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

/// Asserts the run's fills, as (day, side, qty, price, fee), in order.
#[track_caller]
fn assert_fills(run: &Run, expected: &[(i64, Side, f64, f64, f64)]) {
    let fills = &run.outcome.fills;
    assert_eq!(fills.len(), expected.len(), "fills: {fills:#?}");
    for (fill, &(day, side, qty, price, fee)) in fills.iter().zip(expected) {
        assert_eq!(
            fill.ts.0.div_euclid(NANOS_PER_DAY) - BASE_DAY,
            day,
            "fill day of {fill:?}"
        );
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

/// A quiet first bar that every series starts with; orders are placed on it.
fn b0() -> market_data::Bar {
    bar(0, 100.0, 101.0, 99.0, 100.0, 1_000.0)
}

// ---------------------------------------------------------------------------------------------
// Market orders
// ---------------------------------------------------------------------------------------------

#[test]
fn market_order_fills_at_next_open() {
    let bars = vec![
        b0(),
        bar(1, 102.0, 105.0, 101.0, 104.0, 1_000.0),
        bar(2, 104.0, 106.0, 103.0, 105.0, 1_000.0),
    ];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, market(Side::Buy, 10.0)),
    );
    // Placed on bar 0 (close 100), filled at bar 1's open 102, not at bar 0's close.
    assert_fills(&run, &[(1, Side::Buy, 10.0, 102.0, 0.0)]);
    let order = &run.outcome.orders[0];
    assert_eq!(order.status, OrderStatus::Filled);
    assert_eq!(order.created, day_ts(0));
    assert_eq!(order.closed, Some(day_ts(1)));
    // Equity = cash + qty x close after the bar's fills:
    // bar 0: 10,000; bar 1: 10,000 - 1,020 = 8,980 cash + 10 x 104 = 10,020; bar 2: 8,980 + 1,050.
    assert_eq!(run.outcome.curve.equity, vec![10_000.0, 10_020.0, 10_030.0]);
    assert_eq!(run.outcome.curve.cash, vec![10_000.0, 8_980.0, 8_980.0]);
    let kinds = run.kinds(1);
    assert_eq!(kinds.len(), 2);
    assert_eq!(kinds[0], ExecKind::Accepted);
    let ExecKind::Filled {
        side,
        qty,
        price,
        fee,
        leaves,
    } = kinds[1]
    else {
        panic!("expected a fill report, got {:?}", kinds[1]);
    };
    assert_eq!(
        (side, qty.0, price.0, fee, leaves.0),
        (Side::Buy, 10.0, 102.0, 0.0, 0.0)
    );
}

#[test]
fn market_order_slippage_moves_against_the_trader() {
    let mut spec = spec();
    spec.broker.slippage_bps = 50.0; // 0.5 %
    let bars = vec![
        b0(),
        bar(1, 102.0, 105.0, 101.0, 104.0, 1_000.0),
        bar(2, 110.0, 112.0, 108.0, 111.0, 1_000.0),
    ];
    let script = Scripted::new()
        .at(0, market(Side::Buy, 10.0))
        .at(1, market(Side::Sell, 10.0));
    let run = run_scripted(&spec, bars, script);
    // Buy: 102 x 1.005 = 102.51 (up). Sell: 110 x 0.995 = 109.45 (down).
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 102.51, 0.0),
            (2, Side::Sell, 10.0, 109.45, 0.0),
        ],
    );
    // Realized (109.45 - 102.51) x 10 = 69.40; cash 10,000 - 1,025.10 + 1,094.50 = 10,069.40.
    assert_close(run.outcome.realized, 69.4);
    assert_close(run.outcome.final_equity(), 10_069.4);
}

#[test]
fn market_order_on_the_last_bar_is_never_filled() {
    let bars = vec![b0(), bar(1, 102.0, 105.0, 101.0, 104.0, 1_000.0)];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(1, market(Side::Buy, 10.0)),
    );
    assert_fills(&run, &[]);
    let order = &run.outcome.orders[0];
    assert_eq!(order.status, OrderStatus::Working);
    assert_eq!(order.closed, None);
    assert_eq!(order.filled, 0.0);
    assert_eq!(run.kinds(1), vec![ExecKind::Accepted]);
    assert_eq!(run.outcome.final_equity(), 10_000.0);
}

// ---------------------------------------------------------------------------------------------
// Limit orders: buy fills where low <= L at min(open, L); sell where high >= L at max(open, L)
// ---------------------------------------------------------------------------------------------

#[test]
fn limit_buy_touch_fills_at_the_limit() {
    let bars = vec![
        b0(),
        bar(1, 100.0, 101.0, 98.5, 99.0, 1_000.0), // low 98.5 > 98: no fill
        bar(2, 99.0, 100.0, 97.0, 98.5, 1_000.0),  // low 97 <= 98, open 99 above: fills at 98
        bar(3, 98.0, 99.0, 96.0, 97.0, 1_000.0),
    ];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, limit(Side::Buy, 10.0, 98.0)),
    );
    assert_fills(&run, &[(2, Side::Buy, 10.0, 98.0, 0.0)]);
    assert_eq!(status(&run, 1), OrderStatus::Filled);
}

#[test]
fn limit_buy_gap_below_fills_at_the_open() {
    let bars = vec![b0(), bar(1, 95.0, 97.0, 94.0, 96.0, 1_000.0)];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, limit(Side::Buy, 10.0, 98.0)),
    );
    // Opens at 95, below the limit 98: min(95, 98) = 95, better than the limit.
    assert_fills(&run, &[(1, Side::Buy, 10.0, 95.0, 0.0)]);
}

#[test]
fn limit_buy_is_not_filled_while_the_low_stays_above() {
    let bars = vec![
        b0(),
        bar(1, 100.0, 101.0, 98.01, 99.0, 1_000.0),
        bar(2, 99.0, 100.0, 98.5, 99.5, 1_000.0),
        bar(3, 99.5, 103.0, 99.0, 102.0, 1_000.0),
    ];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, limit(Side::Buy, 10.0, 98.0)),
    );
    assert_fills(&run, &[]);
    assert_eq!(status(&run, 1), OrderStatus::Working);
}

#[test]
fn limit_sell_touch_and_gap_mirror_the_buy() {
    // Long 10 at bar 1's open 100, then a limit sell at 105 placed on bar 1.
    let bars_touch = vec![
        b0(),
        bar(1, 100.0, 102.0, 99.0, 101.0, 1_000.0),
        bar(2, 102.0, 104.5, 101.0, 104.0, 1_000.0), // high 104.5 < 105: no fill
        bar(3, 103.0, 106.0, 102.0, 105.0, 1_000.0), // high 106 >= 105, open 103 below: at 105
    ];
    let script = || {
        Scripted::new()
            .at(0, market(Side::Buy, 10.0))
            .at(1, limit(Side::Sell, 10.0, 105.0))
    };
    let run = run_scripted(&spec(), bars_touch, script());
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (3, Side::Sell, 10.0, 105.0, 0.0),
        ],
    );
    assert_close(run.outcome.realized, 50.0); // (105 - 100) x 10

    let bars_gap = vec![
        b0(),
        bar(1, 100.0, 102.0, 99.0, 101.0, 1_000.0),
        bar(2, 107.0, 108.0, 106.0, 107.0, 1_000.0), // opens at 107 above 105: max(107, 105)
    ];
    let run = run_scripted(&spec(), bars_gap, script());
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (2, Side::Sell, 10.0, 107.0, 0.0),
        ],
    );
    assert_close(run.outcome.realized, 70.0); // (107 - 100) x 10
}

// ---------------------------------------------------------------------------------------------
// Stop orders: buy fills where high >= S at max(open, S); sell where low <= S at min(open, S)
// ---------------------------------------------------------------------------------------------

#[test]
fn stop_buy_touch_fills_at_the_trigger() {
    let bars = vec![
        b0(),
        bar(1, 100.0, 104.0, 99.0, 103.0, 1_000.0), // high 104 < 105: no fill
        bar(2, 103.0, 106.0, 102.0, 105.5, 1_000.0), // high 106 >= 105, open 103: at 105
    ];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, stop(Side::Buy, 10.0, 105.0)),
    );
    assert_fills(&run, &[(2, Side::Buy, 10.0, 105.0, 0.0)]);
}

#[test]
fn stop_buy_gap_up_fills_at_the_open() {
    let bars = vec![b0(), bar(1, 108.0, 110.0, 107.0, 109.0, 1_000.0)];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, stop(Side::Buy, 10.0, 105.0)),
    );
    // max(108, 105) = 108: worse than the trigger, as a real stop through a gap.
    assert_fills(&run, &[(1, Side::Buy, 10.0, 108.0, 0.0)]);
}

#[test]
fn stop_buy_with_slippage_moves_up_from_the_trigger() {
    let mut spec = spec();
    spec.broker.slippage_bps = 100.0; // 1 %
    let bars = vec![b0(), bar(1, 103.0, 106.0, 102.0, 105.5, 1_000.0)];
    let run = run_scripted(
        &spec,
        bars,
        Scripted::new().at(0, stop(Side::Buy, 10.0, 105.0)),
    );
    assert_fills(&run, &[(1, Side::Buy, 10.0, 106.05, 0.0)]); // 105 x 1.01
}

#[test]
fn stop_sell_touch_and_gap_down() {
    // Long 10 at bar 1's open 100, then a stop sell at 95 placed on bar 1.
    let script = || {
        Scripted::new()
            .at(0, market(Side::Buy, 10.0))
            .at(1, stop(Side::Sell, 10.0, 95.0))
    };
    let bars_touch = vec![
        b0(),
        bar(1, 100.0, 101.0, 96.0, 97.0, 1_000.0),
        bar(2, 97.0, 98.0, 95.5, 96.0, 1_000.0), // low 95.5 > 95: no fill
        bar(3, 96.0, 97.0, 94.0, 94.5, 1_000.0), // low 94 <= 95, open 96: at min(96, 95) = 95
    ];
    let run = run_scripted(&spec(), bars_touch, script());
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (3, Side::Sell, 10.0, 95.0, 0.0),
        ],
    );
    assert_close(run.outcome.realized, -50.0); // (95 - 100) x 10

    let bars_gap = vec![
        b0(),
        bar(1, 100.0, 101.0, 96.0, 97.0, 1_000.0),
        bar(2, 92.0, 93.0, 90.0, 91.0, 1_000.0), // opens at 92 below 95: min(92, 95) = 92
    ];
    let run = run_scripted(&spec(), bars_gap, script());
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (2, Side::Sell, 10.0, 92.0, 0.0),
        ],
    );
    assert_close(run.outcome.realized, -80.0); // (92 - 100) x 10
}

// ---------------------------------------------------------------------------------------------
// Stop-limit: triggers like a stop, then fills like a limit, never beyond the limit
// ---------------------------------------------------------------------------------------------

fn stop_limit(side: Side, q: f64, trigger: f64, lim: f64) -> OrderRequest {
    OrderRequest::stop_limit(I, side, units(q), Price(trigger), Price(lim))
}

#[test]
fn stop_limit_buy_triggers_and_fills_at_the_trigger() {
    let bars = vec![
        b0(),
        bar(1, 100.0, 104.0, 99.0, 103.0, 1_000.0), // high 104 < 105: not triggered
        bar(2, 103.0, 107.0, 102.0, 106.0, 1_000.0), // triggers at 105, within the limit 106
    ];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, stop_limit(Side::Buy, 10.0, 105.0, 106.0)),
    );
    assert_fills(&run, &[(2, Side::Buy, 10.0, 105.0, 0.0)]);
}

#[test]
fn stop_limit_buy_gap_through_the_limit_fills_at_the_limit_not_the_open() {
    // Opens at 110, above both trigger 105 and limit 106; trades down to 104 later in the bar.
    let bars = vec![b0(), bar(1, 110.0, 111.0, 104.0, 105.0, 1_000.0)];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, stop_limit(Side::Buy, 10.0, 105.0, 106.0)),
    );
    // A plain stop would pay the open 110; the limit caps it: min(110, 106) = 106.
    assert_fills(&run, &[(1, Side::Buy, 10.0, 106.0, 0.0)]);
}

#[test]
fn stop_limit_stays_triggered_and_then_works_as_a_limit() {
    let bars = vec![
        b0(),
        bar(1, 110.0, 111.0, 109.0, 110.5, 1_000.0), // triggers (gap over 105); low 109 > 106: no fill
        bar(2, 104.0, 104.5, 103.0, 104.0, 1_000.0), // high 104.5 < 105, but it is triggered already
    ];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, stop_limit(Side::Buy, 10.0, 105.0, 106.0)),
    );
    // As a limit buy at 106: low 103 <= 106, fills at min(104, 106) = 104.
    assert_fills(&run, &[(2, Side::Buy, 10.0, 104.0, 0.0)]);
}

#[test]
fn stop_limit_buy_with_limit_below_the_trigger_does_not_fill_at_the_pre_trigger_open() {
    // Trigger 105, limit 104. The bar opens at 103 (below both), rises through 105 (trigger), and
    // trades down to 102. The limit only exists from the trigger on, so the fill is the limit 104,
    // never the open 103, which traded before the order was live.
    let bars = vec![b0(), bar(1, 103.0, 106.0, 102.0, 105.0, 1_000.0)];
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, stop_limit(Side::Buy, 10.0, 105.0, 104.0)),
    );
    assert_fills(&run, &[(1, Side::Buy, 10.0, 104.0, 0.0)]);
}

#[test]
fn stop_limit_sell_mirrors_the_buy() {
    // Long 10 at 100 (bar 1), then a stop-limit sell: trigger 95, limit 94, placed on bar 1.
    let bars = vec![
        b0(),
        bar(1, 100.0, 101.0, 96.0, 97.0, 1_000.0),
        bar(2, 92.0, 93.0, 91.0, 92.0, 1_000.0), // gaps below both: triggered, high 93 < 94: no fill
        bar(3, 93.0, 94.5, 92.0, 94.0, 1_000.0), // as a limit sell at 94: max(93, 94) = 94
    ];
    let script = Scripted::new()
        .at(0, market(Side::Buy, 10.0))
        .at(1, stop_limit(Side::Sell, 10.0, 95.0, 94.0));
    let run = run_scripted(&spec(), bars, script);
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (3, Side::Sell, 10.0, 94.0, 0.0),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Brackets: take-profit limit + stop-loss stop, one canceling the other
// ---------------------------------------------------------------------------------------------

/// Runs a long entry of 10 at bar 1's open 100 with TP 110 and SL 95, then `exit_bar` on day 2.
fn bracket_run(exit_bar: market_data::Bar) -> Run {
    let entry = market(Side::Buy, 10.0)
        .with_bracket(Bracket {
            take_profit: Some(Price(110.0)),
            stop_loss: Some(Price(95.0)),
        })
        .with_tag(7);
    // Bar 1 covers both exits (high 111, low 94), but the exits are placed when the entry fills on
    // bar 1 and act from bar 2 on.
    let bars = vec![b0(), bar(1, 100.0, 111.0, 94.0, 104.0, 1_000.0), exit_bar];
    run_scripted(&spec(), bars, Scripted::new().at(0, entry))
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
fn bracket_take_profit_fills_and_cancels_the_stop() {
    let run = bracket_run(bar(2, 109.0, 112.0, 108.0, 111.0, 1_000.0));
    // TP limit sell at 110: high 112 >= 110, open 109: max(109, 110) = 110.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (2, Side::Sell, 10.0, 110.0, 0.0),
        ],
    );
    let (tp, sl) = exits(&run);
    assert_eq!(status(&run, tp), OrderStatus::Filled);
    assert_eq!(status(&run, sl), OrderStatus::Canceled);
    assert!(run.kinds(sl).contains(&ExecKind::Canceled));
    let exit = &run.outcome.orders[tp as usize - 1];
    assert!(exit.request.reduce_only);
    assert_eq!(exit.request.tag, 7);
    assert_eq!(exit.created, day_ts(1));
    assert_close(run.outcome.realized, 100.0); // (110 - 100) x 10
    assert_eq!(run.outcome.positions[0].qty, 0.0);
    assert_eq!(run.outcome.trades.len(), 1);
}

#[test]
fn bracket_stop_loss_fills_and_cancels_the_take_profit() {
    let run = bracket_run(bar(2, 96.0, 97.0, 94.0, 95.0, 1_000.0));
    // SL stop sell at 95: low 94 <= 95, open 96: min(96, 95) = 95.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (2, Side::Sell, 10.0, 95.0, 0.0),
        ],
    );
    let (tp, sl) = exits(&run);
    assert_eq!(status(&run, sl), OrderStatus::Filled);
    assert_eq!(status(&run, tp), OrderStatus::Canceled);
    assert!(run.kinds(tp).contains(&ExecKind::Canceled));
    assert_close(run.outcome.realized, -50.0); // (95 - 100) x 10
}

#[test]
fn bracket_stop_loss_gap_down_fills_at_the_open() {
    let run = bracket_run(bar(2, 90.0, 91.0, 88.0, 89.0, 1_000.0));
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (2, Side::Sell, 10.0, 90.0, 0.0),
        ],
    );
    assert_close(run.outcome.realized, -100.0); // (90 - 100) x 10
}

/// When one bar reaches both exits, the order of the highs and lows inside it is unknown. The
/// engine takes the stop-loss (the pessimistic exit), as Backtesting.py and backtrader do: the
/// stop-loss is placed before the take-profit and working orders are matched oldest first.
#[test]
fn bracket_both_exits_on_one_bar_take_the_stop_loss() {
    let run = bracket_run(bar(2, 100.0, 111.0, 94.0, 105.0, 1_000.0));
    // SL: low 94 <= 95, open 100: min(100, 95) = 95. TP (would be 110) is canceled.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 0.0),
            (2, Side::Sell, 10.0, 95.0, 0.0),
        ],
    );
    let (tp, sl) = exits(&run);
    assert_eq!(status(&run, sl), OrderStatus::Filled);
    assert_eq!(status(&run, tp), OrderStatus::Canceled);
    assert_close(run.outcome.realized, -50.0);
}

// ---------------------------------------------------------------------------------------------
// Time in force
// ---------------------------------------------------------------------------------------------

#[test]
fn ioc_unfilled_on_its_first_bar_expires_and_never_fills() {
    let bars = vec![
        b0(),
        bar(1, 100.0, 101.0, 97.0, 100.0, 1_000.0), // low 97 > 95: IOC expires here
        bar(2, 96.0, 97.0, 90.0, 92.0, 1_000.0),    // would fill a GTC at 95
    ];
    let ioc = limit(Side::Buy, 10.0, 95.0).with_tif(TimeInForce::Ioc);
    let run = run_scripted(&spec(), bars, Scripted::new().at(0, ioc));
    assert_fills(&run, &[]);
    assert_eq!(status(&run, 1), OrderStatus::Expired);
    assert_eq!(run.outcome.orders[0].closed, Some(day_ts(1)));
    assert_eq!(run.kinds(1), vec![ExecKind::Accepted, ExecKind::Expired]);
}

#[test]
fn ioc_partially_filled_by_the_volume_cap_expires_the_rest() {
    let mut spec = spec();
    spec.broker.max_volume_participation = Some(0.1);
    let ioc = market(Side::Buy, 25.0).with_tif(TimeInForce::Ioc);
    // A thin bar 1: 0.1 x 150 = 15 units fill there, the other 10 expire with it.
    let thin = vec![
        b0(),
        bar(1, 100.0, 100.0, 100.0, 100.0, 150.0),
        flat(2, 100.0),
    ];
    let run = run_scripted(&spec, thin, Scripted::new().at(0, ioc));
    assert_fills(&run, &[(1, Side::Buy, 15.0, 100.0, 0.0)]);
    assert_eq!(status(&run, 1), OrderStatus::Expired);
    assert_eq!(run.outcome.orders[0].filled, 15.0);
    // On a full bar (0.1 x 1,000 = 100 units) the same IOC fills completely.
    let full = vec![b0(), flat(1, 100.0), flat(2, 100.0)];
    let run = run_scripted(&spec, full, Scripted::new().at(0, ioc));
    assert_fills(&run, &[(1, Side::Buy, 25.0, 100.0, 0.0)]);
    assert_eq!(status(&run, 1), OrderStatus::Filled);
}

#[test]
fn day_order_expires_at_the_next_utc_day_while_gtc_keeps_working() {
    const HOUR: i64 = NANOS_PER_DAY / 24;
    let at = |day: i64, hour: i64| Timestamp(day_ts(day).0 + hour * HOUR);
    let bars = vec![
        bar_at(at(0, 10), 100.0, 101.0, 99.0, 100.0, 1_000.0), // orders placed here
        bar_at(at(0, 11), 100.0, 101.0, 97.0, 98.0, 1_000.0),  // low 97 > 95
        bar_at(at(0, 23), 98.0, 99.0, 96.0, 97.0, 1_000.0),    // low 96 > 95
        bar_at(at(1, 0), 96.0, 97.0, 90.0, 91.0, 1_000.0),     // next UTC day: low 90 <= 95
    ];
    let day = limit(Side::Buy, 10.0, 95.0).with_tif(TimeInForce::Day);
    let gtc = limit(Side::Buy, 10.0, 95.0);
    let run = run_scripted(&spec(), bars, Scripted::new().at(0, day).at(0, gtc));
    // The DAY order worked through day 0 and expired on the first bar of day 1; the GTC fills
    // there at min(96, 95) = 95.
    assert_eq!(status(&run, 1), OrderStatus::Expired);
    assert_eq!(run.outcome.orders[0].closed, Some(at(1, 0)));
    assert_eq!(run.kinds(1), vec![ExecKind::Accepted, ExecKind::Expired]);
    assert_eq!(status(&run, 2), OrderStatus::Filled);
    assert_fills(&run, &[(1, Side::Buy, 10.0, 95.0, 0.0)]);
    assert_eq!(run.outcome.fills[0].order_id.0, 2);
}

#[test]
fn a_day_order_expires_at_the_end_of_the_exchanges_local_day() {
    const HOUR: i64 = NANOS_PER_DAY / 24;
    // 2024-01-02, a Tuesday: New York is UTC-5, so its day ends at 05:00 UTC on the 3rd.
    let day0 = Timestamp::from_secs(1_704_153_600);
    let at = |hours: i64| Timestamp(day0.0 + hours * HOUR);
    let bars = vec![
        bar_at(at(15), 100.0, 101.0, 99.0, 100.0, 1_000.0), // 10:00 New York: order placed
        bar_at(at(20), 100.0, 101.0, 97.0, 98.0, 1_000.0),  // 15:00
        bar_at(at(26), 98.0, 99.0, 96.0, 97.0, 1_000.0),    // 21:00, the next UTC day
        bar_at(at(29), 96.0, 97.0, 90.0, 91.0, 1_000.0),    // 00:00 the next New York day
    ];
    let ny = EngineSpec {
        timezone: market_data::Zone::parse("America/New_York").unwrap(),
        ..spec()
    };
    let order = || limit(Side::Buy, 10.0, 95.0).with_tif(TimeInForce::Day);
    let run = run_scripted(&ny, bars.clone(), Scripted::new().at(0, order()));
    // Alive through 21:00 New York (already the next UTC day), expired at its midnight.
    assert_eq!(status(&run, 1), OrderStatus::Expired);
    assert_eq!(run.outcome.orders[0].closed, Some(at(29)));
    // In UTC the same order expires at 02:00 UTC, the first bar of the next UTC day.
    let utc = run_scripted(&spec(), bars, Scripted::new().at(0, order()));
    assert_eq!(utc.outcome.orders[0].closed, Some(at(26)));
}

#[test]
fn gtc_keeps_working_until_it_fills() {
    let mut bars = vec![b0()];
    bars.extend((1..=20).map(|d| bar(d, 100.0, 101.0, 99.0, 100.0, 1_000.0)));
    bars.push(bar(21, 99.0, 99.5, 94.0, 95.0, 1_000.0));
    let run = run_scripted(
        &spec(),
        bars,
        Scripted::new().at(0, limit(Side::Buy, 10.0, 95.0)),
    );
    // 20 bars without a touch, then low 94 <= 95 on day 21: min(99, 95) = 95.
    assert_fills(&run, &[(21, Side::Buy, 10.0, 95.0, 0.0)]);
    assert_eq!(status(&run, 1), OrderStatus::Filled);
}

// ---------------------------------------------------------------------------------------------
// Volume cap and commission
// ---------------------------------------------------------------------------------------------

fn three_opens() -> Vec<market_data::Bar> {
    vec![
        b0(),
        bar(1, 100.0, 101.0, 99.0, 100.0, 1_000.0),
        bar(2, 101.0, 102.0, 100.0, 101.0, 1_000.0),
        bar(3, 102.0, 103.0, 101.0, 102.0, 1_000.0),
    ]
}

#[test]
fn volume_cap_splits_an_order_into_partial_fills() {
    let mut spec = spec();
    spec.broker.initial_cash = 100_000.0;
    spec.broker.max_volume_participation = Some(0.1);
    let run = run_scripted(
        &spec,
        three_opens(),
        Scripted::new().at(0, market(Side::Buy, 250.0)),
    );
    // 0.1 x 1,000 = 100 units per bar: 100 @ 100, 100 @ 101, then the last 50 @ 102.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 100.0, 100.0, 0.0),
            (2, Side::Buy, 100.0, 101.0, 0.0),
            (3, Side::Buy, 50.0, 102.0, 0.0),
        ],
    );
    let order = &run.outcome.orders[0];
    assert_eq!(order.status, OrderStatus::Filled);
    assert_eq!(order.closed, Some(day_ts(3)));
    assert_close(order.filled, 250.0);
    // (10,000 + 10,100 + 5,100) / 250 = 25,200 / 250 = 100.8
    assert_close(order.avg_price, 100.8);
    let leaves: Vec<f64> = run
        .kinds(1)
        .iter()
        .filter_map(|k| match k {
            ExecKind::Filled { leaves, .. } => Some(leaves.0),
            _ => None,
        })
        .collect();
    assert_eq!(leaves, vec![150.0, 50.0, 0.0]);
    assert_close(run.outcome.positions[0].qty, 250.0);
}

#[test]
fn commission_is_per_fill_notional_plus_fixed_once_per_order() {
    let mut spec = spec();
    spec.broker.initial_cash = 100_000.0;
    spec.broker.max_volume_participation = Some(0.1);
    spec.broker.commission = 0.001;
    spec.broker.commission_fixed = 5.0;
    let run = run_scripted(
        &spec,
        three_opens(),
        Scripted::new().at(0, market(Side::Buy, 250.0)),
    );
    // 0.001 x 100 x 100 + 5 = 15; 0.001 x 100 x 101 = 10.1; 0.001 x 50 x 102 = 5.1.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 100.0, 100.0, 15.0),
            (2, Side::Buy, 100.0, 101.0, 10.1),
            (3, Side::Buy, 50.0, 102.0, 5.1),
        ],
    );
    assert_close(run.outcome.orders[0].fees, 30.2);
    assert_close(run.outcome.fees, 30.2);
    // Cash: 100,000 - 25,200 - 30.2 = 74,769.8.
    assert_close(*run.outcome.curve.cash.last().unwrap(), 74_769.8);
}

#[test]
fn commission_on_a_round_trip() {
    let mut spec = spec();
    spec.broker.commission = 0.001;
    spec.broker.commission_fixed = 5.0;
    let bars = vec![b0(), flat(1, 100.0), flat(2, 110.0)];
    let script = Scripted::new()
        .at(0, market(Side::Buy, 10.0))
        .at(1, market(Side::Sell, 10.0));
    let run = run_scripted(&spec, bars, script);
    // Buy 10 @ 100: 0.001 x 1,000 + 5 = 6. Sell 10 @ 110: 0.001 x 1,100 + 5 = 6.1.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 6.0),
            (2, Side::Sell, 10.0, 110.0, 6.1),
        ],
    );
    // 10,000 - 1,000 - 6 + 1,100 - 6.1 = 10,087.9; the trade's P&L is 100 - 12.1 = 87.9.
    assert_close(run.outcome.final_equity(), 10_087.9);
    assert_close(run.outcome.trades[0].pnl, 87.9);
    assert_close(run.outcome.trades[0].fees, 12.1);
}

// ---------------------------------------------------------------------------------------------
// Sizing at the fill price
// ---------------------------------------------------------------------------------------------

fn auto_buy() -> OrderRequest {
    OrderRequest::market(I, Side::Buy, Size::Auto)
}

#[test]
fn all_in_buys_whole_units_at_the_fill_price() {
    let mut spec = spec();
    spec.broker.commission = 0.002;
    let bars = vec![b0(), bar(1, 102.0, 103.0, 101.0, 102.0, 1_000.0)];
    let run = run_scripted(&spec, bars, Scripted::new().at(0, auto_buy()));
    // floor(10,000 / (102 x 1.002)) = floor(10,000 / 102.204) = floor(97.84) = 97 (at bar 0's
    // close 100 it would have been 99). Fee 0.002 x 97 x 102 = 0.002 x 9,894 = 19.788.
    assert_fills(&run, &[(1, Side::Buy, 97.0, 102.0, 19.788)]);
    // Cash 10,000 - 9,894 - 19.788 = 86.212.
    assert_close(run.outcome.curve.cash[1], 86.212);
}

#[test]
fn all_in_fractional_buys_the_exact_fraction() {
    let mut spec = spec();
    spec.broker.commission = 0.002;
    spec.broker.fractional = true;
    let bars = vec![b0(), bar(1, 102.0, 103.0, 101.0, 102.0, 1_000.0)];
    let run = run_scripted(&spec, bars, Scripted::new().at(0, auto_buy()));
    // 10,000 / 102.204 = 97.843528629016...; all the cash goes, fee included.
    let fill = run.outcome.fills[0];
    assert_close(fill.qty, 97.843_528_629_016_49);
    assert!(
        run.outcome.curve.cash[1].abs() < 1e-6,
        "cash {}",
        run.outcome.curve.cash[1]
    );
    assert!(run.outcome.curve.cash[1] > -1e-6);
}

#[test]
fn fixed_fraction_sizes_from_equity_not_cash() {
    let mut spec = spec();
    spec.broker.commission = 0.001;
    spec.sizing.method = SizingMethod::FixedFraction;
    spec.sizing.fraction = 0.3;
    let bars = vec![b0(), flat(1, 100.0), flat(2, 110.0)];
    let run = run_scripted(
        &spec,
        bars,
        Scripted::new().at(0, auto_buy()).at(1, auto_buy()),
    );
    // First: 0.3 x 10,000 = 3,000 -> floor(3,000 / 100.1) = floor(29.97) = 29; fee 2.9;
    //   cash 10,000 - 2,900 - 2.9 = 7,097.1.
    // Second, at 110: equity = 7,097.1 + 29 x 110 = 10,287.1; 0.3 x 10,287.1 = 3,086.13 ->
    //   floor(3,086.13 / 110.11) = floor(28.03) = 28 (0.3 x cash would give only 19);
    //   fee 0.001 x 28 x 110 = 3.08; cash 7,097.1 - 3,080 - 3.08 = 4,014.02.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 29.0, 100.0, 2.9),
            (2, Side::Buy, 28.0, 110.0, 3.08),
        ],
    );
    assert_close(run.outcome.curve.cash[2], 4_014.02);
}

#[test]
fn scaled_auto_sizes_from_the_scaled_budget() {
    let mut spec = spec();
    spec.broker.commission = 0.001;
    let bars = vec![b0(), flat(1, 100.0)];
    let half = OrderRequest::market(I, Side::Buy, Size::Scaled(0.5));
    let run = run_scripted(&spec, bars.clone(), Scripted::new().at(0, half));
    // All-in budget 10,000 x 0.5 = 5,000 -> floor(5,000 / 100.1) = floor(49.95) = 49; fee 4.9.
    assert_fills(&run, &[(1, Side::Buy, 49.0, 100.0, 4.9)]);
    // Out of (0, 1]: refused as an invalid order, nothing fills.
    for bad in [0.0, -0.5, 1.5, f64::NAN] {
        let order = OrderRequest::market(I, Side::Buy, Size::Scaled(bad));
        let run = run_scripted(&spec, bars.clone(), Scripted::new().at(0, order));
        assert!(run.outcome.fills.is_empty(), "scale {bad} filled");
    }
}

// ---------------------------------------------------------------------------------------------
// End of data
// ---------------------------------------------------------------------------------------------

fn end_bars() -> Vec<market_data::Bar> {
    vec![
        b0(),
        bar(1, 100.0, 102.0, 99.0, 101.0, 1_000.0),
        bar(2, 105.0, 111.0, 104.0, 110.0, 1_000.0),
    ]
}

#[test]
fn close_at_end_closes_at_the_last_close_with_commission() {
    let mut spec = spec();
    spec.broker.commission = 0.001;
    spec.broker.close_at_end = true;
    let run = run_scripted(
        &spec,
        end_bars(),
        Scripted::new().at(0, market(Side::Buy, 10.0)),
    );
    // Buy 10 @ 100, fee 1.0; closed at the last close 110, fee 0.001 x 1,100 = 1.1.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 10.0, 100.0, 1.0),
            (2, Side::Sell, 10.0, 110.0, 1.1),
        ],
    );
    // 10,000 - 1,000 - 1 + 1,100 - 1.1 = 10,097.9.
    assert_close(run.outcome.final_equity(), 10_097.9);
    assert_close(*run.outcome.curve.cash.last().unwrap(), 10_097.9);
    assert!(run.outcome.open_trades.is_empty());
    assert_eq!(run.outcome.trades.len(), 1);
    let trade = run.outcome.trades[0];
    assert_close(trade.exit_price, 110.0);
    assert_close(trade.pnl, 97.9); // 100 - 2.1
    assert_eq!(run.outcome.positions[0].qty, 0.0);
    assert_eq!(run.outcome.orders[1].status, OrderStatus::Filled);
}

#[test]
fn without_close_at_end_the_trade_stays_open_and_is_marked_at_the_last_close() {
    let mut spec = spec();
    spec.broker.commission = 0.001;
    let run = run_scripted(
        &spec,
        end_bars(),
        Scripted::new().at(0, market(Side::Buy, 10.0)),
    );
    assert_fills(&run, &[(1, Side::Buy, 10.0, 100.0, 1.0)]);
    assert!(run.outcome.trades.is_empty());
    assert_eq!(run.outcome.open_trades.len(), 1);
    let open = run.outcome.open_trades[0];
    assert!(open.open);
    assert_close(open.entry_price, 100.0);
    assert_close(open.exit_price, 110.0);
    assert_close(open.pnl, 99.0); // 10 x (110 - 100) - 1.0 entry fee
    // Equity: cash 10,000 - 1,000 - 1 = 8,999, plus 10 x 110 = 10,099.
    assert_close(run.outcome.final_equity(), 10_099.0);
    assert_close(run.outcome.positions[0].qty, 10.0);
}

// ---------------------------------------------------------------------------------------------
// Rejections: events the strategy sees, with their reason
// ---------------------------------------------------------------------------------------------

#[test]
fn explicit_buy_beyond_cash_is_rejected_with_insufficient_cash() {
    let mut spec = spec();
    spec.broker.commission = 0.001;
    let bars = vec![b0(), flat(1, 100.0), flat(2, 100.0)];
    let run = run_scripted(&spec, bars, Scripted::new().at(0, market(Side::Buy, 200.0)));
    // Needs 200 x 100 + 0.001 x 20,000 = 20,020; has 10,000. Refused at the fill (bar 1).
    assert_fills(&run, &[]);
    let (ts, reason) = run.rejection(1).expect("rejection reported");
    assert_eq!(ts, day_ts(1));
    match reason {
        RejectReason::InsufficientCash { needed, available } => {
            assert_close(needed, 20_020.0);
            assert_close(available, 10_000.0);
        }
        other => panic!("expected InsufficientCash, got {other:?}"),
    }
    assert_eq!(status(&run, 1), OrderStatus::Rejected);
    assert_eq!(run.outcome.orders[0].reason, Some(reason));
    assert_eq!(run.outcome.final_equity(), 10_000.0);
}

#[test]
fn sell_without_position_is_rejected_when_shorts_are_not_allowed() {
    let bars = vec![b0(), flat(1, 100.0), flat(2, 100.0)];
    let auto_sell = OrderRequest::market(I, Side::Sell, Size::Auto);
    let script = Scripted::new()
        .at(0, market(Side::Sell, 10.0))
        .at(0, auto_sell);
    let run = run_scripted(&spec(), bars, script);
    assert_fills(&run, &[]);
    assert_eq!(
        run.rejection(1),
        Some((day_ts(1), RejectReason::ShortNotAllowed))
    );
    assert_eq!(
        run.rejection(2),
        Some((day_ts(1), RejectReason::ShortNotAllowed))
    );
    assert_eq!(status(&run, 1), OrderStatus::Rejected);
    assert_eq!(run.outcome.positions[0].qty, 0.0);
}

#[test]
fn sell_through_zero_is_rejected_when_shorts_are_not_allowed() {
    // Long 50 at 100, then a sell of 56: it would end short 6, so it is refused as a whole even
    // though |-6| < |50| (a regression: it used to pass as "reducing exposure").
    let bars = vec![b0(), flat(1, 100.0), flat(2, 110.0), flat(3, 110.0)];
    let script = Scripted::new()
        .at(0, market(Side::Buy, 50.0))
        .at(1, market(Side::Sell, 56.0));
    let run = run_scripted(&spec(), bars, script);
    assert_fills(&run, &[(1, Side::Buy, 50.0, 100.0, 0.0)]);
    assert_eq!(
        run.rejection(2),
        Some((day_ts(2), RejectReason::ShortNotAllowed))
    );
    assert_eq!(run.outcome.positions[0].qty, 50.0);
}

#[test]
fn sell_through_zero_reverses_the_position_when_shorts_are_allowed() {
    let mut spec = spec();
    spec.broker.allow_short = true;
    let bars = vec![b0(), flat(1, 100.0), flat(2, 110.0), flat(3, 105.0)];
    let script = Scripted::new()
        .at(0, market(Side::Buy, 50.0))
        .at(1, market(Side::Sell, 56.0));
    let run = run_scripted(&spec, bars, script);
    // Sell 56 @ 110: closes the 50 long, realizing (110 - 100) x 50 = 500, and opens 6 short at 110.
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 50.0, 100.0, 0.0),
            (2, Side::Sell, 56.0, 110.0, 0.0),
        ],
    );
    assert_close(run.outcome.realized, 500.0);
    let pos = run.outcome.positions[0];
    assert_close(pos.qty, -6.0);
    assert_close(pos.avg_price, 110.0);
    assert_eq!(run.outcome.trades.len(), 1);
    assert_eq!(run.outcome.open_trades.len(), 1);
    assert_eq!(run.outcome.open_trades[0].side, Side::Sell);
    // Cash 10,000 - 5,000 + 6,160 = 11,160; marked at 105: 11,160 - 6 x 105 = 10,530
    // = 10,000 + 500 realized + 6 x (110 - 105) unrealized.
    assert_close(run.outcome.final_equity(), 10_530.0);
}

#[test]
fn max_position_fraction_rejects_an_oversized_buy() {
    let mut spec = spec();
    spec.risk.max_position_fraction = 0.5;
    let bars = vec![b0(), flat(1, 100.0), flat(2, 100.0)];
    let script = Scripted::new()
        .at(0, market(Side::Buy, 60.0))
        .at(0, market(Side::Buy, 50.0));
    let run = run_scripted(&spec, bars, script);
    // Limit 0.5 x 10,000 = 5,000: 60 x 100 = 6,000 is refused; 50 x 100 = 5,000 fits exactly.
    assert_eq!(
        run.rejection(1),
        Some((day_ts(1), RejectReason::PositionLimit))
    );
    assert_fills(&run, &[(1, Side::Buy, 50.0, 100.0, 0.0)]);
    assert_eq!(status(&run, 2), OrderStatus::Filled);
}

#[test]
fn max_drawdown_kill_switch_flattens_at_the_next_open_and_rejects_new_orders() {
    let mut spec = spec();
    spec.risk.max_drawdown = 0.2;
    let bars = vec![
        flat(0, 100.0),
        bar(1, 100.0, 101.0, 99.0, 100.0, 1_000.0),
        bar(2, 90.0, 91.0, 74.0, 75.0, 1_000.0),
        bar(3, 74.0, 80.0, 73.0, 79.0, 1_000.0),
        bar(4, 79.0, 81.0, 78.0, 80.0, 1_000.0),
    ];
    let script = Scripted::new()
        .at(0, auto_buy()) // all in: floor(10,000 / 100) = 100 units at bar 1's open 100
        .at(1, limit(Side::Buy, 1.0, 50.0)) // resting order, canceled by the kill switch
        .at(3, market(Side::Buy, 1.0)); // after the switch: refused
    let run = run_scripted(&spec, bars, script);
    // Bar 1 equity 100 x 100 = 10,000 (the peak); bar 2 equity 100 x 75 = 7,500 < 8,000 = peak x
    // (1 - 0.2): the switch fires at the end of bar 2. The close order (id 3) sells 100 at bar 3's
    // open 74: cash 7,400.
    assert_eq!(run.outcome.halted_at, Some(day_ts(2)));
    assert_fills(
        &run,
        &[
            (1, Side::Buy, 100.0, 100.0, 0.0),
            (3, Side::Sell, 100.0, 74.0, 0.0),
        ],
    );
    assert_eq!(status(&run, 2), OrderStatus::Canceled);
    assert_eq!(run.outcome.orders[1].closed, Some(day_ts(2)));
    assert!(run.kinds(2).contains(&ExecKind::Canceled));
    let close = &run.outcome.orders[2];
    assert_eq!(close.request.size, Size::ClosePosition);
    assert_eq!(close.created, day_ts(2));
    assert_eq!(close.status, OrderStatus::Filled);
    assert_eq!(
        run.rejection(4),
        Some((day_ts(3), RejectReason::KillSwitch))
    );
    assert_eq!(run.outcome.orders[3].reason, Some(RejectReason::KillSwitch));
    assert_eq!(
        run.outcome.curve.equity,
        vec![10_000.0, 10_000.0, 7_500.0, 7_400.0, 7_400.0]
    );
    assert_eq!(run.outcome.positions[0].qty, 0.0);
}

// ---------------------------------------------------------------------------------------------
// Short selling
// ---------------------------------------------------------------------------------------------

#[test]
fn short_cover_realizes_entry_minus_exit() {
    let mut spec = spec();
    spec.broker.allow_short = true;
    spec.broker.commission = 0.001;
    let bars = vec![b0(), flat(1, 100.0), flat(2, 95.0), flat(3, 90.0)];
    let script = Scripted::new()
        .at(0, market(Side::Sell, 10.0))
        .at(2, market(Side::Buy, 10.0));
    let run = run_scripted(&spec, bars, script);
    // Short 10 @ 100 (fee 1.0), cover 10 @ 90 (fee 0.9): realized (100 - 90) x 10 = 100.
    assert_fills(
        &run,
        &[
            (1, Side::Sell, 10.0, 100.0, 1.0),
            (3, Side::Buy, 10.0, 90.0, 0.9),
        ],
    );
    assert_close(run.outcome.realized, 100.0);
    // Cash after the short 10,000 + 1,000 - 1 = 10,999; bar 2 equity 10,999 - 10 x 95 = 10,049.
    assert_close(run.outcome.curve.equity[2], 10_049.0);
    // After the cover: 10,999 - 900 - 0.9 = 10,098.1.
    assert_close(run.outcome.final_equity(), 10_098.1);
    let trade = run.outcome.trades[0];
    assert_eq!(trade.side, Side::Sell);
    assert_close(trade.entry_price, 100.0);
    assert_close(trade.exit_price, 90.0);
    assert_close(trade.pnl, 98.1); // 100 - 1.9

    // A losing short: cover at 105 realizes (100 - 105) x 10 = -50.
    let bars = vec![b0(), flat(1, 100.0), flat(2, 102.0), flat(3, 105.0)];
    let script = Scripted::new()
        .at(0, market(Side::Sell, 10.0))
        .at(2, market(Side::Buy, 10.0));
    let run = run_scripted(&spec, bars, script);
    assert_close(run.outcome.realized, -50.0);
    assert_close(run.outcome.trades[0].pnl, -50.0 - 1.0 - 1.05);
}
