//! The simulated broker: keeps working orders and fills them against bars and ticks with the
//! reference semantics of DESIGN.md (next open, gaps, touches, slippage, commission, volume cap).
//!
//! Sizing ([`crate::sizing`]) and pre-trade risk ([`crate::risk`]) happen when an order fills,
//! because `all_in` sizing needs the fill price; fees and slippage are [`crate::costs`]', the
//! fill price and the latency [`crate::fills`]'. Every refusal becomes an `ExecReport` the
//! strategy sees, never an `Err`.
//!
//! Bars and ticks share one matching loop (time in force, OCO exits, reduce-only cleanup, sizing,
//! risk); they differ only in the prices an event offers an order, its `Touch`:
//!
//! - An order acts only on events stamped strictly after the one it was placed on, so never on
//!   the event it was decided on, nor on another event with the same timestamp; with
//!   `latency_ms`, only on events stamped more than that after it.
//! - Market: a bar's open; the next trade's price; the next quote's ask (buy) or bid (sell).
//!   Market and stop fills move against the trader by `slippage_bps`.
//! - Limit buy at L: a bar whose low reaches L fills at min(open, L). A trade at or below L fills
//!   at L: a print through a resting bid would have hit it at its price first (NautilusTrader's
//!   maker fill); only on its arrival (the first event it can act on) does it take a better
//!   trade price, as a marketable limit would. A quote whose ask is at or below L fills at the
//!   ask, the displayed price. Sells mirror with the high, the trade price and the bid.
//! - `limit_fill_on_touch = false` makes a traded price equal to L (a bar's low, a trade) not
//!   enough: the market must trade through it, for queue position. A quote at L still fills,
//!   since it is a price someone shows, not a print others were ahead in the queue for.
//! - Stop buy at S: a bar whose high reaches S at max(open, S); a trade at or above S at its
//!   price; a quote whose ask is at or above S at the ask. Stop-limits trigger as stops, then
//!   work as limits (a tick that triggers one fills it at once only within the limit).
//! - Volume cap: a bar's volume, a trade's quantity, or the quoted size on the side an order
//!   takes (the ask size for buys, the bid size for sells, each its own budget).
//! - Fills ignore a trade's aggressor: a print is taken as a one-price book at its price.

use crate::config::{BrokerConfig, EngineSpec};
use crate::costs::{FeeModel as _, SlippageModel as _};
use crate::fills::{FillModel as _, FillPrice, LatencyModel as _};
use crate::order::{Order, OrderId, OrderRequest, OrderStatus, Size, TimeInForce};
use crate::portfolio::Portfolio;
use crate::risk::RiskCheck;
use crate::sizing::Sizer;
use crate::strategy::{ExecKind, ExecReport, RejectReason};
use crate::touch::Touch;
use market_data::{Bar, DayClock, InstrumentIdx, MarketEvent, Price, Qty, Side, Timestamp};
use serde::Serialize;

/// One fill, as booked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FillRecord {
    /// When it happened (the timestamp of the event it filled on).
    pub ts: Timestamp,
    /// The order it belongs to.
    pub order_id: OrderId,
    /// The instrument.
    pub instrument: InstrumentIdx,
    /// Buy or sell.
    pub side: Side,
    /// Units.
    pub qty: f64,
    /// Price per unit.
    pub price: f64,
    /// Commission charged.
    pub fee: f64,
}

/// The life of one order, for `orders.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OrderRecord {
    /// Its id.
    pub id: OrderId,
    /// What was asked.
    pub request: OrderRequest,
    /// When it was submitted.
    pub created: Timestamp,
    /// Where it ended.
    pub status: OrderStatus,
    /// When it left the book (filled, canceled, expired or rejected).
    pub closed: Option<Timestamp>,
    /// Units filled.
    pub filled: f64,
    /// Average fill price (0 when nothing filled).
    pub avg_price: f64,
    /// Commission paid.
    pub fees: f64,
    /// Why it was rejected.
    pub reason: Option<RejectReason>,
}

impl OrderRecord {
    /// Returns the record of an order just submitted: working, nothing filled.
    pub fn working(id: OrderId, request: OrderRequest, created: Timestamp) -> Self {
        Self {
            id,
            request,
            created,
            status: OrderStatus::Working,
            closed: None,
            filled: 0.0,
            avg_price: 0.0,
            fees: 0.0,
            reason: None,
        }
    }
}

/// The exchange's day of `ts`. Out of line: inlined, its division was computed ahead of the
/// matching loop on every event with a working order, though most events read no day.
#[inline(never)]
fn exchange_day(days: &mut DayClock, ts: Timestamp) -> i64 {
    days.day(ts)
}

/// The simulated broker.
#[derive(Debug, Clone)]
pub struct SimBroker {
    broker: BrokerConfig,
    risk: RiskCheck,
    sizer: Sizer,
    working: Vec<Vec<Order>>,
    /// The records of orders `handed + 1` on (those before were handed on, all closed).
    records: Vec<OrderRecord>,
    handed: u64,
    fills: Vec<FillRecord>,
    /// The exchange's local days, where DAY orders expire.
    days: DayClock,
}

impl SimBroker {
    /// Returns a broker for `instruments` instruments under `spec`'s rules.
    pub fn new(spec: &EngineSpec, instruments: usize) -> Self {
        let broker = spec.broker.clone();
        Self {
            risk: RiskCheck::new(&broker, spec.risk.clone()),
            sizer: Sizer::new(&broker, spec.sizing.clone(), spec.risk.clone(), instruments),
            broker,
            days: DayClock::new(spec.timezone),
            working: vec![Vec::new(); instruments],
            records: Vec::new(),
            handed: 0,
            fills: Vec::new(),
        }
    }

    /// Returns the working orders by instrument.
    pub fn working(&self) -> &[Vec<Order>] {
        &self.working
    }

    /// Returns every order submitted, by id (after those handed on by
    /// [`SimBroker::hand_on_closed`]).
    pub fn records(&self) -> &[OrderRecord] {
        &self.records
    }

    /// Moves the records of the orders closed so far into `out`, up to the first order still
    /// working (so the records left, and those handed on, stay in id order).
    pub fn hand_on_closed(&mut self, out: &mut Vec<OrderRecord>) {
        let closed = (self.records.iter())
            .position(|r| r.closed.is_none())
            .unwrap_or(self.records.len());
        out.extend(self.records.drain(..closed));
        self.handed += closed as u64;
    }

    /// Returns the record of order `id`, unless it was handed on or never existed.
    fn record_mut(&mut self, id: OrderId) -> Option<&mut OrderRecord> {
        let index = id.0.checked_sub(self.handed + 1)?;
        self.records.get_mut(usize::try_from(index).ok()?)
    }

    /// Returns every fill, in time order (after those handed on by
    /// [`SimBroker::hand_on_fills`]).
    pub fn fills(&self) -> &[FillRecord] {
        &self.fills
    }

    /// Moves the fills booked so far into `out`.
    pub fn hand_on_fills(&mut self, out: &mut Vec<FillRecord>) {
        out.append(&mut self.fills);
    }

    /// Returns the order records and fills, consuming the broker.
    pub fn into_journal(self) -> (Vec<OrderRecord>, Vec<FillRecord>) {
        (self.records, self.fills)
    }

    /// Feeds a close to the realized-volatility estimate used by volatility targeting.
    pub fn observe_close(&mut self, instrument: InstrumentIdx, ts: Timestamp, close: f64) {
        self.sizer.observe_close(instrument, ts, close);
    }

    /// Accepts or rejects a new order. Accepted orders can fill only on events after `now`.
    pub fn submit(
        &mut self,
        request: OrderRequest,
        now: Timestamp,
        refuse: Option<RejectReason>,
        reports: &mut Vec<ExecReport>,
    ) -> OrderId {
        let id = self.register(request, now);
        let refuse = refuse.or_else(|| self.risk.validate(&request, self.working.len()));
        let kind = match refuse {
            Some(reason) => {
                self.close_record(id, OrderStatus::Rejected, now);
                if let Some(record) = self.record_mut(id) {
                    record.reason = Some(reason);
                }
                ExecKind::Rejected(reason)
            }
            None => {
                let mut order = Order::new(id, request, now);
                order.live_after = self.broker.latency().live_after(now);
                self.working[request.instrument.get()].push(order);
                ExecKind::Accepted
            }
        };
        reports.push(ExecReport {
            ts: now,
            order_id: id,
            instrument: request.instrument,
            tag: request.tag,
            kind,
        });
        id
    }

    /// Records a new order and returns its id.
    fn register(&mut self, request: OrderRequest, now: Timestamp) -> OrderId {
        let id = OrderId(self.handed + self.records.len() as u64 + 1);
        self.records.push(OrderRecord::working(id, request, now));
        id
    }

    /// Cancels one working order; unknown or finished orders are ignored.
    pub fn cancel(&mut self, id: OrderId, now: Timestamp, reports: &mut Vec<ExecReport>) {
        // Handed-on orders are closed: nothing to cancel.
        let Some(record) = self.record_mut(id) else {
            return;
        };
        let idx = record.request.instrument.get();
        if let Some(pos) = self.working[idx].iter().position(|o| o.id == id) {
            let order = self.working[idx].remove(pos);
            self.finish(order, OrderStatus::Canceled, now, reports);
        }
    }

    /// Cancels every working order of an instrument.
    pub fn cancel_all(
        &mut self,
        instrument: InstrumentIdx,
        now: Timestamp,
        reports: &mut Vec<ExecReport>,
    ) {
        let Some(list) = self.working.get_mut(instrument.get()) else {
            return;
        };
        let orders = std::mem::take(list);
        for order in orders {
            self.finish(order, OrderStatus::Canceled, now, reports);
        }
    }

    /// Fills the working orders of one instrument against its new bar, oldest order first.
    pub fn on_bar(
        &mut self,
        instrument: InstrumentIdx,
        bar: &Bar,
        portfolio: &mut Portfolio,
        reports: &mut Vec<ExecReport>,
    ) {
        self.match_orders(instrument, bar.ts, Touch::bar(bar), portfolio, reports);
    }

    /// Fills the working orders of the event's instrument against it, oldest order first: a bar
    /// as [`SimBroker::on_bar`] does, a trade or a quote with the tick rules of DESIGN.md (see
    /// the module documentation).
    pub fn on_event(
        &mut self,
        event: &MarketEvent,
        portfolio: &mut Portfolio,
        reports: &mut Vec<ExecReport>,
    ) {
        let touch = Touch::of(&event.kind);
        self.match_orders(event.instrument, event.ts_event, touch, portfolio, reports);
    }

    /// The matching loop shared by bars and ticks: time in force, fills, OCO siblings and the
    /// cleanup of exits left without a position. Only `touch` differs between kinds of event.
    fn match_orders(
        &mut self,
        instrument: InstrumentIdx,
        ts: Timestamp,
        touch: Touch,
        portfolio: &mut Portfolio,
        reports: &mut Vec<ExecReport>,
    ) {
        let idx = instrument.get();
        if self.working[idx].is_empty() {
            return; // The common case on the hot path: nothing to match.
        }
        let mut volume_left = self
            .broker
            .max_volume_participation
            .map(|p| touch.volume().map(|v| p * v));
        // The exchange's day (a DAY order expires when it changes), read only for an order's
        // arrival or a DAY order: a resting GTC order, a bracket's most events, needs none.
        let mut day = None;
        let mut i = 0;
        while i < self.working[idx].len() {
            // Worked in place: most orders, most events, neither fill nor expire, and copying
            // each out and back cost a tenth of a bracketed strategy's event loop.
            let working = &mut self.working[idx][i];
            // No look-ahead: an order acts only on events stamped strictly after it went live
            // (it was placed, plus the latency). Events sharing a timestamp happened at once, so
            // an order decided on one of them (even the first) never reaches the venue in time
            // for the others; this also covers the event it was decided on, with no sequence
            // number to keep.
            if working.live_after >= ts {
                i += 1;
                continue;
            }
            // The first event an order can act on is its arrival at the venue (see `Reach`).
            let arrival = working.first_day.is_none();
            match working.first_day {
                Some(first)
                    if working.request.tif == TimeInForce::Day
                        && *day.get_or_insert_with(|| exchange_day(&mut self.days, ts)) > first =>
                {
                    let order = self.working[idx].remove(i);
                    self.finish(order, OrderStatus::Expired, ts, reports);
                    continue;
                }
                None => {
                    working.first_day =
                        Some(*day.get_or_insert_with(|| exchange_day(&mut self.days, ts)));
                }
                _ => {}
            }
            let side = working.request.side;
            let fill = touch
                .reach(side, arrival)
                .and_then(|reach| self.broker.fill_model().fill(working, reach));
            if fill.is_none() && working.request.tif != TimeInForce::Ioc {
                i += 1;
                continue;
            }
            let mut order = *working;
            let outcome = match fill {
                Some(FillPrice { price, slips }) => {
                    let price = if slips {
                        self.broker.slippage().slipped(side, price)
                    } else {
                        price
                    };
                    let room = volume_left
                        .as_mut()
                        .map(|left| &mut left[touch.volume_slot(side)]);
                    self.execute(&mut order, price, ts, portfolio, room, reports)
                }
                None => Step::Keep,
            };
            let outcome = match outcome {
                Step::Keep if order.request.tif == TimeInForce::Ioc => {
                    Step::Done(OrderStatus::Expired)
                }
                other => other,
            };
            match outcome {
                Step::Keep => {
                    self.working[idx][i] = order;
                    i += 1;
                }
                Step::Done(status) => {
                    self.working[idx].remove(i);
                    if status == OrderStatus::Filled
                        && let Some(sibling) = order.oco
                        && let Some(at) = self.working[idx].iter().position(|o| o.id == sibling)
                    {
                        let sibling = self.working[idx].remove(at);
                        if at < i {
                            i -= 1;
                        }
                        self.finish(sibling, OrderStatus::Canceled, ts, reports);
                    }
                    self.finish(order, status, ts, reports);
                }
            }
        }
        // Exits of a position that is now flat have nothing left to do. Removed one by one,
        // oldest first, so no buffer is allocated on the event that closes a position.
        if portfolio.position(instrument).qty == 0.0 {
            while let Some(at) = self.working[idx].iter().position(|o| o.request.reduce_only) {
                let order = self.working[idx].remove(at);
                self.finish(order, OrderStatus::Canceled, ts, reports);
            }
        }
    }

    /// Sizes, risk-checks and books a fill of `order` at `price`.
    fn execute(
        &mut self,
        order: &mut Order,
        price: f64,
        ts: Timestamp,
        portfolio: &mut Portfolio,
        volume_left: Option<&mut f64>,
        reports: &mut Vec<ExecReport>,
    ) -> Step {
        let req = order.request;
        let held = portfolio.position(req.instrument).qty;
        let sign = req.side.sign();
        let reduces = held * sign < 0.0;
        if order.filled == 0.0 {
            let target = match req.size {
                Size::Units(Qty(q)) => Ok(q),
                Size::ClosePosition if reduces => Ok(held.abs()),
                Size::ClosePosition => Err(RejectReason::NothingToReduce),
                Size::Auto => {
                    self.sizer
                        .units(req.instrument, req.side, held, price, 1.0, portfolio)
                }
                Size::Scaled(f) => {
                    self.sizer
                        .units(req.instrument, req.side, held, price, f, portfolio)
                }
            };
            if req.reduce_only && !reduces {
                // Its position went flat (or flipped) earlier on this event: nothing left to exit.
                return Step::Done(OrderStatus::Canceled);
            }
            match target {
                Ok(q) if req.reduce_only => order.target = q.min(held.abs()),
                Ok(q) => order.target = q,
                Err(reason) => return self.reject(order, reason, ts, reports),
            }
            if order.target <= 0.0 {
                let reason = if req.reduce_only {
                    RejectReason::NothingToReduce
                } else {
                    RejectReason::ZeroSize
                };
                return self.reject(order, reason, ts, reports);
            }
        }
        let mut qty = order.target - order.filled;
        if let Some(left) = volume_left {
            let cap = if self.broker.fractional {
                *left
            } else {
                left.floor()
            };
            qty = qty.min(cap.max(0.0));
            if qty <= 0.0 {
                return Step::Keep;
            }
            *left -= qty;
        }
        let fee = self.broker.fees().fee(qty, price, order.filled == 0.0);
        if let Err(reason) =
            self.risk
                .check_fill(req.side, held, qty, price, fee, portfolio, req.instrument)
        {
            return self.reject(order, reason, ts, reports);
        }
        portfolio.apply_fill(req.instrument, req.side, qty, price, fee, ts);
        order.filled += qty;
        self.fills.push(FillRecord {
            ts,
            order_id: order.id,
            instrument: req.instrument,
            side: req.side,
            qty,
            price,
            fee,
        });
        // A working order's record is never handed on.
        if let Some(record) = self.record_mut(order.id) {
            record.avg_price =
                (record.avg_price * record.filled + price * qty) / (record.filled + qty);
            record.filled += qty;
            record.fees += fee;
        }
        let leaves = order.target - order.filled;
        reports.push(ExecReport {
            ts,
            order_id: order.id,
            instrument: req.instrument,
            tag: req.tag,
            kind: ExecKind::Filled {
                side: req.side,
                qty: Qty(qty),
                price: Price(price),
                fee,
                leaves: Qty(leaves),
            },
        });
        if leaves <= 0.0 {
            Step::Done(OrderStatus::Filled)
        } else {
            Step::Keep
        }
    }

    fn reject(
        &mut self,
        order: &Order,
        reason: RejectReason,
        ts: Timestamp,
        reports: &mut Vec<ExecReport>,
    ) -> Step {
        if order.filled > 0.0 {
            // Part of it already traded: the rest is canceled rather than the whole rejected.
            if let Some(record) = self.record_mut(order.id) {
                record.reason = Some(reason);
            }
            return Step::Done(OrderStatus::Canceled);
        }
        if let Some(record) = self.record_mut(order.id) {
            record.reason = Some(reason);
        }
        reports.push(ExecReport {
            ts,
            order_id: order.id,
            instrument: order.request.instrument,
            tag: order.request.tag,
            kind: ExecKind::Rejected(reason),
        });
        Step::Done(OrderStatus::Rejected)
    }

    /// Closes an order that left the book, reports it, and places its bracket once it is done.
    fn finish(
        &mut self,
        order: Order,
        status: OrderStatus,
        ts: Timestamp,
        reports: &mut Vec<ExecReport>,
    ) {
        self.close_record(order.id, status, ts);
        let req = order.request;
        let kind = match status {
            OrderStatus::Canceled => Some(ExecKind::Canceled),
            OrderStatus::Expired => Some(ExecKind::Expired),
            _ => None, // fills and rejections were reported when they happened
        };
        if let Some(kind) = kind {
            reports.push(ExecReport {
                ts,
                order_id: order.id,
                instrument: req.instrument,
                tag: req.tag,
                kind,
            });
        }
        if order.filled > 0.0 && !req.bracket.is_empty() {
            self.place_bracket(&order, ts, reports);
        }
    }

    /// Places the take-profit and stop-loss exits of a filled entry, linked one-cancels-other.
    fn place_bracket(&mut self, entry: &Order, ts: Timestamp, reports: &mut Vec<ExecReport>) {
        let req = entry.request;
        let exit_side = req.side.opposite();
        let size = Size::Units(Qty(entry.filled));
        let mut placed: [Option<OrderId>; 2] = [None, None];
        // The stop-loss goes first: working orders are matched oldest first, so when one bar
        // reaches both exits the stop-loss fills (the pessimistic reading, as in Backtesting.py
        // and backtrader) and cancels the take-profit.
        let exits = [
            req.bracket
                .stop_loss
                .map(|p| OrderRequest::stop(req.instrument, exit_side, size, p)),
            req.bracket
                .take_profit
                .map(|p| OrderRequest::limit(req.instrument, exit_side, size, p)),
        ];
        for (slot, exit) in placed.iter_mut().zip(exits) {
            if let Some(exit) = exit {
                *slot = Some(self.submit(exit.reduce_only().with_tag(req.tag), ts, None, reports));
            }
        }
        if let [Some(sl), Some(tp)] = placed {
            for order in self.working[req.instrument.get()].iter_mut() {
                if order.id == tp {
                    order.oco = Some(sl);
                } else if order.id == sl {
                    order.oco = Some(tp);
                }
            }
        }
    }

    fn close_record(&mut self, id: OrderId, status: OrderStatus, ts: Timestamp) {
        if let Some(record) = self.record_mut(id) {
            record.status = status;
            record.closed = Some(ts);
        }
    }

    /// Closes every open position at its mark (the last close), with commission, as orders
    /// submitted and filled at `ts`. Used for `close_at_end`.
    pub fn liquidate(
        &mut self,
        portfolio: &mut Portfolio,
        ts: Timestamp,
        reports: &mut Vec<ExecReport>,
    ) {
        for idx in 0..self.working.len() {
            let instrument = InstrumentIdx(idx as u32);
            let pos = *portfolio.position(instrument);
            if pos.qty == 0.0 {
                continue;
            }
            let side = if pos.qty > 0.0 { Side::Sell } else { Side::Buy };
            let request = OrderRequest::market(instrument, side, Size::ClosePosition);
            let mut order = Order::new(self.register(request, ts), request, ts);
            let step = self.execute(&mut order, pos.mark, ts, portfolio, None, reports);
            if let Step::Done(status) = step {
                self.close_record(order.id, status, ts);
            }
        }
    }
}

/// What became of an order on one event.
enum Step {
    /// Still working.
    Keep,
    /// Left the book with this status.
    Done(OrderStatus),
}
