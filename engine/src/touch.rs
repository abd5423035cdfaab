//! What one market event offers working orders: a bar's open and range, a trade's price, or a
//! quote's two sides. This is the only thing that differs between matching on bars and on ticks;
//! the broker's matching loop and fill rules are shared (see `broker.rs`).

use crate::fills::Reach;
use market_data::{Bar, MarketKind, Side};

/// The prices one market event offers working orders: the only thing that differs between
/// matching on bars and on ticks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Touch {
    /// A bar: opened at `open`, then ranged over [`low`, `high`].
    Bar {
        open: f64,
        high: f64,
        low: f64,
        volume: f64,
    },
    /// A trade print: both sides could trade at `price`, for `qty` units.
    Trade { price: f64, qty: f64 },
    /// A top-of-book quote: buys take the ask, sells the bid.
    Quote {
        bid: f64,
        ask: f64,
        bid_qty: f64,
        ask_qty: f64,
    },
}

impl Touch {
    /// Returns what an event of any kind offers.
    pub(crate) fn of(kind: &MarketKind) -> Self {
        match kind {
            MarketKind::Bar(bar) => Touch::bar(bar),
            MarketKind::Trade(trade) => Touch::Trade {
                price: trade.price.0,
                qty: trade.qty.0,
            },
            MarketKind::Quote(quote) => Touch::Quote {
                bid: quote.bid.0,
                ask: quote.ask.0,
                bid_qty: quote.bid_qty.0,
                ask_qty: quote.ask_qty.0,
            },
        }
    }

    /// Returns what a bar offers.
    pub(crate) fn bar(bar: &Bar) -> Self {
        Touch::Bar {
            open: bar.open,
            high: bar.high,
            low: bar.low,
            volume: bar.volume,
        }
    }

    /// Returns what the event offers an order on `side`, or `None` when a quote shows no price
    /// on the side it would take (a one-sided book).
    ///
    /// `arrival` is true on the first event the order can act on.
    pub(crate) fn reach(self, side: Side, arrival: bool) -> Option<Reach> {
        let buy = side == Side::Buy;
        match self {
            Touch::Bar {
                open, high, low, ..
            } => Some(Reach {
                first: open,
                best: if buy { low } else { high },
                worst: if buy { high } else { low },
                // The open follows a gap in what was seen: a limit it is better than fills there.
                first_if_better: true,
                quoted: false,
            }),
            Touch::Trade { price, .. } => Some(at(price, arrival, false)),
            Touch::Quote { bid, ask, .. } => {
                let price = if buy { ask } else { bid };
                // A missing side (NaN or non-positive) has nothing to trade against.
                (price.is_finite() && price > 0.0).then(|| at(price, true, true))
            }
        }
    }

    /// Returns the units the volume cap applies to, as [buy side, sell side] budgets.
    pub(crate) fn volume(self) -> [f64; 2] {
        match self {
            Touch::Bar { volume, .. } => [volume; 2],
            Touch::Trade { qty, .. } => [qty; 2],
            Touch::Quote {
                bid_qty, ask_qty, ..
            } => [ask_qty, bid_qty],
        }
    }

    /// Returns which budget of [`Touch::volume`] an order on `side` draws on: a bar's or a
    /// trade's volume is shared by both sides; a quote's two sides are separate liquidity.
    pub(crate) fn volume_slot(self, side: Side) -> usize {
        match (self, side) {
            (Touch::Quote { .. }, Side::Sell) => 1,
            _ => 0,
        }
    }
}

/// Returns the reach of a tick with one price for the order.
fn at(price: f64, first_if_better: bool, quoted: bool) -> Reach {
    Reach {
        first: price,
        best: price,
        worst: price,
        first_if_better,
        quoted,
    }
}
