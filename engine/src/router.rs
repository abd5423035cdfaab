//! The `OrderRouter` trait: where the engine sends a strategy's orders and learns what became of
//! them. The simulated broker fills orders against market events (backtests and paper trading);
//! the live router forwards them to a venue and books the venue's execution reports.
//!
//! The engine is generic over its router (`Engine<S, R = SimBroker>`), so backtests call the
//! simulated broker directly: no virtual call and no allocation per event. A strategy only ever
//! sees `ExecReport`s, whichever router made them, so it cannot tell which mode it runs in.

use crate::broker::{FillRecord, OrderRecord, SimBroker};
use crate::order::{Order, OrderId, OrderRequest};
use crate::portfolio::Portfolio;
use crate::strategy::{ExecReport, RejectReason};
use market_data::{Bar, InstrumentIdx, MarketEvent, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Takes orders from the engine and reports what became of them.
///
/// Every method that changes an order pushes the reports the strategy must see into `reports`;
/// fills are booked into `portfolio` by the router, at the moment it learns of them.
pub trait OrderRouter {
    /// News from outside the engine (a venue's execution report), journaled as it arrives and
    /// replayed from the journal on restart. The simulated broker has none.
    type Update: std::fmt::Debug + Serialize + DeserializeOwned;

    /// Returns the working orders by instrument.
    fn working(&self) -> &[Vec<Order>];
    /// Returns every order submitted, by id.
    fn records(&self) -> &[OrderRecord];
    /// Returns every fill, in the order booked.
    fn fills(&self) -> &[FillRecord];
    /// Returns the order records and fills, consuming the router.
    fn into_journal(self) -> (Vec<OrderRecord>, Vec<FillRecord>);
    /// Moves the records of orders closed so far, up to the first still working, into `out`,
    /// for a run that writes them while it goes on; a router that keeps them does nothing.
    fn hand_on_closed(&mut self, _out: &mut Vec<OrderRecord>) {}
    /// Moves the fills booked so far into `out`, for a run that writes them while it goes on; a
    /// router that keeps them does nothing.
    fn hand_on_fills(&mut self, _out: &mut Vec<FillRecord>) {}
    /// Feeds a close (or a tick's price) to sizing models that estimate from prices.
    fn observe_close(&mut self, instrument: InstrumentIdx, ts: Timestamp, close: f64);
    /// Accepts or rejects a new order placed at `now`; `refuse` rejects it outright.
    fn submit(
        &mut self,
        request: OrderRequest,
        now: Timestamp,
        refuse: Option<RejectReason>,
        portfolio: &Portfolio,
        reports: &mut Vec<ExecReport>,
    ) -> OrderId;
    /// Cancels one working order; unknown or finished orders are ignored.
    fn cancel(&mut self, id: OrderId, now: Timestamp, reports: &mut Vec<ExecReport>);
    /// Cancels every working order of an instrument.
    fn cancel_all(
        &mut self,
        instrument: InstrumentIdx,
        now: Timestamp,
        reports: &mut Vec<ExecReport>,
    );
    /// Lets working orders of `instrument` react to its new bar.
    fn on_bar(
        &mut self,
        instrument: InstrumentIdx,
        bar: &Bar,
        portfolio: &mut Portfolio,
        reports: &mut Vec<ExecReport>,
    );
    /// Lets working orders of the event's instrument react to a trade or a quote.
    fn on_event(
        &mut self,
        event: &MarketEvent,
        portfolio: &mut Portfolio,
        reports: &mut Vec<ExecReport>,
    );
    /// Returns whether orders leave the process (to a venue), so that a journaling session must
    /// make an order's line durable before [`OrderRouter::release`] lets it go. The simulated
    /// broker sends nothing anywhere.
    fn sends_orders_out(&self) -> bool {
        false
    }

    /// From now on, holds what it would send about orders until [`OrderRouter::release`] (a
    /// journaling session asks for this; without it, commands go at once).
    fn hold_orders(&mut self) {}

    /// Sends what was held back until the orders it names were journaled durably.
    fn release(&mut self) {}

    /// Books news from outside the engine.
    fn apply(
        &mut self,
        update: &Self::Update,
        portfolio: &mut Portfolio,
        reports: &mut Vec<ExecReport>,
    );
    /// Closes every open position at its mark when the run ends (`close_at_end`).
    fn liquidate(
        &mut self,
        portfolio: &mut Portfolio,
        ts: Timestamp,
        reports: &mut Vec<ExecReport>,
    );
}

/// The simulated broker's updates: there are none, it learns everything from market events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum NoUpdate {}

impl OrderRouter for SimBroker {
    type Update = NoUpdate;

    fn working(&self) -> &[Vec<Order>] {
        SimBroker::working(self)
    }

    fn records(&self) -> &[OrderRecord] {
        SimBroker::records(self)
    }

    fn fills(&self) -> &[FillRecord] {
        SimBroker::fills(self)
    }

    fn into_journal(self) -> (Vec<OrderRecord>, Vec<FillRecord>) {
        SimBroker::into_journal(self)
    }

    fn hand_on_closed(&mut self, out: &mut Vec<OrderRecord>) {
        SimBroker::hand_on_closed(self, out);
    }

    fn hand_on_fills(&mut self, out: &mut Vec<FillRecord>) {
        SimBroker::hand_on_fills(self, out);
    }

    fn observe_close(&mut self, instrument: InstrumentIdx, ts: Timestamp, close: f64) {
        SimBroker::observe_close(self, instrument, ts, close);
    }

    fn submit(
        &mut self,
        request: OrderRequest,
        now: Timestamp,
        refuse: Option<RejectReason>,
        _portfolio: &Portfolio,
        reports: &mut Vec<ExecReport>,
    ) -> OrderId {
        // Sizing waits for the fill price here, so the account is not needed yet.
        SimBroker::submit(self, request, now, refuse, reports)
    }

    fn cancel(&mut self, id: OrderId, now: Timestamp, reports: &mut Vec<ExecReport>) {
        SimBroker::cancel(self, id, now, reports);
    }

    fn cancel_all(
        &mut self,
        instrument: InstrumentIdx,
        now: Timestamp,
        reports: &mut Vec<ExecReport>,
    ) {
        SimBroker::cancel_all(self, instrument, now, reports);
    }

    fn on_bar(
        &mut self,
        instrument: InstrumentIdx,
        bar: &Bar,
        portfolio: &mut Portfolio,
        reports: &mut Vec<ExecReport>,
    ) {
        SimBroker::on_bar(self, instrument, bar, portfolio, reports);
    }

    fn on_event(
        &mut self,
        event: &MarketEvent,
        portfolio: &mut Portfolio,
        reports: &mut Vec<ExecReport>,
    ) {
        SimBroker::on_event(self, event, portfolio, reports);
    }

    fn apply(&mut self, update: &NoUpdate, _: &mut Portfolio, _: &mut Vec<ExecReport>) {
        match *update {}
    }

    fn liquidate(
        &mut self,
        portfolio: &mut Portfolio,
        ts: Timestamp,
        reports: &mut Vec<ExecReport>,
    ) {
        SimBroker::liquidate(self, portfolio, ts, reports);
    }
}
