//! The `Strategy` trait, the events it sees, the read-only context it decides with, and the
//! intents it returns.
//!
//! A strategy never does I/O, never reads the wall clock and never touches the broker: the engine
//! owns time, state and routing, so the same strategy runs unchanged in backtests, paper and live.

use crate::features::FeatureSource;
use crate::history::{BarHistory, BarWindow};
use crate::order::{Order, OrderId, OrderRequest};
use crate::portfolio::{Portfolio, Position};
use market_data::{
    Bar, InstrumentId, InstrumentIdx, MarketEvent, MarketKind, Price, Qty, Side, Timestamp, Zone,
};
use serde::Serialize;

/// Why an order was refused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum RejectReason {
    /// Buying needs more cash than the account has.
    InsufficientCash {
        /// Cash the fill needs, commission included.
        needed: f64,
        /// Cash available.
        available: f64,
    },
    /// Sizing gave less than one unit (or zero units).
    ZeroSize,
    /// The sell would open or grow a short and `allow_short` is false.
    ShortNotAllowed,
    /// The position would exceed `max_position_fraction` of equity.
    PositionLimit,
    /// Gross exposure would exceed `max_gross_exposure` of equity.
    ExposureLimit,
    /// The drawdown kill switch has fired: no new orders.
    KillSwitch,
    /// A price or quantity is not a positive finite number.
    InvalidOrder,
    /// The instrument index is not part of this run.
    UnknownInstrument,
    /// A close or reduce-only order found no position to reduce.
    NothingToReduce,
    /// Live: no price is known yet to size or risk-check the order with.
    NoPrice,
    /// Live: more orders in the last minute than `[live.safety] max_orders_per_minute`
    /// (orders that only reduce a position are not counted against it).
    OrderRateLimit,
    /// Live: the order's notional exceeds `[live.safety] max_order_notional` (orders that only
    /// reduce a position are exempt).
    NotionalLimit,
    /// Live: the venue cannot take this kind of order (a DAY time in force, a bracket).
    Unsupported,
    /// Live: `dry_run = true`, the order was logged and not sent.
    DryRun,
    /// Live: the venue refused the order.
    Venue {
        /// The venue's error code (0 when it gave none).
        code: i64,
        /// The venue's reason, as it wrote it (cut to fit).
        message: ShortText,
    },
}

/// A short text kept inline, so reports and order records stay `Copy`: a venue's reason for a
/// reject, cut at 62 bytes (on a character boundary).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortText {
    len: u8,
    bytes: [u8; 62],
}

impl ShortText {
    /// Returns `text`, cut to fit.
    pub fn new(text: &str) -> Self {
        let mut end = text.len().min(62);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; 62];
        bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        Self {
            len: end as u8,
            bytes,
        }
    }

    /// Returns the text.
    pub fn as_str(&self) -> &str {
        // Always valid: `new` copies whole characters of a `str`.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl std::fmt::Debug for ShortText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for ShortText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ShortText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl RejectReason {
    /// Returns a short description for files and logs.
    pub fn describe(&self) -> String {
        match self {
            RejectReason::InsufficientCash { needed, available } => {
                format!("insufficient cash: needs {needed:.2}, has {available:.2}")
            }
            RejectReason::ZeroSize => "sizing gives zero units".into(),
            RejectReason::ShortNotAllowed => {
                "short selling is not allowed (allow_short = false)".into()
            }
            RejectReason::PositionLimit => {
                "position would exceed risk.max_position_fraction".into()
            }
            RejectReason::ExposureLimit => {
                "gross exposure would exceed risk.max_gross_exposure".into()
            }
            RejectReason::KillSwitch => "drawdown kill switch is active (risk.max_drawdown)".into(),
            RejectReason::InvalidOrder => {
                "price or quantity is not a positive finite number".into()
            }
            RejectReason::UnknownInstrument => "unknown instrument index".into(),
            RejectReason::NothingToReduce => "no position to reduce".into(),
            RejectReason::NoPrice => "no price known yet to size and check the order".into(),
            RejectReason::OrderRateLimit => {
                "more orders per minute than live.safety.max_orders_per_minute".into()
            }
            RejectReason::NotionalLimit => {
                "order notional exceeds live.safety.max_order_notional".into()
            }
            RejectReason::Unsupported => {
                "the venue takes no such order (DAY time in force, bracket)".into()
            }
            RejectReason::DryRun => "dry run: logged, not sent".into(),
            RejectReason::Venue { code, message } => format!("venue: {message} ({code})"),
        }
    }
}

/// What happened to an order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecKind {
    /// It is working.
    Accepted,
    /// Some or all of it traded.
    Filled {
        /// Side of the fill.
        side: Side,
        /// Units traded in this fill.
        qty: Qty,
        /// Price of this fill.
        price: Price,
        /// Commission of this fill.
        fee: f64,
        /// Units still working after it.
        leaves: Qty,
    },
    /// Canceled (by request, by its OCO sibling, or because its position went flat).
    Canceled,
    /// Its time in force ran out.
    Expired,
    /// Refused.
    Rejected(RejectReason),
}

/// A report about one order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ExecReport {
    /// When it happened.
    pub ts: Timestamp,
    /// Which order.
    pub order_id: OrderId,
    /// Its instrument.
    pub instrument: InstrumentIdx,
    /// The tag the strategy gave the order.
    pub tag: u32,
    /// What happened.
    pub kind: ExecKind,
}

/// Everything a strategy is told about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EngineEvent {
    /// New market data.
    Market(MarketEvent),
    /// News about one of its orders.
    Exec(ExecReport),
    /// Every event stamped at this instant has been handled: all instruments' bars of the time
    /// step are in, for decisions across instruments. Sent only to strategies whose
    /// [`Strategy::step_events`] is true.
    StepEnd(Timestamp),
}

impl EngineEvent {
    /// Returns the instrument and the bar, when this is a completed bar.
    pub fn as_bar(&self) -> Option<(InstrumentIdx, &Bar)> {
        match self {
            EngineEvent::Market(MarketEvent {
                instrument,
                kind: MarketKind::Bar(bar),
                ..
            }) => Some((*instrument, bar)),
            _ => None,
        }
    }
}

/// The history of a context made by hand: none.
static NO_HISTORY: BarHistory = BarHistory::EMPTY;

/// The read-only state a strategy decides with.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub(crate) now: Timestamp,
    pub(crate) portfolio: &'a Portfolio,
    pub(crate) orders: &'a [Vec<Order>],
    pub(crate) instruments: &'a [InstrumentId],
    pub(crate) halted: bool,
    pub(crate) features: Option<&'a dyn FeatureSource>,
    pub(crate) history: &'a BarHistory,
    pub(crate) timezone: Zone,
}

impl<'a> Ctx<'a> {
    /// Returns a context over explicit state (for tests and for driving a strategy by hand).
    pub fn new(
        now: Timestamp,
        portfolio: &'a Portfolio,
        orders: &'a [Vec<Order>],
        instruments: &'a [InstrumentId],
    ) -> Self {
        Self {
            now,
            portfolio,
            orders,
            instruments,
            halted: false,
            features: None,
            history: &NO_HISTORY,
            timezone: Zone::UTC,
        }
    }

    /// Returns the exchange's time zone (`[data] timezone`, UTC unless set), to read local
    /// times: `ctx.timezone().local(ts).hour`.
    pub fn timezone(&self) -> Zone {
        self.timezone
    }

    /// Returns the time of the event being handled.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Returns the cash balance.
    pub fn cash(&self) -> f64 {
        self.portfolio.cash()
    }

    /// Returns cash plus every position at its mark.
    pub fn equity(&self) -> f64 {
        self.portfolio.equity()
    }

    /// Returns the position in an instrument.
    pub fn position(&self, instrument: InstrumentIdx) -> &'a Position {
        self.portfolio.position(instrument)
    }

    /// Returns the signed quantity held (negative when short).
    pub fn qty(&self, instrument: InstrumentIdx) -> f64 {
        self.portfolio.position(instrument).qty
    }

    /// Returns the working orders of an instrument, oldest first.
    pub fn open_orders(&self, instrument: InstrumentIdx) -> &'a [Order] {
        &self.orders[instrument.get()]
    }

    /// Returns the number of instruments in the run.
    pub fn instrument_count(&self) -> usize {
        self.instruments.len()
    }

    /// Returns an instrument's name.
    pub fn instrument_id(&self, instrument: InstrumentIdx) -> &'a InstrumentId {
        &self.instruments[instrument.get()]
    }

    /// Returns a context that also exposes `features`.
    pub fn with_features(self, features: &'a dyn FeatureSource) -> Self {
        Self {
            features: Some(features),
            ..self
        }
    }

    /// Returns the value of feature column `column` for an instrument, or `None` while it is not
    /// ready (or when the run has no such column).
    #[inline]
    pub fn feature(&self, instrument: InstrumentIdx, column: usize) -> Option<f64> {
        let value = *self.features?.values(instrument).get(column)?;
        (!value.is_nan()).then_some(value)
    }

    /// Returns every feature value of an instrument (NaN where not ready).
    pub fn features(&self, instrument: InstrumentIdx) -> &'a [f64] {
        self.features.map_or(&[], |f| f.values(instrument))
    }

    /// Returns an instrument's recent bars, newest (the bar being handled) first: as many as the
    /// strategy's [`Strategy::bar_history`], fewer at the start of the data.
    pub fn bars(&self, instrument: InstrumentIdx) -> BarWindow<'a> {
        self.history.window(instrument)
    }

    /// Returns true once the drawdown kill switch has fired.
    pub fn is_halted(&self) -> bool {
        self.halted
    }
}

/// One thing a strategy wants done.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Intent {
    /// Submit a new order.
    Submit(OrderRequest),
    /// Cancel a working order.
    Cancel(OrderId),
    /// Cancel every working order of an instrument.
    CancelAll(InstrumentIdx),
}

/// The intents a strategy returns from one event; the engine reuses the buffer, so collecting
/// intents allocates nothing once warm.
#[derive(Debug, Clone, Default)]
pub struct Intents {
    items: Vec<Intent>,
}

impl Intents {
    /// Asks for a new order.
    pub fn submit(&mut self, request: OrderRequest) {
        self.items.push(Intent::Submit(request));
    }

    /// Asks to cancel one order.
    pub fn cancel(&mut self, order: OrderId) {
        self.items.push(Intent::Cancel(order));
    }

    /// Asks to cancel every working order of an instrument.
    pub fn cancel_all(&mut self, instrument: InstrumentIdx) {
        self.items.push(Intent::CancelAll(instrument));
    }

    /// Returns the intents collected so far.
    pub fn as_slice(&self) -> &[Intent] {
        &self.items
    }

    /// Returns true when nothing was asked.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn drain(&mut self) -> std::vec::Drain<'_, Intent> {
        self.items.drain(..)
    }
}

/// Errors a strategy may raise; they stop the run.
#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    /// The strategy's state or inputs are unusable.
    #[error("strategy failed: {0}")]
    Failed(String),
}

/// Turns events into order intents. Never does I/O or reads the wall clock: the engine owns time,
/// state and routing, so the same strategy runs in backtests and live.
pub trait Strategy {
    /// Returns the strategy's registered name.
    fn name(&self) -> &str;

    /// Returns how many recent bars per instrument it reads through [`Ctx::bars`] (0, the
    /// default, keeps none). Asked once, before the first event.
    fn bar_history(&self) -> usize {
        0
    }

    /// Returns whether it is told when each time step ends ([`EngineEvent::StepEnd`]), to
    /// decide across instruments (a rotation ranks them all). Asked once, before the first
    /// event; false by default, so others pay nothing per step.
    fn step_events(&self) -> bool {
        false
    }

    /// Handles one event. Market events arrive in (timestamp, instrument) order; a report about an
    /// order arrives right after the event that caused it.
    ///
    /// # Errors
    /// Returns an error when the strategy cannot continue; the run stops with it.
    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError>;
}

impl<S: Strategy + ?Sized> Strategy for Box<S> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn bar_history(&self) -> usize {
        (**self).bar_history()
    }

    fn step_events(&self) -> bool {
        (**self).step_events()
    }

    fn on_event(
        &mut self,
        event: &EngineEvent,
        ctx: &Ctx<'_>,
        out: &mut Intents,
    ) -> Result<(), StrategyError> {
        (**self).on_event(event, ctx, out)
    }
}
