//! Where a run's finished time steps go while it runs: the loop records equity, cash and
//! holdings into a chunk of [`CHUNK_STEPS`] steps (or [`CHUNK_HOLDINGS`] holdings rows, or
//! [`CHUNK_ORDERS`] new orders) and, when a sink is attached, hands each full chunk to it (a
//! writer of the run's files) instead of keeping every step to the end.
//!
//! The records of orders closed by then, and the fills and round trips closed since the chunk
//! before, go with each chunk, so they are not kept either: the outcome keeps what the sink's
//! owner sums up of them ([`crate::HandedOn`]).
//!
//! Without a sink the chunk simply grows: the whole run is one chunk, as a sweep job, a sleeve
//! or the Python package keep it. Both modes record through the same code, so what is written
//! and what is kept are the same steps.

use crate::broker::{FillRecord, OrderRecord};
use crate::holdings::Holdings;
use crate::outcome::EquityCurve;
use crate::portfolio::TradeRecord;

/// Steps per chunk handed to a sink: as many as a row group of the run's Parquet files holds.
pub const CHUNK_STEPS: usize = 65_536;

/// Holdings rows a chunk holds at most: it is handed on before it has [`CHUNK_STEPS`] steps once
/// the next step could take it past them. A step of a portfolio holding 100 instruments records
/// 100 rows, and the few chunks alive at once (filled, waiting, written, kept as spares) must stay
/// a few megabytes each whatever the portfolio's breadth; the columns grow from [`CHUNK_STEPS`]
/// rows by doubling, so never past this.
pub const CHUNK_HOLDINGS: usize = 1 << 18;

/// New order records, fills and closed trades past which a chunk is handed on early too, so
/// the records closed by then leave with it: 100 instruments trading a crossover place about
/// 300,000 orders in [`CHUNK_STEPS`] steps. Counted from the records held after the last chunk,
/// as orders still working hold back the records after them (and must not hand on a chunk every
/// step).
pub const CHUNK_ORDERS: usize = 1 << 16;

/// Consecutive time steps of a run: steps `first..first + curve.len()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepChunk {
    /// The run's index of the chunk's first step.
    pub first: usize,
    /// Equity and cash after each step.
    pub curve: EquityCurve,
    /// What was held after each step; its `step` column holds the run's step indices.
    pub holdings: Holdings,
    /// The orders closed by the chunk's end, after those handed on before and up to the first
    /// still working, in id order; empty for a run that keeps its orders (one whose feature
    /// pipeline explains them: the report reads each explained order).
    pub orders: Vec<OrderRecord>,
    /// The fills booked since the chunk before, in time order.
    pub fills: Vec<FillRecord>,
    /// The round trips closed since the chunk before, in closing order.
    pub trades: Vec<TradeRecord>,
}

impl StepChunk {
    /// Returns an empty chunk starting at step `first`, with room for `steps` steps.
    pub fn starting_at(first: usize, steps: usize) -> Self {
        Self {
            first,
            curve: EquityCurve::with_capacity(steps),
            // About one held instrument per step; more grows the columns (amortised, not per
            // event).
            holdings: Holdings::with_capacity(steps),
            orders: Vec::new(),
            fills: Vec::new(),
            trades: Vec::new(),
        }
    }

    /// Returns the run's index of the step after the chunk's last.
    pub fn end(&self) -> usize {
        self.first + self.curve.len()
    }
}

/// Takes each finished chunk of a run's steps, in order, while the run goes on.
pub trait StepSink: Send + std::fmt::Debug {
    /// Takes the chunk of steps `chunk.first..chunk.end()`; an error stops the run.
    ///
    /// # Errors
    /// Why the chunk could not be kept (e.g. the file that could not be written).
    fn steps(&mut self, chunk: StepChunk) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;

    /// Returns an emptied chunk it is done with, if any, for the loop to fill next instead of
    /// allocating one (its columns keep their capacity).
    fn spare(&mut self) -> Option<StepChunk> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Replay, backtest, backtest_into};
    use crate::order::{OrderRequest, Size};
    use crate::strategy::{Ctx, EngineEvent, Intents, Strategy, StrategyError};
    use crate::test_support::{bar_at, day_ts, series, spec};
    use market_data::{InstrumentIdx, Side, Timestamp};
    use std::sync::{Arc, Mutex};

    /// Buys 3 units every 5th bar and closes every 7th: holdings come and go across chunks.
    fn flip() -> impl Strategy {
        let mut bars = 0_usize;
        OnMarket(move |_: &market_data::MarketEvent, out: &mut Intents| {
            bars += 1;
            let one = InstrumentIdx(0);
            if bars.is_multiple_of(5) {
                out.submit(OrderRequest::market(
                    one,
                    Side::Buy,
                    Size::Units(market_data::Qty(3.0)),
                ));
            } else if bars.is_multiple_of(7) {
                out.submit(OrderRequest::market(one, Side::Sell, Size::ClosePosition));
            }
        })
    }

    /// Keeps a copy of every chunk handed to it and gives the chunk back emptied; refuses the
    /// one starting at `refuse`, if given.
    #[derive(Debug, Default)]
    struct Kept {
        chunks: Arc<Mutex<Vec<StepChunk>>>,
        refuse: Option<usize>,
        spare: Option<StepChunk>,
    }

    impl StepSink for Kept {
        fn steps(
            &mut self,
            chunk: StepChunk,
        ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            if self.refuse == Some(chunk.first) {
                return Err("disk full".into());
            }
            self.chunks.lock().unwrap().push(chunk.clone());
            let mut spare = chunk;
            (spare.curve, spare.orders) = (EquityCurve::with_capacity(1), Vec::new());
            (spare.fills, spare.trades) = (Vec::new(), Vec::new());
            spare.holdings.clear();
            self.spare = Some(spare);
            Ok(())
        }

        fn spare(&mut self) -> Option<StepChunk> {
            self.spare.take()
        }
    }

    fn bars(n: usize) -> Vec<market_data::BarSeries> {
        // One-minute bars: daily ones would pass the year 2262 at this length.
        let minute = |i: usize| Timestamp(day_ts(0).0 + i as i64 * 60_000_000_000);
        let prices = (0..n).map(|i| {
            let p = 100.0 + (i % 13) as f64;
            bar_at(minute(i), p, p, p, p, 1_000.0)
        });
        vec![series("A", prices.collect())]
    }

    /// Runs `strategy` over `data` handing its chunks to a [`Kept`] sink; returns the chunks
    /// and the outcome (the steps after the last chunk).
    fn run_in_chunks(
        spec: &crate::config::EngineSpec,
        data: &[market_data::BarSeries],
        strategy: impl Strategy,
    ) -> (Vec<StepChunk>, crate::BacktestOutcome) {
        let chunks = Arc::new(Mutex::new(Vec::new()));
        let sink = Kept {
            chunks: Arc::clone(&chunks),
            ..Kept::default()
        };
        let sink = Some(Box::new(sink) as Box<dyn StepSink>);
        let tail = backtest_into(spec, Replay::Bars(data), strategy, None, sink).unwrap();
        let chunks = std::mem::take(&mut *chunks.lock().unwrap());
        (chunks, tail)
    }

    /// A strategy that calls its function with each market event.
    struct OnMarket<F>(F);

    impl<F> std::fmt::Debug for OnMarket<F> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("OnMarket")
        }
    }

    impl<F: FnMut(&market_data::MarketEvent, &mut Intents)> Strategy for OnMarket<F> {
        fn name(&self) -> &str {
            "on market"
        }

        fn on_event(
            &mut self,
            event: &EngineEvent,
            _: &Ctx<'_>,
            out: &mut Intents,
        ) -> Result<(), StrategyError> {
            if let EngineEvent::Market(e) = event {
                (self.0)(e, out);
            }
            Ok(())
        }
    }

    #[test]
    fn chunks_and_the_tail_are_the_whole_run() {
        let data = bars(2 * CHUNK_STEPS + 100);
        let mut spec = spec();
        spec.broker.close_at_end = true;
        let whole = backtest(&spec, Replay::Bars(&data), flip(), None).unwrap();
        let (mut chunks, tail) = run_in_chunks(&spec, &data, flip());
        // The outcome holds only the records of the steps after the last chunk: the sink got
        // every other fill and trade.
        let handed: usize = chunks.iter().map(|c| c.fills.len()).sum();
        assert_eq!(handed + tail.fills.len(), whole.fills.len());
        let tail_start = tail.curve.ts[0];
        assert!(
            tail.fills.iter().all(|f| f.ts >= tail_start),
            "no fill of a chunk kept"
        );
        assert!(tail.trades.iter().all(|t| t.exit_time >= tail_start));
        assert!(tail.fills.len() < whole.fills.len() / 10);
        assert_eq!(
            chunks
                .iter()
                .map(|c| (c.first, c.curve.len()))
                .collect::<Vec<_>>(),
            [(0, CHUNK_STEPS), (CHUNK_STEPS, CHUNK_STEPS)],
            "full chunks only, in order"
        );
        assert!(
            chunks[0].orders.len() > 1000,
            "closed orders go with the chunks"
        );
        chunks.push(StepChunk {
            first: 2 * CHUNK_STEPS,
            curve: tail.curve.clone(),
            holdings: tail.holdings.clone(),
            orders: tail.orders.clone(),
            fills: tail.fills.clone(),
            trades: tail.trades.clone(),
        });
        let mut joined = StepChunk::default();
        for c in &chunks {
            assert_eq!(c.first, joined.curve.len());
            joined.curve.ts.extend(&c.curve.ts);
            joined.curve.equity.extend(&c.curve.equity);
            joined.curve.cash.extend(&c.curve.cash);
            let h = &mut joined.holdings;
            h.step.extend(&c.holdings.step);
            h.instrument.extend(&c.holdings.instrument);
            h.qty.extend(&c.holdings.qty);
            h.price.extend(&c.holdings.price);
            joined.orders.extend(c.orders.iter().cloned());
            joined.fills.extend(&c.fills);
            joined.trades.extend(&c.trades);
        }
        assert!(whole.holdings.len() > 1000, "the strategy holds often");
        assert!(joined.curve == whole.curve, "the same steps, bit for bit");
        assert!(joined.holdings == whole.holdings, "the same holdings");
        assert!(
            joined.orders == whole.orders,
            "every order once, in id order"
        );
        // The closing at the end restated the last step, which the tail held.
        assert_eq!(whole.positions[0].qty, 0.0);
        assert_eq!(tail.final_equity(), whole.final_equity());
        assert!(
            joined.fills == whole.fills,
            "every fill once, in time order"
        );
        assert!(
            joined.trades == whole.trades,
            "every trade once, in closing order"
        );
        assert!(
            chunks[0].fills.len() > 1000 && chunks[0].trades.len() > 100,
            "fills and trades go with the chunks"
        );
    }

    /// Buys one unit of each instrument on its first bar, then holds them all.
    fn hold_all() -> impl Strategy {
        let mut bought = Vec::new();
        OnMarket(move |e: &market_data::MarketEvent, out: &mut Intents| {
            let i = e.instrument.get();
            if bought.len() <= i {
                bought.resize(i + 1, false);
            }
            if !bought[i] {
                bought[i] = true;
                let one = Size::Units(market_data::Qty(1.0));
                out.submit(OrderRequest::market(e.instrument, Side::Buy, one));
            }
        })
    }

    #[test]
    fn a_broad_portfolio_hands_on_its_chunks_by_holdings_rows() {
        let (instruments, steps) = (20, 20_000);
        let minute = |i: usize| Timestamp(day_ts(0).0 + i as i64 * 60_000_000_000);
        let data: Vec<_> = (0..instruments)
            .map(|k| {
                let bars = (0..steps).map(|i| bar_at(minute(i), 10.0, 10.0, 10.0, 10.0, 1e6));
                series(&format!("I{k}"), bars.collect())
            })
            .collect();
        let mut spec = spec();
        spec.broker.initial_cash = 1e9;
        let whole = backtest(&spec, Replay::Bars(&data), hold_all(), None).unwrap();
        let (chunks, tail) = run_in_chunks(&spec, &data, hold_all());
        // 20 rows a step once everything is held: the first chunk fills with holdings rows
        // long before it has CHUNK_STEPS steps.
        assert_eq!(chunks.len(), 1);
        let first = &chunks[0];
        assert!(first.curve.len() < CHUNK_STEPS, "{}", first.curve.len());
        let rows = first.holdings.len();
        assert!(
            rows <= CHUNK_HOLDINGS && rows + instruments > CHUNK_HOLDINGS,
            "{rows}"
        );
        let grown = first.holdings.step.capacity();
        assert!(grown <= CHUNK_HOLDINGS, "grown to the limit only: {grown}");
        assert_eq!(first.curve.len() + tail.curve.len(), whole.curve.len());
        let mut qty = first.holdings.qty.clone();
        qty.extend(&tail.holdings.qty);
        assert!(qty == whole.holdings.qty, "the same holdings, split");
    }

    #[test]
    fn many_orders_hand_on_a_chunk_early_with_them() {
        let data = bars(CHUNK_STEPS);
        // Two orders of nothing every bar: each is refused, and closed, at once.
        let two_nothings = OnMarket(|e: &market_data::MarketEvent, out: &mut Intents| {
            for _ in 0..2 {
                let none = Size::Units(market_data::Qty(0.0));
                out.submit(OrderRequest::market(e.instrument, Side::Buy, none));
            }
        });
        let (chunks, tail) = run_in_chunks(&spec(), &data, two_nothings);
        let sizes: Vec<(usize, usize)> = (chunks.iter())
            .map(|c| (c.curve.len(), c.orders.len()))
            .collect();
        // A chunk goes at the end of the step that brought CHUNK_ORDERS new records (before
        // that step is recorded, so the first has one step fewer), long before CHUNK_STEPS.
        let half = CHUNK_ORDERS / 2;
        assert_eq!(sizes, [(half - 1, CHUNK_ORDERS), (half, CHUNK_ORDERS)]);
        assert_eq!((tail.curve.len(), tail.orders.len()), (1, 0));
    }

    #[test]
    fn a_refused_chunk_stops_the_run_naming_its_first_step() {
        let data = bars(2 * CHUNK_STEPS + 1);
        let sink = Kept {
            refuse: Some(CHUNK_STEPS),
            ..Kept::default()
        };
        let e = backtest_into(
            &spec(),
            Replay::Bars(&data),
            flip(),
            None,
            Some(Box::new(sink)),
        )
        .unwrap_err();
        assert!(
            matches!(e, crate::Error::Sink { first, .. } if first == CHUNK_STEPS),
            "{e}"
        );
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert_eq!(source, "disk full");
    }
}
