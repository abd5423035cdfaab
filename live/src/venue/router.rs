//! The live router: the engine's side of a venue connection. It sizes and risk-checks each
//! order with the simulated broker's rules (the engine's `Sizer` and `RiskCheck`), adds the live limits
//! (orders per minute, notional per order), gives the order a deterministic client order id,
//! and sends it to the connection. What the venue reports comes back as `VenueUpdate`s, which
//! the session journals and the router books: fills into the portfolio, cancels and rejects
//! into the order records, each as the `ExecReport` the strategy would see in paper mode.
//!
//! Sizing happens at submission with the last price (the venue needs a quantity), where the
//! simulated broker sizes at the fill price.

use super::binance::{Execution, NewOrder};
use super::limits::OrderWindow;
use engine::EngineSpec;
use engine::OrderRouter;
use engine::Portfolio;
use engine::{Commission, FeeModel as _, RiskCheck, Sizer};
use engine::{ExecKind, ExecReport, RejectReason, ShortText};
use engine::{FillRecord, OrderRecord};
use engine::{Order, OrderId, OrderRequest, OrderStatus, Size, TimeInForce};
use market_data::{Bar, InstrumentIdx, MarketEvent, Qty, Side, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

/// What the router asks of the venue connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Place an order (resent under the same client id until the venue has it).
    Place(NewOrder),
    /// Cancel an order by client id.
    Cancel {
        /// The symbol.
        symbol: String,
        /// The client order id.
        client_id: String,
    },
    /// Fetch balances, open orders and the status of these orders, for reconciliation.
    Snapshot {
        /// (symbol, client order id) of every order the engine thinks is working.
        orders: Vec<(String, String)>,
    },
}

/// News from the venue, as the engine books it (and the journal keeps it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum VenueUpdate {
    /// Part or all of an order traded.
    Filled {
        /// The order.
        order: OrderId,
        /// When (the venue's transaction time).
        ts: Timestamp,
        /// Units of this trade.
        qty: f64,
        /// Its price.
        price: f64,
        /// Its commission, in the quote asset.
        fee: f64,
    },
    /// The order was canceled (what had traded stays traded).
    Canceled {
        /// The order.
        order: OrderId,
        /// When.
        ts: Timestamp,
    },
    /// The order's time in force ran out.
    Expired {
        /// The order.
        order: OrderId,
        /// When.
        ts: Timestamp,
    },
    /// The venue refused the order.
    Rejected {
        /// The order.
        order: OrderId,
        /// When.
        ts: Timestamp,
        /// The venue's code.
        code: i64,
        /// The venue's reason.
        message: String,
    },
    /// Reconciliation took a venue position difference as the engine's own (`adopt`).
    Adopted {
        /// The instrument.
        instrument: InstrumentIdx,
        /// When.
        ts: Timestamp,
        /// Signed units added to the engine's position.
        qty: f64,
        /// The price they are valued at (their cost).
        price: f64,
    },
}

/// The router's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRouterConfig {
    /// Starts every client order id: `<prefix>-<order id>`. Letters, digits, `_` and `-`.
    pub prefix: String,
    /// The venue symbol of each instrument, by index.
    pub symbols: Vec<String>,
    /// The asset prices and cash are in (`USDT`); a symbol is its base asset plus this.
    pub quote_asset: String,
    /// Log orders instead of sending them.
    pub dry_run: bool,
    /// Orders admitted per minute of event time.
    pub max_orders_per_minute: usize,
    /// Largest quantity x price of one order.
    pub max_order_notional: f64,
}

/// The live router.
#[derive(Debug)]
pub struct LiveRouter {
    config: LiveRouterConfig,
    /// The backtests' rules: fees, sizing and risk limits.
    fees: Commission,
    sizer: Sizer,
    risk: RiskCheck,
    window: OrderWindow,
    working: Vec<Vec<Order>>,
    records: Vec<OrderRecord>,
    fills: Vec<FillRecord>,
    outbox: Option<UnboundedSender<Command>>,
    /// Whether commands about orders wait for [`OrderRouter::release`].
    holding: bool,
    /// Commands about this session's orders, held until the session has journaled the orders
    /// durably (a crash must never leave at the venue an order the journal lacks).
    held: Vec<Command>,
    notices: Vec<String>,
}

impl LiveRouter {
    /// Returns a router for the instruments of `config.symbols`, not yet connected: orders
    /// placed before [`LiveRouter::connect`] (a journal's replay) are recorded, not sent.
    pub fn new(spec: &EngineSpec, config: LiveRouterConfig) -> Self {
        let n = config.symbols.len();
        Self {
            fees: spec.broker.fees(),
            sizer: Sizer::new(&spec.broker, spec.sizing.clone(), spec.risk.clone(), n),
            risk: RiskCheck::new(&spec.broker, spec.risk.clone()),
            window: OrderWindow::new(config.max_orders_per_minute),
            working: vec![Vec::new(); n],
            records: Vec::new(),
            fills: Vec::new(),
            outbox: None,
            holding: false,
            held: Vec::new(),
            notices: Vec::new(),
            config,
        }
    }

    /// Connects the router to a venue connection; from now on orders are sent.
    pub fn connect(&mut self, outbox: UnboundedSender<Command>) {
        self.outbox = Some(outbox);
    }

    /// Returns the fee model of the config, for fills whose commission is unknown.
    pub fn fees(&self) -> &Commission {
        &self.fees
    }

    /// Returns the settings.
    pub fn config(&self) -> &LiveRouterConfig {
        &self.config
    }

    /// Returns and clears the lines the router wants logged (dry-run orders, unsent commands).
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// Returns the client order id of an order.
    pub fn client_id(&self, id: OrderId) -> String {
        format!("{}-{}", self.config.prefix, id.0)
    }

    /// Returns the order a client order id names, when it is one of this session's.
    pub fn order_of(&self, client_id: &str) -> Option<OrderId> {
        let rest = client_id.strip_prefix(self.config.prefix.as_str())?;
        let id: u64 = rest.strip_prefix('-')?.parse().ok()?;
        (id >= 1 && id as usize <= self.records.len()).then_some(OrderId(id))
    }

    /// Returns the base asset of an instrument (`BTC` of `BTCUSDT`).
    pub fn base_asset(&self, instrument: InstrumentIdx) -> &str {
        let symbol = &self.config.symbols[instrument.get()];
        symbol
            .strip_suffix(self.config.quote_asset.as_str())
            .unwrap_or(symbol)
    }

    /// Sends a command, or notes that it could not be.
    pub fn send(&mut self, command: Command) {
        if let Some(outbox) = &self.outbox
            && outbox.send(command).is_err()
        {
            self.notices
                .push("venue connection is gone: a command was not sent".into());
        }
    }

    /// Sends a command about an order, or holds it until released (see
    /// [`OrderRouter::hold_orders`]).
    fn send_about_order(&mut self, command: Command) {
        if self.holding {
            self.held.push(command);
        } else {
            self.send(command);
        }
    }

    /// Asks the connection for a snapshot of the venue, for reconciliation.
    pub fn request_snapshot(&mut self) {
        let orders = self
            .working
            .iter()
            .flatten()
            .map(|o| {
                let symbol = self.config.symbols[o.request.instrument.get()].clone();
                (symbol, self.client_id(o.id))
            })
            .collect();
        self.send(Command::Snapshot { orders });
    }

    /// Returns what an execution report means for the engine, or why it means nothing (an
    /// order of another session, a report that changes nothing, such as `NEW`).
    ///
    /// # Errors
    /// The report is not about a working order of this session, or says nothing to book.
    pub fn update_of(&self, execution: &Execution) -> Result<VenueUpdate, String> {
        let client_id = execution.order_client_id();
        let order = self
            .order_of(client_id)
            .ok_or_else(|| format!("execution report for {client_id}: not this session's order"))?;
        let ts = Timestamp(execution.time_ms.saturating_mul(1_000_000));
        match execution.exec_type.as_str() {
            "TRADE" => {
                let symbol_base = self
                    .record(order)
                    .map(|r| self.base_asset(r.request.instrument));
                let commission = execution.commission;
                let fee = match execution.commission_asset.as_deref() {
                    None => 0.0,
                    Some(asset) if asset == self.config.quote_asset => commission,
                    Some(asset) if Some(asset) == symbol_base => commission * execution.last_price,
                    // Charged in a third asset (BNB): its value in the quote asset is unknown
                    // here; the configured rate estimates it.
                    Some(_) => self.fees.fee(
                        execution.last_qty,
                        execution.last_price,
                        self.record(order).is_none_or(|r| r.filled == 0.0),
                    ),
                };
                Ok(VenueUpdate::Filled {
                    order,
                    ts,
                    qty: execution.last_qty,
                    price: execution.last_price,
                    fee,
                })
            }
            "CANCELED" => Ok(VenueUpdate::Canceled { order, ts }),
            "EXPIRED" | "EXPIRED_IN_MATCH" => Ok(VenueUpdate::Expired { order, ts }),
            "REJECTED" => Ok(VenueUpdate::Rejected {
                order,
                ts,
                code: 0,
                message: execution.reject_reason.clone(),
            }),
            other => Err(format!(
                "execution report {other} for {client_id}: nothing to book"
            )),
        }
    }

    fn record(&self, id: OrderId) -> Option<&OrderRecord> {
        self.records.get((id.0 as usize).wrapping_sub(1))
    }

    /// Sizes and checks an order; returns its quantity.
    fn check(
        &mut self,
        request: &OrderRequest,
        now: Timestamp,
        portfolio: &Portfolio,
    ) -> Result<f64, RejectReason> {
        if let Some(reason) = self.risk.validate(request, self.working.len()) {
            return Err(reason);
        }
        if !request.bracket.is_empty() || request.tif == TimeInForce::Day {
            return Err(RejectReason::Unsupported);
        }
        let position = portfolio.position(request.instrument);
        let held = position.qty;
        let price = request
            .kind
            .limit_price()
            .or(request.kind.trigger_price())
            .map_or(position.mark, |p| p.0);
        if !(price.is_finite() && price > 0.0) {
            return Err(RejectReason::NoPrice);
        }
        let reduces = held * request.side.sign() < 0.0;
        let (side, instrument) = (request.side, request.instrument);
        let mut qty = match request.size {
            Size::Units(Qty(q)) => q,
            Size::ClosePosition if reduces => held.abs(),
            Size::ClosePosition => return Err(RejectReason::NothingToReduce),
            Size::Auto => self
                .sizer
                .units(instrument, side, held, price, 1.0, portfolio)?,
            Size::Scaled(f) => self
                .sizer
                .units(instrument, side, held, price, f, portfolio)?,
        };
        if request.reduce_only {
            if !reduces {
                return Err(RejectReason::NothingToReduce);
            }
            qty = qty.min(held.abs());
        }
        if qty <= 0.0 {
            return Err(RejectReason::ZeroSize);
        }
        let fee = self.fees.fee(qty, price, true);
        self.risk
            .check_fill(side, held, qty, price, fee, portfolio, instrument)?;
        // The live limits guard against orders that add risk; one that only reduces a
        // position (the kill switch's, among others) is never blocked on its way out.
        if reduces && qty <= held.abs() {
            return Ok(qty);
        }
        if qty * price > self.config.max_order_notional {
            return Err(RejectReason::NotionalLimit);
        }
        if !self.window.admit(now) {
            return Err(RejectReason::OrderRateLimit);
        }
        Ok(qty)
    }

    /// Closes an order's record and reports how it ended.
    fn end(
        &mut self,
        id: OrderId,
        status: OrderStatus,
        kind: ExecKind,
        ts: Timestamp,
        reports: &mut Vec<ExecReport>,
    ) {
        let Some(record) = self.records.get_mut((id.0 as usize).wrapping_sub(1)) else {
            return;
        };
        let instrument = record.request.instrument;
        let Some(at) = self.working[instrument.get()]
            .iter()
            .position(|o| o.id == id)
        else {
            return; // already ended: a late or repeated report
        };
        self.working[instrument.get()].remove(at);
        record.status = status;
        record.closed = Some(ts);
        if let ExecKind::Rejected(reason) = kind {
            record.reason = Some(reason);
        }
        reports.push(ExecReport {
            ts,
            order_id: id,
            instrument,
            tag: record.request.tag,
            kind,
        });
    }

    fn fill(
        &mut self,
        id: OrderId,
        (ts, qty, price, fee): (Timestamp, f64, f64, f64),
        portfolio: &mut Portfolio,
        reports: &mut Vec<ExecReport>,
    ) {
        let Some(record) = self.records.get((id.0 as usize).wrapping_sub(1)) else {
            return;
        };
        let instrument = record.request.instrument;
        let Some(order) = self.working[instrument.get()]
            .iter_mut()
            .find(|o| o.id == id)
        else {
            self.notices
                .push(format!("fill of order {} after it ended: not booked", id.0));
            return;
        };
        let side = order.request.side;
        portfolio.apply_fill(instrument, side, qty, price, fee, ts);
        order.filled += qty;
        let leaves = (order.target - order.filled).max(0.0);
        let tag = order.request.tag;
        self.fills.push(FillRecord {
            ts,
            order_id: id,
            instrument,
            side,
            qty,
            price,
            fee,
        });
        let record = &mut self.records[id.0 as usize - 1];
        record.avg_price = (record.avg_price * record.filled + price * qty) / (record.filled + qty);
        record.filled += qty;
        record.fees += fee;
        reports.push(ExecReport {
            ts,
            order_id: id,
            instrument,
            tag,
            kind: ExecKind::Filled {
                side,
                qty: Qty(qty),
                price: market_data::Price(price),
                fee,
                leaves: Qty(leaves),
            },
        });
        // Venue quantities are decimal: what is left below a billionth of the order is dust.
        if leaves <= 1e-9 * order.target {
            let at = self.working[instrument.get()]
                .iter()
                .position(|o| o.id == id);
            if let Some(at) = at {
                self.working[instrument.get()].remove(at);
            }
            let record = &mut self.records[id.0 as usize - 1];
            record.status = OrderStatus::Filled;
            record.closed = Some(ts);
        }
    }
}

impl OrderRouter for LiveRouter {
    type Update = VenueUpdate;

    fn working(&self) -> &[Vec<Order>] {
        &self.working
    }

    fn records(&self) -> &[OrderRecord] {
        &self.records
    }

    fn fills(&self) -> &[FillRecord] {
        &self.fills
    }

    fn into_journal(self) -> (Vec<OrderRecord>, Vec<FillRecord>) {
        (self.records, self.fills)
    }

    fn observe_close(&mut self, instrument: InstrumentIdx, ts: Timestamp, close: f64) {
        self.sizer.observe_close(instrument, ts, close);
    }

    fn sends_orders_out(&self) -> bool {
        self.outbox.is_some()
    }

    fn hold_orders(&mut self) {
        self.holding = true;
    }

    fn release(&mut self) {
        let held = std::mem::take(&mut self.held);
        for command in held {
            self.send(command);
        }
    }

    fn submit(
        &mut self,
        request: OrderRequest,
        now: Timestamp,
        refuse: Option<RejectReason>,
        portfolio: &Portfolio,
        reports: &mut Vec<ExecReport>,
    ) -> OrderId {
        let id = OrderId(self.records.len() as u64 + 1);
        self.records.push(OrderRecord::working(id, request, now));
        let checked = match refuse {
            Some(reason) => Err(reason),
            None => self.check(&request, now, portfolio),
        };
        let sent = checked.and_then(|qty| {
            let order = NewOrder {
                symbol: self.config.symbols[request.instrument.get()].clone(),
                side: request.side,
                kind: request.kind,
                tif: request.tif,
                qty,
                client_id: self.client_id(id),
            };
            if self.config.dry_run {
                let what = order
                    .params()
                    .map_or_else(String::new, |p| super::sign::signed_payload(&p));
                self.notices
                    .push(format!("dry run: would send order.place {what}"));
                return Err(RejectReason::DryRun);
            }
            Ok(order)
        });
        let kind = match sent {
            Ok(order) => {
                let mut working = Order::new(id, request, now);
                working.target = order.qty;
                self.working[request.instrument.get()].push(working);
                if self.outbox.is_some() {
                    self.send_about_order(Command::Place(order));
                }
                ExecKind::Accepted
            }
            Err(reason) => {
                let record = &mut self.records[id.0 as usize - 1];
                record.status = OrderStatus::Rejected;
                record.closed = Some(now);
                record.reason = Some(reason);
                ExecKind::Rejected(reason)
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

    fn cancel(&mut self, id: OrderId, _now: Timestamp, _reports: &mut Vec<ExecReport>) {
        // The venue's CANCELED report ends the order; until then it may still fill.
        let Some(record) = self.record(id) else {
            return;
        };
        let instrument = record.request.instrument.get();
        if self.working[instrument].iter().any(|o| o.id == id) && self.outbox.is_some() {
            let command = Command::Cancel {
                symbol: self.config.symbols[instrument].clone(),
                client_id: self.client_id(id),
            };
            // Behind any placement still held, so it never overtakes the order it cancels.
            self.send_about_order(command);
        }
    }

    fn cancel_all(
        &mut self,
        instrument: InstrumentIdx,
        now: Timestamp,
        reports: &mut Vec<ExecReport>,
    ) {
        let ids: Vec<OrderId> = self
            .working
            .get(instrument.get())
            .map(|list| list.iter().map(|o| o.id).collect())
            .unwrap_or_default();
        for id in ids {
            self.cancel(id, now, reports);
        }
    }

    fn on_bar(&mut self, _: InstrumentIdx, _: &Bar, _: &mut Portfolio, _: &mut Vec<ExecReport>) {
        // The venue matches orders; its reports arrive as updates.
    }

    fn on_event(&mut self, _: &MarketEvent, _: &mut Portfolio, _: &mut Vec<ExecReport>) {
        // As `on_bar`.
    }

    fn apply(
        &mut self,
        update: &VenueUpdate,
        portfolio: &mut Portfolio,
        reports: &mut Vec<ExecReport>,
    ) {
        match update {
            VenueUpdate::Filled {
                order,
                ts,
                qty,
                price,
                fee,
            } => self.fill(*order, (*ts, *qty, *price, *fee), portfolio, reports),
            VenueUpdate::Canceled { order, ts } => {
                self.end(
                    *order,
                    OrderStatus::Canceled,
                    ExecKind::Canceled,
                    *ts,
                    reports,
                );
            }
            VenueUpdate::Expired { order, ts } => {
                self.end(
                    *order,
                    OrderStatus::Expired,
                    ExecKind::Expired,
                    *ts,
                    reports,
                );
            }
            VenueUpdate::Rejected {
                order,
                ts,
                code,
                message,
            } => {
                let reason = RejectReason::Venue {
                    code: *code,
                    message: ShortText::new(message),
                };
                let filled = self.record(*order).is_some_and(|r| r.filled > 0.0);
                // As in the simulated broker: a partly filled order that is refused is canceled.
                let status = if filled {
                    OrderStatus::Canceled
                } else {
                    OrderStatus::Rejected
                };
                self.end(*order, status, ExecKind::Rejected(reason), *ts, reports);
            }
            VenueUpdate::Adopted {
                instrument,
                ts,
                qty,
                price,
            } => {
                let side = if *qty > 0.0 { Side::Buy } else { Side::Sell };
                portfolio.adopt(*instrument, side, qty.abs(), *price, *ts);
            }
        }
    }

    fn liquidate(&mut self, _: &mut Portfolio, _: Timestamp, _: &mut Vec<ExecReport>) {
        // A live session cannot wait for closing fills once it ends; `quant live` refuses
        // `close_at_end` and flattens with the kill switch instead.
    }
}
