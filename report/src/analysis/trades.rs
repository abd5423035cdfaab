//! Trade list and per-instrument attribution.

use super::{DecisionRow, InstrumentRow, TradeRow};
use engine::{BacktestOutcome, SHOWN_TRADES, Summary, TradeRecord, TradeSample, TradeTally};
use market_data::Side;

/// Returns the round trips the report lists, each with its number in the run: every closed one
/// in closing order, then those still open at the end; past [`SHOWN_TRADES`] in all, the best
/// and the worst closed ones, the latest in the room left, then the open ones (see
/// [`TradeSample`]).
///
/// A figure that is not finite (a trade entered at a price of 0 has no return) is written as 0,
/// so the list always serialises as numbers.
pub(crate) fn trade_rows(outcome: &BacktestOutcome) -> Vec<TradeRow> {
    // An explained order's fills, by (instrument, time): a trade opens and closes on fills.
    let explained: std::collections::HashSet<u64> =
        outcome.attributions.iter().map(|a| a.order.0).collect();
    let mut order_at = std::collections::HashMap::new();
    // Read only for a run that explains its orders: a long run's fills are on disk.
    let fills = (!explained.is_empty()).then(|| outcome.every_fill());
    for f in fills
        .into_iter()
        .flatten()
        .filter(|f| explained.contains(&f.order_id.0))
    {
        order_at.entry((f.instrument, f.ts)).or_insert(f.order_id.0);
    }
    let order = |instrument, ts| order_at.get(&(instrument, ts)).copied();
    let sample = TradeSample::of(outcome);
    let open = &outcome.open_trades;
    let closed = sample.rows(SHOWN_TRADES.saturating_sub(open.len()));
    let open = (open.iter().enumerate()).map(|(k, t)| (sample.seen() + k, *t));
    closed
        .into_iter()
        .chain(open)
        .map(|(k, t)| TradeRow {
            number: k + 1,
            instrument: name_of(outcome, &t),
            side: if t.side == Side::Buy { "long" } else { "short" }.to_string(),
            qty: finite_or_zero(t.qty),
            entry_ts: t.entry_time.0,
            entry_price: finite_or_zero(t.entry_price),
            exit_ts: (!t.open).then_some(t.exit_time.0),
            exit_price: finite_or_zero(t.exit_price),
            pnl: finite_or_zero(t.pnl),
            ret: finite_or_zero(t.ret),
            fees: finite_or_zero(t.fees),
            entry_order: order(t.instrument, t.entry_time),
            exit_order: (!t.open)
                .then(|| order(t.instrument, t.exit_time))
                .flatten(),
        })
        .collect()
}

/// Returns one row per explained order of a model-driven run, in order.
pub(crate) fn decision_rows(outcome: &BacktestOutcome) -> Vec<DecisionRow> {
    (outcome.attributions.iter())
        .map(|a| {
            let x = &a.attribution;
            let side = (outcome.orders.get((a.order.0 as usize).wrapping_sub(1)))
                .map_or("?", |o| o.request.side.as_str());
            DecisionRow {
                order_id: a.order.0,
                ts: a.ts.0,
                instrument: (outcome.instruments.get(a.instrument.get()))
                    .map_or_else(|| "?".into(), ToString::to_string),
                side: side.to_string(),
                model_id: x.model_id().to_string(),
                class: x.class_name().to_string(),
                probabilities: (x.probabilities())
                    .map(|(c, p)| format!("{c} {p:.2}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                drivers: (x.top())
                    .map(|(f, v)| format!("{f} {v:+.3}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
        .collect()
}

/// Returns one row per instrument, largest P&L first (ties in instrument order).
///
/// P&L, trade count and fees are the summary's (closed trades plus the open one at its mark,
/// after fees), so the page and `summary.json` agree; turnover is the instrument's traded
/// notional, and contribution its P&L over the initial capital.
pub(crate) fn instrument_rows(
    outcome: &BacktestOutcome,
    trades: &TradeTally,
    summary: &Summary,
) -> Vec<InstrumentRow> {
    let mut rows: Vec<InstrumentRow> = summary
        .instruments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let one = trades.instrument(i);
            InstrumentRow {
                name: s.instrument.clone(),
                pnl: finite_or_zero(s.pnl),
                contribution: finite_or_zero(s.pnl / outcome.initial_cash),
                trades: s.trades,
                win_rate: (one.closed > 0).then(|| one.wins as f64 / one.closed as f64),
                fees: finite_or_zero(s.fees),
                turnover: finite_or_zero(one.turnover),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.pnl.total_cmp(&a.pnl));
    rows
}

fn name_of(outcome: &BacktestOutcome, t: &TradeRecord) -> String {
    outcome
        .instruments
        .get(t.instrument.get())
        .map_or_else(|| "?".to_string(), ToString::to_string)
}

/// `x`, or 0 when it is NaN or infinite (JSON has no such numbers).
pub(crate) fn finite_or_zero(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}
