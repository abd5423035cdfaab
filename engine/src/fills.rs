//! When an order reaches the market and at what price it trades there: the latency and fill
//! models of the simulated broker, with the reference semantics of DESIGN.md as the defaults.

use crate::config::BrokerConfig;
use crate::order::{Order, OrderKind};
use market_data::{Side, Timestamp};

/// What one market event offers an order on its side, in prices for that order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reach {
    /// The first price the order can trade at: a bar's open, a trade's price, the quoted side.
    pub first: f64,
    /// The best price for the order the event reaches (a bar's low for a buy, high for a sell).
    pub best: f64,
    /// The worst price for the order the event reaches, where stops trigger (a bar's high for a
    /// buy, low for a sell).
    pub worst: f64,
    /// Whether a limit that `first` is better than fills at `first` rather than at its limit:
    /// on a bar's open, on a quote, and on a trade only at the order's arrival.
    pub first_if_better: bool,
    /// Whether the prices are shown (a quote) rather than traded (a bar, a trade print).
    pub quoted: bool,
}

/// Where an order trades on one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillPrice {
    /// The market's price for the fill.
    pub price: f64,
    /// Whether the order takes liquidity at that price (market and stop fills), so slippage
    /// applies; a limit fill is at its limit or better and does not slip.
    pub slips: bool,
}

/// Decides whether an order trades on an event and at what price, before slippage.
pub trait FillModel {
    /// Returns where `order` trades on an event that offers it `reach`, if it trades at all. It
    /// may mark a stop-limit's stop as triggered.
    fn fill(&self, order: &mut Order, reach: Reach) -> Option<FillPrice>;
}

/// The reference fill rules of DESIGN.md (see the broker's module documentation): market at the
/// first price, limits at the limit or a better first price, stops at the stop or through a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceFills {
    /// `[broker] limit_fill_on_touch`: whether a traded price at a limit fills it, or the market
    /// must trade through it. A quoted price at the limit fills either way.
    pub limit_fill_on_touch: bool,
}

impl FillModel for ReferenceFills {
    #[inline]
    fn fill(&self, order: &mut Order, reach: Reach) -> Option<FillPrice> {
        let buy = order.request.side == Side::Buy;
        let Reach {
            first,
            best,
            worst,
            first_if_better,
            quoted,
        } = reach;
        // A traded price at the limit is not enough when the order waits at the back of the
        // queue; a quoted one is a price someone shows, with no queue ahead of it.
        let strict = !self.limit_fill_on_touch && !quoted;
        // Whether price `p` reaches limit `l`: at or through it, or only through it.
        let through = |p: f64, l: f64| {
            if buy {
                p < l || (!strict && p == l)
            } else {
                p > l || (!strict && p == l)
            }
        };
        let reaches = |l: f64| through(best, l);
        let limit = |l: f64| {
            if !reaches(l) {
                return None;
            }
            Some(match (buy, first_if_better) {
                (true, true) => first.min(l),
                (false, true) => first.max(l),
                (_, false) => l,
            })
        };
        let taking = |price: f64| FillPrice { price, slips: true };
        let resting = |price: f64| FillPrice {
            price,
            slips: false,
        };
        match order.request.kind {
            OrderKind::Market => Some(taking(first)),
            OrderKind::Limit { price } => limit(price.0).map(resting),
            OrderKind::Stop { trigger } => {
                let t = trigger.0;
                if buy {
                    (worst >= t).then(|| taking(first.max(t)))
                } else {
                    (worst <= t).then(|| taking(first.min(t)))
                }
            }
            OrderKind::StopLimit { trigger, limit: l } => {
                let (t, l) = (trigger.0, l.0);
                if order.triggered {
                    return limit(l).map(resting);
                }
                let hit = if buy { worst >= t } else { worst <= t };
                if !hit {
                    return None;
                }
                order.triggered = true;
                // Triggered at the stop (or at the open through a gap); the limit then applies to
                // the rest of the bar, which starts at `at`: the open traded before the order was
                // live, so a limit beyond `at` fills at the limit itself, never at the open. A
                // tick is a bar with one price, so `at` is that price and the limit arrives now.
                let at = if buy { first.max(t) } else { first.min(t) };
                if through(at, l) {
                    Some(resting(at))
                } else {
                    reaches(l).then_some(resting(l))
                }
            }
        }
    }
}

/// Decides when an order placed at one instant reaches the market.
pub trait LatencyModel {
    /// Returns the instant an order placed at `placed` is live after: it acts only on events
    /// stamped strictly later.
    fn live_after(&self, placed: Timestamp) -> Timestamp;
}

/// A fixed delay between deciding and reaching the market (`[broker] latency_ms`). Zero, the
/// default, still never lets an order act on the event it was decided on, nor on another event
/// stamped at the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedLatency {
    /// Nanoseconds.
    pub nanos: i64,
}

impl LatencyModel for FixedLatency {
    #[inline]
    fn live_after(&self, placed: Timestamp) -> Timestamp {
        Timestamp(placed.0.saturating_add(self.nanos))
    }
}

impl BrokerConfig {
    /// Returns the fill model the config describes.
    pub fn fill_model(&self) -> ReferenceFills {
        ReferenceFills {
            limit_fill_on_touch: self.limit_fill_on_touch,
        }
    }

    /// Returns the latency model the config describes.
    pub fn latency(&self) -> FixedLatency {
        // `validate` bounds the value, so the product fits an i64.
        FixedLatency {
            nanos: (self.latency_ms * 1e6).round() as i64,
        }
    }
}
