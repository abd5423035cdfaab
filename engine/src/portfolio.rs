//! Cash, signed positions at average cost, realized and unrealized P&L, fees, and round-trip trades.
//!
//! The ledger keeps one invariant at every step: equity = cash + sum(qty x mark), and any change of
//! equity equals the change of realized plus unrealized P&L minus fees (see the property tests).

use market_data::{InstrumentIdx, Side, Timestamp};
use serde::Serialize;

/// The holding of one instrument.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Position {
    /// Signed units: positive long, negative short.
    pub qty: f64,
    /// Average entry price of the open units (0 when flat).
    pub avg_price: f64,
    /// The last price seen, at which the position is valued.
    pub mark: f64,
    /// P&L realized by reductions, before fees.
    pub realized: f64,
    /// Commission paid on this instrument.
    pub fees: f64,
}

impl Position {
    /// Returns the P&L of the open units at the mark.
    pub fn unrealized(&self) -> f64 {
        self.qty * (self.mark - self.avg_price)
    }

    /// Returns the position's value at the mark (negative when short).
    pub fn market_value(&self) -> f64 {
        self.qty * self.mark
    }
}

/// A round trip: from flat to flat in one instrument (a reversal closes one and opens another).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TradeRecord {
    /// The instrument.
    pub instrument: InstrumentIdx,
    /// `Buy` for a long trade, `Sell` for a short one.
    pub side: Side,
    /// Units entered in all (the largest exposure when entries were added).
    pub qty: f64,
    /// Time of the first entry fill.
    pub entry_time: Timestamp,
    /// Quantity-weighted average entry price.
    pub entry_price: f64,
    /// Time of the last exit fill (or of the mark, for an open trade).
    pub exit_time: Timestamp,
    /// Quantity-weighted average exit price (or the mark, for an open trade).
    pub exit_price: f64,
    /// Realized P&L minus every fee of the trade (unrealized at the mark for an open trade).
    pub pnl: f64,
    /// `pnl` over the entry notional.
    pub ret: f64,
    /// Fees paid by the trade.
    pub fees: f64,
    /// True when the trade was still open at the end of the data.
    pub open: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct OpenTrip {
    side_sign: f64,
    entry_time: Timestamp,
    entry_qty: f64,
    entry_price: f64,
    exit_qty: f64,
    exit_price: f64,
    exit_time: Timestamp,
    realized: f64,
    fees: f64,
}

/// The account: cash, positions by dense instrument index, and the trades they made.
#[derive(Debug, Clone)]
pub struct Portfolio {
    cash: f64,
    initial_cash: f64,
    positions: Vec<Position>,
    trips: Vec<Option<OpenTrip>>,
    fees: f64,
    realized: f64,
    traded_notional: f64,
    trades: Vec<TradeRecord>,
}

impl Portfolio {
    /// Returns an account holding `cash` and no positions in `instruments` instruments.
    pub fn new(cash: f64, instruments: usize) -> Self {
        Self {
            cash,
            initial_cash: cash,
            positions: vec![Position::default(); instruments],
            trips: vec![None; instruments],
            fees: 0.0,
            realized: 0.0,
            traded_notional: 0.0,
            trades: Vec::new(),
        }
    }

    /// Returns the cash balance.
    pub fn cash(&self) -> f64 {
        self.cash
    }

    /// Returns the starting cash.
    pub fn initial_cash(&self) -> f64 {
        self.initial_cash
    }

    /// Returns cash plus every position at its mark.
    pub fn equity(&self) -> f64 {
        self.cash
            + self
                .positions
                .iter()
                .map(Position::market_value)
                .sum::<f64>()
    }

    /// Returns the sum of |position value| over instruments.
    pub fn gross_exposure(&self) -> f64 {
        self.positions.iter().map(|p| p.market_value().abs()).sum()
    }

    /// Returns the position in an instrument.
    pub fn position(&self, instrument: InstrumentIdx) -> &Position {
        &self.positions[instrument.get()]
    }

    /// Returns every position, by instrument index.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// Returns the commission paid so far.
    pub fn fees(&self) -> f64 {
        self.fees
    }

    /// Returns the P&L realized so far, before fees.
    pub fn realized(&self) -> f64 {
        self.realized
    }

    /// Returns the unrealized P&L of every open position at its mark.
    pub fn unrealized(&self) -> f64 {
        self.positions.iter().map(Position::unrealized).sum()
    }

    /// Returns the total traded notional (sum of |qty x price| over fills).
    pub fn traded_notional(&self) -> f64 {
        self.traded_notional
    }

    /// Returns the closed round trips, in the order they closed (after those handed on by
    /// [`Portfolio::hand_on_trades`]).
    pub fn closed_trades(&self) -> &[TradeRecord] {
        &self.trades
    }

    /// Moves the round trips closed so far into `out`.
    pub fn hand_on_trades(&mut self, out: &mut Vec<TradeRecord>) {
        out.append(&mut self.trades);
    }

    /// Returns the closed round trips, consuming the account.
    pub fn into_closed_trades(self) -> Vec<TradeRecord> {
        self.trades
    }

    /// Sets the price an instrument is valued at.
    pub fn mark(&mut self, instrument: InstrumentIdx, price: f64) {
        self.positions[instrument.get()].mark = price;
    }

    /// Books one fill: moves cash, updates the position at average cost, realizes P&L on the
    /// reduced part, and opens or closes round trips.
    pub fn apply_fill(
        &mut self,
        instrument: InstrumentIdx,
        side: Side,
        qty: f64,
        price: f64,
        fee: f64,
        ts: Timestamp,
    ) {
        let idx = instrument.get();
        let signed = side.sign() * qty;
        self.cash -= signed * price + fee;
        self.fees += fee;
        self.traded_notional += qty * price;
        let pos = &mut self.positions[idx];
        pos.fees += fee;

        let held = pos.qty;
        let reducing = if held * signed < 0.0 {
            qty.min(held.abs())
        } else {
            0.0
        };
        let opening = qty - reducing;
        // Split the fee between the trade being closed and the one being opened by units.
        // The share first: fee x units can overflow where the fee itself is finite.
        let fee_reducing = if qty > 0.0 {
            fee * (reducing / qty)
        } else {
            0.0
        };
        let fee_opening = fee - fee_reducing;

        if reducing > 0.0 {
            let pnl = reducing * (price - pos.avg_price) * held.signum();
            pos.realized += pnl;
            self.realized += pnl;
            pos.qty += side.sign() * reducing;
            if let Some(trip) = self.trips[idx].as_mut() {
                trip.exit_price = running_mean(trip.exit_price, trip.exit_qty, price, reducing);
                trip.exit_qty += reducing;
                trip.exit_time = ts;
                trip.realized += pnl;
                trip.fees += fee_reducing;
            }
            // Snap residues of fractional arithmetic to flat so a round trip closes exactly.
            if pos.qty.abs() <= 1e-12 * reducing.max(1.0) {
                pos.qty = 0.0;
            }
            if pos.qty == 0.0 {
                pos.avg_price = 0.0;
                if let Some(trip) = self.trips[idx].take() {
                    self.trades
                        .push(trip.close(instrument, false, ts, price, 0.0));
                }
            }
        }
        if opening > 0.0 {
            let pos = &mut self.positions[idx];
            let new_qty = pos.qty + side.sign() * opening;
            pos.avg_price = (pos.avg_price * pos.qty.abs() + price * opening) / new_qty.abs();
            pos.qty = new_qty;
            let trip = self.trips[idx].get_or_insert(OpenTrip {
                side_sign: side.sign(),
                entry_time: ts,
                ..OpenTrip::default()
            });
            trip.entry_price = running_mean(trip.entry_price, trip.entry_qty, price, opening);
            trip.entry_qty += opening;
            trip.fees += fee_opening;
        } else if reducing == 0.0 {
            // A zero-quantity fill carries only a fee; keep it with the open trade, if any.
            if let Some(trip) = self.trips[idx].as_mut() {
                trip.fees += fee;
            }
        }
    }

    /// Books units that came from outside the engine (a venue position adopted at
    /// reconciliation) as a fill at `price` without fee, except that no cash moves: the units
    /// were not bought with this account's cash, so equity grows by their value.
    pub fn adopt(
        &mut self,
        instrument: InstrumentIdx,
        side: Side,
        qty: f64,
        price: f64,
        ts: Timestamp,
    ) {
        let (cash, notional) = (self.cash, self.traded_notional);
        self.apply_fill(instrument, side, qty, price, 0.0, ts);
        self.cash = cash;
        self.traded_notional = notional;
    }

    /// Returns the still-open round trips, valued at their marks as of `ts`.
    pub fn open_trades(&self, ts: Timestamp) -> Vec<TradeRecord> {
        self.trips
            .iter()
            .enumerate()
            .filter_map(|(i, trip)| {
                let pos = &self.positions[i];
                trip.map(|t| {
                    t.close(
                        InstrumentIdx(i as u32),
                        true,
                        ts,
                        pos.mark,
                        pos.unrealized(),
                    )
                })
            })
            .collect()
    }
}

impl OpenTrip {
    /// Finishes the trip: closed at its exits, or open and valued at `mark`.
    fn close(
        self,
        instrument: InstrumentIdx,
        open: bool,
        ts: Timestamp,
        mark: f64,
        unrealized: f64,
    ) -> TradeRecord {
        let entry_price = self.entry_price;
        let (exit_time, exit_price, pnl) = if open {
            (ts, mark, self.realized + unrealized - self.fees)
        } else {
            (self.exit_time, self.exit_price, self.realized - self.fees)
        };
        TradeRecord {
            instrument,
            side: if self.side_sign > 0.0 {
                Side::Buy
            } else {
                Side::Sell
            },
            qty: self.entry_qty,
            entry_time: self.entry_time,
            entry_price,
            exit_time,
            exit_price,
            pnl,
            ret: pnl / (self.entry_price * self.entry_qty),
            fees: self.fees,
            open,
        }
    }
}

/// Returns the quantity-weighted mean after adding `qty` at `price` to `held` at `mean`; a single
/// fill's mean is exactly its price.
fn running_mean(mean: f64, held: f64, price: f64, qty: f64) -> f64 {
    mean + (price - mean) * (qty / (held + qty))
}
