//! Independent sleeves: each instrument runs as its own backtest with its share of the capital,
//! in parallel, and the runs are combined into one portfolio result.
//!
//! Sleeves share no cash, so they need no common event loop: each is an ordinary run of the same
//! engine over its own series, and rayon spreads them over the cores. Combining is pure and
//! ordered by sleeve, so the result does not depend on the thread count or on which sleeve
//! finished first. The combined [`BacktestOutcome`] is what a single run would have recorded for
//! the whole book, so `Summary::new` and `write_results` take it unchanged:
//!
//! - equity and cash are the sums over sleeves on the union of their timestamps; a sleeve with no
//!   bar at a time counts with its last value, and before its first bar with its starting cash;
//! - orders get new ids 1..=n in (creation time, sleeve, own id) order, and fills follow them;
//! - instrument indices are offset by the instruments of the sleeves before;
//! - holdings are each sleeve's on the same union of timestamps, carried like its equity;
//! - a time step counts as exposed when any sleeve holds a position over it (from the entry fill
//!   to the exit fill of a round trip), which reproduces the engine's count for one sleeve.

use crate::broker::{FillRecord, OrderRecord};
use crate::config::EngineSpec;
use crate::features::OrderAttribution;
use crate::holdings::Holdings;
use crate::metrics::{infer_periods_per_year, max_drawdown, sharpe_of_equity};
use crate::order::OrderId;
use crate::outcome::{BacktestOutcome, EquityCurve};
use crate::portfolio::TradeRecord;
use crate::summary::MetricsSpec;
use market_data::{InstrumentIdx, Timestamp};
use rayon::prelude::*;
use serde::Serialize;

/// The figures of one sleeve, for per-sleeve attribution in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SleeveSummary {
    /// The sleeve's instruments (one per sleeve when run by [`run_sleeves`]).
    pub instruments: Vec<String>,
    /// Its share of the capital.
    pub weight: f64,
    /// Its starting cash: the book's initial cash times its weight.
    pub initial_cash: f64,
    /// Its equity after its last bar.
    pub final_equity: f64,
    /// Final equity minus starting cash (after fees, open positions at their marks).
    pub pnl: f64,
    /// final / initial - 1.
    pub total_return: f64,
    /// Its contribution to the book's return: pnl over the book's initial cash.
    pub contribution: f64,
    /// Sharpe ratio of its own equity curve, annualised like the book's.
    pub sharpe: f64,
    /// Worst drawdown of its own equity curve (negative fraction).
    pub max_drawdown: f64,
    /// Closed round trips.
    pub trades: usize,
    /// Commission paid.
    pub fees: f64,
    /// When its drawdown kill switch fired, if it did.
    pub halted_at: Option<String>,
}

/// The combined result of a sleeves run, with each sleeve's own figures.
#[derive(Debug, Clone)]
pub struct SleevesOutcome {
    /// The whole book, as one run.
    pub combined: BacktestOutcome,
    /// One entry per sleeve, in sleeve order.
    pub sleeves: Vec<SleeveSummary>,
}

/// Returns the spec of a sleeve holding `weight` of the capital of `spec`.
pub fn sleeve_spec(spec: &EngineSpec, weight: f64) -> EngineSpec {
    let mut sleeve = spec.clone();
    sleeve.broker.initial_cash = spec.broker.initial_cash * weight;
    sleeve
}

/// Runs one sleeve per input, in parallel on the current rayon pool, and combines them.
///
/// An input is whatever `run` makes one sleeve's backtest from: a series in memory, or files
/// that `run` opens and streams, so each worker holds one sleeve's bars at a time. `weights`
/// (one per input, summing to 1) split the initial cash; `run` is one ordinary backtest of one
/// input with its sleeve's spec. `metrics` measures the per-sleeve figures (periods per year
/// inferred from the timestamps when not set; the risk-free rate).
///
/// # Errors
/// Returns the first failing sleeve's error, in sleeve order.
///
/// # Panics
/// Panics when `weights` and `inputs` differ in length.
pub fn run_sleeves<I, E, F>(
    spec: &EngineSpec,
    inputs: &[I],
    weights: &[f64],
    metrics: MetricsSpec,
    run: F,
) -> Result<SleevesOutcome, E>
where
    I: Sync,
    E: Send,
    F: Fn(&EngineSpec, &I) -> Result<BacktestOutcome, E> + Sync,
{
    assert_eq!(inputs.len(), weights.len(), "one weight per sleeve");
    let outcomes = inputs
        .par_iter()
        .zip(weights)
        .map(|(input, &weight)| run(&sleeve_spec(spec, weight), input))
        .collect::<Result<Vec<_>, E>>()?;
    Ok(combine_sleeves(spec, outcomes, weights, metrics))
}

/// Combines independent sleeve runs into one book (see the module docs for the rules).
///
/// `spec` is the book's spec (its initial cash is the total); `weights` are the sleeves' shares;
/// `metrics` measures the per-sleeve Sharpe ratios: its periods per year (inferred from the
/// book's timestamps when not set, as `Summary::new` does) and its risk-free rate. The work is spread over the current rayon
/// pool, and every sum runs in sleeve order, so the result does not depend on the thread count.
///
/// # Panics
/// Panics when `weights` and `sleeves` differ in length.
pub fn combine_sleeves(
    spec: &EngineSpec,
    sleeves: Vec<BacktestOutcome>,
    weights: &[f64],
    metrics: MetricsSpec,
) -> SleevesOutcome {
    assert_eq!(sleeves.len(), weights.len(), "one weight per sleeve");
    let initial_cash: f64 = sleeves.iter().map(|s| s.initial_cash).sum();
    let offsets = instrument_offsets(&sleeves);
    // The book's curve (and what depends on it) and the journals are independent: built side
    // by side, each one's serial stretches (allocation, merging) fill the other's idle cores.
    let ((curve, exposed_steps, summaries), ((orders, fills, attributions), trades)) = rayon::join(
        || {
            let curve = sum_curves(&sleeves);
            let exposed_steps = exposed_steps(&curve.ts, &sleeves);
            let ppy = metrics
                .periods_per_year
                .unwrap_or_else(|| infer_periods_per_year(Timestamp::all_nanos(&curve.ts)));
            let summaries: Vec<SleeveSummary> = sleeves
                .par_iter()
                .zip(weights)
                .map(|(s, &weight)| summarize(s, weight, initial_cash, ppy, metrics.risk_free))
                .collect();
            (curve, exposed_steps, summaries)
        },
        || {
            rayon::join(
                || merge_journals(&sleeves, &offsets),
                || {
                    // Closed trades in closing order across the book, sleeve order on ties.
                    by_key(&sleeves, |s| &s.trades, |t| t.exit_time)
                        .into_par_iter()
                        .map(|(k, i)| {
                            let t = &sleeves[k].trades[i];
                            TradeRecord {
                                instrument: InstrumentIdx(t.instrument.0 + offsets[k]),
                                ..*t
                            }
                        })
                        .collect::<Vec<_>>()
                },
            )
        },
    );

    let holdings = {
        let books: Vec<(&[Timestamp], &Holdings, u32)> = (sleeves.iter().zip(&offsets))
            .map(|(s, &offset)| (&s.curve.ts[..], &s.holdings, offset))
            .collect();
        Holdings::combine(&curve.ts, &books)
    };
    let mut combined = BacktestOutcome {
        instruments: Vec::new(),
        spec: EngineSpec {
            broker: crate::config::BrokerConfig {
                initial_cash,
                ..spec.broker.clone()
            },
            ..spec.clone()
        },
        curve,
        holdings,
        orders,
        fills,
        trades,
        handed_on: None,
        open_trades: Vec::new(),
        positions: Vec::new(),
        initial_cash,
        fees: 0.0,
        realized: 0.0,
        traded_notional: 0.0,
        exposed_steps,
        bars_per_instrument: Vec::new(),
        halted_at: sleeves.iter().filter_map(|s| s.halted_at).min(),
        killed: false,
        attributions,
        drift: Vec::new(),
    };
    for (sleeve, offset) in sleeves.into_iter().zip(offsets) {
        let shift = |t: TradeRecord| TradeRecord {
            instrument: InstrumentIdx(t.instrument.0 + offset),
            ..t
        };
        combined
            .open_trades
            .extend(sleeve.open_trades.into_iter().map(shift));
        combined.fees += sleeve.fees;
        combined.realized += sleeve.realized;
        combined.traded_notional += sleeve.traded_notional;
        combined.positions.extend(sleeve.positions);
        combined
            .bars_per_instrument
            .extend(sleeve.bars_per_instrument);
        combined.instruments.extend(sleeve.instruments);
        combined.drift.extend(sleeve.drift);
    }
    SleevesOutcome {
        combined,
        sleeves: summaries,
    }
}

/// Returns the sorted union of the sleeves' timestamps (their common stamps when all agree).
fn union_stamps(sleeves: &[BacktestOutcome]) -> Vec<Timestamp> {
    let first = sleeves.first().map_or(&[][..], |s| &s.curve.ts[..]);
    if sleeves.iter().all(|s| s.curve.ts == first) {
        return first.to_vec();
    }
    let mut ts: Vec<Timestamp> = sleeves
        .iter()
        .flat_map(|s| s.curve.ts.iter().copied())
        .collect();
    ts.par_sort_unstable();
    ts.dedup();
    ts
}

/// Sums equity and cash over sleeves on the union of their timestamps, forward-filling each.
fn sum_curves(sleeves: &[BacktestOutcome]) -> EquityCurve {
    // Blocks of steps in parallel; within a step, sleeves are added in sleeve order.
    const BLOCK: usize = 8_192;
    let ts = union_stamps(sleeves);
    let blocks: Vec<(Vec<f64>, Vec<f64>)> = ts
        .par_chunks(BLOCK)
        .map(|block| {
            let (mut equity, mut cash) = (vec![0.0; block.len()], vec![0.0; block.len()]);
            for sleeve in sleeves {
                let c = &sleeve.curve;
                let mut next = c.ts.partition_point(|t| *t < block[0]);
                if c.ts.get(next..next + block.len()) == Some(block) {
                    // The sleeve has a bar at every step of the block (the common case).
                    let steps = next..next + block.len();
                    for (i, (e, k)) in c.equity[steps.clone()]
                        .iter()
                        .zip(&c.cash[steps])
                        .enumerate()
                    {
                        equity[i] += e;
                        cash[i] += k;
                    }
                    continue;
                }
                let (mut e, mut k) = match next {
                    0 => (sleeve.initial_cash, sleeve.initial_cash),
                    n => (c.equity[n - 1], c.cash[n - 1]),
                };
                for (i, t) in block.iter().enumerate() {
                    if c.ts.get(next) == Some(t) {
                        (e, k) = (c.equity[next], c.cash[next]);
                        next += 1;
                    }
                    equity[i] += e;
                    cash[i] += k;
                }
            }
            (equity, cash)
        })
        .collect();
    let mut curve = EquityCurve::with_capacity(ts.len());
    for (equity, cash) in blocks {
        curve.equity.extend(equity);
        curve.cash.extend(cash);
    }
    curve.ts = ts;
    curve
}

/// Counts the steps of `ts` over which any sleeve held a position: from a round trip's entry to
/// its exit (inclusive), or to the end for one still open.
fn exposed_steps(ts: &[Timestamp], sleeves: &[BacktestOutcome]) -> usize {
    let spans: Vec<Vec<(usize, usize)>> = sleeves
        .par_iter()
        .map(|sleeve| {
            sleeve
                .trades
                .iter()
                .chain(&sleeve.open_trades)
                .map(|trade| {
                    let from = ts.partition_point(|t| *t < trade.entry_time);
                    let to = if trade.open {
                        ts.len()
                    } else {
                        ts.partition_point(|t| *t <= trade.exit_time)
                    };
                    (from, to)
                })
                .collect()
        })
        .collect();
    let mut delta = vec![0i64; ts.len() + 1];
    for &(from, to) in spans.iter().flatten() {
        if from < to {
            delta[from] += 1;
            delta[to] -= 1;
        }
    }
    let mut open = 0;
    delta[..ts.len()]
        .iter()
        .filter(|d| {
            open += **d;
            open > 0
        })
        .count()
}

/// Returns each sleeve's first instrument index in the book.
fn instrument_offsets(sleeves: &[BacktestOutcome]) -> Vec<u32> {
    sleeves
        .iter()
        .scan(0u32, |next, s| {
            let offset = *next;
            *next += s.instruments.len() as u32;
            Some(offset)
        })
        .collect()
}

/// Returns the (sleeve, position) of the items of every sleeve's `list`, ordered by (`key`,
/// sleeve, position): a stable merge. The keys are laid out in sleeve order and sorted by a
/// stable sort, which keeps ties in that order; each sleeve records its orders, fills and trades
/// in time order, so the sort finds the sorted runs and only merges them. Only small keys move,
/// never the records.
fn by_key<T: Sync, K: Ord + Send + Copy>(
    sleeves: &[BacktestOutcome],
    list: impl Fn(&BacktestOutcome) -> &[T] + Sync,
    key: impl Fn(&T) -> K + Sync,
) -> Vec<(usize, usize)> {
    let mut keys: Vec<(K, u32, u32)> = sleeves
        .par_iter()
        .enumerate()
        .flat_map_iter(|(k, s)| {
            let key = &key;
            list(s)
                .iter()
                .enumerate()
                .map(move |(i, x)| (key(x), k as u32, i as u32))
        })
        .collect();
    keys.par_sort_by_key(|&(k, _, _)| k);
    keys.into_iter()
        .map(|(_, k, i)| (k as usize, i as usize))
        .collect()
}

/// Renumbers orders 1..=n in (created, sleeve, own id) order, offsets instruments, and merges the
/// fills in time order (sleeve order on ties) with the new ids.
fn merge_journals(
    sleeves: &[BacktestOutcome],
    offsets: &[u32],
) -> (Vec<OrderRecord>, Vec<FillRecord>, Vec<OrderAttribution>) {
    let (order_order, fill_order) = rayon::join(
        || by_key(sleeves, |s| &s.orders, |o| o.created),
        || by_key(sleeves, |s| &s.fills, |f| f.ts),
    );
    // new_id[k][own id - 1]: a sleeve's records are by id, 1..=n.
    let mut new_id: Vec<Vec<u64>> = sleeves.iter().map(|s| vec![0; s.orders.len()]).collect();
    for (n, &(k, i)) in order_order.iter().enumerate() {
        new_id[k][i] = n as u64 + 1;
    }
    let orders = order_order
        .par_iter()
        .map(|&(k, i)| {
            let mut o = sleeves[k].orders[i];
            o.id = OrderId(new_id[k][i]);
            o.request.instrument = InstrumentIdx(o.request.instrument.0 + offsets[k]);
            o
        })
        .collect();
    let fills = fill_order
        .par_iter()
        .map(|&(k, i)| {
            let f = &sleeves[k].fills[i];
            FillRecord {
                order_id: OrderId(
                    new_id[k]
                        .get((f.order_id.0 as usize).wrapping_sub(1))
                        .copied()
                        .unwrap_or(0),
                ),
                instrument: InstrumentIdx(f.instrument.0 + offsets[k]),
                ..*f
            }
        })
        .collect();
    let mut attributions: Vec<OrderAttribution> = (sleeves.iter().zip(&new_id).zip(offsets))
        .flat_map(|((s, ids), &offset)| {
            s.attributions.iter().map(move |a| OrderAttribution {
                order: OrderId(
                    ids.get((a.order.0 as usize).wrapping_sub(1))
                        .copied()
                        .unwrap_or(0),
                ),
                instrument: InstrumentIdx(a.instrument.0 + offset),
                ..a.clone()
            })
        })
        .collect();
    attributions.sort_by_key(|a| a.order);
    (orders, fills, attributions)
}

fn summarize(
    sleeve: &BacktestOutcome,
    weight: f64,
    book_cash: f64,
    periods_per_year: f64,
    risk_free: f64,
) -> SleeveSummary {
    let equity = &sleeve.curve.equity;
    let final_equity = sleeve.final_equity();
    let pnl = final_equity - sleeve.initial_cash;
    SleeveSummary {
        instruments: sleeve.instruments.iter().map(ToString::to_string).collect(),
        weight,
        initial_cash: sleeve.initial_cash,
        final_equity,
        pnl,
        total_return: final_equity / sleeve.initial_cash - 1.0,
        contribution: pnl / book_cash,
        sharpe: sharpe_of_equity(equity, periods_per_year, risk_free),
        max_drawdown: max_drawdown(equity),
        trades: sleeve.trades.len(),
        fees: sleeve.fees,
        halted_at: sleeve.halted_at.map(|t| t.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{OrderRequest, Size};
    use crate::test_support::{Scripted, flat, run, series, spec};
    use market_data::{BarSeries, Side};

    fn buy_then_sell(buy_at: usize, sell_at: usize) -> Scripted {
        let idx = InstrumentIdx(0);
        Scripted::new()
            .at(buy_at, OrderRequest::market(idx, Side::Buy, Size::Auto))
            .at(
                sell_at,
                OrderRequest::market(idx, Side::Sell, Size::ClosePosition),
            )
    }

    fn rising(name: &str, days: std::ops::Range<i64>, start: f64) -> BarSeries {
        series(
            name,
            days.clone()
                .map(|d| flat(d, start + (d - days.start) as f64))
                .collect(),
        )
    }

    #[test]
    fn one_sleeve_is_the_plain_run() {
        let data = [rising("A", 0..10, 100.0)];
        let plain = run(&spec(), &data, buy_then_sell(1, 6));
        let sleeves = run_sleeves(&spec(), &data, &[1.0], MetricsSpec::default(), |s, d| {
            Ok::<_, ()>(run(s, std::slice::from_ref(d), buy_then_sell(1, 6)))
        })
        .unwrap();
        let c = &sleeves.combined;
        assert_eq!(c.curve, plain.curve);
        assert_eq!(c.orders, plain.orders);
        assert_eq!(c.fills, plain.fills);
        assert_eq!(c.trades, plain.trades);
        assert_eq!(c.exposed_steps, plain.exposed_steps);
        assert_eq!(c.initial_cash, plain.initial_cash);
        assert_eq!(sleeves.sleeves[0].trades, 1);
    }

    #[test]
    fn curves_sum_on_the_union_of_timestamps() {
        // A trades days 0..10, B only days 5..15: before B's first bar it counts its cash, after
        // A's last bar A counts its last equity.
        let data = [rising("A", 0..10, 100.0), rising("B", 5..15, 50.0)];
        let weights = [0.75, 0.25];
        let scripts = || [buy_then_sell(1, 6), buy_then_sell(0, 3)];
        let yearly = MetricsSpec {
            periods_per_year: Some(252.0),
            risk_free: 0.0,
        };
        let outcome = run_sleeves(&spec(), &data, &weights, yearly, |s, d| {
            let k = usize::from(d.instrument.as_str() == "B");
            let [a, b] = scripts();
            Ok::<_, ()>(run(s, std::slice::from_ref(d), if k == 0 { a } else { b }))
        })
        .unwrap();
        let [a, b] = scripts();
        let solo_a = run(&sleeve_spec(&spec(), 0.75), &data[..1], a);
        let solo_b = run(&sleeve_spec(&spec(), 0.25), &data[1..], b);
        let c = &outcome.combined;
        assert_eq!(c.curve.len(), 15);
        assert_eq!(c.initial_cash, 10_000.0);
        for (i, t) in c.curve.ts.iter().enumerate() {
            let value = |s: &BacktestOutcome, col: &[f64]| {
                let n = s.curve.ts.partition_point(|x| x <= t);
                if n == 0 { s.initial_cash } else { col[n - 1] }
            };
            let equity =
                value(&solo_a, &solo_a.curve.equity) + value(&solo_b, &solo_b.curve.equity);
            let cash = value(&solo_a, &solo_a.curve.cash) + value(&solo_b, &solo_b.curve.cash);
            assert_eq!(c.curve.equity[i], equity, "equity at step {i}");
            assert_eq!(c.curve.cash[i], cash, "cash at step {i}");
        }
        // Orders renumbered in creation order: B's buy (day 5) comes before A's sell (day 6).
        let ids: Vec<(u64, u32)> = c
            .orders
            .iter()
            .map(|o| (o.id.0, o.request.instrument.0))
            .collect();
        assert_eq!(ids, vec![(1, 0), (2, 1), (3, 0), (4, 1)]);
        for f in &c.fills {
            let order = &c.orders[f.order_id.0 as usize - 1];
            assert_eq!(order.request.instrument, f.instrument);
        }
        assert!(c.fills.windows(2).all(|w| w[0].ts <= w[1].ts));
        assert_eq!(c.trades.len(), 2);
        assert_eq!(c.trades[0].instrument, InstrumentIdx(0));
        assert_eq!(c.trades[1].instrument, InstrumentIdx(1));
        assert_eq!(c.fees, solo_a.fees + solo_b.fees);
        assert_eq!(c.bars_per_instrument, vec![10, 10]);
        // A holds days 2..=7, B days 6..=9 (fills at the next open): days 2..=9 exposed.
        assert_eq!(c.exposed_steps, 8);
        let s = &outcome.sleeves;
        assert_eq!((s[0].weight, s[0].initial_cash), (0.75, 7_500.0));
        assert_eq!(s[1].instruments, vec!["B".to_string()]);
        assert_eq!(s[1].final_equity, solo_b.final_equity());
    }
}
