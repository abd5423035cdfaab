//! Orders: what a strategy asks for, and the working state the broker keeps for each.

use market_data::{InstrumentIdx, Price, Qty, Side, Timestamp};
use serde::{Deserialize, Serialize};

/// A run-unique order id, assigned in submission order from 1.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct OrderId(pub u64);

/// How an order's price is decided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// At the next open (or next price), moved against the trader by the slippage.
    Market,
    /// At `price` or better.
    Limit {
        /// The limit price.
        price: Price,
    },
    /// A market order once the market trades through `trigger`.
    Stop {
        /// The trigger price.
        trigger: Price,
    },
    /// A limit order at `limit` once the market trades through `trigger`.
    StopLimit {
        /// The trigger price.
        trigger: Price,
        /// The limit price after triggering.
        limit: Price,
    },
}

impl OrderKind {
    /// Returns `market`, `limit`, `stop` or `stop_limit`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            OrderKind::Market => "market",
            OrderKind::Limit { .. } => "limit",
            OrderKind::Stop { .. } => "stop",
            OrderKind::StopLimit { .. } => "stop_limit",
        }
    }

    /// Returns the limit price, if the order has one.
    pub const fn limit_price(&self) -> Option<Price> {
        match self {
            OrderKind::Limit { price } => Some(*price),
            OrderKind::StopLimit { limit, .. } => Some(*limit),
            _ => None,
        }
    }

    /// Returns the trigger price, if the order has one.
    pub const fn trigger_price(&self) -> Option<Price> {
        match self {
            OrderKind::Stop { trigger } | OrderKind::StopLimit { trigger, .. } => Some(*trigger),
            _ => None,
        }
    }
}

/// How long an order stays working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Until filled or canceled.
    #[default]
    Gtc,
    /// Until the end of the UTC calendar day of the first event it could fill on.
    Day,
    /// Only on the first event it could fill on; the rest is canceled.
    Ioc,
}

impl TimeInForce {
    /// Returns `gtc`, `day` or `ioc`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "gtc",
            TimeInForce::Day => "day",
            TimeInForce::Ioc => "ioc",
        }
    }
}

/// How many units an order is for; decided when it fills, with the fill price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    /// Exactly this many units (positive).
    Units(Qty),
    /// As many as the configured sizing method allows at the fill price.
    Auto,
    /// `Auto` with the sizing budget scaled by this factor in (0, 1]: risk-aware sizing, such
    /// as a smaller position when a model predicts high volatility.
    Scaled(f64),
    /// The whole current position of the instrument, whatever it is when the order fills.
    ClosePosition,
}

/// Exits attached to an entry: when the entry fills, a take-profit limit and a stop-loss stop on the
/// other side are placed for the filled quantity, one canceling the other.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Bracket {
    /// Limit price of the profit-taking exit.
    pub take_profit: Option<Price>,
    /// Trigger price of the protective stop.
    pub stop_loss: Option<Price>,
}

impl Bracket {
    /// Returns true when neither exit is set.
    pub const fn is_empty(&self) -> bool {
        self.take_profit.is_none() && self.stop_loss.is_none()
    }
}

/// What a strategy asks the engine to do: one new order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OrderRequest {
    /// The instrument.
    pub instrument: InstrumentIdx,
    /// Buy or sell.
    pub side: Side,
    /// How many units.
    pub size: Size,
    /// How the price is decided.
    pub kind: OrderKind,
    /// How long it works.
    pub tif: TimeInForce,
    /// Exits placed when it fills.
    pub bracket: Bracket,
    /// Only ever reduces the position; canceled once the position is flat.
    pub reduce_only: bool,
    /// A number of the strategy's choosing, echoed in every report about the order.
    pub tag: u32,
}

impl OrderRequest {
    /// Returns a GTC market order.
    pub const fn market(instrument: InstrumentIdx, side: Side, size: Size) -> Self {
        Self {
            instrument,
            side,
            size,
            kind: OrderKind::Market,
            tif: TimeInForce::Gtc,
            bracket: Bracket {
                take_profit: None,
                stop_loss: None,
            },
            reduce_only: false,
            tag: 0,
        }
    }

    /// Returns a GTC limit order at `price`.
    pub const fn limit(instrument: InstrumentIdx, side: Side, size: Size, price: Price) -> Self {
        Self {
            kind: OrderKind::Limit { price },
            ..Self::market(instrument, side, size)
        }
    }

    /// Returns a GTC stop order triggering at `trigger`.
    pub const fn stop(instrument: InstrumentIdx, side: Side, size: Size, trigger: Price) -> Self {
        Self {
            kind: OrderKind::Stop { trigger },
            ..Self::market(instrument, side, size)
        }
    }

    /// Returns a GTC stop-limit order: a limit at `limit` once the market reaches `trigger`.
    pub const fn stop_limit(
        instrument: InstrumentIdx,
        side: Side,
        size: Size,
        trigger: Price,
        limit: Price,
    ) -> Self {
        Self {
            kind: OrderKind::StopLimit { trigger, limit },
            ..Self::market(instrument, side, size)
        }
    }

    /// Returns the order with another time in force.
    pub const fn with_tif(self, tif: TimeInForce) -> Self {
        Self { tif, ..self }
    }

    /// Returns the order with exits attached.
    pub const fn with_bracket(self, bracket: Bracket) -> Self {
        Self { bracket, ..self }
    }

    /// Returns the order marked reduce-only.
    pub const fn reduce_only(self) -> Self {
        Self {
            reduce_only: true,
            ..self
        }
    }

    /// Returns the order with a tag.
    pub const fn with_tag(self, tag: u32) -> Self {
        Self { tag, ..self }
    }
}

/// Where an order ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Still working (at the end of the data: never filled).
    Working,
    /// Completely filled.
    Filled,
    /// Canceled by the strategy, by its OCO sibling, or because its position went flat.
    Canceled,
    /// Its time in force ran out.
    Expired,
    /// Refused; see the reason.
    Rejected,
}

impl OrderStatus {
    /// Returns the status as lowercase text.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Working => "working",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Expired => "expired",
            OrderStatus::Rejected => "rejected",
        }
    }
}

/// A working order inside the broker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order {
    /// Its id.
    pub id: OrderId,
    /// What was asked.
    pub request: OrderRequest,
    /// When it was submitted.
    pub created: Timestamp,
    /// When it reached the market (`created` plus the broker's latency); it can fill only on
    /// events stamped strictly later.
    pub live_after: Timestamp,
    /// Units filled so far.
    pub filled: f64,
    /// Units fixed at the first fill (sizing happens once); 0 before.
    pub target: f64,
    /// A stop-limit whose stop has triggered.
    pub triggered: bool,
    /// UTC day of the first event it could fill on (for DAY orders); `None` until that event,
    /// which is also how the broker knows an order is arriving.
    pub first_day: Option<i64>,
    /// The other exit of its bracket, canceled when this one fills.
    pub oco: Option<OrderId>,
}

impl Order {
    /// Returns a fresh working order.
    pub const fn new(id: OrderId, request: OrderRequest, created: Timestamp) -> Self {
        Self {
            id,
            request,
            created,
            live_after: created,
            filled: 0.0,
            target: 0.0,
            triggered: false,
            first_day: None,
            oco: None,
        }
    }
}
