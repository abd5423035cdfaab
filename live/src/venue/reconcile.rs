//! Reconciliation: the engine's orders and positions against the venue's, on start and after
//! every reconnect, before trading (resumes).
//!
//! Orders the engine thinks are working are looked up by client order id: fills the venue made
//! while the engine was away are booked (at the average price the venue reports), orders that
//! ended are ended, and orders the venue never received are rejected. Then each instrument's
//! position is compared with the venue's balance of its base asset: a difference is reported
//! and, per the policy, adopted (the engine takes the venue's position) or flattened (the
//! venue's position is traded back to the engine's). Open venue orders that are not this
//! session's are reported, and canceled when flattening.

use super::binance::{Balance, NO_SUCH_ORDER, NewOrder, VenueOrder};
use super::router::{Command, LiveRouter, VenueUpdate};
use engine::FeeModel as _;
use engine::OrderRouter;
use engine::Portfolio;
use engine::{OrderKind, TimeInForce};
use market_data::{InstrumentIdx, Side, Timestamp};

/// What to do with a position the venue holds and the engine does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Take the venue's positions as the engine's.
    Adopt,
    /// Trade the venue's positions back to the engine's, and cancel orders not the engine's.
    Flatten,
}

/// The venue's state, as the connection fetched it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Every asset held.
    pub balances: Vec<Balance>,
    /// Every open order.
    pub open: Vec<VenueOrder>,
    /// The engine's working orders looked up by client id: `None` when the venue has none.
    pub queried: Vec<(String, Option<VenueOrder>)>,
}

/// What reconciliation found and what follows from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciliation {
    /// Updates to book (journaled like any venue news).
    pub updates: Vec<VenueUpdate>,
    /// Orders to send to the venue (flattening).
    pub commands: Vec<Command>,
    /// One line per difference found.
    pub differences: Vec<String>,
}

/// Quantities within this fraction of one another are equal (venue decimals vs binary floats).
const TOLERANCE: f64 = 1e-9;

/// Compares the engine (`router` and `portfolio`) with the venue's `snapshot` at `now`.
pub fn reconcile(
    router: &LiveRouter,
    portfolio: &Portfolio,
    snapshot: &Snapshot,
    policy: Policy,
    now: Timestamp,
) -> Reconciliation {
    let mut out = Reconciliation::default();
    let config = router.config();
    let n = config.symbols.len();
    // Each instrument's position once the venue's missed fills are booked.
    let mut expected: Vec<f64> = (0..n)
        .map(|i| portfolio.position(InstrumentIdx(i as u32)).qty)
        .collect();
    let find = |client_id: &str| {
        snapshot
            .open
            .iter()
            .find(|o| o.client_order_id == client_id)
            .or_else(|| {
                snapshot
                    .queried
                    .iter()
                    .find(|(id, _)| id == client_id)
                    .and_then(|(_, o)| o.as_ref())
            })
    };
    for order in router.working().iter().flatten() {
        let client_id = router.client_id(order.id);
        let record = &router.records()[order.id.0 as usize - 1];
        let Some(venue) = find(&client_id) else {
            out.differences.push(format!(
                "order {client_id}: the venue never received it; rejected"
            ));
            out.updates.push(VenueUpdate::Rejected {
                order: order.id,
                ts: now,
                code: NO_SUCH_ORDER,
                message: "not at the venue after reconnecting".into(),
            });
            continue;
        };
        let missed = venue.executed_qty - order.filled;
        if missed > TOLERANCE * venue.orig_qty.max(1.0) {
            let spent_before = record.avg_price * record.filled;
            let price = (venue.cummulative_quote_qty - spent_before) / missed;
            let price = if price.is_finite() && price > 0.0 {
                price
            } else {
                portfolio.position(order.request.instrument).mark
            };
            out.differences.push(format!(
                "order {client_id}: {missed} units filled at the venue while away, at {price}"
            ));
            out.updates.push(VenueUpdate::Filled {
                order: order.id,
                ts: now,
                qty: missed,
                price,
                // The venue's order status carries no commission: the configured fees
                // estimate it, the per-order charge included when none of it was booked yet.
                fee: router.fees().fee(missed, price, order.filled == 0.0),
            });
            expected[order.request.instrument.get()] += order.request.side.sign() * missed;
        }
        let ended = match venue.status.as_str() {
            "CANCELED" | "PENDING_CANCEL" => Some(VenueUpdate::Canceled {
                order: order.id,
                ts: now,
            }),
            "EXPIRED" | "EXPIRED_IN_MATCH" => Some(VenueUpdate::Expired {
                order: order.id,
                ts: now,
            }),
            "REJECTED" => Some(VenueUpdate::Rejected {
                order: order.id,
                ts: now,
                code: 0,
                message: "rejected by the venue".into(),
            }),
            _ => None,
        };
        if let Some(ended) = ended {
            out.differences
                .push(format!("order {client_id}: {} at the venue", venue.status));
            out.updates.push(ended);
        }
    }
    for venue in &snapshot.open {
        let ours = router
            .order_of(&venue.client_order_id)
            .is_some_and(|id| router.working().iter().flatten().any(|o| o.id == id));
        if !ours {
            out.differences.push(format!(
                "venue order {} ({} {} {}) is not this session's{}",
                venue.client_order_id,
                venue.side,
                venue.orig_qty,
                venue.symbol,
                if policy == Policy::Flatten {
                    ": canceling it"
                } else {
                    ": left alone"
                }
            ));
            if policy == Policy::Flatten {
                out.commands.push(Command::Cancel {
                    symbol: venue.symbol.clone(),
                    client_id: venue.client_order_id.clone(),
                });
            }
        }
    }
    for (i, engine_qty) in expected.iter().enumerate() {
        let instrument = InstrumentIdx(i as u32);
        let asset = router.base_asset(instrument);
        let venue_qty: f64 = snapshot
            .balances
            .iter()
            .filter(|b| b.asset == asset)
            .map(|b| b.free + b.locked)
            .sum();
        let diff = venue_qty - engine_qty;
        if diff.abs() <= TOLERANCE * venue_qty.abs().max(1.0) {
            continue;
        }
        let symbol = &config.symbols[i];
        let mark = portfolio.position(instrument).mark;
        match policy {
            Policy::Adopt => {
                out.differences.push(format!(
                    "{symbol}: venue holds {venue_qty} {asset}, the engine {engine_qty}; adopting \
                     the venue's position at {mark}"
                ));
                out.updates.push(VenueUpdate::Adopted {
                    instrument,
                    ts: now,
                    qty: diff,
                    price: mark,
                });
            }
            Policy::Flatten => {
                let side = if diff > 0.0 { Side::Sell } else { Side::Buy };
                out.differences.push(format!(
                    "{symbol}: venue holds {venue_qty} {asset}, the engine {engine_qty}; \
                     flattening: market {} {}",
                    super::binance::side_text(side),
                    diff.abs()
                ));
                out.commands.push(Command::Place(NewOrder {
                    symbol: symbol.clone(),
                    side,
                    kind: OrderKind::Market,
                    tif: TimeInForce::Gtc,
                    qty: diff.abs(),
                    // Not of the form `<prefix>-<n>`: its fills are not the engine's.
                    client_id: format!("{}-f{}-{i}", config.prefix, now.0 / 1_000_000),
                }));
            }
        }
    }
    let quote: f64 = snapshot
        .balances
        .iter()
        .filter(|b| b.asset == config.quote_asset)
        .map(|b| b.free + b.locked)
        .sum();
    if (quote - portfolio.cash()).abs() > 0.01 {
        // Reported only: the engine trades the cash it was given (`broker.initial_cash`),
        // which may be part of the account.
        out.differences.push(format!(
            "cash: venue holds {quote} {}, the engine {}",
            config.quote_asset,
            portfolio.cash()
        ));
    }
    out
}
