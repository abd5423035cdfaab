//! Live order routing to a venue over its websocket API (feature `live`): credentials that
//! never print, request signing, the Binance protocol, rate limits, the router the engine
//! calls, the connection it talks through, and reconciliation with the venue's state.
//!
//! The router is synchronous and lives on the engine thread; the connection runs tokio on a
//! thread of its own. Commands go one way over a channel, venue news the other, so the engine
//! stays free of I/O and every piece of news is journaled before it is booked.

mod binance;
mod client;
mod limits;
mod reconcile;
mod router;
mod secret;
mod sign;

pub use binance::{
    Account, Balance, Execution, Incoming, NO_SUCH_ORDER, NewOrder, Response, VenueError,
    VenueOrder, decimal, parse, side_text, signed_request,
};
pub use client::{Venue, VenueConfig, VenueEvent};
pub use limits::{OrderWindow, TokenBucket};
pub use reconcile::{Policy, Reconciliation, Snapshot, reconcile};
pub use router::{Command, LiveRouter, LiveRouterConfig, VenueUpdate};
pub use secret::{CredentialError, Credentials, Secret, is_variable_name};
pub use sign::{sign, signed_payload};
