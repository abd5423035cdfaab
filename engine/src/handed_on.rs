//! What an outcome holds of the fills and closed trades a run handed to its sink (see
//! [`crate::sink`]) instead of the records themselves: the trade figures summed up as the records
//! pass ([`TradeTally`]), the few trades a report lists ([`TradeSample`]) and the fills where the
//! sink keeps them ([`FillLog`]). A run that keeps everything is tallied and sampled by the same
//! code from its records, so the figures are the same either way, to the last bit: every sum
//! adds the same values in the same order from the same start.

use crate::broker::FillRecord;
use crate::metrics::ReturnSums;
use crate::outcome::BacktestOutcome;
use crate::portfolio::TradeRecord;
use std::collections::VecDeque;
use std::sync::Arc;

/// Where `Iterator::sum` of `f64` starts (-0.0), so a sum kept here is bit for bit the one of
/// the values collected first (the sign of an empty sum shows in `summary.json`).
fn empty_sum() -> f64 {
    std::iter::empty::<f64>().sum()
}

/// One instrument's closed trades and fills, summed up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstrumentTally {
    /// Closed round trips.
    pub closed: usize,
    /// Those with a positive P&L.
    pub wins: usize,
    /// Sum of their P&L, in closing order.
    pub pnl: f64,
    /// Sum of |qty x price| over the fills, in time order.
    pub turnover: f64,
    /// Fills at a finite price (those a price chart marks).
    pub priced_fills: usize,
}

impl Default for InstrumentTally {
    fn default() -> Self {
        Self {
            closed: 0,
            wins: 0,
            pnl: empty_sum(),
            turnover: empty_sum(),
            priced_fills: 0,
        }
    }
}

/// A run's closed trades and fills summed up as they pass, for the summary's trade figures and
/// the report's: counts, sums and per-instrument figures, never the records.
#[derive(Debug, Clone)]
pub struct TradeTally {
    /// The closed trades' P&L as a series (wins, losses, their sums and means).
    pnl: ReturnSums,
    /// Sum of the closed trades' entry-to-exit times, in nanoseconds (as `f64`: nanosecond
    /// spans of many long trades could overflow an `i64`).
    holding_ns: f64,
    /// Indexed by instrument; grown as instruments appear.
    instruments: Vec<InstrumentTally>,
    fills: usize,
}

impl Default for TradeTally {
    fn default() -> Self {
        Self {
            pnl: ReturnSums::new(0.0),
            holding_ns: empty_sum(),
            instruments: Vec::new(),
            fills: 0,
        }
    }
}

impl TradeTally {
    /// Returns the tally of every closed trade and fill of `outcome`: those it handed on, then
    /// those it holds.
    pub fn of(outcome: &BacktestOutcome) -> Self {
        let mut tally =
            (outcome.handed_on.as_ref()).map_or_else(Self::default, |h| h.tally.clone());
        tally.add_trades(&outcome.trades);
        tally.add_fills(&outcome.fills);
        tally
    }

    fn instrument_mut(&mut self, i: usize) -> &mut InstrumentTally {
        if self.instruments.len() <= i {
            self.instruments.resize(i + 1, InstrumentTally::default());
        }
        &mut self.instruments[i]
    }

    /// Adds closed trades, the next in closing order.
    pub fn add_trades(&mut self, trades: &[TradeRecord]) {
        for t in trades {
            self.pnl.add(t.pnl);
            self.holding_ns += (t.exit_time.0 - t.entry_time.0) as f64;
            let one = self.instrument_mut(t.instrument.get());
            one.closed += 1;
            one.wins += usize::from(t.pnl > 0.0);
            one.pnl += t.pnl;
        }
    }

    /// Adds fills, the next in time order.
    pub fn add_fills(&mut self, fills: &[FillRecord]) {
        self.fills += fills.len();
        for f in fills {
            let one = self.instrument_mut(f.instrument.get());
            one.turnover += (f.qty * f.price).abs();
            one.priced_fills += usize::from(f.price.is_finite());
        }
    }

    /// Returns the number of closed trades.
    pub fn closed(&self) -> usize {
        self.pnl.n
    }

    /// Returns the number of closed trades that made money and that lost money.
    pub fn wins_and_losses(&self) -> (usize, usize) {
        (self.pnl.wins, self.pnl.falls)
    }

    /// Returns the number of fills.
    pub fn fills(&self) -> usize {
        self.fills
    }

    /// Returns instrument `i`'s figures (zeros for one that never traded).
    pub fn instrument(&self, i: usize) -> InstrumentTally {
        self.instruments.get(i).copied().unwrap_or_default()
    }

    /// Share of closed trades with a positive P&L (`NaN` without any).
    pub fn win_rate(&self) -> f64 {
        match self.closed() {
            0 => f64::NAN,
            n => self.pnl.wins as f64 / n as f64,
        }
    }

    /// Gross profit over gross loss of closed trades (`NaN` without a loss).
    pub fn profit_factor(&self) -> f64 {
        let gross_loss = -self.pnl.losses;
        if gross_loss > 0.0 {
            self.pnl.gains / gross_loss
        } else {
            f64::NAN
        }
    }

    /// Mean P&L per closed trade (`NaN` without any).
    pub fn expectancy(&self) -> f64 {
        match self.closed() {
            0 => f64::NAN,
            n => self.pnl.sum / n as f64,
        }
    }

    /// Mean winning P&L over |mean losing P&L| of closed trades.
    pub fn payoff_ratio(&self) -> f64 {
        self.pnl.payoff()
    }

    /// Mean time from entry to exit of closed trades, in nanoseconds (`NaN` without any).
    pub fn avg_holding_time_ns(&self) -> f64 {
        match self.closed() {
            0 => f64::NAN,
            n => self.holding_ns / n as f64,
        }
    }
}

/// Closed trades a report lists at most: a page of more is heavy and unreadable (the run's
/// trades table has them all).
pub const SHOWN_TRADES: usize = 2_000;

/// The best and the worst closed trades by P&L (each) listed beside the latest ones once a run
/// has more than [`SHOWN_TRADES`].
pub const EXTREME_TRADES: usize = 50;

/// The closed trades a report lists, kept as they pass: all of them up to [`SHOWN_TRADES`];
/// past that the latest, and the [`EXTREME_TRADES`] best and worst by P&L (ties: the earlier),
/// so memory holds a few thousand trades whatever the run's count. Each is kept with its place
/// in closing order (0 for the first).
#[derive(Debug, Clone, Default)]
pub struct TradeSample {
    seen: usize,
    latest: VecDeque<(usize, TradeRecord)>,
    /// Best first, and worst first; finite P&L only.
    best: Vec<(usize, TradeRecord)>,
    worst: Vec<(usize, TradeRecord)>,
}

/// Keeps `t` among the `EXTREME_TRADES` first of `kept` in the order `before` (a strict order:
/// the earlier of equal trades stays ahead).
fn keep_extreme(
    kept: &mut Vec<(usize, TradeRecord)>,
    t: (usize, TradeRecord),
    before: fn(f64, f64) -> bool,
) {
    let at = kept.partition_point(|k| !before(t.1.pnl, k.1.pnl));
    if at < EXTREME_TRADES {
        kept.truncate(EXTREME_TRADES - 1);
        kept.insert(at, t);
    }
}

impl TradeSample {
    /// Returns the sample of every closed trade of `outcome`: those it handed on, then those it
    /// holds.
    pub fn of(outcome: &BacktestOutcome) -> Self {
        let mut sample =
            (outcome.handed_on.as_ref()).map_or_else(Self::default, |h| h.sample.clone());
        sample.add(&outcome.trades);
        sample
    }

    /// Adds closed trades, the next in closing order.
    pub fn add(&mut self, trades: &[TradeRecord]) {
        for t in trades {
            let t = (self.seen, *t);
            self.seen += 1;
            if self.latest.len() == SHOWN_TRADES {
                self.latest.pop_front();
            }
            self.latest.push_back(t);
            if t.1.pnl.is_finite() {
                keep_extreme(&mut self.best, t, |a, b| a > b);
                keep_extreme(&mut self.worst, t, |a, b| a < b);
            }
        }
    }

    /// Returns the number of closed trades added.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// Returns at most `room` of the trades, with their places, in closing order: all of them
    /// when they fit, else the best and the worst, and the latest in the room left.
    pub fn rows(&self, room: usize) -> Vec<(usize, TradeRecord)> {
        if self.seen <= room {
            return self.latest.iter().copied().collect();
        }
        let mut rows: Vec<(usize, TradeRecord)> = (self.best.iter().chain(&self.worst))
            .take(room)
            .copied()
            .collect();
        rows.sort_by_key(|r| r.0);
        rows.dedup_by_key(|r| r.0);
        let latest: Vec<(usize, TradeRecord)> = (self.latest.iter().rev())
            .filter(|r| rows.binary_search_by_key(&r.0, |x| x.0).is_err())
            .take(room - rows.len())
            .copied()
            .collect();
        rows.extend(latest);
        rows.sort_by_key(|r| r.0);
        rows
    }
}

/// Fills a run handed to its sink, kept by the sink (on disk) and read back in time order.
pub trait FillLog: Send + Sync + std::fmt::Debug {
    /// Returns the number of fills.
    fn len(&self) -> usize;

    /// Returns true when no fill was handed on.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the fills in time order. A read that fails ends them early; the log's owner
    /// reports it.
    fn fills(&self) -> Box<dyn Iterator<Item = FillRecord> + '_>;
}

/// What a run handed to its sink besides its steps and orders, as its outcome keeps it: the
/// closed trades and fills tallied and sampled, and the fills where the sink keeps them.
#[derive(Debug, Clone, Default)]
pub struct HandedOn {
    /// The closed trades and fills handed on, summed up.
    pub tally: TradeTally,
    /// The closed trades handed on that a report lists.
    pub sample: TradeSample,
    /// The fills handed on, when their sink keeps them for reading back.
    pub fills: Option<Arc<dyn FillLog>>,
}

impl BacktestOutcome {
    /// Returns every fill of the run in time order: those handed on (read back from where the
    /// sink keeps them), then those held here.
    pub fn every_fill(&self) -> Box<dyn Iterator<Item = FillRecord> + '_> {
        let handed = (self.handed_on.as_ref())
            .and_then(|h| h.fills.as_deref())
            .map(FillLog::fills);
        Box::new(
            handed
                .into_iter()
                .flatten()
                .chain(self.fills.iter().copied()),
        )
    }

    /// Returns the number of closed trades of the run, those handed on included.
    pub fn closed_trades(&self) -> usize {
        let handed = self.handed_on.as_ref().map_or(0, |h| h.sample.seen());
        handed + self.trades.len()
    }

    /// Returns the number of fills of the run, those handed on included.
    pub fn fill_count(&self) -> usize {
        let handed = self.handed_on.as_ref().map_or(0, |h| h.tally.fills());
        handed + self.fills.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderId;
    use market_data::{InstrumentIdx, Side, Timestamp};
    use proptest::prelude::*;

    fn trade(k: usize, pnl: f64) -> TradeRecord {
        TradeRecord {
            instrument: InstrumentIdx((k % 3) as u32),
            side: Side::Buy,
            qty: 1.0,
            entry_time: Timestamp(k as i64 * 1_000),
            entry_price: 10.0,
            exit_time: Timestamp(k as i64 * 1_000 + 7 * k as i64 + 1),
            exit_price: 10.0,
            pnl,
            ret: pnl / 10.0,
            fees: 0.1,
            open: false,
        }
    }

    fn fill(k: usize, price: f64) -> FillRecord {
        FillRecord {
            ts: Timestamp(k as i64),
            order_id: OrderId(k as u64 + 1),
            instrument: InstrumentIdx((k % 2) as u32),
            side: if k.is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            },
            qty: 0.5 + k as f64 / 3.0,
            price,
            fee: 0.0,
        }
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// The summary's trade figures as `Summary::measured_over` computed them from every trade
    /// in memory before the tally (its expressions, copied).
    fn by_formula(trades: &[TradeRecord]) -> [f64; 6] {
        let pnl: Vec<f64> = trades.iter().map(|t| t.pnl).collect();
        let wins: Vec<f64> = pnl.iter().copied().filter(|p| *p > 0.0).collect();
        let losses: Vec<f64> = pnl.iter().copied().filter(|p| *p < 0.0).collect();
        let gross_profit: f64 = wins.iter().sum();
        let gross_loss: f64 = -losses.iter().sum::<f64>();
        let n = trades.len() as f64;
        [
            if n > 0.0 {
                wins.len() as f64 / n
            } else {
                f64::NAN
            },
            if gross_loss > 0.0 {
                gross_profit / gross_loss
            } else {
                f64::NAN
            },
            if n > 0.0 {
                pnl.iter().sum::<f64>() / n
            } else {
                f64::NAN
            },
            crate::metrics::payoff_ratio(&pnl[..]),
            if n > 0.0 {
                (trades.iter())
                    .map(|t| (t.exit_time.0 - t.entry_time.0) as f64)
                    .sum::<f64>()
                    / n
            } else {
                f64::NAN
            },
            losses.len() as f64,
        ]
    }

    fn figures(t: &TradeTally) -> [f64; 6] {
        [
            t.win_rate(),
            t.profit_factor(),
            t.expectancy(),
            t.payoff_ratio(),
            t.avg_holding_time_ns(),
            t.wins_and_losses().1 as f64,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Tallied in pieces (as chunks hand them on), the figures are those of every trade at
        /// once, bit for bit.
        #[test]
        fn a_tally_in_pieces_equals_the_formulas_over_every_trade(
            pnls in prop::collection::vec(
                prop_oneof![8 => -50.0..50.0f64, 1 => Just(0.0), 1 => Just(-0.0)],
                0..400,
            ),
            cut in 0..400usize,
        ) {
            let trades: Vec<TradeRecord> =
                pnls.iter().enumerate().map(|(k, p)| trade(k, *p)).collect();
            let fills: Vec<FillRecord> =
                (0..pnls.len()).map(|k| fill(k, 3.0 + k as f64 * 0.37)).collect();
            let cut = cut.min(trades.len());
            let mut tally = TradeTally::default();
            tally.add_trades(&trades[..cut]);
            tally.add_fills(&fills[..cut]);
            tally.add_trades(&trades[cut..]);
            tally.add_fills(&fills[cut..]);
            let want = by_formula(&trades);
            for (a, b) in figures(&tally).into_iter().zip(want) {
                prop_assert!(same(a, b), "{a} vs {b}");
            }
            prop_assert_eq!(tally.closed(), trades.len());
            for i in 0..3 {
                let mine = trades.iter().filter(|t| t.instrument.get() == i);
                let one = tally.instrument(i);
                prop_assert_eq!(one.closed, mine.clone().count());
                prop_assert_eq!(one.wins, mine.clone().filter(|t| t.pnl > 0.0).count());
                prop_assert!(same(one.pnl, mine.map(|t| t.pnl).sum()));
                let turnover: f64 = (fills.iter())
                    .filter(|f| f.instrument.get() == i)
                    .map(|f| (f.qty * f.price).abs())
                    .sum();
                prop_assert!(same(one.turnover, turnover));
            }
        }
    }

    #[test]
    fn an_empty_tally_sums_to_an_empty_sum() {
        let t = TradeTally::default();
        assert!(t.instrument(4).pnl.is_sign_negative() && t.instrument(4).pnl == 0.0);
        assert!(t.win_rate().is_nan() && t.profit_factor().is_nan());
    }

    #[test]
    fn a_sample_keeps_every_trade_up_to_the_cap() {
        let trades: Vec<TradeRecord> = (0..SHOWN_TRADES).map(|k| trade(k, k as f64)).collect();
        let mut s = TradeSample::default();
        s.add(&trades[..700]);
        s.add(&trades[700..]);
        let rows = s.rows(SHOWN_TRADES);
        assert_eq!(rows.len(), SHOWN_TRADES);
        assert!(
            rows.iter()
                .enumerate()
                .all(|(k, r)| r.0 == k && r.1 == trades[k])
        );
    }

    #[test]
    fn past_the_cap_a_sample_keeps_the_best_the_worst_and_the_latest() {
        let n = 10_000;
        // The worst trades come first, the best in the middle: neither among the latest.
        let pnl = |k: usize| match k {
            0..200 => k as f64 - 10_000.0,
            4_976..5_026 => 10_000.0 + k as f64,
            _ => (k % 7) as f64 * 0.01,
        };
        let trades: Vec<TradeRecord> = (0..n).map(|k| trade(k, pnl(k))).collect();
        let mut s = TradeSample::default();
        for part in trades.chunks(777) {
            s.add(part);
        }
        let room = SHOWN_TRADES - 3;
        let rows = s.rows(room);
        assert_eq!(rows.len(), room);
        assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "in closing order");
        let places: Vec<usize> = rows.iter().map(|r| r.0).collect();
        for k in (4_976..5_026).chain(0..50) {
            assert!(places.contains(&k), "{k}");
        }
        let latest = room - 2 * EXTREME_TRADES;
        assert_eq!(
            places[2 * EXTREME_TRADES..],
            (n - latest..n).collect::<Vec<_>>()
        );
        assert!(rows.iter().all(|(k, t)| *t == trades[*k]));
    }
}
